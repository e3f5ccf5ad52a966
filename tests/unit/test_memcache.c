/*
 * test_memcache.c - the memory tier: references handed out by lookup, the hard byte budget,
 * global LRU eviction across shards, the shard count per budget, declines, duplicates,
 * removal, and blocks that outlive their eviction while a sender still holds them.
 *
 * Budgets are a handful of blocks; time is the `now` argument, moved by hand. Keys are
 * synthetic: the first digest byte picks the shard, so each test knows where a block lives.
 * "base" is the index's own cost (bytes of an empty cache), so budgets read as
 * base + n * footprint without knowing the bucket array sizes.
 *
 * Every test runs under every policy but those proving LRU's exact order (named _lru_), which
 * run under LRU; test_memcache_evicts_the_policys_victim checks the others' order against the
 * bare policy (policy.h) fed the same requests.
 */
#include <string.h>

#include <event2/buffer.h>

#include "blockedge/memcache.h"
#include "test.h"

#define SIZE 100 /* bytes of every test block */

static int policy; /* enum be_memory_policy: main() runs the suite under each */

static be_key_t
key_of(uint8_t shard_byte, uint8_t id)
{
    be_key_t k;
    memset(&k, 0, sizeof(k));
    k.d[0] = shard_byte;
    k.d[1] = id;
    k.d[31] = id;
    return k;
}

