/*
 * fixture.h - a node for unit tests, built through the server object like the real one:
 * config defaults with a file:// origin, a small memory tier, and N workers that are created
 * but never started and bind nothing. The test runs their loops and mailboxes itself, on
 * its own thread.
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

/* Fills cfg: config defaults, a file:// origin, a small memory tier, n workers. */
static inline void
fixture_config(be_config_t *cfg, int n)
{
    be_config_defaults(cfg);
    cfg->nservers = 1;
    cfg->servers[0].kind = BE_ORIGIN_FILE;
    snprintf(cfg->servers[0].url, sizeof(cfg->servers[0].url), "file:///tmp/x/");
    snprintf(cfg->servers[0].path, sizeof(cfg->servers[0].path), "/tmp/x/");
    cfg->memory_size = FIXTURE_MEMORY;
    cfg->worker_threads = n;
}

/* Builds the node from cfg (n = cfg->worker_threads); *svc is what its workers share and
 * workers[0..n) are its unstarted workers. Exits on failure. */
static inline be_server_t *
fixture_build(const be_config_t *cfg, be_services_t **svc, be_worker_t **workers, int n,
              const char *who)
{
    be_server_t *node = be_server_new(cfg, BE_SERVER_NO_LISTEN);
    if (node == NULL) {
        fprintf(stderr, "%s: cannot build the server\n", who);
        exit(1);
    }
    *svc = be_server_services(node);
    for (int i = 0; i < n; i++)
        workers[i] = be_server_worker(node, i);
    return node;
}

/* fixture_config, then fixture_build. */
static inline be_server_t *
fixture_up(be_config_t *cfg, be_services_t **svc, be_worker_t **workers, int n, const char *who)
{
    fixture_config(cfg, n);
    return fixture_build(cfg, svc, workers, n, who);
}

/* Tears the node down in the server's order (what is left in the mailboxes runs first). */
static inline void
fixture_down(be_server_t **node)
{
    be_server_free(node);
}

/* Puts a verified block of these bytes into the memory tier; writes its hex name. */
static inline void
fixture_cache_block(be_services_t *svc, const unsigned char *data, size_t size, char *hex)
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
    be_memcache_insert(svc->memcache, b, 0);
    be_block_unref(&b);
    be_key_to_hex(&key, hex);
}

#endif
