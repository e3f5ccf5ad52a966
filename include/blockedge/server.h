/*
 * server.h - what every worker shares: the config, the cache, the in-flight table and the
 * I/O pool. Built and torn down by main.c in a fixed order; immutable in between except
 * through each member's own locks.
 */
#ifndef BLOCKEDGE_SERVER_H
#define BLOCKEDGE_SERVER_H

#include "blockedge/config.h"

typedef struct be_memcache_s be_memcache_t;
typedef struct be_inflight_s be_inflight_t;
typedef struct be_iopool_s be_iopool_t;
typedef struct be_worker_s be_worker_t;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct be_accesslog_s be_accesslog_t;
typedef struct be_popularity_s be_popularity_t;
typedef struct be_diskstore_s be_diskstore_t;

typedef struct be_server_s {
    const be_config_t *cfg;
    be_memcache_t *memcache;
    be_inflight_t *inflight;
    be_iopool_t *iopool;
    SSL_CTX *tls_ctx;             /* NULL when no listener has "tls" */
    be_diskstore_t *disk;         /* NULL without disk_path */
    be_iopool_t *disk_read_pool;  /* disk reads */
    be_iopool_t *disk_write_pool; /* disk appends, one thread */
    be_worker_t **workers;
    int nworkers;
    be_accesslog_t *accesslog;   /* NULL: access_log off */
    be_popularity_t *popularity; /* NULL: popularity off; fed by workers, read by admin */
} be_server_t;

#endif
