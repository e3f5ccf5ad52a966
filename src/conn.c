/*
 * conn.c - an accepted socket's life: bufferevent, timers, limits, and one close path.
 *
 * Owns the worker's connection list and the close-reason accounting. Hands bytes to the
 * protocol (http1.c) and never parses them. Invariant: be_conn_close() is the only place a
 * connection is freed, and after it returns the caller must not touch the connection.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "blockedge/config.h"
#include "blockedge/conn.h"
#include "blockedge/http1.h"
#include "blockedge/log.h"
#include "blockedge/server.h"
#include "blockedge/worker.h"

static void
on_read(struct bufferevent *bev, void *arg)
{
    BE_UNUSED(bev);
    be_http1_on_read(arg);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
    BE_UNUSED(bev);
    be_http1_on_drained(arg);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
    BE_UNUSED(bev);
    be_conn_t *c = arg;
    if (what & BEV_EVENT_TIMEOUT) {
        be_conn_close(c, BE_CLOSE_SEND_TIMEOUT);
    } else if (what & BEV_EVENT_ERROR) {
        be_conn_close(c, BE_CLOSE_IO_ERROR);
    } else if (what & BEV_EVENT_EOF) {
        be_http1_on_eof(c);
    }
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(what);
    be_http1_on_timer(arg);
}

void
be_conn_set_timer(be_conn_t *c, be_msec_t ms)
{
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

void
be_conn_accept(be_worker_t *w, int fd, struct sockaddr *sa, socklen_t salen)
{
    BE_UNUSED(salen);
    const be_config_t *cfg = w->server->cfg;
    if (w->stopping || w->nconns >= w->max_conns) {
        be_stat_add(&w->stats.closed[BE_CLOSE_LIMIT], 1);
        close(fd);
        return;
    }
    be_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->magic = BE_CONN_MAGIC;
    c->w = w;
    c->close_reason = -1;
    format_peer(sa, c->peer, sizeof(c->peer));
    c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->timer = evtimer_new(w->base, on_timer, c);
    if (c->bev == NULL || c->timer == NULL) {
        if (c->bev != NULL)
            bufferevent_free(c->bev);
        else
            close(fd);
        if (c->timer != NULL)
            event_free(c->timer);
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

    struct timeval send_tv = {cfg->send_timeout / 1000, (cfg->send_timeout % 1000) * 1000};
    bufferevent_set_timeouts(c->bev, NULL, &send_tv);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    be_conn_set_timer(c, cfg->keepalive_timeout);
}

void
be_conn_close(be_conn_t *c, int reason)
{
    be_worker_t *w = c->w;
    be_log_debug("client %s: closed (%d)", c->peer, reason);
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
    bufferevent_free(c->bev);
    c->magic = 0;
    free(c);
    be_worker_check_idle(w);
}

void
be_conn_shutdown_all(be_worker_t *w)
{
    be_conn_t *c = w->conns;
    while (c != NULL) {
        be_conn_t *next = c->next;
        if (!c->req_active && !c->in_header &&
            evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
            be_conn_close(c, BE_CLOSE_SHUTDOWN);
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
    while (w->conns != NULL)
        be_conn_close(w->conns, BE_CLOSE_SHUTDOWN);
}
