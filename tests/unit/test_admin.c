/*
 * test_admin.c - the admin side: /metrics after some traffic holds the contract's
 * families with the values the traffic implies (summed over the workers), and the admin
 * listener answers by its allow/deny rules (403 before any request is read, else the
 * page asked for); write requests need the bearer token, a purge answers what it found and
 * an inspection what is held, a prefetch job runs from a POSTed key list, and the bounds of
 * the admin's HTTP answer 405, 411 and 413.
 *
 * The node is built through the server object (two workers, never started) with a
 * file:// origin in a fresh temporary directory; requests run through the
 * protocol-neutral be_request_t as HTTP/1.1 would run them. /metrics is read as a
 * Prometheus scraper reads it: one sample per line, found by name and label set (in any
 * order), so a change of layout or ordering does not break the test, only a change of the
 * interface contract does (DESIGN.md). The listener test binds 127.0.0.1 on a port that
 * was free a moment before, on the server's own loop, which the test turns.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "blockedge/admin.h"
#include "blockedge/clock.h"
#include "blockedge/metrics.h"
#include "blockedge/config.h"
#include "blockedge/request.h"
#include "blockedge/server.h"
#include "blockedge/services.h"
#include "blockedge/stats.h"
#include "blockedge/worker.h"
#include "fixture.h"
#include "test.h"

#define NWORKERS 2
#define SIZE     500
#define BOUND_MS 5000

static be_config_t cfg;
static be_server_t *node;
static be_services_t *svc;
static be_worker_t *workers[NWORKERS];
static char dir[512];
static unsigned char data[SIZE];
static char hex[BE_KEY_HEX_LEN + 1]; /* cached */
static char text[256 * 1024];        /* the last /metrics text or admin answer */

static void
setup(void)
{
    fixture_tmpdir(dir, sizeof(dir), "admin");
    fixture_config(&cfg, NWORKERS);
    fixture_file_origin(&cfg, dir);
    node = fixture_build(&cfg, &svc, workers, NWORKERS, "test_admin");
    for (int i = 0; i < SIZE; i++)
        data[i] = (unsigned char)(i * 9 + 4);
    fixture_cache_block(svc, data, SIZE, hex);
}

static void
teardown(void)
{
    fixture_down(&node);
    fixture_rmdir(dir);
}

/* ---- reading /metrics ------------------------------------------------------------------ */

static void
render(void)
{
    struct evbuffer *out = evbuffer_new();
    be_metrics_t *m = be_metrics_read(svc, be_clock_msec());
    if (m != NULL)
        be_metrics_prometheus(m, out);
    be_metrics_free(&m);
    size_t n = evbuffer_get_length(out);
    if (n >= sizeof(text))
        n = sizeof(text) - 1;
    evbuffer_remove(out, text, n);
    text[n] = '\0';
    evbuffer_free(out);
}

/* Whether the label set (the text between the braces) holds k="v" for every pair in want
 * ("k1=\"v1\",k2=\"v2\"", or "" for none). */
static int
labels_hold(const char *set, size_t len, const char *want)
{
    char pair[128];
    while (*want != '\0') {
        size_t n = strcspn(want, ",");
        if (n >= sizeof(pair))
            return 0;
        memcpy(pair, want, n);
        pair[n] = '\0';
        int found = 0;
        for (const char *p = set; p + n <= set + len && !found; p++)
            found = (p == set || p[-1] == ',') && memcmp(p, pair, n) == 0 &&
                    (p + n == set + len || p[n] == ',');
        if (!found)
            return 0;
        want += n + (want[n] == ',');
    }
    return 1;
}

/*
 * The value of the first sample of name whose labels hold want (NULL: a sample without
 * labels); -1 when there is none (no test value here is negative).
 */
static double
metric(const char *name, const char *want)
{
    size_t nl = strlen(name);
    for (const char *line = text; *line != '\0';) {
        const char *eol = strchr(line, '\n');
        if (eol == NULL)
            eol = line + strlen(line);
        if (line[0] != '#' && strncmp(line, name, nl) == 0 &&
            (line[nl] == ' ' || line[nl] == '{')) {
            const char *v = line + nl;
            int ok = 1;
            if (*v == '{') {
                const char *close = memchr(v, '}', (size_t)(eol - v));
                ok = close != NULL && want != NULL &&
                     labels_hold(v + 1, (size_t)(close - v - 1), want);
                v = close != NULL ? close + 1 : eol;
            } else {
                ok = want == NULL || want[0] == '\0';
            }
            if (ok)
                return strtod(v, NULL);
        }
        line = *eol == '\n' ? eol + 1 : eol;
    }
    return -1;
}

