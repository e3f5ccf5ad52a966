/*
 * test_metrics.c - the metric table as scrapers see it, on nodes built like the real one.
 *
 * With every source on (disk tier, popularity, jemalloc when linked), every row of
 * tbl/metrics.h is in /metrics with its type and label names and in /stats under "metrics";
 * the Prometheus text parses line by line (names, labels, escapes, values, HELP and TYPE
 * before samples, no duplicate series) and the JSON parses; both outputs, written from one
 * snapshot, agree on every unlabelled family. The keys /stats has always had keep their
 * place, and a source that is off leaves its families out of both outputs.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "blockedge/alloc.h"
#include "blockedge/metrics.h"
#include "blockedge/popularity.h"
#include "fixture.h"
#include "test.h"

static char prom[256 * 1024];
static char json[256 * 1024];

static size_t
drain_into(struct evbuffer *b, char *dst, size_t cap)
{
    size_t n = evbuffer_get_length(b);
    if (n >= cap)
        n = cap - 1;
    evbuffer_remove(b, dst, n);
    dst[n] = '\0';
    return n;
}

/* Both outputs of one snapshot of svc into prom[] and json[]. */
static void
scrape(be_services_t *svc)
{
    struct evbuffer *b = evbuffer_new();
    be_metrics_t *m = be_metrics_read(svc, 1000);
    be_metrics_prometheus(m, b);
    drain_into(b, prom, sizeof(prom));
    if (be_metrics_json(m, 1.5, 5, b) != BE_OK)
        evbuffer_add_printf(b, "(out of memory)");
    drain_into(b, json, sizeof(json));
    be_metrics_free(&m);
    evbuffer_free(b);
}

/* ---- a strict reader of the Prometheus text format 0.0.4 --------------------------------- */

typedef struct family_s {
    char name[128], type[16], labels[64]; /* label names joined by ",", "le" left out */
    int help, samples;
    double first; /* the first sample's value */
} family_t;

static family_t fams[128];
static int nfams;
static char series[1024][192];
static int nseries;
static char prom_error[256];

static family_t *
family(const char *name, size_t len)
{
    for (int i = 0; i < nfams; i++)
        if (strlen(fams[i].name) == len && strncmp(fams[i].name, name, len) == 0)
            return &fams[i];
    return NULL;
}

static int
prom_fail(const char *line, const char *why)
{
    snprintf(prom_error, sizeof(prom_error), "%s: %.*s", why, (int)strcspn(line, "\n"), line);
    return 0;
}

static size_t
name_len(const char *p, int colon)
{
    size_t n = 0;
    while (isalpha((unsigned char)p[n]) || p[n] == '_' || (colon && p[n] == ':') ||
           (n > 0 && isdigit((unsigned char)p[n])))
        n++;
    return n;
}

/* The family a sample name belongs to: itself, or a histogram's _bucket, _sum or _count. */
static family_t *
family_of_sample(const char *p, size_t n)
{
    family_t *f = family(p, n);
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; f == NULL && i < BE_ARRAY_LEN(suffixes); i++) {
        size_t s = strlen(suffixes[i]);
        if (n > s && strncmp(p + n - s, suffixes[i], s) == 0) {
            f = family(p, n - s);
            if (f != NULL && strcmp(f->type, "histogram") != 0)
                f = NULL;
        }
    }
    return f;
}

