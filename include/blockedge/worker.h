/*
 * worker.h - worker threads: one event_base each, their listeners, a mailbox for work sent
 * from other threads, the clock and the per-worker counters.
 *
 * The worker is the bottom of the node: it knows nothing of HTTP or of the origin. What it
 * does with an accepted socket, how it winds its connections down and what keeps a stopping
 * loop alive are the hooks (be_worker_ops_t) the server hands it; the services it shares
 * with the other workers come from the server too (w->svc). A connection never changes
 * thread. Another thread never touches a worker's connections: it posts a task to the
 * worker's mailbox, which runs it on the worker's loop.
 */
#ifndef BLOCKEDGE_WORKER_H
#define BLOCKEDGE_WORKER_H

#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#include "blockedge/clock.h"
#include "blockedge/defs.h"
#include "blockedge/log.h"
#include "blockedge/stats.h"

#define BE_WORKER_MAGIC 0x776f726bu /* "work" */

struct event_base;
struct event;
struct evconnlistener;
typedef struct be_services_s be_services_t;
typedef struct be_worker_s be_worker_t;
typedef struct be_origin_s be_origin_t;
typedef struct be_conn_s be_conn_t;
typedef struct be_config_s be_config_t;
typedef struct be_listen_s be_listen_t;
typedef struct ssl_ctx_st SSL_CTX;

typedef void (*be_task_fn)(void *arg);

typedef struct be_task_s be_task_t;

/* The hooks the server gives every worker; each runs on the worker's thread. */
typedef struct be_worker_ops_s {
    /* Takes a freshly accepted non-blocking socket from one of the worker's listeners. */
    void (*accept)(be_worker_t *w, int fd, struct sockaddr *sa, socklen_t salen, int flags);
    /* Graceful stop: idle connections close now, busy ones after their current answer. */
    void (*shutdown)(be_worker_t *w);
    /* The loop has ended: frees every connection left (cancelling what they wait for). */
    void (*close_all)(be_worker_t *w);
    /* Work other than connections that a stopping loop must finish (origin fetches). */
    unsigned (*busy)(be_worker_t *w);
} be_worker_ops_t;

/* accept's flags: the listener's "tls" and "proxy_protocol" parameters. */
#define BE_ACCEPT_TLS   1
#define BE_ACCEPT_PROXY 2

/* What a listener's accept callback needs to know, and which address it serves. */
typedef struct be_listener_s {
    struct be_worker_s *w;
    int tls;
    int proxy; /* proxy_protocol: a PROXY header precedes the client's bytes */
    struct sockaddr_storage addr;
    socklen_t addrlen;
} be_listener_t;

#define BE_WORKER_MAX_LISTENERS 32

/* A hand-over's drain: how long a quiet keep-alive connection stays open for one more
 * request, and how quiet an HTTP/2 connection must be before its GOAWAY. */
#define BE_DRAIN_IDLE_MS 1000

/* Out of descriptors (EMFILE, ENFILE) or memory at accept(): the worker stops accepting for
 * this long instead of retrying at once (which spins a core and floods the log). */
#define BE_ACCEPT_PAUSE_MS 100

/* Whether accept()'s errno means the process is out of descriptors or memory (a pause, not a
 * retry, is the answer). Shared by the workers' listeners and the admin's. */
int be_accept_starved(int err);

