/*
 * server.c - the node as one object: what is built, in which order, and how it comes apart.
 *
 * Start-up: shared state (memory tier, in-flight table, file I/O pool, TLS context, disk
 * tier) -> workers, each with its origin client and its listeners bound before any thread
 * runs (a busy port fails start-up) -> access log -> popularity -> admin listener on the
 * main thread's loop. be_server_start() then starts the threads. Teardown runs in reverse,
 * in an order that lets every pending task and fetch end exactly once (be_server_free()).
 * Knows which module provides what and hands each worker its services and hooks; knows
 * none of their insides.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/crypto.h>

#include "blockedge/check.h"
#include "blockedge/accesslog.h"
#include "blockedge/admin.h"
#include "blockedge/cache.h"
#include "blockedge/conn.h"
#include "blockedge/connlimit.h"
#include "blockedge/diskstore.h"
#include "blockedge/inflight.h"
#include "blockedge/iopool.h"
#include "blockedge/log.h"
#include "blockedge/memcache.h"
#include "blockedge/missrate.h"
#include "blockedge/negcache.h"
#include "blockedge/origin.h"
#include "blockedge/popularity.h"
#include "blockedge/server.h"
#include "blockedge/tls.h"
#include "blockedge/listen.h"
#include "blockedge/worker.h"
#include "server_int.h"

#define IO_THREADS 2

static unsigned
worker_busy(be_worker_t *w)
{
    return be_origin_active(w->origin);
}

static const be_worker_ops_t worker_ops = {
    .accept = be_conn_accept,
    .shutdown = be_conn_shutdown_all,
    .close_all = be_conn_free_all,
    .busy = worker_busy,
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc = BE_ERROR;

static void
global_init_once(void)
{
    if (evthread_use_pthreads() == 0 && be_origin_global_init() == BE_OK)
        global_rc = BE_OK;
}

int
be_server_global_init(void)
{
    pthread_once(&global_once, global_init_once);
    return global_rc;
}

void
be_server_global_cleanup(void)
{
    if (global_rc == BE_OK)
        be_origin_global_cleanup();
}

static int
worker_count(const be_config_t *cfg)
{
    if (cfg->worker_threads > 0)
        return cfg->worker_threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

unsigned long
be_server_fd_reserve(const be_config_t *cfg)
{
    BE_CHECK_OBJ_NOTNULL(cfg, BE_CONFIG_MAGIC);
    unsigned long per_worker = 8 + (unsigned long)cfg->nlisten + BE_ORIGIN_POOL;
    unsigned long n = 64 + 64 /* admin connections */ + (unsigned long)cfg->nadmin_listen;
    n += per_worker * (unsigned long)worker_count(cfg);
    if (cfg->disk_path[0] != '\0' && cfg->disk_segment_size > 0)
        n += 2 + (unsigned long)(cfg->disk_size / cfg->disk_segment_size);
    return n;
}

unsigned long
be_server_conn_ceiling(const be_config_t *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    unsigned long limit = (unsigned long)rl.rlim_cur, reserve = be_server_fd_reserve(cfg);
    if ((unsigned long)cfg->max_connections + reserve <= limit)
        return 0;
    /* The estimate counts a full pool of idle origin connections per worker; under a small
     * limit the pool stays smaller, so clients keep at least half the descriptors. */
    return limit > reserve + limit / 2 ? limit - reserve : limit / 2;
}

