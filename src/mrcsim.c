/*
 * mrcsim.c - the predicted hit ratio of the configured eviction policy at other cache sizes:
 * miniature simulations of that policy over a spatially hashed sample of the keys.
 *
 * Owns a fixed pool of tracked keys, their index and MRCSIM_POINTS policy instances (policy.h),
 * all allocated by mrcsim_new(); the policies' own tables (S3-FIFO's ghost, W-TinyLFU's
 * sketch) grow as their objects do, up to the bound below. Knows key hashes, sizes and whether
 * popularity.c calls a key hot; not keys, rings, top-K counts or time (decay is a scale the
 * caller applies). Invariants: at most max_keys keys are tracked; a tracked key is held by at
 * least one of the miniature caches; each cache holds at most its capacity in bytes.
 * No locks: one consumer thread.
 */

/*
 * ---- Miniature simulations ------------------------------------------------------------------
 *
 * Waldspurger, Saemundsson, Ahmad and Park, "Cache Modeling and Optimization using Miniature
 * Simulations" (USENIX ATC 2017). SHARDS (shards.c) gives LRU's whole curve from one pass
 * because LRU has the stack property; S3-FIFO or W-TinyLFU do not, so their curve needs one
 * simulation per cache size. A miniature simulation runs the real policy on the keys whose
 * hash is sampled (rate R, the same spatial test as SHARDS: (hash >> 40) < T of 2^24) in a
 * cache of R times the size it models: the sampled keys are an R fraction of all keys, so
 * their bytes in the small cache behave like all keys' bytes in the big one. The paper
 * reports mean absolute errors near 0.01 at R = 0.001 on production traces for ARC, LIRS
 * and 2Q. The policies are the memory tier's own (policy_*.c), so the curve is that code's.
 *
 * Sizes: one cache per octave from memory_size/8 to memory_size*8 (MRCSIM_POINTS of them,
 * the points /metrics exports). A block larger than a miniature cache is not cached there
 * (as in policysim.c), so a cache must model many blocks: R * memory_size / 8 should be
 * some hundred block sizes or more; below that the small sizes read low.
 *
 * Fixed-size sample (section 3 of the paper, after fixed-size SHARDS): at most max_keys keys
 * are tracked. When a new key needs a slot and none is free, T is halved, the keys no longer
 * sampled leave every cache, and each cache's capacity halves (evicting by its policy).
 *
 * Hot keys, as in shards.c: on block loads a few hot keys carry a large share of the
 * references, and whether each falls in a sample of R = 0.1 moves the whole curve by points.
 * So a key popularity.c calls hot (a pinned key with at least 1/4096 of the references: at
 * most 4096 of them at once, and at most max_keys / 4 in the sample: past that a hot key is
 * sampled like the others) is tracked whatever its hash, at weight 1, charged R times its
 * size (it stands for itself alone in a cache scaled by R); the hash-sampled keys stand for
 * all other references (the ratio estimator). A tracked key that turns hot is taken out and
 * re-enters hot (its reference counts as a hit where it was held); a hot key that cools
 * leaves at once (popularity.c unpins it). A halving drops the hot keys too, since their
 * charged size was R times theirs; they come back at their next reference.
 *
 * Memory: max_keys entries of 16 + MRCSIM_POINTS * sizeof(be_policy_node_t) bytes, an index
 * of 2 * max_keys 16-byte slots, and per cache its policy's tables: S3-FIFO's ghost has at
 * most 4 slots of 8 bytes per object held, W-TinyLFU's sketch 4 bytes per column and at most
 * 2 columns per object held; mrcsim_bound() is that sum for max_keys objects per cache.
 * Cost: an unsampled reference is a test and a return; a sampled one a find, and per cache a
 * hit or an insert and the evictions it causes (O(1) each in the four policies).
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/oatable.h"
#include "blockedge/policy.h"
#include "popularity_int.h"

#define MS_P        (1u << 24) /* hash values for sampling: (h >> 40) < T */
#define MS_NO_ENTRY UINT32_MAX

typedef struct ms_entry_s {
    uint64_t hash; /* 0: free (then next_free chains the free list) */
    uint32_t next_free;
    uint16_t in;    /* bit k: held by cache k */
    uint8_t pinned; /* the stratum: 1 hot, 0 hash-sampled */
    be_policy_node_t node[MRCSIM_POINTS];
} ms_entry_t;

