/*
 * policy_int.h - what the policy files share: the policy object, its lists and the ops each
 * policy_<name>.c fills in. Nothing outside src/policy*.c includes it.
 *
 * Lists are circular and doubly linked through a sentinel: head.next is the newest node,
 * head.prev the oldest (the tail). Each list counts its nodes and bytes.
 */
#ifndef BLOCKEDGE_POLICY_INT_H
#define BLOCKEDGE_POLICY_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

#include "blockedge/policy.h"

#define BE_POLICY_MAGIC 0x706f6c21u /* "pol!" */
#define POLICY_LISTS    3

typedef struct plist_s {
    be_policy_node_t head;
    uint64_t bytes;
    uint64_t count;
} plist_t;

typedef struct policy_ops_s {
    const char *name;
    int hit_needs_lock;
    int has_probation;               /* new objects wait in a small queue before the main area */
    int (*init)(be_policy_t *p);     /* BE_OK or BE_ERROR; priv and lists are zeroed */
    void (*dispose)(be_policy_t *p); /* frees priv; may be NULL */
    void (*insert)(be_policy_t *p, be_policy_node_t *n);
    void (*hit)(be_policy_t *p, be_policy_node_t *n);
    be_policy_node_t *(*victim)(be_policy_t *p);
    void (*remove)(be_policy_t *p, be_policy_node_t *n);          /* NULL: unlink from its list */
    const be_policy_node_t *(*next_victim)(const be_policy_t *p); /* NULL: cannot tell */
    uint64_t (*meta_bytes)(const be_policy_t *p);                 /* may be NULL */
    uint64_t (*grow_wanted)(const be_policy_t *p);                /* may be NULL */
    int (*grow)(be_policy_t *p);                                  /* may be NULL */
} policy_ops_t;

struct be_policy_s {
    uint32_t magic;
    const policy_ops_t *ops;
    uint64_t capacity;
    plist_t q[POLICY_LISTS];
    void *priv; /* the policy's own tables */
};

extern const policy_ops_t be_policy_lru_ops;
extern const policy_ops_t be_policy_sieve_ops;
extern const policy_ops_t be_policy_s3fifo_ops;
extern const policy_ops_t be_policy_wtinylfu_ops;

static inline be_policy_node_t *
plist_tail(plist_t *l)
{
    return l->head.prev == &l->head ? NULL : l->head.prev;
}

static inline void
plist_push_head(plist_t *l, be_policy_node_t *n, uint8_t queue)
{
    n->next = l->head.next;
    n->prev = &l->head;
    l->head.next->prev = n;
    l->head.next = n;
    n->queue = queue;
    l->bytes += n->size;
    l->count++;
}

static inline void
plist_unlink(plist_t *l, be_policy_node_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = NULL;
    l->bytes -= n->size;
    l->count--;
}

/* Moves n (in list `from`) to the head of list `to`, which may be the same list. */
static inline void
plist_move_head(be_policy_t *p, be_policy_node_t *n, uint8_t to)
{
    plist_unlink(&p->q[n->queue], n);
    plist_push_head(&p->q[to], n, to);
}

/* The mark's top bit says the node reached the policy's main area (be_policy_promoted()); its
 * other bits are the policy's visited bit or frequency, which mark_get/mark_set read and write.
 * The bit is set under the owner's exclusive lock (insert, victim), never during lock-free
 * hits, so mark_set's load and store cannot lose it. */
#define MARK_PROMOTED 0x80u

static inline uint8_t
mark_get(be_policy_node_t *n)
{
    return atomic_load_explicit(&n->mark, memory_order_relaxed) & (uint8_t)~MARK_PROMOTED;
}

static inline void
mark_set(be_policy_node_t *n, uint8_t v)
{
    uint8_t old = atomic_load_explicit(&n->mark, memory_order_relaxed);
    atomic_store_explicit(&n->mark, (uint8_t)((old & MARK_PROMOTED) | v), memory_order_relaxed);
}

/* n entered the main area (S3-FIFO's M, W-TinyLFU's probation from the window). */
static inline void
mark_promoted(be_policy_node_t *n)
{
    atomic_fetch_or_explicit(&n->mark, (uint8_t)MARK_PROMOTED, memory_order_relaxed);
}

/* A well-mixed 64-bit value from a key hash; sketch rows and ghost slots take its top bits. */
static inline uint64_t
policy_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

#endif
