/*
 * refsim.h - two offline references for tools/cachesim: what a cache that knew the whole trace
 * in advance would hit. They are yardsticks for the policies, not policies: neither can run in
 * the memory tier (both read the future), and `memory_policy` cannot name them.
 *
 * static: the best fixed contents. Every key is ranked by its requests over the whole trace per
 * byte of its size (its first request's size, as be_trace_t.bytes counts it; ties: the key seen
 * first ranks first); in that order each key that still fits in what is left of the budget is
 * pinned (a key too large for the rest is skipped, the next ones may still fit). The cache
 * holds the pinned keys from before the first request and never changes: a request is a hit if
 * and only if its key is pinned, so static has no cold misses. With one size for all keys it is
 * the most hits any fixed set of keys can give.
 *
 * opt: Belady's MIN. A request for a cached key is a hit. On a miss the requested object is
 * weighed with the cached ones by when each is asked for next: the cached objects asked for
 * later than it (or never) leave, farthest first, until it fits; if it does not fit even once
 * all of those are gone, or is never asked for again, it is not cached (a bypass) and nothing
 * leaves. With one size for all objects this is the optimum: no replacement, online or offline,
 * hits more. With mixed sizes it is the farthest-next-use heuristic, not the optimum (which is
 * NP-hard to compute): making room for one large object can cost several small ones that come
 * back later but are worth more hits together. A cached object keeps the size it was inserted
 * with, as in policysim.c.
 *
 * Both start from the same loaded trace as be_policysim_run and fill a be_sim_result_t.
 * opt precomputes the next request of every request (8 bytes per request) and keeps the cached
 * objects in a binary max-heap on that next request, with a position per key id (about 24
 * bytes per id in all); static sorts the key ids (4 bytes per id, plus the request counts, 8).
 * Thread: read-only on the trace; one call per thread.
 */
#ifndef BLOCKEDGE_TOOLS_REFSIM_H
#define BLOCKEDGE_TOOLS_REFSIM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blockedge/policysim.h"

#define REF_STATIC 0
#define REF_OPT    1
#define REF_N      2
#define REF_NEVER  UINT64_MAX /* a next request that does not come */

static const char *const ref_names[REF_N] = {"static", "opt"};

/* REF_STATIC or REF_OPT for a name, -1 for anything else. */
static inline int
ref_parse(const char *name)
{
    for (int k = 0; k < REF_N; k++)
        if (strcmp(name, ref_names[k]) == 0)
            return k;
    return -1;
}

