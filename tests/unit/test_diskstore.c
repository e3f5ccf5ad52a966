/*
 * test_diskstore.c - the disk store on a real temporary directory: append and read back,
 * recovery from footers and from the open segment's records, a torn tail dropped, a flipped
 * byte counted and never served, purge surviving a restart, reclaim keeping the files within
 * disk_size + one segment while a re-touched block survives, junk / temp / symlink entries,
 * a missing directory, the index's bytes per block, and drops past the write backlog counted
 * by reason.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockedge/diskstore.h"
#include "blockedge/segment.h"
#include "test.h"

static char dir[256];

static void
fresh_dir(void)
{
    char cmd[512];
    if (dir[0] != '\0') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", dir);
    }
    snprintf(dir, sizeof(dir), "/tmp/test_diskstore.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
}

static be_diskstore_t *
open_store(uint64_t size, uint64_t segment_size)
{
    be_diskstore_conf_t c = {.path = dir, .size = size, .segment_size = segment_size};
    be_diskstore_t *s = be_diskstore_open(&c);
    if (s == NULL || be_diskstore_wait_loaded(s, 10000) == BE_DISK_LOADING) {
        fprintf(stderr, "cannot open the store\n");
        exit(1);
    }
    return s;
}

/* Block i: len bytes derived from i; its digest in *k. */
static void
block_of(int i, size_t len, uint8_t *buf, be_key_t *k)
{
    for (size_t j = 0; j < len; j++)
        buf[j] = (uint8_t)(i * 31 + j * 7 + (j >> 8));
    for (size_t j = 0; j < 4 && j < len; j++)
        buf[j] = (uint8_t)(i >> (8 * j)); /* distinct blocks for distinct i */
    be_sha256(buf, len, k);
}

static int
put(be_diskstore_t *s, int i, size_t len)
{
    uint8_t buf[8192];
    be_key_t k;
    block_of(i, len, buf, &k);
    if (be_diskstore_admit(s, &k, len) != BE_OK)
        return BE_DECLINED;
    return be_diskstore_append(s, &k, buf, len);
}

/* 1: read back with the right bytes; 0: absent; -1: present but refused. */
static int
get(be_diskstore_t *s, int i, size_t len)
{
    uint8_t want[8192], got[8192];
    be_key_t k;
    be_disk_loc_t loc;
    block_of(i, len, want, &k);
    if (be_diskstore_lookup(s, &k, &loc) != BE_OK)
        return 0;
    if (loc.len != len || be_diskstore_read(s, &loc, &k, got) != BE_OK)
        return -1;
    return memcmp(want, got, len) == 0 ? 1 : -1;
}

static void
test_blocks_read_back_after_a_restart(void)
{
    fresh_dir();
    be_diskstore_t *s = open_store(1 << 20, 64 << 10);
    BE_CHECK_INT(be_diskstore_wait_loaded(s, 0), BE_DISK_READY);
    for (int i = 0; i < 40; i++)
        BE_CHECK_INT(put(s, i, 3000 + (size_t)i), BE_OK);
    for (int i = 0; i < 40; i++)
        BE_CHECK_INT(get(s, i, 3000 + (size_t)i), 1);
    be_diskstore_stats_t st;
    be_diskstore_stats(s, &st);
    BE_CHECK_INT(st.blocks, 40);
    BE_CHECK(st.segments >= 2); /* sealed ones (footers) and the open one (scanned) */
    be_diskstore_close(&s);

    s = open_store(1 << 20, 64 << 10);
    for (int i = 0; i < 40; i++)
        BE_CHECK_INT(get(s, i, 3000 + (size_t)i), 1);
    BE_CHECK_INT(put(s, 5, 3005), BE_DECLINED); /* already held: not written twice */
    BE_CHECK_INT(put(s, 40, 100), BE_OK);
    be_diskstore_stats(s, &st);
    BE_CHECK_INT(st.blocks, 41);
    BE_CHECK_INT(st.corruptions, 0);
    be_diskstore_close(&s);
}

