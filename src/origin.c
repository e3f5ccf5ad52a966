/*
 * origin.c - fetch a block from the origin, verify it, hand it back.
 *
 * http(s): one CURLM per worker driven by the worker's event_base through the multi-socket
 * API (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION), so connections to the origin are pooled and
 * reused per worker and no thread blocks. Bytes stream into a block allocated from the
 * Content-Length (grown when there is none) while SHA-256 runs over them; more than
 * max_block_size aborts. A per-fetch stall timer, re-armed by every byte that arrives,
 * implements read_timeout (the time between two successive reads, as in nginx).
 * file://: the read runs on the I/O pool; the verification runs there too.
 * Only a 200 whose bytes hash to the key becomes a block; every other end is one row of
 * tbl/fetch_errors.h. Transport errors, 5xx and timeouts are retried `retries` times.
 * Completions run from the event loop, never inside a libcurl callback.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "blockedge/config.h"
#include "blockedge/iopool.h"
#include "blockedge/log.h"
#include "blockedge/origin.h"
#include "blockedge/server.h"
#include "blockedge/worker.h"

#define ORIGIN_MAGIC 0x6f726967u /* "orig" */

typedef struct fetch_s fetch_t;

struct be_origin_s {
    uint32_t magic;
    be_worker_t *w;
    const be_config_t *cfg;
    const be_origin_server_t *server;
    CURLM *multi;
    struct event *timer;
    fetch_t *active; /* doubly linked through next/prev */
    unsigned nactive;
    be_msec_t last_warn[BE_FETCH_NSTATUS];
    unsigned suppressed[BE_FETCH_NSTATUS];
};

struct fetch_s {
    fetch_t *next, *prev;
    be_origin_t *o;
    be_key_t key;
    char hex[BE_KEY_HEX_LEN + 1];
    char url[1200];
    be_origin_cb cb;
    void *arg;
    int attempts;
    uint64_t started_us;

    CURL *easy;
    struct event *stall;
    be_sha256_t sha;
    be_block_t *block;
    int64_t declared; /* Content-Length, -1 when absent */
    be_fetch_status_t status;
    int failed; /* status set by a callback */
    char errbuf[CURL_ERROR_SIZE];

    int file_errno; /* file:// */
};

static void finish(fetch_t *f, be_fetch_status_t status, int retryable);
static int start_http(fetch_t *f);
static int start_file(fetch_t *f);

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
        CURLcode rc = msg->data.result;
        long code = 0;
        curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
        if (f->failed) {
            finish(f, f->status, f->status == BE_FETCH_STATUS && code >= 500);
        } else if (rc == CURLE_OK) {
            if (code == 404 || code == 410)
                finish(f, BE_FETCH_NOT_FOUND, 0);
            else if (code != 200)
                finish(f, BE_FETCH_STATUS, code >= 500);
            else
                finish(f, BE_FETCH_OK, 0);
        } else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                   rc == CURLE_COULDNT_RESOLVE_PROXY) {
            finish(f, BE_FETCH_CONNECT, 1);
        } else if (rc == CURLE_OPERATION_TIMEDOUT) {
            finish(f, BE_FETCH_TIMEOUT, 1);
        } else if (rc == CURLE_FILESIZE_EXCEEDED) {
            finish(f, BE_FETCH_TOO_LARGE, 0);
        } else {
            finish(f, BE_FETCH_STATUS, 1);
        }
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

