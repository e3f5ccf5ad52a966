/*
 * diskstore_load.c - recovery at start-up, on the loader thread: opens and locks the
 * directory, finds the segment files, and indexes each from its footer or, without one, by
 * scanning its records; the newest segment stays open for appends after its torn tail (if
 * any) is cut. Then the store is READY.
 *
 * Owns the files' discovery: stale ".tmp" files are removed, anything that is not a regular
 * segment of this format is logged and left alone. Knows no reader or HTTP. Invariants:
 * segments are replayed in sequence order, so a later record (or purge) wins; a record is
 * indexed only when its crc checks or its sealed footer lists it; a sequence number is never
 * reused. Locks: holds wlock for the whole load (lookups miss until READY), then lock and a
 * shard lock briefly through the calls it makes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockedge/defs.h"
#include "blockedge/diskstore.h"
#include "blockedge/log.h"
#include "blockedge/segment.h"
#include "diskstore_int.h"

#define LOCK_NAME "blockedge.lock"

typedef struct found_s {
    uint64_t seq;
    int fd;
    uint64_t size;
} found_t;

static int
cmp_found(const void *a, const void *b)
{
    const found_t *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Indexes a sealed segment from its footer. BE_OK, or BE_ERROR to scan it instead. */
static int
load_footer(be_diskstore_t *s, seg_t *g, uint32_t slot)
{
    uint8_t tr[BE_FOOT_TRAILER_SIZE];
    be_foot_trailer_t t;
    if (g->size < BE_SEG_HEADER_SIZE + BE_FOOT_TRAILER_SIZE ||
        ds_pread_full(g->fd, tr, sizeof(tr), g->size - sizeof(tr)) != (ssize_t)sizeof(tr) ||
        be_foot_trailer_decode(tr, g->size, &t) != BE_OK)
        return BE_ERROR;
    size_t n = (size_t)t.count * BE_FOOT_ENTRY_SIZE;
    uint8_t *raw = malloc(n ? n : 1);
    if (raw == NULL || ds_pread_full(g->fd, raw, n, t.data_end) != (ssize_t)n ||
        be_foot_entries_verify(raw, &t) != BE_OK) {
        free(raw);
        return BE_ERROR;
    }
    for (uint32_t i = 0; i < t.count; i++) {
        be_foot_entry_t e;
        be_foot_entry_decode(raw + (size_t)i * BE_FOOT_ENTRY_SIZE, &e);
        uint64_t tag = ds_tag_of(&e.digest);
        if (e.len == BE_FOOT_PURGE_LEN) {
            ds_index_drop(s, tag, UINT32_MAX, 0);
        } else if (e.off >= BE_SEG_HEADER_SIZE &&
                   (uint64_t)e.off + BE_REC_HEADER_SIZE + e.len <= t.data_end) {
            ds_index_put(s, tag, slot, e.off, e.len);
        }
    }
    free(raw);
    return BE_OK;
}

/* Indexes a segment record by record, checking each crc; stops at the first record that
 * does not check (a torn tail) or at a read error (*ioerr: its errno; the rest of the file is
 * unknown, not torn). Reads in large chunks, not a call per record. Returns where the good
 * records end; fills the footer list when g is to stay open. */
static uint64_t
scan_records(be_diskstore_t *s, seg_t *g, uint32_t slot, int keep_footer, int *ioerr)
{
    uint64_t off = BE_SEG_HEADER_SIZE;
    size_t cap = 4u << 20, have = 0; /* buf holds file bytes [base, base + have) */
    uint64_t base = off;
    uint8_t *buf = malloc(cap);
    while (buf != NULL && off + BE_REC_HEADER_SIZE <= g->size && !atomic_load(&s->stopping)) {
        if (off + BE_REC_HEADER_SIZE > base + have) { /* refill from off */
            base = off;
            size_t want = g->size - off < cap ? (size_t)(g->size - off) : cap;
            ssize_t n = ds_pread_full(g->fd, buf, want, off);
            if (n < 0)
                *ioerr = errno;
            if (n < BE_REC_HEADER_SIZE)
                break;
            have = (size_t)n;
        }
        const uint8_t *hdr = buf + (off - base);
        be_rec_header_t h;
        if (be_rec_header_decode(hdr, &h) != BE_OK ||
            off + BE_REC_HEADER_SIZE + (uint64_t)h.len > g->size)
            break;
        uint64_t end = off + BE_REC_HEADER_SIZE + h.len;
        if (end > base + have) { /* the record runs past the buffer: read it whole */
            size_t need = BE_REC_HEADER_SIZE + (size_t)h.len;
            if (need > cap) {
                uint8_t *nb = realloc(buf, need);
                if (nb == NULL)
                    break;
                buf = nb;
                cap = need;
            }
            base = off;
            size_t want = g->size - off < cap ? (size_t)(g->size - off) : cap;
            ssize_t n = ds_pread_full(g->fd, buf, want, off);
            if (n < 0)
                *ioerr = errno;
            if (n < (ssize_t)need)
                break;
            have = (size_t)n;
            hdr = buf;
        }
        if (be_rec_verify(hdr, &h, hdr + BE_REC_HEADER_SIZE) != BE_OK)
            break;
        uint64_t tag = ds_tag_of(&h.digest);
        if (h.kind == BE_REC_PURGE)
            ds_index_drop(s, tag, UINT32_MAX, 0);
        else
            ds_index_put(s, tag, slot, (uint32_t)off, h.len);
        if (keep_footer && ds_foot_add(g, &h.digest, (uint32_t)off,
                                       h.kind == BE_REC_PURGE ? BE_FOOT_PURGE_LEN : h.len) != BE_OK)
            break;
        off = end;
    }
    free(buf);
    return off;
}

