/*
 * iopool.h - a few threads that do blocking file I/O off the event loops.
 *
 * A job's work() runs on a pool thread; its done() then runs on the worker that submitted
 * it, through that worker's mailbox. The pool knows nothing of what the job reads.
 * Lock: the queue mutex only; work() and done() run without it.
 */
#ifndef BLOCKEDGE_IOPOOL_H
#define BLOCKEDGE_IOPOOL_H

typedef struct be_iopool_s be_iopool_t;
typedef struct be_worker_s be_worker_t;

typedef void (*be_io_fn)(void *arg);

/* Starts nthreads threads. NULL on failure (logged). Thread: main. */
be_iopool_t *be_iopool_new(int nthreads);

/* The same, the threads running at nice value nice (e.g. -5: a larger share of a busy CPU
 * than the workers'), when the process may set it (CAP_SYS_NICE to go below 0); otherwise
 * at the process's, noted once in the log. */
be_iopool_t *be_iopool_new_nice(int nthreads, int nice);

/* Runs every queued job, stops the threads and frees the pool. *pp = NULL. Thread: main. */
void be_iopool_free(be_iopool_t **pp);

/* Queues work(arg) on a pool thread, then done(arg) on worker w. BE_OK or BE_ERROR (no
 * memory: neither function will run). Any thread. */
int be_iopool_submit(be_iopool_t *p, be_worker_t *w, be_io_fn work, be_io_fn done, void *arg);

#endif
