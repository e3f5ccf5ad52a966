/*
 * memcache.h - the memory tier: a sharded hash index of blocks with an eviction policy per
 * shard (policy.h) and a hard byte budget.
 *
 * The budget counts every block's footprint (header + bytes) plus the index's own bucket
 * arrays and the policies' tables, node-wide: bytes are reserved before a block goes in, and
 * while there is no room one block is evicted: under LRU the globally least recently used one
 * (the oldest of the shards' LRU tails), under another policy the victim that policy picks in
 * the shard holding the most bytes.
 * Thread: any. Lock: one per shard (held shared by hits under SIEVE and S3-FIFO); never two at
 * once.
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

#define BE_MEMCACHE_MAX_SHARDS      64u
#define BE_MEMCACHE_MIN_SHARD_BYTES ((uint64_t)4 << 20)

/* The shard count for a budget: the largest power of two, at most BE_MEMCACHE_MAX_SHARDS, that
 * leaves each shard at least BE_MEMCACHE_MIN_SHARD_BYTES; 1 below twice that (0 included). */
unsigned be_memcache_shards_for(uint64_t budget);

/* budget: bytes; nshards: a power of two (be_memcache_shards_for(budget) in the server; fixed
 * for the tier's life, a new budget keeps it); policy: enum be_memory_policy. NULL on
 * allocation failure or a bad argument. */
be_memcache_t *be_memcache_new(uint64_t budget, unsigned nshards, int policy);

/* The shard count it was made with. */
unsigned be_memcache_shards(const be_memcache_t *mc);

/* The policy it was made with (enum be_memory_policy). */
int be_memcache_policy(const be_memcache_t *mc);

/* A new budget (a reload): each shard's policy is resized for its share, the shard count
 * stays; a smaller budget evicts, the policy's victims first, until the tier fits. Returns how
 * many blocks were evicted. Any thread. */
uint64_t be_memcache_set_budget(be_memcache_t *mc, uint64_t budget);
void be_memcache_free(be_memcache_t **mcp);

/* Returns a new reference to the block, counted as a hit by the policy (LRU: moved to the
 * head) and stamped with now, or NULL. */
be_block_t *be_memcache_lookup(be_memcache_t *mc, const be_key_t *key, be_msec_t now);

/* Whether the key is held, without touching its recency. */
int be_memcache_contains(be_memcache_t *mc, const be_key_t *key);

/* What the memory tier holds for a key, read without touching its recency. */
typedef struct be_memcache_info_s {
    uint64_t size;      /* block bytes */
    uint64_t footprint; /* what it costs the budget */
    be_msec_t last_use; /* stamp of its insert or last look-up */
    uint32_t hits;      /* look-ups that found it since it was inserted */
} be_memcache_info_t;

/* Fills *out and returns BE_OK when the key is held, else BE_DECLINED. Thread: any. */
int be_memcache_peek(be_memcache_t *mc, const be_key_t *key, be_memcache_info_t *out);

/* Inserts a verified block; the cache takes its own reference. If the key is present the
 * old block stays (blocks are immutable: same key, same bytes). Returns BE_OK, or
 * BE_DECLINED when no room could be made (the block is larger than the budget). */
int be_memcache_insert(be_memcache_t *mc, be_block_t *b, be_msec_t now);

/* Removes the key; BE_OK if it was present, BE_DECLINED if not. */
int be_memcache_remove(be_memcache_t *mc, const be_key_t *key);

/* A snapshot of the figures, summed over the shards. */
void be_memcache_stats(be_memcache_t *mc, be_memcache_stats_t *out);

#endif
