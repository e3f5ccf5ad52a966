/*
 * segment.c - the disk tier's on-disk format: encode, decode and validate segment headers,
 * records and footers; crc32c. Pure functions: no I/O, no allocation, no clock.
 *
 * Layouts (little endian; offsets in bytes):
 *   segment header (64): 0 magic "BESEGMNT", 8 version u32, 12 header size u32, 16 seq u64,
 *                        24 capacity u64, 32..59 zero, 60 crc32c of bytes 0..59
 *   record header  (64): 0 magic "BREC" u32, 4 version u16, 6 kind u16, 8 len u32, 12 crc u32,
 *                        16 digest[32], 48..63 zero;   then len bytes of block
 *   footer entry   (40): 0 digest[32], 32 offset u32, 36 len u32
 *   footer trailer (32): 0 magic "BFTR" u32, 4 version u16, 6 zero u16, 8 count u32,
 *                        12 data_end u32, 16 entries crc u32, 20..27 zero, 28 crc of 0..27
 * Invariant: a decoder accepts only what the matching encoder wrote, with every reserved
 * byte zero, so a foreign or half-written file is never mistaken for a segment.
 */
#include <pthread.h>
#include <string.h>

#include "blockedge/defs.h"
#include "blockedge/segment.h"

#define SEG_MAGIC     "BESEGMNT"
#define REC_MAGIC     0x43455242u /* "BREC" */
#define TRAILER_MAGIC 0x52544642u /* "BFTR" */

/* ---- crc32c ------------------------------------------------------------------------------ */

/* Slicing-by-8 tables for the reflected Castagnoli polynomial, built once (pthread_once: the
 * disk loader, the I/O threads and the workers may all make their first call at once); the
 * ready flag lets every later call skip pthread_once. */
static uint32_t crc_table[8][256];
static int crc_table_ready;
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

static void
crc_table_build(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
    __atomic_store_n(&crc_table_ready, 1, __ATOMIC_RELEASE);
}

static uint32_t
crc_soft(uint32_t c, const uint8_t *p, size_t len)
{
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        v ^= c; /* little endian: the low four bytes take the running crc */
        c = crc_table[7][v & 0xff] ^ crc_table[6][(v >> 8) & 0xff] ^
            crc_table[5][(v >> 16) & 0xff] ^ crc_table[4][(v >> 24) & 0xff] ^
            crc_table[3][(v >> 32) & 0xff] ^ crc_table[2][(v >> 40) & 0xff] ^
            crc_table[1][(v >> 48) & 0xff] ^ crc_table[0][v >> 56];
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    return c;
}

#if defined(__x86_64__)
/*
 * The crc32 instruction has a latency of three cycles and a throughput of one, so one chain
 * of it runs at a third of the speed the CPU can give. Large buffers are cut into rounds of
 * three lanes of STRIDE bytes, each lane its own chain (the first continues the running crc,
 * the others start from zero); a round's result is shift(c0, 2 * STRIDE) ^ shift(c1, STRIDE)
 * ^ c2, where shift(c, n) is the register after n zero bytes, a linear map of c that is
 * precomputed as four byte tables per distance (the crc32_combine idea of zlib).
 */
#define STRIDE 4096

static uint32_t shift_tab[2][4][256]; /* [0]: STRIDE bytes, [1]: 2 * STRIDE bytes */
static int shift_ready;
static pthread_once_t shift_once = PTHREAD_ONCE_INIT; /* as crc_table_once */

static uint32_t
zeros_soft(uint32_t c, size_t n)
{
    while (n-- > 0)
        c = (c >> 8) ^ crc_table[0][c & 0xff];
    return c;
}

static void
shift_build(void)
{
    for (int d = 0; d < 2; d++) {
        uint32_t basis[32];
        for (int j = 0; j < 32; j++)
            basis[j] = zeros_soft(1u << j, (size_t)STRIDE * (size_t)(d + 1));
        for (int k = 0; k < 4; k++)
            for (int b = 0; b < 256; b++) {
                uint32_t v = 0;
                for (int j = 0; j < 8; j++)
                    if (b & (1 << j))
                        v ^= basis[8 * k + j];
                shift_tab[d][k][b] = v;
            }
    }
    __atomic_store_n(&shift_ready, 1, __ATOMIC_RELEASE);
}

