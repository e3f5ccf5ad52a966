/*
 * conn.c - an accepted socket's life: TLS or plain bufferevent, the protocol choice (ALPN,
 * or a sniff for the HTTP/2 preface), timers, limits, and one close path.
 *
 * Owns the worker's connection list and the close-reason accounting. Hands bytes to the
 * protocol (http1.c or http2.c) and never parses them. A plain socket is read here rather than
 * by its bufferevent, which asks the kernel (FIONREAD) how much is waiting before every read:
 * a system call per request that a hit does not need. Writes and TLS stay with libevent. Invariant:
 * be_conn_close() is the only place a connection is freed; after it returns the caller must not
 * touch it. be_conn_finish() may first linger (nginx's lingering close): the protocol is gone by
 * then, the connection only drops what it reads and waits for the peer to take its bytes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "blockedge/check.h"
#include "blockedge/config.h"
#include "blockedge/conn.h"
#include "blockedge/connlimit.h"
#include "blockedge/http1.h"
#include "blockedge/http2.h"
#include "blockedge/log.h"
#include "blockedge/proxyproto.h"
#include "blockedge/services.h"
#include "blockedge/tls.h"
#include "blockedge/worker.h"

static const be_config_t *
cfg_of(const be_conn_t *c)
{
    return c->w->cfg;
}

/* Moves a connection to HTTP/1.1 or HTTP/2 and hands it the bytes it already has. */
static void
choose(be_conn_t *c, int h2)
{
    be_conn_set_timer(c, 0);
    if (!h2) {
        c->state = BE_CONN_HTTP1; /* http1.c writes directly, arming the event on demand */
        be_conn_set_timer(c, cfg_of(c)->keepalive_timeout);
        be_http1_on_read(c);
        return;
    }
    c->state = BE_CONN_HTTP2;
    bufferevent_enable(c->bev, EV_WRITE);
    if (be_http2_start(c) != BE_OK) {
        be_conn_close(c, BE_CLOSE_IO_ERROR);
        return;
    }
    be_http2_on_read(c);
}

/* Plain listener: the 24-byte client preface means HTTP/2 (prior knowledge). */
static void
sniff(be_conn_t *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t len = evbuffer_get_length(in);
    size_t n = len < BE_H2_PREFACE_LEN ? len : BE_H2_PREFACE_LEN;
    const unsigned char *p = evbuffer_pullup(in, (ssize_t)n);
    if (n > 0 && memcmp(p, BE_H2_PREFACE, n) != 0)
        choose(c, 0);
    else if (n == BE_H2_PREFACE_LEN)
        choose(c, 1);
    /* else: a prefix of the preface so far; wait for more */
}

/* ---- lingering close ---------------------------------------------------------------- */

#define LINGER_TICK_MS 100

/* Bytes written to the socket that the peer has not acknowledged yet (TCP: SIOCOUTQ). */
static int
unacked(const be_conn_t *c)
{
    int n = 0;
    if (ioctl(bufferevent_getfd(c->bev), SIOCOUTQ, &n) != 0)
        return 0;
    return n;
}

/* A late byte from the peer resets only a TCP connection; an AF_UNIX peer (the unit tests'
 * socket pairs) reads what was queued whatever follows. */
