/*
 * request.c - one block request, whatever the protocol: route, key, tier look-up,
 * conditional (If-None-Match, If-Range) and range logic, and the response head.
 *
 * Must not know about sockets, parsing or framing. Invariant: a block is only ever
 * attached to a request after it was verified (the cache holds nothing else), and the
 * bytes a request sends are exactly block[body_off, body_off + body_len).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "blockedge/check.h"
#include "blockedge/accesslog.h"
#include "blockedge/auth.h"
#include "blockedge/cache.h"
#include "blockedge/clientaddr.h"
#include "blockedge/clock.h"
#include "blockedge/missrate.h"
#include "blockedge/popularity.h"
#include "blockedge/request.h"
#include "blockedge/services.h"
#include "blockedge/stats.h"
#include "blockedge/worker.h"

#define BLOCKS_PREFIX "/blocks/"

void
be_request_init(be_request_t *r, be_worker_t *w, int proto, be_request_ready_fn on_ready, void *ctx)
{
    BE_CHECK_OBJ_ORNULL(w, BE_WORKER_MAGIC); /* NULL: the parser alone (fuzzing) */
    memset(r, 0, offsetof(be_request_t, vbuf));
    r->magic = BE_REQUEST_MAGIC;
    r->w = w;
    r->proto = proto;
    r->on_ready = on_ready;
    r->ctx = ctx;
    r->tier = -1;
    r->step = BE_STEP_NEW;
    r->started_us = be_clock_usec();
    r->log_method[0] = r->log_path[0] = r->log_referer[0] = r->log_agent[0] = '\0';
}

/* The access log, when one is configured. */
static be_accesslog_t *
accesslog_of(const be_request_t *r)
{
    be_accesslog_t *log = r->w != NULL && r->w->svc != NULL ? r->w->svc->accesslog : NULL;
    return be_accesslog_on(log, r->w != NULL ? r->w->id : 0) ? log : NULL;
}

/* Whether block requests must carry a signed-URL token (auth { mode signed; }). */
static int
auth_on(const be_request_t *r)
{
    return r->w != NULL && r->w->cfg != NULL && r->w->cfg->auth_mode == BE_AUTH_MODE_SIGNED;
}

static int
name_is(const char *name, size_t nlen, const char *want)
{
    return nlen == strlen(want) && strncasecmp(name, want, nlen) == 0;
}

/* Keeps a copy of a request string for the access log (cut to the field's size). */
static void
note(char *dst, size_t cap, const char *v, size_t len)
{
    if (len > cap - 1)
        len = cap - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static int
keep(char *dst, size_t cap, const char *v, size_t vlen)
{
    if (vlen + 1 > cap)
        return BE_ERROR;
    memcpy(dst, v, vlen);
    dst[vlen] = '\0';
    return BE_OK;
}

/* Appends a real_ip_header value to r->real_ip, keeping the end of the list when it is
 * too long: the addresses that count are the rightmost ones (see clientaddr.h). */
static void
keep_real_ip(be_request_t *r, const char *v, size_t vlen)
{
    char *d = r->real_ip;
    size_t cap = sizeof(r->real_ip) - 1, used = r->real_ip_len;
    if (vlen >= cap) { /* only this value's tail fits: from just after a comma */
        const char *t = v + vlen - cap, *comma = memchr(t, ',', cap);
        used = vlen = 0;
        if (comma != NULL) {
            v = comma + 1;
            vlen = cap - (size_t)(v - t);
        }
    } else if (used + 1 + vlen > cap) {  /* drop the leftmost addresses to make room */
        size_t from = used + vlen - cap; /* d[from] on must go, up to a comma */
        const char *comma = memchr(d + from, ',', used - from);
        size_t start = comma != NULL ? (size_t)(comma + 1 - d) : used;
        memmove(d, d + start, used - start);
        used -= start;
    }
    if (used > 0)
        d[used++] = ',';
    memcpy(d + used, v, vlen);
    used += vlen;
    d[used] = '\0';
    r->real_ip_len = (unsigned)used;
}

/* RFC 9110 13.1.2: the weak comparison of each entity-tag in one If-None-Match field
 * value against ours ("<hex>"). Several fields are one list: each is evaluated as it
 * arrives and the results are or-ed, so no copy of the list is kept. A malformed member
 * ends the evaluation of its field with no match (the block is sent). */
static int
none_match(const char *v, size_t len, const char *hex)
{
    size_t i = 0;
    for (;;) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        if (i == len)
            return 0;
        if (v[i] == '*')
            return 1;
        if (len - i >= 2 && v[i] == 'W' && v[i + 1] == '/')
            i += 2;
        if (i == len || v[i] != '"')
            return 0;
        const char *tag = v + i + 1;
        const char *end = memchr(tag, '"', len - i - 1);
        if (end == NULL)
            return 0;
        if ((size_t)(end - tag) == BE_KEY_HEX_LEN && memcmp(tag, hex, BE_KEY_HEX_LEN) == 0)
            return 1;
        i = (size_t)(end - v) + 1;
    }
}

