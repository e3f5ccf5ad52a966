/*
 * test_accesslog.c - the access log: nginx's combined format followed by cache status,
 * tier, block size and duration, byte for byte; unknown fields as "-"; quotes,
 * backslashes and bytes outside printable ASCII escaped as \xHH; lines buffered per worker
 * and written on free, by the flush timer and when the buffer fills; an over-long line cut
 * to one line; reopen after the file was renamed (what logrotate does before SIGUSR1),
 * and a reopen that cannot open the path keeping the old file; and a request's line as
 * the protocol-neutral request fills it in (peer, path with its query, referer, agent).
 *
 * The node is built through the server object with access_log set to a file in a fresh
 * temporary directory and two workers that are never started; the test writes entries
 * itself with be_accesslog_write() and reads the file back. TZ is UTC, so the time field
 * ends in +0000; its value is checked against the clock, the rest of each line exactly.
 */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "blockedge/accesslog.h"
#include "blockedge/request.h"
#include "blockedge/server.h"
#include "blockedge/services.h"
#include "blockedge/stats.h"
#include "blockedge/worker.h"
#include "fixture.h"
#include "test.h"

#define NWORKERS 2

static be_config_t cfg;
static be_server_t *node;
static be_services_t *svc;
static be_worker_t *workers[NWORKERS];
static char dir[512];
static char logpath[600];
static char text[512 * 1024]; /* the file as read back */

static void
setup(void)
{
    fixture_tmpdir(dir, sizeof(dir), "accesslog");
    snprintf(logpath, sizeof(logpath), "%s/access.log", dir);
    fixture_config(&cfg, NWORKERS);
    snprintf(cfg.access_log, sizeof(cfg.access_log), "%s", logpath);
    node = fixture_build(&cfg, &svc, workers, NWORKERS, "test_accesslog");
}

/* Frees the node (which writes what is buffered) unless the test did. */
static void
teardown(void)
{
    fixture_down(&node);
    fixture_rmdir(dir);
}

/* Reads the whole file into text; returns its length, -1 when it cannot be read. */
static long
slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return -1;
    size_t n = fread(text, 1, sizeof(text) - 1, fp);
    fclose(fp);
    text[n] = '\0';
    return (long)n;
}

static long
file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static be_access_entry_t
entry(int worker)
{
    be_access_entry_t e = {
        .worker = worker,
        .peer = "127.0.0.1:40000",
        .method = "GET",
        .path = "/blocks/abc",
        .referer = "",
        .agent = "curl/7.88.1",
        .http2 = 0,
        .status = 200,
        .tier = BE_TIER_MEMORY,
        .block_size = 4096,
        .body_len = 4096,
        .duration_us = 41,
    };
    return e;
}

/*
 * Checks that line (up to its '\n') is "<head>[<time>]<tail>" with a time within two
 * minutes of now in nginx's $time_local format; returns 1 or 0 (printing why).
 */
static int
line_is(const char *line, const char *head, const char *tail)
{
    const char *open = strchr(line, '['), *close = open ? strchr(open, ']') : NULL;
    const char *nl = strchr(line, '\n');
    size_t hl = strlen(head);
    struct tm tm;

    if (open == NULL || close == NULL || nl == NULL || (size_t)(open - line) != hl ||
        memcmp(line, head, hl) != 0 || (size_t)(nl + 1 - (close + 1)) != strlen(tail) ||
        memcmp(close + 1, tail, strlen(tail)) != 0) {
        fprintf(stderr, "    line:     %.*s", nl ? (int)(nl + 1 - line) : (int)strlen(line), line);
        fprintf(stderr, "    expected: %s[...]%s", head, tail);
        return 0;
    }
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(open + 1, "%d/%b/%Y:%H:%M:%S +0000", &tm);
    if (end != close) {
        fprintf(stderr, "    time field: %.*s\n", (int)(close - open - 1), open + 1);
        return 0;
    }
    long diff = (long)(timegm(&tm) - time(NULL));
    return diff > -120 && diff < 120;
}

/* The n-th line (from 0) of text, or NULL. */
static const char *
nth_line(int n)
{
    const char *p = text;
    for (int i = 0; i < n && p != NULL; i++) {
        p = strchr(p, '\n');
        p = p != NULL && p[1] != '\0' ? p + 1 : NULL;
    }
    return p != NULL && *p != '\0' ? p : NULL;
}