static int
is_tcp(const be_conn_t *c)
{
    int proto = 0;
    socklen_t len = sizeof(proto);
    return getsockopt(bufferevent_getfd(c->bev), SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 &&
           proto == IPPROTO_TCP;
}

/* Reasons that end a connection after an answer the peer should get whole. */
static int
clean_reason(int reason)
{
    switch (reason) {
    case BE_CLOSE_DONE:
    case BE_CLOSE_SHUTDOWN:
    case BE_CLOSE_IDLE_TIMEOUT:
    case BE_CLOSE_HEADER_TIMEOUT:
    case BE_CLOSE_BAD_REQUEST:
        return 1;
    default:
        return 0;
    }
}

static void
linger_read(be_conn_t *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    if (evbuffer_get_length(in) > 0) {
        evbuffer_drain(in, evbuffer_get_length(in));
        c->linger_heard = be_worker_now(c->w);
    }
}

static void
linger_tick(be_conn_t *c)
{
    be_msec_t now = be_worker_now(c->w);
    int left = unacked(c);
    if (left < c->linger_unacked)
        c->linger_moved = now;
    c->linger_unacked = left;
    if ((left == 0 && now - c->linger_heard >= BE_CONN_LINGER_QUIET_MS) ||
        now - c->linger_moved >= cfg_of(c)->send_timeout ||
        now - c->linger_since >= BE_CONN_LINGER_MAX_MS) {
        be_conn_close(c, c->close_reason);
        return;
    }
    be_conn_set_timer(c, LINGER_TICK_MS);
}

void
be_conn_finish(be_conn_t *c, int reason)
{
    BE_CHECK_OBJ_NOTNULL(c, BE_CONN_MAGIC);
    int left = c->eof || !clean_reason(reason) || !is_tcp(c) ? 0 : unacked(c);
    if (left == 0) {
        be_conn_close(c, reason);
        return;
    }
    be_log_debug("client %s: lingering, %d bytes not acknowledged yet", c->peer, left);
    if (c->h2 != NULL)
        be_http2_free(c);
    be_request_dispose(&c->req);
    c->state = BE_CONN_LINGER;
    c->close_reason = reason;
    c->linger_since = c->linger_heard = c->linger_moved = be_worker_now(c->w);
    c->linger_unacked = left;
    shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    bufferevent_disable(c->bev, EV_WRITE);
    be_conn_read_enable(c, 1);
    linger_read(c);
    be_conn_set_timer(c, LINGER_TICK_MS);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
    BE_UNUSED(bev);
    be_conn_t *c = arg;
    switch (c->state) {
    case BE_CONN_SNIFF:
        sniff(c);
        break;
    case BE_CONN_HTTP1:
        be_http1_on_read(c);
        break;
    case BE_CONN_HTTP2:
        be_http2_on_read(c);
        break;
    case BE_CONN_LINGER:
        linger_read(c);
        break;
    default:
        break;
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg);
static void proxy_refuse(be_conn_t *c, int reason, const char *why);

/* Bytes asked for per read on a plain socket: a request head, or a burst of HTTP/2 frames. */
#define PLAIN_READ_HTTP1 4096
#define PLAIN_READ_HTTP2 16384

/* A plain socket is readable: one read into the input buffer (level-triggered, so what is
 * left comes at the next turn), then the same handlers as a bufferevent read and its events. */
static void
plain_read(evutil_socket_t fd, short what, void *arg)
{
    BE_UNUSED(what);
    be_conn_t *c = arg;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer_iovec vec[2];
    int want = c->state == BE_CONN_HTTP2 ? PLAIN_READ_HTTP2 : PLAIN_READ_HTTP1;
    evbuffer_unfreeze(in, 0); /* a socket bufferevent keeps its input's end frozen */
    int nvec = evbuffer_reserve_space(in, want, vec, 2);
    if (nvec <= 0) {
        evbuffer_freeze(in, 0);
        be_conn_close(c, BE_CLOSE_IO_ERROR);
        return;
    }
    struct iovec iov[2];
    for (int i = 0; i < nvec; i++) {
        iov[i].iov_base = vec[i].iov_base;
        iov[i].iov_len = vec[i].iov_len;
    }
    ssize_t n = readv(fd, iov, nvec);
    int err = errno;
    size_t left = n > 0 ? (size_t)n : 0;
    int used = 0;
    while (left > 0 && used < nvec) {
        if (vec[used].iov_len > left)
            vec[used].iov_len = left;
        left -= vec[used++].iov_len;
    }
    evbuffer_commit_space(in, vec, used);
    evbuffer_freeze(in, 0);
    if (n < 0) {
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)
            return;
        on_event(c->bev, BEV_EVENT_READING | BEV_EVENT_ERROR, c);
        return;
    }
    if (n == 0) {
        be_conn_read_enable(c, 0); /* as a bufferevent does at EOF */
        on_event(c->bev, BEV_EVENT_READING | BEV_EVENT_EOF, c);
        return;
    }
    on_read(c->bev, c);
}

void
be_conn_read_enable(be_conn_t *c, int on)
{
    BE_CHECK_OBJ_NOTNULL(c, BE_CONN_MAGIC);
    if (c->rev == NULL) {
        if (on)
            bufferevent_enable(c->bev, EV_READ);
        else
            bufferevent_disable(c->bev, EV_READ);
    } else if (on) {
        event_add(c->rev, NULL);
    } else {
        event_del(c->rev);
    }
}

static void
on_write(struct bufferevent *bev, void *arg)
{
    BE_UNUSED(bev);
    be_conn_t *c = arg;
    if (c->state == BE_CONN_HTTP1)
        be_http1_on_drained(c);
    else if (c->state == BE_CONN_HTTP2)
        be_http2_on_drained(c);
}

static void
handshake_done(be_conn_t *c)
{
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    choose(c, be_tls_alpn_is_h2(ssl));
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
    BE_UNUSED(bev);
    be_conn_t *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        handshake_done(c);
    } else if (what & BEV_EVENT_TIMEOUT) {
        be_conn_close(c, BE_CLOSE_SEND_TIMEOUT);
    } else if (c->state == BE_CONN_LINGER) {
        be_conn_close(c, c->close_reason); /* the peer closed (or reset): the linger is over */
    } else if (what & BEV_EVENT_ERROR) {
        be_conn_close(c, c->state == BE_CONN_HANDSHAKE ? BE_CLOSE_TLS_ERROR : BE_CLOSE_IO_ERROR);
    } else if (what & BEV_EVENT_EOF) {
        if (c->state == BE_CONN_HTTP1)
            be_http1_on_eof(c);
        else if (c->state == BE_CONN_HTTP2)
            be_http2_on_eof(c);
        else
            be_conn_close(c, BE_CLOSE_CLIENT);
    }
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(what);
    be_conn_t *c = arg;
    switch (c->state) {
    case BE_CONN_HTTP1:
        be_http1_on_timer(c);
        break;
    case BE_CONN_LINGER:
        linger_tick(c);
        break;
    case BE_CONN_PROXY:
        proxy_refuse(c, BE_CLOSE_HEADER_TIMEOUT, "no whole PROXY protocol header in time");
        break;
    default: /* no handshake or first bytes in time (HTTP/2 runs its own tick) */
        be_conn_close(c, BE_CLOSE_HEADER_TIMEOUT);
        break;
    }
}

