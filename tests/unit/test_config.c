/*
 * test_config.c - the configuration module: defaults, every directive, include, the exact
 * wording (file:line included) of every error form, the value parsers' edge cases, the admin
 * allow/deny match, the -T dump, and that conf/blockedge.conf loads as shipped.
 *
 * Each case writes its config under a private mkdtemp() directory (in $TMPDIR or /tmp) that
 * is removed at exit.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockedge/config.h"
#include "blockedge/directives.h"
#include "blockedge/log.h"
#include "test.h"

#define ORIGIN "origin { server file:///srv/blocks/; }\n"

static char tmpdir[512];
static char created[256][768]; /* files and directories to remove, in creation order */
static int ncreated;
static be_config_t cfg;
static char err[1024];
static const char *last_path; /* the file the last load_error() wrote */

static const char *
remember(const char *path)
{
    if (ncreated >= (int)BE_ARRAY_LEN(created)) {
        fprintf(stderr, "test_config: too many temporary files\n");
        exit(1);
    }
    snprintf(created[ncreated], sizeof(created[0]), "%s", path);
    return created[ncreated++];
}

static void
write_all(const char *path, int fd, const char *text)
{
    size_t len = strlen(text);

    if (fd < 0 || write(fd, text, len) != (ssize_t)len || close(fd) != 0) {
        fprintf(stderr, "test_config: cannot write %s\n", path);
        exit(1);
    }
}

/* A new file with a unique name (mkstemp) holding text. */
static const char *
conf_write(const char *text)
{
    char path[768];
    int fd;

    snprintf(path, sizeof(path), "%s/case_XXXXXX", tmpdir);
    fd = mkstemp(path);
    write_all(path, fd, text);
    return remember(path);
}

/* A file at a chosen name under the temporary directory (for include tests). */
static const char *
conf_put(const char *rel, const char *text)
{
    char path[768];

    snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
    write_all(path, open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), text);
    return remember(path);
}

static const char *
conf_mkdir(const char *rel)
{
    char path[768];

    snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
    if (mkdir(path, 0700) != 0) {
        fprintf(stderr, "test_config: cannot create %s\n", path);
        exit(1);
    }
    return remember(path);
}

static void
cleanup(void)
{
    while (ncreated > 0) {
        const char *p = created[--ncreated];
        if (unlink(p) != 0) {
            rmdir(p);
        }
    }
    rmdir(tmpdir);
}

/* Loads path into cfg; returns the error text, or "(loaded)". */
static const char *
load_path(const char *path)
{
    last_path = path;
    if (be_config_load(&cfg, path, err, sizeof(err)) == BE_OK) {
        return "(loaded)";
    }
    return err;
}

static const char *
load_error(const char *text)
{
    return load_path(conf_write(text));
}

static const char *msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *
msg(const char *fmt, ...)
{
    static char buf[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return buf;
}

static const char *
listen_ip(const be_listen_t *l, char *buf, size_t len)
{
    const void *a = l->addr.ss_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)&l->addr)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)&l->addr)->sin6_addr;
    return inet_ntop(l->addr.ss_family, a, buf, (socklen_t)len);
}

static int
listen_port(const be_listen_t *l)
{
    return l->addr.ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)&l->addr)->sin_port)
                                        : ntohs(((const struct sockaddr_in6 *)&l->addr)->sin6_port);
}

/* ---- defaults and good configs ----------------------------------------------------------- */

static void
test_defaults_match_documented_values(void)
{
    char ip[64];

    be_config_defaults(&cfg);
    BE_CHECK(cfg.magic == BE_CONFIG_MAGIC);
    BE_CHECK_INT(cfg.worker_threads, 0);
    BE_CHECK_STR(cfg.pid_path, "");
    BE_CHECK_STR(cfg.error_log_path, "");
    BE_CHECK_INT(cfg.error_log_level, BE_LOG_NOTICE);
    BE_CHECK_INT(cfg.nlisten, 1);
    BE_CHECK_STR(cfg.listen[0].text, "127.0.0.1:8480");
    BE_CHECK_STR(listen_ip(&cfg.listen[0], ip, sizeof(ip)), "127.0.0.1");
    BE_CHECK_INT(listen_port(&cfg.listen[0]), 8480);
    BE_CHECK_INT(cfg.listen[0].tls, 0);
    BE_CHECK_STR(cfg.access_log, "");
    BE_CHECK_INT(cfg.keepalive_timeout, 75000);
    BE_CHECK_INT(cfg.client_header_timeout, 60000);
    BE_CHECK_INT(cfg.send_timeout, 60000);
    BE_CHECK_INT(cfg.max_connections, 10000);
    BE_CHECK_INT(cfg.h2_max_concurrent_streams, 100);
    BE_CHECK_INT(cfg.memory_size, 256ll << 20);
    BE_CHECK_INT(cfg.max_block_size, 16ll << 20);
    BE_CHECK_INT(cfg.memory_policy, BE_POLICY_LRU);
    BE_CHECK_STR(cfg.disk_path, "");
    BE_CHECK_INT(cfg.disk_size, 0);
    BE_CHECK_INT(cfg.disk_segment_size, 256ll << 20);
    BE_CHECK_INT(cfg.nservers, 0);
    BE_CHECK_INT(cfg.connect_timeout, 5000);
    BE_CHECK_INT(cfg.read_timeout, 30000);
    BE_CHECK_INT(cfg.retries, 1);
    BE_CHECK_INT(cfg.nadmin_listen, 0);
    BE_CHECK_INT(cfg.nacl, 0);
}

static void
test_minimal_config_keeps_every_default(void)
{
    BE_CHECK_STR(load_error("# only what is required\n" ORIGIN), "(loaded)");
    BE_CHECK_STR(cfg.path, last_path);
    BE_CHECK_INT(cfg.worker_threads, 0);
    BE_CHECK_INT(cfg.nlisten, 1);
    BE_CHECK_STR(cfg.listen[0].text, "127.0.0.1:8480");
    BE_CHECK_INT(cfg.keepalive_timeout, 75000);
    BE_CHECK_INT(cfg.memory_size, 256ll << 20);
    BE_CHECK_INT(cfg.nservers, 1);
    BE_CHECK_INT(cfg.servers[0].kind, BE_ORIGIN_FILE);
    BE_CHECK_STR(cfg.servers[0].url, "file:///srv/blocks/");
    BE_CHECK_STR(cfg.servers[0].path, "/srv/blocks/");
    BE_CHECK_INT(cfg.nadmin_listen, 0);
}

