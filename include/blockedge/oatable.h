/*
 * oatable.h - one small typed open-addressing hash table, generated per entry type:
 * linear probing, backward-shift deletion (no tombstones), a power-of-two capacity that
 * grows only when the caller asks. The disk index, Space-Saving's key index and SHARDS'
 * tracked keys are instances of it.
 *
 * The entries live in the table's one array (no allocation per entry) and the caller
 * supplies the hash: keys here are mostly SHA-256 digests, already uniform, so a hash is
 * a few of their bytes. An entry's home slot is hash & (cap - 1); the table keeps at least
 * one slot empty, so every probe ends. No locks, no clock: the caller serializes.
 *
 * BE_OATABLE_DEFINE(name, etype, ktype, ctype, HELD, HASH, MATCH) declares name_t and
 * static inline (marked unused: a user may not call them all)
 * name_init/_dispose/_clear/_grow/_bytes/_find/_insert/_erase, where int HELD(const etype *e)
 * non-zero when the slot holds an entry; an all-zero etype must read as empty uint64_t HASH(ctype
 * *ctx, const etype *e)          a held entry's hash, the one it was inserted with (ctx: e.g. the
 * array an entry indexes into; may be unused) int MATCH(ctype *ctx, const etype *e, const ktype
 * *key)   non-zero when e holds key A zeroed name_t is an empty table of capacity 0 (finds miss,
 * inserts are refused). Erasing may move a later entry of the same probe run into the erased slot,
 * so a walk over the slots that erases as it goes looks at the same slot again after each erase.
 * Source: Knuth, TAOCP vol. 3, section 6.4, algorithm R (deletion with linear probing).
 */
#ifndef BLOCKEDGE_OATABLE_H
#define BLOCKEDGE_OATABLE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/defs.h"

