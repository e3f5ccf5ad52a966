/*
 * http1.c - HTTP/1.1: strict bounded parsing, keep-alive, pipelining in order, responses.
 *
 * One request at a time per connection: the next pipelined request is parsed only after
 * the previous response is queued, so answers leave in order and a request behind a bad
 * one is never answered (a parse error answers 400 and closes). The head must fit in
 * BE_HTTP1_MAX_HEADER bytes and the request line in BE_HTTP1_MAX_REQUEST_LINE (431/414).
 * Rejected as request smuggling vectors (RFC 9112 6.3, 11.2): Content-Length with
 * Transfer-Encoding, repeated or malformed Content-Length, obs-fold, bare LF, whitespace
 * before the colon, a body on GET/HEAD, a missing Host in HTTP/1.1. Accepted as RFC 9112
 * asks: up to BE_HTTP1_MAX_EMPTY_LINES empty lines before a request line (2.2), and an
 * absolute-form target (3.2.2), served by its path.
 * Knows nothing of caching: be_request_t does the rest.
 */
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "blockedge/config.h"
#include "blockedge/http1.h"
#include "blockedge/log.h"
#include "blockedge/services.h"
#include "blockedge/worker.h"

static const be_config_t *
cfg_of(const be_conn_t *c)
{
    return c->w->cfg;
}

static int
is_tchar(unsigned char ch)
{
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
        return 1;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int
token_len(const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)p[i]))
        i++;
    return (int)i;
}

/* Does the comma-separated header value contain token (case-insensitive)? */
static int
has_token(const char *v, size_t len, const char *token)
{
    size_t tl = strlen(token);
    size_t i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (i - start == tl && strncasecmp(v + start, token, tl) == 0)
            return 1;
    }
    return 0;
}

/* Scheme length of an "http://" or "https://" target (case-insensitive), else 0. */
static size_t
http_scheme_len(const char *t, size_t len)
{
    if (len >= 7 && strncasecmp(t, "http://", 7) == 0)
        return 7;
    if (len >= 8 && strncasecmp(t, "https://", 8) == 0)
        return 8;
    return 0;
}

/* RFC 9112 3.2.2: a server MUST accept the absolute-form; the path (after the authority)
 * is what is served, and the target's authority stands in for Host, which is then ignored.
 * An empty host or userinfo is refused (RFC 9110 4.2.1, 4.2.4); other schemes and the
 * authority- and asterisk-forms (CONNECT, OPTIONS *) are not served here. */
static int
absolute_form(be_http1_head_t *h)
{
    size_t s = http_scheme_len(h->target, h->tlen);
    if (s == 0)
        return 400;
    size_t a = s;
    while (a < h->tlen && h->target[a] != '/' && h->target[a] != '?' && h->target[a] != '#')
        a++;
    if (a == s || memchr(h->target + s, '@', a - s) != NULL)
        return 400;
    if (a == h->tlen) { /* no path: the empty path is "/" */
        h->target = "/";
        h->tlen = 1;
        return 0;
    }
    if (h->target[a] != '/')
        return 400; /* a query or fragment right after the authority */
    h->target += a;
    h->tlen -= a;
    return 0;
}

static int
parse_request_line(const char *p, size_t len, be_http1_head_t *h)
{
    int m = token_len(p, len);
    if (m == 0 || (size_t)m >= len || p[m] != ' ')
        return 400;
    h->method = p;
    h->mlen = (size_t)m;
    size_t i = (size_t)m + 1;
    size_t t = i;
    while (i < len && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f)
        i++;
    if (i == t || i >= len || p[i] != ' ')
        return 400;
    h->target = p + t;
    h->tlen = i - t;
    i++;
    if (len - i != 8 || memcmp(p + i, "HTTP/1.", 7) != 0 || (p[i + 7] != '0' && p[i + 7] != '1'))
        return 400;
    h->minor = p[i + 7] - '0';
    if (h->target[0] == '/')
        return 0; /* origin-form */
    return absolute_form(h);
}

static int
parse_content_length(const char *v, size_t len, int64_t *out)
{
    if (len == 0 || len > 18)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    *out = n;
    return 0;
}