static void
test_every_supported_directive_is_parsed(void)
{
    char ip[64];

    BE_CHECK_STR(load_error("worker_threads 8;\n"
                            "pid /run/blockedge.pid;\n"
                            "error_log /var/log/blockedge/error.log debug;\n"
                            "http {\n"
                            "    listen 127.0.0.1:9000;\n"
                            "    listen [::1]:9001;\n"
                            "    listen *:9002;\n"
                            "    listen 9003;\n"
                            "    access_log off;\n"
                            "    keepalive_timeout 500ms;\n"
                            "    client_header_timeout 2m;\n"
                            "    send_timeout 1h;\n"
                            "    max_connections 1000000;\n"
                            "    h2_max_concurrent_streams 1;\n"
                            "}\n"
                            "cache {\n"
                            "    memory_size 2g;\n"
                            "    max_block_size 512K;\n"
                            "    memory_policy lru;\n"
                            "}\n"
                            "origin {\n"
                            "    server https://origin.example:8443/blocks/;\n"
                            "    connect_timeout 1d;\n"
                            "    read_timeout 45;\n"
                            "    retries 0;\n"
                            "}\n"
                            "admin {\n"
                            "    listen [::]:9100;\n"
                            "    listen 127.0.0.1:9101;\n"
                            "    allow 10.0.0.0/8;\n"
                            "    deny 2001:db8::/32;\n"
                            "    allow all;\n"
                            "}\n"),
                 "(loaded)");
    BE_CHECK_INT(cfg.worker_threads, 8);
    BE_CHECK_STR(cfg.pid_path, "/run/blockedge.pid");
    BE_CHECK_STR(cfg.error_log_path, "/var/log/blockedge/error.log");
    BE_CHECK_INT(cfg.error_log_level, BE_LOG_DEBUG);

    BE_CHECK_INT(cfg.nlisten, 4);
    BE_CHECK_STR(cfg.listen[0].text, "127.0.0.1:9000");
    BE_CHECK_STR(listen_ip(&cfg.listen[0], ip, sizeof(ip)), "127.0.0.1");
    BE_CHECK_INT(listen_port(&cfg.listen[0]), 9000);
    BE_CHECK_STR(cfg.listen[1].text, "[::1]:9001");
    BE_CHECK_INT(cfg.listen[1].addr.ss_family, AF_INET6);
    BE_CHECK_INT(cfg.listen[1].addrlen, sizeof(struct sockaddr_in6));
    BE_CHECK_STR(listen_ip(&cfg.listen[1], ip, sizeof(ip)), "::1");
    BE_CHECK_INT(listen_port(&cfg.listen[1]), 9001);
    BE_CHECK_STR(listen_ip(&cfg.listen[2], ip, sizeof(ip)), "0.0.0.0");
    BE_CHECK_INT(listen_port(&cfg.listen[2]), 9002);
    BE_CHECK_STR(listen_ip(&cfg.listen[3], ip, sizeof(ip)), "0.0.0.0");
    BE_CHECK_INT(listen_port(&cfg.listen[3]), 9003);
    BE_CHECK_STR(cfg.access_log, "");
    BE_CHECK_INT(cfg.keepalive_timeout, 500);
    BE_CHECK_INT(cfg.client_header_timeout, 120000);
    BE_CHECK_INT(cfg.send_timeout, 3600000);
    BE_CHECK_INT(cfg.max_connections, 1000000);
    BE_CHECK_INT(cfg.h2_max_concurrent_streams, 1);

    BE_CHECK_INT(cfg.memory_size, 2ll << 30);
    BE_CHECK_INT(cfg.max_block_size, 512 * 1024);
    BE_CHECK_INT(cfg.memory_policy, BE_POLICY_LRU);

    BE_CHECK_INT(cfg.nservers, 1);
    BE_CHECK_INT(cfg.servers[0].kind, BE_ORIGIN_HTTP);
    BE_CHECK_STR(cfg.servers[0].url, "https://origin.example:8443/blocks/");
    BE_CHECK_STR(cfg.servers[0].path, "");
    BE_CHECK_INT(cfg.servers[0].backup, 0);
    BE_CHECK_INT(cfg.connect_timeout, 86400000);
    BE_CHECK_INT(cfg.read_timeout, 45000);
    BE_CHECK_INT(cfg.retries, 0);

    BE_CHECK_INT(cfg.nadmin_listen, 2);
    BE_CHECK_STR(listen_ip(&cfg.admin_listen[0], ip, sizeof(ip)), "::");
    BE_CHECK_INT(listen_port(&cfg.admin_listen[0]), 9100);
    BE_CHECK_STR(cfg.admin_listen[1].text, "127.0.0.1:9101");
    BE_CHECK_INT(cfg.nacl, 3);
    BE_CHECK_INT(cfg.acl[0].allow, 1);
    BE_CHECK_INT(cfg.acl[0].family, AF_INET);
    BE_CHECK_INT(cfg.acl[0].prefix, 8);
    BE_CHECK_INT(cfg.acl[0].addr[0], 10);
    BE_CHECK_INT(cfg.acl[1].allow, 0);
    BE_CHECK_INT(cfg.acl[1].family, AF_INET6);
    BE_CHECK_INT(cfg.acl[1].prefix, 32);
    BE_CHECK_INT(cfg.acl[2].allow, 1);
    BE_CHECK_INT(cfg.acl[2].family, AF_UNSPEC);
}

static void
test_origin_server_kinds_http_https_file(void)
{
    BE_CHECK_STR(load_error("origin { server http://127.0.0.1:8080/; }\n"), "(loaded)");
    BE_CHECK_INT(cfg.servers[0].kind, BE_ORIGIN_HTTP);
    BE_CHECK_STR(cfg.servers[0].url, "http://127.0.0.1:8080/");
    BE_CHECK_STR(load_error("origin { server https://o.example/a/b/; }\n"), "(loaded)");
    BE_CHECK_INT(cfg.servers[0].kind, BE_ORIGIN_HTTP);
    BE_CHECK_STR(load_error("origin { server file:///; }\n"), "(loaded)");
    BE_CHECK_INT(cfg.servers[0].kind, BE_ORIGIN_FILE);
    BE_CHECK_STR(cfg.servers[0].path, "/");
    BE_CHECK_STR(load_error("origin { server file:///var/tmp/o/; }\n"), "(loaded)");
    BE_CHECK_STR(cfg.servers[0].path, "/var/tmp/o/");
}

static void
test_worker_threads_auto_and_number(void)
{
    BE_CHECK_STR(load_error("worker_threads 256;\n" ORIGIN), "(loaded)");
    BE_CHECK_INT(cfg.worker_threads, 256);
    BE_CHECK_STR(load_error("worker_threads auto;\n" ORIGIN), "(loaded)");
    BE_CHECK_INT(cfg.worker_threads, 0);
}

static void
test_error_log_stderr_and_default_level(void)
{
    BE_CHECK_STR(load_error("error_log stderr warn;\n" ORIGIN), "(loaded)");
    BE_CHECK_STR(cfg.error_log_path, "");
    BE_CHECK_INT(cfg.error_log_level, BE_LOG_WARN);
    BE_CHECK_STR(load_error("error_log /tmp/e.log;\n" ORIGIN), "(loaded)");
    BE_CHECK_STR(cfg.error_log_path, "/tmp/e.log");
    BE_CHECK_INT(cfg.error_log_level, BE_LOG_NOTICE);
}

static void
test_quoted_strings_escapes_and_comments(void)
{
    BE_CHECK_STR(load_error("# a comment; with { braces }\n"
                            "pid \"/tmp/with space/#not-a-comment;x.pid\"; # trailing\n"
                            "error_log '/tmp/it\\'s \\\"q\\\".log' info;\n"
                            "origin{server 'file:///srv/blocks/';}#glued\n"),
                 "(loaded)");
    BE_CHECK_STR(cfg.pid_path, "/tmp/with space/#not-a-comment;x.pid");
    BE_CHECK_STR(cfg.error_log_path, "/tmp/it's \"q\".log");
    BE_CHECK_INT(cfg.error_log_level, BE_LOG_INFO);
    BE_CHECK_INT(cfg.nservers, 1);

    /* \t \n \\ are escapes; an unknown escape keeps its backslash and never ends a word */
    BE_CHECK_STR(load_error("pid a\\tb\\\\c\\;d\\x;\n" ORIGIN), "(loaded)");
    BE_CHECK_STR(cfg.pid_path, "a\tb\\c\\;d\\x");
}

