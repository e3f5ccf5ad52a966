/*
 * test_segment.c - the on-disk format: crc32c, segment headers, records and footers
 * round-trip; a torn record, a flipped byte, another format version and a foreign file are
 * each refused with the right code; file names parse.
 */
#include <pthread.h>

#include "blockedge/segment.h"
#include "test.h"

static void
put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void
test_crc32c_matches_the_check_value_and_composes(void)
{
    BE_CHECK_INT(be_crc32c(0, "123456789", 9), 0xe3069283u);
    uint32_t c = be_crc32c(0, "1234", 4);
    BE_CHECK_INT(be_crc32c(c, "56789", 5), 0xe3069283u);
    BE_CHECK_INT(be_crc32c(0, "", 0), 0);
}

/* Bit by bit, from the definition: the reference for every length and alignment. */
static uint32_t
crc_reference(const uint8_t *p, size_t len)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    }
    return ~c;
}

/* Two threads whose first crc32c calls start together (a barrier, then nothing shared): the
 * lookup tables must be built once, not by both at the same time, and never read half-built.
 * The length (3 lanes of 4 KiB and more) builds the lane-combining tables as well. Run first:
 * the tables are built once per process. The ThreadSanitizer tree checks the "once". */
enum { FIRST_LEN = 3 * 4096 + 1000 };
static uint8_t first_buf[FIRST_LEN];

typedef struct first_call_s {
    pthread_barrier_t *go;
    uint32_t crc;
} first_call_t;

static void *
first_call(void *arg)
{
    first_call_t *f = arg;
    pthread_barrier_wait(f->go);
    f->crc = be_crc32c(0, first_buf, FIRST_LEN);
    return NULL;
}

static void
test_crc32c_first_calls_on_two_threads_build_the_tables_once(void)
{
    for (size_t i = 0; i < FIRST_LEN; i++)
        first_buf[i] = (uint8_t)(i * 131 + (i >> 7));
    pthread_barrier_t go;
    pthread_t th[2];
    first_call_t f[2] = {{&go, 0}, {&go, 0}};
    BE_CHECK(pthread_barrier_init(&go, NULL, 2) == 0);
    for (int i = 0; i < 2; i++)
        BE_CHECK(pthread_create(&th[i], NULL, first_call, &f[i]) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    uint32_t want = crc_reference(first_buf, FIRST_LEN);
    BE_CHECK_INT(f[0].crc, want);
    BE_CHECK_INT(f[1].crc, want);
}

static void
test_crc32c_matches_the_bitwise_reference_at_every_size(void)
{
    enum { MAX = 3 * 4096 * 3 + 100 };
    static uint8_t buf[MAX + 8];
    uint64_t x = 0x1234567;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t)(x >> 56);
    }
    static const size_t lens[] = {1,     7,     8,     9,     63,    4095,  4096, 12287,
                                  12288, 12289, 24576, 24583, 36864, 36963, MAX};
    for (size_t i = 0; i < BE_ARRAY_LEN(lens); i++)
        for (size_t off = 0; off < 3; off++) {
            BE_CHECK_INT(be_crc32c(0, buf + off, lens[i]), crc_reference(buf + off, lens[i]));
        }
    /* split anywhere, continued: the same as in one go */
    uint32_t c = be_crc32c(0, buf, 5000);
    BE_CHECK_INT(be_crc32c(c, buf + 5000, 30000), crc_reference(buf, 35000));
}

static void
test_segment_header_round_trips(void)
{
    uint8_t buf[BE_SEG_HEADER_SIZE];
    be_seg_header_t h = {.seq = 0x1234567890ull, .capacity = 256u << 20}, got;
    be_seg_header_encode(&h, buf);
    BE_CHECK_INT(be_seg_header_decode(buf, &got), BE_OK);
    BE_CHECK(got.seq == h.seq && got.capacity == h.capacity);
}

static void
test_segment_header_flipped_byte_is_refused(void)
{
    uint8_t buf[BE_SEG_HEADER_SIZE];
    be_seg_header_t h = {.seq = 7, .capacity = 1 << 20}, got;
    be_seg_header_encode(&h, buf);
    buf[17] ^= 0x01;
    BE_CHECK_INT(be_seg_header_decode(buf, &got), BE_ERROR);
}

