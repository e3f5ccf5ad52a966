/*
 * metrics.c - the metric table (tbl/metrics.h) read and written: one snapshot per scrape,
 * then one walk over the rows for /metrics (Prometheus text 0.0.4) and one for /stats (JSON).
 *
 * Owns the families' names, types, help, label sets and where each value is read; the
 * modules it reads keep their own figures and know nothing of names or formats. Every source
 * is read once per snapshot, so a figure /stats shows under two keys has one value. Reading
 * takes the tiers' and the in-flight table's own locks and relaxed loads of the workers'
 * counters; nothing here runs on a request's path.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "blockedge/alloc.h"
#include "blockedge/auth.h"
#include "blockedge/diskstore.h"
#include "blockedge/inflight.h"
#include "blockedge/json.h"
#include "blockedge/memcache.h"
#include "blockedge/metrics.h"
#include "blockedge/origin.h"
#include "blockedge/policy.h"
#include "blockedge/popularity.h"
#include "blockedge/services.h"
#include "blockedge/worker.h"

enum { T_COUNTER, T_GAUGE, T_HISTOGRAM };
static const char *const type_names[] = {"counter", "gauge", "histogram"};

/* Label sets: each label's name; how many values it takes is dims()'s business. */
enum {
    L_NONE,
    L_TIER,      /* memory, disk */
    L_TIER_MISS, /* memory, disk, miss */
    L_PROTO_CODE,
    L_FETCH_REASON, /* tbl/fetch_errors.h but "ok" */
    L_CLOSE_REASON, /* tbl/close_reasons.h */
    L_DISK_KIND,
    L_SERVER,             /* origin servers, in config order */
    L_POLICY_CACHE_BYTES, /* lru (SHARDS), then the configured policy (miniature simulations) */
    L_VERSION,
    L_RESULT,       /* ok, error */
    L_PURGE_RESULT, /* adminstats.h */
    L_PREFETCH_JOB,
    L_PREFETCH_KEY,
    L_DENY_REASON,
    L_AUTH_REASON /* tbl/auth_reasons.h but "ok" */
};

static const struct {
    const char *joined, *name[2];
} label_sets[] = {
    [L_NONE] = {"", {NULL, NULL}},
    [L_TIER] = {"tier", {"tier", NULL}},
    [L_TIER_MISS] = {"tier", {"tier", NULL}},
    [L_PROTO_CODE] = {"proto,code", {"proto", "code"}},
    [L_FETCH_REASON] = {"reason", {"reason", NULL}},
    [L_CLOSE_REASON] = {"reason", {"reason", NULL}},
    [L_DISK_KIND] = {"kind", {"kind", NULL}},
    [L_SERVER] = {"server", {"server", NULL}},
    [L_POLICY_CACHE_BYTES] = {"policy,cache_bytes", {"policy", "cache_bytes"}},
    [L_VERSION] = {"version", {"version", NULL}},
    [L_RESULT] = {"result", {"result", NULL}},
    [L_PURGE_RESULT] = {"result", {"result", NULL}},
    [L_PREFETCH_JOB] = {"result", {"result", NULL}},
    [L_PREFETCH_KEY] = {"result", {"result", NULL}},
    [L_DENY_REASON] = {"reason", {"reason", NULL}},
    [L_AUTH_REASON] = {"reason", {"reason", NULL}},
};

