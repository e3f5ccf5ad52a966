/*
 * prefetch.c - prefetch jobs: the key list parser, the job table and the scheduler that keeps
 * at most prefetch_concurrency keys under way over the whole node, oldest job first.
 *
 * Owns the jobs (on the admin's loop) and the messages that carry one key to a worker and its
 * result back. Knows the tiers only through cache.c's be_cache_prefetch, which makes a key's
 * fetch the very one a client miss would make (coalesced in the in-flight table, verified,
 * filled into memory and disk) without counting it as a client hit or miss. Invariants: a job
 * is running until each of its good keys has a result, and a running job is never dropped;
 * a key's message is run or dropped exactly once (adminbox.h), so the count of keys under way
 * is given back for each one while the admin lives; workers never touch the job table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "blockedge/cache.h"
#include "blockedge/check.h"
#include "blockedge/clock.h"
#include "blockedge/log.h"
#include "blockedge/prefetch.h"
#include "blockedge/worker.h"

/* ---- the key list ------------------------------------------------------------------------- */

static int
blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* The next line of [*p, end) without its terminator and surrounding white space; advances *p.
 * Returns 0 at the end. */
static int
next_line(const char **p, const char *end, const char **s, size_t *n)
{
    if (*p >= end)
        return 0;
    const char *eol = memchr(*p, '\n', (size_t)(end - *p));
    const char *e = eol != NULL ? eol : end;
    const char *b = *p;
    while (b < e && blank(*b))
        b++;
    while (e > b && blank(e[-1]))
        e--;
    *s = b;
    *n = (size_t)(e - b);
    *p = eol != NULL ? eol + 1 : end;
    return 1;
}

int
be_keylist_parse(const char *text, size_t len, size_t max_keys, be_keylist_t *out)
{
    const char *p, *s, *end = text + len;
    size_t n, lines = 0;
    memset(out, 0, sizeof(*out));
    for (p = text; next_line(&p, end, &s, &n);)
        if (n > 0 && ++lines > max_keys)
            return BE_DECLINED;
    out->keys = malloc((lines > 0 ? lines : 1) * sizeof(be_key_t));
    if (out->keys == NULL)
        return BE_ERROR;
    size_t lineno = 0;
    for (p = text; next_line(&p, end, &s, &n);) {
        lineno++;
        if (n == 0)
            continue;
        if (be_key_from_hex(s, n, &out->keys[out->n]) == BE_OK) {
            out->n++;
        } else {
            if (out->bad < BE_PREFETCH_BAD_LINES)
                out->bad_lines[out->bad] = lineno;
            out->bad++;
        }
    }
    return BE_OK;
}

void
be_keylist_dispose(be_keylist_t *kl)
{
    free(kl->keys);
    kl->keys = NULL;
}

/* ---- jobs ------------------------------------------------------------------------------------ */

typedef struct job_s {
    uint64_t id;
    int running;
    be_keylist_t kl; /* its keys are freed when the job is done */
    size_t next;     /* the next key to start */
    uint64_t counts[BE_PREFETCH_KEY_N];
    be_msec_t started, ended;
} job_t;

#define PREFETCH_MAGIC 0x70666368u /* "pfch" */

struct be_prefetch_s {
    uint32_t magic;
    be_services_t *svc;
    be_adminbox_t *box;
    be_admin_stats_t *stats;
    job_t *jobs[BE_PREFETCH_JOBS]; /* oldest first */
    size_t njobs;
    uint64_t last_id;
    unsigned under_way; /* keys sent to workers, results not back */
    unsigned rr;        /* the next worker */
};

/* One key on its way to a worker and back. */
typedef struct item_s {
    be_boxmsg_t msg;  /* first: the box hands it back */
    be_prefetch_t *p; /* read on the admin's loop only */
    be_adminbox_t *box;
    be_worker_t *w;
    uint64_t job;
    be_key_t key;
    be_waiter_t *waiter;
    int tier;
    int result; /* enum be_admin_prefetch_key */
} item_t;

static size_t
finished(const job_t *j)
{
    size_t n = 0;
    for (int i = 0; i < BE_PREFETCH_KEY_N; i++)
        if (i != BE_PREFETCH_KEY_BAD_KEY)
            n += j->counts[i];
    return n;
}

static job_t *
find(be_prefetch_t *p, uint64_t id)
{
    for (size_t i = 0; i < p->njobs; i++)
        if (p->jobs[i]->id == id)
            return p->jobs[i];
    return NULL;
}

static void
job_free(job_t *j)
{
    be_keylist_dispose(&j->kl);
    free(j);
}

/* A job whose every good key has a result is done: its keys are let go. */
static void
maybe_done(job_t *j)
{
    if (!j->running || finished(j) < j->kl.n)
        return;
    j->running = 0;
    j->ended = be_clock_msec();
    be_log(
        BE_LOG_NOTICE,
        "prefetch job %llu done in %.3f s: %zu keys, %llu fetched, %llu cached, %zu bad, "
        "%llu failed",
        (unsigned long long)j->id, (double)(j->ended - j->started) / 1e3, j->kl.n + j->kl.bad,
        (unsigned long long)j->counts[BE_FETCH_OK],
        (unsigned long long)(j->counts[BE_PREFETCH_KEY_CACHED] + j->counts[BE_PREFETCH_KEY_DISK]),
        j->kl.bad,
        (unsigned long long)(finished(j) - j->counts[BE_FETCH_OK] -
                             j->counts[BE_PREFETCH_KEY_CACHED] - j->counts[BE_PREFETCH_KEY_DISK]));
    be_keylist_dispose(&j->kl);
}

