/*
 * directives.c - the one directive table and the setters only one directive needs (-T, the
 * table rendered, is directives_dump.c's).
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

#include "blockedge/adminauth.h"
#include "blockedge/auth.h"
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
        if (argc > 1) {
            return be_conf_error(cf, "invalid parameter \"%s\" after \"off\"", argv[1]);
        }
        cfg->access_log[0] = '\0';
        return BE_OK;
    }
    if (strcmp(argv[0], "stderr") == 0 || argv[0][0] == '\0') {
        return be_conf_error(cf, "invalid parameter \"%s\"", argv[0]);
    }
    if (argc > 1 && strcmp(argv[1], "json") != 0 && strcmp(argv[1], "combined") != 0) {
        return be_conf_error(cf, "invalid format \"%s\" (combined or json)", argv[1]);
    }
    cfg->access_log_json = argc > 1 && strcmp(argv[1], "json") == 0;
    return be_conf_set_str(cf, d, cfg, 1, argv);
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
    for (i = 1; i < argc; i++) {
        int *flag = strcmp(argv[i], "tls") == 0              ? &l.tls
                    : strcmp(argv[i], "proxy_protocol") == 0 ? &l.proxy_protocol
                                                             : NULL;
        if (flag == NULL || *flag) {
            return be_conf_error(cf, "invalid parameter \"%s\"", argv[i]);
        }
        *flag = 1;
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

/* The path, and the token the file holds, read now so that -t and start-up fail on a file
 * that cannot be read or holds no token (adminauth.c reads it; this names the directive). */
static int
set_admin_token_file(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                     char *const *argv)
{
    char err[1536];

    if (be_conf_set_str(cf, d, cfg, argc, argv) != BE_OK) {
        return BE_ERROR;
    }
    if (be_adminauth_read(argv[0], cfg->admin_token, sizeof(cfg->admin_token), err, sizeof(err)) !=
        BE_OK) {
        return be_conf_error(cf, "cannot read \"%s\": %s", d->name, err);
    }
    return BE_OK;
}

/* "RATEr/s" or "RATEr/m" [burst=N], or "off". The burst defaults to one second's worth. */
static int
set_miss_rate(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc, char *const *argv)
{
    char *end;
    if (strcmp(argv[0], "off") == 0 && argc == 1) {
        cfg->miss_rate = 0;
        cfg->miss_burst = 0;
        return BE_OK;
    }
    double rate = strtod(argv[0], &end);
    if (end == argv[0] || !(rate > 0) || rate > 1e6 ||
        (strcmp(end, "r/s") != 0 && strcmp(end, "r/m") != 0)) {
        return be_conf_error(cf,
                             "\"%s\" directive invalid rate \"%s\" (expected e.g. 20r/s or "
                             "600r/m)",
                             d->name, argv[0]);
    }
    if (strcmp(end, "r/m") == 0) {
        rate /= 60.0;
    }
    long burst = (long)rate;
    if (argc > 1) {
        if (strncmp(argv[1], "burst=", 6) != 0) {
            return be_conf_error(cf, "\"%s\" directive invalid parameter \"%s\"", d->name, argv[1]);
        }
        burst = strtol(argv[1] + 6, &end, 10);
        if (end == argv[1] + 6 || *end != '\0' || burst < 1 || burst > 1000000) {
            return be_conf_error(cf, "\"%s\" directive invalid burst \"%s\" (1..1000000)", d->name,
                                 argv[1] + 6);
        }
    }
    cfg->miss_rate = rate;
    cfg->miss_burst = burst < 1 ? 1 : (int)burst;
    return BE_OK;
}

static int
set_trusted(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc, char *const *argv)
{
    BE_UNUSED(argc);
    if (cfg->ntrusted >= (int)BE_ARRAY_LEN(cfg->trusted)) {
        return be_conf_error(cf, "too many \"%s\" addresses (max %zu)", d->name,
                             BE_ARRAY_LEN(cfg->trusted));
    }
    if (parse_cidr(argv[0], &cfg->trusted[cfg->ntrusted]) != BE_OK) {
        return be_conf_error(cf, "invalid parameter \"%s\"", argv[0]);
    }
    cfg->trusted[cfg->ntrusted++].allow = 1;
    return BE_OK;
}

