/*
 * diskstore.c - the persistent disk tier: log-structured segment files, a compact RAM index,
 * recovery, reclaim by segment, purge, and fault handling. The byte layout is segment.c's.
 * This file holds the public API (open, close, lookup, read, admit, append, purge, stats),
 * the fault counters and the segment table; the index, the writer, reclaim and recovery are
 * diskstore_index.c, _write.c, _reclaim.c and _load.c, sharing diskstore_int.h.
 *
 * Owns the files under disk_path named "<16 hex>.seg" (and their ".tmp" while created) and
 * "blockedge.lock"; never follows a symlink, never touches any other file. Knows digests and
 * byte ranges only: no HTTP, no refcounts, no event loops. Invariants: the index points only
 * at records whose bytes were fully written; a read serves bytes only after the record's
 * magic, version, length, digest and crc32c all check; a purged digest is followed on disk
 * by a purge record, so recovery (which replays segments in sequence order) never brings it
 * back; the segment files never exceed disk_size plus one segment.
 *
 * Threads and locks. Three locks, always taken in this order, never held across a callback:
 *   wlock (the writer: open segment, roll, reclaim, purge records; held across write I/O)
 *     -> lock (the segment table: slots, sizes, reader references)
 *       -> shard[i].lock (one index shard; never two at once; never held across I/O)
 * Readers take a shard lock to look up, then the table lock to pin the segment's file, then
 * read with no lock held. The loader thread holds wlock while it recovers; lookups miss until
 * the state is READY.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "blockedge/check.h"
#include "blockedge/defs.h"
#include "blockedge/diskstore.h"
#include "blockedge/log.h"
#include "blockedge/segment.h"
#include "diskstore_int.h"

#define STORE_MAGIC 0x6473746fu /* "dsto" */
/*
 * The write backlog: bytes of fills admitted but not yet written. Each holds its block alive
 * (a reference) even once the memory tier evicted it, so the backlog is memory on top of
 * memory_size, and this bound is that extra memory at most. It absorbs a burst of fills
 * faster than the writer. Measured (bench/disk, warming 1 GiB of 1 MiB blocks 16 at a time
 * on a 2-core host): fills at 230-400 MiB/s against a writer at 240-280 MiB/s (its buffered
 * writes cost ~1.5 ms of CPU per MiB and wait for a CPU besides); with 64 MiB, 100-500 of the
 * 1024 fills were dropped. 256 MiB covers a 1 GiB burst whose fill rate exceeds the writer's
 * by up to a third. Past it a fill is dropped (counted, logged): the block stays a disk miss.
 */
#define BACKLOG_MAX    (256u << 20)
#define DROP_LOG_EVERY 10000 /* ms between two summaries of dropped fills */

static const char *const error_labels[BE_DISK_ERR_N] = {
#define X(id, label) label,
    BE_DISK_ERRORS(X)
#undef X
};

const char *
be_disk_error_label(int kind)
{
    return kind >= 0 && kind < BE_DISK_ERR_N ? error_labels[kind] : "other";
}

void
ds_fault(be_diskstore_t *s, int kind, int err, const char *what, const char *name)
{
    atomic_fetch_add(&s->errors[kind], 1);
    if (atomic_exchange(&s->logged[kind], 1) == 0)
        be_log(BE_LOG_ERROR,
               "%s \"%s%s%s\" failed (%d: %s) on the disk tier; further \"%s\" faults are "
               "only counted in blockedge_disk_errors_total",
               what, s->path, name != NULL ? "/" : "", name != NULL ? name : "", err, strerror(err),
               be_disk_error_label(kind));
}

static const char *const drop_what[BE_DISK_DROP_N] = {
#define X(id, what) what,
    BE_DISK_DROPS(X)
#undef X
};

/* A dropped fill is a disk miss later, so drops must be seen: counted by reason (the sum is
 * blockedge_disk_writes_dropped_total) and summed up in one warn line at most every
 * DROP_LOG_EVERY ms, whichever thread drops. */