/* The key a target names: "/blocks/<64 hex>", a query after '?' aside. */
static int
target_key(const char *path, size_t plen, be_key_t *key)
{
    const char *q = memchr(path, '?', plen);
    if (q != NULL)
        plen = (size_t)(q - path);
    size_t pre = sizeof(BLOCKS_PREFIX) - 1;
    if (plen < pre || memcmp(path, BLOCKS_PREFIX, pre) != 0)
        return BE_DECLINED;
    return be_key_from_hex(path + pre, plen - pre, key);
}

void
be_request_target(be_request_t *r, const char *path, size_t plen)
{
    BE_CHECK_OBJ_NOTNULL(r, BE_REQUEST_MAGIC);
    be_key_t key;
    r->has_target = target_key(path, plen, &key) == BE_OK;
    if (r->has_target)
        be_key_to_hex(&key, r->hex);
}

int
be_request_header(be_request_t *r, const char *name, size_t nlen, const char *value, size_t vlen)
{
    BE_CHECK_OBJ_NOTNULL(r, BE_REQUEST_MAGIC);
    if (accesslog_of(r) != NULL) {
        if (name_is(name, nlen, "user-agent"))
            note(r->log_agent, sizeof(r->log_agent), value, vlen);
        else if (name_is(name, nlen, "referer"))
            note(r->log_referer, sizeof(r->log_referer), value, vlen);
    }
    if (auth_on(r) && name_is(name, nlen, "authorization")) {
        if (r->has_authorization || vlen >= sizeof(r->authorization))
            r->authorization_bad = 1; /* refused as malformed, not an error of the request */
        else
            note(r->authorization, sizeof(r->authorization), value, vlen);
        r->has_authorization = 1;
        return BE_OK;
    }
    if (name_is(name, nlen, "if-none-match")) {
        r->has_if_none_match = 1;
        if (r->has_target && !r->none_matched)
            r->none_matched = none_match(value, vlen, r->hex);
        return BE_OK;
    }
    if (name_is(name, nlen, "range")) {
        if (r->has_range) {
            r->range_repeated = 1; /* two Range fields: ignore both */
            return BE_OK;
        }
        r->has_range = keep(r->range, sizeof(r->range), value, vlen) == BE_OK;
        return BE_OK; /* an over-long range is ignored, not an error */
    }
    if (name_is(name, nlen, "if-range")) {
        r->has_if_range = 1;
        if (keep(r->if_range, sizeof(r->if_range), value, vlen) != BE_OK)
            r->if_range[0] = '\0'; /* cannot match: the full block is sent */
        return BE_OK;
    }
    const char *rih = r->w != NULL ? r->w->cfg->real_ip_header : "";
    if (rih[0] != '\0' && name_is(name, nlen, rih))
        keep_real_ip(r, value, vlen);
    return BE_OK;
}

