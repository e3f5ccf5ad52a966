/*
 * origin.c - the origin client of one worker: a fetch's life from be_origin_fetch() to its
 * one callback, its attempts and retries within the deadline, and verification.
 *
 * Attempts. A connect error, a 5xx, a timeout or a broken transfer is retried `retries`
 * times, on a peer not yet tried when there is one (origin_peers.c chooses), within the
 * fetch's deadline (fetch_timeout, which ends the fetch with 504 wherever it is).
 * read_timeout is the longest silence within one attempt (origin_http.c's stall timer).
 * Only bytes whose SHA-256 equals the key become a block. An attempt is carried by
 * origin_http.c (http, https, s3) or origin_file.c (file://); its end comes back here
 * through be_origin_attempt_end(), which feeds the breaker and the error log
 * (origin_report.c) and retries or completes. Completions run from the event loop, never
 * inside a libcurl callback. Nothing here locks: a client and its peers belong to one
 * worker; the admin thread reads only the atomic marked_down flags.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "blockedge/check.h"
#include "blockedge/clock.h"
#include "blockedge/origin.h"
#include "blockedge/services.h"
#include "blockedge/worker.h"
#include "origin_int.h"

static int start_attempt(fetch_t *f);
static void unlink_fetch(fetch_t *f);
static void finish_queued(fetch_t *f, be_fetch_status_t status);
static void start_queued(be_origin_t *o);
static void on_sweep(evutil_socket_t fd, short kind, void *arg);

int
be_origin_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? BE_OK : BE_ERROR;
}

void
be_origin_global_cleanup(void)
{
    curl_global_cleanup();
}

/* ---- the client ------------------------------------------------------------------------ */

/* Fills the peer table from o->cfg. Returns whether a server is s3://. */
static int
setup_peers(be_origin_t *o)
{
    int s3 = 0;
    o->npeers = o->cfg->nservers;
    /* A lone server is never marked down (nginx does the same): with nowhere else to send a
     * miss, skipping it would only turn its errors into ours, and an S3 hiccup into 502s
     * for fail_timeout. */
    o->max_fails = o->npeers > 1 ? o->cfg->max_fails : 0;
    int cap = o->cfg->origin_max_inflight > 0 ? o->cfg->origin_max_inflight : 1024 * o->npeers;
    int nw = o->w->svc->nworkers > 0 ? o->w->svc->nworkers : 1;
    o->max_active = cap / nw > 0 ? (unsigned)(cap / nw) : 1;
    int conns = o->cfg->origin_max_conns > 0 ? o->cfg->origin_max_conns / nw : 0;
    be_origin_http_set_max_conns(o, o->cfg->origin_max_conns > 0 && conns < 1 ? 1 : conns);
    for (int i = 0; i <= NO_PEER; i++)
        o->peers[i].index = i;
    for (int i = 0; i < o->npeers; i++) {
        peer_t *p = &o->peers[i];
        p->srv = &o->cfg->servers[i];
        if (p->srv->kind == BE_ORIGIN_FILE) {
            snprintf(p->base, sizeof(p->base), "%s", p->srv->path);
        } else if (p->srv->kind == BE_ORIGIN_S3) {
            s3 = 1;
            if (o->cfg->s3_endpoint[0] != '\0')
                snprintf(p->base, sizeof(p->base), "%s/%s", o->cfg->s3_endpoint, p->srv->path);
            else
                snprintf(p->base, sizeof(p->base), "https://s3.%s.amazonaws.com/%s",
                         o->cfg->s3_region, p->srv->path);
        } else {
            snprintf(p->base, sizeof(p->base), "%s", p->srv->url);
        }
    }
    return s3;
}

be_origin_t *
be_origin_new(be_worker_t *w)
{
    be_origin_t *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    o->magic = ORIGIN_MAGIC;
    o->w = w;
    o->cfg = w->cfg;
    o->sweep = evtimer_new(w->base, on_sweep, o);
    if (o->sweep == NULL || be_origin_http_init(o) != BE_OK || be_origin_report_init(o) != BE_OK) {
        be_origin_free(&o);
        return NULL;
    }
    if (setup_peers(o) && be_origin_s3_setup(o) != BE_OK) {
        be_origin_free(&o);
        return NULL;
    }
    return o;
}

