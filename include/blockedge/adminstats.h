/*
 * adminstats.h - what the admin listener counts, one list per family of
 * blockedge_admin_*_total: purges by result, requests refused by reason (with the message the
 * client reads), prefetch jobs by result and prefetch keys by result. A label, its metric and
 * its message live on one line, so none can be half-added.
 *
 * Data only. The counters are written and read on the main thread (the admin's loop), so
 * they are plain integers; metrics.c copies them into a scrape's snapshot.
 */
#ifndef BLOCKEDGE_ADMINSTATS_H
#define BLOCKEDGE_ADMINSTATS_H

#include <stdint.h>

#include "blockedge/fetch.h"

/* Purges: X(ID, label). */
#define BE_ADMIN_PURGE_RESULTS(X)                                                                  \
    X(PURGED, "purged") /* a tier held the block, or a fetch of it was under way */                \
    X(ABSENT, "absent") /* nothing held it */

/* Refused requests: X(ID, label, message in the 403 body). */
#define BE_ADMIN_DENIALS(X)                                                                        \
    X(ADDRESS, "address", "forbidden")                                                             \
    X(NO_TOKEN, "no_token", "forbidden: this request needs \"Authorization: Bearer <token>\"")     \
    X(BAD_TOKEN, "bad_token", "forbidden: wrong token")

/* Prefetch jobs: X(ID, label). */
#define BE_ADMIN_PREFETCH_JOBS(X)                                                                  \
    X(ACCEPTED, "accepted")       /* 202 */                                                        \
    X(TOO_LARGE, "too_large")     /* 413: body or key count over the bound */                      \
    X(BUSY, "busy")               /* 503: every kept job still running */                          \
    X(BAD_REQUEST, "bad_request") /* 400/411: no usable body */

/* Prefetch keys, after the fetch outcomes of tbl/fetch_errors.h (whose "ok" is "fetched"):
 * X(ID, label). */
#define BE_ADMIN_PREFETCH_KEYS(X)                                                                  \
    X(CACHED, "cached")   /* the memory tier held it already */                                    \
    X(DISK, "disk")       /* read from the disk tier into memory */                                \
    X(BAD_KEY, "bad_key") /* not 64 hex digits: never fetched */                                   \
    X(ERROR, "error")     /* could not be started (out of memory, shutting down) */

enum be_admin_purge_result {
#define X(id, label) BE_ADMIN_PURGE_##id,
    BE_ADMIN_PURGE_RESULTS(X)
#undef X
        BE_ADMIN_PURGE_N
};

enum be_admin_denial {
#define X(id, label, msg) BE_ADMIN_DENIED_##id,
    BE_ADMIN_DENIALS(X)
#undef X
        BE_ADMIN_DENIED_N
};

enum be_admin_prefetch_job {
#define X(id, label) BE_PREFETCH_JOB_##id,
    BE_ADMIN_PREFETCH_JOBS(X)
#undef X
        BE_PREFETCH_JOB_N
};

/* A key's result: a fetch status as it is (BE_FETCH_OK: fetched), then the others. */
enum be_admin_prefetch_key {
    BE_PREFETCH_KEY_FETCH_END = BE_FETCH_NSTATUS - 1,
#define X(id, label) BE_PREFETCH_KEY_##id,
    BE_ADMIN_PREFETCH_KEYS(X)
#undef X
        BE_PREFETCH_KEY_N
};

typedef struct be_admin_stats_s {
    uint64_t purges[BE_ADMIN_PURGE_N];
    uint64_t denied[BE_ADMIN_DENIED_N];
    uint64_t prefetch_jobs[BE_PREFETCH_JOB_N];
    uint64_t prefetch_keys[BE_PREFETCH_KEY_N];
} be_admin_stats_t;

static inline const char *
be_admin_purge_label(int i)
{
    static const char *const labels[] = {
#define X(id, label) label,
        BE_ADMIN_PURGE_RESULTS(X)
#undef X
    };
    return i >= 0 && i < BE_ADMIN_PURGE_N ? labels[i] : "";
}

static inline const char *
be_admin_denial_label(int i)
{
    static const char *const labels[] = {
#define X(id, label, msg) label,
        BE_ADMIN_DENIALS(X)
#undef X
    };
    return i >= 0 && i < BE_ADMIN_DENIED_N ? labels[i] : "";
}

static inline const char *
be_admin_denial_message(int i)
{
    static const char *const msgs[] = {
#define X(id, label, msg) msg,
        BE_ADMIN_DENIALS(X)
#undef X
    };
    return i >= 0 && i < BE_ADMIN_DENIED_N ? msgs[i] : "forbidden";
}

static inline const char *
be_admin_prefetch_job_label(int i)
{
    static const char *const labels[] = {
#define X(id, label) label,
        BE_ADMIN_PREFETCH_JOBS(X)
#undef X
    };
    return i >= 0 && i < BE_PREFETCH_JOB_N ? labels[i] : "";
}

static inline const char *
be_admin_prefetch_key_label(int i)
{
    static const char *const extra[] = {
#define X(id, label) label,
        BE_ADMIN_PREFETCH_KEYS(X)
#undef X
    };
    if (i == BE_FETCH_OK)
        return "fetched";
    if (i > BE_FETCH_OK && i < BE_FETCH_NSTATUS)
        return be_fetch_label((be_fetch_status_t)i);
    return i >= BE_FETCH_NSTATUS && i < BE_PREFETCH_KEY_N ? extra[i - BE_FETCH_NSTATUS] : "";
}

#endif
