/*
 * stats.c - per-worker counters and histograms, and their Prometheus text.
 *
 * Owns the metric names of the counter tables and the labelled families; knows nothing of
 * where the numbers come from. Gauges owned by other modules (cache sizes, in-flight
 * fetches) are rendered by admin.c with be_stats_render_family/sample.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "blockedge/stats.h"

const double be_hist_bounds[BE_HIST_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                0.025,  0.05,    0.1,    0.25,  0.5,    1,     5};

static const int codes[BE_CODE_OTHER] = {
#define X(code, reason) code,
#include "blockedge/tbl/status_codes.h"
#undef X
};

static const struct {
    const char *name, *type, *help;
} counters[BE_CTR_N] = {
#define X(id, name, type, help) {name, type, help},
#include "blockedge/tbl/counters.h"
#undef X
};

const char *
be_stats_counter_name(int id)
{
    return id >= 0 && id < BE_CTR_N ? counters[id].name : "unknown";
}

static const char *const close_labels[BE_CLOSE_N] = {
#define X(id, label) label,
#include "blockedge/tbl/close_reasons.h"
#undef X
};

static const char *const tier_labels[BE_TIER_N] = {"memory", "disk", "miss"};
static const char *const proto_labels[BE_PROTO_N] = {"http/1.1", "h2"};

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
}

void
be_stats_render_family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
be_stats_render_sample(struct evbuffer *out, const char *name, const char *labels, double value)
{
    if (labels != NULL && labels[0] != '\0')
        evbuffer_add_printf(out, "%s{%s} %.17g\n", name, labels, value);
    else
        evbuffer_add_printf(out, "%s %.17g\n", name, value);
}

static void
render_hist(struct evbuffer *out, const char *name, const char *labels, const be_hist_t *h)
{
    const char *sep = labels[0] != '\0' ? "," : "";
    uint64_t cum = 0;
    for (int i = 0; i <= BE_HIST_BUCKETS; i++) {
        cum += be_stat_get(&h->bucket[i]);
        if (i < BE_HIST_BUCKETS)
            evbuffer_add_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                                be_hist_bounds[i], (unsigned long long)cum);
        else
            evbuffer_add_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                                (unsigned long long)cum);
    }
    double sum = (double)be_stat_get(&h->sum_usec) / 1e6;
    if (labels[0] != '\0') {
        evbuffer_add_printf(out, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels, sum, name,
                            labels, (unsigned long long)cum);
    } else {
        evbuffer_add_printf(out, "%s_sum %.6f\n%s_count %llu\n", name, sum, name,
                            (unsigned long long)cum);
    }
}

void
be_stats_render(const be_stats_t *s, struct evbuffer *out)
{
    char labels[128];

    for (int i = 0; i < BE_CTR_N; i++) {
        be_stats_render_family(out, counters[i].name, counters[i].type, counters[i].help);
        be_stats_render_sample(out, counters[i].name, NULL, (double)be_stat_get(&s->ctr[i]));
    }

    be_stats_render_family(out, "blockedge_cache_hits_total", "counter",
                           "Block requests answered from a cache tier.");
    for (int t = BE_TIER_MEMORY; t <= BE_TIER_DISK; t++) {
        snprintf(labels, sizeof(labels), "tier=\"%s\"", tier_labels[t]);
        be_stats_render_sample(out, "blockedge_cache_hits_total", labels,
                               (double)be_stat_get(&s->hits[t]));
    }

    be_stats_render_family(out, "blockedge_http_requests_total", "counter",
                           "Client requests answered, by protocol and status code.");
    for (int p = 0; p < BE_PROTO_N; p++) {
        for (int c = 0; c < BE_CODE_N; c++) {
            uint64_t v = be_stat_get(&s->requests[p][c]);
            if (v == 0)
                continue;
            if (c != BE_CODE_OTHER)
                snprintf(labels, sizeof(labels), "proto=\"%s\",code=\"%d\"", proto_labels[p],
                         codes[c]);
            else
                snprintf(labels, sizeof(labels), "proto=\"%s\",code=\"other\"", proto_labels[p]);
            be_stats_render_sample(out, "blockedge_http_requests_total", labels, (double)v);
        }
    }

    be_stats_render_family(out, "blockedge_origin_errors_total", "counter",
                           "Origin fetches that did not produce a verified block, by reason.");
    for (int r = 0; r < BE_FETCH_NSTATUS; r++) {
        if (r == BE_FETCH_OK)
            continue;
        snprintf(labels, sizeof(labels), "reason=\"%s\"", be_fetch_label((be_fetch_status_t)r));
        be_stats_render_sample(out, "blockedge_origin_errors_total", labels,
                               (double)be_stat_get(&s->origin_errors[r]));
    }

    be_stats_render_family(out, "blockedge_connections_closed_total", "counter",
                           "Client connections closed, by reason.");
    for (int r = 0; r < BE_CLOSE_N; r++) {
        snprintf(labels, sizeof(labels), "reason=\"%s\"", close_labels[r]);
        be_stats_render_sample(out, "blockedge_connections_closed_total", labels,
                               (double)be_stat_get(&s->closed[r]));
    }

    be_stats_render_family(out, "blockedge_request_duration_seconds", "histogram",
                           "Time from a parsed request to its response queued, by tier.");
    for (int t = 0; t < BE_TIER_N; t++) {
        snprintf(labels, sizeof(labels), "tier=\"%s\"", tier_labels[t]);
        render_hist(out, "blockedge_request_duration_seconds", labels, &s->request_duration[t]);
    }

    be_stats_render_family(out, "blockedge_origin_fetch_duration_seconds", "histogram",
                           "Time from an origin fetch started to its block verified or failed.");
    render_hist(out, "blockedge_origin_fetch_duration_seconds", "", &s->fetch_duration);
}
