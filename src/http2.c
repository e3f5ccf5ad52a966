/*
 * http2.c - HTTP/2 on a connection: nghttp2 session callbacks, streams, responses sent by
 * reference, and the limits nghttp2 1.52 does not enforce by itself.
 *
 * The pump follows nghttp2's libevent example: bytes read -> nghttp2_session_mem_recv ->
 * nghttp2_session_send, whose send callback appends to the bufferevent's output. Each stream
 * owns one protocol-neutral be_request_t (request.c): routing, key, tiers, coalescing,
 * conditional and range logic live there, not here.
 *
 * Responses: HEADERS go out when the request is ready (its status is only known then: a
 * miss may end in 404/502/504); a miss therefore waits in request.c and resumes through the
 * worker's mailbox. DATA is sent with NGHTTP2_DATA_FLAG_NO_COPY: the send_data callback
 * appends the frame header and then the block's bytes by reference. The data provider
 * returns NGHTTP2_ERR_DEFERRED while the connection's output is above BE_H2_OUTPUT_HIGH
 * and is resumed when it drains, so a slow reader holds references, not copies.
 *
 * Limits: SETTINGS MAX_CONCURRENT_STREAMS, MAX_HEADER_LIST_SIZE and
 * NO_RFC7540_PRIORITIES; no closed-stream retention in nghttp2 (h2gate.c answers frames on
 * closed streams from a bounded memory instead); nghttp2's reset-rate and CONTINUATION
 * limits; the decoded header list is bounded here (HPACK bomb). A "glitch" budget (a token
 * bucket) counts what well-behaved clients rarely do: invalid frames and headers, streams
 * reset by the client before their answer (Rapid Reset and its MadeYouReset variant),
 * refused streams, empty DATA frames without END_STREAM, and a tenth of one for each PING
 * or SETTINGS frame (each queues an ACK: a flood of them, never read, only backed up our
 * output until the send timeout). Past it: GOAWAY
 * ENHANCE_YOUR_CALM. A stream reset while its fetch is under way stays counted against the
 * connection until the fetch ends, so a reset flood cannot fan out into unbounded origin
 * traffic. Timers: preface and SETTINGS ACK, header completion, idle, and a send stall.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "blockedge/config.h"
#include "blockedge/h2gate.h"
#include "blockedge/http2.h"
#include "blockedge/log.h"
#include "blockedge/services.h"
#include "blockedge/worker.h"

#define TICK_MS 250

typedef struct stream_s stream_t;

struct be_http2_s {
    be_conn_t *c;
    nghttp2_session *session;
    stream_t *streams; /* open streams and orphans, doubly linked */
    int nstreams;      /* both kinds: each holds a request that may be waiting on a fetch */
    int deferred;      /* some stream's data provider returned DEFERRED */
    int settings_acked;
    int going_away;
    double tokens;
    be_msec_t tokens_at;
    be_msec_t last_activity; /* last frame received or stream closed */
    be_msec_t last_progress; /* last DATA bytes queued */
    struct event *tick;
    be_h2gate_t gate; /* answers for frames on streams nghttp2 has forgotten (h2gate.c) */
};

struct stream_s {
    stream_t *next, *prev;
    be_http2_t *h2;
    int32_t id;
    be_request_t req;
    char method[16];
    char path[1024];
    size_t mlen, plen;
    size_t header_bytes;
    int header_fields;
    be_msec_t opened;
    unsigned started : 1;  /* be_request_start called */
    unsigned answered : 1; /* response submitted */
    unsigned orphan : 1;   /* nghttp2 closed the stream while the request waited */
    unsigned bad_path : 1; /* :path too long */
    uint64_t queued;       /* body bytes handed to nghttp2 */
    uint64_t sent;         /* body bytes appended to the output */
};

static const be_config_t *
cfg_of(const be_http2_t *h2)
{
    return h2->c->w->cfg;
}

static be_msec_t
now_of(const be_http2_t *h2)
{
    return be_worker_now(h2->c->w);
}

/* ---- glitches --------------------------------------------------------------------- */

