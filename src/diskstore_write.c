/*
 * diskstore_write.c - the disk tier's writer: appends records to the open segment, keeps its
 * footer list, seals it with the footer, creates the next segment and rolls to it, calling
 * reclaim until the files fit disk_size again. Turns write errors into faults: a read-only
 * file system stops writes, a full one shrinks the store and pauses writes for a moment.
 *
 * Knows the record and footer format only through segment.h; never reads a block back
 * (reclaim does) and never decides what is hot. Invariants: a record is indexed only after
 * all its bytes were written; a segment's records plus its footer fit disk_segment_size;
 * a sealed segment is never written again. Locks: everything here runs under wlock, takes
 * lock (the segment table) briefly, and a shard lock through the index; wlock is held across
 * the write I/O, the others never are.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include "blockedge/defs.h"
#include "blockedge/diskstore.h"
#include "blockedge/segment.h"
#include "diskstore_int.h"

#define NOSPC_PAUSE    200        /* ms without writes after ENOSPC */
#define WRITEBACK_STEP (8u << 20) /* bytes appended between two writeback starts */

int
ds_foot_add(seg_t *g, const be_key_t *digest, uint32_t off, uint32_t len)
{
    if (g->nfoot == g->foot_cap) {
        size_t ncap = g->foot_cap ? g->foot_cap * 2 : 256;
        uint8_t *nf = realloc(g->foot, ncap * BE_FOOT_ENTRY_SIZE);
        if (nf == NULL)
            return BE_ERROR;
        g->foot = nf;
        g->foot_cap = ncap;
    }
    be_foot_entry_t e = {.digest = *digest, .off = off, .len = len};
    be_foot_entry_encode(&e, g->foot + g->nfoot * BE_FOOT_ENTRY_SIZE);
    g->nfoot++;
    return BE_OK;
}

static int
fits(be_diskstore_t *s, const seg_t *g, uint64_t need)
{
    return g->size + need + (g->nfoot + 1) * BE_FOOT_ENTRY_SIZE + BE_FOOT_TRAILER_SIZE <=
           s->conf.segment_size;
}

/*
 * Starts the device writing what was appended, every WRITEBACK_STEP bytes, without waiting
 * for it (sync_file_range SYNC_FILE_RANGE_WRITE). Left to the kernel, a segment's dirty pages
 * stay in memory until its seal, whose fdatasync then held the writer (and wlock) for the
 * whole segment: 200-650 ms per 256 MiB measured, long enough for a burst of fills to run
 * the backlog full and be dropped. Written back as it goes, the seal only waits for the last
 * step, and when fills outrun the device the writer is slowed here, at the device's rate,
 * rather than stalled at the seal. A failure is harmless (the seal's fdatasync reports it).
 */
static void
start_writeback(seg_t *g)
{
    if (g->size - g->flushed < WRITEBACK_STEP)
        return;
    sync_file_range(g->fd, (off_t)g->flushed, (off_t)(g->size - g->flushed), SYNC_FILE_RANGE_WRITE);
    g->flushed = g->size;
}

static void
write_fault(be_diskstore_t *s, int err, const char *what, uint64_t seq)
{
    char name[64];
    ds_seg_name(name, sizeof(name), seq, 0);
    int kind = ds_errno_kind(err);
    ds_fault(s, kind, err, what, name);
    if (kind == BE_DISK_ERR_READONLY) {
        atomic_store(&s->writes_disabled, 1);
    } else if (kind == BE_DISK_ERR_NOSPC) {
        /* The file system is smaller than disk_size: shrink to what fits and make room. */
        if (s->max_segments > 2 && s->nsegs > 2)
            s->max_segments = s->nsegs - 1 > 2 ? s->nsegs - 1 : 2;
        s->force_roll = 1;
        atomic_store(&s->paused_until, be_clock_msec() + NOSPC_PAUSE);
    }
}

/* Writes the footer of the open segment and marks it sealed (even if the write fails: a
 * segment without a footer is scanned at start-up instead). Under wlock. */
void
ds_seal_wlocked(be_diskstore_t *s)
{
    seg_t *g = s->open;
    if (g == NULL)
        return;
    s->open = NULL;
    be_foot_trailer_t t = {.count = (uint32_t)g->nfoot, .data_end = (uint32_t)g->size};
    t.entries_crc = be_crc32c(0, g->foot, g->nfoot * BE_FOOT_ENTRY_SIZE);
    uint8_t tr[BE_FOOT_TRAILER_SIZE];
    be_foot_trailer_encode(&t, tr);
    struct iovec iov[2] = {{g->foot, g->nfoot * BE_FOOT_ENTRY_SIZE}, {tr, sizeof(tr)}};
    size_t want = iov[0].iov_len + iov[1].iov_len;
    ssize_t n = ds_pwritev_full(g->fd, iov, 2, g->size);
    if (n == (ssize_t)want) {
        ds_bytes_add(s, g, want);
        /* A failed flush leaves the records' durability unknown, not their bytes: each is
         * checked on read and at start-up, so it is counted and the segment stays in use. */
        if (fdatasync(g->fd) != 0) {
            char name[64];
            ds_seg_name(name, sizeof(name), g->seq, 0);
            ds_fault(s, ds_errno_kind(errno), errno, "fdatasync()", name);
        }
    } else {
        write_fault(s, errno, "pwritev() of a footer to", g->seq);
        if (ftruncate(g->fd, (off_t)g->size) != 0) {
            /* the scan at start-up drops a partial footer anyway */
        }
    }
    free(g->foot);
    g->foot = NULL;
    g->nfoot = g->foot_cap = 0;
    pthread_mutex_lock(&s->lock);
    g->sealed = 1;
    pthread_mutex_unlock(&s->lock);
}

