/*
 * clustersim.h - a replay through a cluster: N edges behind HAProxy's consistent-hash ring
 * (chring.h), their misses through M shields on a ring of their own, the shields' misses at the
 * origin. tools/cachesim --cluster drives it.
 *
 * Each node runs its own policy object (policy.h, the memory tier's code) sized to the node's
 * cache, exactly as policysim.c runs one: a request whose key the node holds is a hit; otherwise
 * the object is inserted, evicting victims until it fits (not cached when larger than the node).
 * A tier keeps one table of (node, key id) -> entry for all its nodes, so memory follows what is
 * cached (entries live in chunks that never move, since the policies link them), not N x keys.
 * Owners are computed per key id from the ring and recomputed when a node fails or joins; a
 * failed node loses its cache and its policy state (a restart), a joining one starts empty.
 * Thread: one replay per cluster object, on one thread.
 */
#ifndef BLOCKEDGE_TOOLS_CLUSTERSIM_H
#define BLOCKEDGE_TOOLS_CLUSTERSIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/policy.h"
#include "blockedge/policysim.h"
#include "chring.h"

#define CL_CHUNK_BITS 16
#define CL_CHUNK      (1u << CL_CHUNK_BITS)

typedef struct cl_entry_s {
    be_policy_node_t pn; /* first: a victim's node is its entry */
    uint32_t id;         /* key id; the next free entry + 1 while free */
    uint32_t node;
    uint32_t self; /* this entry's index */
} cl_entry_t;

typedef struct cl_slot_s {
    uint64_t key; /* node << 32 | id */
    uint32_t e1;  /* entry index + 1; 0 = empty */
} cl_slot_t;

typedef struct cl_node_s {
    be_policy_t *pol;
    uint64_t used, cap, objects; /* objects and their bytes cached now */
    uint64_t requests, hits, bytes, hit_bytes;
    int up;
} cl_node_t;

typedef struct cl_tier_s {
    uint32_t n; /* node slots (initial nodes and joiners) */
    int kind;
    cl_node_t *node;
    chring_t ring;
    uint32_t *owner; /* per key id: node index */
    cl_slot_t *slot;
    uint64_t nslots, nused;
    cl_entry_t **chunk;
    uint32_t nchunks, fresh, free1; /* fresh: entries ever handed out; free1: free list + 1 */
} cl_tier_t;

static inline cl_entry_t *
cl_entry(const cl_tier_t *t, uint32_t i)
{
    return &t->chunk[i >> CL_CHUNK_BITS][i & (CL_CHUNK - 1)];
}

static inline uint64_t
cl_slot_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
}

static int
cl_table_grow(cl_tier_t *t)
{
    uint64_t n = t->nslots ? t->nslots * 2 : 4096;
    cl_slot_t *ns = calloc(n, sizeof(*ns));
    if (ns == NULL)
        return -1;
    for (uint64_t i = 0; i < t->nslots; i++) {
        if (t->slot[i].e1 == 0)
            continue;
        uint64_t j = cl_slot_hash(t->slot[i].key) & (n - 1);
        while (ns[j].e1 != 0)
            j = (j + 1) & (n - 1);
        ns[j] = t->slot[i];
    }
    free(t->slot);
    t->slot = ns;
    t->nslots = n;
    return 0;
}

/* The slot holding key, or the empty slot where it would go. */
static inline uint64_t
cl_table_find(const cl_tier_t *t, uint64_t key)
{
    uint64_t j = cl_slot_hash(key) & (t->nslots - 1);
    while (t->slot[j].e1 != 0 && t->slot[j].key != key)
        j = (j + 1) & (t->nslots - 1);
    return j;
}

