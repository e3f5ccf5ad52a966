/*
 * test_oatable.c - the typed open-addressing table: lookups and backward-shift deletion
 * across the end of the array, growth, a long random run against a plain reference array,
 * a table that would fill up, a zero-capacity table, entries that live outside the table,
 * and a walk that erases as it goes.
 *
 * Test entries carry their hash next to their key, so a test can choose every home slot.
 */
#include <stdlib.h>
#include <string.h>

#include "blockedge/oatable.h"
#include "test.h"

typedef struct tent_s {
    uint64_t key;
    uint64_t hash;
    uint32_t val;
    uint32_t held;
} tent_t;

static int
tent_held(const tent_t *e)
{
    return e->held != 0;
}

static uint64_t
tent_hash(void *ctx, const tent_t *e)
{
    BE_UNUSED(ctx);
    return e->hash;
}

static int
tent_match(void *ctx, const tent_t *e, const uint64_t *key)
{
    BE_UNUSED(ctx);
    return e->key == *key;
}

BE_OATABLE_DEFINE(ttab, tent_t, uint64_t, void, tent_held, tent_hash, tent_match)

static uint64_t
splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Inserts key with hash h and val; returns the slot index it went to, or -1. */
static int
put(ttab_t *t, uint64_t key, uint64_t h, uint32_t val)
{
    tent_t *e = ttab_insert(t, h);
    if (e == NULL)
        return -1;
    e->key = key;
    e->hash = h;
    e->val = val;
    e->held = 1;
    return (int)(e - t->slots);
}

static int
slot_of(const ttab_t *t, uint64_t key, uint64_t h)
{
    tent_t *e = ttab_find(t, NULL, h, &key);
    return e == NULL ? -1 : (int)(e - t->slots);
}

/* Every held entry is reachable from its home without crossing an empty slot, and the
 * count of held slots is t->used. Returns 1 when both hold. */
static int
sound(const ttab_t *t)
{
    uint32_t held = 0, mask = t->cap - 1;
    for (uint32_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].held)
            continue;
        held++;
        for (uint32_t j = (uint32_t)t->slots[i].hash & mask; j != i; j = (j + 1) & mask)
            if (!t->slots[j].held)
                return 0;
    }
    return held == t->used;
}

static void
test_erase_shifts_back_across_the_wrap(void)
{
    ttab_t t;
    BE_CHECK_INT(ttab_init(&t, 8), BE_OK);
    /* homes 6, 6, 6, 7, 0 land in 6, 7, 0, 1, 2: the run wraps past the end */
    BE_CHECK_INT(put(&t, 100, 6, 1), 6);
    BE_CHECK_INT(put(&t, 101, 6, 2), 7);
    BE_CHECK_INT(put(&t, 102, 6, 3), 0);
    BE_CHECK_INT(put(&t, 103, 7, 4), 1);
    BE_CHECK_INT(put(&t, 104, 0, 5), 2);
    BE_CHECK_INT(put(&t, 105, 4, 6), 4); /* a run of its own, never moved */
    BE_CHECK_INT(t.used, 6);
    BE_CHECK(sound(&t));

    ttab_erase(&t, NULL, &t.slots[6]);
    /* each later entry moves back one: 101 -> 6, 102 -> 7, 103 -> 0, 104 -> 1 */
    BE_CHECK_INT(slot_of(&t, 100, 6), -1);
    BE_CHECK_INT(slot_of(&t, 101, 6), 6);
    BE_CHECK_INT(slot_of(&t, 102, 6), 7);
    BE_CHECK_INT(slot_of(&t, 103, 7), 0);
    BE_CHECK_INT(slot_of(&t, 104, 0), 1);
    BE_CHECK_INT(slot_of(&t, 105, 4), 4);
    BE_CHECK(!t.slots[2].held);
    BE_CHECK_INT(t.slots[2].key, 0); /* the last hole is zeroed */
    BE_CHECK_INT(t.used, 5);
    BE_CHECK(sound(&t));

    /* erasing at its home: 104 (home 0) sits in 1 and moves back to 0 */
    ttab_erase(&t, NULL, &t.slots[0]);
    BE_CHECK_INT(slot_of(&t, 103, 7), -1);
    BE_CHECK_INT(slot_of(&t, 104, 0), 0);
    BE_CHECK(sound(&t));

    /* an entry already at its home does not move into an earlier hole */
    BE_CHECK_INT(put(&t, 106, 1, 7), 1);
    ttab_erase(&t, NULL, &t.slots[0]);
    BE_CHECK_INT(slot_of(&t, 106, 1), 1);
    BE_CHECK(!t.slots[0].held);
    BE_CHECK(sound(&t));
    BE_CHECK_INT(t.slots[slot_of(&t, 102, 6)].val, 3);
    ttab_dispose(&t);
    BE_CHECK(t.slots == NULL && t.cap == 0 && t.used == 0);
}

