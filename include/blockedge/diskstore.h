/*
 * diskstore.h - the persistent disk tier: segment files under one directory, a RAM index
 * from digest to (segment, offset, length), recovery, reclaim, purge and fault handling.
 *
 * Speaks digests and byte ranges only: it knows nothing of HTTP, blocks' reference counts,
 * workers or event loops. Every function that does I/O blocks, so callers run it on an I/O
 * thread (cache.c uses the I/O pools); be_diskstore_lookup() and _admit() only touch RAM and
 * are cheap enough for an event loop. Thread: any. Locks: see diskstore.c.
 */
#ifndef BLOCKEDGE_DISKSTORE_H
#define BLOCKEDGE_DISKSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "blockedge/blockkey.h"

typedef struct be_diskstore_s be_diskstore_t;

/* Where a block lives; valid until the segment is reclaimed (then reads say BE_DECLINED). */
typedef struct be_disk_loc_s {
    uint32_t slot;
    uint32_t seq; /* low 32 bits of the segment's sequence, checked on read */
    uint32_t off;
    uint32_t len;
} be_disk_loc_t;

/* Asked during reclaim for each block not hit on disk since it was written: non-zero keeps
 * it (the caller knows it is hot, e.g. it sits in the memory tier). Runs on the writer. */
typedef int (*be_disk_hot_fn)(void *ctx, const be_key_t *digest);

typedef struct be_diskstore_conf_s {
    const char *path;      /* the directory; must exist */
    uint64_t size;         /* disk_size: sealed + open segments stay within it (+ one) */
    uint64_t segment_size; /* disk_segment_size, at most 4 GiB - 1 */
    be_disk_hot_fn is_hot; /* may be NULL */
    void *hot_ctx;
    int lock_wait_ms; /* how long the loader waits for another process's directory lock */
} be_diskstore_conf_t;

enum be_disk_state { BE_DISK_LOADING, BE_DISK_READY, BE_DISK_FAILED };

/* Fault kinds, counted and logged once each: X(ID, metric label). */
#define BE_DISK_ERRORS(X)                                                                          \
    X(NOSPC, "no_space")                                                                           \
    X(IO, "io")                                                                                    \
    X(READONLY, "read_only")                                                                       \
    X(PATH, "path")                                                                                \
    X(OTHER, "other")

enum be_disk_error {
#define X(id, label) BE_DISK_ERR_##id,
    BE_DISK_ERRORS(X)
#undef X
        BE_DISK_ERR_N
};

/* Why a fill was not written, each counted and summed up in a warn line at most every 10 s:
 * X(ID, what the log line calls it). */
#define BE_DISK_DROPS(X)                                                                           \
    X(BACKLOG, "writer backlog full")                                                              \
    X(PAUSED, "writes paused after a full file system")                                            \
    X(ERROR, "write failed")

enum be_disk_drop {
#define X(id, what) BE_DISK_DROP_##id,
    BE_DISK_DROPS(X)
#undef X
        BE_DISK_DROP_N
};

typedef struct be_diskstore_stats_s {
    int state;                           /* enum be_disk_state */
    uint64_t blocks;                     /* in the index */
    uint64_t bytes;                      /* segment files' sizes */
    uint64_t capacity;                   /* disk_size */
    uint64_t segments;                   /* files, the open one included */
    uint64_t index_bytes;                /* RAM held by the index (tables and segment table) */
    uint64_t evictions;                  /* blocks dropped by reclaim */
    uint64_t reappends;                  /* hot blocks rewritten by reclaim */
    uint64_t corruptions;                /* records that failed their checks on read */
    uint64_t retired;                    /* segments dropped after repeated read errors */
    uint64_t writes;                     /* records appended */
    uint64_t writes_dropped;             /* the sum of the next */
    uint64_t dropped_by[BE_DISK_DROP_N]; /* by reason */
    uint64_t backlog;                    /* bytes admitted, not yet written */
    uint64_t written_bytes;              /* record bytes appended (headers included) */
    uint64_t write_busy_msec;            /* time the writer spent appending them */
    uint64_t write_cpu_msec;             /* CPU time it used for that (the rest: waiting) */
    uint64_t purges;
    uint64_t load_msec; /* how long the index load took */
    uint64_t errors[BE_DISK_ERR_N];
} be_diskstore_stats_t;

/* The metric label of a fault kind. */
const char *be_disk_error_label(int kind);

/* Starts the store: returns at once, a background thread recovers the index (the state is
 * LOADING until then; every lookup misses meanwhile). A directory that cannot be used is
 * logged once and leaves the store FAILED (it never serves). NULL only when out of memory.
 * Thread: main. */
