/*
 * adminauth.h - the admin listener's bearer token: read once from admin_token_file when the
 * configuration is loaded, and checked on every write request (purge, prefetch) in constant
 * time. Knows no HTTP beyond the Authorization header's value and no configuration struct.
 */
#ifndef BLOCKEDGE_ADMINAUTH_H
#define BLOCKEDGE_ADMINAUTH_H

#include <stddef.h>

#include "blockedge/defs.h"

#define BE_ADMIN_TOKEN_MAX 512 /* bytes of a token */

/*
 * Reads the token held by the file at path: its whole content, without leading and trailing
 * white space, must be 1..BE_ADMIN_TOKEN_MAX visible ASCII characters (no space inside).
 * BE_OK with the token and a NUL in token[cap] (cap > BE_ADMIN_TOKEN_MAX); BE_ERROR with one
 * line in err, e.g. `open() "/etc/blockedge/token" failed (13: Permission denied)` or
 * `"/etc/blockedge/token" is empty`. Blocking; thread: any.
 */
/* Reads a small secret file whole into buf (room for max + 1 bytes): a regular file only,
 * nothing past max + 1 bytes read. *loose (when not NULL) says whether group or others may
 * read it. BE_OK with *len; BE_DECLINED: larger than max; BE_ERROR: err says why. Shared by
 * the admin token and the signed-URL secrets. */
int be_secret_file_read(const char *path, char *buf, size_t max, size_t *len, int *loose, char *err,
                        size_t errlen);

int be_adminauth_read(const char *path, char *token, size_t cap, char *err, size_t errlen);

/* How a request's credentials compare with the token. */
enum be_auth_result {
    BE_AUTH_OK,      /* the right token, or no token is configured */
    BE_AUTH_MISSING, /* no "Authorization: Bearer ..." */
    BE_AUTH_WRONG    /* a bearer token that is not the one */
};

/*
 * Checks the value of an Authorization header (value: len bytes, or NULL when the request had
 * none) against token ("" means none is configured: BE_AUTH_OK). The scheme "Bearer" is
 * matched without regard to case, and the token in constant time (be_adminauth_equal).
 * Returns an enum be_auth_result.
 */
int be_adminauth_check(const char *token, const char *value, size_t len);

/*
 * Whether a[0..alen) equals b[0..blen), in time that depends on neither where they differ nor
 * the length of the secret: both are hashed with SHA-256 and the digests compared with
 * OpenSSL's CRYPTO_memcmp (which needs equal lengths, and a token's length is a secret too).
 * 1 or 0; 0 also if hashing fails.
 */
int be_adminauth_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
