/*
 * confvalue.c - the configuration's value syntax: decimal numbers, sizes with k/m/g, times
 * with ms/s/m/h/d, numeric listen addresses, and the reverse for sizes and times (so error
 * messages show bounds as they would be written).
 *
 * Knows no directive, no file and no error wording: a parser gets one word and says BE_OK or
 * BE_ERROR. Overflow of 64 bits (63 for times) is an error, never a wrap.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "blockedge/confvalue.h"

/* Reads one or more decimal digits. BE_OK, BE_ERROR (no digit), or BE_DECLINED (more than
 * 64 bits). *end is left on the first non-digit. */
static int
parse_digits(const char *s, uint64_t *out, const char **end)
{
    uint64_t n = 0;
    const char *p = s;

    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (n > (UINT64_MAX - d) / 10) {
            return BE_DECLINED;
        }
        n = n * 10 + d;
    }
    *end = p;
    *out = n;
    return p == s ? BE_ERROR : BE_OK;
}

int
be_confvalue_parse_number(const char *s, uint64_t *out)
{
    const char *end;

    return parse_digits(s, out, &end) == BE_OK && *end == '\0' ? BE_OK : BE_ERROR;
}

int
be_confvalue_parse_size(const char *s, uint64_t *out)
{
    uint64_t n, mult = 1;
    const char *p;

    if (parse_digits(s, &n, &p) != BE_OK) {
        return BE_ERROR;
    }
    if (*p != '\0') {
        switch (*p) {
        case 'k':
        case 'K':
            mult = 1ull << 10;
            break;
        case 'm':
        case 'M':
            mult = 1ull << 20;
            break;
        case 'g':
        case 'G':
            mult = 1ull << 30;
            break;
        default:
            return BE_ERROR;
        }
        if (p[1] != '\0') {
            return BE_ERROR;
        }
    }
    if (n > UINT64_MAX / mult) {
        return BE_ERROR;
    }
    *out = n * mult;
    return BE_OK;
}

int
be_confvalue_parse_time(const char *s, be_msec_t *out)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {
        {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
    };
    uint64_t n;
    const char *p;
    size_t i;

    if (parse_digits(s, &n, &p) != BE_OK) {
        return BE_ERROR;
    }
    for (i = 0; i < BE_ARRAY_LEN(units); i++) {
        if (strcmp(p, units[i].unit) == 0) {
            if (n > (uint64_t)INT64_MAX / units[i].ms) {
                return BE_ERROR;
            }
            *out = (be_msec_t)(n * units[i].ms);
            return BE_OK;
        }
    }
    return BE_ERROR;
}

int
be_confvalue_parse_listen(const char *text, be_listen_t *out)
{
    const char *s = text;
    char host[INET6_ADDRSTRLEN];
    const char *port, *colon;
    size_t hostlen;
    uint64_t portnum;
    const char *end;
    int v6 = 0;

    memset(out, 0, sizeof(*out));
    if (strlen(text) >= sizeof(out->text)) {
        return BE_ERROR;
    }
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':') {
            return BE_ERROR;
        }
        hostlen = (size_t)(close - s - 1);
        port = close + 2;
        v6 = 1;
        s++;
    } else if ((colon = strchr(s, ':')) == NULL) {
        hostlen = 0; /* "PORT" alone */
        port = s;
    } else {
        if (strchr(colon + 1, ':') != NULL || colon == s) {
            return BE_ERROR; /* IPv6 without brackets, or ":PORT" */
        }
        hostlen = (size_t)(colon - s);
        port = colon + 1;
    }
    if (hostlen >= sizeof(host)) {
        return BE_ERROR;
    }
    memcpy(host, s, hostlen);
    host[hostlen] = '\0';

    if (parse_digits(port, &portnum, &end) != BE_OK || *end != '\0' || portnum == 0 ||
        portnum > 65535) {
        return BE_ERROR;
    }

    if (v6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->addr;
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
            return BE_ERROR;
        }
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)portnum);
        out->addrlen = sizeof(*sin6);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&out->addr;
        if (hostlen == 0 || strcmp(host, "*") == 0) {
            sin->sin_addr.s_addr = htonl(INADDR_ANY);
        } else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
            return BE_ERROR;
        }
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)portnum);
        out->addrlen = sizeof(*sin);
    }
    strcpy(out->text, text);
    return BE_OK;
}

typedef struct unit_s {
    const char *name;
    uint64_t n;
} unit_t;

/* v in the largest unit of units[] (largest first) that divides it; plain digits else. */
static void
format_in(char *buf, size_t len, uint64_t v, const unit_t *units, size_t nunits)
{
    size_t i;

    for (i = 0; v != 0 && i < nunits; i++) {
        if (v % units[i].n == 0) {
            snprintf(buf, len, "%llu%s", (unsigned long long)(v / units[i].n), units[i].name);
            return;
        }
    }
    snprintf(buf, len, "%llu", (unsigned long long)v);
}

void
be_confvalue_format_size(char *buf, size_t len, uint64_t v)
{
    static const unit_t sizes[] = {{"g", 1ull << 30}, {"m", 1ull << 20}, {"k", 1ull << 10}};

    format_in(buf, len, v, sizes, BE_ARRAY_LEN(sizes));
}

void
be_confvalue_format_time(char *buf, size_t len, uint64_t ms)
{
    static const unit_t times[] = {
        {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
    };

    format_in(buf, len, ms, times, BE_ARRAY_LEN(times));
}
