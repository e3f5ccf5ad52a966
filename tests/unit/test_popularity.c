/*
 * test_popularity.c - Space-Saving bounds, the Zipf fit's accuracy, SHARDS against an exact
 * LRU simulation, decay, the memory bound, and the per-worker rings.
 *
 * Traces are synthetic with fixed seeds (splitmix64), so every figure printed here is
 * reproducible; the accuracy bounds are those of issue 6: |s - s_fit| <= 0.05 for
 * s in {0.7, 0.9, 1.1}, and a mean absolute error <= 0.02 of the predicted LRU hit ratio.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/popularity.h"
#include "test.h"

static uint64_t
splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double
uniform(uint64_t *state)
{
    return (double)(splitmix(state) >> 11) / 9007199254740992.0;
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

/* Zipf(s) over n items: the cumulative distribution, sampled by binary search. */
typedef struct {
    double *cdf;
    size_t n;
} zipf_t;

static void
zipf_init(zipf_t *z, size_t n, double s)
{
    z->n = n;
    z->cdf = malloc(n * sizeof(double));
    double sum = 0;
    for (size_t r = 0; r < n; r++) {
        sum += pow((double)(r + 1), -s);
        z->cdf[r] = sum;
    }
    for (size_t r = 0; r < n; r++)
        z->cdf[r] /= sum;
}

