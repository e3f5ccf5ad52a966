/*
 * shards.c - the predicted LRU hit ratio at other cache sizes: a SHARDS miss-ratio curve
 * over a spatially hashed sample of the keys, with hot keys pinned into the sample.
 *
 * Owns the tracked keys' table, the Fenwick tree over their last accesses, the renumbering
 * scratch and the histograms, all allocated by shards_new(); knows key hashes, sizes and
 * whether popularity.c pinned a key, not keys, rings, top-K counts or time (the decay is a
 * scale the caller applies). Invariants: at most max_keys keys are tracked, each with its
 * weighted size at its last access in the tree; the sampling threshold only goes down.
 * No locks: one consumer thread.
 */

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

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/oatable.h"
#include "blockedge/popularity.h"
#include "popularity_int.h"

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

struct shards_s {
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
};

double
shards_rate(const shards_t *s)
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
    return pinned ? 1.0 : 1.0 / shards_rate(s);
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

void
shards_scale(shards_t *s, double f)
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
void
shards_unpin(shards_t *s, uint64_t hash)
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

/* A reference of a pinned or sampled key. Out of line, so that shards_access() costs an
 * unsampled reference (most of them) no more than a test and a return. */
__attribute__((noinline)) static void
sh_track(shards_t *s, uint64_t hash, uint64_t bytes, int pinned)
{
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

void
shards_access(shards_t *s, uint64_t hash, uint64_t bytes, int pinned)
{
    s->expected += 1;
    if (!pinned && !sh_sampled(s, hash))
        return;
    sh_track(s, hash, bytes, pinned);
}

shards_t *
shards_new(double rate, size_t max_keys, uint64_t memory_size, uint64_t *bytes)
{
    shards_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    *bytes += sizeof(*s);
    double th = rate * SH_P;
    s->threshold = th < 1 ? 1 : th > SH_P ? SH_P : (uint32_t)th;
    s->max_keys = max_keys;
    uint32_t table_cap = (uint32_t)pow2_at_least(2 * s->max_keys);
    s->tree_n = 2 * s->max_keys;
    s->tree = calloc(s->tree_n + 1, sizeof(*s->tree));
    s->scratch = calloc(s->max_keys + 1, sizeof(*s->scratch));
    s->spare = calloc(s->max_keys + 1, sizeof(*s->spare));
    *bytes += (uint64_t)table_cap * sizeof(sh_entry_t) + (s->tree_n + 1) * sizeof(*s->tree) +
              (s->max_keys + 1) * (sizeof(*s->scratch) + sizeof(*s->spare));
    s->edge0 = (double)memory_size / (double)(1u << BE_MRC_OCTAVES);
    if (shtab_init(&s->table, table_cap) != BE_OK || s->tree == NULL || s->scratch == NULL ||
        s->spare == NULL)
        shards_free(&s);
    return s;
}

void
shards_free(shards_t **sp)
{
    shards_t *s = *sp;
    if (s == NULL)
        return;
    *sp = NULL;
    shtab_dispose(&s->table);
    free(s->tree);
    free(s->scratch);
    free(s->spare);
    free(s);
}

size_t
shards_mrc(const shards_t *s, double *cache_bytes, double *hit_ratio)
{
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

uint64_t
shards_keys(const shards_t *s)
{
    return s->table.used;
}

uint64_t
shards_sampled_refs(const shards_t *s)
{
    return s->sampled_refs;
}
