/*
 * test_cache.c - tier orchestration with a file:// origin: a miss fetches, verifies, fills
 * the memory tier and then hits; bytes that do not match their name fail every waiter and
 * leave nothing cached (the next request fetches again); an origin 404 likewise;
 * concurrent misses for one key, on one worker or two, make one origin fetch; a waiter
 * that leaves still lets the fill reach the cache. A purge drops a block from memory and
 * disk (and keeps it dropped across a restart), and a fetch under way when it comes is
 * delivered but not kept. A prefetch fills like a miss, coalesces with client misses and
 * counts no client hit or miss.
 *
 * The node is built through the server object: two workers that are never started, a
 * small memory tier, and a file:// origin in a fresh temporary directory. The test calls
 * be_cache_get() as a request would and turns the workers' loops in real time (bounded)
 * until the callbacks ran; every check is on the bytes delivered and on the counters.
 */
#include <string.h>

#include "blockedge/cache.h"
#include "blockedge/inflight.h"
#include "blockedge/memcache.h"
#include "blockedge/server.h"
#include "blockedge/services.h"
#include "blockedge/stats.h"
#include "blockedge/worker.h"
#include "fixture.h"
#include "test.h"

#define NWORKERS 2
#define SIZE     1000
#define BOUND_MS 5000

static be_config_t cfg;
static be_server_t *node;
static be_services_t *svc;
static be_worker_t *workers[NWORKERS];
static char dir[512];
static unsigned char data[SIZE];

static void
setup(void)
{
    fixture_tmpdir(dir, sizeof(dir), "cache");
    fixture_config(&cfg, NWORKERS);
    fixture_file_origin(&cfg, dir);
    node = fixture_build(&cfg, &svc, workers, NWORKERS, "test_cache");
    for (int i = 0; i < SIZE; i++)
        data[i] = (unsigned char)(i * 7 + 3);
}

static void
teardown(void)
{
    fixture_down(&node);
    fixture_rmdir(dir);
}

static uint64_t
ctr(int wi, int id)
{
    return be_stat_get(&workers[wi]->stats.ctr[id]);
}

/* Summed over the workers. */
static uint64_t
total(int id)
{
    uint64_t n = 0;
    for (int i = 0; i < NWORKERS; i++)
        n += ctr(i, id);
    return n;
}

static uint64_t
errors(be_fetch_status_t st)
{
    uint64_t n = 0;
    for (int i = 0; i < NWORKERS; i++)
        n += be_stat_get(&workers[i]->stats.origin_errors[st]);
    return n;
}

static uint64_t
fetches_timed(void)
{
    uint64_t n = 0;
    for (int i = 0; i < NWORKERS; i++)
        for (int b = 0; b <= BE_HIST_BUCKETS; b++)
            n += be_stat_get(&workers[i]->stats.fetch_duration.bucket[b]);
    return n;
}

static be_memcache_stats_t
mstats(void)
{
    be_memcache_stats_t st;
    be_memcache_stats(svc->memcache, &st);
    return st;
}

static int
called(void *arg)
{
    return ((fixture_got_t *)arg)->calls > 0;
}

static int
get(int wi, const be_key_t *key, fixture_got_t *g, be_waiter_t **wp, be_block_t **out, int *tier)
{
    return be_cache_get(workers[wi], key, 0, fixture_got, g, wp, out, tier);
}

