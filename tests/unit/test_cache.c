/*
 * test_cache.c - tier orchestration with a file:// origin: a miss fetches, verifies, fills
 * the memory tier and then hits; bytes that do not match their name fail every waiter and
 * leave nothing cached (the next request fetches again); an origin 404 likewise;
 * concurrent misses for one key, on one worker or two, make one origin fetch; a waiter
 * that leaves still lets the fill reach the cache.
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
    return be_cache_get(workers[wi], key, fixture_got, g, wp, out, tier);
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

int
main(void)
{
    BE_RUN(test_cache_miss_fetches_fills_then_hits);
    BE_RUN(test_cache_digest_mismatch_fails_and_caches_nothing);
    BE_RUN(test_cache_origin_not_found_fails_and_caches_nothing);
    BE_RUN(test_cache_concurrent_misses_make_one_origin_fetch);
    BE_RUN(test_cache_cancelled_waiter_gets_nothing_but_fill_is_cached);
    be_server_global_cleanup();
    BE_TEST_EXIT();
}
