/*
 * main.c - the command line, signals, and the start-up and shutdown order.
 *
 * Start-up: config -> error log -> shared state (memory tier, in-flight table, I/O pool)
 * -> workers (listeners bound before any thread runs, so a busy port fails start-up) ->
 * admin listener -> pid file -> threads. Shutdown runs the same in reverse, in an order
 * that lets every pending task and fetch end exactly once (see stop_everything()).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>

#include "blockedge/accesslog.h"
#include "blockedge/admin.h"
#include "blockedge/alloc.h"
#include "blockedge/cache.h"
#include "blockedge/config.h"
#include "blockedge/diskstore.h"
#include "blockedge/inflight.h"
#include "blockedge/iopool.h"
#include "blockedge/log.h"
#include "blockedge/memcache.h"
#include "blockedge/origin.h"
#include "blockedge/popularity.h"
#include "blockedge/server.h"
#include "blockedge/tls.h"
#include "blockedge/worker.h"

#define SHUTDOWN_GRACE_MS 10000
#define MEMCACHE_SHARDS   64
#define IO_THREADS        2

static void
usage(FILE *out)
{
    fprintf(out, "usage: blockedge [-c FILE] [-t] [-T] [-v] [-h]\n"
                 "  -c FILE  configuration file (default: " BE_DEFAULT_CONF_PATH ")\n"
                 "  -t       test the configuration and exit\n"
                 "  -T       print every directive with its default and help, then exit\n"
                 "  -v       print the versions of blockedge and its libraries, then exit\n"
                 "  -h       print this help and exit\n");
}

static void
print_versions(void)
{
    curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    nghttp2_info *nv = nghttp2_version(0);
    printf("blockedge version %s\n", BE_VERSION);
    printf("libevent %s, nghttp2 %s, %s, libcurl %s, %s\n", event_get_version(), nv->version_str,
           OpenSSL_version(OPENSSL_VERSION), cv->version, be_alloc_name());
}

typedef struct {
    struct event_base *base;
    be_server_t *srv;
    const char *error_log;
    int error_log_level;
    int stop_signal;
} control_t;

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    BE_UNUSED(what);
    control_t *ctl = arg;
    switch (sig) {
    case SIGTERM:
    case SIGINT:
    case SIGQUIT:
        if (ctl->stop_signal == 0) {
            be_log(BE_LOG_NOTICE, "signal %d received, finishing requests and exiting", (int)sig);
            ctl->stop_signal = (int)sig;
            event_base_loopexit(ctl->base, NULL);
        }
        break;
    case SIGUSR1:
        if (be_log_open(ctl->error_log, ctl->error_log_level) != BE_OK)
            be_log(BE_LOG_ALERT, "open() \"%s\" failed (%d: %s) while reopening logs",
                   ctl->error_log, errno, strerror(errno));
        else
            be_log(BE_LOG_NOTICE, "logs reopened");
        if (ctl->srv->accesslog != NULL)
            be_accesslog_reopen(ctl->srv->accesslog);
        break;
    case SIGHUP:
        be_log(BE_LOG_WARN, "SIGHUP: live reload is not supported yet; restart to apply a new "
                            "configuration");
        break;
    }
}

static int
write_pid(const char *path)
{
    if (path[0] == '\0')
        return BE_OK;
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        be_log(BE_LOG_EMERG, "open() \"%s\" failed (%d: %s)", path, errno, strerror(errno));
        return BE_ERROR;
    }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
    return BE_OK;
}

static int
worker_count(const be_config_t *cfg)
{
    if (cfg->worker_threads > 0)
        return cfg->worker_threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Runs every worker's mailbox on this thread until none has a task left (tasks may post). */
static void
run_mailboxes_until_quiet(be_server_t *srv)
{
    for (int ran = 1; ran > 0;) {
        ran = 0;
        for (int i = 0; i < srv->nworkers; i++)
            if (srv->workers[i] != NULL)
                ran += be_worker_run_mailbox(srv->workers[i]);
    }
}