#define BE_OATABLE_DEFINE(name, etype, ktype, ctype, HELD, HASH, MATCH)                            \
    typedef struct name##_s {                                                                      \
        etype *slots;                                                                              \
        uint32_t cap;  /* 0 or a power of two */                                                   \
        uint32_t used; /* held slots, at most cap - 1 */                                           \
    } name##_t;                                                                                    \
                                                                                                   \
    /* An empty table of cap slots (0 or a power of two). BE_OK or BE_ERROR (no memory). */        \
    static inline __attribute__((unused)) int name##_init(name##_t *t, uint32_t cap)               \
    {                                                                                              \
        t->slots = NULL;                                                                           \
        t->cap = t->used = 0;                                                                      \
        if (cap == 0)                                                                              \
            return BE_OK;                                                                          \
        if ((cap & (cap - 1)) != 0 || (t->slots = calloc(cap, sizeof(etype))) == NULL)             \
            return BE_ERROR;                                                                       \
        t->cap = cap;                                                                              \
        return BE_OK;                                                                              \
    }                                                                                              \
                                                                                                   \
    static inline __attribute__((unused)) void name##_dispose(name##_t *t)                         \
    {                                                                                              \
        free(t->slots);                                                                            \
        t->slots = NULL;                                                                           \
        t->cap = t->used = 0;                                                                      \
    }                                                                                              \
                                                                                                   \
    /* Forgets every entry; keeps the capacity. */                                                 \
    static inline __attribute__((unused)) void name##_clear(name##_t *t)                           \
    {                                                                                              \
        if (t->cap > 0)                                                                            \
            memset(t->slots, 0, (size_t)t->cap * sizeof(etype));                                   \
        t->used = 0;                                                                               \
    }                                                                                              \
                                                                                                   \
    /* Bytes of the slot array. */                                                                 \
    static inline __attribute__((unused)) size_t name##_bytes(const name##_t *t)                   \
    {                                                                                              \
        return (size_t)t->cap * sizeof(etype);                                                     \
    }                                                                                              \
                                                                                                   \
    /* Moves every entry into a new array of cap slots (a power of two above the entries           \
     * held). BE_OK, or BE_ERROR with the table unchanged. */                                      \
    static inline __attribute__((unused)) int name##_grow(name##_t *t, ctype *ctx, uint32_t cap)   \
    {                                                                                              \
        if (cap <= t->used || (cap & (cap - 1)) != 0)                                              \
            return BE_ERROR;                                                                       \
        etype *ns_ = calloc(cap, sizeof(etype));                                                   \
        if (ns_ == NULL)                                                                           \
            return BE_ERROR;                                                                       \
        uint32_t mask_ = cap - 1;                                                                  \
        for (uint32_t i_ = 0; i_ < t->cap; i_++) {                                                 \
            const etype *e_ = &t->slots[i_];                                                       \
            if (!HELD(e_))                                                                         \
                continue;                                                                          \
            uint32_t j_ = (uint32_t)HASH(ctx, e_) & mask_;                                         \
            while (HELD(&ns_[j_]))                                                                 \
                j_ = (j_ + 1) & mask_;                                                             \
            ns_[j_] = *e_;                                                                         \
        }                                                                                          \
        free(t->slots);                                                                            \
        t->slots = ns_;                                                                            \
        t->cap = cap;                                                                              \
        return BE_OK;                                                                              \
    }                                                                                              \
                                                                                                   \
    /* The entry holding key (whose hash is h), or NULL. */                                        \
    static inline __attribute__((unused))                                                          \
    etype *name##_find(const name##_t *t, ctype *ctx, uint64_t h, const ktype *key)                \
    {                                                                                              \
        if (t->cap == 0)                                                                           \
            return NULL;                                                                           \
        uint32_t mask_ = t->cap - 1;                                                               \
        for (uint32_t i_ = (uint32_t)h & mask_;; i_ = (i_ + 1) & mask_) {                          \
            etype *e_ = &t->slots[i_];                                                             \
            if (!HELD(e_))                                                                         \
                return NULL;                                                                       \
            if (MATCH(ctx, e_, key))                                                               \
                return e_;                                                                         \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    /* Claims the empty (all-zero) slot where a key with hash h goes and counts it; the key        \
     * must be absent. The caller fills the slot (HELD true, HASH h) before the next call.         \
     * NULL when the table would be left without an empty slot: grow it first. */                  \
    static inline __attribute__((unused)) etype *name##_insert(name##_t *t, uint64_t h)            \
    {                                                                                              \
        if (t->used + 1 >= t->cap)                                                                 \
            return NULL;                                                                           \
        uint32_t mask_ = t->cap - 1, i_ = (uint32_t)h & mask_;                                     \
        while (HELD(&t->slots[i_]))                                                                \
            i_ = (i_ + 1) & mask_;                                                                 \
        t->used++;                                                                                 \
        return &t->slots[i_];                                                                      \
    }                                                                                              \
                                                                                                   \
    /* Removes the held entry e, shifting back the later entries of its probe run that may         \
     * move (those whose home is not cyclically after the hole), and zeroes the last hole. */      \
    static inline __attribute__((unused)) void name##_erase(name##_t *t, ctype *ctx, etype *e)     \
    {                                                                                              \
        uint32_t mask_ = t->cap - 1, i_ = (uint32_t)(e - t->slots);                                \
        t->used--;                                                                                 \
        for (uint32_t j_ = (i_ + 1) & mask_;; j_ = (j_ + 1) & mask_) {                             \
            const etype *n_ = &t->slots[j_];                                                       \
            if (!HELD(n_))                                                                         \
                break;                                                                             \
            uint32_t home_ = (uint32_t)HASH(ctx, n_) & mask_;                                      \
            /* n_ may move to the hole i_ when i_ lies cyclically in [home_, j_) */                \
            if (((j_ - home_) & mask_) >= ((j_ - i_) & mask_)) {                                   \
                t->slots[i_] = *n_;                                                                \
                i_ = j_;                                                                           \
            }                                                                                      \
        }                                                                                          \
        memset(&t->slots[i_], 0, sizeof(etype));                                                   \
    }

#endif