static void
count(be_prefetch_t *p, job_t *j, int result)
{
    p->stats->prefetch_keys[result]++;
    if (j != NULL) {
        j->counts[result]++;
        maybe_done(j);
    }
}

/* ---- one key's trip: admin loop -> worker -> admin loop ------------------------------------ */

static void
item_free(item_t *it)
{
    be_adminbox_unref(&it->box);
    free(it);
}

static void pump(be_prefetch_t *p);

/* On the admin's loop: the key's result. */
static void
item_run(be_boxmsg_t *m)
{
    item_t *it = (item_t *)m;
    be_prefetch_t *p = it->p;
    p->under_way--;
    count(p, find(p, it->job), it->result);
    item_free(it);
    pump(p);
}

static void
item_drop(be_boxmsg_t *m)
{
    item_free((item_t *)m);
}

/* On the worker: the fetch (or disk read) ended. */
static void
item_fetched(void *arg, be_fetch_status_t status, be_block_t *block)
{
    item_t *it = arg;
    be_block_unref(&block);
    if (status == BE_FETCH_OK && it->tier == BE_TIER_DISK)
        it->result = BE_PREFETCH_KEY_DISK;
    else
        it->result = (int)status; /* BE_FETCH_OK: fetched */
    be_adminbox_post(it->box, &it->msg);
}

/* On the worker: start the key's fill, unless the admin is gone. */
static void
item_start(void *arg)
{
    item_t *it = arg;
    if (be_adminbox_closed(it->box)) {
        item_free(it);
        return;
    }
    int rc = be_cache_prefetch(it->w, &it->key, item_fetched, it, &it->waiter, &it->tier);
    if (rc == BE_AGAIN)
        return;
    it->result = rc == BE_OK ? BE_PREFETCH_KEY_CACHED : BE_PREFETCH_KEY_ERROR;
    be_adminbox_post(it->box, &it->msg);
}

/* Sends one key of job j to the next worker. */
static void
start_key(be_prefetch_t *p, job_t *j, const be_key_t *key)
{
    item_t *it = calloc(1, sizeof(*it));
    if (it == NULL) {
        count(p, j, BE_PREFETCH_KEY_ERROR);
        return;
    }
    it->msg.run = item_run;
    it->msg.drop = item_drop;
    it->p = p;
    it->box = be_adminbox_ref(p->box);
    it->w = p->svc->workers[p->rr++ % (unsigned)p->svc->nworkers];
    it->job = j->id;
    it->key = *key;
    p->under_way++;
    if (be_worker_post(it->w, item_start, it) != BE_OK) {
        p->under_way--;
        item_free(it);
        count(p, j, BE_PREFETCH_KEY_ERROR);
    }
}

/* Starts keys, oldest job first, while fewer than prefetch_concurrency are under way. */
static void
pump(be_prefetch_t *p)
{
    unsigned limit = (unsigned)p->svc->cfg->prefetch_concurrency;
    for (size_t i = 0; i < p->njobs && p->under_way < limit;) {
        job_t *j = p->jobs[i];
        if (j->running && j->next < j->kl.n)
            start_key(p, j, &j->kl.keys[j->next++]);
        else
            i++;
    }
}

/* ---- the table ------------------------------------------------------------------------------ */

be_prefetch_t *
be_prefetch_new(be_services_t *svc, be_adminbox_t *box, be_admin_stats_t *stats)
{
    be_prefetch_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->magic = PREFETCH_MAGIC;
    p->svc = svc;
    p->box = be_adminbox_ref(box);
    p->stats = stats;
    return p;
}

void
be_prefetch_free(be_prefetch_t **pp)
{
    be_prefetch_t *p = *pp;
    if (p == NULL)
        return;
    *pp = NULL;
    BE_CHECK_OBJ_NOTNULL(p, PREFETCH_MAGIC);
    for (size_t i = 0; i < p->njobs; i++)
        job_free(p->jobs[i]);
    be_adminbox_unref(&p->box);
    p->magic = 0;
    free(p);
}

/* Makes room for one more job: drops the oldest finished one when the table is full. */
static int
make_room(be_prefetch_t *p)
{
    if (p->njobs < BE_PREFETCH_JOBS)
        return BE_OK;
    for (size_t i = 0; i < p->njobs; i++) {
        if (!p->jobs[i]->running) {
            job_free(p->jobs[i]);
            memmove(&p->jobs[i], &p->jobs[i + 1], (p->njobs - i - 1) * sizeof(p->jobs[0]));
            p->njobs--;
            return BE_OK;
        }
    }
    return BE_ERROR;
}

