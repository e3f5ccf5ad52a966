/*
 * inflight.h - one origin fetch per key across all threads.
 *
 * A miss joins the table with a waiter. The first waiter of a key is the leader: its
 * caller starts the one fetch. When the fetch ends, be_inflight_complete() hands the
 * result to every waiter through the waiter's own worker mailbox, so each callback runs on
 * the thread that owns the request. A waiter whose client went away is cancelled: it no
 * longer gets a callback, and the fetch goes on for the others (and for the cache).
 *
 * A purge (be_inflight_purge) marks the entry of its key: the fetch or disk read goes on and
 * its waiters still get the block, but the cache must not keep it (cache.c asks with
 * be_inflight_purged() before it fills, and be_inflight_end() says whether a purge came
 * while it was filling, so it can take the fill back). A quiet waiter (a prefetch) is left
 * out of the waiter counts that feed the hit and miss counters.
 *
 * Lock order: inflight -> memcache shard. No callback runs under the inflight lock.
 */
#ifndef BLOCKEDGE_INFLIGHT_H
#define BLOCKEDGE_INFLIGHT_H

#include <stdint.h>

#include "blockedge/block.h"
#include "blockedge/fetch.h"

typedef struct be_inflight_s be_inflight_t;
typedef struct be_waiter_s be_waiter_t;
typedef struct be_worker_s be_worker_t;
typedef struct be_memcache_s be_memcache_t;

/* Called on the waiter's worker with the outcome; block is a reference the callee owns
 * (NULL unless status is BE_FETCH_OK). The waiter is freed after the call returns. */
typedef void (*be_waiter_cb)(void *arg, be_fetch_status_t status, be_block_t *block);

be_inflight_t *be_inflight_new(void);
void be_inflight_free(be_inflight_t **tp);

/*
 * Joins the fetch for key with a new waiter that will call cb(arg, ...) on worker w.
 * Under the table lock the memory tier is checked once more (a fetch may have just
 * filled it): then *hit gets a reference, no waiter is made and BE_DECLINED is returned.
 * Otherwise *wp is the waiter (owned by the table until delivered or cancelled) and the
 * return is BE_OK when the caller is the leader and must start the fetch, BE_AGAIN when it
 * joined a fetch already under way. BE_ERROR on allocation failure. Thread: w's.
 * phase: the phase (enum be_tier: BE_TIER_DISK or BE_TIER_MISS) a new entry starts in.
 * tier (may be NULL): set now to the entry's phase, and again on w just before cb runs to
 * the phase the entry ended in.
 */
int be_inflight_join(be_inflight_t *t, be_memcache_t *mc, const be_key_t *key, be_worker_t *w,
                     int phase, be_waiter_cb cb, void *arg, int *tier, be_waiter_t **wp,
                     be_block_t **hit, be_msec_t now);

/* The same as be_inflight_join(), for a waiter that is not a client request (a prefetch): it
 * is left out of the counts be_inflight_complete(), _end() and _set_phase() return. */
int be_inflight_join_quiet(be_inflight_t *t, be_memcache_t *mc, const be_key_t *key, be_worker_t *w,
                           int phase, be_waiter_cb cb, void *arg, int *tier, be_waiter_t **wp,
                           be_block_t **hit, be_msec_t now);

/* Ends the fetch for key: every waiter gets (status, a reference to block) on its worker.
 * block may be NULL on failure; the caller keeps its own reference. Returns how many
 * waiters were attached, quiet ones left out. Any thread. */
unsigned be_inflight_complete(be_inflight_t *t, const be_key_t *key, be_fetch_status_t status,
                              be_block_t *block);

/* be_inflight_complete(), and *purged (may be NULL) says whether be_inflight_purge() marked the
 * entry before it was removed: then a fill made meanwhile must be taken back. Any thread. */
unsigned be_inflight_end(be_inflight_t *t, const be_key_t *key, be_fetch_status_t status,
                         be_block_t *block, int *purged);

/* Marks the entry for key, if there is one, so that its result is not kept in the cache, and
 * counts a purge (be_inflight_purge_seq). Returns 1 when a fetch or disk read was under way.
 * Any thread. */
int be_inflight_purge(be_inflight_t *t, const be_key_t *key);

/* Whether the entry for key is marked by a purge (0 when there is none). Any thread. */
int be_inflight_purged(be_inflight_t *t, const be_key_t *key);

/* Purges so far: a fill made without an entry (a disk record read on the loop) compares the
 * value before its look-up with the value after its insert, and takes the insert back when a
 * purge came in between. Any thread. */
uint64_t be_inflight_purge_seq(be_inflight_t *t);

/* The phase (BE_TIER_DISK or BE_TIER_MISS) of the entry for key, or -1 when none. Any thread. */
int be_inflight_phase(be_inflight_t *t, const be_key_t *key);

/* Moves the entry for key to another phase (a failed disk read handing over to an origin
 * fetch). Returns how many waiters are attached, quiet ones left out (0 when there is no
 * entry). Any thread. */
unsigned be_inflight_set_phase(be_inflight_t *t, const be_key_t *key, int phase);

/* Cancels a waiter whose request is going away; *wp = NULL. Thread: the waiter's worker. */
void be_inflight_cancel(be_inflight_t *t, be_waiter_t **wp);

/* Fetches under way now. */
unsigned be_inflight_count(be_inflight_t *t);

/* Waiters (quiet ones included) still attached to the entry of key: 0 when every client of
 * its fetch has left (cancelled), or there is no entry. Any thread. */
unsigned be_inflight_waiting(be_inflight_t *t, const be_key_t *key);
#endif
