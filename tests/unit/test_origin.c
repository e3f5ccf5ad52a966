/*
 * test_origin.c - the origin client of one worker. file://: a verified block, a missing
 * file (404), a file over max_block_size, bytes that do not match their name, the empty
 * block. http://: a scripted origin on 127.0.0.1 answers 200 with the right bytes, 200
 * with wrong bytes, 404, 500 (retried), a Content-Length over max_block_size, a 200 ended
 * by the close (within and over max_block_size), a body cut short (retried), nothing at
 * all (read_timeout, or the whole fetch's deadline), and a port where nobody listens
 * (connect, retried); with two servers a connect error fails over to the other one and
 * its breaker marks the dead one down (max_fails 1), and with every server down a fetch
 * fails at once, from the loop; freeing the client ends a fetch under way with exactly
 * one callback.
 *
 * The node is built through the server object (one worker, never started) for each test,
 * with the origin and limits the test names. The scripted origin is a listening socket
 * served by a thread of the test: one connection at a time, each answered by a rule picked
 * by the block's name and then closed ("Connection: close", so every attempt is a new
 * connection the test can count). Every wait is bounded in real time; only the stall
 * test depends on a timer, and it checks only that the fetch did not end before it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "blockedge/clock.h"
#include "blockedge/metrics.h"
#include "blockedge/iopool.h"
#include "blockedge/origin.h"
#include "blockedge/server.h"
#include "blockedge/services.h"
#include "blockedge/stats.h"
#include "blockedge/worker.h"
#include "fixture.h"
#include "test.h"

#define SIZE      1000
#define MAX_BLOCK 4096
#define BOUND_MS  8000

static be_config_t cfg;
static be_server_t *node;
static be_services_t *svc;
static be_worker_t *workers[1];
static be_worker_t *w;
static char dir[512];
static unsigned char data[SIZE];
static char hex[BE_KEY_HEX_LEN + 1]; /* the name of data */
static be_key_t key;

static int
called(void *arg)
{
    return ((fixture_got_t *)arg)->calls > 0;
}

/* ---- the scripted origin ------------------------------------------------------------- */

enum answer {
    ANS_OK,
    ANS_WRONG_BYTES,
    ANS_404,
    ANS_500,
    ANS_TOO_LARGE,
    ANS_STALL,
    ANS_NO_LENGTH,           /* 200, the right bytes, ended by the close */
    ANS_NO_LENGTH_TOO_LARGE, /* 200, more than max_block_size, ended by the close */
    ANS_TRUNCATED,           /* 200 with Content-Length, half the bytes, then the close */
};

static struct {
    int lfd;
    int port;
    int stop[2]; /* a byte on stop[1] ends the thread */
    pthread_t thread;
    int answer; /* enum answer, for every request */
    atomic_int requests;
    char last_line[256];  /* the last request line */
    char last_agent[128]; /* its User-Agent */
} srv;

/* Waits until fd is readable or the stop pipe is written; 1 when fd is readable. */
static int
wait_readable(int fd, int ms)
{
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = srv.stop[0], .events = POLLIN}};
    return poll(p, 2, ms) > 0 && !(p[1].revents & POLLIN) && (p[0].revents & (POLLIN | POLLHUP));
}

static void
send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return; /* the client went away (it may abort on purpose) */
        p += n;
        len -= (size_t)n;
    }
}

static void
answer(int fd)
{
    char head[256];
    unsigned char body[MAX_BLOCK + 100];
    size_t blen = 0;
    int code = 200, hl;

    switch (srv.answer) {
    case ANS_OK:
        memcpy(body, data, SIZE);
        blen = SIZE;
        break;
    case ANS_WRONG_BYTES:
        memcpy(body, data, SIZE);
        body[7] ^= 0x40;
        blen = SIZE;
        break;
    case ANS_404:
        code = 404;
        blen = (size_t)snprintf((char *)body, sizeof(body), "not found\n");
        break;
    case ANS_500:
        code = 500;
        blen = (size_t)snprintf((char *)body, sizeof(body), "error\n");
        break;
    case ANS_TOO_LARGE:
        memset(body, 'x', MAX_BLOCK + 100);
        blen = MAX_BLOCK + 100;
        break;
    case ANS_NO_LENGTH:
        send_all(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 38);
        send_all(fd, data, SIZE);
        return;
    case ANS_NO_LENGTH_TOO_LARGE:
        memset(body, 'x', MAX_BLOCK + 100);
        send_all(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 38);
        send_all(fd, body, MAX_BLOCK + 100);
        return;
    case ANS_TRUNCATED:
        hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", SIZE);
        send_all(fd, head, (size_t)hl);
        send_all(fd, data, SIZE / 2);
        return;
    case ANS_STALL: /* say nothing until the client gives up or the test ends */
        while (wait_readable(fd, 10000)) {
            char sink[512];
            if (read(fd, sink, sizeof(sink)) <= 0)
                break;
        }
        return;
    }
    hl = snprintf(head, sizeof(head),
                  "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", code, blen);
    send_all(fd, head, (size_t)hl);
    send_all(fd, body, blen);
}