static inline double
ref_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether every request of t has the same size (then opt is exact). */
static inline int
ref_one_size(const be_trace_t *t)
{
    for (uint64_t i = 1; i < t->n; i++)
        if (t->size[i] != t->size[0])
            return 0;
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * static */

typedef struct ref_rank_s {
    const uint64_t *count;
    const uint32_t *size; /* per id: first size */
} ref_rank_t;

static ref_rank_t ref_rank; /* qsort's comparator has no context argument */

/* More requests per byte first: count_a / size_a > count_b / size_b, compared exactly as
 * count_a x size_b > count_b x size_a in 128 bits; ties by id. */
static int
ref_rank_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    unsigned __int128 l = (unsigned __int128)ref_rank.count[x] * ref_rank.size[y];
    unsigned __int128 r = (unsigned __int128)ref_rank.count[y] * ref_rank.size[x];
    if (l != r)
        return l > r ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* The static reference at capacity bytes. When pinned is not NULL it gets one flag per key id
 * (1: pinned). BE_OK, or BE_ERROR on allocation failure. Not thread-safe (the ranking uses a
 * file-scope context). */
static int
ref_static_run(const be_trace_t *t, uint64_t capacity, be_sim_result_t *out, uint8_t *pinned)
{
    memset(out, 0, sizeof(*out));
    uint64_t nk = t->nkeys ? t->nkeys : 1;
    uint64_t *count = calloc(nk, sizeof(*count));
    uint32_t *size = calloc(nk, sizeof(*size)), *order = malloc(nk * sizeof(*order));
    uint8_t *pin = calloc(nk, 1);
    int rc = count && size && order && pin ? BE_OK : BE_ERROR;
    double t0 = ref_now();
    for (uint64_t i = 0; rc == BE_OK && i < t->n; i++) {
        if (count[t->id[i]]++ == 0)
            size[t->id[i]] = t->size[i];
    }
    for (uint64_t k = 0; rc == BE_OK && k < t->nkeys; k++)
        order[k] = (uint32_t)k;
    if (rc == BE_OK && t->nkeys > 1) {
        ref_rank = (ref_rank_t){count, size};
        qsort(order, t->nkeys, sizeof(*order), ref_rank_cmp);
    }
    uint64_t left = capacity;
    for (uint64_t k = 0; rc == BE_OK && k < t->nkeys && left > 0; k++)
        if (size[order[k]] <= left) {
            pin[order[k]] = 1;
            left -= size[order[k]];
        }
    for (uint64_t i = 0; rc == BE_OK && i < t->n; i++) {
        out->bytes += t->size[i];
        if (pin[t->id[i]]) {
            out->hits++;
            out->hit_bytes += t->size[i];
        }
    }
    out->seconds = ref_now() - t0;
    out->requests = t->n;
    if (rc == BE_OK && pinned != NULL)
        memcpy(pinned, pin, t->nkeys);
    free(count);
    free(size);
    free(order);
    free(pin);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * opt */

typedef struct ref_heap_s {
    uint32_t *id;   /* heap of cached key ids, the farthest next request at the top */
    uint32_t *pos;  /* per id: its index in the heap, UINT32_MAX when not cached */
    uint64_t *next; /* per id: the request index of its next request (REF_NEVER: none) */
    uint32_t *size; /* per id: the bytes it was cached with */
    uint32_t *out;  /* the ids taken out for one miss */
    uint64_t n;
} ref_heap_t;

static inline void
ref_heap_put(ref_heap_t *h, uint64_t i, uint32_t id)
{
    h->id[i] = id;
    h->pos[id] = (uint32_t)i;
}

static void
ref_heap_up(ref_heap_t *h, uint64_t i)
{
    uint32_t id = h->id[i];
    while (i > 0 && h->next[h->id[(i - 1) / 2]] < h->next[id]) {
        ref_heap_put(h, i, h->id[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    ref_heap_put(h, i, id);
}

static void
ref_heap_down(ref_heap_t *h, uint64_t i)
{
    uint32_t id = h->id[i];
    for (;;) {
        uint64_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->next[h->id[c + 1]] > h->next[h->id[c]])
            c++;
        if (h->next[h->id[c]] <= h->next[id])
            break;
        ref_heap_put(h, i, h->id[c]);
        i = c;
    }
    ref_heap_put(h, i, id);
}

/* Takes the top (the farthest next request) out of the heap; returns its id. */
static uint32_t
ref_heap_pop(ref_heap_t *h)
{
    uint32_t top = h->id[0];
    h->pos[top] = UINT32_MAX;
    if (--h->n > 0) {
        ref_heap_put(h, 0, h->id[h->n]);
        ref_heap_down(h, 0);
    }
    return top;
}

/* next[i]: the index of the next request for request i's key, REF_NEVER if none. */
static uint64_t *
ref_next_uses(const be_trace_t *t)
{
    uint64_t *next = malloc((t->n ? t->n : 1) * sizeof(*next));
    uint64_t *last = malloc((t->nkeys ? t->nkeys : 1) * sizeof(*last));
    if (next != NULL && last != NULL) {
        for (uint64_t k = 0; k < t->nkeys; k++)
            last[k] = REF_NEVER;
        for (uint64_t i = t->n; i-- > 0;) {
            next[i] = last[t->id[i]];
            last[t->id[i]] = i;
        }
    } else {
        free(next);
        next = NULL;
    }
    free(last);
    return next;
}

/* A miss for id (size bytes, asked for again at request `next`). The objects asked for again
 * later than it leave first, farthest first, until it fits; if it does not fit once they are all
 * gone, it is the one not to keep: they are put back and it is not cached. */
static void
ref_opt_miss(ref_heap_t *h, uint64_t *used, uint64_t capacity, uint32_t id, uint32_t size,
             uint64_t next, uint64_t *evictions)
{
    if (size > capacity || next == REF_NEVER)
        return;
    uint64_t freed = 0, k = 0;
    while (*used - freed + size > capacity && h->n > 0 && h->next[h->id[0]] > next) {
        uint32_t v = ref_heap_pop(h);
        h->out[k++] = v;
        freed += h->size[v];
    }
    if (*used - freed + size > capacity) {
        while (k > 0) {
            ref_heap_put(h, h->n++, h->out[--k]);
            ref_heap_up(h, h->n - 1);
        }
        return;
    }
    *used -= freed;
    *evictions += k;
    h->next[id] = next;
    h->size[id] = size;
    ref_heap_put(h, h->n++, id);
    ref_heap_up(h, h->n - 1);
    *used += size;
}

/* The opt reference at capacity bytes. BE_OK, or BE_ERROR on allocation failure (or more key
 * ids than the heap positions hold). */
static int
ref_opt_run(const be_trace_t *t, uint64_t capacity, be_sim_result_t *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t nk = t->nkeys ? t->nkeys : 1;
    ref_heap_t h = {
        .id = malloc(nk * sizeof(uint32_t)),
        .pos = malloc(nk * sizeof(uint32_t)),
        .next = malloc(nk * sizeof(uint64_t)),
        .size = malloc(nk * sizeof(uint32_t)),
        .out = malloc(nk * sizeof(uint32_t)),
    };
    double t0 = ref_now();
    uint64_t *next = ref_next_uses(t);
    int rc = h.id && h.pos && h.next && h.size && h.out && next && t->nkeys < UINT32_MAX ? BE_OK
                                                                                         : BE_ERROR;
    if (rc == BE_OK)
        memset(h.pos, 0xff, nk * sizeof(uint32_t));
    uint64_t used = 0;
    for (uint64_t i = 0; rc == BE_OK && i < t->n; i++) {
        uint32_t id = t->id[i], size = t->size[i];
        out->bytes += size;
        if (h.pos[id] != UINT32_MAX) {
            out->hits++;
            out->hit_bytes += size;
            h.next[id] = next[i]; /* later than before: the key moves towards the top */
            ref_heap_up(&h, h.pos[id]);
            continue;
        }
        ref_opt_miss(&h, &used, capacity, id, size, next[i], &out->evictions);
    }
    out->seconds = ref_now() - t0;
    out->requests = t->n;
    free(next);
    free(h.id);
    free(h.pos);
    free(h.next);
    free(h.size);
    free(h.out);
    return rc;
}

#endif