typedef struct ms_slot_s {
    uint64_t hash;
    uint32_t idx1; /* pool index + 1; 0: empty */
} ms_slot_t;

static int
ms_held(const ms_slot_t *s)
{
    return s->idx1 != 0;
}

static uint64_t
ms_hash(void *ctx, const ms_slot_t *s)
{
    BE_UNUSED(ctx);
    return s->hash;
}

static int
ms_match(void *ctx, const ms_slot_t *s, const uint64_t *hash)
{
    BE_UNUSED(ctx);
    return s->hash == *hash;
}

BE_OATABLE_DEFINE(mstab, ms_slot_t, uint64_t, void, ms_held, ms_hash, ms_match)

struct mrcsim_s {
    int kind;
    uint32_t threshold; /* T of MS_P */
    size_t max_keys;
    double edge0; /* the smallest modelled size: memory_size / 8 */
    be_policy_t *cache[MRCSIM_POINTS];
    ms_entry_t *pool;
    uint32_t free_head;
    uint32_t used;
    uint32_t nhot; /* entries of the hot stratum: at most max_keys / 4 */
    mstab_t index;
    double hits[2][MRCSIM_POINTS]; /* [stratum] references that hit cache k */
    double refs[2];                /* [stratum] references tracked */
    double expected;               /* references seen (all of them, sampled or not) */
    uint64_t sampled_refs;
    uint64_t fixed_bytes;
};

double
mrcsim_rate(const mrcsim_t *m)
{
    return (double)m->threshold / (double)MS_P;
}

static int
ms_sampled(const mrcsim_t *m, uint64_t hash)
{
    return (hash >> 40) < m->threshold;
}

static double
ms_modelled(const mrcsim_t *m, int k)
{
    return m->edge0 * (double)(1u << k);
}

static uint64_t
ms_capacity(const mrcsim_t *m, int k)
{
    return (uint64_t)(ms_modelled(m, k) * mrcsim_rate(m));
}

static ms_entry_t *
ms_entry_of(be_policy_node_t *n, int k)
{
    return (ms_entry_t *)((char *)(n - k) - offsetof(ms_entry_t, node));
}

/* Returns e to the pool and the index; it must be held by no cache. */
static void
ms_release(mrcsim_t *m, ms_entry_t *e)
{
    mstab_erase(&m->index, NULL, mstab_find(&m->index, NULL, e->hash, &e->hash));
    m->nhot -= e->pinned;
    e->hash = 0;
    e->next_free = m->free_head;
    m->free_head = (uint32_t)(e - m->pool);
    m->used--;
}

/* Evicts from cache k until it fits; an entry left in no cache is released unless it is
 * keep (the one a reference is working on). */
static void
ms_fit(mrcsim_t *m, int k, const ms_entry_t *keep)
{
    be_policy_t *c = m->cache[k];
    uint64_t cap = ms_capacity(m, k);
    while (be_policy_bytes(c) > cap) {
        be_policy_node_t *n = be_policy_victim(c);
        if (n == NULL)
            break;
        ms_entry_t *e = ms_entry_of(n, k);
        e->in &= (uint16_t) ~(1u << k);
        if (e->in == 0 && e != keep)
            ms_release(m, e);
    }
}

/* Takes e out of every cache and releases it. */
static void
ms_drop(mrcsim_t *m, ms_entry_t *e)
{
    for (int k = 0; k < MRCSIM_POINTS; k++)
        if (e->in & (1u << k))
            be_policy_remove(m->cache[k], &e->node[k]);
    e->in = 0;
    ms_release(m, e);
}

/* T halves; the keys no longer sampled and the hot ones leave; the caches shrink to fit. */
static void
ms_halve(mrcsim_t *m)
{
    m->threshold /= 2;
    for (uint32_t i = 0; i < m->max_keys; i++) {
        ms_entry_t *e = &m->pool[i];
        if (e->hash != 0 && (e->pinned || !ms_sampled(m, e->hash)))
            ms_drop(m, e);
    }
    for (int k = 0; k < MRCSIM_POINTS; k++) {
        be_policy_set_capacity(m->cache[k], ms_capacity(m, k));
        ms_fit(m, k, NULL);
    }
}