/* Reads one request head, remembers its line and agent, answers. */
static void
serve(int fd)
{
    char req[4096];
    size_t len = 0;
    while (len < sizeof(req) - 1 && wait_readable(fd, 5000)) {
        ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);
        if (n <= 0)
            return;
        len += (size_t)n;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n") != NULL)
            break;
    }
    if (strstr(req, "\r\n\r\n") == NULL)
        return;
    size_t ll = strcspn(req, "\r");
    snprintf(srv.last_line, sizeof(srv.last_line), "%.*s", (int)ll, req);
    const char *ua = strstr(req, "\r\nUser-Agent: ");
    if (ua != NULL)
        snprintf(srv.last_agent, sizeof(srv.last_agent), "%.*s", (int)strcspn(ua + 14, "\r"),
                 ua + 14);
    atomic_fetch_add(&srv.requests, 1);
    answer(fd);
}

static void *
origin_main(void *arg)
{
    BE_UNUSED(arg);
    while (wait_readable(srv.lfd, 20000)) {
        int fd = accept(srv.lfd, NULL, NULL);
        if (fd < 0)
            continue;
        serve(fd);
        close(fd);
    }
    return NULL;
}

/* A listening socket on 127.0.0.1 with a port of the kernel's choice; returns the fd. */
static int
listen_any(int *port)
{
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &sl) != 0) {
        perror("test_origin: listening socket");
        exit(1);
    }
    *port = ntohs(sin.sin_port);
    return fd;
}

static void
origin_start(int ans)
{
    srv.lfd = listen_any(&srv.port);
    srv.answer = ans;
    atomic_store(&srv.requests, 0);
    srv.last_line[0] = srv.last_agent[0] = '\0';
    if (pipe(srv.stop) != 0 || pthread_create(&srv.thread, NULL, origin_main, NULL) != 0) {
        perror("test_origin: origin thread");
        exit(1);
    }
}

static void
origin_stop(void)
{
    if (write(srv.stop[1], "x", 1) != 1)
        perror("test_origin: stopping the origin");
    pthread_join(srv.thread, NULL);
    close(srv.stop[0]);
    close(srv.stop[1]);
    close(srv.lfd);
}

/* ---- the node --------------------------------------------------------------------------- */

static void
config(void)
{
    fixture_config(&cfg, 1);
    cfg.max_block_size = MAX_BLOCK;
    cfg.retries = 1;
    cfg.connect_timeout = 2000;
    cfg.read_timeout = 5000;
    cfg.fetch_timeout = BOUND_MS - 1000;
    for (int i = 0; i < SIZE; i++)
        data[i] = (unsigned char)(i * 13 + 5);
    be_sha256(data, SIZE, &key);
    be_key_to_hex(&key, hex);
}

static void
build(void)
{
    node = fixture_build(&cfg, &svc, workers, 1, "test_origin");
    w = workers[0];
}

static void
setup_file(void)
{
    config();
    fixture_tmpdir(dir, sizeof(dir), "origin");
    fixture_file_origin(&cfg, dir);
    build();
}

static void
teardown_file(void)
{
    fixture_down(&node);
    fixture_rmdir(dir);
}

/* The scripted origin answering every request with ans, and a node that uses it. */
static void
setup_http(int ans)
{
    char url[128];
    config();
    origin_start(ans);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/o/", srv.port);
    fixture_http_origin(&cfg, url);
    build();
}

static void
teardown_http(void)
{
    fixture_down(&node);
    origin_stop();
}

