/*
 * admin.c - /metrics, /stats and /healthz on the admin listener.
 *
 * Sums the workers' counters (relaxed loads, no locks on their side) and reads the tiers'
 * gauges when asked. One request per connection, answered and closed: scrapers reconnect
 * anyway, and it keeps this module small. Peers are checked against allow/deny first.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "blockedge/admin.h"
#include "blockedge/alloc.h"
#include "blockedge/cache.h"
#include "blockedge/diskstore.h"
#include "blockedge/inflight.h"
#include "blockedge/log.h"
#include "blockedge/memcache.h"
#include "blockedge/stats.h"
#include "blockedge/worker.h"

#define ADMIN_MAX_HEAD 8192

struct be_admin_s {
    be_server_t *srv;
    struct event_base *base;
    struct evconnlistener *listeners[BE_MAX_LISTEN];
    int nlisteners;
    struct bufferevent *conns[64]; /* open admin connections, for teardown */
    be_msec_t started;
};

static void
sum_stats(be_server_t *srv, be_stats_t *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (int i = 0; i < srv->nworkers; i++)
        be_stats_accumulate(sum, &srv->workers[i]->stats);
}

void
be_admin_render_metrics(be_server_t *srv, struct evbuffer *out)
{
    be_stats_t *sum = malloc(sizeof(*sum));
    if (sum == NULL)
        return;
    sum_stats(srv, sum);
    be_stats_render(sum, out);
    free(sum);

    be_memcache_stats_t mc;
    be_memcache_stats(srv->memcache, &mc);
    be_diskstore_stats_t ds = {0};
    if (srv->disk != NULL)
        be_diskstore_stats(srv->disk, &ds);
    be_stats_render_family(out, "blockedge_cache_blocks", "gauge", "Blocks held, by tier.");
    be_stats_render_sample(out, "blockedge_cache_blocks", "tier=\"memory\"", (double)mc.blocks);
    if (srv->disk != NULL)
        be_stats_render_sample(out, "blockedge_cache_blocks", "tier=\"disk\"", (double)ds.blocks);
    be_stats_render_family(out, "blockedge_cache_bytes", "gauge",
                           "Bytes held (blocks and index), by tier.");
    be_stats_render_sample(out, "blockedge_cache_bytes", "tier=\"memory\"", (double)mc.bytes);
    if (srv->disk != NULL)
        be_stats_render_sample(out, "blockedge_cache_bytes", "tier=\"disk\"", (double)ds.bytes);
    be_stats_render_family(out, "blockedge_cache_capacity_bytes", "gauge",
                           "Configured capacity in bytes, by tier.");
    be_stats_render_sample(out, "blockedge_cache_capacity_bytes", "tier=\"memory\"",
                           (double)mc.capacity);
    if (srv->disk != NULL)
        be_stats_render_sample(out, "blockedge_cache_capacity_bytes", "tier=\"disk\"",
                               (double)ds.capacity);
    be_stats_render_family(out, "blockedge_cache_evictions_total", "counter",
                           "Blocks evicted to make room, by tier.");
    be_stats_render_sample(out, "blockedge_cache_evictions_total", "tier=\"memory\"",
                           (double)mc.evictions);
    if (srv->disk != NULL) {
        be_stats_render_sample(out, "blockedge_cache_evictions_total", "tier=\"disk\"",
                               (double)ds.evictions);
        be_cache_disk_render(&ds, out);
    }
    be_stats_render_family(out, "blockedge_inflight_fetches", "gauge",
                           "Origin fetches under way now.");
    be_stats_render_sample(out, "blockedge_inflight_fetches", NULL,
                           (double)be_inflight_count(srv->inflight));

    uint64_t allocated, resident;
    if (be_alloc_stats(&allocated, &resident) == BE_OK) {
        be_stats_render_family(out, "blockedge_memory_allocated_bytes", "gauge",
                               "Bytes allocated by blockedge, from jemalloc.");
        be_stats_render_sample(out, "blockedge_memory_allocated_bytes", NULL, (double)allocated);
        be_stats_render_family(out, "blockedge_memory_resident_bytes", "gauge",
                               "Bytes in physically resident pages mapped by jemalloc.");
        be_stats_render_sample(out, "blockedge_memory_resident_bytes", NULL, (double)resident);
    }
    be_stats_render_family(out, "blockedge_build_info", "gauge",
                           "Build information; the value is always 1.");
    be_stats_render_sample(out, "blockedge_build_info", "version=\"" BE_VERSION "\"", 1);
}

