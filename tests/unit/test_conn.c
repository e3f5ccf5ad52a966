/*
 * test_conn.c - an accepted connection's life: the sniff (the 24-byte HTTP/2 preface,
 * whole or in pieces, against HTTP/1 from the first byte that differs), the
 * max_connections refusal, the timers (no bytes, half a head, an idle keep-alive
 * connection, an idle HTTP/2 session, one whose SETTINGS are never acknowledged, a client
 * that stops reading), a graceful shutdown that finishes a busy connection first and
 * answers a request whose head was arriving, the lingering close of a TCP connection whose
 * client has not taken the last bytes, and the close-reason counters: each closed
 * connection counted once under its reason.
 *
 * The node is built through the server object (one worker, never started) with small
 * timeouts and limits per test, and a file:// origin in a fresh temporary directory. Each
 * client is one end of a socketpair whose other end goes to be_conn_accept(). Timer tests
 * turn the worker's loop in real time until the server closes, bounded far above the
 * timeouts (which are 200 ms); they check only that nothing closed before its time.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "blockedge/config.h"
#include "blockedge/conn.h"
#include "blockedge/connlimit.h"
#include "blockedge/http2.h"
#include "blockedge/inflight.h"
#include "blockedge/server.h"
#include "blockedge/services.h"
#include "blockedge/stats.h"
#include "blockedge/worker.h"
#include "fixture.h"
#include "test.h"

#define IDLE_TURNS 20
#define BOUND_MS   5000
#define SHORT_MS   200 /* the timeouts under test */

static be_config_t cfg;
static be_server_t *node;
static be_services_t *svc;
static be_worker_t *workers[1];
static be_worker_t *w;
static char dir[512];

/* An empty SETTINGS frame and a SETTINGS ACK: with the preface, a whole h2 start. */
static const unsigned char settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
static const unsigned char settings_ack[9] = {0, 0, 0, 4, 1, 0, 0, 0, 0};

static const char get_nothing[] = "GET /nothing HTTP/1.1\r\nHost: e\r\n\r\n";

typedef struct client_s {
    int fd;
    unsigned char in[64 * 1024];
    size_t len;
    int closed;
} client_t;

/* The config the tests share; a test changes it between config() and build(). */
static void
config(void)
{
    fixture_tmpdir(dir, sizeof(dir), "conn");
    fixture_config(&cfg, 1);
    fixture_file_origin(&cfg, dir);
}

static void
build(void)
{
    node = fixture_build(&cfg, &svc, workers, 1, "test_conn");
    w = workers[0];
}

static void
setup(void)
{
    config();
    build();
}

static void
teardown(void)
{
    fixture_down(&node);
    fixture_rmdir(dir);
    w = NULL;
}

static void
client_open(client_t *c)
{
    memset(c, 0, sizeof(*c));
    c->fd = fixture_connect(w, "test_conn");
}

static size_t
client_read(client_t *c)
{
    return fixture_read(c->fd, c->in, sizeof(c->in), &c->len, &c->closed);
}

/* Turns the loop until the server closed or nothing moved for IDLE_TURNS turns. */
static void
pump(client_t *c)
{
    for (int idle = 0; idle < IDLE_TURNS && !c->closed;) {
        event_base_loop(w->base, EVLOOP_NONBLOCK);
        idle = client_read(c) > 0 ? 0 : idle + 1;
    }
}

static void
client_send(client_t *c, const void *buf, size_t len)
{
    if (write(c->fd, buf, len) != (ssize_t)len) {
        perror("test_conn: write");
        exit(1);
    }
    pump(c);
}

static void
client_close(client_t *c)
{
    close(c->fd);
    c->fd = -1;
    for (int i = 0; i < IDLE_TURNS; i++)
        event_base_loop(w->base, EVLOOP_NONBLOCK);
}

static int
server_closed(void *arg)
{
    client_t *c = arg;
    client_read(c);
    return c->closed;
}

/* Turns the loop in real time until the server closes c; returns the milliseconds since
 * t0 (taken before whatever armed the timer under test), or -1 when the bound passed. */
