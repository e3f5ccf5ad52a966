/*
 * policy_wtinylfu.c - W-TinyLFU: a window LRU in front of a segmented LRU main area, with a
 * count-min sketch deciding who gets into the main area.
 *
 * Sources: Einziger, Friedman, Manes, "TinyLFU: A Highly Efficient Cache Admission Policy",
 * ACM Transactions on Storage 13(4), 2017; the design notes of the Caffeine Java cache.
 *
 * Every access (a hit, or the insert that follows a miss) adds one to the key's counters in a
 * count-min sketch: 4 rows of saturating 4-bit counters (stored a byte each), the estimate is
 * the smallest of the key's 4 counters. Aging: after 10 increments per sketch column, every
 * counter is halved, so the sketch reflects recent popularity and old heavy hitters fade.
 *
 * A new object enters the window, an LRU holding 1% of the bytes, which lets bursts of
 * recency through. The window's overflow is a candidate for the main area, a segmented LRU:
 * probation (20%) and protected (80%); a hit in probation promotes to protected, whose
 * overflow is demoted to probation's head. While the main area has room a candidate simply
 * enters probation; when it is full the candidate duels probation's tail: the one the sketch
 * has seen more often stays, the other is the victim (ties evict the candidate, so a scan of
 * once-seen keys never displaces a block seen twice).
 *
 * A hit moves a node between lists and updates the sketch, so it needs the owner's exclusive
 * lock, like LRU. The sketch has as many columns as the cache holds objects (a power of two,
 * at least 64); it doubles, when the owner grants the bytes, by copying each column into the
 * two it splits into, so estimates survive the growth.
 */
#include <string.h>

#include "policy_int.h"

#define WINDOW      0
#define PROBATION   1
#define PROTECTED   2
#define ROWS        4
#define COUNTER_MAX 15
#define MIN_BITS    6
#define AGE_FACTOR  10 /* increments per column between halvings */

typedef struct wtinylfu_s {
    uint8_t *rows[ROWS];
    unsigned bits;      /* log2 of the columns */
    uint64_t additions; /* increments since the last halving */
} wtinylfu_t;

static const uint64_t row_seed[ROWS] = {
    0x9e3779b97f4a7c15ULL,
    0xc2b2ae3d27d4eb4fULL,
    0x165667b19e3779f9ULL,
    0xd6e8feb86659fd93ULL,
};

static int
alloc_rows(wtinylfu_t *t, unsigned bits)
{
    uint8_t *r = calloc((size_t)ROWS << bits, 1);
    if (r == NULL)
        return BE_ERROR;
    free(t->rows[0]);
    for (int i = 0; i < ROWS; i++)
        t->rows[i] = r + ((size_t)i << bits);
    t->bits = bits;
    return BE_OK;
}

static int
wt_init(be_policy_t *p)
{
    wtinylfu_t *t = calloc(1, sizeof(*t));
    if (t == NULL || alloc_rows(t, MIN_BITS) != BE_OK) {
        free(t);
        return BE_ERROR;
    }
    p->priv = t;
    return BE_OK;
}

static void
wt_dispose(be_policy_t *p)
{
    wtinylfu_t *t = p->priv;
    free(t->rows[0]);
    free(t);
    p->priv = NULL;
}

static size_t
column(const wtinylfu_t *t, uint64_t m, int row)
{
    return (size_t)((m ^ (m >> 29)) * row_seed[row] >> (64 - t->bits));
}

static unsigned
estimate(const wtinylfu_t *t, uint64_t hash)
{
    uint64_t m = policy_mix(hash);
    unsigned f = COUNTER_MAX;
    for (int i = 0; i < ROWS; i++) {
        unsigned c = t->rows[i][column(t, m, i)];
        if (c < f)
            f = c;
    }
    return f;
}

static void
age(wtinylfu_t *t)
{
    size_t n = (size_t)ROWS << t->bits;
    uint8_t *r = t->rows[0];
    for (size_t i = 0; i < n; i++)
        r[i] >>= 1;
    t->additions /= 2;
}

static void
record(wtinylfu_t *t, uint64_t hash)
{
    uint64_t m = policy_mix(hash);
    for (int i = 0; i < ROWS; i++) {
        uint8_t *c = &t->rows[i][column(t, m, i)];
        if (*c < COUNTER_MAX)
            (*c)++;
    }
    if (++t->additions >= ((uint64_t)AGE_FACTOR << t->bits))
        age(t);
}

