/*
 * test_prefetch.c - prefetch jobs: the key list parser (CRLF, blank lines, white space, either
 * case, bad lines counted with their numbers, the key bound), and the job table on a node
 * built through the server object with a file:// origin: a job keeps at most
 * prefetch_concurrency keys under way and ends with the right counts and the blocks in
 * memory; the 16 kept jobs refuse a 17th while all run, and drop the oldest finished one
 * after; results that come back after the admin is gone are dropped and leak nothing.
 *
 * The test turns the workers' loops and the admin box's own event base in real time,
 * bounded; every check is on the report, the counters, the in-flight table and the tier.
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "blockedge/adminbox.h"
#include "blockedge/adminstats.h"
#include "blockedge/inflight.h"
#include "blockedge/memcache.h"
#include "blockedge/prefetch.h"
#include "blockedge/server.h"
#include "blockedge/services.h"
#include "blockedge/worker.h"
#include "fixture.h"
#include "test.h"

#define NWORKERS 2
#define NBLOCKS  20
#define SIZE     700
#define BOUND_MS 5000

/* ---- the key list -------------------------------------------------------------------------- */

static const char *K1 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
static const char *K2 = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

static void
test_keylist_parses_lines_and_counts_bad_ones(void)
{
    char text[1024];
    be_keylist_t kl;
    be_key_t k1, k2;
    be_key_from_hex(K1, 64, &k1);
    be_key_from_hex(K2, 64, &k2);
    /* line 1 a key, 2 blank, 3 upper case with CRLF, 4 too short, 5 spaced key, 6 blank with
     * white space, 7 not hex, 8 a key with white space around, 9 a path; no final newline */
    snprintf(text, sizeof(text),
             "%s\n\n%s\r\n%.63s\n%.32s %s\n \t \r\nzz%.62s\n  %s\t\r\n../../etc/passwd", K1,
             "FFEEDDCCBBAA99887766554433221100FFEEDDCCBBAA99887766554433221100", K1, K1, K1 + 32,
             K1, K2);
    BE_CHECK_INT(be_keylist_parse(text, strlen(text), 100, &kl), BE_OK);
    BE_CHECK_INT(kl.n, 3);
    BE_CHECK(be_key_equal(&kl.keys[0], &k1));
    BE_CHECK(be_key_equal(&kl.keys[1], &k2));
    BE_CHECK(be_key_equal(&kl.keys[2], &k2));
    BE_CHECK_INT(kl.bad, 4);
    BE_CHECK_INT(kl.bad_lines[0], 4);
    BE_CHECK_INT(kl.bad_lines[1], 5);
    BE_CHECK_INT(kl.bad_lines[2], 7);
    BE_CHECK_INT(kl.bad_lines[3], 9);
    be_keylist_dispose(&kl);
    BE_CHECK(kl.keys == NULL);
    BE_CHECK_INT(kl.n, 3); /* the counts stay */

    BE_CHECK_INT(be_keylist_parse("", 0, 100, &kl), BE_OK);
    BE_CHECK_INT(kl.n + kl.bad, 0);
    be_keylist_dispose(&kl);
    BE_CHECK_INT(be_keylist_parse("\n\r\n  \n", 6, 100, &kl), BE_OK);
    BE_CHECK_INT(kl.n + kl.bad, 0);
    be_keylist_dispose(&kl);
}

static void
test_keylist_bounds_the_lines_not_the_blank_ones(void)
{
    char text[1024];
    be_keylist_t kl;
    snprintf(text, sizeof(text), "%s\n\n\n%s\nbad\n", K1, K2);
    BE_CHECK_INT(be_keylist_parse(text, strlen(text), 3, &kl), BE_OK);
    BE_CHECK_INT(kl.n, 2);
    BE_CHECK_INT(kl.bad, 1);
    be_keylist_dispose(&kl);
    BE_CHECK_INT(be_keylist_parse(text, strlen(text), 2, &kl), BE_DECLINED); /* bad lines count */
    BE_CHECK(kl.keys == NULL);
    /* more bad lines than the report lists: all counted, the first ten listed */
    strcpy(text, "");
    for (int i = 0; i < 25; i++)
        strcat(text, "x\n");
    BE_CHECK_INT(be_keylist_parse(text, strlen(text), 100, &kl), BE_OK);
    BE_CHECK_INT(kl.bad, 25);
    BE_CHECK_INT(kl.bad_lines[BE_PREFETCH_BAD_LINES - 1], BE_PREFETCH_BAD_LINES);
    be_keylist_dispose(&kl);
}

/* ---- jobs on a node ----------------------------------------------------------------------- */

static be_config_t cfg;
static be_server_t *node;
static be_services_t *svc;
static be_worker_t *workers[NWORKERS];
static char dir[512];
static char hexes[NBLOCKS][BE_KEY_HEX_LEN + 1];
static struct event_base *base;
static be_adminbox_t *box;
static be_admin_stats_t stats;
static be_prefetch_t *pf;
static unsigned max_under_way;

