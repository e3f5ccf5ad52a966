/*
 * inflight.c - the in-flight table: coalesces concurrent misses into one origin fetch.
 *
 * Entries live in a hash table keyed by digest, under one mutex (misses are rare next to
 * hits, and the critical sections are a few pointer moves). A waiter belongs to the table
 * while linked to an entry; complete() detaches all of an entry's waiters under the lock,
 * then posts each to its worker. Cancellation and delivery both run on the waiter's own
 * worker, so the `cancelled` flag needs no lock: cancel either unlinks the waiter (still
 * attached) or marks it (already posted), and delivery frees a marked waiter silently.
 *
 * An entry has a phase, the tier its leader is reading from: BE_TIER_DISK while a disk read
 * leads, BE_TIER_MISS once an origin fetch does (a failed disk read turns into a fetch for
 * the same waiters). Each waiter's tier slot receives the phase the entry ended in, written
 * on the waiter's own worker just before its callback, so the request can say HIT-DISK.
 *
 * A purge marks the entry of its key (`purged`) and bumps `purge_seq`; the entry's fetch goes
 * on for its waiters, and cache.c reads the mark before it fills and again as the entry ends
 * (be_inflight_end), so a fill and a purge that cross are taken back by whichever comes last.
 * Quiet waiters (prefetches) get their callback like any other but are not counted in the
 * numbers returned to cache.c, which become the hit and miss counters.
 *
 * Lock order: inflight -> memcache shard (join re-checks the memory tier under the lock).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "blockedge/inflight.h"
#include "blockedge/log.h"
#include "blockedge/memcache.h"
#include "blockedge/worker.h"

typedef struct entry_s entry_t;

struct be_waiter_s {
    be_waiter_t *next;
    entry_t *entry; /* NULL once detached by complete() */
    be_worker_t *worker;
    be_waiter_cb cb;
    void *arg;
    int cancelled;
    int quiet; /* not a client request: left out of the counts */
    int *tier; /* the requester's slot, or NULL */
    int phase; /* the entry's phase at delivery */
    be_fetch_status_t status;
    be_block_t *block;
};

struct entry_s {
    entry_t *hnext;
    be_key_t key;
    be_waiter_t *waiters;
    int phase;
    int purged; /* a purge came: the result is not to be kept */
};

struct be_inflight_s {
    pthread_mutex_t lock;
    entry_t **buckets;
    size_t nbuckets;
    unsigned count;
    _Atomic uint64_t purge_seq;
};

