/*
 * test_stats.c - per-worker counters and their Prometheus text: every family announced
 * with HELP and TYPE before its samples, histogram buckets cumulative with +Inf equal to
 * _count, status codes and their "other" row, and the sum of two workers.
 *
 * Samples are read back from the text of a snapshot of the stats alone (be_metrics_of_stats),
 * so the test checks what a scraper sees.
 */
#include <stdarg.h>
#include <string.h>

#include <event2/buffer.h>

#include "blockedge/metrics.h"
#include "blockedge/stats.h"
#include "test.h"

static char text[256 * 1024];

/* Renders s into text[] (NUL-terminated); returns its length. */
static size_t
render(const be_stats_t *s)
{
    struct evbuffer *out = evbuffer_new();
    be_metrics_t *m = be_metrics_of_stats(s);
    be_metrics_prometheus(m, out);
    be_metrics_free(&m);
    size_t n = evbuffer_get_length(out);
    if (n >= sizeof(text))
        n = sizeof(text) - 1;
    evbuffer_remove(out, text, n);
    text[n] = '\0';
    evbuffer_free(out);
    return n;
}

/* The value of the sample line "series value" (series with its labels), or -1. */
static double
sample(const char *fmt, ...)
{
    char series[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(series, sizeof(series), fmt, ap);
    va_end(ap);
    size_t n = strlen(series);
    for (const char *p = text; *p != '\0';) {
        const char *eol = strchr(p, '\n');
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        if (eol == NULL)
            break;
        p = eol + 1;
    }
    return -1;
}

/* How many lines start with prefix. */
static int
count_lines(const char *prefix)
{
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = text; *p != '\0';) {
        if (strncmp(p, prefix, len) == 0)
            n++;
        const char *eol = strchr(p, '\n');
        if (eol == NULL)
            break;
        p = eol + 1;
    }
    return n;
}

