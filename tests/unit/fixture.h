/*
 * fixture.h - a node built by hand for unit tests: config defaults with a file:// origin,
 * a small memory tier, the in-flight table and N workers that are created but never
 * started. The test runs their loops and mailboxes itself, on its own thread.
 */
#ifndef BLOCKEDGE_TEST_FIXTURE_H
#define BLOCKEDGE_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/block.h"
#include "blockedge/config.h"
#include "blockedge/inflight.h"
#include "blockedge/memcache.h"
#include "blockedge/server.h"
#include "blockedge/worker.h"

#define FIXTURE_MEMORY (64 * 1024)

/* Fills cfg and srv; workers[0..n) are new unstarted workers. Exits on failure. */
static inline void
fixture_up(be_config_t *cfg, be_server_t *srv, be_worker_t **workers, int n, const char *who)
{
    be_config_defaults(cfg);
    cfg->nservers = 1;
    cfg->servers[0].kind = BE_ORIGIN_FILE;
    snprintf(cfg->servers[0].url, sizeof(cfg->servers[0].url), "file:///tmp/x/");
    snprintf(cfg->servers[0].path, sizeof(cfg->servers[0].path), "/tmp/x/");
    memset(srv, 0, sizeof(*srv));
    srv->cfg = cfg;
    srv->memcache = be_memcache_new(FIXTURE_MEMORY, 4);
    srv->inflight = be_inflight_new();
    srv->workers = workers;
    srv->nworkers = n;
    int ok = srv->memcache != NULL && srv->inflight != NULL;
    for (int i = 0; i < n; i++) {
        workers[i] = be_worker_new(srv, i + 1);
        ok = ok && workers[i] != NULL;
    }
    if (!ok) {
        fprintf(stderr, "%s: cannot build the server\n", who);
        exit(1);
    }
}

/* Runs what is left in every mailbox, then frees in the server's order. */
static inline void
fixture_down(be_server_t *srv)
{
    for (int i = 0; i < srv->nworkers; i++)
        be_worker_run_mailbox(srv->workers[i]);
    for (int i = 0; i < srv->nworkers; i++)
        be_worker_free(&srv->workers[i]);
    be_memcache_free(&srv->memcache);
    be_inflight_free(&srv->inflight);
}

/* Puts a verified block of these bytes into the memory tier; writes its hex name. */
static inline void
fixture_cache_block(be_server_t *srv, const unsigned char *data, size_t size, char *hex)
{
    be_key_t key;
    be_sha256(data, size, &key);
    be_block_t *b = be_block_new(&key, size);
    if (b == NULL) {
        fprintf(stderr, "fixture: out of memory\n");
        exit(1);
    }
    memcpy(b->data, data, size);
    b->size = size;
    be_memcache_insert(srv->memcache, b, 0);
    be_block_unref(&b);
    be_key_to_hex(&key, hex);
}

#endif
