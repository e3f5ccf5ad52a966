/*
 * popularity.c - block popularity: Space-Saving top-K, a Zipf fit by maximum likelihood,
 * and a SHARDS miss-ratio curve, fed through one lock-free ring per worker.
 *
 * Owns the three sketches and the rings; knows nothing of HTTP, tiers or sockets: it
 * sees digests, sizes and `now`. Invariants: only the producer of a ring writes its head
 * and drop count; only the consumer writes tails and touches the sketches; every
 * allocation is made in be_popularity_new(), so memory never grows after start-up.
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

#include "blockedge/oatable.h"
#include "blockedge/popularity.h"

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

static size_t
pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
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
 * O(log K) per reference, K*(~60) bytes. Counts are doubles so that they can decay.
 *
 * Decay, not windows: every `half_life` of the consumer's clock every count and error is
 * halved. Old references thus weigh 2^-(age/half_life): the ranking follows a workload
 * that changes within a few half-lives, yet one burst does not erase the history, and
 * halving keeps the heap order (a uniform scale), so it costs one pass over K counters.
 * The Zipf fit and SHARDS' histogram decay with the same clock.
 */

typedef struct tk_entry_s {
    be_key_t key;
    uint64_t hash;
    double count;
    double error;
    uint32_t heap_pos;
    uint32_t pinned; /* SHARDS tracks every reference of it (see below) */
} tk_entry_t;

/* What the index is searched with: a key and its hash. */
typedef struct tk_key_s {
    const be_key_t *key;
    uint64_t hash;
} tk_key_t;

typedef struct topk_s topk_t;

/* The index's slots hold an entry's index + 1 (0: empty); the entries hold the keys. */
static int tk_held(const uint32_t *ix1);
static uint64_t tk_hash(topk_t *t, const uint32_t *ix1);
static int tk_match(topk_t *t, const uint32_t *ix1, const tk_key_t *k);
BE_OATABLE_DEFINE(tkindex, uint32_t, tk_key_t, topk_t, tk_held, tk_hash, tk_match)

struct topk_s {
    tk_entry_t *e;  /* K entries, n used */
    uint32_t *heap; /* entry indexes, min-heap on count */
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
    const tk_entry_t *e = &t->e[*ix1 - 1];
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

static void
tk_sift_down(topk_t *t, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->n && tk_less(t, t->heap[l], t->heap[m]))
            m = l;
        if (r < t->n && tk_less(t, t->heap[r], t->heap[m]))
            m = r;
        if (m == i)
            return;
        tk_swap(t, i, m);
        i = m;
    }
}

/* Counts one reference; returns the key's entry. When a pinned entry is taken over,
 * *unpinned receives its hash (else 0). The index has at least 2K slots for K entries, so
 * an insertion always finds room. */
