/*
 * test_config.c - the configuration module. One table of config texts, each with the exact
 * message (file:line included) it must fail with, or none when it must load, run by one
 * loop; then named tests for what a load must store (defaults, every directive's value,
 * quoting, includes), the size, time and listen parsers, the admin allow/deny match, the
 * engine on a table of its own, the directive table and the -T dump.
 *
 * Files are written under a private mkdtemp() directory (in $TMPDIR or /tmp) removed at
 * exit. In a case's text and message "$D" stands for that directory, and in its message "$F"
 * for the case's own file.
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
static const char *last_path; /* the file the last load read */

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
load_text(const char *text)
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

/* Copies s into buf with "$D" replaced by the temporary directory and "$F" by file. */
static const char *
expand(char *buf, size_t len, const char *s, const char *file)
{
    size_t n = 0;

    for (; *s != '\0' && n + 1 < len; s++) {
        const char *with = NULL;
        if (s[0] == '$' && s[1] == 'D') {
            with = tmpdir;
        } else if (s[0] == '$' && s[1] == 'F' && file != NULL) {
            with = file;
        }
        if (with != NULL) {
            n += (size_t)snprintf(buf + n, len - n, "%s", with);
            n = n < len ? n : len - 1;
            s++;
        } else {
            buf[n++] = *s;
        }
    }
    buf[n] = '\0';
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

/* A table row that failed: names its line in this file and goes on, so one run shows all. */
static void
row_failed(int line, const char *what, const char *got, const char *want)
{
    fprintf(stderr, "%s:%d: %s\n    got:      \"%s\"\n    expected: \"%s\"\n", __FILE__, line, what,
            got, want);
    be_test_failed = 1;
}

/* ---- the cases: a config and the exact message it fails with, or NULL when it loads ------ */

typedef struct conf_case_s {
    const char *text;   /* the file's content; NULL: not written (a fixture or a missing file) */
    const char *expect; /* the whole error message; NULL: the file loads */
    const char *name;   /* file name under $D, or an absolute path; NULL: a fresh unique name */
    int line;           /* of the row, for failures */
} conf_case_t;

/* clang-format off */
#define BAD(text, expect)            {text, expect, NULL, __LINE__}
#define GOOD(text)                   {text, NULL, NULL, __LINE__}
#define BAD_FILE(name, text, expect) {text, expect, name, __LINE__}
#define GOOD_FILE(name, text)        {text, NULL, name, __LINE__}
/* clang-format on */

#define A10   "aaaaaaaaaa"
#define A100  A10 A10 A10 A10 A10 A10 A10 A10 A10 A10
#define A1100 A100 A100 A100 A100 A100 A100 A100 A100 A100 A100 A100

static const conf_case_t cases[] = {
    /* tokens, blocks and quotes; errors name the line where the directive starts */
    BAD(ORIGIN "\n\nmemroy_size 1m;\n", "unknown directive \"memroy_size\" in $F:4"),
    BAD("cache {\n    memory_size 64m\n    max_block_size 1m;\n}\n",
        "invalid number of arguments in \"memory_size\" directive in $F:2"),
    BAD("cache { memory_size 64m }\n", "unexpected \"}\" in $F:1"),
    BAD(ORIGIN "cache {\n}\n}\n", "unexpected \"}\" in $F:4"),
    BAD("origin {\n    server file:///d/;\n", "unexpected end of file, expecting \"}\" in $F:2"),
    BAD(ORIGIN "worker_threads 4", "unexpected end of file, expecting \";\" or \"}\" in $F:2"),
    BAD(ORIGIN "{\n}\n", "unexpected \"{\" in $F:2"),
    BAD(ORIGIN "worker_threads 2;;\n", "unexpected \";\" in $F:2"),
    BAD(ORIGIN "pid \"/run/x.pid;\nworker_threads 2;\n", "unterminated quoted string in $F:2"),
    BAD("pid \"/run/a\"b;\n", "unexpected \"b\" after a quoted string in $F:1"),
    BAD(ORIGIN "worker_threads\n\n    999\n;\n",
        "\"worker_threads\" directive value \"999\" is out of range (1..256) in $F:2"),

    /* where a directive may appear, how often, and with how many arguments */
    BAD(ORIGIN "memory_size 64m;\n", "\"memory_size\" directive is not allowed here in $F:2"),
    BAD("origin {\n    worker_threads 2;\n}\n",
        "\"worker_threads\" directive is not allowed here in $F:2"),
    BAD("cache {\n    allow all;\n}\n", "\"allow\" directive is not allowed here in $F:2"),
    BAD("http {\n    cache { }\n}\n", "\"cache\" directive is not allowed here in $F:2"),
    BAD("cache {\n    memory_size 64m;\n    memory_size 128m;\n}\n",
        "\"memory_size\" directive is duplicate in $F:3"),
    BAD("http { }\nhttp { }\n", "\"http\" directive is duplicate in $F:2"),
    BAD("http;\n", "directive \"http\" has no opening \"{\" in $F:1"),
    BAD("worker_threads 2 {\n}\n",
        "directive \"worker_threads\" is not terminated by \";\" in $F:1"),
    BAD("origin { retries 1 2; }\n",
        "invalid number of arguments in \"retries\" directive in $F:1"),
    BAD("http { listen; }\n", "invalid number of arguments in \"listen\" directive in $F:1"),
    BAD("admin { listen 127.0.0.1:9 tls; }\n",
        "invalid number of arguments in \"listen\" directive in $F:1"),
    BAD("http x { }\n", "invalid number of arguments in \"http\" directive in $F:1"),
    BAD("worker_threads 1 2 3 4 5 6 7 8 9 10;\n",
        "invalid number of arguments in \"worker_threads\" directive in $F:1"),

    /* numbers, sizes and times: syntax and each row's bounds, in the row's unit */
    GOOD("worker_threads 256;\nhttp { max_connections 1000000; }\n"
         "origin { server http://o/; retries 10; }\n"),
    BAD("worker_threads 0;\n",
        "\"worker_threads\" directive value \"0\" is out of range (1..256) in $F:1"),
    BAD("http { max_connections 1000001; }\n",
        "\"max_connections\" directive value \"1000001\" is out of range (1..1000000) in $F:1"),
    BAD("origin { retries 11; }\n",
        "\"retries\" directive value \"11\" is out of range (0..10) in $F:1"),
    BAD("origin { retries -1; }\n", "\"retries\" directive invalid value \"-1\" in $F:1"),
    BAD("http { h2_max_concurrent_streams 99999999999999999999; }\n",
        "\"h2_max_concurrent_streams\" directive invalid value \"99999999999999999999\" in $F:1"),
    BAD("cache {\n    memory_size 12q;\n}\n",
        "\"memory_size\" directive invalid value \"12q\" in $F:2"),
    BAD("cache { max_block_size 1.5m; }\n",
        "\"max_block_size\" directive invalid value \"1.5m\" in $F:1"),
    BAD("cache { memory_size 17179869184g; }\n",
        "\"memory_size\" directive invalid value \"17179869184g\" in $F:1"),
    BAD("cache { memory_size 512k; }\n",
        "\"memory_size\" directive value \"512k\" is out of range (at least 1m) in $F:1"),
    BAD("cache { max_block_size 0; }\n",
        "\"max_block_size\" directive value \"0\" is out of range (at least 1) in $F:1"),
    GOOD("cache { disk_segment_size 4095m; }\n" ORIGIN),
    BAD("cache { disk_segment_size 4g; }\n",
        "\"disk_segment_size\" directive value \"4g\" is out of range (1m..4095m) in $F:1"),
    BAD("http { keepalive_timeout 5x; }\n",
        "\"keepalive_timeout\" directive invalid value \"5x\" in $F:1"),
    BAD("origin { read_timeout 1h30m; }\n",
        "\"read_timeout\" directive invalid value \"1h30m\" in $F:1"),
    BAD("origin { connect_timeout 0; }\n",
        "\"connect_timeout\" directive value \"0\" is out of range (at least 1ms) in $F:1"),
    BAD("shutdown_timeout 10;\nshutdown_timeout 20;\n",
        "\"shutdown_timeout\" directive is duplicate in $F:2"),
    BAD("http { shutdown_timeout 10s; }\n",
        "\"shutdown_timeout\" directive is not allowed here in $F:1"),
    GOOD("stats { mrc_sample_rate 1; }\n" ORIGIN),
    BAD("stats { mrc_sample_rate 0; }\n",
        "\"mrc_sample_rate\" directive value \"0\" is out of range (0..1] in $F:1"),
    BAD("stats { mrc_sample_rate 0.1x; }\n",
        "\"mrc_sample_rate\" directive invalid value \"0.1x\" in $F:1"),

    /* strings and keywords */
    BAD("pid \"\";\n", "\"pid\" directive invalid value \"\" in $F:1"),
    BAD("pid /" A1100 ";\n", "\"pid\" directive value is too long (max 1023 bytes) in $F:1"),
    BAD("error_log stderr loud;\n", "\"error_log\" directive invalid value \"loud\" in $F:1"),
    BAD("cache { memory_policy lfu; }\n",
        "\"memory_policy\" directive invalid value \"lfu\" in $F:1"),

    /* listen */
    BAD("http { listen localhost:80; }\n", "invalid listen address \"localhost:80\" in $F:1"),
    BAD("http { listen 127.0.0.1:65536; }\n", "invalid listen address \"127.0.0.1:65536\" in $F:1"),
    BAD("admin { listen ::1:80; }\n", "invalid listen address \"::1:80\" in $F:1"),
    BAD("http { listen 80 ssl; }\n", "invalid parameter \"ssl\" in $F:1"),
    BAD("http {\n    listen 127.0.0.1:9000;\n}\nadmin {\n    listen 127.0.0.1:9000;\n}\n",
        "duplicate listen address \"127.0.0.1:9000\" in $F:5"),
    BAD("http {\n    listen *:9000;\n    listen 0.0.0.0:9000;\n}\n",
        "duplicate listen address \"0.0.0.0:9000\" in $F:3"),
    /* the default http listen is added after parsing, so its clash names no line */
    BAD(ORIGIN "admin { listen 127.0.0.1:8480; }\n",
        "duplicate listen address \"127.0.0.1:8480\" (default of \"listen\") in $F"),

    /* origin servers and the S3 endpoint */
    BAD("origin {\n    server http://origin.example/blocks;\n}\n",
        "invalid URL \"http://origin.example/blocks\" in \"server\" directive (must end with "
        "\"/\") in $F:2"),
    BAD("origin { server file:///srv/blocks; }\n",
        "invalid URL \"file:///srv/blocks\" in \"server\" directive (must end with \"/\") in $F:1"),
    BAD("origin { server ftp://o.example/; }\n",
        "invalid URL \"ftp://o.example/\" in \"server\" directive (unknown scheme; expected "
        "http://, https://, file:/// or s3://) in $F:1"),
    BAD("origin { server file://srv/blocks/; }\n",
        "invalid URL \"file://srv/blocks/\" in \"server\" directive (expected "
        "file:///absolute/dir/) in $F:1"),
    BAD("origin { server http:///blocks/; }\n",
        "invalid URL \"http:///blocks/\" in \"server\" directive (no host) in $F:1"),
    BAD("origin { server 'http://o.example/a b/'; }\n",
        "invalid URL \"http://o.example/a b/\" in \"server\" directive (contains a space or "
        "control character) in $F:1"),
    BAD("origin { server s3:///prefix/; }\n",
        "invalid URL \"s3:///prefix/\" in \"server\" directive (no bucket) in $F:1"),
    BAD("origin { server http://o.example/ weight=2; }\n",
        "invalid parameter \"weight=2\" in $F:1"),
    BAD("origin { server s3://b/; s3_endpoint s3.example.com; }\n",
        "invalid URL \"s3.example.com\" in \"s3_endpoint\" directive (expected http://host[:port] "
        "or https://host[:port]) in $F:1"),

    /* admin allow and deny */
    BAD("admin { allow 10.0.0.0/33; }\n", "invalid parameter \"10.0.0.0/33\" in $F:1"),
    BAD("admin { deny 300.1.1.1; }\n", "invalid parameter \"300.1.1.1\" in $F:1"),
    BAD("admin { deny ::1/; }\n", "invalid parameter \"::1/\" in $F:1"),

    /* include (fixtures in put_fixtures()); an error in an included file names that file */
    GOOD("include $D/abs.inc;\ninclude /nonexistent-dir/*.conf;\n"),
    BAD("\ninclude nope.conf;\n",
        "open() \"$D/nope.conf\" failed (2: No such file or directory) in $F:2"),
    BAD_FILE("self.conf", "# loops\ninclude self.conf;\n",
             "include of \"$F\" nested too deeply (limit 16) in $F:2"),
    GOOD_FILE("chain_0.conf", NULL), /* 16 levels of include are fine */
    BAD_FILE("chain_top.conf", "include chain_0.conf;\n",
             "include of \"$D/chain_16.conf\" nested too deeply (limit 16) in $D/chain_15.conf:1"),
    BAD("origin {\n    include inc2/bad.conf;\n}\n",
        "unknown directive \"bogus\" in $D/inc2/bad.conf:3"),
    BAD("origin {\n    server file:///d/;\n    include closer.inc;\n",
        "unexpected \"}\" in $D/closer.inc:1"),
    BAD_FILE("/nonexistent/blockedge.conf", NULL,
             "open() \"/nonexistent/blockedge.conf\" failed (2: No such file or directory)"),

    /* checks that need the whole file */
    BAD("worker_threads 2;\n", "no origin \"server\" defined in $F"),
    BAD("origin {\n}\n", "no origin \"server\" defined in $F"),
    BAD(ORIGIN "cache {\n    memory_size 16m;\n    max_block_size 32m;\n}\n",
        "\"max_block_size\" 32m is larger than \"memory_size\" 16m in $F:4"),
    /* the default max_block_size (16m) against a smaller memory_size: blame memory_size */
    BAD(ORIGIN "cache { memory_size 8m; }\n",
        "\"max_block_size\" 16m is larger than \"memory_size\" 8m in $F:2"),
    BAD("cache {\n    disk_path /var/cache/blockedge;\n}\norigin { server http://o.example/; }\n",
        "\"disk_path\" requires \"disk_size\" in $F:2"),
    BAD("cache {\n    disk_path /d;\n    disk_size 300m;\n}\norigin { server http://o.example/; "
        "}\n",
        "\"disk_size\" 300m is less than two \"disk_segment_size\" 256m in $F:2"),

    /* the admin token file is read when the config is loaded, so -t fails on it */
    BAD(ORIGIN "admin {\n    admin_token_file $D/no-such-token;\n}\n",
        "cannot read \"admin_token_file\": open() \"$D/no-such-token\" failed (2: No such file "
        "or directory) in $F:3"),
    BAD(ORIGIN "admin {\n    admin_token_file $D/empty.token;\n}\n",
        "cannot read \"admin_token_file\": \"$D/empty.token\" is empty in $F:3"),
    BAD(ORIGIN "admin {\n    admin_token_file $D;\n}\n",
        "cannot read \"admin_token_file\": \"$D\" is not a regular file in $F:3"),
    BAD(ORIGIN "admin { prefetch_concurrency 0; }\n",
        "\"prefetch_concurrency\" directive value \"0\" is out of range (1..1024) in $F:2"),
    GOOD(ORIGIN "admin {\n    admin_token_file $D/ok.token;\n    prefetch_concurrency 1024;\n}\n"),
};

/* Files the include cases read. */
static void
put_fixtures(void)
{
    char name[64], text[128];
    int i;

    conf_put("abs.inc", ORIGIN);
    conf_mkdir("inc2");
    conf_put("inc2/bad.conf", "# included\nserver file:///d/;\nbogus 1;\n");
    conf_put("closer.inc", "}\n");
    conf_put("empty.token", "\n");
    conf_put("ok.token", "tok-1\n");
    /* chain_0 includes chain_1 ... which includes chain_16: 16 levels */
    for (i = 0; i <= 16; i++) {
        snprintf(name, sizeof(name), "chain_%d.conf", i);
        if (i == 16) {
            snprintf(text, sizeof(text), ORIGIN);
        } else {
            snprintf(text, sizeof(text), "include chain_%d.conf;\n", i + 1);
        }
        conf_put(name, text);
    }
}

static void
test_each_case_loads_or_fails_with_its_exact_message(void)
{
    char text[4096], path[768], want[2048];
    size_t i;

    for (i = 0; i < BE_ARRAY_LEN(cases); i++) {
        const conf_case_t *c = &cases[i];
        const char *file, *got;

        if (c->name == NULL) {
            file = conf_write(expand(text, sizeof(text), c->text, NULL));
        } else if (c->text != NULL) {
            file = conf_put(c->name, expand(text, sizeof(text), c->text, NULL));
        } else if (c->name[0] == '/') {
            file = c->name;
        } else {
            snprintf(path, sizeof(path), "%s/%s", tmpdir, c->name);
            file = path;
        }
        got = load_path(file);
        be_test_checks++;
        if (c->expect == NULL) {
            if (strcmp(got, "(loaded)") != 0) {
                row_failed(c->line, "case should load", got, "(loaded)");
            }
        } else if (strcmp(got, expand(want, sizeof(want), c->expect, file)) != 0) {
            row_failed(c->line, "case message", got, want);
        }
    }
}

/* ---- what a load stores ------------------------------------------------------------------- */

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
    BE_CHECK_INT(cfg.shutdown_timeout, 10000);
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
    BE_CHECK_INT(cfg.memory_policy, BE_POLICY_S3FIFO);
    BE_CHECK_STR(cfg.disk_path, "");
    BE_CHECK_INT(cfg.disk_size, 0);
    BE_CHECK_INT(cfg.disk_segment_size, 256ll << 20);
    BE_CHECK_INT(cfg.nservers, 0);
    BE_CHECK_STR(cfg.s3_endpoint, "");
    BE_CHECK_STR(cfg.s3_region, "us-east-1");
    BE_CHECK_INT(cfg.connect_timeout, 5000);
    BE_CHECK_INT(cfg.read_timeout, 30000);
    BE_CHECK_INT(cfg.retries, 1);
    BE_CHECK_INT(cfg.fetch_timeout, 60000);
    BE_CHECK_INT(cfg.max_fails, 3);
    BE_CHECK_INT(cfg.fail_timeout, 10000);
    BE_CHECK_INT(cfg.error_summary_interval, 10000);
    BE_CHECK_INT(cfg.nadmin_listen, 0);
    BE_CHECK_INT(cfg.nacl, 0);
    BE_CHECK_STR(cfg.admin_token_file, "");
    BE_CHECK_STR(cfg.admin_token, "");
    BE_CHECK_INT(cfg.prefetch_concurrency, 16);
    BE_CHECK_INT(cfg.popularity, 1);
    BE_CHECK_INT(cfg.popularity_top_k, 4096);
    BE_CHECK_INT(cfg.popularity_half_life, 300000);
    BE_CHECK(cfg.mrc_sample_rate == 0.1);
    BE_CHECK_INT(cfg.mrc_max_keys, 32768);
}