static void
test_include_glob_and_relative_paths(void)
{
    const char *main_path;

    conf_mkdir("inc1");
    conf_mkdir("inc1/conf.d");
    conf_put("inc1/conf.d/10-workers.conf", "worker_threads 4;\n");
    conf_put("inc1/conf.d/20-pid.conf", "pid /run/x.pid;\n");
    conf_put("inc1/conf.d/ignored.txt", "this is not a config;\n");
    conf_put("inc1/origin.inc", "server http://o.example/;\nretries 3;\n");
    conf_put("inc1/cache.inc", "memory_size 64m;\n");
    main_path = conf_put("inc1/main.conf", "include conf.d/*.conf;\n"
                                           "include nothing-here/*.conf;\n"
                                           "cache { include cache.inc; }\n"
                                           "origin {\n"
                                           "    include origin.inc;\n"
                                           "}\n");
    BE_CHECK_STR(load_path(main_path), "(loaded)");
    BE_CHECK_INT(cfg.worker_threads, 4);
    BE_CHECK_STR(cfg.pid_path, "/run/x.pid");
    BE_CHECK_INT(cfg.memory_size, 64ll << 20);
    BE_CHECK_INT(cfg.nservers, 1);
    BE_CHECK_STR(cfg.servers[0].url, "http://o.example/");
    BE_CHECK_INT(cfg.retries, 3);
}

static void
test_include_absolute_path_and_glob_matching_nothing(void)
{
    const char *inc = conf_put("abs.inc", ORIGIN);

    BE_CHECK_STR(load_error(msg("include %s;\ninclude /nonexistent-dir/*.conf;\n", inc)),
                 "(loaded)");
    BE_CHECK_INT(cfg.nservers, 1);
}

static void
test_include_nesting_limit_is_16(void)
{
    char name[64], text[128];
    int i;

    /* chain_0 (the main file) includes chain_1 ... which includes chain_16: 16 levels */
    for (i = 0; i <= 16; i++) {
        snprintf(name, sizeof(name), "chain_%d.conf", i);
        if (i == 16) {
            snprintf(text, sizeof(text), ORIGIN);
        } else {
            snprintf(text, sizeof(text), "include chain_%d.conf;\n", i + 1);
        }
        conf_put(name, text);
    }
    BE_CHECK_STR(load_path(msg("%s/chain_0.conf", tmpdir)), "(loaded)");
    BE_CHECK_INT(cfg.nservers, 1);

    /* one level more: start from a file that includes chain_0 */
    conf_put("chain_top.conf", "include chain_0.conf;\n");
    BE_CHECK_STR(load_path(msg("%s/chain_top.conf", tmpdir)),
                 msg("include of \"%s/chain_16.conf\" nested too deeply (limit 16) in "
                     "%s/chain_15.conf:1",
                     tmpdir, tmpdir));
}

static void
test_sample_config_loads(void)
{
    const char *data = getenv("BE_TEST_DATA");
    char base[4096], *slash;
    int i;

    /* BE_TEST_DATA is <src>/tests/unit/data; without it, this file is <src>/tests/unit/x.c */
    snprintf(base, sizeof(base), "%s", data != NULL ? data : __FILE__);
    for (i = 0; i < 3; i++) {
        slash = strrchr(base, '/');
        if (slash == NULL) {
            snprintf(base, sizeof(base), ".");
            break;
        }
        *slash = '\0';
    }
    BE_CHECK_STR(load_path(msg("%s/conf/blockedge.conf", base)), "(loaded)");
    BE_CHECK_INT(cfg.worker_threads, 0);
    BE_CHECK_INT(cfg.nlisten, 1);
    BE_CHECK_STR(cfg.listen[0].text, "127.0.0.1:8480");
    BE_CHECK_INT(cfg.memory_size, 256ll << 20);
    BE_CHECK_INT(cfg.max_block_size, 16ll << 20);
    BE_CHECK_INT(cfg.nservers, 1);
    BE_CHECK_INT(cfg.servers[0].kind, BE_ORIGIN_FILE);
    BE_CHECK_STR(cfg.servers[0].path, "/var/tmp/blockedge/origin/");
    BE_CHECK_INT(cfg.connect_timeout, 5000);
    BE_CHECK_INT(cfg.read_timeout, 30000);
    BE_CHECK_INT(cfg.retries, 1);
    BE_CHECK_INT(cfg.nadmin_listen, 1);
    BE_CHECK_STR(cfg.admin_listen[0].text, "127.0.0.1:8481");
    BE_CHECK_INT(cfg.nacl, 3);
    BE_CHECK_INT(cfg.acl[2].family, AF_UNSPEC);
    BE_CHECK_INT(cfg.acl[2].allow, 0);
}

/* ---- bad configs: the exact message, file and line --------------------------------------- */

static void
test_rejects_unknown_directive(void)
{
    const char *e = load_error(ORIGIN "\n\nmemroy_size 1m;\n");
    BE_CHECK_STR(e, msg("unknown directive \"memroy_size\" in %s:4", last_path));
}

static void
test_rejects_missing_semicolon_as_wrong_argument_count(void)
{
    const char *e = load_error("cache {\n    memory_size 64m\n    max_block_size 1m;\n}\n");
    BE_CHECK_STR(
        e, msg("invalid number of arguments in \"memory_size\" directive in %s:2", last_path));
}

static void
test_rejects_missing_semicolon_before_closing_brace(void)
{
    const char *e = load_error("cache { memory_size 64m }\n");
    BE_CHECK_STR(e, msg("unexpected \"}\" in %s:1", last_path));
}

static void
test_rejects_extra_closing_brace(void)
{
    const char *e = load_error(ORIGIN "cache {\n}\n}\n");
    BE_CHECK_STR(e, msg("unexpected \"}\" in %s:4", last_path));
}

static void
test_rejects_unclosed_block_at_end_of_file(void)
{
    const char *e = load_error("origin {\n    server file:///d/;\n");
    BE_CHECK_STR(e, msg("unexpected end of file, expecting \"}\" in %s:2", last_path));
}

static void
test_rejects_end_of_file_inside_directive(void)
{
    const char *e = load_error(ORIGIN "worker_threads 4");
    BE_CHECK_STR(e, msg("unexpected end of file, expecting \";\" or \"}\" in %s:2", last_path));
}

static void
test_rejects_directive_in_wrong_context(void)
{
    const char *e = load_error(ORIGIN "memory_size 64m;\n");
    BE_CHECK_STR(e, msg("\"memory_size\" directive is not allowed here in %s:2", last_path));
    e = load_error("origin {\n    worker_threads 2;\n}\n");
    BE_CHECK_STR(e, msg("\"worker_threads\" directive is not allowed here in %s:2", last_path));
    e = load_error("cache {\n    allow all;\n}\n");
    BE_CHECK_STR(e, msg("\"allow\" directive is not allowed here in %s:2", last_path));
}

static void
test_rejects_block_inside_block(void)
{
    const char *e = load_error("http {\n    cache { }\n}\n");
    BE_CHECK_STR(e, msg("\"cache\" directive is not allowed here in %s:2", last_path));
}