static int64_t
wait_closed(client_t *c, int64_t t0)
{
    if (!fixture_run_until(workers, 1, server_closed, c, BOUND_MS))
        return -1;
    return fixture_now_ms() - t0;
}

static uint64_t
closed(int reason)
{
    return be_stat_get(&w->stats.closed[reason]);
}

static uint64_t
closed_total(void)
{
    uint64_t n = 0;
    for (int i = 0; i < BE_CLOSE_N; i++)
        n += closed(i);
    return n;
}

static uint64_t
requests(int proto, int code)
{
    return be_stat_get(&w->stats.requests[proto][be_stats_code_index(code)]);
}

static uint64_t
ctr(int id)
{
    return be_stat_get(&w->stats.ctr[id]);
}

/* The type of the first frame the server sent, or -1. */
static int
first_frame_type(const client_t *c)
{
    return c->len >= 9 ? c->in[3] : -1;
}

/* Whether a frame of this type is among those the client received. */
static int
has_frame(const client_t *c, int type)
{
    size_t off = 0;
    while (off + 9 <= c->len) {
        size_t len = (size_t)c->in[off] << 16 | (size_t)c->in[off + 1] << 8 | c->in[off + 2];
        if (c->in[off + 3] == type)
            return 1;
        off += 9 + len;
    }
    return 0;
}

/* ---- the sniff ---------------------------------------------------------------------- */

static void
test_conn_h2_preface_starts_http2(void)
{
    client_t c;

    setup();
    client_open(&c);
    BE_CHECK_INT(w->conns->state, BE_CONN_SNIFF);
    BE_CHECK_INT(c.len, 0); /* the server says nothing first */
    client_send(&c, BE_H2_PREFACE, BE_H2_PREFACE_LEN);
    BE_CHECK_INT(w->conns->state, BE_CONN_HTTP2);
    BE_CHECK(w->conns->h2 != NULL);
    BE_CHECK_INT(first_frame_type(&c), 4); /* the server's SETTINGS, on stream 0 */
    BE_CHECK(memcmp(c.in + 5, "\0\0\0\0", 4) == 0);
    BE_CHECK(!c.closed);

    client_send(&c, settings, sizeof(settings));
    BE_CHECK(shutdown(c.fd, SHUT_WR) == 0); /* a half-close: the session ends cleanly */
    BE_CHECK(wait_closed(&c, fixture_now_ms()) >= 0);
    BE_CHECK(has_frame(&c, 7)); /* GOAWAY */
    BE_CHECK_INT(w->nconns, 0);
    BE_CHECK_INT(closed(BE_CLOSE_CLIENT), 1);
    BE_CHECK_INT(closed_total(), 1);
    close(c.fd);
    teardown();
}

static void
test_conn_h2_preface_in_pieces_waits_then_http2(void)
{
    client_t c;

    setup();
    client_open(&c);
    client_send(&c, BE_H2_PREFACE, 1);
    BE_CHECK_INT(w->conns->state, BE_CONN_SNIFF);
    client_send(&c, BE_H2_PREFACE + 1, 15);
    BE_CHECK_INT(w->conns->state, BE_CONN_SNIFF);
    BE_CHECK_INT(c.len, 0);
    client_send(&c, BE_H2_PREFACE + 16, BE_H2_PREFACE_LEN - 16);
    BE_CHECK_INT(w->conns->state, BE_CONN_HTTP2);
    BE_CHECK_INT(first_frame_type(&c), 4);
    client_close(&c);
    BE_CHECK_INT(w->nconns, 0);
    BE_CHECK_INT(closed_total(), 1);
    teardown();
}

