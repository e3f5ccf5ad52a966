/*
 * test_policy.c - the eviction policies against tiny reference models, their byte accounting,
 * the W-TinyLFU sketch's aging, and the simulator against the live memory tier.
 *
 * Each reference model is the paper's algorithm written the slow, obvious way (arrays and
 * linear scans, an exact ghost list). A scripted trace drives the policy and the model side by
 * side with a capacity of a few objects; every victim must be the same. The W-TinyLFU model
 * asks the policy's sketch for frequencies (the sketch is tested on its own: aging,
 * saturation), so what it checks is the window, the segments and the duel.
 */
#include <string.h>

#include "blockedge/memcache.h"
#include "blockedge/policy.h"
#include "blockedge/policysim.h"
#include "test.h"

#include "../../src/policy_int.h" /* policy_mix: to give the ghost's slots distinct keys */

#define MAXK 64

static be_policy_t *under_test; /* the model reads W-TinyLFU's frequencies from its sketch */
static uint64_t key_hash[MAXK];

/* Key hashes whose S3-FIFO ghost slots (top 6 bits of the mix, the table's first size) differ,
 * so the direct-mapped ghost behaves as the exact list of the model. */
static void
pick_key_hashes(void)
{
    uint64_t used = 0, h = 1;
    for (int k = 0; k < MAXK; k++, h++) {
        while (used >> (policy_mix(h) >> 58) & 1)
            h++;
        used |= 1ull << (policy_mix(h) >> 58);
        key_hash[k] = h;
    }
}

/* ---- reference models: queues as arrays, index 0 the oldest ------------------------------ */

typedef struct model_s {
    int kind;
    uint64_t cap;
    int q[3][MAXK]; /* LRU/SIEVE: q[0]; S3-FIFO: small, main; W-TinyLFU: window, prob, prot */
    int n[3];
    uint64_t bytes[3];
    int mark[MAXK];
    int hand; /* SIEVE: index in q[0] of the hand, -1 for the tail */
    int ghost[4 * MAXK], nghost;

    uint64_t size[MAXK];
    int where[MAXK]; /* queue, or -1 */
} model_t;

static void
m_push(model_t *m, int q, int k)
{
    m->q[q][m->n[q]++] = k;
    m->bytes[q] += m->size[k];
    m->where[k] = q;
}

static int
m_pos(model_t *m, int q, int k)
{
    for (int i = 0; i < m->n[q]; i++)
        if (m->q[q][i] == k)
            return i;
    return -1;
}

static void
m_del(model_t *m, int q, int i)
{
    int k = m->q[q][i];
    memmove(&m->q[q][i], &m->q[q][i + 1], (size_t)(m->n[q] - i - 1) * sizeof(int));
    m->n[q]--;
    m->bytes[q] -= m->size[k];
    m->where[k] = -1;
}

static void
m_insert(model_t *m, int k)
{
    m->mark[k] = 0;
    switch (m->kind) {
    case BE_POLICY_S3FIFO: {
        int held = m->n[0] + m->n[1], g = -1;
        for (int i = m->nghost - 1; i >= 0 && i >= m->nghost - held; i--)
            if (m->ghost[i] == k)
                g = i;
        if (g >= 0)
            m->ghost[g] = -1;
        m_push(m, g >= 0 ? 1 : 0, k);
        break;
    }
    case BE_POLICY_WTINYLFU:
        m_push(m, 0, k);
        break;
    default:
        m_push(m, 0, k);
    }
}

