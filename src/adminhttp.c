/*
 * adminhttp.c - HTTP/1.1 for the admin listener: a bounded, strict parse of one request head,
 * an optional body of a declared length, one answer, then the close.
 *
 * Owns a connection's bufferevent and its few states (reading the head, reading a body,
 * waiting for an answer from elsewhere, writing the answer). Knows no endpoint: the admin's
 * ops decide. Invariants: at most BE_ADMINHTTP_MAX_HEAD bytes of head and the declared body
 * are ever buffered; each connection is answered at most once and freed exactly once, and
 * ops->closed runs then; a held connection's gone() runs if it is freed first. Timeouts: 10 s
 * without progress while reading or writing; none while held (the holder answers).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "blockedge/adminhttp.h"

#define IO_TIMEOUT_SEC 10

enum { READING_HEAD, READING_BODY, HELD, ANSWERED };

struct be_adminhttp_s {
    struct bufferevent *bev;
    const be_adminhttp_ops_t *ops;
    void *ctx;
    int state;
    be_adminreq_t req;
    void (*gone)(void *arg);
    void *gone_arg;
};

/* ---- parsing ------------------------------------------------------------------------------ */

static int
fail(int *status, const char **why, int code, const char *reason)
{
    *status = code;
    *why = reason;
    return BE_ERROR;
}

/* Copies [s, s + n) into dst[cap] with a NUL. 0 when it does not fit. */
static int
copy(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return 0;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 1;
}

static int
is_tchar(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The request line: METHOD SP target SP HTTP/1.x */
static int
parse_line(const char *s, size_t n, be_adminreq_t *r, int *status, const char **why)
{
    const char *sp1 = memchr(s, ' ', n);
    const char *sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t)(s + n - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp2 == NULL || sp1 == s || sp2 == sp1 + 1)
        return fail(status, why, 400, "malformed request line");
    for (const char *p = s; p < sp1; p++)
        if (!is_tchar(*p))
            return fail(status, why, 400, "malformed method");
    size_t vlen = (size_t)(s + n - sp2 - 1);
    if (vlen != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return fail(status, why, vlen == 8 && memcmp(sp2 + 1, "HTTP/", 5) == 0 ? 505 : 400,
                    "expected HTTP/1.0 or HTTP/1.1");
    const char *target = sp1 + 1;
    size_t tlen = (size_t)(sp2 - target);
    for (size_t i = 0; i < tlen; i++)
        if ((unsigned char)target[i] <= ' ' || (unsigned char)target[i] >= 0x7f)
            return fail(status, why, 400, "malformed request target");
    if (target[0] != '/')
        return fail(status, why, 400, "the request target must start with /");
    const char *q = memchr(target, '?', tlen);
    size_t plen = q != NULL ? (size_t)(q - target) : tlen;
    if (!copy(r->method, sizeof(r->method), s, (size_t)(sp1 - s)))
        return fail(status, why, 400, "method too long");
    if (!copy(r->path, sizeof(r->path), target, plen) ||
        !copy(r->query, sizeof(r->query), q != NULL ? q + 1 : "", q != NULL ? tlen - plen - 1 : 0))
        return fail(status, why, 414, "request target too long");
    return BE_OK;
}

static int
name_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* One "name: value" field; only the ones the admin uses are kept. */
static int
parse_field(const char *s, size_t n, be_adminreq_t *r, int *status, const char **why)
{
    const char *colon = memchr(s, ':', n);
    if (colon == NULL || colon == s)
        return fail(status, why, 400, "malformed header field");
    for (const char *p = s; p < colon; p++)
        if (!is_tchar(*p))
            return fail(status, why, 400, "malformed header field name");
    size_t nlen = (size_t)(colon - s);
    const char *v = colon + 1, *end = s + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    for (const char *p = v; p < end; p++)
        if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f)
            return fail(status, why, 400, "control character in a header field");
    size_t vlen = (size_t)(end - v);
    if (name_is(s, nlen, "authorization")) {
        if (r->has_authorization)
            return fail(status, why, 400, "repeated Authorization");
        if (!copy(r->authorization, sizeof(r->authorization), v, vlen))
            return fail(status, why, 431, "Authorization too long");
        r->has_authorization = 1;
    } else if (name_is(s, nlen, "content-length")) {
        uint64_t x = 0;
        if (vlen == 0 || vlen > 12 || r->has_length)
            return fail(status, why, 400, "malformed or repeated Content-Length");
        for (size_t i = 0; i < vlen; i++) {
            if (v[i] < '0' || v[i] > '9')
                return fail(status, why, 400, "malformed Content-Length");
            x = x * 10 + (uint64_t)(v[i] - '0');
        }
        r->content_length = x;
        r->has_length = 1;
    } else if (name_is(s, nlen, "transfer-encoding")) {
        r->chunked = !(vlen == 8 && strncasecmp(v, "identity", 8) == 0);
    } else if (name_is(s, nlen, "expect")) {
        r->expect_continue = vlen == 12 && strncasecmp(v, "100-continue", 12) == 0;
    }
    return BE_OK;
}

