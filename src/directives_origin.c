/*
 * directives_origin.c - the setters of the origin directives that take a URL (server,
 * s3_endpoint) and the checks of a URL's authority they share; their rows are in
 * directives.c's table.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/conf.h"
#include "blockedge/confvalue.h"
#include "blockedge/directives.h"
#include "blockedge/log.h"

static int
has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Why the authority of an http:// or https:// URL (the len bytes after "://", up to the
 * path) cannot be used, or NULL: [userinfo@]host[:port], the host a name or IPv4 address
 * (letters, digits, "-", ".", "_", "~") or an IPv6 address in brackets (a zone after "%"),
 * the port 1-65535. Start-up would refuse these later, in libcurl; -t names them here. */
static const char *
authority_error(const char *a, size_t len)
{
    for (size_t i = len; i > 0; i--) {
        if (a[i - 1] == '@') { /* userinfo: libcurl's business */
            a += i;
            len -= i;
            break;
        }
    }
    size_t host_end = 0;
    if (len > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', len);
        char lit[INET6_ADDRSTRLEN + 32];
        struct in6_addr addr;
        if (close == NULL)
            return "no \"]\" after the IPv6 address";
        size_t n = (size_t)(close - a) - 1;
        if (n == 0 || n >= sizeof(lit))
            return "invalid IPv6 address";
        memcpy(lit, a + 1, n);
        lit[n] = '\0';
        char *zone = strchr(lit, '%');
        if (zone != NULL)
            *zone = '\0';
        if (inet_pton(AF_INET6, lit, &addr) != 1)
            return "invalid IPv6 address";
        host_end = n + 2;
        if (host_end < len && a[host_end] != ':')
            return "junk after the IPv6 address";
    } else {
        while (host_end < len && a[host_end] != ':') {
            char ch = a[host_end++];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~'))
                return "invalid character in the host";
        }
        if (host_end == 0)
            return "no host";
    }
    if (host_end == len)
        return NULL;
    long port = 0;
    size_t i = host_end + 1;
    if (i == len || len - i > 5)
        return "invalid port";
    for (; i < len; i++) {
        if (a[i] < '0' || a[i] > '9')
            return "invalid port";
        port = port * 10 + (a[i] - '0');
    }
    return port >= 1 && port <= 65535 ? NULL : "port out of range 1-65535";
}

/* The authority of an http:// or https:// URL: from after "://" to the next "/" or the end. */
static const char *
url_authority_error(const char *url)
{
    const char *a = strstr(url, "://") + 3;
    return authority_error(a, strcspn(a, "/?#"));
}

int
be_directive_set_server(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                        char *const *argv)
{
    const char *url = argv[0], *reason = NULL, *path = NULL, *p;
    size_t len = strlen(url);
    be_origin_server_t s;

    if (cfg->nservers >= (int)BE_ARRAY_LEN(cfg->servers)) {
        return be_conf_error(cf, "too many \"%s\" directives (max %zu)", d->name,
                             BE_ARRAY_LEN(cfg->servers));
    }
    memset(&s, 0, sizeof(s));
    if (len >= sizeof(s.url)) {
        reason = "too long";
    } else if (has_prefix(url, "http://") || has_prefix(url, "https://")) {
        s.kind = BE_ORIGIN_HTTP;
        reason = url_authority_error(url);
    } else if (has_prefix(url, "file://")) {
        s.kind = BE_ORIGIN_FILE;
        path = url + 7;
        if (*path != '/') {
            reason = "expected file:///absolute/dir/";
        }
    } else if (has_prefix(url, "s3://")) {
        s.kind = BE_ORIGIN_S3;
        path = url + 5;
        if (*path == '\0' || *path == '/') {
            reason = "no bucket";
        }
    } else {
        reason = "unknown scheme; expected http://, https://, file:/// or s3://";
    }
    for (p = url; reason == NULL && *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            reason = "contains a space or control character";
        }
    }
    if (reason == NULL && url[len - 1] != '/') {
        reason = "must end with \"/\"";
    }
    if (reason != NULL) {
        return be_conf_error(cf, "invalid URL \"%s\" in \"%s\" directive (%s)", url, d->name,
                             reason);
    }

    if (argc > 1) {
        if (strcmp(argv[1], "backup") != 0) {
            return be_conf_error(cf, "invalid parameter \"%s\"", argv[1]);
        }
        s.backup = 1;
    }

    memcpy(s.url, url, len + 1);
    if (path != NULL) {
        memcpy(s.path, path, strlen(path) + 1);
    }
    cfg->servers[cfg->nservers++] = s;
    return BE_OK;
}

/* An http:// or https:// URL with a host; a trailing "/" is dropped (the bucket follows). */
int
be_directive_set_s3_endpoint(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                             char *const *argv)
{
    const char *url = argv[0], *host = NULL, *p;
    size_t len;

    if (has_prefix(url, "http://") || has_prefix(url, "https://")) {
        host = strstr(url, "://") + 3;
    }
    if (host == NULL || *host == '\0' || *host == '/') {
        return be_conf_error(cf,
                             "invalid URL \"%s\" in \"%s\" directive (expected "
                             "http://host[:port] or https://host[:port])",
                             url, d->name);
    }
    const char *reason = url_authority_error(url);
    if (reason != NULL) {
        return be_conf_error(cf, "invalid URL \"%s\" in \"%s\" directive (%s)", url, d->name,
                             reason);
    }
    for (p = url; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#') {
            return be_conf_error(cf, "invalid URL \"%s\" in \"%s\" directive", url, d->name);
        }
    }
    if (be_conf_set_str(cf, d, cfg, argc, argv) != BE_OK) {
        return BE_ERROR;
    }
    len = strlen(cfg->s3_endpoint);
    while (len > 0 && cfg->s3_endpoint[len - 1] == '/') {
        cfg->s3_endpoint[--len] = '\0';
    }
    return BE_OK;
}
