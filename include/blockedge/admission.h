/*
 * admission.h - the disk tier's admission filter for `disk_admission second_hit` and `policy`:
 * a bounded set of the hashes of blocks filled and not yet written to disk.
 *
 * A direct-mapped table of 64-bit key hashes, fixed at creation; a newer key takes an older
 * one's slot, so a block asked for again only after many others is taken for new (it is
 * written at its next request after that). Lock-free: any thread, any time.
 */
#ifndef BLOCKEDGE_ADMISSION_H
#define BLOCKEDGE_ADMISSION_H

#include <stdint.h>

#include "blockedge/defs.h"

/* The `disk_admission` values. */
enum be_disk_admission {
    BE_DISK_ADMIT_ALL,        /* every fill is written (the default) */
    BE_DISK_ADMIT_SECOND_HIT, /* a block is written once it was asked for again */
    BE_DISK_ADMIT_POLICY,     /* a block is written once the memory policy moved it from its
                                 small queue to its main area (second_hit under lru, sieve) */
};

/* The rule in force for disk_admission mode under memory_policy kind: policy becomes
 * second_hit under a policy without a small queue (LRU, SIEVE). */
int be_admission_mode(int mode, int memory_policy);

/* A sentence saying that disk_admission policy falls back to second_hit under this
 * memory_policy, or NULL when it does not (-t and the start-up log print it). */
const char *be_admission_note(int mode, int memory_policy);

typedef struct be_admission_s be_admission_t;

/* A table of 2^bits slots (8 bytes each, 4 <= bits <= 30); NULL when out of memory. */
be_admission_t *be_admission_new(unsigned bits);
void be_admission_free(be_admission_t **ap);

/* A fill of the block with this hash completed. Returns 1 when it was seen before (it is
 * forgotten: write it now), 0 when this is its first sighting (it is remembered: skip it). */
int be_admission_fill(be_admission_t *a, uint64_t hash);

/* disk_admission policy: a fill of a block still in the memory policy's small queue; it is
 * remembered (its write waits for be_admission_hit once it reached the main area). */
void be_admission_remember(be_admission_t *a, uint64_t hash);

/* A memory hit on the block with this hash. Returns 1 when its fill was skipped and is still
 * remembered (it is forgotten: write it now; exactly one of concurrent callers gets 1), 0
 * otherwise. One relaxed load when the block is not remembered. */
int be_admission_hit(be_admission_t *a, uint64_t hash);

/* Forgets the hash (a purge). */
void be_admission_forget(be_admission_t *a, uint64_t hash);

#endif