size_t
be_adminreq_top(const char *query, size_t dflt, size_t max)
{
    for (const char *p = query; p != NULL && *p != '\0';) {
        if (strncmp(p, "top=", 4) == 0 && p[4] >= '0' && p[4] <= '9') {
            unsigned long v = strtoul(p + 4, NULL, 10); /* ULONG_MAX past the range: clamped */
            return v > max ? max : (size_t)v;
        }
        p = strchr(p, '&');
        if (p != NULL)
            p++;
    }
    return dflt;
}

int
be_adminreq_parse(const char *head, size_t len, be_adminreq_t *r, int *status, const char **why)
{
    memset(r, 0, sizeof(*r));
    int first = 1;
    for (const char *p = head, *end = head + len; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL || eol == p || eol[-1] != '\r')
            return fail(status, why, 400, "lines must end with CRLF");
        size_t n = (size_t)(eol - 1 - p);
        if (n == 0) /* the blank line */
            return first ? fail(status, why, 400, "no request line") : BE_OK;
        if (!first && (*p == ' ' || *p == '\t'))
            return fail(status, why, 400, "obsolete line folding");
        int rc = first ? parse_line(p, n, r, status, why) : parse_field(p, n, r, status, why);
        if (rc != BE_OK)
            return rc;
        first = 0;
        p = eol + 1;
    }
    return fail(status, why, 400, "incomplete request head");
}

/* ---- the connection -------------------------------------------------------------------- */

static const char *
phrase(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return status >= 500 ? "Internal Server Error" : "Error";
    }
}

void
be_adminhttp_free(be_adminhttp_t **cp)
{
    be_adminhttp_t *c = *cp;
    if (c == NULL)
        return;
    *cp = NULL;
    if (c->gone != NULL)
        c->gone(c->gone_arg);
    c->ops->closed(c->ctx, c);
    bufferevent_free(c->bev);
    free(c);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
    BE_UNUSED(bev);
    BE_UNUSED(what);
    be_adminhttp_t *c = arg;
    be_adminhttp_free(&c);
}

static void
on_written(struct bufferevent *bev, void *arg)
{
    be_adminhttp_t *c = arg;
    if (c->state == ANSWERED && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        be_adminhttp_free(&c);
}

void
be_adminhttp_reply(be_adminhttp_t *c, int status, const char *type, const char *extra,
                   struct evbuffer *body)
{
    if (c->state == ANSWERED)
        return;
    c->state = ANSWERED;
    c->gone = NULL;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t blen = body != NULL ? evbuffer_get_length(body) : 0;
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nserver: blockedge\r\ncontent-type: %s\r\n"
                        "content-length: %zu\r\ncache-control: no-store\r\n%s"
                        "connection: close\r\n\r\n",
                        status, phrase(status), type, blen, extra != NULL ? extra : "");
    if (body != NULL)
        evbuffer_add_buffer(out, body);
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_setcb(c->bev, NULL, on_written, on_event, c);
    bufferevent_enable(c->bev, EV_WRITE);
}

