/*
 * test_mrcsim.c - the miniature simulations' curve (mrcsim.c, through popularity.h) against a
 * full simulation of the same policy (policysim.h) at each of its sizes, and its memory bound.
 *
 * Traces are synthetic with fixed seeds (splitmix64), so every figure printed here is
 * reproducible. The bound asserted: at most 3 points of hit ratio at each size, 2 for S3-FIFO
 * (the default policy) at the default rate.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/policy.h"
#include "blockedge/policysim.h"
#include "blockedge/popularity.h"
#include "test.h"

#define POINTS (2 * BE_MRC_OCTAVES + 1)

static uint64_t
splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Item i's key: i in the first bytes, a scramble of i in the rest. */
static be_key_t
item_key(uint64_t i)
{
    be_key_t k;
    uint64_t st = i * 7919 + 1;
    for (int w = 0; w < 4; w++) {
        uint64_t v = w == 0 ? i : splitmix(&st);
        memcpy(k.d + 8 * w, &v, 8);
    }
    return k;
}

typedef struct {
    uint32_t *item, *size;
    size_t n;
} trace_t;

/* n references over u items, Zipf(s) popularity (ranks shuffled over the ids), sizes
 * 1..16 KiB; with scan > 0, every scan-th reference is a key never seen again. */
static trace_t
make_trace(size_t u, size_t n, double s, size_t scan, uint64_t seed)
{
    trace_t t = {malloc(n * sizeof(uint32_t)), malloc((u + n) * sizeof(uint32_t)), n};
    double *cdf = malloc(u * sizeof(double)), sum = 0;
    for (size_t r = 0; r < u; r++)
        cdf[r] = sum += pow((double)(r + 1), -s);
    uint64_t st = seed;
    for (size_t i = 0; i < u + n; i++)
        t.size[i] = 1024 + (uint32_t)(splitmix(&st) % (15 * 1024));
    size_t fresh = u;
    for (size_t i = 0; i < n; i++) {
        if (scan > 0 && i % scan == 0) {
            t.item[i] = (uint32_t)fresh++;
            continue;
        }
        double x = (double)(splitmix(&st) >> 11) / 9007199254740992.0 * sum;
        size_t lo = 0, hi = u - 1;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (cdf[mid] < x)
                lo = mid + 1;
            else
                hi = mid;
        }
        t.item[i] = (uint32_t)lo;
    }
    free(cdf);
    return t;
}

/* The miniature curve of kind against full replays: *worst, the worst absolute error (1 when
 * a check failed). */
static void
curve_error(const trace_t *t, int kind, double rate, unsigned max_keys, uint64_t memory,
            be_popularity_info_t *info_out, double *worst_out)
{
    *worst_out = 1;
    be_popularity_config_t c = {.top_k = 4096,
                                .sample_rate = rate,
                                .mrc_max_keys = max_keys,
                                .memory_size = memory,
                                .policy = kind};
    be_popularity_t *p = be_popularity_new(&c);
    BE_CHECK(p != NULL);
    be_trace_t *full = be_trace_new();
    for (size_t i = 0; i < t->n; i++) {
        be_key_t k = item_key(t->item[i]);
        be_popularity_access(p, &k, t->size[t->item[i]], 0);
        BE_CHECK(be_trace_add(full, t->item[i], t->size[t->item[i]]) == BE_OK);
    }
    double bytes[POINTS], hit[POINTS];
    int got;
    size_t n = be_popularity_policy_mrc(p, &got, bytes, hit);
    BE_CHECK_INT(n, POINTS);
    BE_CHECK_INT(got, kind);
    double lru_bytes[BE_MRC_POINTS], lru_hit[BE_MRC_POINTS];
    BE_CHECK_INT(be_popularity_mrc(p, lru_bytes, lru_hit), BE_MRC_POINTS);
    double worst = 0, sum = 0;
    printf("  %-8s R=%.3f  size        full    mini    error   (SHARDS lru)\n",
           be_policy_name(kind), rate);
    for (size_t i = 0; i < n; i++) {
        BE_CHECK(bytes[i] == lru_bytes[i * BE_MRC_PER_OCTAVE]); /* the same sizes */
        be_sim_result_t r;
        BE_CHECK(be_policysim_run(full, kind, (uint64_t)bytes[i], &r) == BE_OK);
        double exact = (double)r.hits / (double)r.requests;
        double e = fabs(exact - hit[i]);
        sum += e;
        worst = e > worst ? e : worst;
        printf("%26.0f  %.4f  %.4f  %+.4f  (%.4f)\n", bytes[i], exact, hit[i], hit[i] - exact,
               lru_hit[i * BE_MRC_PER_OCTAVE]);
    }
    be_popularity_info_t info;
    be_popularity_info(p, &info);
    printf("  mean abs error %.4f, worst %.4f; sampled keys %llu, rate now %.4f, "
           "memory %llu B (bound %llu B)\n",
           sum / (double)n, worst, (unsigned long long)info.policy_sampled_keys,
           info.policy_sample_rate, (unsigned long long)info.policy_memory_bytes,
           (unsigned long long)info.policy_memory_bound);
    BE_CHECK(info.policy_memory_bytes <= info.policy_memory_bound);
    BE_CHECK(info.policy_sampled_keys <= (max_keys / 4 < 16 ? 16 : max_keys / 4));
    if (info_out != NULL)
        *info_out = info;
    be_trace_free(&full);
    be_popularity_free(&p);
    *worst_out = worst;
}

