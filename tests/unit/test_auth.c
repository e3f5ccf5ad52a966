/*
 * test_auth.c - signed URLs (auth.h): the MAC against vectors computed independently with
 * `openssl dgst -sha256 -hmac` (hard-coded below), base64url's edges, the expiry and clock
 * skew boundaries to the millisecond, the previous secret, malformed queries and bearer
 * tokens, the secret file's rules, and the redaction of signatures from logged paths.
 *
 * It also prints, without asserting anything about time, the mean time of 10,000 checks of
 * a wrong signature that differs from the right one in its first byte and of 10,000 that
 * differ in its last byte, and their ratio: the comparison must not show where they differ.
 */
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>

#include "blockedge/auth.h"
#include "fixture.h"
#include "test.h"

/* hex = sha256("block-one"); the vectors come from
 *   printf '%s\n%s' "$HEX" "$EXPIRES" | openssl dgst -sha256 -hmac "$SECRET" -binary |
 *       basenc --base64url | tr -d '=' */
#define HEX      "53a62ac318fdb8bc3cd74b0c8fd0d724e04f6c3e3bb4e647a0a327ecdfe30c71"
#define CURRENT  "unit-test-secret-0123456789"
#define PREVIOUS "previous-secret-abcdefghij"
#define SIG_CUR  "D2tiv8LrHuV3l8wBJXY5k_-6IYt06N_oRCwWxOtif1M" /* CURRENT, 1700000000 */
#define SIG_PREV "9w2w0kZ_4d5tnFaoVnA_pgEwfBFYThC6-zrhoJ_di6U" /* PREVIOUS, 1700000000 */
#define SIG_ONE  "rVwBNt3usaFNvXvWFMDGtxWnK84QwW1FarWa1XakQHk" /* CURRENT, 1 */
#define SIG_MAX  "kib7Ftep8mxJZVQSbrPElrIG-hGfrX7uO1f57dV9xoc" /* CURRENT, 99999999999 */
#define EXPIRES  1700000000ll

static char dir[512];
static char err[1024];

static void
keys_of(be_auth_keys_t *k, const char *a, const char *b)
{
    memset(k, 0, sizeof(*k));
    k->n = b != NULL ? 2 : 1;
    k->len[0] = strlen(a);
    memcpy(k->key[0], a, k->len[0]);
    if (b != NULL) {
        k->len[1] = strlen(b);
        memcpy(k->key[1], b, k->len[1]);
    }
}

static int
check_query(const be_auth_keys_t *k, const char *hex, const char *query, int64_t now,
            be_msec_t skew)
{
    be_auth_token_t tok;
    int why = be_auth_parse_query(query, strlen(query), &tok);
    return why != BE_AUTH_REASON_OK ? why : be_auth_check(k, hex, &tok, now, skew);
}

static void
test_auth_mac_matches_openssl_vectors(void)
{
    static const struct {
        const char *secret, *expires, *sig;
    } v[] = {
        {CURRENT, "1700000000", SIG_CUR},
        {PREVIOUS, "1700000000", SIG_PREV},
        {CURRENT, "1", SIG_ONE},
        {CURRENT, "99999999999", SIG_MAX},
    };
    unsigned char mac[BE_AUTH_MAC_LEN];
    char sig[BE_AUTH_SIG_LEN + 1];

    for (size_t i = 0; i < BE_ARRAY_LEN(v); i++) {
        BE_CHECK_INT(be_auth_mac((const unsigned char *)v[i].secret, strlen(v[i].secret), HEX,
                                 v[i].expires, mac),
                     BE_OK);
        be_auth_encode_sig(mac, sig);
        BE_CHECK_STR(sig, v[i].sig);
    }
}

static void
test_auth_valid_query_passes_in_any_order_among_other_parameters(void)
{
    be_auth_keys_t k;
    keys_of(&k, CURRENT, NULL);
    BE_CHECK_INT(check_query(&k, HEX, "expires=1700000000&sig=" SIG_CUR, EXPIRES, 0),
                 BE_AUTH_REASON_OK);
    BE_CHECK_INT(check_query(&k, HEX, "sig=" SIG_CUR "&expires=1700000000", EXPIRES, 0),
                 BE_AUTH_REASON_OK);
    BE_CHECK_INT(check_query(&k, HEX, "a=1&sig=" SIG_CUR "&x&expires=1700000000&b=", EXPIRES, 0),
                 BE_AUTH_REASON_OK);
    BE_CHECK_INT(check_query(&k, HEX, "expires=1&sig=" SIG_ONE, 1, 0), BE_AUTH_REASON_OK);
    BE_CHECK_INT(check_query(&k, HEX, "expires=99999999999&sig=" SIG_MAX, EXPIRES, 0),
                 BE_AUTH_REASON_OK);
}

