/*
 * test_missrate.c - the per-client miss budget and how a request's client is named: a
 * bucket's burst and refill, Retry-After, clients kept apart, IPv6 grouped by /64, the
 * table's bound (the least recently seen client forgotten), trusted peers exempt, and the
 * real-client header believed from trusted peers only, rightmost untrusted address first.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "blockedge/clientaddr.h"
#include "blockedge/config.h"
#include "blockedge/missrate.h"
#include "test.h"

static be_clientaddr_t
addr(const char *text)
{
    be_clientaddr_t a;
    if (be_clientaddr_from_text(text, strlen(text), &a) != BE_OK)
        memset(&a, 0xee, sizeof(a));
    return a;
}

static int
same(const be_clientaddr_t *c, const char *text)
{
    be_clientaddr_t want = addr(text);
    return memcmp(c, &want, sizeof(want)) == 0;
}

static void
burst_then_refill(void)
{
    be_missrate_t *m = be_missrate_new();
    be_clientaddr_t c = addr("192.0.2.1");
    int retry = 0;
    BE_CHECK(m != NULL);
    for (int i = 0; i < 5; i++)
        BE_CHECK_INT(be_missrate_take(m, &c, 2.0, 5, 1000, &retry), BE_OK);
    BE_CHECK_INT(be_missrate_take(m, &c, 2.0, 5, 1000, &retry), BE_DECLINED);
    BE_CHECK_INT(retry, 1); /* 2 tokens a second: the next in 0.5 s, said as 1 */
    /* 499 ms later: 0.998 tokens, still none */
    BE_CHECK_INT(be_missrate_take(m, &c, 2.0, 5, 1499, &retry), BE_DECLINED);
    BE_CHECK_INT(be_missrate_take(m, &c, 2.0, 5, 1500, &retry), BE_OK);
    /* a long pause refills to the burst, not beyond */
    for (int i = 0; i < 5; i++)
        BE_CHECK_INT(be_missrate_take(m, &c, 2.0, 5, 100000, &retry), BE_OK);
    BE_CHECK_INT(be_missrate_take(m, &c, 2.0, 5, 100000, &retry), BE_DECLINED);
    /* a slow rate says when in whole seconds */
    be_clientaddr_t d = addr("192.0.2.2");
    BE_CHECK_INT(be_missrate_take(m, &d, 0.1, 1, 0, &retry), BE_OK);
    BE_CHECK_INT(be_missrate_take(m, &d, 0.1, 1, 0, &retry), BE_DECLINED);
    BE_CHECK_INT(retry, 10);
    BE_CHECK_INT(be_missrate_clients(m), 2);
    be_missrate_free(&m);
    BE_CHECK(m == NULL);
}

static void
clients_apart_and_v6_by_64(void)
{
    be_missrate_t *m = be_missrate_new();
    int retry;
    be_clientaddr_t a = addr("2001:db8:1:2::1"), b = addr("2001:db8:1:2:ffff::9");
    be_clientaddr_t other = addr("2001:db8:1:3::1"), v4 = addr("10.0.0.1");
    be_clientaddr_group(&a);
    be_clientaddr_group(&b);
    be_clientaddr_group(&other);
    be_clientaddr_group(&v4);
    BE_CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    BE_CHECK(memcmp(&a, &other, sizeof(a)) != 0);
    BE_CHECK(memcmp(&v4,
                    &(be_clientaddr_t){{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1}},
                    sizeof(v4)) == 0);
    BE_CHECK_INT(be_missrate_take(m, &a, 1.0, 1, 0, &retry), BE_OK);
    BE_CHECK_INT(be_missrate_take(m, &b, 1.0, 1, 0, &retry), BE_DECLINED); /* same /64 */
    BE_CHECK_INT(be_missrate_take(m, &other, 1.0, 1, 0, &retry), BE_OK);
    BE_CHECK_INT(be_missrate_take(m, &v4, 1.0, 1, 0, &retry), BE_OK);
    be_missrate_free(&m);
}

static void
table_is_bounded(void)
{
    be_missrate_t *m = be_missrate_new();
    int retry;
    be_clientaddr_t first = addr("10.255.255.254");
    BE_CHECK_INT(be_missrate_take(m, &first, 1.0, 1, 0, &retry), BE_OK);
    BE_CHECK_INT(be_missrate_take(m, &first, 1.0, 1, 0, &retry), BE_DECLINED);
    /* four times the bound of other clients: the table stays at its bound, and the first
     * client, seen least recently, is forgotten (it starts again with a full bucket) */
    for (uint32_t i = 0; i < 4 * BE_MISSRATE_CLIENTS; i++) {
        be_clientaddr_t c = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}};
        c.a[12] = 10;
        c.a[13] = (uint8_t)(i >> 16);
        c.a[14] = (uint8_t)(i >> 8);
        c.a[15] = (uint8_t)i;
        BE_CHECK_INT(be_missrate_take(m, &c, 1.0, 1, 0, &retry), BE_OK);
    }
    BE_CHECK(be_missrate_clients(m) <= BE_MISSRATE_CLIENTS);
    BE_CHECK(be_missrate_clients(m) > BE_MISSRATE_CLIENTS / 2);
    BE_CHECK_INT(be_missrate_take(m, &first, 1.0, 1, 0, &retry), BE_OK);
    be_missrate_free(&m);
}

