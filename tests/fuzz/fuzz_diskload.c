/*
 * fuzz_diskload.c - libFuzzer target for the disk tier's start-up: the input is a program that
 * writes a directory of segment files (records, purges, sealed footers, and damage: flipped
 * bytes, cuts, garbage), then the real store loads it (be_diskstore_open on its loader thread)
 * and every block the program wrote is looked up and read back.
 *
 * Ops, one byte each (mod 8) with their operands from the bytes that follow:
 *   0-2  a block record: 2 bytes of length (mod 4096, +1), 1 byte seeding its bytes; the
 *        digest is the SHA-256 of the bytes, as the tier writes them
 *   3    a purge record of the block written i-th (1 byte: i)
 *   4    damage: xor one byte at a 3-byte position of the current file
 *   5    damage: cut the current file at a 3-byte position
 *   6    seal the current file (footer entries + trailer) and start the next one
 *   7    damage: 1 byte of count, then that many raw bytes appended
 * What must hold: the load ends (no hang); a block the store finds reads back as exactly the
 * bytes of its digest or fails cleanly; with no damage, every block written and not purged
 * since is found and reads back (nothing written whole is lost).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blockedge/defs.h"
#include "blockedge/diskstore.h"
#include "blockedge/segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FILES   4
#define MAX_BLOCKS  64
#define MAX_LEN     4096
#define FILE_CAP    (1u << 20)
#define SEGMENT_CAP (1u << 21)
#define LOAD_MS     10000

typedef struct written_s {
    be_key_t digest;
    uint32_t len;
    uint8_t seed;
    int live; /* written and not purged since */
} written_t;

typedef struct prog_s {
    const uint8_t *in;
    size_t n, at;
    uint8_t *file[MAX_FILES];
    size_t len[MAX_FILES];
    int nfiles;
    be_foot_entry_t entries[MAX_BLOCKS * 2];
    uint32_t nentries; /* of the current file */
    written_t w[MAX_BLOCKS];
    int nw;
    int damaged;
} prog_t;

static uint32_t
take(prog_t *p, int bytes)
{
    uint32_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | (p->at < p->n ? p->in[p->at++] : 0);
    return v;
}

static void
fill(uint8_t *buf, uint32_t len, uint8_t seed)
{
    for (uint32_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seed + i * 13 + (i >> 7));
}

static uint8_t *
cur(prog_t *p)
{
    return p->file[p->nfiles - 1];
}

static size_t *
curlen(prog_t *p)
{
    return &p->len[p->nfiles - 1];
}

static void
new_file(prog_t *p)
{
    be_seg_header_t h = {.seq = (uint64_t)p->nfiles + 1, .capacity = SEGMENT_CAP};
    p->file[p->nfiles] = calloc(1, FILE_CAP);
    if (p->file[p->nfiles] == NULL)
        abort();
    be_seg_header_encode(&h, p->file[p->nfiles]);
    p->len[p->nfiles] = BE_SEG_HEADER_SIZE;
    p->nfiles++;
    p->nentries = 0;
}

static int
room(prog_t *p, size_t more)
{
    return *curlen(p) + more + BE_FOOT_ENTRY_SIZE * (p->nentries + 1) + BE_FOOT_TRAILER_SIZE <=
           FILE_CAP;
}

static void
append(prog_t *p, uint32_t kind, const be_key_t *digest, const uint8_t *bytes, uint32_t len)
{
    if (!room(p, BE_REC_HEADER_SIZE + len))
        return;
    be_rec_header_t h = {.kind = kind, .len = len, .digest = *digest};
    size_t off = *curlen(p);
    be_rec_encode(&h, bytes, cur(p) + off);
    if (len > 0) /* a purge has no bytes (and bytes is NULL) */
        memcpy(cur(p) + off + BE_REC_HEADER_SIZE, bytes, len);
    *curlen(p) += BE_REC_HEADER_SIZE + len;
    be_foot_entry_t *e = &p->entries[p->nentries++];
    e->digest = *digest;
    e->off = (uint32_t)off;
    e->len = kind == BE_REC_PURGE ? BE_FOOT_PURGE_LEN : len;
    for (int i = 0; i < p->nw; i++)
        if (be_key_equal(&p->w[i].digest, digest))
            p->w[i].live = kind == BE_REC_BLOCK;
}

static void
op_block(prog_t *p)
{
    uint32_t len = take(p, 2) % MAX_LEN + 1;
    uint8_t seed = (uint8_t)take(p, 1), buf[MAX_LEN];
    be_key_t digest;
    fill(buf, len, seed);
    be_sha256(buf, len, &digest);
    int known = 0;
    for (int i = 0; i < p->nw; i++)
        known |= be_key_equal(&p->w[i].digest, &digest);
    if (!known) {
        if (p->nw == MAX_BLOCKS)
            return;
        p->w[p->nw++] = (written_t){.digest = digest, .len = len, .seed = seed};
    }
    append(p, BE_REC_BLOCK, &digest, buf, len);
}

