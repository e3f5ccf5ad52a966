/*
 * diskstore.c - the persistent disk tier: log-structured segment files, a compact RAM index,
 * recovery, reclaim by segment, purge, and fault handling. The byte layout is segment.c's.
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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

#include "blockedge/defs.h"
#include "blockedge/diskstore.h"
#include "blockedge/log.h"
#include "blockedge/oatable.h"
#include "blockedge/segment.h"

#define STORE_MAGIC   0x6473746fu /* "dsto" */
#define NSHARDS       256
#define SHARD_MIN_CAP 64
#define BACKLOG_MAX   (64u << 20) /* bytes admitted but not yet written */
#define NOSPC_PAUSE   200         /* ms without writes after ENOSPC */
#define LOCK_NAME     "blockedge.lock"

/* ---- the RAM index -------------------------------------------------------------------------
 * An open-addressing table per shard (oatable.h: linear probing, backward-shift deletion),
 * grown at 3/4.
 * An entry keeps 8 bytes of the digest (the tag), not all 32: a lookup may find another
 * digest with the same tag (about one pair in 2^64), which the read then rejects because the
 * record header carries the full digest. So an entry is 24 bytes, and at a load between 3/8
 * and 3/4 the index costs 32..64 bytes per block.
 */
#define E_USED 1u
#define E_HIT  2u

typedef struct ientry_s {
    uint64_t tag;
    uint32_t slot; /* segment table index */
    uint32_t off;  /* of the record header */
    uint32_t len;  /* block bytes */
    uint32_t flags;
} ientry_t;

static int
ientry_held(const ientry_t *e)
{
    return (e->flags & E_USED) != 0;
}

static uint64_t
ientry_hash(void *ctx, const ientry_t *e)
{
    BE_UNUSED(ctx);
    return e->tag;
}

static int
ientry_match(void *ctx, const ientry_t *e, const uint64_t *tag)
{
    BE_UNUSED(ctx);
    return e->tag == *tag;
}

/* itab_t: the slots, a power-of-two capacity (0 until the first block) and the count */
BE_OATABLE_DEFINE(itab, ientry_t, uint64_t, void, ientry_held, ientry_hash, ientry_match)

typedef struct ishard_s {
    pthread_mutex_t lock;
    itab_t tab;
} ishard_t;

typedef struct seg_s {
    uint64_t seq;
    int fd;
    unsigned refs; /* the table's one + pinned reads; under lock */
    int sealed;
    uint64_t size; /* file bytes */
    uint8_t *foot; /* open segment: encoded footer entries so far */
    size_t nfoot, foot_cap;
} seg_t;

struct be_diskstore_s {
    uint32_t magic;
    be_diskstore_conf_t conf;
    char path[1024];
    int dirfd, lockfd;
    _Atomic int state;
    _Atomic int stopping;
    pthread_t loader;
    int loader_started;
    pthread_mutex_t ready_lock;
    pthread_cond_t ready_cond;

    ishard_t shards[NSHARDS];
    _Atomic uint64_t nblocks;

    pthread_mutex_t lock;   /* segment table */
    seg_t **segs;           /* [nslots]; read without lock only by holders of an entry */
    _Atomic uint64_t *live; /* [nslots] index entries per slot */
    uint32_t nslots, nsegs;
    uint64_t bytes;

    pthread_mutex_t wlock; /* the writer */
    seg_t *open;
    uint32_t open_slot;
    uint64_t next_seq;
    uint64_t max_segments;
    int force_roll;
    _Atomic int writes_disabled;
    _Atomic int64_t paused_until;

    _Atomic uint64_t backlog;
    _Atomic uint64_t evictions, reappends, corruptions, writes, writes_dropped, purges;
    _Atomic uint64_t load_msec;
    _Atomic uint64_t errors[BE_DISK_ERR_N];
    _Atomic int logged[BE_DISK_ERR_N];
};

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

static int64_t
mono_msec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Counts a fault and logs the first one of its kind (later ones only count). */
static void
fault(be_diskstore_t *s, int kind, int err, const char *what, const char *name)
{
    atomic_fetch_add(&s->errors[kind], 1);
    if (atomic_exchange(&s->logged[kind], 1) == 0)
        be_log(BE_LOG_ERROR,
               "%s \"%s%s%s\" failed (%d: %s) on the disk tier; further \"%s\" faults are "
               "only counted in blockedge_disk_errors_total",
               what, s->path, name != NULL ? "/" : "", name != NULL ? name : "", err, strerror(err),
               be_disk_error_label(kind));
}

static int
errno_kind(int err)
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