static void
test_minimal_config_keeps_every_default(void)
{
    BE_CHECK_STR(load_text("# only what is required\n" ORIGIN), "(loaded)");
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
    BE_CHECK_STR(cfg.s3_endpoint, "");
    BE_CHECK_STR(cfg.s3_region, "us-east-1");
    BE_CHECK_INT(cfg.max_fails, 3);
    BE_CHECK_INT(cfg.fail_timeout, 10000);
    BE_CHECK_INT(cfg.fetch_timeout, 60000);
    BE_CHECK_INT(cfg.error_summary_interval, 10000);
}

static void
test_main_and_http_directives_store_their_values(void)
{
    char ip[64];

    BE_CHECK_STR(load_text("worker_threads 8;\n"
                           "pid /run/blockedge.pid;\n"
                           "error_log /var/log/blockedge/error.log debug;\n"
                           "shutdown_timeout 2500ms;\n"
                           "http {\n"
                           "    listen 127.0.0.1:9000;\n"
                           "    listen [::1]:9001 tls;\n"
                           "    listen *:9002;\n"
                           "    listen 9003;\n"
                           "    tls_certificate /etc/blockedge/cert.pem;\n"
                           "    tls_certificate_key /etc/blockedge/key.pem;\n"
                           "    access_log /var/log/blockedge/access.log;\n"
                           "    keepalive_timeout 500ms;\n"
                           "    client_header_timeout 2m;\n"
                           "    send_timeout 1h;\n"
                           "    max_connections 1000000;\n"
                           "    h2_max_concurrent_streams 1;\n"
                           "}\n" ORIGIN),
                 "(loaded)");
    BE_CHECK_INT(cfg.worker_threads, 8);
    BE_CHECK_STR(cfg.pid_path, "/run/blockedge.pid");
    BE_CHECK_STR(cfg.error_log_path, "/var/log/blockedge/error.log");
    BE_CHECK_INT(cfg.error_log_level, BE_LOG_DEBUG);
    BE_CHECK_INT(cfg.shutdown_timeout, 2500);
    BE_CHECK_INT(cfg.nlisten, 4);
    BE_CHECK_STR(cfg.listen[0].text, "127.0.0.1:9000");
    BE_CHECK_STR(listen_ip(&cfg.listen[0], ip, sizeof(ip)), "127.0.0.1");
    BE_CHECK_INT(listen_port(&cfg.listen[0]), 9000);
    BE_CHECK_INT(cfg.listen[0].tls, 0);
    BE_CHECK_STR(cfg.listen[1].text, "[::1]:9001");
    BE_CHECK_INT(cfg.listen[1].addr.ss_family, AF_INET6);
    BE_CHECK_INT(cfg.listen[1].addrlen, sizeof(struct sockaddr_in6));
    BE_CHECK_STR(listen_ip(&cfg.listen[1], ip, sizeof(ip)), "::1");
    BE_CHECK_INT(listen_port(&cfg.listen[1]), 9001);
    BE_CHECK_INT(cfg.listen[1].tls, 1);
    BE_CHECK_STR(listen_ip(&cfg.listen[2], ip, sizeof(ip)), "0.0.0.0");
    BE_CHECK_INT(listen_port(&cfg.listen[2]), 9002);
    BE_CHECK_STR(listen_ip(&cfg.listen[3], ip, sizeof(ip)), "0.0.0.0");
    BE_CHECK_INT(listen_port(&cfg.listen[3]), 9003);
    BE_CHECK_STR(cfg.tls_certificate, "/etc/blockedge/cert.pem");
    BE_CHECK_STR(cfg.tls_certificate_key, "/etc/blockedge/key.pem");
    BE_CHECK_STR(cfg.access_log, "/var/log/blockedge/access.log");
    BE_CHECK_INT(cfg.keepalive_timeout, 500);
    BE_CHECK_INT(cfg.client_header_timeout, 120000);
    BE_CHECK_INT(cfg.send_timeout, 3600000);
    BE_CHECK_INT(cfg.max_connections, 1000000);
    BE_CHECK_INT(cfg.h2_max_concurrent_streams, 1);

    BE_CHECK_STR(load_text("worker_threads auto;\nerror_log stderr warn;\n"
                           "http { access_log off; }\n" ORIGIN),
                 "(loaded)");
    BE_CHECK_INT(cfg.worker_threads, 0);
    BE_CHECK_STR(cfg.error_log_path, "");
    BE_CHECK_INT(cfg.error_log_level, BE_LOG_WARN);
    BE_CHECK_STR(cfg.access_log, "");
    BE_CHECK_STR(
        load_text("worker_threads 256;\nerror_log /tmp/e.log;\nshutdown_timeout 0;\n" ORIGIN),
        "(loaded)");
    BE_CHECK_INT(cfg.worker_threads, 256);
    BE_CHECK_INT(cfg.shutdown_timeout, 0);
    BE_CHECK_STR(cfg.error_log_path, "/tmp/e.log");
    BE_CHECK_INT(cfg.error_log_level, BE_LOG_NOTICE);
}

