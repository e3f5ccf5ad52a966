/*
 * diskstore_int.h - what the disk tier's files share; nothing outside src/diskstore*.c
 * includes it. The store's struct, a segment, and the calls one part makes into another,
 * named ds_<part>_<verb> (ds_ alone for the few helpers every part uses).
 *
 * The parts: diskstore.c (public API, faults, the segment table), diskstore_index.c (the RAM
 * index), diskstore_write.c (the writer: append, seal, roll), diskstore_reclaim.c (segment
 * eviction with re-append) and diskstore_load.c (recovery at start-up).
 *
 * Locks, always taken in this order, never held across a callback:
 *   wlock (the writer) -> lock (the segment table) -> one index shard's lock.
 * A _wlocked suffix: the caller holds wlock; _locked: the lock the function's file names.
 */
#ifndef BLOCKEDGE_DISKSTORE_INT_H
#define BLOCKEDGE_DISKSTORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "blockedge/clock.h"
#include "blockedge/blockkey.h"
#include "blockedge/diskstore.h"

/* The RAM index: digest tag -> (slot, offset, length, hit bit); diskstore_index.c. */
typedef struct ds_index_s ds_index_t;

typedef struct seg_s {
    uint64_t seq;
    int fd;
    unsigned refs; /* the table's one + pinned reads; under lock */
    int sealed;
    uint64_t size;    /* file bytes */
    uint64_t flushed; /* bytes whose writeback was started (open segment; under wlock) */
    uint8_t *foot;    /* open segment: encoded footer entries so far */
    size_t nfoot, foot_cap;
    _Atomic unsigned read_errors; /* failed reads (I/O errors, not bad records) */
} seg_t;

/* A segment whose reads failed this many times is retired (ds_retire). */
#define DS_READ_ERRORS_MAX 3

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

    ds_index_t *index;
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
    int released;     /* under wlock: the lock went to a new binary; nothing is written again */
    int lock_wait_ms; /* how long start-up waits for the directory lock */
    _Atomic int64_t paused_until;

    _Atomic uint64_t backlog;
    _Atomic uint64_t evictions, reappends, corruptions, writes, purges, retired;
    _Atomic uint64_t dropped_by[BE_DISK_DROP_N];
    _Atomic int64_t drop_log_at; /* be_clock_msec() of the next drop summary allowed */
    _Atomic uint64_t written_bytes, write_busy_usec, write_cpu_usec;
    _Atomic uint64_t load_msec;
    _Atomic uint64_t errors[BE_DISK_ERR_N];
    _Atomic int logged[BE_DISK_ERR_N];
};

/* The index's key for a digest: 8 of its bytes (see diskstore_index.c). */
static inline uint64_t
ds_tag_of(const be_key_t *k)
{
    return be_key_hash(k);
}

/* ---- diskstore.c: faults, names, the segment table (takes lock) ---- */

/* Counts a fault and logs the first one of its kind (later ones only count). */
void ds_fault(be_diskstore_t *s, int kind, int err, const char *what, const char *name);
int ds_errno_kind(int err);
void ds_seg_name(char *buf, size_t len, uint64_t seq, int tmp);
/* Drops a reference to g; the last one closes and frees it. */
void ds_seg_unpin(be_diskstore_t *s, seg_t *g);
/* Puts g in a free slot of the table. BE_OK, or BE_ERROR when the table is full. */
int ds_slot_take(be_diskstore_t *s, seg_t *g, uint32_t *slot);
/* Empties slot; its segment lives on until its last reference is unpinned. */
void ds_slot_release(be_diskstore_t *s, uint32_t slot);
/* Counts n more bytes written to g. */
void ds_bytes_add(be_diskstore_t *s, seg_t *g, uint64_t n);
/* The sealed segment with the lowest sequence (written longest ago), or UINT32_MAX. */
uint32_t ds_oldest_sealed(be_diskstore_t *s);

/* Counts a fill not written for reason (enum be_disk_drop); logs a summary of the drops at most
 * every 10 s. */
void ds_drop(be_diskstore_t *s, int reason);

