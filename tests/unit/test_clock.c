/*
 * test_clock.c - the clock module: monotonic reads never go back, and the cached time text
 * has the exact Date-header and access-log forms and changes only with the second.
 */
#include <stdlib.h>
#include <time.h>

#include "blockedge/clock.h"
#include "test.h"

#define SEC_2026_11_22_10_00_00 1795341600 /* Sun, 22 Nov 2026 10:00:00 GMT */

static void
test_clock_monotonic_reads_never_go_back_and_agree_in_units(void)
{
    be_msec_t m0 = be_clock_msec();
    uint64_t u0 = be_clock_usec();
    be_msec_t m1 = be_clock_msec();
    uint64_t u1 = be_clock_usec();
    BE_CHECK(m1 >= m0);
    BE_CHECK(u1 >= u0);
    /* the two clocks are one: microseconds / 1000 lands within a few ms of milliseconds */
    BE_CHECK((int64_t)(u1 / 1000) - m1 >= -2 && (int64_t)(u1 / 1000) - m1 <= 2);
    int64_t wall = be_clock_wall_sec();
    BE_CHECK(wall >= (int64_t)time(NULL) - 1 && wall <= (int64_t)time(NULL) + 1);
}

static void
test_clock_http_date_is_imf_fixdate(void)
{
    be_timetext_t t;
    be_timetext_init(&t, BE_TIMEFMT_HTTP);
    BE_CHECK_STR(be_timetext_get(&t, SEC_2026_11_22_10_00_00), "Sun, 22 Nov 2026 10:00:00 GMT");
    BE_CHECK_STR(be_timetext_get(&t, SEC_2026_11_22_10_00_00 + 61),
                 "Sun, 22 Nov 2026 10:01:01 GMT");
}

static void
test_clock_log_time_is_nginx_time_local(void)
{
    be_timetext_t t;
    be_timetext_init(&t, BE_TIMEFMT_LOG);
    BE_CHECK_STR(be_timetext_get(&t, SEC_2026_11_22_10_00_00), "22/Nov/2026:10:00:00 +0000");
}

static void
test_clock_text_is_reformatted_only_when_the_second_changes(void)
{
    be_timetext_t t;
    be_timetext_init(&t, BE_TIMEFMT_HTTP);
    const char *a = be_timetext_get(&t, SEC_2026_11_22_10_00_00);
    t.text[0] = 'X'; /* a reformat would overwrite this */
    BE_CHECK(be_timetext_get(&t, SEC_2026_11_22_10_00_00) == a);
    BE_CHECK(t.text[0] == 'X');
    be_timetext_get(&t, SEC_2026_11_22_10_00_00 + 1);
    BE_CHECK_STR(t.text, "Sun, 22 Nov 2026 10:00:01 GMT");
}

int
main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    BE_RUN(test_clock_monotonic_reads_never_go_back_and_agree_in_units);
    BE_RUN(test_clock_http_date_is_imf_fixdate);
    BE_RUN(test_clock_log_time_is_nginx_time_local);
    BE_RUN(test_clock_text_is_reformatted_only_when_the_second_changes);
    BE_TEST_EXIT();
}
