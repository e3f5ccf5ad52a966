/*
 * simout.h - tools/cachesim's results of a single-cache replay, printed as a table, CSV or JSON.
 *
 * A column is a policy (policy.h's kinds 0..BE_POLICY_N-1) or an offline reference (refsim.h:
 * BE_POLICY_N + REF_STATIC, BE_POLICY_N + REF_OPT). The references are printed apart from the
 * policies and named as references everywhere: in the table after a bar with a note under it,
 * in CSV and JSON with kind "reference" (the policies' kind is "policy").
 *
 * With generated scans (--scan) the table gains a second block, and CSV and JSON their nonscan
 * columns: the hit ratio over the requests that are not a scan's. A scan key is asked for once,
 * so it is a miss under every policy and under opt whatever the cache does: those requests only
 * dilute the overall figure. Under static a pinned scan key would count as a hit; its hits are
 * taken out (row_t.scan_hits). Without scans the nonscan columns equal the overall ones.
 */
#ifndef BLOCKEDGE_TOOLS_SIMOUT_H
#define BLOCKEDGE_TOOLS_SIMOUT_H

#include <inttypes.h>
#include <stdio.h>

#include "blockedge/policy.h"
#include "blockedge/policysim.h"
#include "refsim.h"

#define SIM_COLUMNS (BE_POLICY_N + REF_N)

typedef struct row_s {
    int col; /* a policy kind, or BE_POLICY_N + a reference */
    uint64_t cache;
    be_sim_result_t r;
    uint64_t scan_hits, scan_hit_bytes; /* of r's, the hits on scan keys */
} row_t;

typedef struct sim_out_s {
    const char *load;
    const be_trace_t *t;
    uint64_t corpus;
    uint64_t scan_requests, scan_bytes; /* 0 without --scan */
    int one_size;                       /* every request the same size (opt is exact) */
} sim_out_t;

static double
ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

static inline int
col_is_ref(int col)
{
    return col >= BE_POLICY_N;
}

static inline const char *
col_name(int col)
{
    return col_is_ref(col) ? ref_names[col - BE_POLICY_N] : be_policy_name(col);
}

/* Column index for a --policy name: a policy or a reference; -1 if neither. */
static inline int
col_parse(const char *name)
{
    int k = be_policy_parse(name);
    if (k >= 0)
        return k;
    k = ref_parse(name);
    return k >= 0 ? BE_POLICY_N + k : -1;
}

static inline double
nonscan_ratio(const sim_out_t *o, const row_t *w)
{
    return ratio(w->r.hits - w->scan_hits, w->r.requests - o->scan_requests);
}

static inline double
nonscan_byte_ratio(const sim_out_t *o, const row_t *w)
{
    return ratio(w->r.hit_bytes - w->scan_hit_bytes, w->r.bytes - o->scan_bytes);
}

static inline double
rate(const be_sim_result_t *r)
{
    return r->seconds > 0 ? (double)r->requests / r->seconds : 0.0;
}

static void
print_csv(const sim_out_t *o, const row_t *rows, int nrows)
{
    printf("load,cache_bytes,policy,requests,hits,hit_ratio,byte_hit_ratio,requests_per_s,kind,"
           "nonscan_requests,nonscan_hit_ratio,nonscan_byte_hit_ratio\n");
    for (int i = 0; i < nrows; i++) {
        const row_t *w = &rows[i];
        printf("\"%s\",%" PRIu64 ",%s,%" PRIu64 ",%" PRIu64 ",%.4f,%.4f,%.0f,%s,%" PRIu64
               ",%.4f,%.4f\n",
               o->load, w->cache, col_name(w->col), w->r.requests, w->r.hits,
               ratio(w->r.hits, w->r.requests), ratio(w->r.hit_bytes, w->r.bytes), rate(&w->r),
               col_is_ref(w->col) ? "reference" : "policy", w->r.requests - o->scan_requests,
               nonscan_ratio(o, w), nonscan_byte_ratio(o, w));
    }
}