static void
test_rejects_bad_size(void)
{
    const char *e = load_error("cache {\n    memory_size 12q;\n}\n");
    BE_CHECK_STR(e, msg("\"memory_size\" directive invalid value \"12q\" in %s:2", last_path));
    e = load_error("cache { max_block_size 1.5m; }\n");
    BE_CHECK_STR(e, msg("\"max_block_size\" directive invalid value \"1.5m\" in %s:1", last_path));
}

static void
test_rejects_size_that_overflows_64_bits(void)
{
    const char *e = load_error("cache { memory_size 17179869184g; }\n");
    BE_CHECK_STR(
        e, msg("\"memory_size\" directive invalid value \"17179869184g\" in %s:1", last_path));
}

static void
test_rejects_bad_time(void)
{
    const char *e = load_error("http { keepalive_timeout 5x; }\n");
    BE_CHECK_STR(e, msg("\"keepalive_timeout\" directive invalid value \"5x\" in %s:1", last_path));
    e = load_error("origin { read_timeout 1h30m; }\n");
    BE_CHECK_STR(e, msg("\"read_timeout\" directive invalid value \"1h30m\" in %s:1", last_path));
}

static void
test_rejects_negative_number(void)
{
    const char *e = load_error("origin { retries -1; }\n");
    BE_CHECK_STR(e, msg("\"retries\" directive invalid value \"-1\" in %s:1", last_path));
}

static void
test_rejects_duplicate_directive(void)
{
    const char *e = load_error("cache {\n    memory_size 64m;\n    memory_size 128m;\n}\n");
    BE_CHECK_STR(e, msg("\"memory_size\" directive is duplicate in %s:3", last_path));
}

static void
test_rejects_duplicate_block(void)
{
    const char *e = load_error("http { }\nhttp { }\n");
    BE_CHECK_STR(e, msg("\"http\" directive is duplicate in %s:2", last_path));
}

static void
test_rejects_number_out_of_range(void)
{
    const char *e = load_error("worker_threads 0;\n");
    BE_CHECK_STR(e, msg("\"worker_threads\" directive value \"0\" is out of range (1..256) in "
                        "%s:1",
                        last_path));
    e = load_error("http { max_connections 1000001; }\n");
    BE_CHECK_STR(e, msg("\"max_connections\" directive value \"1000001\" is out of range "
                        "(1..1000000) in %s:1",
                        last_path));
    e = load_error("origin { retries 11; }\n");
    BE_CHECK_STR(
        e, msg("\"retries\" directive value \"11\" is out of range (0..10) in %s:1", last_path));
    e = load_error("http { h2_max_concurrent_streams 99999999999999999999; }\n");
    BE_CHECK_STR(e, msg("\"h2_max_concurrent_streams\" directive invalid value "
                        "\"99999999999999999999\" in %s:1",
                        last_path));
}

static void
test_rejects_size_below_minimum(void)
{
    const char *e = load_error("cache { memory_size 512k; }\n");
    BE_CHECK_STR(e, msg("\"memory_size\" directive value \"512k\" is out of range (at least 1m) "
                        "in %s:1",
                        last_path));
    e = load_error("cache { max_block_size 0; }\n");
    BE_CHECK_STR(e, msg("\"max_block_size\" directive value \"0\" is out of range (at least 1) "
                        "in %s:1",
                        last_path));
}

static void
test_rejects_zero_connect_timeout(void)
{
    const char *e = load_error("origin { connect_timeout 0; }\n");
    BE_CHECK_STR(e, msg("\"connect_timeout\" directive value \"0\" is out of range (at least 1ms) "
                        "in %s:1",
                        last_path));
}

static void
test_rejects_missing_include_file(void)
{
    const char *e = load_error("\ninclude nope.conf;\n");
    BE_CHECK_STR(e, msg("open() \"%s/nope.conf\" failed (2: No such file or directory) in %s:2",
                        tmpdir, last_path));
}

static void
test_rejects_include_that_includes_itself(void)
{
    const char *self = conf_put("self.conf", "# loops\ninclude self.conf;\n");
    BE_CHECK_STR(load_path(self),
                 msg("include of \"%s\" nested too deeply (limit 16) in %s:2", self, self));
}

static void
test_rejects_missing_main_file(void)
{
    BE_CHECK_STR(load_path("/nonexistent/blockedge.conf"),
                 "open() \"/nonexistent/blockedge.conf\" failed (2: No such file or directory)");
}

static void
test_error_in_included_file_names_that_file_and_line(void)
{
    const char *inc, *e;

    conf_mkdir("inc2");
    inc = conf_put("inc2/bad.conf", "# included\nserver file:///d/;\nbogus 1;\n");
    e = load_error("origin {\n    include inc2/bad.conf;\n}\n");
    BE_CHECK_STR(e, msg("unknown directive \"bogus\" in %s:3", inc));
}

static void
test_rejects_block_split_across_included_files(void)
{
    const char *inc = conf_put("closer.inc", "}\n");
    const char *e = load_error("origin {\n    server file:///d/;\n    include closer.inc;\n");
    BE_CHECK_STR(e, msg("unexpected \"}\" in %s:1", inc));
}

static void
test_rejects_unterminated_quote(void)
{
    const char *e = load_error(ORIGIN "pid \"/run/x.pid;\nworker_threads 2;\n");
    BE_CHECK_STR(e, msg("unterminated quoted string in %s:2", last_path));
}

static void
test_rejects_text_glued_to_quoted_string(void)
{
    const char *e = load_error("pid \"/run/a\"b;\n");
    BE_CHECK_STR(e, msg("unexpected \"b\" after a quoted string in %s:1", last_path));
}

static void
test_rejects_config_without_origin_server(void)
{
    const char *e = load_error("worker_threads 2;\n");
    BE_CHECK_STR(e, msg("no origin \"server\" defined in %s", last_path));
    e = load_error("origin {\n}\n");
    BE_CHECK_STR(e, msg("no origin \"server\" defined in %s", last_path));
}

static void
test_rejects_max_block_size_above_memory_size(void)
{
    const char *e =
        load_error(ORIGIN "cache {\n    memory_size 16m;\n    max_block_size 32m;\n}\n");
    BE_CHECK_STR(
        e, msg("\"max_block_size\" 32m is larger than \"memory_size\" 16m in %s:4", last_path));
    /* the default max_block_size (16m) against a smaller memory_size: blame memory_size */
    e = load_error(ORIGIN "cache { memory_size 8m; }\n");
    BE_CHECK_STR(
        e, msg("\"max_block_size\" 16m is larger than \"memory_size\" 8m in %s:2", last_path));
}

static void
test_rejects_invalid_listen_address(void)
{
    const char *e = load_error("http { listen localhost:80; }\n");
    BE_CHECK_STR(e, msg("invalid listen address \"localhost:80\" in %s:1", last_path));
    e = load_error("http { listen 127.0.0.1:65536; }\n");
    BE_CHECK_STR(e, msg("invalid listen address \"127.0.0.1:65536\" in %s:1", last_path));
    e = load_error("admin { listen ::1:80; }\n");
    BE_CHECK_STR(e, msg("invalid listen address \"::1:80\" in %s:1", last_path));
}

static void
test_rejects_unknown_listen_parameter(void)
{
    const char *e = load_error("http { listen 80 ssl; }\n");
    BE_CHECK_STR(e, msg("invalid parameter \"ssl\" in %s:1", last_path));
}