static void
test_conn_http1_chosen_at_first_byte_off_the_preface(void)
{
    static const char pri11[] = "PRI * HTTP/1.1\r\nHost: e\r\n\r\n";
    client_t c;

    setup();
    /* a plain request differs at its first byte */
    client_open(&c);
    client_send(&c, "G", 1);
    BE_CHECK_INT(w->conns->state, BE_CONN_HTTP1);
    client_send(&c, get_nothing + 1, strlen(get_nothing) - 1);
    BE_CHECK(c.len > 12 && memcmp(c.in, "HTTP/1.1 404", 12) == 0);
    client_close(&c);

    /* a prefix of the preface waits; the first byte off it decides HTTP/1 */
    client_open(&c);
    client_send(&c, pri11, 11); /* "PRI * HTTP/" */
    BE_CHECK_INT(w->conns->state, BE_CONN_SNIFF);
    BE_CHECK_INT(c.len, 0);
    client_send(&c, pri11 + 11, strlen(pri11) - 11);
    BE_CHECK(w->nconns == 0 || w->conns->state == BE_CONN_HTTP1);
    BE_CHECK(c.len > 9 && memcmp(c.in, "HTTP/1.1 ", 9) == 0); /* answered as HTTP/1.1 */
    client_close(&c);
    BE_CHECK_INT(w->nconns, 0);
    BE_CHECK_INT(requests(BE_PROTO_HTTP1, 404) + requests(BE_PROTO_HTTP1, 400) +
                     requests(BE_PROTO_HTTP1, 405),
                 2);
    BE_CHECK_INT(requests(BE_PROTO_HTTP2, 200), 0);
    teardown();
}

/* ---- limits ------------------------------------------------------------------------ */

static void
test_conn_over_max_connections_refused_and_counted(void)
{
    client_t c[4];

    config();
    cfg.max_connections = 2; /* one worker: two connections */
    build();
    BE_CHECK_INT(w->max_conns, 2);
    client_open(&c[0]);
    client_open(&c[1]);
    client_open(&c[2]);
    BE_CHECK_INT(w->nconns, 2);
    pump(&c[2]);
    BE_CHECK(c[2].closed); /* closed at once, nothing said */
    BE_CHECK_INT(c[2].len, 0);
    BE_CHECK_INT(closed(BE_CLOSE_LIMIT), 1);
    BE_CHECK_INT(ctr(BE_CTR_CONNECTIONS_ACCEPTED), 2);
    BE_CHECK_INT(ctr(BE_CTR_CONNECTIONS_OPEN), 2);

    /* the two accepted ones serve */
    client_send(&c[0], get_nothing, strlen(get_nothing));
    client_send(&c[1], get_nothing, strlen(get_nothing));
    BE_CHECK(c[0].len > 12 && memcmp(c[0].in, "HTTP/1.1 404", 12) == 0);
    BE_CHECK(c[1].len > 12 && memcmp(c[1].in, "HTTP/1.1 404", 12) == 0);

    /* one leaves: room for one more */
    client_close(&c[0]);
    client_open(&c[3]);
    BE_CHECK_INT(w->nconns, 2);
    client_send(&c[3], get_nothing, strlen(get_nothing));
    BE_CHECK(c[3].len > 12 && memcmp(c[3].in, "HTTP/1.1 404", 12) == 0);
    BE_CHECK_INT(closed(BE_CLOSE_LIMIT), 1);
    BE_CHECK_INT(ctr(BE_CTR_CONNECTIONS_ACCEPTED), 3);
    close(c[2].fd);
    client_close(&c[1]);
    client_close(&c[3]);
    BE_CHECK_INT(ctr(BE_CTR_CONNECTIONS_OPEN), 0);
    BE_CHECK_INT(closed(BE_CLOSE_CLIENT), 3);
    BE_CHECK_INT(closed_total(), 4);
    teardown();
}