static int
prom_sample_line(const char *line)
{
    size_t n = name_len(line, 1);
    if (n == 0)
        return prom_fail(line, "bad metric name");
    family_t *f = family_of_sample(line, n);
    if (f == NULL || f->type[0] == '\0')
        return prom_fail(line, "sample before its family's TYPE");
    int bucket = n > 7 && strncmp(line + n - 7, "_bucket", 7) == 0;
    char names[64] = "";
    const char *p = line + n;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            size_t ln = name_len(p, 0);
            if (ln == 0 || p[ln] != '=' || p[ln + 1] != '"')
                return prom_fail(line, "bad label");
            if (!(bucket && ln == 2 && strncmp(p, "le", 2) == 0))
                snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%.*s",
                         names[0] != '\0' ? "," : "", (int)ln, p);
            for (p += ln + 2; *p != '"'; p++) {
                if (*p == '\0' || *p == '\n')
                    return prom_fail(line, "unterminated label value");
                if (*p == '\\' && p[1] != '\\' && p[1] != '"' && p[1] != 'n')
                    return prom_fail(line, "bad escape in a label value");
                if (*p == '\\')
                    p++;
            }
            p++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return prom_fail(line, "labels not separated by ','");
        }
        p++;
    }
    if (f->samples == 0)
        snprintf(f->labels, sizeof(f->labels), "%s", names);
    else if (strcmp(f->labels, names) != 0)
        return prom_fail(line, "label names differ within a family");
    size_t key = (size_t)(p - line);
    for (int i = 0; i < nseries; i++)
        if (strlen(series[i]) == key && strncmp(series[i], line, key) == 0)
            return prom_fail(line, "duplicate series");
    if (nseries < (int)BE_ARRAY_LEN(series))
        snprintf(series[nseries++], sizeof(series[0]), "%.*s", (int)key, line);
    if (*p++ != ' ')
        return prom_fail(line, "no space before the value");
    char *end;
    double v = strtod(p, &end);
    if (end == p || (*end != '\n' && *end != '\0'))
        return prom_fail(line, "bad value");
    if (f->samples++ == 0)
        f->first = v;
    return 1;
}

/* Reads prom[]; 1 when every line is well formed, else 0 with prom_error set. */
static int
prom_parse(void)
{
    nfams = nseries = 0;
    memset(fams, 0, sizeof(fams));
    for (const char *line = prom; *line != '\0';) {
        const char *eol = strchr(line, '\n');
        if (eol == NULL)
            return prom_fail(line, "last line without a newline");
        int help = strncmp(line, "# HELP ", 7) == 0, type = strncmp(line, "# TYPE ", 7) == 0;
        if (help || type) {
            const char *name = line + 7;
            size_t n = name_len(name, 1);
            if (n == 0 || name[n] != ' ')
                return prom_fail(line, "bad family name");
            family_t *f = family(name, n);
            if (f == NULL && nfams < (int)BE_ARRAY_LEN(fams)) {
                f = &fams[nfams++];
                snprintf(f->name, sizeof(f->name), "%.*s", (int)n, name);
            }
            if (f == NULL || (help && f->help) || (type && f->type[0] != '\0') || f->samples > 0)
                return prom_fail(line, "HELP or TYPE repeated or after samples");
            if (help) {
                f->help = 1;
            } else {
                snprintf(f->type, sizeof(f->type), "%.*s", (int)(eol - name - n - 1), name + n + 1);
                if (strcmp(f->type, "counter") != 0 && strcmp(f->type, "gauge") != 0 &&
                    strcmp(f->type, "histogram") != 0)
                    return prom_fail(line, "unknown type");
                if (!f->help)
                    return prom_fail(line, "TYPE before HELP");
            }
        } else if (line[0] == '#' || !prom_sample_line(line)) {
            return line[0] == '#' ? prom_fail(line, "stray comment") : 0;
        }
        line = eol + 1;
    }
    return 1;
}

/* ---- a strict JSON reader that keeps each key's path and number ------------------------- */

typedef struct jkey_s {
    char path[192]; /* keys from the root joined by '|' */
    int number;
    double v;
} jkey_t;

static jkey_t jkeys[2048];
static int njkeys;

static int j_value(const char **p, const char *path, int depth, double *num);

static void
j_space(const char **p)
{
    while (**p == ' ' || **p == '\n' || **p == '\t' || **p == '\r')
        (*p)++;
}

static int
j_string(const char **p, char *out, size_t cap)
{
    size_t n = 0;
    if (**p != '"')
        return 0;
    for ((*p)++; **p != '"'; (*p)++) {
        char c = **p;
        if ((unsigned char)c < 0x20)
            return 0;
        if (c == '\\') {
            (*p)++;
            if (**p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!isxdigit((unsigned char)(*p)[i]))
                        return 0;
                *p += 4;
                c = '?';
            } else if (strchr("\"\\/bfnrt", **p) != NULL && **p != '\0') {
                c = **p == '"' || **p == '\\' || **p == '/' ? **p : '?';
            } else {
                return 0;
            }
        }
        if (n + 1 < cap)
            out[n++] = c;
    }
    (*p)++;
    out[n] = '\0';
    return 1;
}

