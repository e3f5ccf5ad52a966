/*
 * test_proxyproto.c - the PROXY protocol header: v1 and v2 client addresses, LOCAL and UNKNOWN,
 * the reader never taking a byte past the header, and every malformed or oversized header
 * refused with a reason.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "blockedge/defs.h"
#include "blockedge/proxyproto.h"
#include "test.h"

static const uint8_t sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* Feeds stream (header then payload) to need()/take() in chunks of step bytes, as the
 * connection does; returns the header length taken, or -1 when refused (*why set). */
static long
read_header(const uint8_t *stream, size_t len, size_t step, const char **why)
{
    uint8_t buf[BE_PROXY_V2_MAX];
    size_t have = 0, pos = 0;
    for (;;) {
        long want = be_proxyproto_need(buf, have, why);
        if (want <= 0)
            return want < 0 ? -1 : (long)have;
        size_t n = (size_t)want < step ? (size_t)want : step;
        if (n > len - pos)
            n = len - pos;
        if (n == 0)
            return -2; /* would wait for more */
        memcpy(buf + have, stream + pos, n);
        size_t take = be_proxyproto_take(buf, have, buf + have, n);
        have += take;
        pos += take;
    }
}

static void
test_proxyproto_v1_tcp4_gives_the_client_and_stops_at_the_line_end(void)
{
    const char *s = "PROXY TCP4 203.0.113.7 10.0.0.1 5555 443\r\n\x16\x03\x01rest";
    const char *why = NULL;
    size_t hl = strlen("PROXY TCP4 203.0.113.7 10.0.0.1 5555 443\r\n");
    for (size_t step = 1; step <= 64; step *= 2)
        BE_CHECK_INT(read_header((const uint8_t *)s, strlen(s), step, &why), (long)hl);
    struct sockaddr_storage ss;
    BE_CHECK_INT(be_proxyproto_parse((const uint8_t *)s, hl, &ss, &why), BE_OK);
    const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
    char text[64];
    BE_CHECK_INT(ss.ss_family, AF_INET);
    BE_CHECK_STR(inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)), "203.0.113.7");
    BE_CHECK_INT(ntohs(in->sin_port), 5555);
}

static void
test_proxyproto_v1_tcp6_and_unknown(void)
{
    const char *s6 = "PROXY TCP6 2001:db8::7 2001:db8::1 1 2\r\n";
    const char *unk = "PROXY UNKNOWN\r\n";
    struct sockaddr_storage ss;
    const char *why = NULL;
    char text[64];
    BE_CHECK_INT(be_proxyproto_parse((const uint8_t *)s6, strlen(s6), &ss, &why), BE_OK);
    BE_CHECK_INT(ss.ss_family, AF_INET6);
    BE_CHECK_STR(inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, text, 64),
                 "2001:db8::7");
    BE_CHECK_INT(read_header((const uint8_t *)unk, strlen(unk), 16, &why), (long)strlen(unk));
    BE_CHECK_INT(be_proxyproto_parse((const uint8_t *)unk, strlen(unk), &ss, &why), BE_OK);
    BE_CHECK_INT(ss.ss_family, AF_UNSPEC);
}

static size_t
v2(uint8_t *out, int cmd, int fam, const uint8_t *addr, size_t alen)
{
    memcpy(out, sig, 12);
    out[12] = (uint8_t)(0x20 | cmd);
    out[13] = (uint8_t)fam;
    out[14] = (uint8_t)(alen >> 8);
    out[15] = (uint8_t)alen;
    memcpy(out + 16, addr, alen);
    return 16 + alen;
}