static struct sockaddr_in
v4peer(const char *text)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(4000)};
    inet_pton(AF_INET, text, &in.sin_addr);
    return in;
}

static int
client_of(const be_config_t *cfg, const char *peer, const char *xff, be_clientaddr_t *out)
{
    struct sockaddr_in in = v4peer(peer);
    return be_clientaddr_of_request(cfg, (const struct sockaddr *)&in, xff,
                                    xff != NULL ? strlen(xff) : 0, out);
}

static void
trusted_peers_and_real_ip_header(void)
{
    static be_config_t cfg;
    char err[256];
    be_clientaddr_t c;
    const char *path = "/tmp/blockedge-test-missrate.conf";
    FILE *f = fopen(path, "w");
    BE_CHECK(f != NULL);
    fputs("http { miss_rate 10r/s burst=20; trusted 127.0.0.0/8; trusted 10.1.0.0/16;\n"
          "       real_ip_header X-Forwarded-For; }\n"
          "origin { server http://127.0.0.1:1/; }\n",
          f);
    fclose(f);
    int rc = be_config_load(&cfg, path, err, sizeof(err));
    remove(path);
    BE_CHECK_INT(rc, BE_OK);
    BE_CHECK_INT(cfg.miss_burst, 20);
    BE_CHECK(cfg.miss_rate > 9.99 && cfg.miss_rate < 10.01);

    BE_CHECK_INT(client_of(&cfg, "192.0.2.7", NULL, &c), 1); /* untrusted: itself */
    BE_CHECK(same(&c, "192.0.2.7"));
    /* an untrusted peer cannot name someone else */
    BE_CHECK_INT(client_of(&cfg, "192.0.2.7", "198.51.100.1", &c), 1);
    BE_CHECK(same(&c, "192.0.2.7"));
    /* a trusted peer without the header is exempt */
    BE_CHECK_INT(client_of(&cfg, "127.0.0.1", NULL, &c), 0);
    /* with it: the rightmost untrusted address, however many trusted hops */
    BE_CHECK_INT(client_of(&cfg, "127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.2.3", &c), 1);
    BE_CHECK(same(&c, "198.51.100.1"));
    BE_CHECK_INT(client_of(&cfg, "127.0.0.1", "2001:db8::5", &c), 1);
    BE_CHECK(memcmp(c.a, addr("2001:db8::").a, 16) == 0); /* grouped by /64 */
    /* every hop trusted, or a broken rightmost entry: exempt (a trusted peer wrote it) */
    BE_CHECK_INT(client_of(&cfg, "127.0.0.1", "10.1.0.1,127.0.0.5", &c), 0);
    BE_CHECK_INT(client_of(&cfg, "127.0.0.1", "1.2.3.4, bogus", &c), 0);

    /* without real_ip_header a trusted peer is simply exempt */
    cfg.real_ip_header[0] = '\0';
    BE_CHECK_INT(client_of(&cfg, "127.0.0.1", "198.51.100.1", &c), 0);
}

static void
bad_directives(void)
{
    static be_config_t cfg;
    static const char *bad[] = {
        "http { miss_rate 10; }",           "http { miss_rate 0r/s; }",
        "http { miss_rate 5r/h; }",         "http { miss_rate 5r/s burst=0; }",
        "http { miss_rate 5r/s brst=3; }",  "http { trusted 10.0.0.0/33; }",
        "http { real_ip_header \"X F\"; }",
    };
    for (size_t i = 0; i < BE_ARRAY_LEN(bad); i++) {
        char err[512];
        const char *path = "/tmp/blockedge-test-missrate-bad.conf";
        FILE *f = fopen(path, "w");
        BE_CHECK(f != NULL);
        fprintf(f, "%s\norigin { server http://127.0.0.1:1/; }\n", bad[i]);
        fclose(f);
        int rc = be_config_load(&cfg, path, err, sizeof(err));
        remove(path);
        if (rc == BE_OK)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        BE_CHECK(rc != BE_OK);
        BE_CHECK(strstr(err, ":1") != NULL); /* file:line */
    }
}

int
main(void)
{
    BE_RUN(burst_then_refill);
    BE_RUN(clients_apart_and_v6_by_64);
    BE_RUN(table_is_bounded);
    BE_RUN(trusted_peers_and_real_ip_header);
    BE_RUN(bad_directives);
    BE_TEST_EXIT();
}
