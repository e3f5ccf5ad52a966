/*
 * test_http1.c - HTTP/1.1 on a real socket: a hit's exact head and body, pipelined answers
 * in order, the request-smuggling heads refused with one 400 and a close (the request
 * behind never answered), the 414 and 431 bounds, HTTP/1.0 and Connection: close.
 *
 * The server is built by hand (default config, one file:// origin, one worker that is never
 * started) with a verified 100-byte block in its memory tier. Each client is one end of a
 * socketpair whose other end goes to be_conn_accept(); the test drives the worker's loop
 * with EVLOOP_NONBLOCK turns and reads the answers until the server closes or nothing has
 * moved for a number of turns. The config's timeouts (75 s, 60 s) never fire here.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "blockedge/config.h"
#include "blockedge/conn.h"
#include "blockedge/http1.h"
#include "blockedge/inflight.h"
#include "blockedge/memcache.h"
#include "blockedge/server.h"
#include "blockedge/worker.h"
#include "fixture.h"
#include "test.h"

#define SIZE       100
#define IDLE_TURNS 20 /* loop turns without a byte moving before a client stops waiting */

static be_config_t cfg;
static be_server_t *node;
static be_services_t *svc;
static be_worker_t *workers[1];
static be_worker_t *w;
static unsigned char data[SIZE];
static char hex[BE_KEY_HEX_LEN + 1];
static char get_req[256]; /* "GET /blocks/<hex> HTTP/1.1" with Host, ready to send */

typedef struct client_s {
    int fd;
    char in[64 * 1024];
    size_t len; /* bytes received */
    size_t off; /* bytes consumed by next_response() */
    int closed; /* the server closed (EOF, or ECONNRESET when it left input unread) */
} client_t;

typedef struct resp_s {
    int status;
    char head[4096]; /* NUL-terminated, up to the blank line */
    const char *body;
    size_t body_len;
} resp_t;

static void
setup(void)
{
    node = fixture_up(&cfg, &svc, workers, 1, "test_http1");
    w = workers[0];
    for (int i = 0; i < SIZE; i++)
        data[i] = (unsigned char)(255 - i); /* high bytes and a NUL: a text bug shows */
    data[50] = '\0';
    fixture_cache_block(svc, data, SIZE, hex);
    snprintf(get_req, sizeof(get_req), "GET /blocks/%s HTTP/1.1\r\nHost: edge\r\n\r\n", hex);
}

static void
teardown(void)
{
    fixture_down(&node);
    w = NULL;
}

/* A connected client: the server end is accepted by the worker as if from 127.0.0.1. */
static void
client_open(client_t *c)
{
    memset(c, 0, sizeof(*c));
    c->fd = fixture_connect(w, "test_http1");
}

/* Reads what is there; returns the bytes read. */
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

/* Sends all of buf (turning the loop while the socket is full), then pumps. */
static void
client_send(client_t *c, const char *buf, size_t len)
{
    size_t off = 0;
    int stuck = 0;
    while (off < len && stuck < 1000) {
        ssize_t n = write(c->fd, buf + off, len - off);
        if (n > 0) {
            off += (size_t)n;
            stuck = 0;
        } else {
            event_base_loop(w->base, EVLOOP_NONBLOCK);
            client_read(c);
            stuck++;
        }
    }
    pump(c);
}

static void
client_close(client_t *c)
{
    close(c->fd);
    c->fd = -1;
    for (int i = 0; i < IDLE_TURNS; i++)
        event_base_loop(w->base, EVLOOP_NONBLOCK); /* the server sees EOF and closes */
}

/* Parses the next complete response (head_only: its request was HEAD). 1 or 0. */
static int
next_response(client_t *c, resp_t *r, int head_only)
{
    const char *p = c->in + c->off;
    size_t avail = c->len - c->off;
    const char *end = memmem(p, avail, "\r\n\r\n", 4);
    if (end == NULL || (size_t)(end - p) + 4 >= sizeof(r->head))
        return 0;
    size_t hl = (size_t)(end - p) + 4;
    memcpy(r->head, p, hl);
    r->head[hl] = '\0';
    if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
        return 0;
    const char *cl = strcasestr(r->head, "\r\ncontent-length: ");
    r->body_len = head_only || cl == NULL ? 0 : strtoul(cl + 18, NULL, 10);
    if (hl + r->body_len > avail)
        return 0;
    r->body = p + hl;
    c->off += hl + r->body_len;
    return 1;
}

