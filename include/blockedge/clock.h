/*
 * clock.h - the node's one clock and its one cached time formatter.
 *
 * Monotonic time (milliseconds and microseconds) orders LRU stamps, deadlines, back-offs and
 * latencies and survives a step of the wall clock; the wall clock is for Date headers and
 * logs only. Data structures never call these: their callers read the clock once (a worker
 * once per event) and pass `now` down. Reads are vDSO calls, no system call. Not the coarse
 * clock: it lags the loop's own timers by up to a tick, and a deadline timer that fired must
 * read as expired.
 */
#ifndef BLOCKEDGE_CLOCK_H
#define BLOCKEDGE_CLOCK_H

#include <stdint.h>

#include "blockedge/defs.h"

/* Monotonic milliseconds. Any thread. */
be_msec_t be_clock_msec(void);

/* Monotonic microseconds, for latency figures. Any thread. */
uint64_t be_clock_usec(void);

/* Wall-clock seconds since the epoch. Any thread. */
int64_t be_clock_wall_sec(void);

enum be_timefmt {
    BE_TIMEFMT_HTTP, /* "Sun, 22 Nov 2026 10:00:00 GMT" (RFC 9110 IMF-fixdate) */
    BE_TIMEFMT_LOG,  /* "22/Nov/2026:10:00:00 +0000" (local time, as nginx's access log) */
};

/* A formatted time, reformatted only when the second changes. Owned by one thread. */
typedef struct be_timetext_s {
    int64_t sec; /* the second text[] shows; 0 until first use */
    int fmt;     /* enum be_timefmt */
    char text[40];
} be_timetext_t;

/* Prepares t for the format fmt. */
void be_timetext_init(be_timetext_t *t, int fmt);

/* t's text for wall-clock second sec. The pointer stays valid until the next call on t. */
const char *be_timetext_get(be_timetext_t *t, int64_t sec);

#endif