/* How many records a segment's footer lists (0 without a valid trailer), from 32 bytes. */
static uint64_t
footer_count(const found_t *f)
{
    uint8_t tr[BE_FOOT_TRAILER_SIZE];
    be_foot_trailer_t t;
    if (f->size < BE_SEG_HEADER_SIZE + BE_FOOT_TRAILER_SIZE ||
        ds_pread_full(f->fd, tr, sizeof(tr), f->size - sizeof(tr)) != (ssize_t)sizeof(tr) ||
        be_foot_trailer_decode(tr, f->size, &t) != BE_OK)
        return 0;
    return t.count;
}

static void
set_state(be_diskstore_t *s, int state)
{
    pthread_mutex_lock(&s->ready_lock);
    atomic_store(&s->state, state);
    pthread_cond_broadcast(&s->ready_cond);
    pthread_mutex_unlock(&s->ready_lock);
}

/* Opens the directory and takes its lock. BE_OK or BE_ERROR (logged and counted). */
static int
open_dir(be_diskstore_t *s)
{
    s->dirfd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        ds_fault(s, BE_DISK_ERR_PATH, errno, "open()", NULL);
        return BE_ERROR;
    }
    s->lockfd = openat(s->dirfd, LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (s->lockfd < 0) {
        ds_fault(s, ds_errno_kind(errno), errno, "open()", LOCK_NAME);
        return BE_ERROR;
    }
    /* A binary upgrade starts this process while the old one still holds the lock: it
     * seals its open segment and lets go once this one serves, so wait for it a while. */
    for (int waited = 0; flock(s->lockfd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK &&
                         waited < s->lock_wait_ms && !atomic_load(&s->stopping);
         waited += 10)
        usleep(10000);
    if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
        ds_fault(s, BE_DISK_ERR_PATH, errno, "flock() (another blockedge uses the directory?)",
                 LOCK_NAME);
        return BE_ERROR;
    }
    return BE_OK;
}

