/*
 * fuzz_s3creds.c - libFuzzer target for the S3 shared-credentials file parser.
 *
 * Any input (cut at its first NUL, as the file reader would see it) must end in BE_ERROR with
 * both keys NULL, or BE_OK with two non-empty keys that are trimmed, hold no line break and
 * appear in the input as written; nothing may leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/origin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
well_formed(const char *k, const char *text)
{
    size_t n = strlen(k);
    return n > 0 && strchr(k, '\n') == NULL && k[0] != ' ' && k[0] != '\t' && k[n - 1] != ' ' &&
           k[n - 1] != '\t' && k[n - 1] != '\r' && strstr(text, k) != NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > BE_S3_CREDENTIALS_MAX)
        return 0;
    /* A private copy so the sanitizer sees any read past the end; and an untouched one. */
    char *p = malloc(size + 1), *text = malloc(size + 1);
    if (p == NULL || text == NULL)
        abort();
    memcpy(p, data, size);
    p[size] = '\0';
    memcpy(text, p, size + 1);
    char *ak = NULL, *sk = NULL;
    int rc = be_origin_s3_parse_credentials(p, &ak, &sk);
    if (rc == BE_OK) {
        if (ak == NULL || sk == NULL || !well_formed(ak, text) || !well_formed(sk, text) ||
            strstr(text, "default") == NULL)
            abort();
    } else if (rc != BE_ERROR || ak != NULL || sk != NULL) {
        abort();
    }
    free(ak);
    free(sk);
    free(p);
    free(text);
    return 0;
}