static tk_entry_t *
tk_add(topk_t *t, const be_key_t *key, uint64_t hash, double w, uint64_t *unpinned)
{
    tk_key_t k = {key, hash};
    const uint32_t *ix1 = tkindex_find(&t->index, t, hash, &k);
    *unpinned = 0;
    if (ix1 != NULL) {
        tk_entry_t *e = &t->e[*ix1 - 1];
        e->count += w;
        tk_sift_down(t, e->heap_pos);
        return e;
    }
    if (t->n < t->k) {
        uint32_t nx = (uint32_t)t->n++;
        tk_entry_t *e = &t->e[nx];
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
    tk_entry_t *v = &t->e[vx];
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

static int
by_count_desc(const void *a, const void *b)
{
    const be_popularity_item_t *x = a, *y = b;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

/*
 * ---- the Zipf fit --------------------------------------------------------------------------
 *
 * Block requests are close to Zipf's law: the r-th most requested block gets a share
 * proportional to r^-s. s says how much a cache of a given size can catch (s near 1: a
 * small cache catches most of the load; s near 0.6: it takes a big one).
 *
 * The usual fit, least squares on log(count) against log(rank), is biased and its error
 * is hard to state: the points in the tail outnumber the head, their noise is not
 * Gaussian, and the line's slope is not the exponent's maximum likelihood estimate
 * (Clauset, Shalizi and Newman, "Power-law distributions in empirical data", SIAM Review
 * 51(4), 2009, sections 3 and 4). Instead, treat the fitted ranks 1..n as a discrete
 * distribution truncated at n, p(r) = r^-s / H(n, s) with H(n, s) = sum_{r<=n} r^-s, and
 * maximize the log-likelihood of the counts c_r:
 *     L(s) = -s * sum c_r ln r - C ln H(n, s),   C = sum c_r.
 * L is concave in s (an exponential family in s with statistic -ln r), so
 *     L'(s) = -sum c_r ln r + C * (sum r^-s ln r) / H(n, s)
 * decreases in s and its one root is found by bisection on [0, 8] to 1e-6.
 *
 * Which ranks: only those whose count Space-Saving guarantees. A key whose count minus
 * error exceeds the smallest counter is certainly among the top keys and its count is
 * tight; the fit uses the leading run of such keys (at least 8 of them). Ranks past it
 * carry errors of the order of the counts themselves and would flatten the fit.
 */

double
be_zipf_mle(const double *c, size_t n)
{
    double total = 0, a = 0;
    if (n < 2)
        return 0;
    for (size_t r = 0; r < n; r++) {
        total += c[r];
        a += c[r] * log((double)(r + 1));
    }
    if (total <= 0)
        return 0;
    double lo = 0, hi = 8;
    for (int it = 0; it < 64 && hi - lo > 1e-6; it++) {
        double s = (lo + hi) / 2, h = 0, b = 0;
        for (size_t r = 1; r <= n; r++) {
            double lr = log((double)r), p = exp(-s * lr);
            h += p;
            b += p * lr;
        }
        double d = -a + total * b / h;
        if (d > 0)
            lo = s;
        else
            hi = s;
    }
    return (lo + hi) / 2;
}

/*
 * ---- SHARDS ---------------------------------------------------------------------------------
 *
 * Waldspurger, Park, Garthwaite and Ahmad, "Efficient MRC Construction with SHARDS"
 * (FAST 2015). Mattson's stack algorithm gives the hit ratio of LRU at every size from
 * one pass: a reference hits a cache of C bytes exactly when its reuse distance (the
 * bytes of distinct blocks touched since its previous reference, plus its own) is at most
 * C. Exact reuse distances cost memory per distinct block. SHARDS samples spatially:
 * a key is tracked iff hash(key) mod P < T, so a sampled key keeps every one of its
 * references, and the sampled keys form a random R = T/P fraction of all keys. Reuse
 * distances measured among sampled keys, divided by R, estimate the true ones; the
 * histogram of scaled distances, normalized, is the curve. Its error is small once some
 * thousands of keys are sampled (the paper reports mean absolute error ~0.01 at R=0.001
 * on production traces), whatever the size of the key space.
 *
 * From the paper: bounded memory (section 4.3, "fixed-size SHARDS"): at most mrc_max_keys
 * keys are tracked; when one more is needed, T is halved and keys whose hash is no longer
 * below T are dropped (the paper lowers T to the largest tracked hash; halving evicts
 * more at once but keeps eviction one pass, and the bound is what matters). Block sizes
 * vary, so distances are in bytes (the paper's variable-size extension).
 *
 * Departure from the paper, measured: on Zipf-like block loads a few hundred hot keys
 * carry a large share of all references, and whether each of them falls in the sample
 * moves the whole curve. SHARDS_adj (section 4.2: put expected-minus-actual samples in
 * the first bucket) assumes the discrepancy is in short distances; here it overshot
 * by 0.03 at R = 0.1. Instead the sample is stratified: a key Space-Saving proves hot
 * (at least 1/65536 of the decayed references, by its guaranteed count) is "pinned" and
 * tracked with every reference at weight 1, while the others are hash-sampled at weight
 * 1/R (Horvitz-Thompson: each reference counts 1/inclusion-probability, so weighted
 * reuse distances and counts stay unbiased). The hash-sampled stratum is normalized by
 * its own total (the ratio estimator), standing for all references the pinned keys do
 * not hold. On the unit test's trace (200k keys, Zipf 0.8, 1-16 KiB blocks) the mean
 * absolute error against exact LRU went from 0.005..0.025 to 0.001..0.009 over six seeds
 * at R = 0.1. Pinned keys stop being pinned when they leave the top-K or cool below half
 * the bar; at most mrc_max_keys/4 are pinned, so the halving above always makes room.
 *
 * Data structures: the tracked keys in an open-addressing table (oatable.h: hash -> last
 * access "time" and size); a Fenwick tree over those times holding each key's size at its last
 * access, so the bytes touched since time t are one prefix-sum difference, O(log n).
 * Times are sampled-reference numbers; when they reach the tree's end the live keys are
 * renumbered 1..n in order (amortized O(log n) per reference).
 *
 * Histogram (one per stratum): 8 buckets per octave between memory_size/8 and
 * memory_size*8, one below, one above, and cold misses. Points of the curve are the bucket edges,
 * so no interpolation is involved.
 */

#define SH_P          (1u << 24) /* hash values for sampling: (h >> 40) < T */
#define SH_NBINS      (BE_MRC_POINTS + 1)
#define SH_EMPTY_TIME 0u

typedef struct sh_entry_s {
    uint64_t hash;  /* 0: empty slot */
    uint64_t bytes; /* size at its last access */
    double weight;  /* what it added to the tree at its last access */
    uint32_t time;  /* 1..tree_n */
    uint32_t pinned;
} sh_entry_t;

static int
sh_held(const sh_entry_t *e)
{
    return e->hash != 0;
}

/* The table's hash: bits 7.. of the key's (sampling looks at bits 40..). */
static uint64_t
sh_hash(void *ctx, const sh_entry_t *e)
{
    BE_UNUSED(ctx);
    return e->hash >> 7;
}

static int
sh_match(void *ctx, const sh_entry_t *e, const uint64_t *hash)
{
    BE_UNUSED(ctx);
    return e->hash == *hash;
}

BE_OATABLE_DEFINE(shtab, sh_entry_t, uint64_t, void, sh_held, sh_hash, sh_match)

typedef struct shards_s {
    uint32_t threshold; /* T of P */
    size_t max_keys;
    shtab_t table; /* the tracked keys: table.used of them */
    double *tree;  /* Fenwick tree, 1-based, tree_n entries: weighted bytes */
    size_t tree_n;
    uint32_t clock;
    double edge0;                 /* smallest edge: memory_size / 8 */
    double hist[2][SH_NBINS + 1]; /* [pinned] estimated references per distance bucket */
    double cold[2];               /* [pinned] estimated first references */
    double expected;              /* references seen (all of them, sampled or not) */
    uint64_t sampled_refs;
    uint64_t *scratch; /* renumbering: (time << 32 | slot) */
    sh_entry_t *spare; /* renumbering: the survivors in time order */
} shards_t;

static double
sh_rate(const shards_t *s)
{
    return (double)s->threshold / (double)SH_P;
}

static int
sh_sampled(const shards_t *s, uint64_t hash)
{
    return (hash >> 40) < s->threshold;
}

/* A key's inverse inclusion probability: 1 when pinned, 1/R when only hash-sampled. */
static double
sh_weight(const shards_t *s, int pinned)
{
    return pinned ? 1.0 : 1.0 / sh_rate(s);
}

static void
fw_add(shards_t *s, size_t i, double v)
{
    for (; i <= s->tree_n; i += i & (~i + 1))
        s->tree[i] += v;
}

static double
fw_sum(const shards_t *s, size_t i)
{
    double v = 0;
    for (; i > 0; i -= i & (~i + 1))
        v += s->tree[i];
    return v;
}

static sh_entry_t *
sh_find(shards_t *s, uint64_t hash)
{
    return shtab_find(&s->table, NULL, hash >> 7, &hash);
}

/* A new key's zeroed entry; the table has 2*max_keys slots for at most max_keys keys. */
static sh_entry_t *
sh_insert(shards_t *s, uint64_t hash)
{
    sh_entry_t *e = shtab_insert(&s->table, hash >> 7);
    e->hash = hash;
    return e;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Rebuilds the table and the tree from the keys still pinned or sampled, renumbered
 * 1..n in the order of their last access (a key being inserted has time 0 and comes
 * first), their weights taken at the rate now in force. */
static void
sh_rebuild(shards_t *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->table.cap; i++) {
        const sh_entry_t *e = &s->table.slots[i];
        if (e->hash != 0 && (e->pinned || sh_sampled(s, e->hash)))
            s->scratch[n++] = (uint64_t)e->time << 32 | (uint64_t)i;
    }
    qsort(s->scratch, n, sizeof(*s->scratch), cmp_u64);
    for (size_t j = 0; j < n; j++)
        s->spare[j] = s->table.slots[s->scratch[j] & 0xffffffffu];
    shtab_clear(&s->table);
    memset(s->tree, 0, (s->tree_n + 1) * sizeof(*s->tree));
    for (size_t j = 0; j < n; j++) {
        sh_entry_t *e = sh_insert(s, s->spare[j].hash);
        *e = s->spare[j];
        e->time = (uint32_t)(j + 1);
        e->weight = (double)e->bytes * sh_weight(s, (int)e->pinned);
        fw_add(s, e->time, e->weight);
    }
    s->clock = (uint32_t)n;
}

static void
sh_scale(shards_t *s, double f)
{
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i <= SH_NBINS; i++)
            s->hist[k][i] *= f;
        s->cold[k] *= f;
    }
    s->expected *= f;
}

static size_t
sh_bin(const shards_t *s, double d)
{
    if (d <= s->edge0)
        return 0;
    double x = ceil(BE_MRC_PER_OCTAVE * log2(d / s->edge0) - 1e-9);
    if (x > (double)SH_NBINS)
        return SH_NBINS;
    return (size_t)x;
}

/* A key stops being pinned: it stays tracked if its hash is sampled, else it goes. */
static void
sh_unpin(shards_t *s, uint64_t hash)
{
    sh_entry_t *e = sh_find(s, hash);
    if (e == NULL)
        return;
    fw_add(s, e->time, -e->weight);
    if (sh_sampled(s, hash)) {
        e->pinned = 0;
        e->weight = (double)e->bytes * sh_weight(s, 0);
        fw_add(s, e->time, e->weight);
        return;
    }
    shtab_erase(&s->table, NULL, e);
}

static void
sh_access(shards_t *s, uint64_t hash, uint64_t bytes, int pinned)
{
    s->expected += 1;
    if (!pinned && !sh_sampled(s, hash))
        return;
    s->sampled_refs++;
    double w = sh_weight(s, pinned);
    sh_entry_t *e = sh_find(s, hash);
    if (e != NULL) {
        /* weighted bytes of the keys touched after this one's last access, plus its own */
        double d = fw_sum(s, s->clock) - fw_sum(s, e->time) + (double)bytes;
        s->hist[pinned][sh_bin(s, d)] += w;
        fw_add(s, e->time, -e->weight);
    } else {
        s->cold[pinned] += w;
        if (s->table.used >= s->max_keys) {
            while (s->table.used >= s->max_keys && s->threshold > 1) {
                s->threshold /= 2;
                sh_rebuild(s);
            }
            if (s->table.used >= s->max_keys || (!pinned && !sh_sampled(s, hash)))
                return; /* out of the sample now (or it cannot go lower) */
            w = sh_weight(s, pinned);
        }
        e = sh_insert(s, hash);
    }
    e->pinned = (uint32_t)pinned;
    if (s->clock >= s->tree_n) {
        e->time = SH_EMPTY_TIME; /* renumbered first, with no weight: set again below */
        e->bytes = 0;
        sh_rebuild(s);
        e = sh_find(s, hash);
    }
    e->time = ++s->clock;
    e->bytes = bytes;
    e->weight = (double)bytes * w;
    fw_add(s, e->time, e->weight);
}

/* Pinning: a key with at least 1/PIN_SHARE of the (decayed) references, by a count
 * Space-Saving guarantees, and at least PIN_MIN of them, is tracked by SHARDS with every
 * reference (at most max_keys/4 such keys). */
#define PIN_SHARE 65536.0
#define PIN_MIN   8.0

/* ---- the whole ---------------------------------------------------------------------------- */

struct be_popularity_s {
    be_popularity_config_t cfg;
    ring_t *rings;
    topk_t topk;
    shards_t shards;
    uint64_t references;
    double weight; /* references, decayed like the counts */
    size_t npinned, max_pinned;
    be_msec_t last_decay;
    int decay_started;
    uint64_t memory_bytes;
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

    topk_t *t = &p->topk;
    t->k = cfg->top_k;
    uint32_t index_cap = (uint32_t)pow2_at_least(2 * t->k);
    t->e = counted_calloc(p, t->k, sizeof(*t->e));
    t->heap = counted_calloc(p, t->k, sizeof(*t->heap));
    p->memory_bytes += (uint64_t)index_cap * sizeof(uint32_t);
    ok = ok && tkindex_init(&t->index, index_cap) == BE_OK && t->e != NULL && t->heap != NULL;

    shards_t *s = &p->shards;
    double th = cfg->sample_rate * SH_P;
    s->threshold = th < 1 ? 1 : th > SH_P ? SH_P : (uint32_t)th;
    s->max_keys = cfg->mrc_max_keys;
    uint32_t table_cap = (uint32_t)pow2_at_least(2 * s->max_keys);
    s->tree_n = 2 * s->max_keys;
    p->memory_bytes += (uint64_t)table_cap * sizeof(sh_entry_t);
    ok = ok && shtab_init(&s->table, table_cap) == BE_OK;
    s->tree = counted_calloc(p, s->tree_n + 1, sizeof(*s->tree));
    s->scratch = counted_calloc(p, s->max_keys + 1, sizeof(*s->scratch));
    s->spare = counted_calloc(p, s->max_keys + 1, sizeof(*s->spare));
    s->edge0 = (double)cfg->memory_size / (double)(1u << BE_MRC_OCTAVES);
    p->max_pinned = s->max_keys / 4;
    ok = ok && s->tree != NULL && s->scratch != NULL && s->spare != NULL;

    if (!ok)
        be_popularity_free(&p);
    return p;
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
    free(p->topk.e);
    free(p->topk.heap);
    tkindex_dispose(&p->topk.index);
    shtab_dispose(&p->shards.table);
    free(p->shards.tree);
    free(p->shards.scratch);
    free(p->shards.spare);
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
    double f = halvings > 60 ? 0 : ldexp(1.0, -(int)halvings);
    p->weight *= f;
    for (size_t i = 0; i < p->topk.n; i++) {
        tk_entry_t *e = &p->topk.e[i];
        e->count *= f;
        e->error *= f;
        if (e->pinned && e->count - e->error < p->weight / PIN_SHARE / 2) {
            e->pinned = 0; /* cooled down (with hysteresis) */
            p->npinned--;
            sh_unpin(&p->shards, e->hash);
        }
    }
    sh_scale(&p->shards, f);
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
    tk_entry_t *e = tk_add(&p->topk, key, h, 1.0, &unpinned);
    if (unpinned != 0) {
        p->npinned--;
        sh_unpin(&p->shards, unpinned);
    }
    if (!e->pinned && p->npinned < p->max_pinned && e->count - e->error >= PIN_MIN &&
        e->count - e->error >= p->weight / PIN_SHARE) {
        e->pinned = 1;
        p->npinned++;
    }
    sh_access(&p->shards, h, bytes, (int)e->pinned);
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

size_t
be_popularity_top(const be_popularity_t *p, be_popularity_item_t *out, size_t max)
{
    const topk_t *t = &p->topk;
    be_popularity_item_t *all = malloc((t->n + 1) * sizeof(*all));
    if (all == NULL)
        return 0;
    for (size_t i = 0; i < t->n; i++) {
        all[i].key = t->e[i].key;
        all[i].count = t->e[i].count;
        all[i].error = t->e[i].error;
    }
    qsort(all, t->n, sizeof(*all), by_count_desc);
    size_t n = t->n < max ? t->n : max;
    memcpy(out, all, n * sizeof(*out));
    free(all);
    return n;
}

void
be_popularity_zipf(const be_popularity_t *p, be_popularity_zipf_t *out)
{
    const topk_t *t = &p->topk;
    memset(out, 0, sizeof(*out));
    if (t->n < 8)
        return;
    be_popularity_item_t *items = malloc(t->n * sizeof(*items));
    double *c = malloc(t->n * sizeof(*c));
    if (items != NULL && c != NULL) {
        size_t n = be_popularity_top(p, items, t->n);
        /* a full table's smallest counter bounds what any unmonitored key may have had */
        double floor_count = t->n == t->k ? t->e[t->heap[0]].count : 0;
        size_t ranks = 0;
        double req = 0;
        while (ranks < n && items[ranks].count - items[ranks].error > floor_count) {
            c[ranks] = items[ranks].count;
            req += c[ranks];
            ranks++;
        }
        if (ranks >= 8) {
            out->exponent = be_zipf_mle(c, ranks);
            out->requests = req;
            out->ranks = (unsigned)ranks;
        }
    }
    free(items);
    free(c);
}

size_t
be_popularity_mrc(const be_popularity_t *p, double *cache_bytes, double *hit_ratio)
{
    const shards_t *s = &p->shards;
    double total[2] = {s->cold[0], s->cold[1]};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i <= SH_NBINS; i++)
            total[k] += s->hist[k][i];
    if (s->expected <= 0 || total[0] + total[1] <= 0)
        return 0;
    /* the hash-sampled stratum stands for every reference the pinned one does not hold */
    double rest = s->expected - total[1];
    double scale = total[0] > 0 && rest > 0 ? rest / total[0] : 0;
    double cum = 0;
    for (size_t i = 0; i < BE_MRC_POINTS; i++) {
        cum += s->hist[1][i] + s->hist[0][i] * scale;
        double h = cum / s->expected;
        cache_bytes[i] = s->edge0 * exp2((double)i / BE_MRC_PER_OCTAVE);
        hit_ratio[i] = h < 0 ? 0 : h > 1 ? 1 : h;
    }
    return BE_MRC_POINTS;
}

void
be_popularity_info(const be_popularity_t *p, be_popularity_info_t *out)
{
    memset(out, 0, sizeof(*out));
    out->references = p->references;
    for (unsigned i = 0; i < p->cfg.nrings; i++)
        out->dropped += atomic_load_explicit(&p->rings[i].dropped, memory_order_relaxed);
    out->sample_rate = sh_rate(&p->shards);
    out->sampled_keys = p->shards.table.used;
    out->sampled_refs = p->shards.sampled_refs;
    out->memory_bytes = p->memory_bytes;
    out->memory_size = p->cfg.memory_size;
}
