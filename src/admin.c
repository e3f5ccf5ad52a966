/*
 * admin.c - the admin listener: who may connect (allow/deny), who may write (the bearer token
 * of admin_token_file), and which endpoint answers:
 *   GET /metrics, /stats, /healthz        figures (metrics.c) and liveness
 *   GET /blocks/<hex>                     what the node holds for a key (admin_blocks.c)
 *   DELETE /blocks/<hex>, POST /purge/<hex>   purge a key from every tier (admin_blocks.c)
 *   POST /prefetch, GET /prefetch[/<id>]  prefetch jobs (prefetch.c)
 *
 * Each scrape answers from one snapshot of every source; this file names no metric. HTTP
 * framing is adminhttp.c's (one request per connection, answered and closed). Peers are
 * checked against allow/deny when accepted, write requests against the token before their
 * body is read. The main thread is the popularity tracker's one consumer: a timer here drains
 * the workers' rings every BE_POPULARITY_DRAIN_MS, and each scrape drains them first. Results
 * from other threads (purges, prefetched keys) come back through the admin box, which closes
 * when the admin is freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "blockedge/admin.h"
#include "blockedge/admin_blocks.h"
#include "blockedge/adminauth.h"
#include "blockedge/adminbox.h"
#include "blockedge/adminhttp.h"
#include "blockedge/adminstats.h"
#include "blockedge/check.h"
#include "blockedge/clock.h"
#include "blockedge/listen.h"
#include "blockedge/log.h"
#include "blockedge/metrics.h"
#include "blockedge/popularity.h"
#include "blockedge/prefetch.h"
#include "blockedge/stats.h"
#include "blockedge/worker.h"

#define ADMIN_MAGIC       0x61646d6eu /* "admn" */
#define ADMIN_MAX_CONNS   64
#define ADMIN_MAX_BODIES  4 /* key lists received at once: bounds the buffered bytes */
#define STATS_TOP_DEFAULT 10
#define STATS_TOP_MAX     100000

struct be_admin_s {
    uint32_t magic;
    be_services_t *svc;
    struct event_base *base;
    struct evconnlistener *listeners[BE_MAX_LISTEN];
    int nlisteners;
    be_adminhttp_t *conns[ADMIN_MAX_CONNS]; /* open admin connections, for teardown */
    uint64_t started_us;
    struct event *drain_timer;
    be_adminbox_t *box;
    be_prefetch_t *prefetch;
    be_admin_stats_t stats;
    struct event *accept_resume; /* after an accept() pause (EMFILE) */
    be_ratelog_t accept_log;
};

static void
on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(what);
    be_admin_t *a = arg;
    for (int i = 0; i < a->nlisteners; i++)
        evconnlistener_enable(a->listeners[i]);
}

/* Out of descriptors: the admin listeners rest for BE_ACCEPT_PAUSE_MS, as the workers' do,
 * instead of spinning (libevent's default is to retry at once and print to stderr). */
static void
on_accept_error(struct evconnlistener *l, void *arg)
{
    BE_UNUSED(l);
    be_admin_t *a = arg;
    int err = EVUTIL_SOCKET_ERROR();
    if (be_accept_starved(err) && a->accept_resume != NULL &&
        !evtimer_pending(a->accept_resume, NULL)) {
        struct timeval tv = {0, BE_ACCEPT_PAUSE_MS * 1000};
        for (int i = 0; i < a->nlisteners; i++)
            evconnlistener_disable(a->listeners[i]);
        evtimer_add(a->accept_resume, &tv);
    }
    be_log_rated(&a->accept_log, be_clock_msec(), BE_LOG_ALERT,
                 "accept() failed (%d: %s) on the admin listener", err, strerror(err));
}

static void
on_drain(evutil_socket_t fd, short what, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(what);
    be_admin_t *a = arg;
    be_popularity_drain(a->svc->popularity, be_clock_msec());
}

/* ---- figures ----------------------------------------------------------------------------------
 */

/* Appends the /metrics text, or with stats the /stats document (top: the top blocks asked
 * for). Both are read from one snapshot; the popularity rings are drained first. */
static int
render(be_admin_t *a, int stats, size_t top, struct evbuffer *out)
{
    be_metrics_t *m = be_metrics_read(a->svc, be_clock_msec());
    int rc = m != NULL ? BE_OK : BE_ERROR;
    if (m != NULL)
        be_metrics_set_admin(m, &a->stats);
    if (m != NULL && stats)
        rc = be_metrics_json(m, (double)(be_clock_usec() - a->started_us) / 1e6, top, out);
    else if (m != NULL)
        be_metrics_prometheus(m, out);
    be_metrics_free(&m);
    if (rc != BE_OK)
        evbuffer_add_printf(out, "out of memory\n");
    return rc;
}

