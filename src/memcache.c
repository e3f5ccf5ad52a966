/*
 * memcache.c - memory tier: sharded hash index, per-shard LRU, one node-wide byte budget.
 *
 * The key's first 8 bytes are a uniformly random hash: the low bits pick the shard, the
 * next bits the bucket. Each shard is a chained hash table over the blocks' own hnext
 * links (no separate nodes) and a doubly linked LRU list through the blocks' lru links, so an
 * entry costs nothing beyond the block header.
 *
 * Budget: `bytes` (atomic) counts every cached block's footprint plus every bucket array.
 * An insert first reserves its footprint with a compare-and-swap that never lets `bytes`
 * pass the budget; while there is no room it evicts one block: the tail of the shard whose
 * tail was used longest ago (each shard publishes its tail's stamp), which makes the
 * policy a global LRU at the clock's resolution without a global lock. Hence
 * bytes <= budget at every instant, which is what blockedge_cache_bytes reports.
 *
 * Locks: one shard lock at a time, never two; no callback or I/O under it. Evicted blocks
 * are unreferenced after the lock is dropped (a send may still hold them).
 */
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/memcache.h"

#define STAMP_EMPTY    INT64_MAX

#define BLOCK_OF(link) ((be_block_t *)((char *)(link)-offsetof(be_block_t, lru)))

typedef struct shard_s {
    pthread_mutex_t lock;
    be_block_t **buckets;
    size_t nbuckets; /* power of two */
    be_link_t lru;   /* sentinel: lru.next is the most recent block */
    uint64_t blocks;
    uint64_t evictions;
    uint64_t inserts;
    _Atomic int64_t tail_stamp; /* stamp of the LRU tail, STAMP_EMPTY when empty */
    char pad[64];
} shard_t;

struct be_memcache_s {
    unsigned nshards;
    unsigned shift;               /* hash bits used for the shard */
    _Atomic uint64_t budget;      /* a reload may change it */
    _Atomic uint64_t bytes;       /* blocks + index, <= budget */
    _Atomic uint64_t index_bytes; /* bucket arrays alone: eviction cannot free them */
    shard_t *shards;
};

static shard_t *
shard_of(be_memcache_t *mc, uint64_t h)
{
    return &mc->shards[h & (mc->nshards - 1)];
}

static size_t
bucket_of(const be_memcache_t *mc, size_t nbuckets, uint64_t h)
{
    return (size_t)(h >> mc->shift) & (nbuckets - 1);
}

static int
reserve(be_memcache_t *mc, uint64_t n)
{
    uint64_t cur = atomic_load(&mc->bytes);
    while (cur + n <= atomic_load_explicit(&mc->budget, memory_order_relaxed))
        if (atomic_compare_exchange_weak(&mc->bytes, &cur, cur + n))
            return 1;
    return 0;
}

be_memcache_t *
be_memcache_new(uint64_t budget, unsigned nshards)
{
    if (nshards == 0 || (nshards & (nshards - 1)) != 0)
        return NULL;
    be_memcache_t *mc = calloc(1, sizeof(*mc));
    if (mc == NULL)
        return NULL;
    mc->nshards = nshards;
    atomic_init(&mc->budget, budget);
    while ((1u << mc->shift) < nshards)
        mc->shift++;
    mc->shards = calloc(nshards, sizeof(shard_t));
    if (mc->shards == NULL) {
        free(mc);
        return NULL;
    }
    for (unsigned i = 0; i < nshards; i++) {
        shard_t *s = &mc->shards[i];
        pthread_mutex_init(&s->lock, NULL);
        s->lru.next = s->lru.prev = &s->lru;
        atomic_init(&s->tail_stamp, STAMP_EMPTY);
        s->nbuckets = 16;
        s->buckets = calloc(s->nbuckets, sizeof(be_block_t *));
        if (s->buckets == NULL || !reserve(mc, s->nbuckets * sizeof(be_block_t *))) {
            be_memcache_free(&mc);
            return NULL;
        }
        atomic_fetch_add(&mc->index_bytes, s->nbuckets * sizeof(be_block_t *));
    }
    return mc;
}