static void
seg_name(char *buf, size_t len, uint64_t seq, int tmp)
{
    snprintf(buf, len, BE_SEG_NAME_FMT "%s", (unsigned long long)seq, tmp ? BE_SEG_TMP_SUFFIX : "");
}

/* ---- index ---------------------------------------------------------------------------------- */

static uint64_t
tag_of(const be_key_t *k)
{
    return be_key_hash(k);
}

static ishard_t *
shard_of(be_diskstore_t *s, uint64_t tag)
{
    return &s->shards[tag >> 56];
}

static ientry_t *
find_locked(ishard_t *sh, uint64_t tag)
{
    return itab_find(&sh->tab, NULL, tag, &tag);
}

static int
grow_locked(ishard_t *sh)
{
    return itab_grow(&sh->tab, NULL, sh->tab.cap ? sh->tab.cap * 2 : SHARD_MIN_CAP);
}

/* Removes e (a later entry of its probe run may shift into its place). */
static void
erase_locked(be_diskstore_t *s, ishard_t *sh, ientry_t *e)
{
    atomic_fetch_sub(&s->live[e->slot], 1);
    atomic_fetch_sub(&s->nblocks, 1);
    itab_erase(&sh->tab, NULL, e);
}

/* Points tag at (slot, off, len), replacing what it pointed at. BE_OK or BE_ERROR. */
static int
index_put(be_diskstore_t *s, uint64_t tag, uint32_t slot, uint32_t off, uint32_t len)
{
    ishard_t *sh = shard_of(s, tag);
    pthread_mutex_lock(&sh->lock);
    ientry_t *e = find_locked(sh, tag);
    if (e != NULL) {
        atomic_fetch_sub(&s->live[e->slot], 1);
    } else {
        if (((sh->tab.used + 1) * 4 > sh->tab.cap * 3 && grow_locked(sh) != BE_OK) ||
            (e = itab_insert(&sh->tab, tag)) == NULL) {
            pthread_mutex_unlock(&sh->lock);
            return BE_ERROR;
        }
        atomic_fetch_add(&s->nblocks, 1);
    }
    e->tag = tag;
    e->slot = slot;
    e->off = off;
    e->len = len;
    e->flags = E_USED;
    atomic_fetch_add(&s->live[slot], 1);
    pthread_mutex_unlock(&sh->lock);
    return BE_OK;
}

/* Removes tag if it still points at (slot, off); slot UINT32_MAX matches any place. */
static int
index_drop(be_diskstore_t *s, uint64_t tag, uint32_t slot, uint32_t off)
{
    ishard_t *sh = shard_of(s, tag);
    pthread_mutex_lock(&sh->lock);
    ientry_t *e = find_locked(sh, tag);
    int found = e != NULL && (slot == UINT32_MAX || (e->slot == slot && e->off == off));
    if (found)
        erase_locked(s, sh, e);
    pthread_mutex_unlock(&sh->lock);
    return found ? BE_OK : BE_DECLINED;
}

/* Removes every entry of a slot (a reclaim whose footer could not list them all). */
static uint64_t
index_sweep(be_diskstore_t *s, uint32_t slot)
{
    uint64_t n = 0;
    for (int k = 0; k < NSHARDS; k++) {
        ishard_t *sh = &s->shards[k];
        pthread_mutex_lock(&sh->lock);
        for (uint32_t i = 0; i < sh->tab.cap;) {
            ientry_t *e = &sh->tab.slots[i];
            if ((e->flags & E_USED) && e->slot == slot) {
                erase_locked(s, sh, e); /* something may have shifted into i: look again */
                n++;
            } else {
                i++;
            }
        }
        pthread_mutex_unlock(&sh->lock);
    }
    return n;
}

/* ---- the segment table ------------------------------------------------------------------- */

static void
seg_unpin(be_diskstore_t *s, seg_t *g)
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

static int
slot_take(be_diskstore_t *s, seg_t *g, uint32_t *slot)
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

static void
bytes_add(be_diskstore_t *s, seg_t *g, uint64_t n)
{
    pthread_mutex_lock(&s->lock);
    g->size += n;
    s->bytes += n;
    pthread_mutex_unlock(&s->lock);
}

/* The sealed segment with the lowest sequence (written longest ago), or UINT32_MAX. */
static uint32_t
oldest_sealed(be_diskstore_t *s)
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

static int
foot_add(seg_t *g, const be_key_t *digest, uint32_t off, uint32_t len)
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

/* ---- writing ------------------------------------------------------------------------------- */