void
be_origin_reconfigure(be_origin_t *o, const be_config_t *cfg)
{
    BE_CHECK_OBJ_NOTNULL(o, ORIGIN_MAGIC);
    be_origin_report_flush(o);
    o->cfg = cfg;
    o->rr[0] = o->rr[1] = 0;
    for (int i = 0; i <= NO_PEER; i++) {
        peer_t *p = &o->peers[i];
        memset(&p->breaker, 0, sizeof(p->breaker));
        atomic_store_explicit(&p->marked_down, 0, memory_order_relaxed);
        memset(p->reported, 0, sizeof(p->reported));
        memset(p->pending, 0, sizeof(p->pending));
    }
    /* A fetch in flight keeps its URL; if its attempt fails, the outcome lands on whichever
     * server now holds its peer slot, and a retry goes to the new servers. */
    if (setup_peers(o))
        be_origin_s3_refresh(o);
    start_queued(o); /* a larger origin_max_inflight frees slots at once */
}

void
be_origin_free(be_origin_t **op)
{
    be_origin_t *o = *op;
    if (o == NULL)
        return;
    *op = NULL;
    BE_CHECK_OBJ_NOTNULL(o, ORIGIN_MAGIC);
    o->closing = 1;
    while (o->qhead != NULL)
        finish_queued(o->qhead, BE_FETCH_CONNECT);
    while (o->active != NULL) {
        fetch_t *f = o->active;
        if (f->easy == NULL && !f->deferred) {
            /* A file read still on the I/O pool or in the mailbox (the server drains the pool
             * first, so this is a safety net): the caller gets its end now; the completion
             * then sees f->o == NULL and only frees f. */
            unlink_fetch(f);
            f->o = NULL;
            if (f->timer != NULL) {
                event_free(f->timer);
                f->timer = NULL;
            }
            be_stat_add(&o->w->stats.origin_errors[BE_FETCH_CONNECT], 1);
            f->cb(f->arg, BE_FETCH_CONNECT, NULL); /* its caller is not left waiting */
            continue;
        }
        f->expired = 1; /* no retry */
        if (f->deferred) {
            f->deferred = 0;
            be_origin_attempt_end(f, f->status, 0);
        } else {
            be_origin_attempt_end(f, BE_FETCH_CONNECT, 0);
        }
    }
    if (o->sweep != NULL)
        event_free(o->sweep);
    be_origin_http_dispose(o);
    if (o->summary != NULL)
        event_free(o->summary);
    be_origin_s3_dispose(o);
    o->magic = 0;
    free(o);
}

void
be_origin_marked_down(be_services_t *svc, unsigned *down, int n)
{
    const be_config_t *cfg = svc->cfg;
    for (int i = 0; i < cfg->nservers && i < n; i++) {
        down[i] = 0;
        for (int k = 0; k < svc->nworkers; k++) {
            be_origin_t *o = svc->workers[k] != NULL ? svc->workers[k]->origin : NULL;
            if (o != NULL)
                down[i] += atomic_load_explicit(&o->peers[i].marked_down, memory_order_relaxed);
        }
    }
}

unsigned
be_origin_active(const be_origin_t *o)
{
    BE_CHECK_OBJ_ORNULL(o, ORIGIN_MAGIC);
    return o != NULL ? o->nactive + o->nqueued : 0;
}

void
be_origin_set_orphan_check(be_origin_t *o, int (*orphaned)(void *arg))
{
    BE_CHECK_OBJ_NOTNULL(o, ORIGIN_MAGIC);
    o->orphaned = orphaned;
}

/* ---- one fetch ----------------------------------------------------------------------- */