static int
build_shared(be_server_t *srv)
{
    be_services_t *svc = &srv->svc;
    const be_config_t *cfg = svc->cfg;
    char err[1024];

    srv->base = event_base_new();
    svc->memcache = be_memcache_new(cfg->memory_size, be_memcache_shards_for(cfg->memory_size),
                                    cfg->memory_policy);
    svc->inflight = be_inflight_new();
    svc->negcache = be_negcache_new((unsigned)cfg->negative_max_keys);
    svc->missrate = be_missrate_new();
    svc->connlimit = be_connlimit_new();
    svc->iopool = be_iopool_new(IO_THREADS);
    svc->workers = calloc((size_t)svc->nworkers, sizeof(be_worker_t *));
    if (srv->base == NULL || svc->memcache == NULL || svc->inflight == NULL ||
        svc->iopool == NULL || svc->workers == NULL || svc->negcache == NULL ||
        svc->missrate == NULL || svc->connlimit == NULL || be_cache_disk_open(svc) != BE_OK) {
        be_log(BE_LOG_EMERG, "out of memory while starting");
        return BE_ERROR;
    }
    if (be_tls_wanted(cfg) && (svc->tls_ctx = be_tls_ctx_new(cfg, err, sizeof(err))) == NULL) {
        be_log(BE_LOG_EMERG, "%s", err);
        return BE_ERROR;
    }
    return BE_OK;
}

/* The first generation: the caller's configuration and the TLS context, one reference for
 * the server and one per worker. */
static int
build_generation(be_server_t *srv)
{
    be_services_t *svc = &srv->svc;
    srv->gen = be_server_gen_new(svc->cfg, NULL, svc->tls_ctx, svc->nworkers + 1);
    if (srv->gen == NULL) {
        be_log(BE_LOG_EMERG, "out of memory while starting");
        return BE_ERROR;
    }
    for (int i = 0; i < svc->nworkers; i++)
        srv->wgen[i] = srv->gen;
    return BE_OK;
}

static int
build_workers(be_server_t *srv)
{
    be_services_t *svc = &srv->svc;
    for (int i = 0; i < svc->nworkers; i++) {
        be_worker_t *w = be_worker_new(svc, i + 1, &worker_ops);
        svc->workers[i] = w;
        if (w == NULL)
            return BE_ERROR;
        w->origin = be_origin_new(w);
        if (w->origin == NULL) {
            be_log(BE_LOG_EMERG, "cannot create the origin client of worker %d", i + 1);
            return BE_ERROR;
        }
        be_origin_set_orphan_check(w->origin, be_cache_fill_orphaned);
    }
    return BE_OK;
}

generation_t *
be_server_gen_new(const be_config_t *cfg, be_config_t *owned, SSL_CTX *tls_ctx, int refs)
{
    generation_t *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->cfg = cfg;
    g->owned = owned;
    g->tls_ctx = tls_ctx;
    atomic_init(&g->refs, refs);
    return g;
}

void
be_server_gen_unref(generation_t *g)
{
    if (g == NULL || atomic_fetch_sub(&g->refs, 1) != 1)
        return;
    be_tls_ctx_free(&g->tls_ctx);
    if (g->owned != NULL)
        OPENSSL_cleanse(&g->owned->auth_keys, sizeof(g->owned->auth_keys));
    free(g->owned);
    free(g);
}

int
be_server_lsock_add(be_server_t *srv, int fd, int worker, const struct sockaddr *addr,
                    socklen_t len)
{
    if (srv->nlsocks == srv->lsock_cap) {
        int ncap = srv->lsock_cap ? srv->lsock_cap * 2 : 16;
        lsock_t *n = realloc(srv->lsocks, (size_t)ncap * sizeof(*n));
        if (n == NULL)
            return BE_ERROR;
        srv->lsocks = n;
        srv->lsock_cap = ncap;
    }
    lsock_t *e = &srv->lsocks[srv->nlsocks++];
    e->fd = fd;
    e->worker = worker;
    memcpy(&e->addr, addr, len);
    e->addrlen = len;
    return BE_OK;
}

/* Worker i's socket for ls: an inherited one, a copy of the first when the address was
 * inherited (systemd hands over one socket per address), else a new SO_REUSEPORT one. */
static int
socket_for(const be_listen_t *ls, int first)
{
    const struct sockaddr *sa = (const struct sockaddr *)&ls->addr;
    int fd = be_listen_take(sa, ls->addrlen);
    if (fd < 0 && first >= 0 && be_listen_inherited(sa, ls->addrlen))
        fd = fcntl(first, F_DUPFD_CLOEXEC, 3);
    if (fd < 0)
        fd = be_listen_bind(ls, 1, 511);
    return fd;
}