static void
test_cache_miss_fetches_fills_then_hits(void)
{
    char hex[BE_KEY_HEX_LEN + 1];
    be_key_t key;
    fixture_got_t g = {0};
    be_waiter_t *wp = NULL;
    be_block_t *out = NULL;
    int tier = -1;

    setup();
    fixture_write_block(dir, data, SIZE, hex);
    BE_CHECK_INT(be_key_from_hex(hex, BE_KEY_HEX_LEN, &key), BE_OK);

    BE_CHECK_INT(get(0, &key, &g, &wp, &out, &tier), BE_AGAIN);
    BE_CHECK(wp != NULL);
    BE_CHECK(out == NULL);
    BE_CHECK_INT(tier, BE_TIER_MISS);
    BE_CHECK_INT(g.calls, 0); /* never from inside get */
    BE_CHECK_INT(ctr(0, BE_CTR_CACHE_MISSES), 1);
    BE_CHECK_INT(ctr(0, BE_CTR_ORIGIN_REQUESTS), 1);
    BE_CHECK_INT(ctr(0, BE_CTR_COALESCED), 0);
    BE_CHECK_INT(be_inflight_count(svc->inflight), 1);
    BE_CHECK_INT(mstats().blocks, 0);

    BE_CHECK(fixture_run_until(workers, NWORKERS, called, &g, BOUND_MS));
    BE_CHECK_INT(g.calls, 1);
    BE_CHECK_INT(g.status, BE_FETCH_OK);
    BE_CHECK(g.block != NULL);
    BE_CHECK_INT(g.block->size, SIZE);
    BE_CHECK(memcmp(g.block->data, data, SIZE) == 0);
    BE_CHECK(be_key_equal(&g.block->key, &key));
    BE_CHECK_INT(be_inflight_count(svc->inflight), 0);
    BE_CHECK_INT(mstats().blocks, 1); /* filled before the waiter was woken */
    BE_CHECK_INT(mstats().inserts, 1);
    BE_CHECK_INT(fetches_timed(), 1);
    for (int st = 1; st < BE_FETCH_NSTATUS; st++)
        BE_CHECK_INT(errors((be_fetch_status_t)st), 0);

    /* the next request is a memory hit, on either worker, with no origin traffic */
    for (int wi = 0; wi < NWORKERS; wi++) {
        BE_CHECK_INT(get(wi, &key, &g, &wp, &out, &tier), BE_OK);
        BE_CHECK(out == g.block); /* the very block the fetch delivered */
        BE_CHECK_INT(tier, BE_TIER_MEMORY);
        BE_CHECK(wp == NULL);
        be_block_unref(&out);
        BE_CHECK_INT(be_stat_get(&workers[wi]->stats.hits[BE_TIER_MEMORY]), 1);
    }
    BE_CHECK_INT(total(BE_CTR_ORIGIN_REQUESTS), 1);
    BE_CHECK_INT(total(BE_CTR_CACHE_MISSES), 1);
    BE_CHECK_INT(atomic_load(&g.block->refs), 2); /* ours and the memory tier's */
    be_block_unref(&g.block);
    teardown();
}

static void
test_cache_digest_mismatch_fails_and_caches_nothing(void)
{
    char hex[BE_KEY_HEX_LEN + 1];
    unsigned char other[SIZE];
    be_key_t key;
    fixture_got_t g = {0};
    be_waiter_t *wp;
    be_block_t *out;
    int tier;

    setup();
    /* a file named after these bytes but holding other ones */
    be_sha256(data, SIZE, &key);
    be_key_to_hex(&key, hex);
    memcpy(other, data, SIZE);
    other[SIZE / 2] ^= 1;
    fixture_write_file(dir, hex, other, SIZE);

    BE_CHECK_INT(get(0, &key, &g, &wp, &out, &tier), BE_AGAIN);
    BE_CHECK(fixture_run_until(workers, NWORKERS, called, &g, BOUND_MS));
    BE_CHECK_INT(g.status, BE_FETCH_DIGEST_MISMATCH);
    BE_CHECK(g.block == NULL);
    BE_CHECK_INT(be_fetch_http_status(g.status), 502);
    BE_CHECK_INT(errors(BE_FETCH_DIGEST_MISMATCH), 1);
    BE_CHECK_INT(mstats().blocks, 0);
    BE_CHECK_INT(mstats().inserts, 0);
    BE_CHECK_INT(be_inflight_count(svc->inflight), 0);

    /* nothing was remembered: the next request asks the origin again */
    g.calls = 0;
    BE_CHECK_INT(get(1, &key, &g, &wp, &out, &tier), BE_AGAIN);
    BE_CHECK(fixture_run_until(workers, NWORKERS, called, &g, BOUND_MS));
    BE_CHECK_INT(g.status, BE_FETCH_DIGEST_MISMATCH);
    BE_CHECK_INT(total(BE_CTR_ORIGIN_REQUESTS), 2);
    BE_CHECK_INT(total(BE_CTR_CACHE_MISSES), 2);
    BE_CHECK_INT(errors(BE_FETCH_DIGEST_MISMATCH), 2);
    BE_CHECK_INT(mstats().blocks, 0);
    BE_CHECK_INT(be_stat_get(&workers[0]->stats.hits[BE_TIER_MEMORY]), 0);
    teardown();
}