/* Creates the next segment and makes it the open one. BE_OK; BE_ERROR when there is no room
 * (ENOSPC, a full segment table: a reclaim may help); BE_DECLINED after another fault. */
static int
create_wlocked(be_diskstore_t *s)
{
    uint64_t seq = s->next_seq;
    char tmp[64], name[64];
    ds_seg_name(tmp, sizeof(tmp), seq, 1);
    ds_seg_name(name, sizeof(name), seq, 0);
    int fd = openat(s->dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = errno;
        write_fault(s, err, "open() of a new segment", seq);
        return ds_errno_kind(err) == BE_DISK_ERR_NOSPC ? BE_ERROR : BE_DECLINED;
    }
    uint8_t hdr[BE_SEG_HEADER_SIZE];
    be_seg_header_t h = {.seq = seq, .capacity = s->conf.segment_size};
    be_seg_header_encode(&h, hdr);
    struct iovec one = {hdr, sizeof(hdr)};
    if (ds_pwritev_full(fd, &one, 1, 0) != (ssize_t)sizeof(hdr) ||
        renameat(s->dirfd, tmp, s->dirfd, name) != 0) {
        int err = errno;
        write_fault(s, err, "writing a new segment", seq);
        close(fd);
        unlinkat(s->dirfd, tmp, 0);
        return ds_errno_kind(err) == BE_DISK_ERR_NOSPC ? BE_ERROR : BE_DECLINED;
    }
    /* The new name must outlive a crash before the seal's fdatasync makes the records
     * durable: a segment left under its temporary name is removed at start-up. */
    if (fsync(s->dirfd) != 0)
        ds_fault(s, ds_errno_kind(errno), errno, "fsync() of the directory after creating", name);
    seg_t *g = calloc(1, sizeof(*g));
    uint32_t slot;
    if (g == NULL) {
        close(fd);
        unlinkat(s->dirfd, name, 0);
        return BE_ERROR;
    }
    g->seq = seq;
    g->fd = fd;
    g->refs = 1;
    g->size = g->flushed = BE_SEG_HEADER_SIZE;
    if (ds_slot_take(s, g, &slot) != BE_OK) {
        close(fd);
        free(g);
        unlinkat(s->dirfd, name, 0);
        return BE_ERROR;
    }
    s->next_seq = seq + 1;
    s->open = g;
    s->open_slot = slot;
    return BE_OK;
}

/*
 * Makes room by segment. A new open segment is created first, then the least recently used
 * segments are reclaimed until the count fits disk_size again, so the files never exceed
 * disk_size plus the one being filled, and a reclaimed segment's hot blocks have somewhere
 * to go. Under wlock.
 */
static int
roll_wlocked(be_diskstore_t *s)
{
    ds_seal_wlocked(s);
    s->force_roll = 0;
    int rc = create_wlocked(s);
    if (rc != BE_OK) {
        /* Full (file system or segment table): free one, retry. Another fault (EIO, ...)
         * would cost a segment's blocks for nothing: the next append tries again. */
        uint32_t v = rc == BE_ERROR ? ds_oldest_sealed(s) : UINT32_MAX;
        if (v == UINT32_MAX)
            return BE_ERROR;
        ds_reclaim_wlocked(s, v, 0);
        if (create_wlocked(s) != BE_OK)
            return BE_ERROR;
    }
    while (s->nsegs > s->max_segments) {
        uint32_t v = ds_oldest_sealed(s);
        if (v == UINT32_MAX)
            break;
        ds_reclaim_wlocked(s, v, 1);
    }
    return BE_OK;
}

int
ds_append_wlocked(be_diskstore_t *s, const be_key_t *digest, const void *data, uint32_t len,
                  int kind, int may_roll)
{
    uint64_t need = BE_REC_HEADER_SIZE + (uint64_t)len;
    if (s->released)
        return BE_ERROR; /* another process writes the directory now */
    if (s->open == NULL || s->force_roll || !fits(s, s->open, need)) {
        if (!may_roll || roll_wlocked(s) != BE_OK)
            return BE_ERROR;
        if (!fits(s, s->open, need))
            return BE_ERROR; /* larger than a segment */
    }
    seg_t *g = s->open;
    be_rec_header_t h = {.kind = (uint32_t)kind, .len = len, .digest = *digest};
    uint8_t hdr[BE_REC_HEADER_SIZE];
    be_rec_encode(&h, data, hdr);
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)data, len}};
    uint32_t off = (uint32_t)g->size;
    ssize_t n = ds_pwritev_full(g->fd, iov, len > 0 ? 2 : 1, off);
    if (n != (ssize_t)need) {
        write_fault(s, errno, "pwritev() to", g->seq);
        if (ftruncate(g->fd, (off_t)off) != 0) {
            /* a torn record fails its crc: the scan at start-up drops it */
        }
        return BE_ERROR;
    }
    if (ds_foot_add(g, digest, off, kind == BE_REC_PURGE ? BE_FOOT_PURGE_LEN : len) != BE_OK) {
        s->force_roll = 1; /* no memory for the footer: this record is its last */
    }
    ds_bytes_add(s, g, need);
    atomic_fetch_add(&s->writes, 1);
    start_writeback(g);
    if (kind == BE_REC_BLOCK && ds_index_put(s, ds_tag_of(digest), s->open_slot, off, len) != BE_OK)
        return BE_ERROR;
    return BE_OK;
}