/* Counts cost glitches; returns 1 when the budget is exhausted and the session is ended. */
static int
glitches(be_http2_t *h2, double cost)
{
    be_msec_t now = now_of(h2);
    h2->tokens += (double)(now - h2->tokens_at) * BE_H2_GLITCH_RATE / 1000.0;
    if (h2->tokens > BE_H2_GLITCH_BURST)
        h2->tokens = BE_H2_GLITCH_BURST;
    h2->tokens_at = now;
    h2->tokens -= cost;
    if (h2->tokens >= 0 || h2->going_away)
        return 0;
    be_log(BE_LOG_INFO, "client %s: too many HTTP/2 protocol glitches, sending GOAWAY",
           h2->c->peer);
    h2->going_away = 1;
    h2->c->close_reason = BE_CLOSE_H2_CALM;
    nghttp2_session_terminate_session(h2->session, NGHTTP2_ENHANCE_YOUR_CALM);
    return 1;
}

static int
glitch(be_http2_t *h2)
{
    return glitches(h2, 1.0);
}

/* ---- streams ------------------------------------------------------------------------ */

static void
stream_unlink_free(stream_t *s)
{
    be_http2_t *h2 = s->h2;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        h2->streams = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    h2->nstreams--;
    be_request_dispose(&s->req);
    free(s);
}

static void submit(stream_t *s);
static void pump(be_http2_t *h2);

/* The request's answer is ready (from the loop, after a fill or a failure). */
static void
on_ready(be_request_t *r, void *ctx)
{
    BE_UNUSED(r);
    stream_t *s = ctx;
    be_http2_t *h2 = s->h2;
    if (s->orphan) { /* the client reset it: the fetch is over, so is the stream's budget */
        stream_unlink_free(s);
        pump(h2);
        return;
    }
    submit(s);
    pump(h2);
}