/* The value of a response header (lower-case name), copied into out; NULL when absent. */
static const char *
header(const resp_t *r, const char *name, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\r\n%s: ", name);
    const char *h = strcasestr(r->head, pat);
    if (h == NULL)
        return NULL;
    h += strlen(pat);
    size_t n = strcspn(h, "\r");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, h, n);
    out[n] = '\0';
    return out;
}

static uint64_t
requests(int code)
{
    return be_stat_get(&w->stats.requests[BE_PROTO_HTTP1][be_stats_code_index(code)]);
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

static void
test_http1_hit_answered_with_exact_head_and_body(void)
{
    client_t c;
    resp_t r;
    char v[128], etag[BE_KEY_HEX_LEN + 3];

    setup();
    client_open(&c);
    BE_CHECK_INT(w->nconns, 1);
    client_send(&c, get_req, strlen(get_req));
    BE_CHECK(next_response(&c, &r, 0));
    BE_CHECK(strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0);
    BE_CHECK_STR(header(&r, "content-length", v, sizeof(v)), "100");
    BE_CHECK_STR(header(&r, "content-type", v, sizeof(v)), "application/octet-stream");
    snprintf(etag, sizeof(etag), "\"%s\"", hex);
    BE_CHECK_STR(header(&r, "etag", v, sizeof(v)), etag);
    BE_CHECK_STR(header(&r, "x-cache", v, sizeof(v)), "HIT-MEMORY");
    BE_CHECK_STR(header(&r, "connection", v, sizeof(v)), "keep-alive");
    BE_CHECK_STR(header(&r, "accept-ranges", v, sizeof(v)), "bytes");
    BE_CHECK(header(&r, "date", v, sizeof(v)) != NULL);
    BE_CHECK_INT(r.body_len, SIZE);
    BE_CHECK(memcmp(r.body, data, SIZE) == 0);
    BE_CHECK_INT(c.off, c.len); /* nothing else was sent */
    BE_CHECK(!c.closed);        /* keep-alive */
    BE_CHECK_INT(w->nconns, 1);

    /* the same connection answers again */
    client_send(&c, get_req, strlen(get_req));
    BE_CHECK(next_response(&c, &r, 0));
    BE_CHECK_INT(r.status, 200);
    BE_CHECK(memcmp(r.body, data, SIZE) == 0);
    BE_CHECK_INT(c.off, c.len);

    client_close(&c);
    BE_CHECK_INT(w->nconns, 0);
    BE_CHECK_INT(requests(200), 2);
    BE_CHECK_INT(be_stat_get(&w->stats.hits[BE_TIER_MEMORY]), 2);
    BE_CHECK_INT(be_stat_get(&w->stats.ctr[BE_CTR_SENT_BYTES]), 2 * SIZE);
    BE_CHECK_INT(be_stat_get(&w->stats.ctr[BE_CTR_CONNECTIONS_ACCEPTED]), 1);
    BE_CHECK_INT(be_stat_get(&w->stats.ctr[BE_CTR_CONNECTIONS_OPEN]), 0);
    BE_CHECK_INT(closed_total(), 1);
    BE_CHECK_INT(closed(BE_CLOSE_BAD_REQUEST), 0);
    teardown();
}

static void
test_http1_pipelined_requests_answered_in_order(void)
{
    client_t c;
    resp_t r;
    char v[128], buf[1024];

    setup();
    client_open(&c);
    int n = snprintf(buf, sizeof(buf),
                     "GET /blocks/%s HTTP/1.1\r\nHost: e\r\nRange: bytes=10-19\r\n\r\n"
                     "HEAD /blocks/%s HTTP/1.1\r\nHost: e\r\n\r\n"
                     "GET /nothing HTTP/1.1\r\nHost: e\r\n\r\n",
                     hex, hex);
    client_send(&c, buf, (size_t)n);

    BE_CHECK(next_response(&c, &r, 0));
    BE_CHECK_INT(r.status, 206);
    BE_CHECK_STR(header(&r, "content-range", v, sizeof(v)), "bytes 10-19/100");
    BE_CHECK_INT(r.body_len, 10);
    BE_CHECK(memcmp(r.body, data + 10, 10) == 0);

    BE_CHECK(next_response(&c, &r, 1));
    BE_CHECK_INT(r.status, 200);
    BE_CHECK_STR(header(&r, "content-length", v, sizeof(v)), "100");

    BE_CHECK(next_response(&c, &r, 0));
    BE_CHECK_INT(r.status, 404);
    BE_CHECK_INT(r.body_len, strlen("not found\n"));
    BE_CHECK(memcmp(r.body, "not found\n", r.body_len) == 0);
    BE_CHECK_STR(header(&r, "connection", v, sizeof(v)), "keep-alive");

    BE_CHECK_INT(c.off, c.len); /* the HEAD sent no body, nothing else came */
    BE_CHECK(!c.closed);
    client_close(&c);
    BE_CHECK_INT(requests(206), 1);
    BE_CHECK_INT(requests(200), 1);
    BE_CHECK_INT(requests(404), 1);
    BE_CHECK_INT(be_stat_get(&w->stats.ctr[BE_CTR_SENT_BYTES]), 10);
    teardown();
}

static void
test_http1_smuggling_heads_get_one_400_then_close(void)
{
    static const char *const heads[] = {
        /* Content-Length with Transfer-Encoding */
        "POST /blocks/x HTTP/1.1\r\nHost: e\r\nContent-Length: 3\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
        "POST /blocks/x HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n"
        "Content-Length: 3\r\n\r\n",
        /* two Content-Length, even equal */
        "GET / HTTP/1.1\r\nHost: e\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
        /* a malformed Content-Length */
        "GET / HTTP/1.1\r\nHost: e\r\nContent-Length: -1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: e\r\nContent-Length: 0x0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: e\r\nContent-Length: 0, 0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: e\r\nContent-Length: \r\n\r\n",
        "POST / HTTP/1.1\r\nHost: e\r\nContent-Length: 99999999999999999999\r\n\r\n",
        /* obs-fold */
        "GET / HTTP/1.1\r\nHost: e\r\nX-A: b\r\n c\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: e\r\n\tX-A: b\r\n\r\n",
        /* bare LF: ending the request line, a field, the head */
        "GET / HTTP/1.1\nHost: e\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: e\nX-A: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: e\r\n\n",
        /* whitespace before the colon */
        "GET / HTTP/1.1\r\nHost : e\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: e\r\nContent-Length\t: 0\r\n\r\n",
        /* Host missing in 1.1, or twice */
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        /* a body on GET / HEAD */
        "GET / HTTP/1.1\r\nHost: e\r\nContent-Length: 5\r\n\r\nhello",
        "HEAD / HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        /* a CR alone inside a field, a bad request line */
        "GET / HTTP/1.1\r\nHost: e\rX-A: b\r\n\r\n",
        "GET  / HTTP/1.1\r\nHost: e\r\n\r\n",
        "GET / HTTP/2.0\r\nHost: e\r\n\r\n",
        /* absolute-form without a host, with userinfo, another scheme, a query at once */
        "GET http:///blocks/x HTTP/1.1\r\nHost: e\r\n\r\n",
        "GET http://u@e/ HTTP/1.1\r\nHost: e\r\n\r\n",
        "GET ftp://e/ HTTP/1.1\r\nHost: e\r\n\r\n",
        "GET http://e?x HTTP/1.1\r\nHost: e\r\n\r\n",
        "GET e/ HTTP/1.1\r\nHost: e\r\n\r\n",
        /* more empty lines before a request line than are ignored; a bare LF among them */
        "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: e\r\n\r\n",
        "\r\n\nGET / HTTP/1.1\r\nHost: e\r\n\r\n",
    };
    char buf[1024], v[64];

    setup();
    for (size_t i = 0; i < BE_ARRAY_LEN(heads); i++) {
        client_t c;
        resp_t r;
        memset(&r, 0, sizeof(r));
        int n = snprintf(buf, sizeof(buf), "%s%s", heads[i], get_req);
        client_open(&c);
        client_send(&c, buf, (size_t)n);
        if (!next_response(&c, &r, 0) || r.status != 400) {
            fprintf(stderr, "case %zu: %.60s...\n", i, heads[i]);
            BE_CHECK_INT(r.status, 400);
        }
        BE_CHECK_STR(header(&r, "connection", v, sizeof(v)), "close");
        BE_CHECK_INT(c.off, c.len); /* the GET behind was never answered */
        BE_CHECK(c.closed);
        BE_CHECK_INT(w->nconns, 0);
        close(c.fd);
    }
    BE_CHECK_INT(requests(400), BE_ARRAY_LEN(heads));
    BE_CHECK_INT(requests(200), 0);
    BE_CHECK_INT(closed(BE_CLOSE_BAD_REQUEST), BE_ARRAY_LEN(heads));
    BE_CHECK_INT(be_stat_get(&w->stats.hits[BE_TIER_MEMORY]), 0);
    teardown();
}

/* RFC 9112 3.2.2: an absolute-form target is served by its path (Host is ignored then);
 * 2.2: empty lines before a request line are skipped, up to BE_HTTP1_MAX_EMPTY_LINES. All on
 * one kept-alive connection, pipelined, answered in order. */
static void
test_http1_absolute_form_and_leading_empty_lines_accepted(void)
{
    client_t c;
    resp_t r;
    char buf[2048], v[128];
    static const int want[] = {200, 200, 200, 404, 404, 200};

    setup();
    int n = snprintf(buf, sizeof(buf),
                     "GET http://edge.example:8080/blocks/%s HTTP/1.1\r\nHost: other\r\n\r\n"
                     "HEAD HTTPS://EDGE/blocks/%s?x=1 HTTP/1.1\r\nHost: edge\r\n\r\n"
                     "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET /blocks/%s HTTP/1.1\r\nHost: e\r\n\r\n"
                     "GET http://edge HTTP/1.1\r\nHost: edge\r\n\r\n"
                     "\r\nGET http://edge/other HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                     "\r\n%s",
                     hex, hex, hex, get_req);
    client_open(&c);
    client_send(&c, buf, (size_t)n);
    for (size_t i = 0; i < BE_ARRAY_LEN(want); i++) {
        memset(&r, 0, sizeof(r));
        BE_CHECK(next_response(&c, &r, i == 1));
        if (r.status != want[i])
            fprintf(stderr, "response %zu\n", i);
        BE_CHECK_INT(r.status, want[i]);
        if (want[i] == 200) {
            BE_CHECK_INT(r.body_len, i == 1 ? 0 : SIZE);
            BE_CHECK_STR(header(&r, "connection", v, sizeof(v)), "keep-alive");
        }
    }
    BE_CHECK(memcmp(r.body, data, SIZE) == 0);
    BE_CHECK_INT(c.off, c.len);
    BE_CHECK(!c.closed);
    client_close(&c);
    BE_CHECK_INT(requests(200), 4);
    BE_CHECK_INT(requests(404), 2);
    BE_CHECK_INT(requests(400), 0);
    teardown();
}

/* A long If-None-Match (here 12 KiB: 180 entity-tags, ours last) fits in the 16 KiB head
 * and is evaluated, not refused with 431. */
static void
test_http1_long_if_none_match_answered_304(void)
{
    client_t c;
    resp_t r;
    static char buf[16384];

    setup();
    size_t n = (size_t)snprintf(buf, sizeof(buf),
                                "GET /blocks/%s HTTP/1.1\r\nHost: e\r\n"
                                "If-None-Match: ",
                                hex);
    for (int i = 0; i < 180; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\"%064x\", ", i);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\"%s\"\r\n\r\n", hex);
    BE_CHECK(n > 12000 && n < BE_HTTP1_MAX_HEADER);
    client_open(&c);
    client_send(&c, buf, n);
    BE_CHECK(next_response(&c, &r, 0));
    BE_CHECK_INT(r.status, 304);
    /* without ours: the block */
    n -= strlen(hex) + 2 + 2 + 4; /* ", " "<hex>" CRLF CRLF */
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n\r\n");
    client_send(&c, buf, n);
    BE_CHECK(next_response(&c, &r, 0));
    BE_CHECK_INT(r.status, 200);
    BE_CHECK_INT(r.body_len, SIZE);
    BE_CHECK(!c.closed);
    client_close(&c);
    BE_CHECK_INT(requests(304), 1);
    BE_CHECK_INT(requests(431), 0);
    teardown();
}

