/*
 * server_reload.c - a new configuration applied to the running node (SIGHUP).
 *
 * Everything that can fail is done first, on the main thread, with the running node
 * untouched: the TLS context is built from the new file and new listen addresses are bound
 * on every worker. Then the switch: the main thread's readers (admin rules, metrics) see the
 * new configuration at once, the error log, access log, memory budget and statistics
 * settings change, and each worker gets a task in its mailbox that hands it the new
 * configuration, its new listening sockets, closes the listeners the file no longer names
 * (their connections carry on) and points its origin client at the new servers. What a
 * running node cannot change (worker_threads, the disk tier, the admin addresses, the pid
 * file, popularity on/off) keeps its old value and is named in one log line. The memory
 * tier, the disk tier and fetches in flight are untouched. The old configuration is freed
 * by whichever thread drops the last reference to its generation.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blockedge/accesslog.h"
#include "blockedge/check.h"
#include "blockedge/listen.h"
#include "blockedge/log.h"
#include "blockedge/memcache.h"
#include "blockedge/origin.h"
#include "blockedge/popularity.h"
#include "blockedge/tls.h"
#include "blockedge/worker.h"
#include "server_int.h"

#define MAX_NEW_FDS (BE_WORKER_MAX_LISTENERS * 4)

/* The switch one worker makes, on its own thread. */
typedef struct {
    be_server_t *srv;
    int index;
    generation_t *gen;
    int nfds;
    int fds[MAX_NEW_FDS];
    be_listen_t ls[MAX_NEW_FDS];
} switch_t;

static void
switch_worker(void *arg)
{
    switch_t *m = arg;
    be_server_t *srv = m->srv;
    be_worker_t *w = srv->svc.workers[m->index];
    generation_t *old = srv->wgen[m->index];
    srv->wgen[m->index] = m->gen;
    w->cfg = m->gen->cfg;
    w->tls_ctx = m->gen->tls_ctx;
    be_worker_apply_limits(w);
    be_worker_unlisten_absent(w, w->cfg);
    for (int i = 0; i < m->nfds; i++) {
        if (w->stopping)
            close(m->fds[i]); /* draining: no new listener */
        else
            be_worker_listen_fd(w, m->fds[i], &m->ls[i]);
    }
    if (w->origin != NULL)
        be_origin_reconfigure(w->origin, w->cfg);
    be_server_gen_unref(old);
    free(m);
}

static int
same_listen(const be_listen_t *a, const be_listen_t *b)
{
    return a->tls == b->tls && a->proxy_protocol == b->proxy_protocol &&
           be_listen_same_addr((const struct sockaddr *)&a->addr, a->addrlen,
                               (const struct sockaddr *)&b->addr, b->addrlen);
}

static int
listed(const be_listen_t *ls, const be_listen_t *set, int n)
{
    for (int i = 0; i < n; i++)
        if (same_listen(ls, &set[i]))
            return 1;
    return 0;
}

static int
same_listen_set(const be_listen_t *a, int na, const be_listen_t *b, int nb)
{
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++)
        if (!listed(&a[i], b, nb))
            return 0;
    return 1;
}

