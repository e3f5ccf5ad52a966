/*
 * test_http2.c - HTTP/2 on a real socket, spoken by nghttp2's own client session: a hit's
 * status, headers and body; 404 and 400 for paths that are not blocks; HEAD without DATA;
 * 304, 206 and 416; many concurrent streams each answered with its own block; a block
 * larger than the stream's flow-control window; a client that stops reading holds the
 * server's output to its bound and later gets every byte; one that never opens its
 * window is closed at send_timeout; misses that go to a file:// origin and come back MISS,
 * then hit (one fetch for several streams at once); an origin 404; a stream reset while
 * its miss waits is never answered nor counted, and the connection goes on; the
 * concurrent-stream limit (reset streams still waiting count against it), a Rapid Reset
 * flood, a 101-field request; a graceful shutdown (GOAWAY, the stream under way finished).
 *
 * The node is built through the server object (one worker, never started) with a file://
 * origin in a fresh temporary directory. The client is one end of a socketpair whose
 * other end goes to be_conn_accept(); the test pumps both sides: nghttp2_session_send()
 * into the socket, a non-blocking turn of the worker's loop, then whatever came back into
 * nghttp2_session_mem_recv(), until every stream it opened is closed (bounded in real
 * time: misses complete through the file I/O pool).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "blockedge/config.h"
#include "blockedge/conn.h"
#include "blockedge/http2.h"
#include "blockedge/inflight.h"
#include "blockedge/memcache.h"
#include "blockedge/server.h"
#include "blockedge/services.h"
#include "blockedge/stats.h"
#include "blockedge/worker.h"
#include "fixture.h"
#include "test.h"

#define SIZE        1000
#define MAX_STREAMS 200
#define BOUND_MS    5000

static be_config_t cfg;
static be_server_t *node;
static be_services_t *svc;
static be_worker_t *workers[1];
static be_worker_t *w;
static char dir[512];
static unsigned char data[SIZE];
static char hex[BE_KEY_HEX_LEN + 1]; /* data, cached by setup() */

typedef struct stream_s {
    int32_t id;
    int status;
    char content_length[32];
    char content_range[64];
    char content_type[64];
    char x_cache[32];
    char etag[BE_KEY_HEX_LEN + 3];
    unsigned char *body;
    size_t len, cap;
    int data_frames;
    int closed;
    uint32_t error_code;
} stream_t;

typedef struct client_s {
    int fd;
    nghttp2_session *session;
    stream_t streams[MAX_STREAMS];
    int nstreams;
    int eof;             /* the server closed the socket */
    int goaway;          /* the server sent GOAWAY */
    uint32_t goaway_err; /* with this error code */
} client_t;

/* ---- the client ---------------------------------------------------------------------- */

static ssize_t
on_send(nghttp2_session *session, const uint8_t *buf, size_t len, int flags, void *user_data)
{
    BE_UNUSED(session);
    BE_UNUSED(flags);
    client_t *c = user_data;
    ssize_t n = write(c->fd, buf, len);
    if (n < 0)
        return errno == EAGAIN ? NGHTTP2_ERR_WOULDBLOCK : NGHTTP2_ERR_CALLBACK_FAILURE;
    return n;
}

static void
copy_value(char *dst, size_t cap, const uint8_t *v, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static int
on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
          const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
    BE_UNUSED(flags);
    BE_UNUSED(user_data);
    stream_t *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s == NULL || frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    const char *n = (const char *)name;
    char v[128];
    copy_value(v, sizeof(v), value, valuelen);
    if (namelen == 7 && memcmp(n, ":status", 7) == 0)
        s->status = atoi(v);
    else if (namelen == 14 && memcmp(n, "content-length", 14) == 0)
        copy_value(s->content_length, sizeof(s->content_length), value, valuelen);
    else if (namelen == 13 && memcmp(n, "content-range", 13) == 0)
        copy_value(s->content_range, sizeof(s->content_range), value, valuelen);
    else if (namelen == 12 && memcmp(n, "content-type", 12) == 0)
        copy_value(s->content_type, sizeof(s->content_type), value, valuelen);
    else if (namelen == 7 && memcmp(n, "x-cache", 7) == 0)
        copy_value(s->x_cache, sizeof(s->x_cache), value, valuelen);
    else if (namelen == 4 && memcmp(n, "etag", 4) == 0)
        copy_value(s->etag, sizeof(s->etag), value, valuelen);
    return 0;
}

static int
on_data(nghttp2_session *session, uint8_t flags, int32_t id, const uint8_t *buf, size_t len,
        void *user_data)
{
    BE_UNUSED(flags);
    BE_UNUSED(user_data);
    stream_t *s = nghttp2_session_get_stream_user_data(session, id);
    if (s == NULL)
        return 0;
    if (s->len + len > s->cap) {
        size_t cap = (s->len + len) * 2;
        unsigned char *p = realloc(s->body, cap);
        if (p == NULL)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        s->body = p;
        s->cap = cap;
    }
    memcpy(s->body + s->len, buf, len);
    s->len += len;
    return 0;
}