static void
m_hit(model_t *m, int k)
{
    int q = m->where[k];
    switch (m->kind) {
    case BE_POLICY_LRU:
        m_del(m, 0, m_pos(m, 0, k));
        m_push(m, 0, k);
        break;
    case BE_POLICY_SIEVE:
        m->mark[k] = 1;
        break;
    case BE_POLICY_S3FIFO:
        if (m->mark[k] < 3)
            m->mark[k]++;
        break;
    case BE_POLICY_WTINYLFU: {
        m_del(m, q, m_pos(m, q, k));
        m_push(m, q == 1 ? 2 : q, k);
        uint64_t pcap = (m->cap - m->cap / 100) / 10 * 8;
        while (m->bytes[2] > pcap && m->n[2] > 1) {
            int t = m->q[2][0];
            m_del(m, 2, 0);
            m_push(m, 1, t);
        }
        break;
    }
    }
}

static int
m_victim(model_t *m)
{
    switch (m->kind) {
    case BE_POLICY_LRU: {
        int k = m->q[0][0];
        m_del(m, 0, 0);
        return k;
    }
    case BE_POLICY_SIEVE: {
        int i = m->hand < 0 ? 0 : m->hand;
        while (m->mark[m->q[0][i]]) {
            m->mark[m->q[0][i]] = 0;
            i = i + 1 == m->n[0] ? 0 : i + 1;
        }
        int k = m->q[0][i];
        m_del(m, 0, i);
        m->hand = i < m->n[0] ? i : -1; /* the next newer one slid into slot i */
        return k;
    }
    case BE_POLICY_S3FIFO:
        for (;;) {
            if (m->n[0] > 0 && (m->bytes[0] >= m->cap / 10 || m->n[1] == 0)) {
                int k = m->q[0][0];
                m_del(m, 0, 0);
                if (m->mark[k] > 0) {
                    m->mark[k] = 0;
                    m_push(m, 1, k);
                    continue;
                }
                m->ghost[m->nghost++] = k;
                return k;
            }
            int k = m->q[1][0];
            m_del(m, 1, 0);
            if (m->mark[k] > 0) {
                m->mark[k]--;
                m_push(m, 1, k);
                continue;
            }
            return k;
        }
    default: { /* W-TinyLFU */
        uint64_t wcap = m->cap / 100;
        while (m->n[0] > 0 && m->bytes[0] >= wcap) { /* the next object enters the window */
            int c = m->q[0][0];
            if (m->bytes[0] - m->size[c] >= wcap && m->n[0] > 1) { /* filling: no duel */
                m_del(m, 0, 0);
                m_push(m, 1, c);
                continue;
            }
            int vq = m->n[1] > 0 ? 1 : 2;
            int v = m->q[vq][0];
            unsigned fc = be_policy_frequency(under_test, key_hash[c]);
            unsigned fv = be_policy_frequency(under_test, key_hash[v]);
            if (fc > fv || (fc == fv && fc >= 2)) { /* a tie admits from 2 up */
                m_del(m, vq, 0);
                m_del(m, 0, 0);
                m_push(m, 1, c);
                return v;
            }
            m_del(m, 0, 0);
            return c;
        }
        int vq = m->n[1] > 0 ? 1 : m->n[2] > 0 ? 2 : 0;
        int v = m->q[vq][0];
        m_del(m, vq, 0);
        return v;
    }
    }
}

/* Replays script (keys < MAXK) through the policy and the model at capacity cap, with
 * object k of size sizes[k]; every victim must agree. Returns the number of victims, or -1
 * (after printing where) on the first disagreement. */
