/*
 * test_server.c - the server object's reload: a new configuration reaches the main thread's
 * readers at once and each worker when its mailbox runs; the origin client then fetches from
 * the new server; memory_size shrinks the memory tier at once; what cannot change live keeps
 * its old value; a reload that fails (a TLS certificate that does not load) changes nothing
 * and is counted. The old configuration is freed by the last worker to switch (the ASan tree
 * reports a leak otherwise).
 */
#include "blockedge/log.h"
#include "blockedge/memcache.h"
#include "blockedge/origin.h"
#include "blockedge/server.h"
#include "fixture.h"
#include "test.h"

#define NWORKERS 2
#define BOUND_MS 5000

static int
called(void *arg)
{
    return ((fixture_got_t *)arg)->calls > 0;
}

/* Fetches hex's key through worker w's origin client; the status it ends with. */
static be_fetch_status_t
fetch_on(be_worker_t *w, const char *hex)
{
    be_key_t k;
    fixture_got_t g = {0};
    if (be_key_from_hex(hex, BE_KEY_HEX_LEN, &k) != BE_OK ||
        be_origin_fetch(w->origin, &k, fixture_got, &g) != BE_OK)
        return BE_FETCH_CONNECT;
    be_worker_t *ws[1] = {w};
    if (!fixture_run_until(ws, 1, called, &g, BOUND_MS))
        return BE_FETCH_TIMEOUT;
    be_block_unref(&g.block);
    return g.status;
}

static void
test_server_reload_switches_main_at_once_and_workers_through_their_mailbox(void)
{
    char dir_a[256], dir_b[256], hex_b[BE_KEY_HEX_LEN + 1];
    fixture_tmpdir(dir_a, sizeof(dir_a), "test_server");
    fixture_tmpdir(dir_b, sizeof(dir_b), "test_server");
    static unsigned char data[4096];
    memset(data, 'b', sizeof(data));
    fixture_write_block(dir_b, data, sizeof(data), hex_b); /* only the new origin has it */

    static be_config_t cfg;
    fixture_config(&cfg, NWORKERS);
    fixture_file_origin(&cfg, dir_a);
    cfg.memory_size = 8u << 20;
    be_services_t *svc;
    be_worker_t *ws[NWORKERS];
    be_server_t *node = fixture_build(&cfg, &svc, ws, NWORKERS, "test_server");

    /* 3 MiB in memory, to be shrunk to 1 MiB */
    static unsigned char big[64 * 1024];
    for (int i = 0; i < 48; i++) {
        char hex[BE_KEY_HEX_LEN + 1];
        memset(big, i + 1, sizeof(big));
        fixture_cache_block(svc, big, sizeof(big), hex);
    }
    be_memcache_stats_t ms;
    be_memcache_stats(svc->memcache, &ms);
    BE_CHECK(ms.bytes > (2u << 20));
    BE_CHECK(fetch_on(ws[0], hex_b) != BE_FETCH_OK); /* the old origin does not have it */

    be_config_t *next = malloc(sizeof(*next));
    BE_CHECK(next != NULL);
    fixture_config(next, NWORKERS + 1); /* worker_threads cannot change live */
    fixture_file_origin(next, dir_b);
    next->memory_size = 1u << 20;
    next->keepalive_timeout = 5000;
    BE_CHECK_INT(be_server_reload(node, next), BE_OK);

    BE_CHECK(svc->cfg == next);
    BE_CHECK_INT(svc->cfg->worker_threads, NWORKERS);
    BE_CHECK_INT((int)svc->reloads[0], 1);
    be_memcache_stats(svc->memcache, &ms);
    BE_CHECK(ms.capacity == (1u << 20));
    BE_CHECK(ms.bytes <= (1u << 20));
    BE_CHECK(ws[0]->cfg == &cfg); /* not before its mailbox runs */

    for (int i = 0; i < NWORKERS; i++)
        be_worker_run_mailbox(ws[i]);
    for (int i = 0; i < NWORKERS; i++) {
        BE_CHECK(ws[i]->cfg == next);
        BE_CHECK_INT((int)ws[i]->cfg->keepalive_timeout, 5000);
    }
    BE_CHECK_INT(fetch_on(ws[1], hex_b), BE_FETCH_OK);

    /* a certificate that does not load: nothing changes */
    be_config_t *bad = malloc(sizeof(*bad));
    BE_CHECK(bad != NULL);
    *bad = *next;
    bad->nlisten = 1;
    bad->listen[0].tls = 1;
    snprintf(bad->tls_certificate, sizeof(bad->tls_certificate), "%s/missing.crt", dir_a);
    snprintf(bad->tls_certificate_key, sizeof(bad->tls_certificate_key), "%s/missing.key", dir_a);
    BE_CHECK_INT(be_server_reload(node, bad), BE_ERROR);
    BE_CHECK(svc->cfg == next);
    BE_CHECK_INT((int)svc->reloads[1], 1);
    for (int i = 0; i < NWORKERS; i++) {
        be_worker_run_mailbox(ws[i]);
        BE_CHECK(ws[i]->cfg == next);
    }

    fixture_down(&node);
    fixture_rmdir(dir_a);
    fixture_rmdir(dir_b);
}

int
main(void)
{
    be_log_open(NULL, BE_LOG_CRIT);
    BE_RUN(test_server_reload_switches_main_at_once_and_workers_through_their_mailbox);
    BE_TEST_EXIT();
}