static void
test_cache_origin_not_found_fails_and_caches_nothing(void)
{
    be_key_t key;
    fixture_got_t g = {0};
    be_waiter_t *wp;
    be_block_t *out;
    int tier;

    setup();
    be_sha256(data, SIZE, &key); /* no file by that name */
    BE_CHECK_INT(get(0, &key, &g, &wp, &out, &tier), BE_AGAIN);
    BE_CHECK(fixture_run_until(workers, NWORKERS, called, &g, BOUND_MS));
    BE_CHECK_INT(g.status, BE_FETCH_NOT_FOUND);
    BE_CHECK(g.block == NULL);
    BE_CHECK_INT(be_fetch_http_status(g.status), 404);
    BE_CHECK_INT(errors(BE_FETCH_NOT_FOUND), 1);
    BE_CHECK_INT(total(BE_CTR_ORIGIN_REQUESTS), 1);
    BE_CHECK_INT(mstats().blocks, 0);
    BE_CHECK_INT(be_inflight_count(svc->inflight), 0);
    teardown();
}

static void
test_cache_concurrent_misses_make_one_origin_fetch(void)
{
    char hex[BE_KEY_HEX_LEN + 1];
    be_key_t key;
    fixture_got_t g[3] = {{0}};
    be_waiter_t *wp[3];
    be_block_t *out;
    int tier[3];

    setup();
    fixture_write_block(dir, data, SIZE, hex);
    BE_CHECK_INT(be_key_from_hex(hex, BE_KEY_HEX_LEN, &key), BE_OK);

    /* two on worker 1 and one on worker 2, before any loop runs */
    BE_CHECK_INT(get(0, &key, &g[0], &wp[0], &out, &tier[0]), BE_AGAIN);
    BE_CHECK_INT(get(0, &key, &g[1], &wp[1], &out, &tier[1]), BE_AGAIN);
    BE_CHECK_INT(get(1, &key, &g[2], &wp[2], &out, &tier[2]), BE_AGAIN);
    BE_CHECK(wp[0] != wp[1] && wp[1] != wp[2]);
    BE_CHECK_INT(be_inflight_count(svc->inflight), 1);
    BE_CHECK_INT(ctr(0, BE_CTR_ORIGIN_REQUESTS), 1); /* the leader's */
    BE_CHECK_INT(ctr(1, BE_CTR_ORIGIN_REQUESTS), 0);
    BE_CHECK_INT(ctr(0, BE_CTR_CACHE_MISSES), 2);
    BE_CHECK_INT(ctr(1, BE_CTR_CACHE_MISSES), 1);
    BE_CHECK_INT(ctr(0, BE_CTR_COALESCED), 1);
    BE_CHECK_INT(ctr(1, BE_CTR_COALESCED), 1);

    /* worker 1's loop runs the fetch and wakes its own two waiters ... */
    BE_CHECK(fixture_run_until(&workers[0], 1, called, &g[1], BOUND_MS));
    BE_CHECK_INT(g[0].calls, 1);
    BE_CHECK_INT(g[1].calls, 1);
    BE_CHECK_INT(g[2].calls, 0); /* ... worker 2's waits in worker 2's mailbox */
    BE_CHECK_INT(be_worker_run_mailbox(workers[1]), 1);
    for (int i = 0; i < 3; i++) {
        BE_CHECK_INT(g[i].calls, 1);
        BE_CHECK_INT(g[i].status, BE_FETCH_OK);
        BE_CHECK(g[i].block == g[0].block);
        BE_CHECK(memcmp(g[i].block->data, data, SIZE) == 0);
    }
    BE_CHECK_INT(total(BE_CTR_ORIGIN_REQUESTS), 1);
    BE_CHECK_INT(fetches_timed(), 1);
    BE_CHECK_INT(mstats().inserts, 1);
    BE_CHECK_INT(be_inflight_count(svc->inflight), 0);
    BE_CHECK_INT(atomic_load(&g[0].block->refs), 3 + 1); /* the waiters' and the cache's */
    for (int i = 0; i < 3; i++)
        be_block_unref(&g[i].block);
    teardown();
}