static off_t
file_size(const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void
test_torn_tail_is_dropped_and_appends_go_on(void)
{
    fresh_dir();
    be_diskstore_t *s = open_store(1 << 20, 256 << 10);
    for (int i = 0; i < 5; i++)
        BE_CHECK_INT(put(s, i, 1000), BE_OK);
    be_diskstore_close(&s);
    /* a crash in the middle of the 5th record: cut it in half */
    char path[512];
    snprintf(path, sizeof(path), "%s/0000000000000000.seg", dir);
    off_t size = file_size("0000000000000000.seg");
    BE_CHECK_INT(size, 64 + 5 * (64 + 1000));
    BE_CHECK_INT(truncate(path, size - 500), 0);

    s = open_store(1 << 20, 256 << 10);
    for (int i = 0; i < 4; i++)
        BE_CHECK_INT(get(s, i, 1000), 1);
    BE_CHECK_INT(get(s, 4, 1000), 0);
    BE_CHECK_INT(file_size("0000000000000000.seg"), 64 + 4 * (64 + 1000));
    BE_CHECK_INT(put(s, 4, 1000), BE_OK);
    BE_CHECK_INT(get(s, 4, 1000), 1);
    be_diskstore_close(&s);
    s = open_store(1 << 20, 256 << 10);
    for (int i = 0; i < 5; i++)
        BE_CHECK_INT(get(s, i, 1000), 1);
    be_diskstore_close(&s);
}

static void
flip_byte(const char *name, off_t off)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDWR);
    uint8_t b = 0;
    if (fd < 0 || pread(fd, &b, 1, off) != 1)
        exit(1);
    b ^= 0x40;
    if (pwrite(fd, &b, 1, off) != 1)
        exit(1);
    close(fd);
}

static void
test_flipped_byte_is_counted_and_never_served(void)
{
    fresh_dir();
    be_diskstore_t *s = open_store(1 << 20, 256 << 10);
    for (int i = 0; i < 3; i++)
        BE_CHECK_INT(put(s, i, 2000), BE_OK);
    /* while open: a byte in the middle of block 1's bytes */
    flip_byte("0000000000000000.seg", 64 + (64 + 2000) + 64 + 1000);
    BE_CHECK_INT(get(s, 1, 2000), -1);
    BE_CHECK_INT(get(s, 1, 2000), 0); /* dropped from the index */
    be_diskstore_stats_t st;
    be_diskstore_stats(s, &st);
    BE_CHECK_INT(st.corruptions, 1);
    BE_CHECK_INT(get(s, 0, 2000), 1);
    BE_CHECK_INT(get(s, 2, 2000), 1);
    be_diskstore_close(&s);
}

static void
test_purge_survives_a_restart(void)
{
    fresh_dir();
    be_diskstore_t *s = open_store(1 << 20, 64 << 10);
    for (int i = 0; i < 30; i++)
        BE_CHECK_INT(put(s, i, 4000), BE_OK);
    uint8_t buf[8192];
    be_key_t k;
    block_of(3, 4000, buf, &k); /* in a sealed segment by now */
    BE_CHECK_INT(be_diskstore_purge(s, &k), BE_OK);
    BE_CHECK_INT(get(s, 3, 4000), 0);
    BE_CHECK_INT(be_diskstore_purge(s, &k), BE_DECLINED);
    be_diskstore_close(&s);
    s = open_store(1 << 20, 64 << 10);
    BE_CHECK_INT(get(s, 3, 4000), 0);
    BE_CHECK_INT(get(s, 4, 4000), 1);
    /* filled again after the purge: it is back, and stays back after a restart */
    BE_CHECK_INT(put(s, 3, 4000), BE_OK);
    be_diskstore_close(&s);
    s = open_store(1 << 20, 64 << 10);
    BE_CHECK_INT(get(s, 3, 4000), 1);
    be_diskstore_close(&s);
}

static void
test_purge_record_in_a_sealed_footer_holds_after_a_restart(void)
{
    fresh_dir();
    be_diskstore_t *s = open_store(1 << 20, 64 << 10);
    uint8_t buf[8192];
    be_key_t k1, k2;
    be_disk_info_t info;
    for (int i = 0; i < 5; i++)
        BE_CHECK_INT(put(s, i, 4000), BE_OK);
    block_of(1, 4000, buf, &k1);
    block_of(2, 4000, buf, &k2);
    BE_CHECK_INT(be_diskstore_peek(s, &k1, &info), BE_OK);
    BE_CHECK_INT(info.segment, 0);
    BE_CHECK_INT(info.len, 4000);
    BE_CHECK_INT(info.offset, 64 + (64 + 4000));
    BE_CHECK_INT(info.hit, 0);
    BE_CHECK_INT(get(s, 1, 4000), 1);
    BE_CHECK_INT(be_diskstore_peek(s, &k1, &info), BE_OK);
    BE_CHECK_INT(info.hit, 1); /* a verified read marks it */
    /* block 1 and its purge record share the first segment, which then fills and is sealed:
     * the purge is an entry of its footer */
    BE_CHECK_INT(be_diskstore_purge(s, &k1), BE_OK);
    BE_CHECK_INT(be_diskstore_peek(s, &k1, &info), BE_DECLINED);
    for (int i = 5; i < 40; i++)
        BE_CHECK_INT(put(s, i, 4000), BE_OK);
    /* block 2 sits in the sealed segment, its purge record in the open one (scanned) */
    BE_CHECK_INT(be_diskstore_purge(s, &k2), BE_OK);
    be_diskstore_stats_t st;
    be_diskstore_stats(s, &st);
    BE_CHECK(st.segments >= 3);
    BE_CHECK_INT(st.purges, 2);
    BE_CHECK_INT(st.blocks, 38);
    be_diskstore_close(&s);

    s = open_store(1 << 20, 64 << 10);
    BE_CHECK_INT(get(s, 1, 4000), 0);
    BE_CHECK_INT(get(s, 2, 4000), 0);
    BE_CHECK_INT(be_diskstore_peek(s, &k1, &info), BE_DECLINED);
    for (int i = 0; i < 40; i++)
        if (i != 1 && i != 2)
            BE_CHECK_INT(get(s, i, 4000), 1);
    be_diskstore_stats(s, &st);
    BE_CHECK_INT(st.blocks, 38);
    BE_CHECK_INT(st.corruptions, 0);
    be_diskstore_close(&s);
}

