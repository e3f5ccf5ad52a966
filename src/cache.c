/*
 * cache.c - lookup memory -> coalesced origin fetch -> fill, then wake the waiters.
 *
 * Owns the order of the tiers and the hit/miss/coalesced counters. Knows nothing of HTTP
 * or of how the origin is reached. Invariant: a block enters the memory tier only from a
 * verified fetch, and before be_inflight_complete() wakes anyone.
 */
#include <stdlib.h>

#include "blockedge/cache.h"
#include "blockedge/log.h"
#include "blockedge/memcache.h"
#include "blockedge/origin.h"
#include "blockedge/server.h"
#include "blockedge/worker.h"

typedef struct {
    be_worker_t *w;
    be_key_t key;
} fill_t;

static void
on_fetched(void *arg, be_fetch_status_t status, be_block_t *block)
{
    fill_t *fl = arg;
    be_server_t *srv = fl->w->server;
    if (status == BE_FETCH_OK)
        be_memcache_insert(srv->memcache, block, be_worker_now(fl->w));
    be_inflight_complete(srv->inflight, &fl->key, status, block);
    be_block_unref(&block);
    free(fl);
}

static int
start_fill(be_worker_t *w, const be_key_t *key)
{
    fill_t *fl = malloc(sizeof(*fl));
    if (fl != NULL) {
        fl->w = w;
        fl->key = *key;
        if (be_origin_fetch(w->origin, key, on_fetched, fl) == BE_OK)
            return BE_OK;
        free(fl);
    }
    /* Could not even start: fail every waiter that joined meanwhile. */
    be_stat_add(&w->stats.origin_errors[BE_FETCH_STATUS], 1);
    be_inflight_complete(w->server->inflight, key, BE_FETCH_STATUS, NULL);
    return BE_ERROR;
}

int
be_cache_get(be_worker_t *w, const be_key_t *key, be_waiter_cb cb, void *arg, be_waiter_t **wp,
             be_block_t **out, int *tier)
{
    be_server_t *srv = w->server;
    be_msec_t now = be_worker_now(w);
    *wp = NULL;
    *out = be_memcache_lookup(srv->memcache, key, now);
    if (*out != NULL) {
        *tier = BE_TIER_MEMORY;
        be_stat_add(&w->stats.hits[BE_TIER_MEMORY], 1);
        return BE_OK;
    }
    int rc = be_inflight_join(srv->inflight, srv->memcache, key, w, cb, arg, wp, out, now);
    switch (rc) {
    case BE_DECLINED: /* filled between the two look-ups */
        *tier = BE_TIER_MEMORY;
        be_stat_add(&w->stats.hits[BE_TIER_MEMORY], 1);
        return BE_OK;
    case BE_OK: /* leader */
        *tier = BE_TIER_MISS;
        be_stats_inc(&w->stats, CACHE_MISSES);
        start_fill(w, key); /* on failure the waiter still gets its callback */
        return BE_AGAIN;
    case BE_AGAIN:
        *tier = BE_TIER_MISS;
        be_stats_inc(&w->stats, CACHE_MISSES);
        be_stats_inc(&w->stats, COALESCED);
        return BE_AGAIN;
    default:
        return BE_ERROR;
    }
}

void
be_cache_cancel(be_worker_t *w, be_waiter_t **wp)
{
    be_inflight_cancel(w->server->inflight, wp);
}
