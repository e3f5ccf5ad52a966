/*
 * policy_lru.c - least recently used: one list, a hit moves the object to the head, the
 * victim is the tail.
 *
 * The textbook policy and blockedge's first: exact, predictable, O(1), and the reference the
 * others are measured against. Its weaknesses are the reasons the others exist: every hit is a
 * list move (a write to two neighbours under an exclusive lock), and a scan larger than the
 * cache pushes the whole hot set out, since a block seen once ranks above one seen a thousand
 * times but a moment earlier. Its tail can be read without side effects, which lets the memory
 * tier evict the oldest tail across shards (a global LRU without a global lock).
 */
#include "policy_int.h"

static int
lru_init(be_policy_t *p)
{
    BE_UNUSED(p);
    return BE_OK;
}

static void
lru_insert(be_policy_t *p, be_policy_node_t *n)
{
    plist_push_head(&p->q[0], n, 0);
}

static void
lru_hit(be_policy_t *p, be_policy_node_t *n)
{
    if (p->q[0].head.next != n)
        plist_move_head(p, n, 0);
}

static be_policy_node_t *
lru_victim(be_policy_t *p)
{
    be_policy_node_t *n = plist_tail(&p->q[0]);
    if (n != NULL)
        plist_unlink(&p->q[0], n);
    return n;
}

static const be_policy_node_t *
lru_next_victim(const be_policy_t *p)
{
    return plist_tail((plist_t *)&p->q[0]);
}

const policy_ops_t be_policy_lru_ops = {
    .name = "lru",
    .hit_needs_lock = 1,
    .init = lru_init,
    .insert = lru_insert,
    .hit = lru_hit,
    .victim = lru_victim,
    .next_victim = lru_next_victim,
};