/* Adds an http:// server (after the first) to the config. */
static void
add_http_server(const char *url, int backup)
{
    be_origin_server_t *o = &cfg.servers[cfg.nservers++];
    memset(o, 0, sizeof(*o));
    o->kind = BE_ORIGIN_HTTP;
    o->backup = backup;
    snprintf(o->url, sizeof(o->url), "%s", url);
}

/* The per-server gauge blockedge_origin_server_marked_down{server="url"}; -1 when absent. */
static double
marked_down(const char *url)
{
    static char text[16384];
    char want[1200];
    struct evbuffer *out = evbuffer_new();
    be_metrics_t *m = be_metrics_read(svc, be_clock_msec());
    if (m != NULL)
        be_metrics_prometheus(m, out);
    be_metrics_free(&m);
    int n = evbuffer_remove(out, text, sizeof(text) - 1);
    evbuffer_free(out);
    text[n > 0 ? n : 0] = '\0';
    snprintf(want, sizeof(want), "\nblockedge_origin_server_marked_down{server=\"%s\"} ", url);
    const char *p = strstr(text, want);
    return p != NULL ? strtod(p + strlen(want), NULL) : -1;
}

static uint64_t
ctr(int id)
{
    return be_stat_get(&w->stats.ctr[id]);
}

static uint64_t
errors(be_fetch_status_t st)
{
    return be_stat_get(&w->stats.origin_errors[st]);
}

static uint64_t
fetches_timed(void)
{
    uint64_t n = 0;
    for (int b = 0; b <= BE_HIST_BUCKETS; b++)
        n += be_stat_get(&w->stats.fetch_duration.bucket[b]);
    return n;
}

/* Starts a fetch of k, checks nothing ran inside, runs the loop until its callback. */
static int
fetch(const be_key_t *k, fixture_got_t *g)
{
    memset(g, 0, sizeof(*g));
    if (be_origin_fetch(w->origin, k, fixture_got, g) != BE_OK || g->calls != 0)
        return 0;
    if (be_origin_active(w->origin) != 1)
        return 0;
    return fixture_run_until(workers, 1, called, g, BOUND_MS) && g->calls == 1 &&
           be_origin_active(w->origin) == 0;
}

/* ---- file:// ------------------------------------------------------------------------- */

static void
test_origin_file_delivers_verified_block(void)
{
    fixture_got_t g;
    char name[BE_KEY_HEX_LEN + 1];

    setup_file();
    fixture_write_block(dir, data, SIZE, name);
    BE_CHECK_STR(name, hex);
    BE_CHECK(fetch(&key, &g));
    BE_CHECK_INT(g.status, BE_FETCH_OK);
    BE_CHECK(g.block != NULL);
    BE_CHECK_INT(g.block->size, SIZE);
    BE_CHECK(memcmp(g.block->data, data, SIZE) == 0);
    BE_CHECK(be_key_equal(&g.block->key, &key));
    BE_CHECK_INT(atomic_load(&g.block->refs), 1); /* the callee's only */
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_REQUESTS), 1);
    BE_CHECK_INT(fetches_timed(), 1);
    for (int st = 1; st < BE_FETCH_NSTATUS; st++)
        BE_CHECK_INT(errors((be_fetch_status_t)st), 0);
    be_block_unref(&g.block);
    teardown_file();
}

static void
test_origin_file_missing_is_not_found(void)
{
    fixture_got_t g;

    setup_file();
    BE_CHECK(fetch(&key, &g));
    BE_CHECK_INT(g.status, BE_FETCH_NOT_FOUND);
    BE_CHECK(g.block == NULL);
    BE_CHECK_INT(errors(BE_FETCH_NOT_FOUND), 1);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_REQUESTS), 1);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_RETRIES), 0);
    teardown_file();
}

static void
test_origin_file_over_max_block_size_is_too_large(void)
{
    static unsigned char big[MAX_BLOCK + 1];
    char name[BE_KEY_HEX_LEN + 1];
    be_key_t k;
    fixture_got_t g;

    setup_file();
    memset(big, 'b', sizeof(big));
    fixture_write_block(dir, big, sizeof(big), name); /* rightly named, one byte too long */
    BE_CHECK_INT(be_key_from_hex(name, BE_KEY_HEX_LEN, &k), BE_OK);
    BE_CHECK(fetch(&k, &g));
    BE_CHECK_INT(g.status, BE_FETCH_TOO_LARGE);
    BE_CHECK(g.block == NULL);
    BE_CHECK_INT(errors(BE_FETCH_TOO_LARGE), 1);

    fixture_write_block(dir, big, MAX_BLOCK, name); /* exactly at the bound is fine */
    BE_CHECK_INT(be_key_from_hex(name, BE_KEY_HEX_LEN, &k), BE_OK);
    BE_CHECK(fetch(&k, &g));
    BE_CHECK_INT(g.status, BE_FETCH_OK);
    BE_CHECK_INT(g.block->size, MAX_BLOCK);
    be_block_unref(&g.block);
    teardown_file();
}

