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
 *
 * Purge and fills. A purge marks the key's in-flight entry, has the disk writer forget the
 * block (after the writes queued before it), then drops it from memory. A fill checks the
 * mark before it inserts and again as it ends the entry (be_inflight_end); if a purge came in
 * between, the fill takes itself back (memory, and a disk purge queued behind its own write).
 * A disk record read on the loop has no entry: it compares the in-flight table's purge count
 * from before its look-up with the count after its insert instead. So whichever of a purge
 * and a fill comes last sees the other, and a purged block is never left cached.
 *
 * Disk admission. With disk_admission all, every fill is queued for disk. With second_hit a
 * fill only records the block in the seen-once set (admission.c) and counts a skip; the write
 * is queued by the block's second request: a memory hit that finds it there, or a second fill
 * once it left memory. Either way a block is queued for disk once per stay in memory. With
 * policy the memory policy's promotion decides instead of a second request (admission.c).
 *
 * Prefetches go through the same look-up, entry and fill as a client miss, as quiet waiters:
 * they count no client hit or miss (the origin and disk counters still see their work).
 */
#include <stdlib.h>
#include <string.h>

#include "blockedge/admission.h"
#include "blockedge/cache.h"
#include "blockedge/diskstore.h"
#include "blockedge/iopool.h"
#include "blockedge/log.h"
#include "blockedge/memcache.h"
#include "blockedge/negcache.h"
#include "blockedge/origin.h"
#include "blockedge/policy.h"
#include "blockedge/services.h"
#include "blockedge/worker.h"

#define DISK_READ_THREADS 4

/*
 * The disk writer's nice value. Measured on a busy 2-core host (bench/disk warming 1 GiB of
 * 1 MiB blocks): the writer needed ~1.5 ms of CPU per MiB (buffered writes: the page cache
 * copy and allocation), spent ~2/3 of its busy time waiting in the run queue behind the
 * workers, the origin and the client, and so wrote at 240-280 MiB/s, half the device's rate,
 * while fills came at up to 400 MiB/s. A fill the writer cannot take is dropped and becomes a
 * disk miss, while a worker that gives up a little CPU to it only serves a little later, so the
 * writer gets the larger share when both want the CPU; idle, it takes nothing.
 */
#define DISK_WRITER_NICE -5

/* disk_admission second_hit remembers this many (2^N) blocks filled once: 512 KiB. */
#define ADMISSION_BITS 16

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

/* Queues a verified block for the disk tier; dropped (and counted) when the writer is behind.
 * Returns 1 when a write was queued. */
static int
queue_disk_write(be_worker_t *w, be_block_t *b)
{
    be_services_t *svc = w->svc;
    if (svc->disk == NULL || svc->disk_write_pool == NULL)
        return 0;
    dwrite_t *j = malloc(sizeof(*j));
    if (j == NULL)
        return 0;
    if (be_diskstore_admit(svc->disk, &b->key, b->size) != BE_OK) {
        free(j);
        return 0;
    }
    j->disk = svc->disk;
    j->block = be_block_ref(b);
    if (be_iopool_submit(svc->disk_write_pool, w, dwrite_work, dwrite_done, j) != BE_OK) {
        be_diskstore_unadmit(svc->disk, b->size);
        be_block_unref(&j->block);
        free(j);
        return 0;
    }
    return 1;
}

/* The disk write of a fill, under disk_admission. Returns 1 when a write was queued. */
static int
fill_disk_write(be_worker_t *w, be_block_t *b)
{
    be_services_t *svc = w->svc;
    if (svc->disk == NULL)
        return 0;
    int mode = be_admission_mode(w->cfg->disk_admission, w->cfg->memory_policy);
    if (mode == BE_DISK_ADMIT_SECOND_HIT && svc->admission != NULL &&
        !be_admission_fill(svc->admission, be_key_hash(&b->key))) {
        be_stats_inc(&w->stats, DISK_ADMISSION_SKIPPED);
        return 0;
    }
    if (mode == BE_DISK_ADMIT_POLICY && svc->admission != NULL && !be_policy_promoted(&b->pn)) {
        be_admission_remember(svc->admission, be_key_hash(&b->key));
        be_stats_inc(&w->stats, DISK_ADMISSION_SKIPPED);
        return 0;
    }
    return queue_disk_write(w, b);
}