static int
replay_against_model(int kind, uint64_t cap, const uint8_t *script, size_t len,
                     const uint64_t *sizes)
{
    be_policy_t *p = be_policy_new(kind, cap);
    static be_policy_node_t nodes[MAXK];
    under_test = p;
    static model_t m;
    int in[MAXK] = {0}, victims = 0;
    uint64_t used = 0;
    memset(nodes, 0, sizeof(nodes));
    memset(&m, 0, sizeof(m));
    m.kind = kind;
    m.cap = cap;
    m.hand = -1;
    for (int k = 0; k < MAXK; k++) {
        m.size[k] = sizes[k];
        m.where[k] = -1;
    }
    for (size_t i = 0; i < len; i++) {
        int k = script[i];
        if (in[k]) {
            be_policy_hit(p, &nodes[k]);
            m_hit(&m, k);
            continue;
        }
        while (used + sizes[k] > cap) {
            be_policy_node_t *v = be_policy_victim(p);
            int mv = m_victim(&m);
            if (v == NULL || v - nodes != mv) {
                fprintf(stderr, "%s: request %zu: victim %d, the model's %d\n",
                        be_policy_name(kind), i, v ? (int)(v - nodes) : -1, mv);
                be_policy_free(&p);
                return -1;
            }
            in[mv] = 0;
            used -= sizes[mv];
            victims++;
        }
        nodes[k].hash = key_hash[k];
        nodes[k].size = sizes[k];
        be_policy_insert(p, &nodes[k]);
        m_insert(&m, k);
        in[k] = 1;
        used += sizes[k];
        if (be_policy_bytes(p) != used) {
            fprintf(stderr, "%s: request %zu: bytes %llu, expected %llu\n", be_policy_name(kind), i,
                    (unsigned long long)be_policy_bytes(p), (unsigned long long)used);
            be_policy_free(&p);
            return -1;
        }
    }
    be_policy_free(&p);
    return victims;
}

/* A pseudo-random skewed script: keys 0..nkeys-1, low keys far more often, with bursts. */
static size_t
skewed_script(uint8_t *out, size_t len, int nkeys, uint64_t seed)
{
    uint64_t x = seed;
    for (size_t i = 0; i < len; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t r = x >> 33;
        int k = (int)((r % (uint64_t)nkeys) * (r % (uint64_t)nkeys) / (uint64_t)nkeys);
        if ((r & 15) == 0)
            k = nkeys - 1 - (int)(i % 7); /* a scan-like run of cold keys */
        out[i] = (uint8_t)k;
    }
    return len;
}

static void
check_policy_matches_model(int kind)
{
    uint64_t fixed[MAXK], mixed[MAXK];
    uint8_t script[500];
    pick_key_hashes();
    for (int k = 0; k < MAXK; k++) {
        fixed[k] = 100;
        mixed[k] = 50 + (uint64_t)(k * 37 % 200);
    }
    /* hand-written: hits on 1 and 2 while 3..9 stream past */
    static const uint8_t basic[] = {1, 2, 3, 1, 4, 2, 5, 6, 1, 7, 2, 8, 9, 1, 3, 2, 4, 5, 1};
    BE_CHECK(replay_against_model(kind, 400, basic, sizeof(basic), fixed) > 0);
    /* long skewed scripts, fixed and mixed sizes, several capacities */
    for (uint64_t seed = 1; seed <= 3; seed++) {
        size_t n = skewed_script(script, sizeof(script), 40, seed);
        BE_CHECK(replay_against_model(kind, 1000, script, n, fixed) > 100);
        BE_CHECK(replay_against_model(kind, 1500, script, n, mixed) > 100);
        BE_CHECK(replay_against_model(kind, 3000, script, n, fixed) > 0);
    }
}

static void
test_policy_lru_matches_reference_model(void)
{
    check_policy_matches_model(BE_POLICY_LRU);
}

static void
test_policy_sieve_matches_reference_model(void)
{
    check_policy_matches_model(BE_POLICY_SIEVE);
}

static void
test_policy_s3fifo_matches_reference_model(void)
{
    check_policy_matches_model(BE_POLICY_S3FIFO);
}

static void
test_policy_wtinylfu_matches_reference_model(void)
{
    check_policy_matches_model(BE_POLICY_WTINYLFU);
}

/* Objects of 1..999 bytes, 300 keys, 20000 requests: used bytes stay within the capacity,
 * the policy's count and bytes follow every insert and victim, and removal unlinks. */
