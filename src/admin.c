/*
 * admin.c - /metrics, /stats and /healthz on the admin listener.
 *
 * Sums the workers' counters (relaxed loads, no locks on their side) and reads the tiers'
 * gauges when asked. One request per connection, answered and closed: scrapers reconnect
 * anyway, and it keeps this module small. Peers are checked against allow/deny first.
 * The main thread is the popularity tracker's one consumer: a timer here drains the
 * workers' rings every BE_POPULARITY_DRAIN_MS, and each scrape drains them first.
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
#include "blockedge/origin.h"
#include "blockedge/popularity.h"
#include "blockedge/stats.h"
#include "blockedge/worker.h"

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

static be_msec_t
now_ms(void)
{
    return (be_msec_t)(be_monotonic_usec() / 1000);
}

static void
on_drain(evutil_socket_t fd, short what, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(what);
    be_admin_t *a = arg;
    be_popularity_drain(a->svc->popularity, now_ms());
}

/* /metrics families of the popularity tracker. */
static void
render_popularity(be_popularity_t *p, struct evbuffer *out)
{
    be_popularity_info_t info;
    be_popularity_zipf_t z;
    double bytes[BE_MRC_POINTS], hit[BE_MRC_POINTS];
    char labels[64];

    be_popularity_drain(p, now_ms());
    be_popularity_info(p, &info);
    be_popularity_zipf(p, &z);
    be_stats_render_family(out, "blockedge_popularity_references_total", "counter",
                           "Block references counted by the popularity statistics.");
    be_stats_render_sample(out, "blockedge_popularity_references_total", NULL,
                           (double)info.references);
    be_stats_render_family(out, "blockedge_popularity_dropped_total", "counter",
                           "Block references lost because a worker's ring was full.");
    be_stats_render_sample(out, "blockedge_popularity_dropped_total", NULL, (double)info.dropped);
    be_stats_render_family(out, "blockedge_popularity_zipf_exponent", "gauge",
                           "Zipf exponent s of the block popularity (share of rank r ~ r^-s), "
                           "maximum likelihood over the reliable top ranks; 0 until known.");
    be_stats_render_sample(out, "blockedge_popularity_zipf_exponent", NULL, z.exponent);
    be_stats_render_family(out, "blockedge_popularity_zipf_requests", "gauge",
                           "Requests (decayed) the Zipf exponent rests on.");
    be_stats_render_sample(out, "blockedge_popularity_zipf_requests", NULL, z.requests);
    be_stats_render_family(out, "blockedge_popularity_zipf_ranks", "gauge",
                           "Ranks the Zipf exponent was fitted over.");
    be_stats_render_sample(out, "blockedge_popularity_zipf_ranks", NULL, (double)z.ranks);
    size_t n = be_popularity_mrc(p, bytes, hit);
    if (n > 0) {
        be_stats_render_family(out, "blockedge_mrc_hit_ratio", "gauge",
                               "Predicted LRU hit ratio (SHARDS) of a memory tier of cache_bytes.");
        for (size_t i = 0; i < n; i += BE_MRC_PER_OCTAVE) {
            snprintf(labels, sizeof(labels), "cache_bytes=\"%.0f\"", bytes[i]);
            be_stats_render_sample(out, "blockedge_mrc_hit_ratio", labels, hit[i]);
        }
    }
    be_stats_render_family(out, "blockedge_mrc_sample_rate", "gauge",
                           "SHARDS key sample rate now in force.");
    be_stats_render_sample(out, "blockedge_mrc_sample_rate", NULL, info.sample_rate);
    be_stats_render_family(out, "blockedge_mrc_sampled_keys", "gauge",
                           "Keys SHARDS tracks now (bounded by mrc_max_keys).");
    be_stats_render_sample(out, "blockedge_mrc_sampled_keys", NULL, (double)info.sampled_keys);
    be_stats_render_family(out, "blockedge_popularity_memory_bytes", "gauge",
                           "Bytes allocated by the popularity statistics (fixed at start-up).");
    be_stats_render_sample(out, "blockedge_popularity_memory_bytes", NULL,
                           (double)info.memory_bytes);
}

static void
sum_stats(be_services_t *svc, be_stats_t *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (int i = 0; i < svc->nworkers; i++)
        be_stats_accumulate(sum, &svc->workers[i]->stats);
}

