/*
 * prefetch.h - prefetch jobs: POST /prefetch takes a list of block keys and warms the cache
 * with them through the normal miss path (cache.c's be_cache_prefetch: the same in-flight
 * entries as client misses, the same verification, filled into memory and disk), at most
 * prefetch_concurrency fetches at once over the whole node; GET /prefetch/<id> reports how a
 * job is doing. The last BE_PREFETCH_JOBS jobs are kept (a running one is never dropped).
 *
 * The job table lives on the admin's loop; each key's work runs on a worker (round robin) and
 * its result comes back through the admin box. Thread: the admin's loop, but for the key list
 * parser (pure, any thread).
 */
#ifndef BLOCKEDGE_PREFETCH_H
#define BLOCKEDGE_PREFETCH_H

#include <stddef.h>
#include <stdint.h>

#include "blockedge/adminbox.h"
#include "blockedge/adminstats.h"
#include "blockedge/blockkey.h"
#include "blockedge/services.h"

struct evbuffer;

#define BE_PREFETCH_MAX_KEYS  100000    /* keys in one job; past it: 413 */
#define BE_PREFETCH_MAX_BODY  (8 << 20) /* bytes of a key list; past it: 413 */
#define BE_PREFETCH_JOBS      16        /* jobs kept for GET /prefetch/<id> */
#define BE_PREFETCH_BAD_LINES 10        /* line numbers of bad keys a report lists */

/* A parsed key list: the good keys in order, and the bad lines counted. */
typedef struct be_keylist_s {
    be_key_t *keys; /* [n], malloc'ed */
    size_t n;
    size_t bad;                              /* non-blank lines that are not a key */
    size_t bad_lines[BE_PREFETCH_BAD_LINES]; /* the first ones' numbers, from 1 */
} be_keylist_t;

/*
 * Parses text[0..len): one key per line (LF or CRLF), 64 hex digits in either case, white
 * space around it ignored; blank lines are skipped; any other line is a bad key. BE_OK;
 * BE_DECLINED when there are more than max_keys non-blank lines (nothing kept); BE_ERROR when
 * out of memory. _dispose frees the keys (the counts stay). Thread: any.
 */
int be_keylist_parse(const char *text, size_t len, size_t max_keys, be_keylist_t *out);
void be_keylist_dispose(be_keylist_t *kl);

typedef struct be_prefetch_s be_prefetch_t;

/* The job table for svc's workers; results come back through box, counts go to stats
 * (which must outlive it). NULL when out of memory. */
be_prefetch_t *be_prefetch_new(be_services_t *svc, be_adminbox_t *box, be_admin_stats_t *stats);

/* Forgets every job; fetches under way go on and their results are dropped. *pp = NULL. */
void be_prefetch_free(be_prefetch_t **pp);

/*
 * Starts a job for the key list body[0..len) and writes its report (JSON) to out. Returns the
 * HTTP status: 202 (started; *id set), 413 (too many keys), 503 (BE_PREFETCH_JOBS jobs still
 * running) or 500; on an error out holds a one-line reason. Counted in stats.
 */
int be_prefetch_start(be_prefetch_t *p, const char *body, size_t len, struct evbuffer *out,
                      uint64_t *id);

/* Writes the report of job id: BE_OK, or BE_DECLINED when no such job is kept. */
int be_prefetch_report(be_prefetch_t *p, uint64_t id, struct evbuffer *out);

/* Writes {"jobs":[report, ...]} for every kept job, newest first. */
void be_prefetch_list(be_prefetch_t *p, struct evbuffer *out);

#endif
