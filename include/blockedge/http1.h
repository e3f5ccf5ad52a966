/*
 * http1.h - HTTP/1.1 on a connection: bounded incremental parsing, keep-alive,
 * pipelining answered in order, the response head, the body by reference.
 */
#ifndef BLOCKEDGE_HTTP1_H
#define BLOCKEDGE_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#include "blockedge/conn.h"

#define BE_HTTP1_MAX_REQUEST_LINE 8192
#define BE_HTTP1_MAX_HEADER       16384
#define BE_HTTP1_MAX_FIELDS       100
#define BE_HTTP1_MAX_EMPTY_LINES  8 /* CRLFs ignored before a request line (RFC 9112 2.2) */
#define BE_HTTP1_OUTPUT_HIGH      (256 * 1024)
#define BE_HTTP1_INPUT_HIGH       (64 * 1024)

/* What the head parser found beyond what it handed to the request. */
typedef struct be_http1_head_s {
    const char *method, *target; /* target: the path (of an absolute-form target, too) */
    size_t mlen, tlen;
    int minor; /* HTTP/1.<minor> */
    size_t head_len;
    int hosts;
    int content_lengths;
    int64_t content_length;
    int transfer_encoding;
    int conn_close, conn_keepalive;
    int fields;
} be_http1_head_t;

/*
 * Parses one request head from the n bytes at p (avail: bytes buffered in all, which may be
 * more than n). Request fields are offered to r, which is (re)initialized for worker w.
 * Returns 0 with h filled, -1 when more bytes are needed, or the HTTP status (400, 414,
 * 431) for a head that must be refused. Pure: no I/O, no allocation.
 */
int be_http1_parse_head(const char *p, size_t n, size_t avail, be_http1_head_t *h, be_request_t *r,
                        be_worker_t *w);

/* Bytes arrived: answers every complete request it may, in order. Thread: the conn's. */
void be_http1_on_read(be_conn_t *c);

/* Output drained: resumes a paused connection or closes a closing one. */
void be_http1_on_drained(be_conn_t *c);

/* The connection timer fired (idle or header deadline). */
void be_http1_on_timer(be_conn_t *c);

/* The client half-closed: answer what is complete, then close. */
void be_http1_on_eof(be_conn_t *c);

#endif
