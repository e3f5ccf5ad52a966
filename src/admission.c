/*
 * admission.c - the "seen once" set behind `disk_admission second_hit`.
 *
 * Most blocks of a Zipf load's tail are asked for once; writing each to the SSD costs write
 * endurance and disk space that later displace blocks that do return. So a fill only records
 * the block's hash here; the block goes to disk at its second request: a memory hit that
 * finds the hash (be_admission_hit), or a second fill after the block left memory
 * (be_admission_fill). The idea is the "second hit caching" of CDN disk tiers (Akamai's
 * one-hit-wonder filter, Maggs and Sitaraman, SIGCOMM CCR 2015).
 *
 * The set is a direct-mapped table of hashes (the digest's first 8 bytes, uniform already),
 * slot = hash bits above the memory tier's shard bits. A collision overwrites: the older key
 * is forgotten, and only costs one more request before it is written. 0 marks an empty slot,
 * so a hash of 0 is stored as 1. Every access is one atomic on one slot: no lock.
 *
 * disk_admission policy uses the same set with the memory policy as the judge: a fill is
 * remembered (be_admission_remember) unless the policy put the block straight into its main
 * area (S3-FIFO's ghost), and the write is queued by the first memory hit that finds the block
 * both remembered and in the main area (S3-FIFO: moved from the small FIFO to main; W-TinyLFU:
 * admitted from the window). A block that reaches the main area and leaves memory before
 * another hit is not written: its promotion is seen by hits only, not where the policy makes it
 * (inside the memory tier's eviction, under its lock). LRU and SIEVE have no small queue:
 * there policy is second_hit.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "blockedge/admission.h"
#include "blockedge/check.h"
#include "blockedge/policy.h"

#define ADMISSION_MAGIC 0x41444d31u /* "ADM1" */

struct be_admission_s {
    unsigned magic;
    uint64_t mask;
    _Atomic uint64_t *slot;
};

be_admission_t *
be_admission_new(unsigned bits)
{
    if (bits < 4 || bits > 30)
        return NULL;
    be_admission_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->slot = calloc((size_t)1 << bits, sizeof(*a->slot));
    if (a->slot == NULL) {
        free(a);
        return NULL;
    }
    a->mask = ((uint64_t)1 << bits) - 1;
    a->magic = ADMISSION_MAGIC;
    return a;
}

void
be_admission_free(be_admission_t **ap)
{
    be_admission_t *a = *ap;
    if (a == NULL)
        return;
    *ap = NULL;
    BE_CHECK_OBJ_NOTNULL(a, ADMISSION_MAGIC);
    a->magic = 0;
    free(a->slot);
    free(a);
}

static _Atomic uint64_t *
slot_of(be_admission_t *a, uint64_t *hash)
{
    if (*hash == 0)
        *hash = 1;
    return &a->slot[(*hash >> 16) & a->mask];
}

int
be_admission_mode(int mode, int memory_policy)
{
    if (mode == BE_DISK_ADMIT_POLICY && !be_policy_has_probation(memory_policy))
        return BE_DISK_ADMIT_SECOND_HIT;
    return mode;
}

const char *
be_admission_note(int mode, int memory_policy)
{
    if (mode != BE_DISK_ADMIT_POLICY || be_policy_has_probation(memory_policy))
        return NULL;
    return memory_policy == BE_POLICY_LRU
               ? "disk_admission policy: memory_policy lru has no small queue to survive, so "
                 "disk_admission works as second_hit"
               : "disk_admission policy: memory_policy sieve has no small queue to survive, so "
                 "disk_admission works as second_hit";
}

void
be_admission_remember(be_admission_t *a, uint64_t hash)
{
    BE_CHECK_OBJ_NOTNULL(a, ADMISSION_MAGIC);
    _Atomic uint64_t *s = slot_of(a, &hash);
    atomic_store_explicit(s, hash, memory_order_relaxed);
}

int
be_admission_fill(be_admission_t *a, uint64_t hash)
{
    BE_CHECK_OBJ_NOTNULL(a, ADMISSION_MAGIC);
    _Atomic uint64_t *s = slot_of(a, &hash);
    uint64_t old = atomic_exchange_explicit(s, hash, memory_order_relaxed);
    if (old != hash)
        return 0;
    /* Seen before: forget it, unless another key took the slot meanwhile. */
    atomic_compare_exchange_strong_explicit(s, &old, 0, memory_order_relaxed, memory_order_relaxed);
    return 1;
}

int
be_admission_hit(be_admission_t *a, uint64_t hash)
{
    BE_CHECK_OBJ_NOTNULL(a, ADMISSION_MAGIC);
    _Atomic uint64_t *s = slot_of(a, &hash);
    uint64_t old = atomic_load_explicit(s, memory_order_relaxed);
    if (old != hash)
        return 0;
    return atomic_compare_exchange_strong_explicit(s, &old, 0, memory_order_relaxed,
                                                   memory_order_relaxed);
}

void
be_admission_forget(be_admission_t *a, uint64_t hash)
{
    BE_CHECK_OBJ_NOTNULL(a, ADMISSION_MAGIC);
    _Atomic uint64_t *s = slot_of(a, &hash);
    uint64_t old = hash;
    atomic_compare_exchange_strong_explicit(s, &old, 0, memory_order_relaxed, memory_order_relaxed);
}