/* Whether "# TYPE name type" is there. */
static int
has_type(const char *name, const char *type)
{
    char line[256];
    snprintf(line, sizeof(line), "# TYPE %s %s\n", name, type);
    return strstr(text, line) != NULL;
}

/* ---- traffic ------------------------------------------------------------------------------ */

typedef struct req_s {
    be_request_t r;
    int ready;
} req_t;

static void
on_ready(be_request_t *r, void *ctx)
{
    BE_UNUSED(r);
    ((req_t *)ctx)->ready = 1;
}

static int
ready(void *arg)
{
    return ((req_t *)arg)->ready;
}

/* One GET on worker wi, answered (waiting for the origin if it must) and accounted as
 * HTTP/1.1 does it. Returns the status. */
static int
ask(int wi, const char *path)
{
    req_t q = {0};
    be_request_init(&q.r, workers[wi], BE_PROTO_HTTP1, on_ready, &q);
    if (be_request_start(&q.r, "GET", 3, path, strlen(path)) == BE_AGAIN &&
        !fixture_run_until(workers, NWORKERS, ready, &q, BOUND_MS))
        return -1;
    int status = q.r.status;
    be_request_done(&q.r);
    be_request_dispose(&q.r);
    return status;
}

static void
test_admin_metrics_hold_contract_families_with_traffic_values(void)
{
    unsigned char other[SIZE];
    char path[128], path2[128];
    char name[BE_KEY_HEX_LEN + 1];

    setup();
    for (int i = 0; i < SIZE; i++)
        other[i] = (unsigned char)(i + 77);
    fixture_write_block(dir, other, SIZE, name);
    snprintf(path, sizeof(path), "/blocks/%s", hex);
    snprintf(path2, sizeof(path2), "/blocks/%s", name);

    render(); /* before any traffic: present, and zero */
    BE_CHECK(metric("blockedge_cache_hits_total", "tier=\"memory\"") == 0);
    BE_CHECK(metric("blockedge_cache_misses_total", NULL) == 0);

    for (int i = 0; i < 3; i++)
        BE_CHECK_INT(ask(0, path), 200); /* memory hits on worker 1 ... */
    for (int i = 0; i < 2; i++)
        BE_CHECK_INT(ask(1, path), 200); /* ... and on worker 2 */
    BE_CHECK_INT(ask(1, path2), 200);    /* a miss, fetched from the origin */
    BE_CHECK_INT(ask(0, path2), 200);    /* then a hit */
    BE_CHECK_INT(ask(0, "/nothing"), 404);

    render();
    BE_CHECK(has_type("blockedge_cache_hits_total", "counter"));
    BE_CHECK(has_type("blockedge_http_requests_total", "counter"));
    BE_CHECK(metric("blockedge_cache_hits_total", "tier=\"memory\"") == 6);
    BE_CHECK(metric("blockedge_cache_hits_total", "tier=\"disk\"") == 0);
    BE_CHECK(metric("blockedge_http_requests_total", "proto=\"http/1.1\",code=\"200\"") == 7);
    BE_CHECK(metric("blockedge_http_requests_total", "code=\"404\",proto=\"http/1.1\"") == 1);
    BE_CHECK(metric("blockedge_http_requests_total", "proto=\"h2\",code=\"200\"") <= 0);
    BE_CHECK(metric("blockedge_cache_misses_total", NULL) == 1);
    BE_CHECK(metric("blockedge_origin_requests_total", NULL) == 1);
    BE_CHECK(metric("blockedge_coalesced_requests_total", NULL) == 0);
    BE_CHECK(metric("blockedge_origin_errors_total", "reason=\"digest_mismatch\"") == 0);
    BE_CHECK(metric("blockedge_origin_errors_total", "reason=\"not_found\"") == 0);
    BE_CHECK(metric("blockedge_sent_bytes_total", NULL) == 7 * SIZE);
    BE_CHECK(metric("blockedge_cache_blocks", "tier=\"memory\"") == 2);
    BE_CHECK(metric("blockedge_cache_bytes", "tier=\"memory\"") > 2 * SIZE);
    BE_CHECK(metric("blockedge_cache_capacity_bytes", "tier=\"memory\"") == FIXTURE_MEMORY);
    BE_CHECK(metric("blockedge_cache_evictions_total", "tier=\"memory\"") == 0);
    BE_CHECK(metric("blockedge_inflight_fetches", NULL) == 0);
    BE_CHECK(metric("blockedge_disk_corruptions_total", NULL) == 0); /* memory-only: still 0 */
    BE_CHECK(metric("blockedge_request_duration_seconds_count", "tier=\"memory\"") == 6);
    BE_CHECK(metric("blockedge_origin_fetch_duration_seconds_count", NULL) == 1);
    BE_CHECK(strstr(text, "blockedge_popularity_zipf_exponent") != NULL);
    BE_CHECK(metric("blockedge_no_such_family", NULL) == -1); /* the reader can say no */
    teardown();
}

