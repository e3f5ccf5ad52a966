/*
 * test_inflight.c - the in-flight table: one leader per key, delivery to every waiter
 * exactly once and only through its own worker's mailbox, cancellation before and after
 * completion, failure fan-out, and the memory tier re-check in join.
 *
 * The server is built by hand: default config with one file:// origin, a small memory
 * tier, the table, and two workers that are never started. The test plays each worker's
 * thread by running its mailbox with be_worker_run_mailbox(); `running` names the worker
 * whose mailbox runs, so a callback can tell on which "thread" it ran. Blocks' refcounts
 * prove that every reference handed out is given back (ASan checks the rest). A purge marks
 * an entry so its result is not kept, and quiet waiters (prefetches) are delivered but not
 * counted.
 */
#include <string.h>

#include "blockedge/config.h"
#include "blockedge/inflight.h"
#include "blockedge/memcache.h"
#include "blockedge/server.h"
#include "blockedge/worker.h"
#include "fixture.h"
#include "test.h"

#define NWORKERS 2

static be_config_t cfg;
static be_server_t *node;
static be_services_t *svc;
static be_worker_t *workers[NWORKERS];
static be_worker_t *running; /* the worker whose mailbox the test is running */

typedef struct got_s {
    int calls;
    be_fetch_status_t status;
    be_block_t *block;
    be_worker_t *ran_on;
} got_t;

static void
on_result(void *arg, be_fetch_status_t status, be_block_t *block)
{
    got_t *g = arg;
    g->calls++;
    g->status = status;
    be_block_unref(&g->block); /* a second delivery would be counted, not leaked */
    g->block = block;
    g->ran_on = running;
}

static int
run(be_worker_t *w)
{
    running = w;
    int n = be_worker_run_mailbox(w);
    running = NULL;
    return n;
}

static void
setup(void)
{
    node = fixture_up(&cfg, &svc, workers, NWORKERS, "test_inflight");
}

/* Runs what is left in the mailboxes, then frees in the server's order. */
static void
teardown(void)
{
    for (int i = 0; i < NWORKERS; i++)
        run(workers[i]);
    fixture_down(&node);
}

static be_key_t
key_of(uint8_t id)
{
    be_key_t k;
    memset(&k, id, sizeof(k));
    return k;
}

static be_block_t *
make_block(uint8_t id)
{
    be_key_t k = key_of(id);
    be_block_t *b = be_block_new(&k, 16);
    if (b == NULL)
        exit(1);
    memset(b->data, id, 16);
    b->size = 16;
    return b;
}

static int
join(be_worker_t *w, const be_key_t *k, got_t *g, be_waiter_t **wp, be_block_t **hit)
{
    return be_inflight_join(svc->inflight, svc->memcache, k, w, BE_TIER_MISS, on_result, g, NULL,
                            wp, hit, 1);
}

static void
test_inflight_first_join_leads_next_joins_wait(void)
{
    be_key_t k = key_of(1), k2 = key_of(2);
    got_t g[4] = {0};
    be_waiter_t *wt[4];
    be_block_t *hit = (be_block_t *)&hit; /* must be reset to NULL */

    setup();
    BE_CHECK_INT(be_inflight_count(svc->inflight), 0);
    BE_CHECK_INT(join(workers[0], &k, &g[0], &wt[0], &hit), BE_OK);
    BE_CHECK(wt[0] != NULL);
    BE_CHECK(hit == NULL);
    BE_CHECK_INT(be_inflight_count(svc->inflight), 1);
    BE_CHECK_INT(join(workers[0], &k, &g[1], &wt[1], &hit), BE_AGAIN);
    BE_CHECK_INT(join(workers[1], &k, &g[2], &wt[2], &hit), BE_AGAIN);
    BE_CHECK(wt[1] != NULL && wt[2] != NULL && wt[1] != wt[2]);
    BE_CHECK_INT(be_inflight_count(svc->inflight), 1);
    BE_CHECK_INT(join(workers[1], &k2, &g[3], &wt[3], &hit), BE_OK); /* another key leads */
    BE_CHECK_INT(be_inflight_count(svc->inflight), 2);

    be_inflight_complete(svc->inflight, &k, BE_FETCH_NOT_FOUND, NULL);
    be_inflight_complete(svc->inflight, &k2, BE_FETCH_NOT_FOUND, NULL);
    BE_CHECK_INT(be_inflight_count(svc->inflight), 0);
    BE_CHECK_INT(run(workers[0]), 2);
    BE_CHECK_INT(run(workers[1]), 2);
    for (int i = 0; i < 4; i++)
        BE_CHECK_INT(g[i].calls, 1);
    /* after completion the key starts over with a new leader */
    BE_CHECK_INT(join(workers[0], &k, &g[0], &wt[0], &hit), BE_OK);
    be_inflight_complete(svc->inflight, &k, BE_FETCH_NOT_FOUND, NULL);
    teardown();
}

