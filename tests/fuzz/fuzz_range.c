/*
 * fuzz_range.c - libFuzzer target for Range, If-Range and If-None-Match evaluation.
 *
 * Input: one byte of flags (bit 0: HEAD), eight bytes of block size (little-endian; bit 1 of
 * the flags keeps all 64 bits, else the size is cut to 20 bits), then lines: the request target,
 * then "name:value" header fields offered to be_request_header() as a parser would. The
 * answer from be_request_answer() must be 200, 206, 304 or 416 and consistent: a 206 lies
 * inside the block and is not empty, a 304 needs a matching If-None-Match, a 416 a Range; a
 * "bytes=A-B" with A <= B inside the block gives exactly [A, B].
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/http1.h"
#include "blockedge/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DEFAULT_TARGET "/blocks/53a62ac318fdb8bc3cd74b0c8fd0d724e04f6c3e3bb4e647a0a327ecdfe30c71"

/* "bytes=A-B" exactly (decimal, no spaces, no sign): 1 with a and b. */
static int
simple_range(const char *s, uint64_t *a, uint64_t *b)
{
    if (strncmp(s, "bytes=", 6) != 0)
        return 0;
    s += 6;
    if (!isdigit((unsigned char)*s) || strlen(s) > 30)
        return 0;
    char *end;
    *a = strtoull(s, &end, 10);
    if (*end != '-' || !isdigit((unsigned char)end[1]))
        return 0;
    *b = strtoull(end + 1, &end, 10);
    return *end == '\0' && *a < UINT64_MAX / 2 && *b < UINT64_MAX / 2;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9 || size > 4096)
        return 0;
    uint64_t bsize = 0;
    for (int i = 0; i < 8; i++)
        bsize |= (uint64_t)data[1 + i] << (8 * i);
    if (!(data[0] & 2))
        bsize &= 0xfffff;
    int head = data[0] & 1;

    /* A private copy so the sanitizer sees any read past the end. */
    size_t n = size - 9;
    char *p = malloc(n ? n : 1);
    if (p == NULL)
        return 0;
    memcpy(p, data + 9, n);

    static be_request_t r;
    be_request_init(&r, NULL, 1, NULL, NULL);
    r.method = head ? BE_METHOD_HEAD : BE_METHOD_GET;
    char *line = p, *end = p + n;
    char *nl = memchr(line, '\n', n);
    size_t tlen = nl != NULL ? (size_t)(nl - line) : n;
    be_request_target(&r, line, tlen);
    if (!r.has_target)
        be_request_target(&r, DEFAULT_TARGET, strlen(DEFAULT_TARGET));
    if (!r.has_target)
        abort();
    r.etag[0] = '"';
    memcpy(r.etag + 1, r.hex, 64);
    r.etag[65] = '"';
    r.etag[66] = '\0';
    int offered_inm = 0;
    line = nl != NULL ? nl + 1 : end;
    while (line < end) {
        nl = memchr(line, '\n', (size_t)(end - line));
        char *stop = nl != NULL ? nl : end;
        char *colon = memchr(line, ':', (size_t)(stop - line));
        if (colon != NULL) {
            if (be_request_header(&r, line, (size_t)(colon - line), colon + 1,
                                  (size_t)(stop - colon - 1)) != BE_OK)
                abort(); /* none of these fields is an error of the request */
            offered_inm |=
                (size_t)(colon - line) == 13 && strncasecmp(line, "if-none-match", 13) == 0;
        }
        line = stop + 1;
    }

    be_request_answer(&r, bsize);
    if (r.step != BE_STEP_READY)
        abort();
    switch (r.status) {
    case 200:
        if (r.body_off != 0 || r.content_length != bsize || r.body_len != (head ? 0 : bsize))
            abort();
        break;
    case 206:
        if (!r.has_range || r.range_repeated || r.content_length == 0 || r.body_off >= bsize ||
            r.content_length > bsize - r.body_off || r.body_len != (head ? 0 : r.content_length))
            abort();
        break;
    case 304:
        if (!offered_inm || !r.none_matched || r.body_len != 0 || r.content_length != 0)
            abort();
        break;
    case 416:
        if (!r.has_range || r.body_len != 0)
            abort();
        break;
    default:
        abort();
    }
    uint64_t a, b;
    if (r.status != 304 && r.has_range && !r.range_repeated &&
        (!r.has_if_range || strcmp(r.if_range, r.etag) == 0) && simple_range(r.range, &a, &b) &&
        a <= b && b < bsize &&
        (r.status != 206 || r.body_off != a || r.content_length != b - a + 1))
        abort(); /* a plain satisfiable range must be answered as written */
    free(p);
    return 0;
}