void
be_request_fail(be_request_t *r, int status, const char *why)
{
    BE_CHECK_OBJ_NOTNULL(r, BE_REQUEST_MAGIC);
    be_block_unref(&r->block);
    r->status = status;
    r->error = why;
    r->step = BE_STEP_READY;
}

/* ---- conditionals and ranges ------------------------------------------------------- */

static int
parse_u64(const char **pp, uint64_t *out)
{
    const char *p = *pp;
    uint64_t v = 0;
    if (!isdigit((unsigned char)*p))
        return 0;
    while (isdigit((unsigned char)*p)) {
        if (v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
    }
    *pp = p;
    *out = v;
    return 1;
}

/* Returns 1 with [*first, *last] for one satisfiable range, 0 to send the whole block
 * (no range, several ranges, or one that does not parse), -1 for 416. */
static int
pick_range(const be_request_t *r, uint64_t size, uint64_t *first, uint64_t *last)
{
    if (!r->has_range || r->range_repeated)
        return 0;
    if (r->has_if_range) {
        if (strcmp(r->if_range, r->etag) != 0)
            return 0;
    }
    const char *p = r->range;
    if (strncasecmp(p, "bytes=", 6) != 0)
        return 0;
    p += 6;
    while (*p == ' ')
        p++;
    if (strchr(p, ',') != NULL)
        return 0; /* multipart answers are not worth it: send all the bytes */
    uint64_t a, b;
    if (*p == '-') {
        p++;
        if (!parse_u64(&p, &b) || *p != '\0')
            return 0;
        if (b == 0 || size == 0)
            return -1;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 1;
    }
    if (!parse_u64(&p, &a) || *p != '-')
        return 0;
    p++;
    if (*p == '\0') {
        b = UINT64_MAX;
    } else if (!parse_u64(&p, &b) || *p != '\0' || b < a) {
        return 0;
    }
    if (a >= size)
        return -1;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return 1;
}

void
be_request_answer(be_request_t *r, uint64_t size)
{
    BE_CHECK_OBJ_NOTNULL(r, BE_REQUEST_MAGIC);
    r->step = BE_STEP_READY;
    r->content_length = size;
    r->body_off = 0;
    r->body_len = size;
    r->status = 200;
    if (r->has_if_none_match && r->none_matched) {
        r->status = 304;
        r->body_len = 0;
        r->content_length = 0;
        return;
    }
    uint64_t first = 0, last = 0;
    int rc = pick_range(r, size, &first, &last);
    if (rc < 0) {
        r->status = 416;
        r->error = "range not satisfiable";
        r->body_len = 0;
        return;
    }
    if (rc > 0) {
        r->status = 206;
        r->body_off = first;
        r->body_len = last - first + 1;
        r->content_length = r->body_len;
    }
    if (r->method == BE_METHOD_HEAD)
        r->body_len = 0;
}

/* With the block in hand: 304, 206, 416 or 200. */
static void
answer_with_block(be_request_t *r)
{
    be_request_answer(r, r->block->size);
}

static void
on_filled(void *arg, be_fetch_status_t status, be_block_t *block)
{
    be_request_t *r = arg;
    r->waiter = NULL; /* delivered: the table has let go of it */
    if (status == BE_FETCH_OK) {
        r->block = block;
        answer_with_block(r);
    } else {
        be_request_fail(r, be_fetch_http_status(status), be_fetch_message(status));
    }
    r->on_ready(r, r->ctx);
}

/* be_cache_get() under miss_rate: a client that must go to the origin takes a token first,
 * and without one gets 429 (returns BE_DECLINED with the request failed). Hits never reach
 * the limiter. */
static int
look_up(be_request_t *r)
{
    be_worker_t *w = r->w;
    const be_config_t *cfg = w->cfg;
    be_clientaddr_t client;
    if (cfg->miss_rate <= 0 ||
        !be_clientaddr_of_request(cfg, r->peer_addr, r->real_ip_len > 0 ? r->real_ip : NULL,
                                  r->real_ip_len, &client))
        return be_cache_get(w, &r->key, 0, on_filled, r, &r->waiter, &r->block, &r->tier);
    int rc =
        be_cache_get(w, &r->key, BE_CACHE_NO_FETCH, on_filled, r, &r->waiter, &r->block, &r->tier);
    if (rc != BE_BUSY)
        return rc;
    int retry_s = 1;
    if (be_missrate_take(w->svc->missrate, &client, cfg->miss_rate, cfg->miss_burst,
                         be_worker_now(w), &retry_s) == BE_DECLINED) {
        be_stats_inc(&w->stats, MISS_RATE_LIMITED);
        r->tier = BE_TIER_MISS;
        r->retry_after = retry_s;
        be_request_fail(r, 429, "too many misses from this client: retry later");
        return BE_DECLINED;
    }
    return be_cache_get(w, &r->key, 0, on_filled, r, &r->waiter, &r->block, &r->tier);
}

/* The signed-URL check (auth.h), before any tier is looked up: a cached block is no less
 * protected. The token comes from the query (query: the bytes after '?', or NULL), else from
 * "Authorization: Bearer". 1: let through; 0: r answers 403 with the reason, counted. */
static int
signed_ok(be_request_t *r, const char *query, size_t qlen)
{
    const be_config_t *cfg = r->w->cfg;
    be_auth_token_t tok;
    int why = BE_AUTH_REASON_MISSING;

    if (query != NULL)
        why = be_auth_parse_query(query, qlen, &tok);
    if (why == BE_AUTH_REASON_MISSING && r->has_authorization)
        why = r->authorization_bad
                  ? BE_AUTH_REASON_MALFORMED
                  : be_auth_parse_bearer(r->authorization, strlen(r->authorization), &tok);
    if (why == BE_AUTH_REASON_OK)
        why = be_auth_check(&cfg->auth_keys, r->hex, &tok, be_worker_wall_sec(r->w),
                            cfg->auth_clock_skew);
    if (why == BE_AUTH_REASON_OK)
        return 1;
    r->auth_denied = why;
    be_stat_add(&r->w->stats.auth_denied[why], 1);
    be_request_fail(r, 403, be_auth_text(why));
    return 0;
}

static int
method_of(const char *m, size_t len)
{
    if (len == 3 && memcmp(m, "GET", 3) == 0)
        return BE_METHOD_GET;
    if (len == 4 && memcmp(m, "HEAD", 4) == 0)
        return BE_METHOD_HEAD;
    return BE_METHOD_OTHER;
}

int
be_request_start(be_request_t *r, const char *method, size_t mlen, const char *path, size_t plen)
{
    BE_CHECK_OBJ_NOTNULL(r, BE_REQUEST_MAGIC);
    r->method = method_of(method, mlen);
    if (accesslog_of(r) != NULL) {
        note(r->log_method, sizeof(r->log_method), method, mlen);
        be_auth_redact(r->log_path, sizeof(r->log_path), path, plen);
    }
    const char *q = memchr(path, '?', plen);
    size_t qlen = 0;
    if (q != NULL) {
        qlen = plen - (size_t)(q - path) - 1;
        plen = (size_t)(q - path);
    }
    size_t pre = sizeof(BLOCKS_PREFIX) - 1;
    if (plen < pre || memcmp(path, BLOCKS_PREFIX, pre) != 0) {
        be_request_fail(r, 404, "not found");
        return BE_OK;
    }
    if (r->method == BE_METHOD_OTHER) {
        be_request_fail(r, 405, "method not allowed: use GET or HEAD");
        return BE_OK;
    }
    if (be_key_from_hex(path + pre, plen - pre, &r->key) != BE_OK) {
        be_request_fail(r, 400, "invalid block key: expected /blocks/ and 64 hex digits");
        return BE_OK;
    }
    be_key_to_hex(&r->key, r->hex);
    r->etag[0] = '"';
    memcpy(r->etag + 1, r->hex, BE_KEY_HEX_LEN);
    r->etag[BE_KEY_HEX_LEN + 1] = '"';
    r->etag[BE_KEY_HEX_LEN + 2] = '\0';

    if (auth_on(r) && !signed_ok(r, q != NULL ? q + 1 : NULL, qlen))
        return BE_OK;
    int rc = look_up(r);
    if (rc == BE_DECLINED && r->status == 429)
        return BE_OK;
    if (rc == BE_OK) {
        answer_with_block(r);
        return BE_OK;
    }
    if (rc == BE_AGAIN) {
        r->step = BE_STEP_WAIT;
        return BE_AGAIN;
    }
    if (rc == BE_DECLINED) { /* the negative cache: an origin 404 within negative_ttl */
        r->negative = 1;
        be_request_fail(r, be_fetch_http_status(BE_FETCH_NOT_FOUND),
                        be_fetch_message(BE_FETCH_NOT_FOUND));
        return BE_OK;
    }
    be_request_fail(r, 500, "out of memory");
    return BE_OK;
}

/* ---- the response head ---------------------------------------------------------------- */

const char *
be_http_status_text(int status)
{
    static _Thread_local char other[4];
    switch (status) {
#define X(code, reason)                                                                            \
    case code:                                                                                     \
        return #code;
#include "blockedge/tbl/status_codes.h"
#undef X
    default:
        if (status < 100 || status > 999)
            status = 500;
        other[0] = (char)('0' + status / 100);
        other[1] = (char)('0' + status / 10 % 10);
        other[2] = (char)('0' + status % 10);
        other[3] = '\0';
        return other;
    }
}

const char *
be_http_reason(int status)
{
    switch (status) {
#define X(code, reason)                                                                            \
    case code:                                                                                     \
        return reason;
#include "blockedge/tbl/status_codes.h"
#undef X
    default:
        return "Unknown";
    }
}

static const char *
x_cache(const be_request_t *r)
{
    switch (r->tier) {
    case BE_TIER_MEMORY:
        return "HIT-MEMORY";
    case BE_TIER_DISK:
        return "HIT-DISK";
    default:
        return r->negative ? "MISS-NEGATIVE" : "MISS";
    }
}

int
be_request_headers(be_request_t *r, be_header_t *h, int max)
{
    BE_CHECK_OBJ_NOTNULL(r, BE_REQUEST_MAGIC);
    int n = 0;
#define ADD(nm, val)                                                                               \
    do {                                                                                           \
        if (n < max) {                                                                             \
            h[n].name = (nm);                                                                      \
            h[n].value = (val);                                                                    \
            n++;                                                                                   \
        }                                                                                          \
    } while (0)

    ADD("server", "blockedge");
    ADD("date", be_worker_date(r->w));
    int ok = r->block != NULL && (r->status == 200 || r->status == 206 || r->status == 304);
    if (ok) {
        if (r->status != 304) {
            ADD("content-type", "application/octet-stream");
            snprintf(r->vbuf[0], sizeof(r->vbuf[0]), "%" PRIu64, r->content_length);
            ADD("content-length", r->vbuf[0]);
        }
        ADD("etag", r->etag);
        ADD("cache-control", "public, max-age=31536000, immutable");
        ADD("accept-ranges", "bytes");
        if (r->status == 206) {
            snprintf(r->vbuf[2], sizeof(r->vbuf[2]), "bytes %" PRIu64 "-%" PRIu64 "/%zu",
                     r->body_off, r->body_off + r->content_length - 1, r->block->size);
            ADD("content-range", r->vbuf[2]);
        }
        ADD("x-cache", x_cache(r));
        return n;
    }

    /* An error: a short text body naming the reason. */
    const char *why = be_request_error_text(r);
    r->content_length = strlen(why) + 1; /* + "\n" */
    r->body_len = r->method == BE_METHOD_HEAD ? 0 : r->content_length;
    ADD("content-type", "text/plain");
    snprintf(r->vbuf[0], sizeof(r->vbuf[0]), "%" PRIu64, r->content_length);
    ADD("content-length", r->vbuf[0]);
    ADD("cache-control", "no-store");
    if (r->status == 405)
        ADD("allow", "GET, HEAD");
    if (r->status == 503)
        ADD("retry-after", "1"); /* origin_max_inflight: come back in a second */
    if (r->status == 429) {      /* miss_rate: when the client's next token comes */
        snprintf(r->vbuf[1], sizeof(r->vbuf[1]), "%d", r->retry_after);
        ADD("retry-after", r->vbuf[1]);
    }
    if (r->status == 416 && r->block != NULL) {
        snprintf(r->vbuf[2], sizeof(r->vbuf[2]), "bytes */%zu", r->block->size);
        ADD("content-range", r->vbuf[2]);
        ADD("accept-ranges", "bytes");
    }
    if (r->tier >= 0)
        ADD("x-cache", x_cache(r));
    return n;
#undef ADD
}

static void
log_access(be_accesslog_t *log, const be_request_t *r, uint64_t us)
{
    be_clientaddr_t named;
    char client[64];
    int by_peer = r->real_ip_len > 0 && r->w->cfg->ntrusted > 0 &&
                  be_clientaddr_named(r->w->cfg, r->peer_addr, r->real_ip, r->real_ip_len, &named);
    be_access_entry_t e = {
        .client = by_peer ? be_clientaddr_text(&named, client, sizeof(client)) : NULL,
        .worker = r->w->id,
        .peer = r->peer,
        .method = r->log_method,
        .path = r->log_path,
        .referer = r->log_referer,
        .agent = r->log_agent,
        .http2 = r->proto == BE_PROTO_HTTP2,
        .status = r->status,
        .tier = r->tier,
        .block_size = r->block != NULL ? (int64_t)r->block->size : -1,
        .body_len = r->body_len,
        .duration_us = us,
        .denied = r->auth_denied != 0 ? be_auth_label(r->auth_denied) : NULL,
    };
    be_accesslog_write(log, &e);
}

void
be_request_done(be_request_t *r)
{
    BE_CHECK_OBJ_NOTNULL(r, BE_REQUEST_MAGIC);
    if (r->step == BE_STEP_DONE)
        return;
    r->step = BE_STEP_DONE;
    be_stats_t *s = &r->w->stats;
    be_stats_request(s, r->proto, r->status);
    if (be_request_body_is_block(r) && r->body_len > 0)
        be_stat_add(&s->ctr[BE_CTR_SENT_BYTES], r->body_len);
    uint64_t us = be_clock_usec() - r->started_us;
    if (r->tier >= 0)
        be_stats_observe(&s->request_duration[r->tier], us);
    be_services_t *svc = r->w->svc;
    if (svc->popularity != NULL && r->block != NULL)
        be_popularity_record(svc->popularity, (unsigned)(r->w->id - 1), &r->key,
                             be_block_footprint(r->block));
    if (accesslog_of(r) != NULL)
        log_access(svc->accesslog, r, us);
}

void
be_request_dispose(be_request_t *r)
{
    if (r->magic == 0 && r->step == BE_STEP_NONE)
        return; /* never initialized (a connection closed before its first request) */
    BE_CHECK_OBJ_NOTNULL(r, BE_REQUEST_MAGIC);
    if (r->waiter != NULL)
        be_cache_cancel(r->w, &r->waiter);
    be_block_unref(&r->block);
}

int
be_request_body_is_block(const be_request_t *r)
{
    BE_CHECK_OBJ_NOTNULL(r, BE_REQUEST_MAGIC);
    return r->block != NULL && (r->status == 200 || r->status == 206);
}

const char *
be_request_error_text(const be_request_t *r)
{
    BE_CHECK_OBJ_NOTNULL(r, BE_REQUEST_MAGIC);
    return r->error != NULL ? r->error : be_http_reason(r->status);
}