int
be_server_open_listen(be_server_t *srv, const be_listen_t *ls, int fds[], int nfds)
{
    int n = 0;
    int nw = srv->svc.nworkers;
    for (int i = 0; i < nw && n < nfds; i++) {
        int fd = socket_for(ls, n > 0 ? fds[0] : -1);
        if (fd < 0) {
            int err = errno;
            be_log(BE_LOG_EMERG, "bind() to %s failed (%d: %s)", ls->text, err, strerror(err));
            goto fail;
        }
        fds[n++] = fd;
    }
    /* Inherited sockets beyond one per worker (the old binary ran more workers) still hold
     * queued connections: they are shared out too. */
    for (int fd;
         n < nfds && (fd = be_listen_take((const struct sockaddr *)&ls->addr, ls->addrlen)) >= 0;)
        fds[n++] = fd;
    for (int k = 0; k < n; k++)
        if (be_server_lsock_add(srv, fds[k], k % nw, (const struct sockaddr *)&ls->addr,
                                ls->addrlen) != BE_OK) {
            srv->nlsocks -= k;
            be_log(BE_LOG_EMERG, "out of memory while opening %s", ls->text);
            goto fail;
        }
    return n;
fail:
    for (int k = 0; k < n; k++)
        close(fds[k]);
    return -1;
}

static int
listen_workers(be_server_t *srv)
{
    const be_config_t *cfg = srv->svc.cfg;
    int fds[BE_WORKER_MAX_LISTENERS * 4];
    for (int l = 0; l < cfg->nlisten; l++) {
        int n = be_server_open_listen(srv, &cfg->listen[l], fds, (int)BE_ARRAY_LEN(fds));
        if (n < 0)
            return BE_ERROR;
        for (int k = 0; k < n; k++)
            if (be_worker_listen_fd(srv->svc.workers[k % srv->svc.nworkers], fds[k],
                                    &cfg->listen[l]) != BE_OK)
                return BE_ERROR;
    }
    return BE_OK;
}

static int
build_observers(be_server_t *srv)
{
    be_services_t *svc = &srv->svc;
    const be_config_t *cfg = svc->cfg;
    /* Built even when off, so a reload can turn it on. */
    if ((svc->accesslog = be_accesslog_new(svc)) == NULL)
        return BE_ERROR;
    if (cfg->popularity) {
        be_popularity_config_t pc = be_popularity_config_from(cfg, (unsigned)svc->nworkers);
        svc->popularity = be_popularity_new(&pc);
        if (svc->popularity == NULL) {
            be_log(BE_LOG_EMERG, "out of memory while starting the popularity statistics");
            return BE_ERROR;
        }
    }
    if (!(srv->flags & BE_SERVER_NO_LISTEN) && (srv->admin = be_admin_new(srv->base, svc)) == NULL)
        return BE_ERROR;
    int unused = be_listen_inherit_close_rest();
    if (unused > 0)
        be_log(BE_LOG_NOTICE, "closed %d inherited listening sockets no listen directive names",
               unused);
    return BE_OK;
}

be_server_t *
be_server_new(const be_config_t *cfg, unsigned flags)
{
    BE_CHECK_OBJ_NOTNULL(cfg, BE_CONFIG_MAGIC);
    if (be_server_global_init() != BE_OK) {
        be_log(BE_LOG_EMERG, "cannot initialize libevent threads or libcurl");
        return NULL;
    }
    be_server_t *srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        be_log(BE_LOG_EMERG, "out of memory while starting");
        return NULL;
    }
    srv->magic = SERVER_MAGIC;
    srv->flags = flags;
    srv->svc.cfg = cfg;
    srv->svc.nworkers = worker_count(cfg);
    srv->svc.disk_lock_wait_ms = (flags & BE_SERVER_UPGRADE) ? BE_SERVER_DISK_LOCK_WAIT_MS : 0;
    atomic_init(&srv->svc.conn_ceiling, (int)be_server_conn_ceiling(cfg));
    srv->wgen = calloc((size_t)srv->svc.nworkers, sizeof(*srv->wgen));
    if (srv->wgen == NULL || build_shared(srv) != BE_OK || build_generation(srv) != BE_OK ||
        build_workers(srv) != BE_OK ||
        (!(flags & BE_SERVER_NO_LISTEN) && listen_workers(srv) != BE_OK) ||
        build_observers(srv) != BE_OK) {
        be_server_free(&srv);
        return NULL;
    }
    return srv;
}