/* ---- diskstore_io.c: whole reads and writes (no lock) ---- */

/* preadv2 (pread for one buffer and no flags) until cnt (<= 4) buffers are full or the file ends,
 * again after EINTR: the bytes read (fewer only at the end of the file), or -1 with errno (EAGAIN
 * with RWF_NOWAIT when a part is not cached). */
ssize_t ds_preadv_full(int fd, const struct iovec *iov, int cnt, uint64_t off, int flags);
ssize_t ds_pread_full(int fd, void *buf, size_t len, uint64_t off);
/* pwritev until every byte of cnt (<= 4) buffers is written, again after EINTR: the byte
 * count, or -1 with errno (after an error a prefix may have been written). */
ssize_t ds_pwritev_full(int fd, const struct iovec *iov, int cnt, uint64_t off);

/* ---- diskstore_index.c: the RAM index (takes a shard's lock; never lock or wlock) ---- */

/* An empty index, or NULL when out of memory; _free sets *ip to NULL. */
ds_index_t *ds_index_new(void);
void ds_index_free(ds_index_t **ip);
/* RAM held by the index's shards and tables. */
uint64_t ds_index_bytes(be_diskstore_t *s);
/* Sizes the index for about n blocks before a load, so it does not grow step by step. */
void ds_index_presize(be_diskstore_t *s, uint64_t n);
/* Points tag at (slot, off, len), replacing what it pointed at. BE_OK or BE_ERROR. */
int ds_index_put(be_diskstore_t *s, uint64_t tag, uint32_t slot, uint32_t off, uint32_t len);
/* Removes tag if it still points at (slot, off); slot UINT32_MAX matches any place.
 * BE_OK, or BE_DECLINED when it did not. */
int ds_index_drop(be_diskstore_t *s, uint64_t tag, uint32_t slot, uint32_t off);
/* Removes every entry of a slot (a reclaim whose footer could not list them all). */
uint64_t ds_index_sweep(be_diskstore_t *s, uint32_t slot);
/* Where tag points, stamped with its segment's sequence. BE_OK or BE_DECLINED. */
int ds_index_lookup(be_diskstore_t *s, uint64_t tag, be_disk_loc_t *loc);
/* Sets the hit bit of tag if it still points at (slot, off). */
void ds_index_mark_hit(be_diskstore_t *s, uint64_t tag, uint32_t slot, uint32_t off);
/* Whether tag points at (slot, off); *hit receives its hit bit. */
int ds_index_holds(be_diskstore_t *s, uint64_t tag, uint32_t slot, uint32_t off, int *hit);

/* ---- diskstore_write.c: the writer (under wlock) ---- */

/* Appends a record (a block, or a purge with data NULL and len 0) to the open segment,
 * rolling to a new one first when may_roll and it does not fit; a block is then indexed.
 * BE_OK or BE_ERROR (counted as a fault when the write failed). */
int ds_append_wlocked(be_diskstore_t *s, const be_key_t *digest, const void *data, uint32_t len,
                      int kind, int may_roll);
/* Writes the open segment's footer and seals it (a no-op without one). */
void ds_seal_wlocked(be_diskstore_t *s);
/* Adds a record to the open segment's footer list. BE_OK or BE_ERROR (no memory). */
int ds_foot_add(seg_t *g, const be_key_t *digest, uint32_t off, uint32_t len);

/* ---- diskstore_reclaim.c: segment eviction (under wlock) ---- */

/* Frees the segment in slot; with reappend, its hot blocks are written again first. */
void ds_reclaim_wlocked(be_diskstore_t *s, uint32_t slot, int reappend);

/* Retires the segment in slot if it still holds sequence seq: its blocks leave the index,
 * its file is removed (kept when the directory was handed to another process), counted and
 * logged. Takes wlock: call it holding no lock. */
void ds_retire(be_diskstore_t *s, uint32_t slot, uint64_t seq);

/* ---- diskstore_load.c: recovery ---- */

/* The loader thread's body (arg: the store): indexes the segments found, then READY. */
void *ds_loader_main(void *arg);

#endif
