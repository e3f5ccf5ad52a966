/*
 * http2.h - HTTP/2 on a connection (h2 over TLS, or h2c with prior knowledge), on the same
 * protocol-neutral be_request_t as HTTP/1.1.
 */
#ifndef BLOCKEDGE_HTTP2_H
#define BLOCKEDGE_HTTP2_H

#include "blockedge/conn.h"

#define BE_H2_PREFACE         "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define BE_H2_PREFACE_LEN     24

#define BE_H2_MAX_HEADER_LIST 16384 /* decoded bytes per header block (RFC 9113 6.5.2 size) */
#define BE_H2_MAX_FIELDS      100
#define BE_H2_OUTPUT_HIGH     (512 * 1024)
#define BE_H2_GLITCH_BURST    100 /* glitches tolerated at once ... */
#define BE_H2_GLITCH_RATE     10  /* ... and per second after that */
/* What a PING or SETTINGS frame (not an ACK) costs of the glitch budget: with the numbers
 * above, 1000 at once and 100 a second after that. nghttp2's own bound on queued ACKs
 * (max_outbound_ack) never trips here: its queue is emptied into the output at each read. */
#define BE_H2_ACK_GLITCH 0.1

/* Starts an HTTP/2 session on c (server SETTINGS are queued). BE_OK or BE_ERROR. */
int be_http2_start(be_conn_t *c);

/* Ends the session: every stream's request is disposed, waits are cancelled. */
void be_http2_free(be_conn_t *c);

void be_http2_on_read(be_conn_t *c);
void be_http2_on_drained(be_conn_t *c);
void be_http2_on_timer(be_conn_t *c);
void be_http2_on_eof(be_conn_t *c);

/* Graceful stop: GOAWAY, finish the streams under way, then close. */
void be_http2_shutdown(be_conn_t *c);

#endif
