/*
 * missrate.c - per-client token buckets in a bounded table (see missrate.h).
 *
 * Per shard: a pool of entries taken on first use, a chained hash on the client address
 * (chains of pool indexes), and an LRU list through the same entries: a client seen moves
 * to the front, a new client past the pool's size takes the tail's place.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/missrate.h"

#define NSHARDS   16
#define SHARD_CAP (BE_MISSRATE_CLIENTS / NSHARDS) /* a power of two */
#define NONE      (-1)

typedef struct {
    be_clientaddr_t addr;
    double tokens;
    be_msec_t last;     /* when tokens was last brought up to date */
    int32_t hnext;      /* next in the hash chain */
    int32_t prev, next; /* LRU: prev is more recent */
} client_t;

typedef struct {
    pthread_mutex_t lock;
    client_t *pool; /* NULL until the shard's first client */
    int32_t *heads; /* SHARD_CAP hash chains */
    int32_t used;
    int32_t mru, lru;
    char pad[64];
} shard_t;

struct be_missrate_s {
    shard_t shards[NSHARDS];
};

be_missrate_t *
be_missrate_new(void)
{
    be_missrate_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    for (int i = 0; i < NSHARDS; i++)
        pthread_mutex_init(&m->shards[i].lock, NULL);
    return m;
}

void
be_missrate_free(be_missrate_t **mp)
{
    be_missrate_t *m = *mp;
    if (m == NULL)
        return;
    *mp = NULL;
    for (int i = 0; i < NSHARDS; i++) {
        free(m->shards[i].pool);
        free(m->shards[i].heads);
        pthread_mutex_destroy(&m->shards[i].lock);
    }
    free(m);
}

static uint32_t
hash_of(const be_clientaddr_t *c)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int i = 0; i < 16; i++)
        h = (h ^ c->a[i]) * 16777619u;
    return h ^ (h >> 15);
}

static int
shard_ready(shard_t *s)
{
    if (s->pool != NULL)
        return 1;
    s->pool = malloc(SHARD_CAP * sizeof(client_t));
    s->heads = malloc(SHARD_CAP * sizeof(int32_t));
    if (s->pool == NULL || s->heads == NULL) {
        free(s->pool);
        free(s->heads);
        s->pool = NULL;
        s->heads = NULL;
        return 0;
    }
    for (int i = 0; i < SHARD_CAP; i++)
        s->heads[i] = NONE;
    s->mru = s->lru = NONE;
    s->used = 0;
    return 1;
}

static void
lru_unlink(shard_t *s, int32_t i)
{
    client_t *c = &s->pool[i];
    if (c->prev != NONE)
        s->pool[c->prev].next = c->next;
    else
        s->mru = c->next;
    if (c->next != NONE)
        s->pool[c->next].prev = c->prev;
    else
        s->lru = c->prev;
}

static void
lru_push(shard_t *s, int32_t i)
{
    client_t *c = &s->pool[i];
    c->prev = NONE;
    c->next = s->mru;
    if (s->mru != NONE)
        s->pool[s->mru].prev = i;
    s->mru = i;
    if (s->lru == NONE)
        s->lru = i;
}

static void
hash_unlink(shard_t *s, int32_t i)
{
    int32_t *p = &s->heads[hash_of(&s->pool[i].addr) % SHARD_CAP];
    while (*p != i)
        p = &s->pool[*p].hnext;
    *p = s->pool[i].hnext;
}

/* The client's entry, made (full bucket) when absent. Under s->lock, shard ready. */
static client_t *
find_or_add(shard_t *s, uint32_t h, const be_clientaddr_t *addr, int burst, be_msec_t now)
{
    int32_t *head = &s->heads[h % SHARD_CAP];
    for (int32_t i = *head; i != NONE; i = s->pool[i].hnext) {
        if (memcmp(&s->pool[i].addr, addr, sizeof(*addr)) == 0) {
            lru_unlink(s, i);
            lru_push(s, i);
            return &s->pool[i];
        }
    }
    int32_t i;
    if (s->used < SHARD_CAP) {
        i = s->used++;
    } else { /* forget the client seen least recently */
        i = s->lru;
        lru_unlink(s, i);
        hash_unlink(s, i);
    }
    client_t *c = &s->pool[i];
    c->addr = *addr;
    c->tokens = burst;
    c->last = now;
    c->hnext = *head;
    *head = i;
    lru_push(s, i);
    return c;
}

int
be_missrate_take(be_missrate_t *m, const be_clientaddr_t *client, double rate, int burst,
                 be_msec_t now, int *retry_s)
{
    uint32_t h = hash_of(client);
    shard_t *s = &m->shards[(h >> 24) % NSHARDS];
    int rc = BE_OK;
    pthread_mutex_lock(&s->lock);
    if (!shard_ready(s)) {
        pthread_mutex_unlock(&s->lock);
        return BE_ERROR;
    }
    client_t *c = find_or_add(s, h, client, burst, now);
    if (now > c->last) {
        c->tokens += (double)(now - c->last) * rate / 1000.0;
        c->last = now;
    }
    if (c->tokens > burst)
        c->tokens = burst; /* also when burst was lowered by a reload */
    if (c->tokens >= 1.0) {
        c->tokens -= 1.0;
    } else {
        double wait = (1.0 - c->tokens) / rate;
        int whole = (int)wait;
        *retry_s = whole < 1 ? 1 : whole + (wait > whole);
        rc = BE_DECLINED;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

unsigned
be_missrate_clients(be_missrate_t *m)
{
    unsigned n = 0;
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_lock(&m->shards[i].lock);
        n += (unsigned)m->shards[i].used;
        pthread_mutex_unlock(&m->shards[i].lock);
    }
    return n;
}