static void
test_policy_bytes_never_exceed_capacity(void)
{
    static be_policy_node_t nodes[300];
    for (int kind = 0; kind < BE_POLICY_N; kind++) {
        const uint64_t cap = 20000;
        be_policy_t *p = be_policy_new(kind, cap);
        uint8_t in[300] = {0};
        uint64_t used = 0, held = 0, x = 7;
        BE_CHECK(p != NULL);
        memset(nodes, 0, sizeof(nodes));
        for (int i = 0; i < 20000; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            int k = (int)((x >> 33) % 300);
            k = k * k / 300;
            if (in[k] && (x >> 60) == 0) { /* now and then a purge */
                be_policy_remove(p, &nodes[k]);
                in[k] = 0, used -= nodes[k].size, held--;
            } else if (in[k]) {
                be_policy_hit(p, &nodes[k]);
                continue;
            }
            uint64_t size = 1 + (uint64_t)k * 7919 % 999;
            while (used + size > cap) {
                be_policy_node_t *v = be_policy_victim(p);
                BE_CHECK(v != NULL);
                BE_CHECK(in[v - nodes]);
                in[v - nodes] = 0, used -= v->size, held--;
            }
            nodes[k].hash = (uint64_t)k;
            nodes[k].size = size;
            be_policy_insert(p, &nodes[k]);
            in[k] = 1, used += size, held++;
            BE_CHECK(used <= cap);
            BE_CHECK_INT(be_policy_bytes(p), used);
            BE_CHECK_INT(be_policy_count(p), held);
        }
        while (be_policy_victim(p) != NULL)
            held--;
        BE_CHECK_INT(held, 0);
        BE_CHECK_INT(be_policy_bytes(p), 0);
        be_policy_free(&p);
        BE_CHECK(p == NULL);
    }
}

/* be_policy_promoted(): S3-FIFO sets it when a node hit while small moves to main (not for a
 * node evicted from small) and when a ghost sends a returning key straight to main; W-TinyLFU
 * when the window's overflow enters probation; never under LRU and SIEVE. The flag leaves the
 * policy's own marks alone (S3-FIFO's frequency still counts up to 3 and down). */
static void
test_policy_promoted_marks_the_main_area(void)
{
    enum { N = 12 };
    be_policy_node_t n[N];
    pick_key_hashes(); /* distinct ghost slots */
    for (int kind = 0; kind < BE_POLICY_N; kind++) {
        be_policy_t *p = be_policy_new(kind, 10 * 100); /* S3-FIFO's small queue: 100 bytes */
        BE_CHECK(p != NULL);
        memset(n, 0, sizeof(n));
        for (int i = 0; i < N; i++)
            n[i].hash = key_hash[i], n[i].size = 100;
        for (int i = 0; i < 10; i++)
            be_policy_insert(p, &n[i]);
        for (int i = 0; i < 10; i++)
            BE_CHECK(!be_policy_promoted(&n[i]));
        be_policy_hit(p, &n[0]);
        be_policy_node_t *v = be_policy_victim(p);
        BE_CHECK(v != NULL);
        if (kind == BE_POLICY_S3FIFO) {
            BE_CHECK(v == &n[1]); /* n[0], hit, went to main; n[1] is the victim */
            BE_CHECK(be_policy_promoted(&n[0]) && !be_policy_promoted(&n[1]));
            for (int i = 0; i < 5; i++)
                be_policy_hit(p, &n[0]);
            BE_CHECK(be_policy_promoted(&n[0])); /* hits keep the flag... */
            be_policy_insert(p, &n[1]);          /* ...and a ghost's key goes to main */
            BE_CHECK(be_policy_promoted(&n[1]));
            be_policy_insert(p, &n[10]);
            BE_CHECK(!be_policy_promoted(&n[10]));
        } else if (kind == BE_POLICY_WTINYLFU) {
            int promoted = 0;
            for (int i = 0; i < 10; i++)
                promoted += &n[i] != v && be_policy_promoted(&n[i]);
            BE_CHECK(promoted > 0); /* the window (1% of the bytes) overflowed into probation */
        } else {
            for (int i = 0; i < 10; i++)
                BE_CHECK(!be_policy_promoted(&n[i]));
        }
        BE_CHECK_INT(be_policy_has_probation(kind),
                     kind == BE_POLICY_S3FIFO || kind == BE_POLICY_WTINYLFU);
        be_policy_free(&p);
    }
}