/* A memory hit on b: under second_hit, the second request of a block whose fill skipped the
 * disk queues its write now; under policy, the first hit once the memory policy promoted it.
 * One load and compare under disk_admission all. */
static void
hit_disk_write(be_worker_t *w, be_block_t *b)
{
    be_services_t *svc = w->svc;
    if (w->cfg->disk_admission == BE_DISK_ADMIT_ALL || svc->admission == NULL)
        return;
    int mode = be_admission_mode(w->cfg->disk_admission, w->cfg->memory_policy);
    if ((mode == BE_DISK_ADMIT_SECOND_HIT || be_policy_promoted(&b->pn)) &&
        be_admission_hit(svc->admission, be_key_hash(&b->key)))
        queue_disk_write(w, b);
}

/* ---- purge ----------------------------------------------------------------------------------- */

typedef struct dpurge_s {
    be_services_t *svc;
    be_key_t key;
    be_purge_result_t r;
    be_purge_cb done; /* NULL: a fill taking itself back */
    void *arg;
} dpurge_t;

static void
dpurge_work(void *arg)
{
    dpurge_t *p = arg;
    p->r.disk = be_diskstore_purge(p->svc->disk, &p->key) == BE_OK;
}

/* On the worker, once the writer is through: memory goes last, so a disk record read on a
 * loop meanwhile and inserted is still dropped (see be_cache_get). */
static void
dpurge_done(void *arg)
{
    dpurge_t *p = arg;
    if (p->done != NULL) {
        p->r.memory = be_memcache_remove(p->svc->memcache, &p->key) == BE_OK;
        p->done(p->arg, &p->r);
    }
    free(p);
}

/* Queues a disk purge of key on the writer (behind every write queued before it); done (if
 * any) runs on w afterwards. BE_OK, or BE_ERROR: nothing queued. */
static int
queue_disk_purge(be_services_t *svc, be_worker_t *w, const be_key_t *key,
                 const be_purge_result_t *r, be_purge_cb done, void *arg)
{
    dpurge_t *p = malloc(sizeof(*p));
    if (p == NULL)
        return BE_ERROR;
    p->svc = svc;
    p->key = *key;
    p->r = *r;
    p->done = done;
    p->arg = arg;
    if (be_iopool_submit(svc->disk_write_pool, w, dpurge_work, dpurge_done, p) != BE_OK) {
        free(p);
        return BE_ERROR;
    }
    return BE_OK;
}

int
be_cache_purge(be_services_t *svc, be_worker_t *w, const be_key_t *key, be_purge_cb done, void *arg)
{
    be_purge_result_t r = {0};
    be_negcache_forget(svc->negcache, key); /* a purge also forgets an origin 404 */
    if (svc->admission != NULL)
        be_admission_forget(svc->admission, be_key_hash(key));
    r.fetching = be_inflight_purge(svc->inflight, key);
    if (svc->disk != NULL && svc->disk_write_pool != NULL)
        return queue_disk_purge(svc, w, key, &r, done, arg);
    r.memory = be_memcache_remove(svc->memcache, key) == BE_OK;
    done(arg, &r);
    return BE_OK;
}

/* ---- fills ----------------------------------------------------------------------------------- */

#define FILLED_MEMORY 1
#define FILLED_DISK   2

/* Puts a verified block in memory (and with to_disk queues it for the disk tier), unless a
 * purge marked its in-flight entry. Returns what it did (FILLED_*). */