static void
test_auth_tampered_key_expires_or_secret_is_bad_signature(void)
{
    be_auth_keys_t k, wrong;
    char hex[] = HEX;
    keys_of(&k, CURRENT, NULL);
    keys_of(&wrong, "some-other-secret-0000", NULL);
    hex[63] = '0';
    BE_CHECK_INT(check_query(&k, hex, "expires=1700000000&sig=" SIG_CUR, EXPIRES, 0),
                 BE_AUTH_REASON_BAD_SIGNATURE);
    BE_CHECK_INT(check_query(&k, HEX, "expires=1700000001&sig=" SIG_CUR, EXPIRES, 0),
                 BE_AUTH_REASON_BAD_SIGNATURE);
    BE_CHECK_INT(check_query(&wrong, HEX, "expires=1700000000&sig=" SIG_CUR, EXPIRES, 0),
                 BE_AUTH_REASON_BAD_SIGNATURE);
    /* one character of the signature changed (last one: only its top 4 bits count) */
    BE_CHECK_INT(check_query(&k, HEX,
                             "expires=1700000000&sig=E2tiv8LrHuV3l8wBJXY5k_-6IYt06N_"
                             "oRCwWxOtif1M",
                             EXPIRES, 0),
                 BE_AUTH_REASON_BAD_SIGNATURE);
    /* a forged, expired link is a bad signature, not "expired" */
    BE_CHECK_INT(check_query(&wrong, HEX, "expires=1700000000&sig=" SIG_CUR, EXPIRES + 999, 0),
                 BE_AUTH_REASON_BAD_SIGNATURE);
}

static void
test_auth_previous_secret_passes_a_third_does_not(void)
{
    be_auth_keys_t both, cur_only, rotated;
    keys_of(&both, CURRENT, PREVIOUS);
    keys_of(&cur_only, CURRENT, NULL);
    keys_of(&rotated, "the-newest-secret-xyz", CURRENT); /* PREVIOUS is now the third */
    BE_CHECK_INT(check_query(&both, HEX, "expires=1700000000&sig=" SIG_PREV, EXPIRES, 0),
                 BE_AUTH_REASON_OK);
    BE_CHECK_INT(check_query(&both, HEX, "expires=1700000000&sig=" SIG_CUR, EXPIRES, 0),
                 BE_AUTH_REASON_OK);
    BE_CHECK_INT(check_query(&cur_only, HEX, "expires=1700000000&sig=" SIG_PREV, EXPIRES, 0),
                 BE_AUTH_REASON_BAD_SIGNATURE);
    BE_CHECK_INT(check_query(&rotated, HEX, "expires=1700000000&sig=" SIG_PREV, EXPIRES, 0),
                 BE_AUTH_REASON_BAD_SIGNATURE);
    BE_CHECK_INT(check_query(&rotated, HEX, "expires=1700000000&sig=" SIG_CUR, EXPIRES, 0),
                 BE_AUTH_REASON_OK);
}