static int
count_lines(void)
{
    int n = 0;
    for (const char *p = text; (p = strchr(p, '\n')) != NULL; p++)
        n++;
    return n;
}

static void
test_accesslog_line_is_combined_then_cache_tier_size_duration(void)
{
    be_access_entry_t e;

    setup();
    e = entry(1);
    be_accesslog_write(svc->accesslog, &e);
    e = entry(1);
    e.http2 = 1;
    e.tier = BE_TIER_MISS;
    e.referer = "https://example.com/a";
    e.status = 206;
    e.body_len = 10;
    e.duration_us = 1234567;
    be_accesslog_write(svc->accesslog, &e);
    e = entry(1);
    e.method = "HEAD";
    e.tier = BE_TIER_DISK;
    e.body_len = 0;
    e.block_size = 65536;
    e.duration_us = 2000000;
    be_accesslog_write(svc->accesslog, &e);
    fixture_down(&node); /* writes the buffer */

    BE_CHECK(slurp(logpath) > 0);
    BE_CHECK_INT(count_lines(), 3);
    BE_CHECK(line_is(nth_line(0), "127.0.0.1 - - ",
                     " \"GET /blocks/abc HTTP/1.1\" 200 4096 \"-\" \"curl/7.88.1\" HIT memory "
                     "4096 0.000041\n"));
    BE_CHECK(line_is(nth_line(1), "127.0.0.1 - - ",
                     " \"GET /blocks/abc HTTP/2.0\" 206 10 \"https://example.com/a\" "
                     "\"curl/7.88.1\" MISS origin 4096 1.234567\n"));
    BE_CHECK(line_is(nth_line(2), "127.0.0.1 - - ",
                     " \"HEAD /blocks/abc HTTP/1.1\" 200 0 \"-\" \"curl/7.88.1\" HIT disk 65536 "
                     "2.000000\n"));
    teardown();
}

static void
test_accesslog_unknown_fields_are_dashes(void)
{
    be_access_entry_t e;

    setup();
    e = entry(2);
    e.peer = NULL;
    e.method = ""; /* the request line never arrived */
    e.path = "";
    e.agent = "";
    e.status = 408;
    e.tier = -1;
    e.block_size = -1;
    e.body_len = 0;
    e.duration_us = 0;
    be_accesslog_write(svc->accesslog, &e);
    e = entry(2);
    e.peer = "::1:5000"; /* an IPv6 peer loses only its port */
    e.path = "/nothing";
    e.status = 404;
    e.tier = -1;
    e.block_size = -1;
    e.body_len = 10;
    be_accesslog_write(svc->accesslog, &e);
    fixture_down(&node);

    BE_CHECK(slurp(logpath) > 0);
    BE_CHECK_INT(count_lines(), 2);
    BE_CHECK(line_is(nth_line(0), "- - - ", " \"-\" 408 0 \"-\" \"-\" - - - 0.000000\n"));
    BE_CHECK(line_is(nth_line(1), "::1 - - ",
                     " \"GET /nothing HTTP/1.1\" 404 10 \"-\" \"curl/7.88.1\" - - - 0.000041\n"));
    teardown();
}

static void
test_accesslog_escapes_quotes_backslashes_and_control_bytes(void)
{
    be_access_entry_t e;

    setup();
    e = entry(1);
    e.path = "/blocks/a\"b\\c\x01\x1f\x7f\xff d";
    e.referer = "x\ny\tz";
    e.agent = "a \"quoted\" agent";
    e.method = "G\"T";
    be_accesslog_write(svc->accesslog, &e);
    fixture_down(&node);

    BE_CHECK(slurp(logpath) > 0);
    BE_CHECK_INT(count_lines(), 1); /* the newline in the referer did not split the line */
    BE_CHECK(line_is(nth_line(0), "127.0.0.1 - - ",
                     " \"G\\x22T /blocks/a\\x22b\\x5Cc\\x01\\x1F\\x7F\\xFF d HTTP/1.1\" 200 4096 "
                     "\"x\\x0Ay\\x09z\" \"a \\x22quoted\\x22 agent\" HIT memory 4096 0.000041\n"));
    teardown();
}

