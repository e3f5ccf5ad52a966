/*
 * test_refsim.c - tools/cachesim's offline references (tools/refsim.h): static, the best pinned
 * set, and opt, Belady's farthest next request.
 *
 * Each scripted trace states the hits worked out by hand beside it; opt with one object size is
 * also checked against an exhaustive search of every choice a cache could make (bypass, or
 * which object to evict) on random short traces, which is what makes it the optimum.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/refsim.h"
#include "blockedge/policy.h"
#include "blockedge/policysim.h"
#include "test.h"

/* A trace from a string of one-letter keys, every object of `size` bytes, or the sizes given
 * per letter ('A' + i has sizes[i]). */
static be_trace_t *
trace_of(const char *keys, uint32_t size, const uint32_t *sizes)
{
    be_trace_t *t = be_trace_new();
    for (const char *c = keys; t != NULL && *c; c++)
        if (be_trace_add(t, (uint64_t)*c, sizes ? sizes[*c - 'A'] : size) != BE_OK)
            be_trace_free(&t);
    return t;
}

/* Requests per byte: B 2, A 1.5, C 1, D 1 (C seen first). With 4 bytes B and A are pinned (3
 * bytes), C (3 bytes) does not fit in the 1 left and is skipped, D (1 byte) does. */
static void
test_static_ranks_per_byte_and_skips_what_does_not_fit(void)
{
    static const uint32_t sizes[] = {2, 1, 3, 1};
    be_trace_t *t = trace_of("ABCDABCAC", 0, sizes);
    BE_CHECK(t != NULL);
    be_sim_result_t r;
    uint8_t pinned[4];
    BE_CHECK(ref_static_run(t, 4, &r, pinned) == BE_OK);
    BE_CHECK_INT(r.requests, 9);
    BE_CHECK_INT(r.hits, 6); /* A x3, B x2, D x1 */
    BE_CHECK_INT(r.bytes, 18);
    BE_CHECK_INT(r.hit_bytes, 9);
    BE_CHECK_INT(pinned[0], 1);
    BE_CHECK_INT(pinned[1], 1);
    BE_CHECK_INT(pinned[2], 0);
    BE_CHECK_INT(pinned[3], 1);
    BE_CHECK(ref_static_run(t, 0, &r, NULL) == BE_OK);
    BE_CHECK_INT(r.hits, 0);
    BE_CHECK(ref_static_run(t, 7, &r, NULL) == BE_OK); /* everything: no cold misses */
    BE_CHECK_INT(r.hits, 9);
    be_trace_free(&t);
}

/* Equal counts and sizes: the keys seen first are pinned. */
static void
test_static_breaks_ties_by_first_request(void)
{
    be_trace_t *t = trace_of("CABCABCAB", 10, NULL);
    BE_CHECK(t != NULL);
    be_sim_result_t r;
    uint8_t pinned[3];
    BE_CHECK(ref_static_run(t, 25, &r, pinned) == BE_OK); /* room for two */
    BE_CHECK_INT(r.hits, 6);
    BE_CHECK_INT(pinned[0], 1); /* C, id 0 */
    BE_CHECK_INT(pinned[1], 1); /* A */
    BE_CHECK_INT(pinned[2], 0); /* B */
    be_trace_free(&t);
}

/* ABC three times in two slots: LRU always evicts the key asked for next and hits nothing. opt
 * keeps A and B and never caches C (B always comes back before C): A and B hit on their second
 * and third rounds. */
static void
test_opt_keeps_what_comes_back_first(void)
{
    be_trace_t *t = trace_of("ABCABCABC", 1, NULL);
    BE_CHECK(t != NULL);
    be_sim_result_t r, lru;
    BE_CHECK(ref_opt_run(t, 2, &r) == BE_OK);
    BE_CHECK_INT(r.requests, 9);
    BE_CHECK_INT(r.hits, 4);
    BE_CHECK_INT(r.evictions, 0);
    BE_CHECK(be_policysim_run(t, BE_POLICY_LRU, 2, &lru) == BE_OK);
    BE_CHECK_INT(lru.hits, 0);
    BE_CHECK(ref_opt_run(t, 3, &r) == BE_OK); /* all three fit: only the first round misses */
    BE_CHECK_INT(r.hits, 6);
    BE_CHECK(ref_opt_run(t, 0, &r) == BE_OK);
    BE_CHECK_INT(r.hits, 0);
    be_trace_free(&t);
}

/* The textbook reference string 7 0 1 2 0 3 0 4 2 3 0 3 2 1 2 0 1 7 0 1 in three frames: OPT
 * with every miss cached makes 9 faults (11 hits); caching a miss only when it comes back
 * sooner than what it would replace gains one more: 4 (asked for once) is not cached at request
 * 7, so 0 stays and hits at request 10. */
static void
test_opt_textbook_string(void)
{
    be_trace_t *t = trace_of("HABCADAECDADCBCABHAB", 1, NULL); /* 7 = H, 0 = A, 1 = B, ... */
    BE_CHECK(t != NULL);
    be_sim_result_t r;
    BE_CHECK(ref_opt_run(t, 3, &r) == BE_OK);
    BE_CHECK_INT(r.hits, 12);
    be_trace_free(&t);
}

/* The most hits any cache of `cap` objects can have on keys[from..n-1] holding the set `mask`
 * (one bit per key 0..7): a hit, or on a miss a bypass, an insert into a free slot, or an
 * insert in place of any cached key. memo: (n + 1) x 256 entries, -1 = not known yet. */