static void
test_auth_expiry_and_skew_boundaries(void)
{
    be_auth_keys_t k;
    const char *q = "expires=1700000000&sig=" SIG_CUR;
    keys_of(&k, CURRENT, NULL);
    /* no skew: good through the second named, expired one second later */
    BE_CHECK_INT(check_query(&k, HEX, q, EXPIRES - 86400, 0), BE_AUTH_REASON_OK);
    BE_CHECK_INT(check_query(&k, HEX, q, EXPIRES, 0), BE_AUTH_REASON_OK);
    BE_CHECK_INT(check_query(&k, HEX, q, EXPIRES + 1, 0), BE_AUTH_REASON_EXPIRED);
    /* 30 s of skew: good through expires + 30, expired at + 31 */
    BE_CHECK_INT(check_query(&k, HEX, q, EXPIRES + 30, 30000), BE_AUTH_REASON_OK);
    BE_CHECK_INT(check_query(&k, HEX, q, EXPIRES + 31, 30000), BE_AUTH_REASON_EXPIRED);
    /* sub-second skew: 999 ms does not cover a whole second more, 1000 ms does */
    BE_CHECK_INT(check_query(&k, HEX, q, EXPIRES + 1, 999), BE_AUTH_REASON_EXPIRED);
    BE_CHECK_INT(check_query(&k, HEX, q, EXPIRES + 1, 1000), BE_AUTH_REASON_OK);
    /* the largest expires accepted, checked at a time far past it */
    BE_CHECK_INT(check_query(&k, HEX, "expires=99999999999&sig=" SIG_MAX, 99999999999ll, 0),
                 BE_AUTH_REASON_OK);
    BE_CHECK_INT(check_query(&k, HEX, "expires=99999999999&sig=" SIG_MAX, 100000000000ll, 0),
                 BE_AUTH_REASON_EXPIRED);
}

static void
test_auth_base64url_edges(void)
{
    be_auth_token_t tok;
    const char *bad[] = {
        "expires=1700000000&sig=" SIG_CUR "=",                                 /* padding */
        "expires=1700000000&sig=D2tiv8LrHuV3l8wBJXY5k/+6IYt06N/oRCwWxOtif1M",  /* + and / */
        "expires=1700000000&sig=D2tiv8LrHuV3l8wBJXY5k_-6IYt06N_oRCwWxOtif1N",  /* low bits */
        "expires=1700000000&sig=D2tiv8LrHuV3l8wBJXY5k_-6IYt06N_oRCwWxOtif1",   /* 42 chars */
        "expires=1700000000&sig=D2tiv8LrHuV3l8wBJXY5k_-6IYt06N_oRCwWxOtif1MA", /* 44 chars */
        "expires=1700000000&sig=D2tiv8LrHuV3l8wBJXY5k_-6IYt06N_oRCwWxOtif%31", /* escaped */
        "expires=1700000000&sig=D2tiv8LrHuV3l8wBJXY5k_-6IYt06N_oRCwWx tif1M",  /* space */
    };
    for (size_t i = 0; i < BE_ARRAY_LEN(bad); i++)
        BE_CHECK_INT(be_auth_parse_query(bad[i], strlen(bad[i]), &tok), BE_AUTH_REASON_MALFORMED);

    /* every byte value round-trips through the encoder and the parser */
    unsigned char mac[BE_AUTH_MAC_LEN];
    char sig[BE_AUTH_SIG_LEN + 1], q[128];
    for (int b = 0; b < 256; b += 17) {
        for (int i = 0; i < BE_AUTH_MAC_LEN; i++)
            mac[i] = (unsigned char)(b + i * 31);
        be_auth_encode_sig(mac, sig);
        BE_CHECK_INT(strlen(sig), BE_AUTH_SIG_LEN);
        snprintf(q, sizeof(q), "expires=5&sig=%s", sig);
        BE_CHECK_INT(be_auth_parse_query(q, strlen(q), &tok), BE_AUTH_REASON_OK);
        BE_CHECK(memcmp(tok.mac, mac, sizeof(mac)) == 0);
    }
}