/*
 * Sources: where a row's FIELD is read, and when its family is present.
 *   CTR          a per-worker counter slot (enum be_counter), summed over the workers
 *   ARRAY        a member of be_stats_t indexed by the row's label (hits, closed, ...)
 *   ARRAY2       one indexed by both labels; pairs still at 0 are left out (most never occur)
 *   HIST, HISTS  a histogram of be_stats_t; HISTS, an array of them indexed by the label
 *   TIERS        a field of the memory tier's stats (tier="memory") and of the disk tier's
 *                (tier="disk", with a disk tier only)
 *   DISK         a field of the disk tier's stats; absent without a disk tier
 *   DISK_MSEC    the same, kept in milliseconds and shown in seconds
 *   DISK_ARRAY   the same, an array indexed by the label
 *   DISK_ALWAYS  like DISK, but 0 rather than absent without a disk tier (a contract family)
 *   INFLIGHT     fetches in the in-flight table
 *   ORIGIN       per origin server, the workers whose breaker has it marked down
 *   ALLOC        jemalloc's figures (allocated, resident); absent without jemalloc
 *   POP, ZIPF    a field of the popularity tracker's info or Zipf fit; absent when it is off
 *   MRC          the miss-ratio curves, one point per octave: LRU's (SHARDS) and, when
 *                memory_policy is another, that policy's (miniature simulations, once they
 *                have a point); absent until LRU's has a point
 *   BUILD        1, labelled with the version
 *   NODE_ARRAY   a member of the services (the node's own counters), indexed by the label
 *   ADMIN        an array of the admin listener's counters (adminstats.h) indexed by the label;
 *                0 until be_metrics_set_admin() adds them
 * Every source but the first five is absent from a snapshot of stats alone.
 */
enum {
    S_CTR,
    S_ARRAY,
    S_ARRAY2,
    S_HIST,
    S_HISTS,
    S_TIERS,
    S_DISK,
    S_DISK_MSEC,
    S_DISK_ARRAY,
    S_DISK_ALWAYS,
    S_INFLIGHT,
    S_ORIGIN,
    S_ALLOC,
    S_POP,
    S_ZIPF,
    S_MRC,
    S_BUILD,
    S_NODE_ARRAY,
    S_ADMIN
};

typedef struct row_s {
    const char *name, *help, *key;
    int type, labels, source;
} row_t;