static int
parse_field(be_request_t *r, const char *p, size_t len, be_http1_head_t *h)
{
    if (p[0] == ' ' || p[0] == '\t')
        return 400; /* obs-fold */
    int n = token_len(p, len);
    if (n == 0 || (size_t)n >= len || p[n] != ':')
        return 400; /* empty name, bad character, or whitespace before the colon */
    size_t i = (size_t)n + 1;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    size_t end = len;
    while (end > i && (p[end - 1] == ' ' || p[end - 1] == '\t'))
        end--;
    for (size_t k = i; k < end; k++) {
        unsigned char ch = (unsigned char)p[k];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return 400;
    }
    const char *v = p + i;
    size_t vlen = end - i;
    if (++h->fields > BE_HTTP1_MAX_FIELDS)
        return 431;

    if (n == 4 && strncasecmp(p, "host", 4) == 0) {
        h->hosts++;
    } else if (n == 14 && strncasecmp(p, "content-length", 14) == 0) {
        if (h->content_lengths++ > 0 || parse_content_length(v, vlen, &h->content_length) != 0)
            return 400;
    } else if (n == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
        h->transfer_encoding = 1;
    } else if (n == 10 && strncasecmp(p, "connection", 10) == 0) {
        h->conn_close |= has_token(v, vlen, "close");
        h->conn_keepalive |= has_token(v, vlen, "keep-alive");
    } else if (be_request_header(r, p, (size_t)n, v, vlen) != BE_OK) {
        return 431;
    }
    return 0;
}

int
be_http1_parse_head(const char *p, size_t n, size_t avail, be_http1_head_t *h, be_request_t *r,
                    be_worker_t *w)
{
    size_t pos = 0;
    int line_no = 0, empty_lines = 0;
    memset(h, 0, sizeof(*h));

    for (;;) {
        const char *nl = memchr(p + pos, '\n', n - pos);
        if (nl == NULL) {
            if (line_no == 0 && n - pos > BE_HTTP1_MAX_REQUEST_LINE)
                return 414;
            return avail >= BE_HTTP1_MAX_HEADER ? (line_no == 0 ? 414 : 431) : -1;
        }
        size_t end = (size_t)(nl - p);
        if (end == pos || p[end - 1] != '\r')
            return 400; /* bare LF */
        size_t len = end - 1 - pos;
        const char *line = p + pos;
        pos = end + 1;
        if (line_no == 0) {
            if (len > BE_HTTP1_MAX_REQUEST_LINE)
                return 414;
            if (len == 0) { /* RFC 9112 2.2: ignore a few CRLFs before a request line */
                if (++empty_lines > BE_HTTP1_MAX_EMPTY_LINES)
                    return 400;
                continue;
            }
            int st = parse_request_line(line, len, h);
            if (st != 0)
                return st;
            be_request_init(r, w, BE_PROTO_HTTP1, NULL, NULL);
            be_request_target(r, h->target, h->tlen);
        } else if (len == 0) {
            h->head_len = pos;
            return 0;
        } else {
            if (memchr(line, '\r', len) != NULL)
                return 400; /* a CR inside a line */
            int st = parse_field(r, line, len, h);
            if (st != 0)
                return st;
        }
        line_no++;
    }
}

static int
parse_head(be_conn_t *c, be_http1_head_t *h)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t avail = evbuffer_get_length(in);
    size_t n = avail < BE_HTTP1_MAX_HEADER ? avail : BE_HTTP1_MAX_HEADER;
    const char *p = (const char *)evbuffer_pullup(in, (ssize_t)n);
    int st = be_http1_parse_head(p, n, avail, h, &c->req, c->w);
    c->req.ctx = c;
    c->req.peer = c->peer;
    c->req.peer_addr = (const struct sockaddr *)&c->peer_addr;
    return st;
}

static int
check_head(const be_http1_head_t *h)
{
    if (h->transfer_encoding && h->content_lengths)
        return 400;
    if (h->minor == 1 && h->hosts != 1)
        return 400;
    if (h->hosts > 1)
        return 400;
    return 0;
}

/* ---- responses --------------------------------------------------------------------- */

static void on_ready(be_request_t *r, void *ctx);
static void process(be_conn_t *c);

static size_t
put(char *buf, size_t cap, size_t pos, const char *s, size_t len)
{
    if (pos + len > cap)
        len = cap - pos; /* cannot happen with the head sizes here; truncate, never overflow */
    memcpy(buf + pos, s, len);
    return pos + len;
}

/* Serializes the status line and fields into buf; returns the length. No printf on the
 * hit path: this runs for every response. */