/* Answers a job that cannot start; result: the jobs counter (-1: none, out of memory). */
static int
refuse(be_prefetch_t *p, int result, struct evbuffer *out, int status, const char *why)
{
    if (result >= 0)
        p->stats->prefetch_jobs[result]++;
    evbuffer_add_printf(out, "%s\n", why);
    return status;
}

int
be_prefetch_start(be_prefetch_t *p, const char *body, size_t len, struct evbuffer *out,
                  uint64_t *id)
{
    BE_CHECK_OBJ_NOTNULL(p, PREFETCH_MAGIC);
    job_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return refuse(p, -1, out, 500, "out of memory");
    int rc = len > BE_PREFETCH_MAX_BODY ? BE_DECLINED
                                        : be_keylist_parse(body, len, BE_PREFETCH_MAX_KEYS, &j->kl);
    if (rc != BE_OK || j->kl.n + j->kl.bad == 0 || make_room(p) != BE_OK) {
        int empty = rc == BE_OK && j->kl.n + j->kl.bad == 0;
        job_free(j);
        if (rc == BE_DECLINED)
            return refuse(p, BE_PREFETCH_JOB_TOO_LARGE, out, 413,
                          "too many keys: at most 100000, one per line, in at most 8 MiB");
        if (rc != BE_OK)
            return refuse(p, -1, out, 500, "out of memory");
        if (empty)
            return refuse(p, BE_PREFETCH_JOB_BAD_REQUEST, out, 400,
                          "no keys: send one 64-hex-digit key per line");
        return refuse(p, BE_PREFETCH_JOB_BUSY, out, 503,
                      "every kept prefetch job (16) is running: try again when one is done");
    }
    j->id = ++p->last_id;
    j->running = 1;
    j->started = be_clock_msec();
    j->counts[BE_PREFETCH_KEY_BAD_KEY] = j->kl.bad;
    p->stats->prefetch_keys[BE_PREFETCH_KEY_BAD_KEY] += j->kl.bad;
    p->stats->prefetch_jobs[BE_PREFETCH_JOB_ACCEPTED]++;
    p->jobs[p->njobs++] = j;
    be_log(BE_LOG_DEBUG, "prefetch job %llu started: %zu keys, %zu bad", (unsigned long long)j->id,
           j->kl.n, j->kl.bad);
    *id = j->id;
    maybe_done(j); /* nothing but bad keys */
    pump(p);
    be_prefetch_report(p, j->id, out);
    return 202;
}

/* ---- reports -------------------------------------------------------------------------------- */

static void
report(const job_t *j, struct evbuffer *out)
{
    const uint64_t *c = j->counts;
    size_t total = j->kl.n + j->kl.bad;
    be_msec_t end = j->running ? be_clock_msec() : j->ended;
    evbuffer_add_printf(out,
                        "{\"id\":%llu,\"state\":\"%s\",\"total\":%zu,\"pending\":%zu,\"done\":%llu,"
                        "\"cached\":%llu,\"from_disk\":%llu,\"failed\":{",
                        (unsigned long long)j->id, j->running ? "running" : "done", total,
                        j->kl.n - finished(j), (unsigned long long)c[BE_FETCH_OK],
                        (unsigned long long)(c[BE_PREFETCH_KEY_CACHED] + c[BE_PREFETCH_KEY_DISK]),
                        (unsigned long long)c[BE_PREFETCH_KEY_DISK]);
    const char *sep = "";
    for (int i = 0; i < BE_PREFETCH_KEY_N; i++) {
        if (i == BE_FETCH_OK || i == BE_PREFETCH_KEY_CACHED || i == BE_PREFETCH_KEY_DISK)
            continue;
        evbuffer_add_printf(out, "%s\"%s\":%llu", sep, be_admin_prefetch_key_label(i),
                            (unsigned long long)c[i]);
        sep = ",";
    }
    evbuffer_add_printf(out, "},\"bad_lines\":[");
    for (size_t i = 0; i < j->kl.bad && i < BE_PREFETCH_BAD_LINES; i++)
        evbuffer_add_printf(out, "%s%zu", i > 0 ? "," : "", j->kl.bad_lines[i]);
    evbuffer_add_printf(out, "],\"seconds\":%.3f}", (double)(end - j->started) / 1e3);
}

int
be_prefetch_report(be_prefetch_t *p, uint64_t id, struct evbuffer *out)
{
    BE_CHECK_OBJ_NOTNULL(p, PREFETCH_MAGIC);
    job_t *j = find(p, id);
    if (j == NULL)
        return BE_DECLINED;
    report(j, out);
    evbuffer_add(out, "\n", 1);
    return BE_OK;
}

void
be_prefetch_list(be_prefetch_t *p, struct evbuffer *out)
{
    BE_CHECK_OBJ_NOTNULL(p, PREFETCH_MAGIC);
    evbuffer_add_printf(out, "{\"jobs\":[");
    for (size_t i = p->njobs; i-- > 0;) {
        report(p->jobs[i], out);
        if (i > 0)
            evbuffer_add(out, ",", 1);
    }
    evbuffer_add_printf(out, "]}\n");
}