static void
test_conn_over_max_connections_per_ip_refused_counted_and_released(void)
{
    client_t c[4];
    be_connkey_t local;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    config();
    cfg.max_connections_per_ip = 2; /* every fixture client comes from 127.0.0.1 */
    build();
    BE_CHECK_INT(be_connlimit_key((struct sockaddr *)&sin, &local), BE_OK);
    client_open(&c[0]);
    client_open(&c[1]);
    client_open(&c[2]);
    BE_CHECK_INT(w->nconns, 2);
    BE_CHECK_INT(be_connlimit_count(svc->connlimit, &local), 2);
    pump(&c[2]);
    BE_CHECK(c[2].closed); /* closed at once, nothing said */
    BE_CHECK_INT(c[2].len, 0);
    BE_CHECK_INT(closed(BE_CLOSE_PER_IP_LIMIT), 1);
    BE_CHECK_INT(ctr(BE_CTR_CONNECTIONS_ACCEPTED), 2);

    /* one ends after an answer (its own close path): room for one more */
    client_send(&c[0], get_nothing, strlen(get_nothing));
    BE_CHECK(c[0].len > 12 && memcmp(c[0].in, "HTTP/1.1 404", 12) == 0);
    client_close(&c[0]);
    BE_CHECK_INT(be_connlimit_count(svc->connlimit, &local), 1);
    client_open(&c[3]);
    BE_CHECK_INT(w->nconns, 2);
    BE_CHECK_INT(closed(BE_CLOSE_PER_IP_LIMIT), 1);

    /* the end of a worker's loop frees what is left, releasing each exactly once */
    close(c[2].fd);
    be_conn_free_all(w);
    BE_CHECK_INT(w->nconns, 0);
    BE_CHECK_INT(be_connlimit_count(svc->connlimit, &local), 0);
    BE_CHECK_INT(be_connlimit_entries(svc->connlimit), 0);
    close(c[1].fd);
    close(c[3].fd);
    teardown();
}

/* ---- timers ------------------------------------------------------------------------- */

static void
test_conn_silent_client_closed_at_header_timeout(void)
{
    client_t c;

    config();
    cfg.client_header_timeout = SHORT_MS;
    build();
    int64_t t0 = fixture_now_ms();
    client_open(&c);
    int64_t ms = wait_closed(&c, t0);
    BE_CHECK(ms >= 0);
    BE_CHECK(ms >= SHORT_MS / 2); /* not before its time (a lower bound only) */
    BE_CHECK_INT(c.len, 0);       /* no protocol yet: nothing to answer with */
    BE_CHECK_INT(w->nconns, 0);
    BE_CHECK_INT(closed(BE_CLOSE_HEADER_TIMEOUT), 1);
    BE_CHECK_INT(closed_total(), 1);
    close(c.fd);
    teardown();
}

static void
test_conn_half_a_head_gets_408_at_header_timeout(void)
{
    client_t c;

    config();
    cfg.client_header_timeout = SHORT_MS;
    build();
    client_open(&c);
    client_send(&c, "GET /nothing HTTP/1.1\r\nHo", 25);
    BE_CHECK_INT(c.len, 0);
    BE_CHECK(wait_closed(&c, fixture_now_ms()) >= 0);
    BE_CHECK(c.len > 12 && memcmp(c.in, "HTTP/1.1 408", 12) == 0);
    BE_CHECK_INT(requests(BE_PROTO_HTTP1, 408), 1);
    BE_CHECK_INT(closed(BE_CLOSE_HEADER_TIMEOUT), 1);
    BE_CHECK_INT(closed_total(), 1);
    close(c.fd);
    teardown();
}

static void
test_conn_idle_keepalive_connection_closed_at_keepalive_timeout(void)
{
    client_t c;

    config();
    cfg.keepalive_timeout = SHORT_MS;
    build();
    client_open(&c);
    int64_t t0 = fixture_now_ms();
    client_send(&c, get_nothing, strlen(get_nothing));
    BE_CHECK(c.len > 12 && memcmp(c.in, "HTTP/1.1 404", 12) == 0);
    BE_CHECK(memmem(c.in, c.len, "connection: keep-alive", 22) != NULL);
    size_t answered = c.len;
    int64_t ms = wait_closed(&c, t0);
    BE_CHECK(ms >= 0);
    BE_CHECK(ms >= SHORT_MS / 2);
    BE_CHECK_INT(c.len, answered); /* closed without another word */
    BE_CHECK_INT(closed(BE_CLOSE_IDLE_TIMEOUT), 1);
    BE_CHECK_INT(closed_total(), 1);
    close(c.fd);
    teardown();
}

