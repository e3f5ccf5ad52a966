/*
 * popularity.h - which blocks are hot, how skewed the load is, and what hit ratio an LRU
 * memory tier of another size would get: a Space-Saving top-K, a discrete maximum
 * likelihood Zipf fit over its top ranks, and a SHARDS miss-ratio curve.
 *
 * Threads: workers only call be_popularity_record() (each on its own ring: one producer,
 * no lock, no shared cache line written). Everything else runs on one consumer thread
 * (the main thread: its timer drains the rings, the admin listener reads the results).
 * Time is a parameter: nothing here reads a clock.
 */
#ifndef BLOCKEDGE_POPULARITY_H
#define BLOCKEDGE_POPULARITY_H

#include <stddef.h>
#include <stdint.h>

#include "blockedge/blockkey.h"
#include "blockedge/config.h"
#include "blockedge/defs.h"

/* Points of the curve kept per octave, and octaves either side of the memory tier's size:
 * the curve spans 1/8x .. 8x memory_size in BE_MRC_POINTS sizes. */
#define BE_MRC_PER_OCTAVE 8
#define BE_MRC_OCTAVES    3
#define BE_MRC_POINTS     (2 * BE_MRC_OCTAVES * BE_MRC_PER_OCTAVE + 1)

/* References a worker may buffer between two drains (every BE_POPULARITY_DRAIN_MS). */
#define BE_POPULARITY_RING     16384
#define BE_POPULARITY_DRAIN_MS 20

typedef struct be_popularity_s be_popularity_t;

typedef struct be_popularity_config_s {
    unsigned top_k;         /* Space-Saving counters, >= 2 */
    double sample_rate;     /* SHARDS starting rate, 0 < R <= 1 */
    unsigned mrc_max_keys;  /* bound on the sampled keys tracked; the rate halves past it */
    be_msec_t half_life;    /* counts and the histogram halve this often; 0 = never */
    uint64_t memory_size;   /* the memory tier's budget: the curve's middle point */
    unsigned nrings;        /* producers (workers); 0 = fed only by be_popularity_access */
    unsigned ring_capacity; /* references buffered per producer, a power of two */
    int policy;             /* enum be_memory_policy: miniature simulations of it unless LRU */
} be_popularity_config_t;

/* One top-K entry: its counted references (decayed) and the most that count may
 * overestimate (the true count lies in [count - error, count]). */
typedef struct be_popularity_item_s {
    be_key_t key;
    double count;
    double error;
} be_popularity_item_t;

typedef struct be_popularity_zipf_s {
    double exponent; /* s of p(r) ~ r^-s; 0 when not enough data */
    double requests; /* (decayed) references counted in the ranks fitted */
    unsigned ranks;  /* ranks fitted */
} be_popularity_zipf_t;

typedef struct be_popularity_info_s {
    uint64_t references;   /* drained and counted */
    uint64_t dropped;      /* lost because a ring was full */
    double sample_rate;    /* SHARDS rate in force (it halves when the key bound is hit) */
    uint64_t sampled_keys; /* keys SHARDS tracks now */
    uint64_t sampled_refs; /* references SHARDS has sampled */
    uint64_t memory_bytes; /* every allocation of this module, rings included */
    uint64_t memory_size;  /* the reference size of the curve */
    int policy;            /* enum be_memory_policy of be_popularity_policy_mrc() */
    /* the miniature simulations (0 under LRU): like the SHARDS fields above, and their bytes
     * (part of memory_bytes; their policies' tables grow up to a bound set at start-up) */
    double policy_sample_rate;
    uint64_t policy_sampled_keys;
    uint64_t policy_sampled_refs;
    uint64_t policy_memory_bytes;
    uint64_t policy_memory_bound; /* the most policy_memory_bytes can reach */
} be_popularity_info_t;

/* The tracker's settings from a loaded config's stats { } block, one ring per worker. */
be_popularity_config_t be_popularity_config_from(const be_config_t *cfg, unsigned nworkers);

/* A new, empty tracker; NULL on bad config or allocation failure. Thread: any. */
be_popularity_t *be_popularity_new(const be_popularity_config_t *cfg);
void be_popularity_free(be_popularity_t **pp);

/* A reload: half_life applies at once; a new top_k, sample rate, mrc_max_keys or memory_size
 * starts the top-K and the miss-ratio curve afresh (the rings stay). BE_OK, or BE_ERROR with
 * nothing changed. Thread: the consumer. */
int be_popularity_reconfigure(be_popularity_t *p, const be_popularity_config_t *cfg);

/* Hot path: producer `ring` (0..nrings-1, one thread each) records a reference of bytes.
 * Never blocks; a full ring drops the reference and counts it. */
void be_popularity_record(be_popularity_t *p, unsigned ring, const be_key_t *key, uint64_t bytes);

/* Consumer: moves every buffered reference into the sketches; returns how many. */
size_t be_popularity_drain(be_popularity_t *p, be_msec_t now);

/* Consumer: counts one reference directly (what drain does for each ring entry). */
void be_popularity_access(be_popularity_t *p, const be_key_t *key, uint64_t bytes, be_msec_t now);

/* Consumer: up to max entries, hottest first; returns how many. */
size_t be_popularity_top(const be_popularity_t *p, be_popularity_item_t *out, size_t max);

/* Consumer: the Zipf exponent fitted on the reliable top ranks. */
void be_popularity_zipf(const be_popularity_t *p, be_popularity_zipf_t *out);

/* Consumer: the predicted LRU hit ratio at BE_MRC_POINTS cache sizes (bytes) from
 * memory_size/8 to memory_size*8; returns the number of points (0 with no sample yet). */
size_t be_popularity_mrc(const be_popularity_t *p, double *cache_bytes, double *hit_ratio);

/* Consumer: the predicted hit ratio of the configured policy (*kind, enum be_memory_policy)
 * from miniature simulations, at BE_MRC_OCTAVES * 2 + 1 sizes (one per octave, the same sizes
 * as every BE_MRC_PER_OCTAVE-th point of be_popularity_mrc()); returns the number of points:
 * 0 under LRU (whose curve is be_popularity_mrc()) or with no sample yet. */
size_t be_popularity_policy_mrc(const be_popularity_t *p, int *kind, double *cache_bytes,
                                double *hit_ratio);

/* Consumer: counters and sizes. */
void be_popularity_info(const be_popularity_t *p, be_popularity_info_t *out);

/*
 * The fit on its own (unit tests, tools): the exponent s maximizing the likelihood of
 * counts[0..n-1] (rank 1 first, non-increasing) under p(r) = r^-s / H(n, s).
 * Returns 0 when n < 2 or there is no count.
 */
double be_zipf_mle(const double *counts, size_t n);

#endif