static int
on_frame(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    client_t *c = user_data;
    stream_t *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (frame->hd.type == NGHTTP2_DATA && s != NULL)
        s->data_frames++;
    if (frame->hd.type == NGHTTP2_GOAWAY) {
        c->goaway = 1;
        c->goaway_err = frame->goaway.error_code;
    }
    return 0;
}

static int
on_close(nghttp2_session *session, int32_t id, uint32_t error_code, void *user_data)
{
    BE_UNUSED(user_data);
    stream_t *s = nghttp2_session_get_stream_user_data(session, id);
    if (s != NULL) {
        s->closed = 1;
        s->error_code = error_code;
    }
    return 0;
}

/* Connects a client session to the worker over a socketpair and queues its SETTINGS. */
static void
client_open(client_t *c)
{
    nghttp2_session_callbacks *cbs;

    memset(c, 0, sizeof(*c));
    if (nghttp2_session_callbacks_new(&cbs) != 0) {
        fprintf(stderr, "test_http2: nghttp2 callbacks\n");
        exit(1);
    }
    nghttp2_session_callbacks_set_send_callback(cbs, on_send);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    if (nghttp2_session_client_new(&c->session, cbs, c) != 0 ||
        nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, NULL, 0) != 0) {
        fprintf(stderr, "test_http2: nghttp2 client\n");
        exit(1);
    }
    nghttp2_session_callbacks_del(cbs);
    c->fd = fixture_connect(w, "test_http2");
}

static void
client_free(client_t *c)
{
    for (int i = 0; i < c->nstreams; i++)
        free(c->streams[i].body);
    nghttp2_session_del(c->session);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Opens a stream: method, path and at most one more field (name NULL: none). */
static stream_t *
client_request_with(client_t *c, const char *method, const char *path, const char *name,
                    const char *value)
{
    stream_t *s = &c->streams[c->nstreams++];
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)method, 7, strlen(method), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":authority", (uint8_t *)"edge", 10, 4, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)name, (uint8_t *)value, name ? strlen(name) : 0, value ? strlen(value) : 0,
         NGHTTP2_NV_FLAG_NONE},
    };
    s->id =
        nghttp2_submit_request(c->session, NULL, nv, BE_ARRAY_LEN(nv) - (name == NULL), NULL, s);
    return s;
}