/* The sketch's 2-bit counters saturate at 3, and every counter halves after 10 increments per
 * object the sketch is sized for (64 objects, 512 columns at first), i.e. at the 640th. */
static void
test_policy_wtinylfu_sketch_ages(void)
{
    be_policy_t *p = be_policy_new(BE_POLICY_WTINYLFU, 1 << 20);
    be_policy_node_t a = {.hash = 12345, .size = 10}, b = {.hash = 987654321, .size = 10};
    be_policy_node_t c = {.hash = 4242, .size = 10};
    BE_CHECK(p != NULL);
    be_policy_insert(p, &a);
    be_policy_hit(p, &a);
    BE_CHECK_INT(be_policy_frequency(p, a.hash), 2);
    for (int i = 0; i < 9; i++)
        be_policy_hit(p, &a);
    BE_CHECK_INT(be_policy_frequency(p, a.hash), 3); /* 11 requests: saturated */
    BE_CHECK_INT(be_policy_frequency(p, 555), 0);    /* an unseen key */
    be_policy_insert(p, &c);
    be_policy_hit(p, &c);
    be_policy_insert(p, &b);
    for (int i = 0; i < 625; i++) /* 11 + 2 + 1 + 625 = 639 increments: no aging yet */
        be_policy_hit(p, &b);
    BE_CHECK_INT(be_policy_frequency(p, a.hash), 3);
    BE_CHECK_INT(be_policy_frequency(p, b.hash), 3);
    BE_CHECK_INT(be_policy_frequency(p, c.hash), 2);
    be_policy_hit(p, &b); /* the 640th */
    BE_CHECK_INT(be_policy_frequency(p, a.hash), 1);
    BE_CHECK_INT(be_policy_frequency(p, b.hash), 1);
    BE_CHECK_INT(be_policy_frequency(p, c.hash), 1);
    be_policy_free(&p);
}

/* Doubling the sketch keeps every estimate (each column splits in two copies) and doubles its
 * bytes; it is wanted once the policy holds more objects than the sketch is sized for (64,
 * then 128). */
static void
test_policy_wtinylfu_sketch_grows(void)
{
    static be_policy_node_t n[100];
    be_policy_t *p = be_policy_new(BE_POLICY_WTINYLFU, 1 << 20);
    BE_CHECK(p != NULL);
    uint64_t meta = be_policy_meta_bytes(p);
    for (int i = 0; i < 100; i++) {
        n[i] = (be_policy_node_t){.hash = (uint64_t)i * 7 + 1, .size = 10};
        be_policy_insert(p, &n[i]);
        for (int h = 0; h < i % 4; h++)
            be_policy_hit(p, &n[i]);
        BE_CHECK_INT(be_policy_grow_wanted(p) > 0, i >= 64);
    }
    unsigned before[100];
    for (int i = 0; i < 100; i++)
        before[i] = be_policy_frequency(p, n[i].hash);
    uint64_t want = be_policy_grow_wanted(p);
    BE_CHECK_INT(be_policy_grow(p), BE_OK);
    BE_CHECK_INT(be_policy_meta_bytes(p), meta + want);
    BE_CHECK_INT(be_policy_grow_wanted(p), 0);
    int seen_three = 0;
    for (int i = 0; i < 100; i++) {
        BE_CHECK_INT(be_policy_frequency(p, n[i].hash), before[i]);
        seen_three += before[i] == 3;
    }
    BE_CHECK(seen_three >= 20); /* the estimates compared are not all 0 */
    be_policy_free(&p);
}

