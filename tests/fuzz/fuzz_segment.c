/*
 * fuzz_segment.c - libFuzzer target for the segment file decoders (segment.h) on a whole file
 * image: the header, the footer trailer and its entries, and the records a scan walks.
 *
 * Input: one byte of flags, then the image. With flag bit 0 the target first writes the right
 * CRC32C into the header, the entries, the trailer and each record it walks, so the fuzzer
 * reaches the checks behind the checksums. What decodes must encode back to the same bytes;
 * a trailer that decodes describes exactly this file; a record that decodes fits its length;
 * be_seg_name_parse() on the image's first bytes round-trips through BE_SEG_NAME_FMT.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IMAGE (1u << 20)

static uint32_t
le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void
check_name(const uint8_t *img, size_t n)
{
    char name[32], again[32];
    uint64_t seq;
    size_t len = n < sizeof(name) - 1 ? n : sizeof(name) - 1;
    memcpy(name, img, len);
    name[len] = '\0';
    if (strlen(name) < 16)
        return; /* the parser reads the first 16 characters of a directory entry's name */
    int rc = be_seg_name_parse(name, &seq);
    if (rc == BE_OK || rc == BE_AGAIN) {
        snprintf(again, sizeof(again), BE_SEG_NAME_FMT "%s", (unsigned long long)seq,
                 rc == BE_AGAIN ? BE_SEG_TMP_SUFFIX : "");
        if (strcmp(name, again) != 0)
            abort();
    } else if (rc != BE_DECLINED) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size - 1 > MAX_IMAGE)
        return 0;
    int fix = data[0] & 1;
    size_t n = size - 1;
    /* A private copy so the sanitizer sees any read past the end. */
    uint8_t *img = malloc(n ? n : 1), out[BE_SEG_HEADER_SIZE];
    if (img == NULL)
        return 0;
    memcpy(img, data + 1, n);
    check_name(img, n);

    if (n >= BE_SEG_HEADER_SIZE) {
        be_seg_header_t h;
        if (fix)
            put_le32(img + 60, be_crc32c(0, img, 60));
        if (be_seg_header_decode(img, &h) == BE_OK) {
            be_seg_header_encode(&h, out);
            if (memcmp(out, img, BE_SEG_HEADER_SIZE) != 0)
                abort();
        }
    }

    size_t end = n;
    if (n >= BE_SEG_HEADER_SIZE + BE_FOOT_TRAILER_SIZE) {
        uint8_t *tr = img + n - BE_FOOT_TRAILER_SIZE;
        uint64_t count = le32(tr + 8), data_end = le32(tr + 12);
        if (fix && data_end + count * BE_FOOT_ENTRY_SIZE + BE_FOOT_TRAILER_SIZE == n)
            put_le32(tr + 16, be_crc32c(0, img + data_end, count * BE_FOOT_ENTRY_SIZE));
        if (fix)
            put_le32(tr + 28, be_crc32c(0, tr, 28));
        be_foot_trailer_t t;
        if (be_foot_trailer_decode(tr, n, &t) == BE_OK) {
            if (t.data_end < BE_SEG_HEADER_SIZE || (uint64_t)t.data_end +
                                                           (uint64_t)t.count * BE_FOOT_ENTRY_SIZE +
                                                           BE_FOOT_TRAILER_SIZE !=
                                                       n)
                abort();
            be_foot_trailer_encode(&t, out);
            if (memcmp(out, tr, BE_FOOT_TRAILER_SIZE) != 0)
                abort();
            if (be_foot_entries_verify(img + t.data_end, &t) == BE_OK) {
                for (uint32_t i = 0; i < t.count; i++) {
                    const uint8_t *in = img + t.data_end + (size_t)i * BE_FOOT_ENTRY_SIZE;
                    be_foot_entry_t e;
                    be_foot_entry_decode(in, &e);
                    be_foot_entry_encode(&e, out);
                    if (memcmp(out, in, BE_FOOT_ENTRY_SIZE) != 0)
                        abort();
                }
            }
            end = t.data_end;
        }
    }

    /* The records from the header to the footer (or the end), as a scan walks them. */
    for (size_t off = BE_SEG_HEADER_SIZE; off + BE_REC_HEADER_SIZE <= end;) {
        uint8_t *in = img + off;
        be_rec_header_t h;
        int rc = be_rec_header_decode(in, &h);
        if (rc != BE_OK)
            break;
        if (h.len > BE_REC_MAX_LEN || (h.kind == BE_REC_PURGE && h.len != 0))
            abort();
        if (h.len > end - off - BE_REC_HEADER_SIZE)
            break; /* torn: the scan stops here */
        const uint8_t *body = in + BE_REC_HEADER_SIZE;
        if (fix) {
            uint8_t tmp[BE_REC_HEADER_SIZE];
            memcpy(tmp, in, sizeof(tmp));
            put_le32(tmp + 12, 0);
            put_le32(in + 12, be_crc32c(be_crc32c(0, tmp, sizeof(tmp)), body, h.len));
            h.crc = le32(in + 12);
        }
        if (be_rec_verify(in, &h, body) == BE_OK) {
            be_rec_header_t again = h;
            be_rec_encode(&again, body, out);
            if (again.crc != h.crc || memcmp(out, in, BE_REC_HEADER_SIZE) != 0)
                abort();
        } else if (fix) {
            abort(); /* the CRC just written must verify */
        }
        off += BE_REC_HEADER_SIZE + h.len;
    }
    free(img);
    return 0;
}
