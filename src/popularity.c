/*
 * popularity.c - block popularity: Space-Saving top-K, a Zipf fit by maximum likelihood,
 * and a SHARDS miss-ratio curve, fed through one lock-free ring per worker.
 *
 * This file owns the rings, the public API, the decay clock and pinning (which hot keys
 * SHARDS and the miniature simulations track with every reference); the algorithms are
 * topk.c, zipf.c, shards.c (LRU's curve) and mrcsim.c (the configured policy's curve, when it
 * is not LRU), reached through popularity_int.h. Knows nothing of HTTP, tiers or sockets: it sees
 * digests, sizes and `now`. Invariants: only the producer of a ring writes its head and
 * drop count; only the consumer writes tails and touches the sketches; every allocation
 * is made in be_popularity_new(), so memory never grows after start-up.
 */

/*
 * How a reference travels. A worker finishing a block request copies (digest, bytes)
 * into its own ring (a relaxed load, a 40-byte copy, a release store: no lock, no line
 * shared with another writer; 16.5 ns measured by tools/popbench.c). The main thread
 * drains the rings every BE_POPULARITY_DRAIN_MS and before each scrape, and feeds each
 * reference to the top-K and, when its key is sampled or pinned, to SHARDS (183 ns per
 * reference on the main thread, same tool). A full ring drops the reference and counts
 * the drop: the sketches degrade, requests never wait.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/policy.h"
#include "blockedge/popularity.h"
#include "popularity_int.h"

/* ---- hashing ----------------------------------------------------------------------------- */

/* splitmix64's finalizer over digest bytes 8..15. The memory tier shards on bytes 0..7;
 * mixing other bytes keeps SHARDS' sample independent of the shard and still uniform
 * when keys are not real digests (synthetic traces). */
