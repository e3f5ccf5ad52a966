/*
 * fuzz_auth.c - libFuzzer target for the signed-URL token parsers and the log redaction.
 *
 * Any input, read as a query string, as an Authorization value and as a request target, must
 * end in a reason of the table, never a crash or a read past the input; a token that parses
 * is checked against a fixed secret (only the seed signed with it may pass); the redacted
 * copy always fits its buffer and ends in its NUL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEX "53a62ac318fdb8bc3cd74b0c8fd0d724e04f6c3e3bb4e647a0a327ecdfe30c71"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static be_auth_keys_t keys = {.n = 1, .len = {24}, .key = {"fuzz-secret-0123456789ab"}};
    be_auth_token_t tok;
    char out[256];

    /* A private copy so the sanitizer sees any read past the end. */
    char *p = malloc(size ? size : 1);
    if (p == NULL)
        return 0;
    memcpy(p, data, size);
    int q = be_auth_parse_query(p, size, &tok);
    if (q < 0 || q >= BE_AUTH_REASON_N)
        abort();
    if (q == BE_AUTH_REASON_OK && be_auth_check(&keys, HEX, &tok, 0, 0) == BE_AUTH_REASON_OK &&
        strcmp(tok.expires_text, "1") != 0)
        abort(); /* only the seed signed with this secret may pass */
    int b = be_auth_parse_bearer(p, size, &tok);
    if (b < 0 || b >= BE_AUTH_REASON_N)
        abort();
    size_t n = be_auth_redact(out, sizeof(out), p, size);
    if (n >= sizeof(out) || out[n] != '\0' || strlen(out) > n)
        abort();
    free(p);
    return 0;
}