static void
test_conn_idle_http2_session_gets_goaway_at_keepalive_timeout(void)
{
    client_t c;

    config();
    cfg.keepalive_timeout = SHORT_MS;
    build();
    client_open(&c);
    int64_t t0 = fixture_now_ms();
    client_send(&c, BE_H2_PREFACE, BE_H2_PREFACE_LEN);
    client_send(&c, settings, sizeof(settings));
    client_send(&c, settings_ack, sizeof(settings_ack));
    BE_CHECK_INT(w->conns->state, BE_CONN_HTTP2);
    BE_CHECK(!has_frame(&c, 7));
    int64_t ms = wait_closed(&c, t0);
    BE_CHECK(ms >= 0);
    BE_CHECK(ms >= SHORT_MS / 2);
    BE_CHECK(has_frame(&c, 7)); /* told why before the close */
    BE_CHECK_INT(closed(BE_CLOSE_IDLE_TIMEOUT), 1);
    BE_CHECK_INT(closed_total(), 1);
    close(c.fd);
    teardown();
}

static void
test_conn_http2_settings_never_acked_closed_at_header_timeout(void)
{
    client_t c;

    config();
    cfg.client_header_timeout = SHORT_MS;
    build();
    int64_t t0 = fixture_now_ms();
    client_open(&c);
    client_send(&c, BE_H2_PREFACE, BE_H2_PREFACE_LEN);
    client_send(&c, settings, sizeof(settings)); /* but no ACK of the server's */
    BE_CHECK_INT(w->conns->state, BE_CONN_HTTP2);
    int64_t ms = wait_closed(&c, t0);
    BE_CHECK(ms >= 0);
    BE_CHECK(ms >= SHORT_MS / 2);
    BE_CHECK(has_frame(&c, 7)); /* GOAWAY (SETTINGS_TIMEOUT) first */
    BE_CHECK_INT(closed(BE_CLOSE_HEADER_TIMEOUT), 1);
    BE_CHECK_INT(closed_total(), 1);
    close(c.fd);
    teardown();
}

static int
no_conns(void *arg)
{
    BE_UNUSED(arg);
    return w->nconns == 0;
}

static void
test_conn_reader_that_stops_reading_closed_at_send_timeout(void)
{
    enum { BIG = 2 * 1024 * 1024 }; /* more than the socket pair holds */
    static unsigned char big[BIG];
    char hex[BE_KEY_HEX_LEN + 1], req[256];
    client_t c;

    config();
    cfg.memory_size = 4 * 1024 * 1024;
    cfg.send_timeout = SHORT_MS;
    build();
    memset(big, 'y', BIG);
    fixture_cache_block(svc, big, BIG, hex);
    client_open(&c);
    int n = snprintf(req, sizeof(req), "GET /blocks/%s HTTP/1.1\r\nHost: e\r\n\r\n", hex);
    BE_CHECK(write(c.fd, req, (size_t)n) == n); /* and never a read */
    int64_t t0 = fixture_now_ms();
    BE_CHECK(fixture_run_until(workers, 1, no_conns, NULL, BOUND_MS));
    BE_CHECK(fixture_now_ms() - t0 >= SHORT_MS / 2);
    BE_CHECK_INT(closed(BE_CLOSE_SEND_TIMEOUT), 1);
    BE_CHECK_INT(closed_total(), 1);
    BE_CHECK_INT(requests(BE_PROTO_HTTP1, 200), 1); /* answered, then cut off */
    close(c.fd);
    teardown();
}

/* ---- shutdown and close reasons ---------------------------------------------------- */

static void
on_leader(void *arg, be_fetch_status_t status, be_block_t *block)
{
    BE_UNUSED(status);
    *(int *)arg += 1;
    be_block_unref(&block);
}

