/*
 * worker.c - worker threads, their loops, listeners and mailboxes.
 *
 * Owns: the event_base of each worker, its SO_REUSEPORT listeners, the mailbox through
 * which other threads hand it work, the graceful stop, and the clock.
 * Knows nothing of HTTP or the origin: an accepted socket goes to the server's accept hook,
 * and the stop asks the server's hooks to wind connections down and whether work is left.
 * Lock: mbox_lock guards only the task queue; no callback runs under it.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "blockedge/check.h"
#include "blockedge/clock.h"
#include "blockedge/config_types.h"
#include "blockedge/log.h"
#include "blockedge/services.h"
#include "blockedge/worker.h"

struct be_task_s {
    be_task_t *next;
    be_task_fn fn;
    void *arg;
};

int
be_worker_run_mailbox(be_worker_t *w)
{
    BE_CHECK_OBJ_NOTNULL(w, BE_WORKER_MAGIC);
    int ran = 0;
    pthread_mutex_lock(&w->mbox_lock);
    be_task_t *t = w->mbox_head;
    w->mbox_head = w->mbox_tail = NULL;
    pthread_mutex_unlock(&w->mbox_lock);
    while (t != NULL) {
        be_task_t *next = t->next;
        t->fn(t->arg);
        free(t);
        t = next;
        ran++;
    }
    return ran;
}

static void
on_mailbox(evutil_socket_t fd, short what, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(what);
    be_worker_run_mailbox(arg);
}

int
be_worker_post(be_worker_t *w, be_task_fn fn, void *arg)
{
    BE_CHECK_OBJ_NOTNULL(w, BE_WORKER_MAGIC);
    be_task_t *t = malloc(sizeof(*t));
    if (t == NULL)
        return BE_ERROR;
    t->next = NULL;
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_lock(&w->mbox_lock);
    int was_empty = w->mbox_head == NULL;
    if (w->mbox_tail != NULL)
        w->mbox_tail->next = t;
    else
        w->mbox_head = t;
    w->mbox_tail = t;
    pthread_mutex_unlock(&w->mbox_lock);
    if (was_empty)
        event_active(w->mbox_ev, EV_READ, 0);
    return BE_OK;
}

static void on_accept_resume(evutil_socket_t fd, short what, void *arg);

be_worker_t *
be_worker_new(be_services_t *svc, int id, const be_worker_ops_t *ops)
{
    be_worker_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->magic = BE_WORKER_MAGIC;
    w->id = id;
    w->svc = svc;
    w->ops = ops;
    be_timetext_init(&w->date, BE_TIMEFMT_HTTP);
    pthread_mutex_init(&w->mbox_lock, NULL);
    w->base = event_base_new();
    if (w->base == NULL)
        goto fail;
    w->mbox_ev = event_new(w->base, -1, EV_PERSIST, on_mailbox, w);
    w->accept_resume = evtimer_new(w->base, on_accept_resume, w);
    if (w->mbox_ev == NULL || w->accept_resume == NULL)
        goto fail;
    w->cfg = svc->cfg;
    w->tls_ctx = svc->tls_ctx;
    be_worker_apply_limits(w);
    return w;
fail:
    be_log(BE_LOG_EMERG, "cannot create worker %d", id);
    be_worker_free(&w);
    return NULL;
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    BE_UNUSED(l);
    be_listener_t *lc = arg;
    lc->w->ops->accept(lc->w, fd, sa, (socklen_t)salen,
                       (lc->tls ? BE_ACCEPT_TLS : 0) | (lc->proxy ? BE_ACCEPT_PROXY : 0));
}

static void
on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(what);
    be_worker_t *w = arg;
    w->accept_paused = 0;
    if (w->stopping || w->handed_over)
        return;
    for (int i = 0; i < w->nlisteners; i++)
        evconnlistener_enable(w->listeners[i]);
}

/* Out of descriptors or memory: every listener of the worker rests for BE_ACCEPT_PAUSE_MS
 * (the connections wait in the kernel's queue), as nginx's accept_mutex_delay does. */
static void
pause_accepting(be_worker_t *w)
{
    struct timeval tv = {0, BE_ACCEPT_PAUSE_MS * 1000};
    if (w->accept_paused || w->accept_resume == NULL)
        return;
    for (int i = 0; i < w->nlisteners; i++)
        evconnlistener_disable(w->listeners[i]);
    w->accept_paused = 1;
    evtimer_add(w->accept_resume, &tv);
}