/* Puts back what a running node cannot change and names it in *kept. */
static void
keep_fixed(const be_config_t *old, be_config_t *cfg, char *kept, size_t len)
{
    size_t n = 0;
    kept[0] = '\0';
#define KEEP(cond, name, restore)                                                                  \
    do {                                                                                           \
        if (cond) {                                                                                \
            restore;                                                                               \
            n += (size_t)snprintf(kept + n, n < len ? len - n : 0, "%s%s", n ? ", " : "", name);   \
        }                                                                                          \
    } while (0)
    KEEP(cfg->worker_threads != old->worker_threads, "worker_threads",
         cfg->worker_threads = old->worker_threads);
    KEEP(strcmp(cfg->disk_path, old->disk_path) != 0 || cfg->disk_size != old->disk_size ||
             cfg->disk_segment_size != old->disk_segment_size,
         "disk_path/disk_size/disk_segment_size",
         (memcpy(cfg->disk_path, old->disk_path, sizeof(cfg->disk_path)),
          cfg->disk_size = old->disk_size, cfg->disk_segment_size = old->disk_segment_size));
    KEEP(!same_listen_set(cfg->admin_listen, cfg->nadmin_listen, old->admin_listen,
                          old->nadmin_listen),
         "admin listen",
         (memcpy(cfg->admin_listen, old->admin_listen, sizeof(cfg->admin_listen)),
          cfg->nadmin_listen = old->nadmin_listen));
    KEEP(strcmp(cfg->pid_path, old->pid_path) != 0, "pid",
         memcpy(cfg->pid_path, old->pid_path, sizeof(cfg->pid_path)));
    KEEP(cfg->popularity != old->popularity, "popularity", cfg->popularity = old->popularity);
    KEEP(cfg->memory_policy != old->memory_policy, "memory_policy",
         cfg->memory_policy = old->memory_policy);
    KEEP(cfg->negative_max_keys != old->negative_max_keys, "negative_max_keys",
         cfg->negative_max_keys = old->negative_max_keys);
#undef KEEP
}

/* Binds every address cfg adds, on every worker. Returns the tasks (one per worker, not
 * yet posted) or NULL with every socket closed (logged). */
static switch_t **
prepare_switches(be_server_t *srv, const be_config_t *old, const be_config_t *cfg)
{
    int nw = srv->svc.nworkers;
    int mark = srv->nlsocks;
    switch_t **sw = calloc((size_t)nw, sizeof(*sw));
    for (int i = 0; sw != NULL && i < nw; i++)
        if ((sw[i] = calloc(1, sizeof(switch_t))) == NULL)
            goto fail;
    if (sw == NULL)
        return NULL;
    for (int l = 0; l < cfg->nlisten; l++) {
        const be_listen_t *ls = &cfg->listen[l];
        if (listed(ls, old->listen, old->nlisten))
            continue;
        int fds[MAX_NEW_FDS];
        int n = be_server_open_listen(srv, ls, fds, nw);
        if (n < 0)
            goto fail;
        for (int k = 0; k < n; k++) {
            switch_t *m = sw[k % nw];
            m->ls[m->nfds] = *ls;
            m->fds[m->nfds++] = fds[k];
        }
    }
    return sw;
fail:
    for (int i = mark; i < srv->nlsocks; i++)
        close(srv->lsocks[i].fd);
    srv->nlsocks = mark;
    for (int i = 0; sw != NULL && i < nw; i++)
        free(sw[i]);
    free(sw);
    return NULL;
}

/* Drops from the table the sockets of addresses cfg no longer names: their workers close
 * them when they switch. */
static void
forget_removed(be_server_t *srv, const be_config_t *cfg)
{
    int kept = 0;
    for (int i = 0; i < srv->nlsocks; i++) {
        lsock_t *e = &srv->lsocks[i];
        int named = 0;
        for (int l = 0; l < cfg->nlisten && !named; l++)
            named = be_listen_same_addr((const struct sockaddr *)&e->addr, e->addrlen,
                                        (const struct sockaddr *)&cfg->listen[l].addr,
                                        cfg->listen[l].addrlen);
        if (named)
            srv->lsocks[kept++] = *e;
    }
    srv->nlsocks = kept;
}

