/*
 * http1.h - HTTP/1.1 on a connection: bounded incremental parsing, keep-alive,
 * pipelining answered in order, the response head, the body by reference.
 */
#ifndef BLOCKEDGE_HTTP1_H
#define BLOCKEDGE_HTTP1_H

#include "blockedge/conn.h"

#define BE_HTTP1_MAX_REQUEST_LINE 8192
#define BE_HTTP1_MAX_HEADER       16384
#define BE_HTTP1_MAX_FIELDS       100
#define BE_HTTP1_OUTPUT_HIGH      (256 * 1024)
#define BE_HTTP1_INPUT_HIGH       (64 * 1024)

/* Bytes arrived: answers every complete request it may, in order. Thread: the conn's. */
void be_http1_on_read(be_conn_t *c);

/* Output drained: resumes a paused connection or closes a closing one. */
void be_http1_on_drained(be_conn_t *c);

/* The connection timer fired (idle or header deadline). */
void be_http1_on_timer(be_conn_t *c);

/* The client half-closed: answer what is complete, then close. */
void be_http1_on_eof(be_conn_t *c);

#endif