static size_t
format_head(char *buf, size_t cap, int status, const be_header_t *hs, int n, int close)
{
    size_t pos = put(buf, cap, 0, "HTTP/1.1 ", 9);
    pos = put(buf, cap, pos, be_http_status_text(status), 3);
    pos = put(buf, cap, pos, " ", 1);
    const char *reason = be_http_reason(status);
    pos = put(buf, cap, pos, reason, strlen(reason));
    pos = put(buf, cap, pos, "\r\n", 2);
    for (int i = 0; i < n; i++) {
        pos = put(buf, cap, pos, hs[i].name, strlen(hs[i].name));
        pos = put(buf, cap, pos, ": ", 2);
        pos = put(buf, cap, pos, hs[i].value, strlen(hs[i].value));
        pos = put(buf, cap, pos, "\r\n", 2);
    }
    if (close)
        return put(buf, cap, pos, "connection: close\r\n\r\n", 21);
    return put(buf, cap, pos, "connection: keep-alive\r\n\r\n", 26);
}

static void
write_response(be_conn_t *c)
{
    be_request_t *r = &c->req;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    be_header_t hs[BE_MAX_RESPONSE_HEADERS];
    int n = be_request_headers(r, hs, BE_MAX_RESPONSE_HEADERS);

    char head[4096];
    size_t len = format_head(head, sizeof(head), r->status, hs, n, c->closing || !c->keepalive);
    evbuffer_add(out, head, len);

    if (r->body_len > 0) {
        if (be_request_body_is_block(r)) {
            if (be_block_add_to_evbuffer(r->block, out, r->body_off, r->body_len) != BE_OK) {
                c->closing = 1; /* the head went out: a short body must end the connection */
                c->close_reason = BE_CLOSE_IO_ERROR;
            }
        } else {
            const char *text = be_request_error_text(r);
            evbuffer_add(out, text, strlen(text));
            evbuffer_add(out, "\n", 1);
        }
    }
    be_request_done(r);
    be_request_dispose(r);
    c->req_active = 0;
    if (!c->keepalive) {
        c->closing = 1;
        if (c->close_reason < 0)
            c->close_reason = BE_CLOSE_DONE;
    }
}

/* Answers a refused head (400/414/431/408) and closes after it. */
static void
refuse(be_conn_t *c, int status, int reason)
{
    be_request_t *r = &c->req;
    if (r->step != BE_STEP_NEW) /* not this head's request (never set up, or answered) */
        be_request_init(r, c->w, BE_PROTO_HTTP1, NULL, c);
    be_request_fail(r, status, NULL);
    c->keepalive = 0;
    c->closing = 1;
    c->close_reason = reason;
    write_response(c);
    be_conn_read_enable(c, 0);
}

/* Closes the connection once its answer has left. Returns 1 when it was closed. */
static int
close_if_drained(be_conn_t *c)
{
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) != 0)
        return 0;
    be_conn_finish(c, c->close_reason >= 0 ? c->close_reason : BE_CLOSE_DONE);
    return 1;
}

static void
on_ready(be_request_t *r, void *ctx)
{
    be_conn_t *c = ctx;
    BE_UNUSED(r);
    write_response(c);
    process(c);
}

enum { GO_ON, WAIT, CLOSED };

/* Parses and starts one request: GO_ON when answered at once, WAIT for bytes or a fill,
 * CLOSED when the connection is gone. */
static int
one_request(be_conn_t *c)
{
    const be_config_t *cfg = cfg_of(c);
    struct evbuffer *in = bufferevent_get_input(c->bev);
    if (evbuffer_get_length(in) == 0) {
        c->in_header = 0;
        if (c->eof) {
            c->closing = 1;
            c->close_reason = BE_CLOSE_CLIENT;
            return close_if_drained(c) ? CLOSED : WAIT;
        }
        be_conn_set_timer(c, cfg->keepalive_timeout);
        return WAIT;
    }

    be_http1_head_t h;
    int st = parse_head(c, &h);
    if (st < 0) {
        if (c->eof) { /* the client will send no more: a partial head is dropped */
            c->closing = 1;
            c->close_reason = BE_CLOSE_CLIENT;
            return close_if_drained(c) ? CLOSED : WAIT;
        }
        if (!c->in_header) {
            c->in_header = 1;
            be_conn_set_timer(c, cfg->client_header_timeout);
        }
        return WAIT;
    }
    if (st == 0)
        st = check_head(&h);
    int method_has_no_body = (h.mlen == 3 && memcmp(h.method, "GET", 3) == 0) ||
                             (h.mlen == 4 && memcmp(h.method, "HEAD", 4) == 0);
    if (st == 0 && method_has_no_body && (h.transfer_encoding || h.content_length > 0))
        st = 400; /* a body on GET/HEAD: where it ends is the smuggler's question */
    if (st != 0) {
        refuse(c, st, BE_CLOSE_BAD_REQUEST);
        return WAIT;
    }

    c->in_header = 0;
    be_conn_set_timer(c, 0);
    c->keepalive = !h.conn_close && (h.minor == 1 || h.conn_keepalive) && !c->closing && !c->last &&
                   !c->w->stopping && cfg->keepalive_timeout > 0;
    if (h.transfer_encoding || h.content_length > 0)
        c->keepalive = 0; /* not GET/HEAD: answered 405, and the body is not read */
    c->req.on_ready = on_ready;
    c->req_active = 1;
    int rc = be_request_start(&c->req, h.method, h.mlen, h.target, h.tlen);
    evbuffer_drain(in, h.head_len);
    if (rc == BE_AGAIN)
        return WAIT;
    write_response(c);
    return GO_ON;
}