static void
test_origin_file_wrong_bytes_is_digest_mismatch(void)
{
    unsigned char other[SIZE];
    fixture_got_t g;

    setup_file();
    memcpy(other, data, SIZE);
    other[SIZE - 1] ^= 0x80;
    fixture_write_file(dir, hex, other, SIZE);
    BE_CHECK(fetch(&key, &g));
    BE_CHECK_INT(g.status, BE_FETCH_DIGEST_MISMATCH);
    BE_CHECK(g.block == NULL);
    BE_CHECK_INT(errors(BE_FETCH_DIGEST_MISMATCH), 1);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_RETRIES), 0); /* the server is not at fault: no retry */
    teardown_file();
}

static void
test_origin_file_empty_block_is_a_block(void)
{
    char name[BE_KEY_HEX_LEN + 1];
    be_key_t k;
    fixture_got_t g;

    setup_file();
    fixture_write_block(dir, data, 0, name);
    BE_CHECK_INT(be_key_from_hex(name, BE_KEY_HEX_LEN, &k), BE_OK);
    BE_CHECK(fetch(&k, &g));
    BE_CHECK_INT(g.status, BE_FETCH_OK);
    BE_CHECK(g.block != NULL);
    BE_CHECK_INT(g.block->size, 0);
    be_block_unref(&g.block);
    teardown_file();
}

/* ---- http:// ------------------------------------------------------------------------- */

static void
test_origin_http_200_delivers_verified_block(void)
{
    char line[256];
    fixture_got_t g;

    setup_http(ANS_OK);
    BE_CHECK(fetch(&key, &g));
    BE_CHECK_INT(g.status, BE_FETCH_OK);
    BE_CHECK(g.block != NULL);
    BE_CHECK_INT(g.block->size, SIZE);
    BE_CHECK(memcmp(g.block->data, data, SIZE) == 0);
    BE_CHECK_INT(atomic_load(&srv.requests), 1);
    snprintf(line, sizeof(line), "GET /o/%s HTTP/1.1", hex);
    BE_CHECK_STR(srv.last_line, line);
    BE_CHECK_STR(srv.last_agent, "blockedge/" BE_VERSION);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_REQUESTS), 1);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_CONNECTIONS), 1);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_RETRIES), 0);
    BE_CHECK_INT(fetches_timed(), 1);
    be_block_unref(&g.block);
    teardown_http();
}

static void
test_origin_http_wrong_bytes_is_digest_mismatch_not_retried(void)
{
    fixture_got_t g;

    setup_http(ANS_WRONG_BYTES);
    BE_CHECK(fetch(&key, &g));
    BE_CHECK_INT(g.status, BE_FETCH_DIGEST_MISMATCH);
    BE_CHECK(g.block == NULL);
    BE_CHECK_INT(atomic_load(&srv.requests), 1);
    BE_CHECK_INT(errors(BE_FETCH_DIGEST_MISMATCH), 1);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_REQUESTS), 1);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_RETRIES), 0);
    teardown_http();
}

static void
test_origin_http_404_is_not_found_not_retried(void)
{
    fixture_got_t g;

    setup_http(ANS_404);
    BE_CHECK(fetch(&key, &g));
    BE_CHECK_INT(g.status, BE_FETCH_NOT_FOUND);
    BE_CHECK(g.block == NULL);
    BE_CHECK_INT(atomic_load(&srv.requests), 1);
    BE_CHECK_INT(errors(BE_FETCH_NOT_FOUND), 1);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_RETRIES), 0);
    teardown_http();
}