int
be_server_start(be_server_t *srv)
{
    BE_CHECK_OBJ_NOTNULL(srv, SERVER_MAGIC);
    const be_services_t *svc = &srv->svc;
    const be_config_t *cfg = svc->cfg;
    for (int i = 0; i < svc->nworkers; i++) {
        if (be_worker_start(svc->workers[i]) != BE_OK)
            return BE_ERROR;
        srv->started = 1;
    }
    be_log(BE_LOG_NOTICE, "blockedge %s started: %d workers, memory_size %llu, origin %s",
           BE_VERSION, svc->nworkers, (unsigned long long)cfg->memory_size, cfg->servers[0].url);
    if (svc->disk != NULL)
        be_log(BE_LOG_NOTICE,
               "disk tier \"%s\": disk_size %llu, disk_segment_size %llu, index "
               "loading in the background",
               cfg->disk_path, (unsigned long long)cfg->disk_size,
               (unsigned long long)cfg->disk_segment_size);
    return BE_OK;
}

void
be_server_drain(be_server_t *srv, be_msec_t grace_ms)
{
    BE_CHECK_OBJ_NOTNULL(srv, SERVER_MAGIC);
    be_services_t *svc = &srv->svc;
    if (srv->drained || svc->workers == NULL)
        return;
    srv->drained = 1;
    /* Every listener closes now: main's loop, which serves the admin one, has stopped. */
    be_admin_free(&srv->admin);
    for (int i = 0; i < svc->nworkers; i++)
        if (svc->workers[i] != NULL)
            be_worker_stop(svc->workers[i], grace_ms);
    for (int i = 0; i < svc->nworkers; i++)
        if (svc->workers[i] != NULL)
            be_worker_join(svc->workers[i]);
}

/* Runs every worker's mailbox on this thread until none has a task left (tasks may post). */
static void
run_mailboxes_until_quiet(be_services_t *svc)
{
    for (int ran = 1; ran > 0 && svc->workers != NULL;) {
        ran = 0;
        for (int i = 0; i < svc->nworkers; i++)
            if (svc->workers[i] != NULL)
                ran += be_worker_run_mailbox(svc->workers[i]);
    }
}

/*
 * After the drain (every worker thread joined, its connections closed, which cancels their
 * waits): drain the file I/O pool and stop the disk reads (their completions land in
 * mailboxes); run the mailboxes until quiet; free the origin clients (failing their
 * fetches, which posts once more); run the mailboxes again; let the disk writer finish the
 * fills queued for it; then free the rest, the access log before the loops its timers
 * live on.
 */
static void
free_workers(be_services_t *svc)
{
    be_iopool_free(&svc->iopool);
    be_cache_disk_stop_reads(svc);
    run_mailboxes_until_quiet(svc);
    for (int i = 0; svc->workers != NULL && i < svc->nworkers; i++)
        if (svc->workers[i] != NULL)
            be_origin_free(&svc->workers[i]->origin);
    run_mailboxes_until_quiet(svc);
    be_cache_disk_stop_writes(svc);
    run_mailboxes_until_quiet(svc);
    be_cache_disk_close(svc);
    be_accesslog_free(&svc->accesslog);
    for (int i = 0; svc->workers != NULL && i < svc->nworkers; i++)
        be_worker_free(&svc->workers[i]);
    free(svc->workers);
    svc->workers = NULL;
}

/* After the workers are freed: their references, then the server's (which owns the TLS
 * context once there is a generation). */
