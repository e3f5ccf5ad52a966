/*
 * admin.c - /metrics, /stats and /healthz on the admin listener.
 *
 * Each scrape answers from one snapshot of every source (metrics.c reads it and writes both
 * formats; this file names no metric). One request per connection, answered and closed:
 * scrapers reconnect anyway, and it keeps this module small. Peers are checked against
 * allow/deny first. The main thread is the popularity tracker's one consumer: a timer here
 * drains the workers' rings every BE_POPULARITY_DRAIN_MS, and each scrape drains them first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "blockedge/clock.h"
#include "blockedge/admin.h"
#include "blockedge/listen.h"
#include "blockedge/log.h"
#include "blockedge/metrics.h"
#include "blockedge/popularity.h"
#include "blockedge/stats.h"

#define ADMIN_MAX_HEAD 8192

struct be_admin_s {
    be_services_t *svc;
    struct event_base *base;
    struct evconnlistener *listeners[BE_MAX_LISTEN];
    int nlisteners;
    struct bufferevent *conns[64]; /* open admin connections, for teardown */
    uint64_t started_us;
    struct event *drain_timer;
};

#define STATS_TOP_DEFAULT 10
#define STATS_TOP_MAX     100000

static void
on_drain(evutil_socket_t fd, short what, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(what);
    be_admin_t *a = arg;
    be_popularity_drain(a->svc->popularity, be_clock_msec());
}

/* Appends the /metrics text, or with stats the /stats document (top: the top blocks asked
 * for). Both are read from one snapshot; the popularity rings are drained first. */
static int
render(be_admin_t *a, int stats, size_t top, struct evbuffer *out)
{
    be_metrics_t *m = be_metrics_read(a->svc, be_clock_msec());
    int rc = m != NULL ? BE_OK : BE_ERROR;
    if (m != NULL && stats)
        rc = be_metrics_json(m, (double)(be_clock_usec() - a->started_us) / 1e6, top, out);
    else if (m != NULL)
        be_metrics_prometheus(m, out);
    be_metrics_free(&m);
    if (rc != BE_OK)
        evbuffer_add_printf(out, "out of memory\n");
    return rc;
}

/* "top=N" in a query string, else the default; clamped to STATS_TOP_MAX. */
static size_t
query_top(const char *query)
{
    for (const char *p = query; p != NULL && *p != '\0';) {
        if (strncmp(p, "top=", 4) == 0) {
            char *end;
            unsigned long v = strtoul(p + 4, &end, 10);
            if (end != p + 4)
                return v > STATS_TOP_MAX ? STATS_TOP_MAX : (size_t)v;
        }
        p = strchr(p, '&');
        if (p != NULL)
            p++;
    }
    return STATS_TOP_DEFAULT;
}

static void
forget(be_admin_t *a, struct bufferevent *bev)
{
    for (size_t i = 0; i < BE_ARRAY_LEN(a->conns); i++)
        if (a->conns[i] == bev)
            a->conns[i] = NULL;
}

static void
on_admin_event(struct bufferevent *bev, short what, void *arg)
{
    BE_UNUSED(what);
    forget(arg, bev);
    bufferevent_free(bev);
}

static void
on_admin_written(struct bufferevent *bev, void *arg)
{
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        forget(arg, bev);
        bufferevent_free(bev);
    }
}

static void on_admin_read(struct bufferevent *bev, void *arg);

/* Queues the whole answer; the connection is freed once it has left. */
static void
reply(be_admin_t *a, struct bufferevent *bev, int status, const char *reason, const char *type,
      struct evbuffer *body)
{
    struct evbuffer *out = bufferevent_get_output(bev);
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nserver: blockedge\r\ncontent-type: %s\r\n"
                        "content-length: %zu\r\ncache-control: no-store\r\n"
                        "connection: close\r\n\r\n",
                        status, reason, type, evbuffer_get_length(body));
    evbuffer_add_buffer(out, body);
    bufferevent_disable(bev, EV_READ);
    bufferevent_setcb(bev, NULL, on_admin_written, on_admin_event, a);
    bufferevent_enable(bev, EV_WRITE);
}

