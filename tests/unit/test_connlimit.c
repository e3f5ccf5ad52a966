/*
 * test_connlimit.c - the per-address connection table behind max_connections_per_ip: the
 * refusal at the limit and the room a release makes, IPv4 per address and IPv6 per /64
 * (an IPv4-mapped address counted as its IPv4 host), limit 0 counting without refusing,
 * entries that go when their count reaches 0 with the memory following them back down,
 * the text logs show, and threads taking and releasing the same addresses at once ending
 * with an empty table and never past the limit.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/un.h>

#include "blockedge/connlimit.h"
#include "test.h"

static be_connkey_t
v4(const char *text)
{
    struct sockaddr_in sin;
    be_connkey_t k;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(1234);
    inet_pton(AF_INET, text, &sin.sin_addr);
    if (be_connlimit_key((struct sockaddr *)&sin, &k) != BE_OK)
        memset(&k, 0xee, sizeof(k));
    return k;
}

static be_connkey_t
v6(const char *text)
{
    struct sockaddr_in6 sin6;
    be_connkey_t k;
    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(1234);
    inet_pton(AF_INET6, text, &sin6.sin6_addr);
    if (be_connlimit_key((struct sockaddr *)&sin6, &k) != BE_OK)
        memset(&k, 0xee, sizeof(k));
    return k;
}

static void
test_connlimit_refuses_past_the_limit_until_one_is_released(void)
{
    be_connlimit_t *l = be_connlimit_new();
    be_connkey_t a = v4("192.0.2.7"), b = v4("192.0.2.8");
    unsigned held = 99;
    BE_CHECK(l != NULL);
    for (int i = 0; i < 3; i++)
        BE_CHECK_INT(be_connlimit_take(l, &a, 3, NULL), BE_OK);
    BE_CHECK_INT(be_connlimit_take(l, &a, 3, &held), BE_DECLINED);
    BE_CHECK_INT(held, 3);
    BE_CHECK_INT(be_connlimit_count(l, &a), 3);              /* a refusal counts nothing */
    BE_CHECK_INT(be_connlimit_take(l, &b, 3, &held), BE_OK); /* another address has room */
    BE_CHECK_INT(held, 1);
    be_connlimit_release(l, &a);
    BE_CHECK_INT(be_connlimit_take(l, &a, 3, &held), BE_OK);
    BE_CHECK_INT(held, 3);
    /* a lower limit (a reload) refuses the next one and leaves the open ones alone */
    BE_CHECK_INT(be_connlimit_take(l, &a, 1, NULL), BE_DECLINED);
    BE_CHECK_INT(be_connlimit_count(l, &a), 3);
    for (int i = 0; i < 3; i++)
        be_connlimit_release(l, &a);
    be_connlimit_release(l, &b);
    BE_CHECK_INT(be_connlimit_entries(l), 0);
    be_connlimit_free(&l);
    BE_CHECK(l == NULL);
}

static void
test_connlimit_counts_ipv6_per_64_and_mapped_ipv4_as_ipv4(void)
{
    be_connlimit_t *l = be_connlimit_new();
    be_connkey_t x1 = v6("2001:db8:1:2::1"), x2 = v6("2001:db8:1:2:ffff:1:2:3");
    be_connkey_t y = v6("2001:db8:1:3::1"), m = v6("::ffff:192.0.2.7"), a = v4("192.0.2.7");
    be_connkey_t a2 = v4("192.0.2.9");
    BE_CHECK(l != NULL);
    BE_CHECK(memcmp(&x1, &x2, sizeof(x1)) == 0);
    BE_CHECK(memcmp(&x1, &y, sizeof(x1)) != 0);
    BE_CHECK(memcmp(&m, &a, sizeof(m)) == 0);
    BE_CHECK(memcmp(&a, &a2, sizeof(a)) != 0); /* IPv4: every address its own */
    BE_CHECK_INT(be_connlimit_take(l, &x1, 2, NULL), BE_OK);
    BE_CHECK_INT(be_connlimit_take(l, &x2, 2, NULL), BE_OK);
    BE_CHECK_INT(be_connlimit_take(l, &x2, 2, NULL), BE_DECLINED); /* the same /64 */
    BE_CHECK_INT(be_connlimit_take(l, &y, 2, NULL), BE_OK);
    BE_CHECK_INT(be_connlimit_take(l, &a, 1, NULL), BE_OK);
    BE_CHECK_INT(be_connlimit_take(l, &m, 1, NULL), BE_DECLINED);
    BE_CHECK_INT(be_connlimit_entries(l), 3);

    char text[64];
    BE_CHECK_STR(be_connlimit_key_text(&x2, text, sizeof(text)), "2001:db8:1:2::/64");
    BE_CHECK_STR(be_connlimit_key_text(&m, text, sizeof(text)), "192.0.2.7");

    struct sockaddr_un sun;
    be_connkey_t k;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    BE_CHECK_INT(be_connlimit_key((struct sockaddr *)&sun, &k), BE_DECLINED);
    BE_CHECK_INT(be_connlimit_key(NULL, &k), BE_DECLINED);
    be_connlimit_free(&l);
}