static const row_t rows[BE_METRIC_N] = {
#define X(id, name, type, labels, source, field, key, help)                                        \
    {name, help, key, T_##type, L_##labels, S_##source},
#include "blockedge/tbl/metrics.h"
#undef X
};

/* Points of a curve exported by /metrics: one per octave. */
#define MRC_OCTAVE_POINTS (2 * BE_MRC_OCTAVES + 1)

struct be_metrics_s {
    be_services_t *svc; /* NULL: a snapshot of stats alone */
    be_stats_t st;      /* summed over the workers */
    be_memcache_stats_t mc;
    int has_disk;
    be_diskstore_stats_t ds; /* zero without a disk tier */
    unsigned inflight;
    int nservers;
    unsigned down[BE_MAX_ORIGINS];
    int has_alloc;
    struct {
        uint64_t allocated, resident;
    } alloc;
    int has_pop;
    be_popularity_info_t pop;
    be_popularity_zipf_t zipf;
    size_t mrc_n;
    double mrc_bytes[BE_MRC_POINTS], mrc_hit[BE_MRC_POINTS];
    int policy; /* enum be_memory_policy of the second curve */
    size_t pmrc_n;
    double pmrc_bytes[MRC_OCTAVE_POINTS], pmrc_hit[MRC_OCTAVE_POINTS];
    be_admin_stats_t admin;
};

be_metrics_t *
be_metrics_of_stats(const be_stats_t *st)
{
    be_metrics_t *m = calloc(1, sizeof(*m));
    if (m != NULL && st != NULL)
        be_stats_accumulate(&m->st, st);
    return m;
}

be_metrics_t *
be_metrics_read(be_services_t *svc, be_msec_t now)
{
    be_metrics_t *m = be_metrics_of_stats(NULL);
    if (m == NULL)
        return NULL;
    m->svc = svc;
    for (int i = 0; i < svc->nworkers; i++)
        be_stats_accumulate(&m->st, &svc->workers[i]->stats);
    be_memcache_stats(svc->memcache, &m->mc);
    if (svc->disk != NULL) {
        m->has_disk = 1;
        be_diskstore_stats(svc->disk, &m->ds);
    }
    m->inflight = be_inflight_count(svc->inflight);
    m->nservers = svc->cfg->nservers < BE_MAX_ORIGINS ? svc->cfg->nservers : BE_MAX_ORIGINS;
    be_origin_marked_down(svc, m->down, m->nservers);
    m->has_alloc = be_alloc_stats(&m->alloc.allocated, &m->alloc.resident) == BE_OK;
    if (svc->popularity != NULL) {
        m->has_pop = 1;
        be_popularity_drain(svc->popularity, now);
        be_popularity_info(svc->popularity, &m->pop);
        be_popularity_zipf(svc->popularity, &m->zipf);
        m->mrc_n = be_popularity_mrc(svc->popularity, m->mrc_bytes, m->mrc_hit);
        m->pmrc_n =
            be_popularity_policy_mrc(svc->popularity, &m->policy, m->pmrc_bytes, m->pmrc_hit);
    }
    return m;
}

void
be_metrics_set_admin(be_metrics_t *m, const be_admin_stats_t *st)
{
    m->admin = *st;
}

void
be_metrics_free(be_metrics_t **mp)
{
    free(*mp);
    *mp = NULL;
}

/* ---- one walk over a family's samples --------------------------------------------------- */

typedef struct sample_s {
    double v;
    const be_hist_t *h; /* a histogram's, else NULL */
} sample_t;

#define NUM(x)                ((sample_t){(double)(x), NULL})
#define SAMPLE_CTR(f)         NUM(be_stat_get(&m->st.ctr[BE_CTR_##f]))
#define SAMPLE_ARRAY(f)       NUM(be_stat_get(&m->st.f[i]))
#define SAMPLE_ARRAY2(f)      NUM(be_stat_get(&m->st.f[i][j]))
#define SAMPLE_HIST(f)        ((sample_t){0, &m->st.f})
#define SAMPLE_HISTS(f)       ((sample_t){0, &m->st.f[i]})
#define SAMPLE_TIERS(f)       NUM(i == BE_TIER_MEMORY ? m->mc.f : m->ds.f)
#define SAMPLE_DISK(f)        NUM(m->ds.f)
#define SAMPLE_DISK_MSEC(f)   NUM((double)m->ds.f / 1000.0)
#define SAMPLE_DISK_ARRAY(f)  NUM(m->ds.f[i])
#define SAMPLE_DISK_ALWAYS(f) NUM(m->ds.f)
#define SAMPLE_INFLIGHT(f)    NUM(m->inflight)
#define SAMPLE_ORIGIN(f)      NUM(m->down[i])
#define SAMPLE_ALLOC(f)       NUM(m->alloc.f)
#define SAMPLE_POP(f)         NUM(m->pop.f)
#define SAMPLE_ZIPF(f)        NUM(m->zipf.f)
#define SAMPLE_MRC(f)         NUM(i == 0 ? m->mrc_hit[(size_t)j * BE_MRC_PER_OCTAVE] : m->pmrc_hit[j])
#define SAMPLE_BUILD(f)       NUM(1)
#define SAMPLE_NODE_ARRAY(f)  NUM(m->svc->f[i])
#define SAMPLE_ADMIN(f)       NUM(m->admin.f[i])

/* The sample of family id at label indexes i, j. */
static sample_t
sample_of(const be_metrics_t *m, int id, int i, int j)
{
    switch (id) {
#define X(id, name, type, labels, source, field, key, help)                                        \
    case BE_METRIC_##id:                                                                           \
        return SAMPLE_##source(field);
#include "blockedge/tbl/metrics.h"
#undef X
    default:
        return NUM(0);
    }
}

static int
present(const be_metrics_t *m, int source)
{
    switch (source) {
    case S_CTR:
    case S_ARRAY:
    case S_ARRAY2:
    case S_HIST:
    case S_HISTS:
        return 1;
    case S_DISK:
    case S_DISK_MSEC:
    case S_DISK_ARRAY:
        return m->has_disk;
    case S_ALLOC:
        return m->has_alloc;
    case S_POP:
    case S_ZIPF:
        return m->has_pop;
    case S_MRC:
        return m->has_pop && m->mrc_n > 0;
    default:
        return m->svc != NULL;
    }
}

/* How many values each of the set's labels takes. */
static void
dims(const be_metrics_t *m, int set, int *n1, int *n2)
{
    static const int fixed[] = {
        [L_NONE] = 1,
        [L_TIER] = BE_TIER_DISK + 1,
        [L_TIER_MISS] = BE_TIER_N,
        [L_PROTO_CODE] = BE_PROTO_N,
        [L_FETCH_REASON] = BE_FETCH_NSTATUS,
        [L_CLOSE_REASON] = BE_CLOSE_N,
        [L_DISK_KIND] = BE_DISK_ERR_N,
        [L_VERSION] = 1,
        [L_RESULT] = 2,
        [L_PURGE_RESULT] = BE_ADMIN_PURGE_N,
        [L_PREFETCH_JOB] = BE_PREFETCH_JOB_N,
        [L_PREFETCH_KEY] = BE_PREFETCH_KEY_N,
        [L_DENY_REASON] = BE_ADMIN_DENIED_N,
        [L_AUTH_REASON] = BE_AUTH_REASON_N,
    };
    *n2 = set == L_PROTO_CODE ? BE_CODE_N : 1;
    if (set == L_SERVER) {
        *n1 = m->nservers;
    } else if (set == L_POLICY_CACHE_BYTES) {
        *n1 = m->pmrc_n == MRC_OCTAVE_POINTS ? 2 : 1;
        *n2 = (int)((m->mrc_n + BE_MRC_PER_OCTAVE - 1) / BE_MRC_PER_OCTAVE);
    } else {
        *n1 = fixed[set];
    }
}

static const char *const tier_values[BE_TIER_N] = {"memory", "disk", "miss"};
static const char *const proto_values[BE_PROTO_N] = {"http/1.1", "h2"};
static const char *const close_values[BE_CLOSE_N] = {
#define X(id, label) label,
#include "blockedge/tbl/close_reasons.h"
#undef X
};

/* The value of label k (0 or 1) of the set at index idx; buf holds numbers. */
static const char *
label_value(const be_metrics_t *m, int set, int k, int idx, char *buf, size_t cap)
{
    switch (set) {
    case L_TIER:
    case L_TIER_MISS:
        return tier_values[idx];
    case L_PROTO_CODE:
        if (k == 0)
            return proto_values[idx];
        if (idx == BE_CODE_OTHER)
            return "other";
        snprintf(buf, cap, "%d", be_stats_code(idx));
        return buf;
    case L_FETCH_REASON:
        return be_fetch_label((be_fetch_status_t)idx);
    case L_CLOSE_REASON:
        return close_values[idx];
    case L_DISK_KIND:
        return be_disk_error_label(idx);
    case L_SERVER:
        return m->svc->cfg->servers[idx].url;
    case L_POLICY_CACHE_BYTES:
        if (k == 0)
            return be_policy_name(idx == 0 ? BE_POLICY_LRU : m->policy);
        snprintf(buf, cap, "%.0f", m->mrc_bytes[(size_t)idx * BE_MRC_PER_OCTAVE]);
        return buf;
    case L_VERSION:
        return BE_VERSION;
    case L_RESULT:
        return idx == 0 ? "ok" : "error";
    case L_PURGE_RESULT:
        return be_admin_purge_label(idx);
    case L_PREFETCH_JOB:
        return be_admin_prefetch_job_label(idx);
    case L_PREFETCH_KEY:
        return be_admin_prefetch_key_label(idx);
    case L_DENY_REASON:
        return be_admin_denial_label(idx);
    case L_AUTH_REASON:
        return be_auth_label(idx);
    default:
        return "";
    }
}

typedef void (*visit_fn)(void *ctx, const row_t *r, const char *const *values, sample_t s);

/* Calls fn for each sample of family id (which must be present). */
static void
walk(const be_metrics_t *m, int id, visit_fn fn, void *ctx)
{
    const row_t *r = &rows[id];
    char b1[32], b2[32];
    int n1, n2;

    dims(m, r->labels, &n1, &n2);
    for (int i = 0; i < n1; i++) {
        if (r->labels == L_FETCH_REASON && i == BE_FETCH_OK)
            continue;
        if (r->labels == L_AUTH_REASON && i == BE_AUTH_REASON_OK)
            continue;
        if (r->source == S_TIERS && i == BE_TIER_DISK && !m->has_disk)
            continue;
        for (int j = 0; j < n2; j++) {
            sample_t s = sample_of(m, id, i, j);
            if (r->source == S_ARRAY2 && s.v == 0)
                continue;
            const char *values[2] = {label_value(m, r->labels, 0, i, b1, sizeof(b1)),
                                     label_value(m, r->labels, 1, j, b2, sizeof(b2))};
            fn(ctx, r, values, s);
        }
    }
}

static uint64_t
hist_count(const be_hist_t *h)
{
    uint64_t n = 0;
    for (int i = 0; i <= BE_HIST_BUCKETS; i++)
        n += be_stat_get(&h->bucket[i]);
    return n;
}

/* ---- /metrics ------------------------------------------------------------------------------ */

/* name="value",... into buf (escaped as the text format asks), truncated to fit. */
static void
format_labels(char *buf, size_t cap, const row_t *r, const char *const *values)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 0; k < 2 && label_sets[r->labels].name[k] != NULL; k++) {
        n += (size_t)snprintf(buf + n, cap - n, "%s%s=\"", k > 0 ? "," : "",
                              label_sets[r->labels].name[k]);
        for (const char *c = values[k]; *c != '\0' && n + 4 < cap; c++) {
            if (*c == '"' || *c == '\\' || *c == '\n')
                buf[n++] = '\\';
            buf[n++] = *c == '\n' ? 'n' : *c;
        }
        if (n + 2 > cap)
            break;
        buf[n++] = '"';
        buf[n] = '\0';
    }
}

