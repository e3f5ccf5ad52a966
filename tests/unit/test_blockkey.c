/*
 * test_blockkey.c - block names: the strict 64-hex-digit parser and its lower-case output,
 * the table hash, and SHA-256 (known vectors, streaming equals one-shot).
 */
#include <ctype.h>
#include <string.h>

#include "blockedge/blockkey.h"
#include "test.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC_SHA256   "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

/* s followed by '0's up to exactly 64 characters. */
static const char *
pad64(char *buf, const char *s)
{
    size_t n = strlen(s);
    memcpy(buf, s, n);
    memset(buf + n, '0', BE_KEY_HEX_LEN - n);
    buf[BE_KEY_HEX_LEN] = '\0';
    return buf;
}

static void
test_blockkey_hex_round_trip_accepts_upper_and_writes_lower(void)
{
    const char *upper = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
    char out[BE_KEY_HEX_LEN + 1];
    be_key_t k;

    BE_CHECK_INT(be_key_from_hex(upper, strlen(upper), &k), BE_OK);
    BE_CHECK_INT(k.d[0], 0xba);
    BE_CHECK_INT(k.d[1], 0x78);
    BE_CHECK_INT(k.d[31], 0xad);
    BE_CHECK(be_key_to_hex(&k, out) == out);
    BE_CHECK_STR(out, ABC_SHA256);

    be_key_t k2;
    BE_CHECK_INT(be_key_from_hex(ABC_SHA256, BE_KEY_HEX_LEN, &k2), BE_OK);
    BE_CHECK(be_key_equal(&k, &k2));
    k2.d[31] ^= 1;
    BE_CHECK(!be_key_equal(&k, &k2));
}

static void
test_blockkey_rejects_wrong_length(void)
{
    char s[BE_KEY_HEX_LEN + 2];
    be_key_t k;

    memset(s, 'a', sizeof(s) - 1);
    s[sizeof(s) - 1] = '\0';
    BE_CHECK_INT(be_key_from_hex(s, 63, &k), BE_ERROR);
    BE_CHECK_INT(be_key_from_hex(s, 65, &k), BE_ERROR);
    BE_CHECK_INT(be_key_from_hex(s, 0, &k), BE_ERROR);
    BE_CHECK_INT(be_key_from_hex(s, 64, &k), BE_OK);
}

static void
test_blockkey_rejects_non_hex_and_traversal(void)
{
    char s[BE_KEY_HEX_LEN + 1];
    be_key_t k;

    BE_CHECK_INT(be_key_from_hex(pad64(s, ".."), BE_KEY_HEX_LEN, &k), BE_ERROR);
    BE_CHECK_INT(be_key_from_hex(pad64(s, "%2e%2e"), BE_KEY_HEX_LEN, &k), BE_ERROR);
    BE_CHECK_INT(be_key_from_hex(pad64(s, "g"), BE_KEY_HEX_LEN, &k), BE_ERROR);
    BE_CHECK_INT(be_key_from_hex(pad64(s, "0x"), BE_KEY_HEX_LEN, &k), BE_ERROR);
    BE_CHECK_INT(be_key_from_hex(pad64(s, "/"), BE_KEY_HEX_LEN, &k), BE_ERROR);
    BE_CHECK_INT(be_key_from_hex(pad64(s, " 1"), BE_KEY_HEX_LEN, &k), BE_ERROR);

    /* a bad digit at the very end, and an embedded NUL, are caught as well */
    pad64(s, "");
    s[63] = 'z';
    BE_CHECK_INT(be_key_from_hex(s, BE_KEY_HEX_LEN, &k), BE_ERROR);
    s[63] = '0';
    s[10] = '\0';
    BE_CHECK_INT(be_key_from_hex(s, BE_KEY_HEX_LEN, &k), BE_ERROR);

    /* every byte value, at an even and an odd position: accepted exactly when a hex digit,
     * and then worth its value */
    for (int ch = 0; ch < 256; ch++) {
        for (int pos = 0; pos < 2; pos++) {
            pad64(s, "");
            s[pos] = (char)ch;
            int want = isxdigit(ch) ? BE_OK : BE_ERROR;
            BE_CHECK_INT(be_key_from_hex(s, BE_KEY_HEX_LEN, &k), want);
            if (want == BE_OK) {
                int v = ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10;
                BE_CHECK_INT(pos == 0 ? k.d[0] >> 4 : k.d[0] & 0xf, v);
            }
        }
    }
}

static void
test_blockkey_hash_is_first_eight_digest_bytes(void)
{
    be_key_t k;
    uint64_t want;

    BE_CHECK_INT(be_key_from_hex(ABC_SHA256, BE_KEY_HEX_LEN, &k), BE_OK);
    memcpy(&want, k.d, sizeof(want));
    BE_CHECK(be_key_hash(&k) == want);
    k.d[8] ^= 0xff; /* bytes past the first 8 do not move the hash */
    BE_CHECK(be_key_hash(&k) == want);
}

static void
test_blockkey_sha256_known_vectors(void)
{
    char hex[BE_KEY_HEX_LEN + 1];
    be_key_t k;

    BE_CHECK_INT(be_sha256("", 0, &k), BE_OK);
    BE_CHECK_STR(be_key_to_hex(&k, hex), EMPTY_SHA256);
    BE_CHECK_INT(be_sha256("abc", 3, &k), BE_OK);
    BE_CHECK_STR(be_key_to_hex(&k, hex), ABC_SHA256);
}

static void
test_blockkey_sha256_streaming_equals_one_shot(void)
{
    unsigned char buf[1000];
    be_key_t one, streamed, empty;
    be_sha256_t h = {0};

    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 7 + 3);
    BE_CHECK_INT(be_sha256(buf, sizeof(buf), &one), BE_OK);

    /* uneven pieces, a zero-length one among them */
    static const size_t pieces[] = {1, 0, 63, 64, 65, 300, 507};
    BE_CHECK_INT(be_sha256_init(&h), BE_OK);
    size_t off = 0;
    for (size_t i = 0; i < BE_ARRAY_LEN(pieces); i++) {
        BE_CHECK_INT(be_sha256_update(&h, buf + off, pieces[i]), BE_OK);
        off += pieces[i];
    }
    BE_CHECK_INT(off, sizeof(buf));
    BE_CHECK_INT(be_sha256_final(&h, &streamed), BE_OK);
    be_sha256_free(&h);
    BE_CHECK(h.ctx == NULL);
    be_sha256_free(&h); /* safe twice */
    BE_CHECK(be_key_equal(&one, &streamed));

    /* a hasher fed nothing gives the empty vector */
    char hex[BE_KEY_HEX_LEN + 1];
    BE_CHECK_INT(be_sha256_init(&h), BE_OK);
    BE_CHECK_INT(be_sha256_final(&h, &empty), BE_OK);
    be_sha256_free(&h);
    BE_CHECK_STR(be_key_to_hex(&empty, hex), EMPTY_SHA256);
}

int
main(void)
{
    BE_RUN(test_blockkey_hex_round_trip_accepts_upper_and_writes_lower);
    BE_RUN(test_blockkey_rejects_wrong_length);
    BE_RUN(test_blockkey_rejects_non_hex_and_traversal);
    BE_RUN(test_blockkey_hash_is_first_eight_digest_bytes);
    BE_RUN(test_blockkey_sha256_known_vectors);
    BE_RUN(test_blockkey_sha256_streaming_equals_one_shot);
    BE_TEST_EXIT();
}