/* Opens a GET of path with nfields made-up fields ("x-f-N: v") after the pseudo-fields. */
static stream_t *
client_request_fields(client_t *c, const char *path, int nfields)
{
    static char names[128][16];
    nghttp2_nv nv[4 + 128];
    stream_t *s = &c->streams[c->nstreams++];
    nv[0] = (nghttp2_nv){(uint8_t *)":method", (uint8_t *)"GET", 7, 3, NGHTTP2_NV_FLAG_NONE};
    nv[1] = (nghttp2_nv){(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, NGHTTP2_NV_FLAG_NONE};
    nv[2] = (nghttp2_nv){(uint8_t *)":authority", (uint8_t *)"edge", 10, 4, NGHTTP2_NV_FLAG_NONE};
    nv[3] =
        (nghttp2_nv){(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), NGHTTP2_NV_FLAG_NONE};
    for (int i = 0; i < nfields && i < 128; i++) {
        int n = snprintf(names[i], sizeof(names[i]), "x-f-%d", i);
        nv[4 + i] =
            (nghttp2_nv){(uint8_t *)names[i], (uint8_t *)"v", (size_t)n, 1, NGHTTP2_NV_FLAG_NONE};
    }
    s->id = nghttp2_submit_request(c->session, NULL, nv, 4 + (size_t)nfields, NULL, s);
    return s;
}

static stream_t *
client_request(client_t *c, const char *method, const char *path)
{
    return client_request_with(c, method, path, NULL, NULL);
}

static stream_t *
get_block(client_t *c, const char *method, const char *h)
{
    char path[320];
    snprintf(path, sizeof(path), "/blocks/%s", h);
    return client_request(c, method, path);
}

/* One exchange: our frames out, a loop turn, their frames in. Returns bytes moved. */
static size_t
client_step(client_t *c)
{
    unsigned char buf[16384];
    size_t moved = 0;

    if (nghttp2_session_send(c->session) != 0)
        c->eof = 1;
    event_base_loop(w->base, EVLOOP_NONBLOCK);
    while (!c->eof) {
        ssize_t n = read(c->fd, buf, sizeof(buf));
        if (n > 0) {
            moved += (size_t)n;
            if (nghttp2_session_mem_recv(c->session, buf, (size_t)n) != n)
                c->eof = 1;
        } else if (n == 0 || errno == ECONNRESET) {
            c->eof = 1;
        } else {
            break;
        }
    }
    return moved;
}

static int
all_closed(const client_t *c)
{
    for (int i = 0; i < c->nstreams; i++)
        if (!c->streams[i].closed)
            return 0;
    return 1;
}

/* Pumps until every stream is closed (or the server closed, or the bound passed). */
static int
client_run(client_t *c)
{
    int64_t end = fixture_now_ms() + BOUND_MS;
    struct timespec pause = {0, 1000000};
    while (!all_closed(c) && !c->eof && fixture_now_ms() < end)
        if (client_step(c) == 0)
            nanosleep(&pause, NULL);
    return all_closed(c);
}

/* A half-close, then pumps until the server closed too. */
static int
client_hang_up(client_t *c)
{
    int64_t end = fixture_now_ms() + BOUND_MS;
    struct timespec pause = {0, 1000000};
    shutdown(c->fd, SHUT_WR);
    while (!c->eof && fixture_now_ms() < end)
        if (client_step(c) == 0)
            nanosleep(&pause, NULL);
    return c->eof && w->nconns == 0;
}

/* Pumps until the server closed the connection (or the bound passed). */
static int
client_until_eof(client_t *c)
{
    int64_t end = fixture_now_ms() + BOUND_MS;
    struct timespec pause = {0, 1000000};
    while (!c->eof && fixture_now_ms() < end)
        if (client_step(c) == 0)
            nanosleep(&pause, NULL);
    return c->eof;
}

/* ---- the node --------------------------------------------------------------------------- */

static void
config(void)
{
    fixture_tmpdir(dir, sizeof(dir), "http2");
    fixture_config(&cfg, 1);
    fixture_file_origin(&cfg, dir);
}

static void
build(void)
{
    node = fixture_build(&cfg, &svc, workers, 1, "test_http2");
    w = workers[0];
    for (int i = 0; i < SIZE; i++)
        data[i] = (unsigned char)(255 - i % 251);
    fixture_cache_block(svc, data, SIZE, hex);
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

static uint64_t
requests(int code)
{
    return be_stat_get(&w->stats.requests[BE_PROTO_HTTP2][be_stats_code_index(code)]);
}

static uint64_t
ctr(int id)
{
    return be_stat_get(&w->stats.ctr[id]);
}

static uint64_t
hits(void)
{
    return be_stat_get(&w->stats.hits[BE_TIER_MEMORY]);
}

/* ---- tests ------------------------------------------------------------------------------ */

static void
test_http2_get_cached_block_answers_200_with_body(void)
{
    client_t c;
    char etag[BE_KEY_HEX_LEN + 3];

    setup();
    client_open(&c);
    stream_t *s = get_block(&c, "GET", hex);
    BE_CHECK(s->id == 1);
    BE_CHECK(client_run(&c));
    BE_CHECK_INT(w->conns->state, BE_CONN_HTTP2);
    BE_CHECK_INT(s->status, 200);
    BE_CHECK_INT(s->error_code, NGHTTP2_NO_ERROR);
    BE_CHECK_STR(s->content_length, "1000");
    BE_CHECK_STR(s->content_type, "application/octet-stream");
    BE_CHECK_STR(s->x_cache, "HIT-MEMORY");
    snprintf(etag, sizeof(etag), "\"%s\"", hex);
    BE_CHECK_STR(s->etag, etag);
    BE_CHECK_INT(s->len, SIZE);
    BE_CHECK(memcmp(s->body, data, SIZE) == 0);
    BE_CHECK_INT(requests(200), 1);
    BE_CHECK_INT(hits(), 1);
    BE_CHECK_INT(ctr(BE_CTR_SENT_BYTES), SIZE);
    BE_CHECK_INT(be_stat_get(&w->stats.requests[BE_PROTO_HTTP1][0]), 0);

    BE_CHECK(client_hang_up(&c));
    BE_CHECK_INT(be_stat_get(&w->stats.closed[BE_CLOSE_CLIENT]), 1);
    BE_CHECK_INT(ctr(BE_CTR_CONNECTIONS_OPEN), 0);
    client_free(&c);
    teardown();
}

static void
test_http2_paths_that_are_not_blocks_answer_404_and_400(void)
{
    client_t c;

    setup();
    client_open(&c);
    stream_t *nf = client_request(&c, "GET", "/nothing");
    stream_t *bad = client_request(&c, "GET", "/blocks/not-hex");
    BE_CHECK(client_run(&c));
    BE_CHECK_INT(nf->status, 404);
    BE_CHECK_STR(nf->content_type, "text/plain");
    BE_CHECK_INT(nf->len, strlen("not found\n"));
    BE_CHECK(memcmp(nf->body, "not found\n", nf->len) == 0);
    BE_CHECK_STR(nf->x_cache, ""); /* no block was looked up */
    BE_CHECK_INT(bad->status, 400);
    BE_CHECK(bad->len > 0 && bad->body[bad->len - 1] == '\n');
    BE_CHECK_INT(requests(404), 1);
    BE_CHECK_INT(requests(400), 1);
    BE_CHECK_INT(hits(), 0);
    BE_CHECK_INT(ctr(BE_CTR_SENT_BYTES), 0); /* error text is not block bytes */
    BE_CHECK(!c.eof);                        /* the connection stays */
    client_free(&c);
    teardown();
}

static void
test_http2_head_answers_headers_without_data(void)
{
    client_t c;

    setup();
    client_open(&c);
    stream_t *s = get_block(&c, "HEAD", hex);
    BE_CHECK(client_run(&c));
    BE_CHECK_INT(s->status, 200);
    BE_CHECK_STR(s->content_length, "1000");
    BE_CHECK_STR(s->x_cache, "HIT-MEMORY");
    BE_CHECK_INT(s->data_frames, 0);
    BE_CHECK_INT(s->len, 0);
    BE_CHECK_INT(s->error_code, NGHTTP2_NO_ERROR);
    BE_CHECK_INT(requests(200), 1);
    BE_CHECK_INT(ctr(BE_CTR_SENT_BYTES), 0);
    client_free(&c);
    teardown();
}

static void
test_http2_concurrent_streams_each_get_their_block(void)
{
    enum { NBLOCKS = 8, NREQ = 24 };
    unsigned char blocks[NBLOCKS][SIZE];
    char names[NBLOCKS][BE_KEY_HEX_LEN + 1];
    stream_t *s[NREQ];
    client_t c;

    setup();
    for (int b = 0; b < NBLOCKS; b++) {
        for (int i = 0; i < SIZE; i++)
            blocks[b][i] = (unsigned char)(b * 31 + i);
        fixture_cache_block(svc, blocks[b], SIZE, names[b]);
    }
    client_open(&c);
    for (int i = 0; i < NREQ; i++)
        s[i] = get_block(&c, "GET", names[i % NBLOCKS]);
    BE_CHECK(client_run(&c));
    for (int i = 0; i < NREQ; i++) {
        BE_CHECK_INT(s[i]->status, 200);
        BE_CHECK_INT(s[i]->len, SIZE);
        BE_CHECK(memcmp(s[i]->body, blocks[i % NBLOCKS], SIZE) == 0);
    }
    BE_CHECK_INT(w->nconns, 1);
    BE_CHECK_INT(requests(200), NREQ);
    BE_CHECK_INT(hits(), NREQ);
    BE_CHECK_INT(ctr(BE_CTR_SENT_BYTES), NREQ * SIZE);
    client_free(&c);
    teardown();
}

static void
test_http2_block_larger_than_window_arrives_whole(void)
{
    enum { BIG = 200000 }; /* three times the initial 65535-byte stream window */
    static unsigned char big[BIG];
    char name[BE_KEY_HEX_LEN + 1];
    client_t c;

    config();
    cfg.memory_size = 1024 * 1024;
    build();
    for (int i = 0; i < BIG; i++)
        big[i] = (unsigned char)(i * 7 + i / 256);
    fixture_cache_block(svc, big, BIG, name);
    client_open(&c);
    stream_t *s = get_block(&c, "GET", name);
    BE_CHECK(client_run(&c));
    BE_CHECK_INT(s->status, 200);
    BE_CHECK_STR(s->content_length, "200000");
    BE_CHECK_INT(s->len, BIG);
    BE_CHECK(memcmp(s->body, big, BIG) == 0);
    BE_CHECK(s->data_frames >= BIG / 16384); /* in frames of at most 16 KiB */
    BE_CHECK_INT(ctr(BE_CTR_SENT_BYTES), BIG);
    client_free(&c);
    teardown();
}

static void
test_http2_miss_fetched_from_file_origin_then_hit(void)
{
    unsigned char other[SIZE];
    char name[BE_KEY_HEX_LEN + 1];
    client_t c;

    setup();
    for (int i = 0; i < SIZE; i++)
        other[i] = (unsigned char)(i * 5 + 1);
    fixture_write_block(dir, other, SIZE, name); /* at the origin, not in memory */
    client_open(&c);
    stream_t *s = get_block(&c, "GET", name);
    BE_CHECK(client_run(&c));
    BE_CHECK_INT(s->status, 200);
    BE_CHECK_STR(s->x_cache, "MISS");
    BE_CHECK_STR(s->content_length, "1000");
    BE_CHECK_INT(s->len, SIZE);
    BE_CHECK(memcmp(s->body, other, SIZE) == 0);
    BE_CHECK_INT(ctr(BE_CTR_CACHE_MISSES), 1);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_REQUESTS), 1);
    BE_CHECK_INT(hits(), 0);

    s = get_block(&c, "GET", name); /* the same connection asks again */
    BE_CHECK(client_run(&c));
    BE_CHECK_INT(s->status, 200);
    BE_CHECK_STR(s->x_cache, "HIT-MEMORY");
    BE_CHECK(memcmp(s->body, other, SIZE) == 0);
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_REQUESTS), 1);
    BE_CHECK_INT(hits(), 1);
    BE_CHECK_INT(requests(200), 2);
    BE_CHECK_INT(ctr(BE_CTR_SENT_BYTES), 2 * SIZE);
    client_free(&c);
    teardown();
}

