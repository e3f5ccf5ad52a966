/*
 * test_adminbox.c - the mailbox into the admin's loop: messages run on the loop in the order
 * posted, each exactly once; those waiting when it closes, and those posted after, are dropped
 * instead (on the closing thread, and on the posting thread); messages posted from other
 * threads while the loop turns all arrive; references keep a closed box alive until the last.
 */
#include <pthread.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "blockedge/adminbox.h"
#include "blockedge/clock.h"
#include "test.h"

#define NTHREADS 4
#define PER      2000

typedef struct msg_s {
    be_boxmsg_t m; /* first */
    int id;
    int runs, drops;
} msg_t;

static int order[16], norder;

static void
on_run(be_boxmsg_t *m)
{
    msg_t *x = (msg_t *)m;
    x->runs++;
    if (norder < 16)
        order[norder++] = x->id;
}

static void
on_drop(be_boxmsg_t *m)
{
    ((msg_t *)m)->drops++;
}

static void
init(msg_t *x, int id)
{
    memset(x, 0, sizeof(*x));
    x->m.run = on_run;
    x->m.drop = on_drop;
    x->id = id;
}

static void
test_adminbox_runs_in_order_and_drops_after_close(void)
{
    struct event_base *base = event_base_new();
    be_adminbox_t *box = be_adminbox_new(base);
    msg_t m[5];
    BE_CHECK(box != NULL);
    for (int i = 0; i < 5; i++)
        init(&m[i], i);
    norder = 0;
    for (int i = 0; i < 3; i++)
        be_adminbox_post(box, &m[i].m);
    BE_CHECK_INT(m[0].runs + m[1].runs + m[2].runs, 0); /* never inside post */
    event_base_loop(base, EVLOOP_NONBLOCK);
    BE_CHECK_INT(norder, 3);
    for (int i = 0; i < 3; i++) {
        BE_CHECK_INT(order[i], i);
        BE_CHECK_INT(m[i].runs, 1);
    }
    event_base_loop(base, EVLOOP_NONBLOCK);
    BE_CHECK_INT(m[0].runs, 1); /* once */

    be_adminbox_post(box, &m[3].m);
    be_adminbox_t *extra = be_adminbox_ref(box); /* a message on its way holds one */
    BE_CHECK(!be_adminbox_closed(box));
    be_adminbox_close(&box);
    BE_CHECK(box == NULL);
    BE_CHECK_INT(m[3].drops, 1); /* waiting: dropped at the close */
    BE_CHECK_INT(m[3].runs, 0);
    BE_CHECK(be_adminbox_closed(extra));
    be_adminbox_post(extra, &m[4].m);
    BE_CHECK_INT(m[4].drops, 1); /* after: dropped at once */
    event_base_loop(base, EVLOOP_NONBLOCK);
    BE_CHECK_INT(m[3].runs + m[4].runs, 0);
    be_adminbox_unref(&extra); /* the last reference frees it */
    BE_CHECK(extra == NULL);
    event_base_free(base);
}

typedef struct poster_s {
    be_adminbox_t *box;
    msg_t *msgs;
} poster_t;

static void *
post_many(void *arg)
{
    poster_t *p = arg;
    for (int i = 0; i < PER; i++)
        be_adminbox_post(p->box, &p->msgs[i].m);
    be_adminbox_unref(&p->box);
    return NULL;
}

static int
all_ran(msg_t *msgs, int n)
{
    for (int i = 0; i < n; i++)
        if (msgs[i].runs != 1)
            return 0;
    return 1;
}

static void
test_adminbox_takes_posts_from_other_threads_while_the_loop_turns(void)
{
    static msg_t msgs[NTHREADS * PER];
    pthread_t th[NTHREADS];
    poster_t ps[NTHREADS];
    struct event_base *base = event_base_new();
    be_adminbox_t *box = be_adminbox_new(base);
    for (int i = 0; i < NTHREADS * PER; i++)
        init(&msgs[i], i);
    for (int t = 0; t < NTHREADS; t++) {
        ps[t].box = be_adminbox_ref(box);
        ps[t].msgs = &msgs[t * PER];
        BE_CHECK(pthread_create(&th[t], NULL, post_many, &ps[t]) == 0);
    }
    int64_t end = be_clock_msec() + 10000;
    while (!all_ran(msgs, NTHREADS * PER) && be_clock_msec() < end)
        event_base_loop(base, EVLOOP_NONBLOCK);
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    event_base_loop(base, EVLOOP_NONBLOCK);
    BE_CHECK(all_ran(msgs, NTHREADS * PER));
    int drops = 0;
    for (int i = 0; i < NTHREADS * PER; i++)
        drops += msgs[i].drops;
    BE_CHECK_INT(drops, 0);
    be_adminbox_close(&box);
    event_base_free(base);
}

int
main(void)
{
    if (evthread_use_pthreads() != 0) /* as the server does before it makes its loops */
        return 1;
    BE_RUN(test_adminbox_runs_in_order_and_drops_after_close);
    BE_RUN(test_adminbox_takes_posts_from_other_threads_while_the_loop_turns);
    BE_TEST_EXIT();
}