static void
apply_main(be_server_t *srv, const be_config_t *old, const be_config_t *cfg)
{
    be_services_t *svc = &srv->svc;
    atomic_store(&svc->conn_ceiling, (int)be_server_conn_ceiling(cfg));
    if (strcmp(old->error_log_path, cfg->error_log_path) != 0 ||
        old->error_log_level != cfg->error_log_level) {
        if (be_log_open(cfg->error_log_path, cfg->error_log_level) != BE_OK)
            be_log(BE_LOG_ALERT, "cannot open the error log \"%s\" on reload: keeping the old one",
                   cfg->error_log_path);
    }
    if ((strcmp(old->access_log, cfg->access_log) != 0 ||
         old->access_log_json != cfg->access_log_json) &&
        svc->accesslog != NULL)
        be_accesslog_retarget(svc->accesslog, cfg->access_log, cfg->access_log_json);
    if (old->memory_size != cfg->memory_size) {
        uint64_t n = be_memcache_set_budget(svc->memcache, cfg->memory_size);
        if (n > 0)
            be_log(BE_LOG_NOTICE, "memory_size %llu: %llu blocks evicted to fit",
                   (unsigned long long)cfg->memory_size, (unsigned long long)n);
        unsigned have = be_memcache_shards(svc->memcache);
        unsigned want = be_memcache_shards_for(cfg->memory_size);
        if (have != want)
            be_log(BE_LOG_NOTICE,
                   "memory_size %llu keeps the memory tier's %u shards (%u for this size from a "
                   "restart)",
                   (unsigned long long)cfg->memory_size, have, want);
    }
    if (svc->popularity != NULL) {
        be_popularity_config_t pc = be_popularity_config_from(cfg, (unsigned)svc->nworkers);
        if (be_popularity_reconfigure(svc->popularity, &pc) != BE_OK)
            be_log(BE_LOG_ERROR, "the popularity settings could not change: keeping the old "
                                 "ones");
    }
}

int
be_server_reload(be_server_t *srv, be_config_t *cfg)
{
    BE_CHECK_OBJ_NOTNULL(srv, SERVER_MAGIC);
    be_services_t *svc = &srv->svc;
    const be_config_t *old = svc->cfg;
    char kept[512], err[1024];
    keep_fixed(old, cfg, kept, sizeof(kept));

    SSL_CTX *tls = NULL;
    if (be_tls_wanted(cfg) && (tls = be_tls_ctx_new(cfg, err, sizeof(err))) == NULL) {
        be_log(BE_LOG_EMERG, "%s; configuration not reloaded", err);
        goto fail;
    }
    int mark = srv->nlsocks;
    switch_t **sw = prepare_switches(srv, old, cfg);
    generation_t *gen = sw != NULL ? be_server_gen_new(cfg, cfg, tls, svc->nworkers + 1) : NULL;
    if (gen == NULL) {
        be_log(BE_LOG_EMERG, "configuration not reloaded: cannot listen on a new address");
        srv->nlsocks = mark; /* the sockets bound for this reload are closed below */
        if (sw != NULL) {
            for (int i = 0; i < svc->nworkers; i++) {
                for (int k = 0; k < sw[i]->nfds; k++)
                    close(sw[i]->fds[k]);
                free(sw[i]);
            }
            free(sw);
        }
        be_tls_ctx_free(&tls);
        goto fail;
    }

    if (kept[0] != '\0')
        be_log(BE_LOG_WARN, "%s cannot change while running: old value kept (restart to apply)",
               kept);
    forget_removed(srv, cfg);
    apply_main(srv, old, cfg);
    generation_t *prev = srv->gen;
    srv->gen = gen;
    svc->cfg = cfg;
    svc->tls_ctx = tls;
    for (int i = 0; i < svc->nworkers; i++) {
        sw[i]->srv = srv;
        sw[i]->index = i;
        sw[i]->gen = gen;
        if (be_worker_post(svc->workers[i], switch_worker, sw[i]) != BE_OK) {
            be_log(BE_LOG_ALERT, "worker %d could not take the new configuration", i + 1);
            for (int k = 0; k < sw[i]->nfds; k++)
                close(sw[i]->fds[k]);
            free(sw[i]);
            be_server_gen_unref(gen);
        }
    }
    free(sw);
    be_server_gen_unref(prev);
    svc->reloads[0]++;
    be_log(BE_LOG_NOTICE, "configuration reloaded from \"%s\"", cfg->path);
    if (cfg->auth_secret_file_loose)
        be_log(BE_LOG_WARN,
               "\"secret_file\" \"%s\" is readable by group or others: anyone "
               "who reads it can sign URLs; chmod 600 it",
               cfg->auth_secret_file);
    return BE_OK;

fail:
    free(cfg);
    svc->reloads[1]++;
    return BE_ERROR;
}

void
be_server_reload_failed(be_server_t *srv)
{
    BE_CHECK_OBJ_NOTNULL(srv, SERVER_MAGIC);
    srv->svc.reloads[1]++;
}