static void
test_cache_admin_and_stats_directives_store_their_values(void)
{
    char ip[64];

    BE_CHECK_STR(load_text("cache {\n"
                           "    memory_size 2g;\n"
                           "    max_block_size 512K;\n"
                           "    memory_policy lru;\n"
                           "    disk_path /d;\n"
                           "    disk_size 10g;\n"
                           "    disk_segment_size 64m;\n"
                           "}\n"
                           "admin {\n"
                           "    listen [::]:9100;\n"
                           "    listen 127.0.0.1:9101;\n"
                           "    allow 10.0.0.0/8;\n"
                           "    deny 2001:db8::/32;\n"
                           "    allow all;\n"
                           "}\n"
                           "stats {\n"
                           "    popularity off;\n"
                           "    popularity_top_k 64;\n"
                           "    popularity_half_life 0;\n"
                           "    mrc_sample_rate 0.25;\n"
                           "    mrc_max_keys 2048;\n"
                           "}\n" ORIGIN),
                 "(loaded)");
    BE_CHECK_INT(cfg.memory_size, 2ll << 30);
    BE_CHECK_INT(cfg.max_block_size, 512 * 1024);
    BE_CHECK_INT(cfg.memory_policy, BE_POLICY_LRU);
    BE_CHECK_STR(cfg.disk_path, "/d");
    BE_CHECK_INT(cfg.disk_size, 10ll << 30);
    BE_CHECK_INT(cfg.disk_segment_size, 64ll << 20);

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

    BE_CHECK_INT(cfg.popularity, 0);
    BE_CHECK_INT(cfg.popularity_top_k, 64);
    BE_CHECK_INT(cfg.popularity_half_life, 0);
    BE_CHECK(cfg.mrc_sample_rate == 0.25);
    BE_CHECK_INT(cfg.mrc_max_keys, 2048);
}

