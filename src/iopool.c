/*
 * iopool.c - blocking file I/O on a small thread pool, completions back on the workers.
 *
 * A FIFO of jobs under one mutex and condition variable. Each finished job is posted to
 * its worker's mailbox, so done() runs on the thread that owns the request and may touch
 * its connection. Shutdown lets the queue drain first: no job is dropped silently.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "blockedge/defs.h"
#include "blockedge/iopool.h"
#include "blockedge/log.h"
#include "blockedge/worker.h"

typedef struct job_s job_t;
struct job_s {
    job_t *next;
    be_worker_t *worker;
    be_io_fn work;
    be_io_fn done;
    void *arg;
};

struct be_iopool_s {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    job_t *head, *tail;
    int stopping;
    int nice;                /* each thread's nice value; 0: as the process */
    atomic_int nice_refused; /* a thread could not set it (logged once) */
    int nthreads;
    pthread_t threads[];
};

static void
finish(void *arg)
{
    job_t *j = arg;
    j->done(j->arg);
    free(j);
}

static void *
pool_main(void *arg)
{
    be_iopool_t *p = arg;
    /* On Linux a thread's nice value is its own (setpriority on its thread id). Lowering it
     * needs CAP_SYS_NICE; without it the thread keeps the process's and says so once. */
    if (p->nice != 0 && setpriority(PRIO_PROCESS, (id_t)gettid(), p->nice) != 0 &&
        atomic_exchange(&p->nice_refused, 1) == 0)
        be_log(BE_LOG_NOTICE,
               "setpriority(%d) failed (%d: %s) for an I/O thread; it runs at the process's "
               "priority",
               p->nice, errno, strerror(errno));
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (p->head == NULL && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        job_t *j = p->head;
        if (j != NULL) {
            p->head = j->next;
            if (p->head == NULL)
                p->tail = NULL;
        }
        pthread_mutex_unlock(&p->lock);
        if (j == NULL)
            return NULL; /* stopping and drained */
        j->work(j->arg);
        if (be_worker_post(j->worker, finish, j) != BE_OK) {
            be_log(BE_LOG_CRIT, "cannot post an I/O completion to worker %d", j->worker->id);
            abort();
        }
    }
}

be_iopool_t *
be_iopool_new(int nthreads)
{
    return be_iopool_new_nice(nthreads, 0);
}

be_iopool_t *
be_iopool_new_nice(int nthreads, int nice)
{
    be_iopool_t *p = calloc(1, sizeof(*p) + (size_t)nthreads * sizeof(pthread_t));
    if (p == NULL)
        return NULL;
    p->nice = nice;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0) {
            be_log(BE_LOG_EMERG, "pthread_create() failed for I/O thread %d", i);
            be_iopool_free(&p);
            return NULL;
        }
        p->nthreads++;
    }
    return p;
}

void
be_iopool_free(be_iopool_t **pp)
{
    be_iopool_t *p = *pp;
    if (p == NULL)
        return;
    *pp = NULL;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

int
be_iopool_submit(be_iopool_t *p, be_worker_t *w, be_io_fn work, be_io_fn done, void *arg)
{
    job_t *j = malloc(sizeof(*j));
    if (j == NULL)
        return BE_ERROR;
    j->next = NULL;
    j->worker = w;
    j->work = work;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&p->lock);
    if (p->tail != NULL)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return BE_OK;
}