be_inflight_t *
be_inflight_new(void)
{
    be_inflight_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->nbuckets = 1024;
    t->buckets = calloc(t->nbuckets, sizeof(entry_t *));
    if (t->buckets == NULL) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void
be_inflight_free(be_inflight_t **tp)
{
    be_inflight_t *t = *tp;
    if (t == NULL)
        return;
    *tp = NULL;
    if (t->count != 0)
        be_log(BE_LOG_ALERT, "%u fetches still in flight at exit", t->count);
    free(t->buckets);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static entry_t **
find_locked(be_inflight_t *t, const be_key_t *key)
{
    entry_t **pp = &t->buckets[be_key_hash(key) & (t->nbuckets - 1)];
    while (*pp != NULL && !be_key_equal(&(*pp)->key, key))
        pp = &(*pp)->hnext;
    return pp;
}

static int
join(be_inflight_t *t, be_memcache_t *mc, const be_key_t *key, be_worker_t *w, int phase,
     be_waiter_cb cb, void *arg, int *tier, be_waiter_t **wp, be_block_t **hit, be_msec_t now,
     int quiet)
{
    *wp = NULL;
    *hit = NULL;
    be_waiter_t *wt = calloc(1, sizeof(*wt));
    if (wt == NULL)
        return BE_ERROR;
    wt->worker = w;
    wt->cb = cb;
    wt->arg = arg;
    wt->tier = tier;
    wt->quiet = quiet;

    int rc;
    pthread_mutex_lock(&t->lock);
    entry_t **pp = find_locked(t, key);
    entry_t *e = *pp;
    if (e == NULL) {
        *hit = be_memcache_lookup(mc, key, now);
        if (*hit != NULL) {
            pthread_mutex_unlock(&t->lock);
            free(wt);
            return BE_DECLINED;
        }
        e = calloc(1, sizeof(*e));
        if (e == NULL) {
            pthread_mutex_unlock(&t->lock);
            free(wt);
            return BE_ERROR;
        }
        e->key = *key;
        e->phase = phase;
        *pp = e;
        t->count++;
        rc = BE_OK;
    } else {
        rc = BE_AGAIN;
    }
    wt->entry = e;
    wt->next = e->waiters;
    e->waiters = wt;
    if (tier != NULL)
        *tier = e->phase;
    pthread_mutex_unlock(&t->lock);
    *wp = wt;
    return rc;
}

int
be_inflight_join(be_inflight_t *t, be_memcache_t *mc, const be_key_t *key, be_worker_t *w,
                 int phase, be_waiter_cb cb, void *arg, int *tier, be_waiter_t **wp,
                 be_block_t **hit, be_msec_t now)
{
    return join(t, mc, key, w, phase, cb, arg, tier, wp, hit, now, 0);
}

int
be_inflight_join_quiet(be_inflight_t *t, be_memcache_t *mc, const be_key_t *key, be_worker_t *w,
                       int phase, be_waiter_cb cb, void *arg, int *tier, be_waiter_t **wp,
                       be_block_t **hit, be_msec_t now)
{
    return join(t, mc, key, w, phase, cb, arg, tier, wp, hit, now, 1);
}

static void
deliver(void *arg)
{
    be_waiter_t *wt = arg;
    if (!wt->cancelled) {
        if (wt->tier != NULL)
            *wt->tier = wt->phase;              /* on the waiter's worker: its request is alive */
        wt->cb(wt->arg, wt->status, wt->block); /* the callee owns the reference */
    } else
        be_block_unref(&wt->block);
    free(wt);
}

unsigned
be_inflight_complete(be_inflight_t *t, const be_key_t *key, be_fetch_status_t status,
                     be_block_t *block)
{
    return be_inflight_end(t, key, status, block, NULL);
}

unsigned
be_inflight_end(be_inflight_t *t, const be_key_t *key, be_fetch_status_t status, be_block_t *block,
                int *purged)
{
    unsigned n = 0;
    pthread_mutex_lock(&t->lock);
    entry_t **pp = find_locked(t, key);
    entry_t *e = *pp;
    be_waiter_t *list = NULL;
    if (purged != NULL)
        *purged = e != NULL && e->purged;
    if (e != NULL) {
        *pp = e->hnext;
        t->count--;
        list = e->waiters;
        for (be_waiter_t *wt = list; wt != NULL; wt = wt->next) {
            wt->entry = NULL;
            wt->status = status;
            wt->phase = e->phase;
            n += !wt->quiet;
            wt->block = block != NULL ? be_block_ref(block) : NULL;
        }
    }
    pthread_mutex_unlock(&t->lock);
    free(e);

    while (list != NULL) {
        be_waiter_t *next = list->next;
        if (be_worker_post(list->worker, deliver, list) != BE_OK) {
            /* Out of memory: the request would wait forever, so fail loudly. */
            be_log(BE_LOG_CRIT, "cannot post a fetch result to worker %d", list->worker->id);
            abort();
        }
        list = next;
    }
    return n;
}

unsigned
be_inflight_set_phase(be_inflight_t *t, const be_key_t *key, int phase)
{
    unsigned n = 0;
    pthread_mutex_lock(&t->lock);
    entry_t *e = *find_locked(t, key);
    if (e != NULL) {
        e->phase = phase;
        for (be_waiter_t *wt = e->waiters; wt != NULL; wt = wt->next)
            n += !wt->quiet;
    }
    pthread_mutex_unlock(&t->lock);
    return n;
}

int
be_inflight_purge(be_inflight_t *t, const be_key_t *key)
{
    pthread_mutex_lock(&t->lock);
    entry_t *e = *find_locked(t, key);
    if (e != NULL)
        e->purged = 1;
    atomic_fetch_add(&t->purge_seq, 1);
    pthread_mutex_unlock(&t->lock);
    return e != NULL;
}

int
be_inflight_purged(be_inflight_t *t, const be_key_t *key)
{
    pthread_mutex_lock(&t->lock);
    entry_t *e = *find_locked(t, key);
    int purged = e != NULL && e->purged;
    pthread_mutex_unlock(&t->lock);
    return purged;
}

uint64_t
be_inflight_purge_seq(be_inflight_t *t)
{
    return atomic_load(&t->purge_seq);
}

int
be_inflight_phase(be_inflight_t *t, const be_key_t *key)
{
    pthread_mutex_lock(&t->lock);
    entry_t *e = *find_locked(t, key);
    int phase = e != NULL ? e->phase : -1;
    pthread_mutex_unlock(&t->lock);
    return phase;
}

void
be_inflight_cancel(be_inflight_t *t, be_waiter_t **wp)
{
    be_waiter_t *wt = *wp;
    if (wt == NULL)
        return;
    *wp = NULL;
    pthread_mutex_lock(&t->lock);
    entry_t *e = wt->entry;
    if (e != NULL) {
        be_waiter_t **pp = &e->waiters;
        while (*pp != wt)
            pp = &(*pp)->next;
        *pp = wt->next;
    }
    pthread_mutex_unlock(&t->lock);
    if (e != NULL)
        free(wt); /* still attached: nobody else will see it */
    else
        wt->cancelled = 1; /* posted: deliver() frees it */
}

unsigned
be_inflight_count(be_inflight_t *t)
{
    pthread_mutex_lock(&t->lock);
    unsigned n = t->count;
    pthread_mutex_unlock(&t->lock);
    return n;
}

unsigned
be_inflight_waiting(be_inflight_t *t, const be_key_t *key)
{
    unsigned n = 0;
    pthread_mutex_lock(&t->lock);
    entry_t *e = *find_locked(t, key);
    for (be_waiter_t *wt = e != NULL ? e->waiters : NULL; wt != NULL; wt = wt->next)
        n++;
    pthread_mutex_unlock(&t->lock);
    return n;
}