/*
 * Teardown order: stop and join every worker thread and close its connections (which
 * cancels their waits); drain the I/O pool (its completions land in mailboxes); run the
 * mailboxes until quiet; free the origin clients (failing their fetches, which posts
 * once more); run the mailboxes again; then free the rest.
 */
static void
stop_everything(be_server_t *srv)
{
    for (int i = 0; i < srv->nworkers; i++)
        if (srv->workers[i] != NULL)
            be_worker_stop(srv->workers[i], SHUTDOWN_GRACE_MS);
    for (int i = 0; i < srv->nworkers; i++)
        if (srv->workers[i] != NULL)
            be_worker_join(srv->workers[i]);
    be_iopool_free(&srv->iopool);
    be_cache_disk_stop_reads(srv);
    run_mailboxes_until_quiet(srv);
    for (int i = 0; i < srv->nworkers; i++)
        if (srv->workers[i] != NULL)
            be_origin_free(&srv->workers[i]->origin);
    run_mailboxes_until_quiet(srv);
    be_cache_disk_stop_writes(srv); /* the fills queued for disk reach it before exit */
    run_mailboxes_until_quiet(srv);
    be_cache_disk_close(srv);
    be_accesslog_free(&srv->accesslog); /* before the loops its timers live on */
    for (int i = 0; i < srv->nworkers; i++)
        be_worker_free(&srv->workers[i]);
    free(srv->workers);
    srv->workers = NULL;
    be_popularity_free(&srv->popularity);
    be_memcache_free(&srv->memcache);
    be_inflight_free(&srv->inflight);
}

static int
serve(const be_config_t *cfg, SSL_CTX *tls_ctx)
{
    be_server_t srv = {.cfg = cfg, .tls_ctx = tls_ctx};
    control_t ctl = {
        .srv = &srv, .error_log = cfg->error_log_path, .error_log_level = cfg->error_log_level};
    be_admin_t *admin = NULL;
    struct event *sigs[5] = {NULL};
    const int signals[5] = {SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGHUP};
    int rc = 1;

    if (be_log_open(cfg->error_log_path, cfg->error_log_level) != BE_OK) {
        fprintf(stderr, "blockedge: [emerg] open() \"%s\" failed (%d: %s)\n", cfg->error_log_path,
                errno, strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (evthread_use_pthreads() != 0 || be_origin_global_init() != BE_OK) {
        be_log(BE_LOG_EMERG, "cannot initialize libevent threads or libcurl");
        return 1;
    }
    ctl.base = event_base_new();
    srv.nworkers = worker_count(cfg);
    srv.memcache = be_memcache_new(cfg->memory_size, MEMCACHE_SHARDS);
    srv.inflight = be_inflight_new();
    srv.iopool = be_iopool_new(IO_THREADS);
    srv.workers = calloc((size_t)srv.nworkers, sizeof(be_worker_t *));
    if (ctl.base == NULL || srv.memcache == NULL || srv.inflight == NULL || srv.iopool == NULL ||
        srv.workers == NULL || be_cache_disk_open(&srv) != BE_OK) {
        be_log(BE_LOG_EMERG, "out of memory while starting");
        goto out;
    }
    for (int i = 0; i < srv.nworkers; i++) {
        srv.workers[i] = be_worker_new(&srv, i + 1);
        if (srv.workers[i] == NULL || be_worker_listen(srv.workers[i]) != BE_OK)
            goto out;
    }
    if (cfg->access_log[0] != '\0' && (srv.accesslog = be_accesslog_new(&srv)) == NULL)
        goto out;
    if (cfg->popularity) {
        be_popularity_config_t pc = be_popularity_config_from(cfg, (unsigned)srv.nworkers);
        srv.popularity = be_popularity_new(&pc);
        if (srv.popularity == NULL) {
            be_log(BE_LOG_EMERG, "out of memory while starting the popularity statistics");
            goto out;
        }
    }
    admin = be_admin_new(ctl.base, &srv);
    if (admin == NULL)
        goto out;
    for (int i = 0; i < 5; i++) {
        sigs[i] = evsignal_new(ctl.base, signals[i], on_signal, &ctl);
        if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) != 0)
            goto out;
    }
    if (write_pid(cfg->pid_path) != BE_OK)
        goto out;
    for (int i = 0; i < srv.nworkers; i++)
        if (be_worker_start(srv.workers[i]) != BE_OK)
            goto out;

    be_log(BE_LOG_NOTICE, "blockedge %s started: %d workers, memory_size %llu, origin %s",
           BE_VERSION, srv.nworkers, (unsigned long long)cfg->memory_size, cfg->servers[0].url);
    if (srv.disk != NULL)
        be_log(BE_LOG_NOTICE,
               "disk tier \"%s\": disk_size %llu, disk_segment_size %llu, index "
               "loading in the background",
               cfg->disk_path, (unsigned long long)cfg->disk_size,
               (unsigned long long)cfg->disk_segment_size);
    event_base_dispatch(ctl.base);
    rc = 0;

out:
    if (srv.workers != NULL)
        stop_everything(&srv);
    else {
        be_cache_disk_stop_reads(&srv);
        be_cache_disk_stop_writes(&srv);
        be_cache_disk_close(&srv);
        be_memcache_free(&srv.memcache);
        be_inflight_free(&srv.inflight);
    }
    be_iopool_free(&srv.iopool);
    be_admin_free(&admin);
    for (int i = 0; i < 5; i++)
        if (sigs[i] != NULL)
            event_free(sigs[i]);
    if (ctl.base != NULL)
        event_base_free(ctl.base);
    if (cfg->pid_path[0] != '\0' && rc == 0)
        unlink(cfg->pid_path);
    be_origin_global_cleanup();
    if (rc == 0)
        be_log(BE_LOG_NOTICE, "exiting");
    be_log_close();
    return rc;
}

