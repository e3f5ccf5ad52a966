/*
 * origin.c - fetch a block from the origin servers, verify it, hand it back.
 *
 * Servers. Every `server` line is a peer: http(s)://, s3:// (path-style GET of
 * s3_endpoint/bucket/prefix/hex, signed by libcurl's AWS SigV4) or file://. A fetch picks
 * peers round robin among the primaries; backups only when every primary is down or was
 * already tried for this fetch. Each peer has a circuit breaker (per worker, as nginx's
 * upstreams without a zone): max_fails consecutive connect errors, 5xx or timeouts mark it
 * down for fail_timeout; then one fetch probes it (half-open) and its outcome closes the
 * breaker or opens it again; a lone server has no breaker. A fetch with no live peer ends at
 * once with "connect" (502).
 *
 * Attempts. A connect error, a 5xx, a timeout or a broken transfer is retried `retries`
 * times, on a peer not yet tried when there is one, within the fetch's deadline
 * (fetch_timeout, which ends the fetch with 504 wherever it is). read_timeout is the
 * longest silence within one attempt (a stall timer re-armed by every byte, as nginx).
 *
 * http(s)/s3: one CURLM per worker driven by the worker's event_base through the
 * multi-socket API, so connections are pooled (up to ORIGIN_POOL idle) and reused per
 * worker and no thread blocks; a transfer whose bytes fail verification is aborted from the
 * write callback at its last byte, so libcurl closes that connection rather than pooling it
 * (it may hold more than the answer announced). Connections in use by other fetches are
 * never touched. Bytes stream into a block sized
 * from Content-Length (grown when there is none) while SHA-256 runs over them; more than
 * max_block_size aborts. Only a transfer libcurl calls complete (a 200 whose framing ended cleanly:
 * Content-Length reached or the last chunk seen) whose bytes hash to the key becomes a block. A
 * non-200 answer's small body is kept so an S3 error <Code> can be logged. file://: read and
 * verified on the I/O pool.
 *
 * Errors reach the log summarized, per worker like the breakers: the first of a kind per
 * peer is logged with its detail, the next ones within error_summary_interval are counted
 * and logged as one line per peer and reason ("origin X: 1532 timeouts in the last 10 s").
 * 404s are not errors. Completions run from the event loop, never inside a libcurl
 * callback. Nothing here locks: a client and its peers belong to one worker; the admin
 * thread reads only the atomic marked_down flags.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "blockedge/breaker.h"
#include "blockedge/config.h"
#include "blockedge/iopool.h"
#include "blockedge/log.h"
#include "blockedge/origin.h"
#include "blockedge/services.h"
#include "blockedge/worker.h"

#define ORIGIN_MAGIC       0x6f726967u    /* "orig" */
#define ERRBODY_MAX        4096           /* bytes of a non-200 answer kept for its S3 error code */
#define NO_PEER            BE_MAX_ORIGINS /* summary slot for "no live server" */
#define ORIGIN_POOL        256            /* idle origin connections kept per worker */
#define ORIGIN_READ_BUFFER (64 * 1024)    /* libcurl's receive buffer per transfer */

typedef struct fetch_s fetch_t;

typedef struct peer_s {
    const be_origin_server_t *srv;
    int index;
    char base[1400]; /* what the hex is appended to: URL, or the directory for file:// */
    be_breaker_t breaker;
    _Atomic int marked_down; /* mirror of the breaker for /metrics (read by the admin thread) */
    /* error summaries */
    be_msec_t reported[BE_FETCH_NSTATUS]; /* when a line was last written */
    unsigned pending[BE_FETCH_NSTATUS];   /* errors since */
    char last[BE_FETCH_NSTATUS][128];     /* the last one's detail */
} peer_t;