static void
test_rejects_duplicate_listen_address(void)
{
    const char *e = load_error("http {\n    listen 127.0.0.1:9000;\n}\n"
                               "admin {\n    listen 127.0.0.1:9000;\n}\n");
    BE_CHECK_STR(e, msg("duplicate listen address \"127.0.0.1:9000\" in %s:5", last_path));
    e = load_error("http {\n    listen *:9000;\n    listen 0.0.0.0:9000;\n}\n");
    BE_CHECK_STR(e, msg("duplicate listen address \"0.0.0.0:9000\" in %s:3", last_path));
    /* the default http listen is added after parsing, so its clash names no line */
    e = load_error(ORIGIN "admin { listen 127.0.0.1:8480; }\n");
    BE_CHECK_STR(e, msg("duplicate listen address \"127.0.0.1:8480\" (default of \"listen\") in %s",
                        last_path));
}

static void
test_rejects_origin_url_without_trailing_slash(void)
{
    const char *e = load_error("origin {\n    server http://origin.example/blocks;\n}\n");
    BE_CHECK_STR(e, msg("invalid URL \"http://origin.example/blocks\" in \"server\" directive "
                        "(must end with \"/\") in %s:2",
                        last_path));
    e = load_error("origin { server file:///srv/blocks; }\n");
    BE_CHECK_STR(e, msg("invalid URL \"file:///srv/blocks\" in \"server\" directive (must end "
                        "with \"/\") in %s:1",
                        last_path));
}

static void
test_rejects_origin_url_with_unknown_scheme(void)
{
    const char *e = load_error("origin { server ftp://o.example/; }\n");
    BE_CHECK_STR(e, msg("invalid URL \"ftp://o.example/\" in \"server\" directive (unknown "
                        "scheme; expected http://, https://, file:/// or s3://) in %s:1",
                        last_path));
}

static void
test_rejects_file_url_that_is_not_absolute(void)
{
    const char *e = load_error("origin { server file://srv/blocks/; }\n");
    BE_CHECK_STR(e, msg("invalid URL \"file://srv/blocks/\" in \"server\" directive (expected "
                        "file:///absolute/dir/) in %s:1",
                        last_path));
}

static void
test_rejects_http_url_without_host(void)
{
    const char *e = load_error("origin { server http:///blocks/; }\n");
    BE_CHECK_STR(e, msg("invalid URL \"http:///blocks/\" in \"server\" directive (no host) in "
                        "%s:1",
                        last_path));
    e = load_error("origin { server 'http://o.example/a b/'; }\n");
    BE_CHECK_STR(e, msg("invalid URL \"http://o.example/a b/\" in \"server\" directive "
                        "(contains a space or control character) in %s:1",
                        last_path));
}

static void
test_rejects_unknown_server_parameter(void)
{
    const char *e = load_error("origin { server http://o.example/ weight=2; }\n");
    BE_CHECK_STR(e, msg("invalid parameter \"weight=2\" in %s:1", last_path));
}

static void
test_disk_tier_needs_a_size_of_two_segments(void)
{
    const char *e = load_error("cache {\n    disk_path /var/cache/blockedge;\n}\n"
                               "origin { server http://o.example/; }\n");
    BE_CHECK_STR(e, msg("\"disk_path\" requires \"disk_size\" in %s:2", last_path));
    e = load_error("cache {\n    disk_path /d;\n    disk_size 300m;\n}\n"
                   "origin { server http://o.example/; }\n");
    BE_CHECK_STR(e, msg("\"disk_size\" 300m is less than two \"disk_segment_size\" 256m in %s:2",
                        last_path));
    e = load_error("cache { disk_segment_size 4g; }\n");
    BE_CHECK_STR(e, msg("\"disk_segment_size\" directive value \"4g\" is out of range (1m..4095m) "
                        "in %s:1",
                        last_path));
    e = load_error("cache { disk_path /d; disk_size 10g; disk_segment_size 64m; }\n"
                   "origin { server http://o.example/; }\n");
    BE_CHECK_STR(e, "(loaded)");
    BE_CHECK_STR(cfg.disk_path, "/d");
    BE_CHECK_INT(cfg.disk_size, 10ll << 30);
    BE_CHECK_INT(cfg.disk_segment_size, 64ll << 20);
}

static void
test_listen_tls_flag_and_certificate_paths(void)
{
    const char *e = load_error("http { listen 127.0.0.1:8443 tls; listen 127.0.0.1:8480;\n"
                               "  tls_certificate /etc/blockedge/cert.pem;\n"
                               "  tls_certificate_key /etc/blockedge/key.pem; }\n"
                               "origin { server http://o.example/; }\n");
    BE_CHECK_STR(e, "(loaded)");
    BE_CHECK_INT(cfg.nlisten, 2);
    BE_CHECK_INT(cfg.listen[0].tls, 1);
    BE_CHECK_INT(cfg.listen[1].tls, 0);
    BE_CHECK_STR(cfg.tls_certificate, "/etc/blockedge/cert.pem");
    BE_CHECK_STR(cfg.tls_certificate_key, "/etc/blockedge/key.pem");
}

static void
test_access_log_path_and_stats_block(void)
{
    BE_CHECK_STR(load_error("http { access_log /var/log/blockedge/access.log; }\n"
                            "stats { popularity off; popularity_top_k 64;\n"
                            "        popularity_half_life 0; mrc_sample_rate 0.25;\n"
                            "        mrc_max_keys 2048; }\n"
                            "origin { server http://o/; }\n"),
                 "(loaded)");
    BE_CHECK_STR(cfg.access_log, "/var/log/blockedge/access.log");
    BE_CHECK_INT(cfg.popularity, 0);
    BE_CHECK_INT(cfg.popularity_top_k, 64);
    BE_CHECK_INT(cfg.popularity_half_life, 0);
    BE_CHECK(cfg.mrc_sample_rate == 0.25);
    BE_CHECK_INT(cfg.mrc_max_keys, 2048);
    be_config_defaults(&cfg);
    BE_CHECK_INT(cfg.popularity, 1);
    BE_CHECK_INT(cfg.popularity_top_k, 4096);
    BE_CHECK_INT(cfg.popularity_half_life, 300000);
    BE_CHECK(cfg.mrc_sample_rate == 0.1);
    BE_CHECK_INT(cfg.mrc_max_keys, 32768);
    const char *e = load_error("stats { mrc_sample_rate 0; }\n");
    BE_CHECK_STR(e, msg("\"mrc_sample_rate\" directive value \"0\" is out of range (0..1] in "
                        "%s:1",
                        last_path));
    e = load_error("stats { mrc_sample_rate 0.1x; }\n");
    BE_CHECK_STR(e, msg("\"mrc_sample_rate\" directive invalid value \"0.1x\" in %s:1", last_path));
}

