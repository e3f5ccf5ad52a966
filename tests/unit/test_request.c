/*
 * test_request.c - the protocol-neutral request on a memory hit: routing, method, key,
 * If-None-Match, Range and If-Range, the response head it builds, and the counters it
 * leaves behind once done.
 *
 * The server is built by hand (default config, one file:// origin, a small memory tier,
 * one worker that is never started) and a verified 100-byte block (its key is its SHA-256)
 * is put in the memory tier first, so every request here is answered inside start().
 */
#include <stdarg.h>
#include <string.h>

#include "blockedge/config.h"
#include "blockedge/inflight.h"
#include "blockedge/memcache.h"
#include "blockedge/request.h"
#include "blockedge/server.h"
#include "blockedge/worker.h"
#include "fixture.h"
#include "test.h"

#define SIZE 100

static be_config_t cfg;
static be_server_t *node;
static be_services_t *svc;
static be_worker_t *workers[1];
static be_worker_t *w;
static char hex[BE_KEY_HEX_LEN + 1]; /* the cached block's name */
static char upper[BE_KEY_HEX_LEN + 1];
static char path[256];

static be_request_t req;
static be_header_t hs[BE_MAX_RESPONSE_HEADERS];
static int nhs;

static void
setup(void)
{
    unsigned char data[SIZE];

    node = fixture_up(&cfg, &svc, workers, 1, "test_request");
    w = workers[0];
    for (int i = 0; i < SIZE; i++)
        data[i] = (unsigned char)(i * 3 + 1);
    fixture_cache_block(svc, data, SIZE, hex);
    for (int i = 0; i < BE_KEY_HEX_LEN + 1; i++)
        upper[i] = (char)(hex[i] >= 'a' && hex[i] <= 'f' ? hex[i] - 'a' + 'A' : hex[i]);
}

static void
teardown(void)
{
    fixture_down(&node);
    w = NULL;
}

static const char *
block_path(void)
{
    snprintf(path, sizeof(path), "/blocks/%s", hex);
    return path;
}

/* Runs one request: method, target, then (name, value) pairs up to NULL. Returns what
 * be_request_start returned; the response head is in hs[0..nhs). */
static int
ask(const char *method, const char *target, ...)
{
    va_list ap;
    const char *name;

    be_request_init(&req, w, BE_PROTO_HTTP1, NULL, NULL);
    be_request_target(&req, target, strlen(target));
    va_start(ap, target);
    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        be_request_header(&req, name, strlen(name), value, strlen(value));
    }
    va_end(ap);
    int rc = be_request_start(&req, method, strlen(method), target, strlen(target));
    nhs = be_request_headers(&req, hs, BE_MAX_RESPONSE_HEADERS);
    return rc;
}

static void
finish(void)
{
    be_request_done(&req);
    be_request_dispose(&req);
}

/* The response header's value, or NULL when absent. */
static const char *
hdr(const char *name)
{
    for (int i = 0; i < nhs; i++)
        if (strcmp(hs[i].name, name) == 0)
            return hs[i].value;
    return NULL;
}

static uint64_t
requests(int code)
{
    return be_stat_get(&w->stats.requests[BE_PROTO_HTTP1][be_stats_code_index(code)]);
}

static uint64_t
hist_count(const be_hist_t *h)
{
    uint64_t n = 0;
    for (int i = 0; i <= BE_HIST_BUCKETS; i++)
        n += be_stat_get(&h->bucket[i]);
    return n;
}