static double
worst_error(const trace_t *t, int kind, double rate, unsigned max_keys, be_popularity_info_t *info)
{
    double worst;
    curve_error(t, kind, rate, max_keys, 64ull << 20, info, &worst);
    return worst;
}

/* Under a sanitizer (several times slower) each accuracy check runs for S3-FIFO alone: the
 * memory and thread checks need the code paths, not every policy's figures, which the normal
 * tree checks. */
static int
every_policy(void)
{
    return getenv("BE_TEST_SANITIZED") == NULL;
}

/* The defaults (R = 0.1, mrc_max_keys 32768) on 200k keys, Zipf 0.8, 1-16 KiB blocks. */
static void
test_mrcsim_within_3_points_of_full_simulation(void)
{
    trace_t t = make_trace(200000, 1000000, 0.8, 0, 11);
    BE_CHECK(worst_error(&t, BE_POLICY_S3FIFO, 0.1, 32768, NULL) <= 0.02);
    if (every_policy()) {
        BE_CHECK(worst_error(&t, BE_POLICY_WTINYLFU, 0.1, 32768, NULL) <= 0.03);
        BE_CHECK(worst_error(&t, BE_POLICY_SIEVE, 0.1, 32768, NULL) <= 0.03);
    }
    free(t.item);
    free(t.size);
}

/* A load with one reference in four a one-time key (a scan): where S3-FIFO and W-TinyLFU
 * part from LRU most; the curve must still follow the policy. */
static void
test_mrcsim_follows_policy_under_scan(void)
{
    trace_t t = make_trace(200000, 1000000, 0.9, 4, 12);
    BE_CHECK(worst_error(&t, BE_POLICY_S3FIFO, 0.1, 32768, NULL) <= 0.02);
    if (every_policy())
        BE_CHECK(worst_error(&t, BE_POLICY_WTINYLFU, 0.1, 32768, NULL) <= 0.03);
    free(t.item);
    free(t.size);
}

/* A key bound too small for the rate asked: the rate halves (0.5 -> 0.0625 here, 4096 keys
 * tracked), the keys and the bytes stay bounded, and the curve stays within 5 points. */
static void
test_mrcsim_key_bound_lowers_rate(void)
{
    trace_t t = make_trace(200000, 1000000, 0.8, 0, 13);
    be_popularity_info_t info;
    double worst = worst_error(&t, BE_POLICY_S3FIFO, 0.5, 16384, &info);
    BE_CHECK(info.policy_sample_rate < 0.5);
    BE_CHECK(worst <= 0.05);
    free(t.item);
    free(t.size);
}

/* Under LRU there is no miniature simulation: SHARDS' curve is the policy's. */
static void
test_mrcsim_absent_under_lru(void)
{
    be_popularity_config_t c = {
        .top_k = 64, .sample_rate = 1, .mrc_max_keys = 1024, .memory_size = 1 << 20};
    be_popularity_t *p = be_popularity_new(&c);
    BE_CHECK(p != NULL);
    for (int i = 0; i < 1000; i++) {
        be_key_t k = item_key((uint64_t)i % 50);
        be_popularity_access(p, &k, 4096, 0);
    }
    double bytes[POINTS], hit[POINTS];
    int kind = -1;
    BE_CHECK_INT(be_popularity_policy_mrc(p, &kind, bytes, hit), 0);
    BE_CHECK_INT(kind, BE_POLICY_LRU);
    be_popularity_info_t info;
    be_popularity_info(p, &info);
    BE_CHECK_INT(info.policy_memory_bytes, 0);
    be_popularity_free(&p);
}

int
main(void)
{
    BE_RUN(test_mrcsim_absent_under_lru);
    BE_RUN(test_mrcsim_within_3_points_of_full_simulation);
    BE_RUN(test_mrcsim_follows_policy_under_scan);
    BE_RUN(test_mrcsim_key_bound_lowers_rate);
    BE_TEST_EXIT();
}