static void
test_accesslog_buffered_per_worker_until_free(void)
{
    be_access_entry_t e;

    setup();
    BE_CHECK_INT(file_size(logpath), 0); /* created at start-up */
    e = entry(1);
    e.path = "/one";
    be_accesslog_write(svc->accesslog, &e);
    e = entry(2);
    e.path = "/two";
    be_accesslog_write(svc->accesslog, &e);
    e = entry(0); /* no such worker: nothing */
    be_accesslog_write(svc->accesslog, &e);
    e = entry(NWORKERS + 1);
    be_accesslog_write(svc->accesslog, &e);
    BE_CHECK_INT(file_size(logpath), 0); /* nothing written per request */
    fixture_down(&node);

    BE_CHECK(slurp(logpath) > 0);
    BE_CHECK_INT(count_lines(), 2); /* each worker's buffer, in worker order */
    BE_CHECK(strstr(nth_line(0), "\"GET /one HTTP/1.1\"") != NULL);
    BE_CHECK(strstr(nth_line(1), "\"GET /two HTTP/1.1\"") != NULL);
    teardown();
}

static int
log_written(void *arg)
{
    BE_UNUSED(arg);
    return file_size(logpath) > 0;
}

static void
test_accesslog_flush_timer_writes_while_running(void)
{
    be_access_entry_t e;

    setup();
    e = entry(1);
    be_accesslog_write(svc->accesslog, &e);
    BE_CHECK_INT(file_size(logpath), 0);
    /* the timer fires once a second: bounded well above that */
    BE_CHECK(fixture_run_until(workers, NWORKERS, log_written, NULL, 5000));
    BE_CHECK(slurp(logpath) > 0);
    BE_CHECK_INT(count_lines(), 1);
    BE_CHECK(line_is(nth_line(0), "127.0.0.1 - - ",
                     " \"GET /blocks/abc HTTP/1.1\" 200 4096 \"-\" \"curl/7.88.1\" HIT memory "
                     "4096 0.000041\n"));
    fixture_down(&node);
    BE_CHECK(slurp(logpath) > 0);
    BE_CHECK_INT(count_lines(), 1); /* not written twice */
    teardown();
}

static void
test_accesslog_reopen_after_rename_writes_to_new_file(void)
{
    char rotated[700];
    be_access_entry_t e;

    setup();
    snprintf(rotated, sizeof(rotated), "%s.1", logpath);
    e = entry(1);
    e.path = "/before";
    be_accesslog_write(svc->accesslog, &e);
    BE_CHECK(rename(logpath, rotated) == 0);
    be_accesslog_reopen(svc->accesslog); /* a mailbox task per worker */
    BE_CHECK_INT(file_size(logpath), -1);
    BE_CHECK_INT(be_worker_run_mailbox(workers[0]), 1);
    BE_CHECK_INT(be_worker_run_mailbox(workers[1]), 1);
    BE_CHECK(file_size(logpath) == 0); /* opened again under the old name */
    e = entry(1);
    e.path = "/after";
    be_accesslog_write(svc->accesslog, &e);
    fixture_down(&node);

    BE_CHECK(slurp(rotated) > 0); /* what was buffered went to the old file on reopen */
    BE_CHECK_INT(count_lines(), 1);
    BE_CHECK(strstr(text, "\"GET /before HTTP/1.1\"") != NULL);
    BE_CHECK(slurp(logpath) > 0);
    BE_CHECK_INT(count_lines(), 1);
    BE_CHECK(strstr(text, "\"GET /after HTTP/1.1\"") != NULL);
    teardown();
}

static void
test_accesslog_reopen_that_cannot_open_keeps_the_old_file(void)
{
    char rotated[700];
    be_access_entry_t e;

    setup();
    snprintf(rotated, sizeof(rotated), "%s.1", logpath);
    BE_CHECK(rename(logpath, rotated) == 0);
    BE_CHECK(mkdir(logpath, 0755) == 0); /* the path cannot be opened for writing now */
    be_accesslog_reopen(svc->accesslog);
    BE_CHECK_INT(be_worker_run_mailbox(workers[0]), 1);
    BE_CHECK_INT(be_worker_run_mailbox(workers[1]), 1);
    e = entry(1);
    e.path = "/kept";
    be_accesslog_write(svc->accesslog, &e);
    fixture_down(&node);
    BE_CHECK(slurp(rotated) > 0); /* the old descriptor still writes */
    BE_CHECK_INT(count_lines(), 1);
    BE_CHECK(strstr(text, "\"GET /kept HTTP/1.1\"") != NULL);
    BE_CHECK(rmdir(logpath) == 0);
    teardown();
}