static int
fill(be_worker_t *w, be_block_t *b, int to_disk)
{
    be_services_t *svc = w->svc;
    if (be_inflight_purged(svc->inflight, &b->key))
        return 0;
    be_memcache_insert(svc->memcache, b, be_worker_now(w));
    return FILLED_MEMORY | (to_disk && fill_disk_write(w, b) ? FILLED_DISK : 0);
}

/* Undoes a fill that a purge crossed: the memory tier drops it, and a disk write queued by it
 * is followed by a purge record. */
static void
take_back(be_worker_t *w, const be_key_t *key, int filled)
{
    be_services_t *svc = w->svc;
    be_memcache_remove(svc->memcache, key);
    be_purge_result_t r = {0};
    if ((filled & FILLED_DISK) && queue_disk_purge(svc, w, key, &r, NULL, NULL) != BE_OK)
        be_log(BE_LOG_ERROR, "cannot queue a disk purge after a fill crossed a purge (out of "
                             "memory): the block stays on the disk tier");
}

/* Ends the in-flight entry of key (waking its waiters); a fill that a purge crossed meanwhile
 * is taken back. Returns the waiters counted. */
static unsigned
end_entry(be_worker_t *w, const be_key_t *key, be_fetch_status_t status, be_block_t *block,
          int filled)
{
    int purged;
    unsigned n = be_inflight_end(w->svc->inflight, key, status, block, &purged);
    if (filled && purged)
        take_back(w, key, filled);
    return n;
}

typedef struct {
    be_worker_t *w;
    be_key_t key;
} fill_t;

static void
on_fetched(void *arg, be_fetch_status_t status, be_block_t *block)
{
    fill_t *fl = arg;
    be_msec_t ttl = fl->w->cfg->negative_ttl;
    if (status == BE_FETCH_NOT_FOUND && ttl > 0)
        be_negcache_add(fl->w->svc->negcache, &fl->key, be_worker_now(fl->w) + ttl);
    int filled = status == BE_FETCH_OK ? fill(fl->w, block, 1) : 0;
    end_entry(fl->w, &fl->key, status, block, filled);
    be_block_unref(&block);
    free(fl);
}