/* Admission when the owner is full at 10 000 bytes of 100-byte objects: keys seen twice fill
 * it; a stream of keys seen once then never gets past the window (a candidate that ties at 1 or
 * loses leaves) and evicts no key seen twice, but for the window's last keys seen twice, which
 * tie at 2 with probation's tail and are admitted; a new key seen twice is admitted the same
 * way. With a capacity of 10 000 the window's share is one object; the window at its share, not
 * only over it, still duels (the next object enters it). With a capacity of 12 000 (the owner
 * holds less than the policy's capacity, as the memory tier does, its index counted) the share
 * is 120 bytes, two objects: the main area looks roomy by the capacity, yet no candidate gets
 * in without a duel. */
static void
check_wtinylfu_admission(uint64_t capacity, int window_objects)
{
    enum { HOT = 100, STREAM = 200 };
    static be_policy_node_t n[HOT + STREAM + 3];
    be_policy_t *p = be_policy_new(BE_POLICY_WTINYLFU, capacity);
    uint64_t used = 0;
    int hot_evicted = 0;
    BE_CHECK(p != NULL);
    for (int i = 0; i < 4; i++) /* a sketch for 1024 objects: 303 keys rarely share counters */
        BE_CHECK_INT(be_policy_grow(p), BE_OK);
    memset(n, 0, sizeof(n));
    for (int k = 0; k < HOT + STREAM + 3; k++) {
        n[k].hash = (uint64_t)k * 0x10001 + 3;
        n[k].size = 100;
    }
    for (int k = 0; k < HOT; k++)
        be_policy_insert(p, &n[k]), used += 100;
    for (int k = 0; k < HOT; k++)
        be_policy_hit(p, &n[k]);
    for (int k = HOT; k < HOT + STREAM + 1 + window_objects; k++) {
        while (used + 100 > 10000) {
            be_policy_node_t *v = be_policy_victim(p);
            BE_CHECK(v != NULL);
            hot_evicted += v - n < HOT;
            used -= v->size;
        }
        be_policy_insert(p, &n[k]);
        used += 100;
        if (k == HOT + STREAM) {
            be_policy_hit(p, &n[k]); /* seen twice: it will tie with probation's tail */
            BE_CHECK_INT(hot_evicted, window_objects);
        }
    }
    for (int k = HOT; k < HOT + STREAM; k++)
        BE_CHECK(!be_policy_promoted(&n[k]));
    BE_CHECK(be_policy_promoted(&n[HOT + STREAM]));
    BE_CHECK_INT(hot_evicted, window_objects + 1);
    BE_CHECK_INT(be_policy_bytes(p), used);
    be_policy_free(&p);
}

static void
test_policy_wtinylfu_admits_on_frequency(void)
{
    check_wtinylfu_admission(10000, 1);
    check_wtinylfu_admission(12000, 2);
}

/* W-TinyLFU's admission: with the main area full of keys seen 4 times, a stream of keys seen
 * once never gets in (each candidate loses its duel), whereas LRU flushes them all. */
static void
test_policy_wtinylfu_keeps_frequent_keys_through_a_scan(void)
{
    static be_policy_node_t nodes[200];
    for (int kind = 0; kind < BE_POLICY_N; kind += BE_POLICY_WTINYLFU) {
        be_policy_t *p = be_policy_new(kind, 1000);
        uint64_t used = 0;
        memset(nodes, 0, sizeof(nodes));
        for (int round = 0; round < 4; round++)
            for (int k = 0; k < 9; k++) { /* 9 hot keys of 100 bytes, each seen 4 times */
                if (round > 0) {
                    be_policy_hit(p, &nodes[k]);
                    continue;
                }
                nodes[k] = (be_policy_node_t){.hash = (uint64_t)k + 1, .size = 100};
                be_policy_insert(p, &nodes[k]);
                used += 100;
            }
        int hot_evicted = 0;
        for (int k = 9; k < 70; k++) { /* the scan: 6 x the cache */
            while (used + 100 > 1000) {
                be_policy_node_t *v = be_policy_victim(p);
                hot_evicted += v - nodes < 9;
                used -= v->size;
            }
            nodes[k] = (be_policy_node_t){.hash = (uint64_t)k + 1, .size = 100};
            be_policy_insert(p, &nodes[k]);
            used += 100;
        }
        BE_CHECK_INT(hot_evicted, kind == BE_POLICY_LRU ? 9 : 0);
        be_policy_free(&p);
    }
}

