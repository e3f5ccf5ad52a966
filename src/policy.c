/*
 * policy.c - the eviction policy interface: kind dispatch, names, the shared list bookkeeping.
 *
 * Knows nothing of blocks, shards or locks: the memory tier (memcache.c) and the simulator
 * (policysim.c, tools/cachesim.c) both drive policies through this file, so a policy behaves
 * the same in the server and in a replay. Each algorithm is in its own policy_<name>.c.
 */
#include <stdlib.h>
#include <string.h>

#include "blockedge/check.h"
#include "policy_int.h"

static const policy_ops_t *const kinds[BE_POLICY_N] = {
    [BE_POLICY_LRU] = &be_policy_lru_ops,
    [BE_POLICY_SIEVE] = &be_policy_sieve_ops,
    [BE_POLICY_S3FIFO] = &be_policy_s3fifo_ops,
    [BE_POLICY_WTINYLFU] = &be_policy_wtinylfu_ops,
};

be_policy_t *
be_policy_new(int kind, uint64_t capacity)
{
    if (kind < 0 || kind >= BE_POLICY_N)
        return NULL;
    be_policy_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->magic = BE_POLICY_MAGIC;
    p->ops = kinds[kind];
    p->capacity = capacity;
    for (int i = 0; i < POLICY_LISTS; i++)
        p->q[i].head.next = p->q[i].head.prev = &p->q[i].head;
    if (p->ops->init(p) != BE_OK) {
        free(p);
        return NULL;
    }
    return p;
}

void
be_policy_free(be_policy_t **pp)
{
    be_policy_t *p = *pp;
    if (p == NULL)
        return;
    *pp = NULL;
    BE_CHECK_OBJ_NOTNULL(p, BE_POLICY_MAGIC);
    if (p->ops->dispose != NULL)
        p->ops->dispose(p);
    p->magic = 0;
    free(p);
}

void
be_policy_set_capacity(be_policy_t *p, uint64_t capacity)
{
    BE_CHECK_OBJ_NOTNULL(p, BE_POLICY_MAGIC);
    p->capacity = capacity;
}

void
be_policy_insert(be_policy_t *p, be_policy_node_t *n)
{
    BE_CHECK_OBJ_NOTNULL(p, BE_POLICY_MAGIC);
    atomic_store_explicit(&n->mark, 0, memory_order_relaxed);
    p->ops->insert(p, n);
}

void
be_policy_hit(be_policy_t *p, be_policy_node_t *n)
{
    BE_CHECK_OBJ_NOTNULL(p, BE_POLICY_MAGIC);
    p->ops->hit(p, n);
}

be_policy_node_t *
be_policy_victim(be_policy_t *p)
{
    BE_CHECK_OBJ_NOTNULL(p, BE_POLICY_MAGIC);
    return p->ops->victim(p);
}

void
be_policy_remove(be_policy_t *p, be_policy_node_t *n)
{
    BE_CHECK_OBJ_NOTNULL(p, BE_POLICY_MAGIC);
    if (p->ops->remove != NULL)
        p->ops->remove(p, n);
    else
        plist_unlink(&p->q[n->queue], n);
}

const be_policy_node_t *
be_policy_next_victim(const be_policy_t *p)
{
    BE_CHECK_OBJ_NOTNULL(p, BE_POLICY_MAGIC);
    return p->ops->next_victim != NULL ? p->ops->next_victim(p) : NULL;
}

uint64_t
be_policy_bytes(const be_policy_t *p)
{
    BE_CHECK_OBJ_NOTNULL(p, BE_POLICY_MAGIC);
    uint64_t n = 0;
    for (int i = 0; i < POLICY_LISTS; i++)
        n += p->q[i].bytes;
    return n;
}

uint64_t
be_policy_count(const be_policy_t *p)
{
    BE_CHECK_OBJ_NOTNULL(p, BE_POLICY_MAGIC);
    uint64_t n = 0;
    for (int i = 0; i < POLICY_LISTS; i++)
        n += p->q[i].count;
    return n;
}

uint64_t
be_policy_meta_bytes(const be_policy_t *p)
{
    BE_CHECK_OBJ_NOTNULL(p, BE_POLICY_MAGIC);
    return p->ops->meta_bytes != NULL ? p->ops->meta_bytes(p) : 0;
}

uint64_t
be_policy_grow_wanted(const be_policy_t *p)
{
    BE_CHECK_OBJ_NOTNULL(p, BE_POLICY_MAGIC);
    return p->ops->grow_wanted != NULL ? p->ops->grow_wanted(p) : 0;
}

int
be_policy_grow(be_policy_t *p)
{
    BE_CHECK_OBJ_NOTNULL(p, BE_POLICY_MAGIC);
    return p->ops->grow != NULL ? p->ops->grow(p) : BE_OK;
}

int
be_policy_promoted(const be_policy_node_t *n)
{
    return (atomic_load_explicit(&n->mark, memory_order_relaxed) & MARK_PROMOTED) != 0;
}

int
be_policy_has_probation(int kind)
{
    return kind >= 0 && kind < BE_POLICY_N ? kinds[kind]->has_probation : 0;
}

int
be_policy_hit_needs_lock(int kind)
{
    return kind >= 0 && kind < BE_POLICY_N ? kinds[kind]->hit_needs_lock : 1;
}

const char *
be_policy_name(int kind)
{
    return kind >= 0 && kind < BE_POLICY_N ? kinds[kind]->name : NULL;
}

int
be_policy_parse(const char *name)
{
    for (int k = 0; k < BE_POLICY_N; k++)
        if (strcmp(kinds[k]->name, name) == 0)
            return k;
    return -1;
}
