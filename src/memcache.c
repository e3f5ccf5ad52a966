/*
 * memcache.c - memory tier: sharded hash index, per-shard eviction policy, one node-wide byte
 * budget.
 *
 * The key's first 8 bytes are a uniformly random hash: the low bits pick the shard, the
 * next bits the bucket. Each shard is a chained hash table over the blocks' own hnext links
 * (no separate nodes) and one eviction policy (policy.h: LRU, SIEVE, S3-FIFO or W-TinyLFU)
 * ordering the blocks through the policy node embedded in each block, so an entry costs
 * nothing beyond the block header and the policy's small tables.
 *
 * Budget: `bytes` (atomic) counts every cached block's footprint plus every bucket array and
 * policy table. An insert first reserves its footprint with a compare-and-swap that never lets
 * `bytes` pass the budget; while there is no room it evicts one block. Under LRU the victim is
 * the tail of the shard whose tail was used longest ago (each shard publishes its tail's
 * stamp): a global LRU at the clock's resolution without a global lock. Under the other
 * policies it is the victim the policy picks in the shard holding the most bytes (each shard
 * publishes them), each shard's policy sized for an equal share of the budget. Hence
 * bytes <= budget at every instant, which is what blockedge_cache_bytes reports.
 *
 * Shards: be_memcache_shards_for() picks the count from the budget when the tier is made: the
 * largest power of two, at most 64 (BE_MEMCACHE_MAX_SHARDS), that leaves each shard at least
 * 4 MiB (BE_MEMCACHE_MIN_SHARD_BYTES); one below 8 MiB. Hence 64 shards from 256 MiB up (the
 * default memory_size: large tiers keep 64 locks for the workers' hits to spread over), 32
 * from 128 MiB, ..., 2 from 8 MiB.
 *
 * Why 4 MiB: each shard's policy is sized for its share, and the small areas of the policies
 * need blocks in them to work as designed. A 4 KiB block costs 4224 bytes (header included),
 * so a 4 MiB shard holds about 990 of them: about 99 in S3-FIFO's small queue (10%), 9 in
 * W-TinyLFU's window (1%); of 64 KiB blocks it holds 63, 6 of them in the small queue. With 64
 * shards whatever the budget, a 1 MiB tier was 64 shards of 16 KiB, 3 such blocks each and a
 * small queue under one block: its origin requests (89_cluster_sim under s3fifo) were 4.7%
 * above those of one S3-FIFO with the same bytes (tools/cachesim); as one shard it is within
 * 0.2%. The share of a shard is never below budget / 64; blocks of several MiB still leave a
 * shard few of them, whatever the count.
 *
 * The count stays for the tier's life. A reload (be_memcache_set_budget) resizes each shard's
 * policy, not the count: moving every block to other shards would need every shard lock at
 * once under load. A budget that grows a lot keeps the fewer shards it started with (more
 * workers' hits per lock); one that shrinks a lot leaves smaller shards, down to the
 * degenerate ones above (256 MiB reloaded to 1 MiB is 64 shards of 16 KiB). A restart picks
 * the count for the budget it starts with.
 *
 * Locks: one shard lock at a time, never two; no callback or I/O under it. A policy whose hit
 * moves the block in a list (LRU, W-TinyLFU) takes the shard mutex for every operation. A
 * policy whose hit only marks the block (SIEVE, S3-FIFO) uses the shard's rwlock instead:
 * look-ups hold it shared (index walk, reference, relaxed stores of the mark and stamp), so
 * hits on one shard run in parallel and never wait for one another's ordering; inserts,
 * evictions and removals hold it exclusively. Evicted blocks are unreferenced after the lock
 * is dropped (a send may still hold them).
 */
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/memcache.h"

#define STAMP_EMPTY    INT64_MAX

#define BLOCK_OF(node) ((be_block_t *)((char *)(node)-offsetof(be_block_t, pn)))

typedef struct shard_s {
    pthread_mutex_t mutex;   /* policies whose hits need it */
    pthread_rwlock_t rwlock; /* policies whose hits only mark */
    be_block_t **buckets;
    size_t nbuckets; /* power of two */
    be_policy_t *policy;
    uint64_t blocks;
    uint64_t evictions;
    uint64_t inserts;
    _Atomic int64_t tail_stamp; /* LRU: stamp of the tail, STAMP_EMPTY when empty */
    _Atomic uint64_t held;      /* footprint of this shard's blocks */
    char pad[64];
} shard_t;

struct be_memcache_s {
    unsigned nshards;
    unsigned shift;               /* hash bits used for the shard */
    int kind;                     /* enum be_memory_policy */
    int shared_hits;              /* hits take the rwlock shared */
    _Atomic uint64_t budget;      /* a reload may change it */
    _Atomic uint64_t bytes;       /* blocks + index, <= budget */
    _Atomic uint64_t index_bytes; /* bucket arrays and policy tables: eviction cannot free them */
    shard_t *shards;
};

static void
lock_excl(be_memcache_t *mc, shard_t *s)
{
    if (mc->shared_hits)
        pthread_rwlock_wrlock(&s->rwlock);
    else
        pthread_mutex_lock(&s->mutex);
}