static void
test_auth_malformed_and_missing_queries(void)
{
    be_auth_token_t tok;
    static const struct {
        const char *q;
        int why;
    } v[] = {
        {"", BE_AUTH_REASON_MISSING},
        {"a=1&b=2", BE_AUTH_REASON_MISSING},
        {"expiresx=1&sigx=2", BE_AUTH_REASON_MISSING},
        {"expires=1700000000", BE_AUTH_REASON_MALFORMED},
        {"sig=" SIG_CUR, BE_AUTH_REASON_MALFORMED},
        {"expires=1700000000&sig=", BE_AUTH_REASON_MALFORMED},
        {"expires=1700000000&sig", BE_AUTH_REASON_MALFORMED},
        {"expires=&sig=" SIG_CUR, BE_AUTH_REASON_MALFORMED},
        {"expires=1700000000&sig=" SIG_CUR "&sig=" SIG_CUR, BE_AUTH_REASON_MALFORMED},
        {"expires=1&expires=1700000000&sig=" SIG_CUR, BE_AUTH_REASON_MALFORMED},
        {"expires=100000000000&sig=" SIG_CUR, BE_AUTH_REASON_MALFORMED},
        {"expires=99999999999999999999999999&sig=" SIG_CUR, BE_AUTH_REASON_MALFORMED},
        {"expires=01700000000&sig=" SIG_CUR, BE_AUTH_REASON_MALFORMED},
        {"expires=-1&sig=" SIG_CUR, BE_AUTH_REASON_MALFORMED},
        {"expires=+1700000000&sig=" SIG_CUR, BE_AUTH_REASON_MALFORMED},
        {"expires=17e8&sig=" SIG_CUR, BE_AUTH_REASON_MALFORMED},
        {"expires=0x1&sig=" SIG_CUR, BE_AUTH_REASON_MALFORMED},
    };
    for (size_t i = 0; i < BE_ARRAY_LEN(v); i++) {
        int got = be_auth_parse_query(v[i].q, strlen(v[i].q), &tok);
        if (got != v[i].why)
            fprintf(stderr, "query \"%s\"\n", v[i].q);
        BE_CHECK_INT(got, v[i].why);
    }
    BE_CHECK_INT(be_auth_parse_query("expires=0&sig=" SIG_CUR, 14 + BE_AUTH_SIG_LEN, &tok),
                 BE_AUTH_REASON_OK);
    BE_CHECK_INT(tok.expires, 0);
}

static void
test_auth_bearer_form(void)
{
    be_auth_keys_t k;
    be_auth_token_t tok;
    const char *good[] = {"Bearer 1700000000." SIG_CUR, "bearer 1700000000." SIG_CUR,
                          "  BEARER\t1700000000." SIG_CUR " \r"};
    keys_of(&k, CURRENT, NULL);
    for (size_t i = 0; i < BE_ARRAY_LEN(good); i++) {
        BE_CHECK_INT(be_auth_parse_bearer(good[i], strlen(good[i]), &tok), BE_AUTH_REASON_OK);
        BE_CHECK_INT(be_auth_check(&k, HEX, &tok, EXPIRES, 0), BE_AUTH_REASON_OK);
    }
    BE_CHECK_INT(be_auth_parse_bearer(NULL, 0, &tok), BE_AUTH_REASON_MISSING);
    BE_CHECK_INT(be_auth_parse_bearer("Basic dXNlcjpwYXNz", 18, &tok), BE_AUTH_REASON_MISSING);
    BE_CHECK_INT(be_auth_parse_bearer("Bearerx 1." SIG_CUR, 10 + BE_AUTH_SIG_LEN, &tok),
                 BE_AUTH_REASON_MISSING);
    const char *bad[] = {"Bearer",
                         "Bearer ",
                         "Bearer 1700000000",
                         "Bearer ." SIG_CUR,
                         "Bearer 1700000000." SIG_CUR "x",
                         "Bearer 1700000000 ." SIG_CUR,
                         "Bearer expires=1700000000&sig=" SIG_CUR};
    for (size_t i = 0; i < BE_ARRAY_LEN(bad); i++)
        BE_CHECK_INT(be_auth_parse_bearer(bad[i], strlen(bad[i]), &tok), BE_AUTH_REASON_MALFORMED);
}

/* Writes text to dir/name (mode 0600) and reads it as a secret file. */
static int
read_secrets(const char *name, const char *text, be_auth_keys_t *k, int *loose)
{
    char path[1024];
    fixture_write_file(dir, name, text, strlen(text));
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    chmod(path, 0600);
    err[0] = '\0';
    return be_auth_read_secrets(path, k, loose, err, sizeof(err));
}