static void
prom_hist(struct evbuffer *out, const char *name, const char *labels, const be_hist_t *h)
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
    if (labels[0] != '\0')
        evbuffer_add_printf(out, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels, sum, name,
                            labels, (unsigned long long)cum);
    else
        evbuffer_add_printf(out, "%s_sum %.6f\n%s_count %llu\n", name, sum, name,
                            (unsigned long long)cum);
}

static void
prom_sample(void *ctx, const row_t *r, const char *const *values, sample_t s)
{
    struct evbuffer *out = ctx;
    char labels[2 * sizeof(((be_origin_server_t *)0)->url) + 64];

    format_labels(labels, sizeof(labels), r, values);
    if (s.h != NULL)
        prom_hist(out, r->name, labels, s.h);
    else if (labels[0] != '\0')
        evbuffer_add_printf(out, "%s{%s} %.17g\n", r->name, labels, s.v);
    else
        evbuffer_add_printf(out, "%s %.17g\n", r->name, s.v);
}

void
be_metrics_prometheus(const be_metrics_t *m, struct evbuffer *out)
{
    for (int id = 0; id < BE_METRIC_N; id++) {
        const row_t *r = &rows[id];
        if (!present(m, r->source))
            continue;
        evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", r->name, r->help, r->name,
                            type_names[r->type]);
        walk(m, id, prom_sample, out);
    }
}

