/*
 * alloc.h - the allocator's view of the process.
 *
 * blockedge links jemalloc as its malloc (unprefixed), so every allocation already goes
 * through it; this module only reads jemalloc's own statistics for /metrics. In the
 * sanitizer build jemalloc is absent and the figures are reported as unavailable.
 */
#ifndef BLOCKEDGE_ALLOC_H
#define BLOCKEDGE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* Bytes allocated by the application and bytes resident, from jemalloc's stats (refreshed
 * by this call). Returns BE_OK, or BE_DECLINED when jemalloc is not linked. Any thread. */
int be_alloc_stats(uint64_t *allocated, uint64_t *resident);

/*
 * Cached blocks' memory (block.c): one jemalloc arena of its own, created on first use, with
 * no thread cache. A block is filled on one thread and evicted on another; from the default
 * per-thread arenas its freed pages stayed dirty in an arena the next fill might not use
 * (measured: 15 MiB resident beyond a full 128 MiB tier of 64 KiB blocks). From one arena
 * the next block reuses them. Under another malloc: malloc, realloc, free.
 * n == 0 is taken as 1. Any thread. be_alloc_block_resize keeps the old allocation and
 * returns NULL on failure.
 */
void *be_alloc_block(size_t n);
void *be_alloc_block_resize(void *p, size_t n);
void be_alloc_block_free(void *p); /* NULL-safe */

/* Bytes the allocator really sets aside for be_alloc_block(n): jemalloc's size class for n
 * (nallocx), so that a byte budget counts the rounding too; n itself under another malloc
 * (the sanitizer trees). Any thread; no allocation. */
size_t be_alloc_class(size_t n);

/* "jemalloc 5.3.0-..." or "libc malloc". */
const char *be_alloc_name(void);

#endif