static void
test_origin_http_500_is_retried_then_fails_with_status(void)
{
    fixture_got_t g;

    setup_http(ANS_500);
    BE_CHECK(fetch(&key, &g));
    BE_CHECK_INT(g.status, BE_FETCH_STATUS);
    BE_CHECK_INT(be_fetch_http_status(g.status), 502);
    BE_CHECK(g.block == NULL);
    BE_CHECK_INT(atomic_load(&srv.requests), 1 + cfg.retries);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_REQUESTS), 1 + cfg.retries);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_RETRIES), cfg.retries);
    BE_CHECK_INT(errors(BE_FETCH_STATUS), 1); /* one fetch, one error */
    BE_CHECK_INT(fetches_timed(), 1);
    teardown_http();
}

static void
test_origin_http_content_length_over_max_is_too_large(void)
{
    fixture_got_t g;

    setup_http(ANS_TOO_LARGE);
    BE_CHECK(fetch(&key, &g));
    BE_CHECK_INT(g.status, BE_FETCH_TOO_LARGE);
    BE_CHECK(g.block == NULL);
    BE_CHECK_INT(atomic_load(&srv.requests), 1);
    BE_CHECK_INT(errors(BE_FETCH_TOO_LARGE), 1);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_RETRIES), 0);
    teardown_http();
}

static void
test_origin_http_200_without_length_delivers_verified_block(void)
{
    fixture_got_t g;

    setup_http(ANS_NO_LENGTH);
    BE_CHECK(fetch(&key, &g));
    BE_CHECK_INT(g.status, BE_FETCH_OK);
    BE_CHECK(g.block != NULL);
    BE_CHECK_INT(g.block->size, SIZE);
    BE_CHECK(memcmp(g.block->data, data, SIZE) == 0);
    BE_CHECK_INT(atomic_load(&srv.requests), 1);
    be_block_unref(&g.block);
    teardown_http();
}

static void
test_origin_http_200_without_length_over_max_is_too_large(void)
{
    fixture_got_t g;

    setup_http(ANS_NO_LENGTH_TOO_LARGE);
    BE_CHECK(fetch(&key, &g));
    BE_CHECK_INT(g.status, BE_FETCH_TOO_LARGE);
    BE_CHECK(g.block == NULL);
    BE_CHECK_INT(atomic_load(&srv.requests), 1);
    BE_CHECK_INT(errors(BE_FETCH_TOO_LARGE), 1);
    teardown_http();
}

static void
test_origin_http_truncated_body_is_retried_then_fails(void)
{
    fixture_got_t g;

    setup_http(ANS_TRUNCATED);
    BE_CHECK(fetch(&key, &g));
    BE_CHECK_INT(g.status, BE_FETCH_STATUS);
    BE_CHECK(g.block == NULL);
    BE_CHECK_INT(atomic_load(&srv.requests), 1 + cfg.retries); /* a broken transfer retries */
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_RETRIES), cfg.retries);
    BE_CHECK_INT(errors(BE_FETCH_STATUS), 1);
    teardown_http();
}

static void
test_origin_http_silent_origin_times_out(void)
{
    fixture_got_t g;

    config();
    cfg.retries = 0;
    cfg.read_timeout = 300;
    origin_start(ANS_STALL);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/o/", srv.port);
    fixture_http_origin(&cfg, url);
    build();
    int64_t t0 = fixture_now_ms();
    BE_CHECK(fetch(&key, &g));
    BE_CHECK(fixture_now_ms() - t0 >= 250); /* not before read_timeout (a lower bound only) */
    BE_CHECK_INT(g.status, BE_FETCH_TIMEOUT);
    BE_CHECK_INT(be_fetch_http_status(g.status), 504);
    BE_CHECK(g.block == NULL);
    BE_CHECK_INT(atomic_load(&srv.requests), 1);
    BE_CHECK_INT(errors(BE_FETCH_TIMEOUT), 1);
    teardown_http();
}

static void
test_origin_http_refused_connection_is_retried_then_connect(void)
{
    char url[128];
    fixture_got_t g;
    int port;

    config();
    close(listen_any(&port)); /* a port where nobody listens now */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/o/", port);
    fixture_http_origin(&cfg, url);
    build();
    BE_CHECK(fetch(&key, &g));
    BE_CHECK_INT(g.status, BE_FETCH_CONNECT);
    BE_CHECK_INT(be_fetch_http_status(g.status), 502);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_REQUESTS), 1 + cfg.retries);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_RETRIES), cfg.retries);
    BE_CHECK_INT(errors(BE_FETCH_CONNECT), 1);
    fixture_down(&node);
}

