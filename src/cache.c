/*
 * cache.c - lookup memory -> disk -> coalesced origin fetch -> fill, then wake the waiters.
 *
 * Owns the order of the tiers, the glue between the disk store and the I/O pools, and the
 * hit/miss/coalesced counters. Knows nothing of HTTP or of how the origin is reached.
 * Invariants: a block enters the memory tier only from a verified fetch or a disk record
 * whose checks passed, and before be_inflight_complete() wakes anyone; the tiers are
 * inclusive (a fill goes to memory and is queued for disk; a memory eviction writes nothing).
 *
 * A disk hit whose record is in the page cache is copied on the loop with preadv2(RWF_NOWAIT),
 * which never waits for the device (see read_cached()). A cold one is read on the disk read
 * pool and goes through the in-flight table like an origin fetch: concurrent requests
 * for one block on disk share one read (a popular block falling out of memory would
 * otherwise be read once per waiting client), a client that leaves is cancelled the same
 * way, and a read that fails its checks hands the same waiters over to one origin fetch.
 * Disk hits are counted when the read completes (hits{disk} += its waiters); a waiter that
 * leaves while a read is under way is counted neither as a hit nor as a miss.
 */
#include <stdlib.h>
#include <string.h>

#include "blockedge/cache.h"
#include "blockedge/diskstore.h"
#include "blockedge/iopool.h"
#include "blockedge/log.h"
#include "blockedge/memcache.h"
#include "blockedge/origin.h"
#include "blockedge/services.h"
#include "blockedge/worker.h"

#define DISK_READ_THREADS 4

/* BLOCKEDGE_DISK_INLINE_READS=0 in the environment sends every disk read to the pool (tests
 * use it to exercise the pool and the coalescing of reads; operators have no reason to). */
static int inline_reads = 1;

/* ---- disk writes ------------------------------------------------------------------------- */

typedef struct {
    be_diskstore_t *disk;
    be_block_t *block;
} dwrite_t;

static void
dwrite_work(void *arg)
{
    dwrite_t *j = arg;
    be_diskstore_append(j->disk, &j->block->key, j->block->data, j->block->size);
}

static void
dwrite_done(void *arg)
{
    dwrite_t *j = arg;
    be_block_unref(&j->block);
    free(j);
}

/* Queues a verified block for the disk tier; dropped (and counted) when the writer is behind. */
static void
queue_disk_write(be_worker_t *w, be_block_t *b)
{
    be_services_t *svc = w->svc;
    if (svc->disk == NULL || svc->disk_write_pool == NULL)
        return;
    dwrite_t *j = malloc(sizeof(*j));
    if (j == NULL)
        return;
    if (be_diskstore_admit(svc->disk, &b->key, b->size) != BE_OK) {
        free(j);
        return;
    }
    j->disk = svc->disk;
    j->block = be_block_ref(b);
    if (be_iopool_submit(svc->disk_write_pool, w, dwrite_work, dwrite_done, j) != BE_OK) {
        be_diskstore_unadmit(svc->disk, b->size);
        be_block_unref(&j->block);
        free(j);
    }
}

typedef struct {
    be_worker_t *w;
    be_key_t key;
} fill_t;

static void
on_fetched(void *arg, be_fetch_status_t status, be_block_t *block)
{
    fill_t *fl = arg;
    be_services_t *svc = fl->w->svc;
    if (status == BE_FETCH_OK) {
        be_memcache_insert(svc->memcache, block, be_worker_now(fl->w));
        queue_disk_write(fl->w, block);
    }
    be_inflight_complete(svc->inflight, &fl->key, status, block);
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
    be_inflight_complete(w->svc->inflight, key, BE_FETCH_STATUS, NULL);
    return BE_ERROR;
}

/* ---- disk reads -------------------------------------------------------------------------- */

typedef struct {
    be_worker_t *w;
    be_key_t key;
    be_disk_loc_t loc;
    be_block_t *block;
    int rc;
} dread_t;