static void
render_stats_json(be_admin_t *a, struct evbuffer *out)
{
    be_server_t *srv = a->srv;
    be_stats_t *s = malloc(sizeof(*s));
    if (s == NULL)
        return;
    sum_stats(srv, s);
    be_memcache_stats_t mc;
    be_memcache_stats(srv->memcache, &mc);
    uint64_t hits = be_stat_get(&s->hits[BE_TIER_MEMORY]) + be_stat_get(&s->hits[BE_TIER_DISK]);
    uint64_t misses = be_stat_get(&s->ctr[BE_CTR_CACHE_MISSES]);
    double ratio = hits + misses ? (double)hits / (double)(hits + misses) : 0.0;
    evbuffer_add_printf(
        out,
        "{\"version\":\"%s\",\"workers\":%d,\"hits\":{\"memory\":%" PRIu64 ",\"disk\":%" PRIu64
        "},\"misses\":%" PRIu64 ",\"hit_ratio\":%.6f,\"coalesced\":%" PRIu64
        ",\"origin\":{\"requests\":%" PRIu64 ",\"inflight\":%u,\"errors\":{",
        BE_VERSION, srv->nworkers, be_stat_get(&s->hits[BE_TIER_MEMORY]),
        be_stat_get(&s->hits[BE_TIER_DISK]), misses, ratio, be_stat_get(&s->ctr[BE_CTR_COALESCED]),
        be_stat_get(&s->ctr[BE_CTR_ORIGIN_REQUESTS]), be_inflight_count(srv->inflight));
    for (int r = 1; r < BE_FETCH_NSTATUS; r++)
        evbuffer_add_printf(out, "%s\"%s\":%" PRIu64, r > 1 ? "," : "",
                            be_fetch_label((be_fetch_status_t)r),
                            be_stat_get(&s->origin_errors[r]));
    evbuffer_add_printf(
        out,
        "}},\"cache\":{\"memory\":{\"blocks\":%" PRIu64 ",\"bytes\":%" PRIu64
        ",\"capacity_bytes\":%" PRIu64 ",\"evictions\":%" PRIu64 "}},\"sent_bytes\":%" PRIu64 "}\n",
        mc.blocks, mc.bytes, mc.capacity, mc.evictions, be_stat_get(&s->ctr[BE_CTR_SENT_BYTES]));
    free(s);
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
        be_admin_render_metrics(a->srv, body);
        reply(a, bev, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
    } else if (strcmp(path, "/stats") == 0) {
        render_stats_json(a, body);
        reply(a, bev, 200, "OK", "application/json", body);
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
    if (!be_config_acl_allows(a->srv->cfg, sa)) {
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
be_admin_new(struct event_base *base, be_server_t *srv)
{
    be_admin_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->srv = srv;
    a->base = base;
    const be_config_t *cfg = srv->cfg;
    for (int i = 0; i < cfg->nadmin_listen; i++) {
        const be_listen_t *ls = &cfg->admin_listen[i];
        struct evconnlistener *l = evconnlistener_new_bind(
            base, on_admin_accept, a,
            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 64,
            (const struct sockaddr *)&ls->addr, (int)ls->addrlen);
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

void
be_admin_free(be_admin_t **ap)
{
    be_admin_t *a = *ap;
    if (a == NULL)
        return;
    *ap = NULL;
    for (int i = 0; i < a->nlisteners; i++)
        evconnlistener_free(a->listeners[i]);
    for (size_t i = 0; i < BE_ARRAY_LEN(a->conns); i++)
        if (a->conns[i] != NULL)
            bufferevent_free(a->conns[i]);
    free(a);
}