/* A reader's lock: shared when the policy's hits only mark, else the mutex. */
static void
lock_read(be_memcache_t *mc, shard_t *s)
{
    if (mc->shared_hits)
        pthread_rwlock_rdlock(&s->rwlock);
    else
        pthread_mutex_lock(&s->mutex);
}

static void
unlock(be_memcache_t *mc, shard_t *s)
{
    if (mc->shared_hits)
        pthread_rwlock_unlock(&s->rwlock);
    else
        pthread_mutex_unlock(&s->mutex);
}

unsigned
be_memcache_shards_for(uint64_t budget)
{
    unsigned n = 1;
    while (n < BE_MEMCACHE_MAX_SHARDS && budget / BE_MEMCACHE_MIN_SHARD_BYTES >= 2 * (uint64_t)n)
        n *= 2;
    return n;
}

unsigned
be_memcache_shards(const be_memcache_t *mc)
{
    return mc->nshards;
}

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

/* Each shard's policy is sized for an equal share of what the budget leaves for blocks once
 * the index and the tables are paid for (as they stand: later growth is not followed). */
static void
set_policy_capacity(be_memcache_t *mc, uint64_t budget)
{
    uint64_t index = atomic_load(&mc->index_bytes);
    uint64_t share = budget > index ? (budget - index) / mc->nshards : 0;
    for (unsigned i = 0; i < mc->nshards; i++) {
        shard_t *s = &mc->shards[i];
        lock_excl(mc, s);
        be_policy_set_capacity(s->policy, share);
        unlock(mc, s);
    }
}

be_memcache_t *
be_memcache_new(uint64_t budget, unsigned nshards, int policy)
{
    if (nshards == 0 || (nshards & (nshards - 1)) != 0 || be_policy_name(policy) == NULL)
        return NULL;
    be_memcache_t *mc = calloc(1, sizeof(*mc));
    if (mc == NULL)
        return NULL;
    mc->nshards = nshards;
    mc->kind = policy;
    mc->shared_hits = !be_policy_hit_needs_lock(policy);
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
        pthread_mutex_init(&s->mutex, NULL);
        pthread_rwlock_init(&s->rwlock, NULL);
        atomic_init(&s->tail_stamp, STAMP_EMPTY);
        s->nbuckets = 16;
        s->buckets = calloc(s->nbuckets, sizeof(be_block_t *));
        s->policy = be_policy_new(policy, budget / nshards);
        uint64_t cost = s->nbuckets * sizeof(be_block_t *);
        if (s->policy != NULL)
            cost += be_policy_meta_bytes(s->policy);
        if (s->buckets == NULL || s->policy == NULL || !reserve(mc, cost)) {
            be_memcache_free(&mc);
            return NULL;
        }
        atomic_fetch_add(&mc->index_bytes, cost);
    }
    set_policy_capacity(mc, budget);
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
        for (size_t j = 0; s->buckets != NULL && j < s->nbuckets; j++) {
            be_block_t *b = s->buckets[j];
            while (b != NULL) {
                be_block_t *next = b->hnext;
                b->hnext = NULL;
                b->cached = 0;
                be_block_unref(&b);
                b = next;
            }
        }
        free(s->buckets);
        be_policy_free(&s->policy);
        pthread_mutex_destroy(&s->mutex);
        pthread_rwlock_destroy(&s->rwlock);
    }
    free(mc->shards);
    free(mc);
}

int
be_memcache_policy(const be_memcache_t *mc)
{
    return mc->kind;
}

static void
publish_tail_locked(be_memcache_t *mc, shard_t *s)
{
    if (mc->kind != BE_POLICY_LRU)
        return;
    const be_policy_node_t *t = be_policy_next_victim(s->policy);
    atomic_store_explicit(
        &s->tail_stamp,
        t == NULL ? STAMP_EMPTY : atomic_load_explicit(&BLOCK_OF(t)->stamp, memory_order_relaxed),
        memory_order_relaxed);
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
    lock_read(mc, s);
    be_block_t *b = *find_slot_locked(mc, s, key);
    if (b != NULL) {
        atomic_store_explicit(&b->stamp, now, memory_order_relaxed);
        if (atomic_load_explicit(&b->hits, memory_order_relaxed) != UINT32_MAX)
            atomic_fetch_add_explicit(&b->hits, 1, memory_order_relaxed);
        be_policy_hit(s->policy, &b->pn);
        if (!mc->shared_hits)
            publish_tail_locked(mc, s);
        be_block_ref(b);
    }
    unlock(mc, s);
    return b;
}

int
be_memcache_contains(be_memcache_t *mc, const be_key_t *key)
{
    shard_t *s = shard_of(mc, be_key_hash(key));
    lock_read(mc, s);
    int found = *find_slot_locked(mc, s, key) != NULL;
    unlock(mc, s);
    return found;
}