static void
test_accepts_s3_server_with_endpoint_region_credentials(void)
{
    BE_CHECK_STR(load_error("origin {\n    server s3://bucket/prefix/;\n"
                            "    s3_endpoint http://127.0.0.1:39080/;\n    s3_region eu-west-1;\n"
                            "    s3_credentials_file /etc/blockedge/s3.key;\n}\n"),
                 "(loaded)");
    BE_CHECK_INT(cfg.servers[0].kind, BE_ORIGIN_S3);
    BE_CHECK_STR(cfg.servers[0].path, "bucket/prefix/");
    BE_CHECK_STR(cfg.s3_endpoint, "http://127.0.0.1:39080");
    BE_CHECK_STR(cfg.s3_region, "eu-west-1");
    BE_CHECK_STR(cfg.s3_credentials_file, "/etc/blockedge/s3.key");
    BE_CHECK_STR(load_error("origin { server s3://b/; }\n"), "(loaded)");
    BE_CHECK_STR(cfg.s3_region, "us-east-1");
    BE_CHECK_STR(cfg.s3_endpoint, "");
    const char *e = load_error("origin { server s3:///prefix/; }\n");
    BE_CHECK_STR(e, msg("invalid URL \"s3:///prefix/\" in \"server\" directive (no bucket) in "
                        "%s:1",
                        last_path));
    e = load_error("origin { server s3://b/; s3_endpoint s3.example.com; }\n");
    BE_CHECK_STR(e, msg("invalid URL \"s3.example.com\" in \"s3_endpoint\" directive (expected "
                        "http://host[:port] or https://host[:port]) in %s:1",
                        last_path));
}

static void
test_accepts_several_servers_and_backups(void)
{
    BE_CHECK_STR(
        load_error("origin {\n    server http://a.example/;\n    server http://b.example/;\n"
                   "    server file:///srv/c/ backup;\n    max_fails 5;\n"
                   "    fail_timeout 30s;\n    fetch_timeout 2s;\n"
                   "    error_summary_interval 1m;\n}\n"),
        "(loaded)");
    BE_CHECK_INT(cfg.nservers, 3);
    BE_CHECK_INT(cfg.servers[0].backup, 0);
    BE_CHECK_INT(cfg.servers[1].backup, 0);
    BE_CHECK_INT(cfg.servers[2].backup, 1);
    BE_CHECK_INT(cfg.max_fails, 5);
    BE_CHECK_INT(cfg.fail_timeout, 30000);
    BE_CHECK_INT(cfg.fetch_timeout, 2000);
    BE_CHECK_INT(cfg.error_summary_interval, 60000);
    BE_CHECK_STR(load_error("origin { server http://a.example/; }\n"), "(loaded)");
    BE_CHECK_INT(cfg.max_fails, 3);
    BE_CHECK_INT(cfg.fail_timeout, 10000);
    BE_CHECK_INT(cfg.fetch_timeout, 60000);
    BE_CHECK_INT(cfg.error_summary_interval, 10000);
}

static void
test_rejects_block_directive_without_brace(void)
{
    const char *e = load_error("http;\n");
    BE_CHECK_STR(e, msg("directive \"http\" has no opening \"{\" in %s:1", last_path));
}

static void
test_rejects_brace_after_simple_directive(void)
{
    const char *e = load_error("worker_threads 2 {\n}\n");
    BE_CHECK_STR(e,
                 msg("directive \"worker_threads\" is not terminated by \";\" in %s:1", last_path));
}

static void
test_rejects_too_many_and_too_few_arguments(void)
{
    const char *e = load_error("origin { retries 1 2; }\n");
    BE_CHECK_STR(e, msg("invalid number of arguments in \"retries\" directive in %s:1", last_path));
    e = load_error("http { listen; }\n");
    BE_CHECK_STR(e, msg("invalid number of arguments in \"listen\" directive in %s:1", last_path));
    e = load_error("admin { listen 127.0.0.1:9 tls; }\n");
    BE_CHECK_STR(e, msg("invalid number of arguments in \"listen\" directive in %s:1", last_path));
    e = load_error("http x { }\n");
    BE_CHECK_STR(e, msg("invalid number of arguments in \"http\" directive in %s:1", last_path));
    e = load_error("worker_threads 1 2 3 4 5 6 7 8 9 10;\n");
    BE_CHECK_STR(
        e, msg("invalid number of arguments in \"worker_threads\" directive in %s:1", last_path));
}

static void
test_rejects_stray_brace_and_semicolon(void)
{
    const char *e = load_error(ORIGIN "{\n}\n");
    BE_CHECK_STR(e, msg("unexpected \"{\" in %s:2", last_path));
    e = load_error(ORIGIN "worker_threads 2;;\n");
    BE_CHECK_STR(e, msg("unexpected \";\" in %s:2", last_path));
}

static void
test_rejects_bad_acl_rule(void)
{
    const char *e = load_error("admin { allow 10.0.0.0/33; }\n");
    BE_CHECK_STR(e, msg("invalid parameter \"10.0.0.0/33\" in %s:1", last_path));
    e = load_error("admin { deny 300.1.1.1; }\n");
    BE_CHECK_STR(e, msg("invalid parameter \"300.1.1.1\" in %s:1", last_path));
    e = load_error("admin { deny ::1/; }\n");
    BE_CHECK_STR(e, msg("invalid parameter \"::1/\" in %s:1", last_path));
}

static void
test_rejects_unknown_error_log_level(void)
{
    const char *e = load_error("error_log stderr loud;\n");
    BE_CHECK_STR(e, msg("\"error_log\" directive invalid value \"loud\" in %s:1", last_path));
}

static void
test_rejects_unknown_memory_policy(void)
{
    const char *e = load_error("cache { memory_policy lfu; }\n");
    BE_CHECK_STR(e, msg("\"memory_policy\" directive invalid value \"lfu\" in %s:1", last_path));
}

static void
test_rejects_empty_and_too_long_paths(void)
{
    char text[1200];
    const char *e = load_error("pid \"\";\n");

    BE_CHECK_STR(e, msg("\"pid\" directive invalid value \"\" in %s:1", last_path));
    memset(text, 0, sizeof(text));
    memcpy(text, "pid /", 5);
    memset(text + 5, 'a', 1100);
    memcpy(text + 1105, ";\n", 2);
    e = load_error(text);
    BE_CHECK_STR(e, msg("\"pid\" directive value is too long (max 1023 bytes) in %s:1", last_path));
}

static void
test_error_line_is_where_directive_starts(void)
{
    const char *e = load_error(ORIGIN "worker_threads\n\n    999\n;\n");
    BE_CHECK_STR(e, msg("\"worker_threads\" directive value \"999\" is out of range (1..256) in "
                        "%s:2",
                        last_path));
}

/* ---- value parsers ----------------------------------------------------------------------- */