static void
print_json(const sim_out_t *o, const row_t *rows, int nrows)
{
    printf("{\"load\":\"%s\",\"requests\":%" PRIu64 ",\"keys\":%" PRIu64 ",\"key_bytes\":%" PRIu64
           ",\"scan_requests\":%" PRIu64 ",\"results\":[",
           o->load, o->t->n, o->t->nkeys, o->t->bytes, o->scan_requests);
    for (int i = 0; i < nrows; i++) {
        const row_t *w = &rows[i];
        printf(
            "%s\n {\"cache_bytes\":%" PRIu64 ",\"policy\":\"%s\",\"kind\":\"%s\",\"hits\":%" PRIu64
            ",\"hit_ratio\":%.4f,\"byte_hit_ratio\":%.4f,\"nonscan_hit_ratio\":%.4f,"
            "\"nonscan_byte_hit_ratio\":%.4f,\"requests_per_s\":%.0f}",
            i ? "," : "", w->cache, col_name(w->col), col_is_ref(w->col) ? "reference" : "policy",
            w->r.hits, ratio(w->r.hits, w->r.requests), ratio(w->r.hit_bytes, w->r.bytes),
            nonscan_ratio(o, w), nonscan_byte_ratio(o, w), rate(&w->r));
    }
    printf("\n]}\n");
}

/* One block of the table: a line per cache size, hit % / byte hit % per column. */
static void
print_block(const sim_out_t *o, const row_t *rows, int nrows, int nonscan)
{
    for (int i = 0; i < nrows; i++) {
        const row_t *w = &rows[i];
        if (i == 0 || w->cache != rows[i - 1].cache)
            printf("%-14" PRIu64, w->cache);
        if (col_is_ref(w->col) && (i == 0 || !col_is_ref(rows[i - 1].col)))
            printf(" |");
        double h = nonscan ? nonscan_ratio(o, w) : ratio(w->r.hits, w->r.requests);
        double b = nonscan ? nonscan_byte_ratio(o, w) : ratio(w->r.hit_bytes, w->r.bytes);
        printf("     %5.1f/%5.1f", 100 * h, 100 * b);
        if (i + 1 == nrows || rows[i + 1].cache != w->cache)
            printf("\n");
    }
}

static void
print_table(const sim_out_t *o, const row_t *rows, int nrows, const int *run)
{
    int refs = 0;
    printf("load: %s; %" PRIu64 " requests, %" PRIu64 " keys, corpus %" PRIu64 " bytes\n", o->load,
           o->t->n, o->t->nkeys, o->corpus);
    printf("hit ratio %% / byte hit ratio %%\n%-14s", "cache bytes");
    for (int k = 0; k < SIM_COLUMNS; k++) {
        if (!run[k])
            continue;
        if (col_is_ref(k) && refs++ == 0)
            printf(" |");
        printf(" %15s", col_name(k));
    }
    printf("\n");
    print_block(o, rows, nrows, 0);
    if (o->scan_requests > 0) {
        printf("the same on the %" PRIu64 " requests that are not a scan's (the scans' %" PRIu64
               " are for keys asked once: misses under any policy)\n",
               o->t->n - o->scan_requests, o->scan_requests);
        print_block(o, rows, nrows, 1);
    }
    printf("%-14s", "M requests/s");
    refs = 0;
    for (int k = 0; k < SIM_COLUMNS; k++) {
        if (!run[k])
            continue;
        if (col_is_ref(k) && refs++ == 0)
            printf(" |");
        double n = 0, s = 0;
        for (int i = 0; i < nrows; i++)
            if (rows[i].col == k)
                n += (double)rows[i].r.requests, s += rows[i].r.seconds;
        printf(" %15.1f", s > 0 ? n / s / 1e6 : 0.0);
    }
    printf("\n");
    if (refs == 0)
        return;
    printf("after |: offline references, not policies (each reads the whole trace first)\n");
    if (run[BE_POLICY_N + REF_STATIC])
        printf("  static: the keys with the most requests per byte pinned from the start, up to "
               "the cache size (no cold misses)\n");
    if (run[BE_POLICY_N + REF_OPT])
        printf("  opt: evicts the object asked for again farthest in the future (Belady), %s\n",
               o->one_size ? "the optimum for one object size"
                           : "a heuristic for mixed sizes, not the optimum");
}

#endif