static void
test_request_get_hit_answers_200_with_the_block(void)
{
    char etag[BE_KEY_HEX_LEN + 3], len[16];

    setup();
    BE_CHECK_INT(ask("GET", block_path(), NULL), BE_OK);
    BE_CHECK_INT(req.step, BE_STEP_READY);
    BE_CHECK_INT(req.status, 200);
    BE_CHECK_INT(req.body_off, 0);
    BE_CHECK_INT(req.body_len, SIZE);
    BE_CHECK_INT(req.content_length, SIZE);
    BE_CHECK(be_request_body_is_block(&req));
    BE_CHECK(req.block != NULL && req.block->size == SIZE);
    BE_CHECK_INT(req.block->data[7], 7 * 3 + 1);
    BE_CHECK_INT(req.tier, BE_TIER_MEMORY);
    snprintf(etag, sizeof(etag), "\"%s\"", hex);
    snprintf(len, sizeof(len), "%d", SIZE);
    BE_CHECK_STR(hdr("server"), "blockedge");
    BE_CHECK(hdr("date") != NULL && strstr(hdr("date"), " GMT") != NULL);
    BE_CHECK_STR(hdr("content-type"), "application/octet-stream");
    BE_CHECK_STR(hdr("content-length"), len);
    BE_CHECK_STR(hdr("etag"), etag);
    BE_CHECK_STR(hdr("cache-control"), "public, max-age=31536000, immutable");
    BE_CHECK_STR(hdr("accept-ranges"), "bytes");
    BE_CHECK_STR(hdr("x-cache"), "HIT-MEMORY");
    BE_CHECK(hdr("content-range") == NULL);
    BE_CHECK(hdr("allow") == NULL);
    BE_CHECK_STR(be_http_reason(req.status), "OK");

    be_block_t *b = req.block;
    BE_CHECK_INT(atomic_load(&b->refs), 2); /* the cache's and the request's */
    finish();
    BE_CHECK(req.block == NULL);
    BE_CHECK_INT(atomic_load(&b->refs), 1);
    BE_CHECK_INT(req.step, BE_STEP_DONE);
    be_request_done(&req); /* accounted once */
    BE_CHECK_INT(requests(200), 1);
    BE_CHECK_INT(be_stat_get(&w->stats.hits[BE_TIER_MEMORY]), 1);
    BE_CHECK_INT(be_stat_get(&w->stats.ctr[BE_CTR_SENT_BYTES]), SIZE);
    BE_CHECK_INT(be_stat_get(&w->stats.ctr[BE_CTR_CACHE_MISSES]), 0);
    BE_CHECK_INT(hist_count(&w->stats.request_duration[BE_TIER_MEMORY]), 1);
    teardown();
}

static void
test_request_head_has_no_body_but_full_length(void)
{
    char len[16];

    setup();
    snprintf(len, sizeof(len), "%d", SIZE);
    BE_CHECK_INT(ask("HEAD", block_path(), NULL), BE_OK);
    BE_CHECK_INT(req.status, 200);
    BE_CHECK_INT(req.body_len, 0);
    BE_CHECK_INT(req.content_length, SIZE);
    BE_CHECK_STR(hdr("content-length"), len);
    BE_CHECK_STR(hdr("x-cache"), "HIT-MEMORY");
    finish();

    /* HEAD with a range: 206 head, no body */
    BE_CHECK_INT(ask("HEAD", block_path(), "Range", "bytes=0-9", NULL), BE_OK);
    BE_CHECK_INT(req.status, 206);
    BE_CHECK_INT(req.body_len, 0);
    BE_CHECK_INT(req.content_length, 10);
    BE_CHECK_STR(hdr("content-length"), "10");
    finish();

    BE_CHECK_INT(requests(200), 1);
    BE_CHECK_INT(requests(206), 1);
    BE_CHECK_INT(be_stat_get(&w->stats.hits[BE_TIER_MEMORY]), 2);
    BE_CHECK_INT(be_stat_get(&w->stats.ctr[BE_CTR_SENT_BYTES]), 0);
    teardown();
}