static void
figures(be_admin_t *a, be_adminhttp_t *c, int stats, const char *query)
{
    struct evbuffer *body = evbuffer_new();
    if (body == NULL) {
        be_adminhttp_text(c, 500, "out of memory");
        return;
    }
    if (render(a, stats, stats ? be_adminreq_top(query, STATS_TOP_DEFAULT, STATS_TOP_MAX) : 0,
               body) != BE_OK)
        be_adminhttp_reply(c, 500, "text/plain", NULL, body);
    else if (stats)
        be_adminhttp_reply(c, 200, "application/json", NULL, body);
    else
        be_adminhttp_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, body);
    evbuffer_free(body);
}

/* ---- routing ----------------------------------------------------------------------------------
 */

/* Whether a write request carries the token (or none is configured); else answers 403. */
static int
authorized(be_admin_t *a, be_adminhttp_t *c, const be_adminreq_t *r)
{
    const char *v = r->has_authorization ? r->authorization : NULL;
    int rc = be_adminauth_check(a->svc->cfg->admin_token, v, v != NULL ? strlen(v) : 0);
    if (rc == BE_AUTH_OK)
        return 1;
    int why = rc == BE_AUTH_MISSING ? BE_ADMIN_DENIED_NO_TOKEN : BE_ADMIN_DENIED_BAD_TOKEN;
    a->stats.denied[why]++;
    be_log(BE_LOG_DEBUG, "admin: %s %s refused (%s)", r->method, r->path,
           be_admin_denial_label(why));
    be_adminhttp_text(c, 403, "%s", be_admin_denial_message(why));
    return 0;
}

static int
is(const be_adminreq_t *r, const char *method)
{
    return strcmp(r->method, method) == 0;
}

static void
not_allowed(be_adminhttp_t *c, const char *allow)
{
    char extra[64];
    snprintf(extra, sizeof(extra), "allow: %s\r\n", allow);
    struct evbuffer *body = evbuffer_new();
    if (body != NULL)
        evbuffer_add_printf(body, "method not allowed: use %s\n", allow);
    be_adminhttp_reply(c, 405, "text/plain", extra, body);
    if (body != NULL)
        evbuffer_free(body);
}

/* /blocks/<hex> and /purge/<hex>. */
static void
route_block(be_admin_t *a, be_adminhttp_t *c, const be_adminreq_t *r, const char *hex, int purge)
{
    size_t len = strlen(hex);
    if (purge ? !is(r, "POST") : !is(r, "GET") && !is(r, "DELETE"))
        not_allowed(c, purge ? "POST" : "GET, DELETE");
    else if (is(r, "GET"))
        be_admin_blocks_inspect(a->svc, c, hex, len);
    else if (authorized(a, c, r))
        be_admin_blocks_purge(a->svc, a->box, &a->stats, c, hex, len);
}

/* GET /prefetch/<id>. */
static void
prefetch_report(be_admin_t *a, be_adminhttp_t *c, const be_adminreq_t *r, const char *id)
{
    char *end;
    if (!is(r, "GET")) {
        not_allowed(c, "GET");
        return;
    }
    unsigned long long n = strtoull(id, &end, 10);
    struct evbuffer *body = evbuffer_new();
    if (body == NULL) {
        be_adminhttp_text(c, 500, "out of memory");
        return;
    }
    if (id[0] >= '0' && id[0] <= '9' && *end == '\0' &&
        be_prefetch_report(a->prefetch, n, body) == BE_OK)
        be_adminhttp_reply(c, 200, "application/json", NULL, body);
    else
        be_adminhttp_text(c, 404, "no such prefetch job (the last %d are kept)", BE_PREFETCH_JOBS);
    evbuffer_free(body);
}

static int
bodies_being_read(const be_admin_t *a)
{
    int n = 0;
    for (size_t i = 0; i < BE_ARRAY_LEN(a->conns); i++)
        n += a->conns[i] != NULL && be_adminhttp_reading_body(a->conns[i]);
    return n;
}

/* POST /prefetch before its body: the token, then the length, then room to buffer it (at most
 * ADMIN_MAX_BODIES lists of BE_PREFETCH_MAX_BODY at once). BE_OK reads the body. */