/* ---- /stats -------------------------------------------------------------------------------- */

/* The keys /stats has always had, in their order; a key no row and no code below fills is
 * left out (popularity off, say). Keys not listed follow in table order. */
static const char *const stats_order[] = {
    "requests",
    "hits",
    "misses",
    "hit_ratio",
    "coalesced",
    "origin.requests",
    "origin.inflight",
    "origin.errors",
    "cache",
    "sent_bytes",
    "connections",
    "memory",
    "metrics",
    "popularity.references",
    "popularity.dropped",
    "popularity.top_k",
    "popularity.half_life_seconds",
    "popularity.memory_bytes",
    "popularity.zipf",
    "popularity.top",
    "popularity.mrc",
};

/* The node of a dotted path from the root; "*" stands for star (-1 when star is NULL), and
 * *starred says whether the path has one. */
static int
path_node(be_json_t *j, const char *path, const char *star, int *starred)
{
    int node = 0;
    *starred = 0;
    for (const char *p = path;;) {
        size_t n = strcspn(p, ".");
        if (n == 1 && *p == '*') {
            *starred = 1;
            if (star == NULL)
                return -1;
            node = be_json_key(j, node, star, strlen(star));
        } else {
            node = be_json_key(j, node, p, n);
        }
        if (p[n] == '\0')
            return node;
        p += n + 1;
    }
}