/* The simulator and a one-shard memory tier replay the same trace (blocks charged their
 * footprint, the simulator's capacity what the budget leaves beside the index): the same
 * hits under every policy. */
static void
test_policy_simulator_matches_memory_tier(void)
{
    be_key_t k0 = {{0}};
    for (int kind = 0; kind < BE_POLICY_N; kind++) {
        be_trace_t *t = be_trace_new();
        uint64_t x = 3;
        uint64_t budget = 30000;
        be_memcache_t *mc = be_memcache_new(budget, 1, kind);
        be_memcache_stats_t st;
        BE_CHECK(t != NULL && mc != NULL);
        be_memcache_stats(mc, &st);
        uint64_t base = st.bytes, live_hits = 0;
        for (int i = 0; i < 3000; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            uint64_t r = (x >> 33) % 60, id = r * r / 60;
            if ((x >> 59) == 0)
                id = 100 + (uint64_t)i; /* one-hit wonders */
            size_t size = 2000 + (size_t)(id * 7919 % 3000);
            be_block_t *probe = be_block_new(&k0, size); /* its footprint: size classes */
            BE_CHECK(probe != NULL);
            BE_CHECK_INT(be_trace_add(t, id, (uint32_t)be_block_footprint(probe)), BE_OK);
            be_block_unref(&probe);

            be_key_t k;
            uint64_t h = be_trace_key_hash(id);
            memset(&k, 0, sizeof(k));
            memcpy(k.d, &h, sizeof(h));
            memcpy(k.d + 8, &id, sizeof(id));
            be_block_t *b = be_memcache_lookup(mc, &k, i);
            if (b != NULL) {
                live_hits++;
            } else {
                b = be_block_new(&k, size);
                BE_CHECK(b != NULL);
                b->size = size;
                BE_CHECK_INT(be_memcache_insert(mc, b, i), BE_OK);
            }
            be_block_unref(&b);
        }
        be_memcache_stats(mc, &st);
        BE_CHECK(st.blocks <= 16); /* the index never grew: the capacities stayed equal */
        be_sim_result_t r;
        BE_CHECK_INT(be_policysim_run(t, kind, budget - base, &r), BE_OK);
        printf("# %s: %llu hits of 3000 in both\n", be_policy_name(kind),
               (unsigned long long)live_hits);
        BE_CHECK_INT(r.hits, live_hits);
        BE_CHECK(live_hits > 300);
        be_memcache_free(&mc);
        be_trace_free(&t);
    }
}

int
main(void)
{
    BE_RUN(test_policy_lru_matches_reference_model);
    BE_RUN(test_policy_sieve_matches_reference_model);
    BE_RUN(test_policy_s3fifo_matches_reference_model);
    BE_RUN(test_policy_wtinylfu_matches_reference_model);
    BE_RUN(test_policy_bytes_never_exceed_capacity);
    BE_RUN(test_policy_promoted_marks_the_main_area);
    BE_RUN(test_policy_wtinylfu_sketch_ages);
    BE_RUN(test_policy_wtinylfu_sketch_grows);
    BE_RUN(test_policy_wtinylfu_admits_on_frequency);
    BE_RUN(test_policy_wtinylfu_keeps_frequent_keys_through_a_scan);
    BE_RUN(test_policy_simulator_matches_memory_tier);
    BE_TEST_EXIT();
}