static void
test_http1_request_line_over_8192_gets_414(void)
{
    static char buf[12000];
    client_t c;
    resp_t r;

    setup();
    /* a whole over-long line */
    memcpy(buf, "GET /", 5);
    memset(buf + 5, 'a', 9000);
    int n = 5 + 9000 +
            snprintf(buf + 9005, sizeof(buf) - 9005, " HTTP/1.1\r\nHost: e\r\n\r\n%s", get_req);
    client_open(&c);
    client_send(&c, buf, (size_t)n);
    BE_CHECK(next_response(&c, &r, 0));
    BE_CHECK_INT(r.status, 414);
    BE_CHECK(strncmp(r.head, "HTTP/1.1 414 URI Too Long\r\n", 27) == 0);
    BE_CHECK_INT(c.off, c.len);
    BE_CHECK(c.closed);
    close(c.fd);

    /* a line still without its end once past the bound */
    client_open(&c);
    client_send(&c, buf, 8300);
    BE_CHECK(next_response(&c, &r, 0));
    BE_CHECK_INT(r.status, 414);
    BE_CHECK(c.closed);
    close(c.fd);

    /* exactly at the bound is fine: 8192 characters of request line, answered 404 */
    int line = snprintf(buf, sizeof(buf), "GET /");
    int fill = BE_HTTP1_MAX_REQUEST_LINE - line - (int)strlen(" HTTP/1.1");
    memset(buf + line, 'a', (size_t)fill);
    n = line + fill +
        snprintf(buf + line + fill, sizeof(buf) - (size_t)(line + fill),
                 " HTTP/1.1\r\nHost: e\r\n\r\n");
    BE_CHECK_INT(strchr(buf, '\r') - buf, BE_HTTP1_MAX_REQUEST_LINE);
    client_open(&c);
    client_send(&c, buf, (size_t)n);
    BE_CHECK(next_response(&c, &r, 0));
    BE_CHECK_INT(r.status, 404);
    BE_CHECK(!c.closed);
    client_close(&c);

    BE_CHECK_INT(requests(414), 2);
    BE_CHECK_INT(requests(404), 1);
    BE_CHECK_INT(closed(BE_CLOSE_BAD_REQUEST), 2);
    teardown();
}

