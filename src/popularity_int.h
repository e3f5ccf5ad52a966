/*
 * popularity_int.h - what popularity.c (the rings, the public API, decay and pinning) calls
 * in its three algorithms; nothing else includes it. Each algorithm owns its state behind
 * an opaque type and knows nothing of the others: topk.c (Space-Saving), zipf.c (the Zipf
 * fit) and shards.c (the SHARDS curve). All of it runs on the one consumer thread: no
 * locks, and no clock (decay is a scale popularity.c applies).
 */
#ifndef BLOCKEDGE_POPULARITY_INT_H
#define BLOCKEDGE_POPULARITY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "blockedge/blockkey.h"
#include "blockedge/popularity.h"

static inline size_t
pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

/* ---- topk.c: Space-Saving ---- */

typedef struct topk_s topk_t;

/* A monitored key. popularity.c may scale count and error alike (decay) and sets pinned. */
typedef struct topk_entry_s {
    be_key_t key;
    uint64_t hash;
    double count;
    double error;
    uint32_t heap_pos;
    uint32_t pinned; /* SHARDS tracks every reference of it (see shards.c) */
} topk_entry_t;

/* K counters, empty; adds the bytes it allocates to *bytes. NULL when out of memory. */
topk_t *topk_new(size_t k, uint64_t *bytes);
void topk_free(topk_t **tp);

/* Counts one reference of weight w; returns the key's entry. When a pinned entry is taken
 * over, *unpinned receives its hash (else 0). */
topk_entry_t *topk_add(topk_t *t, const be_key_t *key, uint64_t hash, double w, uint64_t *unpinned);

/* The entries in use (*n of them), in no order. */
topk_entry_t *topk_entries(topk_t *t, size_t *n);

/* Once all K counters are in use, the smallest count (what any unmonitored key may have
 * had); 0 before. */
double topk_floor(const topk_t *t);

/* ---- zipf.c: the Zipf fit (be_zipf_mle is public) ---- */

/* Fits the exponent on the leading ranks of items (hottest first) whose count minus error
 * exceeds floor_count; fills *out when there are at least 8, else leaves it alone. */
void zipf_fit_top(const be_popularity_item_t *items, size_t n, double floor_count,
                  be_popularity_zipf_t *out);

/* ---- shards.c: the SHARDS miss-ratio curve ---- */

typedef struct shards_s shards_t;

/* A curve sampled at rate (0 < rate <= 1), tracking at most max_keys keys, with its points
 * from memory_size/8 to memory_size*8; adds the bytes it allocates to *bytes. NULL when out
 * of memory. */
shards_t *shards_new(double rate, size_t max_keys, uint64_t memory_size, uint64_t *bytes);
void shards_free(shards_t **sp);

/* One reference of bytes to the key whose hash is hash (non-zero); pinned keys are tracked
 * with every reference, the others only when their hash is sampled. */
void shards_access(shards_t *s, uint64_t hash, uint64_t bytes, int pinned);

/* A key stops being pinned: it stays tracked if its hash is sampled, else it goes. */
void shards_unpin(shards_t *s, uint64_t hash);

/* Multiplies the histograms and the reference count by f (decay). */
void shards_scale(shards_t *s, double f);

/* The curve: see be_popularity_mrc(). */
size_t shards_mrc(const shards_t *s, double *cache_bytes, double *hit_ratio);

double shards_rate(const shards_t *s);           /* the sampling rate in force */
uint64_t shards_keys(const shards_t *s);         /* keys tracked now */
uint64_t shards_sampled_refs(const shards_t *s); /* references sampled so far */

/* ---- mrcsim.c: miniature simulations of the configured policy ---- */

/* One miniature cache per octave from memory_size/8 to memory_size*8. */
#define MRCSIM_POINTS (2 * BE_MRC_OCTAVES + 1)

typedef struct mrcsim_s mrcsim_t;

/* Miniature caches of policy kind (enum be_memory_policy) over keys sampled at rate
 * (0 < rate <= 1), at most max_keys of them tracked. NULL when out of memory. */
mrcsim_t *mrcsim_new(int kind, double rate, size_t max_keys, uint64_t memory_size);
void mrcsim_free(mrcsim_t **mp);

/* One reference of bytes to the key whose hash is hash (non-zero); hot keys are tracked with
 * every reference, the others only when their hash is sampled. */
void mrcsim_access(mrcsim_t *m, uint64_t hash, uint64_t bytes, int hot);

/* A key stops being pinned: if it is tracked as hot, it leaves. */
void mrcsim_unpin(mrcsim_t *m, uint64_t hash);

/* Multiplies the hit and reference counts by f (decay). */
void mrcsim_scale(mrcsim_t *m, double f);

/* The predicted hit ratio at MRCSIM_POINTS sizes (one per octave); 0 before any sample. */
size_t mrcsim_curve(const mrcsim_t *m, double *cache_bytes, double *hit_ratio);

/* The most bytes mrcsim_new(.., max_keys, ..) and its caches' tables can come to. */
uint64_t mrcsim_bound(size_t max_keys);

double mrcsim_rate(const mrcsim_t *m);           /* the sampling rate in force */
uint64_t mrcsim_bytes(const mrcsim_t *m);        /* bytes allocated now */
uint64_t mrcsim_keys(const mrcsim_t *m);         /* keys tracked now */
uint64_t mrcsim_sampled_refs(const mrcsim_t *m); /* references tracked so far */
size_t mrcsim_max_keys(const mrcsim_t *m);       /* the key bound */
int mrcsim_kind(const mrcsim_t *m);              /* the policy simulated */

#endif
