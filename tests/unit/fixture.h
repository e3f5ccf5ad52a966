/*
 * fixture.h - a node for unit tests, built through the server object like the real one:
 * config defaults with a file:// origin, a small memory tier, and N workers that are created
 * but never started and bind nothing. The test runs their loops and mailboxes itself, on
 * its own thread.
 *
 * fixture_up() builds at once; a test that needs another config calls fixture_config(),
 * changes what it needs (fixture_file_origin(), fixture_http_origin(), timeouts, limits)
 * and then fixture_build(). fixture_run_until() turns the workers' loops in real time until
 * a condition holds or a bound passes, so a test never hangs on a bug: it fails.
 */
#ifndef BLOCKEDGE_TEST_FIXTURE_H
#define BLOCKEDGE_TEST_FIXTURE_H

#include <dirent.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "blockedge/block.h"
#include "blockedge/clock.h"
#include "blockedge/config.h"
#include "blockedge/conn.h"
#include "blockedge/inflight.h"
#include "blockedge/memcache.h"
#include "blockedge/server.h"
#include "blockedge/worker.h"

#define FIXTURE_MEMORY (64 * 1024)

/* Fills cfg with the fixture's config for n workers: defaults, one file:// origin in
 * /tmp/x/ (nothing there), a FIXTURE_MEMORY memory tier. */
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

/* The one origin server is the directory dir (an absolute path, no trailing '/'). */
static inline void
fixture_file_origin(be_config_t *cfg, const char *dir)
{
    cfg->nservers = 1;
    cfg->servers[0].kind = BE_ORIGIN_FILE;
    cfg->servers[0].backup = 0;
    snprintf(cfg->servers[0].url, sizeof(cfg->servers[0].url), "file://%s/", dir);
    snprintf(cfg->servers[0].path, sizeof(cfg->servers[0].path), "%s/", dir);
}

/* The one origin server is the http:// URL url (ending in '/'). */
static inline void
fixture_http_origin(be_config_t *cfg, const char *url)
{
    cfg->nservers = 1;
    cfg->servers[0].kind = BE_ORIGIN_HTTP;
    cfg->servers[0].backup = 0;
    snprintf(cfg->servers[0].url, sizeof(cfg->servers[0].url), "%s", url);
    cfg->servers[0].path[0] = '\0';
}

/* Builds the node for cfg (which must outlive it); *svc is what its workers share and
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

/* Fills cfg and builds the node; *svc is what its workers share and workers[0..n) are its
 * unstarted workers. Exits on failure. */
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

/* ---- files ------------------------------------------------------------------------------ */

/* Makes a fresh directory under $TMPDIR (or /tmp) and writes its path into out. */
static inline void
fixture_tmpdir(char *out, size_t cap, const char *who)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, cap, "%s/be_%s_XXXXXX", base != NULL && base[0] != '\0' ? base : "/tmp", who);
    if (mkdtemp(out) == NULL) {
        perror("fixture: mkdtemp");
        exit(1);
    }
}

/* Removes the files in dir (one level, as the tests make them), then dir. */
static inline void
fixture_rmdir(const char *dir)
{
    char path[2048];
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Writes size bytes of data to dir/name. Exits on failure. */
static inline void
fixture_write_file(const char *dir, const char *name, const void *data, size_t size)
{
    char path[2048];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size) || close(fd) != 0) {
        perror("fixture: writing an origin file");
        exit(1);
    }
}

/* Writes a block into a file:// origin directory under its name (the hex SHA-256 of its
 * bytes), which it writes into hex. */
static inline void
fixture_write_block(const char *dir, const unsigned char *data, size_t size, char *hex)
{
    be_key_t key;
    be_sha256(data, size, &key);
    be_key_to_hex(&key, hex);
    fixture_write_file(dir, hex, data, size);
}

/* A client connected to worker w as if from 127.0.0.1:40000: one end of a non-blocking
 * socketpair goes to be_conn_accept(), the other is returned. Exits on failure. */
static inline int
fixture_connect(be_worker_t *w, const char *who)
{
    int sv[2];
    struct sockaddr_in sin;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0) {
        fprintf(stderr, "%s: socketpair() failed\n", who);
        exit(1);
    }
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(40000);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    be_conn_accept(w, sv[0], (struct sockaddr *)&sin, sizeof(sin), 0);
    return sv[1];
}

/* What one fetch or cache callback delivered: how often it ran, the status and the block
 * (a reference the test drops with be_block_unref). */
typedef struct fixture_got_s {
    int calls;
    be_fetch_status_t status;
    be_block_t *block;
} fixture_got_t;

/* A be_origin_cb / be_waiter_cb that records into the fixture_got_t at arg. */
static inline void
fixture_got(void *arg, be_fetch_status_t status, be_block_t *block)
{
    fixture_got_t *g = arg;
    g->calls++;
    g->status = status;
    be_block_unref(&g->block);
    g->block = block;
}

/* Reads what fd holds now into buf[*len, cap); sets *closed on EOF or ECONNRESET (the server
 * closed, leaving input unread). Returns the bytes read. */
static inline size_t
fixture_read(int fd, void *buf, size_t cap, size_t *len, int *closed)
{
    size_t got = 0;
    while (!*closed && *len < cap) {
        ssize_t n = read(fd, (char *)buf + *len, cap - *len);
        if (n > 0) {
            *len += (size_t)n;
            got += (size_t)n;
        } else if (n == 0 || errno == ECONNRESET) {
            *closed = 1;
        } else {
            break; /* EAGAIN */
        }
    }
    return got;
}

/* ---- running the loops ---------------------------------------------------------------- */

/* Monotonic milliseconds, for the tests' own bounds. */
static inline int64_t
fixture_now_ms(void)
{
    return be_clock_msec();
}

/* Runs each of the n workers' loops `turns` times without waiting for events. One run
 * goes on for as long as callbacks keep becoming active (libevent's EVLOOP_NONBLOCK), so it
 * may also run a completion another thread posts meanwhile: a test that needs a request
 * to stay waiting must hold what it waits for itself (lead the in-flight entry, say). */
static inline void
fixture_turns(be_worker_t **ws, int n, int turns)
{
    for (int t = 0; t < turns; t++)
        for (int i = 0; i < n; i++)
            event_base_loop(ws[i]->base, EVLOOP_NONBLOCK);
}

/*
 * Turns the n workers' loops in real time (a non-blocking turn each, then a millisecond's
 * sleep) until done(arg) returns non-zero or ms milliseconds have passed. Timers, I/O pool
 * completions and origin transfers all make progress meanwhile. Returns done(arg): a test
 * checks it, so a bound that passes is a failure, never a hang.
 */
static inline int
fixture_run_until(be_worker_t **ws, int n, int (*done)(void *), void *arg, int ms)
{
    int64_t end = fixture_now_ms() + ms;
    struct timespec pause = {0, 1000000};
    for (;;) {
        fixture_turns(ws, n, 1);
        if (done(arg))
            return 1;
        if (fixture_now_ms() >= end)
            return done(arg);
        nanosleep(&pause, NULL);
    }
}

#endif