/* ---- the listener -------------------------------------------------------------------------- */

/* A port on 127.0.0.1 that was free a moment ago. */
static int
free_port(void)
{
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &sl) != 0) {
        perror("test_admin: free port");
        exit(1);
    }
    close(fd);
    return ntohs(sin.sin_port);
}

/* Sends one raw request to the admin listener and turns the server's loop (and the
 * workers', for purges and prefetches) until the answer is whole (the admin closes after it);
 * the answer is in text. Returns its status. */
/* A blocking socket connected to 127.0.0.1:port (the backlog takes it before the loop
 * accepts), or -1. */
static int
connect_to(int port)
{
    struct sockaddr_in sin;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static int
admin_raw(int port, const char *req, int n)
{
    size_t len = 0;
    int fd = connect_to(port), status = -1;

    if (fd < 0)
        return -1;
    if (write(fd, req, (size_t)n) != n || fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        close(fd);
        return -1;
    }
    int64_t end = fixture_now_ms() + BOUND_MS;
    for (int eof = 0; !eof && fixture_now_ms() < end;) {
        event_base_loop(be_server_base(node), EVLOOP_NONBLOCK);
        fixture_turns(workers, NWORKERS, 1);
        ssize_t r = read(fd, text + len, sizeof(text) - 1 - len);
        if (r > 0)
            len += (size_t)r;
        else if (r == 0 || errno != EAGAIN)
            eof = 1;
        else
            usleep(1000);
    }
    text[len] = '\0';
    close(fd);
    if (sscanf(text, "HTTP/1.1 %d ", &status) != 1)
        return -1;
    return status;
}

static int
admin_get(int port, const char *path)
{
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: admin\r\n\r\n", path);
    return admin_raw(port, req, n);
}

/* METHOD path with an optional Authorization value and body. */
static int
admin_send(int port, const char *method, const char *path, const char *auth, const char *body)
{
    char req[4096];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: admin\r\n%s%s%s", method, path,
                     auth != NULL ? "Authorization: " : "", auth != NULL ? auth : "",
                     auth != NULL ? "\r\n" : "");
    if (body != NULL)
        n += snprintf(req + n, sizeof(req) - (size_t)n, "Content-Length: %zu\r\n\r\n%s",
                      strlen(body), body);
    else
        n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    return admin_raw(port, req, n);
}

/* Binds an admin listener on a free port of 127.0.0.1; *port receives it. */
static be_admin_t *
admin_up(int *port)
{
    char listen[64];
    be_admin_t *admin = NULL;
    for (int tries = 0; admin == NULL && tries < 5; tries++) {
        *port = free_port();
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", *port);
        if (be_config_parse_listen(listen, &cfg.admin_listen[0]) != BE_OK)
            return NULL;
        cfg.nadmin_listen = 1;
        admin = be_admin_new(be_server_base(node), svc);
    }
    return admin;
}

static void
rule(int i, int allow, const char *addr, int prefix)
{
    memset(&cfg.acl[i], 0, sizeof(cfg.acl[i]));
    cfg.acl[i].allow = allow;
    cfg.acl[i].prefix = prefix;
    cfg.acl[i].family = addr != NULL ? AF_INET : AF_UNSPEC;
    if (addr != NULL)
        inet_pton(AF_INET, addr, cfg.acl[i].addr);
}