void
be_memcache_free(be_memcache_t **mcp)
{
    be_memcache_t *mc = *mcp;
    if (mc == NULL)
        return;
    *mcp = NULL;
    for (unsigned i = 0; i < mc->nshards; i++) {
        shard_t *s = &mc->shards[i];
        be_link_t *l = s->lru.next;
        while (l != NULL && l != &s->lru) {
            be_link_t *next = l->next;
            be_block_t *b = BLOCK_OF(l);
            b->cached = 0;
            be_block_unref(&b);
            l = next;
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    free(mc->shards);
    free(mc);
}

static void
publish_tail_locked(shard_t *s)
{
    be_link_t *t = s->lru.prev;
    atomic_store_explicit(&s->tail_stamp, t == &s->lru ? STAMP_EMPTY : BLOCK_OF(t)->stamp,
                          memory_order_relaxed);
}

static void
lru_unlink(be_block_t *b)
{
    b->lru.prev->next = b->lru.next;
    b->lru.next->prev = b->lru.prev;
    b->lru.next = b->lru.prev = NULL;
}

static void
lru_push_head(shard_t *s, be_block_t *b)
{
    b->lru.next = s->lru.next;
    b->lru.prev = &s->lru;
    s->lru.next->prev = &b->lru;
    s->lru.next = &b->lru;
}

static be_block_t **
find_slot_locked(be_memcache_t *mc, shard_t *s, const be_key_t *key)
{
    be_block_t **pp = &s->buckets[bucket_of(mc, s->nbuckets, be_key_hash(key))];
    while (*pp != NULL && !be_key_equal(&(*pp)->key, key))
        pp = &(*pp)->hnext;
    return pp;
}

be_block_t *
be_memcache_lookup(be_memcache_t *mc, const be_key_t *key, be_msec_t now)
{
    shard_t *s = shard_of(mc, be_key_hash(key));
    pthread_mutex_lock(&s->lock);
    be_block_t *b = *find_slot_locked(mc, s, key);
    if (b != NULL) {
        int was_tail = s->lru.prev == &b->lru;
        b->stamp = now;
        lru_unlink(b);
        lru_push_head(s, b);
        if (was_tail)
            publish_tail_locked(s);
        be_block_ref(b);
    }
    pthread_mutex_unlock(&s->lock);
    return b;
}

int
be_memcache_contains(be_memcache_t *mc, const be_key_t *key)
{
    shard_t *s = shard_of(mc, be_key_hash(key));
    pthread_mutex_lock(&s->lock);
    int found = *find_slot_locked(mc, s, key) != NULL;
    pthread_mutex_unlock(&s->lock);
    return found;
}

/* Unlinks b from the index and the LRU; the caller drops the cache's reference. */
static void
detach_locked(be_memcache_t *mc, shard_t *s, be_block_t *b)
{
    be_block_t **pp = find_slot_locked(mc, s, &b->key);
    *pp = b->hnext;
    b->hnext = NULL;
    lru_unlink(b);
    b->cached = 0;
    s->blocks--;
    publish_tail_locked(s);
    atomic_fetch_sub(&mc->bytes, be_block_footprint(b));
}

/* Evicts the globally oldest tail. Returns 0 when every shard is empty. */
static int
evict_one(be_memcache_t *mc)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        shard_t *victim = NULL;
        int64_t oldest = STAMP_EMPTY;
        for (unsigned i = 0; i < mc->nshards; i++) {
            int64_t st = atomic_load_explicit(&mc->shards[i].tail_stamp, memory_order_relaxed);
            if (st < oldest || (victim == NULL && st != STAMP_EMPTY)) {
                oldest = st;
                victim = &mc->shards[i];
            }
        }
        if (victim == NULL)
            return 0;
        pthread_mutex_lock(&victim->lock);
        if (victim->lru.prev == &victim->lru) {
            pthread_mutex_unlock(&victim->lock);
            continue; /* emptied meanwhile: look again */
        }
        be_block_t *b = BLOCK_OF(victim->lru.prev);
        detach_locked(mc, victim, b);
        victim->evictions++;
        pthread_mutex_unlock(&victim->lock);
        be_block_unref(&b);
        return 1;
    }
    return 0;
}