static void
test_origin_fetch_timeout_ends_a_silent_fetch_without_retry(void)
{
    fixture_got_t g;

    config();
    cfg.read_timeout = 5000; /* the fetch's deadline comes first */
    cfg.fetch_timeout = 300;
    origin_start(ANS_STALL);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/o/", srv.port);
    fixture_http_origin(&cfg, url);
    build();
    int64_t t0 = fixture_now_ms();
    BE_CHECK(fetch(&key, &g));
    BE_CHECK(fixture_now_ms() - t0 >= 250);
    BE_CHECK_INT(g.status, BE_FETCH_TIMEOUT);
    BE_CHECK_INT(atomic_load(&srv.requests), 1); /* past the deadline: no retry */
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_RETRIES), 0);
    BE_CHECK_INT(errors(BE_FETCH_TIMEOUT), 1);
    teardown_http();
}

static void
test_origin_connect_error_fails_over_and_marks_server_down(void)
{
    char dead[128], live[128];
    fixture_got_t g;
    int port;

    config();
    cfg.max_fails = 1;
    cfg.fail_timeout = 60000; /* stays down for the whole test */
    close(listen_any(&port));
    snprintf(dead, sizeof(dead), "http://127.0.0.1:%d/o/", port);
    fixture_http_origin(&cfg, dead);
    origin_start(ANS_OK);
    snprintf(live, sizeof(live), "http://127.0.0.1:%d/o/", srv.port);
    add_http_server(live, 0);
    build();

    /* the first attempt goes to the first server, the retry to the other one */
    BE_CHECK(fetch(&key, &g));
    BE_CHECK_INT(g.status, BE_FETCH_OK);
    BE_CHECK(memcmp(g.block->data, data, SIZE) == 0);
    be_block_unref(&g.block);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_REQUESTS), 2);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_RETRIES), 1);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_MARKED_DOWN), 1);
    BE_CHECK_INT(atomic_load(&srv.requests), 1);
    BE_CHECK(marked_down(dead) == 1);
    BE_CHECK(marked_down(live) == 0);
    for (int st = 1; st < BE_FETCH_NSTATUS; st++)
        BE_CHECK_INT(errors((be_fetch_status_t)st), 0); /* the fetch succeeded */

    /* while it is down, fetches go straight to the live one */
    for (int i = 0; i < 3; i++) {
        BE_CHECK(fetch(&key, &g));
        BE_CHECK_INT(g.status, BE_FETCH_OK);
        be_block_unref(&g.block);
    }
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_REQUESTS), 2 + 3);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_RETRIES), 1);
    BE_CHECK_INT(atomic_load(&srv.requests), 1 + 3);
    teardown_http();
}

static void
test_origin_every_server_down_fails_at_once_from_the_loop(void)
{
    char a[128], b[128];
    fixture_got_t g;
    int pa, pb;

    config();
    cfg.max_fails = 1;
    cfg.fail_timeout = 60000;
    int fa = listen_any(&pa), fb = listen_any(&pb); /* two ports, both closed below */
    close(fa);
    close(fb);
    snprintf(a, sizeof(a), "http://127.0.0.1:%d/o/", pa);
    snprintf(b, sizeof(b), "http://127.0.0.1:%d/o/", pb);
    fixture_http_origin(&cfg, a);
    add_http_server(b, 0);
    build();

    BE_CHECK(fetch(&key, &g)); /* tries both: both marked down */
    BE_CHECK_INT(g.status, BE_FETCH_CONNECT);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_REQUESTS), 2);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_MARKED_DOWN), 2);
    BE_CHECK(marked_down(a) == 1 && marked_down(b) == 1);

    BE_CHECK(fetch(&key, &g)); /* nobody left to ask: no attempt, the answer from the loop */
    BE_CHECK_INT(g.status, BE_FETCH_CONNECT);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_REQUESTS), 2);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_UNAVAILABLE), 1);
    BE_CHECK_INT(errors(BE_FETCH_CONNECT), 2);
    BE_CHECK_INT(fetches_timed(), 2);
    fixture_down(&node);
}

static int
origin_asked(void *arg)
{
    BE_UNUSED(arg);
    return atomic_load(&srv.requests) > 0;
}