static void
test_admin_listener_answers_by_allow_and_deny_rules(void)
{
    char listen[64];
    be_admin_t *admin = NULL;
    int port = 0;

    setup();
    for (int tries = 0; admin == NULL && tries < 5; tries++) {
        port = free_port();
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
        BE_CHECK_INT(be_config_parse_listen(listen, &cfg.admin_listen[0]), BE_OK);
        cfg.nadmin_listen = 1;
        admin = be_admin_new(be_server_base(node), svc);
    }
    BE_CHECK(admin != NULL);

    rule(0, 0, "127.0.0.1", 32); /* deny 127.0.0.1; allow all */
    rule(1, 1, NULL, 0);
    cfg.nacl = 2;
    BE_CHECK_INT(admin_get(port, "/metrics"), 403);
    BE_CHECK(strstr(text, "blockedge_") == NULL);
    BE_CHECK(strstr(text, "\r\n\r\nforbidden\n") != NULL);

    rule(0, 1, "127.0.0.0", 8); /* allow 127.0.0.0/8; deny all */
    rule(1, 0, NULL, 0);
    BE_CHECK_INT(admin_get(port, "/metrics"), 200);
    BE_CHECK(strstr(text, "\r\ncontent-type: text/plain; version=0.0.4") != NULL);
    BE_CHECK(strstr(text, "\nblockedge_cache_hits_total{") != NULL);
    BE_CHECK_INT(admin_get(port, "/healthz"), 200);
    BE_CHECK(strstr(text, "\r\n\r\nok\n") != NULL);

    rule(0, 1, "10.0.0.0", 8); /* rules, none matching: deny */
    cfg.nacl = 1;
    BE_CHECK_INT(admin_get(port, "/healthz"), 403);
    cfg.nacl = 0; /* no rules: allow */
    BE_CHECK_INT(admin_get(port, "/healthz"), 200);
    be_admin_free(&admin);
    BE_CHECK(admin == NULL);
    teardown();
}

/* The value of a metric in the admin's own /metrics (the admin families need it). */
static double
admin_metric(int port, const char *name, const char *want)
{
    char copy[sizeof(text)];
    if (admin_get(port, "/metrics") != 200)
        return -1;
    memcpy(copy, text, sizeof(text));
    double v = metric(name, want);
    memcpy(text, copy, sizeof(text));
    return v;
}

static void
test_admin_write_requests_need_the_token_and_purge_answers_what_it_found(void)
{
    char path[128], json[512];
    int port = 0;

    setup();
    snprintf(cfg.admin_token, sizeof(cfg.admin_token), "t0ken");
    be_admin_t *admin = admin_up(&port);
    BE_CHECK(admin != NULL);
    snprintf(path, sizeof(path), "/blocks/%s", hex);

    BE_CHECK_INT(admin_send(port, "DELETE", path, NULL, NULL), 403);
    BE_CHECK(strstr(text, "needs \"Authorization: Bearer <token>\"") != NULL);
    BE_CHECK_INT(admin_send(port, "DELETE", path, "Bearer t0ken2", NULL), 403);
    BE_CHECK(strstr(text, "wrong token") != NULL);
    BE_CHECK(admin_metric(port, "blockedge_admin_denied_total", "reason=\"no_token\"") == 1);
    BE_CHECK(admin_metric(port, "blockedge_admin_denied_total", "reason=\"bad_token\"") == 1);
    BE_CHECK(admin_metric(port, "blockedge_admin_denied_total", "reason=\"address\"") == 0);

    BE_CHECK_INT(admin_get(port, path), 200); /* reading needs no token */
    snprintf(json, sizeof(json), "{\"key\":\"%s\",\"held\":true,\"memory\":{\"size\":%d,", hex,
             SIZE);
    BE_CHECK(strstr(text, json) != NULL);
    BE_CHECK(strstr(text, "\"disk\":false,\"disk_tier\":\"none\",\"fetching\":false}") != NULL);

    BE_CHECK_INT(admin_send(port, "DELETE", path, "bearer t0ken", NULL), 200);
    snprintf(json, sizeof(json),
             "{\"key\":\"%s\",\"purged\":true,\"memory\":true,\"disk\":false,\"fetching\":false}\n",
             hex);
    BE_CHECK(strstr(text, json) != NULL);
    BE_CHECK(strstr(text, "\r\ncontent-type: application/json\r\n") != NULL);
    BE_CHECK_INT(admin_get(port, path), 404);
    BE_CHECK(strstr(text, "\"held\":false,\"memory\":false,\"disk\":false") != NULL);
    snprintf(path, sizeof(path), "/purge/%s", hex);
    BE_CHECK_INT(admin_send(port, "POST", path, "Bearer t0ken", NULL), 404);
    BE_CHECK(strstr(text, "\"purged\":false") != NULL);
    BE_CHECK(admin_metric(port, "blockedge_admin_purges_total", "result=\"purged\"") == 1);
    BE_CHECK(admin_metric(port, "blockedge_admin_purges_total", "result=\"absent\"") == 1);

    BE_CHECK_INT(admin_send(port, "DELETE", "/blocks/abc", "Bearer t0ken", NULL), 400);
    BE_CHECK(strstr(text, "expected 64 hex digits, got 3 characters") != NULL);
    BE_CHECK_INT(admin_send(port, "PUT", path, "Bearer t0ken", NULL), 405);
    BE_CHECK(strstr(text, "\r\nallow: POST\r\n") != NULL);
    BE_CHECK_INT(admin_send(port, "POST", "/metrics", NULL, NULL), 405);
    BE_CHECK_INT(admin_get(port, "/nothing"), 404);
    be_admin_free(&admin);
    teardown();
}