void
be_conn_set_timer(be_conn_t *c, be_msec_t ms)
{
    BE_CHECK_OBJ_NOTNULL(c, BE_CONN_MAGIC);
    if (ms <= 0) {
        evtimer_del(c->timer);
        return;
    }
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}

static void
format_peer(const struct sockaddr *sa, char *out, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, len, "%s:%d", host, port);
}

static struct bufferevent *
new_bev(be_worker_t *w, int fd, int tls)
{
    if (!tls)
        return bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    SSL *ssl = SSL_new(w->tls_ctx);
    if (ssl == NULL)
        return NULL;
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        w->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL)
        SSL_free(ssl);
    else
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

/*
 * Counts the connection against its address (max_connections_per_ip, read from w->cfg so a
 * reload applies to the next accept; lowering it closes nothing already open). 1: counted,
 * release it at close; 0: not counted (a family without addresses, or no memory for the
 * table: served, as without the limit); -1: the address is at its limit, refused (logged;
 * the caller counts the close).
 */
static int
take_ip(be_worker_t *w, const struct sockaddr *sa, be_connkey_t *key)
{
    be_connlimit_t *table = w->svc->connlimit;
    unsigned limit = (unsigned)w->cfg->max_connections_per_ip, held = 0;
    if (table == NULL || be_connlimit_key(sa, key) != BE_OK)
        return 0;
    int rc = be_connlimit_take(table, key, limit, &held);
    if (rc == BE_OK)
        return 1;
    if (rc != BE_DECLINED)
        return 0;
    char text[64];
    be_log_rated(&w->perip_log, be_worker_now(w), BE_LOG_WARN,
                 "client %s: max_connections_per_ip %u reached (%u open): new connections "
                 "are closed at once",
                 be_connlimit_key_text(key, text, sizeof(text)), limit, held);
    return -1;
}