static void
test_stats_render_has_help_and_type_before_each_family(void)
{
    static be_stats_t s;
    char family[128], want[160], seen[64][128];
    int nseen = 0, nsamples = 0;

    memset(&s, 0, sizeof(s));
    render(&s);
    BE_CHECK(text[0] == '#');
    BE_CHECK(text[strlen(text) - 1] == '\n');

    /* every sample's family: announced once, HELP then TYPE, before the sample */
    for (const char *p = text; *p != '\0';) {
        const char *eol = strchr(p, '\n');
        BE_CHECK(eol != NULL);
        if (*p != '#') {
            size_t n = strcspn(p, "{ ");
            BE_CHECK(n < sizeof(family));
            memcpy(family, p, n);
            family[n] = '\0';
            BE_CHECK(strncmp(family, "blockedge_", 10) == 0);
            char *suffix = NULL;
            if ((suffix = strstr(family, "_seconds_bucket")) != NULL ||
                (suffix = strstr(family, "_seconds_sum")) != NULL ||
                (suffix = strstr(family, "_seconds_count")) != NULL)
                suffix[strlen("_seconds")] = '\0';
            size_t off = (size_t)(p - text);
            char saved = text[off];
            text[off] = '\0'; /* look only at what precedes this sample */
            snprintf(want, sizeof(want), "# HELP %.120s ", family);
            const char *help = strstr(text, want);
            snprintf(want, sizeof(want), "# TYPE %.120s ", family);
            const char *type = strstr(text, want);
            text[off] = saved;
            if (help == NULL || type == NULL || help > type)
                fprintf(stderr, "family %s: HELP/TYPE missing or out of order\n", family);
            BE_CHECK(help != NULL && type != NULL && help < type);
            int known = 0;
            for (int i = 0; i < nseen; i++)
                known |= strcmp(seen[i], family) == 0;
            if (!known) {
                BE_CHECK(nseen < 64);
                snprintf(seen[nseen++], sizeof(seen[0]), "%s", family);
            }
            nsamples++;
        }
        p = eol + 1;
    }
    BE_CHECK(nsamples > 0);

    /* once each, and no HELP without samples */
    for (int i = 0; i < nseen; i++) {
        snprintf(want, sizeof(want), "# HELP %.120s ", seen[i]);
        BE_CHECK_INT(count_lines(want), 1);
        snprintf(want, sizeof(want), "# TYPE %.120s ", seen[i]);
        BE_CHECK_INT(count_lines(want), 1);
    }
    /* blockedge_http_requests_total has no samples while every count is zero */
    BE_CHECK_INT(count_lines("# HELP "), nseen + 1);
    BE_CHECK_INT(count_lines("# TYPE "), nseen + 1);

    BE_CHECK(strstr(text, "# TYPE blockedge_cache_misses_total counter\n") != NULL);
    BE_CHECK(strstr(text, "# TYPE blockedge_connections_open gauge\n") != NULL);
    BE_CHECK(strstr(text, "# TYPE blockedge_cache_hits_total counter\n") != NULL);
    BE_CHECK(strstr(text, "# TYPE blockedge_http_requests_total counter\n") != NULL);
    BE_CHECK(strstr(text, "# TYPE blockedge_origin_errors_total counter\n") != NULL);
    BE_CHECK(strstr(text, "# TYPE blockedge_request_duration_seconds histogram\n") != NULL);
    BE_CHECK(strstr(text, "# TYPE blockedge_origin_fetch_duration_seconds histogram\n") != NULL);

    /* counters end in _total */
    for (const char *p = strstr(text, "# TYPE "); p != NULL; p = strstr(p + 1, "# TYPE ")) {
        const char *sp = strchr(p + 7, ' ');
        if (strncmp(sp, " counter\n", 9) == 0)
            BE_CHECK(strncmp(sp - 6, "_total", 6) == 0);
    }
    /* zero samples are present for the fixed label sets */
    BE_CHECK(sample("blockedge_cache_hits_total{tier=\"memory\"}") == 0);
    BE_CHECK(sample("blockedge_cache_hits_total{tier=\"disk\"}") == 0);
    BE_CHECK(sample("blockedge_origin_errors_total{reason=\"digest_mismatch\"}") == 0);
    BE_CHECK(sample("blockedge_origin_errors_total{reason=\"ok\"}") == -1);
    BE_CHECK(sample("blockedge_connections_closed_total{reason=\"client_closed\"}") == 0);
}

static void
test_stats_histogram_buckets_are_cumulative_and_inf_equals_count(void)
{
    static be_stats_t s;
    /* 50 us, 100 us (on the first bound: le is inclusive), 300 us, 2 s, 10 s (past all) */
    const uint64_t usec[] = {50, 100, 300, 2000000, 10000000};
    const char *m = "blockedge_request_duration_seconds";

    memset(&s, 0, sizeof(s));
    for (size_t i = 0; i < BE_ARRAY_LEN(usec); i++)
        be_stats_observe(&s.request_duration[BE_TIER_MEMORY], usec[i]);
    be_stats_observe(&s.request_duration[BE_TIER_MISS], 700);
    render(&s);

    BE_CHECK(sample("%s_bucket{tier=\"memory\",le=\"0.0001\"}", m) == 2);
    BE_CHECK(sample("%s_bucket{tier=\"memory\",le=\"0.00025\"}", m) == 2);
    BE_CHECK(sample("%s_bucket{tier=\"memory\",le=\"0.0005\"}", m) == 3);
    BE_CHECK(sample("%s_bucket{tier=\"memory\",le=\"1\"}", m) == 3);
    BE_CHECK(sample("%s_bucket{tier=\"memory\",le=\"5\"}", m) == 4);
    BE_CHECK(sample("%s_bucket{tier=\"memory\",le=\"+Inf\"}", m) == 5);
    BE_CHECK(sample("%s_count{tier=\"memory\"}", m) == 5);
    BE_CHECK(sample("%s_sum{tier=\"memory\"}", m) == 12.00045);

    /* every bucket line, in order: never decreasing, ending at +Inf == _count */
    const char *tiers[] = {"memory", "disk", "miss"};
    const double counts[] = {5, 0, 1};
    for (size_t t = 0; t < BE_ARRAY_LEN(tiers); t++) {
        char prefix[128];
        double prev = 0;
        int buckets = 0;
        snprintf(prefix, sizeof(prefix), "%s_bucket{tier=\"%s\",le=\"", m, tiers[t]);
        for (const char *p = strstr(text, prefix); p != NULL; p = strstr(p + 1, prefix)) {
            double v = strtod(strchr(p, '}') + 2, NULL);
            BE_CHECK(v >= prev);
            prev = v;
            buckets++;
        }
        BE_CHECK_INT(buckets, BE_HIST_BUCKETS + 1);
        BE_CHECK(prev == counts[t]);
        BE_CHECK(sample("%s_bucket{tier=\"%s\",le=\"+Inf\"}", m, tiers[t]) == counts[t]);
        BE_CHECK(sample("%s_count{tier=\"%s\"}", m, tiers[t]) == counts[t]);
    }
    BE_CHECK(sample("%s_bucket{tier=\"miss\",le=\"0.0005\"}", m) == 0);
    BE_CHECK(sample("%s_bucket{tier=\"miss\",le=\"0.001\"}", m) == 1);

    /* the unlabelled histogram */
    BE_CHECK(sample("blockedge_origin_fetch_duration_seconds_bucket{le=\"+Inf\"}") == 0);
    BE_CHECK(sample("blockedge_origin_fetch_duration_seconds_count") == 0);
    BE_CHECK(sample("blockedge_origin_fetch_duration_seconds_sum") == 0);
}

