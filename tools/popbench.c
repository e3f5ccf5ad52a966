/*
 * popbench.c - what one block request costs the popularity statistics, in nanoseconds:
 * the worker's be_popularity_record() (the hot path) and the main thread's drain (Space-Saving,
 * SHARDS) per reference, on a Zipf(0.9) stream over 100k keys with the default settings.
 *
 *   build/popbench [REFERENCES]      (default 10,000,000)
 *
 * Single-threaded: records 8192 references, drains them, repeats; the two phases are timed
 * apart. A request answered by blockedge costs tens of microseconds of CPU, so the figures
 * here divided by that give the overhead bench/popularity-overhead tries to see in req/s.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blockedge/popularity.h"

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t
splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int
main(int argc, char **argv)
{
    enum { U = 100000, BATCH = 8192 };
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    be_key_t *keys = malloc(U * sizeof(*keys));
    double *cdf = malloc(U * sizeof(*cdf));
    uint32_t *trace = malloc(BATCH * 64 * sizeof(*trace));
    if (keys == NULL || cdf == NULL || trace == NULL || n <= 0)
        return 1;
    uint64_t st = 1;
    double sum = 0;
    for (int i = 0; i < U; i++) {
        for (int w = 0; w < 4; w++) {
            uint64_t v = splitmix(&st);
            memcpy(keys[i].d + 8 * w, &v, 8);
        }
        sum += pow(i + 1, -0.9);
        cdf[i] = sum;
    }
    for (int i = 0; i < BATCH * 64; i++) {
        double u = (double)(splitmix(&st) >> 11) / 9007199254740992.0 * sum;
        int lo = 0, hi = U - 1;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (cdf[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        trace[i] = (uint32_t)lo;
    }
    be_popularity_config_t c = {.top_k = 4096,
                                .sample_rate = 0.1,
                                .mrc_max_keys = 32768,
                                .half_life = 300000,
                                .memory_size = 256u << 20,
                                .nrings = 1,
                                .ring_capacity = BE_POPULARITY_RING};
    be_popularity_t *p = be_popularity_new(&c);
    if (p == NULL)
        return 1;
    double t_rec = 0, t_drain = 0;
    long done = 0;
    for (long i = 0; done < n; i++) {
        const uint32_t *t = trace + (size_t)(i % 64) * BATCH;
        double t0 = now_ns();
        for (int j = 0; j < BATCH; j++)
            be_popularity_record(p, 0, &keys[t[j]], 4096 + 128);
        double t1 = now_ns();
        be_popularity_drain(p, (be_msec_t)(done / 1000));
        double t2 = now_ns();
        t_rec += t1 - t0;
        t_drain += t2 - t1;
        done += BATCH;
    }
    be_popularity_info_t info;
    be_popularity_info(p, &info);
    printf("references %ld: record %.1f ns each (worker, hot path), drain %.1f ns each (main "
           "thread); dropped %llu, sampled keys %llu, memory %llu bytes\n",
           done, t_rec / (double)done, t_drain / (double)done, (unsigned long long)info.dropped,
           (unsigned long long)info.sampled_keys, (unsigned long long)info.memory_bytes);
    be_popularity_free(&p);
    free(keys);
    free(cdf);
    free(trace);
    return 0;
}
