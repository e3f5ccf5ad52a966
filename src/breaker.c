/*
 * breaker.c - the per-server circuit breaker (closed -> open -> half-open), as in Nygard's
 * "Release It!" and nginx's max_fails/fail_timeout: N failures in a row take a server out of
 * rotation for a back-off, after which a single probe decides whether it comes back. A
 * single probe (not a trickle of them) keeps a dead server from holding many clients for a
 * connect timeout each. Pure: the caller owns the state and passes the time, so the unit
 * test moves `now` by hand. No locks: one worker owns each breaker.
 */
#include "blockedge/breaker.h"

int
be_breaker_is_down(const be_breaker_t *b, int max_fails)
{
    return max_fails > 0 && b->fails >= max_fails;
}

int
be_breaker_usable(const be_breaker_t *b, int max_fails, be_msec_t now)
{
    if (!be_breaker_is_down(b, max_fails))
        return 1;
    return !b->probing && now >= b->down_until;
}

int
be_breaker_begin(be_breaker_t *b, int max_fails)
{
    if (!be_breaker_is_down(b, max_fails))
        return 0;
    b->probing = 1;
    return 1;
}

void
be_breaker_cancel(be_breaker_t *b)
{
    b->probing = 0;
}

int
be_breaker_outcome(be_breaker_t *b, int failed, int max_fails, be_msec_t fail_timeout,
                   be_msec_t now)
{
    int was_down = be_breaker_is_down(b, max_fails);
    b->probing = 0;
    if (!failed) {
        b->fails = 0;
        b->down_until = 0;
        return was_down ? BE_BREAKER_RECOVERED : BE_BREAKER_SAME;
    }
    if (max_fails == 0)
        return BE_BREAKER_SAME;
    if (b->fails < max_fails)
        b->fails++;
    if (b->fails < max_fails)
        return BE_BREAKER_SAME;
    b->down_until = now + fail_timeout; /* a failed probe: another full back-off */
    return was_down ? BE_BREAKER_SAME : BE_BREAKER_TRIPPED;
}