be_diskstore_t *be_diskstore_open(const be_diskstore_conf_t *conf);

/* Stops the loader, syncs the open segment, closes every file, frees. *sp = NULL. Thread:
 * main, after every reader and writer is done. */
void be_diskstore_close(be_diskstore_t **sp);

/* Checks that path is a writable directory on a writable file system, without changing
 * anything. BE_OK, or BE_ERROR with a reason in err. For -t. */
int be_diskstore_check_path(const char *path, char *err, size_t errlen);

/* Waits up to msec for the load to end; returns the state. */
int be_diskstore_wait_loaded(be_diskstore_t *s, int msec);

/* Finds a block. BE_OK with *loc, or BE_DECLINED (absent, or not loaded). Cheap. */
int be_diskstore_lookup(be_diskstore_t *s, const be_key_t *digest, be_disk_loc_t *loc);

/*
 * Reads the block at loc into buf (loc->len bytes) and checks the record: magic, version,
 * length, digest and crc32c. BE_OK; BE_DECLINED when the segment was reclaimed meanwhile (a
 * plain miss); BE_ERROR when the record is corrupt or unreadable: it is dropped from the
 * index and counted, and the caller fetches the block elsewhere. A hit marks the block as
 * used for reclaim. Blocking.
 */
int be_diskstore_read(be_diskstore_t *s, const be_disk_loc_t *loc, const be_key_t *digest,
                      void *buf);

/* The same, but only when the whole record is in the page cache (preadv2 RWF_NOWAIT): then it
 * never waits for the device and may run on an event loop. BE_AGAIN when it would have to
 * wait (nothing was decided: use be_diskstore_read on an I/O thread). */
int be_diskstore_read_cached(be_diskstore_t *s, const be_disk_loc_t *loc, const be_key_t *digest,
                             void *buf);

/* Admits a write of len bytes for digest into the write backlog: BE_OK, or BE_DECLINED when
 * the store is not ready, cannot write, already holds digest, or the backlog is full (the
 * write is counted as dropped). Every BE_OK must be followed by exactly one _append() with
 * the same len. Cheap. */
int be_diskstore_admit(be_diskstore_t *s, const be_key_t *digest, size_t len);

/* Gives back an admission that will not be followed by _append(). */
void be_diskstore_unadmit(be_diskstore_t *s, size_t len);

/* Appends a block admitted by _admit(); the index points at it once it is written. Rolls
 * to a new segment and reclaims the least recently used ones as needed. BE_OK or BE_ERROR
 * (counted; the block is simply not on disk). Blocking; writers are serialized. */
int be_diskstore_append(be_diskstore_t *s, const be_key_t *digest, const void *data, size_t len);

/* Forgets digest now and writes a purge record, so no copy of it is served again, even after
 * a restart. Waits for the load if it is under way. BE_OK, or BE_DECLINED when it was not
 * held. Blocking. */
int be_diskstore_purge(be_diskstore_t *s, const be_key_t *digest);

/* Where the index says a block lives, read from RAM only (no I/O): for an operator's look. */
typedef struct be_disk_info_s {
    uint64_t segment; /* the segment's sequence number (its file is "<16 hex>.seg") */
    uint32_t offset;  /* of the record header */
    uint32_t len;     /* block bytes */
    int hit;          /* read from disk since it was written (reclaim keeps it) */
} be_disk_info_t;

/* Fills *out and returns BE_OK when the index holds digest, BE_DECLINED when not (or not
 * loaded). The index keeps 8 bytes of each digest, so about one digest in 2^64 may be
 * reported for another; a read would tell them apart. Cheap. */
int be_diskstore_peek(be_diskstore_t *s, const be_key_t *digest, be_disk_info_t *out);

/* The state (enum be_disk_state) now. Cheap. */
int be_diskstore_state(be_diskstore_t *s);

void be_diskstore_stats(be_diskstore_t *s, be_diskstore_stats_t *out);

/* A binary upgrade hands the directory on: waits for the load, stops every write (appends,
 * purges, reclaims), seals the open segment and releases the directory lock. Reads go on
 * (a segment the new process reclaims stays readable through the open descriptor). Any
 * thread. _reacquire takes the lock back when the new process failed before it served:
 * BE_OK and writes resume in a new segment, or BE_ERROR (logged) and the store stays
 * read-only. */
void be_diskstore_release(be_diskstore_t *s);
int be_diskstore_reacquire(be_diskstore_t *s);
#endif