int
be_accept_starved(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

static void
on_accept_error(struct evconnlistener *l, void *arg)
{
    BE_UNUSED(l);
    be_worker_t *w = ((be_listener_t *)arg)->w;
    int err = EVUTIL_SOCKET_ERROR();
    int starved = be_accept_starved(err);
    if (starved)
        pause_accepting(w);
    if (starved)
        be_log_rated(&w->accept_log, be_worker_now(w), BE_LOG_ALERT,
                     "accept() failed (%d: %s) on worker %d: accepting paused for %d ms each "
                     "time (raise the open files limit or lower max_connections)",
                     err, strerror(err), w->id, BE_ACCEPT_PAUSE_MS);
    else
        be_log_rated(&w->accept_log, be_worker_now(w), BE_LOG_ERROR,
                     "accept() failed (%d: %s) on worker %d", err, strerror(err), w->id);
}

int
be_worker_listen_fd(be_worker_t *w, int fd, const be_listen_t *ls)
{
    BE_CHECK_OBJ_NOTNULL(w, BE_WORKER_MAGIC);
    if (w->nlisteners >= BE_WORKER_MAX_LISTENERS) {
        be_log(BE_LOG_EMERG, "worker %d: too many listeners, %s not opened", w->id, ls->text);
        close(fd);
        return BE_ERROR;
    }
    be_listener_t *lc = &w->lctx[w->nlisteners];
    lc->w = w;
    lc->tls = ls->tls;
    lc->proxy = ls->proxy_protocol;
    lc->addr = ls->addr;
    lc->addrlen = ls->addrlen;
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC;
    struct evconnlistener *l = evconnlistener_new(w->base, on_accept, lc, flags, -1, fd);
    if (l == NULL) {
        be_log(BE_LOG_EMERG, "worker %d: cannot listen on %s", w->id, ls->text);
        close(fd);
        return BE_ERROR;
    }
    evconnlistener_set_error_cb(l, on_accept_error);
    w->listeners[w->nlisteners++] = l;
    return BE_OK;
}

static int
listed(const be_config_t *cfg, const be_listener_t *lc)
{
    for (int i = 0; i < cfg->nlisten; i++) {
        const be_listen_t *ls = &cfg->listen[i];
        if (ls->tls == lc->tls && ls->proxy_protocol == lc->proxy && ls->addrlen == lc->addrlen &&
            memcmp(&ls->addr, &lc->addr, ls->addrlen) == 0)
            return 1;
    }
    return 0;
}

void
be_worker_unlisten_absent(be_worker_t *w, const be_config_t *cfg)
{
    BE_CHECK_OBJ_NOTNULL(w, BE_WORKER_MAGIC);
    int kept = 0;
    for (int i = 0; i < w->nlisteners; i++) {
        if (!listed(cfg, &w->lctx[i])) {
            evconnlistener_free(w->listeners[i]);
            continue;
        }
        w->lctx[kept] = w->lctx[i];
        w->listeners[kept] = w->listeners[i];
        evconnlistener_set_cb(w->listeners[kept], on_accept, &w->lctx[kept]);
        kept++;
    }
    w->nlisteners = kept;
}

void
be_worker_unlisten_all(be_worker_t *w)
{
    BE_CHECK_OBJ_NOTNULL(w, BE_WORKER_MAGIC);
    for (int i = 0; i < w->nlisteners; i++)
        evconnlistener_free(w->listeners[i]);
    w->nlisteners = 0;
}

void
be_worker_hand_over(be_worker_t *w)
{
    BE_CHECK_OBJ_NOTNULL(w, BE_WORKER_MAGIC);
    w->handed_over = 1;
    be_worker_unlisten_all(w);
}

void
be_worker_apply_limits(be_worker_t *w)
{
    BE_CHECK_OBJ_NOTNULL(w, BE_WORKER_MAGIC);
    int n = w->svc->nworkers > 0 ? w->svc->nworkers : 1;
    int total = w->cfg->max_connections;
    int ceiling = atomic_load(&w->svc->conn_ceiling);
    if (ceiling > 0 && ceiling < total)
        total = ceiling;
    int per_worker = total / n;
    w->max_conns = per_worker > 0 ? per_worker : 1;
}

static void *
worker_main(void *arg)
{
    be_worker_t *w = arg;
    be_log_set_thread_id(w->id);
    event_add(w->mbox_ev, NULL);
    event_base_dispatch(w->base);
    return NULL;
}

int
be_worker_start(be_worker_t *w)
{
    BE_CHECK_OBJ_NOTNULL(w, BE_WORKER_MAGIC);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        be_log(BE_LOG_EMERG, "pthread_create() failed for worker %d", w->id);
        return BE_ERROR;
    }
    w->started = 1;
    return BE_OK;
}

