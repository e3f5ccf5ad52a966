/*
 * stats.h - per-worker counters and histograms, summed only when scraped (metrics.h names
 * and renders them).
 *
 * Each worker owns one be_stats_t and is its only writer, so the hot path does a relaxed
 * load and store (no locked instruction, no shared cache line). Readers (the admin thread)
 * take relaxed loads; a scrape is a consistent-enough snapshot, and counters never go down.
 */
#ifndef BLOCKEDGE_STATS_H
#define BLOCKEDGE_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "blockedge/auth.h"
#include "blockedge/defs.h"
#include "blockedge/fetch.h"

/* The per-worker counters without labels. Each is shown by one row of tbl/metrics.h
 * (source CTR), which holds its name and help. */
enum be_counter {
    BE_CTR_CACHE_MISSES,
    BE_CTR_NEGATIVE_HITS, /* misses answered 404 from the negative cache */
    BE_CTR_ORIGIN_REQUESTS,
    BE_CTR_ORIGIN_CONNECTIONS,
    BE_CTR_ORIGIN_RETRIES,
    BE_CTR_ORIGIN_MARKED_DOWN,
    BE_CTR_ORIGIN_UNAVAILABLE,
    BE_CTR_COALESCED,
    BE_CTR_SENT_BYTES,
    BE_CTR_CONNECTIONS_ACCEPTED,
    BE_CTR_CONNECTIONS_OPEN,
    BE_CTR_ORIGIN_QUEUED,            /* gauge: fetches waiting for an origin_max_inflight slot */
    BE_CTR_ORIGIN_QUEUE_WAITS,       /* fetches that had to wait for a slot */
    BE_CTR_ORIGIN_QUEUE_REJECTED,    /* waited origin_queue_timeout in vain: 503 */
    BE_CTR_ORIGIN_ORPHANS_CANCELLED, /* fetches every client had left, cancelled for a slot */
    BE_CTR_MISS_RATE_LIMITED,        /* requests refused 429 under miss_rate */
    BE_CTR_DISK_ADMISSION_SKIPPED,   /* fills not written to disk by disk_admission */
    BE_CTR_N
};

enum be_close_reason {
#define X(id, label) BE_CLOSE_##id,
#include "blockedge/tbl/close_reasons.h"
#undef X
    BE_CLOSE_N
};

enum be_tier { BE_TIER_MEMORY, BE_TIER_DISK, BE_TIER_MISS, BE_TIER_N };

enum be_proto { BE_PROTO_HTTP1, BE_PROTO_HTTP2, BE_PROTO_N };

/* Status codes counted one by one (tbl/status_codes.h); anything else counts as "other". */
enum be_code {
#define X(code, reason) BE_CODE_##code,
#include "blockedge/tbl/status_codes.h"
#undef X
    BE_CODE_OTHER,
    BE_CODE_N
};

#define BE_HIST_BUCKETS 14
extern const double be_hist_bounds[BE_HIST_BUCKETS]; /* seconds, upper bounds */

typedef struct be_hist_s {
    _Atomic uint64_t bucket[BE_HIST_BUCKETS + 1]; /* last is +Inf */
    _Atomic uint64_t sum_usec;
} be_hist_t;

typedef struct be_stats_s {
    _Atomic uint64_t ctr[BE_CTR_N];
    _Atomic uint64_t hits[BE_TIER_N]; /* memory, disk (miss unused) */
    _Atomic uint64_t requests[BE_PROTO_N][BE_CODE_N];
    _Atomic uint64_t origin_errors[BE_FETCH_NSTATUS];
    _Atomic uint64_t closed[BE_CLOSE_N];
    be_hist_t request_duration[BE_TIER_N];
    be_hist_t fetch_duration;
    _Atomic uint64_t auth_denied[BE_AUTH_REASON_N]; /* signed URLs: 403s by reason (OK unused) */
} be_stats_t;

/* Single-writer add: only the owning worker calls these. */
static inline void
be_stat_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void
be_stat_sub(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - n,
                          memory_order_relaxed);
}

static inline uint64_t
be_stat_get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

#define be_stats_inc(s, id) be_stat_add(&(s)->ctr[BE_CTR_##id], 1)

/* The index of an HTTP status in requests[proto][] (BE_CODE_OTHER when it is not counted
 * on its own), and the status of an index (0 for BE_CODE_OTHER). */
int be_stats_code_index(int status);
int be_stats_code(int index);

/* Counts one finished request: proto, HTTP status. */
void be_stats_request(be_stats_t *s, int proto, int status);

/* Records a duration in microseconds into a histogram. */
void be_stats_observe(be_hist_t *h, uint64_t usec);

/* Adds every field of src into dst (dst is a private, unshared snapshot). */
void be_stats_accumulate(be_stats_t *dst, const be_stats_t *src);

#endif