be_fetch_status_t
be_origin_verify(fetch_t *f)
{
    be_key_t got;
    if (f->block == NULL) {
        f->block = be_block_new(&f->key, 0); /* an empty block has a name too */
        if (f->block == NULL)
            return BE_FETCH_STATUS;
    }
    if (f->declared >= 0 && (uint64_t)f->declared != f->block->size) {
        snprintf(f->why, sizeof(f->why), "%zu bytes where Content-Length said %lld", f->block->size,
                 (long long)f->declared);
        return BE_FETCH_STATUS;
    }
    if (be_sha256_final(&f->sha, &got) != BE_OK)
        return BE_FETCH_STATUS;
    if (!be_key_equal(&got, &f->key)) {
        char hex[BE_KEY_HEX_LEN + 1];
        snprintf(f->why, sizeof(f->why), "sent %zu bytes whose SHA-256 is %s: not cached",
                 f->block->size, be_key_to_hex(&got, hex));
        return BE_FETCH_DIGEST_MISMATCH;
    }
    be_block_trim(f->block); /* a fill without Content-Length grew by doubling */
    return BE_FETCH_OK;
}

static void
unlink_fetch(fetch_t *f)
{
    be_origin_t *o = f->o;
    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        o->active = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    o->nactive--;
}

/* The one end of every fetch: account it, hand the outcome over, free it. */
static void
complete(fetch_t *f, be_fetch_status_t status)
{
    be_origin_t *o = f->o;
    be_worker_t *w = o->w;
    unlink_fetch(f);
    if (f->timer != NULL)
        event_free(f->timer);
    be_stats_observe(&w->stats.fetch_duration, be_clock_usec() - f->started_us);
    if (status != BE_FETCH_OK) {
        be_stat_add(&w->stats.origin_errors[status], 1);
        be_block_unref(&f->block);
    }
    be_block_t *b = f->block;
    f->block = NULL;
    f->cb(f->arg, status, b);
    free(f);
    start_queued(o);
    be_worker_check_idle(w);
}

/* The end of one attempt: breaker, log, then a retry or the end of the fetch. `transient`
 * marks a failure of the server (connect error, 5xx, timeout, broken transfer). */
void
be_origin_attempt_end(fetch_t *f, be_fetch_status_t status, int transient)
{
    be_origin_t *o = f->o;
    be_worker_t *w = o->w;
    peer_t *p = f->peer;
    if (status == BE_FETCH_OK && !f->verified)
        status = be_origin_verify(f);
    f->verified = 0;
    if (p != NULL && !o->closing) {
        be_origin_peer_outcome(o, p, transient);
        if (status != BE_FETCH_OK && status != BE_FETCH_NOT_FOUND) {
            char detail[CURL_ERROR_SIZE + 64];
            be_origin_describe(f, status, detail, sizeof(detail));
            be_origin_report(o, p, status, f->hex, detail);
        }
    }
    be_origin_http_release(f);

    if (status != BE_FETCH_OK && transient && f->attempts <= o->cfg->retries && !f->expired &&
        !w->stopping && !o->closing && be_worker_now(w) < f->deadline) {
        be_block_unref(&f->block);
        f->failed = 0;
        f->code = 0;
        f->errbuf[0] = '\0';
        f->why[0] = '\0';
        if (start_attempt(f) == BE_OK) {
            be_stats_inc(&w->stats, ORIGIN_RETRIES);
            return;
        }
    }
    complete(f, status);
}

/* The fetch deadline, or a completion deferred out of be_origin_fetch(). */
static void
on_fetch_timer(evutil_socket_t fd, short kind, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(kind);
    fetch_t *f = arg;
    if (f->queued) {
        be_origin_t *o = f->o;
        if (o->orphaned != NULL && o->orphaned(f->arg)) {
            be_stats_inc(&o->w->stats, ORIGIN_ORPHANS_CANCELLED);
            finish_queued(f, BE_FETCH_CANCELLED);
        } else {
            be_stats_inc(&o->w->stats, ORIGIN_QUEUE_REJECTED);
            finish_queued(f, BE_FETCH_BUSY);
        }
        return;
    }
    if (f->deferred) {
        f->deferred = 0;
        complete(f, f->status);
        return;
    }
    f->expired = 1;
    if (f->easy == NULL)
        return; /* a file read on the pool: it ends by itself */
    snprintf(f->why, sizeof(f->why), "fetch_timeout of %lld ms passed",
             (long long)f->o->cfg->fetch_timeout);
    be_origin_attempt_end(f, BE_FETCH_TIMEOUT, 1);
}

