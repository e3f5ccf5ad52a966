/*
 * breaker.h - the circuit breaker of one origin server, as pure functions of its state and
 * the time (no clock reads, no logging, no locks: the caller owns the state and says `now`).
 *
 * Closed (up): fetches go to the server; each failure in a row counts, a success resets the
 * count. max_fails failures in a row open it (down) until now + fail_timeout. Then it is
 * half-open: one fetch, the probe, may use the server; its success closes the breaker, its
 * failure opens it for another fail_timeout. max_fails 0 disables the breaker.
 */
#ifndef BLOCKEDGE_BREAKER_H
#define BLOCKEDGE_BREAKER_H

#include "blockedge/defs.h"

typedef struct be_breaker_s {
    int fails;            /* failures in a row */
    be_msec_t down_until; /* when open: the end of the back-off */
    int probing;          /* half-open and the probe is under way */
} be_breaker_t;

/* What an outcome did to the breaker, for the caller's log and metrics. */
enum { BE_BREAKER_SAME, BE_BREAKER_TRIPPED, BE_BREAKER_RECOVERED };

/* 1 when a fetch may use the server at `now`: closed, or open with the back-off over and no
 * probe under way. */
int be_breaker_usable(const be_breaker_t *b, int max_fails, be_msec_t now);

/* A fetch starts on the server (after be_breaker_usable()). Returns 1 when it is the probe. */
int be_breaker_begin(be_breaker_t *b, int max_fails);

/* The fetch that be_breaker_begin() announced could not start after all. */
void be_breaker_cancel(be_breaker_t *b);

/* One attempt's outcome: failed = connect error, 5xx, timeout or broken transfer. Returns
 * BE_BREAKER_TRIPPED when this failure opened a closed breaker, BE_BREAKER_RECOVERED when a
 * success closed an open one, BE_BREAKER_SAME otherwise. */
int be_breaker_outcome(be_breaker_t *b, int failed, int max_fails, be_msec_t fail_timeout,
                       be_msec_t now);

/* 1 while open (down), back-off over or not, until a success closes it. */
int be_breaker_is_down(const be_breaker_t *b, int max_fails);

#endif