static void
setup(int concurrency)
{
    unsigned char data[SIZE];
    fixture_tmpdir(dir, sizeof(dir), "prefetch");
    fixture_config(&cfg, NWORKERS);
    fixture_file_origin(&cfg, dir);
    cfg.memory_size = 1 << 20;
    cfg.prefetch_concurrency = concurrency;
    node = fixture_build(&cfg, &svc, workers, NWORKERS, "test_prefetch");
    for (int i = 0; i < NBLOCKS; i++) {
        for (int j = 0; j < SIZE; j++)
            data[j] = (unsigned char)(i * 13 + j * 3);
        fixture_write_block(dir, data, SIZE, hexes[i]);
    }
    base = event_base_new();
    box = be_adminbox_new(base);
    memset(&stats, 0, sizeof(stats));
    pf = be_prefetch_new(svc, box, &stats);
    max_under_way = 0;
    if (base == NULL || box == NULL || pf == NULL) {
        fprintf(stderr, "test_prefetch: cannot set up\n");
        exit(1);
    }
}

static void
teardown(void)
{
    be_adminbox_close(&box);
    be_prefetch_free(&pf);
    fixture_down(&node); /* what is still under way ends here, its results dropped */
    event_base_free(base);
    fixture_rmdir(dir);
}

/* The report of job id, parsed just enough: a number after "key":. -1 when absent. */
static long
field(uint64_t id, const char *key)
{
    char text[4096], pat[64];
    struct evbuffer *out = evbuffer_new();
    if (be_prefetch_report(pf, id, out) != BE_OK) {
        evbuffer_free(out);
        return -1;
    }
    size_t n = evbuffer_remove(out, text, sizeof(text) - 1);
    text[n] = '\0';
    evbuffer_free(out);
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(text, pat);
    if (p == NULL)
        return -1;
    p += strlen(pat);
    if (*p == '"')
        return strncmp(p, "\"done\"", 6) == 0 ? 1 : 0; /* state: 1 done, 0 running */
    return strtol(p, NULL, 10);
}

/* One turn of everything: the workers' loops and the admin box's base. */
static int
job_done(void *arg)
{
    event_base_loop(base, EVLOOP_NONBLOCK);
    unsigned n = be_inflight_count(svc->inflight);
    if (n > max_under_way)
        max_under_way = n;
    return field(*(uint64_t *)arg, "state") == 1;
}

static uint64_t
start(const char *text, int want_status)
{
    uint64_t id = 0;
    struct evbuffer *out = evbuffer_new();
    int status = be_prefetch_start(pf, text, strlen(text), out, &id);
    evbuffer_free(out);
    return status == want_status ? id : UINT64_MAX;
}

static void
test_prefetch_job_keeps_concurrency_and_ends_with_every_count(void)
{
    static char text[NBLOCKS * 70 + 256];
    setup(3);
    text[0] = '\0';
    for (int i = 0; i < NBLOCKS; i++) {
        strcat(text, hexes[i]);
        strcat(text, i == 5 ? "\nnot-a-key\n" : "\n");
    }
    strcat(text, "0000000000000000000000000000000000000000000000000000000000000000\n"); /* absent */
    strcat(text, "zz\n");
    uint64_t id = start(text, 202);
    BE_CHECK(id != UINT64_MAX);
    BE_CHECK_INT(field(id, "total"), NBLOCKS + 3);
    BE_CHECK_INT(field(id, "pending"), NBLOCKS + 1);
    BE_CHECK_INT(field(id, "bad_key"), 2);
    BE_CHECK_INT(field(id, "state"), 0);
    /* the keys sent so far wait in the workers' mailboxes: run those tasks alone (their
     * fetches' completions are posted behind them) and exactly 3 fetches are under way */
    for (int w = 0; w < NWORKERS; w++)
        be_worker_run_mailbox(workers[w]);
    BE_CHECK_INT(be_inflight_count(svc->inflight), 3);
    BE_CHECK(fixture_run_until(workers, NWORKERS, job_done, &id, BOUND_MS));
    BE_CHECK(max_under_way <= 3); /* never passed, sampled at every turn */
    BE_CHECK_INT(field(id, "done"), NBLOCKS);
    BE_CHECK_INT(field(id, "not_found"), 1);
    BE_CHECK_INT(field(id, "cached"), 0);
    BE_CHECK_INT(field(id, "pending"), 0);
    BE_CHECK_INT(stats.prefetch_keys[BE_FETCH_OK], NBLOCKS);
    BE_CHECK_INT(stats.prefetch_keys[BE_FETCH_NOT_FOUND], 1);
    BE_CHECK_INT(stats.prefetch_keys[BE_PREFETCH_KEY_BAD_KEY], 2);
    BE_CHECK_INT(stats.prefetch_jobs[BE_PREFETCH_JOB_ACCEPTED], 1);
    for (int i = 0; i < NBLOCKS; i++) {
        be_key_t k;
        be_key_from_hex(hexes[i], 64, &k);
        BE_CHECK(be_memcache_contains(svc->memcache, &k));
    }
    /* no client request was counted */
    for (int w = 0; w < NWORKERS; w++) {
        BE_CHECK_INT(be_stat_get(&workers[w]->stats.ctr[BE_CTR_CACHE_MISSES]), 0);
        BE_CHECK_INT(be_stat_get(&workers[w]->stats.hits[BE_TIER_MEMORY]), 0);
    }

    /* the same keys again: all cached, nothing fetched */
    uint64_t id2 = start(text, 202);
    BE_CHECK(fixture_run_until(workers, NWORKERS, job_done, &id2, BOUND_MS));
    BE_CHECK_INT(field(id2, "cached"), NBLOCKS);
    BE_CHECK_INT(field(id2, "done"), 0);
    BE_CHECK_INT(field(id2, "not_found"), 1);
    teardown();
}

