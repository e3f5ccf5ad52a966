/*
 * services.h - what the server hands its workers: the configuration, the node-wide state
 * they share (memory tier, in-flight table, disk tier and its pools, the file I/O pool,
 * access log, popularity sampler) and the worker group itself.
 *
 * Built, owned and torn down by server.c in one order. The modules below the server read it
 * through w->svc and never include server.h, so the include graph has the server on top.
 * It holds pointers only: including it pulls in no module. Each member has its own locks;
 * the pointers themselves do not change while workers run (the disk pools are set to NULL
 * only after every worker is joined). cfg and tls_ctx are the main thread's: a reload
 * replaces them, and hands each worker its own copy of the pointers (w->cfg, w->tls_ctx).
 */
#ifndef BLOCKEDGE_SERVICES_H
#define BLOCKEDGE_SERVICES_H

#include "blockedge/config.h"

typedef struct be_memcache_s be_memcache_t;
typedef struct be_inflight_s be_inflight_t;
typedef struct be_iopool_s be_iopool_t;
typedef struct be_worker_s be_worker_t;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct be_accesslog_s be_accesslog_t;
typedef struct be_popularity_s be_popularity_t;
typedef struct be_diskstore_s be_diskstore_t;
typedef struct be_admission_s be_admission_t;
typedef struct be_negcache_s be_negcache_t;
typedef struct be_missrate_s be_missrate_t;
typedef struct be_connlimit_s be_connlimit_t;

typedef struct be_services_s {
    const be_config_t *cfg;
    be_memcache_t *memcache;
    be_inflight_t *inflight;
    be_iopool_t *iopool;          /* file:// origin reads */
    SSL_CTX *tls_ctx;             /* NULL when no listener has "tls" */
    be_diskstore_t *disk;         /* NULL without disk_path */
    be_iopool_t *disk_read_pool;  /* disk reads; NULL once stopped at shutdown */
    be_iopool_t *disk_write_pool; /* disk appends, one thread */
    be_admission_t *admission;    /* disk_admission second_hit's seen-once set; with disk */
    be_worker_t **workers;        /* [nworkers], ids 1..nworkers */
    int nworkers;
    be_accesslog_t *accesslog;   /* NULL: access_log off */
    be_popularity_t *popularity; /* NULL: popularity off; fed by workers, read by admin */
    be_negcache_t *negcache;     /* origin 404s (negative_ttl); always built */
    be_missrate_t *missrate;     /* per-client miss budgets (miss_rate); always built, filled
                                    only while miss_rate is on */
    be_connlimit_t *connlimit;   /* open connections per address; always built */
    /* Connections the open-files limit leaves room for, node-wide, after what the node
     * itself needs (server.c); 0: no ceiling. Workers take min(max_connections, this). */
    _Atomic int conn_ceiling;
    int disk_lock_wait_ms;    /* a binary upgrade's wait for the old process's disk lock */
    unsigned long reloads[2]; /* configuration reloads that worked, that failed: main only */
    int draining;             /* a stop signal came: /healthz answers 503 (main only) */
} be_services_t;

#endif