static void
test_inflight_complete_delivers_once_to_each_waiter_on_its_mailbox(void)
{
    be_key_t k = key_of(1);
    got_t g[3] = {0};
    be_waiter_t *wt[3];
    be_block_t *hit;
    be_block_t *b = make_block(1);

    setup();
    for (int i = 0; i < 3; i++)
        BE_CHECK_INT(join(workers[0], &k, &g[i], &wt[i], &hit), i == 0 ? BE_OK : BE_AGAIN);
    be_inflight_complete(svc->inflight, &k, BE_FETCH_OK, b);
    BE_CHECK_INT(be_inflight_count(svc->inflight), 0);
    BE_CHECK_INT(atomic_load(&b->refs), 1 + 3); /* ours + one per waiter */
    for (int i = 0; i < 3; i++)
        BE_CHECK_INT(g[i].calls, 0);  /* nothing runs inside complete() */
    BE_CHECK_INT(run(workers[1]), 0); /* nor on another worker */
    for (int i = 0; i < 3; i++)
        BE_CHECK_INT(g[i].calls, 0);

    BE_CHECK_INT(run(workers[0]), 3);
    for (int i = 0; i < 3; i++) {
        BE_CHECK_INT(g[i].calls, 1);
        BE_CHECK_INT(g[i].status, BE_FETCH_OK);
        BE_CHECK(g[i].block == b);
        BE_CHECK(g[i].ran_on == workers[0]);
    }
    BE_CHECK_INT(run(workers[0]), 0);                        /* exactly once */
    be_inflight_complete(svc->inflight, &k, BE_FETCH_OK, b); /* unknown key now: no-op */
    BE_CHECK_INT(run(workers[0]), 0);
    for (int i = 0; i < 3; i++) {
        BE_CHECK_INT(g[i].calls, 1);
        be_block_unref(&g[i].block);
    }
    BE_CHECK_INT(atomic_load(&b->refs), 1);
    be_block_unref(&b);
    teardown();
}

static void
test_inflight_waiters_on_two_workers_each_get_it_on_their_own(void)
{
    be_key_t k = key_of(3);
    got_t g1 = {0}, g2 = {0};
    be_waiter_t *w1, *w2;
    be_block_t *hit;
    be_block_t *b = make_block(3);

    setup();
    BE_CHECK_INT(join(workers[0], &k, &g1, &w1, &hit), BE_OK);
    BE_CHECK_INT(join(workers[1], &k, &g2, &w2, &hit), BE_AGAIN);
    be_inflight_complete(svc->inflight, &k, BE_FETCH_OK, b);

    BE_CHECK_INT(run(workers[1]), 1);
    BE_CHECK_INT(g1.calls, 0);
    BE_CHECK_INT(g2.calls, 1);
    BE_CHECK(g2.ran_on == workers[1]);
    BE_CHECK(g2.block == b);

    BE_CHECK_INT(run(workers[0]), 1);
    BE_CHECK_INT(g1.calls, 1);
    BE_CHECK(g1.ran_on == workers[0]);
    BE_CHECK(g1.block == b);
    BE_CHECK_INT(g2.calls, 1);

    be_block_unref(&g1.block);
    be_block_unref(&g2.block);
    BE_CHECK_INT(atomic_load(&b->refs), 1);
    be_block_unref(&b);
    teardown();
}

static void
test_inflight_cancelled_attached_waiter_gets_nothing(void)
{
    be_key_t k = key_of(4);
    got_t g1 = {0}, g2 = {0};
    be_waiter_t *w1, *w2;
    be_block_t *hit;
    be_block_t *b = make_block(4);

    setup();
    BE_CHECK_INT(join(workers[0], &k, &g1, &w1, &hit), BE_OK);
    BE_CHECK_INT(join(workers[0], &k, &g2, &w2, &hit), BE_AGAIN);
    be_inflight_cancel(svc->inflight, &w1); /* the leader's client went away */
    BE_CHECK(w1 == NULL);
    be_inflight_cancel(svc->inflight, &w1);            /* NULL-safe */
    BE_CHECK_INT(be_inflight_count(svc->inflight), 1); /* the fetch goes on */

    be_inflight_complete(svc->inflight, &k, BE_FETCH_OK, b);
    BE_CHECK_INT(atomic_load(&b->refs), 2); /* only the remaining waiter got one */
    BE_CHECK_INT(run(workers[0]), 1);
    BE_CHECK_INT(g1.calls, 0);
    BE_CHECK_INT(g2.calls, 1);
    be_block_unref(&g2.block);

    /* every waiter cancelled: the entry stays until complete, which posts nothing */
    BE_CHECK_INT(join(workers[1], &k, &g1, &w1, &hit), BE_OK);
    be_inflight_cancel(svc->inflight, &w1);
    BE_CHECK_INT(be_inflight_count(svc->inflight), 1);
    be_inflight_complete(svc->inflight, &k, BE_FETCH_OK, b);
    BE_CHECK_INT(be_inflight_count(svc->inflight), 0);
    BE_CHECK_INT(run(workers[1]), 0);
    BE_CHECK_INT(g1.calls, 0);
    BE_CHECK_INT(atomic_load(&b->refs), 1);
    be_block_unref(&b);
    teardown();
}

