/*
 * blockkey.c - hex <-> digest conversion, the table hash, and streaming SHA-256.
 *
 * Knows nothing of blocks or caches. Parsing is strict: exactly 64 hex digits, nothing
 * else, so that "..", "%2e" or a trailing "/" can never name a block.
 */
#include <string.h>

#include <openssl/evp.h>

#include "blockedge/blockkey.h"

/* A digit's value plus one; 0 for anything that is not a hex digit. A table, since every
 * request parses 64 of them. */
static const uint8_t hexval1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

int
be_key_from_hex(const char *hex, size_t len, be_key_t *out)
{
    if (len != BE_KEY_HEX_LEN)
        return BE_ERROR;
    const unsigned char *p = (const unsigned char *)hex;
    int ok = 1;
    for (size_t i = 0; i < BE_KEY_LEN; i++) {
        unsigned hi = hexval1[p[2 * i]], lo = hexval1[p[2 * i + 1]];
        ok &= (hi != 0) & (lo != 0);
        out->d[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
    }
    return ok ? BE_OK : BE_ERROR;
}

char *
be_key_to_hex(const be_key_t *key, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < BE_KEY_LEN; i++) {
        out[2 * i] = digits[key->d[i] >> 4];
        out[2 * i + 1] = digits[key->d[i] & 0xf];
    }
    out[BE_KEY_HEX_LEN] = '\0';
    return out;
}

int
be_sha256_init(be_sha256_t *h)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return BE_ERROR;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return BE_ERROR;
    }
    h->ctx = ctx;
    return BE_OK;
}

int
be_sha256_update(be_sha256_t *h, const void *data, size_t len)
{
    return EVP_DigestUpdate(h->ctx, data, len) == 1 ? BE_OK : BE_ERROR;
}

int
be_sha256_final(be_sha256_t *h, be_key_t *out)
{
    unsigned int n = 0;
    int rc = EVP_DigestFinal_ex(h->ctx, out->d, &n);
    return rc == 1 && n == BE_KEY_LEN ? BE_OK : BE_ERROR;
}

void
be_sha256_free(be_sha256_t *h)
{
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

int
be_sha256(const void *data, size_t len, be_key_t *out)
{
    unsigned int n = 0;
    if (EVP_Digest(data, len, out->d, &n, EVP_sha256(), NULL) != 1 || n != BE_KEY_LEN)
        return BE_ERROR;
    return BE_OK;
}
