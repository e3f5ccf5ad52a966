/*
 * topk.c - the hottest keys: a Space-Saving top-K over K counters, with a min-heap on the
 * counts and an index from key to counter.
 *
 * Owns the K entries, the heap and the index, all allocated by topk_new(); knows keys,
 * their hashes and weights only (nothing of rings, SHARDS or time: decay and pinning are
 * popularity.c's). Invariants: n <= K entries, each in the index once and in the heap once
 * (heap_pos says where); the heap's root has the smallest count; a count minus its error
 * is a lower bound of the key's weighted references. No locks: one consumer thread.
 */

/*
 * ---- Space-Saving -------------------------------------------------------------------------
 *
 * Metwally, Agrawal and El Abbadi, "Efficient Computation of Frequent and Top-k Elements
 * in Data Streams" (ICDT 2005). K counters; a monitored key's counter grows by one per
 * reference; an unmonitored key takes over the smallest counter, inheriting its count as
 * its possible overestimate (error). Each counter is then an upper bound on its key's
 * count, at most min-counter too high, and any key occurring more than N/K times in N
 * references is monitored. It needs K counters whatever the number of distinct keys,
 * which is why it beats exact counting on a store of millions of blocks, and unlike
 * Count-Min it hands back the keys themselves with an error bar.
 *
 * Here the counters sit in a binary min-heap (the smallest is the root, the one an
 * unmonitored key replaces) with an open-addressing index (oatable.h) from key to entry:
 * O(log K) per reference, K*(~60) bytes. Counts are doubles so that they can decay:
 * popularity.c halves every count and error each half-life, a uniform scale that keeps the
 * heap order.
 */

#include <stdlib.h>
#include <string.h>

#include "blockedge/blockkey.h"
#include "blockedge/oatable.h"
#include "popularity_int.h"

/* What the index is searched with: a key and its hash. */
typedef struct tk_key_s {
    const be_key_t *key;
    uint64_t hash;
} tk_key_t;

/* The index's slots hold an entry's index + 1 (0: empty); the entries hold the keys. */
static int tk_held(const uint32_t *ix1);
static uint64_t tk_hash(topk_t *t, const uint32_t *ix1);
static int tk_match(topk_t *t, const uint32_t *ix1, const tk_key_t *k);
BE_OATABLE_DEFINE(tkindex, uint32_t, tk_key_t, topk_t, tk_held, tk_hash, tk_match)

struct topk_s {
    topk_entry_t *e; /* K entries, n used */
    uint32_t *heap;  /* entry indexes, min-heap on count */
    tkindex_t index;
    size_t k, n;
};

static int
tk_held(const uint32_t *ix1)
{
    return *ix1 != 0;
}

static uint64_t
tk_hash(topk_t *t, const uint32_t *ix1)
{
    return t->e[*ix1 - 1].hash;
}

static int
tk_match(topk_t *t, const uint32_t *ix1, const tk_key_t *k)
{
    const topk_entry_t *e = &t->e[*ix1 - 1];
    return e->hash == k->hash && memcmp(&e->key, k->key, sizeof(*k->key)) == 0;
}

static int
tk_less(const topk_t *t, uint32_t a, uint32_t b)
{
    return t->e[a].count < t->e[b].count;
}

static void
tk_swap(topk_t *t, size_t i, size_t j)
{
    uint32_t a = t->heap[i], b = t->heap[j];
    t->heap[i] = b;
    t->heap[j] = a;
    t->e[b].heap_pos = (uint32_t)i;
    t->e[a].heap_pos = (uint32_t)j;
}

static void
tk_sift_up(topk_t *t, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!tk_less(t, t->heap[i], t->heap[parent]))
            break;
        tk_swap(t, i, parent);
        i = parent;
    }
}

/* Moves the entry at heap slot i down past every child with a smaller count. The entry is
 * held aside and the children move up into the hole: the same comparisons, hence the same
 * heap, as swapping at each level, with half the stores. */
static void
tk_sift_down(topk_t *t, size_t i)
{
    uint32_t x = t->heap[i];
    double cx = t->e[x].count;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        double cm = cx;
        if (l < t->n && t->e[t->heap[l]].count < cm) {
            m = l;
            cm = t->e[t->heap[l]].count;
        }
        if (r < t->n && t->e[t->heap[r]].count < cm)
            m = r;
        if (m == i)
            break;
        t->heap[i] = t->heap[m];
        t->e[t->heap[i]].heap_pos = (uint32_t)i;
        i = m;
    }
    t->heap[i] = x;
    t->e[x].heap_pos = (uint32_t)i;
}

/* The index has at least 2K slots for K entries, so an insertion always finds room. */
topk_entry_t *
topk_add(topk_t *t, const be_key_t *key, uint64_t hash, double w, uint64_t *unpinned)
{
    tk_key_t k = {key, hash};
    const uint32_t *ix1 = tkindex_find(&t->index, t, hash, &k);
    *unpinned = 0;
    if (ix1 != NULL) {
        topk_entry_t *e = &t->e[*ix1 - 1];
        e->count += w;
        tk_sift_down(t, e->heap_pos);
        return e;
    }
    if (t->n < t->k) {
        uint32_t nx = (uint32_t)t->n++;
        topk_entry_t *e = &t->e[nx];
        e->key = *key;
        e->hash = hash;
        e->count = w;
        e->error = 0;
        e->heap_pos = nx;
        e->pinned = 0;
        t->heap[nx] = nx;
        *tkindex_insert(&t->index, hash) = nx + 1;
        tk_sift_up(t, nx);
        return e;
    }
    /* replace the minimum: the newcomer may have occurred up to min times unseen */
    uint32_t vx = t->heap[0];
    topk_entry_t *v = &t->e[vx];
    tk_key_t vk = {&v->key, v->hash};
    tkindex_erase(&t->index, t, tkindex_find(&t->index, t, v->hash, &vk));
    if (v->pinned)
        *unpinned = v->hash;
    v->pinned = 0;
    v->key = *key;
    v->hash = hash;
    v->error = v->count;
    v->count += w;
    *tkindex_insert(&t->index, hash) = vx + 1;
    tk_sift_down(t, 0);
    return v;
}

topk_t *
topk_new(size_t k, uint64_t *bytes)
{
    topk_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    *bytes += sizeof(*t);
    t->k = k;
    uint32_t index_cap = (uint32_t)pow2_at_least(2 * t->k);
    t->e = calloc(t->k, sizeof(*t->e));
    t->heap = calloc(t->k, sizeof(*t->heap));
    *bytes +=
        t->k * sizeof(*t->e) + t->k * sizeof(*t->heap) + (uint64_t)index_cap * sizeof(uint32_t);
    if (tkindex_init(&t->index, index_cap) != BE_OK || t->e == NULL || t->heap == NULL)
        topk_free(&t);
    return t;
}

void
topk_free(topk_t **tp)
{
    topk_t *t = *tp;
    if (t == NULL)
        return;
    *tp = NULL;
    free(t->e);
    free(t->heap);
    tkindex_dispose(&t->index);
    free(t);
}

topk_entry_t *
topk_entries(topk_t *t, size_t *n)
{
    *n = t->n;
    return t->e;
}

double
topk_floor(const topk_t *t)
{
    return t->n == t->k ? t->e[t->heap[0]].count : 0;
}