static int
best_hits(const uint8_t *keys, int n, int from, unsigned mask, int cap, int *memo)
{
    if (from == n)
        return 0;
    int *m = &memo[from * 256 + (int)mask];
    if (*m >= 0)
        return *m;
    unsigned k = 1u << keys[from];
    int best;
    if (mask & k) {
        best = 1 + best_hits(keys, n, from + 1, mask, cap, memo);
    } else {
        best = best_hits(keys, n, from + 1, mask, cap, memo);
        if (__builtin_popcount(mask) < cap) {
            int h = best_hits(keys, n, from + 1, mask | k, cap, memo);
            best = h > best ? h : best;
        }
        for (unsigned v = 1; v < 256 && __builtin_popcount(mask) == cap; v <<= 1)
            if (mask & v) {
                int h = best_hits(keys, n, from + 1, (mask & ~v) | k, cap, memo);
                best = h > best ? h : best;
            }
    }
    return *m = best;
}

/* One object size: opt's hits equal the exhaustive optimum on 300 random traces of 24 requests
 * over 6 keys, skewed towards the first ones, in 1 to 4 slots. */
static void
test_opt_is_the_optimum_for_one_size(void)
{
    uint64_t seed = 42;
    int memo[25 * 256];
    for (int trial = 0; trial < 300; trial++) {
        uint8_t keys[24];
        char s[25];
        for (int i = 0; i < 24; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            unsigned u = (unsigned)(seed >> 33) % 21; /* key k with weight 6 - k */
            uint8_t k = 0;
            for (unsigned w = 6; u >= w; w--)
                u -= w, k++;
            keys[i] = k;
            s[i] = (char)('A' + k);
        }
        s[24] = '\0';
        int cap = 1 + trial % 4;
        memset(memo, 0xff, sizeof(memo));
        int want = best_hits(keys, 24, 0, 0, cap, memo);
        be_trace_t *t = trace_of(s, 4096, NULL);
        BE_CHECK(t != NULL);
        be_sim_result_t r;
        BE_CHECK(ref_opt_run(t, (uint64_t)cap * 4096, &r) == BE_OK);
        if ((int)r.hits != want)
            fprintf(stderr, "trace %s in %d slots\n", s, cap);
        BE_CHECK_INT(r.hits, want);
        be_trace_free(&t);
    }
}

/* Mixed sizes, 2 bytes: Y and Z (1 byte) are cached, then X (2 bytes) is asked for.
 * "YZXYXZ": X comes back (4) after Y (3) but before Z (5); evicting Z alone does not make room,
 * so X is not cached and nothing leaves: Y and Z both hit (2, the optimum).
 * "YZXXYZ": X comes back (3) before both, which leave for it: X hits once, Y and Z miss (1),
 * where keeping Y and Z would hit twice: farthest next use is a heuristic for mixed sizes. */
static void
test_opt_mixed_sizes_farthest_next_use(void)
{
    static const uint32_t sizes[] = {['X' - 'A'] = 2, ['Y' - 'A'] = 1, ['Z' - 'A'] = 1};
    be_trace_t *t = trace_of("YZXYXZ", 0, sizes);
    BE_CHECK(t != NULL);
    be_sim_result_t r;
    BE_CHECK(ref_opt_run(t, 2, &r) == BE_OK);
    BE_CHECK_INT(r.hits, 2);
    BE_CHECK_INT(r.evictions, 0);
    BE_CHECK_INT(r.hit_bytes, 2);
    be_trace_free(&t);
    t = trace_of("YZXXYZ", 0, sizes);
    BE_CHECK(t != NULL);
    BE_CHECK(ref_opt_run(t, 2, &r) == BE_OK);
    BE_CHECK_INT(r.hits, 1);
    BE_CHECK_INT(r.evictions, 2);
    BE_CHECK_INT(r.hit_bytes, 2);
    BE_CHECK(ref_static_run(t, 2, &r, NULL) == BE_OK); /* Y and Z pinned: 2 hits per byte */
    BE_CHECK_INT(r.hits, 4);
    BE_CHECK(ref_opt_run(t, 1, &r) == BE_OK); /* X, larger than the cache, is never cached; */
    BE_CHECK_INT(r.hits, 1);                  /* Y stays (back before Z) and hits once */
    be_trace_free(&t);
}

static void
test_names_are_not_policies(void)
{
    BE_CHECK_INT(ref_parse("static"), REF_STATIC);
    BE_CHECK_INT(ref_parse("opt"), REF_OPT);
    BE_CHECK_INT(ref_parse("lru"), -1);
    BE_CHECK(be_policy_parse("opt") < 0);
    BE_CHECK(be_policy_parse("static") < 0);
}

int
main(void)
{
    BE_RUN(test_static_ranks_per_byte_and_skips_what_does_not_fit);
    BE_RUN(test_static_breaks_ties_by_first_request);
    BE_RUN(test_opt_keeps_what_comes_back_first);
    BE_RUN(test_opt_textbook_string);
    BE_RUN(test_opt_is_the_optimum_for_one_size);
    BE_RUN(test_opt_mixed_sizes_farthest_next_use);
    BE_RUN(test_names_are_not_policies);
    printf("%d checks\n", be_test_checks);
    return be_test_failed;
}
