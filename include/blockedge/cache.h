/*
 * cache.h - tier orchestration: memory first, then one coalesced origin fetch.
 *
 * A request asks for a key; a hit answers at once, a miss joins (or leads) the in-flight
 * fetch and is answered later on its own worker. A verified fill goes into the memory tier
 * before any waiter is woken, so the next request is a hit.
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

/* Cancels a pending miss; the fetch goes on for the others. *wp = NULL. Thread: w's. */
void be_cache_cancel(be_worker_t *w, be_waiter_t **wp);

#endif
