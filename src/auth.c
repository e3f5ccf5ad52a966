/*
 * auth.c - signed URLs: the secret file's format, the token's two spellings (query and
 * bearer), the HMAC and its constant-time check, and the redaction of signatures from logs.
 *
 * Knows neither the request nor the configuration struct: request.c decides when a check is
 * due and what a refusal looks like; directives.c names the file in errors. Invariants: a
 * presented MAC is compared with CRYPTO_memcmp against the MAC of every configured secret,
 * so neither the position of a wrong byte nor which secret matched shows in the time taken;
 * the expiry is checked only after the signature, so "expired" is said of genuine links
 * alone. No allocation, no locks, no clock, no logging.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "blockedge/adminauth.h"
#include "blockedge/auth.h"

static const char *const labels[BE_AUTH_REASON_N] = {
#define X(id, label, text) label,
#include "blockedge/tbl/auth_reasons.h"
#undef X
};

static const char *const texts[BE_AUTH_REASON_N] = {
#define X(id, label, text) text,
#include "blockedge/tbl/auth_reasons.h"
#undef X
};

const char *
be_auth_label(int reason)
{
    return reason >= 0 && reason < BE_AUTH_REASON_N ? labels[reason] : "unknown";
}

const char *
be_auth_text(int reason)
{
    return reason >= 0 && reason < BE_AUTH_REASON_N ? texts[reason] : "forbidden";
}

/* ---- the secret file ------------------------------------------------------------------- */

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Parses the file's text into keys. BE_OK, or BE_ERROR with err. */
static int
parse_secrets(const char *path, const char *buf, size_t n, be_auth_keys_t *keys, char *err,
              size_t errlen)
{
    const char *p = buf, *end = buf + n;
    unsigned line = 0;

    keys->n = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol != NULL ? eol + 1 : end, *s = p, *e = eol != NULL ? eol : end;
        line++;
        p = next;
        while (s < e && is_space(*s))
            s++;
        while (e > s && is_space(e[-1]))
            e--;
        if (s == e || *s == '#')
            continue;
        size_t len = (size_t)(e - s);
        const char *why = NULL;
        if (keys->n == BE_AUTH_SECRETS)
            why = "a third secret (at most two: the current one, then the previous one)";
        else if (len < BE_AUTH_SECRET_MIN)
            why = "a secret shorter than 16 bytes";
        else if (len > BE_AUTH_SECRET_MAX)
            why = "a secret longer than 256 bytes";
        for (size_t i = 0; why == NULL && i < len; i++)
            if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
                why = "a space, a control or a non-ASCII character in a secret";
        if (why != NULL) {
            snprintf(err, errlen, "%s in %s:%u", why, path, line);
            return BE_ERROR;
        }
        memcpy(keys->key[keys->n], s, len);
        keys->len[keys->n] = len;
        keys->n++;
    }
    if (keys->n == 0) {
        snprintf(err, errlen, "\"%s\" holds no secret", path);
        return BE_ERROR;
    }
    return BE_OK;
}

int
be_auth_read_secrets(const char *path, be_auth_keys_t *keys, int *loose, char *err, size_t errlen)
{
    static _Thread_local char buf[BE_AUTH_FILE_MAX + 1];
    size_t n;
    int rc;

    memset(keys, 0, sizeof(*keys));
    *loose = 0;
    rc = be_secret_file_read(path, buf, BE_AUTH_FILE_MAX, &n, loose, err, errlen);
    if (rc == BE_DECLINED) {
        snprintf(err, errlen, "\"%s\" is larger than %d bytes", path, BE_AUTH_FILE_MAX);
        rc = BE_ERROR;
    } else if (rc == BE_OK) {
        rc = parse_secrets(path, buf, n, keys, err, errlen);
    }
    OPENSSL_cleanse(buf, n);
    if (rc != BE_OK)
        OPENSSL_cleanse(keys, sizeof(*keys));
    return rc;
}

/* ---- the token ------------------------------------------------------------------------- */

static int
b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decodes exactly BE_AUTH_SIG_LEN characters into a MAC; the last character's two unused
 * bits must be zero, so each MAC has one spelling. BE_OK or BE_ERROR. */
static int
decode_sig(const char *s, size_t len, unsigned char mac[BE_AUTH_MAC_LEN])
{
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;

    if (len != BE_AUTH_SIG_LEN)
        return BE_ERROR;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value((unsigned char)s[i]);
        if (v < 0)
            return BE_ERROR;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            mac[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return o == BE_AUTH_MAC_LEN && acc == 0 ? BE_OK : BE_ERROR;
}

void
be_auth_encode_sig(const unsigned char mac[BE_AUTH_MAC_LEN], char out[BE_AUTH_SIG_LEN + 1])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;

    for (size_t i = 0; i < BE_AUTH_MAC_LEN; i++) {
        acc = (acc << 8) | mac[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = alphabet[(acc >> bits) & 63];
        }
        acc &= (1u << bits) - 1;
    }
    if (bits > 0)
        out[o++] = alphabet[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}

/* expires: 1..11 digits, no sign, no leading zero. BE_OK or BE_ERROR. */
static int
parse_expires(const char *s, size_t len, be_auth_token_t *tok)
{
    int64_t v = 0;
    if (len == 0 || len > BE_AUTH_EXPIRES_DIGITS || (s[0] == '0' && len > 1))
        return BE_ERROR;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return BE_ERROR;
        v = v * 10 + (s[i] - '0');
    }
    tok->expires = v;
    memcpy(tok->expires_text, s, len);
    tok->expires_text[len] = '\0';
    return BE_OK;
}