static void
test_segment_header_of_another_version_is_declined(void)
{
    uint8_t buf[BE_SEG_HEADER_SIZE];
    be_seg_header_t h = {.seq = 7, .capacity = 1 << 20}, got;
    be_seg_header_encode(&h, buf);
    put32(buf + 8, BE_SEG_VERSION + 1);
    put32(buf + 60, be_crc32c(0, buf, 60));
    BE_CHECK_INT(be_seg_header_decode(buf, &got), BE_DECLINED);
}

static void
test_foreign_file_is_not_a_segment(void)
{
    uint8_t buf[BE_SEG_HEADER_SIZE] = "\177ELF\2\1\1\0 some other program's bytes";
    be_seg_header_t got;
    BE_CHECK_INT(be_seg_header_decode(buf, &got), BE_ERROR);
    memset(buf, 0, sizeof(buf));
    BE_CHECK_INT(be_seg_header_decode(buf, &got), BE_ERROR);
}

static void
make_record(uint8_t *hdr, be_rec_header_t *h, uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    memset(h, 0, sizeof(*h));
    h->kind = BE_REC_BLOCK;
    h->len = (uint32_t)len;
    be_sha256(data, len, &h->digest);
    be_rec_encode(h, data, hdr);
}

static void
test_record_round_trips(void)
{
    uint8_t hdr[BE_REC_HEADER_SIZE], data[1000];
    be_rec_header_t h, got;
    make_record(hdr, &h, data, sizeof(data));
    BE_CHECK_INT(be_rec_header_decode(hdr, &got), BE_OK);
    BE_CHECK_INT(got.kind, BE_REC_BLOCK);
    BE_CHECK_INT(got.len, sizeof(data));
    BE_CHECK(be_key_equal(&got.digest, &h.digest));
    BE_CHECK_INT(be_rec_verify(hdr, &got, data), BE_OK);
}

static void
test_record_with_a_flipped_data_byte_fails_its_crc(void)
{
    uint8_t hdr[BE_REC_HEADER_SIZE], data[1000];
    be_rec_header_t h, got;
    make_record(hdr, &h, data, sizeof(data));
    for (size_t pos = 0; pos < sizeof(data); pos += 97) {
        data[pos] ^= 0x20;
        BE_CHECK_INT(be_rec_header_decode(hdr, &got), BE_OK);
        BE_CHECK_INT(be_rec_verify(hdr, &got, data), BE_ERROR);
        data[pos] ^= 0x20;
    }
}

static void
test_record_with_a_flipped_header_byte_is_refused(void)
{
    uint8_t hdr[BE_REC_HEADER_SIZE], data[100];
    be_rec_header_t h, got;
    make_record(hdr, &h, data, sizeof(data));
    for (int pos = 0; pos < BE_REC_HEADER_SIZE; pos++) {
        if (pos == 4 || pos == 5)
            continue; /* the version: declined, tested below */
        hdr[pos] ^= 0x04;
        int rc = be_rec_header_decode(hdr, &got);
        int ok = rc == BE_ERROR ||
                 (rc == BE_OK && (got.len != h.len || be_rec_verify(hdr, &got, data) == BE_ERROR));
        BE_CHECK(ok);
        hdr[pos] ^= 0x04;
    }
}

static void
test_torn_record_fails_its_crc(void)
{
    /* A crash mid-write leaves the header and only part of the bytes (the rest reads as
     * zeros or as what was there before). */
    uint8_t hdr[BE_REC_HEADER_SIZE], data[4096];
    be_rec_header_t h, got;
    make_record(hdr, &h, data, sizeof(data));
    memset(data + 2048, 0, sizeof(data) - 2048);
    BE_CHECK_INT(be_rec_header_decode(hdr, &got), BE_OK);
    BE_CHECK_INT(be_rec_verify(hdr, &got, data), BE_ERROR);
}

static void
test_record_of_another_version_is_declined(void)
{
    uint8_t hdr[BE_REC_HEADER_SIZE], data[10];
    be_rec_header_t h, got;
    make_record(hdr, &h, data, sizeof(data));
    hdr[4] = BE_SEG_VERSION + 1;
    BE_CHECK_INT(be_rec_header_decode(hdr, &got), BE_DECLINED);
}