static void
test_http2_concurrent_misses_for_one_block_make_one_fetch(void)
{
    enum { NREQ = 5 };
    unsigned char other[SIZE];
    char name[BE_KEY_HEX_LEN + 1];
    stream_t *s[NREQ];
    client_t c;

    setup();
    for (int i = 0; i < SIZE; i++)
        other[i] = (unsigned char)(i * 11 + 2);
    fixture_write_block(dir, other, SIZE, name);
    client_open(&c);
    for (int i = 0; i < NREQ; i++)
        s[i] = get_block(&c, "GET", name);
    BE_CHECK(client_run(&c));
    for (int i = 0; i < NREQ; i++) {
        BE_CHECK_INT(s[i]->status, 200);
        BE_CHECK_STR(s[i]->x_cache, "MISS");
        BE_CHECK_INT(s[i]->len, SIZE);
        BE_CHECK(memcmp(s[i]->body, other, SIZE) == 0);
    }
    BE_CHECK_INT(ctr(BE_CTR_ORIGIN_REQUESTS), 1);
    BE_CHECK_INT(ctr(BE_CTR_CACHE_MISSES), NREQ);
    BE_CHECK_INT(ctr(BE_CTR_COALESCED), NREQ - 1);
    BE_CHECK_INT(requests(200), NREQ);
    client_free(&c);
    teardown();
}

