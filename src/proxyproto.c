/*
 * proxyproto.c - the PROXY protocol header, versions 1 (text) and 2 (binary) (proxyproto.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/defs.h"
#include "blockedge/proxyproto.h"

static const uint8_t v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                   0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
static const char v1_sig[6] = "PROXY ";

static size_t
min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static int
is_v1(const uint8_t *buf, size_t have)
{
    return memcmp(buf, v1_sig, min_size(have, sizeof(v1_sig))) == 0;
}

long
be_proxyproto_need(const uint8_t *buf, size_t have, const char **why)
{
    if (have == 0)
        return 16; /* no version 1 header is shorter ("PROXY UNKNOWN\r\n" + 1), take() cuts */
    if (is_v1(buf, have)) {
        if (memchr(buf, '\n', have) != NULL)
            return 0;
        if (have >= BE_PROXY_V1_MAX) {
            *why = "PROXY protocol v1 header longer than 107 bytes";
            return -1;
        }
        return (long)(BE_PROXY_V1_MAX - have);
    }
    if (memcmp(buf, v2_sig, min_size(have, sizeof(v2_sig))) != 0) {
        *why = "no PROXY protocol header";
        return -1;
    }
    if (have < 16)
        return (long)(16 - have);
    size_t total = 16 + ((size_t)buf[14] << 8 | buf[15]);
    if (total > BE_PROXY_V2_MAX) {
        *why = "PROXY protocol v2 header longer than 2048 bytes";
        return -1;
    }
    return (long)(total - have);
}

size_t
be_proxyproto_take(const uint8_t *buf, size_t have, const uint8_t *next, size_t n)
{
    if (have == 0 ? n > 0 && next[0] == 'P' : is_v1(buf, have)) {
        const uint8_t *lf = memchr(next, '\n', n);
        return lf != NULL ? (size_t)(lf - next) + 1 : n;
    }
    return n;
}

/* One decimal port, 0-65535, no sign or leading zero. */
static int
v1_port(const char *s, uint16_t *out)
{
    char *end;
    if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] != '\0'))
        return BE_ERROR;
    unsigned long v = strtoul(s, &end, 10);
    if (*end != '\0' || v > 65535)
        return BE_ERROR;
    *out = (uint16_t)v;
    return BE_OK;
}

/* "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" or "PROXY UNKNOWN ...\r\n". */
static int
parse_v1(const uint8_t *buf, size_t len, struct sockaddr_storage *src, const char **why)
{
    char line[BE_PROXY_V1_MAX + 1], *f[7], *save = NULL;
    int n = 0;
    *why = "malformed PROXY protocol v1 header";
    if (len < 8 || len > BE_PROXY_V1_MAX || buf[len - 2] != '\r' || buf[len - 1] != '\n')
        return BE_ERROR;
    memcpy(line, buf, len - 2);
    line[len - 2] = '\0';
    if (strlen(line) != len - 2)
        return BE_ERROR; /* a NUL inside */
    for (char *t = strtok_r(line, " ", &save); t != NULL && n < 7; t = strtok_r(NULL, " ", &save))
        f[n++] = t;
    if (n >= 2 && strcmp(f[1], "UNKNOWN") == 0)
        return BE_OK;
    uint16_t sport, dport;
    if (n != 6 || v1_port(f[4], &sport) != BE_OK || v1_port(f[5], &dport) != BE_OK)
        return BE_ERROR;
    if (strcmp(f[1], "TCP4") == 0) {
        struct sockaddr_in *in = (struct sockaddr_in *)src;
        struct in_addr dst;
        if (inet_pton(AF_INET, f[2], &in->sin_addr) != 1 || inet_pton(AF_INET, f[3], &dst) != 1)
            return BE_ERROR;
        in->sin_family = AF_INET;
        in->sin_port = htons(sport);
        return BE_OK;
    }
    if (strcmp(f[1], "TCP6") == 0) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)src;
        struct in6_addr dst;
        if (inet_pton(AF_INET6, f[2], &in6->sin6_addr) != 1 || inet_pton(AF_INET6, f[3], &dst) != 1)
            return BE_ERROR;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(sport);
        return BE_OK;
    }
    return BE_ERROR;
}

static int
parse_v2(const uint8_t *buf, size_t len, struct sockaddr_storage *src, const char **why)
{
    size_t alen = len - 16;
    const uint8_t *a = buf + 16;
    *why = "malformed PROXY protocol v2 header";
    if (len < 16 || alen != ((size_t)buf[14] << 8 | buf[15]) || (buf[12] >> 4) != 2)
        return BE_ERROR;
    int cmd = buf[12] & 0x0f;
    if (cmd == 0)
        return BE_OK; /* LOCAL: the proxy's own connection (a health check) */
    if (cmd != 1)
        return BE_ERROR;
    if (buf[13] == 0x11) { /* TCP over IPv4: src, dst, sport, dport */
        struct sockaddr_in *in = (struct sockaddr_in *)src;
        if (alen < 12)
            return BE_ERROR;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, a, 4);
        memcpy(&in->sin_port, a + 8, 2);
        return BE_OK;
    }
    if (buf[13] == 0x21) { /* TCP over IPv6 */
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)src;
        if (alen < 36)
            return BE_ERROR;
        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, a, 16);
        memcpy(&in6->sin6_port, a + 32, 2);
        return BE_OK;
    }
    return BE_OK; /* UNSPEC, UDP, UNIX: no TCP client address, the peer stands */
}

int
be_proxyproto_parse(const uint8_t *buf, size_t len, struct sockaddr_storage *src, const char **why)
{
    memset(src, 0, sizeof(*src));
    src->ss_family = AF_UNSPEC;
    if (len > 0 && buf[0] == 'P')
        return parse_v1(buf, len, src, why);
    return parse_v2(buf, len, src, why);
}