/* A new entry for hash, in no cache yet; NULL when the key is out of the sample (after a
 * halving made room) or T cannot go lower. */
static ms_entry_t *
ms_new_entry(mrcsim_t *m, uint64_t hash, int pinned)
{
    while (m->free_head == MS_NO_ENTRY && m->threshold > 1)
        ms_halve(m);
    if (m->free_head == MS_NO_ENTRY || (!pinned && !ms_sampled(m, hash)))
        return NULL;
    ms_entry_t *e = &m->pool[m->free_head];
    m->free_head = e->next_free;
    m->used++;
    memset(e, 0, sizeof(*e));
    e->hash = hash;
    e->pinned = (uint8_t)pinned;
    m->nhot += e->pinned;
    ms_slot_t *s = mstab_insert(&m->index, hash);
    s->hash = hash;
    s->idx1 = (uint32_t)(e - m->pool) + 1;
    return e;
}

/* Inserts e (of bytes) where it is not held, evicting to fit; releases it if no cache keeps it. */
static void
ms_fill(mrcsim_t *m, ms_entry_t *e, uint64_t bytes)
{
    uint64_t size = bytes;
    if (e->pinned) {
        double r = (double)bytes * mrcsim_rate(m);
        size = r < 1 ? 1 : (uint64_t)llround(r);
    }
    for (int k = 0; k < MRCSIM_POINTS; k++) {
        if (e->in & (1u << k) || size > ms_capacity(m, k))
            continue;
        be_policy_node_t *n = &e->node[k];
        n->hash = e->hash;
        n->size = size;
        be_policy_insert(m->cache[k], n);
        e->in |= (uint16_t)(1u << k);
        if (be_policy_grow_wanted(m->cache[k]) > 0)
            (void)be_policy_grow(m->cache[k]); /* optional: a policy works with what it has */
        ms_fit(m, k, e);
    }
    if (e->in == 0)
        ms_release(m, e);
}

/* One reference counted in stratum s: a hit in each cache holding e (NULL: none). */
static void
ms_count(mrcsim_t *m, ms_entry_t *e, int s)
{
    m->refs[s] += 1;
    if (e == NULL)
        return;
    for (int k = 0; k < MRCSIM_POINTS; k++)
        if (e->in & (1u << k))
            m->hits[s][k] += 1;
}

/* A reference of a hot or sampled key. Out of line, so that mrcsim_access() costs an
 * unsampled reference no more than a test and a return. */
__attribute__((noinline)) static void
ms_track(mrcsim_t *m, uint64_t hash, uint64_t bytes, int pinned)
{
    ms_slot_t *s = mstab_find(&m->index, NULL, hash, &hash);
    ms_entry_t *e = s != NULL ? &m->pool[s->idx1 - 1] : NULL;
    if (pinned && (e == NULL || !e->pinned) && m->nhot >= m->max_keys / 4) {
        pinned = 0; /* no room for more hot keys: it is sampled like any other */
        if (!ms_sampled(m, hash))
            return;
    }
    m->sampled_refs++;
    if (e != NULL && pinned && !e->pinned) {
        /* turned hot: this reference hits where it was held, then it re-enters hot */
        ms_count(m, e, 1);
        ms_drop(m, e);
        if ((e = ms_new_entry(m, hash, 1)) != NULL)
            ms_fill(m, e, bytes);
        return;
    }
    ms_count(m, e, e != NULL ? e->pinned : pinned);
    if (e != NULL) {
        for (int k = 0; k < MRCSIM_POINTS; k++)
            if (e->in & (1u << k))
                be_policy_hit(m->cache[k], &e->node[k]);
    } else if ((e = ms_new_entry(m, hash, pinned)) == NULL) {
        return;
    }
    ms_fill(m, e, bytes);
}

void
mrcsim_access(mrcsim_t *m, uint64_t hash, uint64_t bytes, int pinned)
{
    m->expected += 1;
    if (!pinned && !ms_sampled(m, hash))
        return;
    ms_track(m, hash, bytes, pinned);
}