static void
test_origin_free_ends_fetch_under_way_once(void)
{
    fixture_got_t g = {0};

    setup_http(ANS_STALL);
    BE_CHECK_INT(be_origin_fetch(w->origin, &key, fixture_got, &g), BE_OK);
    BE_CHECK(fixture_run_until(workers, 1, origin_asked, NULL, BOUND_MS));
    BE_CHECK_INT(g.calls, 0);
    fixture_down(&node); /* the server frees the origin client: the fetch ends now */
    BE_CHECK_INT(g.calls, 1);
    BE_CHECK_INT(g.status, BE_FETCH_CONNECT);
    BE_CHECK(g.block == NULL);
    origin_stop();
}

/* Holds every thread of the file I/O pool until *gate is set. */
static atomic_int gate;
static atomic_int held;

static void
hold(void *arg)
{
    BE_UNUSED(arg);
    atomic_fetch_add(&held, 1);
    int64_t end = fixture_now_ms() + BOUND_MS;
    while (!atomic_load(&gate) && fixture_now_ms() < end)
        usleep(1000);
}

static void
held_done(void *arg)
{
    BE_UNUSED(arg);
}

/*
 * Freeing the client while a file:// read is still queued on the I/O pool: the fetch gets
 * its one callback (connect) at once, and the read that runs afterwards touches nothing of
 * the freed client (it once read f->o->cfg on the pool thread after the free set f->o to
 * NULL). The pool's threads are held so the read is certainly still queued at the free.
 */
static void
test_origin_free_with_file_read_queued_calls_back_once(void)
{
    char name[BE_KEY_HEX_LEN + 1];
    fixture_got_t g = {0};

    setup_file();
    fixture_write_block(dir, data, SIZE, name);
    atomic_store(&gate, 0);
    atomic_store(&held, 0);
    for (int i = 0; i < 2; i++) /* the server's file pool has two threads */
        BE_CHECK_INT(be_iopool_submit(svc->iopool, w, hold, held_done, NULL), BE_OK);
    while (atomic_load(&held) < 2)
        usleep(1000);
    BE_CHECK_INT(be_origin_fetch(w->origin, &key, fixture_got, &g), BE_OK); /* queued */
    be_origin_free(&w->origin);
    BE_CHECK(w->origin == NULL);
    atomic_store(&gate, 1); /* the read runs now, after the free */
    fixture_down(&node);    /* drains the pool and runs the completions */
    BE_CHECK_INT(g.calls, 1);
    BE_CHECK_INT(g.status, BE_FETCH_CONNECT);
    be_block_unref(&g.block);
    fixture_rmdir(dir);
}

int
main(void)
{
    /* the scripted origin is on 127.0.0.1: no proxy from the environment may sit between */
    static const char *const proxies[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
                                          "HTTPS_PROXY", "all_proxy",  "ALL_PROXY"};
    for (size_t i = 0; i < BE_ARRAY_LEN(proxies); i++)
        unsetenv(proxies[i]);
    signal(SIGPIPE, SIG_IGN);
    BE_RUN(test_origin_file_delivers_verified_block);
    BE_RUN(test_origin_file_missing_is_not_found);
    BE_RUN(test_origin_file_over_max_block_size_is_too_large);
    BE_RUN(test_origin_file_wrong_bytes_is_digest_mismatch);
    BE_RUN(test_origin_file_empty_block_is_a_block);
    BE_RUN(test_origin_http_200_delivers_verified_block);
    BE_RUN(test_origin_http_wrong_bytes_is_digest_mismatch_not_retried);
    BE_RUN(test_origin_http_404_is_not_found_not_retried);
    BE_RUN(test_origin_http_500_is_retried_then_fails_with_status);
    BE_RUN(test_origin_http_content_length_over_max_is_too_large);
    BE_RUN(test_origin_http_200_without_length_delivers_verified_block);
    BE_RUN(test_origin_http_200_without_length_over_max_is_too_large);
    BE_RUN(test_origin_http_truncated_body_is_retried_then_fails);
    BE_RUN(test_origin_http_silent_origin_times_out);
    BE_RUN(test_origin_http_refused_connection_is_retried_then_connect);
    BE_RUN(test_origin_fetch_timeout_ends_a_silent_fetch_without_retry);
    BE_RUN(test_origin_connect_error_fails_over_and_marks_server_down);
    BE_RUN(test_origin_every_server_down_fails_at_once_from_the_loop);
    BE_RUN(test_origin_free_ends_fetch_under_way_once);
    BE_RUN(test_origin_free_with_file_read_queued_calls_back_once);
    be_server_global_cleanup();
    BE_TEST_EXIT();
}