static void
test_request_if_none_match_weak_compare_answers_304(void)
{
    char etag[BE_KEY_HEX_LEN + 3], weak[BE_KEY_HEX_LEN + 5], list[300], miss[300];

    setup();
    snprintf(etag, sizeof(etag), "\"%s\"", hex);
    snprintf(weak, sizeof(weak), "W/\"%s\"", hex);
    snprintf(list, sizeof(list), "\"0000\", W/\"abc\" ,%s", etag);
    snprintf(miss, sizeof(miss), "\"0000\", W/\"abc\"");

    const char *matching[] = {etag, "*", weak, list};
    for (size_t i = 0; i < BE_ARRAY_LEN(matching); i++) {
        BE_CHECK_INT(ask("GET", block_path(), "If-None-Match", matching[i], NULL), BE_OK);
        BE_CHECK_INT(req.status, 304);
        BE_CHECK_INT(req.body_len, 0);
        BE_CHECK_INT(req.content_length, 0);
        BE_CHECK_STR(hdr("etag"), etag);
        BE_CHECK(hdr("content-length") == NULL);
        BE_CHECK(hdr("content-type") == NULL);
        BE_CHECK_STR(hdr("x-cache"), "HIT-MEMORY");
        BE_CHECK(!be_request_body_is_block(&req));
        finish();
    }

    const char *other[] = {miss, "\"0123\"", hex /* unquoted */, "W/"};
    for (size_t i = 0; i < BE_ARRAY_LEN(other); i++) {
        BE_CHECK_INT(ask("GET", block_path(), "If-None-Match", other[i], NULL), BE_OK);
        BE_CHECK_INT(req.status, 200);
        BE_CHECK_INT(req.body_len, SIZE);
        finish();
    }

    /* two If-None-Match fields are one list */
    BE_CHECK_INT(ask("GET", block_path(), "If-None-Match", "\"0000\"", "if-none-match", etag, NULL),
                 BE_OK);
    BE_CHECK_INT(req.status, 304);
    finish();

    /* the key in upper case names the same block: the ETag is lower case and matches */
    snprintf(path, sizeof(path), "/blocks/%s", upper);
    BE_CHECK_INT(ask("GET", path, "If-None-Match", etag, NULL), BE_OK);
    BE_CHECK_INT(req.status, 304);
    BE_CHECK_STR(hdr("etag"), etag);
    finish();

    BE_CHECK_INT(requests(304), 6);
    BE_CHECK_INT(requests(200), 4);
    BE_CHECK_INT(be_stat_get(&w->stats.ctr[BE_CTR_SENT_BYTES]), 4 * SIZE);
    teardown();
}

/* One Range request: expects 206 with [off, off + len). */
static void
check_range(const char *range, uint64_t off, uint64_t len)
{
    char cr[64], cl[16];

    BE_CHECK_INT(ask("GET", block_path(), "Range", range, NULL), BE_OK);
    BE_CHECK_INT(req.status, 206);
    BE_CHECK_INT(req.body_off, off);
    BE_CHECK_INT(req.body_len, len);
    BE_CHECK_INT(req.content_length, len);
    BE_CHECK(be_request_body_is_block(&req));
    snprintf(cr, sizeof(cr), "bytes %llu-%llu/%d", (unsigned long long)off,
             (unsigned long long)(off + len - 1), SIZE);
    snprintf(cl, sizeof(cl), "%llu", (unsigned long long)len);
    BE_CHECK_STR(hdr("content-range"), cr);
    BE_CHECK_STR(hdr("content-length"), cl);
    BE_CHECK_STR(hdr("accept-ranges"), "bytes");
    BE_CHECK_STR(be_http_reason(req.status), "Partial Content");
    finish();
}

/* One request that must be answered 200 with the whole block. */
static void
check_whole(const char *range)
{
    BE_CHECK_INT(ask("GET", block_path(), "Range", range, NULL), BE_OK);
    BE_CHECK_INT(req.status, 200);
    BE_CHECK_INT(req.body_off, 0);
    BE_CHECK_INT(req.body_len, SIZE);
    BE_CHECK(hdr("content-range") == NULL);
    finish();
}

static void
test_request_single_range_answers_206(void)
{
    setup();
    check_range("bytes=0-9", 0, 10);
    check_range("bytes=-5", SIZE - 5, 5);
    check_range("bytes=10-", 10, SIZE - 10);
    check_range("bytes=0-999999", 0, SIZE); /* clamped to the block */
    check_range("bytes=99-99", 99, 1);
    check_range("bytes=-1000", 0, SIZE); /* a suffix longer than the block is all of it */
    check_range("BYTES= 3-4", 3, 2);
    BE_CHECK_INT(requests(206), 7);
    BE_CHECK_INT(be_stat_get(&w->stats.ctr[BE_CTR_SENT_BYTES]),
                 10 + 5 + (SIZE - 10) + SIZE + 1 + SIZE + 2);
    teardown();
}