void
ds_drop(be_diskstore_t *s, int reason)
{
    atomic_fetch_add(&s->dropped_by[reason], 1);
    int64_t now = be_clock_msec(), at = atomic_load(&s->drop_log_at);
    if (now < at || !atomic_compare_exchange_strong(&s->drop_log_at, &at, now + DROP_LOG_EVERY))
        return;
    char line[256];
    size_t n = 0;
    for (int i = 0; i < BE_DISK_DROP_N && n < sizeof(line); i++) {
        uint64_t c = atomic_load(&s->dropped_by[i]);
        if (c > 0)
            n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%llu %s", n > 0 ? ", " : "",
                                  (unsigned long long)c, drop_what[i]);
    }
    be_log(BE_LOG_WARN,
           "disk tier \"%s\": fills not written to disk since start: %s (backlog %llu of %u "
           "MiB); those blocks will miss the disk tier. Summed up at most every %d s",
           s->path, line, (unsigned long long)(atomic_load(&s->backlog) >> 20), BACKLOG_MAX >> 20,
           DROP_LOG_EVERY / 1000);
}

int
ds_errno_kind(int err)
{
    switch (err) {
    case ENOSPC:
    case EDQUOT:
        return BE_DISK_ERR_NOSPC;
    case EIO:
        return BE_DISK_ERR_IO;
    case EROFS:
        return BE_DISK_ERR_READONLY;
    case ENOENT:
    case ENOTDIR:
    case EACCES:
    case EPERM:
        return BE_DISK_ERR_PATH;
    default:
        return BE_DISK_ERR_OTHER;
    }
}

void
ds_seg_name(char *buf, size_t len, uint64_t seq, int tmp)
{
    snprintf(buf, len, BE_SEG_NAME_FMT "%s", (unsigned long long)seq, tmp ? BE_SEG_TMP_SUFFIX : "");
}

/* ---- the segment table ---------------------------------------------------------------------
 * Slots of open files, each with a reference count: the table holds one, a read in flight
 * pins another, so a reclaimed segment's file closes when its last read ends. Under lock.
 */

void
ds_seg_unpin(be_diskstore_t *s, seg_t *g)
{
    pthread_mutex_lock(&s->lock);
    int last = --g->refs == 0;
    pthread_mutex_unlock(&s->lock);
    if (last) {
        close(g->fd);
        free(g->foot);
        free(g);
    }
}

int
ds_slot_take(be_diskstore_t *s, seg_t *g, uint32_t *slot)
{
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = 0; i < s->nslots; i++) {
        if (s->segs[i] == NULL) {
            atomic_store(&s->live[i], 0);
            __atomic_store_n(&s->segs[i], g, __ATOMIC_RELEASE);
            s->nsegs++;
            s->bytes += g->size;
            pthread_mutex_unlock(&s->lock);
            *slot = i;
            return BE_OK;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return BE_ERROR;
}

void
ds_slot_release(be_diskstore_t *s, uint32_t slot)
{
    pthread_mutex_lock(&s->lock);
    seg_t *g = s->segs[slot];
    __atomic_store_n(&s->segs[slot], NULL, __ATOMIC_RELEASE);
    s->nsegs--;
    s->bytes -= g->size;
    pthread_mutex_unlock(&s->lock);
}

void
ds_bytes_add(be_diskstore_t *s, seg_t *g, uint64_t n)
{
    pthread_mutex_lock(&s->lock);
    g->size += n;
    s->bytes += n;
    pthread_mutex_unlock(&s->lock);
}

uint32_t
ds_oldest_sealed(be_diskstore_t *s)
{
    uint32_t best = UINT32_MAX;
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = 0; i < s->nslots; i++) {
        seg_t *g = s->segs[i];
        if (g != NULL && g->sealed && (best == UINT32_MAX || g->seq < s->segs[best]->seq))
            best = i;
    }
    pthread_mutex_unlock(&s->lock);
    return best;
}

