/*
 * accesslog.h - the access log: one line per finished request, nginx's "combined" format
 * followed by the cache status, the tier, the block's size and the duration:
 *
 *   127.0.0.1 - - [22/Nov/2026:10:00:00 +0000] "GET /blocks/<hex> HTTP/1.1" 200 4096 "-"
 *   "curl/7.88.1" HIT memory 4096 0.000041
 *
 * A request refused by signed URLs shows DENIED and the reason (missing, malformed, expired,
 * bad_signature) in place of the cache status and tier. The path is logged with every sig=
 * value replaced by REDACTED (request.c keeps it so): a signature never reaches the log.
 *
 * Each worker has its own buffer and its own descriptor on the file (O_APPEND, so lines
 * stay whole); a buffer is written when it fills, once a second, on reopen and at exit.
 * SIGUSR1 reaches each worker as a mailbox task, so a descriptor is only ever used and
 * closed by the thread that owns it.
 */
#ifndef BLOCKEDGE_ACCESSLOG_H
#define BLOCKEDGE_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct be_services_s be_services_t;
typedef struct be_accesslog_s be_accesslog_t;

/* One finished request as the log sees it; the strings are borrowed for the call. */
typedef struct be_access_entry_s {
    int worker;          /* the worker that answered, 1..N: picks the buffer */
    const char *peer;    /* client "addr:port"; NULL: unknown */
    const char *client;  /* the address a trusted peer's real_ip_header names; NULL: peer's */
    const char *method;  /* "": the request line never arrived */
    const char *path;    /* as sent */
    const char *referer; /* "" when absent */
    const char *agent;   /* "" when absent */
    int http2;
    int status;
    int tier;           /* enum be_tier, or -1 when no block was looked up */
    int64_t block_size; /* -1: no block */
    uint64_t body_len;  /* bytes of body sent */
    uint64_t duration_us;
    const char *denied; /* refused by signed URLs: the reason label; NULL otherwise */
} be_access_entry_t;

/* Opens svc->cfg->access_log once per worker and arms each worker's flush timer on its
 * loop. NULL on failure (logged). Thread: main, after the workers exist, before they run. */
be_accesslog_t *be_accesslog_new(be_services_t *svc);

/* Writes what is buffered and closes every descriptor. *ap = NULL. Thread: main, once the
 * workers are joined and their mailboxes quiet, before their loops are freed. */
void be_accesslog_free(be_accesslog_t **ap);

/* Asks every worker to write its buffer, close and open the path again (SIGUSR1). A
 * worker that cannot open it keeps the old descriptor and logs an alert. Thread: main. */
void be_accesslog_reopen(be_accesslog_t *a);

/* A reload: every worker writes its buffer and switches to path ("" turns the log off, a
 * path turns it on) in the given format (json 1: JSON lines, 0: combined). A worker that
 * cannot open path keeps what it had and logs an alert. Thread: main. */
void be_accesslog_retarget(be_accesslog_t *a, const char *path, int json);

/* Whether worker (its id) writes an access log now. Thread: that worker. */
int be_accesslog_on(const be_accesslog_t *a, int worker);

/* Appends e's line to its worker's buffer. Thread: worker e->worker's. */
void be_accesslog_write(be_accesslog_t *a, const be_access_entry_t *e);

#endif