/* Reserves the keys of stats_order, so that they come out in that order when filled. */
static void
reserve_order(be_json_t *j)
{
    for (size_t i = 0; i < BE_ARRAY_LEN(stats_order); i++) {
        int node = 0;
        for (const char *p = stats_order[i];;) {
            size_t n = strcspn(p, ".");
            node = be_json_slot(j, node, p, n);
            if (p[n] == '\0')
                break;
            p += n + 1;
        }
    }
}

typedef struct json_ctx_s {
    be_json_t *j;
    int metrics; /* the "metrics" object */
} json_ctx_t;

static void
json_sample(void *ctx, const row_t *r, const char *const *values, sample_t s)
{
    json_ctx_t *c = ctx;
    int node = be_json_key(c->j, c->metrics, r->name, strlen(r->name));
    for (int k = 0; k < 2 && label_sets[r->labels].name[k] != NULL; k++)
        node = be_json_key(c->j, node, values[k], strlen(values[k]));
    if (s.h != NULL) {
        be_json_set(c->j, be_json_key(c->j, node, "count", 5), (double)hist_count(s.h));
        be_json_set(c->j, be_json_key(c->j, node, "sum", 3),
                    (double)be_stat_get(&s.h->sum_usec) / 1e6);
        return;
    }
    be_json_set(c->j, node, s.v);
    if (r->key[0] != '\0') {
        int starred;
        node = path_node(c->j, r->key, values[0], &starred);
        if (starred)
            be_json_set(c->j, node, s.v);
        else
            be_json_add(c->j, node, s.v); /* a labelled family under one key: its sum */
    }
}

typedef struct top_arg_s {
    be_popularity_t *p;
    size_t top;
} top_arg_t;

static void
json_top(const void *arg, struct evbuffer *out)
{
    const top_arg_t *a = arg;
    char hex[BE_KEY_HEX_LEN + 1];
    be_popularity_item_t *items = a->top > 0 ? malloc(a->top * sizeof(*items)) : NULL;
    size_t n = items != NULL ? be_popularity_top(a->p, items, a->top) : 0;
    evbuffer_add(out, "[", 1);
    for (size_t i = 0; i < n; i++)
        evbuffer_add_printf(out, "%s{\"key\":\"%s\",\"count\":%.1f,\"error\":%.1f}",
                            i > 0 ? "," : "", be_key_to_hex(&items[i].key, hex), items[i].count,
                            items[i].error);
    evbuffer_add(out, "]", 1);
    free(items);
}

static void
curve_points(struct evbuffer *out, const double *bytes, const double *hit, size_t n, size_t step)
{
    evbuffer_add(out, "[", 1);
    for (size_t i = 0; i < n; i += step)
        evbuffer_add_printf(out, "%s{\"cache_bytes\":%.0f,\"hit_ratio\":%.6f}", i > 0 ? "," : "",
                            bytes[i], hit[i]);
    evbuffer_add(out, "]", 1);
}

/* LRU's curve, every point (SHARDS). */
static void
json_curve(const void *arg, struct evbuffer *out)
{
    const be_metrics_t *m = arg;
    curve_points(out, m->mrc_bytes, m->mrc_hit, m->mrc_n, 1);
}