static void
test_http2_origin_404_answers_404_miss(void)
{
    unsigned char other[SIZE];
    char name[BE_KEY_HEX_LEN + 1];
    be_key_t key;
    client_t c;

    setup();
    memset(other, 'q', SIZE);
    be_sha256(other, SIZE, &key); /* nowhere: not in memory, not at the origin */
    be_key_to_hex(&key, name);
    client_open(&c);
    stream_t *s = get_block(&c, "GET", name);
    BE_CHECK(client_run(&c));
    BE_CHECK_INT(s->status, 404);
    BE_CHECK_STR(s->x_cache, "MISS");
    BE_CHECK_STR(s->content_type, "text/plain");
    BE_CHECK(s->len > 0);
    BE_CHECK_INT(requests(404), 1);
    BE_CHECK_INT(be_stat_get(&w->stats.origin_errors[BE_FETCH_NOT_FOUND]), 1);
    client_free(&c);
    teardown();
}

static void
test_http2_conditional_and_range_answer_304_and_206(void)
{
    char etag[BE_KEY_HEX_LEN + 3], path[128];
    client_t c;

    setup();
    snprintf(etag, sizeof(etag), "\"%s\"", hex);
    snprintf(path, sizeof(path), "/blocks/%s", hex);
    client_open(&c);
    stream_t *nm = client_request_with(&c, "GET", path, "if-none-match", etag);
    stream_t *rg = client_request_with(&c, "GET", path, "range", "bytes=10-19");
    stream_t *bad = client_request_with(&c, "GET", path, "range", "bytes=5000-");
    BE_CHECK(client_run(&c));
    BE_CHECK_INT(nm->status, 304);
    BE_CHECK_INT(nm->data_frames, 0);
    BE_CHECK_STR(nm->etag, etag);
    BE_CHECK_INT(rg->status, 206);
    BE_CHECK_STR(rg->content_range, "bytes 10-19/1000");
    BE_CHECK_STR(rg->content_length, "10");
    BE_CHECK_INT(rg->len, 10);
    BE_CHECK(memcmp(rg->body, data + 10, 10) == 0);
    BE_CHECK_INT(bad->status, 416);
    BE_CHECK_STR(bad->content_range, "bytes */1000");
    BE_CHECK_INT(requests(304), 1);
    BE_CHECK_INT(requests(206), 1);
    BE_CHECK_INT(requests(416), 1);
    BE_CHECK_INT(ctr(BE_CTR_SENT_BYTES), 10);
    client_free(&c);
    teardown();
}

/* Bytes the server has queued on the connection and not yet written to the socket. */
static size_t
server_output(void)
{
    return w->conns != NULL ? evbuffer_get_length(bufferevent_get_output(w->conns->bev)) : 0;
}

static void
on_leader(void *arg, be_fetch_status_t status, be_block_t *block)
{
    BE_UNUSED(status);
    *(int *)arg += 1;
    be_block_unref(&block);
}

/* Leads the in-flight entry of key (the test plays the fetch) and returns the waiter. */
static be_waiter_t *
lead(const be_key_t *key, int *calls)
{
    be_waiter_t *leader = NULL;
    be_block_t *hit = NULL;
    if (be_inflight_join(svc->inflight, svc->memcache, key, w, BE_TIER_MISS, on_leader, calls, NULL,
                         &leader, &hit, 0) != BE_OK)
        return NULL;
    return leader;
}

/* Ends the test's fetch of these bytes: into memory, then every waiter. */
static void
fill(const be_key_t *key, const unsigned char *bytes, size_t size)
{
    be_block_t *b = be_block_new(key, size);
    memcpy(b->data, bytes, size);
    b->size = size;
    be_memcache_insert(svc->memcache, b, 0);
    be_inflight_complete(svc->inflight, key, BE_FETCH_OK, b);
    be_block_unref(&b);
}