static int
prefetch_head(be_admin_t *a, be_adminhttp_t *c, const be_adminreq_t *r)
{
    if (!authorized(a, c, r))
        return BE_DECLINED;
    if (bodies_being_read(a) >= ADMIN_MAX_BODIES) {
        a->stats.prefetch_jobs[BE_PREFETCH_JOB_BUSY]++;
        be_adminhttp_text(c, 503, "%d key lists are being received: try again in a moment",
                          ADMIN_MAX_BODIES);
        return BE_DECLINED;
    }
    if (!r->has_length && !r->chunked) {
        a->stats.prefetch_jobs[BE_PREFETCH_JOB_BAD_REQUEST]++;
        be_adminhttp_text(c, 411, "send the key list with a Content-Length");
        return BE_DECLINED;
    }
    if (r->content_length > BE_PREFETCH_MAX_BODY) {
        a->stats.prefetch_jobs[BE_PREFETCH_JOB_TOO_LARGE]++;
        be_adminhttp_text(c, 413, "key list larger than %d bytes (at most %d keys)",
                          BE_PREFETCH_MAX_BODY, BE_PREFETCH_MAX_KEYS);
        return BE_DECLINED;
    }
    return BE_OK;
}

static void
list_jobs(be_admin_t *a, be_adminhttp_t *c)
{
    struct evbuffer *body = evbuffer_new();
    if (body == NULL) {
        be_adminhttp_text(c, 500, "out of memory");
        return;
    }
    be_prefetch_list(a->prefetch, body);
    be_adminhttp_reply(c, 200, "application/json", NULL, body);
    evbuffer_free(body);
}

static int
on_head(void *ctx, be_adminhttp_t *c, const be_adminreq_t *r)
{
    be_admin_t *a = ctx;
    const char *path = r->path;
    int get = is(r, "GET");
    if (strncmp(path, "/blocks/", 8) == 0) {
        route_block(a, c, r, path + 8, 0);
    } else if (strncmp(path, "/purge/", 7) == 0) {
        route_block(a, c, r, path + 7, 1);
    } else if (strncmp(path, "/prefetch/", 10) == 0) {
        prefetch_report(a, c, r, path + 10);
    } else if (strcmp(path, "/prefetch") == 0) {
        if (is(r, "POST"))
            return prefetch_head(a, c, r);
        if (get)
            list_jobs(a, c);
        else
            not_allowed(c, "GET, POST");
    } else if (strcmp(path, "/metrics") == 0 || strcmp(path, "/stats") == 0 ||
               strcmp(path, "/healthz") == 0) {
        if (!get)
            not_allowed(c, "GET");
        else if (strcmp(path, "/healthz") == 0)
            be_adminhttp_text(c, a->svc->draining ? 503 : 200,
                              a->svc->draining ? "draining" : "ok");
        else
            figures(a, c, path[1] == 's', r->query);
    } else {
        be_adminhttp_text(c, 404,
                          "not found: try /metrics, /stats, /healthz, /blocks/<hex>, "
                          "/purge/<hex> or /prefetch");
    }
    return BE_DECLINED;
}

/* POST /prefetch with its key list. */
static void
on_body(void *ctx, be_adminhttp_t *c, const be_adminreq_t *r, struct evbuffer *body)
{
    be_admin_t *a = ctx;
    BE_UNUSED(r);
    size_t len = evbuffer_get_length(body);
    const char *text = len > 0 ? (const char *)evbuffer_pullup(body, -1) : "";
    struct evbuffer *out = evbuffer_new();
    if (out == NULL || (len > 0 && text == NULL)) {
        be_adminhttp_text(c, 500, "out of memory");
        if (out != NULL)
            evbuffer_free(out);
        return;
    }
    uint64_t id = 0;
    int status = be_prefetch_start(a->prefetch, text, len, out, &id);
    if (status == 202) {
        char extra[64];
        snprintf(extra, sizeof(extra), "location: /prefetch/%llu\r\n", (unsigned long long)id);
        be_adminhttp_reply(c, 202, "application/json", extra, out);
    } else {
        be_adminhttp_reply(c, status, "text/plain", NULL, out);
    }
    evbuffer_free(out);
}

static void
on_closed(void *ctx, be_adminhttp_t *c)
{
    be_admin_t *a = ctx;
    for (size_t i = 0; i < BE_ARRAY_LEN(a->conns); i++)
        if (a->conns[i] == c)
            a->conns[i] = NULL;
}

