/*
 * server.h - the node as one object: builds, starts, drains and frees everything below it
 * (memory tier, in-flight table, disk tier and pools, workers with their listeners and
 * origin clients, access log, popularity, admin listener) in one fixed order.
 *
 * main.c, the unit tests and the tools build nodes through these calls only. A test asks
 * for BE_SERVER_NO_LISTEN and drives the unstarted workers' loops and mailboxes itself.
 */
#ifndef BLOCKEDGE_SERVER_H
#define BLOCKEDGE_SERVER_H

#include "blockedge/config.h"
#include "blockedge/defs.h"
#include "blockedge/services.h"

struct event_base;
typedef struct be_server_s be_server_t;

/* be_server_new() flags */
#define BE_SERVER_NO_LISTEN 0x01u /* bind no client or admin socket, start no admin */
#define BE_SERVER_UPGRADE   0x02u /* started by a binary upgrade: wait for the disk lock */

/* How long a node started by a binary upgrade waits for the old one's disk lock (the disk
 * tier loads in the background meanwhile: requests go to memory and the origin). */
#define BE_SERVER_DISK_LOCK_WAIT_MS 30000

/*
 * Builds the node for cfg (which must outlive it): shared state, the disk tier (its index
 * loads in the background), every worker with its origin client and, unless
 * BE_SERVER_NO_LISTEN, its listeners bound (so a busy port fails here, before any thread
 * runs) and the admin listener on the server's own loop. Starts no worker thread.
 * NULL on failure (logged). Thread: main.
 */
be_server_t *be_server_new(const be_config_t *cfg, unsigned flags);

/* Starts every worker's thread. BE_OK, or BE_ERROR (logged; free the server). Thread: main. */
int be_server_start(be_server_t *srv);

/* Stops accepting (the client and admin listeners close at once, so new connections are
 * refused), lets each worker finish its connections and fetches within grace_ms,
 * and joins the threads. The loops are over afterwards; be_server_free() still runs what
 * they left in their mailboxes. Thread: main. */
void be_server_drain(be_server_t *srv, be_msec_t grace_ms);

/* Drains (at once) if that was not done, then tears everything down in the order that lets
 * every pending task, disk write and fetch end exactly once. *srvp = NULL. Thread: main. */
void be_server_free(be_server_t **srvp);

/* What the workers share (tests and the admin read it). */
be_services_t *be_server_services(be_server_t *srv);

/* Worker i, 0 <= i < number of workers (its id is i + 1). */
be_worker_t *be_server_worker(be_server_t *srv, int i);

/* The main thread's loop: the admin listener lives on it, and main adds its signals. */
struct event_base *be_server_base(be_server_t *srv);

/*
 * SIGHUP: applies cfg (heap-allocated; the server owns it from now on, also on failure) to
 * the running node: origins, timeouts, limits, logs, admin rules, statistics settings,
 * memory_size and the listen set change live; worker_threads, the disk tier, the admin
 * addresses, the pid file and popularity on/off keep their old values (one log line names
 * them). BE_OK, or BE_ERROR with the node unchanged (logged; a TLS or bind failure).
 * Counted in blockedge_config_reloads_total. Thread: main.
 */
int be_server_reload(be_server_t *srv, be_config_t *cfg);

/* Counts a reload whose file did not load (the node is unchanged). Thread: main. */
void be_server_reload_failed(be_server_t *srv);

/* The listening sockets the node holds (client listeners of every worker, then the admin
 * ones), for a binary upgrade to hand over; still owned by the node. Returns how many. */
int be_server_listen_fds(be_server_t *srv, int *fds, int max);

/* A binary upgrade, old side: _release_disk when the new process asks for the disk tier
 * (writes stop, the open segment is sealed, the lock released; this one still reads it);
 * _reacquire_disk if that process then fails; _hand_over when it serves: stop accepting
 * (close this process's copies of the listening sockets) and drain softly. Thread: main. */
void be_server_release_disk(be_server_t *srv);
void be_server_reacquire_disk(be_server_t *srv);
void be_server_hand_over(be_server_t *srv);

/* A binary upgrade, new side: waits up to msec for the disk tier's index (BE_OK when it is
 * ready or there is none). Thread: main, before be_server_start(). */
int be_server_wait_disk(be_server_t *srv, int msec);

/* SIGUSR1: every worker reopens its access-log descriptor. Thread: main. */
void be_server_reopen_logs(be_server_t *srv);

/* Descriptors the node built for cfg may hold besides its client connections: per worker its
 * loop, listeners and idle origin connections (BE_ORIGIN_POOL), the disk tier's segment files,
 * the logs and the admin listener and its connections. An estimate, for the start-up check of
 * max_connections against the open-files limit. Thread: any. */
unsigned long be_server_fd_reserve(const be_config_t *cfg);

/* When max_connections plus that reserve is past RLIMIT_NOFILE: how many client connections
 * the node accepts instead (the rest are closed at once, and the admin listener, origin
 * fetches and disk tier keep their descriptors); 0 when max_connections fits. */
unsigned long be_server_conn_ceiling(const be_config_t *cfg);

/* Process-wide set-up of the libraries the node uses (libevent threads, libcurl); the first
 * be_server_new() calls it once. _cleanup at process exit, after every server is freed. */
int be_server_global_init(void);
void be_server_global_cleanup(void);

#endif