static void
test_grow_keeps_every_entry(void)
{
    ttab_t t;
    uint64_t st = 7;
    BE_CHECK_INT(ttab_init(&t, 16), BE_OK);
    for (uint32_t i = 0; i < 1000; i++) {
        if ((t.used + 1) * 4 > t.cap * 3)
            BE_CHECK_INT(ttab_grow(&t, NULL, t.cap * 2), BE_OK);
        uint64_t k = splitmix(&st);
        BE_CHECK(put(&t, k, k, i) >= 0);
    }
    BE_CHECK_INT(t.cap, 2048);
    BE_CHECK_INT(t.used, 1000);
    BE_CHECK_INT(ttab_bytes(&t), 2048 * sizeof(tent_t));
    BE_CHECK(sound(&t));
    st = 7;
    for (uint32_t i = 0; i < 1000; i++) {
        uint64_t k = splitmix(&st);
        tent_t *e = ttab_find(&t, NULL, k, &k);
        BE_CHECK(e != NULL);
        BE_CHECK_INT(e->val, i);
    }
    /* a capacity that is not a power of two, or not above the entries, is refused */
    BE_CHECK_INT(ttab_grow(&t, NULL, 3000), BE_ERROR);
    BE_CHECK_INT(ttab_grow(&t, NULL, 512), BE_ERROR);
    BE_CHECK_INT(t.cap, 2048);
    /* growing from nothing */
    ttab_t z = {0};
    BE_CHECK_INT(ttab_grow(&z, NULL, 64), BE_OK);
    BE_CHECK_INT(put(&z, 5, 5, 1), 5);
    ttab_dispose(&z);
    ttab_dispose(&t);
}

/* The reference: a plain array of (key, val) pairs searched linearly. */
typedef struct model_s {
    uint64_t key[512];
    uint32_t val[512];
    int n;
} model_t;

static int
model_find(const model_t *m, uint64_t key)
{
    for (int i = 0; i < m->n; i++)
        if (m->key[i] == key)
            return i;
    return -1;
}

static uint64_t
hash37(uint64_t key)
{
    return (key % 37 + 1) * 0x9e3779b97f4a7c15ull;
}

static void
test_random_ops_match_a_reference_model(void)
{
    static model_t m;
    ttab_t t;
    uint64_t st = 42;
    BE_CHECK_INT(ttab_init(&t, 4), BE_OK);
    m.n = 0;
    for (int op = 0; op < 400000; op++) {
        /* 600 keys sharing 37 hashes: long runs, many collisions, runs that wrap */
        uint64_t r = splitmix(&st);
        uint64_t key = r % 600, h = hash37(key);
        int mi = model_find(&m, key);
        tent_t *e = ttab_find(&t, NULL, h, &key);
        BE_CHECK((e != NULL) == (mi >= 0));
        if (e != NULL)
            BE_CHECK_INT(e->val, m.val[mi]);
        switch ((r >> 32) % 3) {
        case 0: /* insert or update */
            if (e != NULL) {
                e->val = m.val[mi] = (uint32_t)op;
            } else if (m.n < 512) {
                if (t.used + 1 >= t.cap)
                    BE_CHECK_INT(ttab_grow(&t, NULL, t.cap * 2), BE_OK);
                BE_CHECK(put(&t, key, h, (uint32_t)op) >= 0);
                m.key[m.n] = key;
                m.val[m.n++] = (uint32_t)op;
            }
            break;
        case 1: /* erase */
            if (e != NULL) {
                ttab_erase(&t, NULL, e);
                m.key[mi] = m.key[--m.n];
                m.val[mi] = m.val[m.n];
            }
            break;
        default: /* look up only */
            break;
        }
        BE_CHECK_INT(t.used, m.n);
        if (op % 1000 == 0)
            BE_CHECK(sound(&t));
    }
    BE_CHECK(sound(&t));
    for (int i = 0; i < m.n; i++) {
        tent_t *e = ttab_find(&t, NULL, hash37(m.key[i]), &m.key[i]);
        BE_CHECK(e != NULL);
        BE_CHECK_INT(e->val, m.val[i]);
    }
    ttab_dispose(&t);
}

static void
test_full_table_keeps_one_slot_empty(void)
{
    ttab_t t;
    BE_CHECK_INT(ttab_init(&t, 8), BE_OK);
    for (uint64_t k = 0; k < 7; k++)
        BE_CHECK(put(&t, k, 3, (uint32_t)k) >= 0); /* one home: a run of 7 */
    BE_CHECK_INT(t.used, 7);
    BE_CHECK_INT(put(&t, 7, 3, 7), -1); /* the eighth would leave no empty slot */
    BE_CHECK_INT(t.used, 7);
    /* lookups of absent keys still end, from every home */
    for (uint64_t h = 0; h < 8; h++) {
        uint64_t absent = 99;
        BE_CHECK(ttab_find(&t, NULL, h, &absent) == NULL);
    }
    for (uint64_t k = 0; k < 7; k++)
        BE_CHECK(slot_of(&t, k, 3) >= 0);
    /* after an erase there is room again */
    ttab_erase(&t, NULL, ttab_find(&t, NULL, 3, &(uint64_t){0}));
    BE_CHECK(put(&t, 7, 3, 7) >= 0);
    BE_CHECK(sound(&t));
    ttab_clear(&t);
    BE_CHECK_INT(t.used, 0);
    BE_CHECK_INT(t.cap, 8);
    BE_CHECK_INT(slot_of(&t, 7, 3), -1);
    ttab_dispose(&t);
}

