/*
 * negcache.c - the negative cache: per shard, a ring of (key, expiry) written round robin, so
 * memory is fixed at start-up and the oldest entry goes first when the ring is full. A
 * look-up scans its shard's ring comparing 64-bit hashes (a few hundred entries: cheaper than
 * the origin request it saves, and only misses get here).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/negcache.h"

#define NSHARDS 16

typedef struct {
    uint64_t hash; /* 0: empty */
    be_key_t key;
    be_msec_t until;
} neg_t;

typedef struct {
    pthread_mutex_t lock;
    neg_t *ring;
    unsigned cap, next;
    char pad[64];
} shard_t;

struct be_negcache_s {
    shard_t shards[NSHARDS];
};

be_negcache_t *
be_negcache_new(unsigned max_keys)
{
    be_negcache_t *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    unsigned cap = max_keys / NSHARDS > 0 ? max_keys / NSHARDS : 1;
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_init(&n->shards[i].lock, NULL);
        n->shards[i].cap = cap;
        n->shards[i].ring = calloc(cap, sizeof(neg_t));
        if (n->shards[i].ring == NULL) {
            be_negcache_free(&n);
            return NULL;
        }
    }
    return n;
}

void
be_negcache_free(be_negcache_t **np)
{
    be_negcache_t *n = *np;
    if (n == NULL)
        return;
    *np = NULL;
    for (int i = 0; i < NSHARDS; i++) {
        free(n->shards[i].ring);
        pthread_mutex_destroy(&n->shards[i].lock);
    }
    free(n);
}

static uint64_t
hash_of(const be_key_t *key)
{
    uint64_t h = be_key_hash(key);
    return h != 0 ? h : 1;
}

static shard_t *
shard_of(be_negcache_t *n, uint64_t h)
{
    return &n->shards[(h >> 56) % NSHARDS];
}

/* The entry holding key in s, or NULL. Under s->lock. */
static neg_t *
find_locked(shard_t *s, uint64_t h, const be_key_t *key)
{
    for (unsigned i = 0; i < s->cap; i++)
        if (s->ring[i].hash == h && be_key_equal(&s->ring[i].key, key))
            return &s->ring[i];
    return NULL;
}

void
be_negcache_add(be_negcache_t *n, const be_key_t *key, be_msec_t until)
{
    uint64_t h = hash_of(key);
    shard_t *s = shard_of(n, h);
    pthread_mutex_lock(&s->lock);
    neg_t *e = find_locked(s, h, key);
    if (e == NULL) {
        e = &s->ring[s->next];
        s->next = (s->next + 1) % s->cap;
        e->hash = h;
        e->key = *key;
    }
    e->until = until;
    pthread_mutex_unlock(&s->lock);
}

int
be_negcache_hit(be_negcache_t *n, const be_key_t *key, be_msec_t now)
{
    uint64_t h = hash_of(key);
    shard_t *s = shard_of(n, h);
    pthread_mutex_lock(&s->lock);
    neg_t *e = find_locked(s, h, key);
    int hit = e != NULL && now < e->until;
    pthread_mutex_unlock(&s->lock);
    return hit;
}

void
be_negcache_forget(be_negcache_t *n, const be_key_t *key)
{
    uint64_t h = hash_of(key);
    shard_t *s = shard_of(n, h);
    pthread_mutex_lock(&s->lock);
    neg_t *e = find_locked(s, h, key);
    if (e != NULL)
        e->hash = 0;
    pthread_mutex_unlock(&s->lock);
}
