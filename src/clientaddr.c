/*
 * clientaddr.c - a request's client address for per-client limits (see clientaddr.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "blockedge/clientaddr.h"
#include "blockedge/defs.h"

int
be_clientaddr_from_sockaddr(const struct sockaddr *sa, be_clientaddr_t *out)
{
    memset(out, 0, sizeof(*out));
    if (sa == NULL)
        return BE_ERROR;
    if (sa->sa_family == AF_INET) {
        out->a[10] = 0xff;
        out->a[11] = 0xff;
        memcpy(out->a + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return BE_OK;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out->a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return BE_OK;
    }
    return BE_ERROR;
}

int
be_clientaddr_from_text(const char *s, size_t len, be_clientaddr_t *out)
{
    char buf[INET6_ADDRSTRLEN];
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    memset(out, 0, sizeof(*out));
    if (len == 0 || len >= sizeof(buf))
        return BE_ERROR;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, out->a + 12) == 1) {
        out->a[10] = 0xff;
        out->a[11] = 0xff;
        return BE_OK;
    }
    return inet_pton(AF_INET6, buf, out->a) == 1 ? BE_OK : BE_ERROR;
}

static int
is_v4(const be_clientaddr_t *addr)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(addr->a, mapped, sizeof(mapped)) == 0;
}

static int
prefix_matches(const uint8_t *a, const uint8_t *net, int bits)
{
    int full = bits / 8, rest = bits % 8;
    if (memcmp(a, net, (size_t)full) != 0)
        return 0;
    return rest == 0 || ((a[full] ^ net[full]) & (0xff << (8 - rest))) == 0;
}

int
be_clientaddr_in(const be_clientaddr_t *addr, const be_acl_rule_t *rules, int n)
{
    int v4 = is_v4(addr);
    for (int i = 0; i < n; i++) {
        const be_acl_rule_t *r = &rules[i];
        if (r->family == AF_UNSPEC)
            return 1;
        if (r->family == AF_INET && v4 && prefix_matches(addr->a + 12, r->addr, r->prefix))
            return 1;
        if (r->family == AF_INET6 && prefix_matches(addr->a, r->addr, r->prefix))
            return 1;
    }
    return 0;
}

void
be_clientaddr_group(be_clientaddr_t *addr)
{
    if (!is_v4(addr))
        memset(addr->a + 8, 0, 8);
}

/* The rightmost address of the list that is not trusted. BE_ERROR: none, or one that does
 * not parse (a forged or broken header names nobody). */
static int
rightmost_untrusted(const be_config_t *cfg, const char *h, size_t len, be_clientaddr_t *out)
{
    size_t end = len;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && h[start - 1] != ',')
            start--;
        if (be_clientaddr_from_text(h + start, end - start, out) != BE_OK)
            return BE_ERROR;
        if (!be_clientaddr_in(out, cfg->trusted, cfg->ntrusted))
            return BE_OK;
        end = start > 0 ? start - 1 : 0;
    }
    return BE_ERROR;
}

const char *
be_clientaddr_text(const be_clientaddr_t *addr, char *out, size_t len)
{
    if (inet_ntop(is_v4(addr) ? AF_INET : AF_INET6, is_v4(addr) ? addr->a + 12 : addr->a, out,
                  (socklen_t)len) == NULL)
        snprintf(out, len, "-");
    return out;
}

int
be_clientaddr_named(const be_config_t *cfg, const struct sockaddr *peer, const char *header,
                    size_t hlen, be_clientaddr_t *out)
{
    return cfg->real_ip_header[0] != '\0' && header != NULL &&
           be_clientaddr_from_sockaddr(peer, out) == BE_OK &&
           be_clientaddr_in(out, cfg->trusted, cfg->ntrusted) &&
           rightmost_untrusted(cfg, header, hlen, out) == BE_OK;
}

int
be_clientaddr_of_request(const be_config_t *cfg, const struct sockaddr *peer, const char *header,
                         size_t hlen, be_clientaddr_t *out)
{
    if (be_clientaddr_from_sockaddr(peer, out) != BE_OK)
        return 0; /* AF_UNIX: a local peer */
    if (be_clientaddr_in(out, cfg->trusted, cfg->ntrusted)) {
        if (cfg->real_ip_header[0] == '\0' || header == NULL ||
            rightmost_untrusted(cfg, header, hlen, out) != BE_OK)
            return 0;
    }
    be_clientaddr_group(out);
    return 1;
}