static void
test_http2_streams_over_the_limit_are_refused(void)
{
    unsigned char other[SIZE];
    char name[BE_KEY_HEX_LEN + 1];
    stream_t *s[4];
    be_key_t key;
    int calls = 0;
    client_t c;

    config();
    cfg.h2_max_concurrent_streams = 2;
    build();
    memset(other, 'm', SIZE);
    be_sha256(other, SIZE, &key);
    be_key_to_hex(&key, name);
    BE_CHECK(lead(&key, &calls) != NULL); /* the misses wait until the test fills */
    client_open(&c);
    for (int i = 0; i < 4; i++) /* sent before the client knows the limit */
        s[i] = get_block(&c, "GET", name);
    for (int i = 0; i < 5; i++)
        client_step(&c);
    BE_CHECK(s[2]->closed && s[3]->closed);
    BE_CHECK_INT(s[2]->error_code, NGHTTP2_REFUSED_STREAM);
    BE_CHECK_INT(s[3]->error_code, NGHTTP2_REFUSED_STREAM);
    BE_CHECK(!s[0]->closed && !s[1]->closed);
    BE_CHECK_INT(ctr(BE_CTR_CACHE_MISSES), 2); /* the refused ones never became requests */

    fill(&key, other, SIZE);
    BE_CHECK(client_run(&c));
    for (int i = 0; i < 2; i++) {
        BE_CHECK_INT(s[i]->status, 200);
        BE_CHECK_STR(s[i]->x_cache, "MISS");
        BE_CHECK(memcmp(s[i]->body, other, SIZE) == 0);
    }
    stream_t *again = get_block(&c, "GET", name); /* a refused stream may be tried again */
    BE_CHECK(client_run(&c));
    BE_CHECK_INT(again->status, 200);
    BE_CHECK_STR(again->x_cache, "HIT-MEMORY");
    BE_CHECK_INT(requests(200), 3);
    BE_CHECK(!c.goaway);
    client_free(&c);
    teardown();
}

static void
test_http2_reset_streams_still_waiting_count_against_the_limit(void)
{
    unsigned char other[SIZE];
    char name[BE_KEY_HEX_LEN + 1];
    stream_t *s[2];
    be_key_t key;
    int calls = 0;
    client_t c;

    config();
    cfg.h2_max_concurrent_streams = 2;
    build();
    memset(other, 'n', SIZE);
    be_sha256(other, SIZE, &key);
    be_key_to_hex(&key, name);
    BE_CHECK(lead(&key, &calls) != NULL);
    client_open(&c);
    for (int i = 0; i < 5; i++) /* SETTINGS both ways: the client knows the limit */
        client_step(&c);
    for (int i = 0; i < 2; i++)
        s[i] = get_block(&c, "GET", name);
    for (int i = 0; i < 3; i++)
        client_step(&c);
    BE_CHECK_INT(ctr(BE_CTR_CACHE_MISSES), 2);
    for (int i = 0; i < 2; i++) /* the client gives up on both; their fetch goes on */
        BE_CHECK(
            nghttp2_submit_rst_stream(c.session, NGHTTP2_FLAG_NONE, s[i]->id, NGHTTP2_CANCEL) == 0);
    BE_CHECK(client_run(&c));

    stream_t *third = get_block(&c, "GET", hex); /* a hit, but no room: refused */
    BE_CHECK(client_run(&c));
    BE_CHECK_INT(third->error_code, NGHTTP2_REFUSED_STREAM);
    BE_CHECK_INT(third->status, 0);

    fill(&key, other, SIZE); /* the fetch ends: the reset streams let go of their room */
    for (int i = 0; i < 5; i++)
        client_step(&c);
    stream_t *fourth = get_block(&c, "GET", hex);
    BE_CHECK(client_run(&c));
    BE_CHECK_INT(fourth->status, 200);
    BE_CHECK(memcmp(fourth->body, data, SIZE) == 0);
    BE_CHECK_INT(requests(200), 1);
    client_free(&c);
    teardown();
}

static void
test_http2_rapid_reset_flood_ends_in_goaway_enhance_your_calm(void)
{
    enum { N = 150 }; /* more than BE_H2_GLITCH_BURST */
    client_t c;

    setup();
    client_open(&c);
    for (int i = 0; i < N; i++) { /* HEADERS, then at once RST_STREAM, unread */
        stream_t *s = get_block(&c, "GET", hex);
        BE_CHECK(nghttp2_session_send(c.session) == 0);
        BE_CHECK(nghttp2_submit_rst_stream(c.session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL) ==
                 0);
        BE_CHECK(nghttp2_session_send(c.session) == 0);
    }
    BE_CHECK(client_until_eof(&c));
    BE_CHECK(c.goaway);
    BE_CHECK_INT(c.goaway_err, NGHTTP2_ENHANCE_YOUR_CALM);
    BE_CHECK_INT(w->nconns, 0);
    BE_CHECK_INT(be_stat_get(&w->stats.closed[BE_CLOSE_H2_CALM]), 1);
    client_free(&c);
    teardown();
}

