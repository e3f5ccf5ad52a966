/*
 * stats.c - per-worker counters and histograms: the status code slots, histogram buckets,
 * and the sum of several workers' figures.
 *
 * Pure arithmetic on be_stats_t: no names and no text (metrics.c renders them), no clock
 * (callers pass durations), no locks (one writer per be_stats_t).
 */
#include "blockedge/stats.h"

const double be_hist_bounds[BE_HIST_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                0.025,  0.05,    0.1,    0.25,  0.5,    1,     5};

static const int codes[BE_CODE_OTHER] = {
#define X(code, reason) code,
#include "blockedge/tbl/status_codes.h"
#undef X
};

int
be_stats_code_index(int status)
{
    switch (status) {
#define X(code, reason)                                                                            \
    case code:                                                                                     \
        return BE_CODE_##code;
#include "blockedge/tbl/status_codes.h"
#undef X
    default:
        return BE_CODE_OTHER;
    }
}

int
be_stats_code(int index)
{
    return index >= 0 && index < BE_CODE_OTHER ? codes[index] : 0;
}

void
be_stats_request(be_stats_t *s, int proto, int status)
{
    be_stat_add(&s->requests[proto][be_stats_code_index(status)], 1);
}

void
be_stats_observe(be_hist_t *h, uint64_t usec)
{
    double sec = (double)usec / 1e6;
    int i = 0;
    while (i < BE_HIST_BUCKETS && sec > be_hist_bounds[i])
        i++;
    be_stat_add(&h->bucket[i], 1);
    be_stat_add(&h->sum_usec, usec);
}

static void
add_array(_Atomic uint64_t *dst, const _Atomic uint64_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        be_stat_add(&dst[i], be_stat_get(&src[i]));
}

static void
add_hist(be_hist_t *dst, const be_hist_t *src)
{
    add_array(dst->bucket, src->bucket, BE_HIST_BUCKETS + 1);
    be_stat_add(&dst->sum_usec, be_stat_get(&src->sum_usec));
}

void
be_stats_accumulate(be_stats_t *dst, const be_stats_t *src)
{
    add_array(dst->ctr, src->ctr, BE_CTR_N);
    add_array(dst->hits, src->hits, BE_TIER_N);
    for (int p = 0; p < BE_PROTO_N; p++)
        add_array(dst->requests[p], src->requests[p], BE_CODE_N);
    add_array(dst->origin_errors, src->origin_errors, BE_FETCH_NSTATUS);
    add_array(dst->closed, src->closed, BE_CLOSE_N);
    for (int t = 0; t < BE_TIER_N; t++)
        add_hist(&dst->request_duration[t], &src->request_duration[t]);
    add_hist(&dst->fetch_duration, &src->fetch_duration);
    add_array(dst->auth_denied, src->auth_denied, BE_AUTH_REASON_N);
}
