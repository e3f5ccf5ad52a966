/*
 * block.h - the refcounted block: a 128-byte header and the block's bytes in two allocations.
 *
 * The bytes have their own allocation so that a 4 KiB, 64 KiB or 1 MiB block occupies exactly
 * its allocator size class: sharing one allocation with the header pushed every power-of-two
 * block into the next class (4 KiB + header took 5 KiB, 1 MiB + header 1.25 MiB). The
 * header is one allocator size class (128 bytes; jemalloc packs those in slabs with no
 * per-object overhead), and be_block_footprint() charges both allocations' real size class.
 *
 * A block is immutable once published (inserted in the cache or handed to a waiter): its
 * bytes were verified against its key before that. Every holder owns one reference; the
 * last be_block_unref() frees it, on whichever thread that happens. The memory tier owns
 * the links below (hnext, pn, stamp, cached, hits); no other module touches them.
 */
#ifndef BLOCKEDGE_BLOCK_H
#define BLOCKEDGE_BLOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "blockedge/blockkey.h"
#include "blockedge/policy.h"

#define BE_BLOCK_MAGIC 0x626c6b21u /* "blk!" */

struct evbuffer;

typedef struct be_block_s be_block_t;
struct be_block_s {
    uint32_t magic;
    atomic_uint refs;
    size_t size;         /* bytes in data[] that are the block */
    size_t capacity;     /* bytes allocated for data[] */
    unsigned char *data; /* its own allocation, never NULL; fixed once published */
    be_key_t key;
    /* memory tier links, owned by memcache.c */
    be_block_t *hnext;
    be_policy_node_t pn;   /* the eviction policy's links and marks */
    _Atomic int64_t stamp; /* last use, for the memory tier */
    uint32_t cached;       /* 1 while the memory tier holds it */
    _Atomic uint32_t hits; /* memory tier look-ups that found it (saturates) */
};

/* Allocates a block able to hold capacity bytes, size 0, one reference (the caller's).
 * NULL on allocation failure. Any thread. */
be_block_t *be_block_new(const be_key_t *key, size_t capacity);

/* Below this a fill is left to fault in page by page: the call would save little. */
#define BE_BLOCK_PREFAULT_MIN (64 * 1024)

/* Makes the first len bytes of data[] resident and writable in one system call
 * (madvise MADV_POPULATE_WRITE), before a fill writes them: a fresh 1 MiB block otherwise
 * takes 256 page faults as its bytes are copied in, and a fault is one trap each (costly on
 * a virtual machine: bench/README.md, "Verified fills"). Only for bytes about to be written
 * (a fill that knows its length): it adds no memory the block did not already own. A hint:
 * failure (old kernel, no memory yet) changes nothing. Thread: the filling one. */
void be_block_prefault(be_block_t *b, size_t len);

/* Grows an unpublished block (refs == 1) to hold capacity bytes; may move its data (the
 * header stays). NULL on failure, and then the old block is still valid and owned by the
 * caller. */
be_block_t *be_block_grow(be_block_t *b, size_t capacity);

/* Gives an unpublished block (refs == 1) back what it holds beyond its size (a fill that grew
 * by doubling), so that it costs its size's class and no more. Keeps the bytes; on failure
 * the block stays as it was. Call before publishing. */
void be_block_trim(be_block_t *b);

/* Returns b with one more reference. Any thread. */
be_block_t *be_block_ref(be_block_t *b);

/* Drops the caller's reference and sets *bp to NULL; frees on the last one. NULL-safe. */
void be_block_unref(be_block_t **bp);

/* Bytes the block costs the memory tier: what the allocator holds for its header and for
 * its bytes (their size classes, be_alloc_class()), not just what was asked for. */
size_t be_block_footprint(const be_block_t *b);

/* Appends len bytes at off of the block to out by reference (no copy): out holds a block
 * reference until those bytes are drained. BE_OK or BE_ERROR. Thread: out's owner. */
int be_block_add_to_evbuffer(be_block_t *b, struct evbuffer *out, size_t off, size_t len);

#endif