static uint32_t
shift(int d, uint32_t c)
{
    return shift_tab[d][0][c & 0xff] ^ shift_tab[d][1][(c >> 8) & 0xff] ^
           shift_tab[d][2][(c >> 16) & 0xff] ^ shift_tab[d][3][c >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t c, const uint8_t *p, size_t len)
{
    if (len >= 3 * STRIDE && __atomic_load_n(&shift_ready, __ATOMIC_ACQUIRE)) {
        while (len >= 3 * STRIDE) {
            uint64_t c0 = c, c1 = 0, c2 = 0;
            for (size_t i = 0; i < STRIDE; i += 8) {
                uint64_t v0, v1, v2;
                memcpy(&v0, p + i, 8);
                memcpy(&v1, p + STRIDE + i, 8);
                memcpy(&v2, p + 2 * STRIDE + i, 8);
                c0 = __builtin_ia32_crc32di(c0, v0);
                c1 = __builtin_ia32_crc32di(c1, v1);
                c2 = __builtin_ia32_crc32di(c2, v2);
            }
            c = shift(1, (uint32_t)c0) ^ shift(0, (uint32_t)c1) ^ (uint32_t)c2;
            p += 3 * STRIDE;
            len -= 3 * STRIDE;
        }
    }
    uint64_t c64 = c;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c64 = __builtin_ia32_crc32di(c64, v);
        p += 8;
        len -= 8;
    }
    c = (uint32_t)c64;
    while (len-- > 0)
        c = __builtin_ia32_crc32qi(c, *p++);
    return c;
}
#endif

uint32_t
be_crc32c(uint32_t crc, const void *buf, size_t len)
{
    uint32_t c = ~crc;
    if (!__atomic_load_n(&crc_table_ready, __ATOMIC_ACQUIRE))
        pthread_once(&crc_table_once, crc_table_build);
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) {
        if (len >= 3 * STRIDE && !__atomic_load_n(&shift_ready, __ATOMIC_ACQUIRE))
            pthread_once(&shift_once, shift_build);
        return ~crc_hw(c, buf, len);
    }
#endif
    return ~crc_soft(c, buf, len);
}

/* ---- little-endian fields ------------------------------------------------------------------ */

static void
put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void
put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t
get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int
all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

/* ---- segment header ---------------------------------------------------------------------- */

void
be_seg_header_encode(const be_seg_header_t *h, uint8_t out[BE_SEG_HEADER_SIZE])
{
    memset(out, 0, BE_SEG_HEADER_SIZE);
    memcpy(out, SEG_MAGIC, 8);
    put32(out + 8, BE_SEG_VERSION);
    put32(out + 12, BE_SEG_HEADER_SIZE);
    put64(out + 16, h->seq);
    put64(out + 24, h->capacity);
    put32(out + 60, be_crc32c(0, out, 60));
}

int
be_seg_header_decode(const uint8_t in[BE_SEG_HEADER_SIZE], be_seg_header_t *h)
{
    if (memcmp(in, SEG_MAGIC, 8) != 0)
        return BE_ERROR;
    if (be_crc32c(0, in, 60) != get32(in + 60))
        return BE_ERROR;
    if (get32(in + 8) != BE_SEG_VERSION)
        return BE_DECLINED;
    if (get32(in + 12) != BE_SEG_HEADER_SIZE || !all_zero(in + 32, 28))
        return BE_ERROR;
    h->seq = get64(in + 16);
    h->capacity = get64(in + 24);
    return BE_OK;
}

/* ---- records ------------------------------------------------------------------------------- */

static uint32_t
rec_crc(const uint8_t in[BE_REC_HEADER_SIZE], const void *data, uint32_t len)
{
    uint8_t tmp[BE_REC_HEADER_SIZE];
    memcpy(tmp, in, sizeof(tmp));
    put32(tmp + 12, 0);
    uint32_t c = be_crc32c(0, tmp, sizeof(tmp));
    return len > 0 ? be_crc32c(c, data, len) : c;
}