/* A header name: token characters only, so it can be compared as sent. */
static int
set_real_ip_header(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                   char *const *argv)
{
    for (const char *p = argv[0]; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_')) {
            return be_conf_error(cf, "invalid header name \"%s\"", argv[0]);
        }
    }
    return be_conf_set_str(cf, d, cfg, argc, argv);
}

/* The path, and the secrets the file holds, read now so that -t, start-up and every reload
 * fail on a file that cannot be read or holds no good secret (auth.c reads it). */
static int
set_auth_secret_file(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                     char *const *argv)
{
    char err[1536];

    if (be_conf_set_str(cf, d, cfg, argc, argv) != BE_OK) {
        return BE_ERROR;
    }
    if (be_auth_read_secrets(argv[0], &cfg->auth_keys, &cfg->auth_secret_file_loose, err,
                             sizeof(err)) != BE_OK) {
        return be_conf_error(cf, "cannot read \"%s\": %s", d->name, err);
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

static const be_conf_enum_t auth_modes[] = {
    {"off", BE_AUTH_MODE_OFF},
    {"signed", BE_AUTH_MODE_SIGNED},
    {NULL, 0},
};

static const be_conf_enum_t disk_admissions[] = {
    {"all", BE_DISK_ADMIT_ALL},
    {"second_hit", BE_DISK_ADMIT_SECOND_HIT},
    {"policy", BE_DISK_ADMIT_POLICY},
    {NULL, 0},
};

static const be_conf_enum_t memory_policies[] = {
    {"lru", BE_POLICY_LRU},
    {"sieve", BE_POLICY_SIEVE},
    {"s3fifo", BE_POLICY_S3FIFO},
    {"wtinylfu", BE_POLICY_WTINYLFU},
    {NULL, 0},
};

/* ---- the table --------------------------------------------------------------------------- */

#define MIB (1024ll * 1024)

/*
 * Row shapes, so that each directive reads as one line. ONCE may appear once in its context;
 * MANY may repeat, its field an array counted by the int named n<field>. ENUM(list) in the
 * setter column is the keyword setter with its words. lo and hi bound numbers, sizes and
 * times (hi 0: no upper bound). The help follows on the lines below each row: lower case
 * first, no final period, `code` in backquotes, "see TITLE in the README" for a README section
 * (directives_dump.c renders it for -T, -M md and the manual pages, adding the bounds). The
 * rows are wider than 100 columns, so clang-format is off for the table.
 */
/* clang-format off */
#define ONCE(name_, ctx_, nmin_, nmax_, set_, field_, lo_, hi_, args_, dflt_, help_)              \
    {.name = name_, .ctx = BE_CTX_##ctx_, .nmin = nmin_, .nmax = nmax_, .set = set_,              \
     BE_CONF_FIELD(field_), .lo = lo_, .hi = hi_, .args = args_, .dflt = dflt_, .help = help_}
#define MANY(name_, ctx_, nmin_, nmax_, set_, field_, lo_, hi_, args_, dflt_, help_)              \
    {.name = name_, .ctx = BE_CTX_##ctx_, .flags = BE_DIR_MULTI, .nmin = nmin_, .nmax = nmax_,    \
     .set = set_, BE_CONF_FIELD(field_), .count_offset = offsetof(be_config_t, n##field_),       \
     .lo = lo_, .hi = hi_, .args = args_, .dflt = dflt_, .help = help_}
#define ENUM(list_) be_conf_set_enum, .aux = list_
#define BLOCK(name_, ctx_, help_)                                                                  \
    {.name = name_, .ctx = BE_CTX_MAIN, .flags = BE_DIR_BLOCK, .block = BE_CTX_##ctx_,            \
     .args = "{ ... }", .help = help_}
#define INCLUDE(name_, args_, help_)                                                               \
    {.name = name_, .ctx = BE_CTX_ANY, .flags = BE_DIR_INCLUDE | BE_DIR_MULTI, .nmin = 1,         \
     .nmax = 1, .args = args_, .help = help_}

const be_directive_t be_directives[] = {
/*       name                         context arity setter                 field                      lo    hi          syntax                 default */
    /* main */
    ONCE("worker_threads",            MAIN,   1, 1, set_worker_threads,    worker_threads,            1,    256,        "N|auto",              "auto",
        "worker threads, each with its own event loop, listeners and connections; `auto` = one per CPU core; fewer "
        "leaves cores to other processes"),
    ONCE("pid",                       MAIN,   1, 1, be_conf_set_str,       pid_path,                  0,    0,          "PATH",                NULL,
        "file that receives the process id, for init scripts; none = no file"),
    ONCE("error_log",                 MAIN,   1, 2, set_error_log,         error_log_path,            0,    0,          "PATH|stderr [level]", "stderr notice",
        "error log and its lowest level: `emerg alert crit error warn notice info debug` (`notice` when omitted); "
        "`info` and `debug` help diagnose but cost a write per event on a busy node"),
    ONCE("shutdown_timeout",          MAIN,   1, 1, be_conf_set_msec,      shutdown_timeout,          0,    0,          "TIME",                "10s",
        "on `SIGTERM`, `SIGINT` or `SIGQUIT`, how long requests in flight may take to finish before their "
        "connections are closed (see Drain in the README); longer spares slow clients and origins, shorter stops "
        "sooner; `0` closes at once. Keep a service manager's stop timeout above it"),
    ONCE("drain_delay",               MAIN,   1, 1, be_conf_set_msec,      drain_delay,               0,    0,          "TIME",                "0",
        "on a stop signal, `/healthz` answers 503 `draining` for this long while the node still serves, so a load "
        "balancer's health check takes it out before its sockets close; then the drain (`shutdown_timeout`) "
        "begins; a second stop signal ends the wait; `0` = at once (see Drain in the README)"),
    INCLUDE("include", "PATTERN",
            "any context: reads the files matching a glob in place, in that context, a relative pattern taken from "
            "the directory of the file that contains it; a glob (`*`, `?`, `[`) that matches nothing is fine, a "
            "plain path that does not exist is an error; includes nest at most 16 deep"),
    BLOCK("http",                     HTTP,   "client side: listeners, timeouts and connection limits"),
    BLOCK("cache",                    CACHE,  "memory and disk tiers"),
    BLOCK("origin",                   ORIGIN, "where misses are fetched from; required (at least one `server`)"),
    BLOCK("admin",                    ADMIN,  "the `/metrics`, `/stats`, `/healthz`, `/blocks`, `/purge` and `/prefetch` listener and who may use it"),
    BLOCK("stats",                    STATS,  "popularity statistics: top blocks, Zipf fit, miss-ratio curve"),
    BLOCK("auth",                     AUTH,   "who may read a block: signed URLs (see Signed URLs in the README)"),

    /* http { } */
    MANY("listen",                    HTTP,   1, 3, set_listen,            listen,                    0,    0,          "ADDR:PORT [tls] [proxy_protocol]", "127.0.0.1:8480",
        "client address: `1.2.3.4:80`, `[::1]:80`, `*:80` or `80` (all IPv4), numeric addresses only; up to 16, the "
        "default applies only when no `listen` is given. Every worker binds each one with `SO_REUSEPORT`; the same "
        "address twice (here or in `admin`) is an error. Loopback by default so a fresh install is not exposed. "
        "Plain: HTTP/1.1 and h2c (prior knowledge); `tls`: TLS 1.2+, ALPN `h2` or `http/1.1`. `proxy_protocol`: "
        "each connection starts with a PROXY protocol header (v1 or v2, as HAProxy's `send-proxy-v2` sends it, "
        "before TLS) whose client address the access log and per-client limits use; a missing, bad or late one "
        "(`client_header_timeout`) closes the connection"),
    ONCE("tls_certificate",           HTTP,   1, 1, be_conf_set_str,       tls_certificate,           0,    0,          "PATH",                NULL,
        "PEM certificate chain for `listen ... tls` (required with it; `-t` checks that it loads and matches the key)"),
    ONCE("tls_certificate_key",       HTTP,   1, 1, be_conf_set_str,       tls_certificate_key,       0,    0,          "PATH",                NULL,
        "PEM private key of `tls_certificate`; keep it readable by this user only"),
    ONCE("access_log",                HTTP,   1, 2, set_access_log,        access_log,                0,    0,          "PATH [combined|json]|off", "off",
        "one line per request: nginx's combined format, then the cache status (`HIT`, `MISS`, `-`, or `DENIED` for a "
        "request refused by signed URLs), the tier (`memory`, `disk`, `origin`, `-`, or the refusal's reason), the "
        "block's size (or `-`) and the duration in seconds; `sig=` values in the path are logged as `REDACTED`. Each "
        "worker buffers 64 KiB and writes when full, once a second and at exit, on its own descriptor (`O_APPEND`); "
        "`SIGUSR1` reopens. With `json`, each line is one JSON object with the same fields (`time_local`, "
        "`remote_addr`, `method`, `path`, `protocol`, `status`, `body_bytes_sent`, `http_referer`, "
        "`http_user_agent`, `cache`, `tier`, `block_bytes` (null without a block), `request_time`), every non-ASCII "
        "or control byte escaped as `\\u00XX`, for log pipelines. Costs writes and disk space, `off` saves both"),
    ONCE("keepalive_timeout",         HTTP,   1, 1, be_conf_set_msec,      keepalive_timeout,         0,    0,          "TIME",                "75s",
        "idle time before a kept-alive connection is closed; longer saves handshakes, shorter frees connections; `0` "
        "disables keep-alive"),
    ONCE("client_header_timeout",     HTTP,   1, 1, be_conf_set_msec,      client_header_timeout,     1,    0,          "TIME",                "60s",
        "time to receive a request head; shorter sheds slow or idle clients sooner, too short cuts off slow links"),
    ONCE("send_timeout",              HTTP,   1, 1, be_conf_set_msec,      send_timeout,              1,    0,          "TIME",                "60s",
        "longest wait between two successful writes to a client; shorter frees stalled connections (and the blocks "
        "they hold) sooner"),
    ONCE("max_connections",           HTTP,   1, 1, be_conf_set_num,       max_connections,           1,    1000000,    "N",                   "10000",
        "client connections for the whole node, beyond which new ones are closed; bounds memory and descriptors "
        "(raise `ulimit -n` to match)"),
    ONCE("max_connections_per_ip",    HTTP,   1, 1, be_conf_set_num,       max_connections_per_ip,    0,    1000000,    "N",                   "0",
        "client connections one address (IPv6: one /64) may hold open, node-wide, beyond which its new ones are "
        "closed; bounds what one host's slowloris can take. `0` (the default, as nginx's `limit_conn` is off unless "
        "set) = no limit: a NAT, proxy or shield tier puts many clients behind one address (see Access and abuse in "
        "the README)"),
    ONCE("h2_max_concurrent_streams", HTTP,   1, 1, be_conf_set_num,       h2_max_concurrent_streams, 1,    10000,      "N",                   "100",
        "HTTP/2 streams per connection; more lets one client ask for more blocks at once but hold more memory"),
    ONCE("miss_rate",                 HTTP,   1, 2, set_miss_rate,         miss_rate,                 0,    0,          "RATE [burst=N]|off",  "off",
        "per client address (IPv6 per /64), node-wide: requests that must go to the origin, as `Nr/s` or `Nr/m`, "
        "with a bucket of `burst` (1..1000000, default one second's worth, at least 1); past it such requests get "
        "429 with `Retry-After` while the client's hits are still served (see Access and abuse in the README). Lower "
        "shields the origin from a flood of never-seen keys, too low throttles a client that legitimately reads cold "
        "data (a restore); at most 65536 clients are tracked. Changes on reload"),
    MANY("trusted",                   HTTP,   1, 1, set_trusted,           trusted,                   0,    0,          "CIDR",                NULL,
        "peers exempt from `miss_rate`, up to 64: load balancers, shields, your own tools; with `real_ip_header` "
        "their requests are limited as the client that header names"),
    ONCE("real_ip_header",            HTTP,   1, 1, set_real_ip_header,    real_ip_header,            0,    0,          "NAME",                NULL,
        "header in which a trusted peer names the real client, e.g. `X-Forwarded-For`: the rightmost address that is "
        "not trusted counts; ignored from other peers, so it cannot be forged"),

    /* cache { } */
    ONCE("memory_size",               CACHE,  1, 1, be_conf_set_size,      memory_size,               MIB,  0,          "SIZE",                "256m",
        "memory tier budget: block bytes plus metadata, a hard bound; larger raises the hit rate, leave room for the "
        "OS and connection buffers; one shard per 4 MiB, up to 64, picked at start (a reload keeps the count)"),
    ONCE("max_block_size",            CACHE,  1, 1, be_conf_set_size,      max_block_size,            1,    0,          "SIZE",                "16m",
        "largest block accepted from an origin (larger fetches are aborted); must not exceed `memory_size` (checked "
        "after the whole file is read). Larger allows bigger blocks but lets one fill evict many"),
    ONCE("memory_policy",             CACHE,  1, 1, ENUM(memory_policies), memory_policy,             0,    0,          "lru|sieve|s3fifo|wtinylfu", "s3fifo",
        "memory eviction policy (see Choosing a policy in the README): `s3fifo`, the default, keeps within half a "
        "point of the most hits on every load measured and the hot set through scans; `sieve` is close behind with "
        "the simplest code (both serve hits under a shared lock); `wtinylfu` admits by frequency, keeps a little "
        "more on a steady Zipf load and fewer when the hot set moves, and takes a mutex on every hit; `lru` is exact "
        "and predictable but not scan-resistant and best when the hot set moves fast at large sizes. Fixed at "
        "start-up (a reload keeps the old one)"),
    ONCE("disk_path",                 CACHE,  1, 1, be_conf_set_str,       disk_path,                 0,    0,          "PATH",                NULL,
        "directory of the disk tier's segment files; none = memory only, a restart starts cold. It must exist; "
        "blockedge only touches its own files there (`*.seg`, `*.seg.tmp`, `blockedge.lock`). A directory that "
        "cannot be used at start-up is logged and the node serves from memory and origin; `-t` reports it"),
    ONCE("disk_size",                 CACHE,  1, 1, be_conf_set_size,      disk_size,                 MIB,  0,          "SIZE",                NULL,
        "disk tier budget, required with `disk_path`, at least two segments; past it the least recently used segment "
        "is reclaimed (the files stay within `disk_size` + one segment)"),
    ONCE("disk_segment_size",         CACHE,  1, 1, be_conf_set_size,      disk_segment_size,         MIB,  4095 * MIB, "SIZE",                "256m",
        "size of one segment file; larger means fewer files and footers to read at start-up, but each reclaim drops "
        "more blocks at once"),
    ONCE("disk_admission",            CACHE,  1, 1, ENUM(disk_admissions), disk_admission,            0,    0,          "all|second_hit|policy", "all",
        "which fills are written to the disk tier. `all`: every one. `second_hit`: a block only once it is asked for "
        "again (a memory hit, or a refill after it left memory); a first fill is remembered in a set of 65536 key "
        "hashes (512 KiB, a newer key takes an older one's slot) and counted in "
        "`blockedge_disk_admission_skipped_total`. `policy`: a block only once the memory policy moved it from its "
        "small queue to its main area (`s3fifo`, `wtinylfu`; under `lru` and `sieve`, which have none, it works as "
        "`second_hit`, and `-t` says so). Sparing the SSD the blocks asked for once, which dominate a Zipf tail, "
        "costs one more origin fetch for a block that leaves memory before its second request (see Choosing a policy "
        "in the README). Changes on reload"),
    ONCE("negative_ttl",              CACHE,  1, 1, be_conf_set_msec,      negative_ttl,              0,    0,          "TIME",                "10s",
        "how long an origin 404 is remembered: a repeat within it is answered 404 (`X-Cache: MISS-NEGATIVE`, "
        "`blockedge_negative_hits_total`) without an origin request; `0` turns it off. Longer shields the origin "
        "from floods of absent keys, but a block uploaded meanwhile stays 404 that long (an admin purge of the key "
        "forgets it at once). Changes on reload"),
    ONCE("negative_max_keys",         CACHE,  1, 1, be_conf_set_num,       negative_max_keys,         16,   16777216,   "N",                   "65536",
        "absent keys remembered at most (about 56 bytes each, allocated at start-up); past it the oldest is "
        "forgotten first. Kept on reload"),

    /* origin { } */
    MANY("server",                    ORIGIN, 1, 2, be_directive_set_server, servers,                   0,    0,          "URL [backup]",        NULL,
        "origin base URL, ending in `/`; a block is fetched from URL + its 64 hex digits: "
        "`http://host[:port]/prefix/`, `https://...` (the certificate is verified), `file:///absolute/dir/` (reads "
        "`dir/<hex>`), `s3://bucket/prefix/` (GET `s3_endpoint/bucket/prefix/<hex>`, signed). Up to 16: misses go "
        "round robin over the primaries; `backup` servers are used only when every primary is marked down or was "
        "already tried for that block. Required"),
    ONCE("s3_endpoint",               ORIGIN, 1, 1, be_directive_set_s3_endpoint, s3_endpoint,               0,    0,          "URL",                 NULL,
        "`http://host[:port]` or `https://host[:port]` of the S3-compatible store of `s3://` servers (https verifies "
        "the certificate); requests are path-style (`/bucket/prefix/<hex>`), so any store works without DNS for "
        "buckets; a trailing `/` is ignored. None = `https://s3.REGION.amazonaws.com`"),
    ONCE("s3_region",                 ORIGIN, 1, 1, be_conf_set_str,       s3_region,                 0,    0,          "REGION",              "us-east-1",
        "region named in the AWS Signature V4 of `s3://` requests"),
    ONCE("s3_credentials_file",       ORIGIN, 1, 1, be_conf_set_str,       s3_credentials_file,       0,    0,          "PATH",                NULL,
        "AWS shared-credentials file, read at start-up: the `[default]` profile's `aws_access_key_id` and "
        "`aws_secret_access_key`; none = `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` from the environment. Keeps "
        "secrets out of this file. A missing file or key, a file that is not a regular file, or one over 64 KiB "
        "stops start-up, and `-t` reports it"),
    ONCE("connect_timeout",           ORIGIN, 1, 1, be_conf_set_msec,      connect_timeout,           1,    0,          "TIME",                "5s",
        "time to connect to an origin; shorter fails over sooner, too short gives up on a distant origin"),
    ONCE("read_timeout",              ORIGIN, 1, 1, be_conf_set_msec,      read_timeout,              1,    0,          "TIME",                "30s",
        "longest wait between two reads from an origin within one attempt, then the attempt has timed out (retried, "
        "or 504 to every waiter); shorter frees waiters sooner, too short fails large blocks on slow links"),
    ONCE("retries",                   ORIGIN, 1, 1, be_conf_set_num,       retries,                   0,    10,         "N",                   "1",
        "extra attempts after a connect error, a 5xx, a timeout or a broken transfer, each on a server not yet tried "
        "for that block when there is one; a 404, another 4xx, a digest mismatch or an oversize block is not "
        "retried. More hides transient errors but keeps clients waiting longer and adds origin load"),
    ONCE("fetch_timeout",             ORIGIN, 1, 1, be_conf_set_msec,      fetch_timeout,             1,    0,          "TIME",                "60s",
        "deadline of one block fetch, retries included, then 504 to every waiter; shorter bounds a client's wait on "
        "a miss, too short fails large blocks on slow links"),
    ONCE("max_fails",                 ORIGIN, 1, 1, be_conf_set_num,       max_fails,                 0,    1000,       "N",                   "3",
        "circuit breaker: connect errors, 5xx or timeouts in a row that mark a server down for `fail_timeout` (per "
        "worker, like nginx upstreams without a shared zone); lower fails over sooner, `0` never marks a server "
        "down. As in nginx, a lone `server` is never marked down"),
    ONCE("fail_timeout",              ORIGIN, 1, 1, be_conf_set_msec,      fail_timeout,              1,    0,          "TIME",                "10s",
        "how long a server marked down is skipped; then one fetch probes it, and its outcome marks it up or down "
        "again. Shorter finds a recovered server sooner but sends more fetches to a dead one"),
    ONCE("origin_max_inflight",       ORIGIN, 1, 1, be_conf_set_num,       origin_max_inflight,       0,    1000000,    "N",                   "0",
        "origin fetches under way at once, node-wide (each worker holds an equal share); `0` = 1024 per `server`. "
        "Past it a miss waits in a queue for `origin_queue_timeout`, then gets 503 (coalesced waiters never count "
        "twice); a fetch every client has left is cancelled first to make room, and a waiting one whose clients left "
        "is never started. Lower protects the origin (and an S3 bill) from a flood of misses, too low queues "
        "legitimate ones"),
    ONCE("origin_queue_timeout",      ORIGIN, 1, 1, be_conf_set_msec,      origin_queue_timeout,      1,    0,          "TIME",                "5s",
        "how long a miss waits for a slot under `origin_max_inflight`; then 503 with `Retry-After: 1` "
        "(`blockedge_origin_queue_rejected_total`). Longer rides out bursts, shorter sheds load sooner"),
    ONCE("origin_max_conns",          ORIGIN, 1, 1, be_conf_set_num,       origin_max_conns,          0,    100000,     "N",                   "0",
        "connections to one origin host (`host:port`) at once, node-wide, each worker holding an equal share (at "
        "least one); fetches past it wait for a connection, within `fetch_timeout`. Bounds what the node costs an "
        "origin with a connection limit of its own; `0`: only `origin_max_inflight` bounds them. Changes on reload"),
    ONCE("error_summary_interval",    ORIGIN, 1, 1, be_conf_set_msec,      error_summary_interval,    1,    0,          "TIME",                "10s",
        "the first origin error of a kind per server is logged with its detail; later ones within the interval are "
        "counted and logged as one line per server and reason. Shorter reports sooner, longer logs less"),

    /* admin { } */
    MANY("listen",                    ADMIN,  1, 1, set_listen,            admin_listen,              0,    0,          "ADDR:PORT",           NULL,
        "address of the admin endpoints (`/metrics`, `/stats`, `/healthz`, `/blocks`, `/purge`, `/prefetch`), in the "
        "forms of the http `listen`, up to 16; none = no admin listener. Keep it on loopback or behind `allow`/`deny`"),
    MANY("allow",                     ADMIN,  1, 1, set_allow,             acl,                       0,    0,          "CIDR|all",            NULL,
        "admin clients to accept: an IPv4 or IPv6 address, a CIDR (host bits ignored) or `all`; `allow` and `deny` "
        "rules are tried in order, the first match wins; no rules = everyone"),
    MANY("deny",                      ADMIN,  1, 1, set_deny,              acl,                       0,    0,          "CIDR|all",            NULL,
        "admin clients to refuse, written as for `allow`; with rules, a client no rule matches is refused"),
    ONCE("admin_token_file",          ADMIN,  1, 1, set_admin_token_file,  admin_token_file,          0,    0,          "PATH",                NULL,
        "file holding the bearer token that `DELETE /blocks/<hex>`, `POST /purge/<hex>` and `POST /prefetch` must "
        "send (`Authorization: Bearer TOKEN`), compared in constant time; read when the configuration is loaded "
        "(`-t` and start-up fail with `file:line` when it cannot be read, is empty or holds more than one token). An "
        "absolute path is best (a relative one is taken from the working directory). None = `allow`/`deny` alone "
        "guard the write requests"),
    ONCE("prefetch_concurrency",      ADMIN,  1, 1, be_conf_set_num,       prefetch_concurrency,      1,    1024,       "N",                   "16",
        "keys of `POST /prefetch` jobs under way at once over the whole node; more warms the cache faster but takes "
        "more of the origin, and of the workers, from client misses"),

    /* stats { } */
    ONCE("popularity",                STATS,  1, 1, ENUM(on_off),          popularity,                0,    0,          "on|off",              "on",
        "top blocks, Zipf exponent and miss-ratio curve from every request answered with a block; a worker copies 40 "
        "bytes per request into its own ring, the main thread counts. `off` removes the families from `/metrics` and "
        "`/stats`"),
    ONCE("popularity_top_k",          STATS,  1, 1, be_conf_set_num,       popularity_top_k,          16,   1048576,    "N",                   "4096",
        "Space-Saving counters (about 80 bytes each); more keeps more blocks' counts exact, fits the Zipf exponent "
        "over more ranks, and makes more hot blocks exact in the curve"),
    ONCE("popularity_half_life",      STATS,  1, 1, be_conf_set_msec,      popularity_half_life,      0,    0,          "TIME",                "5m",
        "counts and the curve's histogram halve this often, so they follow a changing load; shorter reacts faster "
        "but rests on fewer requests; `0` never forgets"),
    ONCE("mrc_sample_rate",           STATS,  1, 1, set_rate,              mrc_sample_rate,           0,    0,          "R",                   "0.1",
        "SHARDS' starting key sample rate, in (0, 1]; higher is more accurate with few distinct blocks; it halves by "
        "itself whenever more than `mrc_max_keys` keys would be tracked"),
    ONCE("mrc_max_keys",              STATS,  1, 1, be_conf_set_num,       mrc_max_keys,              1024, 16777216,   "N",                   "32768",
        "bound on the keys SHARDS tracks, about 100 bytes each: the curve's memory is fixed at start-up; more keeps "
        "a higher rate on a large key space. With a `memory_policy` other than `lru`, the miniature simulations of "
        "its curve (see The configured policy's curve in the README) track at most a quarter as many keys, about 300 "
        "bytes each plus their policies' tables"),

    /* auth { } */
    ONCE("mode",                      AUTH,   1, 1, ENUM(auth_modes),      auth_mode,                 0,    0,          "off|signed",          "off",
        "`signed`: `GET` and `HEAD` of `/blocks/` (hits too) need `?expires=&sig=` (an HMAC-SHA256 of the key and "
        "expiry) or `Authorization: Bearer EXPIRES.SIG`, checked before the cache, else 403 (see Signed URLs in the "
        "README); keeps blocks from whoever merely knows a hash, at one HMAC-SHA256 per request and secret and links "
        "that expire. Changes on reload"),
    ONCE("secret_file",               AUTH,   1, 1, set_auth_secret_file,  auth_secret_file,          0,    0,          "PATH",                NULL,
        "one or two secrets, one per line (current, then previous, so keys rotate without a flag day; `#` comments "
        "and blank lines skipped; 16..256 visible ASCII characters each; at most 64 KiB); required with `mode "
        "signed`. Read when the configuration is loaded: `-t`, start-up and every reload fail with `file:line` on a "
        "missing file or a bad, short or third secret; a file group or others may read is warned about, keep it "
        "readable by this user only"),
    ONCE("clock_skew",                AUTH,   1, 1, be_conf_set_msec,      auth_clock_skew,           0,    0,          "TIME",                "30s",
        "how long past its `expires` a signed link is still accepted, for clocks that disagree; longer forgives "
        "skewed signers, but a leaked link lives that much longer"),
};
/* clang-format on */

const size_t be_directives_count = BE_ARRAY_LEN(be_directives);
