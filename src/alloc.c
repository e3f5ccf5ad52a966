/*
 * alloc.c - jemalloc statistics through mallctl, its size classes through nallocx, and the
 * arena that holds cached blocks.
 *
 * Knows nothing of blocks beyond giving them memory: the memory tier does its own byte
 * accounting, asking here what an allocation really costs. "epoch" must be bumped before reading
 * stats.*, which makes the figures a snapshot.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "blockedge/alloc.h"
#include "blockedge/defs.h"

#ifdef BE_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>

int
be_alloc_stats(uint64_t *allocated, uint64_t *resident)
{
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    size_t a = 0, r = 0, len = sizeof(size_t);
    if (mallctl("epoch", &epoch, &sz, &epoch, sz) != 0)
        return BE_ERROR;
    if (mallctl("stats.allocated", &a, &len, NULL, 0) != 0)
        return BE_ERROR;
    len = sizeof(size_t);
    if (mallctl("stats.resident", &r, &len, NULL, 0) != 0)
        return BE_ERROR;
    *allocated = a;
    *resident = r;
    return BE_OK;
}

/*
 * jemalloc's start-up options, read from this symbol before MALLOC_CONF (which can still
 * override them). By default the 2, 4 and 8 KiB size classes take one or two regions per
 * slab, so every 4 KiB block was a slab of its own with its own extent metadata (measured:
 * about 160 bytes beyond the block, unseen by nallocx). Sixteen pages per slab for those
 * three classes (32, 16 and 8 regions) brings that to a few bytes, without rounding waste.
 */
const char *malloc_conf = "slab_sizes:2048-2048:16|4096-4096:16|8192-8192:16";

/*
 * Large allocations (past the last small size class, 14 KiB with 4 KiB pages) are asked
 * page-aligned. jemalloc is built cache-oblivious: each large extent gets one page more than
 * its size class, and an unaligned allocation starts at a random cache line inside it, so
 * its bytes touch that extra page too (measured: 4.3 KiB resident beyond every 64 KiB block,
 * 6.8 KiB beyond 1 MiB). Page-aligned, the data starts at the extent's first page and the
 * extra page stays untouched, never resident (0.3 KiB and 2.7 KiB). The option itself
 * (opt.cache_oblivious) cannot be changed at run time in jemalloc 5.3.
 */
static pthread_once_t block_arena_once = PTHREAD_ONCE_INIT;
static int block_flags;  /* MALLOCX_ARENA(the blocks' arena) | MALLOCX_TCACHE_NONE, or 0 */
static size_t small_max; /* the largest small size class */
static size_t page_size = 4096;

static void
make_block_arena(void)
{
    unsigned arena = 0, nbins = 0;
    size_t len = sizeof(arena), max = 0, page = 0;
    if (mallctl("arenas.create", &arena, &len, NULL, 0) == 0)
        block_flags = MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE;
    len = sizeof(nbins);
    if (mallctl("arenas.nbins", &nbins, &len, NULL, 0) == 0 && nbins > 0) {
        char name[64];
        snprintf(name, sizeof(name), "arenas.bin.%u.size", nbins - 1);
        len = sizeof(max);
        if (mallctl(name, &max, &len, NULL, 0) == 0)
            small_max = max;
    }
    len = sizeof(page);
    if (mallctl("arenas.page", &page, &len, NULL, 0) == 0 && page > 0)
        page_size = page;
}

static int
block_flags_for(size_t n)
{
    pthread_once(&block_arena_once, make_block_arena);
    return n > small_max ? block_flags | MALLOCX_ALIGN(page_size) : block_flags;
}

void *
be_alloc_block(size_t n)
{
    n = n > 0 ? n : 1;
    return mallocx(n, block_flags_for(n));
}

void *
be_alloc_block_resize(void *p, size_t n)
{
    n = n > 0 ? n : 1;
    return rallocx(p, n, block_flags_for(n));
}

void
be_alloc_block_free(void *p)
{
    if (p != NULL)
        dallocx(p, block_flags_for(0));
}

size_t
be_alloc_class(size_t n)
{
    n = n > 0 ? n : 1;
    size_t c = nallocx(n, block_flags_for(n));
    return c > 0 ? c : n;
}

const char *
be_alloc_name(void)
{
    static char name[64];
    const char *v = NULL;
    size_t len = sizeof(v);
    if (name[0] == '\0') {
        if (mallctl("version", &v, &len, NULL, 0) == 0 && v != NULL)
            snprintf(name, sizeof(name), "jemalloc %s", v);
        else
            snprintf(name, sizeof(name), "jemalloc");
    }
    return name;
}

#else

int
be_alloc_stats(uint64_t *allocated, uint64_t *resident)
{
    *allocated = 0;
    *resident = 0;
    return BE_DECLINED;
}

void *
be_alloc_block(size_t n)
{
    return malloc(n > 0 ? n : 1);
}

void *
be_alloc_block_resize(void *p, size_t n)
{
    return realloc(p, n > 0 ? n : 1);
}

void
be_alloc_block_free(void *p)
{
    free(p);
}

size_t
be_alloc_class(size_t n)
{
    return n > 0 ? n : 1;
}

const char *
be_alloc_name(void)
{
    return "libc malloc";
}

#endif