static ssize_t
read_data(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
          nghttp2_data_source *source, void *user_data)
{
    BE_UNUSED(session);
    BE_UNUSED(id);
    BE_UNUSED(buf);
    be_http2_t *h2 = user_data;
    stream_t *s = source->ptr;
    if (evbuffer_get_length(bufferevent_get_output(h2->c->bev)) > BE_H2_OUTPUT_HIGH) {
        h2->deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    uint64_t left = s->req.body_len - s->queued;
    size_t n = left < length ? (size_t)left : length;
    s->queued += n;
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (s->queued == s->req.body_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int
send_data(nghttp2_session *session, nghttp2_frame *frame, const uint8_t *framehd, size_t length,
          nghttp2_data_source *source, void *user_data)
{
    BE_UNUSED(session);
    be_http2_t *h2 = user_data;
    stream_t *s = source->ptr;
    struct evbuffer *out = bufferevent_get_output(h2->c->bev);
    size_t pad = frame->data.padlen;
    evbuffer_add(out, framehd, 9);
    if (pad > 0) {
        uint8_t padlen = (uint8_t)(pad - 1);
        evbuffer_add(out, &padlen, 1);
    }
    if (be_request_body_is_block(&s->req)) {
        if (be_block_add_to_evbuffer(s->req.block, out, s->req.body_off + s->sent, length) != BE_OK)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
    } else {
        /* The text and its newline: bytes [sent, sent + length) of "text\n". */
        const char *text = be_request_error_text(&s->req);
        size_t tl = strlen(text), at = (size_t)s->sent;
        size_t from_text = at < tl ? (tl - at < length ? tl - at : length) : 0;
        evbuffer_add(out, text + at, from_text);
        if (from_text < length)
            evbuffer_add(out, "\n", 1);
    }
    if (pad > 1) {
        static const uint8_t zeros[256];
        evbuffer_add(out, zeros, pad - 1);
    }
    s->sent += length;
    h2->last_progress = now_of(h2);
    return 0;
}

static void
submit(stream_t *s)
{
    be_http2_t *h2 = s->h2;
    be_request_t *r = &s->req;
    be_header_t hs[BE_MAX_RESPONSE_HEADERS];
    nghttp2_nv nv[BE_MAX_RESPONSE_HEADERS + 1];
    int n = be_request_headers(r, hs, BE_MAX_RESPONSE_HEADERS);
    const char *status = be_http_status_text(r->status);

    nv[0] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status, 7, 3,
                         NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
    for (int i = 0; i < n; i++)
        nv[i + 1] = (nghttp2_nv){(uint8_t *)hs[i].name, (uint8_t *)hs[i].value, strlen(hs[i].name),
                                 strlen(hs[i].value), NGHTTP2_NV_FLAG_NO_COPY_NAME};
    nghttp2_data_provider dp = {.source.ptr = s, .read_callback = read_data};
    s->answered = 1;
    h2->last_progress = now_of(h2);
    if (nghttp2_submit_response(h2->session, s->id, nv, (size_t)n + 1,
                                r->body_len > 0 ? &dp : NULL) != 0) {
        nghttp2_submit_rst_stream(h2->session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
        return; /* not an answer: not counted as one */
    }
    be_request_done(r);
}

static void
start(stream_t *s)
{
    be_http2_t *h2 = s->h2;
    s->started = 1;
    if (s->bad_path) {
        be_request_fail(&s->req, 414, NULL);
        submit(s);
        return;
    }
    /* nghttp2's messaging checks guarantee :method and :path (or reset the stream). */
    if (be_request_start(&s->req, s->method, s->mlen, s->path, s->plen) == BE_OK)
        submit(s);
    BE_UNUSED(h2);
}

/* ---- nghttp2 callbacks ------------------------------------------------------------- */

static ssize_t
on_send(nghttp2_session *session, const uint8_t *data, size_t length, int flags, void *user_data)
{
    BE_UNUSED(session);
    BE_UNUSED(flags);
    be_http2_t *h2 = user_data;
    struct evbuffer *out = bufferevent_get_output(h2->c->bev);
    if (evbuffer_get_length(out) > BE_H2_OUTPUT_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (evbuffer_add(out, data, length) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)length;
}

static int
on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    be_http2_t *h2 = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    /* Streams whose requests still wait on a fetch count too: after a reset the fetch goes
     * on, and a client must not start more of them than it may have streams. */
    if (h2->nstreams >= cfg_of(h2)->h2_max_concurrent_streams) {
        glitch(h2);
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_REFUSED_STREAM);
        return 0; /* no stream data: its headers are ignored */
    }
    stream_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    s->h2 = h2;
    s->id = frame->hd.stream_id;
    s->opened = now_of(h2);
    be_request_init(&s->req, h2->c->w, BE_PROTO_HTTP2, on_ready, s);
    s->req.peer = h2->c->peer;
    s->req.peer_addr = (const struct sockaddr *)&h2->c->peer_addr;
    s->next = h2->streams;
    if (h2->streams != NULL)
        h2->streams->prev = s;
    h2->streams = s;
    h2->nstreams++;
    nghttp2_session_set_stream_user_data(session, s->id, s);
    return 0;
}

static int
on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
          const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
    BE_UNUSED(flags);
    be_http2_t *h2 = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    stream_t *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s == NULL)
        return 0;
    s->header_bytes += namelen + valuelen + 32;
    if (++s->header_fields > BE_H2_MAX_FIELDS || s->header_bytes > BE_H2_MAX_HEADER_LIST) {
        glitch(h2); /* an HPACK bomb, or a client with no business here: reset the stream */
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    const char *n = (const char *)name, *v = (const char *)value;
    if (namelen == 7 && memcmp(n, ":method", 7) == 0) {
        s->mlen = valuelen < sizeof(s->method) ? valuelen : sizeof(s->method) - 1;
        memcpy(s->method, v, s->mlen);
    } else if (namelen == 5 && memcmp(n, ":path", 5) == 0) {
        if (valuelen >= sizeof(s->path)) {
            s->bad_path = 1;
            return 0;
        }
        memcpy(s->path, v, valuelen);
        s->plen = valuelen;
        be_request_target(&s->req, v, valuelen); /* before any field: RFC 9113 8.3 */
    } else if (n[0] != ':') {
        if (be_request_header(&s->req, n, namelen, v, valuelen) != BE_OK) {
            glitch(h2);
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
    }
    return 0;
}

static int
on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    be_http2_t *h2 = user_data;
    h2->last_activity = now_of(h2);
    switch (frame->hd.type) {
    case NGHTTP2_HEADERS: {
        if (frame->headers.cat != NGHTTP2_HCAT_REQUEST)
            break;
        stream_t *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (s != NULL && !s->started)
            start(s); /* a body, if any, is not needed: GET and HEAD have none */
        break;
    }
    case NGHTTP2_DATA:
        if (frame->hd.length == 0 && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
            glitch(h2);
        break;
    case NGHTTP2_SETTINGS:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK)
            h2->settings_acked = 1;
        else
            glitches(h2, BE_H2_ACK_GLITCH); /* it makes us answer: see BE_H2_ACK_GLITCH */
        break;
    case NGHTTP2_PING:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK))
            glitches(h2, BE_H2_ACK_GLITCH);
        break;
    case NGHTTP2_RST_STREAM:
        be_h2gate_note(&h2->gate, frame->hd.stream_id, BE_H2GATE_RX_RST);
        break;
    default:
        break;
    }
    return 0;
}