static void
test_http2_request_over_100_fields_is_reset_and_connection_goes_on(void)
{
    char path[128];
    client_t c;

    setup();
    snprintf(path, sizeof(path), "/blocks/%s", hex);
    client_open(&c);
    stream_t *ok = client_request_fields(&c, path, BE_H2_MAX_FIELDS - 4); /* 100 with :ones */
    stream_t *bomb = client_request_fields(&c, path, BE_H2_MAX_FIELDS - 3);
    BE_CHECK(client_run(&c));
    BE_CHECK_INT(ok->status, 200);
    BE_CHECK_INT(ok->len, SIZE);
    BE_CHECK_INT(bomb->status, 0);
    BE_CHECK(bomb->error_code != NGHTTP2_NO_ERROR);
    BE_CHECK(!c.eof && !c.goaway);
    stream_t *after = get_block(&c, "GET", hex);
    BE_CHECK(client_run(&c));
    BE_CHECK_INT(after->status, 200);
    BE_CHECK_INT(requests(200), 2);
    client_free(&c);
    teardown();
}

static void
test_http2_shutdown_sends_goaway_and_finishes_the_stream_under_way(void)
{
    unsigned char other[SIZE];
    char name[BE_KEY_HEX_LEN + 1];
    be_key_t key;
    int calls = 0;
    client_t c;

    setup();
    memset(other, 's', SIZE);
    be_sha256(other, SIZE, &key);
    be_key_to_hex(&key, name);
    BE_CHECK(lead(&key, &calls) != NULL);
    client_open(&c);
    stream_t *s = get_block(&c, "GET", name);
    for (int i = 0; i < 3; i++)
        client_step(&c);
    BE_CHECK_INT(ctr(BE_CTR_COALESCED), 1); /* waiting on the test's fetch */

    be_conn_shutdown_all(w);
    for (int i = 0; i < 3; i++)
        client_step(&c);
    BE_CHECK(c.goaway);
    BE_CHECK_INT(c.goaway_err, NGHTTP2_NO_ERROR);
    BE_CHECK(!c.eof); /* the stream under way is still answered ... */
    BE_CHECK_INT(w->nconns, 1);
    fill(&key, other, SIZE);
    BE_CHECK(client_until_eof(&c)); /* ... then the connection ends */
    BE_CHECK_INT(s->status, 200);
    BE_CHECK(memcmp(s->body, other, SIZE) == 0);
    BE_CHECK_INT(s->error_code, NGHTTP2_NO_ERROR);
    BE_CHECK_INT(w->nconns, 0);
    BE_CHECK_INT(be_stat_get(&w->stats.closed[BE_CLOSE_SHUTDOWN]), 1);
    client_free(&c);
    teardown();
}

static void
test_http2_slow_reader_bounds_output_then_gets_whole_bodies(void)
{
    enum { NBIG = 3, BIG = 700000 };
    static unsigned char big[NBIG][BIG];
    char names[NBIG][BE_KEY_HEX_LEN + 1];
    nghttp2_settings_entry iv = {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 16 * 1024 * 1024};
    stream_t *s[NBIG];
    client_t c;

    config();
    cfg.memory_size = 4 * 1024 * 1024;
    build();
    for (int b = 0; b < NBIG; b++) {
        for (int i = 0; i < BIG; i++)
            big[b][i] = (unsigned char)(i * (b + 3) + i / 1000);
        fixture_cache_block(svc, big[b], BIG, names[b]);
    }
    /* windows large enough that flow control never stops the server: only its own
     * output bound does */
    client_open(&c);
    BE_CHECK(nghttp2_submit_settings(c.session, NGHTTP2_FLAG_NONE, &iv, 1) == 0);
    BE_CHECK(nghttp2_session_set_local_window_size(c.session, NGHTTP2_FLAG_NONE, 0,
                                                   64 * 1024 * 1024) == 0);
    for (int b = 0; b < NBIG; b++)
        s[b] = get_block(&c, "GET", names[b]);
    BE_CHECK(nghttp2_session_send(c.session) == 0);
    /* the client reads nothing for a while: the socket fills, then the server's output */
    size_t most = 0;
    for (int i = 0; i < 50; i++) {
        event_base_loop(w->base, EVLOOP_NONBLOCK);
        if (server_output() > most)
            most = server_output();
    }
    BE_CHECK(most > 65535); /* it backed up past any flow-control window's worth ... */
    BE_CHECK(most <= BE_H2_OUTPUT_HIGH + 2 * 16384 + 1024);   /* ... to its bound, no further */
    BE_CHECK(ctr(BE_CTR_SENT_BYTES) == (uint64_t)NBIG * BIG); /* all three answered */

    BE_CHECK(client_run(&c)); /* now it reads: every byte arrives */
    for (int b = 0; b < NBIG; b++) {
        BE_CHECK_INT(s[b]->status, 200);
        BE_CHECK_INT(s[b]->len, BIG);
        BE_CHECK(memcmp(s[b]->body, big[b], BIG) == 0);
    }
    BE_CHECK(!c.eof);
    client_free(&c);
    teardown();
}

