/*
 * blockkey.c - hex <-> digest conversion, the table hash, and streaming SHA-256.
 *
 * Knows nothing of blocks or caches. Parsing is strict: exactly 64 hex digits, nothing
 * else, so that "..", "%2e" or a trailing "/" can never name a block.
 */
#include <string.h>

#include <openssl/evp.h>

#include "blockedge/blockkey.h"

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
be_key_from_hex(const char *hex, size_t len, be_key_t *out)
{
    if (len != BE_KEY_HEX_LEN)
        return BE_ERROR;
    for (size_t i = 0; i < BE_KEY_LEN; i++) {
        int hi = hexval((unsigned char)hex[2 * i]);
        int lo = hexval((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return BE_ERROR;
        out->d[i] = (uint8_t)(hi << 4 | lo);
    }
    return BE_OK;
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

uint64_t
be_key_hash(const be_key_t *key)
{
    uint64_t h;
    memcpy(&h, key->d, sizeof(h));
    return h;
}

int
be_key_equal(const be_key_t *a, const be_key_t *b)
{
    return memcmp(a->d, b->d, BE_KEY_LEN) == 0;
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