/* ---- public ---------------------------------------------------------------------------------- */

be_diskstore_t *
be_diskstore_open(const be_diskstore_conf_t *conf)
{
    be_diskstore_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->index = ds_index_new();
    if (s->index == NULL) {
        free(s);
        return NULL;
    }
    s->magic = STORE_MAGIC;
    s->conf = *conf;
    snprintf(s->path, sizeof(s->path), "%s", conf->path);
    s->conf.path = s->path;
    s->lock_wait_ms = conf->lock_wait_ms;
    if (s->conf.segment_size > 0xffffffffu)
        s->conf.segment_size = 0xffffffffu;
    s->max_segments = conf->size / s->conf.segment_size;
    if (s->max_segments < 2)
        s->max_segments = 2;
    s->dirfd = s->lockfd = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->wlock, NULL);
    pthread_mutex_init(&s->ready_lock, NULL);
    pthread_cond_init(&s->ready_cond, NULL);
    atomic_store(&s->state, BE_DISK_LOADING);
    if (pthread_create(&s->loader, NULL, ds_loader_main, s) != 0) {
        be_log(BE_LOG_ERROR, "pthread_create() failed for the disk tier loader");
        atomic_store(&s->state, BE_DISK_FAILED);
    } else {
        s->loader_started = 1;
    }
    return s;
}

void
be_diskstore_close(be_diskstore_t **sp)
{
    be_diskstore_t *s = *sp;
    if (s == NULL)
        return;
    *sp = NULL;
    BE_CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    atomic_store(&s->stopping, 1);
    if (s->loader_started)
        pthread_join(s->loader, NULL);
    if (s->open != NULL && fdatasync(s->open->fd) != 0)
        ds_fault(s, ds_errno_kind(errno), errno, "fdatasync()", NULL);
    for (uint32_t i = 0; i < s->nslots; i++) {
        seg_t *g = s->segs[i];
        if (g != NULL) {
            close(g->fd);
            free(g->foot);
            free(g);
        }
    }
    free(s->segs);
    free((void *)s->live);
    ds_index_free(&s->index);
    if (s->lockfd >= 0)
        close(s->lockfd);
    if (s->dirfd >= 0)
        close(s->dirfd);
    pthread_cond_destroy(&s->ready_cond);
    pthread_mutex_destroy(&s->ready_lock);
    pthread_mutex_destroy(&s->wlock);
    pthread_mutex_destroy(&s->lock);
    s->magic = 0;
    free(s);
}

int
be_diskstore_check_path(const char *path, char *err, size_t errlen)
{
    struct stat st;
    struct statvfs vfs;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "stat() \"%s\" failed (%d: %s)", path, errno, strerror(errno));
        return BE_ERROR;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "\"%s\" is not a directory", path);
        return BE_ERROR;
    }
    if (access(path, W_OK | X_OK) != 0) {
        snprintf(err, errlen, "access() \"%s\" failed (%d: %s)", path, errno, strerror(errno));
        return BE_ERROR;
    }
    if (statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) {
        snprintf(err, errlen, "\"%s\" is on a read-only file system", path);
        return BE_ERROR;
    }
    return BE_OK;
}

int
be_diskstore_wait_loaded(be_diskstore_t *s, int msec)
{
    BE_CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += msec / 1000;
    ts.tv_nsec += (long)(msec % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&s->ready_lock);
    while (atomic_load(&s->state) == BE_DISK_LOADING)
        if (pthread_cond_timedwait(&s->ready_cond, &s->ready_lock, &ts) != 0)
            break;
    pthread_mutex_unlock(&s->ready_lock);
    return atomic_load(&s->state);
}

