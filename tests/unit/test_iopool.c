/*
 * test_iopool.c - the file I/O pool: work() runs on a pool thread and done() on the worker
 * that submitted the job, only through that worker's mailbox; one thread runs jobs in
 * submission order; freeing the pool runs every job still queued (none is dropped).
 *
 * The node is built through the server object (two workers, never started); its file I/O
 * pool is the one under test, and a pool of its own is made where the test must free it.
 * A job records the thread its work ran on, and the worker whose mailbox ran its done
 * (`running`, set while the test runs a mailbox). Waits are bounded in real time.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "blockedge/iopool.h"
#include "blockedge/server.h"
#include "blockedge/services.h"
#include "blockedge/worker.h"
#include "fixture.h"
#include "test.h"

#define NWORKERS 2
#define BOUND_MS 5000

static be_config_t cfg;
static be_server_t *node;
static be_services_t *svc;
static be_worker_t *workers[NWORKERS];
static be_worker_t *running; /* the worker whose mailbox the test runs */

typedef struct job_s {
    int seq;
    pthread_t work_thread;
    pthread_t done_thread;
    be_worker_t *done_on;
    atomic_int worked;
    atomic_int done;
    atomic_int *gate; /* work waits until *gate is set (NULL: no wait) */
    int *order;       /* done appends seq here */
    int *norder;
} job_t;

static atomic_int work_seen; /* work() calls, all jobs */
static int work_order[128];  /* seq in the order work() ran (one pool thread) */

static void
setup(void)
{
    node = fixture_up(&cfg, &svc, workers, NWORKERS, "test_iopool");
    atomic_store(&work_seen, 0);
    running = NULL;
}

