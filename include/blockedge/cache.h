/*
 * cache.h - tier orchestration: memory first, then the disk tier, then one coalesced
 * origin fetch.
 *
 * A request asks for a key; a hit (memory, or a disk record in the page cache) answers at
 * once, a miss joins (or leads) the in-flight read or fetch and is answered later on its
 * own worker. A verified fill goes into the memory tier (and is queued for disk) before any
 * waiter is woken, so the next request is a hit.
 */
#ifndef BLOCKEDGE_CACHE_H
#define BLOCKEDGE_CACHE_H

#include "blockedge/block.h"
#include "blockedge/diskstore.h"
#include "blockedge/inflight.h"
#include "blockedge/memcache.h"
#include "blockedge/stats.h"

/*
 * Looks key up for a request on worker w.
 * BE_OK: *out is a block reference and *tier says where it came from.
 * BE_AGAIN: a miss; cb(arg, status, block) runs later on w, and *wp must be cancelled with
 *   be_cache_cancel() if the request goes away first.
 * BE_DECLINED: the origin answered 404 for key within negative_ttl (the negative cache):
 *   answer 404 at once; nothing will run.
 * BE_BUSY: only with BE_CACHE_NO_FETCH: key is in neither tier (nor the negative cache) and
 *   answering needs the origin; nothing was started, nothing will run.
 * BE_ERROR: out of memory; nothing will run.
 */
#define BE_CACHE_NO_FETCH 0x1u /* answer from the tiers only (see BE_BUSY) */

int be_cache_get(be_worker_t *w, const be_key_t *key, unsigned flags, be_waiter_cb cb, void *arg,
                 be_waiter_t **wp, be_block_t **out, int *tier);

/* A miss that is on disk is read on the disk read pool (shared by concurrent requests
 * through the in-flight table), checked, promoted to memory, then delivered with *tier set
 * to BE_TIER_DISK before cb runs; a read that fails its checks becomes an origin fetch. */

/* Cancels a pending miss; the fetch goes on for the others. *wp = NULL. Thread: w's. */
void be_cache_cancel(be_worker_t *w, be_waiter_t **wp);

/*
 * Warms key for a prefetch on worker w, the way a client miss would fill it (same in-flight
 * entry, same verification, memory and disk), but counted as no client hit or miss.
 * BE_OK: the memory tier holds it already (its recency is refreshed); nothing will run.
 * BE_AGAIN: a disk read or an origin fetch was started or joined; cb(arg, status, block) runs
 *   later on w and *tier (which must live until then) says where the block came from
 *   (BE_TIER_DISK or BE_TIER_MISS). Cancel *wp with be_cache_cancel() if need be.
 * BE_DECLINED: the origin answered 404 for key within negative_ttl (the negative cache):
 *   answer 404 at once; nothing will run.
 * BE_ERROR: out of memory; nothing will run. Thread: w's.
 */
int be_cache_prefetch(be_worker_t *w, const be_key_t *key, be_waiter_cb cb, void *arg,
                      be_waiter_t **wp, int *tier);

/* What a purge found: whether the memory tier and the disk tier held the block, and whether a
 * fetch or disk read of it was under way (its result is then not kept). */
typedef struct be_purge_result_s {
    int memory;
    int disk;
    int fetching;
} be_purge_result_t;

typedef void (*be_purge_cb)(void *arg, const be_purge_result_t *r);

typedef struct be_services_s be_services_t;

/*
 * Purges key from every tier so that it is served again only after a new verified fetch: a
 * fetch or disk read under way is marked so its result is not cached (its waiters still get
 * the block), the disk tier forgets it and writes a purge record (on the disk writer, after
 * every fill queued before, so none lands behind it), then the memory tier drops it. done runs
 * once with what was found: on worker w's thread once the disk writer is through, or before
 * this returns when there is no disk tier. BE_OK, or BE_ERROR when out of memory (done will not
 * run). Thread: any.
 */
int be_cache_purge(be_services_t *svc, be_worker_t *w, const be_key_t *key, be_purge_cb done,
                   void *arg);

/* What the node holds for a key, read without fetching, reading a disk record or touching
 * any recency. */
typedef struct be_cache_peek_s {
    int memory; /* held: mem is filled */
    be_memcache_info_t mem;
    int disk_state; /* -1 without a disk tier, else enum be_disk_state */
    int disk;       /* held: dsk is filled */
    be_disk_info_t dsk;
    int fetching; /* -1: no fetch under way, else its phase (BE_TIER_DISK or BE_TIER_MISS) */
} be_cache_peek_t;

void be_cache_peek(be_services_t *svc, const be_key_t *key, be_cache_peek_t *out);

/*
 * The disk tier's life, called by server.c. _open starts the store (its index loads in the
 * background) and its I/O pools when disk_path is set: BE_OK, or BE_ERROR when out of memory.
 * At shutdown, after the workers are joined: _stop_reads drains and stops the read pool,
 * _stop_writes drains the write backlog to disk and stops the writer (completions land in
 * the workers' mailboxes), _close closes the store. _release hands the directory to a new
 * binary (no more writes, segment sealed, lock released); _reacquire takes it back when that
 * binary failed before it served. Thread: main.
 */
int be_cache_disk_open(be_services_t *svc);

/* The origin client's orphan check for the fills this module starts (origin.h's
 * be_origin_set_orphan_check): whether every waiter of the fill's key has left. Thread: the
 * fill's worker. */
int be_cache_fill_orphaned(void *arg);
void be_cache_disk_stop_reads(be_services_t *svc);
void be_cache_disk_stop_writes(be_services_t *svc);
void be_cache_disk_close(be_services_t *svc);
void be_cache_disk_release(be_services_t *svc);
void be_cache_disk_reacquire(be_services_t *svc);

#endif