int
be_diskstore_lookup(be_diskstore_t *s, const be_key_t *digest, be_disk_loc_t *loc)
{
    BE_CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    if (atomic_load_explicit(&s->state, memory_order_acquire) != BE_DISK_READY)
        return BE_DECLINED;
    return ds_index_lookup(s, ds_tag_of(digest), loc);
}

static int read_loc(be_diskstore_t *s, const be_disk_loc_t *loc, const be_key_t *digest, void *buf,
                    int nowait);

int
be_diskstore_read(be_diskstore_t *s, const be_disk_loc_t *loc, const be_key_t *digest, void *buf)
{
    BE_CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    return read_loc(s, loc, digest, buf, 0);
}

int
be_diskstore_read_cached(be_diskstore_t *s, const be_disk_loc_t *loc, const be_key_t *digest,
                         void *buf)
{
    BE_CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    return read_loc(s, loc, digest, buf, 1);
}

static int
read_loc(be_diskstore_t *s, const be_disk_loc_t *loc, const be_key_t *digest, void *buf, int nowait)
{
    pthread_mutex_lock(&s->lock);
    seg_t *g = loc->slot < s->nslots ? s->segs[loc->slot] : NULL;
    if (g == NULL || (uint32_t)g->seq != loc->seq) {
        pthread_mutex_unlock(&s->lock);
        return BE_DECLINED;
    }
    g->refs++;
    pthread_mutex_unlock(&s->lock);

    uint8_t hdr[BE_REC_HEADER_SIZE];
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {buf, loc->len}};
    ssize_t n = ds_preadv_full(g->fd, iov, loc->len > 0 ? 2 : 1, loc->off, nowait ? RWF_NOWAIT : 0);
    int err = errno;
    uint64_t seq = g->seq;
    int retire = 0;
    if (n < 0 && !nowait)
        retire = atomic_fetch_add(&g->read_errors, 1) + 1 == DS_READ_ERRORS_MAX;
    ds_seg_unpin(s, g);
    if (nowait && n < (ssize_t)(BE_REC_HEADER_SIZE + (size_t)loc->len))
        return BE_AGAIN; /* not (all) in the page cache, or any error: the blocking read on an
                            I/O thread decides */

    uint64_t tag = ds_tag_of(digest);
    if (n < 0) {
        char name[64];
        ds_seg_name(name, sizeof(name), seq, 0);
        ds_fault(s, ds_errno_kind(err), err, "pread()", name);
        ds_index_drop(s, tag, loc->slot, loc->off);
        if (retire)
            ds_retire(s, loc->slot, seq);
        return BE_ERROR;
    }
    be_rec_header_t h;
    int hrc = n == (ssize_t)(BE_REC_HEADER_SIZE + (size_t)loc->len) ? be_rec_header_decode(hdr, &h)
                                                                    : BE_ERROR;
    if (hrc == BE_OK && h.kind == BE_REC_BLOCK && h.len == loc->len &&
        !be_key_equal(&h.digest, digest) && be_rec_verify(hdr, &h, buf) == BE_OK)
        return BE_DECLINED; /* a sound record of another digest with the same tag */
    if (hrc != BE_OK || h.kind != BE_REC_BLOCK || h.len != loc->len ||
        be_rec_verify(hdr, &h, buf) != BE_OK) {
        ds_index_drop(s, tag, loc->slot, loc->off);
        uint64_t c = atomic_fetch_add(&s->corruptions, 1);
        if (c < 10) {
            char hex[BE_KEY_HEX_LEN + 1], name[64];
            ds_seg_name(name, sizeof(name), seq, 0);
            be_log(BE_LOG_ERROR,
                   "disk tier: record of %s at offset %u in \"%s/%s\" is corrupt "
                   "(%s); dropped, the block will be fetched again",
                   be_key_to_hex(digest, hex), loc->off, s->path, name,
                   n != (ssize_t)(BE_REC_HEADER_SIZE + (size_t)loc->len) ? "the file ends inside it"
                   : hrc != BE_OK                                        ? "bad header"
                                                                         : "checksum mismatch");
        }
        return BE_ERROR;
    }
    ds_index_mark_hit(s, tag, loc->slot, loc->off);
    return BE_OK;
}