static void
test_zero_capacity_table_is_empty(void)
{
    ttab_t t = {0};
    uint64_t k = 1;
    BE_CHECK(ttab_find(&t, NULL, 1, &k) == NULL);
    BE_CHECK(ttab_insert(&t, 1) == NULL);
    BE_CHECK_INT(ttab_bytes(&t), 0);
    BE_CHECK_INT(ttab_init(&t, 0), BE_OK);
    BE_CHECK(t.slots == NULL);
    BE_CHECK_INT(ttab_init(&t, 12), BE_ERROR); /* not a power of two */
    ttab_clear(&t);
    ttab_dispose(&t);
}

/* Entries that are indexes (plus one) into an array the context points at, as Space-Saving
 * keeps its counters apart from its key index. */
typedef struct side_s {
    uint64_t key[64];
} side_t;

typedef struct ix_s {
    uint32_t ix1; /* index + 1; 0: empty */
} ix_t;

static int
ix_held(const ix_t *e)
{
    return e->ix1 != 0;
}

static uint64_t
ix_hash(side_t *side, const ix_t *e)
{
    return side->key[e->ix1 - 1] * 0x9e3779b97f4a7c15ull;
}

static int
ix_match(side_t *side, const ix_t *e, const uint64_t *key)
{
    return side->key[e->ix1 - 1] == *key;
}

BE_OATABLE_DEFINE(itab, ix_t, uint64_t, side_t, ix_held, ix_hash, ix_match)

static void
test_entries_may_live_outside_the_table(void)
{
    side_t side;
    itab_t t;
    BE_CHECK_INT(itab_init(&t, 16), BE_OK);
    for (uint32_t i = 0; i < 40; i++) {
        side.key[i] = 1000 + i;
        if (t.used + 1 >= t.cap)
            BE_CHECK_INT(itab_grow(&t, &side, t.cap * 2), BE_OK);
        ix_t *e = itab_insert(&t, side.key[i] * 0x9e3779b97f4a7c15ull);
        BE_CHECK(e != NULL);
        e->ix1 = i + 1;
    }
    for (uint32_t i = 0; i < 40; i += 2) {
        uint64_t k = 1000 + i;
        ix_t *e = itab_find(&t, &side, k * 0x9e3779b97f4a7c15ull, &k);
        BE_CHECK(e != NULL && e->ix1 == i + 1);
        itab_erase(&t, &side, e);
    }
    for (uint32_t i = 0; i < 40; i++) {
        uint64_t k = 1000 + i;
        ix_t *e = itab_find(&t, &side, k * 0x9e3779b97f4a7c15ull, &k);
        BE_CHECK((e != NULL) == (i % 2 == 1));
    }
    BE_CHECK_INT(t.used, 20);
    itab_dispose(&t);
}

static void
test_walk_that_erases_as_it_goes_misses_nothing(void)
{
    ttab_t t;
    uint64_t st = 3;
    BE_CHECK_INT(ttab_init(&t, 64), BE_OK);
    for (uint32_t i = 0; i < 48; i++) {
        uint64_t k = splitmix(&st);
        BE_CHECK(put(&t, k, 56 + (k >> 61), i % 3) >= 0); /* homes 56..63: the run wraps */
    }
    /* erase every entry with val 0, looking at a slot again after each erase */
    uint32_t erased = 0;
    for (uint32_t i = 0; i < t.cap;) {
        if (t.slots[i].held && t.slots[i].val == 0) {
            ttab_erase(&t, NULL, &t.slots[i]);
            erased++;
        } else {
            i++;
        }
    }
    BE_CHECK_INT(erased, 16);
    BE_CHECK_INT(t.used, 32);
    for (uint32_t i = 0; i < t.cap; i++)
        BE_CHECK(!t.slots[i].held || t.slots[i].val != 0);
    BE_CHECK(sound(&t));
    ttab_dispose(&t);
}

int
main(void)
{
    BE_RUN(test_erase_shifts_back_across_the_wrap);
    BE_RUN(test_grow_keeps_every_entry);
    BE_RUN(test_random_ops_match_a_reference_model);
    BE_RUN(test_full_table_keeps_one_slot_empty);
    BE_RUN(test_zero_capacity_table_is_empty);
    BE_RUN(test_entries_may_live_outside_the_table);
    BE_RUN(test_walk_that_erases_as_it_goes_misses_nothing);
    BE_TEST_EXIT();
}