static void
test_conn_shutdown_closes_idle_and_finishes_busy_first(void)
{
    enum { SIZE = 3000 };
    unsigned char data[SIZE];
    char hex[BE_KEY_HEX_LEN + 1], req[256];
    client_t idle, sniffing, busy;
    be_key_t key;
    be_waiter_t *leader;
    be_block_t *hit = NULL, *b;
    int leader_calls = 0;

    setup();
    for (int i = 0; i < SIZE; i++)
        data[i] = (unsigned char)(i ^ 0x5a);
    be_sha256(data, SIZE, &key);
    be_key_to_hex(&key, hex);
    /* the test leads the key's fetch itself, so the request below waits until it says */
    BE_CHECK_INT(be_inflight_join(svc->inflight, svc->memcache, &key, w, BE_TIER_MISS, on_leader,
                                  &leader_calls, NULL, &leader, &hit, 0),
                 BE_OK);
    client_open(&idle);
    client_send(&idle, get_nothing, strlen(get_nothing));
    client_open(&sniffing);
    client_open(&busy);
    int n = snprintf(req, sizeof(req), "GET /blocks/%s HTTP/1.1\r\nHost: e\r\n\r\n", hex);
    client_send(&busy, req, (size_t)n);
    BE_CHECK_INT(busy.len, 0); /* waiting on the fetch */
    BE_CHECK_INT(w->nconns, 3);
    BE_CHECK_INT(ctr(BE_CTR_COALESCED), 1);

    be_conn_shutdown_all(w);
    BE_CHECK_INT(w->nconns, 1); /* the idle ones are gone at once */
    BE_CHECK_INT(closed(BE_CLOSE_SHUTDOWN), 2);
    fixture_turns(workers, 1, 1); /* libevent closes a freed socket from its loop */
    client_read(&idle);
    client_read(&sniffing);
    BE_CHECK(idle.closed && sniffing.closed);

    b = be_block_new(&key, SIZE);
    BE_CHECK(b != NULL);
    memcpy(b->data, data, SIZE);
    b->size = SIZE;
    be_inflight_complete(svc->inflight, &key, BE_FETCH_OK, b);
    be_block_unref(&b);
    BE_CHECK(wait_closed(&busy, fixture_now_ms()) >= 0); /* the busy one answers, then closes */
    const unsigned char *body = memmem(busy.in, busy.len, "\r\n\r\n", 4);
    BE_CHECK(busy.len > 12 && memcmp(busy.in, "HTTP/1.1 200", 12) == 0);
    BE_CHECK(memmem(busy.in, busy.len, "connection: close", 17) != NULL);
    BE_CHECK(body != NULL && (size_t)(busy.in + busy.len - (body + 4)) == SIZE);
    BE_CHECK(memcmp(body + 4, data, SIZE) == 0);
    BE_CHECK_INT(leader_calls, 1);
    BE_CHECK_INT(closed(BE_CLOSE_SHUTDOWN), 3);
    BE_CHECK_INT(closed_total(), 3);
    BE_CHECK_INT(w->nconns, 0);
    close(idle.fd);
    close(sniffing.fd);
    close(busy.fd);
    teardown();
}

static void
test_conn_shutdown_answers_a_head_that_was_arriving(void)
{
    static const char head[] = "GET /nothing HTTP/1.1\r\nHost: e\r\n";
    client_t half;

    setup();
    client_open(&half);
    client_send(&half, head, strlen(head)); /* the blank line is still to come */
    BE_CHECK_INT(half.len, 0);
    w->stopping = 1; /* as be_worker_stop() does before it winds the connections down */
    be_conn_shutdown_all(w);
    BE_CHECK_INT(w->nconns, 1);
    BE_CHECK_INT(closed_total(), 0);
    client_send(&half, "\r\n", 2);
    BE_CHECK(wait_closed(&half, fixture_now_ms()) >= 0);
    BE_CHECK(half.len > 12 && memcmp(half.in, "HTTP/1.1 404", 12) == 0);
    BE_CHECK(memmem(half.in, half.len, "connection: close", 17) != NULL);
    BE_CHECK_INT(closed(BE_CLOSE_SHUTDOWN), 1);
    BE_CHECK_INT(closed_total(), 1);
    BE_CHECK_INT(w->nconns, 0);
    close(half.fd);
    teardown();
}

/* ---- lingering close --------------------------------------------------------------- */

/* A TCP connection over loopback: the client's end (small receive buffer, non-blocking) is
 * returned, the server's end goes to be_conn_accept(). Socket pairs never linger. */