static void
on_admin_read(struct bufferevent *bev, void *arg)
{
    be_admin_t *a = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in);
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    struct evbuffer *body = evbuffer_new();
    if (body == NULL) {
        on_admin_event(bev, 0, a);
        return;
    }
    if (end.pos < 0) {
        if (len > ADMIN_MAX_HEAD) {
            evbuffer_add_printf(body, "request header too large\n");
            reply(a, bev, 431, "Request Header Fields Too Large", "text/plain", body);
        }
        evbuffer_free(body);
        return;
    }
    char line[512];
    size_t n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
    evbuffer_copyout(in, line, n);
    line[n] = '\0';
    evbuffer_drain(in, len);
    char *eol = strstr(line, "\r\n");
    if (eol != NULL)
        *eol = '\0';
    char method[16], path[256];
    if (sscanf(line, "%15s %255s", method, path) != 2) {
        evbuffer_add_printf(body, "bad request\n");
        reply(a, bev, 400, "Bad Request", "text/plain", body);
    } else if (strcmp(method, "GET") != 0) {
        evbuffer_add_printf(body, "method not allowed\n");
        reply(a, bev, 405, "Method Not Allowed", "text/plain", body);
    } else if (strcmp(path, "/metrics") == 0) {
        if (render(a, 0, 0, body) == BE_OK)
            reply(a, bev, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
        else
            reply(a, bev, 500, "Internal Server Error", "text/plain", body);
    } else if (strcmp(path, "/stats") == 0 || strncmp(path, "/stats?", 7) == 0) {
        const char *query = strchr(path, '?');
        if (render(a, 1, query_top(query != NULL ? query + 1 : NULL), body) == BE_OK)
            reply(a, bev, 200, "OK", "application/json", body);
        else
            reply(a, bev, 500, "Internal Server Error", "text/plain", body);
    } else if (strcmp(path, "/healthz") == 0) {
        evbuffer_add_printf(body, "ok\n");
        reply(a, bev, 200, "OK", "text/plain", body);
    } else {
        evbuffer_add_printf(body, "not found: try /metrics, /stats or /healthz\n");
        reply(a, bev, 404, "Not Found", "text/plain", body);
    }
    evbuffer_free(body);
}

static void
on_admin_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                void *arg)
{
    BE_UNUSED(l);
    BE_UNUSED(salen);
    be_admin_t *a = arg;
    struct bufferevent *bev = bufferevent_socket_new(a->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        evutil_closesocket(fd);
        return;
    }
    size_t slot = 0;
    while (slot < BE_ARRAY_LEN(a->conns) && a->conns[slot] != NULL)
        slot++;
    if (slot == BE_ARRAY_LEN(a->conns)) {
        bufferevent_free(bev); /* too many scrapers at once */
        return;
    }
    a->conns[slot] = bev;
    struct timeval tv = {10, 0};
    bufferevent_set_timeouts(bev, &tv, &tv);
    bufferevent_setcb(bev, on_admin_read, NULL, on_admin_event, a);
    if (!be_config_acl_allows(a->svc->cfg, sa)) {
        struct evbuffer *body = evbuffer_new();
        if (body != NULL) {
            evbuffer_add_printf(body, "forbidden\n");
            reply(a, bev, 403, "Forbidden", "text/plain", body);
            evbuffer_free(body);
        }
        return;
    }
    bufferevent_enable(bev, EV_READ);
}

be_admin_t *
be_admin_new(struct event_base *base, be_services_t *svc)
{
    be_admin_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->svc = svc;
    a->base = base;
    a->started_us = be_clock_usec();
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

void
be_admin_free(be_admin_t **ap)
{
    be_admin_t *a = *ap;
    if (a == NULL)
        return;
    *ap = NULL;
    for (int i = 0; i < a->nlisteners; i++)
        evconnlistener_free(a->listeners[i]);
    if (a->drain_timer != NULL)
        event_free(a->drain_timer);
    for (size_t i = 0; i < BE_ARRAY_LEN(a->conns); i++)
        if (a->conns[i] != NULL)
            bufferevent_free(a->conns[i]);
    free(a);
}