static void
on_grace_expired(evutil_socket_t fd, short what, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(what);
    be_worker_t *w = arg;
    if (w->nconns > 0)
        be_log(BE_LOG_NOTICE, "worker %d: %d connections still open after the grace period", w->id,
               w->nconns);
    event_base_loopbreak(w->base);
}

static int
idle(be_worker_t *w)
{
    return w->nconns == 0 && w->ops->busy(w) == 0;
}

void
be_worker_check_idle(be_worker_t *w)
{
    BE_CHECK_OBJ_NOTNULL(w, BE_WORKER_MAGIC);
    if (w->stopping && idle(w))
        event_base_loopexit(w->base, NULL);
}

typedef struct {
    be_worker_t *w;
    be_msec_t grace;
} stop_msg_t;

static void
do_stop(void *arg)
{
    stop_msg_t *m = arg;
    be_worker_t *w = m->w;
    struct timeval tv = {m->grace / 1000, (m->grace % 1000) * 1000};
    free(m);
    if (w->stopping)
        return;
    w->stopping = 1;
    be_worker_unlisten_all(w);
    w->ops->shutdown(w);
    if (idle(w)) {
        event_base_loopexit(w->base, NULL);
        return;
    }
    w->stop_timer = evtimer_new(w->base, on_grace_expired, w);
    if (w->stop_timer == NULL || evtimer_add(w->stop_timer, &tv) != 0)
        event_base_loopbreak(w->base);
}

void
be_worker_stop(be_worker_t *w, be_msec_t grace_ms)
{
    BE_CHECK_OBJ_NOTNULL(w, BE_WORKER_MAGIC);
    stop_msg_t *m = malloc(sizeof(*m));
    if (m == NULL || !w->started) {
        free(m);
        if (w->started)
            event_base_loopbreak(w->base);
        return;
    }
    m->w = w;
    m->grace = grace_ms;
    if (be_worker_post(w, do_stop, m) != BE_OK) {
        free(m);
        event_base_loopbreak(w->base);
    }
}

void
be_worker_join(be_worker_t *w)
{
    BE_CHECK_OBJ_NOTNULL(w, BE_WORKER_MAGIC);
    if (w->started) {
        pthread_join(w->thread, NULL);
        w->started = 0;
    }
    if (w->ops != NULL)
        w->ops->close_all(w); /* cancels what they wait for */
}

void
be_worker_free(be_worker_t **wp)
{
    be_worker_t *w = *wp;
    if (w == NULL)
        return;
    *wp = NULL;
    BE_CHECK_OBJ_NOTNULL(w, BE_WORKER_MAGIC);
    be_worker_join(w);
    if (w->mbox_ev != NULL)
        be_worker_run_mailbox(w);
    for (int i = 0; i < w->nlisteners; i++)
        evconnlistener_free(w->listeners[i]);
    if (w->stop_timer != NULL)
        event_free(w->stop_timer);
    if (w->accept_resume != NULL)
        event_free(w->accept_resume);
    if (w->mbox_ev != NULL)
        event_free(w->mbox_ev);
    if (w->base != NULL)
        event_base_free(w->base);
    pthread_mutex_destroy(&w->mbox_lock);
    w->magic = 0;
    free(w);
}

be_msec_t
be_worker_now(be_worker_t *w)
{
    BE_UNUSED(w);
    return be_clock_msec();
}

int64_t
be_worker_wall_sec(be_worker_t *w)
{
    struct timeval tv;
    if (w == NULL || event_base_gettimeofday_cached(w->base, &tv) != 0)
        return be_clock_wall_sec();
    return (int64_t)tv.tv_sec;
}

const char *
be_worker_date(be_worker_t *w)
{
    BE_CHECK_OBJ_NOTNULL(w, BE_WORKER_MAGIC);
    return be_timetext_get(&w->date, be_worker_wall_sec(w));
}