static void
teardown(void)
{
    fixture_down(&node);
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Waits until *flag reaches want or the bound passes; returns whether it did. */
static int
wait_for(atomic_int *flag, int want)
{
    int64_t end = fixture_now_ms() + BOUND_MS;
    while (atomic_load(flag) < want && fixture_now_ms() < end)
        sleep_ms(1);
    return atomic_load(flag) >= want;
}

static void
work(void *arg)
{
    job_t *j = arg;
    if (j->gate != NULL) {
        int64_t end = fixture_now_ms() + BOUND_MS;
        while (!atomic_load(j->gate) && fixture_now_ms() < end)
            sleep_ms(1);
    }
    j->work_thread = pthread_self();
    work_order[atomic_fetch_add(&work_seen, 1) % 128] = j->seq;
    atomic_store(&j->worked, 1);
}

static void
done(void *arg)
{
    job_t *j = arg;
    j->done_thread = pthread_self();
    j->done_on = running;
    if (j->order != NULL)
        j->order[(*j->norder)++] = j->seq;
    atomic_fetch_add(&j->done, 1);
}

static int
run_mailbox(be_worker_t *w)
{
    running = w;
    int n = be_worker_run_mailbox(w);
    running = NULL;
    return n;
}

/* Runs w's mailbox until `want` tasks ran or the bound passes; returns how many ran. A job's
 * work() is counted before the pool thread posts its done(), so the mailbox may still be
 * short of a completion right after every work() was seen. */
static int
run_mailbox_until(be_worker_t *w, int want)
{
    int64_t end = fixture_now_ms() + BOUND_MS;
    int ran = run_mailbox(w);
    while (ran < want && fixture_now_ms() < end) {
        sleep_ms(1);
        ran += run_mailbox(w);
    }
    return ran;
}

/* A thread that plays worker 1: runs its loop until the job is done. */
typedef struct driver_s {
    job_t *job;
    pthread_t self;
    int ok;
} driver_t;

static int
job_done(void *arg)
{
    return atomic_load(&((job_t *)arg)->done) > 0;
}

static void *
drive_worker1(void *arg)
{
    driver_t *d = arg;
    d->self = pthread_self();
    running = workers[1];
    d->ok = fixture_run_until(&workers[1], 1, job_done, d->job, BOUND_MS);
    running = NULL;
    return NULL;
}

static void
test_iopool_work_runs_on_pool_thread_done_on_submitting_worker(void)
{
    job_t j;
    driver_t d;
    pthread_t t;

    memset(&j, 0, sizeof(j));
    memset(&d, 0, sizeof(d));
    setup();
    BE_CHECK_INT(be_iopool_submit(svc->iopool, workers[1], work, done, &j), BE_OK);
    BE_CHECK(wait_for(&j.worked, 1)); /* no loop runs: work needs none */
    BE_CHECK(!pthread_equal(j.work_thread, pthread_self()));
    BE_CHECK_INT(atomic_load(&j.done), 0); /* done waits in worker 1's mailbox */
    fixture_turns(&workers[0], 1, 5);      /* another worker's loop does not run it */
    BE_CHECK_INT(run_mailbox(workers[0]), 0);
    BE_CHECK_INT(atomic_load(&j.done), 0);

    d.job = &j;
    BE_CHECK(pthread_create(&t, NULL, drive_worker1, &d) == 0);
    pthread_join(t, NULL);
    BE_CHECK(d.ok);
    BE_CHECK_INT(atomic_load(&j.done), 1);
    BE_CHECK(pthread_equal(j.done_thread, d.self)); /* on the thread running worker 1 */
    BE_CHECK(!pthread_equal(j.work_thread, d.self));
    BE_CHECK(j.done_on == workers[1]);
    BE_CHECK_INT(run_mailbox(workers[1]), 0); /* exactly once */
    BE_CHECK_INT(atomic_load(&j.done), 1);
    teardown();
}

static void
test_iopool_jobs_complete_on_their_own_workers_mailbox(void)
{
    enum { N = 10 };
    static job_t j[N];
    int order0[N], order1[N], n0 = 0, n1 = 0;

    memset(j, 0, sizeof(j));
    setup();
    for (int i = 0; i < N; i++) {
        j[i].seq = i;
        j[i].order = i % 2 == 0 ? order0 : order1;
        j[i].norder = i % 2 == 0 ? &n0 : &n1;
        BE_CHECK_INT(be_iopool_submit(svc->iopool, workers[i % 2], work, done, &j[i]), BE_OK);
    }
    BE_CHECK(wait_for(&work_seen, N));
    for (int i = 0; i < N; i++)
        BE_CHECK_INT(atomic_load(&j[i].done), 0);

    BE_CHECK_INT(run_mailbox_until(workers[0], N / 2), N / 2);
    BE_CHECK_INT(n0, N / 2);
    BE_CHECK_INT(n1, 0);
    for (int i = 0; i < N; i++) {
        BE_CHECK_INT(atomic_load(&j[i].done), i % 2 == 0);
        if (i % 2 == 0)
            BE_CHECK(j[i].done_on == workers[0]);
    }
    BE_CHECK_INT(run_mailbox_until(workers[1], N / 2), N / 2);
    BE_CHECK_INT(n1, N / 2);
    for (int i = 0; i < N; i++) {
        BE_CHECK_INT(atomic_load(&j[i].done), 1);
        BE_CHECK(j[i].done_on == workers[i % 2]);
        BE_CHECK(pthread_equal(j[i].done_thread, pthread_self()));
        BE_CHECK(!pthread_equal(j[i].work_thread, pthread_self()));
    }
    teardown();
}

static void
test_iopool_one_thread_runs_jobs_in_submission_order(void)
{
    enum { N = 50 };
    static job_t j[N];
    int order[N], n = 0;

    memset(j, 0, sizeof(j));
    setup();
    be_iopool_t *pool = be_iopool_new(1);
    BE_CHECK(pool != NULL);
    for (int i = 0; i < N; i++) {
        j[i].seq = i;
        j[i].order = order;
        j[i].norder = &n;
        BE_CHECK_INT(be_iopool_submit(pool, workers[0], work, done, &j[i]), BE_OK);
    }
    BE_CHECK(wait_for(&work_seen, N));
    BE_CHECK_INT(run_mailbox_until(workers[0], N), N);
    BE_CHECK_INT(n, N);
    for (int i = 0; i < N; i++) {
        BE_CHECK_INT(work_order[i], i);
        BE_CHECK_INT(order[i], i);
        BE_CHECK(pthread_equal(j[i].work_thread, j[0].work_thread)); /* the one thread */
    }
    be_iopool_free(&pool);
    BE_CHECK(pool == NULL);
    teardown();
}

/* Frees the pool on its own thread (free blocks until the queue has drained). */
typedef struct freer_s {
    be_iopool_t *pool;
    atomic_int started;
} freer_t;

static void *
free_pool(void *arg)
{
    freer_t *f = arg;
    atomic_store(&f->started, 1);
    be_iopool_free(&f->pool);
    return NULL;
}

static void
test_iopool_free_runs_every_queued_job(void)
{
    enum { N = 100 };
    static job_t j[N];
    atomic_int gate = 0;
    freer_t f;
    pthread_t t;
    int order[N], n = 0;

    memset(j, 0, sizeof(j));
    setup();
    f.pool = be_iopool_new(1);
    atomic_store(&f.started, 0);
    BE_CHECK(f.pool != NULL);
    for (int i = 0; i < N; i++) {
        j[i].seq = i;
        j[i].gate = i == 0 ? &gate : NULL; /* the first holds the thread: the rest queue */
        j[i].order = order;
        j[i].norder = &n;
        BE_CHECK_INT(be_iopool_submit(f.pool, workers[0], work, done, &j[i]), BE_OK);
    }
    BE_CHECK_INT(atomic_load(&work_seen), 0);
    BE_CHECK(pthread_create(&t, NULL, free_pool, &f) == 0);
    BE_CHECK(wait_for(&f.started, 1));
    sleep_ms(20); /* let free reach its wait while N jobs are queued (either way it must
                     run them all) */
    atomic_store(&gate, 1);
    pthread_join(t, NULL);
    BE_CHECK(f.pool == NULL);
    BE_CHECK_INT(atomic_load(&work_seen), N); /* every queued job ran before the stop */
    BE_CHECK_INT(n, 0);                       /* their done()s wait in the mailbox */
    BE_CHECK_INT(run_mailbox(workers[0]), N);
    BE_CHECK_INT(n, N);
    for (int i = 0; i < N; i++) {
        BE_CHECK_INT(atomic_load(&j[i].done), 1);
        BE_CHECK_INT(order[i], i);
    }
    teardown();
}

int
main(void)
{
    BE_RUN(test_iopool_work_runs_on_pool_thread_done_on_submitting_worker);
    BE_RUN(test_iopool_jobs_complete_on_their_own_workers_mailbox);
    BE_RUN(test_iopool_one_thread_runs_jobs_in_submission_order);
    BE_RUN(test_iopool_free_runs_every_queued_job);
    be_server_global_cleanup();
    BE_TEST_EXIT();
}