static uint64_t
dir_bytes(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "du -sb --apparent-size '%s'", dir);
    FILE *p = popen(cmd, "r");
    unsigned long long v = 0;
    if (p == NULL || fscanf(p, "%llu", &v) != 1)
        v = 0;
    if (p != NULL)
        pclose(p);
    return v;
}

static void
test_reclaim_bounds_the_files_and_keeps_a_hot_block(void)
{
    fresh_dir();
    const uint64_t size = 256 << 10, seg = 64 << 10;
    be_diskstore_t *s = open_store(size, seg);
    BE_CHECK_INT(put(s, 0, 4000), BE_OK);
    for (int i = 1; i < 400; i++) {
        int rc = put(s, i, 4000);
        BE_CHECK(rc == BE_OK);
        if (i % 5 == 0)
            BE_CHECK_INT(get(s, 0, 4000), 1); /* block 0 stays hot */
        be_diskstore_stats_t st;
        be_diskstore_stats(s, &st);
        BE_CHECK(st.bytes <= size + seg);
    }
    BE_CHECK(dir_bytes() <= size + seg + 4096);
    BE_CHECK_INT(get(s, 0, 4000), 1);
    BE_CHECK_INT(get(s, 1, 4000), 0); /* cold and old: reclaimed */
    be_diskstore_stats_t st;
    be_diskstore_stats(s, &st);
    BE_CHECK(st.evictions > 300);
    BE_CHECK(st.reappends > 0);
    be_diskstore_close(&s);
    s = open_store(size, seg);
    BE_CHECK_INT(get(s, 0, 4000), 1);
    BE_CHECK_INT(get(s, 399, 4000), 1);
    be_diskstore_close(&s);
}

static void
write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        exit(1);
    fputs(text, f);
    fclose(f);
}

static void
test_junk_temp_files_and_symlinks(void)
{
    fresh_dir();
    be_diskstore_t *s = open_store(1 << 20, 64 << 10);
    for (int i = 0; i < 3; i++)
        BE_CHECK_INT(put(s, i, 500), BE_OK);
    be_diskstore_close(&s);
    write_file("notes.txt", "an operator's file\n");
    write_file("00000000000000aa.seg", "not a segment at all, same name pattern");
    write_file("0000000000000042.seg.tmp", "half-created segment");
    char target[512], link[512];
    snprintf(target, sizeof(target), "%s/0000000000000000.seg", dir);
    snprintf(link, sizeof(link), "%s/00000000000000bb.seg", dir);
    BE_CHECK_INT(symlink(target, link), 0);

    s = open_store(1 << 20, 64 << 10);
    for (int i = 0; i < 3; i++)
        BE_CHECK_INT(get(s, i, 500), 1);
    BE_CHECK(file_size("notes.txt") > 0);                    /* left alone */
    BE_CHECK(file_size("00000000000000aa.seg") > 0);         /* ignored, not removed */
    BE_CHECK_INT(file_size("0000000000000042.seg.tmp"), -1); /* stale temp: removed */
    struct stat st;
    BE_CHECK_INT(lstat(link, &st), 0);
    BE_CHECK(S_ISLNK(st.st_mode));
    be_diskstore_stats_t ds;
    be_diskstore_stats(s, &ds);
    BE_CHECK_INT(ds.segments, 1); /* the symlink was not followed */
    BE_CHECK_INT(ds.blocks, 3);
    /* new segments take names after every one seen, the junk's too */
    for (int i = 3; i < 40; i++)
        BE_CHECK_INT(put(s, i, 4000), BE_OK);
    BE_CHECK(file_size("00000000000000bc.seg") > 0);
    be_diskstore_close(&s);
}