typedef struct be_worker_s {
    uint32_t magic;
    int id;             /* 1..N; 0 is the main thread */
    be_services_t *svc; /* shared with every worker; owned by the server */
    /* The configuration and TLS context this worker's thread reads. A reload hands the
     * worker new ones through its mailbox (server_reload.c); nothing else writes them. */
    const be_config_t *cfg;
    SSL_CTX *tls_ctx;
    const be_worker_ops_t *ops; /* owned by the server */
    struct event_base *base;
    pthread_t thread;
    int started;

    pthread_mutex_t mbox_lock;
    be_task_t *mbox_head;
    be_task_t *mbox_tail;
    struct event *mbox_ev;

    struct evconnlistener *listeners[BE_WORKER_MAX_LISTENERS];
    be_listener_t lctx[BE_WORKER_MAX_LISTENERS];
    int nlisteners;
    struct event *stop_timer;
    int stopping;
    int handed_over;             /* a binary upgrade's new process took the sockets: drain softly */
    struct event *accept_resume; /* re-enables the listeners after a pause (EMFILE) */
    int accept_paused;
    be_ratelog_t accept_log; /* accept() failures */
    be_ratelog_t limit_log;  /* connections refused at max_connections */
    be_ratelog_t perip_log;  /* connections refused at max_connections_per_ip */
    be_ratelog_t proxy_log;  /* connections closed for a missing or bad PROXY header */

    be_conn_t *conns; /* doubly linked through be_conn_t.next/prev; owned by conn.c */
    int nconns;
    int max_conns;

    be_origin_t *origin; /* this worker's origin client: built and freed by the server */
    be_stats_t stats;

    be_timetext_t date; /* "Date" header value, refreshed once a second */
} be_worker_t;

/* Creates a worker (event_base, mailbox) but starts no thread and binds nothing. svc and
 * ops must outlive it. NULL on failure (logged). Thread: main. */
be_worker_t *be_worker_new(be_services_t *svc, int id, const be_worker_ops_t *ops);

/* Starts listening on fd (a bound, listening socket; the worker owns it from now on, also
 * on failure) for the address ls names. BE_OK or BE_ERROR (logged). Thread: main before
 * start, then the worker's own (a reload posts it). */
int be_worker_listen_fd(be_worker_t *w, int fd, const be_listen_t *ls);

/* Closes the worker's listeners whose address is not in cfg's listen list; their accepted
 * connections carry on. Thread: the worker. */
void be_worker_unlisten_absent(be_worker_t *w, const be_config_t *cfg);

/* Closes every listener of the worker. Thread: the worker. */
void be_worker_unlisten_all(be_worker_t *w);

/* A binary upgrade's hand-over: closes the listeners and marks the worker so that its drain
 * is soft (busy HTTP/2 connections are served until quiet, idle HTTP/1.1 ones answer one more
 * request). Thread: the worker. */
void be_worker_hand_over(be_worker_t *w);

/* Recomputes the worker's share of max_connections from w->cfg. */
void be_worker_apply_limits(be_worker_t *w);

/* Starts the worker's thread running its loop. BE_OK or BE_ERROR. */
int be_worker_start(be_worker_t *w);

/* Asks the worker to stop accepting, finish its connections within grace_ms, and leave
 * its loop. Any thread. */
void be_worker_stop(be_worker_t *w, be_msec_t grace_ms);

/* Joins the thread and closes the worker's connections (cancelling their waits). Other
 * threads may still post to the mailbox afterwards. Thread: main. */
void be_worker_join(be_worker_t *w);

/* Runs the tasks queued in the mailbox now, on the calling thread; returns how many ran.
 * Used by the loop, and at shutdown by main once every worker is joined. */
int be_worker_run_mailbox(be_worker_t *w);

/* Joins if needed, runs the mailbox once more, frees the rest. The server frees the origin
 * client first. *wp = NULL. Thread: main, once no other worker can post to this one. */
void be_worker_free(be_worker_t **wp);

/* Queues fn(arg) to run on w's loop. BE_OK, or BE_ERROR when out of memory. Any thread. */
int be_worker_post(be_worker_t *w, be_task_fn fn, void *arg);

/* The worker's clock: monotonic milliseconds (clock.h). Data structures take it as a
 * parameter. */
be_msec_t be_worker_now(be_worker_t *w);

/* The wall clock in seconds, as the loop cached it this turn: for Date headers and logs. */
int64_t be_worker_wall_sec(be_worker_t *w);

/* The current HTTP Date header value, e.g. "Sun, 22 Nov 2026 10:00:00 GMT". */
const char *be_worker_date(be_worker_t *w);

/* Called when a connection closes or an origin fetch ends: while stopping, leaves the loop
 * once the worker has neither connections nor other busy work (fetches, which waiters on
 * other workers may need). Thread: the worker. */
void be_worker_check_idle(be_worker_t *w);

#endif
