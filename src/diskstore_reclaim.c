/*
 * diskstore_reclaim.c - segment eviction: frees the least recently written segment, first
 * writing again (re-appending) the blocks in it that were hit or that the caller calls hot.
 *
 * Knows records and footers through segment.h, the index through its ds_index_* calls, and
 * writes only through the writer's ds_append_wlocked. Invariants: a block is re-appended
 * only after its record was read back and checked; a reclaim re-appends at most 3/4 of a
 * segment, so it always frees space; once it returns no index entry points into the slot.
 * Locks: runs under wlock (called by the writer's roll and by the loader); takes lock and a
 * shard lock briefly through the calls it makes; reads the victim with neither held. Also
 * retires a segment whose reads fail (ds_retire, from a reader: it takes wlock itself).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include "blockedge/defs.h"
#include "blockedge/diskstore.h"
#include "blockedge/log.h"
#include "blockedge/segment.h"
#include "diskstore_int.h"

/*
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
        ds_pread_full(g->fd, tr, sizeof(tr), g->size - sizeof(tr)) == (ssize_t)sizeof(tr) &&
        be_foot_trailer_decode(tr, g->size, &t) == BE_OK) {
        size_t n = (size_t)t.count * BE_FOOT_ENTRY_SIZE;
        uint8_t *raw = malloc(n ? n : 1);
        rec_ref_t *refs = calloc(t.count ? t.count : 1, sizeof(*refs));
        if (raw != NULL && refs != NULL && ds_pread_full(g->fd, raw, n, t.data_end) == (ssize_t)n &&
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
           ds_pread_full(g->fd, hdr, sizeof(hdr), off) == (ssize_t)sizeof(hdr)) {
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
    ssize_t n = ds_preadv_full(fd, iov, len > 0 ? 2 : 1, off, 0);
    if (n != (ssize_t)(BE_REC_HEADER_SIZE + (size_t)len))
        return BE_ERROR;
    be_rec_header_t h;
    if (be_rec_header_decode(hdr, &h) != BE_OK || h.kind != BE_REC_BLOCK || h.len != len ||
        !be_key_equal(&h.digest, digest) || be_rec_verify(hdr, &h, buf) != BE_OK)
        return BE_ERROR;
    return BE_OK;
}

void
ds_reclaim_wlocked(be_diskstore_t *s, uint32_t slot, int reappend)
{
    seg_t *g = s->segs[slot];
    rec_ref_t *refs;
    size_t n = list_records(g, &refs);
    uint64_t budget = reappend && s->open != NULL ? s->conf.segment_size / 4 * 3 : 0, spent = 0;
    uint64_t dropped = 0, kept = 0;
    void *buf = NULL;
    size_t bufcap = 0;

    for (size_t i = 0; i < n; i++) {
        uint64_t tag = ds_tag_of(&refs[i].digest);
        int hit;
        if (!ds_index_holds(s, tag, slot, refs[i].off, &hit))
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
                ds_append_wlocked(s, &refs[i].digest, buf, len, BE_REC_BLOCK, 0) == BE_OK) {
                spent += BE_REC_HEADER_SIZE + len;
                kept++;
                continue;
            }
        }
        if (ds_index_drop(s, tag, slot, refs[i].off) == BE_OK)
            dropped++;
    }
    free(buf);
    free(refs);
    if (atomic_load(&s->live[slot]) > 0)
        dropped += ds_index_sweep(s, slot);
    atomic_fetch_add(&s->evictions, dropped);
    atomic_fetch_add(&s->reappends, kept);

    char name[64];
    ds_seg_name(name, sizeof(name), g->seq, 0);
    ds_slot_release(s, slot);
    if (unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT)
        ds_fault(s, ds_errno_kind(errno), errno, "unlink()", name);
    ds_seg_unpin(s, g);
    be_log(BE_LOG_INFO,
           "disk tier: reclaimed segment %s: %" PRIu64 " blocks re-appended, %" PRIu64 " dropped",
           name, kept, dropped);
}

/*
 * A segment whose reads keep failing (EIO: a bad sector, a failing device) would cost every
 * request for one of its blocks a failed read before the refetch. After DS_READ_ERRORS_MAX
 * failed reads it is retired at once: its entries leave the index without reading it (its
 * footer may be unreadable too), its file is removed and the space counted free; the blocks
 * are fetched again when asked for and written to a healthy segment. The open segment can be
 * retired as well: the next append starts a new one.
 */
void
ds_retire(be_diskstore_t *s, uint32_t slot, uint64_t seq)
{
    pthread_mutex_lock(&s->wlock);
    seg_t *g = slot < s->nslots ? s->segs[slot] : NULL;
    if (g == NULL || g->seq != seq) { /* reclaimed (or retired) meanwhile */
        pthread_mutex_unlock(&s->wlock);
        return;
    }
    if (g == s->open)
        s->open = NULL;
    uint64_t dropped = ds_index_sweep(s, slot);
    char name[64];
    ds_seg_name(name, sizeof(name), g->seq, 0);
    ds_slot_release(s, slot);
    if (!s->released && unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT)
        ds_fault(s, ds_errno_kind(errno), errno, "unlink()", name);
    ds_seg_unpin(s, g);
    atomic_fetch_add(&s->retired, 1);
    pthread_mutex_unlock(&s->wlock);
    be_log(BE_LOG_ERROR,
           "disk tier: segment \"%s/%s\" retired after %d failed reads: %" PRIu64
           " blocks dropped from the index (fetched again when asked for), file removed",
           s->path, name, DS_READ_ERRORS_MAX, dropped);
}