int
be_diskstore_admit(be_diskstore_t *s, const be_key_t *digest, size_t len)
{
    BE_CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    if (atomic_load(&s->state) != BE_DISK_READY || atomic_load(&s->writes_disabled) ||
        len > BE_REC_MAX_LEN)
        return BE_DECLINED;
    be_disk_loc_t loc;
    if (be_diskstore_lookup(s, digest, &loc) == BE_OK)
        return BE_DECLINED;
    int64_t until = atomic_load(&s->paused_until);
    if (until != 0 && be_clock_msec() < until) {
        ds_drop(s, BE_DISK_DROP_PAUSED);
        return BE_DECLINED;
    }
    if (atomic_fetch_add(&s->backlog, len) + len > BACKLOG_MAX) {
        atomic_fetch_sub(&s->backlog, len);
        ds_drop(s, BE_DISK_DROP_BACKLOG);
        return BE_DECLINED;
    }
    return BE_OK;
}

void
be_diskstore_unadmit(be_diskstore_t *s, size_t len)
{
    BE_CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    atomic_fetch_sub(&s->backlog, len);
}

static uint64_t
usec_between(const struct timespec *a, const struct timespec *b)
{
    return (uint64_t)((b->tv_sec - a->tv_sec) * 1000000 + (b->tv_nsec - a->tv_nsec) / 1000);
}

int
be_diskstore_append(be_diskstore_t *s, const be_key_t *digest, const void *data, size_t len)
{
    BE_CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    pthread_mutex_lock(&s->wlock);
    be_disk_loc_t loc;
    int rc = BE_DECLINED;
    if (!atomic_load(&s->writes_disabled) && be_diskstore_lookup(s, digest, &loc) != BE_OK) {
        struct timespec t0, t1, c0, c1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        rc = ds_append_wlocked(s, digest, data, (uint32_t)len, BE_REC_BLOCK, 1);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        atomic_fetch_add(&s->write_busy_usec, usec_between(&t0, &t1));
        atomic_fetch_add(&s->write_cpu_usec, usec_between(&c0, &c1));
        if (rc == BE_OK)
            atomic_fetch_add(&s->written_bytes, BE_REC_HEADER_SIZE + (uint64_t)len);
    }
    pthread_mutex_unlock(&s->wlock);
    atomic_fetch_sub(&s->backlog, len);
    if (rc == BE_ERROR)
        ds_drop(s, BE_DISK_DROP_ERROR);
    return rc == BE_ERROR ? BE_ERROR : BE_OK;
}

int
be_diskstore_purge(be_diskstore_t *s, const be_key_t *digest)
{
    BE_CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    if (be_diskstore_wait_loaded(s, 60000) != BE_DISK_READY)
        return BE_DECLINED;
    pthread_mutex_lock(&s->wlock);
    int found = ds_index_drop(s, ds_tag_of(digest), UINT32_MAX, 0) == BE_OK;
    /* Written even when not indexed: an unindexed copy (a dropped or shadowed record) must
     * not come back at the next start either. */
    if (ds_append_wlocked(s, digest, NULL, 0, BE_REC_PURGE, 1) != BE_OK)
        be_log(BE_LOG_ERROR, "disk tier: the purge record could not be written; the block is "
                             "forgotten now but may be served again after a restart");
    pthread_mutex_unlock(&s->wlock);
    atomic_fetch_add(&s->purges, 1);
    return found ? BE_OK : BE_DECLINED;
}