static size_t
zipf_draw(const zipf_t *z, uint64_t *st)
{
    double u = uniform(st);
    size_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static be_popularity_config_t
config(unsigned k, double rate, unsigned max_keys, uint64_t memory)
{
    be_popularity_config_t c = {.top_k = k,
                                .sample_rate = rate,
                                .mrc_max_keys = max_keys,
                                .half_life = 0,
                                .memory_size = memory,
                                .nrings = 0};
    return c;
}

static void
test_space_saving_exact_below_k(void)
{
    be_popularity_config_t c = config(64, 0.5, 1024, 1 << 20);
    be_popularity_t *p = be_popularity_new(&c);
    BE_CHECK(p != NULL);
    for (int i = 0; i < 20; i++)
        for (int j = 0; j <= i; j++) {
            be_key_t k = item_key((uint64_t)i);
            be_popularity_access(p, &k, 100, 0);
        }
    be_popularity_item_t top[64];
    size_t n = be_popularity_top(p, top, 64);
    BE_CHECK_INT(n, 20);
    for (size_t r = 0; r < n; r++) {
        be_key_t want = item_key(19 - r);
        BE_CHECK(memcmp(&top[r].key, &want, sizeof(want)) == 0);
        BE_CHECK_INT((long long)top[r].count, 20 - (long long)r);
        BE_CHECK_INT((long long)top[r].error, 0);
    }
    be_popularity_free(&p);
    BE_CHECK(p == NULL);
}

/* Every reported count bounds the true one from above, within its error. */
static void
test_space_saving_counts_within_error_bounds(void)
{
    enum { U = 5000, N = 200000, K = 100 };
    be_popularity_config_t c = config(K, 0.01, 1024, 1 << 20);
    be_popularity_t *p = be_popularity_new(&c);
    static unsigned truth[U];
    memset(truth, 0, sizeof(truth));
    zipf_t z;
    zipf_init(&z, U, 1.0);
    uint64_t st = 42;
    for (int i = 0; i < N; i++) {
        size_t x = zipf_draw(&z, &st);
        truth[x]++;
        be_key_t k = item_key(x);
        be_popularity_access(p, &k, 4096, 0);
    }
    be_popularity_item_t top[K];
    size_t n = be_popularity_top(p, top, K);
    BE_CHECK_INT(n, K);
    for (size_t r = 0; r < n; r++) {
        uint64_t id;
        memcpy(&id, top[r].key.d, 8);
        BE_CHECK(id < U);
        BE_CHECK(top[r].count >= truth[id]);
        BE_CHECK(top[r].count - top[r].error <= truth[id]);
        BE_CHECK(top[r].error <= (double)N / K);
    }
    /* the ten hottest items are the ten first ranks */
    for (size_t r = 0; r < 10; r++) {
        uint64_t id;
        memcpy(&id, top[r].key.d, 8);
        BE_CHECK_INT(id, r);
    }
    free(z.cdf);
    be_popularity_free(&p);
}

static void
test_zipf_mle_on_exact_counts(void)
{
    double c[1000];
    for (int r = 0; r < 1000; r++)
        c[r] = 1e6 * pow(r + 1, -0.9);
    double s = be_zipf_mle(c, 1000);
    BE_CHECK(fabs(s - 0.9) < 1e-4);
    BE_CHECK(be_zipf_mle(c, 1) == 0);
}

static void
fit_one(double s, double *got, unsigned *ranks)
{
    enum { U = 100000, N = 1000000, K = 4096 };
    be_popularity_config_t c = config(K, 0.01, 4096, 1 << 24);
    be_popularity_t *p = be_popularity_new(&c);
    zipf_t z;
    zipf_init(&z, U, s);
    uint64_t st = 1000 + (uint64_t)(s * 100);
    for (int i = 0; i < N; i++) {
        be_key_t k = item_key(zipf_draw(&z, &st));
        be_popularity_access(p, &k, 4096, 0);
    }
    be_popularity_zipf_t zf;
    be_popularity_zipf(p, &zf);
    *got = zf.exponent;
    *ranks = zf.ranks;
    free(z.cdf);
    be_popularity_free(&p);
}

static void
test_zipf_exponent_within_005(void)
{
    const double want[] = {0.7, 0.9, 1.1};
    for (int i = 0; i < 3; i++) {
        double got;
        unsigned ranks;
        fit_one(want[i], &got, &ranks);
        printf("  zipf s=%.2f: fitted %.4f (error %+.4f) over %u ranks, 1e6 requests, 1e5 keys, "
               "K=4096\n",
               want[i], got, got - want[i], ranks);
        BE_CHECK(ranks >= 8);
        BE_CHECK(fabs(got - want[i]) <= 0.05);
    }
}

/* ---- SHARDS against an exact LRU simulation --------------------------------------------- */

typedef struct {
    int32_t *prev, *next;
    uint8_t *in;
    int32_t head, tail;
    uint64_t used, cap;
} lru_t;

static double
lru_hit_ratio(const uint32_t *trace, size_t n, const uint32_t *size, size_t u, uint64_t cap)
{
    lru_t l = {calloc(u, 4), calloc(u, 4), calloc(u, 1), -1, -1, 0, cap};
    uint64_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t x = (int32_t)trace[i];
        if (l.in[x]) {
            hits++;
            if (l.head == x)
                continue;
            /* unlink */
            l.next[l.prev[x]] = l.next[x];
            if (l.next[x] >= 0)
                l.prev[l.next[x]] = l.prev[x];
            else
                l.tail = l.prev[x];
        } else {
            if (size[x] > cap)
                continue;
            l.in[x] = 1;
            l.used += size[x];
            while (l.used > cap) {
                int32_t v = l.tail;
                l.tail = l.prev[v];
                if (l.tail >= 0)
                    l.next[l.tail] = -1;
                else
                    l.head = -1;
                l.in[v] = 0;
                l.used -= size[v];
            }
        }
        /* push front */
        l.prev[x] = -1;
        l.next[x] = l.head;
        if (l.head >= 0)
            l.prev[l.head] = x;
        l.head = x;
        if (l.tail < 0)
            l.tail = x;
    }
    free(l.prev);
    free(l.next);
    free(l.in);
    return (double)hits / (double)n;
}

