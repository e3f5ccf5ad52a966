/*
 * origin_http.c - http://, https:// and s3:// attempts on libcurl's multi interface.
 *
 * One CURLM per worker driven by the worker's event_base through the multi-socket API, so
 * connections are pooled (up to BE_ORIGIN_POOL idle) and reused per worker and no thread
 * blocks. Bytes stream into a block sized from Content-Length (grown when there is none)
 * while SHA-256 runs over them; more than max_block_size aborts. A transfer whose bytes fail
 * verification is aborted from the write callback at its last byte, so libcurl closes that
 * connection rather than pooling it (it may hold more than the answer announced).
 * Connections in use by other fetches are never touched. Only a transfer libcurl calls
 * complete (a 200 whose framing ended cleanly) whose bytes hash to the key becomes a block.
 * A non-200 answer's small body is kept so an S3 error <Code> can be logged. read_timeout
 * is a stall timer re-armed by every byte, as nginx's. Knows nothing of retries or peers:
 * every end goes to be_origin_attempt_end().
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "blockedge/worker.h"
#include "origin_int.h"

/* How a transfer libcurl reports done maps to a status and whether it is worth a retry. */
static void
transfer_done(fetch_t *f, CURLcode rc)
{
    long code = 0;
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
    f->code = code;
    if (f->failed) {
        be_origin_attempt_end(f, f->status, f->status == BE_FETCH_STATUS && code >= 500);
    } else if (rc == CURLE_OK) {
        if (code == 404 || code == 410)
            be_origin_attempt_end(f, BE_FETCH_NOT_FOUND, 0);
        else if (code != 200)
            be_origin_attempt_end(f, BE_FETCH_STATUS, code >= 500);
        else
            be_origin_attempt_end(f, BE_FETCH_OK, 0);
    } else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
               rc == CURLE_COULDNT_RESOLVE_PROXY) {
        be_origin_attempt_end(f, BE_FETCH_CONNECT, 1);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        be_origin_attempt_end(f, BE_FETCH_TIMEOUT, 1);
    } else if (rc == CURLE_FILESIZE_EXCEEDED) {
        be_origin_attempt_end(f, BE_FETCH_TOO_LARGE, 0);
    } else {
        /* truncated body, broken chunked framing, reset, TLS failure: the transfer broke */
        be_origin_attempt_end(f, BE_FETCH_STATUS, 1);
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
on_multi_timer(evutil_socket_t fd, short kind, void *arg)
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

void
be_origin_http_release(fetch_t *f)
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

static void
on_stall(evutil_socket_t fd, short kind, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(kind);
    fetch_t *f = arg;
    snprintf(f->why, sizeof(f->why), "no data for %lld ms (read_timeout)",
             (long long)f->o->cfg->read_timeout);
    be_origin_attempt_end(f, BE_FETCH_TIMEOUT, 1);
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
    if (cl > 0)
        be_block_prefault(f->block, (size_t)cl);
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
        be_fetch_status_t st = be_origin_verify(f);
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

int
be_origin_http_start(fetch_t *f)
{
    be_origin_t *o = f->o;
    f->easy = curl_easy_init();
    f->stall = evtimer_new(o->w->base, on_stall, f);
    if (f->easy == NULL || f->stall == NULL) {
        be_origin_http_release(f);
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
        be_origin_http_release(f);
        return BE_ERROR;
    }
    rearm_stall(f);
    return BE_OK;
}

int
be_origin_http_init(be_origin_t *o)
{
    o->multi = curl_multi_init();
    o->timer = evtimer_new(o->w->base, on_multi_timer, o);
    if (o->multi == NULL || o->timer == NULL)
        return BE_ERROR;
    curl_multi_setopt(o->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(o->multi, CURLMOPT_SOCKETDATA, o);
    curl_multi_setopt(o->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(o->multi, CURLMOPT_TIMERDATA, o);
    /* libcurl sizes its idle pool from the handles added at the moment (4 each): with a few
     * fetches under way it would close connections a burst needs again next time */
    curl_multi_setopt(o->multi, CURLMOPT_MAXCONNECTS, (long)BE_ORIGIN_POOL);
    return BE_OK;
}

void
be_origin_http_set_max_conns(be_origin_t *o, int n)
{
    curl_multi_setopt(o->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)n);
}

void
be_origin_http_dispose(be_origin_t *o)
{
    if (o->multi != NULL)
        curl_multi_cleanup(o->multi);
    o->multi = NULL;
    if (o->timer != NULL)
        event_free(o->timer);
    o->timer = NULL;
}