/* Linear probing's deletion: later slots of the run move back so no lookup stops early. */
static void
cl_table_delete(cl_tier_t *t, uint64_t key)
{
    uint64_t mask = t->nslots - 1, i = cl_table_find(t, key), j = i;
    if (t->slot[i].e1 == 0)
        return;
    t->slot[i].e1 = 0;
    t->nused--;
    for (;;) {
        j = (j + 1) & mask;
        if (t->slot[j].e1 == 0)
            return;
        uint64_t home = cl_slot_hash(t->slot[j].key) & mask;
        /* the entry at j may fill the hole at i when its home is not in (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            t->slot[i] = t->slot[j];
            t->slot[j].e1 = 0;
            i = j;
        }
    }
}

static cl_entry_t *
cl_entry_alloc(cl_tier_t *t, uint32_t *index)
{
    if (t->free1 != 0) {
        *index = t->free1 - 1;
        cl_entry_t *e = cl_entry(t, *index);
        t->free1 = e->id;
        return e;
    }
    if ((t->fresh >> CL_CHUNK_BITS) == t->nchunks) {
        cl_entry_t **nc = realloc(t->chunk, (t->nchunks + 1) * sizeof(*nc));
        if (nc == NULL)
            return NULL;
        t->chunk = nc;
        if ((nc[t->nchunks] = malloc(CL_CHUNK * sizeof(cl_entry_t))) == NULL)
            return NULL;
        t->nchunks++;
    }
    *index = t->fresh++;
    return cl_entry(t, *index);
}

static void
cl_entry_free(cl_tier_t *t, cl_entry_t *e)
{
    e->id = t->free1;
    t->free1 = e->self + 1;
}

/* Evicts e from its node: the table forgets it and it returns to the free list. */
static void
cl_drop(cl_tier_t *t, cl_entry_t *e)
{
    cl_table_delete(t, (uint64_t)e->node << 32 | e->id);
    t->node[e->node].used -= e->pn.size;
    t->node[e->node].objects--;
    cl_entry_free(t, e);
}

/* One request at the tier: 1 hit, 0 miss (the object is now cached at its owner when it fits),
 * -1 out of memory. */
static int
cl_request(cl_tier_t *t, uint32_t id, uint64_t hash, uint32_t size)
{
    uint32_t k = t->owner[id];
    cl_node_t *nd = &t->node[k];
    nd->requests++;
    nd->bytes += size;
    uint64_t key = (uint64_t)k << 32 | id;
    uint64_t j = cl_table_find(t, key);
    if (t->slot[j].e1 != 0) {
        nd->hits++;
        nd->hit_bytes += size;
        be_policy_hit(nd->pol, &cl_entry(t, t->slot[j].e1 - 1)->pn);
        return 1;
    }
    if (size > nd->cap)
        return 0;
    while (nd->used + size > nd->cap)
        cl_drop(t, (cl_entry_t *)(void *)be_policy_victim(nd->pol));
    if ((t->nused + 1) * 2 > t->nslots) {
        if (cl_table_grow(t) != 0)
            return -1;
    }
    uint32_t index;
    cl_entry_t *e = cl_entry_alloc(t, &index);
    if (e == NULL)
        return -1;
    memset(e, 0, sizeof(*e));
    e->self = index;
    e->id = id;
    e->node = k;
    e->pn.hash = hash;
    e->pn.size = size;
    be_policy_insert(nd->pol, &e->pn);
    if (be_policy_grow_wanted(nd->pol) > 0)
        (void)be_policy_grow(nd->pol); /* as the memory tier and be_policysim_run() do */
    nd->used += size;
    nd->objects++;
    j = cl_table_find(t, key);
    t->slot[j].key = key;
    t->slot[j].e1 = index + 1;
    t->nused++;
    return 0;
}

/* Every key id's owner under the current ring. */
static void
cl_owners(cl_tier_t *t, const uint32_t *ring_hash, uint64_t nkeys)
{
    for (uint64_t i = 0; i < nkeys; i++)
        t->owner[i] = (uint32_t)chring_lookup(&t->ring, ring_hash[i]);
}

/* Node k (HAProxy id k + 1) comes up empty: a fresh policy, its points on the ring. */
static int
cl_node_up(cl_tier_t *t, uint32_t k)
{
    cl_node_t *nd = &t->node[k];
    if (nd->up)
        return 0;
    if ((nd->pol = be_policy_new(t->kind, nd->cap ? nd->cap : 1)) == NULL ||
        chring_add(&t->ring, k, k + 1, 1) != 0)
        return -1;
    nd->up = 1;
    return 0;
}

/* Node k goes down: its points leave the ring, its cache and policy state are lost. */
static void
cl_node_down(cl_tier_t *t, uint32_t k)
{
    cl_node_t *nd = &t->node[k];
    if (!nd->up)
        return;
    be_policy_node_t *v;
    while ((v = be_policy_victim(nd->pol)) != NULL)
        cl_drop(t, (cl_entry_t *)(void *)v);
    be_policy_free(&nd->pol);
    chring_remove(&t->ring, k);
    nd->up = 0;
}

/* A tier of `slots` node slots, the first `up` of them up, each of cap bytes. */
static int
cl_tier_init(cl_tier_t *t, uint32_t slots, uint32_t up, uint64_t cap, int kind, uint64_t nkeys)
{
    memset(t, 0, sizeof(*t));
    t->n = slots;
    t->kind = kind;
    t->node = calloc(slots ? slots : 1, sizeof(*t->node));
    t->owner = calloc(nkeys ? nkeys : 1, sizeof(*t->owner));
    if (t->node == NULL || t->owner == NULL || cl_table_grow(t) != 0)
        return -1;
    for (uint32_t k = 0; k < slots; k++) {
        t->node[k].cap = cap;
        if (k < up && cl_node_up(t, k) != 0)
            return -1;
    }
    return 0;
}

static void
cl_tier_free(cl_tier_t *t)
{
    for (uint32_t k = 0; k < t->n; k++)
        be_policy_free(&t->node[k].pol);
    for (uint32_t c = 0; c < t->nchunks; c++)
        free(t->chunk[c]);
    free(t->chunk);
    free(t->slot);
    free(t->owner);
    free(t->node);
    chring_free(&t->ring);
    memset(t, 0, sizeof(*t));
}

/* A node failing (join 0) or joining (join 1) before request `at`. */
typedef struct cl_event_s {
    uint64_t at;
    int tier;      /* 0 edges, 1 shields */
    uint32_t node; /* HAProxy id - 1 */
    int join;
    uint64_t moved; /* set by the replay: key ids whose owner in that tier changed */
} cl_event_t;

typedef struct cl_result_s {
    uint64_t requests, bytes, origin, origin_bytes;
    double seconds; /* the replay alone */
} cl_result_t;

static int
cl_apply(cl_tier_t *t, cl_event_t *ev, const uint32_t *ring_hash, uint64_t nkeys)
{
    if (ev->join) {
        if (cl_node_up(t, ev->node) != 0)
            return -1;
    } else {
        cl_node_down(t, ev->node);
    }
    uint64_t moved = 0;
    for (uint64_t i = 0; i < nkeys; i++) {
        uint32_t o = (uint32_t)chring_lookup(&t->ring, ring_hash[i]);
        moved += o != t->owner[i];
        t->owner[i] = o;
    }
    ev->moved = moved;
    return 0;
}

/* Replays tr through the tiers (t[1] unused when it has no nodes), applying the events (sorted
 * by `at`) on the way. ring_hash: per key id, its path's ring position; clock (may be NULL)
 * times the replay, the events' owner updates excluded. 0, or -1 out of memory. */
static int
cl_run(const be_trace_t *tr, const uint32_t *ring_hash, cl_tier_t t[2], cl_event_t *ev, int nev,
       cl_result_t *out, double (*clock)(void))
{
    memset(out, 0, sizeof(*out));
    for (int k = 0; k < 2; k++)
        if (t[k].n > 0)
            cl_owners(&t[k], ring_hash, tr->nkeys);
    int e = 0, shields = t[1].n > 0;
    double t0 = clock ? clock() : 0, paused = 0;
    for (uint64_t i = 0; i < tr->n; i++) {
        while (e < nev && ev[e].at <= i) {
            double p0 = clock ? clock() : 0;
            if (cl_apply(&t[ev[e].tier], &ev[e], ring_hash, tr->nkeys) != 0)
                return -1;
            paused += (clock ? clock() : 0) - p0;
            e++;
        }
        uint32_t id = tr->id[i], size = tr->size[i];
        uint64_t h = tr->hash[id];
        out->bytes += size;
        int r = cl_request(&t[0], id, h, size);
        if (r == 0 && shields)
            r = cl_request(&t[1], id, h, size);
        if (r < 0)
            return -1;
        if (r == 0) {
            out->origin++;
            out->origin_bytes += size;
        }
    }
    out->seconds = (clock ? clock() : 0) - t0 - paused;
    out->requests = tr->n;
    return 0;
}

#endif