static void
wt_insert(be_policy_t *p, be_policy_node_t *n)
{
    record(p->priv, n->hash);
    plist_push_head(&p->q[WINDOW], n, WINDOW);
}

static void
wt_hit(be_policy_t *p, be_policy_node_t *n)
{
    record(p->priv, n->hash);
    if (n->queue != PROBATION) {
        if (p->q[n->queue].head.next != n)
            plist_move_head(p, n, n->queue);
        return;
    }
    plist_move_head(p, n, PROTECTED);
    uint64_t wcap = p->capacity / 100;
    uint64_t pcap = (p->capacity - wcap) / 10 * 8;
    plist_t *prot = &p->q[PROTECTED];
    while (prot->bytes > pcap && prot->count > 1)
        plist_move_head(p, plist_tail(prot), PROBATION);
}

static be_policy_node_t *
main_tail(be_policy_t *p)
{
    be_policy_node_t *v = plist_tail(&p->q[PROBATION]);
    return v != NULL ? v : plist_tail(&p->q[PROTECTED]);
}

static be_policy_node_t *
wt_victim(be_policy_t *p)
{
    plist_t *win = &p->q[WINDOW];
    uint64_t wcap = p->capacity / 100, mcap = p->capacity - wcap;
    while (win->count > 0 && win->bytes > wcap) {
        be_policy_node_t *c = plist_tail(win);
        if (p->q[PROBATION].bytes + p->q[PROTECTED].bytes + c->size <= mcap) {
            plist_move_head(p, c, PROBATION);
            mark_promoted(c);
            continue;
        }
        be_policy_node_t *v = main_tail(p);
        if (v != NULL && estimate(p->priv, c->hash) > estimate(p->priv, v->hash)) {
            plist_unlink(&p->q[v->queue], v);
            plist_move_head(p, c, PROBATION);
            mark_promoted(c);
            return v;
        }
        plist_unlink(win, c);
        return c;
    }
    be_policy_node_t *v = main_tail(p);
    if (v == NULL)
        v = plist_tail(win);
    if (v != NULL)
        plist_unlink(&p->q[v->queue], v);
    return v;
}

static uint64_t
wt_meta_bytes(const be_policy_t *p)
{
    const wtinylfu_t *t = p->priv;
    return sizeof(*t) + ((uint64_t)ROWS << t->bits);
}

static uint64_t
wt_grow_wanted(const be_policy_t *p)
{
    const wtinylfu_t *t = p->priv;
    uint64_t held = p->q[WINDOW].count + p->q[PROBATION].count + p->q[PROTECTED].count;
    return held > ((uint64_t)1 << t->bits) ? (uint64_t)ROWS << t->bits : 0;
}

/* Doubles the columns: column j of the new rows starts as column j / 2 of the old ones (the
 * column is the top bits of a hash, and one more bit splits each column in two). */
static int
wt_grow(be_policy_t *p)
{
    wtinylfu_t *t = p->priv;
    size_t old = (size_t)1 << t->bits;
    uint8_t *r = calloc(ROWS * old * 2, 1);
    if (r == NULL)
        return BE_ERROR;
    for (int i = 0; i < ROWS; i++)
        for (size_t j = 0; j < old * 2; j++)
            r[(size_t)i * old * 2 + j] = t->rows[i][j >> 1];
    free(t->rows[0]);
    for (int i = 0; i < ROWS; i++)
        t->rows[i] = r + (size_t)i * old * 2;
    t->bits++;
    return BE_OK;
}

unsigned
be_policy_frequency(const be_policy_t *p, uint64_t hash)
{
    return p->ops == &be_policy_wtinylfu_ops ? estimate(p->priv, hash) : 0;
}

const policy_ops_t be_policy_wtinylfu_ops = {
    .name = "wtinylfu",
    .hit_needs_lock = 1,
    .has_probation = 1,
    .init = wt_init,
    .dispose = wt_dispose,
    .insert = wt_insert,
    .hit = wt_hit,
    .victim = wt_victim,
    .meta_bytes = wt_meta_bytes,
    .grow_wanted = wt_grow_wanted,
    .grow = wt_grow,
};
