/*
 * adminbox.c - the mailbox into the admin's loop: a queue under a mutex, a libevent event
 * made active to wake the loop, a closed flag and a reference count.
 *
 * Owns the queue and the event; knows nothing of what a message carries. Invariants: each
 * posted message is either run on the loop while the box is open or dropped, exactly once;
 * the event is made active only under the lock and while open, and freed under the lock at
 * the close, so a poster on another thread never touches a freed event. Lock order: box ->
 * event base (event_active takes the base's lock); callbacks run with no lock held.
 */
#include <pthread.h>
#include <stdlib.h>

#include <event2/event.h>

#include "blockedge/adminbox.h"
#include "blockedge/check.h"
#include "blockedge/defs.h"

#define BOX_MAGIC 0x61626f78u /* "abox" */

struct be_adminbox_s {
    uint32_t magic;
    pthread_mutex_t lock;
    unsigned refs;
    int closed;
    struct event *ev; /* NULL once closed */
    be_boxmsg_t *head, *tail;
};

static void
drop_all(be_boxmsg_t *m)
{
    while (m != NULL) {
        be_boxmsg_t *next = m->next;
        m->drop(m);
        m = next;
    }
}

/* Takes every waiting message off the queue, oldest first. */
static be_boxmsg_t *
take(be_adminbox_t *b)
{
    pthread_mutex_lock(&b->lock);
    be_boxmsg_t *m = b->head;
    b->head = b->tail = NULL;
    pthread_mutex_unlock(&b->lock);
    return m;
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(what);
    be_adminbox_t *b = arg;
    for (be_boxmsg_t *m = take(b); m != NULL;) {
        be_boxmsg_t *next = m->next;
        if (be_adminbox_closed(b)) { /* a message run before closed the box */
            drop_all(m);
            return;
        }
        m->run(m);
        m = next;
    }
}

be_adminbox_t *
be_adminbox_new(struct event_base *base)
{
    be_adminbox_t *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->magic = BOX_MAGIC;
    b->refs = 1;
    b->ev = event_new(base, -1, 0, on_wake, b);
    if (b->ev == NULL) {
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->lock, NULL);
    return b;
}

be_adminbox_t *
be_adminbox_ref(be_adminbox_t *b)
{
    BE_CHECK_OBJ_NOTNULL(b, BOX_MAGIC);
    pthread_mutex_lock(&b->lock);
    b->refs++;
    pthread_mutex_unlock(&b->lock);
    return b;
}

void
be_adminbox_unref(be_adminbox_t **bp)
{
    be_adminbox_t *b = *bp;
    if (b == NULL)
        return;
    *bp = NULL;
    BE_CHECK_OBJ_NOTNULL(b, BOX_MAGIC);
    pthread_mutex_lock(&b->lock);
    int last = --b->refs == 0;
    pthread_mutex_unlock(&b->lock);
    if (last) {
        BE_ASSERT(b->closed);
        pthread_mutex_destroy(&b->lock);
        b->magic = 0;
        free(b);
    }
}

void
be_adminbox_post(be_adminbox_t *b, be_boxmsg_t *m)
{
    BE_CHECK_OBJ_NOTNULL(b, BOX_MAGIC);
    m->next = NULL;
    pthread_mutex_lock(&b->lock);
    if (b->closed) {
        pthread_mutex_unlock(&b->lock);
        m->drop(m);
        return;
    }
    if (b->tail != NULL)
        b->tail->next = m;
    else
        b->head = m;
    b->tail = m;
    event_active(b->ev, EV_READ, 0);
    pthread_mutex_unlock(&b->lock);
}

int
be_adminbox_closed(be_adminbox_t *b)
{
    BE_CHECK_OBJ_NOTNULL(b, BOX_MAGIC);
    pthread_mutex_lock(&b->lock);
    int closed = b->closed;
    pthread_mutex_unlock(&b->lock);
    return closed;
}

void
be_adminbox_close(be_adminbox_t **bp)
{
    be_adminbox_t *b = *bp;
    if (b == NULL)
        return;
    BE_CHECK_OBJ_NOTNULL(b, BOX_MAGIC);
    pthread_mutex_lock(&b->lock);
    b->closed = 1;
    be_boxmsg_t *m = b->head;
    b->head = b->tail = NULL;
    if (b->ev != NULL)
        event_free(b->ev);
    b->ev = NULL;
    pthread_mutex_unlock(&b->lock);
    drop_all(m);
    be_adminbox_unref(bp);
}