static void
test_request_unsatisfiable_range_answers_416(void)
{
    char cr[32];

    setup();
    snprintf(cr, sizeof(cr), "bytes */%d", SIZE);
    const char *ranges[] = {"bytes=99999-", "bytes=100-", "bytes=100-200", "bytes=-0"};
    for (size_t i = 0; i < BE_ARRAY_LEN(ranges); i++) {
        BE_CHECK_INT(ask("GET", block_path(), "Range", ranges[i], NULL), BE_OK);
        BE_CHECK_INT(req.status, 416);
        BE_CHECK(!be_request_body_is_block(&req));
        BE_CHECK_STR(hdr("content-range"), cr);
        BE_CHECK_STR(hdr("content-type"), "text/plain");
        BE_CHECK_STR(be_request_error_text(&req), "range not satisfiable");
        BE_CHECK_INT(req.content_length, strlen("range not satisfiable\n"));
        BE_CHECK_INT(req.body_len, req.content_length);
        BE_CHECK(hdr("etag") == NULL);
        finish();
    }
    BE_CHECK_INT(requests(416), 4);
    BE_CHECK_INT(requests(200), 0);
    teardown();
}

static void
test_request_multi_or_invalid_range_answers_200(void)
{
    setup();
    check_whole("bytes=0-1,5-6"); /* several ranges: the whole block */
    check_whole("bytes=0-1, -5"); /* with a suffix too */
    check_whole("bytes=abc");     /* not a number */
    check_whole("bytes=5-3");     /* last before first */
    check_whole("bytes=");        /* empty set */
    check_whole("bytes=-");       /* neither end */
    check_whole("items=0-1");     /* another unit */
    check_whole("bytes=0-9x");    /* trailing junk */
    check_whole("bytes=1-2-3");   /* two dashes */
    BE_CHECK_INT(requests(200), 9);
    BE_CHECK_INT(requests(206), 0);

    /* two Range fields: both ignored */
    BE_CHECK_INT(ask("GET", block_path(), "Range", "bytes=0-9", "range", "bytes=0-9", NULL), BE_OK);
    BE_CHECK_INT(req.status, 200);
    BE_CHECK_INT(req.body_len, SIZE);
    finish();
    teardown();
}

static void
test_request_if_range_gates_the_range(void)
{
    char etag[BE_KEY_HEX_LEN + 3], weak[BE_KEY_HEX_LEN + 5];

    setup();
    snprintf(etag, sizeof(etag), "\"%s\"", hex);
    snprintf(weak, sizeof(weak), "W/\"%s\"", hex);

    BE_CHECK_INT(ask("GET", block_path(), "Range", "bytes=0-9", "If-Range", etag, NULL), BE_OK);
    BE_CHECK_INT(req.status, 206);
    BE_CHECK_INT(req.body_len, 10);
    finish();

    /* a different tag, a weak tag (If-Range compares strongly), a date: the whole block */
    const char *others[] = {"\"0123\"", weak, "Sun, 06 Nov 1994 08:49:37 GMT"};
    for (size_t i = 0; i < BE_ARRAY_LEN(others); i++) {
        BE_CHECK_INT(ask("GET", block_path(), "If-Range", others[i], "Range", "bytes=0-9", NULL),
                     BE_OK);
        BE_CHECK_INT(req.status, 200);
        BE_CHECK_INT(req.body_off, 0);
        BE_CHECK_INT(req.body_len, SIZE);
        BE_CHECK(hdr("content-range") == NULL);
        finish();
    }

    /* an unsatisfiable range behind a stale If-Range is not a 416 */
    BE_CHECK_INT(ask("GET", block_path(), "Range", "bytes=500-", "If-Range", "\"0\"", NULL), BE_OK);
    BE_CHECK_INT(req.status, 200);
    finish();
    BE_CHECK_INT(requests(206), 1);
    BE_CHECK_INT(requests(200), 4);
    teardown();
}