static const be_adminhttp_ops_t conn_ops = {
    .head = on_head,
    .body = on_body,
    .closed = on_closed,
};

/* ---- the listener ------------------------------------------------------------------------------
 */

static void
on_admin_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                void *arg)
{
    BE_UNUSED(l);
    BE_UNUSED(salen);
    be_admin_t *a = arg;
    size_t slot = 0;
    while (slot < BE_ARRAY_LEN(a->conns) && a->conns[slot] != NULL)
        slot++;
    if (slot == BE_ARRAY_LEN(a->conns)) {
        evutil_closesocket(fd); /* too many admin clients at once */
        return;
    }
    be_adminhttp_t *c = be_adminhttp_new(a->base, fd, &conn_ops, a);
    if (c == NULL)
        return;
    a->conns[slot] = c;
    if (!be_config_acl_allows(a->svc->cfg, sa)) {
        a->stats.denied[BE_ADMIN_DENIED_ADDRESS]++;
        be_adminhttp_text(c, 403, "%s", be_admin_denial_message(BE_ADMIN_DENIED_ADDRESS));
    }
}

be_admin_t *
be_admin_new(struct event_base *base, be_services_t *svc)
{
    be_admin_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->magic = ADMIN_MAGIC;
    a->svc = svc;
    a->base = base;
    a->started_us = be_clock_usec();
    a->box = be_adminbox_new(base);
    a->prefetch = a->box != NULL ? be_prefetch_new(svc, a->box, &a->stats) : NULL;
    a->accept_resume = evtimer_new(base, on_accept_resume, a);
    if (a->prefetch == NULL || a->accept_resume == NULL) {
        be_log(BE_LOG_EMERG, "out of memory while starting the admin listener");
        be_admin_free(&a);
        return NULL;
    }
    if (svc->popularity != NULL) {
        struct timeval every = {0, BE_POPULARITY_DRAIN_MS * 1000};
        a->drain_timer = event_new(base, -1, EV_PERSIST, on_drain, a);
        if (a->drain_timer == NULL || event_add(a->drain_timer, &every) != 0) {
            be_log(BE_LOG_EMERG, "cannot start the popularity drain timer");
            be_admin_free(&a);
            return NULL;
        }
    }
    const be_config_t *cfg = svc->cfg;
    for (int i = 0; i < cfg->nadmin_listen; i++) {
        const be_listen_t *ls = &cfg->admin_listen[i];
        int fd = be_listen_take((const struct sockaddr *)&ls->addr, ls->addrlen);
        if (fd < 0)
            fd = be_listen_bind(ls, 0, 64);
        struct evconnlistener *l =
            fd < 0 ? NULL
                   : evconnlistener_new(base, on_admin_accept, a,
                                        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
        if (l == NULL) {
            int err = errno;
            be_log(BE_LOG_EMERG, "bind() to %s failed (%d: %s) for the admin listener", ls->text,
                   err, strerror(err));
            be_admin_free(&a);
            return NULL;
        }
        evconnlistener_set_error_cb(l, on_accept_error);
        a->listeners[a->nlisteners++] = l;
    }
    return a;
}

int
be_admin_listen_fds(const be_admin_t *a, int *fds, int max)
{
    int n = 0;
    for (int i = 0; a != NULL && i < a->nlisteners && n < max; i++)
        fds[n++] = evconnlistener_get_fd(a->listeners[i]);
    return n;
}

void
be_admin_unlisten(be_admin_t *a)
{
    for (int i = 0; a != NULL && i < a->nlisteners; i++)
        evconnlistener_free(a->listeners[i]);
    if (a != NULL)
        a->nlisteners = 0;
}

/* Connections first (a purge waiting on one forgets it), then the box (results on their way
 * are dropped from now on), then the jobs. */
void
be_admin_free(be_admin_t **ap)
{
    be_admin_t *a = *ap;
    if (a == NULL)
        return;
    *ap = NULL;
    BE_CHECK_OBJ_NOTNULL(a, ADMIN_MAGIC);
    for (int i = 0; i < a->nlisteners; i++)
        evconnlistener_free(a->listeners[i]);
    if (a->accept_resume != NULL)
        event_free(a->accept_resume);
    if (a->drain_timer != NULL)
        event_free(a->drain_timer);
    for (size_t i = 0; i < BE_ARRAY_LEN(a->conns); i++)
        be_adminhttp_free(&a->conns[i]);
    be_adminbox_close(&a->box);
    be_prefetch_free(&a->prefetch);
    a->magic = 0;
    free(a);
}
