/*
 * origin_peers.c - which server an attempt goes to, and each server's circuit breaker.
 *
 * Every `server` line is a peer. A fetch picks peers round robin among the primaries;
 * backups only when every primary is down or was already tried for this fetch. Each peer
 * has a breaker (per worker, as nginx's upstreams without a zone; breaker.c): max_fails
 * consecutive connect errors, 5xx or timeouts mark it down for fail_timeout; then one
 * fetch probes it (half-open) and its outcome closes the breaker or opens it again; a lone
 * server has no breaker. A fetch with no live peer ends at once with "connect" (502).
 */
#include <stdatomic.h>

#include "blockedge/log.h"
#include "blockedge/worker.h"
#include "origin_int.h"

/* Round robin over one class (0 primaries, 1 backups); untried peers first when `fresh`. */
static peer_t *
pick_class(be_origin_t *o, fetch_t *f, int backup, int fresh, be_msec_t now)
{
    for (int n = 0; n < o->npeers; n++) {
        peer_t *p = &o->peers[(o->rr[backup] + (unsigned)n) % (unsigned)o->npeers];
        if (p->srv->backup != backup || !be_breaker_usable(&p->breaker, o->max_fails, now))
            continue;
        if (fresh && (f->tried & (1u << p->index)))
            continue;
        if (f->attempts == 0) /* a retry leaves the cursor: first attempts stay even */
            o->rr[backup] = (unsigned)p->index + 1;
        return p;
    }
    return NULL;
}

peer_t *
be_origin_pick_peer(be_origin_t *o, fetch_t *f, be_msec_t now)
{
    peer_t *p = pick_class(o, f, 0, 1, now);
    if (p == NULL)
        p = pick_class(o, f, 1, 1, now);
    if (p == NULL)
        p = pick_class(o, f, 0, 0, now);
    if (p == NULL)
        p = pick_class(o, f, 1, 0, now);
    return p;
}

/* Feeds one attempt's outcome to its peer's breaker: failed = connect error, 5xx, timeout
 * or a broken transfer; anything else (200, 404, 403, a bad digest) shows the peer up. */
void
be_origin_peer_outcome(be_origin_t *o, peer_t *p, int failed)
{
    const be_config_t *cfg = o->cfg;
    char iv[32];
    switch (be_breaker_outcome(&p->breaker, failed, o->max_fails, cfg->fail_timeout,
                               be_worker_now(o->w))) {
    case BE_BREAKER_TRIPPED:
        atomic_store_explicit(&p->marked_down, 1, memory_order_relaxed);
        be_stats_inc(&o->w->stats, ORIGIN_MARKED_DOWN);
        be_origin_interval_text(cfg->fail_timeout, iv, sizeof(iv));
        be_log(BE_LOG_WARN, "origin \"%s\": %d failure(s) in a row, marked down for %s",
               p->srv->url, p->breaker.fails, iv);
        break;
    case BE_BREAKER_RECOVERED:
        atomic_store_explicit(&p->marked_down, 0, memory_order_relaxed);
        be_log(BE_LOG_NOTICE, "origin \"%s\" answers again: marked up", p->srv->url);
        break;
    default:
        break;
    }
}