static void
test_auth_secret_file_rules(void)
{
    be_auth_keys_t k;
    int loose = 1;
    char path[1024];

    fixture_tmpdir(dir, sizeof(dir), "auth");
    BE_CHECK_INT(read_secrets("one", CURRENT "\n", &k, &loose), BE_OK);
    BE_CHECK_INT(k.n, 1);
    BE_CHECK_INT(loose, 0);
    BE_CHECK(k.len[0] == strlen(CURRENT) && memcmp(k.key[0], CURRENT, k.len[0]) == 0);
    BE_CHECK_INT(read_secrets("two",
                              "# rotated 2024-01-01\n\n  " CURRENT "  \r\n\n# old\n" PREVIOUS, &k,
                              &loose),
                 BE_OK);
    BE_CHECK_INT(k.n, 2);
    BE_CHECK(k.len[1] == strlen(PREVIOUS) && memcmp(k.key[1], PREVIOUS, k.len[1]) == 0);

    BE_CHECK_INT(read_secrets("three", CURRENT "\n" PREVIOUS "\n\n#x\nthird-secret-0123456789\n",
                              &k, &loose),
                 BE_ERROR);
    snprintf(path, sizeof(path),
             "a third secret (at most two: the current one, then the "
             "previous one) in %s/three:5",
             dir);
    BE_CHECK_STR(err, path);
    BE_CHECK_INT(k.n, 0); /* nothing half-read is kept */
    BE_CHECK_INT(read_secrets("short", "# c\nshort-secret\n", &k, &loose), BE_ERROR);
    BE_CHECK(strstr(err, "shorter than 16 bytes") != NULL && strstr(err, "/short:2") != NULL);
    BE_CHECK_INT(read_secrets("empty", "", &k, &loose), BE_ERROR);
    BE_CHECK(strstr(err, "holds no secret") != NULL);
    BE_CHECK_INT(read_secrets("comments", "# only\n\n   \n", &k, &loose), BE_ERROR);
    BE_CHECK(strstr(err, "holds no secret") != NULL);
    BE_CHECK_INT(read_secrets("spaced", "a secret with spaces in it\n", &k, &loose), BE_ERROR);
    BE_CHECK(strstr(err, "a space") != NULL && strstr(err, "/spaced:1") != NULL);

    static char big[BE_AUTH_FILE_MAX + 2];
    memset(big, '#', sizeof(big) - 1);
    BE_CHECK_INT(read_secrets("big", big, &k, &loose), BE_ERROR);
    BE_CHECK(strstr(err, "larger than 65536 bytes") != NULL);
    char longer[BE_AUTH_SECRET_MAX + 2];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    BE_CHECK_INT(read_secrets("long", longer, &k, &loose), BE_ERROR);
    BE_CHECK(strstr(err, "longer than 256 bytes") != NULL);

    snprintf(path, sizeof(path), "%s/one", dir);
    chmod(path, 0640);
    BE_CHECK_INT(be_auth_read_secrets(path, &k, &loose, err, sizeof(err)), BE_OK);
    BE_CHECK_INT(loose, 1);
    snprintf(path, sizeof(path), "%s/absent", dir);
    BE_CHECK_INT(be_auth_read_secrets(path, &k, &loose, err, sizeof(err)), BE_ERROR);
    BE_CHECK(strstr(err, "open()") != NULL && strstr(err, "No such file") != NULL);
    BE_CHECK_INT(be_auth_read_secrets(dir, &k, &loose, err, sizeof(err)), BE_ERROR);
    BE_CHECK(strstr(err, "not a regular file") != NULL);
    fixture_rmdir(dir);
}

static void
test_auth_redact_never_logs_a_signature(void)
{
    char out[256], small[40];
    const char *p = "/blocks/" HEX "?expires=1700000000&sig=" SIG_CUR "&x=1";

    be_auth_redact(out, sizeof(out), p, strlen(p));
    BE_CHECK_STR(out, "/blocks/" HEX "?expires=1700000000&sig=REDACTED&x=1");
    p = "/blocks/x?sig=abc&sig&sig=&a=sig=1";
    be_auth_redact(out, sizeof(out), p, strlen(p));
    BE_CHECK_STR(out, "/blocks/x?sig=REDACTED&sig=REDACTED&sig=REDACTED&a=sig=1");
    p = "/blocks/x";
    be_auth_redact(out, sizeof(out), p, strlen(p));
    BE_CHECK_STR(out, "/blocks/x");
    /* cut short: the signature is dropped whole, never a prefix of it */
    p = "/blocks/0123456789012345678901?sig=" SIG_CUR;
    be_auth_redact(small, sizeof(small), p, strlen(p));
    BE_CHECK(strstr(small, "D2t") == NULL);
    BE_CHECK_STR(small, "/blocks/0123456789012345678901?");
    p = "/blocks/x?sig=" SIG_CUR;
    be_auth_redact(small, sizeof(small), p, strlen(p));
    BE_CHECK_STR(small, "/blocks/x?sig=REDACTED");
}