static void
test_admin_token_file_and_prefetch_concurrency_store_their_values(void)
{
    BE_CHECK_STR(load_text(msg("admin {\n"
                               "    admin_token_file %s/ok.token;\n"
                               "    prefetch_concurrency 3;\n"
                               "}\n" ORIGIN,
                               tmpdir)),
                 "(loaded)");
    BE_CHECK_STR(cfg.admin_token, "tok-1"); /* the newline is not part of it */
    BE_CHECK(strstr(cfg.admin_token_file, "/ok.token") != NULL);
    BE_CHECK_INT(cfg.prefetch_concurrency, 3);
}

static void
test_origin_directives_store_their_values(void)
{
    BE_CHECK_STR(load_text("origin {\n"
                           "    server https://origin.example:8443/blocks/;\n"
                           "    server http://127.0.0.1:8080/;\n"
                           "    server s3://bucket/prefix/;\n"
                           "    server file:///srv/c/ backup;\n"
                           "    s3_endpoint http://127.0.0.1:39080/;\n"
                           "    s3_region eu-west-1;\n"
                           "    s3_credentials_file /etc/blockedge/s3.key;\n"
                           "    connect_timeout 1d;\n"
                           "    read_timeout 45;\n"
                           "    retries 0;\n"
                           "    fetch_timeout 2s;\n"
                           "    max_fails 5;\n"
                           "    fail_timeout 30s;\n"
                           "    error_summary_interval 1m;\n"
                           "}\n"),
                 "(loaded)");
    BE_CHECK_INT(cfg.nservers, 4);
    BE_CHECK_INT(cfg.servers[0].kind, BE_ORIGIN_HTTP);
    BE_CHECK_STR(cfg.servers[0].url, "https://origin.example:8443/blocks/");
    BE_CHECK_STR(cfg.servers[0].path, "");
    BE_CHECK_INT(cfg.servers[0].backup, 0);
    BE_CHECK_INT(cfg.servers[1].kind, BE_ORIGIN_HTTP);
    BE_CHECK_STR(cfg.servers[1].url, "http://127.0.0.1:8080/");
    BE_CHECK_INT(cfg.servers[1].backup, 0);
    BE_CHECK_INT(cfg.servers[2].kind, BE_ORIGIN_S3);
    BE_CHECK_STR(cfg.servers[2].path, "bucket/prefix/");
    BE_CHECK_INT(cfg.servers[3].kind, BE_ORIGIN_FILE);
    BE_CHECK_STR(cfg.servers[3].path, "/srv/c/");
    BE_CHECK_INT(cfg.servers[3].backup, 1);
    BE_CHECK_STR(cfg.s3_endpoint, "http://127.0.0.1:39080"); /* the trailing "/" dropped */
    BE_CHECK_STR(cfg.s3_region, "eu-west-1");
    BE_CHECK_STR(cfg.s3_credentials_file, "/etc/blockedge/s3.key");
    BE_CHECK_INT(cfg.connect_timeout, 86400000);
    BE_CHECK_INT(cfg.read_timeout, 45000);
    BE_CHECK_INT(cfg.retries, 0);
    BE_CHECK_INT(cfg.fetch_timeout, 2000);
    BE_CHECK_INT(cfg.max_fails, 5);
    BE_CHECK_INT(cfg.fail_timeout, 30000);
    BE_CHECK_INT(cfg.error_summary_interval, 60000);

    /* file:/// alone is the root directory; https with a path keeps it */
    BE_CHECK_STR(load_text("origin { server file:///; server https://o.example/a/b/; }\n"),
                 "(loaded)");
    BE_CHECK_INT(cfg.servers[0].kind, BE_ORIGIN_FILE);
    BE_CHECK_STR(cfg.servers[0].path, "/");
    BE_CHECK_INT(cfg.servers[1].kind, BE_ORIGIN_HTTP);
    BE_CHECK_STR(cfg.servers[1].url, "https://o.example/a/b/");
}