int
be_diskstore_peek(be_diskstore_t *s, const be_key_t *digest, be_disk_info_t *out)
{
    BE_CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    be_disk_loc_t loc;
    uint64_t tag = ds_tag_of(digest);
    if (be_diskstore_lookup(s, digest, &loc) != BE_OK)
        return BE_DECLINED;
    out->offset = loc.off;
    out->len = loc.len;
    out->segment = loc.seq;
    pthread_mutex_lock(&s->lock);
    seg_t *g = loc.slot < s->nslots ? s->segs[loc.slot] : NULL;
    if (g != NULL && (uint32_t)g->seq == loc.seq)
        out->segment = g->seq;
    pthread_mutex_unlock(&s->lock);
    if (!ds_index_holds(s, tag, loc.slot, loc.off, &out->hit))
        return BE_DECLINED; /* reclaimed or purged since the look-up */
    return BE_OK;
}

int
be_diskstore_state(be_diskstore_t *s)
{
    BE_CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    return atomic_load(&s->state);
}

void
be_diskstore_release(be_diskstore_t *s)
{
    BE_CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    be_diskstore_wait_loaded(s, 60000);
    pthread_mutex_lock(&s->wlock);
    if (!s->released) {
        s->released = 1;
        ds_seal_wlocked(s);
        if (s->lockfd >= 0)
            flock(s->lockfd, LOCK_UN);
    }
    pthread_mutex_unlock(&s->wlock);
    be_log(BE_LOG_NOTICE, "disk tier \"%s\": open segment sealed and directory lock released",
           s->path);
}

int
be_diskstore_reacquire(be_diskstore_t *s)
{
    BE_CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    int rc = BE_OK;
    pthread_mutex_lock(&s->wlock);
    if (s->released) {
        if (s->lockfd >= 0 && flock(s->lockfd, LOCK_EX | LOCK_NB) == 0) {
            s->released = 0; /* the next append opens a new segment */
        } else {
            rc = BE_ERROR;
        }
    }
    pthread_mutex_unlock(&s->wlock);
    if (rc == BE_OK)
        be_log(BE_LOG_NOTICE, "disk tier \"%s\": directory lock taken back, writes resume",
               s->path);
    else
        be_log(BE_LOG_ALERT,
               "disk tier \"%s\": the directory lock could not be taken back "
               "(%d: %s); this process only reads it from now on",
               s->path, errno, strerror(errno));
    return rc;
}

void
be_diskstore_stats(be_diskstore_t *s, be_diskstore_stats_t *out)
{
    BE_CHECK_OBJ_NOTNULL(s, STORE_MAGIC);
    memset(out, 0, sizeof(*out));
    out->state = atomic_load(&s->state);
    out->blocks = atomic_load(&s->nblocks);
    out->capacity = s->conf.size;
    uint64_t ib = ds_index_bytes(s);
    pthread_mutex_lock(&s->lock);
    out->bytes = s->bytes;
    out->segments = s->nsegs;
    ib += (uint64_t)s->nslots * (sizeof(seg_t *) + sizeof(uint64_t) + sizeof(seg_t));
    pthread_mutex_unlock(&s->lock);
    out->index_bytes = ib;
    out->evictions = atomic_load(&s->evictions);
    out->reappends = atomic_load(&s->reappends);
    out->corruptions = atomic_load(&s->corruptions);
    out->retired = atomic_load(&s->retired);
    out->writes = atomic_load(&s->writes);
    for (int i = 0; i < BE_DISK_DROP_N; i++) {
        out->dropped_by[i] = atomic_load(&s->dropped_by[i]);
        out->writes_dropped += out->dropped_by[i];
    }
    out->backlog = atomic_load(&s->backlog);
    out->written_bytes = atomic_load(&s->written_bytes);
    out->write_busy_msec = atomic_load(&s->write_busy_usec) / 1000;
    out->write_cpu_msec = atomic_load(&s->write_cpu_usec) / 1000;
    out->purges = atomic_load(&s->purges);
    out->load_msec = atomic_load(&s->load_msec);
    for (int i = 0; i < BE_DISK_ERR_N; i++)
        out->errors[i] = atomic_load(&s->errors[i]);
}