static void
test_auth_labels_and_texts(void)
{
    BE_CHECK_STR(be_auth_label(BE_AUTH_REASON_BAD_SIGNATURE), "bad_signature");
    BE_CHECK_STR(be_auth_text(BE_AUTH_REASON_BAD_SIGNATURE), "bad signature");
    BE_CHECK_STR(be_auth_text(BE_AUTH_REASON_EXPIRED), "expired");
    BE_CHECK_STR(be_auth_text(BE_AUTH_REASON_MISSING), "missing");
    BE_CHECK_STR(be_auth_label(BE_AUTH_REASON_MALFORMED), "malformed");
}

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Runs n checks of tok (whole: the HMAC and the comparison) or n comparisons alone;
 * returns the nanoseconds taken. */
static double
time_batch(const be_auth_keys_t *k, const be_auth_token_t *tok, const unsigned char *right,
           int whole, int n, volatile int *sink)
{
    double t0 = now_ns();
    for (int i = 0; i < n; i++)
        *sink += whole ? be_auth_check(k, HEX, tok, EXPIRES, 0)
                       : CRYPTO_memcmp(right, tok->mac, BE_AUTH_MAC_LEN) != 0;
    return now_ns() - t0;
}

/* Not a check: prints how long a wrong signature takes when it differs in its first byte
 * and in its last, over the whole check and over the comparison alone. After a warm-up, the
 * 10,000 of each side run in 100 batches whose order alternates (first, last; then last,
 * first), so drift in the machine's speed falls on both sides alike. */
static void
test_auth_timing_first_vs_last_byte_printed(void)
{
    enum { N = 10000, BATCHES = 100 };
    be_auth_keys_t k;
    be_auth_token_t first, last;
    unsigned char right[BE_AUTH_MAC_LEN];
    double t[2][2] = {{0, 0}, {0, 0}}; /* [whole][first, last] */
    volatile int sink = 0;

    keys_of(&k, CURRENT, NULL);
    BE_CHECK_INT(
        be_auth_parse_query("expires=1700000000&sig=" SIG_CUR, 19 + 4 + BE_AUTH_SIG_LEN, &first),
        BE_AUTH_REASON_OK);
    memcpy(right, first.mac, sizeof(right));
    last = first;
    first.mac[0] ^= 0x01;
    last.mac[BE_AUTH_MAC_LEN - 1] ^= 0x01;
    for (int whole = 0; whole < 2; whole++) {
        time_batch(&k, &first, right, whole, N / 10, &sink); /* warm-up */
        time_batch(&k, &last, right, whole, N / 10, &sink);
        for (int b = 0; b < BATCHES; b++) {
            int order = b & 1;
            for (int side = 0; side < 2; side++) {
                int which = side ^ order;
                t[whole][which] +=
                    time_batch(&k, which == 0 ? &first : &last, right, whole, N / BATCHES, &sink);
            }
        }
    }
    BE_CHECK(sink > 0);
    printf("timing: %d checks (HMAC + compare) of a wrong signature: first byte differs "
           "%.1f ns, last byte differs %.1f ns, ratio %.3f\n",
           N, t[1][0] / N, t[1][1] / N, t[1][0] / t[1][1]);
    printf("timing: %d CRYPTO_memcmp alone: first byte differs %.2f ns, last byte differs "
           "%.2f ns, ratio %.3f\n",
           N, t[0][0] / N, t[0][1] / N, t[0][0] / t[0][1]);
}

int
main(void)
{
    BE_RUN(test_auth_mac_matches_openssl_vectors);
    BE_RUN(test_auth_valid_query_passes_in_any_order_among_other_parameters);
    BE_RUN(test_auth_tampered_key_expires_or_secret_is_bad_signature);
    BE_RUN(test_auth_previous_secret_passes_a_third_does_not);
    BE_RUN(test_auth_expiry_and_skew_boundaries);
    BE_RUN(test_auth_base64url_edges);
    BE_RUN(test_auth_malformed_and_missing_queries);
    BE_RUN(test_auth_bearer_form);
    BE_RUN(test_auth_secret_file_rules);
    BE_RUN(test_auth_redact_never_logs_a_signature);
    BE_RUN(test_auth_labels_and_texts);
    BE_RUN(test_auth_timing_first_vs_last_byte_printed);
    BE_TEST_EXIT();
}
