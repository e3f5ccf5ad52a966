/*
 * request.h - the protocol-neutral request: routing, key, tiers, conditional and range
 * logic, and the response head. HTTP/1.1 and HTTP/2 both fill one be_request_t, start it,
 * and serialize what it answers; neither holds a copy of this logic.
 *
 * Steps (r->step): (NONE: not yet initialized) -> NEW -> (WAIT: a miss, waiting for the
 * fetch) -> READY -> DONE.
 */
#ifndef BLOCKEDGE_REQUEST_H
#define BLOCKEDGE_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "blockedge/block.h"
#include "blockedge/inflight.h"

#define BE_REQUEST_MAGIC 0x72657175u /* "requ" */

typedef struct be_worker_s be_worker_t;
typedef struct be_request_s be_request_t;

/* Called when a request that returned BE_AGAIN from be_request_start() has its response
 * ready. Runs on the request's worker, from the loop (not from inside start). The callee
 * may dispose of the request. */
typedef void (*be_request_ready_fn)(be_request_t *r, void *ctx);

enum be_method { BE_METHOD_GET, BE_METHOD_HEAD, BE_METHOD_OTHER };
/* NONE: never initialized (a zeroed request, e.g. in a new connection). */
enum be_request_step { BE_STEP_NONE, BE_STEP_NEW, BE_STEP_WAIT, BE_STEP_READY, BE_STEP_DONE };

#define BE_MAX_RESPONSE_HEADERS 14

typedef struct be_header_s {
    const char *name;
    const char *value;
} be_header_t;

struct be_request_s {
    uint32_t magic;
    be_worker_t *w;
    int proto; /* enum be_proto */
    int method;
    int step;
    uint64_t started_us;
    be_request_ready_fn on_ready;
    void *ctx;

    /* what the client asked */
    be_key_t key;
    char hex[BE_KEY_HEX_LEN + 1];
    char etag[BE_KEY_HEX_LEN + 3]; /* "\"<hex>\"", built once per request */
    char if_range[128];
    char range[128];
    unsigned has_target : 1;        /* hex holds the key the target names (be_request_target) */
    unsigned has_if_none_match : 1; /* an If-None-Match field was seen ... */
    unsigned none_matched : 1;      /* ... and one of its entity-tags matched ours */
    unsigned has_if_range : 1;
    unsigned has_range : 1;
    unsigned range_repeated : 1;
    unsigned real_ip_len; /* bytes of real_ip kept; 0: the header was absent */
    /* Authorization, kept only while auth mode is signed (a Bearer signed-URL token) */
    unsigned has_authorization : 1;
    unsigned authorization_bad : 1; /* too long for the buffer, or sent twice */
    char authorization[96];

    /* the answer */
    be_waiter_t *waiter;
    be_block_t *block; /* set for 200/206 (and HEAD, 304) */
    int tier;          /* enum be_tier, -1 when no block was looked up */
    int negative;      /* answered 404 from the negative cache */
    int retry_after;   /* seconds, for 429 (miss_rate) */
    int auth_denied;   /* enum be_auth_reason of a 403 from the signed-URL check; 0: none */
    int status;
    const char *error; /* body text of an error response */
    uint64_t body_off;
    uint64_t body_len; /* bytes of body to send (0 for HEAD, 304) */
    uint64_t content_length;

    char vbuf[4][80]; /* storage for header values built by be_request_headers() */

    /* For the access log only (filled while one is configured). Not cleared per request
     * by the memset in be_request_init(): peer is set by the protocol per request, the
     * strings are emptied one byte each. */
    const char *peer; /* client "addr:port", owned by the connection; NULL: unknown */
    const struct sockaddr *peer_addr; /* the same as an address, for per-client limits */
    char real_ip[256]; /* the tail of real_ip_header's value (the rightmost addresses) */
    char log_method[16];
    char log_path[256]; /* the target with every sig= value redacted (auth.h) */
    char log_referer[192];
    char log_agent[192];
};

/* Prepares r for a new request on worker w. Thread: w's. */
void be_request_init(be_request_t *r, be_worker_t *w, int proto, be_request_ready_fn on_ready,
                     void *ctx);

/* Notes the request target (the path, with its query) before the header fields, so that
 * If-None-Match can be evaluated as each field arrives instead of being kept: a list of
 * any length (up to the protocol's head limit) costs two bits. A target that names no
 * block matches no entity-tag. */
void be_request_target(be_request_t *r, const char *path, size_t plen);

/* Offers one request header; those the request needs are kept or evaluated, the rest
 * ignored. Returns BE_OK, or BE_ERROR when a kept header is malformed (answer 431). */
int be_request_header(be_request_t *r, const char *name, size_t nlen, const char *value,
                      size_t vlen);

/* Routes and starts the request. BE_OK: the response is ready now. BE_AGAIN: on_ready will
 * run later. The response fields are valid once ready. */
int be_request_start(be_request_t *r, const char *method, size_t mlen, const char *path,
                     size_t plen);

/* Answers as for a block of `size` bytes: status 304, 416, 206 or 200 from the If-None-Match,
 * If-Range and Range fields offered, with body_off, body_len and content_length. Needs the
 * etag (set by be_request_start()); touches no block. Used on every hit and by fuzz_range. */
void be_request_answer(be_request_t *r, uint64_t size);

/* True when the body is the block's bytes (200, 206), false when it is error text. */
int be_request_body_is_block(const be_request_t *r);

/* The error text body ("reason\n" is sent: the text plus a newline). */
const char *be_request_error_text(const be_request_t *r);

/* Makes r answer a protocol-level error (e.g. 400 from the parser) at once. */
void be_request_fail(be_request_t *r, int status, const char *why);

/* Fills h with the response headers (not the status line); returns their number. The
 * values stay valid until the request is disposed. Thread: w's. */
int be_request_headers(be_request_t *r, be_header_t *h, int max);

/* The status code as three digits ("200"), from a static table: no formatting per
 * response. */
const char *be_http_status_text(int status);

/* The status line's reason phrase ("OK", "Not Found", ...). */
const char *be_http_reason(int status);

/* Accounts the finished response (status, duration, bytes) once. Thread: w's. */
void be_request_done(be_request_t *r);

/* Drops the waiter (if still waiting) and the block. Safe at any step, idempotent. */
void be_request_dispose(be_request_t *r);

#endif