static void
test_parse_size_suffixes_and_overflow(void)
{
    uint64_t v;

    BE_CHECK(be_config_parse_size("0", &v) == BE_OK && v == 0);
    BE_CHECK(be_config_parse_size("512", &v) == BE_OK && v == 512);
    BE_CHECK(be_config_parse_size("64k", &v) == BE_OK && v == 64 * 1024);
    BE_CHECK(be_config_parse_size("64K", &v) == BE_OK && v == 64 * 1024);
    BE_CHECK(be_config_parse_size("16m", &v) == BE_OK && v == 16ull << 20);
    BE_CHECK(be_config_parse_size("16M", &v) == BE_OK && v == 16ull << 20);
    BE_CHECK(be_config_parse_size("2g", &v) == BE_OK && v == 2ull << 30);
    BE_CHECK(be_config_parse_size("2G", &v) == BE_OK && v == 2ull << 30);
    BE_CHECK(be_config_parse_size("18446744073709551615", &v) == BE_OK && v == UINT64_MAX);
    BE_CHECK(be_config_parse_size("17179869183g", &v) == BE_OK && v == 17179869183ull << 30);
    BE_CHECK(be_config_parse_size("18446744073709551616", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_size("17179869184g", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_size("99999999999999999999999k", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_size("", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_size("k", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_size("1kb", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_size("1t", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_size("-1", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_size("+1", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_size(" 1", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_size("1 ", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_size("1.5m", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_size("0x10", &v) == BE_ERROR);
}

static void
test_parse_time_units_and_overflow(void)
{
    be_msec_t v;

    BE_CHECK(be_config_parse_time("0", &v) == BE_OK && v == 0);
    BE_CHECK(be_config_parse_time("10", &v) == BE_OK && v == 10000);
    BE_CHECK(be_config_parse_time("500ms", &v) == BE_OK && v == 500);
    BE_CHECK(be_config_parse_time("30s", &v) == BE_OK && v == 30000);
    BE_CHECK(be_config_parse_time("5m", &v) == BE_OK && v == 300000);
    BE_CHECK(be_config_parse_time("1h", &v) == BE_OK && v == 3600000);
    BE_CHECK(be_config_parse_time("2d", &v) == BE_OK && v == 172800000);
    BE_CHECK(be_config_parse_time("9223372036854775807ms", &v) == BE_OK && v == INT64_MAX);
    BE_CHECK(be_config_parse_time("9223372036854775s", &v) == BE_OK && v == 9223372036854775000ll);
    BE_CHECK(be_config_parse_time("9223372036854775808ms", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_time("9223372036854776s", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_time("106751991167301d", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_time("99999999999999999999", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_time("", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_time("s", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_time("1w", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_time("5S", &v) == BE_ERROR); /* units are lower case, as nginx */
    BE_CHECK(be_config_parse_time("1M", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_time("1msx", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_time("1h30m", &v) == BE_ERROR);
    BE_CHECK(be_config_parse_time("-5s", &v) == BE_ERROR);
}

static void
test_parse_listen_forms(void)
{
    be_listen_t l;
    char ip[64];

    BE_CHECK(be_config_parse_listen("127.0.0.1:8480", &l) == BE_OK);
    BE_CHECK_INT(l.addr.ss_family, AF_INET);
    BE_CHECK_INT(l.addrlen, sizeof(struct sockaddr_in));
    BE_CHECK_INT(listen_port(&l), 8480);
    BE_CHECK_STR(l.text, "127.0.0.1:8480");
    BE_CHECK(be_config_parse_listen("[::1]:8481", &l) == BE_OK);
    BE_CHECK_INT(l.addr.ss_family, AF_INET6);
    BE_CHECK_STR(listen_ip(&l, ip, sizeof(ip)), "::1");
    BE_CHECK_INT(listen_port(&l), 8481);
    BE_CHECK_STR(l.text, "[::1]:8481");
    BE_CHECK(be_config_parse_listen("[::]:1", &l) == BE_OK);
    BE_CHECK_STR(listen_ip(&l, ip, sizeof(ip)), "::");
    BE_CHECK(be_config_parse_listen("*:65535", &l) == BE_OK);
    BE_CHECK_STR(listen_ip(&l, ip, sizeof(ip)), "0.0.0.0");
    BE_CHECK_INT(listen_port(&l), 65535);
    BE_CHECK(be_config_parse_listen("8080", &l) == BE_OK);
    BE_CHECK_STR(listen_ip(&l, ip, sizeof(ip)), "0.0.0.0");
    BE_CHECK_INT(listen_port(&l), 8080);

    BE_CHECK(be_config_parse_listen("", &l) == BE_ERROR);
    BE_CHECK(be_config_parse_listen("localhost:80", &l) == BE_ERROR);
    BE_CHECK(be_config_parse_listen("127.0.0.1", &l) == BE_ERROR);
    BE_CHECK(be_config_parse_listen("127.0.0.1:", &l) == BE_ERROR);
    BE_CHECK(be_config_parse_listen("127.0.0.1:0", &l) == BE_ERROR);
    BE_CHECK(be_config_parse_listen("127.0.0.1:65536", &l) == BE_ERROR);
    BE_CHECK(be_config_parse_listen("127.0.0.1:8x", &l) == BE_ERROR);
    BE_CHECK(be_config_parse_listen(":80", &l) == BE_ERROR);
    BE_CHECK(be_config_parse_listen("::1:80", &l) == BE_ERROR);
    BE_CHECK(be_config_parse_listen("[::1]", &l) == BE_ERROR);
    BE_CHECK(be_config_parse_listen("[::1]80", &l) == BE_ERROR);
    BE_CHECK(be_config_parse_listen("[127.0.0.1]:80", &l) == BE_ERROR);
    BE_CHECK(be_config_parse_listen("[*]:80", &l) == BE_ERROR);
}

/* ---- admin allow/deny -------------------------------------------------------------------- */

static struct sockaddr_storage peer_storage;

static const struct sockaddr *
peer(const char *ip)
{
    memset(&peer_storage, 0, sizeof(peer_storage));
    if (strchr(ip, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&peer_storage;
        s6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &s6->sin6_addr);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&peer_storage;
        s4->sin_family = AF_INET;
        inet_pton(AF_INET, ip, &s4->sin_addr);
    }
    return (const struct sockaddr *)&peer_storage;
}

static void
test_acl_first_match_wins_deny_all_after_allow_localhost(void)
{
    BE_CHECK_STR(load_error(ORIGIN "admin { allow 127.0.0.1; deny all; allow 10.0.0.1; }\n"),
                 "(loaded)");
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("127.0.0.1")), 1);
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("127.0.0.2")), 0);
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("10.0.0.1")), 0); /* deny all came first */
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("::1")), 0);
    /* an IPv4 client on a dual-stack socket is matched as IPv4 */
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("::ffff:127.0.0.1")), 1);
}

static void
test_acl_without_rules_allows_everyone(void)
{
    BE_CHECK_STR(load_error(ORIGIN), "(loaded)");
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("192.0.2.1")), 1);
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("2001:db8::1")), 1);
}

static void
test_acl_without_matching_rule_denies(void)
{
    BE_CHECK_STR(load_error(ORIGIN "admin { allow 192.168.0.0/16; }\n"), "(loaded)");
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("192.168.4.4")), 1);
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("192.169.0.1")), 0);
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("::1")), 0);
}

static void
test_acl_cidr_prefixes_v4_and_v6(void)
{
    BE_CHECK_STR(load_error(ORIGIN "admin {\n"
                                   "    deny 10.1.2.3/32;\n"
                                   "    allow 10.1.2.77/8;\n" /* host bits cleared: 10.0.0.0/8 */
                                   "    allow 172.16.0.0/12;\n"
                                   "    allow 2001:db8:ab00::/40;\n"
                                   "    allow ::1;\n"
                                   "    allow 0.0.0.0/0;\n"
                                   "    deny all;\n"
                                   "}\n"),
                 "(loaded)");
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("10.1.2.3")), 0);
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("10.1.2.4")), 1);
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("10.255.0.1")), 1);
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("172.31.255.255")), 1);
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("203.0.113.9")), 1); /* 0.0.0.0/0 */
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("2001:db8:abff::1")), 1);
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("2001:db8:ac00::1")), 0);
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("::1")), 1);
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("::2")), 0);
}

