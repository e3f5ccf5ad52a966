/*
 * memcache.h - the memory tier: a sharded hash index of blocks with an LRU list per shard
 * and a hard byte budget.
 *
 * The budget counts every block's footprint (header + bytes) plus the index's own bucket
 * arrays, node-wide: bytes are reserved before a block goes in, and while there is no room
 * the globally least recently used block (the oldest of the shards' LRU tails) is evicted.
 * Thread: any. Lock: one mutex per shard; never two at once.
 */
#ifndef BLOCKEDGE_MEMCACHE_H
#define BLOCKEDGE_MEMCACHE_H

#include <stdint.h>

#include "blockedge/block.h"

typedef struct be_memcache_s be_memcache_t;

typedef struct be_memcache_stats_s {
    uint64_t blocks;
    uint64_t bytes; /* footprint of the blocks and the index */
    uint64_t capacity;
    uint64_t evictions;
    uint64_t inserts;
} be_memcache_stats_t;

/* budget: bytes; nshards: a power of two. NULL on allocation failure. */
be_memcache_t *be_memcache_new(uint64_t budget, unsigned nshards);

/* A new budget (a reload): a smaller one evicts, oldest first, until the tier fits. Returns
 * how many blocks were evicted. Any thread. */
uint64_t be_memcache_set_budget(be_memcache_t *mc, uint64_t budget);
void be_memcache_free(be_memcache_t **mcp);

/* Returns a new reference to the block, moved to the head of its LRU and stamped with now,
 * or NULL. */
be_block_t *be_memcache_lookup(be_memcache_t *mc, const be_key_t *key, be_msec_t now);

/* Whether the key is held, without touching its recency. */
int be_memcache_contains(be_memcache_t *mc, const be_key_t *key);

/* Inserts a verified block; the cache takes its own reference. If the key is present the
 * old block stays (blocks are immutable: same key, same bytes). Returns BE_OK, or
 * BE_DECLINED when no room could be made (the block is larger than the budget). */
int be_memcache_insert(be_memcache_t *mc, be_block_t *b, be_msec_t now);

/* Removes the key; BE_OK if it was present, BE_DECLINED if not. */
int be_memcache_remove(be_memcache_t *mc, const be_key_t *key);

/* A snapshot of the figures, summed over the shards. */
void be_memcache_stats(be_memcache_t *mc, be_memcache_stats_t *out);

#endif