static int
j_number(const char **p, double *v)
{
    const char *s = *p;
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (isdigit((unsigned char)*s))
        while (isdigit((unsigned char)*s))
            s++;
    else
        return 0;
    if (*s == '.' && !isdigit((unsigned char)*++s))
        return 0;
    while (isdigit((unsigned char)*s))
        s++;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!isdigit((unsigned char)*s))
            return 0;
        while (isdigit((unsigned char)*s))
            s++;
    }
    *v = strtod(*p, NULL);
    *p = s;
    return 1;
}

/* One value; a number is also stored in *num (NAN for any other value). */
static int
j_value(const char **p, const char *path, int depth, double *num)
{
    char s[256];
    *num = NAN;
    j_space(p);
    if (depth > 8)
        return 0;
    if (**p == '"')
        return j_string(p, s, sizeof(s));
    if (**p != '{' && **p != '[') {
        static const char *const words[] = {"true", "false", "null"};
        for (size_t i = 0; i < BE_ARRAY_LEN(words); i++)
            if (strncmp(*p, words[i], strlen(words[i])) == 0) {
                *p += strlen(words[i]);
                return 1;
            }
        return j_number(p, num);
    }
    char close = **p == '{' ? '}' : ']';
    (*p)++;
    j_space(p);
    if (**p == close) {
        (*p)++;
        return 1;
    }
    for (;;) {
        char key[160], sub[192];
        jkey_t *k = NULL;
        double v;
        snprintf(sub, sizeof(sub), "%s", path);
        if (close == '}') {
            j_space(p);
            if (!j_string(p, key, sizeof(key)))
                return 0;
            j_space(p);
            if (*(*p)++ != ':')
                return 0;
            snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] != '\0' ? "|" : "", key);
            if (njkeys < (int)BE_ARRAY_LEN(jkeys)) {
                k = &jkeys[njkeys++];
                snprintf(k->path, sizeof(k->path), "%s", sub);
            }
        }
        if (!j_value(p, sub, depth + 1, &v))
            return 0;
        if (k != NULL && !isnan(v)) {
            k->number = 1;
            k->v = v;
        }
        j_space(p);
        if (**p == ',') {
            (*p)++;
            continue;
        }
        return *(*p)++ == close;
    }
}

/* Reads json[]: 1 when it is one well-formed value (and a newline). */
static int
json_parse(void)
{
    const char *p = json;
    double v;
    njkeys = 0;
    memset(jkeys, 0, sizeof(jkeys));
    if (!j_value(&p, "", 0, &v))
        return 0;
    j_space(&p);
    return *p == '\0';
}

static const jkey_t *
jkey(const char *path)
{
    for (int i = 0; i < njkeys; i++)
        if (strcmp(jkeys[i].path, path) == 0)
            return &jkeys[i];
    return NULL;
}

/* ---- nodes ------------------------------------------------------------------------------- */

static be_config_t cfg;
static char disk_dir[64];

static be_server_t *
node_up(int disk, int popularity, be_services_t **svc, be_worker_t **w)
{
    fixture_config(&cfg, 1);
    cfg.popularity = popularity;
    if (disk) {
        snprintf(disk_dir, sizeof(disk_dir), "/tmp/test_metrics.XXXXXX");
        if (mkdtemp(disk_dir) == NULL) {
            perror("mkdtemp");
            exit(1);
        }
        snprintf(cfg.disk_path, sizeof(cfg.disk_path), "%s", disk_dir);
        cfg.disk_size = 16 << 20;
        cfg.disk_segment_size = 4 << 20;
    }
    return fixture_build(&cfg, svc, w, 1, "test_metrics");
}

static void
node_down(be_server_t **node)
{
    fixture_down(node);
    if (disk_dir[0] != '\0') {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", disk_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "test_metrics: could not remove %s\n", disk_dir);
        disk_dir[0] = '\0';
    }
}