static void
release_ip(be_worker_t *w, const be_connkey_t *key, int counted)
{
    if (counted)
        be_connlimit_release(w->svc->connlimit, key);
}

/* The client's address: the peer's, or the one a PROXY header named. */
static void
set_peer(be_conn_t *c, const struct sockaddr *sa, socklen_t salen)
{
    format_peer(sa, c->peer, sizeof(c->peer));
    memset(&c->peer_addr, 0, sizeof(c->peer_addr));
    if (salen > 0 && (size_t)salen <= sizeof(c->peer_addr))
        memcpy(&c->peer_addr, sa, (size_t)salen);
}

/* Gives c its bufferevent (TLS or plain) and read event on fd and starts reading. BE_ERROR:
 * out of memory, nothing of it left and fd closed. */
static int
open_io(be_conn_t *c, int fd)
{
    int tls = c->tls;
    c->state = tls ? BE_CONN_HANDSHAKE : BE_CONN_SNIFF;
    c->bev = new_bev(c->w, fd, tls);
    if (!tls)
        c->rev = event_new(c->w->base, fd, EV_READ | EV_PERSIST, plain_read, c);
    if (tls && c->bev != NULL)
        c->tlsw = be_tls_writer_new(c->w->base, c->bev, bufferevent_openssl_get_ssl(c->bev));
    if (c->bev == NULL || (tls ? c->tlsw == NULL : c->rev == NULL)) {
        be_tls_writer_free(&c->tlsw);
        if (c->rev != NULL)
            event_free(c->rev);
        c->rev = NULL;
        if (c->bev != NULL)
            bufferevent_free(c->bev); /* closes fd */
        else
            close(fd);
        c->bev = NULL;
        return BE_ERROR;
    }
    const be_config_t *cfg = cfg_of(c);
    struct timeval send_tv = {cfg->send_timeout / 1000, (cfg->send_timeout % 1000) * 1000};
    bufferevent_set_timeouts(c->bev, NULL, &send_tv);
    /* libevent writes 16 KiB per write event by default: large blocks would cost a loop turn
     * (and a scheduler switch) per 16 KiB. Let one writev take what the socket takes. */
    bufferevent_set_max_single_write(c->bev, 1024 * 1024);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    /* Plain sockets arm their write event only when a protocol needs it (see choose()), and
     * read through c->rev. */
    if (tls)
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    else
        event_add(c->rev, NULL);
    return BE_OK;
}

/* ---- the PROXY protocol header (proxy_protocol listeners) ----------------------------- */

struct be_proxywait_s {
    int fd;
    struct event *ev; /* readable: take what belongs to the header */
    size_t have;
    uint8_t buf[BE_PROXY_V2_MAX];
};

static void
proxy_free(be_conn_t *c)
{
    if (c->pw == NULL)
        return;
    event_free(c->pw->ev);
    free(c->pw);
    c->pw = NULL;
}

static void
proxy_refuse(be_conn_t *c, int reason, const char *why)
{
    be_log_rated(&c->w->proxy_log, be_worker_now(c->w), BE_LOG_WARN,
                 "client %s: %s: connection closed", c->peer, why);
    be_conn_close(c, reason);
}