static int
filled(void *arg)
{
    return be_inflight_count(svc->inflight) == 0 && be_memcache_contains(svc->memcache, arg);
}

static void
test_cache_cancelled_waiter_gets_nothing_but_fill_is_cached(void)
{
    char hex[BE_KEY_HEX_LEN + 1];
    be_key_t key;
    fixture_got_t g = {0};
    be_waiter_t *wp;
    be_block_t *out;
    int tier;

    setup();
    fixture_write_block(dir, data, SIZE, hex);
    BE_CHECK_INT(be_key_from_hex(hex, BE_KEY_HEX_LEN, &key), BE_OK);
    BE_CHECK_INT(get(0, &key, &g, &wp, &out, &tier), BE_AGAIN);
    be_cache_cancel(workers[0], &wp); /* the client went away */
    BE_CHECK(wp == NULL);
    BE_CHECK(fixture_run_until(workers, NWORKERS, filled, &key, BOUND_MS));
    fixture_turns(workers, NWORKERS, 10);
    BE_CHECK_INT(g.calls, 0);
    BE_CHECK_INT(mstats().blocks, 1);
    BE_CHECK_INT(get(1, &key, &g, &wp, &out, &tier), BE_OK);
    BE_CHECK_INT(tier, BE_TIER_MEMORY);
    BE_CHECK(memcmp(out->data, data, SIZE) == 0);
    be_block_unref(&out);
    BE_CHECK_INT(total(BE_CTR_ORIGIN_REQUESTS), 1);
    teardown();
}

/* ---- purge and prefetch ----------------------------------------------------------------- */

typedef struct purged_s {
    int calls;
    be_purge_result_t r;
} purged_t;

static void
on_purged(void *arg, const be_purge_result_t *r)
{
    purged_t *p = arg;
    p->calls++;
    p->r = *r;
}

static int
purge_done(void *arg)
{
    return ((purged_t *)arg)->calls > 0;
}

static void
test_cache_purge_drops_a_held_block_and_says_what_it_found(void)
{
    char hex[BE_KEY_HEX_LEN + 1];
    be_key_t key;
    purged_t p = {0};
    be_cache_peek_t pk;

    setup();
    fixture_cache_block(svc, data, SIZE, hex);
    BE_CHECK_INT(be_key_from_hex(hex, BE_KEY_HEX_LEN, &key), BE_OK);
    be_cache_peek(svc, &key, &pk);
    BE_CHECK(pk.memory && !pk.disk && pk.fetching == -1 && pk.disk_state == -1);
    BE_CHECK_INT(pk.mem.size, SIZE);
    BE_CHECK_INT(pk.mem.hits, 0);

    /* no disk tier: done runs before be_cache_purge returns */
    BE_CHECK_INT(be_cache_purge(svc, workers[0], &key, on_purged, &p), BE_OK);
    BE_CHECK_INT(p.calls, 1);
    BE_CHECK(p.r.memory && !p.r.disk && !p.r.fetching);
    BE_CHECK(!be_memcache_contains(svc->memcache, &key));
    be_cache_peek(svc, &key, &pk);
    BE_CHECK(!pk.memory && !pk.disk);

    BE_CHECK_INT(be_cache_purge(svc, workers[1], &key, on_purged, &p), BE_OK); /* again */
    BE_CHECK_INT(p.calls, 2);
    BE_CHECK(!p.r.memory && !p.r.disk && !p.r.fetching);
    teardown();
}