/* {"lru": LRU's curve at one point per octave, "<policy>": the configured policy's}. */
static void
json_policies(const void *arg, struct evbuffer *out)
{
    const be_metrics_t *m = arg;
    evbuffer_add_printf(out, "{\"%s\":", be_policy_name(BE_POLICY_LRU));
    curve_points(out, m->mrc_bytes, m->mrc_hit, m->mrc_n, BE_MRC_PER_OCTAVE);
    if (m->pmrc_n > 0) {
        evbuffer_add_printf(out, ",\"%s\":", be_policy_name(m->policy));
        curve_points(out, m->pmrc_bytes, m->pmrc_hit, m->pmrc_n, 1);
    }
    evbuffer_add(out, "}", 1);
}

#define KEY(j, obj, s) be_json_key((j), (obj), (s), sizeof(s) - 1)

int
be_metrics_json(const be_metrics_t *m, double uptime_seconds, size_t top, struct evbuffer *out)
{
    be_json_t *j = be_json_new();
    if (j == NULL)
        return BE_ERROR;
    be_json_string(j, KEY(j, 0, "version"), BE_VERSION);
    be_json_set(j, KEY(j, 0, "workers"), m->svc != NULL ? m->svc->nworkers : 0);
    be_json_set(j, KEY(j, 0, "uptime_seconds"), round(uptime_seconds * 1e3) / 1e3);
    reserve_order(j);

    json_ctx_t c = {j, KEY(j, 0, "metrics")};
    for (int id = 0; id < BE_METRIC_N; id++) {
        if (!present(m, rows[id].source))
            continue;
        be_json_key(j, c.metrics, rows[id].name, strlen(rows[id].name)); /* {} if no sample */
        int starred;
        if (rows[id].key[0] != '\0') { /* a sum is there even before its first sample */
            int node = path_node(j, rows[id].key, NULL, &starred);
            if (!starred)
                be_json_add(j, node, 0);
        }
        walk(m, id, json_sample, &c);
    }

    uint64_t hits =
        be_stat_get(&m->st.hits[BE_TIER_MEMORY]) + be_stat_get(&m->st.hits[BE_TIER_DISK]);
    uint64_t misses = be_stat_get(&m->st.ctr[BE_CTR_CACHE_MISSES]);
    double ratio = hits + misses > 0 ? (double)hits / (double)(hits + misses) : 0.0;
    be_json_set(j, KEY(j, 0, "hit_ratio"), round(ratio * 1e6) / 1e6);

    top_arg_t top_arg = {m->svc != NULL ? m->svc->popularity : NULL, top};
    if (m->has_pop) {
        const be_config_t *cfg = m->svc->cfg;
        int pop = KEY(j, 0, "popularity");
        be_json_set(j, KEY(j, pop, "top_k"), cfg->popularity_top_k);
        be_json_set(j, KEY(j, pop, "half_life_seconds"), (double)cfg->popularity_half_life / 1e3);
        be_json_raw(j, KEY(j, pop, "top"), json_top, &top_arg);
        int mrc = KEY(j, pop, "mrc");
        be_json_set(j, KEY(j, mrc, "sampled_references"), (double)m->pop.sampled_refs);
        be_json_set(j, KEY(j, mrc, "memory_size"), (double)m->pop.memory_size);
        be_json_raw(j, KEY(j, mrc, "curve"), json_curve, m);
        be_json_string(j, KEY(j, mrc, "policy"), be_policy_name(m->pop.policy));
        be_json_raw(j, KEY(j, mrc, "policies"), json_policies, m);
    }
    int rc = be_json_write(j, out);
    if (rc == BE_OK)
        evbuffer_add(out, "\n", 1);
    be_json_free(&j);
    return rc;
}

const char *
be_metrics_name(int id)
{
    return id >= 0 && id < BE_METRIC_N ? rows[id].name : NULL;
}

const char *
be_metrics_type(int id)
{
    return id >= 0 && id < BE_METRIC_N ? type_names[rows[id].type] : NULL;
}

const char *
be_metrics_labels(int id)
{
    return id >= 0 && id < BE_METRIC_N ? label_sets[rows[id].labels].joined : NULL;
}
