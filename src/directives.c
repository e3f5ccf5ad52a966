/*
 * directives.c - the one directive table, the setters only one directive needs, and the
 * -T dump.
 *
 * Adding a directive is adding a row: name, contexts, arity, setter, field, bounds, default
 * text and a one-line help saying what it trades. The engine (conf.c) does every generic
 * check; the defaults in be_config_defaults() are these rows' default texts run through
 * their own setters, so -T, the README and the code cannot disagree. Nothing here reads a
 * file or knows the grammar: setters get their arguments as words.
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

/* ---- setters for one directive each ------------------------------------------------------ */

static int
set_worker_threads(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                   char *const *argv)
{
    if (strcmp(argv[0], "auto") == 0) {
        cfg->worker_threads = 0;
        return BE_OK;
    }
    return be_conf_set_num(cf, d, cfg, argc, argv);
}

static const be_conf_enum_t log_levels[] = {
    {"emerg", BE_LOG_EMERG}, {"alert", BE_LOG_ALERT}, {"crit", BE_LOG_CRIT},
    {"error", BE_LOG_ERROR}, {"warn", BE_LOG_WARN},   {"notice", BE_LOG_NOTICE},
    {"info", BE_LOG_INFO},   {"debug", BE_LOG_DEBUG}, {NULL, 0},
};

static int
set_error_log(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc, char *const *argv)
{
    const be_conf_enum_t *e;
    int level = BE_LOG_NOTICE;

    if (argc > 1) {
        for (e = log_levels; e->name != NULL && strcmp(e->name, argv[1]) != 0; e++) {
        }
        if (e->name == NULL) {
            return be_conf_error(cf, "\"%s\" directive invalid value \"%s\"", d->name, argv[1]);
        }
        level = e->value;
    }
    if (strcmp(argv[0], "stderr") == 0) {
        cfg->error_log_path[0] = '\0';
    } else if (be_conf_set_str(cf, d, cfg, 1, argv) != BE_OK) {
        return BE_ERROR;
    }
    cfg->error_log_level = level;
    return BE_OK;
}

static int
set_access_log(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
               char *const *argv)
{
    if (strcmp(argv[0], "off") == 0) {
        cfg->access_log[0] = '\0';
        return BE_OK;
    }
    if (strcmp(argv[0], "stderr") == 0 || argv[0][0] == '\0') {
        return be_conf_error(cf, "invalid parameter \"%s\"", argv[0]);
    }
    return be_conf_set_str(cf, d, cfg, argc, argv);
}

static int
same_address(const be_listen_t *a, const be_listen_t *b)
{
    if (a->addr.ss_family != b->addr.ss_family) {
        return 0;
    }
    if (a->addr.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)&a->addr, *y = (const void *)&b->addr;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)&a->addr, *y = (const void *)&b->addr;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* http and admin listen: one row each, the array and its count found through the row. */
static int
set_listen(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc, char *const *argv)
{
    be_listen_t *arr = (be_listen_t *)((char *)cfg + d->offset);
    int *n = (int *)((char *)cfg + d->count_offset);
    be_listen_t l;
    int i;

    if ((size_t)*n >= d->size / sizeof(*arr)) {
        return be_conf_error(cf, "too many \"%s\" directives (max %zu)", d->name,
                             d->size / sizeof(*arr));
    }
    if (be_confvalue_parse_listen(argv[0], &l) != BE_OK) {
        return be_conf_error(cf, "invalid listen address \"%s\"", argv[0]);
    }
    if (argc > 1) {
        if (strcmp(argv[1], "tls") != 0) {
            return be_conf_error(cf, "invalid parameter \"%s\"", argv[1]);
        }
        l.tls = 1;
    }
    /* with SO_REUSEPORT a second socket on the same address would bind and share traffic */
    for (i = 0; i < cfg->nlisten; i++) {
        if (same_address(&cfg->listen[i], &l)) {
            return be_conf_error(cf, "duplicate listen address \"%s\"", argv[0]);
        }
    }
    for (i = 0; i < cfg->nadmin_listen; i++) {
        if (same_address(&cfg->admin_listen[i], &l)) {
            return be_conf_error(cf, "duplicate listen address \"%s\"", argv[0]);
        }
    }
    arr[(*n)++] = l;
    return BE_OK;
}