static void
dread_work(void *arg)
{
    dread_t *d = arg;
    d->rc = be_diskstore_read(d->w->svc->disk, &d->loc, &d->key, d->block->data);
}

/* The disk read failed its checks or the segment went away: the same waiters get one
 * origin fetch instead, and count as misses from now on. */
static void
disk_to_origin(be_worker_t *w, const be_key_t *key)
{
    be_services_t *svc = w->svc;
    unsigned n = be_inflight_set_phase(svc->inflight, key, BE_TIER_MISS);
    be_stat_add(&w->stats.ctr[BE_CTR_CACHE_MISSES], n);
    if (n > 1)
        be_stat_add(&w->stats.ctr[BE_CTR_COALESCED], n - 1);
    if (svc->disk_read_pool == NULL) { /* shutting down: the origin clients are going away */
        be_inflight_complete(svc->inflight, key, BE_FETCH_CONNECT, NULL);
        return;
    }
    start_fill(w, key);
}

static void
dread_done(void *arg)
{
    dread_t *d = arg;
    be_worker_t *w = d->w;
    be_services_t *svc = w->svc;
    if (d->rc == BE_OK) {
        d->block->size = d->loc.len;
        be_memcache_insert(svc->memcache, d->block, be_worker_now(w));
        unsigned n = be_inflight_complete(svc->inflight, &d->key, BE_FETCH_OK, d->block);
        be_stat_add(&w->stats.hits[BE_TIER_DISK], n);
    } else {
        disk_to_origin(w, &d->key);
    }
    be_block_unref(&d->block);
    free(d);
}

static int
start_disk_read(be_worker_t *w, const be_key_t *key, const be_disk_loc_t *loc)
{
    be_services_t *svc = w->svc;
    dread_t *d = malloc(sizeof(*d));
    if (d == NULL)
        return BE_ERROR;
    d->w = w;
    d->key = *key;
    d->loc = *loc;
    d->rc = BE_ERROR;
    d->block = be_block_new(key, loc->len);
    if (d->block != NULL &&
        be_iopool_submit(svc->disk_read_pool, w, dread_work, dread_done, d) == BE_OK)
        return BE_OK;
    be_block_unref(&d->block);
    free(d);
    return BE_ERROR;
}

/*
 * A disk hit whose record sits in the page cache is read right here, on the loop: preadv2
 * with RWF_NOWAIT copies from memory or returns EAGAIN, it never waits for the device, so
 * only cold reads pay the two thread hand-offs of the read pool (measured: they cost more
 * CPU than the copy itself for 64 KiB blocks). Concurrent requests need no coalescing here:
 * each copy is as cheap as a shared one. BE_OK with *out (promoted to memory), BE_AGAIN
 * (cold: use the pool), BE_ERROR (corrupt, or gone since the look-up: fetch it).
 */
static int
read_cached(be_worker_t *w, const be_key_t *key, const be_disk_loc_t *loc, be_block_t **out)
{
    be_services_t *svc = w->svc;
    be_block_t *b = be_block_new(key, loc->len);
    if (b == NULL)
        return BE_AGAIN;
    int rc = be_diskstore_read_cached(svc->disk, loc, key, b->data);
    if (rc == BE_OK) {
        b->size = loc->len;
        be_memcache_insert(svc->memcache, b, be_worker_now(w));
        *out = b;
        return BE_OK;
    }
    be_block_unref(&b);
    /* BE_DECLINED: reclaimed since the look-up, or not this key: the pool would say the
     * same, so go straight to the origin like a corrupt record. */
    return rc == BE_AGAIN ? BE_AGAIN : BE_ERROR;
}

/* ---- look-up ------------------------------------------------------------------------------ */