static void
write_fault(be_diskstore_t *s, int err, const char *what, uint64_t seq)
{
    char name[64];
    seg_name(name, sizeof(name), seq, 0);
    int kind = errno_kind(err);
    fault(s, kind, err, what, name);
    if (kind == BE_DISK_ERR_READONLY) {
        atomic_store(&s->writes_disabled, 1);
    } else if (kind == BE_DISK_ERR_NOSPC) {
        /* The file system is smaller than disk_size: shrink to what fits and make room. */
        if (s->max_segments > 2 && s->nsegs > 2)
            s->max_segments = s->nsegs - 1 > 2 ? s->nsegs - 1 : 2;
        s->force_roll = 1;
        atomic_store(&s->paused_until, mono_msec() + NOSPC_PAUSE);
    }
}

/* Writes the footer of the open segment and marks it sealed (even if the write fails: a
 * segment without a footer is scanned at start-up instead). Under wlock. */
static void
seal_wlocked(be_diskstore_t *s)
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
    ssize_t n = pwritev(g->fd, iov, 2, (off_t)g->size);
    if (n == (ssize_t)want) {
        fdatasync(g->fd);
        bytes_add(s, g, want);
    } else {
        write_fault(s, n < 0 ? errno : ENOSPC, "pwritev() of a footer to", g->seq);
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

static int
create_wlocked(be_diskstore_t *s)
{
    uint64_t seq = s->next_seq;
    char tmp[64], name[64];
    seg_name(tmp, sizeof(tmp), seq, 1);
    seg_name(name, sizeof(name), seq, 0);
    int fd = openat(s->dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        write_fault(s, errno, "open() of a new segment", seq);
        return BE_ERROR;
    }
    uint8_t hdr[BE_SEG_HEADER_SIZE];
    be_seg_header_t h = {.seq = seq, .capacity = s->conf.segment_size};
    be_seg_header_encode(&h, hdr);
    ssize_t n = pwrite(fd, hdr, sizeof(hdr), 0);
    if (n != (ssize_t)sizeof(hdr) || renameat(s->dirfd, tmp, s->dirfd, name) != 0) {
        write_fault(s, n < 0 || n == (ssize_t)sizeof(hdr) ? errno : ENOSPC, "writing a new segment",
                    seq);
        close(fd);
        unlinkat(s->dirfd, tmp, 0);
        return BE_ERROR;
    }
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
    g->size = BE_SEG_HEADER_SIZE;
    if (slot_take(s, g, &slot) != BE_OK) {
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

static int append_wlocked(be_diskstore_t *s, const be_key_t *digest, const void *data, uint32_t len,
                          int kind, int may_roll);
static void reclaim_wlocked(be_diskstore_t *s, uint32_t slot, int reappend);

/*
 * Makes room by segment. A new open segment is created first, then the least recently used
 * segments are reclaimed until the count fits disk_size again, so the files never exceed
 * disk_size plus the one being filled, and a reclaimed segment's hot blocks have somewhere
 * to go. Under wlock.
 */
static int
roll_wlocked(be_diskstore_t *s)
{
    seal_wlocked(s);
    s->force_roll = 0;
    if (create_wlocked(s) != BE_OK) {
        uint32_t v = oldest_sealed(s); /* perhaps the file system is full: free one, retry */
        if (v == UINT32_MAX)
            return BE_ERROR;
        reclaim_wlocked(s, v, 0);
        if (create_wlocked(s) != BE_OK)
            return BE_ERROR;
    }
    while (s->nsegs > s->max_segments) {
        uint32_t v = oldest_sealed(s);
        if (v == UINT32_MAX)
            break;
        reclaim_wlocked(s, v, 1);
    }
    return BE_OK;
}

static int
append_wlocked(be_diskstore_t *s, const be_key_t *digest, const void *data, uint32_t len, int kind,
               int may_roll)
{
    uint64_t need = BE_REC_HEADER_SIZE + (uint64_t)len;
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
    ssize_t n = pwritev(g->fd, iov, len > 0 ? 2 : 1, (off_t)off);
    if (n != (ssize_t)need) {
        write_fault(s, n < 0 ? errno : ENOSPC, "pwritev() to", g->seq);
        if (ftruncate(g->fd, (off_t)off) != 0) {
            /* a torn record fails its crc: the scan at start-up drops it */
        }
        return BE_ERROR;
    }
    if (foot_add(g, digest, off, kind == BE_REC_PURGE ? BE_FOOT_PURGE_LEN : len) != BE_OK) {
        s->force_roll = 1; /* no memory for the footer: this record is its last */
    }
    bytes_add(s, g, need);
    atomic_fetch_add(&s->writes, 1);
    if (kind == BE_REC_BLOCK && index_put(s, tag_of(digest), s->open_slot, off, len) != BE_OK)
        return BE_ERROR;
    return BE_OK;
}

/* ---- reclaim --------------------------------------------------------------------------------
 *
 * Flash caches cannot afford a true LRU: an LRU list over millions of on-disk objects costs
 * RAM per object, and moving an object costs a write. CacheLib's BlockCache (the "Navy"
 * engine, Berg et al., "The CacheLib Caching Engine", OSDI 2020) and Kangaroo (McAllister et
 * al., SOSP 2021) evict whole regions in FIFO order and approximate LRU by *reinsertion*: a
 * region is reclaimed as a unit, and an object that was hit while it sat there is written
 * again at the head of the log instead of being dropped. Fresh writes and re-appends enter at
 * the head alike, so the oldest segment holds exactly the blocks written or re-appended the
 * longest ago and not hit since: the segment's own age stands in for each block's recency.
 *
 * Here a segment is the region. Each index entry carries one "hit since written" bit, set by
 * a verified disk read; the caller may also say a block is hot (cache.c: it sits in the
 * memory tier, whose hits never reach the disk). Reclaim walks the victim's records (its
 * footer, or its headers when the footer is missing), re-appends the hot ones that still
 * live there and drops the rest. Re-appends are capped at 3/4 of a segment per reclaim, so a
 * reclaim always frees space and the log cannot spin on a working set larger than the disk;
 * the hot blocks over the cap are dropped like cold ones (the next hit brings them back).
 * Cost: one bit per block in RAM, and writes proportional to the hot set, not to the hits.
 */

typedef struct rec_ref_s {
    be_key_t digest;
    uint32_t off, len;
} rec_ref_t;

/* Lists the records of a segment: from its footer when sealed and intact, else by reading
 * record headers until one does not decode. *out is malloc'ed. */
static size_t
list_records(seg_t *g, rec_ref_t **out)
{
    *out = NULL;
    uint8_t tr[BE_FOOT_TRAILER_SIZE];
    be_foot_trailer_t t;
    if (g->size >= BE_SEG_HEADER_SIZE + BE_FOOT_TRAILER_SIZE &&
        pread(g->fd, tr, sizeof(tr), (off_t)(g->size - sizeof(tr))) == (ssize_t)sizeof(tr) &&
        be_foot_trailer_decode(tr, g->size, &t) == BE_OK) {
        size_t n = (size_t)t.count * BE_FOOT_ENTRY_SIZE;
        uint8_t *raw = malloc(n ? n : 1);
        rec_ref_t *refs = calloc(t.count ? t.count : 1, sizeof(*refs));
        if (raw != NULL && refs != NULL && pread(g->fd, raw, n, t.data_end) == (ssize_t)n &&
            be_foot_entries_verify(raw, &t) == BE_OK) {
            size_t k = 0;
            for (uint32_t i = 0; i < t.count; i++) {
                be_foot_entry_t e;
                be_foot_entry_decode(raw + (size_t)i * BE_FOOT_ENTRY_SIZE, &e);
                if (e.len == BE_FOOT_PURGE_LEN)
                    continue;
                refs[k].digest = e.digest;
                refs[k].off = e.off;
                refs[k].len = e.len;
                k++;
            }
            free(raw);
            *out = refs;
            return k;
        }
        free(raw);
        free(refs);
    }
    size_t k = 0, cap = 0;
    rec_ref_t *refs = NULL;
    uint64_t off = BE_SEG_HEADER_SIZE;
    uint8_t hdr[BE_REC_HEADER_SIZE];
    while (off + BE_REC_HEADER_SIZE <= g->size &&
           pread(g->fd, hdr, sizeof(hdr), (off_t)off) == (ssize_t)sizeof(hdr)) {
        be_rec_header_t h;
        if (be_rec_header_decode(hdr, &h) != BE_OK)
            break;
        if (h.kind == BE_REC_BLOCK) {
            if (k == cap) {
                size_t ncap = cap ? cap * 2 : 256;
                rec_ref_t *nr = realloc(refs, ncap * sizeof(*nr));
                if (nr == NULL)
                    break;
                refs = nr;
                cap = ncap;
            }
            refs[k].digest = h.digest;
            refs[k].off = (uint32_t)off;
            refs[k].len = h.len;
            k++;
        }
        off += BE_REC_HEADER_SIZE + (uint64_t)h.len;
    }
    *out = refs;
    return k;
}

/* Reads and checks one whole record; buf holds len bytes. BE_OK or BE_ERROR. */
static int
read_record(int fd, uint32_t off, uint32_t len, const be_key_t *digest, void *buf)
{
    uint8_t hdr[BE_REC_HEADER_SIZE];
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {buf, len}};
    ssize_t n = preadv(fd, iov, len > 0 ? 2 : 1, off);
    if (n != (ssize_t)(BE_REC_HEADER_SIZE + (size_t)len))
        return BE_ERROR;
    be_rec_header_t h;
    if (be_rec_header_decode(hdr, &h) != BE_OK || h.kind != BE_REC_BLOCK || h.len != len ||
        !be_key_equal(&h.digest, digest) || be_rec_verify(hdr, &h, buf) != BE_OK)
        return BE_ERROR;
    return BE_OK;
}

static void
reclaim_wlocked(be_diskstore_t *s, uint32_t slot, int reappend)
{
    seg_t *g = s->segs[slot];
    rec_ref_t *refs;
    size_t n = list_records(g, &refs);
    uint64_t budget = reappend && s->open != NULL ? s->conf.segment_size / 4 * 3 : 0, spent = 0;
    uint64_t dropped = 0, kept = 0;
    void *buf = NULL;
    size_t bufcap = 0;

    for (size_t i = 0; i < n; i++) {
        uint64_t tag = tag_of(&refs[i].digest);
        ishard_t *sh = shard_of(s, tag);
        pthread_mutex_lock(&sh->lock);
        ientry_t *e = find_locked(sh, tag);
        int here = e != NULL && e->slot == slot && e->off == refs[i].off;
        int hit = here && (e->flags & E_HIT);
        pthread_mutex_unlock(&sh->lock);
        if (!here)
            continue; /* superseded, purged or dropped already */
        uint32_t len = refs[i].len;
        int hot =
            hit || (s->conf.is_hot != NULL && s->conf.is_hot(s->conf.hot_ctx, &refs[i].digest));
        if (hot && spent + BE_REC_HEADER_SIZE + len <= budget) {
            if (bufcap < len) {
                void *nb = realloc(buf, len);
                if (nb != NULL) {
                    buf = nb;
                    bufcap = len;
                }
            }
            if (bufcap >= len &&
                read_record(g->fd, refs[i].off, len, &refs[i].digest, buf) == BE_OK &&
                append_wlocked(s, &refs[i].digest, buf, len, BE_REC_BLOCK, 0) == BE_OK) {
                spent += BE_REC_HEADER_SIZE + len;
                kept++;
                continue;
            }
        }
        if (index_drop(s, tag, slot, refs[i].off) == BE_OK)
            dropped++;
    }
    free(buf);
    free(refs);
    if (atomic_load(&s->live[slot]) > 0)
        dropped += index_sweep(s, slot);
    atomic_fetch_add(&s->evictions, dropped);
    atomic_fetch_add(&s->reappends, kept);

    char name[64];
    seg_name(name, sizeof(name), g->seq, 0);
    pthread_mutex_lock(&s->lock);
    __atomic_store_n(&s->segs[slot], NULL, __ATOMIC_RELEASE);
    s->nsegs--;
    s->bytes -= g->size;
    pthread_mutex_unlock(&s->lock);
    if (unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT)
        fault(s, errno_kind(errno), errno, "unlink()", name);
    seg_unpin(s, g);
    be_log(BE_LOG_INFO,
           "disk tier: reclaimed segment %s: %" PRIu64 " blocks re-appended, %" PRIu64 " dropped",
           name, kept, dropped);
}

/* ---- recovery ----------------------------------------------------------------------------------
 */

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
        pread(g->fd, tr, sizeof(tr), (off_t)(g->size - sizeof(tr))) != (ssize_t)sizeof(tr) ||
        be_foot_trailer_decode(tr, g->size, &t) != BE_OK)
        return BE_ERROR;
    size_t n = (size_t)t.count * BE_FOOT_ENTRY_SIZE;
    uint8_t *raw = malloc(n ? n : 1);
    if (raw == NULL || pread(g->fd, raw, n, t.data_end) != (ssize_t)n ||
        be_foot_entries_verify(raw, &t) != BE_OK) {
        free(raw);
        return BE_ERROR;
    }
    for (uint32_t i = 0; i < t.count; i++) {
        be_foot_entry_t e;
        be_foot_entry_decode(raw + (size_t)i * BE_FOOT_ENTRY_SIZE, &e);
        uint64_t tag = tag_of(&e.digest);
        if (e.len == BE_FOOT_PURGE_LEN) {
            index_drop(s, tag, UINT32_MAX, 0);
        } else if (e.off >= BE_SEG_HEADER_SIZE &&
                   (uint64_t)e.off + BE_REC_HEADER_SIZE + e.len <= t.data_end) {
            index_put(s, tag, slot, e.off, e.len);
        }
    }
    free(raw);
    return BE_OK;
}

