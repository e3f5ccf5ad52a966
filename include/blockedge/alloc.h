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

/* "jemalloc 5.3.0-..." or "libc malloc". */
const char *be_alloc_name(void);

#endif