static int
tcp_connect(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int small = 16384;
    int l = socket(AF_INET, SOCK_STREAM, 0), fd = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || fd < 0 || bind(l, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        listen(l, 1) != 0 || getsockname(l, (struct sockaddr *)&sin, &len) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) != 0 ||
        connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        perror("test_conn: loopback TCP");
        exit(1);
    }
    int s = accept4(l, NULL, NULL, SOCK_NONBLOCK);
    close(l);
    if (s < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        perror("test_conn: accept4");
        exit(1);
    }
    be_conn_accept(w, s, (struct sockaddr *)&sin, sizeof(sin), 0);
    return fd;
}

static int
lingering(void *arg)
{
    BE_UNUSED(arg);
    return w->conns != NULL && w->conns->state == BE_CONN_LINGER;
}

/* Reads what the server sent into big[*len..); returns 1 at EOF. */
static int
read_some(int fd, unsigned char *big, size_t cap, size_t *len)
{
    int eof = 0;
    fixture_read(fd, big, cap, len, &eof);
    return eof;
}

/* A "Connection: close" answer of 2 MiB to a client that reads it slowly: the server has
 * written its last byte long before the client takes it, and the client sends more bytes
 * meanwhile (a pipelined request). The server lingers (write side shut, input dropped)
 * instead of closing, so its kernel does not reset the connection and drop the tail; the
 * client reads every byte and EOF, and when it hangs up the connection is counted done. */
static void
test_conn_tcp_close_lingers_until_the_client_took_every_byte(void)
{
    enum { BIG = 2 * 1024 * 1024 };
    static unsigned char block[BIG], got[BIG + 4096];
    char hex[BE_KEY_HEX_LEN + 1], req[256];
    size_t len = 0;

    config();
    cfg.memory_size = 4 * 1024 * 1024;
    build();
    for (int i = 0; i < BIG; i++)
        block[i] = (unsigned char)(i * 7 + (i >> 12));
    fixture_cache_block(svc, block, BIG, hex);
    int fd = tcp_connect();
    int n = snprintf(req, sizeof(req),
                     "GET /blocks/%s HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n", hex);
    BE_CHECK(write(fd, req, (size_t)n) == n);
    /* read a little at a time until the server has handed everything to its kernel */
    int64_t end = fixture_now_ms() + BOUND_MS;
    while (!lingering(NULL) && fixture_now_ms() < end) {
        fixture_turns(workers, 1, 1);
        if (len < BIG / 2)
            read_some(fd, got, 4096 + len, &len);
    }
    BE_CHECK(lingering(NULL));
    BE_CHECK(len < BIG); /* the kernel still holds the tail */
    BE_CHECK_INT(closed_total(), 0);
    BE_CHECK_INT(requests(BE_PROTO_HTTP1, 200), 1);
    BE_CHECK(write(fd, req, (size_t)n) == n); /* a late request: dropped, not a reset */
    int eof = 0;
    end = fixture_now_ms() + BOUND_MS;
    while (!eof && fixture_now_ms() < end) {
        fixture_turns(workers, 1, 1);
        eof = read_some(fd, got, sizeof(got), &len);
    }
    BE_CHECK(eof); /* the FIN after the last byte */
    const unsigned char *body = memmem(got, len, "\r\n\r\n", 4);
    BE_CHECK(body != NULL && memmem(got, len, "connection: close", 17) != NULL);
    BE_CHECK_INT(got + len - (body + 4), BIG);
    BE_CHECK(memcmp(body + 4, block, BIG) == 0);
    BE_CHECK_INT(w->nconns, 1); /* still lingering: the client has not hung up */
    close(fd);
    BE_CHECK(fixture_run_until(workers, 1, no_conns, NULL, BOUND_MS));
    BE_CHECK_INT(closed(BE_CLOSE_DONE), 1);
    BE_CHECK_INT(closed_total(), 1);
    BE_CHECK_INT(ctr(BE_CTR_CONNECTIONS_OPEN), 0);
    teardown();
}

/* A client that takes every byte but never hangs up: the linger ends once everything is
 * acknowledged and the client has been silent for BE_CONN_LINGER_QUIET_MS. */