static void
test_inflight_waiter_cancelled_after_complete_gets_nothing_and_leaks_nothing(void)
{
    be_key_t k = key_of(5);
    got_t g1 = {0}, g2 = {0};
    be_waiter_t *w1, *w2;
    be_block_t *hit;
    be_block_t *b = make_block(5);

    setup();
    BE_CHECK_INT(join(workers[0], &k, &g1, &w1, &hit), BE_OK);
    BE_CHECK_INT(join(workers[1], &k, &g2, &w2, &hit), BE_AGAIN);
    be_inflight_complete(svc->inflight, &k, BE_FETCH_OK, b);
    BE_CHECK_INT(atomic_load(&b->refs), 3);
    be_inflight_cancel(svc->inflight, &w1); /* posted but its mailbox has not run */
    BE_CHECK(w1 == NULL);
    BE_CHECK_INT(atomic_load(&b->refs), 3); /* released only when the task runs */

    BE_CHECK_INT(run(workers[0]), 1); /* the task runs, frees the waiter, calls nobody */
    BE_CHECK_INT(g1.calls, 0);
    BE_CHECK_INT(atomic_load(&b->refs), 2);
    BE_CHECK_INT(run(workers[1]), 1);
    BE_CHECK_INT(g2.calls, 1);
    BE_CHECK(g2.block == b);
    be_block_unref(&g2.block);
    BE_CHECK_INT(atomic_load(&b->refs), 1);
    be_block_unref(&b);
    teardown();
}

static void
test_inflight_failure_status_reaches_every_waiter(void)
{
    be_key_t k = key_of(6);
    got_t g[4] = {0};
    be_waiter_t *wt[4];
    be_block_t *hit;

    setup();
    for (int i = 0; i < 4; i++)
        BE_CHECK_INT(join(workers[i % 2], &k, &g[i], &wt[i], &hit), i == 0 ? BE_OK : BE_AGAIN);
    be_inflight_complete(svc->inflight, &k, BE_FETCH_TIMEOUT, NULL);
    BE_CHECK_INT(run(workers[0]), 2);
    BE_CHECK_INT(run(workers[1]), 2);
    for (int i = 0; i < 4; i++) {
        BE_CHECK_INT(g[i].calls, 1);
        BE_CHECK_INT(g[i].status, BE_FETCH_TIMEOUT);
        BE_CHECK(g[i].block == NULL);
        BE_CHECK(g[i].ran_on == workers[i % 2]);
    }
    BE_CHECK_INT(be_inflight_count(svc->inflight), 0);
    teardown();
}

static void
test_inflight_join_rechecks_memory_tier(void)
{
    be_key_t k = key_of(7);
    got_t g = {0};
    be_waiter_t *wt = (be_waiter_t *)&wt; /* must be reset to NULL */
    be_block_t *hit = NULL;
    be_block_t *b = make_block(7);
    be_memcache_stats_t st;

    setup();
    BE_CHECK_INT(be_memcache_insert(svc->memcache, b, 1), BE_OK);
    BE_CHECK_INT(join(workers[0], &k, &g, &wt, &hit), BE_DECLINED);
    BE_CHECK(hit == b);
    BE_CHECK(wt == NULL);
    BE_CHECK_INT(be_inflight_count(svc->inflight), 0);
    BE_CHECK_INT(atomic_load(&b->refs), 3); /* ours, the cache's, the hit */
    be_memcache_stats(svc->memcache, &st);
    BE_CHECK_INT(st.blocks, 1);
    BE_CHECK_INT(run(workers[0]), 0);
    BE_CHECK_INT(g.calls, 0);
    be_block_unref(&hit);
    teardown();
    BE_CHECK_INT(atomic_load(&b->refs), 1);
    be_block_unref(&b);
}