static void
test_admin_prefetch_takes_a_key_list_within_its_bounds(void)
{
    char body[256];
    int port = 0;

    setup();
    snprintf(cfg.admin_token, sizeof(cfg.admin_token), "t0ken");
    be_admin_t *admin = admin_up(&port);
    BE_CHECK(admin != NULL);
    snprintf(body, sizeof(body), "%s\nzz\n", hex);
    BE_CHECK_INT(admin_send(port, "POST", "/prefetch", NULL, body), 403);
    BE_CHECK_INT(admin_send(port, "POST", "/prefetch", "Bearer t0ken", body), 202);
    BE_CHECK(strstr(text, "\r\nlocation: /prefetch/1\r\n") != NULL);
    BE_CHECK(strstr(text, "{\"id\":1,") != NULL);
    BE_CHECK_INT(admin_get(port, "/prefetch/1"), 200);
    BE_CHECK(
        strstr(text, "\"state\":\"done\",\"total\":2,\"pending\":0,\"done\":0,\"cached\":1,") !=
        NULL);
    BE_CHECK(strstr(text, "\"bad_key\":1,") != NULL);
    BE_CHECK(strstr(text, "\"bad_lines\":[2]") != NULL);
    BE_CHECK_INT(admin_get(port, "/prefetch/2"), 404);
    BE_CHECK_INT(admin_get(port, "/prefetch/x"), 404);
    BE_CHECK_INT(admin_get(port, "/prefetch"), 200);
    BE_CHECK(strstr(text, "{\"jobs\":[{\"id\":1,") != NULL);

    const char *big = "POST /prefetch HTTP/1.1\r\nAuthorization: Bearer t0ken\r\n"
                      "Content-Length: 9000000\r\nExpect: 100-continue\r\n\r\n";
    BE_CHECK_INT(admin_raw(port, big, (int)strlen(big)), 413); /* before any body */
    const char *chunked = "POST /prefetch HTTP/1.1\r\nAuthorization: Bearer t0ken\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n";
    BE_CHECK_INT(admin_raw(port, chunked, (int)strlen(chunked)), 411);
    BE_CHECK_INT(admin_send(port, "POST", "/prefetch", "Bearer t0ken", ""), 400);

    /* four key lists on their way (heads sent, bodies not yet): a fifth must wait */
    int held[4];
    const char *head = "POST /prefetch HTTP/1.1\r\nAuthorization: Bearer t0ken\r\n"
                       "Content-Length: 65\r\n\r\n";
    for (int i = 0; i < 4; i++) {
        held[i] = connect_to(port);
        BE_CHECK(held[i] >= 0 && write(held[i], head, strlen(head)) == (ssize_t)strlen(head));
    }
    for (int i = 0; i < 20; i++) {
        event_base_loop(be_server_base(node), EVLOOP_NONBLOCK);
        usleep(1000);
    }
    BE_CHECK_INT(admin_send(port, "POST", "/prefetch", "Bearer t0ken", body), 503);
    BE_CHECK(strstr(text, "key lists are being received") != NULL);
    for (int i = 0; i < 4; i++)
        close(held[i]);
    for (int i = 0; i < 20; i++) {
        event_base_loop(be_server_base(node), EVLOOP_NONBLOCK);
        usleep(1000);
    }
    BE_CHECK_INT(admin_send(port, "POST", "/prefetch", "Bearer t0ken", body), 202);
    BE_CHECK(admin_metric(port, "blockedge_admin_prefetch_jobs_total", "result=\"accepted\"") == 2);
    BE_CHECK(admin_metric(port, "blockedge_admin_prefetch_jobs_total", "result=\"busy\"") == 1);
    BE_CHECK(admin_metric(port, "blockedge_admin_prefetch_jobs_total", "result=\"too_large\"") ==
             1);
    BE_CHECK(admin_metric(port, "blockedge_admin_prefetch_keys_total", "result=\"bad_key\"") == 2);
    be_admin_free(&admin);
    teardown();
}

int
main(void)
{
    BE_RUN(test_admin_metrics_hold_contract_families_with_traffic_values);
    BE_RUN(test_admin_listener_answers_by_allow_and_deny_rules);
    BE_RUN(test_admin_write_requests_need_the_token_and_purge_answers_what_it_found);
    BE_RUN(test_admin_prefetch_takes_a_key_list_within_its_bounds);
    be_server_global_cleanup();
    BE_TEST_EXIT();
}