static void
test_request_bad_keys_answer_400(void)
{
    char p[300];
    char pad[BE_KEY_HEX_LEN + 2];

    setup();
    memset(pad, '0', sizeof(pad));
    pad[sizeof(pad) - 1] = '\0';
    const char *bad[] = {
        "/blocks/",
        "/blocks/abc",
        "/blocks/../../etc/passwd",
    };
    for (size_t i = 0; i < BE_ARRAY_LEN(bad); i++) {
        BE_CHECK_INT(ask("GET", bad[i], NULL), BE_OK);
        BE_CHECK_INT(req.status, 400);
        BE_CHECK(req.block == NULL);
        finish();
    }
    /* 63 and 65 digits, a non-hex digit, "..", "%2e%2e", a trailing slash */
    snprintf(p, sizeof(p), "/blocks/%.63s", hex);
    BE_CHECK_INT(ask("GET", p, NULL), BE_OK);
    BE_CHECK_INT(req.status, 400);
    finish();
    snprintf(p, sizeof(p), "/blocks/%s0", hex);
    BE_CHECK_INT(ask("GET", p, NULL), BE_OK);
    BE_CHECK_INT(req.status, 400);
    finish();
    snprintf(p, sizeof(p), "/blocks/g%.63s", hex);
    BE_CHECK_INT(ask("GET", p, NULL), BE_OK);
    BE_CHECK_INT(req.status, 400);
    finish();
    snprintf(p, sizeof(p), "/blocks/..%.62s", pad);
    BE_CHECK_INT(ask("GET", p, NULL), BE_OK);
    BE_CHECK_INT(req.status, 400);
    finish();
    snprintf(p, sizeof(p), "/blocks/%%2e%%2e%.58s", pad);
    BE_CHECK_INT(strlen(p), strlen("/blocks/") + BE_KEY_HEX_LEN);
    BE_CHECK_INT(ask("GET", p, NULL), BE_OK);
    BE_CHECK_INT(req.status, 400);
    finish();
    snprintf(p, sizeof(p), "/blocks/%s/", hex);
    BE_CHECK_INT(ask("HEAD", p, NULL), BE_OK);
    BE_CHECK_INT(req.status, 400);
    BE_CHECK_INT(req.body_len, 0); /* HEAD: no error text either */
    BE_CHECK_STR(hdr("content-type"), "text/plain");
    BE_CHECK_STR(hdr("cache-control"), "no-store");
    BE_CHECK(hdr("x-cache") == NULL);
    BE_CHECK(hdr("etag") == NULL);
    BE_CHECK_STR(be_http_reason(req.status), "Bad Request");
    finish();

    BE_CHECK_INT(requests(400), 9);
    BE_CHECK_INT(be_stat_get(&w->stats.hits[BE_TIER_MEMORY]), 0);
    BE_CHECK_INT(be_stat_get(&w->stats.ctr[BE_CTR_CACHE_MISSES]), 0);
    BE_CHECK_INT(be_stat_get(&w->stats.ctr[BE_CTR_SENT_BYTES]), 0);
    teardown();
}

static void
test_request_other_path_answers_404(void)
{
    char p[300];

    setup();
    snprintf(p, sizeof(p), "/block/%s", hex);
    const char *paths[] = {"/", "/blocks", "/metrics", p, "/BLOCKS/x"};
    for (size_t i = 0; i < BE_ARRAY_LEN(paths); i++) {
        BE_CHECK_INT(ask("GET", paths[i], NULL), BE_OK);
        BE_CHECK_INT(req.status, 404);
        BE_CHECK(req.block == NULL);
        BE_CHECK_STR(be_request_error_text(&req), "not found");
        BE_CHECK_INT(req.body_len, strlen("not found\n"));
        BE_CHECK_STR(hdr("content-length"), "10");
        finish();
    }
    BE_CHECK_INT(requests(404), 5);
    teardown();
}

static void
test_request_other_method_answers_405_with_allow(void)
{
    setup();
    const char *methods[] = {"POST", "PUT", "DELETE", "get", "OPTIONS"};
    for (size_t i = 0; i < BE_ARRAY_LEN(methods); i++) {
        BE_CHECK_INT(ask(methods[i], block_path(), NULL), BE_OK);
        BE_CHECK_INT(req.status, 405);
        BE_CHECK(req.block == NULL);
        BE_CHECK_STR(hdr("allow"), "GET, HEAD");
        BE_CHECK(hdr("x-cache") == NULL);
        BE_CHECK_STR(be_http_reason(req.status), "Method Not Allowed");
        finish();
    }
    BE_CHECK_INT(requests(405), 5);
    BE_CHECK_INT(be_stat_get(&w->stats.hits[BE_TIER_MEMORY]), 0); /* no look-up for them */
    teardown();
}

