/*
 * policysim.c - trace loading and replay for the policy simulator.
 *
 * Loading maps each key to a dense id through an open-addressing table (linear probing over
 * slots holding the key and its id), kept until be_trace_free since loading may continue
 * after a replay. A replay keeps one policy node per id in a flat array and one resident flag
 * per id beside it, so a request costs an array index, a flag and the policy's own work.
 * After each insert the policy's own tables (S3-FIFO's ghost, W-TinyLFU's sketch) grow as the
 * memory tier and the miniature simulations let them, so a replay is what the server does.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blockedge/policysim.h"

typedef struct key_slot_s {
    uint64_t key;
    uint64_t id1; /* id + 1; 0 = empty */
} key_slot_t;

be_trace_t *
be_trace_new(void)
{
    return calloc(1, sizeof(be_trace_t));
}

void
be_trace_free(be_trace_t **tp)
{
    be_trace_t *t = *tp;
    if (t == NULL)
        return;
    *tp = NULL;
    free(t->id);
    free(t->size);
    free(t->hash);
    free(t->slots);
    free(t);
}

uint64_t
be_trace_key_hash(uint64_t h)
{
    h ^= h >> 31;
    h *= 0x7fb5d329728ea185ULL;
    h ^= h >> 27;
    h *= 0x81dadef4bc2dd44dULL;
    h ^= h >> 33;
    return h;
}

static int
map_grow(be_trace_t *t)
{
    uint64_t n = t->nslots ? t->nslots * 2 : 1024;
    key_slot_t *ns = calloc(n, sizeof(key_slot_t));
    if (ns == NULL)
        return BE_ERROR;
    key_slot_t *old = (key_slot_t *)t->slots;
    for (uint64_t i = 0; i < t->nslots; i++) {
        if (old[i].id1 == 0)
            continue;
        uint64_t j = be_trace_key_hash(old[i].key) & (n - 1);
        while (ns[j].id1 != 0)
            j = (j + 1) & (n - 1);
        ns[j] = old[i];
    }
    free(old);
    t->slots = ns;
    t->nslots = n;
    return BE_OK;
}

static int
grow_array(void **a, uint64_t *cap, uint64_t need, size_t elem)
{
    if (need <= *cap)
        return BE_OK;
    uint64_t n = *cap ? *cap * 2 : 4096;
    while (n < need)
        n *= 2;
    void *na = realloc(*a, n * elem);
    if (na == NULL)
        return BE_ERROR;
    *a = na;
    *cap = n;
    return BE_OK;
}

int
be_trace_add(be_trace_t *t, uint64_t key, uint32_t size)
{
    if ((t->nkeys + 1) * 2 > t->nslots && map_grow(t) != BE_OK)
        return BE_ERROR;
    key_slot_t *slots = (key_slot_t *)t->slots;
    uint64_t j = be_trace_key_hash(key) & (t->nslots - 1);
    while (slots[j].id1 != 0 && slots[j].key != key)
        j = (j + 1) & (t->nslots - 1);
    if (slots[j].id1 == 0) {
        if (t->nkeys >= UINT32_MAX)
            return BE_ERROR;
        uint64_t kc = t->keycap;
        if (grow_array((void **)&t->hash, &kc, t->nkeys + 1, sizeof(uint64_t)) != BE_OK)
            return BE_ERROR;
        t->keycap = kc;
        t->hash[t->nkeys] = be_trace_key_hash(key);
        slots[j].key = key;
        slots[j].id1 = ++t->nkeys;
        t->bytes += size;
    }
    uint64_t c = t->cap, c2 = t->cap;
    if (grow_array((void **)&t->id, &c, t->n + 1, sizeof(uint32_t)) != BE_OK ||
        grow_array((void **)&t->size, &c2, t->n + 1, sizeof(uint32_t)) != BE_OK)
        return BE_ERROR;
    t->cap = c;
    t->id[t->n] = (uint32_t)(slots[j].id1 - 1);
    t->size[t->n] = size;
    t->n++;
    return BE_OK;
}

static double
now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
be_policysim_run(const be_trace_t *t, int kind, uint64_t capacity, be_sim_result_t *out)
{
    memset(out, 0, sizeof(*out));
    be_policy_t *p = be_policy_new(kind, capacity);
    be_policy_node_t *nodes = calloc(t->nkeys ? t->nkeys : 1, sizeof(be_policy_node_t));
    uint8_t *in = calloc(t->nkeys ? t->nkeys : 1, 1);
    if (p == NULL || nodes == NULL || in == NULL) {
        be_policy_free(&p);
        free(nodes);
        free(in);
        return BE_ERROR;
    }
    memset(nodes, 0, t->nkeys * sizeof(*nodes)); /* fault the pages in before the clock runs */
    memset(in, 0, t->nkeys);
    uint64_t used = 0, hits = 0, hit_bytes = 0, bytes = 0, evictions = 0;
    double t0 = now_seconds();
    for (uint64_t i = 0; i < t->n; i++) {
        uint32_t id = t->id[i], size = t->size[i];
        if (i + 8 < t->n) { /* the replay is bound by cache misses on the nodes: start early */
            __builtin_prefetch(&nodes[t->id[i + 8]]);
            __builtin_prefetch(&in[t->id[i + 8]]);
        }
        be_policy_node_t *n = &nodes[id];
        bytes += size;
        if (in[id]) {
            hits++;
            hit_bytes += size;
            be_policy_hit(p, n);
            continue;
        }
        if (size > capacity)
            continue;
        while (used + size > capacity) {
            be_policy_node_t *v = be_policy_victim(p);
            in[v - nodes] = 0;
            used -= v->size;
            evictions++;
        }
        n->hash = t->hash[id];
        n->size = size;
        be_policy_insert(p, n);
        in[id] = 1;
        used += size;
        if (be_policy_grow_wanted(p) > 0)
            (void)be_policy_grow(p); /* as the memory tier does; a failure keeps the old tables */
    }
    out->seconds = now_seconds() - t0;
    out->requests = t->n;
    out->hits = hits;
    out->bytes = bytes;
    out->hit_bytes = hit_bytes;
    out->evictions = evictions;
    be_policy_free(&p);
    free(nodes);
    free(in);
    return BE_OK;
}
