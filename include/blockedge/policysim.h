/*
 * policysim.h - replaying a request trace through an eviction policy (policy.h) at a byte
 * capacity: the engine of tools/cachesim and of the tests that compare a policy's replay with
 * the live memory tier.
 *
 * A trace is loaded first (keys mapped to dense ids as they are added), then replayed, so the
 * replay itself does no hashing and no allocation: what it times is the policy. A request
 * whose key is cached is a hit; otherwise the object is inserted, evicting victims until it
 * fits, unless it is larger than the whole capacity (then it is not cached). An object keeps
 * the size it was inserted with.
 * Thread: a trace is read-only once loaded; replays of one trace may run on several threads.
 */
#ifndef BLOCKEDGE_POLICYSIM_H
#define BLOCKEDGE_POLICYSIM_H

#include <stdint.h>

#include "blockedge/defs.h"
#include "blockedge/policy.h"

typedef struct be_trace_s {
    uint32_t *id;         /* per request: dense key id */
    uint32_t *size;       /* per request: object bytes */
    uint64_t n;           /* requests */
    uint64_t *hash;       /* per id: the key's 64-bit hash, what policies see */
    uint64_t nkeys;       /* distinct keys */
    uint64_t bytes;       /* sum of the distinct keys' sizes (first size seen) */
    uint64_t cap, keycap; /* allocated requests and ids */
    void *slots;          /* the key -> id map (policysim.c) */
    uint64_t nslots;
} be_trace_t;

/* An empty trace; NULL on allocation failure. */
be_trace_t *be_trace_new(void);
void be_trace_free(be_trace_t **tp);

/* Appends a request for key (any 64-bit name; equal names are one object) of size bytes.
 * BE_OK or BE_ERROR (out of memory, or more than 2^32 - 1 keys). */
int be_trace_add(be_trace_t *t, uint64_t key, uint32_t size);

/* The hash the policies see for a trace key (be_trace_t.hash). */
uint64_t be_trace_key_hash(uint64_t key);

typedef struct be_sim_result_s {
    uint64_t requests, hits;
    uint64_t bytes, hit_bytes; /* requested and served from cache */
    uint64_t evictions;
    double seconds; /* wall time of the replay alone */
} be_sim_result_t;

/* Replays every request of t through a new policy of kind at capacity bytes. BE_OK, or
 * BE_ERROR on allocation failure. */
int be_policysim_run(const be_trace_t *t, int kind, uint64_t capacity, be_sim_result_t *out);

#endif