static double
mrc_error(double s, double rate, unsigned max_keys, double *worst, be_popularity_info_t *out)
{
    enum { U = 200000, N = 1000000 };
    const uint64_t memory = 64ull << 20;
    static uint32_t trace[N], size[U];
    zipf_t z;
    zipf_init(&z, U, s);
    uint64_t st = 7;
    for (size_t i = 0; i < U; i++)
        size[i] = 1024 + (uint32_t)(splitmix(&st) % (15 * 1024)); /* 1k..16k */
    for (size_t i = 0; i < N; i++)
        trace[i] = (uint32_t)zipf_draw(&z, &st);
    be_popularity_config_t c = config(4096, rate, max_keys, memory);
    be_popularity_t *p = be_popularity_new(&c);
    for (size_t i = 0; i < N; i++) {
        be_key_t k = item_key(trace[i]);
        be_popularity_access(p, &k, size[trace[i]], 0);
    }
    double bytes[BE_MRC_POINTS], hit[BE_MRC_POINTS];
    size_t n = be_popularity_mrc(p, bytes, hit);
    double sum = 0;
    int points = 0;
    *worst = 0;
    for (size_t i = 0; i < n; i += 4) { /* 13 sizes: two per octave, 1/8x .. 8x */
        double exact = lru_hit_ratio(trace, N, size, U, (uint64_t)bytes[i]);
        double e = fabs(exact - hit[i]);
        sum += e;
        *worst = e > *worst ? e : *worst;
        points++;
    }
    be_popularity_info_t info;
    be_popularity_info(p, &info);
    if (out != NULL)
        *out = info;
    printf("  shards s=%.1f R=%.3f: %zu points, sampled keys %llu, rate now %.4f, memory %llu B\n",
           s, rate, n, (unsigned long long)info.sampled_keys, info.sample_rate,
           (unsigned long long)info.memory_bytes);
    free(z.cdf);
    be_popularity_free(&p);
    return points > 0 ? sum / points : 1;
}

static void
test_shards_mrc_mae_below_002(void)
{
    double worst;
    /* the defaults: R = 0.1, at most 32768 sampled keys, K = 4096 */
    double mae = mrc_error(0.8, 0.1, 32768, &worst, NULL);
    printf("  shards vs exact LRU: mean absolute error %.4f, worst point %.4f\n", mae, worst);
    BE_CHECK(mae <= 0.02);
    /* ten times sparser: ~1700 sampled keys of 170k */
    mae = mrc_error(0.8, 0.01, 32768, &worst, NULL);
    printf("  shards vs exact LRU: mean absolute error %.4f, worst point %.4f\n", mae, worst);
    BE_CHECK(mae <= 0.03);
}

/* With a tiny key bound the rate halves and memory stays fixed; the curve stays usable. */
static void
test_shards_key_bound_lowers_rate(void)
{
    double worst;
    be_popularity_info_t info;
    double mae = mrc_error(0.8, 0.5, 2048, &worst, &info);
    printf("  shards bounded to 2048 keys: mean absolute error %.4f, worst %.4f\n", mae, worst);
    BE_CHECK(info.sample_rate < 0.5); /* halved at least once */
    BE_CHECK(info.sampled_keys <= 2048);
    BE_CHECK(mae <= 0.05);
}

static void
test_decay_halves_counts_each_half_life(void)
{
    be_popularity_config_t c = config(16, 1.0, 1024, 1 << 20);
    c.half_life = 1000;
    be_popularity_t *p = be_popularity_new(&c);
    be_key_t a = item_key(1), b = item_key(2);
    for (int i = 0; i < 8; i++)
        be_popularity_access(p, &a, 10, 5000);
    be_popularity_access(p, &b, 10, 6000); /* a: 8 -> 4 */
    be_popularity_access(p, &b, 10, 8500); /* two half-lives: a: 4 -> 1, b: 1 -> 0.25 */
    be_popularity_item_t top[4];
    size_t n = be_popularity_top(p, top, 4);
    BE_CHECK_INT(n, 2);
    BE_CHECK(memcmp(&top[0].key, &b, sizeof(b)) == 0); /* b: 1 * 1/4 + 1 = 1.25 */
    BE_CHECK(fabs(top[0].count - 1.25) < 1e-9);
    BE_CHECK(memcmp(&top[1].key, &a, sizeof(a)) == 0); /* a: 8 / 2 / 4 = 1 */
    BE_CHECK(fabs(top[1].count - 1.0) < 1e-9);
    be_popularity_free(&p);
}

/* A load that moves: the old hot block had far more requests in all, yet a few half-lives
 * after the change the new one leads, in the ranking and in the curve's short distances. */