static void
test_quoted_strings_escapes_and_comments(void)
{
    BE_CHECK_STR(load_text("# a comment; with { braces }\n"
                           "pid \"/tmp/with space/#not-a-comment;x.pid\"; # trailing\n"
                           "error_log '/tmp/it\\'s \\\"q\\\".log' info;\n"
                           "origin{server 'file:///srv/blocks/';}#glued\n"),
                 "(loaded)");
    BE_CHECK_STR(cfg.pid_path, "/tmp/with space/#not-a-comment;x.pid");
    BE_CHECK_STR(cfg.error_log_path, "/tmp/it's \"q\".log");
    BE_CHECK_INT(cfg.error_log_level, BE_LOG_INFO);
    BE_CHECK_INT(cfg.nservers, 1);

    /* \t \n \\ are escapes; an unknown escape keeps its backslash and never ends a word */
    BE_CHECK_STR(load_text("pid a\\tb\\\\c\\;d\\x;\n" ORIGIN), "(loaded)");
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

/* ---- value parsers ----------------------------------------------------------------------- */

static void
test_parse_size_suffixes_and_overflow(void)
{
    static const struct {
        const char *text;
        int rc;
        uint64_t v;
    } rows[] = {
        {"0", BE_OK, 0},
        {"512", BE_OK, 512},
        {"64k", BE_OK, 64 * 1024},
        {"64K", BE_OK, 64 * 1024},
        {"16m", BE_OK, 16ull << 20},
        {"16M", BE_OK, 16ull << 20},
        {"2g", BE_OK, 2ull << 30},
        {"2G", BE_OK, 2ull << 30},
        {"18446744073709551615", BE_OK, UINT64_MAX},
        {"17179869183g", BE_OK, 17179869183ull << 30},
        {"18446744073709551616", BE_ERROR, 0},
        {"17179869184g", BE_ERROR, 0},
        {"99999999999999999999999k", BE_ERROR, 0},
        {"", BE_ERROR, 0},
        {"k", BE_ERROR, 0},
        {"1kb", BE_ERROR, 0},
        {"1t", BE_ERROR, 0},
        {"-1", BE_ERROR, 0},
        {"+1", BE_ERROR, 0},
        {" 1", BE_ERROR, 0},
        {"1 ", BE_ERROR, 0},
        {"1.5m", BE_ERROR, 0},
        {"0x10", BE_ERROR, 0},
    };
    char got[64], want[64];
    size_t i;

    for (i = 0; i < BE_ARRAY_LEN(rows); i++) {
        uint64_t v = 0;
        int rc = be_config_parse_size(rows[i].text, &v);

        be_test_checks++;
        snprintf(got, sizeof(got), "%d %llu", rc, rc == BE_OK ? (unsigned long long)v : 0ull);
        snprintf(want, sizeof(want), "%d %llu", rows[i].rc, (unsigned long long)rows[i].v);
        if (strcmp(got, want) != 0) {
            row_failed(__LINE__, msg("be_config_parse_size(\"%s\")", rows[i].text), got, want);
        }
    }
}

static void
test_parse_time_units_and_overflow(void)
{
    static const struct {
        const char *text;
        int rc;
        be_msec_t v;
    } rows[] = {
        {"0", BE_OK, 0},
        {"10", BE_OK, 10000},
        {"500ms", BE_OK, 500},
        {"30s", BE_OK, 30000},
        {"5m", BE_OK, 300000},
        {"1h", BE_OK, 3600000},
        {"2d", BE_OK, 172800000},
        {"9223372036854775807ms", BE_OK, INT64_MAX},
        {"9223372036854775s", BE_OK, 9223372036854775000ll},
        {"9223372036854775808ms", BE_ERROR, 0},
        {"9223372036854776s", BE_ERROR, 0},
        {"106751991167301d", BE_ERROR, 0},
        {"99999999999999999999", BE_ERROR, 0},
        {"", BE_ERROR, 0},
        {"s", BE_ERROR, 0},
        {"1w", BE_ERROR, 0},
        {"5S", BE_ERROR, 0}, /* units are lower case, as in nginx */
        {"1M", BE_ERROR, 0},
        {"1msx", BE_ERROR, 0},
        {"1h30m", BE_ERROR, 0},
        {"-5s", BE_ERROR, 0},
    };
    char got[64], want[64];
    size_t i;

    for (i = 0; i < BE_ARRAY_LEN(rows); i++) {
        be_msec_t v = 0;
        int rc = be_config_parse_time(rows[i].text, &v);

        be_test_checks++;
        snprintf(got, sizeof(got), "%d %lld", rc, rc == BE_OK ? (long long)v : 0ll);
        snprintf(want, sizeof(want), "%d %lld", rows[i].rc, (long long)rows[i].v);
        if (strcmp(got, want) != 0) {
            row_failed(__LINE__, msg("be_config_parse_time(\"%s\")", rows[i].text), got, want);
        }
    }
}

static void
test_parse_listen_forms(void)
{
    static const struct {
        const char *text;
        const char *ip; /* NULL: BE_ERROR */
        int port;
    } rows[] = {
        {"127.0.0.1:8480", "127.0.0.1", 8480},
        {"[::1]:8481", "::1", 8481},
        {"[::]:1", "::", 1},
        {"*:65535", "0.0.0.0", 65535},
        {"8080", "0.0.0.0", 8080},
        {"", NULL, 0},
        {"localhost:80", NULL, 0},
        {"127.0.0.1", NULL, 0},
        {"127.0.0.1:", NULL, 0},
        {"127.0.0.1:0", NULL, 0},
        {"127.0.0.1:65536", NULL, 0},
        {"127.0.0.1:8x", NULL, 0},
        {":80", NULL, 0},
        {"::1:80", NULL, 0},
        {"[::1]", NULL, 0},
        {"[::1]80", NULL, 0},
        {"[127.0.0.1]:80", NULL, 0},
        {"[*]:80", NULL, 0},
    };
    char got[256], want[256], ip[64];
    size_t i;

    for (i = 0; i < BE_ARRAY_LEN(rows); i++) {
        be_listen_t l;
        int v6 = rows[i].ip != NULL && strchr(rows[i].ip, ':') != NULL;

        be_test_checks++;
        if (be_config_parse_listen(rows[i].text, &l) != BE_OK) {
            snprintf(got, sizeof(got), "error");
        } else {
            snprintf(got, sizeof(got), "%s %s %d %u %s", l.addr.ss_family == AF_INET6 ? "v6" : "v4",
                     listen_ip(&l, ip, sizeof(ip)), listen_port(&l), (unsigned)l.addrlen, l.text);
        }
        if (rows[i].ip == NULL) {
            snprintf(want, sizeof(want), "error");
        } else {
            snprintf(want, sizeof(want), "%s %s %d %u %s", v6 ? "v6" : "v4", rows[i].ip,
                     rows[i].port,
                     (unsigned)(v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)),
                     rows[i].text);
        }
        if (strcmp(got, want) != 0) {
            row_failed(__LINE__, msg("be_config_parse_listen(\"%s\")", rows[i].text), got, want);
        }
    }
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
    BE_CHECK_STR(load_text(ORIGIN "admin { allow 127.0.0.1; deny all; allow 10.0.0.1; }\n"),
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
    BE_CHECK_STR(load_text(ORIGIN), "(loaded)");
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("192.0.2.1")), 1);
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("2001:db8::1")), 1);
}