int
be_cache_get(be_worker_t *w, const be_key_t *key, be_waiter_cb cb, void *arg, be_waiter_t **wp,
             be_block_t **out, int *tier)
{
    be_services_t *svc = w->svc;
    be_msec_t now = be_worker_now(w);
    *wp = NULL;
    *out = be_memcache_lookup(svc->memcache, key, now);
    if (*out != NULL) {
        *tier = BE_TIER_MEMORY;
        be_stat_add(&w->stats.hits[BE_TIER_MEMORY], 1);
        return BE_OK;
    }
    be_disk_loc_t loc;
    int phase = BE_TIER_MISS;
    if (svc->disk != NULL && svc->disk_read_pool != NULL &&
        be_diskstore_lookup(svc->disk, key, &loc) == BE_OK) {
        phase = BE_TIER_DISK;
        int rc = inline_reads ? read_cached(w, key, &loc, out) : BE_AGAIN;
        if (rc == BE_OK) {
            *tier = BE_TIER_DISK;
            be_stat_add(&w->stats.hits[BE_TIER_DISK], 1);
            return BE_OK;
        }
        if (rc == BE_ERROR)
            phase = BE_TIER_MISS; /* failed its checks: dropped, fetch it */
    }
    int rc =
        be_inflight_join(svc->inflight, svc->memcache, key, w, phase, cb, arg, tier, wp, out, now);
    switch (rc) {
    case BE_DECLINED: /* filled between the two look-ups */
        *tier = BE_TIER_MEMORY;
        be_stat_add(&w->stats.hits[BE_TIER_MEMORY], 1);
        return BE_OK;
    case BE_OK: /* leader */
        if (phase == BE_TIER_DISK) {
            if (start_disk_read(w, key, &loc) != BE_OK)
                disk_to_origin(w, key);
            return BE_AGAIN;
        }
        be_stats_inc(&w->stats, CACHE_MISSES);
        start_fill(w, key); /* on failure the waiter still gets its callback */
        return BE_AGAIN;
    case BE_AGAIN:
        if (*tier == BE_TIER_MISS) { /* a disk read under way counts when it ends */
            be_stats_inc(&w->stats, CACHE_MISSES);
            be_stats_inc(&w->stats, COALESCED);
        }
        return BE_AGAIN;
    default:
        return BE_ERROR;
    }
}

void
be_cache_cancel(be_worker_t *w, be_waiter_t **wp)
{
    be_inflight_cancel(w->svc->inflight, wp);
}

/* ---- the disk tier's life ------------------------------------------------------------------ */

static int
in_memory(void *ctx, const be_key_t *digest)
{
    return be_memcache_contains(ctx, digest);
}

int
be_cache_disk_open(be_services_t *svc)
{
    const be_config_t *cfg = svc->cfg;
    if (cfg->disk_path[0] == '\0')
        return BE_OK;
    const char *env = getenv("BLOCKEDGE_DISK_INLINE_READS");
    inline_reads = env == NULL || strcmp(env, "0") != 0;
    be_diskstore_conf_t dc = {
        .path = cfg->disk_path,
        .size = cfg->disk_size,
        .segment_size = cfg->disk_segment_size,
        .is_hot = in_memory,
        .hot_ctx = svc->memcache,
        .lock_wait_ms = svc->disk_lock_wait_ms,
    };
    svc->disk = be_diskstore_open(&dc);
    svc->disk_read_pool = be_iopool_new(DISK_READ_THREADS);
    svc->disk_write_pool = be_iopool_new(1);
    if (svc->disk == NULL || svc->disk_read_pool == NULL || svc->disk_write_pool == NULL) {
        be_cache_disk_stop_reads(svc);
        be_cache_disk_stop_writes(svc);
        be_cache_disk_close(svc);
        return BE_ERROR;
    }
    return BE_OK;
}

void
be_cache_disk_release(be_services_t *svc)
{
    if (svc->disk != NULL)
        be_diskstore_release(svc->disk);
}

void
be_cache_disk_stop_reads(be_services_t *svc)
{
    be_iopool_free(&svc->disk_read_pool);
}

void
be_cache_disk_stop_writes(be_services_t *svc)
{
    be_iopool_free(&svc->disk_write_pool);
}

void
be_cache_disk_close(be_services_t *svc)
{
    be_diskstore_close(&svc->disk);
}
