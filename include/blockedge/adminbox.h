/*
 * adminbox.h - a mailbox into the admin's loop (the main thread) for results that end on
 * other threads: a purge's disk part ends on the disk writer and a worker, a prefetch's fetch
 * on a worker. Unlike a worker's mailbox it can close while messages are still on their way
 * (the admin is freed before the workers' last tasks run at shutdown): a message that finds
 * it closed is dropped instead of run, so whatever it owns is freed exactly once.
 *
 * Messages are embedded in their owner's struct (no allocation, so posting cannot fail). The
 * box is reference counted: every message on its way holds a reference, the admin one more.
 * Lock: one mutex guards the queue, the closed flag, the count and the wake-up event; no
 * callback runs under it. Lock order: box -> the loop's event base.
 */
#ifndef BLOCKEDGE_ADMINBOX_H
#define BLOCKEDGE_ADMINBOX_H

struct event_base;
typedef struct be_adminbox_s be_adminbox_t;

typedef struct be_boxmsg_s be_boxmsg_t;
struct be_boxmsg_s {
    be_boxmsg_t *next;            /* the box's */
    void (*run)(be_boxmsg_t *m);  /* on the loop, box open */
    void (*drop)(be_boxmsg_t *m); /* the box closed first: free what m owns */
};

/* A box waking base (created with libevent's thread support on). One reference, the
 * caller's. NULL when out of memory. Thread: base's. */
be_adminbox_t *be_adminbox_new(struct event_base *base);

/* Another reference. Any thread. */
be_adminbox_t *be_adminbox_ref(be_adminbox_t *b);

/* Drops a reference; the last frees the box (which must be closed by then). *bp = NULL. Any
 * thread. */
void be_adminbox_unref(be_adminbox_t **bp);

/* Hands m to the loop: m->run(m) runs there later, or m->drop(m) runs instead, on this thread
 * now when the box is already closed or at the close when it closes first. Any thread. */
void be_adminbox_post(be_adminbox_t *b, be_boxmsg_t *m);

/* Whether the box is closed (work meant for it can be skipped). Any thread. */
int be_adminbox_closed(be_adminbox_t *b);

/* Closes the box: messages waiting are dropped now, later ones when they are posted; then
 * drops the caller's reference. *bp = NULL. Thread: the loop's. */
void be_adminbox_close(be_adminbox_t **bp);

#endif