static void
release_generations(be_server_t *srv)
{
    if (srv->gen == NULL) {
        be_tls_ctx_free(&srv->svc.tls_ctx);
    } else {
        for (int i = 0; srv->wgen != NULL && i < srv->svc.nworkers; i++)
            be_server_gen_unref(srv->wgen[i]);
        be_server_gen_unref(srv->gen);
        srv->gen = NULL;
        srv->svc.tls_ctx = NULL;
    }
    free(srv->wgen);
    srv->wgen = NULL;
    free(srv->lsocks);
    srv->lsocks = NULL;
}

void
be_server_free(be_server_t **srvp)
{
    be_server_t *srv = *srvp;
    if (srv == NULL)
        return;
    *srvp = NULL;
    BE_CHECK_OBJ_NOTNULL(srv, SERVER_MAGIC);
    be_services_t *svc = &srv->svc;
    be_server_drain(srv, 0);
    be_admin_free(&srv->admin);
    free_workers(svc);
    be_popularity_free(&svc->popularity);
    be_memcache_free(&svc->memcache);
    be_inflight_free(&svc->inflight);
    be_negcache_free(&svc->negcache);
    be_missrate_free(&svc->missrate);
    be_connlimit_free(&svc->connlimit); /* after free_workers(): every connection released */
    release_generations(srv);
    if (srv->base != NULL)
        event_base_free(srv->base);
    srv->magic = 0;
    free(srv);
}

int
be_server_listen_fds(be_server_t *srv, int *fds, int max)
{
    BE_CHECK_OBJ_NOTNULL(srv, SERVER_MAGIC);
    int n = 0;
    for (int i = 0; i < srv->nlsocks && n < max; i++)
        fds[n++] = srv->lsocks[i].fd;
    return n + be_admin_listen_fds(srv->admin, fds + n, max - n);
}

static void
hand_over_worker(void *arg)
{
    be_worker_hand_over(arg);
}

void
be_server_hand_over(be_server_t *srv)
{
    BE_CHECK_OBJ_NOTNULL(srv, SERVER_MAGIC);
    be_services_t *svc = &srv->svc;
    srv->nlsocks = 0; /* the workers close their copies; the new process keeps the sockets */
    for (int i = 0; i < svc->nworkers; i++)
        if (be_worker_post(svc->workers[i], hand_over_worker, svc->workers[i]) != BE_OK)
            be_log(BE_LOG_ALERT, "worker %d could not stop accepting: out of memory", i + 1);
    be_admin_unlisten(srv->admin);
}

void
be_server_release_disk(be_server_t *srv)
{
    BE_CHECK_OBJ_NOTNULL(srv, SERVER_MAGIC);
    be_cache_disk_release(&srv->svc);
}

void
be_server_reacquire_disk(be_server_t *srv)
{
    BE_CHECK_OBJ_NOTNULL(srv, SERVER_MAGIC);
    be_cache_disk_reacquire(&srv->svc);
}

int
be_server_wait_disk(be_server_t *srv, int msec)
{
    BE_CHECK_OBJ_NOTNULL(srv, SERVER_MAGIC);
    if (srv->svc.disk == NULL)
        return BE_OK;
    return be_diskstore_wait_loaded(srv->svc.disk, msec) == BE_DISK_READY ? BE_OK : BE_ERROR;
}

be_services_t *
be_server_services(be_server_t *srv)
{
    BE_CHECK_OBJ_NOTNULL(srv, SERVER_MAGIC);
    return &srv->svc;
}

be_worker_t *
be_server_worker(be_server_t *srv, int i)
{
    BE_CHECK_OBJ_NOTNULL(srv, SERVER_MAGIC);
    return i >= 0 && i < srv->svc.nworkers ? srv->svc.workers[i] : NULL;
}

struct event_base *
be_server_base(be_server_t *srv)
{
    BE_CHECK_OBJ_NOTNULL(srv, SERVER_MAGIC);
    return srv->base;
}

void
be_server_reopen_logs(be_server_t *srv)
{
    BE_CHECK_OBJ_NOTNULL(srv, SERVER_MAGIC);
    if (srv->svc.accesslog != NULL)
        be_accesslog_reopen(srv->svc.accesslog);
}