/* A block of size bytes, each (id + i) & 0xff, holding one reference (the caller's). */
static be_block_t *
make_block(uint8_t shard_byte, uint8_t id, size_t size)
{
    be_key_t k = key_of(shard_byte, id);
    be_block_t *b = be_block_new(&k, size);
    if (b == NULL) {
        fprintf(stderr, "test_memcache: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < size; i++)
        b->data[i] = (unsigned char)(id + i);
    b->size = size;
    return b;
}

static int
bytes_ok(const be_block_t *b, uint8_t id)
{
    for (size_t i = 0; i < b->size; i++)
        if (b->data[i] != (unsigned char)(id + i))
            return 0;
    return 1;
}

static int
present(be_memcache_t *mc, uint8_t shard_byte, uint8_t id, be_msec_t now)
{
    be_key_t k = key_of(shard_byte, id);
    be_block_t *b = be_memcache_lookup(mc, &k, now);
    int found = b != NULL;
    be_block_unref(&b);
    return found;
}

/* Bytes of an empty cache with nshards shards: the index alone. */
static uint64_t
index_cost(unsigned nshards)
{
    be_memcache_t *mc = be_memcache_new(1 << 20, nshards, policy);
    be_memcache_stats_t st;
    be_memcache_stats(mc, &st);
    be_memcache_free(&mc);
    return st.bytes;
}

static uint64_t
footprint(size_t size)
{
    be_block_t *b = make_block(0, 0, size);
    uint64_t fp = be_block_footprint(b);
    be_block_unref(&b);
    return fp;
}

static void
test_memcache_lookup_after_insert_returns_a_reference(void)
{
    uint64_t base = index_cost(1), fp = footprint(SIZE);
    be_memcache_t *mc = be_memcache_new(base + 4 * fp, 1, policy);
    be_memcache_stats_t st;
    be_block_t *a = make_block(0, 1, SIZE);
    be_key_t ka = key_of(0, 1), kb = key_of(0, 2);

    BE_CHECK(mc != NULL);
    BE_CHECK(be_memcache_lookup(mc, &ka, 1) == NULL);
    BE_CHECK_INT(be_memcache_insert(mc, a, 1), BE_OK);
    BE_CHECK_INT(atomic_load(&a->refs), 2); /* ours + the cache's */
    BE_CHECK_INT(a->cached, 1);

    be_block_t *got = be_memcache_lookup(mc, &ka, 2);
    BE_CHECK(got == a);
    BE_CHECK_INT(atomic_load(&a->refs), 3);
    BE_CHECK_INT(got->size, SIZE);
    BE_CHECK(bytes_ok(got, 1));
    be_block_unref(&got);
    BE_CHECK(got == NULL);
    BE_CHECK_INT(atomic_load(&a->refs), 2);
    BE_CHECK(be_memcache_lookup(mc, &kb, 3) == NULL);

    be_memcache_stats(mc, &st);
    BE_CHECK_INT(st.blocks, 1);
    BE_CHECK_INT(st.inserts, 1);
    BE_CHECK_INT(st.evictions, 0);
    BE_CHECK_INT(st.bytes, base + fp);
    BE_CHECK_INT(st.capacity, base + 4 * fp);

    be_memcache_free(&mc);
    BE_CHECK(mc == NULL);
    BE_CHECK_INT(atomic_load(&a->refs), 1); /* the cache let go of its reference */
    BE_CHECK_INT(a->cached, 0);
    be_block_unref(&a);
}

static void
test_memcache_bytes_never_exceed_budget_under_many_inserts(void)
{
    const unsigned nshards = 4;
    uint64_t base = index_cost(nshards);
    const uint64_t budget = base + 5000;
    be_memcache_t *mc = be_memcache_new(budget, nshards, policy);
    be_memcache_stats_t st;
    uint64_t accepted = 0;

    BE_CHECK(mc != NULL);
    for (int i = 0; i < 600; i++) {
        /* sizes 0..997 over every shard; ids wrap, so some inserts are duplicates */
        be_block_t *b = make_block((uint8_t)(i * 37), (uint8_t)i, (size_t)(i * 131) % 998);
        int rc = be_memcache_insert(mc, b, i);
        be_block_unref(&b);
        BE_CHECK_INT(rc, BE_OK);
        be_memcache_stats(mc, &st);
        BE_CHECK(st.bytes <= budget);
        BE_CHECK(st.bytes >= base);
        BE_CHECK_INT(st.capacity, budget);
        BE_CHECK_INT(st.inserts - st.evictions, st.blocks);
        accepted = st.inserts;
    }
    BE_CHECK(st.evictions > 0);
    BE_CHECK(accepted > 500);
    be_memcache_free(&mc);
}

static void
test_memcache_bytes_count_index_growth_within_budget(void)
{
    /* zero-byte blocks: only headers and buckets, so the bucket arrays must double */
    uint64_t base = index_cost(1), fp = footprint(0);
    const uint64_t budget = base + 64 * fp;
    be_memcache_t *mc = be_memcache_new(budget, 1, policy);
    be_memcache_stats_t st;

    BE_CHECK(mc != NULL);
    for (int i = 0; i < 100; i++) {
        be_block_t *b = make_block(0, (uint8_t)i, 0);
        BE_CHECK_INT(be_memcache_insert(mc, b, i), BE_OK);
        be_block_unref(&b);
        be_memcache_stats(mc, &st);
        BE_CHECK(st.bytes <= budget);
        BE_CHECK(st.bytes >= base + st.blocks * fp);
    }
    be_memcache_stats(mc, &st);
    BE_CHECK(st.bytes > base + st.blocks * fp); /* the grown index is counted */
    BE_CHECK(st.blocks < 64);
    BE_CHECK_INT(st.inserts, 100);
    BE_CHECK_INT(st.evictions, 100 - st.blocks);
    be_memcache_free(&mc);
}

static void
test_memcache_lru_evicts_least_recently_used_first(void)
{
    uint64_t base = index_cost(1), fp = footprint(SIZE);
    be_memcache_t *mc = be_memcache_new(base + 3 * fp, 1, policy);
    be_memcache_stats_t st;

    BE_CHECK(mc != NULL);
    for (uint8_t id = 1; id <= 3; id++) { /* A at 1, B at 2, C at 3 */
        be_block_t *b = make_block(0, id, SIZE);
        BE_CHECK_INT(be_memcache_insert(mc, b, id), BE_OK);
        be_block_unref(&b);
    }
    BE_CHECK(present(mc, 0, 1, 10)); /* touch A: B is now the oldest */

    be_block_t *d = make_block(0, 4, SIZE);
    BE_CHECK_INT(be_memcache_insert(mc, d, 11), BE_OK);
    be_block_unref(&d);
    be_memcache_stats(mc, &st);
    BE_CHECK_INT(st.evictions, 1);
    BE_CHECK_INT(st.blocks, 3);
    BE_CHECK_INT(st.bytes, base + 3 * fp);
    BE_CHECK(!present(mc, 0, 2, 12));
    BE_CHECK(present(mc, 0, 3, 13)); /* order now: A(10) D(11) C(13) */

    be_block_t *e = make_block(0, 5, SIZE);
    BE_CHECK_INT(be_memcache_insert(mc, e, 14), BE_OK);
    be_block_unref(&e);
    BE_CHECK(!present(mc, 0, 1, 15)); /* A was the oldest */
    BE_CHECK(present(mc, 0, 4, 16));
    BE_CHECK(present(mc, 0, 3, 17));
    BE_CHECK(present(mc, 0, 5, 18));
    be_memcache_stats(mc, &st);
    BE_CHECK_INT(st.evictions, 2);
    BE_CHECK_INT(st.inserts, 5);
    be_memcache_free(&mc);
}

static void
test_memcache_lru_evicts_least_recently_used_across_shards(void)
{
    /* four shards, one block each in shards 0..2: the victim is the oldest of the tails */
    uint64_t base = index_cost(4), fp = footprint(SIZE);
    be_memcache_t *mc = be_memcache_new(base + 3 * fp, 4, policy);
    be_memcache_stats_t st;

    BE_CHECK(mc != NULL);
    for (uint8_t s = 0; s < 3; s++) { /* A (shard 0) at 1, B (1) at 2, C (2) at 3 */
        be_block_t *b = make_block(s, (uint8_t)(s + 1), SIZE);
        BE_CHECK_INT(be_memcache_insert(mc, b, s + 1), BE_OK);
        be_block_unref(&b);
    }
    BE_CHECK(present(mc, 0, 1, 10)); /* touch A */

    be_block_t *d = make_block(3, 4, SIZE); /* shard 3 */
    BE_CHECK_INT(be_memcache_insert(mc, d, 11), BE_OK);
    be_block_unref(&d);
    BE_CHECK(!present(mc, 1, 2, 12)); /* B, in another shard than D, went */
    BE_CHECK(present(mc, 0, 1, 13));
    BE_CHECK(present(mc, 2, 3, 14));
    BE_CHECK(present(mc, 3, 4, 15));
    be_memcache_stats(mc, &st);
    BE_CHECK_INT(st.evictions, 1);
    BE_CHECK_INT(st.blocks, 3);
    BE_CHECK_INT(st.bytes, base + 3 * fp);
    be_memcache_free(&mc);
}

static void
test_memcache_declines_block_larger_than_budget(void)
{
    uint64_t base = index_cost(1), fp = footprint(SIZE);
    const uint64_t budget = base + 3 * fp;
    be_memcache_t *mc = be_memcache_new(budget, 1, policy);
    be_memcache_stats_t st;
    be_block_t *a = make_block(0, 1, SIZE);
    be_block_t *big = make_block(0, 2, budget);

    BE_CHECK(mc != NULL);
    BE_CHECK_INT(be_memcache_insert(mc, a, 1), BE_OK);
    BE_CHECK_INT(be_memcache_insert(mc, big, 2), BE_DECLINED);
    BE_CHECK_INT(atomic_load(&big->refs), 1); /* the cache took no reference */
    BE_CHECK_INT(big->cached, 0);
    BE_CHECK(!present(mc, 0, 2, 3));
    BE_CHECK(present(mc, 0, 1, 4)); /* nothing was evicted for it */
    be_memcache_stats(mc, &st);
    BE_CHECK_INT(st.blocks, 1);
    BE_CHECK_INT(st.bytes, base + fp);
    BE_CHECK_INT(st.evictions, 0);
    BE_CHECK_INT(st.inserts, 1);
    be_memcache_free(&mc);
    be_block_unref(&a);
    be_block_unref(&big);
}

static void
test_memcache_duplicate_insert_keeps_one_copy(void)
{
    uint64_t base = index_cost(1), fp = footprint(SIZE);
    be_memcache_t *mc = be_memcache_new(base + 3 * fp, 1, policy);
    be_memcache_stats_t st;
    be_block_t *a = make_block(0, 1, SIZE);
    be_block_t *a2 = make_block(0, 1, SIZE); /* same key, same bytes, another copy */
    be_key_t ka = key_of(0, 1);

    BE_CHECK(mc != NULL);
    BE_CHECK_INT(be_memcache_insert(mc, a, 1), BE_OK);
    BE_CHECK_INT(be_memcache_insert(mc, a2, 2), BE_OK);
    BE_CHECK_INT(be_memcache_insert(mc, a, 3), BE_OK);
    BE_CHECK_INT(atomic_load(&a->refs), 2);
    BE_CHECK_INT(atomic_load(&a2->refs), 1); /* the copy was not taken */
    BE_CHECK_INT(a2->cached, 0);
    be_memcache_stats(mc, &st);
    BE_CHECK_INT(st.blocks, 1);
    BE_CHECK_INT(st.inserts, 1);
    BE_CHECK_INT(st.bytes, base + fp);

    be_block_t *got = be_memcache_lookup(mc, &ka, 4);
    BE_CHECK(got == a); /* the first one stays */
    be_block_unref(&got);
    be_memcache_free(&mc);
    be_block_unref(&a);
    be_block_unref(&a2);
}

static void
test_memcache_remove_drops_block_and_bytes(void)
{
    uint64_t base = index_cost(2), fp = footprint(SIZE);
    be_memcache_t *mc = be_memcache_new(base + 3 * fp, 2, policy);
    be_memcache_stats_t st;
    be_block_t *a = make_block(0, 1, SIZE);
    be_block_t *b = make_block(1, 2, SIZE);
    be_key_t ka = key_of(0, 1), kb = key_of(1, 2);

    BE_CHECK(mc != NULL);
    BE_CHECK_INT(be_memcache_insert(mc, a, 1), BE_OK);
    BE_CHECK_INT(be_memcache_insert(mc, b, 2), BE_OK);
    BE_CHECK_INT(be_memcache_remove(mc, &ka), BE_OK);
    BE_CHECK_INT(atomic_load(&a->refs), 1);
    BE_CHECK_INT(a->cached, 0);
    BE_CHECK(be_memcache_lookup(mc, &ka, 3) == NULL);
    BE_CHECK_INT(be_memcache_remove(mc, &ka), BE_DECLINED);
    be_memcache_stats(mc, &st);
    BE_CHECK_INT(st.blocks, 1);
    BE_CHECK_INT(st.bytes, base + fp);
    BE_CHECK_INT(st.evictions, 0); /* a removal is not an eviction */

    BE_CHECK_INT(be_memcache_remove(mc, &kb), BE_OK);
    be_memcache_stats(mc, &st);
    BE_CHECK_INT(st.blocks, 0);
    BE_CHECK_INT(st.bytes, base);

    BE_CHECK_INT(be_memcache_insert(mc, a, 4), BE_OK); /* and it can come back */
    BE_CHECK(present(mc, 0, 1, 5));
    be_memcache_free(&mc);
    be_block_unref(&a);
    be_block_unref(&b);
}

static void
test_memcache_evicted_block_stays_valid_while_sender_holds_it(void)
{
    uint64_t base = index_cost(1), fp = footprint(SIZE);
    be_memcache_t *mc = be_memcache_new(base + fp, 1, policy);
    be_memcache_stats_t st;
    be_block_t *a = make_block(0, 1, SIZE);
    be_key_t ka = key_of(0, 1);
    struct evbuffer *out = evbuffer_new();
    unsigned char copy[SIZE];

    BE_CHECK(mc != NULL && out != NULL);
    BE_CHECK_INT(be_memcache_insert(mc, a, 1), BE_OK);
    be_block_unref(&a); /* the cache holds the only reference */

    /* a sender: a lookup reference, and the bytes queued by reference */
    be_block_t *sender = be_memcache_lookup(mc, &ka, 2);
    BE_CHECK(sender != NULL);
    BE_CHECK_INT(be_block_add_to_evbuffer(sender, out, 10, 50), BE_OK);
    BE_CHECK_INT(atomic_load(&sender->refs), 3); /* cache, sender, evbuffer */

    be_block_t *b = make_block(0, 2, SIZE);
    BE_CHECK_INT(be_memcache_insert(mc, b, 3), BE_OK); /* evicts A */
    be_block_unref(&b);
    be_memcache_stats(mc, &st);
    BE_CHECK_INT(st.evictions, 1);
    BE_CHECK_INT(st.blocks, 1);
    BE_CHECK_INT(st.bytes, base + fp);
    BE_CHECK(be_memcache_lookup(mc, &ka, 4) == NULL);

    BE_CHECK_INT(sender->cached, 0);
    BE_CHECK_INT(atomic_load(&sender->refs), 2);
    BE_CHECK_INT(sender->magic, BE_BLOCK_MAGIC);
    BE_CHECK(bytes_ok(sender, 1));
    be_block_unref(&sender);

    /* the evbuffer's reference alone keeps the bytes readable */
    BE_CHECK_INT(evbuffer_get_length(out), 50);
    BE_CHECK_INT(evbuffer_remove(out, copy, sizeof(copy)), 50);
    for (int i = 0; i < 50; i++)
        BE_CHECK_INT(copy[i], (unsigned char)(1 + 10 + i));
    evbuffer_free(out); /* drops the last reference (ASan: no leak, no use after free) */
    be_memcache_free(&mc);
}

static void
test_memcache_evictions_counter_counts_each_eviction(void)
{
    uint64_t base = index_cost(2), fp = footprint(SIZE);
    be_memcache_t *mc = be_memcache_new(base + 4 * fp, 2, policy);
    be_memcache_stats_t st;

    BE_CHECK(mc != NULL);
    for (int i = 0; i < 4; i++) {
        be_block_t *b = make_block((uint8_t)i, (uint8_t)i, SIZE);
        BE_CHECK_INT(be_memcache_insert(mc, b, i), BE_OK);
        be_block_unref(&b);
    }
    be_memcache_stats(mc, &st);
    BE_CHECK_INT(st.evictions, 0);
    for (int i = 4; i < 11; i++) {
        be_block_t *b = make_block((uint8_t)i, (uint8_t)i, SIZE);
        BE_CHECK_INT(be_memcache_insert(mc, b, i), BE_OK);
        be_block_unref(&b);
        be_memcache_stats(mc, &st);
        BE_CHECK_INT(st.evictions, i - 3);
        BE_CHECK_INT(st.blocks, 4);
        BE_CHECK_INT(st.bytes, base + 4 * fp);
        if (policy == BE_POLICY_LRU) /* the oldest (others: the policy's pick) */
            BE_CHECK(!present(mc, (uint8_t)(i - 4), (uint8_t)(i - 4), 100));
    }
    BE_CHECK_INT(st.inserts, 11);
    be_memcache_free(&mc);
}

static void
test_memcache_duplicate_insert_when_full_evicts_nothing(void)
{
    uint64_t base = index_cost(1), fp = footprint(SIZE);
    be_memcache_t *mc = be_memcache_new(base + 2 * fp, 1, policy);
    be_memcache_stats_t st;
    be_block_t *a = make_block(0, 1, SIZE);
    be_block_t *b = make_block(0, 2, SIZE);

    BE_CHECK(mc != NULL);
    BE_CHECK_INT(be_memcache_insert(mc, a, 1), BE_OK);
    BE_CHECK_INT(be_memcache_insert(mc, b, 2), BE_OK); /* full: A is the oldest */
    BE_CHECK_INT(be_memcache_insert(mc, b, 3), BE_OK); /* B again: nothing to make room for */
    be_memcache_stats(mc, &st);
    BE_CHECK_INT(st.evictions, 0);
    BE_CHECK_INT(st.blocks, 2);
    BE_CHECK_INT(st.bytes, base + 2 * fp);
    BE_CHECK(present(mc, 0, 1, 4));
    BE_CHECK(present(mc, 0, 2, 5));
    be_memcache_free(&mc);
    be_block_unref(&a);
    be_block_unref(&b);
}

static void
test_memcache_declined_block_evicts_nothing(void)
{
    /* fits the budget on its own but never beside the index: declined, and A stays (16 KiB:
     * a size class of its own, so the budget is its footprint exactly) */
    uint64_t base = index_cost(1), fp = footprint(SIZE);
    be_block_t *big = make_block(0, 2, 16384);
    const uint64_t budget = be_block_footprint(big);
    be_memcache_t *mc = be_memcache_new(budget, 1, policy);
    be_memcache_stats_t st;
    be_block_t *a = make_block(0, 1, SIZE);

    BE_CHECK(mc != NULL);
    BE_CHECK(base + 3 * fp <= budget);
    BE_CHECK_INT(be_memcache_insert(mc, a, 1), BE_OK);
    BE_CHECK_INT(be_memcache_insert(mc, big, 2), BE_DECLINED);
    BE_CHECK_INT(atomic_load(&big->refs), 1);
    be_memcache_stats(mc, &st);
    BE_CHECK_INT(st.evictions, 0);
    BE_CHECK_INT(st.blocks, 1);
    BE_CHECK_INT(st.bytes, base + fp);
    BE_CHECK(present(mc, 0, 1, 3));
    be_memcache_free(&mc);
    be_block_unref(&a);
    be_block_unref(&big);
}

static void
test_memcache_peek_reports_size_and_hits_without_touching_recency(void)
{
    uint64_t fp = footprint(SIZE);
    be_memcache_t *mc = be_memcache_new(index_cost(1) + 2 * fp, 1, policy);
    be_block_t *a = make_block(0, 1, SIZE), *b = make_block(0, 2, SIZE),
               *c = make_block(0, 3, SIZE);
    be_key_t ka = key_of(0, 1);
    be_memcache_info_t info;

    BE_CHECK_INT(be_memcache_peek(mc, &ka, &info), BE_DECLINED);
    BE_CHECK_INT(be_memcache_insert(mc, a, 10), BE_OK);
    BE_CHECK_INT(be_memcache_insert(mc, b, 20), BE_OK);
    BE_CHECK_INT(be_memcache_peek(mc, &ka, &info), BE_OK);
    BE_CHECK_INT(info.size, SIZE);
    BE_CHECK_INT(info.footprint, fp);
    BE_CHECK_INT(info.last_use, 10);
    BE_CHECK_INT(info.hits, 0);
    BE_CHECK(present(mc, 0, 2, 30)); /* b is looked up: one hit, the most recent */
    BE_CHECK(present(mc, 0, 2, 31));
    be_key_t kb = key_of(0, 2);
    BE_CHECK_INT(be_memcache_peek(mc, &kb, &info), BE_OK);
    BE_CHECK_INT(info.hits, 2);
    BE_CHECK_INT(info.last_use, 31);
    for (int i = 0; i < 5; i++) /* peeks are no use: a stays the tail */
        BE_CHECK_INT(be_memcache_peek(mc, &ka, &info), BE_OK);
    BE_CHECK_INT(be_memcache_insert(mc, c, 40), BE_OK);
    BE_CHECK_INT(be_memcache_peek(mc, &ka, &info), BE_DECLINED); /* evicted */
    BE_CHECK(present(mc, 0, 2, 41) && present(mc, 0, 3, 41));
    be_memcache_free(&mc);
    be_block_unref(&a);
    be_block_unref(&b);
    be_block_unref(&c);
}

/* The shard count for a budget: a power of two from 1 to 64, each shard at least 4 MiB, so
 * one shard below 8 MiB (0 and the smallest memory_size, 1 MiB, included) and 64 from 256 MiB
 * (the default memory_size) up to the largest budget. */
static void
test_memcache_shard_count_follows_the_budget(void)
{
    const uint64_t mib = (uint64_t)1 << 20;
    static const struct {
        uint64_t budget_kib;
        unsigned shards;
    } cases[] = {
        {0, 1},           {1, 1},
        {1024, 1},        {4 * 1024 - 1, 1},
        {4 * 1024, 1},    {8 * 1024 - 1, 1},
        {8 * 1024, 2},    {16 * 1024 - 1, 2},
        {16 * 1024, 4},   {64 * 1024, 16},
        {255 * 1024, 32}, {256 * 1024 - 1, 32},
        {256 * 1024, 64}, {512 * 1024, 64},
        {1u << 30, 64},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        BE_CHECK_INT(be_memcache_shards_for(cases[i].budget_kib << 10), cases[i].shards);
    BE_CHECK_INT(be_memcache_shards_for(UINT64_MAX), 64);
    BE_CHECK_INT(be_memcache_shards_for(8 * mib - 1), 1); /* a byte short of two shards */

    /* Over a sweep: a power of two, never fewer for more bytes, each shard at least 4 MiB
     * (unless one), and the largest such count (twice as many would be under 4 MiB each). */
    unsigned prev = 1;
    for (uint64_t b = 0; b < 600 * mib; b += 977 * 1024 + 3) {
        unsigned n = be_memcache_shards_for(b);
        BE_CHECK(n >= 1 && n <= BE_MEMCACHE_MAX_SHARDS && (n & (n - 1)) == 0);
        BE_CHECK(n >= prev);
        BE_CHECK(n == 1 || b / n >= BE_MEMCACHE_MIN_SHARD_BYTES);
        BE_CHECK(n == BE_MEMCACHE_MAX_SHARDS || b / (2 * n) < BE_MEMCACHE_MIN_SHARD_BYTES);
        prev = n;
    }
}

/* A tier made with the rule's count keeps it: a reload's new budget resizes, never reshards,
 * and the smaller budget still evicts down to fit. */
static void
test_memcache_shard_count_stays_across_a_new_budget(void)
{
    const uint64_t mib = (uint64_t)1 << 20;
    be_memcache_t *small = be_memcache_new(mib, be_memcache_shards_for(mib), policy);
    be_memcache_t *mc = be_memcache_new(256 * mib, be_memcache_shards_for(256 * mib), policy);
    be_memcache_stats_t st;

    BE_CHECK(small != NULL && mc != NULL);
    BE_CHECK_INT(be_memcache_shards(small), 1);
    BE_CHECK_INT(be_memcache_shards(mc), 64);
    for (unsigned i = 0; i < 256; i++) { /* 4 blocks in each of the 64 shards */
        be_block_t *b = make_block((uint8_t)i, (uint8_t)(i >> 6), 4096);
        BE_CHECK_INT(be_memcache_insert(mc, b, i), BE_OK);
        be_block_unref(&b);
    }
    be_memcache_stats(mc, &st);
    BE_CHECK_INT(st.blocks, 256);
    BE_CHECK(be_memcache_set_budget(mc, index_cost(64) + 10 * footprint(4096)) >= 246);
    BE_CHECK_INT(be_memcache_shards(mc), 64);
    be_memcache_stats(mc, &st);
    BE_CHECK(st.blocks <= 10 && st.bytes <= st.capacity);
    be_memcache_set_budget(mc, 1024 * mib);
    BE_CHECK_INT(be_memcache_shards(mc), 64);
    be_memcache_free(&small);
    be_memcache_free(&mc);
}

/* A scripted mix of inserts and hits on one shard: the memory tier evicts exactly what the
 * bare policy, given the same capacity, the same sizes and the same requests, picks. */
static void
test_memcache_evicts_the_policys_victim(void)
{
    uint64_t base = index_cost(1), fp = footprint(SIZE);
    const uint64_t budget = base + 5 * fp;
    be_memcache_t *mc = be_memcache_new(budget, 1, policy);
    be_policy_t *ref = be_policy_new(policy, budget - base); /* what blocks may use */
    be_policy_node_t nodes[40];
    uint8_t in[40] = {0};
    uint64_t used = 0;
    /* ids 1..39; a few return, some hot ones are hit often */
    static const uint8_t script[] = {1,  2,  3, 1, 4,  5,  1, 6,  2,  7,  8, 1, 9, 3,  10, 11, 1,
                                     12, 13, 9, 1, 14, 15, 1, 16, 17, 18, 1, 9, 2, 19, 20, 21};

    BE_CHECK(mc != NULL && ref != NULL);
    memset(nodes, 0, sizeof(nodes));
    for (size_t i = 0; i < sizeof(script); i++) {
        uint8_t id = script[i];
        be_key_t k = key_of(0, id);
        be_block_t *got = be_memcache_lookup(mc, &k, (be_msec_t)i);
        BE_CHECK_INT(got != NULL, in[id]);
        be_block_unref(&got);
        if (in[id]) {
            be_policy_hit(ref, &nodes[id]);
            continue;
        }
        while (used + fp > budget - base) {
            be_policy_node_t *v = be_policy_victim(ref);
            BE_CHECK(v != NULL);
            in[v - nodes] = 0;
            used -= v->size;
        }
        nodes[id].hash = be_key_hash(&k);
        nodes[id].size = fp;
        be_policy_insert(ref, &nodes[id]);
        in[id] = 1;
        used += fp;
        be_block_t *b = make_block(0, id, SIZE);
        BE_CHECK_INT(be_memcache_insert(mc, b, (be_msec_t)i), BE_OK);
        be_block_unref(&b);
        for (uint8_t j = 1; j < 40; j++) { /* contains() is no hit: both stay comparable */
            be_key_t kj = key_of(0, j);
            BE_CHECK_INT(be_memcache_contains(mc, &kj), in[j]);
        }
    }
    be_policy_free(&ref);
    be_memcache_free(&mc);
}

int
main(void)
{
    BE_RUN(test_memcache_shard_count_follows_the_budget);
    for (policy = 0; policy < BE_POLICY_N; policy++) {
        printf("# memory_policy %s\n", be_policy_name(policy));
        if (policy == BE_POLICY_LRU) {
            BE_RUN(test_memcache_lru_evicts_least_recently_used_first);
            BE_RUN(test_memcache_lru_evicts_least_recently_used_across_shards);
        }
        BE_RUN(test_memcache_evicts_the_policys_victim);
        BE_RUN(test_memcache_shard_count_stays_across_a_new_budget);
        BE_RUN(test_memcache_lookup_after_insert_returns_a_reference);
        BE_RUN(test_memcache_bytes_never_exceed_budget_under_many_inserts);
        BE_RUN(test_memcache_bytes_count_index_growth_within_budget);
        BE_RUN(test_memcache_declines_block_larger_than_budget);
        BE_RUN(test_memcache_duplicate_insert_keeps_one_copy);
        BE_RUN(test_memcache_remove_drops_block_and_bytes);
        BE_RUN(test_memcache_evicted_block_stays_valid_while_sender_holds_it);
        BE_RUN(test_memcache_evictions_counter_counts_each_eviction);
        BE_RUN(test_memcache_duplicate_insert_when_full_evicts_nothing);
        BE_RUN(test_memcache_declined_block_evicts_nothing);
        BE_RUN(test_memcache_peek_reports_size_and_hits_without_touching_recency);
    }
    BE_TEST_EXIT();
}