struct be_origin_s {
    uint32_t magic;
    be_worker_t *w;
    const be_config_t *cfg;
    CURLM *multi;
    struct event *timer;
    struct event *summary; /* flushes pending error counts */
    int summary_armed;
    int closing;
    fetch_t *active; /* doubly linked through next/prev */
    unsigned nactive;
    peer_t peers[BE_MAX_ORIGINS + 1]; /* the last is the "no live server" summary slot */
    int npeers;
    unsigned rr[2]; /* round-robin cursors: primaries, backups */
    int max_fails;  /* the breaker's threshold; 0 (off) for a lone server, as in nginx */

    /* s3:// */
    char *access_key, *secret_key;
    char sigv4[128];
    struct curl_slist *s3_headers;
};

struct fetch_s {
    fetch_t *next, *prev;
    be_origin_t *o;
    be_key_t key;
    char hex[BE_KEY_HEX_LEN + 1];
    char url[1500];
    be_origin_cb cb;
    void *arg;
    int attempts;
    uint32_t tried; /* bit per peer index */
    peer_t *peer;   /* of the current attempt */
    uint64_t started_us;
    be_msec_t deadline;
    struct event *timer; /* the fetch deadline, or a deferred completion */
    int deferred;
    int expired;

    CURL *easy;
    struct event *stall;
    be_sha256_t sha;
    be_block_t *block;
    int64_t declared; /* Content-Length, -1 when absent */
    long code;        /* HTTP status of the answer, 0 before the first byte */
    char *errbody;    /* first bytes of a non-200 answer */
    size_t errlen;
    be_fetch_status_t status;
    int failed;                   /* status set by a callback */
    int verified;                 /* status already includes verify() */
    char errbuf[CURL_ERROR_SIZE]; /* libcurl's words */
    char why[256];                /* ours, which libcurl cannot overwrite */

    int file_errno; /* file:// */
};

static void attempt_end(fetch_t *f, be_fetch_status_t status, int transient);
static int start_attempt(fetch_t *f);
static void unlink_fetch(fetch_t *f);

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

/* ---- libcurl <-> libevent glue --------------------------------------------------------- */

/* How a transfer libcurl reports done maps to a status and whether it is worth a retry. */
static void
transfer_done(fetch_t *f, CURLcode rc)
{
    long code = 0;
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
    f->code = code;
    if (f->failed) {
        attempt_end(f, f->status, f->status == BE_FETCH_STATUS && code >= 500);
    } else if (rc == CURLE_OK) {
        if (code == 404 || code == 410)
            attempt_end(f, BE_FETCH_NOT_FOUND, 0);
        else if (code != 200)
            attempt_end(f, BE_FETCH_STATUS, code >= 500);
        else
            attempt_end(f, BE_FETCH_OK, 0);
    } else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
               rc == CURLE_COULDNT_RESOLVE_PROXY) {
        attempt_end(f, BE_FETCH_CONNECT, 1);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        attempt_end(f, BE_FETCH_TIMEOUT, 1);
    } else if (rc == CURLE_FILESIZE_EXCEEDED) {
        attempt_end(f, BE_FETCH_TOO_LARGE, 0);
    } else {
        /* truncated body, broken chunked framing, reset, TLS failure: the transfer broke */
        attempt_end(f, BE_FETCH_STATUS, 1);
    }
}

static void
check_done(be_origin_t *o)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(o->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        fetch_t *f = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
        transfer_done(f, msg->data.result);
    }
}