static void
test_decay_follows_a_changing_load(void)
{
    be_popularity_config_t c = config(16, 1.0, 1024, 1 << 20);
    c.half_life = 1000;
    be_popularity_t *p = be_popularity_new(&c);
    be_key_t old_hot = item_key(1), new_hot = item_key(2);
    for (int i = 0; i < 10000; i++)
        be_popularity_access(p, &old_hot, 100, i / 10); /* 0..999 ms */
    for (int i = 0; i < 500; i++)
        be_popularity_access(p, &new_hot, 100, 10000 + i); /* ten half-lives later */
    be_popularity_item_t top[2];
    BE_CHECK_INT(be_popularity_top(p, top, 2), 2);
    BE_CHECK(memcmp(&top[0].key, &new_hot, sizeof(new_hot)) == 0);
    BE_CHECK(top[1].count < 20);
    be_popularity_free(&p);
}

typedef struct {
    be_popularity_t *p;
    unsigned ring;
    int n;
} producer_t;

static void *
produce(void *arg)
{
    producer_t *pr = arg;
    for (int i = 0; i < pr->n; i++) {
        be_key_t k = item_key((uint64_t)(i % 10));
        be_popularity_record(pr->p, pr->ring, &k, 4096);
    }
    return NULL;
}

/* Two producers, one consumer draining while they run: nothing is lost or invented. */
static void
test_rings_deliver_every_reference_or_count_a_drop(void)
{
    be_popularity_config_t c = config(32, 0.5, 1024, 1 << 20);
    c.nrings = 2;
    c.ring_capacity = 256;
    be_popularity_t *p = be_popularity_new(&c);
    BE_CHECK(p != NULL);
    producer_t pr[2] = {{p, 0, 200000}, {p, 1, 200000}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, produce, &pr[i]);
    size_t got = 0;
    for (int spin = 0; spin < 1000000 && got < 400000; spin++) {
        got += be_popularity_drain(p, 0);
        be_popularity_info_t info;
        be_popularity_info(p, &info);
        if (got + info.dropped >= 400000)
            break;
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    got += be_popularity_drain(p, 0);
    be_popularity_info_t info;
    be_popularity_info(p, &info);
    BE_CHECK_INT(got + info.dropped, 400000);
    BE_CHECK_INT(info.references, got);
    be_popularity_item_t top[32];
    size_t n = be_popularity_top(p, top, 32);
    BE_CHECK_INT(n, 10);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += top[i].count;
    BE_CHECK_INT((long long)sum, (long long)got);

    /* a full ring drops and counts */
    be_popularity_free(&p);
    c.ring_capacity = 4;
    p = be_popularity_new(&c);
    be_key_t k = item_key(3);
    for (int i = 0; i < 10; i++)
        be_popularity_record(p, 1, &k, 1);
    be_popularity_info(p, &info);
    BE_CHECK_INT(info.dropped, 6);
    BE_CHECK_INT(be_popularity_drain(p, 0), 4);
    be_popularity_free(&p);
}

static void
test_bad_config_is_refused(void)
{
    be_popularity_config_t c = config(1, 0.01, 1024, 1 << 20);
    BE_CHECK(be_popularity_new(&c) == NULL);
    c = config(16, 0, 1024, 1 << 20);
    BE_CHECK(be_popularity_new(&c) == NULL);
    c = config(16, 1.5, 1024, 1 << 20);
    BE_CHECK(be_popularity_new(&c) == NULL);
}

int
main(void)
{
    BE_RUN(test_space_saving_exact_below_k);
    BE_RUN(test_space_saving_counts_within_error_bounds);
    BE_RUN(test_zipf_mle_on_exact_counts);
    BE_RUN(test_zipf_exponent_within_005);
    BE_RUN(test_shards_mrc_mae_below_002);
    BE_RUN(test_shards_key_bound_lowers_rate);
    BE_RUN(test_decay_halves_counts_each_half_life);
    BE_RUN(test_decay_follows_a_changing_load);
    BE_RUN(test_rings_deliver_every_reference_or_count_a_drop);
    BE_RUN(test_bad_config_is_refused);
    return be_test_failed ? 1 : 0;
}