/* ---- file:// ------------------------------------------------------------------------- */

/* ---- attempts ------------------------------------------------------------------------ */

/* Picks a peer and starts one attempt on it. BE_OK, or BE_DECLINED (no live peer) or
 * BE_ERROR (out of memory), both with nothing started. */
static int
start_attempt(fetch_t *f)
{
    be_origin_t *o = f->o;
    be_msec_t now = be_worker_now(o->w);
    peer_t *p = be_origin_pick_peer(o, f, now);
    if (p == NULL)
        return BE_DECLINED;
    f->peer = p;
    f->tried |= 1u << p->index;
    f->attempts++;
    f->declared = -1;
    be_breaker_begin(&p->breaker, o->max_fails); /* half-open: a probe decides */
    snprintf(f->url, sizeof(f->url), "%s%s", p->base, f->hex);
    if (be_sha256_init(&f->sha) != BE_OK)
        return BE_ERROR;
    int rc = p->srv->kind == BE_ORIGIN_FILE ? be_origin_file_start(f) : be_origin_http_start(f);
    if (rc != BE_OK) {
        be_breaker_cancel(&p->breaker);
        be_sha256_free(&f->sha);
        return BE_ERROR;
    }
    be_stats_inc(&o->w->stats, ORIGIN_REQUESTS);
    return BE_OK;
}

/* Starts f's first attempt and links it to the active fetches. BE_OK or BE_ERROR (nothing
 * started; f is the caller's). */
static int
begin(fetch_t *f)
{
    be_origin_t *o = f->o;
    f->deadline = be_worker_now(o->w) + o->cfg->fetch_timeout;
    int rc = start_attempt(f);
    if (rc == BE_ERROR)
        return BE_ERROR;
    struct timeval tv = {0, 0};
    if (rc == BE_DECLINED) {
        /* every server is down: fail at once, but from the loop, never from here */
        be_stats_inc(&o->w->stats, ORIGIN_UNAVAILABLE);
        be_origin_report(o, &o->peers[NO_PEER], BE_FETCH_CONNECT, f->hex,
                         "every server is marked down; none tried");
        f->status = BE_FETCH_CONNECT;
        f->deferred = 1;
    } else {
        be_msec_t t = o->cfg->fetch_timeout;
        tv.tv_sec = t / 1000;
        tv.tv_usec = (t % 1000) * 1000;
    }
    evtimer_del(f->timer);
    evtimer_add(f->timer, &tv);
    f->next = o->active;
    f->prev = NULL;
    if (o->active != NULL)
        o->active->prev = f;
    o->active = f;
    o->nactive++;
    return BE_OK;
}

/* ---- the queue (origin_max_inflight) -------------------------------------------------- */

static void
unqueue(fetch_t *f)
{
    be_origin_t *o = f->o;
    fetch_t **pp = &o->qhead, *prev = NULL;
    while (*pp != f) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    *pp = f->next;
    if (o->qtail == f)
        o->qtail = prev;
    f->next = NULL;
    f->queued = 0;
    o->nqueued--;
    be_stat_sub(&o->w->stats.ctr[BE_CTR_ORIGIN_QUEUED], 1);
}

/* A waiting fetch ends without having started (timeout: BE_FETCH_BUSY; cancelled; the client
 * going away). */
static void
finish_queued(fetch_t *f, be_fetch_status_t status)
{
    be_origin_t *o = f->o;
    be_worker_t *w = o->w;
    unqueue(f);
    event_free(f->timer);
    be_stat_add(&w->stats.origin_errors[status], 1);
    f->cb(f->arg, status, NULL);
    free(f);
    be_worker_check_idle(w);
}

/* Starts waiting fetches while there are slots, oldest first; one every client has left
 * meanwhile ends instead (BE_FETCH_CANCELLED) without costing the origin anything. */