/* Indexes a segment record by record, checking each crc; stops at the first record that
 * does not check (a torn tail). Reads in large chunks, not a call per record. Returns where
 * the good records end; fills the footer list when g is to stay open. */
static uint64_t
scan_records(be_diskstore_t *s, seg_t *g, uint32_t slot, int keep_footer)
{
    uint64_t off = BE_SEG_HEADER_SIZE;
    size_t cap = 4u << 20, have = 0; /* buf holds file bytes [base, base + have) */
    uint64_t base = off;
    uint8_t *buf = malloc(cap);
    while (buf != NULL && off + BE_REC_HEADER_SIZE <= g->size && !atomic_load(&s->stopping)) {
        if (off + BE_REC_HEADER_SIZE > base + have) { /* refill from off */
            base = off;
            size_t want = g->size - off < cap ? (size_t)(g->size - off) : cap;
            ssize_t n = pread(g->fd, buf, want, (off_t)off);
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
            ssize_t n = pread(g->fd, buf, want, (off_t)off);
            if (n < (ssize_t)need)
                break;
            have = (size_t)n;
            hdr = buf;
        }
        if (be_rec_verify(hdr, &h, hdr + BE_REC_HEADER_SIZE) != BE_OK)
            break;
        uint64_t tag = tag_of(&h.digest);
        if (h.kind == BE_REC_PURGE)
            index_drop(s, tag, UINT32_MAX, 0);
        else
            index_put(s, tag, slot, (uint32_t)off, h.len);
        if (keep_footer && foot_add(g, &h.digest, (uint32_t)off,
                                    h.kind == BE_REC_PURGE ? BE_FOOT_PURGE_LEN : h.len) != BE_OK)
            break;
        off = end;
    }
    free(buf);
    return off;
}