static void
on_socket_event(evutil_socket_t fd, short kind, void *arg)
{
    be_origin_t *o = arg;
    int action =
        ((kind & EV_READ) ? CURL_CSELECT_IN : 0) | ((kind & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(o->multi, fd, action, &running);
    check_done(o);
}

static void
on_timer(evutil_socket_t fd, short kind, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(kind);
    be_origin_t *o = arg;
    int running;
    curl_multi_socket_action(o->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(o);
}

static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    BE_UNUSED(easy);
    be_origin_t *o = userp;
    struct event *ev = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (ev != NULL) {
            event_free(ev);
            curl_multi_assign(o->multi, s, NULL);
        }
        return 0;
    }
    short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
                 ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (ev != NULL) {
        event_del(ev);
        event_assign(ev, o->w->base, s, kind, on_socket_event, o);
    } else {
        ev = event_new(o->w->base, s, kind, on_socket_event, o);
        if (ev == NULL)
            return -1;
        curl_multi_assign(o->multi, s, ev);
    }
    event_add(ev, NULL);
    return 0;
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    BE_UNUSED(multi);
    be_origin_t *o = userp;
    if (timeout_ms < 0) {
        evtimer_del(o->timer);
        return 0;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(o->timer, &tv); /* 0 ms: runs on the next loop turn, not from here */
    return 0;
}

/* ---- error summaries ------------------------------------------------------------------- */

static const char *
plural(be_fetch_status_t st)
{
    switch (st) {
    case BE_FETCH_TIMEOUT:
        return "timeouts";
    case BE_FETCH_CONNECT:
        return "connect errors";
    case BE_FETCH_STATUS:
        return "bad answers";
    case BE_FETCH_TOO_LARGE:
        return "blocks over max_block_size";
    case BE_FETCH_DIGEST_MISMATCH:
        return "digest mismatches";
    default:
        return "errors";
    }
}

static const char *
peer_name(const be_origin_t *o, const peer_t *p)
{
    return p->index == NO_PEER ? "(all servers down)" : o->cfg->servers[p->index].url;
}

static void
interval_text(be_msec_t ms, char *buf, size_t len)
{
    if (ms % 1000 == 0)
        snprintf(buf, len, "%lld s", (long long)(ms / 1000));
    else
        snprintf(buf, len, "%lld ms", (long long)ms);
}

static void arm_summary(be_origin_t *o);

static void
on_summary(evutil_socket_t fd, short kind, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(kind);
    be_origin_t *o = arg;
    be_msec_t now = be_worker_now(o->w);
    char iv[32];
    int more = 0;
    o->summary_armed = 0;
    interval_text(o->cfg->error_summary_interval, iv, sizeof(iv));
    for (int i = 0; i <= NO_PEER; i++) {
        peer_t *p = &o->peers[i];
        if (i >= o->npeers && i != NO_PEER)
            continue;
        for (int st = 0; st < BE_FETCH_NSTATUS; st++) {
            if (p->pending[st] == 0)
                continue;
            if (now - p->reported[st] < o->cfg->error_summary_interval) {
                more = 1;
                continue;
            }
            be_log(BE_LOG_ERROR, "origin \"%s\": %u %s in the last %s (last: %s)", peer_name(o, p),
                   p->pending[st], plural((be_fetch_status_t)st), iv, p->last[st]);
            p->pending[st] = 0;
            p->reported[st] = now;
        }
    }
    if (more)
        arm_summary(o);
}

static void
arm_summary(be_origin_t *o)
{
    if (o->summary_armed || o->closing)
        return;
    be_msec_t t = o->cfg->error_summary_interval / 4 + 1; /* late by a quarter at most */
    struct timeval tv = {t / 1000, (t % 1000) * 1000};
    if (evtimer_add(o->summary, &tv) == 0)
        o->summary_armed = 1;
}

/* Logs one error of peer p: at once when it is the first of its kind in an interval,
 * otherwise counted into the next summary line. */
static void
report(be_origin_t *o, peer_t *p, be_fetch_status_t st, const char *hex, const char *detail)
{
    be_msec_t now = be_worker_now(o->w);
    snprintf(p->last[st], sizeof(p->last[st]), "%s", detail);
    if (p->reported[st] == 0 || now - p->reported[st] >= o->cfg->error_summary_interval) {
        be_log(BE_LOG_ERROR, "origin \"%s\": %s (%s) while fetching block %s", peer_name(o, p),
               be_fetch_message(st), detail, hex);
        p->reported[st] = now;
        return;
    }
    p->pending[st]++;
    arm_summary(o);
}

/* ---- peers and the circuit breaker ----------------------------------------------------- */

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

static peer_t *
pick_peer(be_origin_t *o, fetch_t *f, be_msec_t now)
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
static void
peer_outcome(be_origin_t *o, peer_t *p, int failed)
{
    const be_config_t *cfg = o->cfg;
    char iv[32];
    switch (be_breaker_outcome(&p->breaker, failed, o->max_fails, cfg->fail_timeout,
                               be_worker_now(o->w))) {
    case BE_BREAKER_TRIPPED:
        atomic_store_explicit(&p->marked_down, 1, memory_order_relaxed);
        be_stats_inc(&o->w->stats, ORIGIN_MARKED_DOWN);
        interval_text(cfg->fail_timeout, iv, sizeof(iv));
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

/* ---- the client ------------------------------------------------------------------------ */

static char *
trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* The [default] profile of an AWS shared-credentials file. BE_OK or BE_ERROR (logged). */
static int
read_credentials(be_origin_t *o, const char *path)
{
    FILE *fp = fopen(path, "re");
    if (fp == NULL) {
        int e = errno;
        be_log(BE_LOG_EMERG, "open() \"%s\" failed (%d: %s) while reading s3_credentials_file",
               path, e, strerror(e));
        return BE_ERROR;
    }
    char line[2048];
    int in_default = 0;
    while (fgets(line, sizeof(line), fp) != NULL) {
        char *s = trim(line);
        if (*s == '#' || *s == ';' || *s == '\0')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (end != NULL)
                *end = '\0';
            in_default = strcmp(trim(s + 1), "default") == 0;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!in_default || eq == NULL)
            continue;
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        char **dst = strcmp(k, "aws_access_key_id") == 0       ? &o->access_key
                     : strcmp(k, "aws_secret_access_key") == 0 ? &o->secret_key
                                                               : NULL;
        if (dst != NULL && *v != '\0') {
            free(*dst);
            *dst = strdup(v);
        }
    }
    explicit_bzero(line, sizeof(line));
    fclose(fp);
    if (o->access_key == NULL || o->secret_key == NULL) {
        be_log(BE_LOG_EMERG,
               "no aws_access_key_id and aws_secret_access_key in the [default] profile of "
               "\"%s\"",
               path);
        return BE_ERROR;
    }
    return BE_OK;
}

static int
setup_s3(be_origin_t *o)
{
    const be_config_t *cfg = o->cfg;
    if (cfg->s3_credentials_file[0] != '\0') {
        if (read_credentials(o, cfg->s3_credentials_file) != BE_OK)
            return BE_ERROR;
    } else {
        const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
        if (id == NULL || *id == '\0' || secret == NULL || *secret == '\0') {
            be_log(BE_LOG_EMERG, "s3:// origin without credentials: set s3_credentials_file, or "
                                 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
            return BE_ERROR;
        }
        o->access_key = strdup(id);
        o->secret_key = strdup(secret);
    }
    snprintf(o->sigv4, sizeof(o->sigv4), "aws:amz:%s:s3", cfg->s3_region);
    o->s3_headers = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    if (o->access_key == NULL || o->secret_key == NULL || o->s3_headers == NULL)
        return BE_ERROR;
    return BE_OK;
}

be_origin_t *
be_origin_new(be_worker_t *w)
{
    be_origin_t *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    o->magic = ORIGIN_MAGIC;
    o->w = w;
    o->cfg = w->svc->cfg;
    o->multi = curl_multi_init();
    o->timer = evtimer_new(w->base, on_timer, o);
    o->summary = evtimer_new(w->base, on_summary, o);
    if (o->multi == NULL || o->timer == NULL || o->summary == NULL) {
        be_origin_free(&o);
        return NULL;
    }
    int s3 = 0;
    o->npeers = o->cfg->nservers;
    /* A lone server is never marked down (nginx does the same): with nowhere else to send a
     * miss, skipping it would only turn its errors into ours, and an S3 hiccup into 502s
     * for fail_timeout. */
    o->max_fails = o->npeers > 1 ? o->cfg->max_fails : 0;
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
    if (s3 && setup_s3(o) != BE_OK) {
        be_origin_free(&o);
        return NULL;
    }
    curl_multi_setopt(o->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(o->multi, CURLMOPT_SOCKETDATA, o);
    curl_multi_setopt(o->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(o->multi, CURLMOPT_TIMERDATA, o);
    /* libcurl sizes its idle pool from the handles added at the moment (4 each): with a few
     * fetches under way it would close connections a burst needs again next time */
    curl_multi_setopt(o->multi, CURLMOPT_MAXCONNECTS, (long)ORIGIN_POOL);
    return o;
}

static void
forget_secret(char **s)
{
    if (*s != NULL) {
        explicit_bzero(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

void
be_origin_free(be_origin_t **op)
{
    be_origin_t *o = *op;
    if (o == NULL)
        return;
    *op = NULL;
    o->closing = 1;
    while (o->active != NULL) {
        fetch_t *f = o->active;
        if (f->easy == NULL && !f->deferred) {
            /* A file read still on the I/O pool (main.c drains the pool first, so this is a
             * safety net): its completion owns f and sees f->o == NULL. */
            unlink_fetch(f);
            f->o = NULL;
            if (f->timer != NULL) {
                event_free(f->timer);
                f->timer = NULL;
            }
            continue;
        }
        f->expired = 1; /* no retry */
        if (f->deferred) {
            f->deferred = 0;
            attempt_end(f, f->status, 0);
        } else {
            attempt_end(f, BE_FETCH_CONNECT, 0);
        }
    }
    if (o->multi != NULL)
        curl_multi_cleanup(o->multi);
    if (o->timer != NULL)
        event_free(o->timer);
    if (o->summary != NULL)
        event_free(o->summary);
    curl_slist_free_all(o->s3_headers);
    forget_secret(&o->access_key);
    forget_secret(&o->secret_key);
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
    return o != NULL ? o->nactive : 0;
}

/* ---- one fetch ----------------------------------------------------------------------- */

static void
release_transfer(fetch_t *f)
{
    if (f->easy != NULL) {
        long conns = 0;
        if (curl_easy_getinfo(f->easy, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK && conns > 0)
            be_stat_add(&f->o->w->stats.ctr[BE_CTR_ORIGIN_CONNECTIONS], (uint64_t)conns);
        curl_multi_remove_handle(f->o->multi, f->easy);
        curl_easy_cleanup(f->easy);
        f->easy = NULL;
    }
    if (f->stall != NULL) {
        event_free(f->stall);
        f->stall = NULL;
    }
    free(f->errbody);
    f->errbody = NULL;
    f->errlen = 0;
    be_sha256_free(&f->sha);
}

static be_fetch_status_t
verify(fetch_t *f)
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
    be_stats_observe(&w->stats.fetch_duration, be_monotonic_usec() - f->started_us);
    if (status != BE_FETCH_OK) {
        be_stat_add(&w->stats.origin_errors[status], 1);
        be_block_unref(&f->block);
    }
    be_block_t *b = f->block;
    f->block = NULL;
    f->cb(f->arg, status, b);
    free(f);
    be_worker_check_idle(w);
}

/* "<Code>SignatureDoesNotMatch</Code>" in an S3 error body, or "". */
static void
s3_error_code(const fetch_t *f, char *out, size_t len)
{
    out[0] = '\0';
    if (f->errbody == NULL)
        return;
    const char *s = strstr(f->errbody, "<Code>");
    const char *e = s != NULL ? strstr(s, "</Code>") : NULL;
    if (e == NULL)
        return;
    s += 6;
    size_t n = 0;
    for (; s < e && n + 1 < len; s++)
        if (*s > ' ' && *s < 0x7f && *s != '"')
            out[n++] = *s;
    out[n] = '\0';
}

/* The text that says what went wrong in one attempt, for the error log. */
static void
describe(const fetch_t *f, be_fetch_status_t st, char *buf, size_t len)
{
    char code[64];
    int answer = st != BE_FETCH_DIGEST_MISMATCH && st != BE_FETCH_TIMEOUT;
    s3_error_code(f, code, sizeof(code));
    if (answer && code[0] != '\0')
        snprintf(buf, len, "S3 error %s, HTTP %ld", code, f->code);
    else if (answer && f->code != 0 && f->code != 200)
        snprintf(buf, len, "HTTP %ld", f->code);
    else if (f->why[0] != '\0')
        snprintf(buf, len, "%s", f->why);
    else if (f->errbuf[0] != '\0')
        snprintf(buf, len, "%s", f->errbuf);
    else
        snprintf(buf, len, "%s", be_fetch_label(st));
}

/* The end of one attempt: breaker, log, then a retry or the end of the fetch. `transient`
 * marks a failure of the server (connect error, 5xx, timeout, broken transfer). */
static void
attempt_end(fetch_t *f, be_fetch_status_t status, int transient)
{
    be_origin_t *o = f->o;
    be_worker_t *w = o->w;
    peer_t *p = f->peer;
    if (status == BE_FETCH_OK && !f->verified)
        status = verify(f);
    f->verified = 0;
    if (p != NULL && !o->closing) {
        peer_outcome(o, p, transient);
        if (status != BE_FETCH_OK && status != BE_FETCH_NOT_FOUND) {
            char detail[CURL_ERROR_SIZE + 64];
            describe(f, status, detail, sizeof(detail));
            report(o, p, status, f->hex, detail);
        }
    }
    release_transfer(f);

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

static void
on_stall(evutil_socket_t fd, short kind, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(kind);
    fetch_t *f = arg;
    snprintf(f->why, sizeof(f->why), "no data for %lld ms (read_timeout)",
             (long long)f->o->cfg->read_timeout);
    attempt_end(f, BE_FETCH_TIMEOUT, 1);
}

/* The fetch deadline, or a completion deferred out of be_origin_fetch(). */
static void
on_fetch_timer(evutil_socket_t fd, short kind, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(kind);
    fetch_t *f = arg;
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
    attempt_end(f, BE_FETCH_TIMEOUT, 1);
}

static void
rearm_stall(fetch_t *f)
{
    be_msec_t t = f->o->cfg->read_timeout;
    struct timeval tv = {t / 1000, (t % 1000) * 1000};
    evtimer_add(f->stall, &tv);
}

static void
fail_in_callback(fetch_t *f, be_fetch_status_t st)
{
    f->failed = 1;
    f->status = st;
}

static int
take_first_bytes(fetch_t *f)
{
    curl_off_t cl = -1;
    curl_easy_getinfo(f->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    f->declared = cl;
    if (cl > (curl_off_t)f->o->cfg->max_block_size) {
        snprintf(f->why, sizeof(f->why), "Content-Length %lld over max_block_size", (long long)cl);
        fail_in_callback(f, BE_FETCH_TOO_LARGE);
        return BE_ERROR;
    }
    f->block = be_block_new(&f->key, cl >= 0 ? (size_t)cl : 64 * 1024);
    if (f->block == NULL) {
        fail_in_callback(f, BE_FETCH_STATUS);
        return BE_ERROR;
    }
    return BE_OK;
}

/* A non-200 answer: keep the first bytes (an S3 error document), never a block. */
static size_t
keep_error_body(fetch_t *f, const char *data, size_t n)
{
    if (f->errbody == NULL) {
        f->errbody = malloc(ERRBODY_MAX + 1);
        if (f->errbody == NULL)
            return 0;
    }
    if (f->errlen + n > ERRBODY_MAX) {
        /* larger than any error document: stop reading, the connection is closed */
        fail_in_callback(f,
                         f->code == 404 || f->code == 410 ? BE_FETCH_NOT_FOUND : BE_FETCH_STATUS);
        return 0;
    }
    memcpy(f->errbody + f->errlen, data, n);
    f->errlen += n;
    f->errbody[f->errlen] = '\0';
    return n;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    fetch_t *f = userp;
    size_t n = size * nmemb;
    rearm_stall(f);
    if (f->code == 0)
        curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &f->code);
    if (f->code != 200)
        return keep_error_body(f, data, n);
    if (f->block == NULL && take_first_bytes(f) != BE_OK)
        return 0;
    be_block_t *b = f->block;
    if (b->size + n > f->o->cfg->max_block_size) {
        snprintf(f->why, sizeof(f->why), "more than max_block_size (%llu bytes) sent",
                 (unsigned long long)f->o->cfg->max_block_size);
        fail_in_callback(f, BE_FETCH_TOO_LARGE);
        return 0;
    }
    if (f->declared >= 0 && b->size + n > (uint64_t)f->declared) {
        snprintf(f->why, sizeof(f->why), "more bytes than Content-Length %lld",
                 (long long)f->declared);
        fail_in_callback(f, BE_FETCH_STATUS);
        return 0;
    }
    if (b->size + n > b->capacity) {
        size_t cap = b->capacity * 2;
        if (cap < b->size + n)
            cap = b->size + n;
        if (cap > f->o->cfg->max_block_size)
            cap = f->o->cfg->max_block_size;
        be_block_t *nb = be_block_grow(b, cap);
        if (nb == NULL) {
            fail_in_callback(f, BE_FETCH_STATUS);
            return 0;
        }
        f->block = b = nb;
    }
    memcpy(b->data + b->size, data, n);
    b->size += n;
    be_sha256_update(&f->sha, data, n);
    if (f->declared >= 0 && b->size == (uint64_t)f->declared) {
        /* The last byte: verify now. On a mismatch abort the transfer, so that libcurl closes
         * the connection instead of pooling it: a lying origin may have sent more than its
         * Content-Length, and those bytes must never be read as the next answer. */
        be_fetch_status_t st = verify(f);
        f->verified = 1;
        if (st != BE_FETCH_OK) {
            fail_in_callback(f, st);
            return 0;
        }
    }
    return n;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    BE_UNUSED(data);
    rearm_stall((fetch_t *)userp);
    return size * nmemb;
}

static int
start_http(fetch_t *f)
{
    be_origin_t *o = f->o;
    f->easy = curl_easy_init();
    f->stall = evtimer_new(o->w->base, on_stall, f);
    if (f->easy == NULL || f->stall == NULL) {
        release_transfer(f);
        return BE_ERROR;
    }
    be_msec_t left = f->deadline - be_worker_now(o->w);
    CURL *e = f->easy;
    curl_easy_setopt(e, CURLOPT_URL, f->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, f);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, f);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)o->cfg->connect_timeout);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(left > 0 ? left : 1));
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->cfg->max_block_size);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "blockedge/" BE_VERSION);
    /* 64 KiB reads instead of 16: ~13% less CPU per GB filled (bench/origin-fill, 1 MiB
     * blocks); 256 KiB gained nothing more and costs that much per fetch in flight */
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)ORIGIN_READ_BUFFER);
    if (f->peer->srv->kind == BE_ORIGIN_S3) {
        /* user and secret apart: an access key may hold ':' (Swift's "account:user") */
        curl_easy_setopt(e, CURLOPT_USERNAME, o->access_key);
        curl_easy_setopt(e, CURLOPT_PASSWORD, o->secret_key);
        curl_easy_setopt(e, CURLOPT_AWS_SIGV4, o->sigv4);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, o->s3_headers);
    }
    if (curl_multi_add_handle(o->multi, e) != CURLM_OK) {
        release_transfer(f);
        return BE_ERROR;
    }
    rearm_stall(f);
    return BE_OK;
}

/* ---- file:// ------------------------------------------------------------------------- */

static void
file_work(void *arg)
{
    fetch_t *f = arg;
    int fd = open(f->url, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        f->file_errno = errno;
        f->status = errno == ENOENT || errno == ENOTDIR ? BE_FETCH_NOT_FOUND : BE_FETCH_STATUS;
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        f->file_errno = errno;
        f->status = BE_FETCH_NOT_FOUND;
        close(fd);
        return;
    }
    if ((uint64_t)st.st_size > f->o->cfg->max_block_size) {
        f->status = BE_FETCH_TOO_LARGE;
        close(fd);
        return;
    }
    f->declared = st.st_size;
    f->block = be_block_new(&f->key, (size_t)st.st_size);
    f->status = BE_FETCH_STATUS;
    if (f->block == NULL) {
        close(fd);
        return;
    }
    while (f->block->size < (size_t)st.st_size) {
        ssize_t n = read(fd, f->block->data + f->block->size, (size_t)st.st_size - f->block->size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            f->file_errno = n < 0 ? errno : 0;
            close(fd);
            return; /* short file: it changed under us */
        }
        be_sha256_update(&f->sha, f->block->data + f->block->size, (size_t)n);
        f->block->size += (size_t)n;
    }
    close(fd);
    f->status = verify(f);
}

static void
file_done(void *arg)
{
    fetch_t *f = arg;
    if (f->o == NULL) { /* the origin client went away: nobody waits */
        be_sha256_free(&f->sha);
        be_block_unref(&f->block);
        free(f);
        return;
    }
    if (f->file_errno != 0)
        snprintf(f->why, sizeof(f->why), "%s", strerror(f->file_errno));
    f->verified = 1; /* verify() already ran on the pool thread */
    attempt_end(f, f->status, 0);
}

static int
start_file(fetch_t *f)
{
    if (be_iopool_submit(f->o->w->svc->iopool, f->o->w, file_work, file_done, f) != BE_OK)
        return BE_ERROR;
    return BE_OK;
}

/* ---- attempts ------------------------------------------------------------------------ */

/* Picks a peer and starts one attempt on it. BE_OK, or BE_DECLINED (no live peer) or
 * BE_ERROR (out of memory), both with nothing started. */
static int
start_attempt(fetch_t *f)
{
    be_origin_t *o = f->o;
    be_msec_t now = be_worker_now(o->w);
    peer_t *p = pick_peer(o, f, now);
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
    int rc = p->srv->kind == BE_ORIGIN_FILE ? start_file(f) : start_http(f);
    if (rc != BE_OK) {
        be_breaker_cancel(&p->breaker);
        be_sha256_free(&f->sha);
        return BE_ERROR;
    }
    be_stats_inc(&o->w->stats, ORIGIN_REQUESTS);
    return BE_OK;
}

int
be_origin_fetch(be_origin_t *o, const be_key_t *key, be_origin_cb cb, void *arg)
{
    fetch_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return BE_ERROR;
    f->o = o;
    f->key = *key;
    f->cb = cb;
    f->arg = arg;
    f->started_us = be_monotonic_usec();
    f->deadline = be_worker_now(o->w) + o->cfg->fetch_timeout;
    be_key_to_hex(key, f->hex);
    f->timer = evtimer_new(o->w->base, on_fetch_timer, f);
    if (f->timer == NULL) {
        free(f);
        return BE_ERROR;
    }
    int rc = start_attempt(f);
    if (rc == BE_ERROR) {
        event_free(f->timer);
        free(f);
        return BE_ERROR;
    }
    struct timeval tv = {0, 0};
    if (rc == BE_DECLINED) {
        /* every server is down: fail at once, but from the loop, never from here */
        be_stats_inc(&o->w->stats, ORIGIN_UNAVAILABLE);
        report(o, &o->peers[NO_PEER], BE_FETCH_CONNECT, f->hex,
               "every server is marked down; none tried");
        f->status = BE_FETCH_CONNECT;
        f->deferred = 1;
    } else {
        be_msec_t t = o->cfg->fetch_timeout;
        tv.tv_sec = t / 1000;
        tv.tv_usec = (t % 1000) * 1000;
    }
    evtimer_add(f->timer, &tv);
    f->next = o->active;
    if (o->active != NULL)
        o->active->prev = f;
    o->active = f;
    o->nactive++;
    return BE_OK;
}