/* ---- the table and -T -------------------------------------------------------------------- */

static void
test_table_rows_match_their_fields(void)
{
    size_t i, j;

    BE_CHECK(be_directives_count > 0);
    for (i = 0; i < be_directives_count; i++) {
        const be_directive_t *d = &be_directives[i];
        BE_CHECK(d->name != NULL && d->help != NULL && d->args != NULL);
        BE_CHECK(strchr(d->help, '\n') == NULL);
        BE_CHECK(d->ctx != 0);
        if (d->flags & BE_DIR_BLOCK) {
            BE_CHECK(d->block != 0 && d->set == NULL);
            continue;
        }
        if (d->flags & BE_DIR_INCLUDE) {
            continue;
        }
        BE_CHECK(d->set != NULL);
        BE_CHECK(d->nmin >= 1 && d->nmax >= d->nmin);
        BE_CHECK(d->offset + d->size <= sizeof(be_config_t));
        if (d->set == be_conf_set_num) {
            BE_CHECK(d->size == sizeof(int) && d->hi > 0 && d->hi <= 0x7fffffff);
        }
        if (d->set == be_conf_set_size) {
            BE_CHECK(d->size == sizeof(uint64_t));
        }
        if (d->set == be_conf_set_msec) {
            BE_CHECK(d->size == sizeof(be_msec_t));
        }
        if (d->set == be_conf_set_enum) {
            BE_CHECK(d->size == sizeof(int) && d->aux != NULL);
        }
        if (d->flags & BE_DIR_MULTI) {
            BE_CHECK(d->count_offset != 0);
        }
        /* one row per name and context */
        for (j = i + 1; j < be_directives_count; j++) {
            BE_CHECK(strcmp(d->name, be_directives[j].name) != 0 ||
                     (d->ctx & be_directives[j].ctx) == 0);
        }
    }
}

static void
test_dump_lists_every_directive_with_default_and_help(void)
{
    char *text = NULL, *line, *save = NULL;
    size_t len = 0, lines = 0;
    int saw_memory_size = 0;
    FILE *f = open_memstream(&text, &len);

    BE_CHECK(f != NULL);
    be_config_dump_directives(f);
    fclose(f);
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (lines > 0) {
            BE_CHECK(strncmp(line, be_directives[lines - 1].name,
                             strlen(be_directives[lines - 1].name)) == 0);
            BE_CHECK(strstr(line, be_directives[lines - 1].help) != NULL);
        }
        if (strncmp(line, "memory_size ", 12) == 0) {
            saw_memory_size = strstr(line, " cache ") != NULL && strstr(line, " 256m ") != NULL;
        }
        lines++;
    }
    free(text);
    BE_CHECK_INT(lines, be_directives_count + 1);
    BE_CHECK(saw_memory_size);
}

int
main(void)
{
    const char *base = getenv("TMPDIR");

    snprintf(tmpdir, sizeof(tmpdir), "%s/be_test_config_XXXXXX",
             base != NULL && base[0] != '\0' ? base : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }

    BE_RUN(test_defaults_match_documented_values);
    BE_RUN(test_minimal_config_keeps_every_default);
    BE_RUN(test_every_supported_directive_is_parsed);
    BE_RUN(test_origin_server_kinds_http_https_file);
    BE_RUN(test_worker_threads_auto_and_number);
    BE_RUN(test_error_log_stderr_and_default_level);
    BE_RUN(test_quoted_strings_escapes_and_comments);
    BE_RUN(test_include_glob_and_relative_paths);
    BE_RUN(test_include_absolute_path_and_glob_matching_nothing);
    BE_RUN(test_include_nesting_limit_is_16);
    BE_RUN(test_sample_config_loads);

    BE_RUN(test_rejects_unknown_directive);
    BE_RUN(test_rejects_missing_semicolon_as_wrong_argument_count);
    BE_RUN(test_rejects_missing_semicolon_before_closing_brace);
    BE_RUN(test_rejects_extra_closing_brace);
    BE_RUN(test_rejects_unclosed_block_at_end_of_file);
    BE_RUN(test_rejects_end_of_file_inside_directive);
    BE_RUN(test_rejects_directive_in_wrong_context);
    BE_RUN(test_rejects_block_inside_block);
    BE_RUN(test_rejects_bad_size);
    BE_RUN(test_rejects_size_that_overflows_64_bits);
    BE_RUN(test_rejects_bad_time);
    BE_RUN(test_rejects_negative_number);
    BE_RUN(test_rejects_duplicate_directive);
    BE_RUN(test_rejects_duplicate_block);
    BE_RUN(test_rejects_number_out_of_range);
    BE_RUN(test_rejects_size_below_minimum);
    BE_RUN(test_rejects_zero_connect_timeout);
    BE_RUN(test_rejects_missing_include_file);
    BE_RUN(test_rejects_include_that_includes_itself);
    BE_RUN(test_rejects_missing_main_file);
    BE_RUN(test_error_in_included_file_names_that_file_and_line);
    BE_RUN(test_rejects_block_split_across_included_files);
    BE_RUN(test_rejects_unterminated_quote);
    BE_RUN(test_rejects_text_glued_to_quoted_string);
    BE_RUN(test_rejects_config_without_origin_server);
    BE_RUN(test_rejects_max_block_size_above_memory_size);
    BE_RUN(test_rejects_invalid_listen_address);
    BE_RUN(test_rejects_unknown_listen_parameter);
    BE_RUN(test_rejects_duplicate_listen_address);
    BE_RUN(test_rejects_origin_url_without_trailing_slash);
    BE_RUN(test_rejects_origin_url_with_unknown_scheme);
    BE_RUN(test_rejects_file_url_that_is_not_absolute);
    BE_RUN(test_rejects_http_url_without_host);
    BE_RUN(test_rejects_unknown_server_parameter);
    BE_RUN(test_listen_tls_flag_and_certificate_paths);
    BE_RUN(test_access_log_path_and_stats_block);
    BE_RUN(test_accepts_s3_server_with_endpoint_region_credentials);
    BE_RUN(test_accepts_several_servers_and_backups);
    BE_RUN(test_disk_tier_needs_a_size_of_two_segments);
    BE_RUN(test_rejects_block_directive_without_brace);
    BE_RUN(test_rejects_brace_after_simple_directive);
    BE_RUN(test_rejects_too_many_and_too_few_arguments);
    BE_RUN(test_rejects_stray_brace_and_semicolon);
    BE_RUN(test_rejects_bad_acl_rule);
    BE_RUN(test_rejects_unknown_error_log_level);
    BE_RUN(test_rejects_unknown_memory_policy);
    BE_RUN(test_rejects_empty_and_too_long_paths);
    BE_RUN(test_error_line_is_where_directive_starts);

    BE_RUN(test_parse_size_suffixes_and_overflow);
    BE_RUN(test_parse_time_units_and_overflow);
    BE_RUN(test_parse_listen_forms);
    BE_RUN(test_acl_first_match_wins_deny_all_after_allow_localhost);
    BE_RUN(test_acl_without_rules_allows_everyone);
    BE_RUN(test_acl_without_matching_rule_denies);
    BE_RUN(test_acl_cidr_prefixes_v4_and_v6);
    BE_RUN(test_table_rows_match_their_fields);
    BE_RUN(test_dump_lists_every_directive_with_default_and_help);

    cleanup();
    BE_TEST_EXIT();
}