void
be_admin_render_metrics(be_services_t *svc, struct evbuffer *out)
{
    be_stats_t *sum = malloc(sizeof(*sum));
    if (sum == NULL)
        return;
    sum_stats(svc, sum);
    be_stats_render(sum, out);
    free(sum);

    be_memcache_stats_t mc;
    be_memcache_stats(svc->memcache, &mc);
    be_diskstore_stats_t ds = {0};
    if (svc->disk != NULL)
        be_diskstore_stats(svc->disk, &ds);
    be_stats_render_family(out, "blockedge_cache_blocks", "gauge", "Blocks held, by tier.");
    be_stats_render_sample(out, "blockedge_cache_blocks", "tier=\"memory\"", (double)mc.blocks);
    if (svc->disk != NULL)
        be_stats_render_sample(out, "blockedge_cache_blocks", "tier=\"disk\"", (double)ds.blocks);
    be_stats_render_family(out, "blockedge_cache_bytes", "gauge",
                           "Bytes held (blocks and index), by tier.");
    be_stats_render_sample(out, "blockedge_cache_bytes", "tier=\"memory\"", (double)mc.bytes);
    if (svc->disk != NULL)
        be_stats_render_sample(out, "blockedge_cache_bytes", "tier=\"disk\"", (double)ds.bytes);
    be_stats_render_family(out, "blockedge_cache_capacity_bytes", "gauge",
                           "Configured capacity in bytes, by tier.");
    be_stats_render_sample(out, "blockedge_cache_capacity_bytes", "tier=\"memory\"",
                           (double)mc.capacity);
    if (svc->disk != NULL)
        be_stats_render_sample(out, "blockedge_cache_capacity_bytes", "tier=\"disk\"",
                               (double)ds.capacity);
    be_stats_render_family(out, "blockedge_cache_evictions_total", "counter",
                           "Blocks evicted to make room, by tier.");
    be_stats_render_sample(out, "blockedge_cache_evictions_total", "tier=\"memory\"",
                           (double)mc.evictions);
    if (svc->disk != NULL) {
        be_stats_render_sample(out, "blockedge_cache_evictions_total", "tier=\"disk\"",
                               (double)ds.evictions);
        be_cache_disk_render(&ds, out);
    } else { /* a contract metric: present, and 0, on a memory-only node too */
        be_stats_render_family(
            out, "blockedge_disk_corruptions_total", "counter",
            "Disk records that failed their checks on read (dropped, refetched).");
        be_stats_render_sample(out, "blockedge_disk_corruptions_total", NULL, 0);
    }
    be_stats_render_family(out, "blockedge_inflight_fetches", "gauge",
                           "Origin fetches under way now.");
    be_stats_render_sample(out, "blockedge_inflight_fetches", NULL,
                           (double)be_inflight_count(svc->inflight));
    be_origin_render_metrics(svc, out);

    uint64_t allocated, resident;
    if (be_alloc_stats(&allocated, &resident) == BE_OK) {
        be_stats_render_family(out, "blockedge_memory_allocated_bytes", "gauge",
                               "Bytes allocated by blockedge, from jemalloc.");
        be_stats_render_sample(out, "blockedge_memory_allocated_bytes", NULL, (double)allocated);
        be_stats_render_family(out, "blockedge_memory_resident_bytes", "gauge",
                               "Bytes in physically resident pages mapped by jemalloc.");
        be_stats_render_sample(out, "blockedge_memory_resident_bytes", NULL, (double)resident);
    }
    if (svc->popularity != NULL)
        render_popularity(svc->popularity, out);
    be_stats_render_family(out, "blockedge_build_info", "gauge",
                           "Build information; the value is always 1.");
    be_stats_render_sample(out, "blockedge_build_info", "version=\"" BE_VERSION "\"", 1);
}

static void
json_popularity(be_popularity_t *p, const be_config_t *cfg, size_t top, struct evbuffer *out)
{
    be_popularity_info_t info;
    be_popularity_zipf_t z;
    double bytes[BE_MRC_POINTS], hit[BE_MRC_POINTS];
    char hex[BE_KEY_HEX_LEN + 1];

    be_popularity_drain(p, now_ms());
    be_popularity_info(p, &info);
    be_popularity_zipf(p, &z);
    evbuffer_add_printf(out,
                        ",\"popularity\":{\"references\":%" PRIu64 ",\"dropped\":%" PRIu64
                        ",\"top_k\":%d,\"half_life_seconds\":%.3f,\"memory_bytes\":%" PRIu64
                        ",\"zipf\":{\"exponent\":%.6f,\"requests\":%.1f,\"ranks\":%u},\"top\":[",
                        info.references, info.dropped, cfg->popularity_top_k,
                        (double)cfg->popularity_half_life / 1000, info.memory_bytes, z.exponent,
                        z.requests, z.ranks);
    be_popularity_item_t *items = top > 0 ? malloc(top * sizeof(*items)) : NULL;
    size_t n = items != NULL ? be_popularity_top(p, items, top) : 0;
    for (size_t i = 0; i < n; i++)
        evbuffer_add_printf(out, "%s{\"key\":\"%s\",\"count\":%.1f,\"error\":%.1f}",
                            i > 0 ? "," : "", be_key_to_hex(&items[i].key, hex), items[i].count,
                            items[i].error);
    free(items);
    evbuffer_add_printf(out,
                        "],\"mrc\":{\"sample_rate\":%.8f,\"sampled_keys\":%" PRIu64
                        ",\"sampled_references\":%" PRIu64 ",\"memory_size\":%" PRIu64
                        ",\"curve\":[",
                        info.sample_rate, info.sampled_keys, info.sampled_refs, info.memory_size);
    size_t m = be_popularity_mrc(p, bytes, hit);
    for (size_t i = 0; i < m; i++)
        evbuffer_add_printf(out, "%s{\"cache_bytes\":%.0f,\"hit_ratio\":%.6f}", i > 0 ? "," : "",
                            bytes[i], hit[i]);
    evbuffer_add_printf(out, "]}}");
}