static void
test_conn_linger_ends_after_quiet_when_the_client_stays(void)
{
    enum { BIG = 1024 * 1024 };
    static unsigned char block[BIG], got[BIG + 4096];
    char hex[BE_KEY_HEX_LEN + 1], req[256];
    size_t len = 0;

    config();
    cfg.memory_size = 4 * 1024 * 1024;
    build();
    memset(block, 'q', BIG);
    fixture_cache_block(svc, block, BIG, hex);
    int fd = tcp_connect();
    int n = snprintf(req, sizeof(req),
                     "GET /blocks/%s HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n", hex);
    BE_CHECK(write(fd, req, (size_t)n) == n);
    BE_CHECK(fixture_run_until(workers, 1, lingering, NULL, BOUND_MS));
    int64_t t0 = fixture_now_ms();
    int eof = 0;
    while (!eof && fixture_now_ms() < t0 + BOUND_MS) {
        fixture_turns(workers, 1, 1);
        eof = read_some(fd, got, sizeof(got), &len);
    }
    BE_CHECK(eof);
    BE_CHECK(fixture_run_until(workers, 1, no_conns, NULL, BE_CONN_LINGER_QUIET_MS + BOUND_MS));
    BE_CHECK(fixture_now_ms() - t0 >= BE_CONN_LINGER_QUIET_MS - 100);
    BE_CHECK_INT(closed(BE_CLOSE_DONE), 1);
    BE_CHECK_INT(closed_total(), 1);
    close(fd);
    teardown();
}

static void
test_conn_each_close_counted_once_under_its_reason(void)
{
    static const char close_req[] = "GET /nothing HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n";
    static const char bad_req[] = "GET / HTTP/1.1\r\n\r\n"; /* no Host */
    client_t c[3];

    setup();
    client_open(&c[0]);
    client_send(&c[0], close_req, strlen(close_req)); /* answered, then closed: done */
    BE_CHECK(c[0].closed);
    client_open(&c[1]);
    client_send(&c[1], bad_req, strlen(bad_req)); /* 400, then closed: bad_request */
    BE_CHECK(c[1].closed);
    client_open(&c[2]);
    client_send(&c[2], get_nothing, strlen(get_nothing));
    client_close(&c[2]); /* the client hangs up: client_closed */
    BE_CHECK_INT(closed(BE_CLOSE_DONE), 1);
    BE_CHECK_INT(closed(BE_CLOSE_BAD_REQUEST), 1);
    BE_CHECK_INT(closed(BE_CLOSE_CLIENT), 1);
    BE_CHECK_INT(closed_total(), 3);
    BE_CHECK_INT(ctr(BE_CTR_CONNECTIONS_ACCEPTED), 3);
    BE_CHECK_INT(ctr(BE_CTR_CONNECTIONS_OPEN), 0);
    BE_CHECK_INT(w->nconns, 0);
    close(c[0].fd);
    close(c[1].fd);
    teardown();
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    BE_RUN(test_conn_h2_preface_starts_http2);
    BE_RUN(test_conn_h2_preface_in_pieces_waits_then_http2);
    BE_RUN(test_conn_http1_chosen_at_first_byte_off_the_preface);
    BE_RUN(test_conn_over_max_connections_refused_and_counted);
    BE_RUN(test_conn_over_max_connections_per_ip_refused_counted_and_released);
    BE_RUN(test_conn_silent_client_closed_at_header_timeout);
    BE_RUN(test_conn_half_a_head_gets_408_at_header_timeout);
    BE_RUN(test_conn_idle_keepalive_connection_closed_at_keepalive_timeout);
    BE_RUN(test_conn_idle_http2_session_gets_goaway_at_keepalive_timeout);
    BE_RUN(test_conn_http2_settings_never_acked_closed_at_header_timeout);
    BE_RUN(test_conn_reader_that_stops_reading_closed_at_send_timeout);
    BE_RUN(test_conn_shutdown_closes_idle_and_finishes_busy_first);
    BE_RUN(test_conn_shutdown_answers_a_head_that_was_arriving);
    BE_RUN(test_conn_tcp_close_lingers_until_the_client_took_every_byte);
    BE_RUN(test_conn_linger_ends_after_quiet_when_the_client_stays);
    BE_RUN(test_conn_each_close_counted_once_under_its_reason);
    be_server_global_cleanup();
    BE_TEST_EXIT();
}