int
be_memcache_peek(be_memcache_t *mc, const be_key_t *key, be_memcache_info_t *out)
{
    shard_t *s = shard_of(mc, be_key_hash(key));
    lock_read(mc, s);
    be_block_t *b = *find_slot_locked(mc, s, key);
    if (b != NULL) {
        out->size = b->size;
        out->footprint = be_block_footprint(b);
        out->last_use = atomic_load_explicit(&b->stamp, memory_order_relaxed);
        out->hits = atomic_load_explicit(&b->hits, memory_order_relaxed);
    }
    unlock(mc, s);
    return b != NULL ? BE_OK : BE_DECLINED;
}

/* Unlinks b from the index (and from the policy unless it chose b as its victim); the caller
 * drops the cache's reference. */
static void
detach_locked(be_memcache_t *mc, shard_t *s, be_block_t *b, int policy_unlinked)
{
    be_block_t **pp = find_slot_locked(mc, s, &b->key);
    *pp = b->hnext;
    b->hnext = NULL;
    if (!policy_unlinked)
        be_policy_remove(s->policy, &b->pn);
    b->cached = 0;
    s->blocks--;
    publish_tail_locked(mc, s);
    uint64_t fp = be_block_footprint(b);
    atomic_fetch_sub(&s->held, fp);
    atomic_fetch_sub(&mc->bytes, fp);
}

/* The shard to evict from: the oldest LRU tail, or the shard holding the most bytes. */
static shard_t *
victim_shard(be_memcache_t *mc)
{
    shard_t *victim = NULL;
    if (mc->kind == BE_POLICY_LRU) {
        int64_t oldest = STAMP_EMPTY;
        for (unsigned i = 0; i < mc->nshards; i++) {
            int64_t st = atomic_load_explicit(&mc->shards[i].tail_stamp, memory_order_relaxed);
            if (st < oldest || (victim == NULL && st != STAMP_EMPTY)) {
                oldest = st;
                victim = &mc->shards[i];
            }
        }
        return victim;
    }
    uint64_t most = 0;
    for (unsigned i = 0; i < mc->nshards; i++) {
        uint64_t h = atomic_load_explicit(&mc->shards[i].held, memory_order_relaxed);
        if (h > most) {
            most = h;
            victim = &mc->shards[i];
        }
    }
    return victim;
}

/* Evicts one block. Returns 0 when every shard is empty. */
static int
evict_one(be_memcache_t *mc)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        shard_t *victim = victim_shard(mc);
        if (victim == NULL)
            return 0;
        lock_excl(mc, victim);
        be_policy_node_t *n = be_policy_victim(victim->policy);
        if (n == NULL) {
            unlock(mc, victim);
            continue; /* emptied meanwhile: look again */
        }
        be_block_t *b = BLOCK_OF(n);
        detach_locked(mc, victim, b, 1);
        victim->evictions++;
        unlock(mc, victim);
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

/* The policy's tables grow with the blocks it orders, within the budget like the buckets. */
static void
grow_policy_locked(be_memcache_t *mc, shard_t *s)
{
    uint64_t extra = be_policy_grow_wanted(s->policy);
    if (extra == 0 || !reserve(mc, extra))
        return; /* coarser tables are better than breaking the bound */
    if (be_policy_grow(s->policy) != BE_OK) {
        atomic_fetch_sub(&mc->bytes, extra);
        return;
    }
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

    lock_excl(mc, s);
    be_block_t **slot = find_slot_locked(mc, s, &b->key);
    if (*slot != NULL) { /* another thread inserted it meanwhile */
        unlock(mc, s);
        atomic_fetch_sub(&mc->bytes, need);
        return BE_OK;
    }
    be_block_ref(b);
    b->hnext = NULL;
    atomic_store_explicit(&b->stamp, now, memory_order_relaxed);
    atomic_store_explicit(&b->hits, 0, memory_order_relaxed);
    b->cached = 1;
    b->pn.hash = be_key_hash(&b->key);
    b->pn.size = need;
    *slot = b;
    be_policy_insert(s->policy, &b->pn);
    publish_tail_locked(mc, s);
    atomic_fetch_add(&s->held, need);
    s->blocks++;
    s->inserts++;
    if (s->blocks > s->nbuckets)
        grow_locked(mc, s);
    grow_policy_locked(mc, s);
    unlock(mc, s);
    return BE_OK;
}

int
be_memcache_remove(be_memcache_t *mc, const be_key_t *key)
{
    shard_t *s = shard_of(mc, be_key_hash(key));
    lock_excl(mc, s);
    be_block_t *b = *find_slot_locked(mc, s, key);
    if (b != NULL)
        detach_locked(mc, s, b, 0);
    unlock(mc, s);
    if (b == NULL)
        return BE_DECLINED;
    be_block_unref(&b);
    return BE_OK;
}

uint64_t
be_memcache_set_budget(be_memcache_t *mc, uint64_t budget)
{
    atomic_store(&mc->budget, budget);
    set_policy_capacity(mc, budget);
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
        lock_read(mc, s);
        out->blocks += s->blocks;
        out->evictions += s->evictions;
        out->inserts += s->inserts;
        unlock(mc, s);
    }
    out->bytes = atomic_load(&mc->bytes);
}
