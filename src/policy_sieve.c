/*
 * policy_sieve.c - SIEVE: one FIFO queue, a visited bit per object and a moving hand.
 *
 * Source: Zhang, Yang, Yue, Vigfusson, Rashmi, "SIEVE is Simpler than LRU: an Efficient
 * Turn-Key Eviction Algorithm for Web Caches", NSDI 2024.
 *
 * New objects enter at the head and never move. A hit only sets the object's visited bit. To
 * evict, the hand walks from where it last stopped towards the head (starting at the tail, and
 * wrapping from the head back to the tail): a visited object has its bit cleared and is passed
 * over, the first unvisited one is the victim, and the hand stays just newer than it. Unlike
 * CLOCK, survivors keep their place instead of being reinserted at the head, so new objects
 * sit near the head with no bit while old popular ones collect behind the hand: one-hit
 * wonders are evicted quickly (a lazy promotion and a quick demotion, in the paper's words).
 *
 * The hit path is a relaxed atomic store of one byte, and only when the bit is clear, so the
 * memory tier serves SIEVE hits under a shared lock; eviction clears bits under the exclusive
 * lock. A bit set by a hit racing the hand is either seen or lost, which only matters as much
 * as a hit arriving a moment later.
 */
#include "policy_int.h"

typedef struct sieve_s {
    be_policy_node_t *hand; /* NULL: start at the tail */
} sieve_t;

static int
sieve_init(be_policy_t *p)
{
    p->priv = calloc(1, sizeof(sieve_t));
    return p->priv != NULL ? BE_OK : BE_ERROR;
}

static void
sieve_dispose(be_policy_t *p)
{
    free(p->priv);
    p->priv = NULL;
}

static void
sieve_insert(be_policy_t *p, be_policy_node_t *n)
{
    plist_push_head(&p->q[0], n, 0);
}

static void
sieve_hit(be_policy_t *p, be_policy_node_t *n)
{
    BE_UNUSED(p);
    if (mark_get(n) == 0)
        mark_set(n, 1);
}

/* The node newer than n, or NULL at the head. */
static be_policy_node_t *
newer(be_policy_t *p, be_policy_node_t *n)
{
    return n->prev == &p->q[0].head ? NULL : n->prev;
}

static be_policy_node_t *
sieve_victim(be_policy_t *p)
{
    sieve_t *s = p->priv;
    be_policy_node_t *n = s->hand != NULL ? s->hand : plist_tail(&p->q[0]);
    if (n == NULL)
        return NULL;
    while (mark_get(n) != 0) {
        mark_set(n, 0);
        n = newer(p, n);
        if (n == NULL)
            n = plist_tail(&p->q[0]);
    }
    s->hand = newer(p, n);
    plist_unlink(&p->q[0], n);
    return n;
}

static void
sieve_remove(be_policy_t *p, be_policy_node_t *n)
{
    sieve_t *s = p->priv;
    if (s->hand == n)
        s->hand = newer(p, n);
    plist_unlink(&p->q[0], n);
}

const policy_ops_t be_policy_sieve_ops = {
    .name = "sieve",
    .hit_needs_lock = 0,
    .init = sieve_init,
    .dispose = sieve_dispose,
    .insert = sieve_insert,
    .hit = sieve_hit,
    .victim = sieve_victim,
    .remove = sieve_remove,
};
