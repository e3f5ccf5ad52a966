/*
 * segment.h - the disk tier's on-disk format, as pure functions (no I/O).
 *
 * A segment file is   [segment header][record]...[record][footer entries][footer trailer]
 * and the last two parts exist only once the segment is sealed. Every integer is little
 * endian. A record is a 64-byte header (magic, format version, kind, length, crc32c, the
 * block's 32-byte digest) followed by the block's bytes; the crc32c covers the header (with
 * its crc field zero) and the bytes, so a torn or altered record never decodes. A purge is a
 * record of kind BE_REC_PURGE with no bytes: it cancels older copies of its digest.
 * The footer lists (digest, offset, length) of every record, with its own crc32c, so start-up
 * reads one footer per sealed segment instead of every record.
 * Decoders return BE_OK, BE_DECLINED (a known magic with another format version: never
 * served, never rewritten) or BE_ERROR (not ours, torn or corrupt).
 */
#ifndef BLOCKEDGE_SEGMENT_H
#define BLOCKEDGE_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "blockedge/blockkey.h"

#define BE_SEG_VERSION       1
#define BE_SEG_HEADER_SIZE   64
#define BE_REC_HEADER_SIZE   64
#define BE_FOOT_ENTRY_SIZE   40
#define BE_FOOT_TRAILER_SIZE 32
#define BE_REC_MAX_LEN       0xfffffff0u
#define BE_FOOT_PURGE_LEN    0xffffffffu /* footer length of a purge record */

#define BE_SEG_NAME_FMT      "%016llx.seg"
#define BE_SEG_NAME_LEN      20 /* 16 hex digits + ".seg" */
#define BE_SEG_TMP_SUFFIX    ".tmp"

enum be_rec_kind { BE_REC_BLOCK = 1, BE_REC_PURGE = 2 };

typedef struct be_seg_header_s {
    uint64_t seq;      /* the segment's sequence number, also its file name */
    uint64_t capacity; /* disk_segment_size when it was created */
} be_seg_header_t;

typedef struct be_rec_header_s {
    uint32_t kind; /* enum be_rec_kind */
    uint32_t len;  /* bytes after the header */
    uint32_t crc;  /* crc32c of header (crc field zero) + bytes */
    be_key_t digest;
} be_rec_header_t;

typedef struct be_foot_entry_s {
    be_key_t digest;
    uint32_t off; /* of the record header, from the start of the file */
    uint32_t len; /* block bytes, or BE_FOOT_PURGE_LEN */
} be_foot_entry_t;

typedef struct be_foot_trailer_s {
    uint32_t count;       /* footer entries */
    uint32_t data_end;    /* where the records end and the entries start */
    uint32_t entries_crc; /* crc32c of the encoded entries */
} be_foot_trailer_t;

/* crc32c (Castagnoli), continuing from crc (0 to start). SSE4.2 when the CPU has it. */
uint32_t be_crc32c(uint32_t crc, const void *buf, size_t len);

void be_seg_header_encode(const be_seg_header_t *h, uint8_t out[BE_SEG_HEADER_SIZE]);
int be_seg_header_decode(const uint8_t in[BE_SEG_HEADER_SIZE], be_seg_header_t *h);

/* Encodes h (its crc field ignored) and sets the crc over the header and data[0..len). */
void be_rec_encode(be_rec_header_t *h, const void *data, uint8_t out[BE_REC_HEADER_SIZE]);

/* Decodes a header alone: magic, version, kind and length are checked, the crc is not (the
 * bytes are needed for that). */
int be_rec_header_decode(const uint8_t in[BE_REC_HEADER_SIZE], be_rec_header_t *h);

/* Checks the crc of a decoded header against the encoded header and the bytes that follow.
 * BE_OK or BE_ERROR. */
int be_rec_verify(const uint8_t in[BE_REC_HEADER_SIZE], const be_rec_header_t *h, const void *data);

void be_foot_entry_encode(const be_foot_entry_t *e, uint8_t out[BE_FOOT_ENTRY_SIZE]);
void be_foot_entry_decode(const uint8_t in[BE_FOOT_ENTRY_SIZE], be_foot_entry_t *e);

void be_foot_trailer_encode(const be_foot_trailer_t *t, uint8_t out[BE_FOOT_TRAILER_SIZE]);

/* Decodes the trailer found at the end of a file of file_size bytes and checks that the
 * entries it announces fit exactly between data_end and the trailer. */
int be_foot_trailer_decode(const uint8_t in[BE_FOOT_TRAILER_SIZE], uint64_t file_size,
                           be_foot_trailer_t *t);

/* Checks encoded entries (count of them) against the trailer's crc. BE_OK or BE_ERROR. */
int be_foot_entries_verify(const uint8_t *entries, const be_foot_trailer_t *t);

/* Parses a segment file name: "<16 hex>.seg" -> BE_OK with *seq; "<16 hex>.seg.tmp" ->
 * BE_AGAIN with *seq (a temp file left by a crash); anything else BE_DECLINED. */
int be_seg_name_parse(const char *name, uint64_t *seq);

#endif
