/*
 * fuzz_http1.c - libFuzzer target for the HTTP/1.1 head parser.
 *
 * Any input must end in "need more", "refuse with 400/414/431", or a head whose pieces lie
 * inside the input (but the "/" that stands for an absolute-form target's empty path); never a
 * crash, a read past the input, or an unbounded result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/http1.h"
#include "blockedge/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy so the sanitizer sees any read past the end. */
    char *p = malloc(size ? size : 1);
    if (p == NULL)
        return 0;
    memcpy(p, data, size);
    be_request_t r;
    be_http1_head_t h;
    size_t n = size < BE_HTTP1_MAX_HEADER ? size : BE_HTTP1_MAX_HEADER;
    int st = be_http1_parse_head(p, n, size, &h, &r, NULL);
    if (st == 0) {
        /* An absolute-form target without a path is served as "/", which is not in the input. */
        int root = h.tlen == 1 && h.target[0] == '/';
        if (h.head_len > n || h.method < p || h.method + h.mlen > p + n || h.mlen == 0 ||
            (!root && (h.target < p || h.target + h.tlen > p + n || h.tlen == 0)))
            abort();
    } else if (st != -1 && st != 400 && st != 414 && st != 431) {
        abort();
    }
    free(p);
    return 0;
}
