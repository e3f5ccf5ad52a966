/*
 * connlimit.c - open connections per client address, node-wide (max_connections_per_ip).
 *
 * Owns the counts only: which connections to refuse and what to log is conn.c's. Each shard
 * is a small open-addressing table (oatable.h) under its own mutex whose slots hold an
 * address and its count; a count of 0 is an empty slot, so an entry exists only while its
 * address holds a connection, and a shard's array shrinks again once it is mostly empty:
 * memory follows the connections the node holds, which max_connections bounds. The hash is
 * two rounds of a 64-bit finalizer over the key with a seed drawn from getrandom(2) at
 * start: not a cryptographic function, but without the seed a client cannot compute which
 * /64s share a probe run. Locks: one shard at a time, never held across a call out.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "blockedge/check.h"
#include "blockedge/clientaddr.h"
#include "blockedge/connlimit.h"
#include "blockedge/oatable.h"

#define NSHARDS   16
#define MIN_CAP   16u /* a shard's array never shrinks below this */
#define SHRINK_AT 8u  /* shrink to half when fewer than cap / SHRINK_AT slots are held */

typedef struct {
    be_connkey_t key;
    uint64_t hash;
    uint32_t count; /* 0: empty slot */
} entry_t;

static int
held(const entry_t *e)
{
    return e->count > 0;
}

static uint64_t
hash_of_entry(void *ctx, const entry_t *e)
{
    BE_UNUSED(ctx);
    return e->hash;
}

static int
match(void *ctx, const entry_t *e, const be_connkey_t *key)
{
    BE_UNUSED(ctx);
    return memcmp(e->key.b, key->b, sizeof(key->b)) == 0;
}

BE_OATABLE_DEFINE(addrtab, entry_t, be_connkey_t, void, held, hash_of_entry, match)

typedef struct {
    pthread_mutex_t lock;
    addrtab_t tab;
    char pad[64];
} shard_t;

struct be_connlimit_s {
    uint32_t magic;
    uint64_t seed[2];
    shard_t shards[NSHARDS];
};

be_connlimit_t *
be_connlimit_new(void)
{
    be_connlimit_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->magic = BE_CONNLIMIT_MAGIC;
    if (getrandom(l->seed, sizeof(l->seed), GRND_NONBLOCK) != (ssize_t)sizeof(l->seed)) {
        /* no entropy yet (early boot): weaker, but the table still works */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        l->seed[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)l;
        l->seed[1] = (uint64_t)ts.tv_sec * 0xc2b2ae3d27d4eb4full ^ l->seed[0];
    }
    for (int i = 0; i < NSHARDS; i++)
        pthread_mutex_init(&l->shards[i].lock, NULL);
    return l;
}

void
be_connlimit_free(be_connlimit_t **lp)
{
    be_connlimit_t *l = *lp;
    if (l == NULL)
        return;
    *lp = NULL;
    BE_CHECK_OBJ_NOTNULL(l, BE_CONNLIMIT_MAGIC);
    for (int i = 0; i < NSHARDS; i++) {
        addrtab_dispose(&l->shards[i].tab);
        pthread_mutex_destroy(&l->shards[i].lock);
    }
    l->magic = 0;
    free(l);
}

int
be_connlimit_key(const struct sockaddr *sa, be_connkey_t *key)
{
    be_clientaddr_t a; /* one host usually holds a whole /64: grouped as miss_rate groups */
    memset(key, 0, sizeof(*key));
    if (be_clientaddr_from_sockaddr(sa, &a) != BE_OK)
        return BE_DECLINED;
    be_clientaddr_group(&a);
    memcpy(key->b, a.a, sizeof(key->b));
    return BE_OK;
}

const char *
be_connlimit_key_text(const be_connkey_t *key, char *out, size_t len)
{
    static const uint8_t v4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char text[INET6_ADDRSTRLEN] = "?";
    if (memcmp(key->b, v4, sizeof(v4)) == 0) {
        inet_ntop(AF_INET, &key->b[12], text, sizeof(text));
        snprintf(out, len, "%s", text);
    } else {
        inet_ntop(AF_INET6, key->b, text, sizeof(text));
        snprintf(out, len, "%s/64", text);
    }
    return out;
}