/* The header is whole: the client it names becomes the peer, then TLS or HTTP begins. */
static void
proxy_done(be_conn_t *c)
{
    be_proxywait_t *pw = c->pw;
    struct sockaddr_storage src;
    const char *why = "malformed PROXY protocol header";
    if (be_proxyproto_parse(pw->buf, pw->have, &src, &why) != BE_OK) {
        proxy_refuse(c, BE_CLOSE_BAD_REQUEST, why);
        return;
    }
    if (src.ss_family != AF_UNSPEC)
        set_peer(c, (struct sockaddr *)&src,
                 src.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                          : sizeof(struct sockaddr_in6));
    int counted = take_ip(c->w, (struct sockaddr *)&c->peer_addr, &c->ipkey);
    if (counted < 0) {
        be_conn_close(c, BE_CLOSE_PER_IP_LIMIT);
        return;
    }
    c->ip_counted = (unsigned)counted;
    int fd = pw->fd;
    proxy_free(c);
    if (open_io(c, fd) != BE_OK)
        be_conn_close(c, BE_CLOSE_IO_ERROR);
    /* the header timer goes on: it bounds the header and the handshake together */
}

static void
proxy_read(evutil_socket_t fd, short what, void *arg)
{
    BE_UNUSED(what);
    be_conn_t *c = arg;
    be_proxywait_t *pw = c->pw;
    const char *why = "";
    long want = be_proxyproto_need(pw->buf, pw->have, &why);
    if (want < 0) {
        proxy_refuse(c, BE_CLOSE_BAD_REQUEST, why);
        return;
    }
    /* look first, then take only the header's bytes: the rest is TLS's or HTTP's */
    ssize_t n = recv(fd, pw->buf + pw->have, (size_t)want, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        proxy_refuse(c, n == 0 ? BE_CLOSE_CLIENT : BE_CLOSE_IO_ERROR,
                     "closed before its PROXY protocol header was whole");
        return;
    }
    size_t take = be_proxyproto_take(pw->buf, pw->have, pw->buf + pw->have, (size_t)n);
    if (recv(fd, pw->buf + pw->have, take, 0) != (ssize_t)take) {
        proxy_refuse(c, BE_CLOSE_IO_ERROR, "PROXY protocol header read failed");
        return;
    }
    pw->have += take;
    want = be_proxyproto_need(pw->buf, pw->have, &why);
    if (want < 0)
        proxy_refuse(c, BE_CLOSE_BAD_REQUEST, why);
    else if (want == 0)
        proxy_done(c);
}

static int
proxy_wait(be_conn_t *c, int fd)
{
    c->state = BE_CONN_PROXY;
    c->pw = calloc(1, sizeof(*c->pw));
    if (c->pw == NULL)
        return BE_ERROR;
    c->pw->fd = fd;
    c->pw->ev = event_new(c->w->base, fd, EV_READ | EV_PERSIST, proxy_read, c);
    if (c->pw->ev == NULL || event_add(c->pw->ev, NULL) != 0) {
        if (c->pw->ev != NULL)
            event_free(c->pw->ev);
        free(c->pw);
        c->pw = NULL;
        return BE_ERROR;
    }
    return BE_OK;
}

void
be_conn_accept(be_worker_t *w, int fd, struct sockaddr *sa, socklen_t salen, int flags)
{
    BE_CHECK_OBJ_NOTNULL(w, BE_WORKER_MAGIC);
    const be_config_t *cfg = w->cfg;
    int proxy = (flags & BE_ACCEPT_PROXY) != 0;
    if (w->stopping || w->nconns >= w->max_conns) {
        be_stat_add(&w->stats.closed[BE_CLOSE_LIMIT], 1);
        close(fd);
        if (!w->stopping)
            be_log_rated(&w->limit_log, be_worker_now(w), BE_LOG_WARN,
                         "worker %d: %d connections, its share of max_connections %d: new "
                         "connections are closed at once",
                         w->id, w->nconns, cfg->max_connections);
        return;
    }
    be_connkey_t ipkey;
    int counted = proxy ? 0 : take_ip(w, sa, &ipkey); /* proxy: once the header names it */
    if (counted < 0) {
        be_stat_add(&w->stats.closed[BE_CLOSE_PER_IP_LIMIT], 1);
        close(fd);
        return;
    }
    be_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        release_ip(w, &ipkey, counted);
        close(fd);
        return;
    }
    if (counted)
        c->ipkey = ipkey;
    c->ip_counted = (unsigned)counted;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->magic = BE_CONN_MAGIC;
    c->w = w;
    c->close_reason = -1;
    c->tls = (flags & BE_ACCEPT_TLS) != 0;
    c->accepted = be_worker_now(w);
    set_peer(c, sa, salen);
    c->timer = evtimer_new(w->base, on_timer, c);
    int ok = c->timer != NULL && (proxy ? proxy_wait(c, fd) : open_io(c, fd)) == BE_OK;
    if (!ok) {
        if (c->timer == NULL || proxy)
            close(fd); /* open_io closes it itself */
        if (c->timer != NULL)
            event_free(c->timer);
        release_ip(w, &c->ipkey, c->ip_counted);
        free(c);
        return;
    }
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    be_stats_inc(&w->stats, CONNECTIONS_ACCEPTED);
    be_stat_add(&w->stats.ctr[BE_CTR_CONNECTIONS_OPEN], 1);
    /* The PROXY header, the handshake or the first bytes must come within the header
     * timeout. */
    be_conn_set_timer(c, cfg->client_header_timeout);
}