static void
op_seal(prog_t *p)
{
    if (p->nfiles == MAX_FILES)
        return;
    uint8_t *f = cur(p);
    size_t *len = curlen(p);
    be_foot_trailer_t t = {.count = p->nentries, .data_end = (uint32_t)*len};
    for (uint32_t i = 0; i < p->nentries; i++)
        be_foot_entry_encode(&p->entries[i], f + *len + (size_t)i * BE_FOOT_ENTRY_SIZE);
    t.entries_crc = be_crc32c(0, f + *len, (size_t)p->nentries * BE_FOOT_ENTRY_SIZE);
    *len += (size_t)p->nentries * BE_FOOT_ENTRY_SIZE;
    be_foot_trailer_encode(&t, f + *len);
    *len += BE_FOOT_TRAILER_SIZE;
    new_file(p);
}

static void
run(prog_t *p)
{
    new_file(p);
    while (p->at < p->n) {
        switch (take(p, 1) % 8) {
        case 3: {
            uint32_t i = take(p, 1);
            if (p->nw > 0)
                append(p, BE_REC_PURGE, &p->w[i % (uint32_t)p->nw].digest, NULL, 0);
            break;
        }
        case 4: {
            uint32_t at = take(p, 3), x = take(p, 1) | 1;
            if (*curlen(p) > 0) { /* a cut may have left the file empty */
                cur(p)[at % *curlen(p)] ^= (uint8_t)x;
                p->damaged = 1;
            }
            break;
        }
        case 5:
            *curlen(p) = take(p, 3) % (*curlen(p) + 1);
            p->damaged = 1;
            break;
        case 6:
            op_seal(p);
            break;
        case 7: {
            uint32_t k = take(p, 1);
            for (uint32_t i = 0; i < k && room(p, 1); i++)
                cur(p)[(*curlen(p))++] = (uint8_t)take(p, 1);
            p->damaged |= k > 0;
            break;
        }
        default:
            op_block(p);
        }
    }
}

static void
write_files(const prog_t *p, const char *dir)
{
    char path[600];
    for (int i = 0; i < p->nfiles; i++) {
        snprintf(path, sizeof(path), "%s/" BE_SEG_NAME_FMT, dir, (unsigned long long)i + 1);
        FILE *f = fopen(path, "wb");
        if (f == NULL || fwrite(p->file[i], 1, p->len[i], f) != p->len[i] || fclose(f) != 0)
            abort();
    }
}

static void
remove_dir(const char *dir)
{
    char path[1024];
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

/* Looks up and reads back every block the program wrote. */
static void
check(be_diskstore_t *s, const prog_t *p)
{
    uint8_t buf[MAX_LEN], want[MAX_LEN];
    for (int i = 0; i < p->nw; i++) {
        const written_t *w = &p->w[i];
        be_disk_loc_t loc;
        if (be_diskstore_lookup(s, &w->digest, &loc) != BE_OK) {
            if (!p->damaged && w->live)
                abort(); /* written whole, never purged, and lost */
            continue;
        }
        if (loc.len != w->len)
            abort(); /* the index points at another length than the block's */
        int rc = be_diskstore_read(s, &loc, &w->digest, buf);
        if (rc == BE_OK) {
            fill(want, w->len, w->seed);
            if (memcmp(buf, want, w->len) != 0)
                abort(); /* a read that says OK with other bytes */
        } else if (!p->damaged && w->live) {
            abort();
        }
        if (!w->live && !p->damaged)
            abort(); /* a purged block was found */
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    static prog_t p;
    memset(&p, 0, sizeof(p));
    p.in = data;
    p.n = size;
    run(&p);

    const char *base = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/be_fuzz_diskload_XXXXXX",
             base != NULL && base[0] != '\0' ? base : "/tmp");
    if (mkdtemp(dir) == NULL)
        abort();
    write_files(&p, dir);
    be_diskstore_conf_t conf = {.path = dir, .size = 64u << 20, .segment_size = SEGMENT_CAP};
    be_diskstore_t *s = be_diskstore_open(&conf);
    if (s == NULL)
        abort();
    int state = be_diskstore_wait_loaded(s, LOAD_MS);
    if (state == BE_DISK_LOADING)
        abort(); /* the loader did not finish */
    if (state == BE_DISK_READY)
        check(s, &p);
    else if (!p.damaged)
        abort(); /* an undamaged directory failed to load */
    be_diskstore_close(&s);
    remove_dir(dir);
    for (int i = 0; i < p.nfiles; i++)
        free(p.file[i]);
    return 0;
}