/* Counts a little of everything the workers count. */
static void
feed(be_worker_t *w)
{
    be_stats_request(&w->stats, BE_PROTO_HTTP1, 200);
    be_stats_request(&w->stats, BE_PROTO_HTTP1, 200);
    be_stats_request(&w->stats, BE_PROTO_HTTP1, 404);
    be_stats_request(&w->stats, BE_PROTO_HTTP2, 299);
    be_stat_add(&w->stats.hits[BE_TIER_MEMORY], 2);
    be_stats_inc(&w->stats, CACHE_MISSES);
    be_stat_add(&w->stats.ctr[BE_CTR_SENT_BYTES], 12345);
    be_stat_add(&w->stats.origin_errors[BE_FETCH_TIMEOUT], 1);
    be_stats_observe(&w->stats.request_duration[BE_TIER_MEMORY], 300);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void
test_metrics_every_row_is_in_both_outputs_which_parse(void)
{
    be_services_t *svc;
    be_worker_t *w;
    be_server_t *node = node_up(1, 1, &svc, &w);
    uint64_t allocated, resident;
    int have_alloc = be_alloc_stats(&allocated, &resident) == BE_OK;
    char path[192];
    int references = 0;

    feed(w);
    for (int k = 0; k < 400; k++) { /* enough keys for SHARDS to sample some */
        be_key_t key;
        be_sha256(&k, sizeof(k), &key);
        for (int r = 0; r <= k % 3; r++, references++)
            be_popularity_access(svc->popularity, &key, 4096, 1000);
    }
    scrape(svc);
    int parsed = prom_parse();
    if (!parsed)
        fprintf(stderr, "/metrics: %s\n", prom_error);
    BE_CHECK(parsed);
    BE_CHECK(json_parse());

    for (int id = 0; id < BE_METRIC_N; id++) {
        const char *name = be_metrics_name(id);
        family_t *f = family(name, strlen(name));
        snprintf(path, sizeof(path), "metrics|%s", name);
        if (!have_alloc && (id == BE_METRIC_MEMORY_ALLOCATED || id == BE_METRIC_MEMORY_RESIDENT)) {
            BE_CHECK(f == NULL && jkey(path) == NULL); /* no jemalloc: absent from both */
            continue;
        }
        if (f == NULL || jkey(path) == NULL)
            fprintf(stderr, "%s: in /metrics %d, in /stats %d\n", name, f != NULL,
                    jkey(path) != NULL);
        BE_CHECK(f != NULL && jkey(path) != NULL);
        BE_CHECK_STR(f->type, be_metrics_type(id));
        BE_CHECK(f->samples > 0);
        BE_CHECK_STR(f->labels, be_metrics_labels(id));
        if (be_metrics_labels(id)[0] == '\0' && strcmp(f->type, "histogram") != 0) {
            BE_CHECK(jkey(path)->number);
            if (jkey(path)->v != f->first)
                fprintf(stderr, "%s: /metrics %.17g, /stats %.17g\n", name, f->first,
                        jkey(path)->v);
            BE_CHECK(jkey(path)->v == f->first);
        }
    }
    BE_CHECK_INT(nfams, BE_METRIC_N - (have_alloc ? 0 : 2)); /* and nothing else */

    /* labelled families in /stats: one key per label value, histograms as count and sum */
    BE_CHECK(jkey("metrics|blockedge_http_requests_total|http/1.1|200")->v == 2);
    BE_CHECK(jkey("metrics|blockedge_http_requests_total|h2|other")->v == 1);
    BE_CHECK(jkey("metrics|blockedge_http_requests_total|h2|200") == NULL);
    BE_CHECK(jkey("metrics|blockedge_cache_blocks|disk") != NULL);
    BE_CHECK(jkey("metrics|blockedge_request_duration_seconds|memory|count")->v == 1);
    BE_CHECK(jkey("metrics|blockedge_request_duration_seconds|memory|sum")->v == 0.0003);
    BE_CHECK(jkey("metrics|blockedge_origin_server_marked_down|file:///tmp/x/")->v == 0);
    BE_CHECK(jkey("metrics|blockedge_build_info|" BE_VERSION)->v == 1);
    /* the popularity extras and the disk tier's cache keys */
    BE_CHECK(jkey("popularity|top") != NULL && jkey("popularity|mrc|curve") != NULL);
    BE_CHECK(jkey("popularity|references")->v == references);
    BE_CHECK(jkey("cache|disk|capacity_bytes")->v == 16 << 20);
    node_down(&node);
}

static void
test_metrics_stats_keys_keep_their_names_and_order(void)
{
    be_services_t *svc;
    be_worker_t *w;
    be_server_t *node = node_up(0, 0, &svc, &w);
    feed(w);
    scrape(svc);
    BE_CHECK(json_parse());

    const char *want = "{\"version\":\"" BE_VERSION "\",\"workers\":1,\"uptime_seconds\":1.5,"
                       "\"requests\":4,\"hits\":{\"memory\":2,\"disk\":0},\"misses\":1,"
                       "\"hit_ratio\":0.666667,\"coalesced\":0,\"origin\":{\"requests\":0,"
                       "\"inflight\":0,\"errors\":{\"not_found\":0,\"digest_mismatch\":0,"
                       "\"timeout\":1,\"connect\":0,\"status\":0,\"too_large\":0,\"busy\":0,"
                       "\"cancelled\":0},\"queued\":0},"
                       "\"cache\":{\"memory\":{\"blocks\":0,\"bytes\":";
    if (strncmp(json, want, strlen(want)) != 0)
        fprintf(stderr, "/stats begins: %.400s\n", json);
    BE_CHECK(strncmp(json, want, strlen(want)) == 0);
    BE_CHECK(strstr(json, "\"sent_bytes\":12345,\"connections\":{\"accepted\":0,\"open\":0},") !=
             NULL);
    BE_CHECK(strstr(json, ",\"metrics\":{\"blockedge_cache_misses_total\":1,") != NULL);
    BE_CHECK(jkey("cache|memory|capacity_bytes")->v == FIXTURE_MEMORY);
    BE_CHECK(jkey("memory|allocated_bytes") != NULL || jkey("memory") == NULL);
    node_down(&node);
}

static void
test_metrics_sources_that_are_off_leave_their_families_out(void)
{
    be_services_t *svc;
    be_worker_t *w;
    be_server_t *node = node_up(0, 0, &svc, &w); /* no disk tier, popularity off */
    scrape(svc);
    BE_CHECK(prom_parse());
    BE_CHECK(json_parse());

    /* no disk: the tier="disk" samples, the disk families and cache.disk are absent ... */
    BE_CHECK(strstr(prom, "blockedge_cache_blocks{tier=\"disk\"}") == NULL);
    BE_CHECK(family("blockedge_disk_index_state", 26) == NULL);
    BE_CHECK(jkey("metrics|blockedge_disk_index_state") == NULL);
    BE_CHECK(jkey("cache|disk") == NULL);
    /* ... but the contract's corruption counter is there, at 0 */
    BE_CHECK(strstr(prom, "\nblockedge_disk_corruptions_total 0\n") != NULL);
    BE_CHECK(jkey("metrics|blockedge_disk_corruptions_total")->v == 0);
    /* popularity off: no family of it and no "popularity" key */
    BE_CHECK(strstr(prom, "popularity") == NULL && strstr(prom, "blockedge_mrc_") == NULL);
    BE_CHECK(jkey("popularity") == NULL);
    BE_CHECK(jkey("metrics|blockedge_popularity_zipf_exponent") == NULL);
    /* a labelled family with nothing counted yet: HELP and TYPE, no sample, {} in /stats */
    BE_CHECK(family("blockedge_http_requests_total", 29)->samples == 0);
    BE_CHECK(strstr(json, "\"blockedge_http_requests_total\":{}") != NULL);
    BE_CHECK(jkey("requests")->v == 0);
    node_down(&node);
}

int
main(void)
{
    BE_RUN(test_metrics_every_row_is_in_both_outputs_which_parse);
    BE_RUN(test_metrics_stats_keys_keep_their_names_and_order);
    BE_RUN(test_metrics_sources_that_are_off_leave_their_families_out);
    BE_TEST_EXIT();
}