static void
test_prefetch_keeps_16_jobs_and_refuses_another_while_all_run(void)
{
    uint64_t ids[BE_PREFETCH_JOBS];
    char line[80];
    setup(2);
    for (int i = 0; i < BE_PREFETCH_JOBS; i++) { /* the loops do not turn: all stay running */
        snprintf(line, sizeof(line), "%.64s\n", hexes[i]);
        ids[i] = start(line, 202);
        BE_CHECK(ids[i] == (uint64_t)i + 1);
    }
    snprintf(line, sizeof(line), "%.64s\n", hexes[NBLOCKS - 1]);
    BE_CHECK(start(line, 503) != UINT64_MAX);
    BE_CHECK_INT(stats.prefetch_jobs[BE_PREFETCH_JOB_BUSY], 1);
    BE_CHECK(start("", 400) != UINT64_MAX);
    BE_CHECK(start("x\n", 202) == UINT64_MAX); /* a bad key alone is a job, but no room */
    BE_CHECK(fixture_run_until(workers, NWORKERS, job_done, &ids[BE_PREFETCH_JOBS - 1], BOUND_MS));
    for (int i = 0; i < BE_PREFETCH_JOBS; i++)
        BE_CHECK(fixture_run_until(workers, NWORKERS, job_done, &ids[i], BOUND_MS));
    uint64_t next = start(line, 202); /* now the oldest finished job makes room */
    BE_CHECK_INT(next, BE_PREFETCH_JOBS + 1);
    BE_CHECK_INT(field(1, "total"), -1);
    BE_CHECK_INT(field(2, "total"), 1);
    BE_CHECK(fixture_run_until(workers, NWORKERS, job_done, &next, BOUND_MS));
    struct evbuffer *out = evbuffer_new();
    be_prefetch_list(pf, out);
    char text[256];
    size_t n = evbuffer_remove(out, text, sizeof(text) - 1);
    text[n] = '\0';
    evbuffer_free(out);
    BE_CHECK(strncmp(text, "{\"jobs\":[{\"id\":17,", 18) == 0); /* newest first */
    teardown();
}

static void
test_prefetch_results_after_the_admin_is_gone_are_dropped(void)
{
    static char text[NBLOCKS * 70];
    setup(4);
    text[0] = '\0';
    for (int i = 0; i < NBLOCKS; i++) {
        strcat(text, hexes[i]);
        strcat(text, "\n");
    }
    BE_CHECK(start(text, 202) == 1);
    fixture_turns(workers, NWORKERS, 1); /* some keys start on the workers */
    be_adminbox_close(&box);             /* the admin goes away ... */
    be_prefetch_free(&pf);
    /* ... and what comes back is dropped: the fills still complete */
    for (int i = 0; i < 200 && be_inflight_count(svc->inflight) > 0; i++) {
        fixture_turns(workers, NWORKERS, 1);
        usleep(1000);
    }
    BE_CHECK_INT(be_inflight_count(svc->inflight), 0);
    teardown(); /* ASan: nothing leaked */
}

int
main(void)
{
    BE_RUN(test_keylist_parses_lines_and_counts_bad_ones);
    BE_RUN(test_keylist_bounds_the_lines_not_the_blank_ones);
    BE_RUN(test_prefetch_job_keeps_concurrency_and_ends_with_every_count);
    BE_RUN(test_prefetch_keeps_16_jobs_and_refuses_another_while_all_run);
    BE_RUN(test_prefetch_results_after_the_admin_is_gone_are_dropped);
    be_server_global_cleanup();
    BE_TEST_EXIT();
}