static void
test_acl_without_matching_rule_denies(void)
{
    BE_CHECK_STR(load_text(ORIGIN "admin { allow 192.168.0.0/16; }\n"), "(loaded)");
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("192.168.4.4")), 1);
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("192.169.0.1")), 0);
    BE_CHECK_INT(be_config_acl_allows(&cfg, peer("::1")), 0);
}

static void
test_acl_cidr_prefixes_v4_and_v6(void)
{
    BE_CHECK_STR(load_text(ORIGIN "admin {\n"
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

/* ---- the engine --------------------------------------------------------------------------- */

static void
test_engine_runs_the_table_it_is_given(void)
{
    static const be_directive_t table[] = {
        {.name = "box", .ctx = 0x1, .flags = BE_DIR_BLOCK, .block = 0x2, .args = "{ ... }"},
        {.name = "size",
         .ctx = 0x2,
         .nmin = 1,
         .nmax = 1,
         .set = be_conf_set_size,
         BE_CONF_FIELD(memory_size),
         .args = "SIZE"},
    };
    const char *path = conf_write("box {\n    size 3k;\n}\n");
    char e[512];
    be_conf_t cf;

    memset(&cfg, 0, sizeof(cfg));
    be_conf_init(&cf, table, BE_ARRAY_LEN(table), &cfg, e, sizeof(e));
    BE_CHECK_INT(be_conf_parse(&cf, path, 0x1), BE_OK);
    BE_CHECK_INT(cfg.memory_size, 3 * 1024);
    BE_CHECK_INT(cf.seen[1], 1);
    BE_CHECK_STR(cf.seen_file[1], path);
    BE_CHECK_INT(cf.seen_line[1], 2);
    be_conf_dispose(&cf);

    /* blockedge's own directives mean nothing to it */
    path = conf_write("box { memory_size 3k; }\n");
    be_conf_init(&cf, table, BE_ARRAY_LEN(table), &cfg, e, sizeof(e));
    BE_CHECK_INT(be_conf_parse(&cf, path, 0x1), BE_ERROR);
    BE_CHECK_STR(e, msg("unknown directive \"memory_size\" in %s:1", path));
    be_conf_dispose(&cf);
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
    put_fixtures();

    BE_RUN(test_each_case_loads_or_fails_with_its_exact_message);

    BE_RUN(test_defaults_match_documented_values);
    BE_RUN(test_minimal_config_keeps_every_default);
    BE_RUN(test_main_and_http_directives_store_their_values);
    BE_RUN(test_cache_admin_and_stats_directives_store_their_values);
    BE_RUN(test_admin_token_file_and_prefetch_concurrency_store_their_values);
    BE_RUN(test_origin_directives_store_their_values);
    BE_RUN(test_quoted_strings_escapes_and_comments);
    BE_RUN(test_include_glob_and_relative_paths);
    BE_RUN(test_sample_config_loads);

    BE_RUN(test_parse_size_suffixes_and_overflow);
    BE_RUN(test_parse_time_units_and_overflow);
    BE_RUN(test_parse_listen_forms);

    BE_RUN(test_acl_first_match_wins_deny_all_after_allow_localhost);
    BE_RUN(test_acl_without_rules_allows_everyone);
    BE_RUN(test_acl_without_matching_rule_denies);
    BE_RUN(test_acl_cidr_prefixes_v4_and_v6);

    BE_RUN(test_engine_runs_the_table_it_is_given);
    BE_RUN(test_table_rows_match_their_fields);
    BE_RUN(test_dump_lists_every_directive_with_default_and_help);

    cleanup();
    BE_TEST_EXIT();
}