void
be_rec_encode(be_rec_header_t *h, const void *data, uint8_t out[BE_REC_HEADER_SIZE])
{
    memset(out, 0, BE_REC_HEADER_SIZE);
    put32(out, REC_MAGIC);
    put16(out + 4, BE_SEG_VERSION);
    put16(out + 6, (uint16_t)h->kind);
    put32(out + 8, h->len);
    memcpy(out + 16, h->digest.d, BE_KEY_LEN);
    h->crc = rec_crc(out, data, h->len);
    put32(out + 12, h->crc);
}

int
be_rec_header_decode(const uint8_t in[BE_REC_HEADER_SIZE], be_rec_header_t *h)
{
    if (get32(in) != REC_MAGIC)
        return BE_ERROR;
    if (get16(in + 4) != BE_SEG_VERSION)
        return BE_DECLINED;
    h->kind = get16(in + 6);
    h->len = get32(in + 8);
    h->crc = get32(in + 12);
    memcpy(h->digest.d, in + 16, BE_KEY_LEN);
    if (!all_zero(in + 48, 16) || h->len > BE_REC_MAX_LEN)
        return BE_ERROR;
    if (h->kind == BE_REC_PURGE)
        return h->len == 0 ? BE_OK : BE_ERROR;
    return h->kind == BE_REC_BLOCK ? BE_OK : BE_ERROR;
}

int
be_rec_verify(const uint8_t in[BE_REC_HEADER_SIZE], const be_rec_header_t *h, const void *data)
{
    return rec_crc(in, data, h->len) == h->crc ? BE_OK : BE_ERROR;
}

/* ---- footer -------------------------------------------------------------------------------- */

void
be_foot_entry_encode(const be_foot_entry_t *e, uint8_t out[BE_FOOT_ENTRY_SIZE])
{
    memcpy(out, e->digest.d, BE_KEY_LEN);
    put32(out + 32, e->off);
    put32(out + 36, e->len);
}

void
be_foot_entry_decode(const uint8_t in[BE_FOOT_ENTRY_SIZE], be_foot_entry_t *e)
{
    memcpy(e->digest.d, in, BE_KEY_LEN);
    e->off = get32(in + 32);
    e->len = get32(in + 36);
}

void
be_foot_trailer_encode(const be_foot_trailer_t *t, uint8_t out[BE_FOOT_TRAILER_SIZE])
{
    memset(out, 0, BE_FOOT_TRAILER_SIZE);
    put32(out, TRAILER_MAGIC);
    put16(out + 4, BE_SEG_VERSION);
    put32(out + 8, t->count);
    put32(out + 12, t->data_end);
    put32(out + 16, t->entries_crc);
    put32(out + 28, be_crc32c(0, out, 28));
}

int
be_foot_trailer_decode(const uint8_t in[BE_FOOT_TRAILER_SIZE], uint64_t file_size,
                       be_foot_trailer_t *t)
{
    if (get32(in) != TRAILER_MAGIC || be_crc32c(0, in, 28) != get32(in + 28))
        return BE_ERROR;
    if (get16(in + 4) != BE_SEG_VERSION)
        return BE_DECLINED;
    if (get16(in + 6) != 0 || !all_zero(in + 20, 8))
        return BE_ERROR;
    t->count = get32(in + 8);
    t->data_end = get32(in + 12);
    t->entries_crc = get32(in + 16);
    uint64_t want =
        (uint64_t)t->data_end + (uint64_t)t->count * BE_FOOT_ENTRY_SIZE + BE_FOOT_TRAILER_SIZE;
    if (t->data_end < BE_SEG_HEADER_SIZE || want != file_size)
        return BE_ERROR;
    return BE_OK;
}

int
be_foot_entries_verify(const uint8_t *entries, const be_foot_trailer_t *t)
{
    size_t n = (size_t)t->count * BE_FOOT_ENTRY_SIZE;
    return be_crc32c(0, entries, n) == t->entries_crc ? BE_OK : BE_ERROR;
}

/* ---- file names ------------------------------------------------------------------------------ */

int
be_seg_name_parse(const char *name, uint64_t *seq)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return BE_DECLINED;
        v = v << 4 | (uint64_t)d;
    }
    if (strcmp(name + 16, ".seg") == 0) {
        *seq = v;
        return BE_OK;
    }
    if (strcmp(name + 16, ".seg" BE_SEG_TMP_SUFFIX) == 0) {
        *seq = v;
        return BE_AGAIN;
    }
    return BE_DECLINED;
}