static void
test_purge_record_has_no_bytes(void)
{
    uint8_t hdr[BE_REC_HEADER_SIZE];
    be_rec_header_t h = {.kind = BE_REC_PURGE, .len = 0}, got;
    memset(h.digest.d, 0xab, sizeof(h.digest.d));
    be_rec_encode(&h, NULL, hdr);
    BE_CHECK_INT(be_rec_header_decode(hdr, &got), BE_OK);
    BE_CHECK_INT(got.kind, BE_REC_PURGE);
    BE_CHECK_INT(be_rec_verify(hdr, &got, NULL), BE_OK);
}

static void
test_footer_round_trips_and_detects_damage(void)
{
    enum { N = 5 };
    uint8_t entries[N * BE_FOOT_ENTRY_SIZE], tr[BE_FOOT_TRAILER_SIZE];
    for (int i = 0; i < N; i++) {
        be_foot_entry_t e = {.off = 64 + (uint32_t)i * 200, .len = 136};
        memset(e.digest.d, i + 1, sizeof(e.digest.d));
        be_foot_entry_encode(&e, entries + i * BE_FOOT_ENTRY_SIZE);
    }
    be_foot_trailer_t t = {.count = N, .data_end = 64 + N * 200}, got;
    t.entries_crc = be_crc32c(0, entries, sizeof(entries));
    be_foot_trailer_encode(&t, tr);
    uint64_t size = t.data_end + sizeof(entries) + sizeof(tr);
    BE_CHECK_INT(be_foot_trailer_decode(tr, size, &got), BE_OK);
    BE_CHECK_INT(got.count, N);
    BE_CHECK_INT(got.data_end, t.data_end);
    BE_CHECK_INT(be_foot_entries_verify(entries, &got), BE_OK);
    be_foot_entry_t e;
    be_foot_entry_decode(entries + 3 * BE_FOOT_ENTRY_SIZE, &e);
    BE_CHECK_INT(e.off, 64 + 600);
    BE_CHECK_INT(e.digest.d[0], 4);

    /* a truncated file: the trailer no longer sits where it says */
    BE_CHECK_INT(be_foot_trailer_decode(tr, size - 1, &got), BE_ERROR);
    entries[77] ^= 1;
    BE_CHECK_INT(be_foot_trailer_decode(tr, size, &got), BE_OK);
    BE_CHECK_INT(be_foot_entries_verify(entries, &got), BE_ERROR);
    tr[9] ^= 1;
    BE_CHECK_INT(be_foot_trailer_decode(tr, size, &got), BE_ERROR);
    memset(tr, 0, sizeof(tr));
    BE_CHECK_INT(be_foot_trailer_decode(tr, size, &got), BE_ERROR);
}

static void
test_segment_names_parse(void)
{
    uint64_t seq = 0;
    BE_CHECK_INT(be_seg_name_parse("00000000000000ff.seg", &seq), BE_OK);
    BE_CHECK_INT(seq, 255);
    BE_CHECK_INT(be_seg_name_parse("0000000000000100.seg.tmp", &seq), BE_AGAIN);
    BE_CHECK_INT(seq, 256);
    BE_CHECK_INT(be_seg_name_parse("00000000000000FF.seg", &seq), BE_DECLINED);
    BE_CHECK_INT(be_seg_name_parse("00000000000000ff.segx", &seq), BE_DECLINED);
    BE_CHECK_INT(be_seg_name_parse("blockedge.lock", &seq), BE_DECLINED);
    BE_CHECK_INT(be_seg_name_parse("", &seq), BE_DECLINED);
}

int
main(void)
{
    BE_RUN(test_crc32c_first_calls_on_two_threads_build_the_tables_once);
    BE_RUN(test_crc32c_matches_the_check_value_and_composes);
    BE_RUN(test_crc32c_matches_the_bitwise_reference_at_every_size);
    BE_RUN(test_segment_header_round_trips);
    BE_RUN(test_segment_header_flipped_byte_is_refused);
    BE_RUN(test_segment_header_of_another_version_is_declined);
    BE_RUN(test_foreign_file_is_not_a_segment);
    BE_RUN(test_record_round_trips);
    BE_RUN(test_record_with_a_flipped_data_byte_fails_its_crc);
    BE_RUN(test_record_with_a_flipped_header_byte_is_refused);
    BE_RUN(test_torn_record_fails_its_crc);
    BE_RUN(test_record_of_another_version_is_declined);
    BE_RUN(test_purge_record_has_no_bytes);
    BE_RUN(test_footer_round_trips_and_detects_damage);
    BE_RUN(test_segment_names_parse);
    BE_TEST_EXIT();
}