static uint64_t
key_mix(const be_key_t *key)
{
    uint64_t x;
    memcpy(&x, key->d + 8, sizeof(x));
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* ---- the rings --------------------------------------------------------------------------- */

typedef struct ref_s {
    be_key_t key;
    uint64_t bytes;
} ref_t;

typedef struct ring_s {
    _Alignas(64) _Atomic uint64_t head; /* written by the producer */
    _Atomic uint64_t dropped;           /* written by the producer */
    _Alignas(64) _Atomic uint64_t tail; /* written by the consumer */
    ref_t *slots;
    uint64_t mask;
    char pad[64 - sizeof(ref_t *) - sizeof(uint64_t)];
} ring_t;

/* Pinning: a key with at least 1/PIN_SHARE of the (decayed) references, by a count
 * Space-Saving guarantees, and at least PIN_MIN of them, is tracked by SHARDS with every
 * reference (at most max_keys/4 such keys; shards.c says why). */
#define PIN_SHARE 65536.0
#define PIN_MIN   8.0

/* A pinned key with at least 1/HOT_SHARE of the references is tracked by the miniature
 * simulations whatever its hash (mrcsim.c says why): at most HOT_SHARE keys at once. */
#define HOT_SHARE 4096.0

/* ---- the whole ---------------------------------------------------------------------------- */

struct be_popularity_s {
    be_popularity_config_t cfg;
    ring_t *rings;
    topk_t *topk;
    shards_t *shards;
    mrcsim_t *mrcsim; /* NULL when the policy is LRU: SHARDS' curve is exact for it */
    uint64_t references;
    double weight; /* references, decayed like the counts */
    size_t npinned, max_pinned;
    be_msec_t last_decay;
    int decay_started;
    uint64_t memory_bytes;
    uint64_t sketch_bytes; /* the top-K and SHARDS part of memory_bytes */
};

static void *
counted_calloc(be_popularity_t *p, size_t n, size_t size)
{
    p->memory_bytes += n * size;
    return calloc(n, size);
}

be_popularity_config_t
be_popularity_config_from(const be_config_t *cfg, unsigned nworkers)
{
    be_popularity_config_t c = {
        .policy = cfg->memory_policy,
        .top_k = (unsigned)cfg->popularity_top_k,
        .sample_rate = cfg->mrc_sample_rate,
        .mrc_max_keys = (unsigned)cfg->mrc_max_keys,
        .half_life = cfg->popularity_half_life,
        .memory_size = cfg->memory_size,
        .nrings = nworkers,
        .ring_capacity = BE_POPULARITY_RING,
    };
    return c;
}

/* The miniature simulations of cfg's policy into *out (NULL for LRU). */
static int
new_mrcsim(const be_popularity_config_t *cfg, mrcsim_t **out)
{
    *out = NULL;
    if (cfg->policy == BE_POLICY_LRU)
        return BE_OK;
    size_t keys = cfg->mrc_max_keys / 4 < 16 ? 16 : cfg->mrc_max_keys / 4;
    *out = mrcsim_new(cfg->policy, cfg->sample_rate, keys, cfg->memory_size);
    return *out != NULL ? BE_OK : BE_ERROR;
}

be_popularity_t *
be_popularity_new(const be_popularity_config_t *cfg)
{
    if (cfg->top_k < 2 || cfg->top_k > (1u << 24) || !(cfg->sample_rate > 0) ||
        cfg->sample_rate > 1 || cfg->mrc_max_keys < 16 || cfg->mrc_max_keys > (1u << 26) ||
        cfg->memory_size == 0)
        return NULL;
    be_popularity_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->memory_bytes = sizeof(*p);
    p->cfg = *cfg;
    int ok = 1;

    if (cfg->nrings > 0) {
        size_t cap = pow2_at_least(cfg->ring_capacity > 0 ? cfg->ring_capacity : 16384);
        p->cfg.ring_capacity = (unsigned)cap;
        p->rings = aligned_alloc(64, cfg->nrings * sizeof(ring_t));
        p->memory_bytes += cfg->nrings * sizeof(ring_t);
        ok = p->rings != NULL;
        if (ok)
            memset(p->rings, 0, cfg->nrings * sizeof(ring_t));
        for (unsigned i = 0; ok && i < cfg->nrings; i++) {
            p->rings[i].slots = counted_calloc(p, cap, sizeof(ref_t));
            p->rings[i].mask = cap - 1;
            ok = p->rings[i].slots != NULL;
        }
    }

    p->topk = topk_new(cfg->top_k, &p->sketch_bytes);
    p->shards = shards_new(cfg->sample_rate, cfg->mrc_max_keys, cfg->memory_size, &p->sketch_bytes);
    p->memory_bytes += p->sketch_bytes;
    p->max_pinned = cfg->mrc_max_keys / 4;
    ok = ok && p->topk != NULL && p->shards != NULL && new_mrcsim(cfg, &p->mrcsim) == BE_OK;

    if (!ok)
        be_popularity_free(&p);
    return p;
}

int
be_popularity_reconfigure(be_popularity_t *p, const be_popularity_config_t *cfg)
{
    if (cfg->top_k < 2 || cfg->top_k > (1u << 24) || !(cfg->sample_rate > 0) ||
        cfg->sample_rate > 1 || cfg->mrc_max_keys < 16 || cfg->mrc_max_keys > (1u << 26) ||
        cfg->memory_size == 0)
        return BE_ERROR;
    p->cfg.half_life = cfg->half_life;
    if (cfg->top_k == p->cfg.top_k && cfg->sample_rate == p->cfg.sample_rate &&
        cfg->mrc_max_keys == p->cfg.mrc_max_keys && cfg->memory_size == p->cfg.memory_size &&
        cfg->policy == p->cfg.policy)
        return BE_OK;
    uint64_t bytes = 0;
    topk_t *topk = topk_new(cfg->top_k, &bytes);
    shards_t *shards = shards_new(cfg->sample_rate, cfg->mrc_max_keys, cfg->memory_size, &bytes);
    mrcsim_t *mrcsim = NULL;
    if (topk == NULL || shards == NULL || new_mrcsim(cfg, &mrcsim) != BE_OK) {
        topk_free(&topk);
        shards_free(&shards);
        return BE_ERROR;
    }
    topk_free(&p->topk);
    shards_free(&p->shards);
    mrcsim_free(&p->mrcsim);
    p->topk = topk;
    p->shards = shards;
    p->mrcsim = mrcsim;
    p->cfg.policy = cfg->policy;
    p->memory_bytes = p->memory_bytes - p->sketch_bytes + bytes;
    p->sketch_bytes = bytes;
    p->cfg.top_k = cfg->top_k;
    p->cfg.sample_rate = cfg->sample_rate;
    p->cfg.mrc_max_keys = cfg->mrc_max_keys;
    p->cfg.memory_size = cfg->memory_size;
    p->max_pinned = cfg->mrc_max_keys / 4;
    p->npinned = 0;
    p->references = 0;
    p->weight = 0;
    return BE_OK;
}

void
be_popularity_free(be_popularity_t **pp)
{
    be_popularity_t *p = *pp;
    if (p == NULL)
        return;
    *pp = NULL;
    if (p->rings != NULL)
        for (unsigned i = 0; i < p->cfg.nrings; i++)
            free(p->rings[i].slots);
    free(p->rings);
    topk_free(&p->topk);
    shards_free(&p->shards);
    mrcsim_free(&p->mrcsim);
    free(p);
}

void
be_popularity_record(be_popularity_t *p, unsigned ring, const be_key_t *key, uint64_t bytes)
{
    ring_t *r = &p->rings[ring];
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (h - t > r->mask) {
        atomic_store_explicit(&r->dropped,
                              atomic_load_explicit(&r->dropped, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        return;
    }
    ref_t *slot = &r->slots[h & r->mask];
    slot->key = *key;
    slot->bytes = bytes;
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
}

/*
 * Decay, not windows: every `half_life` of the consumer's clock every count and error is
 * halved. Old references thus weigh 2^-(age/half_life): the ranking follows a workload
 * that changes within a few half-lives, yet one burst does not erase the history, and
 * halving keeps the heap order (a uniform scale), so it costs one pass over K counters.
 * The Zipf fit and SHARDS' histogram decay with the same clock.
 *
 * decay() runs for every reference and nearly always returns at its clock test, so the
 * halving itself, halve(), is kept out of line.
 */
__attribute__((noinline)) static void
halve(be_popularity_t *p, int64_t halvings)
{
    double f = halvings > 60 ? 0 : ldexp(1.0, -(int)halvings);
    p->weight *= f;
    size_t n;
    topk_entry_t *all = topk_entries(p->topk, &n);
    for (size_t i = 0; i < n; i++) {
        topk_entry_t *e = &all[i];
        e->count *= f;
        e->error *= f;
        if (e->pinned && e->count - e->error < p->weight / PIN_SHARE / 2) {
            e->pinned = 0; /* cooled down (with hysteresis) */
            p->npinned--;
            shards_unpin(p->shards, e->hash);
            if (p->mrcsim != NULL)
                mrcsim_unpin(p->mrcsim, e->hash);
        }
    }
    shards_scale(p->shards, f);
    if (p->mrcsim != NULL)
        mrcsim_scale(p->mrcsim, f);
}

static void
decay(be_popularity_t *p, be_msec_t now)
{
    if (p->cfg.half_life <= 0)
        return;
    if (!p->decay_started) {
        p->decay_started = 1;
        p->last_decay = now;
        return;
    }
    if (now - p->last_decay < p->cfg.half_life)
        return;
    int64_t halvings = (now - p->last_decay) / p->cfg.half_life;
    p->last_decay += halvings * p->cfg.half_life;
    halve(p, halvings);
}

void
be_popularity_access(be_popularity_t *p, const be_key_t *key, uint64_t bytes, be_msec_t now)
{
    decay(p, now);
    uint64_t h = key_mix(key), unpinned;
    if (h == 0)
        h = 1; /* 0 marks an empty SHARDS slot */
    p->references++;
    p->weight += 1;
    topk_entry_t *e = topk_add(p->topk, key, h, 1.0, &unpinned);
    if (unpinned != 0) {
        p->npinned--;
        shards_unpin(p->shards, unpinned);
        if (p->mrcsim != NULL)
            mrcsim_unpin(p->mrcsim, unpinned);
    }
    if (!e->pinned && p->npinned < p->max_pinned && e->count - e->error >= PIN_MIN &&
        e->count - e->error >= p->weight / PIN_SHARE) {
        e->pinned = 1;
        p->npinned++;
    }
    shards_access(p->shards, h, bytes, (int)e->pinned);
    if (p->mrcsim != NULL)
        mrcsim_access(p->mrcsim, h, bytes,
                      e->pinned && e->count - e->error >= p->weight / HOT_SHARE);
}

size_t
be_popularity_drain(be_popularity_t *p, be_msec_t now)
{
    size_t total = 0;
    decay(p, now);
    for (unsigned i = 0; i < p->cfg.nrings; i++) {
        ring_t *r = &p->rings[i];
        uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
        uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
        for (; t != h; t++) {
            const ref_t *ref = &r->slots[t & r->mask];
            be_popularity_access(p, &ref->key, ref->bytes, now);
            total++;
        }
        atomic_store_explicit(&r->tail, t, memory_order_release);
    }
    return total;
}

static int
by_count_desc(const void *a, const void *b)
{
    const be_popularity_item_t *x = a, *y = b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

size_t
be_popularity_top(const be_popularity_t *p, be_popularity_item_t *out, size_t max)
{
    size_t used;
    const topk_entry_t *e = topk_entries(p->topk, &used);
    be_popularity_item_t *all = malloc((used + 1) * sizeof(*all));
    if (all == NULL)
        return 0;
    for (size_t i = 0; i < used; i++) {
        all[i].key = e[i].key;
        all[i].count = e[i].count;
        all[i].error = e[i].error;
    }
    qsort(all, used, sizeof(*all), by_count_desc);
    size_t n = used < max ? used : max;
    memcpy(out, all, n * sizeof(*out));
    free(all);
    return n;
}

void
be_popularity_zipf(const be_popularity_t *p, be_popularity_zipf_t *out)
{
    size_t used;
    topk_entries(p->topk, &used);
    memset(out, 0, sizeof(*out));
    if (used < 8)
        return;
    be_popularity_item_t *items = malloc(used * sizeof(*items));
    if (items != NULL) {
        size_t n = be_popularity_top(p, items, used);
        /* a full table's smallest counter bounds what any unmonitored key may have had */
        zipf_fit_top(items, n, topk_floor(p->topk), out);
    }
    free(items);
}

size_t
be_popularity_mrc(const be_popularity_t *p, double *cache_bytes, double *hit_ratio)
{
    return shards_mrc(p->shards, cache_bytes, hit_ratio);
}

size_t
be_popularity_policy_mrc(const be_popularity_t *p, int *kind, double *cache_bytes,
                         double *hit_ratio)
{
    *kind = p->cfg.policy;
    return p->mrcsim != NULL ? mrcsim_curve(p->mrcsim, cache_bytes, hit_ratio) : 0;
}

void
be_popularity_info(const be_popularity_t *p, be_popularity_info_t *out)
{
    memset(out, 0, sizeof(*out));
    out->references = p->references;
    for (unsigned i = 0; i < p->cfg.nrings; i++)
        out->dropped += atomic_load_explicit(&p->rings[i].dropped, memory_order_relaxed);
    out->sample_rate = shards_rate(p->shards);
    out->sampled_keys = shards_keys(p->shards);
    out->sampled_refs = shards_sampled_refs(p->shards);
    out->memory_bytes = p->memory_bytes;
    out->memory_size = p->cfg.memory_size;
    out->policy = p->cfg.policy;
    if (p->mrcsim != NULL) {
        out->policy_sample_rate = mrcsim_rate(p->mrcsim);
        out->policy_sampled_keys = mrcsim_keys(p->mrcsim);
        out->policy_sampled_refs = mrcsim_sampled_refs(p->mrcsim);
        out->policy_memory_bytes = mrcsim_bytes(p->mrcsim);
        out->policy_memory_bound = mrcsim_bound(mrcsim_max_keys(p->mrcsim));
        out->memory_bytes += out->policy_memory_bytes;
    }
}