static void
test_inflight_purge_marks_the_entry_and_end_reports_it(void)
{
    be_key_t k = key_of(8), other = key_of(9);
    got_t g = {0}, g2 = {0};
    be_waiter_t *wt, *wt2;
    be_block_t *hit;
    be_block_t *b = make_block(8);
    int purged = -1;

    setup();
    uint64_t seq = be_inflight_purge_seq(svc->inflight);
    BE_CHECK_INT(be_inflight_purge(svc->inflight, &k), 0); /* nothing in flight: counted only */
    BE_CHECK_INT(be_inflight_purge_seq(svc->inflight), seq + 1);
    BE_CHECK_INT(be_inflight_phase(svc->inflight, &k), -1);

    BE_CHECK_INT(join(workers[0], &k, &g, &wt, &hit), BE_OK);
    BE_CHECK_INT(join(workers[0], &other, &g2, &wt2, &hit), BE_OK);
    BE_CHECK_INT(be_inflight_phase(svc->inflight, &k), BE_TIER_MISS);
    BE_CHECK_INT(be_inflight_purged(svc->inflight, &k), 0);
    BE_CHECK_INT(be_inflight_purge(svc->inflight, &k), 1);
    BE_CHECK_INT(be_inflight_purge_seq(svc->inflight), seq + 2);
    BE_CHECK_INT(be_inflight_purged(svc->inflight, &k), 1);
    BE_CHECK_INT(be_inflight_purged(svc->inflight, &other), 0); /* only that key */

    /* the waiter still gets the block; the one who ends the entry learns of the purge */
    BE_CHECK_INT(be_inflight_end(svc->inflight, &k, BE_FETCH_OK, b, &purged), 1);
    BE_CHECK_INT(purged, 1);
    BE_CHECK_INT(be_inflight_purged(svc->inflight, &k), 0); /* the entry is gone */
    be_inflight_end(svc->inflight, &other, BE_FETCH_OK, b, &purged);
    BE_CHECK_INT(purged, 0);
    BE_CHECK_INT(run(workers[0]), 2);
    BE_CHECK_INT(g.calls, 1);
    BE_CHECK_INT(g.status, BE_FETCH_OK);
    BE_CHECK(g.block == b);
    be_block_unref(&g.block);
    be_block_unref(&g2.block);

    /* a new fetch of the key after the purge is not marked */
    BE_CHECK_INT(join(workers[1], &k, &g, &wt, &hit), BE_OK);
    BE_CHECK_INT(be_inflight_end(svc->inflight, &k, BE_FETCH_NOT_FOUND, NULL, &purged), 1);
    BE_CHECK_INT(purged, 0);
    BE_CHECK_INT(run(workers[1]), 1);
    BE_CHECK_INT(atomic_load(&b->refs), 1);
    be_block_unref(&b);
    teardown();
}

static void
test_inflight_quiet_waiters_are_delivered_but_not_counted(void)
{
    be_key_t k = key_of(10);
    got_t g[3] = {0};
    be_waiter_t *wt[3];
    be_block_t *hit;

    setup();
    BE_CHECK_INT(be_inflight_join_quiet(svc->inflight, svc->memcache, &k, workers[0], BE_TIER_DISK,
                                        on_result, &g[0], NULL, &wt[0], &hit, 1),
                 BE_OK); /* a prefetch leads */
    BE_CHECK_INT(join(workers[0], &k, &g[1], &wt[1], &hit), BE_AGAIN);
    BE_CHECK_INT(join(workers[1], &k, &g[2], &wt[2], &hit), BE_AGAIN);
    BE_CHECK_INT(be_inflight_set_phase(svc->inflight, &k, BE_TIER_MISS), 2);
    BE_CHECK_INT(be_inflight_complete(svc->inflight, &k, BE_FETCH_TIMEOUT, NULL), 2);
    BE_CHECK_INT(run(workers[0]), 2);
    BE_CHECK_INT(run(workers[1]), 1);
    for (int i = 0; i < 3; i++) {
        BE_CHECK_INT(g[i].calls, 1);
        BE_CHECK_INT(g[i].status, BE_FETCH_TIMEOUT);
    }
    teardown();
}

int
main(void)
{
    BE_RUN(test_inflight_first_join_leads_next_joins_wait);
    BE_RUN(test_inflight_complete_delivers_once_to_each_waiter_on_its_mailbox);
    BE_RUN(test_inflight_waiters_on_two_workers_each_get_it_on_their_own);
    BE_RUN(test_inflight_cancelled_attached_waiter_gets_nothing);
    BE_RUN(test_inflight_waiter_cancelled_after_complete_gets_nothing_and_leaks_nothing);
    BE_RUN(test_inflight_failure_status_reaches_every_waiter);
    BE_RUN(test_inflight_join_rechecks_memory_tier);
    BE_RUN(test_inflight_purge_marks_the_entry_and_end_reports_it);
    BE_RUN(test_inflight_quiet_waiters_are_delivered_but_not_counted);
    be_server_global_cleanup();
    BE_TEST_EXIT();
}