static void
test_stats_requests_counted_by_code_with_other(void)
{
    static be_stats_t s;

    memset(&s, 0, sizeof(s));
    be_stats_request(&s, BE_PROTO_HTTP1, 200);
    be_stats_request(&s, BE_PROTO_HTTP1, 200);
    be_stats_request(&s, BE_PROTO_HTTP1, 416);
    be_stats_request(&s, BE_PROTO_HTTP2, 504);
    be_stats_request(&s, BE_PROTO_HTTP1, 299);
    be_stats_request(&s, BE_PROTO_HTTP1, 100);
    render(&s);
    BE_CHECK(sample("blockedge_http_requests_total{proto=\"http/1.1\",code=\"200\"}") == 2);
    BE_CHECK(sample("blockedge_http_requests_total{proto=\"http/1.1\",code=\"416\"}") == 1);
    BE_CHECK(sample("blockedge_http_requests_total{proto=\"h2\",code=\"504\"}") == 1);
    BE_CHECK(sample("blockedge_http_requests_total{proto=\"http/1.1\",code=\"other\"}") == 2);
    BE_CHECK_INT(count_lines("blockedge_http_requests_total{"), 4); /* zero rows left out */
}

static void
test_stats_code_index_round_trips_every_counted_status(void)
{
    for (int i = 0; i < BE_CODE_OTHER; i++) {
        BE_CHECK(be_stats_code(i) >= 100 && be_stats_code(i) <= 599);
        BE_CHECK_INT(be_stats_code_index(be_stats_code(i)), i);
    }
    BE_CHECK_INT(be_stats_code_index(404), BE_CODE_404);
    BE_CHECK_INT(be_stats_code_index(299), BE_CODE_OTHER);
    BE_CHECK_INT(be_stats_code(BE_CODE_OTHER), 0);
}