static void
test_cache_fetch_under_way_when_purged_is_delivered_but_not_kept(void)
{
    char hex[BE_KEY_HEX_LEN + 1];
    be_key_t key;
    fixture_got_t g = {0}, g2 = {0};
    purged_t p = {0};
    be_waiter_t *wp;
    be_block_t *out;
    int tier;

    setup();
    fixture_write_block(dir, data, SIZE, hex);
    BE_CHECK_INT(be_key_from_hex(hex, BE_KEY_HEX_LEN, &key), BE_OK);
    BE_CHECK_INT(get(0, &key, &g, &wp, &out, &tier), BE_AGAIN);
    /* the fetch ends on worker 0's loop, which has not turned yet */
    BE_CHECK_INT(be_cache_purge(svc, workers[1], &key, on_purged, &p), BE_OK);
    BE_CHECK_INT(p.calls, 1);
    BE_CHECK(!p.r.memory && !p.r.disk && p.r.fetching);

    BE_CHECK(fixture_run_until(workers, NWORKERS, called, &g, BOUND_MS));
    BE_CHECK_INT(g.status, BE_FETCH_OK); /* the waiter has its bytes ... */
    BE_CHECK(memcmp(g.block->data, data, SIZE) == 0);
    BE_CHECK_INT(mstats().blocks, 0); /* ... and nothing was kept */
    BE_CHECK(!be_memcache_contains(svc->memcache, &key));
    be_block_unref(&g.block);

    /* the next request misses and fetches again, and that fill is kept */
    BE_CHECK_INT(get(1, &key, &g2, &wp, &out, &tier), BE_AGAIN);
    BE_CHECK_INT(tier, BE_TIER_MISS);
    BE_CHECK(fixture_run_until(workers, NWORKERS, called, &g2, BOUND_MS));
    BE_CHECK_INT(g2.status, BE_FETCH_OK);
    BE_CHECK_INT(total(BE_CTR_ORIGIN_REQUESTS), 2);
    BE_CHECK(be_memcache_contains(svc->memcache, &key));
    be_block_unref(&g2.block);
    teardown();
}

static void
test_cache_prefetch_fills_like_a_miss_but_counts_no_client_request(void)
{
    char hex[BE_KEY_HEX_LEN + 1];
    be_key_t key;
    fixture_got_t g = {0}, gc = {0};
    be_waiter_t *wp, *wc;
    be_block_t *out;
    int tier = -1, ctier;

    setup();
    fixture_write_block(dir, data, SIZE, hex);
    BE_CHECK_INT(be_key_from_hex(hex, BE_KEY_HEX_LEN, &key), BE_OK);
    BE_CHECK_INT(be_cache_prefetch(workers[0], &key, fixture_got, &g, &wp, &tier), BE_AGAIN);
    BE_CHECK(wp != NULL);
    BE_CHECK_INT(tier, BE_TIER_MISS);
    /* a client miss meanwhile joins the prefetch's fetch */
    BE_CHECK_INT(get(1, &key, &gc, &wc, &out, &ctier), BE_AGAIN);
    BE_CHECK_INT(be_inflight_count(svc->inflight), 1);
    BE_CHECK(fixture_run_until(workers, NWORKERS, called, &g, BOUND_MS));
    BE_CHECK(fixture_run_until(workers, NWORKERS, called, &gc, BOUND_MS));
    BE_CHECK_INT(g.status, BE_FETCH_OK);
    BE_CHECK_INT(gc.status, BE_FETCH_OK);
    BE_CHECK(g.block == gc.block);
    BE_CHECK(memcmp(g.block->data, data, SIZE) == 0);
    BE_CHECK_INT(total(BE_CTR_ORIGIN_REQUESTS), 1); /* one fetch for both */
    BE_CHECK_INT(total(BE_CTR_CACHE_MISSES), 1);    /* the client's alone */
    BE_CHECK_INT(total(BE_CTR_COALESCED), 1);
    BE_CHECK(be_memcache_contains(svc->memcache, &key));
    be_block_unref(&g.block);
    be_block_unref(&gc.block);

    /* held now: a prefetch has nothing to do and counts no hit */
    BE_CHECK_INT(be_cache_prefetch(workers[1], &key, fixture_got, &g, &wp, &tier), BE_OK);
    BE_CHECK(wp == NULL);
    BE_CHECK_INT(be_stat_get(&workers[1]->stats.hits[BE_TIER_MEMORY]), 0);
    BE_CHECK_INT(total(BE_CTR_ORIGIN_REQUESTS), 1);
    BE_CHECK_INT(g.calls, 1);
    teardown();
}

static int
on_disk(void *arg)
{
    be_disk_loc_t loc;
    return be_diskstore_lookup(svc->disk, arg, &loc) == BE_OK;
}