int
main(int argc, char **argv)
{
    const char *conf = BE_DEFAULT_CONF_PATH;
    int test = 0, dump = 0, opt;
    opterr = 0;
    while ((opt = getopt(argc, argv, "c:tTvh")) != -1) {
        switch (opt) {
        case 'c':
            conf = optarg;
            break;
        case 't':
            test = 1;
            break;
        case 'T':
            dump = 1;
            break;
        case 'v':
            print_versions();
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "blockedge: invalid option: \"-%c\"\n", optopt ? optopt : '?');
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "blockedge: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (dump) {
        be_config_dump_directives(stdout);
        return 0;
    }

    static be_config_t cfg;
    char err[2048];
    if (be_config_load(&cfg, conf, err, sizeof(err)) != BE_OK) {
        fprintf(stderr, "blockedge: [emerg] %s\n", err);
        if (test)
            fprintf(stderr, "blockedge: configuration file %s test failed\n", conf);
        return 1;
    }
    if (test && cfg.disk_path[0] != '\0' &&
        be_diskstore_check_path(cfg.disk_path, err, sizeof(err)) != BE_OK) {
        fprintf(stderr, "blockedge: [emerg] \"disk_path\" is not usable: %s\n", err);
        fprintf(stderr, "blockedge: configuration file %s test failed\n", conf);
        return 1;
    }
    SSL_CTX *tls_ctx = NULL;
    if (be_tls_wanted(&cfg)) {
        tls_ctx = be_tls_ctx_new(&cfg, err, sizeof(err));
        if (tls_ctx == NULL) {
            fprintf(stderr, "blockedge: [emerg] %s\n", err);
            if (test)
                fprintf(stderr, "blockedge: configuration file %s test failed\n", conf);
            return 1;
        }
    }
    if (test) {
        be_tls_ctx_free(&tls_ctx);
        fprintf(stderr, "blockedge: the configuration file %s syntax is ok\n", conf);
        fprintf(stderr, "blockedge: configuration file %s test is successful\n", conf);
        return 0;
    }
    int rc = serve(&cfg, tls_ctx);
    be_tls_ctx_free(&tls_ctx);
    return rc;
}