static void
test_stats_accumulate_sums_two_workers(void)
{
    static be_stats_t a, b, sum;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&sum, 0, sizeof(sum));
    be_stats_inc(&a, CACHE_MISSES);
    be_stat_add(&a.ctr[BE_CTR_SENT_BYTES], 1000);
    be_stat_add(&b.ctr[BE_CTR_SENT_BYTES], 234);
    be_stat_add(&a.hits[BE_TIER_MEMORY], 5);
    be_stat_add(&b.hits[BE_TIER_MEMORY], 7);
    be_stat_add(&b.hits[BE_TIER_DISK], 2);
    be_stats_request(&a, BE_PROTO_HTTP1, 200);
    be_stats_request(&b, BE_PROTO_HTTP1, 200);
    be_stats_request(&b, BE_PROTO_HTTP1, 200);
    be_stats_request(&b, BE_PROTO_HTTP2, 404);
    be_stat_add(&a.origin_errors[BE_FETCH_TIMEOUT], 1);
    be_stat_add(&b.origin_errors[BE_FETCH_TIMEOUT], 3);
    be_stat_add(&b.closed[BE_CLOSE_IDLE_TIMEOUT], 4);
    be_stats_observe(&a.request_duration[BE_TIER_MEMORY], 50);
    be_stats_observe(&b.request_duration[BE_TIER_MEMORY], 3000);
    be_stats_observe(&b.fetch_duration, 20000);

    be_stats_accumulate(&sum, &a);
    be_stats_accumulate(&sum, &b);
    BE_CHECK_INT(be_stat_get(&sum.ctr[BE_CTR_CACHE_MISSES]), 1);
    BE_CHECK_INT(be_stat_get(&sum.ctr[BE_CTR_SENT_BYTES]), 1234);
    BE_CHECK_INT(be_stat_get(&sum.hits[BE_TIER_MEMORY]), 12);
    BE_CHECK_INT(be_stat_get(&sum.hits[BE_TIER_DISK]), 2);
    BE_CHECK_INT(be_stat_get(&sum.origin_errors[BE_FETCH_TIMEOUT]), 4);
    BE_CHECK_INT(be_stat_get(&sum.closed[BE_CLOSE_IDLE_TIMEOUT]), 4);
    BE_CHECK_INT(be_stat_get(&sum.request_duration[BE_TIER_MEMORY].sum_usec), 3050);
    BE_CHECK_INT(be_stat_get(&sum.fetch_duration.sum_usec), 20000);
    /* the sources are left as they were */
    BE_CHECK_INT(be_stat_get(&a.ctr[BE_CTR_SENT_BYTES]), 1000);
    BE_CHECK_INT(be_stat_get(&b.hits[BE_TIER_MEMORY]), 7);

    render(&sum);
    BE_CHECK(sample("blockedge_sent_bytes_total") == 1234);
    BE_CHECK(sample("blockedge_cache_misses_total") == 1);
    BE_CHECK(sample("blockedge_cache_hits_total{tier=\"memory\"}") == 12);
    BE_CHECK(sample("blockedge_cache_hits_total{tier=\"disk\"}") == 2);
    BE_CHECK(sample("blockedge_http_requests_total{proto=\"http/1.1\",code=\"200\"}") == 3);
    BE_CHECK(sample("blockedge_http_requests_total{proto=\"h2\",code=\"404\"}") == 1);
    BE_CHECK(sample("blockedge_origin_errors_total{reason=\"timeout\"}") == 4);
    BE_CHECK(sample("blockedge_connections_closed_total{reason=\"idle_timeout\"}") == 4);
    BE_CHECK(sample("blockedge_request_duration_seconds_count{tier=\"memory\"}") == 2);
    BE_CHECK(sample("blockedge_request_duration_seconds_bucket{tier=\"memory\",le=\"0.0001\"}") ==
             1);
    BE_CHECK(sample("blockedge_request_duration_seconds_bucket{tier=\"memory\",le=\"0.005\"}") ==
             2);
    BE_CHECK(sample("blockedge_origin_fetch_duration_seconds_count") == 1);
    BE_CHECK(sample("blockedge_origin_fetch_duration_seconds_sum") == 0.02);

    /* accumulating again adds again: dst is a sum, not a copy */
    be_stats_accumulate(&sum, &b);
    BE_CHECK_INT(be_stat_get(&sum.ctr[BE_CTR_SENT_BYTES]), 1468);
}

int
main(void)
{
    BE_RUN(test_stats_render_has_help_and_type_before_each_family);
    BE_RUN(test_stats_histogram_buckets_are_cumulative_and_inf_equals_count);
    BE_RUN(test_stats_requests_counted_by_code_with_other);
    BE_RUN(test_stats_code_index_round_trips_every_counted_status);
    BE_RUN(test_stats_accumulate_sums_two_workers);
    BE_TEST_EXIT();
}
