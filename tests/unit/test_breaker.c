/*
 * test_breaker.c - the circuit breaker with synthetic time: it trips after max_fails failures
 * in a row (not in total), lets exactly one probe through once fail_timeout has passed, and
 * the probe's outcome closes it or opens it for another full back-off; max_fails 0 never
 * trips.
 */
#include "blockedge/breaker.h"
#include "test.h"

#define MAX_FAILS    3
#define FAIL_TIMEOUT 10000

static int
fail_at(be_breaker_t *b, be_msec_t now)
{
    return be_breaker_outcome(b, 1, MAX_FAILS, FAIL_TIMEOUT, now);
}

static void
test_breaker_trips_after_max_fails_in_a_row(void)
{
    be_breaker_t b = {0};
    BE_CHECK_INT(fail_at(&b, 1000), BE_BREAKER_SAME);
    BE_CHECK_INT(fail_at(&b, 1001), BE_BREAKER_SAME);
    BE_CHECK(be_breaker_usable(&b, MAX_FAILS, 1002));
    BE_CHECK_INT(fail_at(&b, 1002), BE_BREAKER_TRIPPED);
    BE_CHECK(be_breaker_is_down(&b, MAX_FAILS));
    BE_CHECK(!be_breaker_usable(&b, MAX_FAILS, 1003));
    BE_CHECK(!be_breaker_usable(&b, MAX_FAILS, 1002 + FAIL_TIMEOUT - 1));
}

static void
test_breaker_success_resets_the_count(void)
{
    be_breaker_t b = {0};
    fail_at(&b, 1);
    fail_at(&b, 2);
    BE_CHECK_INT(be_breaker_outcome(&b, 0, MAX_FAILS, FAIL_TIMEOUT, 3), BE_BREAKER_SAME);
    BE_CHECK_INT(fail_at(&b, 4), BE_BREAKER_SAME);
    BE_CHECK_INT(fail_at(&b, 5), BE_BREAKER_SAME);
    BE_CHECK(be_breaker_usable(&b, MAX_FAILS, 6));
    BE_CHECK_INT(fail_at(&b, 6), BE_BREAKER_TRIPPED);
}

static void
test_breaker_lets_one_probe_after_fail_timeout(void)
{
    be_breaker_t b = {0};
    for (int i = 0; i < MAX_FAILS; i++)
        fail_at(&b, 0);
    BE_CHECK(be_breaker_usable(&b, MAX_FAILS, FAIL_TIMEOUT));
    BE_CHECK_INT(be_breaker_begin(&b, MAX_FAILS), 1);
    BE_CHECK(!be_breaker_usable(&b, MAX_FAILS, FAIL_TIMEOUT + 1)); /* one probe at a time */
    be_breaker_cancel(&b);                                         /* it could not start */
    BE_CHECK(be_breaker_usable(&b, MAX_FAILS, FAIL_TIMEOUT + 1));
}

static void
test_breaker_failed_probe_reopens_for_another_fail_timeout(void)
{
    be_breaker_t b = {0};
    for (int i = 0; i < MAX_FAILS; i++)
        fail_at(&b, 0);
    BE_CHECK_INT(be_breaker_begin(&b, MAX_FAILS), 1);
    BE_CHECK_INT(fail_at(&b, 12000), BE_BREAKER_SAME); /* still down: no second "tripped" */
    BE_CHECK(be_breaker_is_down(&b, MAX_FAILS));
    BE_CHECK(!be_breaker_usable(&b, MAX_FAILS, 12000 + FAIL_TIMEOUT - 1));
    BE_CHECK(be_breaker_usable(&b, MAX_FAILS, 12000 + FAIL_TIMEOUT));
}

static void
test_breaker_probe_success_recovers(void)
{
    be_breaker_t b = {0};
    for (int i = 0; i < MAX_FAILS; i++)
        fail_at(&b, 0);
    BE_CHECK_INT(be_breaker_begin(&b, MAX_FAILS), 1);
    BE_CHECK_INT(be_breaker_outcome(&b, 0, MAX_FAILS, FAIL_TIMEOUT, 10500), BE_BREAKER_RECOVERED);
    BE_CHECK(!be_breaker_is_down(&b, MAX_FAILS));
    BE_CHECK(be_breaker_usable(&b, MAX_FAILS, 10501));
    BE_CHECK_INT(be_breaker_begin(&b, MAX_FAILS), 0);  /* closed: no probe */
    BE_CHECK_INT(fail_at(&b, 10502), BE_BREAKER_SAME); /* counting starts over */
}

static void
test_breaker_max_fails_zero_never_trips(void)
{
    be_breaker_t b = {0};
    for (int i = 0; i < 100; i++)
        BE_CHECK_INT(be_breaker_outcome(&b, 1, 0, FAIL_TIMEOUT, i), BE_BREAKER_SAME);
    BE_CHECK(be_breaker_usable(&b, 0, 100));
    BE_CHECK(!be_breaker_is_down(&b, 0));
}

int
main(void)
{
    BE_RUN(test_breaker_trips_after_max_fails_in_a_row);
    BE_RUN(test_breaker_success_resets_the_count);
    BE_RUN(test_breaker_lets_one_probe_after_fail_timeout);
    BE_RUN(test_breaker_failed_probe_reopens_for_another_fail_timeout);
    BE_RUN(test_breaker_probe_success_recovers);
    BE_RUN(test_breaker_max_fails_zero_never_trips);
    BE_TEST_EXIT();
}