be_origin_t *
be_origin_new(be_worker_t *w)
{
    be_origin_t *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    o->magic = ORIGIN_MAGIC;
    o->w = w;
    o->cfg = w->server->cfg;
    o->server = &o->cfg->servers[0];
    o->multi = curl_multi_init();
    o->timer = evtimer_new(w->base, on_timer, o);
    if (o->multi == NULL || o->timer == NULL) {
        be_origin_free(&o);
        return NULL;
    }
    curl_multi_setopt(o->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(o->multi, CURLMOPT_SOCKETDATA, o);
    curl_multi_setopt(o->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(o->multi, CURLMOPT_TIMERDATA, o);
    return o;
}

void
be_origin_free(be_origin_t **op)
{
    be_origin_t *o = *op;
    if (o == NULL)
        return;
    *op = NULL;
    while (o->active != NULL) {
        fetch_t *f = o->active;
        if (f->easy == NULL) {
            /* A file read still on the I/O pool: its completion owns f. Unlink it. */
            o->active = f->next;
            f->o = NULL;
            continue;
        }
        finish(f, BE_FETCH_CONNECT, 0);
    }
    if (o->multi != NULL)
        curl_multi_cleanup(o->multi);
    if (o->timer != NULL)
        event_free(o->timer);
    o->magic = 0;
    free(o);
}

unsigned
be_origin_active(const be_origin_t *o)
{
    return o != NULL ? o->nactive : 0;
}

/* ---- one fetch ----------------------------------------------------------------------- */

static void
warn_limited(be_origin_t *o, be_fetch_status_t st, const fetch_t *f)
{
    be_msec_t now = be_worker_now(o->w);
    if (now - o->last_warn[st] < 1000) {
        o->suppressed[st]++;
        return;
    }
    be_log(BE_LOG_WARN,
           "origin \"%s\": %s (%s) while fetching block %s; %u more since the last "
           "report",
           f->url, be_fetch_message(st), f->errbuf[0] ? f->errbuf : be_fetch_label(st), f->hex,
           o->suppressed[st]);
    o->last_warn[st] = now;
    o->suppressed[st] = 0;
}

static void
release_transfer(fetch_t *f)
{
    if (f->easy != NULL) {
        curl_multi_remove_handle(f->o->multi, f->easy);
        curl_easy_cleanup(f->easy);
        f->easy = NULL;
    }
    if (f->stall != NULL) {
        event_free(f->stall);
        f->stall = NULL;
    }
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
    if (f->declared >= 0 && (uint64_t)f->declared != f->block->size)
        return BE_FETCH_STATUS;
    if (be_sha256_final(&f->sha, &got) != BE_OK)
        return BE_FETCH_STATUS;
    if (!be_key_equal(&got, &f->key)) {
        char hex[BE_KEY_HEX_LEN + 1];
        be_log(BE_LOG_ERROR,
               "origin \"%s\" sent %zu bytes whose SHA-256 is %s for block %s: not cached", f->url,
               f->block->size, be_key_to_hex(&got, hex), f->hex);
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

/* The one end of every fetch, http or file: account it, hand the outcome over, free it. */
static void
complete(fetch_t *f, be_fetch_status_t status)
{
    be_origin_t *o = f->o;
    be_worker_t *w = o->w;
    unlink_fetch(f);
    be_stats_observe(&w->stats.fetch_duration, be_monotonic_usec() - f->started_us);
    if (status != BE_FETCH_OK) {
        be_stat_add(&w->stats.origin_errors[status], 1);
        if (status != BE_FETCH_DIGEST_MISMATCH && status != BE_FETCH_NOT_FOUND)
            warn_limited(o, status, f);
        be_block_unref(&f->block);
    }
    be_block_t *b = f->block;
    f->block = NULL;
    f->cb(f->arg, status, b);
    free(f);
    be_worker_check_idle(w);
}

static void
finish(fetch_t *f, be_fetch_status_t status, int retryable)
{
    be_origin_t *o = f->o;
    be_worker_t *w = o->w;
    if (status == BE_FETCH_OK)
        status = verify(f);
    release_transfer(f);

    if (status != BE_FETCH_OK && retryable && f->attempts <= o->cfg->retries && !w->stopping) {
        be_block_unref(&f->block);
        f->failed = 0;
        f->errbuf[0] = '\0';
        if (start_http(f) == BE_OK)
            return;
    }

    complete(f, status);
}

static void
on_stall(evutil_socket_t fd, short kind, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(kind);
    fetch_t *f = arg;
    snprintf(f->errbuf, sizeof(f->errbuf), "no data for %lld ms",
             (long long)f->o->cfg->read_timeout);
    finish(f, BE_FETCH_TIMEOUT, 1);
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
    long code = 0;
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200) {
        fail_in_callback(f, code == 404 || code == 410 ? BE_FETCH_NOT_FOUND : BE_FETCH_STATUS);
        return BE_ERROR;
    }
    curl_off_t cl = -1;
    curl_easy_getinfo(f->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    f->declared = cl;
    if (cl > (curl_off_t)f->o->cfg->max_block_size) {
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

static size_t
on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    fetch_t *f = userp;
    size_t n = size * nmemb;
    rearm_stall(f);
    if (f->block == NULL && take_first_bytes(f) != BE_OK)
        return 0;
    be_block_t *b = f->block;
    if (b->size + n > f->o->cfg->max_block_size) {
        fail_in_callback(f, BE_FETCH_TOO_LARGE);
        return 0;
    }
    if (f->declared >= 0 && b->size + n > (uint64_t)f->declared) {
        fail_in_callback(f, BE_FETCH_STATUS); /* more bytes than announced */
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
    f->attempts++;
    f->declared = -1;
    if (be_sha256_init(&f->sha) != BE_OK)
        return BE_ERROR;
    f->easy = curl_easy_init();
    f->stall = evtimer_new(o->w->base, on_stall, f);
    if (f->easy == NULL || f->stall == NULL) {
        release_transfer(f);
        return BE_ERROR;
    }
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
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)o->cfg->connect_timeout);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->cfg->max_block_size);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "blockedge/" BE_VERSION);
    if (curl_multi_add_handle(o->multi, e) != CURLM_OK) {
        release_transfer(f);
        return BE_ERROR;
    }
    be_stats_inc(&o->w->stats, ORIGIN_REQUESTS);
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
        snprintf(f->errbuf, sizeof(f->errbuf), "%s", strerror(f->file_errno));
    release_transfer(f);
    complete(f, f->status); /* verify() already ran on the pool thread */
}

static int
start_file(fetch_t *f)
{
    f->attempts++;
    f->declared = -1;
    if (be_sha256_init(&f->sha) != BE_OK)
        return BE_ERROR;
    if (be_iopool_submit(f->o->w->server->iopool, f->o->w, file_work, file_done, f) != BE_OK) {
        be_sha256_free(&f->sha);
        return BE_ERROR;
    }
    be_stats_inc(&f->o->w->stats, ORIGIN_REQUESTS);
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
    be_key_to_hex(key, f->hex);
    const be_origin_server_t *s = o->server;
    snprintf(f->url, sizeof(f->url), "%s%s", s->kind == BE_ORIGIN_FILE ? s->path : s->url, f->hex);
    int rc = s->kind == BE_ORIGIN_FILE ? start_file(f) : start_http(f);
    if (rc != BE_OK) {
        free(f);
        return BE_ERROR;
    }
    f->next = o->active;
    if (o->active != NULL)
        o->active->prev = f;
    o->active = f;
    o->nactive++;
    return BE_OK;
}
