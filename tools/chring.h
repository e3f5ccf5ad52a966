/*
 * chring.h - HAProxy 2.6's consistent-hash ring, as `balance uri path-only` with
 * `hash-type consistent` places requests on a backend's servers: what tools/cachesim --cluster
 * uses to send each block to its owner, and what tests/unit/test_chring.c checks.
 *
 * The model, written from HAProxy 2.6 (src/lb_chash.c, src/backend.c, src/hash.c,
 * include/haproxy/intops.h, src/cfgparse-listen.c; Debian 12 ships 2.6.12):
 *   - Server points. A server of user weight W (default 1) gets W x 16 points (BE_WEIGHT_SCALE;
 *     the backend's weight multiplier is 1 under consistent hashing, so the effective weight is
 *     W x 16 as well). Point j of the server with `id` P (its puid) sits at
 *     full_hash(P x 4096 + j) (4096 = SRV_EWGHT_RANGE, 256 user weights x 16), j = 0 .. 16W - 1.
 *     Explicit `id 1..N` make the ring independent of server names and config order.
 *   - full_hash is Bob Jenkins' 32-bit integer avalanche, then a multiplication by 3221225473.
 *   - Request hash. The path alone (path-only: no scheme, authority or query; hashing stops at
 *     '?') through sdbm (hash = c + (hash << 6) + (hash << 16) - hash per byte). `hash-type
 *     consistent` with no function named means sdbm *and* the avalanche modifier (HAProxy's
 *     config parser sets both), so the request's ring position is full_hash(sdbm(path)).
 *     `hash-type consistent sdbm` (a function named, no `avalanche`) would skip full_hash;
 *     chring_path_hash() takes the choice.
 *   - Lookup. The first point at or after the hash (wrapping to the first point) and the one
 *     before it (wrapping to the last) are compared: the closer wins, the one before on a tie
 *     (distances are unsigned 32-bit differences, so they wrap too).
 *   - A server that goes down loses all its points; one that comes back gets them again. Its
 *     keys go to whichever surviving point is now closest; no other key moves. Points with
 *     equal positions keep insertion order (HAProxy's tree keeps duplicates in insertion
 *     order, servers inserted in config order at start, a returning server after the others).
 *   - With one usable server HAProxy skips hashing; the ring gives that server anyway.
 * Not modelled: `hash-balance-factor` (bounded load depends on live connection counts, not on
 * the trace) and `avoid` on retries (a redispatched request skips the server that failed).
 */
#ifndef BLOCKEDGE_TOOLS_CHRING_H
#define BLOCKEDGE_TOOLS_CHRING_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define CHRING_WEIGHT_SCALE 16u
#define CHRING_EWGHT_RANGE  (256u * CHRING_WEIGHT_SCALE)

typedef struct chring_point_s {
    uint32_t key;    /* position on the ring */
    uint32_t server; /* the caller's server index */
    uint64_t seq;    /* insertion order, for equal positions */
} chring_point_t;

typedef struct chring_s {
    chring_point_t *pt; /* sorted by (key, seq) */
    size_t n, cap;
    uint64_t seq;
} chring_t;

/* HAProxy's full_hash(): a full-avalanche 32-bit integer hash. */
static inline uint32_t
chring_full_hash(uint32_t a)
{
    a = (a + 0x7ed55d16u) + (a << 12);
    a = (a ^ 0xc761c23cu) ^ (a >> 19);
    a = (a + 0x165667b1u) + (a << 5);
    a = (a + 0xd3a2646cu) ^ (a << 9);
    a = (a + 0xfd7046c5u) + (a << 3);
    a = (a ^ 0xb55a4f09u) ^ (a >> 16);
    return a * 3221225473u;
}

static inline uint32_t
chring_sdbm(const char *s, size_t len)
{
    uint32_t h = 0;
    for (size_t i = 0; i < len; i++)
        h = (uint32_t)(unsigned char)s[i] + (h << 6) + (h << 16) - h;
    return h;
}

/* A request path's ring position (hashing stops at '?'); avalanche: 1 for `hash-type
 * consistent` with no function named (HAProxy's default), 0 for `consistent sdbm`. */
static inline uint32_t
chring_path_hash(const char *path, size_t len, int avalanche)
{
    size_t n = 0;
    while (n < len && path[n] != '?')
        n++;
    uint32_t h = chring_sdbm(path, n);
    return avalanche ? chring_full_hash(h) : h;
}

static int
chring_cmp(const void *a, const void *b)
{
    const chring_point_t *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Adds the points of server index `server` with HAProxy `id` puid and user weight weight.
 * 0, or -1 on allocation failure (the ring is unchanged). */
static inline int
chring_add(chring_t *r, uint32_t server, uint32_t puid, uint32_t weight)
{
    size_t add = (size_t)weight * CHRING_WEIGHT_SCALE;
    if (r->n + add > r->cap) {
        size_t cap = r->cap ? r->cap : 64;
        while (cap < r->n + add)
            cap *= 2;
        chring_point_t *np = realloc(r->pt, cap * sizeof(*np));
        if (np == NULL)
            return -1;
        r->pt = np;
        r->cap = cap;
    }
    for (size_t j = 0; j < add; j++) {
        chring_point_t *p = &r->pt[r->n++];
        p->key = chring_full_hash(puid * CHRING_EWGHT_RANGE + (uint32_t)j);
        p->server = server;
        p->seq = r->seq++;
    }
    qsort(r->pt, r->n, sizeof(*r->pt), chring_cmp);
    return 0;
}

/* Removes every point of server index `server`. */
static inline void
chring_remove(chring_t *r, uint32_t server)
{
    size_t w = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->pt[i].server != server)
            r->pt[w++] = r->pt[i];
    r->n = w;
}

/* The server index owning ring position h; -1 when the ring is empty. */
static inline int64_t
chring_lookup(const chring_t *r, uint32_t h)
{
    if (r->n == 0)
        return -1;
    size_t lo = 0, hi = r->n; /* first point with key >= h */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->pt[mid].key < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t next = lo == r->n ? 0 : lo;
    size_t prev = next == 0 ? r->n - 1 : next - 1;
    uint32_t dp = h - r->pt[prev].key, dn = r->pt[next].key - h;
    return dp <= dn ? r->pt[prev].server : r->pt[next].server;
}

static inline void
chring_free(chring_t *r)
{
    free(r->pt);
    r->pt = NULL;
    r->n = r->cap = 0;
}

#endif