static void
start_queued(be_origin_t *o)
{
    while (o->qhead != NULL && o->nactive < o->max_active && !o->closing) {
        fetch_t *f = o->qhead;
        if (o->orphaned != NULL && o->orphaned(f->arg)) {
            be_stats_inc(&o->w->stats, ORIGIN_ORPHANS_CANCELLED);
            finish_queued(f, BE_FETCH_CANCELLED);
            continue;
        }
        unqueue(f);
        if (begin(f) != BE_OK) {
            event_free(f->timer);
            be_stat_add(&o->w->stats.origin_errors[BE_FETCH_STATUS], 1);
            f->cb(f->arg, BE_FETCH_STATUS, NULL);
            free(f);
        }
    }
}

/* Under pressure a fetch every client has left gives up its slot: its transfer ends now and
 * it completes from the loop (BE_FETCH_CANCELLED), which starts the oldest waiting fetch.
 * Returns whether one was found. */
static int
cancel_an_orphan(be_origin_t *o)
{
    if (o->orphaned == NULL)
        return 0;
    for (fetch_t *f = o->active; f != NULL; f = f->next) {
        if (f->easy == NULL || f->deferred || !o->orphaned(f->arg))
            continue; /* file:// reads on the pool end by themselves */
        be_origin_http_release(f);
        if (f->peer != NULL)
            be_breaker_cancel(&f->peer->breaker);
        be_stats_inc(&o->w->stats, ORIGIN_ORPHANS_CANCELLED);
        f->expired = 1;
        f->status = BE_FETCH_CANCELLED;
        f->deferred = 1;
        struct timeval now = {0, 0};
        evtimer_del(f->timer);
        evtimer_add(f->timer, &now);
        return 1;
    }
    return 0;
}

/* While fetches wait for a slot, the sweep looks every ORPHAN_SWEEP_MS for active fetches
 * every client has left since the waiters came (be_origin_fetch() only looks when a fetch
 * arrives) and gives one such slot a tick to the waiters (as an arrival does; a burst of cancels
 * would open new connections faster than the cancelled ones close); otherwise a waiter could be
 * answered 503 at origin_queue_timeout while an abandoned transfer holds its slot. It runs only
 * while the queue is not empty. */
#define ORPHAN_SWEEP_MS 50

static void
arm_sweep(be_origin_t *o)
{
    struct timeval tv = {0, ORPHAN_SWEEP_MS * 1000};
    if (o->qhead != NULL && !o->closing && !evtimer_pending(o->sweep, NULL))
        evtimer_add(o->sweep, &tv);
}

static void
on_sweep(evutil_socket_t fd, short kind, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(kind);
    be_origin_t *o = arg;
    cancel_an_orphan(o);
    arm_sweep(o);
}

/* Puts f in the queue until a slot frees or origin_queue_timeout passes. */
static void
enqueue(fetch_t *f)
{
    be_origin_t *o = f->o;
    be_msec_t t = o->cfg->origin_queue_timeout;
    struct timeval tv = {t / 1000, (t % 1000) * 1000};
    f->queued = 1;
    f->next = NULL;
    if (o->qtail != NULL)
        o->qtail->next = f;
    else
        o->qhead = f;
    o->qtail = f;
    o->nqueued++;
    be_stats_inc(&o->w->stats, ORIGIN_QUEUED);
    be_stats_inc(&o->w->stats, ORIGIN_QUEUE_WAITS);
    evtimer_add(f->timer, &tv);
    arm_sweep(o);
}

int
be_origin_fetch(be_origin_t *o, const be_key_t *key, be_origin_cb cb, void *arg)
{
    BE_CHECK_OBJ_NOTNULL(o, ORIGIN_MAGIC);
    fetch_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return BE_ERROR;
    f->o = o;
    f->key = *key;
    f->cb = cb;
    f->arg = arg;
    f->started_us = be_clock_usec();
    be_key_to_hex(key, f->hex);
    f->timer = evtimer_new(o->w->base, on_fetch_timer, f);
    if (f->timer == NULL) {
        free(f);
        return BE_ERROR;
    }
    if (o->nactive >= o->max_active || o->qhead != NULL) {
        cancel_an_orphan(o);
        enqueue(f);
        return BE_OK;
    }
    if (begin(f) != BE_OK) {
        event_free(f->timer);
        free(f);
        return BE_ERROR;
    }
    return BE_OK;
}