static void
test_request_query_string_is_ignored(void)
{
    char p[300];

    setup();
    snprintf(p, sizeof(p), "/blocks/%s?x=1&y=/", hex);
    BE_CHECK_INT(ask("GET", p, NULL), BE_OK);
    BE_CHECK_INT(req.status, 200);
    BE_CHECK_INT(req.body_len, SIZE);
    finish();
    snprintf(p, sizeof(p), "/blocks/%s?", hex);
    BE_CHECK_INT(ask("GET", p, NULL), BE_OK);
    BE_CHECK_INT(req.status, 200);
    finish();
    /* a query does not make a bad key good */
    snprintf(p, sizeof(p), "/blocks/%.63s?%c", hex, hex[63]);
    BE_CHECK_INT(ask("GET", p, NULL), BE_OK);
    BE_CHECK_INT(req.status, 400);
    finish();
    BE_CHECK_INT(requests(200), 2);
    BE_CHECK_INT(requests(400), 1);
    BE_CHECK_INT(be_stat_get(&w->stats.hits[BE_TIER_MEMORY]), 2);
    teardown();
}

/* If-None-Match is evaluated as each field arrives, not kept: a list as long as the head
 * allows (16 KiB, 230 entity-tags) answers 304 when one matches, wherever it is, and 200
 * when none does. */
static void
test_request_long_if_none_match_is_evaluated(void)
{
    static char list[16384];
    char etag[BE_KEY_HEX_LEN + 3], big[600];
    size_t n = 0;

    setup();
    snprintf(etag, sizeof(etag), "\"%s\"", hex);
    for (int i = 0; i < 230; i++) /* 70 bytes each: another block's ETag */
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%sW/\"%064x\"", i ? ", " : "", i);
    BE_CHECK(n > 16000 && n < sizeof(list));
    BE_CHECK_INT(ask("GET", block_path(), "If-None-Match", list, NULL), BE_OK);
    BE_CHECK_INT(req.status, 200);
    finish();
    /* the same list with ours last, and ours in a later field after the long one */
    snprintf(list + n - strlen(etag), sizeof(list) - n + strlen(etag), "%s", etag);
    BE_CHECK_INT(ask("GET", block_path(), "If-None-Match", list, NULL), BE_OK);
    BE_CHECK_INT(req.status, 304);
    finish();
    list[n - strlen(etag)] = '\0';
    BE_CHECK_INT(ask("GET", block_path(), "If-None-Match", list, "If-None-Match", etag, NULL),
                 BE_OK);
    BE_CHECK_INT(req.status, 304);
    finish();
    /* a target that names no block matches nothing, and the field is never an error */
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    be_request_init(&req, w, BE_PROTO_HTTP1, NULL, NULL);
    be_request_target(&req, "/other", 6);
    BE_CHECK_INT(be_request_header(&req, "If-None-Match", 13, "*", 1), BE_OK);
    BE_CHECK(!req.none_matched);
    BE_CHECK_INT(be_request_header(&req, "If-None-Match", 13, big, strlen(big)), BE_OK);
    /* an over-long Range or If-Range is ignored */
    BE_CHECK_INT(be_request_header(&req, "Range", 5, big, strlen(big)), BE_OK);
    BE_CHECK_INT(be_request_header(&req, "If-Range", 8, big, strlen(big)), BE_OK);
    be_request_dispose(&req);
    teardown();
}

int
main(void)
{
    BE_RUN(test_request_get_hit_answers_200_with_the_block);
    BE_RUN(test_request_head_has_no_body_but_full_length);
    BE_RUN(test_request_if_none_match_weak_compare_answers_304);
    BE_RUN(test_request_single_range_answers_206);
    BE_RUN(test_request_unsatisfiable_range_answers_416);
    BE_RUN(test_request_multi_or_invalid_range_answers_200);
    BE_RUN(test_request_if_range_gates_the_range);
    BE_RUN(test_request_bad_keys_answer_400);
    BE_RUN(test_request_other_path_answers_404);
    BE_RUN(test_request_other_method_answers_405_with_allow);
    BE_RUN(test_request_query_string_is_ignored);
    BE_RUN(test_request_long_if_none_match_is_evaluated);
    be_server_global_cleanup();
    BE_TEST_EXIT();
}