/* Sizes the index for about n blocks before a load, so it does not grow step by step. */
static void
presize(be_diskstore_t *s, uint64_t n)
{
    uint64_t per = n / NSHARDS + 1, cap = SHARD_MIN_CAP;
    while (per * 4 > cap * 3)
        cap *= 2;
    for (int i = 0; i < NSHARDS; i++) {
        ishard_t *sh = &s->shards[i];
        pthread_mutex_lock(&sh->lock);
        while (sh->tab.cap < cap && grow_locked(sh) == BE_OK)
            ;
        pthread_mutex_unlock(&sh->lock);
    }
}

/* How many records a segment's footer lists (0 without a valid trailer), from 32 bytes. */
static uint64_t
footer_count(const found_t *f)
{
    uint8_t tr[BE_FOOT_TRAILER_SIZE];
    be_foot_trailer_t t;
    if (f->size < BE_SEG_HEADER_SIZE + BE_FOOT_TRAILER_SIZE ||
        pread(f->fd, tr, sizeof(tr), (off_t)(f->size - sizeof(tr))) != (ssize_t)sizeof(tr) ||
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
        fault(s, BE_DISK_ERR_PATH, errno, "open()", NULL);
        return BE_ERROR;
    }
    s->lockfd = openat(s->dirfd, LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (s->lockfd < 0) {
        fault(s, errno_kind(errno), errno, "open()", LOCK_NAME);
        return BE_ERROR;
    }
    if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
        fault(s, BE_DISK_ERR_PATH, errno, "flock() (another blockedge uses the directory?)",
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
        fault(s, errno_kind(errno), errno, "opendir()", NULL);
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
            fault(s, errno_kind(errno), errno, "open()", de->d_name);
            continue;
        }
        uint8_t hdr[BE_SEG_HEADER_SIZE];
        be_seg_header_t h;
        int hrc = pread(sfd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr)
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

static void *
loader_main(void *arg)
{
    be_diskstore_t *s = arg;
    int64_t t0 = mono_msec();
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
    presize(s, expect);
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
        if (slot_take(s, g, &slot) != BE_OK) {
            close(g->fd);
            free(g);
            continue;
        }
        int last = i + 1 == n;
        if (load_footer(s, g, slot) == BE_OK) {
            g->sealed = 1;
            continue;
        }
        uint64_t end = scan_records(s, g, slot, last);
        if (last && end < g->size) {
            dropped_tail = g->size - end;
            if (ftruncate(g->fd, (off_t)end) == 0) {
                pthread_mutex_lock(&s->lock);
                s->bytes -= g->size - end;
                g->size = end;
                pthread_mutex_unlock(&s->lock);
            } else {
                fault(s, errno_kind(errno), errno, "ftruncate()", NULL);
                last = 0; /* cannot append behind a torn tail: keep it sealed */
            }
        }
        if (last) {
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
        uint32_t v = oldest_sealed(s);
        if (v == UINT32_MAX)
            break;
        reclaim_wlocked(s, v, 0);
    }
    pthread_mutex_unlock(&s->wlock);
    atomic_store(&s->load_msec, (uint64_t)(mono_msec() - t0));
    be_log(BE_LOG_NOTICE,
           "disk tier \"%s\" loaded: %" PRIu64 " blocks in %u segments, %" PRIu64 " bytes, %" PRIu64
           " ms%s",
           s->path, atomic_load(&s->nblocks), s->nsegs, s->bytes, atomic_load(&s->load_msec),
           dropped_tail ? " (a torn tail was dropped)" : "");
    set_state(s, BE_DISK_READY);
    return NULL;
}

/* ---- public ---------------------------------------------------------------------------------- */

be_diskstore_t *
be_diskstore_open(const be_diskstore_conf_t *conf)
{
    be_diskstore_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->magic = STORE_MAGIC;
    s->conf = *conf;
    snprintf(s->path, sizeof(s->path), "%s", conf->path);
    s->conf.path = s->path;
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
    for (int i = 0; i < NSHARDS; i++)
        pthread_mutex_init(&s->shards[i].lock, NULL);
    atomic_store(&s->state, BE_DISK_LOADING);
    if (pthread_create(&s->loader, NULL, loader_main, s) != 0) {
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
    atomic_store(&s->stopping, 1);
    if (s->loader_started)
        pthread_join(s->loader, NULL);
    if (s->open != NULL)
        fdatasync(s->open->fd);
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
    for (int i = 0; i < NSHARDS; i++) {
        itab_dispose(&s->shards[i].tab);
        pthread_mutex_destroy(&s->shards[i].lock);
    }
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
    if (atomic_load_explicit(&s->state, memory_order_acquire) != BE_DISK_READY)
        return BE_DECLINED;
    uint64_t tag = tag_of(digest);
    ishard_t *sh = shard_of(s, tag);
    pthread_mutex_lock(&sh->lock);
    ientry_t *e = find_locked(sh, tag);
    if (e != NULL) {
        /* the segment outlives every entry that points at it: safe to read under the lock */
        seg_t *g = __atomic_load_n(&s->segs[e->slot], __ATOMIC_ACQUIRE);
        loc->slot = e->slot;
        loc->seq = (uint32_t)g->seq;
        loc->off = e->off;
        loc->len = e->len;
    }
    pthread_mutex_unlock(&sh->lock);
    return e != NULL ? BE_OK : BE_DECLINED;
}

static int read_loc(be_diskstore_t *s, const be_disk_loc_t *loc, const be_key_t *digest, void *buf,
                    int nowait);

int
be_diskstore_read(be_diskstore_t *s, const be_disk_loc_t *loc, const be_key_t *digest, void *buf)
{
    return read_loc(s, loc, digest, buf, 0);
}

int
be_diskstore_read_cached(be_diskstore_t *s, const be_disk_loc_t *loc, const be_key_t *digest,
                         void *buf)
{
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
    ssize_t n = preadv2(g->fd, iov, loc->len > 0 ? 2 : 1, loc->off, nowait ? RWF_NOWAIT : 0);
    int err = errno;
    uint64_t seq = g->seq;
    int fd_ok = 1;
    seg_unpin(s, g);
    if (nowait && n < (ssize_t)(BE_REC_HEADER_SIZE + (size_t)loc->len))
        return BE_AGAIN; /* not (all) in the page cache, or any error: the blocking read on an
                            I/O thread decides */

    uint64_t tag = tag_of(digest);
    if (n < 0) {
        char name[64];
        seg_name(name, sizeof(name), seq, 0);
        fault(s, errno_kind(err), err, "pread()", name);
        fd_ok = 0;
    }
    be_rec_header_t h;
    int hrc = fd_ok && n == (ssize_t)(BE_REC_HEADER_SIZE + (size_t)loc->len)
                  ? be_rec_header_decode(hdr, &h)
                  : BE_ERROR;
    if (hrc == BE_OK && h.kind == BE_REC_BLOCK && h.len == loc->len &&
        !be_key_equal(&h.digest, digest) && be_rec_verify(hdr, &h, buf) == BE_OK)
        return BE_DECLINED; /* a sound record of another digest with the same tag */
    if (hrc != BE_OK || h.kind != BE_REC_BLOCK || h.len != loc->len ||
        be_rec_verify(hdr, &h, buf) != BE_OK) {
        index_drop(s, tag, loc->slot, loc->off);
        if (fd_ok) {
            uint64_t c = atomic_fetch_add(&s->corruptions, 1);
            if (c < 10) {
                char hex[BE_KEY_HEX_LEN + 1], name[64];
                seg_name(name, sizeof(name), seq, 0);
                be_log(BE_LOG_ERROR,
                       "disk tier: record of %s at offset %u in \"%s/%s\" is corrupt "
                       "(%s); dropped, the block will be fetched again",
                       be_key_to_hex(digest, hex), loc->off, s->path, name,
                       n != (ssize_t)(BE_REC_HEADER_SIZE + (size_t)loc->len) ? "short read"
                       : hrc != BE_OK                                        ? "bad header"
                                                                             : "checksum mismatch");
            }
        }
        return BE_ERROR;
    }
    ishard_t *sh = shard_of(s, tag);
    pthread_mutex_lock(&sh->lock);
    ientry_t *e = find_locked(sh, tag);
    if (e != NULL && e->slot == loc->slot && e->off == loc->off)
        e->flags |= E_HIT;
    pthread_mutex_unlock(&sh->lock);
    return BE_OK;
}

int
be_diskstore_admit(be_diskstore_t *s, const be_key_t *digest, size_t len)
{
    if (atomic_load(&s->state) != BE_DISK_READY || atomic_load(&s->writes_disabled) ||
        len > BE_REC_MAX_LEN)
        return BE_DECLINED;
    be_disk_loc_t loc;
    if (be_diskstore_lookup(s, digest, &loc) == BE_OK)
        return BE_DECLINED;
    int64_t until = atomic_load(&s->paused_until);
    if ((until != 0 && mono_msec() < until) || atomic_load(&s->backlog) + len > BACKLOG_MAX) {
        atomic_fetch_add(&s->writes_dropped, 1);
        return BE_DECLINED;
    }
    atomic_fetch_add(&s->backlog, len);
    return BE_OK;
}

void
be_diskstore_unadmit(be_diskstore_t *s, size_t len)
{
    atomic_fetch_sub(&s->backlog, len);
}

int
be_diskstore_append(be_diskstore_t *s, const be_key_t *digest, const void *data, size_t len)
{
    pthread_mutex_lock(&s->wlock);
    be_disk_loc_t loc;
    int rc = BE_DECLINED;
    if (!atomic_load(&s->writes_disabled) && be_diskstore_lookup(s, digest, &loc) != BE_OK)
        rc = append_wlocked(s, digest, data, (uint32_t)len, BE_REC_BLOCK, 1);
    pthread_mutex_unlock(&s->wlock);
    atomic_fetch_sub(&s->backlog, len);
    if (rc == BE_ERROR)
        atomic_fetch_add(&s->writes_dropped, 1);
    return rc == BE_ERROR ? BE_ERROR : BE_OK;
}

int
be_diskstore_purge(be_diskstore_t *s, const be_key_t *digest)
{
    if (be_diskstore_wait_loaded(s, 60000) != BE_DISK_READY)
        return BE_DECLINED;
    pthread_mutex_lock(&s->wlock);
    int found = index_drop(s, tag_of(digest), UINT32_MAX, 0) == BE_OK;
    /* Written even when not indexed: an unindexed copy (a dropped or shadowed record) must
     * not come back at the next start either. */
    if (append_wlocked(s, digest, NULL, 0, BE_REC_PURGE, 1) != BE_OK)
        be_log(BE_LOG_ERROR, "disk tier: the purge record could not be written; the block is "
                             "forgotten now but may be served again after a restart");
    pthread_mutex_unlock(&s->wlock);
    atomic_fetch_add(&s->purges, 1);
    return found ? BE_OK : BE_DECLINED;
}

void
be_diskstore_stats(be_diskstore_t *s, be_diskstore_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    out->state = atomic_load(&s->state);
    out->blocks = atomic_load(&s->nblocks);
    out->capacity = s->conf.size;
    uint64_t ib = sizeof(s->shards);
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_lock(&s->shards[i].lock);
        ib += itab_bytes(&s->shards[i].tab);
        pthread_mutex_unlock(&s->shards[i].lock);
    }
    pthread_mutex_lock(&s->lock);
    out->bytes = s->bytes;
    out->segments = s->nsegs;
    ib += (uint64_t)s->nslots * (sizeof(seg_t *) + sizeof(uint64_t) + sizeof(seg_t));
    pthread_mutex_unlock(&s->lock);
    out->index_bytes = ib;
    out->evictions = atomic_load(&s->evictions);
    out->reappends = atomic_load(&s->reappends);
    out->corruptions = atomic_load(&s->corruptions);
    out->writes = atomic_load(&s->writes);
    out->writes_dropped = atomic_load(&s->writes_dropped);
    out->purges = atomic_load(&s->purges);
    out->load_msec = atomic_load(&s->load_msec);
    for (int i = 0; i < BE_DISK_ERR_N; i++)
        out->errors[i] = atomic_load(&s->errors[i]);
}
