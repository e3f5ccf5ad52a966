/*
 * conn.h - an accepted client connection: its socket, timers, limits and one close path.
 *
 * A connection lives on the worker that accepted it. The protocol it settled on (http1.c
 * or http2.c) reads and writes through its bufferevent and ends it only with
 * be_conn_close(). be_conn_accept, _shutdown_all and _free_all are the worker hooks the
 * server hands every worker.
 */
#ifndef BLOCKEDGE_CONN_H
#define BLOCKEDGE_CONN_H

#include <sys/socket.h>

#include "blockedge/connlimit.h"
#include "blockedge/defs.h"
#include "blockedge/request.h"
#include "blockedge/stats.h"

#define BE_CONN_MAGIC 0x636f6e6eu /* "conn" */

struct bufferevent;
struct event;
typedef struct be_worker_s be_worker_t;

typedef struct be_http2_s be_http2_t;
typedef struct be_tls_writer_s be_tls_writer_t;

typedef struct be_proxywait_s be_proxywait_t;

enum be_conn_state {
    BE_CONN_PROXY,     /* proxy_protocol: reading the PROXY header (no bufferevent yet) */
    BE_CONN_HANDSHAKE, /* TLS handshake under way */
    BE_CONN_SNIFF,     /* plain: waiting for enough bytes to tell h2's preface from HTTP/1 */
    BE_CONN_HTTP1,
    BE_CONN_HTTP2,
    BE_CONN_LINGER, /* answered and half-closed: waiting for the peer to take the last bytes */
};

typedef struct be_conn_s be_conn_t;
struct be_conn_s {
    uint32_t magic;
    be_conn_t *next, *prev; /* the worker's list */
    be_worker_t *w;
    struct bufferevent *bev;
    struct event *rev;   /* plain sockets: the read event (conn.c reads, see plain_read()) */
    struct event *timer; /* idle or header deadline */
    char peer[64];
    struct sockaddr_storage peer_addr; /* the client's address (AF_UNSPEC: unknown) */
    int state;                         /* enum be_conn_state */
    int tls;
    be_tls_writer_t *tlsw; /* TLS: how queued output becomes records (tls.c) */
    be_http2_t *h2;        /* set in BE_CONN_HTTP2 */
    be_proxywait_t *pw;    /* set in BE_CONN_PROXY: the socket and the header so far */
    be_msec_t accepted;
    be_connkey_t ipkey;      /* the peer as max_connections_per_ip counts it */
    unsigned ip_counted : 1; /* ipkey holds one count for this connection, released at close */

    /* HTTP/1.1 state, owned by http1.c */
    be_request_t req;
    unsigned req_active : 1; /* a request is being answered */
    unsigned in_header : 1;  /* part of a request head has arrived */
    unsigned closing : 1;    /* answer what is pending, then close */
    unsigned last : 1;       /* a hand-over's drain: the next answer says close, then close */
    unsigned eof : 1;        /* the client sent FIN */
    unsigned keepalive : 1;  /* the current request allows another */
    unsigned paused : 1;     /* output above the high-water mark */
    unsigned read_off : 1;   /* reading stopped (input bound) */
    int close_reason;        /* enum be_close_reason once closing */

    /* BE_CONN_LINGER, owned by conn.c */
    be_msec_t linger_since; /* the lingering close began */
    be_msec_t linger_heard; /* the peer last sent a byte (or the linger began) */
    be_msec_t linger_moved; /* the peer last acknowledged more of our bytes */
    int linger_unacked;     /* our bytes the peer had not acknowledged at the last look */
};

/* Takes an accepted socket (non-blocking) and starts serving it: a TLS handshake first when
 * flags has BE_ACCEPT_TLS (ALPN then picks the protocol), otherwise a sniff of the first bytes
 * for the HTTP/2 client preface. With BE_ACCEPT_PROXY a PROXY protocol header (v1 or v2) comes
 * first, within client_header_timeout; the client address it names replaces the peer's for
 * logs and per-client limits; a missing or bad one closes the connection. Thread: w's. */
void be_conn_accept(be_worker_t *w, int fd, struct sockaddr *sa, socklen_t salen, int flags);

/* Starts (on = 1) or stops reading the client's bytes, whichever way the connection reads
 * (TLS: its bufferevent; plain: conn.c's own read event). Thread: w's. */
void be_conn_read_enable(be_conn_t *c, int on);

/* The one teardown: cancels what the connection waits for, frees it. Thread: w's. */
void be_conn_close(be_conn_t *c, int reason);

#define BE_CONN_LINGER_QUIET_MS 2000  /* silence after the last byte is acknowledged */
#define BE_CONN_LINGER_MAX_MS   30000 /* the longest linger (nginx's lingering_time) */

/* Ends a connection whose last answer (or GOAWAY) is written and whose output buffer is
 * empty. A TCP connection ended for a clean reason (done, shutdown, a timeout, a refused
 * head) whose peer has neither closed nor acknowledged every byte yet closes by lingering:
 * the write side is shut (FIN after the last byte), input is read and dropped, and
 * be_conn_close() follows when the peer closes, or has acknowledged every byte and been
 * silent for BE_CONN_LINGER_QUIET_MS, or acknowledges nothing for send_timeout, or after
 * BE_CONN_LINGER_MAX_MS. Without it, a byte the peer sends after close() (an HTTP/2
 * WINDOW_UPDATE, a pipelined request) makes the kernel reset the connection and drop the
 * tail of the answer it still holds. Otherwise it is be_conn_close(). Thread: w's. */
void be_conn_finish(be_conn_t *c, int reason);

/* Graceful stop: idle connections close now, busy ones after their current response (an
 * HTTP/1.1 request whose head is arriving is answered first, with "Connection: close"),
 * HTTP/2 ones get GOAWAY and close after their open streams. Lingering ones go on. */
void be_conn_shutdown_all(be_worker_t *w);

/* Frees every connection of a worker whose loop has ended. Thread: main. */
void be_conn_free_all(be_worker_t *w);

/* (Re)arms the connection timer for ms milliseconds; 0 disarms it. */
void be_conn_set_timer(be_conn_t *c, be_msec_t ms);

#endif