/* Bounds the input buffered behind a request in progress. */
static void
bound_input(be_conn_t *c)
{
    size_t in = evbuffer_get_length(bufferevent_get_input(c->bev));
    if (in > BE_HTTP1_INPUT_HIGH && !c->read_off) {
        c->read_off = 1;
        be_conn_read_enable(c, 0);
    } else if (in <= BE_HTTP1_INPUT_HIGH && c->read_off && !c->closing) {
        c->read_off = 0;
        be_conn_read_enable(c, 1);
    }
}

/*
 * Writes what the responses queued, now, instead of arming a write event for the next loop
 * turn: most answers leave in this one writev, and the epoll_ctl pair around a write event
 * is saved. Only what the socket does not take arms the event (and send_timeout with it).
 * TLS connections leave writing to their bufferevent.
 */
static void
flush_now(be_conn_t *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (c->tls || evbuffer_get_length(out) == 0)
        return;
    /* A socket bufferevent keeps the front of its output frozen so that only it writes
     * there; thaw it for this one write. Errors show up on the write event. */
    evbuffer_unfreeze(out, 1);
    evbuffer_write(out, bufferevent_getfd(c->bev));
    evbuffer_freeze(out, 1);
    if (evbuffer_get_length(out) > 0)
        bufferevent_enable(c->bev, EV_WRITE);
}

/* Answers requests in order until one must wait. The connection may be closed on return. */
static void
process(be_conn_t *c)
{
    for (;;) {
        if (c->req_active)
            break;
        if (c->closing) {
            flush_now(c);
            close_if_drained(c);
            return;
        }
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) > BE_HTTP1_OUTPUT_HIGH) {
            flush_now(c); /* the socket may take it all at once: then go on */
            if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
                c->paused = 1; /* resumed by be_http1_on_drained() */
                break;
            }
        }
        int rc = one_request(c);
        if (rc == CLOSED)
            return;
        if (rc == WAIT)
            break;
    }
    flush_now(c);
    if (c->closing && !c->req_active && close_if_drained(c))
        return;
    bound_input(c);
}

void
be_http1_on_read(be_conn_t *c)
{
    if (c->closing && !c->req_active) {
        /* Nothing more will be answered: discard what arrives while the answer drains. */
        struct evbuffer *in = bufferevent_get_input(c->bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    process(c);
}

void
be_http1_on_drained(be_conn_t *c)
{
    if (!c->tls) /* back to writing directly (see flush_now) */
        bufferevent_disable(c->bev, EV_WRITE);
    if (c->closing && !c->req_active) {
        close_if_drained(c);
        return;
    }
    if (c->paused) {
        c->paused = 0;
        process(c);
    }
}

void
be_http1_on_timer(be_conn_t *c)
{
    if (c->in_header) {
        refuse(c, 408, BE_CLOSE_HEADER_TIMEOUT);
        flush_now(c);
        close_if_drained(c); /* or once the 408 has left */
        return;
    }
    if (!c->req_active)
        be_conn_close(c, BE_CLOSE_IDLE_TIMEOUT);
}

void
be_http1_on_eof(be_conn_t *c)
{
    c->eof = 1;
    if (c->req_active && c->req.step == BE_STEP_WAIT) {
        /* The client left while its miss waits on the origin (nginx's "client prematurely
         * closed connection"): closing cancels its wait, so a fetch nobody wants any more
         * can give up its origin slot (origin_max_inflight). */
        be_conn_close(c, BE_CLOSE_CLIENT);
        return;
    }
    if (c->req_active)
        return; /* answer it; process() closes when nothing is left */
    process(c);
}