static void
test_accesslog_request_logs_what_the_client_sent(void)
{
    static const char agent[] = "Mozilla/5.0 \"x\"";
    static const char referer[] = "https://example.com/page";
    unsigned char bytes[100];
    char hex[BE_KEY_HEX_LEN + 1], path[128], tail[512];
    be_request_t r;

    setup();
    memset(bytes, 'a', sizeof(bytes));
    fixture_cache_block(svc, bytes, sizeof(bytes), hex);
    snprintf(path, sizeof(path), "/blocks/%s?x=1", hex);
    be_request_init(&r, workers[1], BE_PROTO_HTTP2, NULL, NULL);
    r.peer = "192.0.2.7:5555";
    be_request_header(&r, "User-Agent", 10, agent, strlen(agent));
    be_request_header(&r, "referer", 7, referer, strlen(referer));
    BE_CHECK_INT(be_request_start(&r, "GET", 3, path, strlen(path)), BE_OK);
    be_request_done(&r);
    be_request_dispose(&r);
    fixture_down(&node);

    BE_CHECK(slurp(logpath) > 0);
    BE_CHECK_INT(count_lines(), 1);
    snprintf(tail, sizeof(tail),
             " \"GET %s HTTP/2.0\" 200 100 \"%s\" \"Mozilla/5.0 \\x22x\\x22\" HIT memory 100 ",
             path, referer);
    const char *close = strchr(text, ']');
    BE_CHECK(strncmp(text, "192.0.2.7 - - [", 15) == 0);
    BE_CHECK(close != NULL && strncmp(close + 1, tail, strlen(tail)) == 0);
    teardown();
}

static void
test_accesslog_long_lines_cut_to_one_and_full_buffer_written(void)
{
    enum { N = 60, PATH = 3000 };
    static char path[PATH + 16];
    be_access_entry_t e;
    char want[32];

    setup();
    memset(path, 0x01, PATH); /* 12000 bytes escaped: past the longest line (8 KiB) */
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof(path), "/%02d", i); /* then a terminating NUL ... */
        path[3] = 0x01;                           /* ... put back: the rest stays 0x01 */
        path[PATH] = '\0';
        e = entry(1);
        e.path = path;
        be_accesslog_write(svc->accesslog, &e);
    }
    BE_CHECK(file_size(logpath) > 0); /* N long lines do not fit in one buffer */
    fixture_down(&node);

    BE_CHECK(slurp(logpath) > 0);
    BE_CHECK_INT(count_lines(), N);
    for (int i = 0; i < N; i++) {
        const char *l = nth_line(i);
        BE_CHECK(l != NULL);
        size_t len = (size_t)(strchr(l, '\n') - l) + 1;
        BE_CHECK(len <= 8192);
        BE_CHECK(len > 8000);
        snprintf(want, sizeof(want), "\"GET /%02d\\x01", i);
        BE_CHECK(strstr(l, want) != NULL && strstr(l, want) < l + len); /* in order */
        BE_CHECK(strncmp(l, "127.0.0.1 - - [", 15) == 0);
    }
    teardown();
}

int
main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    BE_RUN(test_accesslog_line_is_combined_then_cache_tier_size_duration);
    BE_RUN(test_accesslog_unknown_fields_are_dashes);
    BE_RUN(test_accesslog_escapes_quotes_backslashes_and_control_bytes);
    BE_RUN(test_accesslog_buffered_per_worker_until_free);
    BE_RUN(test_accesslog_flush_timer_writes_while_running);
    BE_RUN(test_accesslog_reopen_after_rename_writes_to_new_file);
    BE_RUN(test_accesslog_reopen_that_cannot_open_keeps_the_old_file);
    BE_RUN(test_accesslog_request_logs_what_the_client_sent);
    BE_RUN(test_accesslog_long_lines_cut_to_one_and_full_buffer_written);
    be_server_global_cleanup();
    BE_TEST_EXIT();
}