void
be_conn_close(be_conn_t *c, int reason)
{
    BE_CHECK_OBJ_NOTNULL(c, BE_CONN_MAGIC);
    be_worker_t *w = c->w;
    be_log_debug("client %s: closed (%d)", c->peer, reason);
    if (c->h2 != NULL)
        be_http2_free(c);
    be_request_dispose(&c->req);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    w->nconns--;
    be_stat_add(&w->stats.closed[reason], 1);
    be_stat_sub(&w->stats.ctr[BE_CTR_CONNECTIONS_OPEN], 1);
    event_free(c->timer);
    be_tls_writer_free(&c->tlsw);
    if (c->rev != NULL)
        event_free(c->rev); /* before the bufferevent closes the socket */
    if (c->pw != NULL) {
        close(c->pw->fd); /* no bufferevent yet: the PROXY header was still arriving */
        proxy_free(c);
    }
    if (c->bev != NULL)
        bufferevent_free(c->bev);
    release_ip(w, &c->ipkey, c->ip_counted);
    c->magic = 0;
    free(c);
    be_worker_check_idle(w);
}

void
be_conn_shutdown_all(be_worker_t *w)
{
    BE_CHECK_OBJ_NOTNULL(w, BE_WORKER_MAGIC);
    be_conn_t *c = w->conns;
    while (c != NULL) {
        be_conn_t *next = c->next;
        if (c->state == BE_CONN_LINGER) {
            /* already closing: it ends by itself, or at the end of the grace period */
        } else if (c->state == BE_CONN_HTTP2) {
            if (!w->handed_over)
                be_http2_shutdown(c); /* soft: be_http2_on_timer sends GOAWAY once idle */
        } else if (w->handed_over && c->state == BE_CONN_HTTP1 && !c->req_active) {
            /* A new process serves the same sockets: an idle keep-alive connection answers
             * one more request (with "Connection: close", so the client reconnects there)
             * rather than being closed under a request already on its way. */
            c->last = 1;
            c->close_reason = BE_CLOSE_SHUTDOWN;
            if (!c->in_header)
                be_conn_set_timer(c, BE_DRAIN_IDLE_MS);
        } else if (c->state != BE_CONN_HTTP1 ||
                   (!c->req_active && !c->in_header &&
                    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)) {
            be_conn_close(c, BE_CLOSE_SHUTDOWN);
        } else if (c->in_header && !c->req_active) {
            /* its request is arriving: answered with "Connection: close" (the worker stops) */
            c->close_reason = BE_CLOSE_SHUTDOWN;
        } else {
            c->closing = 1;
            c->close_reason = BE_CLOSE_SHUTDOWN;
        }
        c = next;
    }
}

void
be_conn_free_all(be_worker_t *w)
{
    BE_CHECK_OBJ_NOTNULL(w, BE_WORKER_MAGIC);
    while (w->conns != NULL)
        be_conn_close(w->conns, BE_CLOSE_SHUTDOWN);
}
