/*
 * origin_int.h - what the origin client's files share, and nothing outside them sees:
 * the client, its peers and one fetch, and the calls between
 *   origin.c         a fetch's life: attempts, retries, verification, the one callback
 *   origin_http.c    http(s) and s3 attempts on libcurl's multi interface
 *   origin_file.c    file:// attempts on the I/O pool
 *   origin_peers.c   which server an attempt goes to, and the circuit breakers
 *   origin_report.c  what an attempt's failure says, and the error summaries
 *   origin_s3.c      S3 credentials and SigV4 set-up
 * All of it runs on the client's worker (file reads aside, on the pool).
 */
#ifndef BLOCKEDGE_ORIGIN_INT_H
#define BLOCKEDGE_ORIGIN_INT_H

#include <stdatomic.h>

#include <curl/curl.h>

#include "blockedge/blockkey.h"
#include "blockedge/breaker.h"
#include "blockedge/config.h"
#include "blockedge/origin.h"

struct event;

#define ORIGIN_MAGIC       0x6f726967u    /* "orig" */
#define ERRBODY_MAX        4096           /* bytes of a non-200 answer kept for its S3 error code */
#define NO_PEER            BE_MAX_ORIGINS /* summary slot for "no live server" */
#define ORIGIN_READ_BUFFER (64 * 1024)    /* libcurl's receive buffer per transfer */

typedef struct fetch_s fetch_t;

typedef struct peer_s {
    const be_origin_server_t *srv;
    int index;
    char base[1400]; /* what the hex is appended to: URL, or the directory for file:// */
    be_breaker_t breaker;
    _Atomic int marked_down; /* mirror of the breaker for /metrics (read by the admin thread) */
    /* error summaries */
    be_msec_t reported[BE_FETCH_NSTATUS]; /* when a line was last written */
    unsigned pending[BE_FETCH_NSTATUS];   /* errors since */
    char last[BE_FETCH_NSTATUS][128];     /* the last one's detail */
} peer_t;

struct be_origin_s {
    uint32_t magic;
    be_worker_t *w;
    const be_config_t *cfg;
    CURLM *multi;
    struct event *timer;
    struct event *summary; /* flushes pending error counts */
    int summary_armed;
    int closing;
    fetch_t *active; /* doubly linked through next/prev */
    unsigned nactive;
    fetch_t *qhead, *qtail; /* waiting for a slot (origin_max_inflight), through next */
    struct event *sweep;    /* while fetches wait: gives them the slots of orphaned fetches */
    unsigned nqueued;
    unsigned max_active;              /* this worker's share of origin_max_inflight */
    int (*orphaned)(void *arg);       /* whether every client of a fetch (its cb arg) has left */
    peer_t peers[BE_MAX_ORIGINS + 1]; /* the last is the "no live server" summary slot */
    int npeers;
    unsigned rr[2]; /* round-robin cursors: primaries, backups */
    int max_fails;  /* the breaker's threshold; 0 (off) for a lone server, as in nginx */

    /* s3:// */
    char *access_key, *secret_key;
    char sigv4[128];
    struct curl_slist *s3_headers;
};

struct fetch_s {
    fetch_t *next, *prev;
    be_origin_t *o;
    be_key_t key;
    char hex[BE_KEY_HEX_LEN + 1];
    char url[1500];
    be_origin_cb cb;
    void *arg;
    int attempts;
    uint32_t tried; /* bit per peer index */
    peer_t *peer;   /* of the current attempt */
    uint64_t started_us;
    be_msec_t deadline;
    struct event *timer; /* the fetch deadline, or a deferred completion */
    int deferred;
    int expired;
    int queued; /* waiting for a slot: not started, not in the active list */

    CURL *easy;
    struct event *stall;
    be_sha256_t sha;
    be_block_t *block;
    int64_t declared; /* Content-Length, -1 when absent */
    long code;        /* HTTP status of the answer, 0 before the first byte */
    char *errbody;    /* first bytes of a non-200 answer */
    size_t errlen;
    be_fetch_status_t status;
    int failed;                   /* status set by a callback */
    int verified;                 /* status already includes be_origin_verify() */
    char errbuf[CURL_ERROR_SIZE]; /* libcurl's words */
    char why[256];                /* ours, which libcurl cannot overwrite */

    int file_errno;    /* file:// */
    uint64_t max_size; /* file://: max_block_size, so the pool thread never reads f->o */
};

/* origin.c */
/* The end of one attempt: breaker, log, then a retry or the end of the fetch. `transient`
 * marks a failure of the server (connect error, 5xx, timeout, broken transfer). */
void be_origin_attempt_end(fetch_t *f, be_fetch_status_t status, int transient);
/* Checks the bytes received against the key (and Content-Length); sets f->why. */
be_fetch_status_t be_origin_verify(fetch_t *f);

/* origin_http.c */
int be_origin_http_init(be_origin_t *o);                  /* the multi handle and its timer */
void be_origin_http_dispose(be_origin_t *o);              /* after every transfer was released */
void be_origin_http_set_max_conns(be_origin_t *o, int n); /* per host; 0: no cap */
int be_origin_http_start(fetch_t *f);                     /* BE_OK or BE_ERROR, nothing started */
void be_origin_http_release(fetch_t *f);                  /* ends f's transfer, if any */

/* origin_file.c */
int be_origin_file_start(fetch_t *f); /* BE_OK or BE_ERROR, nothing started */

/* origin_peers.c */
/* The peer for f's next attempt: untried primaries, untried backups, then any live one;
 * NULL when every peer is marked down. */
peer_t *be_origin_pick_peer(be_origin_t *o, fetch_t *f, be_msec_t now);
/* Feeds one attempt's outcome to p's breaker (failed: connect error, 5xx, timeout). */
void be_origin_peer_outcome(be_origin_t *o, peer_t *p, int failed);

/* origin_report.c */
int be_origin_report_init(be_origin_t *o);   /* the summary timer */
void be_origin_report_flush(be_origin_t *o); /* logs every pending summary now */
void be_origin_report(be_origin_t *o, peer_t *p, be_fetch_status_t st, const char *hex,
                      const char *detail);
void be_origin_describe(const fetch_t *f, be_fetch_status_t st, char *buf, size_t len);
void be_origin_interval_text(be_msec_t ms, char *buf, size_t len);

/* origin_s3.c */
int be_origin_s3_setup(be_origin_t *o); /* credentials and SigV4; BE_ERROR is logged */
/* After a reload: rereads the credentials; on failure (logged) the old ones stay. */
void be_origin_s3_refresh(be_origin_t *o);
void be_origin_s3_dispose(be_origin_t *o);

#endif
