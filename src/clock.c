/*
 * clock.c - the monotonic and wall clocks, and the cached time text of Date headers and
 * access-log lines.
 *
 * Owns every clock read in the node (log.c's own line stamps aside: the error log must work
 * before and after everything else). Knows no caller. Invariant: a be_timetext_t is
 * reformatted at most once per wall-clock second.
 */
#include <stdio.h>
#include <time.h>

#include "blockedge/clock.h"

be_msec_t
be_clock_msec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (be_msec_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t
be_clock_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t
be_clock_wall_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

void
be_timetext_init(be_timetext_t *t, int fmt)
{
    t->sec = 0;
    t->fmt = fmt;
    t->text[0] = '\0';
}

const char *
be_timetext_get(be_timetext_t *t, int64_t sec)
{
    if (sec == t->sec && t->text[0] != '\0')
        return t->text;
    time_t tt = (time_t)sec;
    struct tm tm;
    if (t->fmt == BE_TIMEFMT_HTTP) {
        gmtime_r(&tt, &tm);
        strftime(t->text, sizeof(t->text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    } else {
        localtime_r(&tt, &tm);
        strftime(t->text, sizeof(t->text), "%d/%b/%Y:%H:%M:%S %z", &tm);
    }
    t->sec = sec;
    return t->text;
}
