/*
 * policy.h - eviction policies behind one interface: which cached object goes next.
 *
 * A policy orders objects it does not own. Each object embeds a be_policy_node_t (the memory
 * tier's block does; the simulator's entries do) carrying its key hash and the bytes it is
 * charged. The owner decides when room is needed and asks be_policy_victim() for one object at
 * a time; the policy decides which. Kinds: LRU (policy_lru.c), SIEVE (policy_sieve.c),
 * S3-FIFO (policy_s3fifo.c), W-TinyLFU (policy_wtinylfu.c); each file explains its algorithm.
 *
 * Thread: a policy is not thread-safe; its owner serializes insert, victim and remove. A hit
 * is the exception when be_policy_hit_needs_lock() is 0 (SIEVE, S3-FIFO): then the hit only
 * stores a mark in the node with a relaxed atomic, and may run concurrently with other hits
 * and with a reader's lock held shared, never with the node's removal.
 * Time: none; policies count requests, never read a clock.
 */
#ifndef BLOCKEDGE_POLICY_H
#define BLOCKEDGE_POLICY_H

#include <stdatomic.h>
#include <stdint.h>

#include "blockedge/defs.h"

/* The `memory_policy` values; the order is the simulator's column order. */
enum be_memory_policy {
    BE_POLICY_LRU,
    BE_POLICY_SIEVE,
    BE_POLICY_S3FIFO,
    BE_POLICY_WTINYLFU,
    BE_POLICY_N
};

typedef struct be_policy_node_s be_policy_node_t;
struct be_policy_node_s {
    be_policy_node_t *prev, *next; /* the policy's lists */
    uint64_t hash;                 /* the key's hash, set by the owner before insert */
    uint64_t size;                 /* bytes charged, set by the owner before insert */
    uint8_t queue;                 /* which of the policy's lists holds it */
    _Atomic uint8_t mark;          /* visited bit or small frequency, set by lock-free hits */
};

typedef struct be_policy_s be_policy_t;

/* A policy of the given kind for a cache of capacity bytes (it sizes its queues from it).
 * NULL on allocation failure or an unknown kind. */
be_policy_t *be_policy_new(int kind, uint64_t capacity);
void be_policy_free(be_policy_t **pp);

/* The cache's byte capacity changed (a reload): queue targets follow; nothing is evicted
 * here, the owner asks for victims until it fits. */
void be_policy_set_capacity(be_policy_t *p, uint64_t capacity);

/* A new object (node->hash and node->size set); it was not in the policy. */
void be_policy_insert(be_policy_t *p, be_policy_node_t *n);

/* A request found the object. */
void be_policy_hit(be_policy_t *p, be_policy_node_t *n);

/* Chooses the next object to evict, unlinks it and returns it; NULL when empty. */
be_policy_node_t *be_policy_victim(be_policy_t *p);

/* Unlinks an object the owner drops for its own reasons (a purge): not an eviction. */
void be_policy_remove(be_policy_t *p, be_policy_node_t *n);

/* The object be_policy_victim() would return next, when the policy can tell without
 * changing anything (LRU: its tail); NULL otherwise or when empty. */
const be_policy_node_t *be_policy_next_victim(const be_policy_t *p);

/* Bytes and objects currently linked. */
uint64_t be_policy_bytes(const be_policy_t *p);
uint64_t be_policy_count(const be_policy_t *p);

/* Bytes of the policy's own tables (ghost entries, sketch) beyond the nodes. */
uint64_t be_policy_meta_bytes(const be_policy_t *p);

/* Bytes by which the policy would like its tables to grow now that it holds more objects
 * (0: none). The owner reserves them in its budget, then calls be_policy_grow(); growing is
 * optional, a policy works (less precisely) with the tables it has. */
uint64_t be_policy_grow_wanted(const be_policy_t *p);
/* BE_OK, or BE_ERROR on allocation failure (the old tables stay). */
int be_policy_grow(be_policy_t *p);

/* W-TinyLFU's sketch estimate of how often the key was seen (recently, after aging); 0 under
 * the other policies. */
unsigned be_policy_frequency(const be_policy_t *p, uint64_t hash);

/* 1 once the object left the policy's small queue for its main area (S3-FIFO: moved from the
 * small FIFO to main, or entered main from the ghost; W-TinyLFU: admitted from the window into
 * probation), until it is inserted again; always 0 under LRU and SIEVE. `disk_admission policy`
 * reads it. Thread: any (a relaxed atomic load); the node must not be freed meanwhile. */
int be_policy_promoted(const be_policy_node_t *n);

/* 1 when the kind has a small queue before its main area (S3-FIFO, W-TinyLFU). */
int be_policy_has_probation(int kind);

/* 1 when a hit moves the object in a list (the owner must hold its lock exclusively), 0 when
 * it only stores a mark in the node. */
int be_policy_hit_needs_lock(int kind);

/* "lru", "sieve", "s3fifo", "wtinylfu"; NULL for an unknown kind. */
const char *be_policy_name(int kind);
/* The kind for a name, or -1. */
int be_policy_parse(const char *name);

#endif