static void
test_proxyproto_v2_tcp4_with_tlvs_and_local(void)
{
    uint8_t a[12 + 7] = {198, 51, 100,  9, 127, 0,   0,   1,   0x11, 0x5c,
                         0,   80, 0x04, 0, 4,   'n', 'o', 'o', 'p'}; /* a NOOP TLV after */
    uint8_t stream[64];
    size_t hl = v2(stream, 1, 0x11, a, sizeof(a));
    memcpy(stream + hl, "GET ", 4);
    const char *why = NULL;
    for (size_t step = 1; step <= 64; step *= 2)
        BE_CHECK_INT(read_header(stream, hl + 4, step, &why), (long)hl);
    struct sockaddr_storage ss;
    BE_CHECK_INT(be_proxyproto_parse(stream, hl, &ss, &why), BE_OK);
    const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
    BE_CHECK_INT(ss.ss_family, AF_INET);
    BE_CHECK_INT(ntohl(in->sin_addr.s_addr), 0xc6336409u);
    BE_CHECK_INT(ntohs(in->sin_port), 0x115c);
    hl = v2(stream, 0, 0x00, a, 0); /* LOCAL: a health check, the peer stands */
    BE_CHECK_INT(be_proxyproto_parse(stream, hl, &ss, &why), BE_OK);
    BE_CHECK_INT(ss.ss_family, AF_UNSPEC);
}

static void
test_proxyproto_refuses_what_is_no_header_or_too_long(void)
{
    const char *why = NULL;
    const char *get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    BE_CHECK_INT(read_header((const uint8_t *)get, strlen(get), 64, &why), -1);
    BE_CHECK_STR(why, "no PROXY protocol header");
    const char *post = "POST / HTTP/1.1\r\nHost: x\r\n\r\n";
    BE_CHECK_INT(read_header((const uint8_t *)post, strlen(post), 64, &why), -1);
    char longv1[300];
    memset(longv1, 'x', sizeof(longv1));
    memcpy(longv1, "PROXY TCP4 ", 11);
    BE_CHECK_INT(read_header((const uint8_t *)longv1, sizeof(longv1), 64, &why), -1);
    BE_CHECK_STR(why, "PROXY protocol v1 header longer than 107 bytes");
    uint8_t big[16];
    memcpy(big, sig, 12);
    big[12] = 0x21, big[13] = 0x11, big[14] = 0xff, big[15] = 0xff;
    BE_CHECK_INT(read_header(big, sizeof(big), 64, &why), -1);
    BE_CHECK_STR(why, "PROXY protocol v2 header longer than 2048 bytes");
}

static void
test_proxyproto_malformed_headers_fail_to_parse(void)
{
    static const char *bad[] = {
        "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",     "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
        "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",     "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",  "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
    };
    struct sockaddr_storage ss;
    const char *why = NULL;
    for (size_t i = 0; i < BE_ARRAY_LEN(bad); i++)
        BE_CHECK_INT(be_proxyproto_parse((const uint8_t *)bad[i], strlen(bad[i]), &ss, &why),
                     BE_ERROR);
    uint8_t a[12] = {0}, h[64];
    size_t hl = v2(h, 1, 0x21, a, sizeof(a)); /* TCP6 with 12 bytes of addresses */
    BE_CHECK_INT(be_proxyproto_parse(h, hl, &ss, &why), BE_ERROR);
    hl = v2(h, 1, 0x11, a, sizeof(a));
    h[12] = 0x11; /* version 1 in a binary header */
    BE_CHECK_INT(be_proxyproto_parse(h, hl, &ss, &why), BE_ERROR);
    h[12] = 0x22; /* command 2 */
    BE_CHECK_INT(be_proxyproto_parse(h, hl, &ss, &why), BE_ERROR);
}

int
main(void)
{
    BE_RUN(test_proxyproto_v1_tcp4_gives_the_client_and_stops_at_the_line_end);
    BE_RUN(test_proxyproto_v1_tcp6_and_unknown);
    BE_RUN(test_proxyproto_v2_tcp4_with_tlvs_and_local);
    BE_RUN(test_proxyproto_refuses_what_is_no_header_or_too_long);
    BE_RUN(test_proxyproto_malformed_headers_fail_to_parse);
    BE_TEST_EXIT();
}