static void
render_stats_json(be_admin_t *a, size_t top, struct evbuffer *out)
{
    be_services_t *svc = a->svc;
    be_stats_t *s = malloc(sizeof(*s));
    if (s == NULL)
        return;
    sum_stats(svc, s);
    be_memcache_stats_t mc;
    be_memcache_stats(svc->memcache, &mc);
    uint64_t hits = be_stat_get(&s->hits[BE_TIER_MEMORY]) + be_stat_get(&s->hits[BE_TIER_DISK]);
    uint64_t misses = be_stat_get(&s->ctr[BE_CTR_CACHE_MISSES]);
    double ratio = hits + misses ? (double)hits / (double)(hits + misses) : 0.0;
    uint64_t requests = 0;
    for (int p = 0; p < BE_PROTO_N; p++)
        for (int c = 0; c < BE_CODE_N; c++)
            requests += be_stat_get(&s->requests[p][c]);
    evbuffer_add_printf(
        out,
        "{\"version\":\"%s\",\"workers\":%d,\"uptime_seconds\":%.3f,\"requests\":%" PRIu64
        ",\"hits\":{\"memory\":%" PRIu64 ",\"disk\":%" PRIu64 "},\"misses\":%" PRIu64
        ",\"hit_ratio\":%.6f,\"coalesced\":%" PRIu64 ",\"origin\":{\"requests\":%" PRIu64
        ",\"inflight\":%u,\"errors\":{",
        BE_VERSION, svc->nworkers, (double)(be_monotonic_usec() - a->started_us) / 1e6, requests,
        be_stat_get(&s->hits[BE_TIER_MEMORY]), be_stat_get(&s->hits[BE_TIER_DISK]), misses, ratio,
        be_stat_get(&s->ctr[BE_CTR_COALESCED]), be_stat_get(&s->ctr[BE_CTR_ORIGIN_REQUESTS]),
        be_inflight_count(svc->inflight));
    for (int r = 1; r < BE_FETCH_NSTATUS; r++)
        evbuffer_add_printf(out, "%s\"%s\":%" PRIu64, r > 1 ? "," : "",
                            be_fetch_label((be_fetch_status_t)r),
                            be_stat_get(&s->origin_errors[r]));
    uint64_t allocated = 0, resident = 0;
    be_alloc_stats(&allocated, &resident);
    evbuffer_add_printf(out,
                        "}},\"cache\":{\"memory\":{\"blocks\":%" PRIu64 ",\"bytes\":%" PRIu64
                        ",\"capacity_bytes\":%" PRIu64 ",\"evictions\":%" PRIu64
                        "}},\"sent_bytes\":%" PRIu64 ",\"connections\":{\"accepted\":%" PRIu64
                        ",\"open\":%" PRIu64 "},\"memory\":{\"allocated_bytes\":%" PRIu64
                        ",\"resident_bytes\":%" PRIu64 "},\"metrics\":{",
                        mc.blocks, mc.bytes, mc.capacity, mc.evictions,
                        be_stat_get(&s->ctr[BE_CTR_SENT_BYTES]),
                        be_stat_get(&s->ctr[BE_CTR_CONNECTIONS_ACCEPTED]),
                        be_stat_get(&s->ctr[BE_CTR_CONNECTIONS_OPEN]), allocated, resident);
    /* every unlabelled counter under its Prometheus name */
    for (int i = 0; i < BE_CTR_N; i++)
        evbuffer_add_printf(out, "%s\"%s\":%" PRIu64, i > 0 ? "," : "", be_stats_counter_name(i),
                            be_stat_get(&s->ctr[i]));
    evbuffer_add_printf(out, "}");
    free(s);
    if (svc->popularity != NULL)
        json_popularity(svc->popularity, svc->cfg, top, out);
    evbuffer_add_printf(out, "}\n");
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
        be_admin_render_metrics(a->svc, body);
        reply(a, bev, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
    } else if (strcmp(path, "/stats") == 0 || strncmp(path, "/stats?", 7) == 0) {
        render_stats_json(a, query_top(strchr(path, '?') != NULL ? strchr(path, '?') + 1 : NULL),
                          body);
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
    a->started_us = be_monotonic_usec();
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
    if (a->drain_timer != NULL)
        event_free(a->drain_timer);
    for (size_t i = 0; i < BE_ARRAY_LEN(a->conns); i++)
        if (a->conns[i] != NULL)
            bufferevent_free(a->conns[i]);
    free(a);
}
