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
#include "blockedge/inflight.h"
#include "blockedge/stats.h"

/*
 * Looks key up for a request on worker w.
 * BE_OK: *out is a block reference and *tier says where it came from.
 * BE_AGAIN: a miss; cb(arg, status, block) runs later on w, and *wp must be cancelled with
 *   be_cache_cancel() if the request goes away first.
 * BE_ERROR: out of memory; nothing will run.
 */
int be_cache_get(be_worker_t *w, const be_key_t *key, be_waiter_cb cb, void *arg, be_waiter_t **wp,
                 be_block_t **out, int *tier);

/* A miss that is on disk is read on the disk read pool (shared by concurrent requests
 * through the in-flight table), checked, promoted to memory, then delivered with *tier set
 * to BE_TIER_DISK before cb runs; a read that fails its checks becomes an origin fetch. */

/* Cancels a pending miss; the fetch goes on for the others. *wp = NULL. Thread: w's. */
void be_cache_cancel(be_worker_t *w, be_waiter_t **wp);

/*
 * The disk tier's life, called by server.c. _open starts the store (its index loads in the
 * background) and its I/O pools when disk_path is set: BE_OK, or BE_ERROR when out of memory.
 * At shutdown, after the workers are joined: _stop_reads drains and stops the read pool,
 * _stop_writes drains the write backlog to disk and stops the writer (completions land in
 * the workers' mailboxes), _close closes the store. _release hands the directory to a new
 * binary while this one drains (no more writes, segment sealed, lock released). Thread: main.
 */
typedef struct be_services_s be_services_t;
int be_cache_disk_open(be_services_t *svc);
void be_cache_disk_stop_reads(be_services_t *svc);
void be_cache_disk_stop_writes(be_services_t *svc);
void be_cache_disk_close(be_services_t *svc);
void be_cache_disk_release(be_services_t *svc);

#endif
