/*
 * alloc.c - jemalloc statistics through mallctl.
 *
 * Knows nothing of blocks: the memory tier does its own byte accounting. "epoch" must be
 * bumped before reading stats.*, which makes the figures a snapshot.
 */
#include <stdint.h>
#include <stdio.h>

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

const char *
be_alloc_name(void)
{
    return "libc malloc";
}

#endif