void
mrcsim_unpin(mrcsim_t *m, uint64_t hash)
{
    ms_slot_t *s = mstab_find(&m->index, NULL, hash, &hash);
    if (s != NULL && m->pool[s->idx1 - 1].pinned)
        ms_drop(m, &m->pool[s->idx1 - 1]);
}

void
mrcsim_scale(mrcsim_t *m, double f)
{
    for (int s = 0; s < 2; s++) {
        for (int k = 0; k < MRCSIM_POINTS; k++)
            m->hits[s][k] *= f;
        m->refs[s] *= f;
    }
    m->expected *= f;
}

size_t
mrcsim_curve(const mrcsim_t *m, double *cache_bytes, double *hit_ratio)
{
    if (m->expected <= 0 || m->refs[0] + m->refs[1] <= 0)
        return 0;
    /* the hash-sampled stratum stands for every reference the hot one does not hold */
    double rest = m->expected - m->refs[1];
    double scale = m->refs[0] > 0 && rest > 0 ? rest / m->refs[0] : 0;
    for (int k = 0; k < MRCSIM_POINTS; k++) {
        double h = (m->hits[1][k] + m->hits[0][k] * scale) / m->expected;
        cache_bytes[k] = ms_modelled(m, k);
        hit_ratio[k] = h < 0 ? 0 : h > 1 ? 1 : h;
    }
    return MRCSIM_POINTS;
}

uint64_t
mrcsim_bound(size_t max_keys)
{
    uint64_t per_cache = (uint64_t)pow2_at_least(4 * max_keys) * 8 + 4096;
    return (uint64_t)max_keys * sizeof(ms_entry_t) +
           pow2_at_least(2 * max_keys) * sizeof(ms_slot_t) + MRCSIM_POINTS * per_cache +
           sizeof(mrcsim_t);
}

uint64_t
mrcsim_bytes(const mrcsim_t *m)
{
    uint64_t n = m->fixed_bytes;
    for (int k = 0; k < MRCSIM_POINTS; k++)
        n += be_policy_meta_bytes(m->cache[k]);
    return n;
}

uint64_t
mrcsim_keys(const mrcsim_t *m)
{
    return m->used;
}

uint64_t
mrcsim_sampled_refs(const mrcsim_t *m)
{
    return m->sampled_refs;
}

size_t
mrcsim_max_keys(const mrcsim_t *m)
{
    return m->max_keys;
}

int
mrcsim_kind(const mrcsim_t *m)
{
    return m->kind;
}

mrcsim_t *
mrcsim_new(int kind, double rate, size_t max_keys, uint64_t memory_size)
{
    if (max_keys < 16 || max_keys >= MS_NO_ENTRY / 2 || memory_size == 0)
        return NULL;
    mrcsim_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->kind = kind;
    double th = rate * MS_P;
    m->threshold = th < 1 ? 1 : th > MS_P ? MS_P : (uint32_t)th;
    m->max_keys = max_keys;
    m->edge0 = (double)memory_size / (double)(1u << BE_MRC_OCTAVES);
    uint32_t index_cap = (uint32_t)pow2_at_least(2 * max_keys);
    m->pool = calloc(max_keys, sizeof(*m->pool));
    int ok = m->pool != NULL && mstab_init(&m->index, index_cap) == BE_OK;
    for (int k = 0; ok && k < MRCSIM_POINTS; k++)
        ok = (m->cache[k] = be_policy_new(kind, ms_capacity(m, k))) != NULL;
    if (!ok) {
        mrcsim_free(&m);
        return NULL;
    }
    for (uint32_t i = 0; i < max_keys; i++)
        m->pool[i].next_free = i + 1 < max_keys ? i + 1 : MS_NO_ENTRY;
    m->free_head = 0;
    m->fixed_bytes = sizeof(*m) + max_keys * sizeof(*m->pool) + mstab_bytes(&m->index);
    return m;
}

void
mrcsim_free(mrcsim_t **mp)
{
    mrcsim_t *m = *mp;
    if (m == NULL)
        return;
    *mp = NULL;
    for (int k = 0; k < MRCSIM_POINTS; k++)
        be_policy_free(&m->cache[k]);
    mstab_dispose(&m->index);
    free(m->pool);
    free(m);
}
