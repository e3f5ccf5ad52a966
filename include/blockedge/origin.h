/*
 * origin.h - the origin client of one worker: fetches a block by key and verifies it.
 *
 * Hides libcurl (http:// and https:// origins, driven by the worker's event_base through
 * the multi-socket interface) and the file:// origin (read on the I/O pool). A fetch ends
 * in exactly one callback on the worker's thread, with a block only when its SHA-256
 * equals the key and it is at most max_block_size bytes. Retries happen inside.
 */
#ifndef BLOCKEDGE_ORIGIN_H
#define BLOCKEDGE_ORIGIN_H

#include "blockedge/block.h"
#include "blockedge/fetch.h"

#define BE_ORIGIN_POOL 256 /* idle origin connections kept per worker */

typedef struct be_origin_s be_origin_t;
typedef struct be_worker_s be_worker_t;
typedef struct be_services_s be_services_t;
typedef struct be_config_s be_config_t;

/* The outcome; block is a reference the callee owns (NULL unless BE_FETCH_OK). Runs on the
 * worker's thread, never from inside be_origin_fetch(). */
typedef void (*be_origin_cb)(void *arg, be_fetch_status_t status, be_block_t *block);

/* Creates w's origin client. NULL on failure (logged). Thread: main. */
be_origin_t *be_origin_new(be_worker_t *w);

/* Aborts the transfers under way (each gets its callback with BE_FETCH_CONNECT) and frees
 * the client. *op = NULL. Thread: main, after the worker's loop ended. */
void be_origin_free(be_origin_t **op);

/* Starts fetching key. BE_OK (cb will run once) or BE_ERROR (it will not). Thread: w's. */
int be_origin_fetch(be_origin_t *o, const be_key_t *key, be_origin_cb cb, void *arg);

/* Sets down[i], for each origin server i < n in config order, to how many workers' circuit
 * breakers have it marked down now (blockedge_origin_server_marked_down{server}). Thread:
 * admin (main), while the workers run. */
void be_origin_marked_down(be_services_t *svc, unsigned *down, int n);

/* Fetches under way on this client (0 for NULL). */
unsigned be_origin_active(const be_origin_t *o);

/* The hook that says whether every client of a fetch has left (arg: the fetch's cb arg):
 * such a fetch is cancelled first when origin_max_inflight leaves no slot, and a waiting one
 * is never started. Thread: the client's worker. */
void be_origin_set_orphan_check(be_origin_t *o, int (*orphaned)(void *arg));

/* A reload: the client now uses cfg's servers, timeouts, retries and breaker settings (which
 * start afresh). Fetches in flight finish where they are. Thread: the client's worker. */
void be_origin_reconfigure(be_origin_t *o, const be_config_t *cfg);

#define BE_S3_CREDENTIALS_MAX (64 * 1024) /* bytes of s3_credentials_file */

/* What be_origin_new() would refuse in cfg, checked without a worker (-t): the credentials
 * of an s3:// origin (read, then wiped). BE_OK, or BE_ERROR with err set. */
int be_origin_check(const be_config_t *cfg, char *err, size_t errlen);

/* The [default] profile of an AWS shared-credentials file held in buf (NUL-terminated; parsed
 * in place, so its bytes change): *ak and *sk (NULL on entry) get malloc'd copies of
 * aws_access_key_id and aws_secret_access_key. BE_OK with both, or BE_ERROR with neither (the
 * caller words the error). The caller wipes buf. Any thread. */
int be_origin_s3_parse_credentials(char *buf, char **ak, char **sk);

/* Process-wide libcurl set-up and tear-down. Thread: main, before/after any worker. */
int be_origin_global_init(void);
void be_origin_global_cleanup(void);

#endif