static int
on_invalid_frame(nghttp2_session *session, const nghttp2_frame *frame, int error_code,
                 void *user_data)
{
    BE_UNUSED(session);
    BE_UNUSED(frame);
    BE_UNUSED(error_code);
    glitch(user_data);
    return 0;
}

static int
on_stream_close(nghttp2_session *session, int32_t id, uint32_t error_code, void *user_data)
{
    be_http2_t *h2 = user_data;
    h2->last_activity = now_of(h2);
    if (error_code == NGHTTP2_NO_ERROR)
        be_h2gate_note(&h2->gate, id, BE_H2GATE_RX_END); /* both sides ended it */
    stream_t *s = nghttp2_session_get_stream_user_data(session, id);
    if (s == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(session, id, NULL);
    int unfinished = !s->answered || s->sent < s->req.body_len;
    if (unfinished && error_code != NGHTTP2_NO_ERROR)
        glitch(h2); /* reset before its answer: Rapid Reset and MadeYouReset look like this */
    if (s->started && s->req.step == BE_STEP_WAIT) {
        s->orphan = 1; /* keep it (and its count) until the fetch ends */
        return 0;
    }
    stream_unlink_free(s);
    return 0;
}

/* A GOAWAY with an error that nghttp2 sent by itself names the connection's end; a RST_STREAM
 * we sent makes what the client sends on that stream afterwards ignorable (RFC 9113 5.1). */
static int
on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    BE_UNUSED(session);
    be_http2_t *h2 = user_data;
    if (frame->hd.type == NGHTTP2_RST_STREAM)
        be_h2gate_note(&h2->gate, frame->hd.stream_id, BE_H2GATE_TX_RST);
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR &&
        h2->c->close_reason < 0)
        h2->c->close_reason = frame->goaway.error_code == NGHTTP2_ENHANCE_YOUR_CALM
                                  ? BE_CLOSE_H2_CALM
                                  : BE_CLOSE_H2_ERROR;
    return 0;
}

/* One callback set for every worker's sessions, built once (pthread_once) before its first use:
 * two workers taking their first HTTP/2 connection at the same moment both wait for it. If
 * the allocation fails, it stays NULL and be_http2_start refuses every session. */
static nghttp2_session_callbacks *cbs;
static pthread_once_t cbs_once = PTHREAD_ONCE_INIT;

static void
build_callbacks(void)
{
    if (nghttp2_session_callbacks_new(&cbs) == 0) {
        nghttp2_session_callbacks_set_send_callback(cbs, on_send);
        nghttp2_session_callbacks_set_send_data_callback(cbs, send_data);
        nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
        nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs, on_invalid_frame);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
        nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    }
}

static nghttp2_session_callbacks *
callbacks(void)
{
    pthread_once(&cbs_once, build_callbacks);
    return cbs;
}

/* ---- the pump ---------------------------------------------------------------------- */

