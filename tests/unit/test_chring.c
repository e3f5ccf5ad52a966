/*
 * test_chring.c - the HAProxy consistent-hash ring model (tools/chring.h) and the cluster replay
 * built on it (tools/clustersim.h), both used by tools/cachesim --cluster.
 *
 * The known answers were measured through HAProxy 2.6.12 (tests/integration/89_cluster_sim.sh:
 * three servers with id 1..3, balance uri path-only, hash-type consistent). Keys are synthetic
 * with fixed seeds, so every figure is reproducible.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/chring.h"
#include "../../tools/clustersim.h"
#include "blockedge/policy.h"
#include "blockedge/policysim.h"
#include "test.h"

static uint64_t
splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The ring position of `/blocks/<64 hex>` for a key made from i. */
static uint32_t
key_hash(uint64_t i)
{
    char path[80];
    uint64_t st = i;
    int n = snprintf(path, sizeof(path), "/blocks/");
    for (int w = 0; w < 4; w++)
        n += snprintf(path + n, sizeof(path) - (size_t)n, "%016llx",
                      (unsigned long long)splitmix(&st));
    return chring_path_hash(path, (size_t)n, 1);
}

static void
ring_of(chring_t *r, uint32_t servers)
{
    memset(r, 0, sizeof(*r));
    for (uint32_t s = 0; s < servers; s++)
        chring_add(r, s, s + 1, 1);
}

static void
test_hash_functions(void)
{
    BE_CHECK_INT(chring_sdbm("", 0), 0);
    BE_CHECK_INT(chring_sdbm("a", 1), 97);
    BE_CHECK_INT(chring_sdbm("ab", 2), 98 + 97 * 65599);
    /* path-only hashing stops at the query */
    BE_CHECK_INT(chring_path_hash("/blocks/ab?x=1", 14, 0), chring_sdbm("/blocks/ab", 10));
    BE_CHECK_INT(chring_path_hash("/a", 2, 1), chring_full_hash(chring_sdbm("/a", 2)));
    BE_CHECK(chring_full_hash(0) != 0);
    BE_CHECK(chring_full_hash(1) != chring_full_hash(2));
}

static void
test_points_per_server(void)
{
    chring_t r;
    ring_of(&r, 3);
    BE_CHECK_INT(r.n, 3 * 16);
    for (size_t i = 1; i < r.n; i++)
        BE_CHECK(r.pt[i - 1].key <= r.pt[i].key);
    chring_add(&r, 3, 4, 2); /* weight 2: 32 points */
    BE_CHECK_INT(r.n, 5 * 16);
    chring_free(&r);
}

/* The nearer of the two neighbouring points wins, the one before on a tie, across the wrap. */
static void
test_lookup_nearest(void)
{
    chring_point_t pts[2] = {{100, 0, 0}, {200, 1, 1}};
    chring_t r = {pts, 2, 2, 2};
    BE_CHECK_INT(chring_lookup(&r, 149), 0);
    BE_CHECK_INT(chring_lookup(&r, 150), 0);
    BE_CHECK_INT(chring_lookup(&r, 151), 1);
    BE_CHECK_INT(chring_lookup(&r, 100), 0);
    BE_CHECK_INT(chring_lookup(&r, 50), 0);
    BE_CHECK_INT(chring_lookup(&r, 300), 1);
    BE_CHECK_INT(chring_lookup(&r, 0xffffffffu), 0); /* 101 past 200, 101 before 100 (wrapped) */
    chring_t empty = {0};
    BE_CHECK_INT(chring_lookup(&empty, 5), -1);
}

/* Placements HAProxy 2.6.12 made for blocks of tests/integration/89_cluster_sim.sh. */
static void
test_matches_haproxy(void)
{
    static const struct {
        const char *key;
        int server_id;
    } known[] = {
        {"29ae6319789d1d4f08996819a7eb90b94a23c3b81751ea4ede5ff887dd029c69", 2},
        {"714f5d03d3231525e0590b6ca10441c634d3745721bcc68b3d6d159ec5526c41", 1},
        {"b638eb8814b431fca33b783efa7fe5c6444a5b2a98e79c3b80a3ff5db90b79b1", 1},
        {"1081039c0708fba7277a2d1be0e749241a0005a9fa32b7719f36c33e9ea7fa7b", 1},
        {"9e18c349710ec4c800fc7d063da72a12fa92f812a4e68966a8b3aa42d20f7ed1", 3},
        {"72ea667db7c05b0403ca88cfd3cbf84bb2b7575f881a8118ec03ef0f79aefeca", 3},
    };
    chring_t r;
    ring_of(&r, 3);
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        char path[80];
        int n = snprintf(path, sizeof(path), "/blocks/%s", known[i].key);
        BE_CHECK_INT(chring_lookup(&r, chring_path_hash(path, (size_t)n, 1)) + 1,
                     known[i].server_id);
    }
    chring_free(&r);
}