int
be_auth_parse_query(const char *query, size_t len, be_auth_token_t *tok)
{
    const char *p = query, *end = query + len, *ev = NULL, *sv = NULL;
    size_t elen = 0, slen = 0;
    int ne = 0, ns = 0;

    memset(tok, 0, sizeof(*tok));
    while (p != NULL && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *ne_ = eq != NULL ? eq : pe, *v = eq != NULL ? eq + 1 : pe;
        size_t nlen = (size_t)(ne_ - p);
        if (nlen == 7 && memcmp(p, "expires", 7) == 0) {
            ne++;
            ev = v;
            elen = (size_t)(pe - v);
        } else if (nlen == 3 && memcmp(p, "sig", 3) == 0) {
            ns++;
            sv = v;
            slen = (size_t)(pe - v);
        }
        p = amp != NULL ? amp + 1 : NULL;
    }
    if (ne == 0 && ns == 0)
        return BE_AUTH_REASON_MISSING;
    if (ne != 1 || ns != 1 || parse_expires(ev, elen, tok) != BE_OK ||
        decode_sig(sv, slen, tok->mac) != BE_OK)
        return BE_AUTH_REASON_MALFORMED;
    return BE_AUTH_REASON_OK;
}

int
be_auth_parse_bearer(const char *value, size_t len, be_auth_token_t *tok)
{
    static const char scheme[] = "Bearer";
    const size_t sl = sizeof(scheme) - 1;

    memset(tok, 0, sizeof(*tok));
    if (value == NULL)
        return BE_AUTH_REASON_MISSING;
    while (len > 0 && is_space(*value)) {
        value++;
        len--;
    }
    while (len > 0 && is_space(value[len - 1]))
        len--;
    if (len < sl || strncasecmp(value, scheme, sl) != 0 ||
        (len > sl && value[sl] != ' ' && value[sl] != '\t'))
        return BE_AUTH_REASON_MISSING; /* another scheme is no signed-URL token */
    value += sl;
    len -= sl;
    while (len > 0 && is_space(*value)) {
        value++;
        len--;
    }
    const char *dot = memchr(value, '.', len);
    if (dot == NULL || parse_expires(value, (size_t)(dot - value), tok) != BE_OK ||
        decode_sig(dot + 1, len - (size_t)(dot - value) - 1, tok->mac) != BE_OK)
        return BE_AUTH_REASON_MALFORMED;
    return BE_AUTH_REASON_OK;
}

/* ---- the check ------------------------------------------------------------------------- */

int
be_auth_mac(const unsigned char *secret, size_t slen, const char *hex, const char *expires_text,
            unsigned char mac[BE_AUTH_MAC_LEN])
{
    char msg[64 + 1 + BE_AUTH_EXPIRES_DIGITS + 1];
    size_t elen = strlen(expires_text);
    unsigned mlen = 0;

    if (strlen(hex) != 64 || elen > BE_AUTH_EXPIRES_DIGITS || slen > (size_t)INT32_MAX)
        return BE_ERROR;
    memcpy(msg, hex, 64);
    msg[64] = '\n';
    memcpy(msg + 65, expires_text, elen);
    if (HMAC(EVP_sha256(), secret, (int)slen, (const unsigned char *)msg, 65 + elen, mac, &mlen) ==
            NULL ||
        mlen != BE_AUTH_MAC_LEN)
        return BE_ERROR;
    return BE_OK;
}

int
be_auth_check(const be_auth_keys_t *keys, const char *hex, const be_auth_token_t *tok,
              int64_t now_sec, be_msec_t skew_ms)
{
    unsigned char mac[BE_AUTH_MAC_LEN];
    int good = 0;

    for (int i = 0; i < keys->n && i < BE_AUTH_SECRETS; i++) {
        if (be_auth_mac(keys->key[i], keys->len[i], hex, tok->expires_text, mac) != BE_OK)
            return BE_AUTH_REASON_BAD_SIGNATURE;
        good |= CRYPTO_memcmp(mac, tok->mac, BE_AUTH_MAC_LEN) == 0;
    }
    OPENSSL_cleanse(mac, sizeof(mac));
    if (!good)
        return BE_AUTH_REASON_BAD_SIGNATURE;
    if (now_sec * 1000 > tok->expires * 1000 + skew_ms)
        return BE_AUTH_REASON_EXPIRED;
    return BE_AUTH_REASON_OK;
}

/* ---- logs ------------------------------------------------------------------------------ */

size_t
be_auth_redact(char *dst, size_t cap, const char *path, size_t plen)
{
    static const char redacted[] = "sig=REDACTED";
    const char *q = memchr(path, '?', plen), *p, *end = path + plen;
    size_t o = 0;

    if (cap == 0)
        return 0;
    cap--; /* room for the NUL */
#define PUT(src, n)                                                                                \
    do {                                                                                           \
        size_t n_ = (n) < cap - o ? (n) : cap - o;                                                 \
        memcpy(dst + o, (src), n_);                                                                \
        o += n_;                                                                                   \
    } while (0)
    PUT(path, q != NULL ? (size_t)(q - path) + 1 : plen);
    for (p = q != NULL ? q + 1 : end; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp != NULL ? amp + 1 : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        size_t nlen = (size_t)((eq != NULL ? eq : (amp != NULL ? amp : end)) - p);
        if (nlen == 3 && memcmp(p, "sig", 3) == 0) {
            /* the whole replacement or nothing: never a cut "sig=" that reads as empty */
            if (cap - o < sizeof(redacted) - 1)
                break;
            PUT(redacted, sizeof(redacted) - 1);
            if (amp != NULL)
                PUT("&", 1);
        } else {
            PUT(p, (size_t)(pe - p));
        }
        p = pe;
    }
#undef PUT
    dst[o] = '\0';
    return o;
}