/* Streams the client still waits on (orphans do not count: nobody waits for them). */
static int
open_streams(const be_http2_t *h2)
{
    int n = 0;
    for (const stream_t *s = h2->streams; s != NULL; s = s->next)
        n += !s->orphan;
    return n;
}

/* Sends what nghttp2 has queued; closes the connection when the session is over. */
static void
pump(be_http2_t *h2)
{
    be_conn_t *c = h2->c;
    int rv = nghttp2_session_send(h2->session);
    if (rv != 0) {
        be_log(BE_LOG_INFO, "client %s: nghttp2_session_send() failed (%s)", c->peer,
               nghttp2_strerror(rv));
        be_conn_close(c, BE_CLOSE_H2_ERROR);
        return;
    }
    struct evbuffer *out = bufferevent_get_output(c->bev);
    int over = !nghttp2_session_want_read(h2->session) && !nghttp2_session_want_write(h2->session);
    if ((over || (h2->going_away && open_streams(h2) == 0)) && evbuffer_get_length(out) == 0) {
        be_conn_finish(c, c->close_reason >= 0 ? c->close_reason : BE_CLOSE_DONE);
        return;
    }
    /* Output backpressure: stop reading new frames while the client is not reading ours. */
    if (evbuffer_get_length(out) > BE_H2_OUTPUT_HIGH)
        be_conn_read_enable(c, 0);
    else if (!c->eof)
        be_conn_read_enable(c, 1);
}

void
be_http2_on_read(be_conn_t *c)
{
    be_http2_t *h2 = c->h2;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t len = evbuffer_get_length(in);
    if (len > 0) {
        const uint8_t *p = evbuffer_pullup(in, -1);
        int errors = 0;
        ssize_t n = be_h2gate_recv(&h2->gate, h2->session, p, len, &errors);
        if (n < 0) {
            be_log(BE_LOG_INFO, "client %s: HTTP/2 session error (%s)", c->peer,
                   nghttp2_strerror((int)n));
            be_conn_close(c, n == NGHTTP2_ERR_FLOODED ? BE_CLOSE_H2_CALM : BE_CLOSE_H2_ERROR);
            return;
        }
        evbuffer_drain(in, (size_t)n); /* what is left is an incomplete frame header */
        /* Frames answered with an error on closed streams: rare from well-behaved clients. */
        if (errors > 0)
            glitches(h2, errors);
    }
    pump(h2);
}

void
be_http2_on_drained(be_conn_t *c)
{
    be_http2_t *h2 = c->h2;
    if (h2->deferred) {
        h2->deferred = 0;
        for (stream_t *s = h2->streams; s != NULL; s = s->next)
            if (s->answered && !s->orphan && s->queued < s->req.body_len)
                nghttp2_session_resume_data(h2->session, s->id);
    }
    pump(h2);
}

void
be_http2_on_eof(be_conn_t *c)
{
    /* A half-close: the client sends nothing more, but what it asked for is still
     * delivered; pump() closes once the session has nothing left to send. */
    c->eof = 1;
    c->close_reason = BE_CLOSE_CLIENT;
    for (stream_t *s = c->h2->streams; s != NULL; s = s->next) {
        if (!s->orphan && s->started && s->req.step == BE_STEP_WAIT) {
            /* A stream still waits on the origin: the client has gone, not half-closed
             * (HTTP/2 clients end with GOAWAY). Closing cancels the waits, so fetches
             * nobody wants can give up their origin slots. */
            be_conn_close(c, BE_CLOSE_CLIENT);
            return;
        }
    }
    nghttp2_session_terminate_session(c->h2->session, NGHTTP2_NO_ERROR);
    pump(c->h2);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(what);
    be_http2_on_timer(arg);
}