int
be_cache_fill_orphaned(void *arg)
{
    fill_t *fl = arg;
    return be_inflight_waiting(fl->w->svc->inflight, &fl->key) == 0;
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
    if (d->rc == BE_OK) {
        d->block->size = d->loc.len;
        int filled = fill(w, d->block, 0);
        unsigned n = end_entry(w, &d->key, BE_FETCH_OK, d->block, filled);
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
 * seq: the in-flight table's purge count before the disk look-up; a purge since then takes
 * the promotion back (the request still gets the bytes it read).
 */
static int
read_cached(be_worker_t *w, const be_key_t *key, const be_disk_loc_t *loc, uint64_t seq,
            be_block_t **out)
{
    be_services_t *svc = w->svc;
    be_block_t *b = be_block_new(key, loc->len);
    if (b == NULL)
        return BE_AGAIN;
    int rc = be_diskstore_read_cached(svc->disk, loc, key, b->data);
    if (rc == BE_OK) {
        b->size = loc->len;
        be_memcache_insert(svc->memcache, b, be_worker_now(w));
        if (be_inflight_purge_seq(svc->inflight) != seq)
            be_memcache_remove(svc->memcache, key); /* a purge crossed it: do not keep it */
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
be_cache_get(be_worker_t *w, const be_key_t *key, unsigned flags, be_waiter_cb cb, void *arg,
             be_waiter_t **wp, be_block_t **out, int *tier)
{
    be_services_t *svc = w->svc;
    be_msec_t now = be_worker_now(w);
    *wp = NULL;
    *out = be_memcache_lookup(svc->memcache, key, now);
    if (*out != NULL) {
        *tier = BE_TIER_MEMORY;
        be_stat_add(&w->stats.hits[BE_TIER_MEMORY], 1);
        hit_disk_write(w, *out);
        return BE_OK;
    }
    be_disk_loc_t loc;
    int phase = BE_TIER_MISS;
    uint64_t seq = be_inflight_purge_seq(svc->inflight);
    if (svc->disk != NULL && svc->disk_read_pool != NULL &&
        be_diskstore_lookup(svc->disk, key, &loc) == BE_OK) {
        phase = BE_TIER_DISK;
        int rc = inline_reads ? read_cached(w, key, &loc, seq, out) : BE_AGAIN;
        if (rc == BE_OK) {
            *tier = BE_TIER_DISK;
            be_stat_add(&w->stats.hits[BE_TIER_DISK], 1);
            return BE_OK;
        }
        if (rc == BE_ERROR)
            phase = BE_TIER_MISS; /* failed its checks: dropped, fetch it */
    }
    if (phase == BE_TIER_MISS && w->cfg->negative_ttl > 0 &&
        be_negcache_hit(svc->negcache, key, now)) {
        *tier = BE_TIER_MISS;
        be_stats_inc(&w->stats, NEGATIVE_HITS);
        return BE_DECLINED; /* the origin said 404 a moment ago */
    }
    if (phase == BE_TIER_MISS && (flags & BE_CACHE_NO_FETCH))
        return BE_BUSY;
    int rc =
        be_inflight_join(svc->inflight, svc->memcache, key, w, phase, cb, arg, tier, wp, out, now);
    switch (rc) {
    case BE_DECLINED: /* filled between the two look-ups */
        *tier = BE_TIER_MEMORY;
        be_stat_add(&w->stats.hits[BE_TIER_MEMORY], 1);
        hit_disk_write(w, *out);
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

int
be_cache_prefetch(be_worker_t *w, const be_key_t *key, be_waiter_cb cb, void *arg, be_waiter_t **wp,
                  int *tier)
{
    be_services_t *svc = w->svc;
    be_msec_t now = be_worker_now(w);
    *wp = NULL;
    be_block_t *hit = be_memcache_lookup(svc->memcache, key, now);
    be_disk_loc_t loc;
    int phase = BE_TIER_MISS;
    if (hit == NULL && svc->disk != NULL && svc->disk_read_pool != NULL &&
        be_diskstore_lookup(svc->disk, key, &loc) == BE_OK)
        phase = BE_TIER_DISK; /* read on the pool: a prefetch need not be quick */
    int rc = hit != NULL ? BE_DECLINED
                         : be_inflight_join_quiet(svc->inflight, svc->memcache, key, w, phase, cb,
                                                  arg, tier, wp, &hit, now);
    switch (rc) {
    case BE_DECLINED:
        be_block_unref(&hit);
        return BE_OK;
    case BE_OK: /* leader */
        if (phase == BE_TIER_DISK && start_disk_read(w, key, &loc) != BE_OK)
            disk_to_origin(w, key);
        else if (phase == BE_TIER_MISS)
            start_fill(w, key);
        return BE_AGAIN;
    case BE_AGAIN:
        return BE_AGAIN;
    default:
        return BE_ERROR;
    }
}

void
be_cache_peek(be_services_t *svc, const be_key_t *key, be_cache_peek_t *out)
{
    memset(out, 0, sizeof(*out));
    out->memory = be_memcache_peek(svc->memcache, key, &out->mem) == BE_OK;
    out->disk_state = -1;
    if (svc->disk != NULL) {
        out->disk_state = be_diskstore_state(svc->disk);
        out->disk = be_diskstore_peek(svc->disk, key, &out->dsk) == BE_OK;
    }
    out->fetching = be_inflight_phase(svc->inflight, key);
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
    svc->disk_write_pool = be_iopool_new_nice(1, DISK_WRITER_NICE);
    svc->admission = be_admission_new(ADMISSION_BITS);
    if (svc->disk == NULL || svc->disk_read_pool == NULL || svc->disk_write_pool == NULL ||
        svc->admission == NULL) {
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
be_cache_disk_reacquire(be_services_t *svc)
{
    if (svc->disk != NULL)
        be_diskstore_reacquire(svc->disk);
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
    be_admission_free(&svc->admission);
}
