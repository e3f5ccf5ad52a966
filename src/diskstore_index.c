/*
 * diskstore_index.c - the disk tier's RAM index: digest tag -> (segment slot, record offset,
 * block length, hit bit), in NSHARDS shards picked by the tag's top byte, each a lock and an
 * oatable. Keeps the per-slot entry counts (live[]) and the block count in step with it.
 *
 * Knows no file, no record format and no I/O; of the segment table it reads only a segment's
 * sequence, to stamp a location (safe under a shard's lock: a segment outlives every entry
 * that points at it). Invariant: an entry points only at a record whose bytes were fully
 * written. Locks: one shard's lock at a time, taken last (after wlock and lock), never held
 * across I/O.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "blockedge/defs.h"
#include "blockedge/diskstore.h"
#include "blockedge/oatable.h"
#include "diskstore_int.h"

#define NSHARDS       256
#define SHARD_MIN_CAP 64

/*
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

struct ds_index_s {
    ishard_t shards[NSHARDS];
};

static ishard_t *
shard_of(be_diskstore_t *s, uint64_t tag)
{
    return &s->index->shards[tag >> 56];
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

ds_index_t *
ds_index_new(void)
{
    ds_index_t *ix = calloc(1, sizeof(*ix));
    if (ix == NULL)
        return NULL;
    for (int i = 0; i < NSHARDS; i++)
        pthread_mutex_init(&ix->shards[i].lock, NULL);
    return ix;
}

void
ds_index_free(ds_index_t **ip)
{
    ds_index_t *ix = *ip;
    if (ix == NULL)
        return;
    *ip = NULL;
    for (int i = 0; i < NSHARDS; i++) {
        itab_dispose(&ix->shards[i].tab);
        pthread_mutex_destroy(&ix->shards[i].lock);
    }
    free(ix);
}

uint64_t
ds_index_bytes(be_diskstore_t *s)
{
    uint64_t ib = sizeof(s->index->shards);
    for (int i = 0; i < NSHARDS; i++) {
        ishard_t *sh = &s->index->shards[i];
        pthread_mutex_lock(&sh->lock);
        ib += itab_bytes(&sh->tab);
        pthread_mutex_unlock(&sh->lock);
    }
    return ib;
}

void
ds_index_presize(be_diskstore_t *s, uint64_t n)
{
    uint64_t per = n / NSHARDS + 1, cap = SHARD_MIN_CAP;
    while (per * 4 > cap * 3)
        cap *= 2;
    for (int i = 0; i < NSHARDS; i++) {
        ishard_t *sh = &s->index->shards[i];
        pthread_mutex_lock(&sh->lock);
        while (sh->tab.cap < cap && grow_locked(sh) == BE_OK)
            ;
        pthread_mutex_unlock(&sh->lock);
    }
}

int
ds_index_put(be_diskstore_t *s, uint64_t tag, uint32_t slot, uint32_t off, uint32_t len)
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

int
ds_index_drop(be_diskstore_t *s, uint64_t tag, uint32_t slot, uint32_t off)
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

uint64_t
ds_index_sweep(be_diskstore_t *s, uint32_t slot)
{
    uint64_t n = 0;
    for (int k = 0; k < NSHARDS; k++) {
        ishard_t *sh = &s->index->shards[k];
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

int
ds_index_lookup(be_diskstore_t *s, uint64_t tag, be_disk_loc_t *loc)
{
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

void
ds_index_mark_hit(be_diskstore_t *s, uint64_t tag, uint32_t slot, uint32_t off)
{
    ishard_t *sh = shard_of(s, tag);
    pthread_mutex_lock(&sh->lock);
    ientry_t *e = find_locked(sh, tag);
    if (e != NULL && e->slot == slot && e->off == off)
        e->flags |= E_HIT;
    pthread_mutex_unlock(&sh->lock);
}

int
ds_index_holds(be_diskstore_t *s, uint64_t tag, uint32_t slot, uint32_t off, int *hit)
{
    ishard_t *sh = shard_of(s, tag);
    pthread_mutex_lock(&sh->lock);
    ientry_t *e = find_locked(sh, tag);
    int here = e != NULL && e->slot == slot && e->off == off;
    *hit = here && (e->flags & E_HIT);
    pthread_mutex_unlock(&sh->lock);
    return here;
}