static uint64_t
fmix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint64_t
hash_key(const be_connlimit_t *l, const be_connkey_t *key)
{
    uint64_t hi, lo;
    memcpy(&hi, key->b, 8);
    memcpy(&lo, key->b + 8, 8);
    return fmix(fmix(hi ^ l->seed[0]) ^ lo ^ l->seed[1]);
}

static shard_t *
shard_of(be_connlimit_t *l, uint64_t h)
{
    return &l->shards[h >> 60 & (NSHARDS - 1)];
}

int
be_connlimit_take(be_connlimit_t *l, const be_connkey_t *key, unsigned limit, unsigned *held_out)
{
    BE_CHECK_OBJ_NOTNULL(l, BE_CONNLIMIT_MAGIC);
    uint64_t h = hash_key(l, key);
    shard_t *s = shard_of(l, h);
    int rc = BE_OK;
    unsigned now_held = 0;
    pthread_mutex_lock(&s->lock);
    entry_t *e = addrtab_find(&s->tab, NULL, h, key);
    if (e != NULL) {
        if (limit > 0 && e->count >= limit)
            rc = BE_DECLINED;
        else
            e->count++;
        now_held = e->count;
    } else {
        /* keep the load at most 3/4 */
        uint32_t cap = s->tab.cap;
        if ((s->tab.used + 1) * 4 > cap * 3 &&
            addrtab_grow(&s->tab, NULL, cap ? cap * 2 : MIN_CAP) != BE_OK)
            rc = BE_ERROR;
        else {
            e = addrtab_insert(&s->tab, h);
            e->key = *key;
            e->hash = h;
            e->count = 1;
            now_held = 1;
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (held_out != NULL)
        *held_out = now_held;
    return rc;
}

void
be_connlimit_release(be_connlimit_t *l, const be_connkey_t *key)
{
    BE_CHECK_OBJ_NOTNULL(l, BE_CONNLIMIT_MAGIC);
    uint64_t h = hash_key(l, key);
    shard_t *s = shard_of(l, h);
    pthread_mutex_lock(&s->lock);
    entry_t *e = addrtab_find(&s->tab, NULL, h, key);
    BE_ASSERT(e != NULL);
    if (--e->count == 0) {
        addrtab_erase(&s->tab, NULL, e);
        if (s->tab.cap > MIN_CAP && s->tab.used < s->tab.cap / SHRINK_AT)
            addrtab_grow(&s->tab, NULL, s->tab.cap / 2); /* out of memory: stays larger */
    }
    pthread_mutex_unlock(&s->lock);
}

unsigned
be_connlimit_count(be_connlimit_t *l, const be_connkey_t *key)
{
    BE_CHECK_OBJ_NOTNULL(l, BE_CONNLIMIT_MAGIC);
    uint64_t h = hash_key(l, key);
    shard_t *s = shard_of(l, h);
    pthread_mutex_lock(&s->lock);
    const entry_t *e = addrtab_find(&s->tab, NULL, h, key);
    unsigned n = e != NULL ? e->count : 0;
    pthread_mutex_unlock(&s->lock);
    return n;
}

size_t
be_connlimit_entries(be_connlimit_t *l)
{
    BE_CHECK_OBJ_NOTNULL(l, BE_CONNLIMIT_MAGIC);
    size_t n = 0;
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_lock(&l->shards[i].lock);
        n += l->shards[i].tab.used;
        pthread_mutex_unlock(&l->shards[i].lock);
    }
    return n;
}

size_t
be_connlimit_bytes(be_connlimit_t *l)
{
    BE_CHECK_OBJ_NOTNULL(l, BE_CONNLIMIT_MAGIC);
    size_t n = sizeof(*l);
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_lock(&l->shards[i].lock);
        n += addrtab_bytes(&l->shards[i].tab);
        pthread_mutex_unlock(&l->shards[i].lock);
    }
    return n;
}
