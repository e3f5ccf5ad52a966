/*
 * blockkey.h - block names: a block is named by the SHA-256 of its bytes.
 *
 * A key is the 32-byte digest; its text form is 64 lower-case hex characters (upper case
 * is accepted on input). The digest is uniformly random, so its first 8 bytes serve as the
 * hash for every table. The streaming hasher wraps OpenSSL's EVP SHA-256.
 */
#ifndef BLOCKEDGE_BLOCKKEY_H
#define BLOCKEDGE_BLOCKKEY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "blockedge/defs.h"

#define BE_KEY_LEN     32
#define BE_KEY_HEX_LEN 64

typedef struct be_key_s {
    uint8_t d[BE_KEY_LEN];
} be_key_t;

/* Parses exactly 64 hex characters (len must be 64). BE_OK or BE_ERROR. */
int be_key_from_hex(const char *hex, size_t len, be_key_t *out);

/* Writes 64 lower-case hex characters and a NUL into out[65]. Returns out. */
char *be_key_to_hex(const be_key_t *key, char *out);

/* The table hash: the digest's first 8 bytes. Inline: every table lookup on a hit calls it. */
static inline uint64_t
be_key_hash(const be_key_t *key)
{
    uint64_t h;
    memcpy(&h, key->d, sizeof(h));
    return h;
}

static inline int
be_key_equal(const be_key_t *a, const be_key_t *b)
{
    return memcmp(a->d, b->d, BE_KEY_LEN) == 0;
}

/* Streaming SHA-256. _init returns BE_OK or BE_ERROR (OpenSSL failure); _free is safe on a
 * zeroed or already-freed hasher. */
typedef struct be_sha256_s {
    void *ctx; /* EVP_MD_CTX */
} be_sha256_t;

int be_sha256_init(be_sha256_t *h);
int be_sha256_update(be_sha256_t *h, const void *data, size_t len);
int be_sha256_final(be_sha256_t *h, be_key_t *out);
void be_sha256_free(be_sha256_t *h);

/* One-shot digest of a buffer. */
int be_sha256(const void *data, size_t len, be_key_t *out);

#endif