static void
test_connlimit_limit_zero_counts_without_refusing(void)
{
    be_connlimit_t *l = be_connlimit_new();
    be_connkey_t a = v4("198.51.100.1");
    BE_CHECK(l != NULL);
    for (int i = 0; i < 1000; i++)
        BE_CHECK_INT(be_connlimit_take(l, &a, 0, NULL), BE_OK);
    BE_CHECK_INT(be_connlimit_count(l, &a), 1000);
    /* a reload from 0 to a limit counts the connections already open */
    BE_CHECK_INT(be_connlimit_take(l, &a, 10, NULL), BE_DECLINED);
    for (int i = 0; i < 1000; i++)
        be_connlimit_release(l, &a);
    BE_CHECK_INT(be_connlimit_count(l, &a), 0);
    BE_CHECK_INT(be_connlimit_entries(l), 0);
    be_connlimit_free(&l);
}

static be_connkey_t
nth(unsigned i)
{
    char text[64];
    snprintf(text, sizeof(text), "2001:db8:%x:%x::1", i >> 16, i & 0xffff);
    return v6(text);
}

static void
test_connlimit_entries_go_at_zero_and_memory_follows(void)
{
    enum { N = 20000 };
    be_connlimit_t *l = be_connlimit_new();
    BE_CHECK(l != NULL);
    size_t empty = be_connlimit_bytes(l);
    for (unsigned i = 0; i < N; i++) {
        be_connkey_t k = nth(i);
        BE_CHECK_INT(be_connlimit_take(l, &k, 4, NULL), BE_OK);
    }
    BE_CHECK_INT(be_connlimit_entries(l), N);
    size_t full = be_connlimit_bytes(l);
    /* at most 3/4 full after growing, at least 1/4 once grown: 32-byte slots */
    BE_CHECK(full - empty >= (size_t)N * 32 && full - empty <= (size_t)N * 32 * 4);
    for (unsigned i = 0; i < N; i++) {
        be_connkey_t k = nth(i);
        BE_CHECK_INT(be_connlimit_count(l, &k), 1);
        be_connlimit_release(l, &k);
        BE_CHECK_INT(be_connlimit_count(l, &k), 0);
    }
    BE_CHECK_INT(be_connlimit_entries(l), 0);
    /* back to at most the smallest arrays of its 16 shards */
    BE_CHECK(be_connlimit_bytes(l) - empty <= 16 * 32 * 32);
    be_connlimit_free(&l);
}

#define THREADS 4
#define ROUNDS  20000
#define LIMIT   3

static be_connlimit_t *shared;
static atomic_int over_limit;

static void *
churn(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    be_connkey_t mine[LIMIT + 2];
    int n = 0;
    for (int r = 0; r < ROUNDS; r++) {
        seed = seed * 1103515245u + 12345u;
        be_connkey_t k = nth(seed >> 16 & 7); /* 8 addresses shared by every thread */
        unsigned held = 0;
        if (n < LIMIT + 2 && be_connlimit_take(shared, &k, LIMIT, &held) == BE_OK)
            mine[n++] = k;
        if (held > LIMIT)
            atomic_fetch_add(&over_limit, 1);
        if (n > 0 && (seed >> 8 & 1)) /* release one of ours */
            be_connlimit_release(shared, &mine[--n]);
    }
    while (n > 0)
        be_connlimit_release(shared, &mine[--n]);
    return NULL;
}

static void
test_connlimit_threads_balance_and_never_pass_the_limit(void)
{
    pthread_t t[THREADS];
    shared = be_connlimit_new();
    BE_CHECK(shared != NULL);
    atomic_store(&over_limit, 0);
    for (uintptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, churn, (void *)(i + 1));
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    BE_CHECK_INT(atomic_load(&over_limit), 0);
    BE_CHECK_INT(be_connlimit_entries(shared), 0);
    be_connlimit_free(&shared);
}

int
main(void)
{
    BE_RUN(test_connlimit_refuses_past_the_limit_until_one_is_released);
    BE_RUN(test_connlimit_counts_ipv6_per_64_and_mapped_ipv4_as_ipv4);
    BE_RUN(test_connlimit_limit_zero_counts_without_refusing);
    BE_RUN(test_connlimit_entries_go_at_zero_and_memory_follows);
    BE_RUN(test_connlimit_threads_balance_and_never_pass_the_limit);
    BE_TEST_EXIT();
}