static void
test_missing_directory_fails_and_is_counted(void)
{
    fresh_dir();
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/nope", dir);
    be_diskstore_conf_t c = {.path = missing, .size = 1 << 20, .segment_size = 64 << 10};
    be_diskstore_t *s = be_diskstore_open(&c);
    BE_CHECK(s != NULL);
    BE_CHECK_INT(be_diskstore_wait_loaded(s, 10000), BE_DISK_FAILED);
    be_diskstore_stats_t st;
    be_diskstore_stats(s, &st);
    BE_CHECK_INT(st.errors[BE_DISK_ERR_PATH], 1);
    be_key_t k;
    memset(&k, 1, sizeof(k));
    be_disk_loc_t loc;
    BE_CHECK_INT(be_diskstore_lookup(s, &k, &loc), BE_DECLINED);
    BE_CHECK_INT(be_diskstore_admit(s, &k, 10), BE_DECLINED);
    be_diskstore_close(&s);
    char err[256];
    BE_CHECK_INT(be_diskstore_check_path(missing, err, sizeof(err)), BE_ERROR);
    BE_CHECK_INT(be_diskstore_check_path(dir, err, sizeof(err)), BE_OK);
}

static void
test_index_costs_at_most_64_bytes_per_block(void)
{
    fresh_dir();
    be_diskstore_t *s = open_store(64 << 20, 1 << 20);
    enum { N = 30000 };
    for (int i = 0; i < N; i++)
        BE_CHECK_INT(put(s, i, 16), BE_OK);
    be_diskstore_stats_t st;
    be_diskstore_stats(s, &st);
    BE_CHECK_INT(st.blocks, N);
    printf("index: %llu bytes for %d blocks = %.1f bytes per block\n",
           (unsigned long long)st.index_bytes, N, (double)st.index_bytes / N);
    BE_CHECK(st.index_bytes <= 64ull * N);
    be_diskstore_close(&s);
}

/* A fill past the backlog bound is declined and counted as a backlog drop (the sum stays
 * writes_dropped); the bound is above the old 64 MiB; a write that goes through is accounted in
 * written_bytes and busy time, and drops nothing. */
static void
test_backlog_drop_is_counted_by_reason_and_writes_are_accounted(void)
{
    fresh_dir();
    be_diskstore_t *s = open_store(1 << 20, 64 << 10);
    const size_t chunk = 8u << 20;
    int admitted = 0;
    for (int i = 0; i < 1000; i++) {
        uint8_t b[4];
        be_key_t k;
        block_of(100000 + i, sizeof(b), b, &k);
        if (be_diskstore_admit(s, &k, chunk) != BE_OK)
            break;
        admitted++;
    }
    be_diskstore_stats_t st;
    be_diskstore_stats(s, &st);
    BE_CHECK((uint64_t)admitted * chunk > (64u << 20));
    BE_CHECK(admitted < 1000);
    BE_CHECK_INT(st.backlog, (uint64_t)admitted * chunk);
    BE_CHECK_INT(st.dropped_by[BE_DISK_DROP_BACKLOG], 1);
    BE_CHECK_INT(st.dropped_by[BE_DISK_DROP_PAUSED], 0);
    BE_CHECK_INT(st.writes_dropped, 1);
    for (int i = 0; i < admitted; i++)
        be_diskstore_unadmit(s, chunk);
    BE_CHECK_INT(put(s, 1, 4096), BE_OK);
    be_diskstore_stats(s, &st);
    BE_CHECK_INT(st.backlog, 0);
    BE_CHECK_INT(st.written_bytes, BE_REC_HEADER_SIZE + 4096);
    BE_CHECK_INT(st.writes_dropped, 1);
    BE_CHECK_INT(get(s, 1, 4096), 1);
    be_diskstore_close(&s);
}

int
main(void)
{
    BE_RUN(test_blocks_read_back_after_a_restart);
    BE_RUN(test_torn_tail_is_dropped_and_appends_go_on);
    BE_RUN(test_flipped_byte_is_counted_and_never_served);
    BE_RUN(test_purge_survives_a_restart);
    BE_RUN(test_purge_record_in_a_sealed_footer_holds_after_a_restart);
    BE_RUN(test_reclaim_bounds_the_files_and_keeps_a_hot_block);
    BE_RUN(test_junk_temp_files_and_symlinks);
    BE_RUN(test_missing_directory_fails_and_is_counted);
    BE_RUN(test_index_costs_at_most_64_bytes_per_block);
    BE_RUN(test_backlog_drop_is_counted_by_reason_and_writes_are_accounted);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    BE_TEST_EXIT();
}