static int
no_conns(void *arg)
{
    BE_UNUSED(arg);
    return w->nconns == 0;
}

static void
test_http2_reader_that_stops_reading_closed_at_send_timeout(void)
{
    enum { BIG = 300000 };
    static unsigned char big[BIG];
    char name[BE_KEY_HEX_LEN + 1];
    client_t c;

    config();
    cfg.memory_size = 1024 * 1024;
    cfg.send_timeout = 200;
    build();
    memset(big, 'z', BIG);
    fixture_cache_block(svc, big, BIG, name);
    int64_t t0 = fixture_now_ms(); /* before the last DATA could be queued */
    client_open(&c);
    stream_t *s = get_block(&c, "GET", name);
    client_step(&c); /* SETTINGS and the request out, the first window's worth back */
    client_step(&c);
    BE_CHECK_INT(s->status, 200);
    BE_CHECK(s->len < BIG); /* the rest waits for a window the client never opens */
    BE_CHECK(fixture_run_until(workers, 1, no_conns, NULL, BOUND_MS));
    BE_CHECK(fixture_now_ms() - t0 >= 100); /* not before its time (a lower bound only) */
    BE_CHECK_INT(be_stat_get(&w->stats.closed[BE_CLOSE_SEND_TIMEOUT]), 1);
    BE_CHECK_INT(be_stat_get(&w->stats.closed[BE_CLOSE_IDLE_TIMEOUT]), 0);
    client_free(&c);
    teardown();
}

static void
test_http2_stream_reset_while_its_miss_waits_is_not_answered(void)
{
    unsigned char other[SIZE];
    char name[BE_KEY_HEX_LEN + 1];
    be_key_t key;
    int leader_calls = 0;
    client_t c;

    setup();
    for (int i = 0; i < SIZE; i++)
        other[i] = (unsigned char)(i * 3 + 9);
    be_sha256(other, SIZE, &key);
    be_key_to_hex(&key, name);
    BE_CHECK(lead(&key, &leader_calls) != NULL); /* the stream's miss waits for the test */
    client_open(&c);
    stream_t *s = get_block(&c, "GET", name);
    client_step(&c);
    client_step(&c);
    BE_CHECK_INT(ctr(BE_CTR_COALESCED), 1); /* the server has it, waiting */
    BE_CHECK_INT(s->closed, 0);
    BE_CHECK(nghttp2_submit_rst_stream(c.session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL) == 0);
    BE_CHECK(client_run(&c));
    BE_CHECK_INT(s->error_code, NGHTTP2_CANCEL);
    fixture_turns(workers, 1, 5);

    /* the fetch ends: the orphaned request is dropped, nothing is sent or counted */
    fill(&key, other, SIZE);
    for (int i = 0; i < 5; i++)
        client_step(&c);
    BE_CHECK_INT(leader_calls, 1);
    BE_CHECK_INT(s->len, 0);
    BE_CHECK_INT(s->status, 0);
    BE_CHECK_INT(requests(200), 0);
    BE_CHECK_INT(ctr(BE_CTR_SENT_BYTES), 0);
    BE_CHECK(!c.eof && !c.goaway); /* one reset is no glitch storm */

    s = get_block(&c, "GET", name); /* the connection goes on */
    BE_CHECK(client_run(&c));
    BE_CHECK_INT(s->status, 200);
    BE_CHECK_STR(s->x_cache, "HIT-MEMORY");
    BE_CHECK(memcmp(s->body, other, SIZE) == 0);
    BE_CHECK_INT(requests(200), 1);
    client_free(&c);
    teardown();
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    BE_RUN(test_http2_get_cached_block_answers_200_with_body);
    BE_RUN(test_http2_paths_that_are_not_blocks_answer_404_and_400);
    BE_RUN(test_http2_head_answers_headers_without_data);
    BE_RUN(test_http2_concurrent_streams_each_get_their_block);
    BE_RUN(test_http2_conditional_and_range_answer_304_and_206);
    BE_RUN(test_http2_block_larger_than_window_arrives_whole);
    BE_RUN(test_http2_miss_fetched_from_file_origin_then_hit);
    BE_RUN(test_http2_concurrent_misses_for_one_block_make_one_fetch);
    BE_RUN(test_http2_origin_404_answers_404_miss);
    BE_RUN(test_http2_stream_reset_while_its_miss_waits_is_not_answered);
    BE_RUN(test_http2_streams_over_the_limit_are_refused);
    BE_RUN(test_http2_reset_streams_still_waiting_count_against_the_limit);
    BE_RUN(test_http2_rapid_reset_flood_ends_in_goaway_enhance_your_calm);
    BE_RUN(test_http2_request_over_100_fields_is_reset_and_connection_goes_on);
    BE_RUN(test_http2_shutdown_sends_goaway_and_finishes_the_stream_under_way);
    BE_RUN(test_http2_slow_reader_bounds_output_then_gets_whole_bodies);
    BE_RUN(test_http2_reader_that_stops_reading_closed_at_send_timeout);
    be_server_global_cleanup();
    BE_TEST_EXIT();
}