/* A server leaving moves its keys and no other; about 1/N of them; coming back restores all. */
static void
test_leave_moves_its_keys_only(void)
{
    enum { KEYS = 100000, SERVERS = 10 };
    uint32_t *h = malloc(KEYS * sizeof(*h)), *before = malloc(KEYS * sizeof(*before));
    BE_CHECK(h != NULL && before != NULL);
    chring_t r;
    ring_of(&r, SERVERS);
    uint32_t owned[SERVERS] = {0};
    for (uint32_t i = 0; i < KEYS; i++) {
        h[i] = key_hash(i);
        before[i] = (uint32_t)chring_lookup(&r, h[i]);
        owned[before[i]]++;
    }
    for (uint32_t s = 0; s < SERVERS; s++) /* 16 points each: within 2x of the mean */
        BE_CHECK(owned[s] > KEYS / SERVERS / 2 && owned[s] < KEYS / SERVERS * 2);
    chring_remove(&r, 3);
    BE_CHECK_INT(r.n, (SERVERS - 1) * 16);
    uint32_t moved = 0;
    for (uint32_t i = 0; i < KEYS; i++) {
        uint32_t now = (uint32_t)chring_lookup(&r, h[i]);
        BE_CHECK(now != 3);
        if (now != before[i]) {
            BE_CHECK_INT(before[i], 3);
            moved++;
        }
    }
    BE_CHECK_INT(moved, owned[3]);
    printf("    server 4 of %d leaves: %.1f%% of the keys move (1/N = %.1f%%)\n", SERVERS,
           100.0 * moved / KEYS, 100.0 / SERVERS);
    chring_add(&r, 3, 4, 1);
    for (uint32_t i = 0; i < KEYS; i++)
        BE_CHECK_INT(chring_lookup(&r, h[i]), before[i]);
    chring_free(&r);
    free(h);
    free(before);
}

/* One edge and no shield replay exactly as policysim does; a failure empties the node and
 * moves exactly the keys it owned; every request is counted once per tier it reaches. */
static void
test_cluster_replay(void)
{
    be_trace_t *t = be_trace_new();
    BE_CHECK(t != NULL);
    uint64_t st = 7;
    for (int i = 0; i < 200000; i++) {
        uint64_t u = splitmix(&st) % 1000000;
        uint64_t key = u < 500000 ? u % 1000 : u % 20000; /* a hot 1000 and a long tail */
        BE_CHECK(be_trace_add(t, key, 4096) == BE_OK);
    }
    uint32_t *ring = malloc(t->nkeys * sizeof(*ring));
    BE_CHECK(ring != NULL);
    for (uint64_t i = 0; i < t->nkeys; i++)
        ring[i] = key_hash(i);
    for (int kind = 0; kind < BE_POLICY_N; kind++) {
        be_sim_result_t one;
        BE_CHECK(be_policysim_run(t, kind, 4096 * 2000, &one) == BE_OK);
        cl_tier_t tiers[2];
        memset(tiers, 0, sizeof(tiers));
        BE_CHECK(cl_tier_init(&tiers[0], 1, 1, 4096 * 2000, kind, t->nkeys) == 0);
        cl_result_t r;
        BE_CHECK(cl_run(t, ring, tiers, NULL, 0, &r, NULL) == 0);
        cl_tier_free(&tiers[0]);
        BE_CHECK_INT(r.requests - r.origin, one.hits);
    }
    cl_tier_t tiers[2];
    BE_CHECK(cl_tier_init(&tiers[0], 3, 3, 4096 * 500, BE_POLICY_S3FIFO, t->nkeys) == 0);
    BE_CHECK(cl_tier_init(&tiers[1], 2, 2, 4096 * 2000, BE_POLICY_S3FIFO, t->nkeys) == 0);
    cl_owners(&tiers[0], ring, t->nkeys);
    uint64_t owned = 0;
    for (uint64_t i = 0; i < t->nkeys; i++)
        owned += tiers[0].owner[i] == 1;
    cl_event_t ev = {.at = t->n / 2, .tier = 0, .node = 1, .join = 0};
    cl_result_t r;
    BE_CHECK(cl_run(t, ring, tiers, &ev, 1, &r, NULL) == 0);
    BE_CHECK_INT(ev.moved, owned);
    BE_CHECK_INT(tiers[0].node[1].used, 0);
    BE_CHECK_INT(tiers[0].node[1].objects, 0);
    BE_CHECK(!tiers[0].node[1].up);
    uint64_t edge = 0, edge_hits = 0, shield = 0, shield_hits = 0;
    for (int k = 0; k < 3; k++)
        edge += tiers[0].node[k].requests, edge_hits += tiers[0].node[k].hits;
    for (int k = 0; k < 2; k++)
        shield += tiers[1].node[k].requests, shield_hits += tiers[1].node[k].hits;
    BE_CHECK_INT(edge, t->n);
    BE_CHECK_INT(shield, edge - edge_hits);
    BE_CHECK_INT(r.origin, shield - shield_hits);
    BE_CHECK(r.origin >= t->nkeys); /* every key comes from the origin at least once */
    cl_tier_free(&tiers[0]);
    cl_tier_free(&tiers[1]);
    free(ring);
    be_trace_free(&t);
}

int
main(void)
{
    BE_RUN(test_hash_functions);
    BE_RUN(test_points_per_server);
    BE_RUN(test_lookup_nearest);
    BE_RUN(test_matches_haproxy);
    BE_RUN(test_leave_moves_its_keys_only);
    BE_RUN(test_cluster_replay);
    printf("%d checks\n", be_test_checks);
    return be_test_failed;
}