static void
grow_locked(be_memcache_t *mc, shard_t *s)
{
    size_t n = s->nbuckets * 2;
    uint64_t extra = (n - s->nbuckets) * sizeof(be_block_t *);
    if (!reserve(mc, extra))
        return; /* a longer chain is better than breaking the bound */
    be_block_t **nb = calloc(n, sizeof(be_block_t *));
    if (nb == NULL) {
        atomic_fetch_sub(&mc->bytes, extra);
        return;
    }
    for (size_t i = 0; i < s->nbuckets; i++) {
        be_block_t *b = s->buckets[i];
        while (b != NULL) {
            be_block_t *next = b->hnext;
            size_t j = bucket_of(mc, n, be_key_hash(&b->key));
            b->hnext = nb[j];
            nb[j] = b;
            b = next;
        }
    }
    free(s->buckets);
    s->buckets = nb;
    s->nbuckets = n;
    atomic_fetch_add(&mc->index_bytes, extra);
}

int
be_memcache_insert(be_memcache_t *mc, be_block_t *b, be_msec_t now)
{
    uint64_t need = be_block_footprint(b);
    shard_t *s = shard_of(mc, be_key_hash(&b->key));
    if (be_memcache_contains(mc, &b->key))
        return BE_OK; /* same key, same bytes: nothing to make room for */
    if (need + atomic_load(&mc->index_bytes) > atomic_load(&mc->budget))
        return BE_DECLINED; /* no eviction could make room: evict nothing */
    while (!reserve(mc, need))
        if (!evict_one(mc))
            return BE_DECLINED;

    pthread_mutex_lock(&s->lock);
    be_block_t **slot = find_slot_locked(mc, s, &b->key);
    if (*slot != NULL) { /* another thread inserted it meanwhile */
        pthread_mutex_unlock(&s->lock);
        atomic_fetch_sub(&mc->bytes, need);
        return BE_OK;
    }
    be_block_ref(b);
    b->hnext = NULL;
    b->stamp = now;
    b->cached = 1;
    *slot = b;
    lru_push_head(s, b);
    publish_tail_locked(s);
    s->blocks++;
    s->inserts++;
    if (s->blocks > s->nbuckets)
        grow_locked(mc, s);
    pthread_mutex_unlock(&s->lock);
    return BE_OK;
}

int
be_memcache_remove(be_memcache_t *mc, const be_key_t *key)
{
    shard_t *s = shard_of(mc, be_key_hash(key));
    pthread_mutex_lock(&s->lock);
    be_block_t *b = *find_slot_locked(mc, s, key);
    if (b != NULL)
        detach_locked(mc, s, b);
    pthread_mutex_unlock(&s->lock);
    if (b == NULL)
        return BE_DECLINED;
    be_block_unref(&b);
    return BE_OK;
}

uint64_t
be_memcache_set_budget(be_memcache_t *mc, uint64_t budget)
{
    atomic_store(&mc->budget, budget);
    uint64_t evicted = 0;
    while (atomic_load(&mc->bytes) > budget && evict_one(mc))
        evicted++;
    return evicted;
}

void
be_memcache_stats(be_memcache_t *mc, be_memcache_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    out->capacity = atomic_load(&mc->budget);
    for (unsigned i = 0; i < mc->nshards; i++) {
        shard_t *s = &mc->shards[i];
        pthread_mutex_lock(&s->lock);
        out->blocks += s->blocks;
        out->evictions += s->evictions;
        out->inserts += s->inserts;
        pthread_mutex_unlock(&s->lock);
    }
    out->bytes = atomic_load(&mc->bytes);
}