/* Reads the directory: valid-looking segment files, sorted; removes stale temp files. */
static size_t
find_segments(be_diskstore_t *s, found_t **out)
{
    size_t n = 0, cap = 0;
    found_t *list = NULL;
    int fd = dup(s->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        ds_fault(s, ds_errno_kind(errno), errno, "opendir()", NULL);
        *out = NULL;
        return 0;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t seq;
        int rc = be_seg_name_parse(de->d_name, &seq);
        if (rc == BE_DECLINED)
            continue; /* not ours: left alone */
        if (seq >= s->next_seq)
            s->next_seq = seq + 1; /* never reuse a name, even a bad file's */
        struct stat st;
        if (fstatat(s->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (rc == BE_AGAIN) {
            if (S_ISREG(st.st_mode)) {
                be_log(BE_LOG_NOTICE, "disk tier: removing stale temp file \"%s/%s\"", s->path,
                       de->d_name);
                unlinkat(s->dirfd, de->d_name, 0);
            }
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            be_log(BE_LOG_WARN, "disk tier: \"%s/%s\" is not a regular file (a symlink?), ignored",
                   s->path, de->d_name);
            continue;
        }
        int sfd = openat(s->dirfd, de->d_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0) {
            ds_fault(s, ds_errno_kind(errno), errno, "open()", de->d_name);
            continue;
        }
        uint8_t hdr[BE_SEG_HEADER_SIZE];
        be_seg_header_t h;
        int hrc = ds_pread_full(sfd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr)
                      ? be_seg_header_decode(hdr, &h)
                      : BE_ERROR;
        if (hrc != BE_OK || h.seq != seq) {
            be_log(BE_LOG_WARN, "disk tier: \"%s/%s\" is %s, ignored (never served)", s->path,
                   de->d_name,
                   hrc == BE_DECLINED ? "a segment of another format version"
                                      : "not a valid segment");
            close(sfd);
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            found_t *nl = realloc(list, ncap * sizeof(*nl));
            if (nl == NULL) {
                close(sfd);
                break;
            }
            list = nl;
            cap = ncap;
        }
        list[n].seq = seq;
        list[n].fd = sfd;
        list[n].size = (uint64_t)st.st_size;
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(list, n, sizeof(*list), cmp_found);
    *out = list;
    return n;
}

void *
ds_loader_main(void *arg)
{
    be_diskstore_t *s = arg;
    int64_t t0 = be_clock_msec();
    be_log_set_thread_id(0);
    pthread_mutex_lock(&s->wlock);
    if (open_dir(s) != BE_OK) {
        pthread_mutex_unlock(&s->wlock);
        set_state(s, BE_DISK_FAILED);
        return NULL;
    }
    found_t *list;
    size_t n = find_segments(s, &list);
    uint32_t nslots = (uint32_t)(s->max_segments + 2);
    if (n + 2 > nslots)
        nslots = (uint32_t)n + 2;
    s->segs = calloc(nslots, sizeof(*s->segs));
    s->live = calloc(nslots, sizeof(*s->live));
    if (s->segs == NULL || s->live == NULL) {
        for (size_t i = 0; i < n; i++)
            close(list[i].fd);
        free(list);
        pthread_mutex_unlock(&s->wlock);
        be_log(BE_LOG_ERROR, "disk tier: out of memory while loading");
        set_state(s, BE_DISK_FAILED);
        return NULL;
    }
    s->nslots = nslots;
    uint64_t expect = 0;
    for (size_t i = 0; i < n; i++)
        expect += footer_count(&list[i]);
    ds_index_presize(s, expect);
    uint64_t dropped_tail = 0;
    for (size_t i = 0; i < n; i++) {
        seg_t *g = calloc(1, sizeof(*g));
        uint32_t slot;
        if (g == NULL || atomic_load(&s->stopping)) {
            free(g);
            close(list[i].fd);
            continue;
        }
        g->seq = list[i].seq;
        g->fd = list[i].fd;
        g->refs = 1;
        g->size = list[i].size;
        if (ds_slot_take(s, g, &slot) != BE_OK) {
            close(g->fd);
            free(g);
            continue;
        }
        int last = i + 1 == n;
        if (load_footer(s, g, slot) == BE_OK) {
            g->sealed = 1;
            continue;
        }
        int ioerr = 0;
        uint64_t end = scan_records(s, g, slot, last, &ioerr);
        if (ioerr != 0) {
            /* Not a torn tail: records past the error may be sound. Keep them on disk, sealed
             * (nothing is appended behind an unread part), and count the fault. */
            char name[64];
            ds_seg_name(name, sizeof(name), g->seq, 0);
            ds_fault(s, ds_errno_kind(ioerr), ioerr, "pread()", name);
            last = 0;
        } else if (last && end < g->size) {
            dropped_tail = g->size - end;
            if (ftruncate(g->fd, (off_t)end) == 0) {
                pthread_mutex_lock(&s->lock);
                s->bytes -= g->size - end;
                g->size = end;
                pthread_mutex_unlock(&s->lock);
            } else {
                ds_fault(s, ds_errno_kind(errno), errno, "ftruncate()", NULL);
                last = 0; /* cannot append behind a torn tail: keep it sealed */
            }
        }
        if (last) {
            g->flushed = g->size;
            s->open = g;
            s->open_slot = slot;
        } else {
            pthread_mutex_lock(&s->lock);
            g->sealed = 1;
            pthread_mutex_unlock(&s->lock);
            free(g->foot);
            g->foot = NULL;
            g->nfoot = g->foot_cap = 0;
        }
    }
    free(list);
    /* disk_size may have shrunk since the files were written */
    while (s->nsegs > s->max_segments) {
        uint32_t v = ds_oldest_sealed(s);
        if (v == UINT32_MAX)
            break;
        ds_reclaim_wlocked(s, v, 0);
    }
    pthread_mutex_unlock(&s->wlock);
    atomic_store(&s->load_msec, (uint64_t)(be_clock_msec() - t0));
    be_log(BE_LOG_NOTICE,
           "disk tier \"%s\" loaded: %" PRIu64 " blocks in %u segments, %" PRIu64 " bytes, %" PRIu64
           " ms%s",
           s->path, atomic_load(&s->nblocks), s->nsegs, s->bytes, atomic_load(&s->load_msec),
           dropped_tail ? " (a torn tail was dropped)" : "");
    set_state(s, BE_DISK_READY);
    return NULL;
}