void
be_http2_on_timer(be_conn_t *c)
{
    be_http2_t *h2 = c->h2;
    const be_config_t *cfg = cfg_of(h2);
    be_msec_t now = now_of(h2);

    if (!h2->settings_acked && now - c->accepted > cfg->client_header_timeout) {
        c->close_reason = BE_CLOSE_HEADER_TIMEOUT;
        nghttp2_session_terminate_session(h2->session, NGHTTP2_SETTINGS_TIMEOUT);
        h2->going_away = 1;
    }
    int pending = 0, open = 0;
    for (stream_t *s = h2->streams; s != NULL; s = s->next) {
        if (s->orphan)
            continue;
        open++;
        if (!s->started && now - s->opened > cfg->client_header_timeout)
            nghttp2_submit_rst_stream(h2->session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
        if (s->answered && s->sent < s->req.body_len)
            pending = 1;
    }
    if (pending && now - h2->last_progress > cfg->send_timeout) {
        be_log(BE_LOG_INFO, "client %s: no HTTP/2 data could be sent for %lld ms, closing", c->peer,
               (long long)cfg->send_timeout);
        be_conn_close(c, BE_CLOSE_SEND_TIMEOUT);
        return;
    }
    if (open == 0 && !h2->going_away && c->w->handed_over &&
        now - h2->last_activity >= BE_DRAIN_IDLE_MS) {
        be_http2_shutdown(c); /* a hand-over's drain: GOAWAY once the client is quiet */
        return;
    }
    if (open == 0 && !h2->going_away && now - h2->last_activity > cfg->keepalive_timeout &&
        cfg->keepalive_timeout > 0) {
        c->close_reason = BE_CLOSE_IDLE_TIMEOUT;
        nghttp2_session_terminate_session(h2->session, NGHTTP2_NO_ERROR);
        h2->going_away = 1;
    }
    pump(h2);
}

int
be_http2_start(be_conn_t *c)
{
    const be_config_t *cfg = c->w->cfg;
    be_http2_t *h2 = calloc(1, sizeof(*h2));
    nghttp2_option *opt = NULL;
    if (h2 == NULL || callbacks() == NULL || nghttp2_option_new(&opt) != 0) {
        free(h2);
        return BE_ERROR;
    }
    h2->c = c;
    h2->tokens = BE_H2_GLITCH_BURST;
    h2->tokens_at = h2->last_activity = h2->last_progress = be_worker_now(c->w);
    be_h2gate_init(&h2->gate);
    nghttp2_option_set_no_closed_streams(opt, 1);
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_max_settings(opt, 32);
    nghttp2_option_set_max_continuations(opt, 8);
    nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 100);
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
    int rv = nghttp2_session_server_new2(&h2->session, callbacks(), h2, opt);
    nghttp2_option_del(opt);
    if (rv != 0) {
        free(h2);
        return BE_ERROR;
    }
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t)cfg->h2_max_concurrent_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, BE_H2_MAX_HEADER_LIST},
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    if (nghttp2_submit_settings(h2->session, NGHTTP2_FLAG_NONE, iv, BE_ARRAY_LEN(iv)) != 0) {
        nghttp2_session_del(h2->session);
        free(h2);
        return BE_ERROR;
    }
    h2->tick = event_new(c->w->base, -1, EV_PERSIST, on_tick, c);
    struct timeval tv = {0, TICK_MS * 1000};
    if (h2->tick == NULL || event_add(h2->tick, &tv) != 0) {
        if (h2->tick != NULL)
            event_free(h2->tick);
        nghttp2_session_del(h2->session);
        free(h2);
        return BE_ERROR;
    }
    c->h2 = h2;
    return BE_OK;
}

void
be_http2_free(be_conn_t *c)
{
    be_http2_t *h2 = c->h2;
    if (h2 == NULL)
        return;
    c->h2 = NULL;
    /* No callback may run from here on: drop our streams first, then the session. */
    while (h2->streams != NULL)
        stream_unlink_free(h2->streams);
    nghttp2_session_del(h2->session);
    event_free(h2->tick);
    free(h2);
}

void
be_http2_shutdown(be_conn_t *c)
{
    be_http2_t *h2 = c->h2;
    if (h2->going_away)
        return;
    h2->going_away = 1;
    c->close_reason = BE_CLOSE_SHUTDOWN;
    /* Streams up to the last one seen are still answered; the connection closes when the
     * last of them is done (see pump()). */
    nghttp2_submit_goaway(h2->session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(h2->session), NGHTTP2_NO_ERROR,
                          NULL, 0);
    pump(h2);
}