void
be_adminhttp_text(be_adminhttp_t *c, int status, const char *fmt, ...)
{
    struct evbuffer *body = evbuffer_new();
    if (body == NULL) {
        be_adminhttp_reply(c, status, "text/plain", NULL, NULL); /* out of memory: no text */
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    evbuffer_add_vprintf(body, fmt, ap);
    va_end(ap);
    evbuffer_add(body, "\n", 1);
    be_adminhttp_reply(c, status, "text/plain", NULL, body);
    evbuffer_free(body);
}

int
be_adminhttp_reading_body(const be_adminhttp_t *c)
{
    return c->state == READING_BODY;
}

void
be_adminhttp_hold(be_adminhttp_t *c, void (*gone)(void *arg), void *arg)
{
    c->state = HELD;
    c->gone = gone;
    c->gone_arg = arg;
    bufferevent_disable(c->bev, EV_READ);
}

/* Reading the body: hands it over once all of it is there. */
static void
read_body(be_adminhttp_t *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    if (evbuffer_get_length(in) < c->req.content_length)
        return;
    struct evbuffer *body = evbuffer_new();
    if (body == NULL) {
        be_adminhttp_text(c, 500, "out of memory");
        return;
    }
    evbuffer_remove_buffer(in, body, (size_t)c->req.content_length);
    bufferevent_disable(c->bev, EV_READ);
    c->state = HELD; /* until body() answers or holds */
    c->ops->body(c->ctx, c, &c->req, body);
    evbuffer_free(body);
}

/* The head is in: parse it, ask the admin, and read a body if it wants one. */
static void
got_head(be_adminhttp_t *c, size_t head_len)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    char head[BE_ADMINHTTP_MAX_HEAD + 4];
    int status;
    const char *why;
    evbuffer_remove(in, head, head_len);
    if (be_adminreq_parse(head, head_len, &c->req, &status, &why) != BE_OK) {
        be_adminhttp_text(c, status, "%s", why);
        return;
    }
    c->state = HELD; /* until head() answers, holds, or asks for the body */
    if (c->ops->head(c->ctx, c, &c->req) != BE_OK || c->state != HELD)
        return;
    if (c->req.chunked) {
        be_adminhttp_text(c, 411, "send the body with a Content-Length");
        return;
    }
    if (c->req.content_length > BE_ADMINHTTP_MAX_BODY) {
        be_adminhttp_text(c, 413, "body larger than %d bytes", BE_ADMINHTTP_MAX_BODY);
        return;
    }
    c->state = READING_BODY;
    c->gone = NULL;
    bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
    if (c->req.expect_continue && c->req.content_length > 0 &&
        evbuffer_get_length(in) < c->req.content_length)
        evbuffer_add_printf(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n");
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    read_body(c);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
    be_adminhttp_t *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (c->state == READING_BODY) {
        read_body(c);
        return;
    }
    if (c->state != READING_HEAD)
        return;
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos >= 0 && (size_t)end.pos + 4 <= BE_ADMINHTTP_MAX_HEAD) {
        got_head(c, (size_t)end.pos + 4);
    } else if (evbuffer_get_length(in) > BE_ADMINHTTP_MAX_HEAD) {
        be_adminhttp_text(c, 431, "request head larger than %d bytes", BE_ADMINHTTP_MAX_HEAD);
    }
}

be_adminhttp_t *
be_adminhttp_new(struct event_base *base, int fd, const be_adminhttp_ops_t *ops, void *ctx)
{
    be_adminhttp_t *c = calloc(1, sizeof(*c));
    struct bufferevent *bev =
        c != NULL ? bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (bev == NULL) {
        free(c);
        evutil_closesocket(fd);
        return NULL;
    }
    c->bev = bev;
    c->ops = ops;
    c->ctx = ctx;
    c->state = READING_HEAD;
    struct timeval tv = {IO_TIMEOUT_SEC, 0};
    bufferevent_set_timeouts(bev, &tv, &tv);
    /* read no more than a head and its terminator before looking at it */
    bufferevent_setwatermark(bev, EV_READ, 0, BE_ADMINHTTP_MAX_HEAD + 1);
    bufferevent_setcb(bev, on_read, NULL, on_event, c);
    bufferevent_enable(bev, EV_READ);
    return c;
}
