/*
 * auth.h - signed URLs: the secret file, the token a block request carries, and the check.
 *
 * A request for /blocks/<hex> is let through when it carries an expiry time and an HMAC-SHA256
 * over "<hex>\n<expires>" made with one of the configured secrets (current or previous):
 *   ?expires=<unix seconds>&sig=<base64url, no padding, of the 32-byte MAC>
 * or, for clients that cannot change URLs, "Authorization: Bearer <expires>.<sig>".
 * Pure functions: no configuration struct, no clock (callers pass the time), no allocation,
 * no logging, so the unit tests and a fuzz target drive them directly. Thread: any.
 */
#ifndef BLOCKEDGE_AUTH_H
#define BLOCKEDGE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "blockedge/defs.h"

#define BE_AUTH_SECRETS        2             /* current and previous */
#define BE_AUTH_SECRET_MIN     16            /* bytes: shorter is refused */
#define BE_AUTH_SECRET_MAX     256           /* bytes of one secret */
#define BE_AUTH_FILE_MAX       (64 * 1024)   /* a larger secret file is refused */
#define BE_AUTH_MAC_LEN        32            /* HMAC-SHA256 */
#define BE_AUTH_SIG_LEN        43            /* base64url of 32 bytes, without padding */
#define BE_AUTH_EXPIRES_MAX    99999999999ll /* 11 digits (year 5138): more is malformed */
#define BE_AUTH_EXPIRES_DIGITS 11

enum be_auth_mode { BE_AUTH_MODE_OFF, BE_AUTH_MODE_SIGNED };

/* The verdict of a check (tbl/auth_reasons.h): OK, or why the request is refused. */
enum be_auth_reason {
#define X(id, label, text) BE_AUTH_REASON_##id,
#include "blockedge/tbl/auth_reasons.h"
#undef X
    BE_AUTH_REASON_N
};

/* The secrets, as the configuration holds them: n of them, the current one first. */
typedef struct be_auth_keys_s {
    int n;
    size_t len[BE_AUTH_SECRETS];
    unsigned char key[BE_AUTH_SECRETS][BE_AUTH_SECRET_MAX];
} be_auth_keys_t;

/* What a request presented: parsed, not yet checked. */
typedef struct be_auth_token_s {
    int64_t expires;
    char expires_text[BE_AUTH_EXPIRES_DIGITS + 1]; /* as signed: canonical decimal */
    unsigned char mac[BE_AUTH_MAC_LEN];
} be_auth_token_t;

/*
 * Reads the secret file at path into keys: one secret per line, the current one first and
 * an optional previous one second; blank lines and lines starting with '#' are skipped,
 * white space around a secret is dropped. A secret is its line's bytes as written (no
 * decoding), BE_AUTH_SECRET_MIN..BE_AUTH_SECRET_MAX visible ASCII characters. A third secret,
 * a short or long one, an empty file or one larger than BE_AUTH_FILE_MAX is an error. *loose
 * is set to 1 when group or others may read the file (worth a warning), else 0.
 * BE_OK, or BE_ERROR with one line in err naming "path" and, for a bad line, path:line.
 * Blocking; thread: any. The read buffer is wiped before returning.
 */
int be_auth_read_secrets(const char *path, be_auth_keys_t *keys, int *loose, char *err,
                         size_t errlen);

/*
 * Finds expires= and sig= in a query string (the bytes after '?', without a fragment), in
 * any order among other parameters, which are ignored. Returns BE_AUTH_REASON_OK with *tok
 * filled; MISSING when neither parameter is there; MALFORMED when only one is, when one
 * repeats, or when a value is not what it must be: expires 1..11 decimal digits without a
 * leading zero, sig exactly 43 base64url characters (A-Z a-z 0-9 - _, no padding, unused
 * low bits zero).
 */
int be_auth_parse_query(const char *query, size_t len, be_auth_token_t *tok);

/* The same token from an Authorization header's value: "Bearer <expires>.<sig>" (scheme in
 * any case, white space around). MISSING when value is NULL or another scheme; MALFORMED
 * when the token does not parse; OK with *tok filled. */
int be_auth_parse_bearer(const char *value, size_t len, be_auth_token_t *tok);

/* The MAC of hex (64 lowercase hex digits) and expires_text with a secret:
 * HMAC-SHA256(secret, "<hex>\n<expires_text>"). BE_OK or BE_ERROR (OpenSSL failed). */
int be_auth_mac(const unsigned char *secret, size_t slen, const char *hex, const char *expires_text,
                unsigned char mac[BE_AUTH_MAC_LEN]);

/*
 * Checks tok for the block hex against every secret of keys, at wall-clock time now_sec with
 * skew_ms of grace: the MAC is computed with each secret and compared with CRYPTO_memcmp,
 * all of them every time, so the time taken shows neither where a wrong signature differs
 * nor which secret matched. Then the expiry: the token is good while
 * now_sec * 1000 <= expires * 1000 + skew_ms. Returns BE_AUTH_REASON_OK, BAD_SIGNATURE
 * (no secret, or OpenSSL failed) or EXPIRED.
 */
int be_auth_check(const be_auth_keys_t *keys, const char *hex, const be_auth_token_t *tok,
                  int64_t now_sec, be_msec_t skew_ms);

/* Encodes a MAC as base64url without padding: BE_AUTH_SIG_LEN characters and a NUL. */
void be_auth_encode_sig(const unsigned char mac[BE_AUTH_MAC_LEN], char out[BE_AUTH_SIG_LEN + 1]);

/*
 * Copies path (plen bytes, as the client sent it) into dst (cap bytes, NUL-terminated,
 * truncated to fit) with the value of every "sig" query parameter replaced by "REDACTED",
 * so no log ever holds a signature, whole or cut. Returns the length written.
 */
size_t be_auth_redact(char *dst, size_t cap, const char *path, size_t plen);

/* The reason's metric label ("bad_signature") and 403 body text ("bad signature"). */
const char *be_auth_label(int reason);
const char *be_auth_text(int reason);

#endif