static int
has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int
set_server(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc, char *const *argv)
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
        p = strstr(url, "://") + 3;
        if (*p == '\0' || *p == '/') {
            reason = "no host";
        }
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

/* "all", an IPv4 or IPv6 address, or either with "/bits". Host bits are cleared, so
 * 10.1.2.3/8 means 10.0.0.0/8 (as in nginx). */
static int
parse_cidr(const char *s, be_acl_rule_t *r)
{
    char buf[INET6_ADDRSTRLEN];
    const char *slash = strchr(s, '/'), *p;
    size_t len = slash != NULL ? (size_t)(slash - s) : strlen(s);
    int max, bits, i;

    memset(r, 0, sizeof(*r));
    if (strcmp(s, "all") == 0) {
        r->family = AF_UNSPEC;
        return BE_OK;
    }
    if (len >= sizeof(buf)) {
        return BE_ERROR;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, r->addr) == 1) {
        r->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, r->addr) == 1) {
        r->family = AF_INET6;
        max = 128;
    } else {
        return BE_ERROR;
    }

    bits = max;
    if (slash != NULL) {
        bits = 0;
        for (p = slash + 1; *p >= '0' && *p <= '9' && bits <= max; p++) {
            bits = bits * 10 + (*p - '0');
        }
        if (p == slash + 1 || *p != '\0' || bits > max) {
            return BE_ERROR;
        }
    }
    r->prefix = bits;
    for (i = 0; i < 16; i++) {
        int keep = bits - i * 8;
        r->addr[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
    return BE_OK;
}

static int
add_acl_rule(be_conf_t *cf, be_config_t *cfg, const char *arg, int allow)
{
    be_acl_rule_t r;

    if (cfg->nacl >= (int)BE_ARRAY_LEN(cfg->acl)) {
        return be_conf_error(cf, "too many \"allow\" and \"deny\" rules (max %zu)",
                             BE_ARRAY_LEN(cfg->acl));
    }
    if (parse_cidr(arg, &r) != BE_OK) {
        return be_conf_error(cf, "invalid parameter \"%s\"", arg);
    }
    r.allow = allow;
    cfg->acl[cfg->nacl++] = r;
    return BE_OK;
}

static int
set_allow(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc, char *const *argv)
{
    BE_UNUSED(d);
    BE_UNUSED(argc);
    return add_acl_rule(cf, cfg, argv[0], 1);
}

static int
set_deny(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc, char *const *argv)
{
    BE_UNUSED(d);
    BE_UNUSED(argc);
    return add_acl_rule(cf, cfg, argv[0], 0);
}

/* An http:// or https:// URL with a host; a trailing "/" is dropped (the bucket follows). */
static int
set_s3_endpoint(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
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

static const be_conf_enum_t on_off[] = {
    {"on", 1},
    {"off", 0},
    {NULL, 0},
};

/* A decimal in (0, 1]: strtod, the whole word, no sign games. */
static int
set_rate(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc, char *const *argv)
{
    char *end = NULL;
    double v;

    BE_UNUSED(argc);
    v = strtod(argv[0], &end);
    if (end == argv[0] || *end != '\0' || !(v == v)) {
        return be_conf_error(cf, "\"%s\" directive invalid value \"%s\"", d->name, argv[0]);
    }
    if (!(v > 0 && v <= 1)) {
        return be_conf_error(cf, "\"%s\" directive value \"%s\" is out of range (0..1]", d->name,
                             argv[0]);
    }
    *(double *)((char *)cfg + d->offset) = v;
    return BE_OK;
}

static const be_conf_enum_t memory_policies[] = {
    {"lru", BE_POLICY_LRU},
    {NULL, 0},
};

/* ---- the table --------------------------------------------------------------------------- */

#define MIB (1024ll * 1024)

#define BLOCK(n, c, h)                                                                             \
    {                                                                                              \
        .name = n, .ctx = BE_CTX_MAIN, .flags = BE_DIR_BLOCK, .block = c, .args = "{ ... }",       \
        .help = h                                                                                  \
    }

const be_directive_t be_directives[] = {
    /* main */
    {.name = "worker_threads",
     .ctx = BE_CTX_MAIN,
     .nmin = 1,
     .nmax = 1,
     .set = set_worker_threads,
     BE_CONF_FIELD(worker_threads),
     .lo = 1,
     .hi = 256,
     .args = "N|auto",
     .dflt = "auto",
     .help = "threads, each with its own event loop and connections; auto = one per core; "
             "fewer leaves cores to other processes"},
    {.name = "pid",
     .ctx = BE_CTX_MAIN,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_str,
     BE_CONF_FIELD(pid_path),
     .args = "PATH",
     .help = "file that receives the process id, for init scripts; none = no file"},
    {.name = "error_log",
     .ctx = BE_CTX_MAIN,
     .nmin = 1,
     .nmax = 2,
     .set = set_error_log,
     BE_CONF_FIELD(error_log_path),
     .args = "PATH|stderr [level]",
     .dflt = "stderr notice",
     .help = "error log and its lowest level (emerg..debug); info and debug help diagnose but "
             "cost a write per event on a busy node"},
    {.name = "include",
     .ctx = BE_CTX_ANY,
     .flags = BE_DIR_INCLUDE | BE_DIR_MULTI,
     .nmin = 1,
     .nmax = 1,
     .args = "PATTERN",
     .help = "reads files matching a glob in place, relative to this file's directory; a "
             "pattern matching nothing is fine, a missing plain path is an error"},
    BLOCK("http", BE_CTX_HTTP, "client side: listeners, timeouts and connection limits"),
    BLOCK("cache", BE_CTX_CACHE, "memory and disk tiers"),
    BLOCK("origin", BE_CTX_ORIGIN, "where misses are fetched from; required"),
    BLOCK("admin", BE_CTX_ADMIN, "the /metrics, /stats and /healthz listener and who may use it"),
    BLOCK("stats", BE_CTX_STATS, "popularity statistics: top blocks, Zipf fit, miss-ratio curve"),

    /* http { } */
    {.name = "listen",
     .ctx = BE_CTX_HTTP,
     .flags = BE_DIR_MULTI,
     .nmin = 1,
     .nmax = 2,
     .set = set_listen,
     BE_CONF_FIELD(listen),
     .count_offset = offsetof(be_config_t, nlisten),
     .args = "ADDR:PORT [tls]",
     .dflt = "127.0.0.1:8480",
     .help = "client address (IPv4, [IPv6], *:PORT or PORT), bound in every worker with "
             "SO_REUSEPORT; loopback by default so a fresh install is not exposed"},
    {.name = "tls_certificate",
     .ctx = BE_CTX_HTTP,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_str,
     BE_CONF_FIELD(tls_certificate),
     .args = "PATH",
     .help = "PEM certificate chain for \"listen ... tls\""},
    {.name = "tls_certificate_key",
     .ctx = BE_CTX_HTTP,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_str,
     BE_CONF_FIELD(tls_certificate_key),
     .args = "PATH",
     .help = "PEM private key of tls_certificate; keep it readable by this user only"},
    {.name = "access_log",
     .ctx = BE_CTX_HTTP,
     .nmin = 1,
     .nmax = 1,
     .set = set_access_log,
     BE_CONF_FIELD(access_log),
     .args = "PATH|off",
     .dflt = "off",
     .help = "one line per request (combined format plus cache status, tier, block bytes and "
             "duration), buffered per worker, reopened on SIGUSR1; costs a write per 64 KiB or "
             "second and disk space, off saves both"},
    {.name = "keepalive_timeout",
     .ctx = BE_CTX_HTTP,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_msec,
     BE_CONF_FIELD(keepalive_timeout),
     .args = "TIME",
     .dflt = "75s",
     .help = "idle time before a kept-alive connection is closed; longer saves handshakes, "
             "shorter frees connections; 0 disables keep-alive"},
    {.name = "client_header_timeout",
     .ctx = BE_CTX_HTTP,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_msec,
     BE_CONF_FIELD(client_header_timeout),
     .lo = 1,
     .args = "TIME",
     .dflt = "60s",
     .help = "time to receive a request head; shorter sheds slow or idle clients sooner, "
             "too short cuts off slow links"},
    {.name = "send_timeout",
     .ctx = BE_CTX_HTTP,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_msec,
     BE_CONF_FIELD(send_timeout),
     .lo = 1,
     .args = "TIME",
     .dflt = "60s",
     .help = "longest wait between two successful writes to a client; shorter frees stalled "
             "connections and their blocks sooner"},
    {.name = "max_connections",
     .ctx = BE_CTX_HTTP,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_num,
     BE_CONF_FIELD(max_connections),
     .lo = 1,
     .hi = 1000000,
     .args = "N",
     .dflt = "10000",
     .help = "client connections for the whole node, beyond which new ones are closed; "
             "bounds memory and descriptors (raise ulimit -n to match)"},
    {.name = "h2_max_concurrent_streams",
     .ctx = BE_CTX_HTTP,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_num,
     BE_CONF_FIELD(h2_max_concurrent_streams),
     .lo = 1,
     .hi = 10000,
     .args = "N",
     .dflt = "100",
     .help = "HTTP/2 streams per connection; more lets one client ask for more blocks at once "
             "but hold more memory"},

    /* cache { } */
    {.name = "memory_size",
     .ctx = BE_CTX_CACHE,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_size,
     BE_CONF_FIELD(memory_size),
     .lo = MIB,
     .args = "SIZE",
     .dflt = "256m",
     .help = "memory tier budget (block bytes plus metadata, a hard bound); larger raises the "
             "hit rate, leave room for the OS and connection buffers"},
    {.name = "max_block_size",
     .ctx = BE_CTX_CACHE,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_size,
     BE_CONF_FIELD(max_block_size),
     .lo = 1,
     .args = "SIZE",
     .dflt = "16m",
     .help = "largest block fetched (larger fetches are aborted), at most memory_size; "
             "larger allows bigger blocks but lets one fill evict many"},
    {.name = "memory_policy",
     .ctx = BE_CTX_CACHE,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_enum,
     BE_CONF_FIELD(memory_policy),
     .aux = memory_policies,
     .args = "lru",
     .dflt = "lru",
     .help = "memory eviction policy; exact LRU is cheap and predictable but not "
             "scan-resistant"},
    {.name = "disk_path",
     .ctx = BE_CTX_CACHE,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_str,
     BE_CONF_FIELD(disk_path),
     .args = "PATH",
     .help = "directory of the disk tier's segment files; none = memory only, a restart "
             "starts cold"},
    {.name = "disk_size",
     .ctx = BE_CTX_CACHE,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_size,
     BE_CONF_FIELD(disk_size),
     .lo = MIB,
     .args = "SIZE",
     .help = "disk tier budget, required with disk_path, at least two segments; past it the "
             "least recently used segment is reclaimed"},
    {.name = "disk_segment_size",
     .ctx = BE_CTX_CACHE,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_size,
     BE_CONF_FIELD(disk_segment_size),
     .lo = MIB,
     .hi = 4095 * MIB,
     .args = "SIZE",
     .dflt = "256m",
     .help = "size of one segment file; larger means fewer files and footers to read at "
             "start, but each reclaim drops more blocks at once"},

    /* origin { } */
    {.name = "server",
     .ctx = BE_CTX_ORIGIN,
     .flags = BE_DIR_MULTI,
     .nmin = 1,
     .nmax = 2,
     .set = set_server,
     BE_CONF_FIELD(servers),
     .count_offset = offsetof(be_config_t, nservers),
     .args = "URL [backup]",
     .help = "origin base URL ending in /: http://, https://, file:///dir/ or "
             "s3://bucket/prefix/; a block is URL + hex digest; repeat for round robin; backup "
             "servers are used only when every primary is down; required"},
    {.name = "s3_endpoint",
     .ctx = BE_CTX_ORIGIN,
     .nmin = 1,
     .nmax = 1,
     .set = set_s3_endpoint,
     BE_CONF_FIELD(s3_endpoint),
     .args = "URL",
     .help = "http:// or https:// endpoint of s3:// servers, reached path-style "
             "(ENDPOINT/bucket/prefix/hex); none = https://s3.REGION.amazonaws.com; https "
             "verifies the certificate"},
    {.name = "s3_region",
     .ctx = BE_CTX_ORIGIN,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_str,
     BE_CONF_FIELD(s3_region),
     .args = "REGION",
     .dflt = "us-east-1",
     .help = "region named in the AWS Signature V4 of s3:// requests"},
    {.name = "s3_credentials_file",
     .ctx = BE_CTX_ORIGIN,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_str,
     BE_CONF_FIELD(s3_credentials_file),
     .args = "PATH",
     .help = "AWS shared-credentials file ([default] aws_access_key_id, "
             "aws_secret_access_key) read at start-up; none = AWS_ACCESS_KEY_ID and "
             "AWS_SECRET_ACCESS_KEY from the environment; keeps secrets out of this file"},
    {.name = "connect_timeout",
     .ctx = BE_CTX_ORIGIN,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_msec,
     BE_CONF_FIELD(connect_timeout),
     .lo = 1,
     .args = "TIME",
     .dflt = "5s",
     .help = "time to connect to an origin; shorter fails over sooner, too short gives up on "
             "a distant origin"},
    {.name = "read_timeout",
     .ctx = BE_CTX_ORIGIN,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_msec,
     BE_CONF_FIELD(read_timeout),
     .lo = 1,
     .args = "TIME",
     .dflt = "30s",
     .help = "longest wait between two reads from an origin, then the attempt has timed out "
             "(retried, or 504 to every waiter); shorter frees waiters sooner, too short fails "
             "large blocks on slow links"},
    {.name = "retries",
     .ctx = BE_CTX_ORIGIN,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_num,
     BE_CONF_FIELD(retries),
     .lo = 0,
     .hi = 10,
     .args = "N",
     .dflt = "1",
     .help = "extra attempts after a connect error, a 5xx or a timeout, each on another "
             "server when there is one; more hides transient errors but keeps clients waiting "
             "longer and adds origin load"},
    {.name = "fetch_timeout",
     .ctx = BE_CTX_ORIGIN,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_msec,
     BE_CONF_FIELD(fetch_timeout),
     .lo = 1,
     .args = "TIME",
     .dflt = "60s",
     .help = "deadline of one block fetch, retries included, then 504 to every waiter; "
             "shorter bounds client waits, too short fails large blocks on slow links"},
    {.name = "max_fails",
     .ctx = BE_CTX_ORIGIN,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_num,
     BE_CONF_FIELD(max_fails),
     .lo = 0,
     .hi = 1000,
     .args = "N",
     .dflt = "3",
     .help = "consecutive connect errors, 5xx or timeouts after which a server is marked down "
             "(per worker) for fail_timeout; lower fails over sooner, 0 never marks it down; a "
             "lone server is never marked down"},
    {.name = "fail_timeout",
     .ctx = BE_CTX_ORIGIN,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_msec,
     BE_CONF_FIELD(fail_timeout),
     .lo = 1,
     .args = "TIME",
     .dflt = "10s",
     .help = "how long a server marked down is skipped before one request probes it again; "
             "shorter finds a recovered server sooner but sends more requests to a dead one"},
    {.name = "error_summary_interval",
     .ctx = BE_CTX_ORIGIN,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_msec,
     BE_CONF_FIELD(error_summary_interval),
     .lo = 1,
     .args = "TIME",
     .dflt = "10s",
     .help = "origin errors after the first one of a kind are counted and logged as one line "
             "per server and reason per interval; shorter reports sooner, longer logs less"},

    /* admin { } */
    {.name = "listen",
     .ctx = BE_CTX_ADMIN,
     .flags = BE_DIR_MULTI,
     .nmin = 1,
     .nmax = 1,
     .set = set_listen,
     BE_CONF_FIELD(admin_listen),
     .count_offset = offsetof(be_config_t, nadmin_listen),
     .args = "ADDR:PORT",
     .help = "address of /metrics, /stats and /healthz; none = no admin listener; keep it on "
             "loopback or behind allow/deny"},
    {.name = "allow",
     .ctx = BE_CTX_ADMIN,
     .flags = BE_DIR_MULTI,
     .nmin = 1,
     .nmax = 1,
     .set = set_allow,
     BE_CONF_FIELD(acl),
     .count_offset = offsetof(be_config_t, nacl),
     .args = "CIDR|all",
     .help = "admin clients to accept; allow and deny rules are tried in order, the first "
             "match wins; no rules = everyone"},
    {.name = "deny",
     .ctx = BE_CTX_ADMIN,
     .flags = BE_DIR_MULTI,
     .nmin = 1,
     .nmax = 1,
     .set = set_deny,
     BE_CONF_FIELD(acl),
     .count_offset = offsetof(be_config_t, nacl),
     .args = "CIDR|all",
     .help = "admin clients to refuse; with rules, a client no rule matches is refused"},

    /* stats { } */
    {.name = "popularity",
     .ctx = BE_CTX_STATS,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_enum,
     BE_CONF_FIELD(popularity),
     .aux = on_off,
     .args = "on|off",
     .dflt = "on",
     .help = "top blocks, Zipf exponent and miss-ratio curve from every block request; costs a "
             "40-byte copy per request on the worker and a share of the main thread"},
    {.name = "popularity_top_k",
     .ctx = BE_CTX_STATS,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_num,
     BE_CONF_FIELD(popularity_top_k),
     .lo = 16,
     .hi = 1048576,
     .args = "N",
     .dflt = "4096",
     .help = "Space-Saving counters (about 80 bytes each); more keeps more blocks' counts exact "
             "and fits the Zipf exponent over more ranks"},
    {.name = "popularity_half_life",
     .ctx = BE_CTX_STATS,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_msec,
     BE_CONF_FIELD(popularity_half_life),
     .args = "TIME",
     .dflt = "5m",
     .help = "counts and the curve halve this often, so they follow a changing load; shorter "
             "reacts faster but rests on fewer requests; 0 never forgets"},
    {.name = "mrc_sample_rate",
     .ctx = BE_CTX_STATS,
     .nmin = 1,
     .nmax = 1,
     .set = set_rate,
     BE_CONF_FIELD(mrc_sample_rate),
     .args = "R",
     .dflt = "0.1",
     .help = "SHARDS starting sample rate of keys, in (0, 1]; higher is more accurate on few "
             "keys, and halves by itself when mrc_max_keys is reached"},
    {.name = "mrc_max_keys",
     .ctx = BE_CTX_STATS,
     .nmin = 1,
     .nmax = 1,
     .set = be_conf_set_num,
     BE_CONF_FIELD(mrc_max_keys),
     .lo = 1024,
     .hi = 16777216,
     .args = "N",
     .dflt = "32768",
     .help = "bound on the keys SHARDS tracks (about 100 bytes each); more keeps a higher rate "
             "on a large key space"},
};

const size_t be_directives_count = BE_ARRAY_LEN(be_directives);

/* ---- -T ---------------------------------------------------------------------------------- */

static const char *
context_name(unsigned ctx)
{
    switch (ctx) {
    case BE_CTX_MAIN:
        return "main";
    case BE_CTX_HTTP:
        return "http";
    case BE_CTX_CACHE:
        return "cache";
    case BE_CTX_ORIGIN:
        return "origin";
    case BE_CTX_ADMIN:
        return "admin";
    case BE_CTX_STATS:
        return "stats";
    default:
        return "any";
    }
}

static const char *
default_text(const be_directive_t *d)
{
    if (d->flags & (BE_DIR_BLOCK | BE_DIR_INCLUDE)) {
        return "-";
    }
    return d->dflt != NULL ? d->dflt : "none";
}

void
be_directives_dump(FILE *out)
{
    int wn = (int)strlen("directive"), wc = (int)strlen("context");
    int wa = (int)strlen("arguments"), wd = (int)strlen("default");
    size_t i;

    for (i = 0; i < be_directives_count; i++) {
        const be_directive_t *d = &be_directives[i];
        int n = (int)strlen(d->name), c = (int)strlen(context_name(d->ctx));
        int a = (int)strlen(d->args), df = (int)strlen(default_text(d));
        wn = n > wn ? n : wn;
        wc = c > wc ? c : wc;
        wa = a > wa ? a : wa;
        wd = df > wd ? df : wd;
    }
    fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s\n", wn, "directive", wc, "context", wa, "arguments",
            wd, "default", "help");
    for (i = 0; i < be_directives_count; i++) {
        const be_directive_t *d = &be_directives[i];
        fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s\n", wn, d->name, wc, context_name(d->ctx), wa,
                d->args, wd, default_text(d), d->help);
    }
}