/* A node whose disk tier lives in ddir, its index loaded. */
static void
build_with_disk(const char *ddir)
{
    fixture_config(&cfg, NWORKERS);
    fixture_file_origin(&cfg, dir);
    snprintf(cfg.disk_path, sizeof(cfg.disk_path), "%s", ddir);
    cfg.disk_size = 4 << 20;
    cfg.disk_segment_size = 1 << 20;
    node = fixture_build(&cfg, &svc, workers, NWORKERS, "test_cache");
    if (svc->disk == NULL || be_diskstore_wait_loaded(svc->disk, BOUND_MS) != BE_DISK_READY) {
        fprintf(stderr, "test_cache: the disk tier did not load\n");
        exit(1);
    }
}

static void
test_cache_purge_with_a_disk_tier_stays_purged_after_a_restart(void)
{
    char hex[2][BE_KEY_HEX_LEN + 1], ddir[512];
    unsigned char other[SIZE];
    be_key_t key[2];
    fixture_got_t g[2] = {{0}};
    purged_t p = {0};
    be_waiter_t *wp;
    be_block_t *out;
    int tier;

    fixture_tmpdir(dir, sizeof(dir), "cache");
    fixture_tmpdir(ddir, sizeof(ddir), "cache_disk");
    for (int i = 0; i < SIZE; i++) {
        data[i] = (unsigned char)(i * 7 + 3);
        other[i] = (unsigned char)(i * 5 + 1);
    }
    fixture_write_block(dir, data, SIZE, hex[0]);
    fixture_write_block(dir, other, SIZE, hex[1]);
    build_with_disk(ddir);
    for (int i = 0; i < 2; i++) {
        BE_CHECK_INT(be_key_from_hex(hex[i], BE_KEY_HEX_LEN, &key[i]), BE_OK);
        BE_CHECK_INT(get(i, &key[i], &g[i], &wp, &out, &tier), BE_AGAIN);
        BE_CHECK(fixture_run_until(workers, NWORKERS, called, &g[i], BOUND_MS));
        BE_CHECK(fixture_run_until(workers, NWORKERS, on_disk, &key[i], BOUND_MS));
        be_block_unref(&g[i].block);
    }

    BE_CHECK_INT(be_cache_purge(svc, workers[0], &key[0], on_purged, &p), BE_OK);
    BE_CHECK(fixture_run_until(workers, NWORKERS, purge_done, &p, BOUND_MS));
    BE_CHECK(p.r.memory && p.r.disk && !p.r.fetching);
    BE_CHECK(!be_memcache_contains(svc->memcache, &key[0]));
    BE_CHECK(!on_disk(&key[0]));
    BE_CHECK(on_disk(&key[1]));

    fixture_down(&node); /* restart: the index is loaded from the segment files again */
    build_with_disk(ddir);
    BE_CHECK(!on_disk(&key[0]));
    BE_CHECK(on_disk(&key[1])); /* the restart did read the disk */
    memset(g, 0, sizeof(g));
    BE_CHECK_INT(get(0, &key[0], &g[0], &wp, &out, &tier), BE_AGAIN);
    BE_CHECK_INT(tier, BE_TIER_MISS); /* from the origin, not the disk */
    BE_CHECK(fixture_run_until(workers, NWORKERS, called, &g[0], BOUND_MS));
    BE_CHECK_INT(g[0].status, BE_FETCH_OK);
    be_block_unref(&g[0].block);
    BE_CHECK_INT(get(1, &key[1], &g[1], &wp, &out, &tier), BE_OK);
    BE_CHECK_INT(tier, BE_TIER_DISK);
    be_block_unref(&out);
    teardown();
    fixture_rmdir(ddir);
}

int
main(void)
{
    BE_RUN(test_cache_miss_fetches_fills_then_hits);
    BE_RUN(test_cache_digest_mismatch_fails_and_caches_nothing);
    BE_RUN(test_cache_origin_not_found_fails_and_caches_nothing);
    BE_RUN(test_cache_concurrent_misses_make_one_origin_fetch);
    BE_RUN(test_cache_cancelled_waiter_gets_nothing_but_fill_is_cached);
    BE_RUN(test_cache_purge_drops_a_held_block_and_says_what_it_found);
    BE_RUN(test_cache_fetch_under_way_when_purged_is_delivered_but_not_kept);
    BE_RUN(test_cache_prefetch_fills_like_a_miss_but_counts_no_client_request);
    BE_RUN(test_cache_purge_with_a_disk_tier_stays_purged_after_a_restart);
    be_server_global_cleanup();
    BE_TEST_EXIT();
}