static void
test_http1_header_block_over_16k_gets_431(void)
{
    static char buf[24000];
    client_t c;
    resp_t r;
    char pad[201];

    setup();
    memset(pad, 'p', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    int n = snprintf(buf, sizeof(buf), "GET /blocks/%s HTTP/1.1\r\nHost: e\r\n", hex);
    for (int i = 0; i < 80; i++) /* 80 fields (under the field limit), ~17 KB */
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X-Pad-%02d: %s\r\n", i, pad);
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n%s", get_req);
    BE_CHECK(n > BE_HTTP1_MAX_HEADER);
    client_open(&c);
    client_send(&c, buf, (size_t)n);
    BE_CHECK(next_response(&c, &r, 0));
    BE_CHECK_INT(r.status, 431);
    BE_CHECK(strncmp(r.head, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46) == 0);
    BE_CHECK_INT(c.off, c.len);
    BE_CHECK(c.closed);
    close(c.fd);
    BE_CHECK_INT(requests(431), 1);
    BE_CHECK_INT(requests(200), 0);
    BE_CHECK_INT(closed(BE_CLOSE_BAD_REQUEST), 1);
    teardown();
}

static void
test_http1_more_than_100_fields_gets_431(void)
{
    static char buf[8192];
    client_t c;
    resp_t r;

    setup();
    int n = snprintf(buf, sizeof(buf), "GET /blocks/%s HTTP/1.1\r\nHost: e\r\n", hex);
    for (int i = 0; i < BE_HTTP1_MAX_FIELDS; i++) /* with Host: one field too many, ~2 KB */
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X-%03d: v\r\n", i);
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
    client_open(&c);
    client_send(&c, buf, (size_t)n);
    BE_CHECK(next_response(&c, &r, 0));
    BE_CHECK_INT(r.status, 431);
    BE_CHECK_INT(c.off, c.len);
    BE_CHECK(c.closed);
    close(c.fd);

    /* exactly 100 fields are fine */
    n = snprintf(buf, sizeof(buf), "GET /blocks/%s HTTP/1.1\r\nHost: e\r\n", hex);
    for (int i = 0; i < BE_HTTP1_MAX_FIELDS - 1; i++)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X-%03d: v\r\n", i);
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
    client_open(&c);
    client_send(&c, buf, (size_t)n);
    BE_CHECK(next_response(&c, &r, 0));
    BE_CHECK_INT(r.status, 200);
    BE_CHECK(!c.closed);
    client_close(&c);
    BE_CHECK_INT(requests(431), 1);
    BE_CHECK_INT(requests(200), 1);
    teardown();
}

static void
test_http1_http10_without_host_answered_then_closed(void)
{
    client_t c;
    resp_t r;
    char buf[512], v[64];

    setup();
    int n = snprintf(buf, sizeof(buf), "GET /blocks/%s HTTP/1.0\r\n\r\n%s", hex, get_req);
    client_open(&c);
    client_send(&c, buf, (size_t)n);
    BE_CHECK(next_response(&c, &r, 0));
    BE_CHECK_INT(r.status, 200);
    BE_CHECK(strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0);
    BE_CHECK_STR(header(&r, "connection", v, sizeof(v)), "close");
    BE_CHECK(memcmp(r.body, data, SIZE) == 0);
    BE_CHECK_INT(c.off, c.len); /* no keep-alive: the request behind is not answered */
    BE_CHECK(c.closed);
    BE_CHECK_INT(closed(BE_CLOSE_DONE), 1);
    close(c.fd);

    /* HTTP/1.0 asking for keep-alive gets it */
    n = snprintf(buf, sizeof(buf), "GET /blocks/%s HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
                 hex);
    client_open(&c);
    client_send(&c, buf, (size_t)n);
    BE_CHECK(next_response(&c, &r, 0));
    BE_CHECK_INT(r.status, 200);
    BE_CHECK_STR(header(&r, "connection", v, sizeof(v)), "keep-alive");
    BE_CHECK(!c.closed);
    client_close(&c);

    BE_CHECK_INT(requests(200), 2);
    BE_CHECK_INT(closed_total(), 2);
    BE_CHECK_INT(w->nconns, 0);
    teardown();
}

static void
test_http1_connection_close_closes_after_answer(void)
{
    client_t c;
    resp_t r;
    char buf[512], v[64];

    setup();
    int n = snprintf(buf, sizeof(buf),
                     "GET /blocks/%s HTTP/1.1\r\nHost: e\r\nConnection: foo, close\r\n\r\n%s", hex,
                     get_req);
    client_open(&c);
    client_send(&c, buf, (size_t)n);
    BE_CHECK(next_response(&c, &r, 0));
    BE_CHECK_INT(r.status, 200);
    BE_CHECK_STR(header(&r, "connection", v, sizeof(v)), "close");
    BE_CHECK_INT(r.body_len, SIZE);
    BE_CHECK(memcmp(r.body, data, SIZE) == 0);
    BE_CHECK_INT(c.off, c.len);
    BE_CHECK(c.closed);
    BE_CHECK_INT(w->nconns, 0);
    close(c.fd);
    BE_CHECK_INT(requests(200), 1);
    BE_CHECK_INT(closed(BE_CLOSE_DONE), 1);
    BE_CHECK_INT(be_stat_get(&w->stats.ctr[BE_CTR_CONNECTIONS_OPEN]), 0);
    teardown();
}

static void
test_http1_head_split_across_reads_answered_once(void)
{
    client_t c;
    resp_t r;
    char buf[512], etag[BE_KEY_HEX_LEN + 3];

    setup();
    snprintf(etag, sizeof(etag), "\"%s\"", hex);
    int n = snprintf(buf, sizeof(buf),
                     "GET /blocks/%s HTTP/1.1\r\nHost: e\r\nIf-None-Match: \"00\"\r\n"
                     "If-None-Match: %s\r\n\r\n",
                     hex, etag);
    client_open(&c);
    /* cut inside the request line, inside a field, and between CR and LF of the end */
    const int cuts[] = {10, 90, n - 1, n};
    int from = 0;
    for (size_t i = 0; i < BE_ARRAY_LEN(cuts); i++) {
        client_send(&c, buf + from, (size_t)(cuts[i] - from));
        from = cuts[i];
        if (cuts[i] < n)
            BE_CHECK_INT(c.len, 0); /* nothing answered before the head is complete */
    }
    BE_CHECK(next_response(&c, &r, 0));
    BE_CHECK_INT(r.status, 304); /* both If-None-Match fields seen, once each */
    BE_CHECK_INT(c.off, c.len);
    BE_CHECK(!c.closed);
    client_close(&c);
    BE_CHECK_INT(requests(304), 1);
    BE_CHECK_INT(w->nconns, 0);
    teardown();
}

static void
test_http1_half_close_after_request_answers_then_closes(void)
{
    client_t c;
    resp_t r;

    setup();
    client_open(&c);
    BE_CHECK(write(c.fd, get_req, strlen(get_req)) == (ssize_t)strlen(get_req));
    BE_CHECK(shutdown(c.fd, SHUT_WR) == 0);
    pump(&c);
    BE_CHECK(next_response(&c, &r, 0));
    BE_CHECK_INT(r.status, 200);
    BE_CHECK(memcmp(r.body, data, SIZE) == 0);
    BE_CHECK_INT(c.off, c.len);
    BE_CHECK(c.closed);
    BE_CHECK_INT(w->nconns, 0);
    close(c.fd);
    BE_CHECK_INT(requests(200), 1);
    BE_CHECK_INT(closed_total(), 1);
    teardown();
}

static void
test_http1_client_close_counts_client_closed(void)
{
    client_t c;
    resp_t r;

    setup();
    client_open(&c);
    client_send(&c, get_req, strlen(get_req));
    BE_CHECK(next_response(&c, &r, 0));
    client_close(&c); /* the client hangs up an idle keep-alive connection */
    BE_CHECK_INT(w->nconns, 0);
    BE_CHECK_INT(closed(BE_CLOSE_CLIENT), 1);
    BE_CHECK_INT(closed(BE_CLOSE_DONE), 0);
    teardown();
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    BE_RUN(test_http1_hit_answered_with_exact_head_and_body);
    BE_RUN(test_http1_pipelined_requests_answered_in_order);
    BE_RUN(test_http1_smuggling_heads_get_one_400_then_close);
    BE_RUN(test_http1_absolute_form_and_leading_empty_lines_accepted);
    BE_RUN(test_http1_long_if_none_match_answered_304);
    BE_RUN(test_http1_request_line_over_8192_gets_414);
    BE_RUN(test_http1_header_block_over_16k_gets_431);
    BE_RUN(test_http1_more_than_100_fields_gets_431);
    BE_RUN(test_http1_http10_without_host_answered_then_closed);
    BE_RUN(test_http1_connection_close_closes_after_answer);
    BE_RUN(test_http1_head_split_across_reads_answered_once);
    BE_RUN(test_http1_half_close_after_request_answers_then_closes);
    BE_RUN(test_http1_client_close_counts_client_closed);
    be_server_global_cleanup();
    BE_TEST_EXIT();
}
