/*
 * negcache.h - the negative cache: keys the origin answered 404 for, remembered for
 * negative_ttl so that a repeat is answered 404 without an origin request.
 *
 * Bounded: at most max_keys entries, the oldest written over first. Sharded, a mutex per
 * shard; a look-up compares the key's hash before its bytes. Any thread.
 */
#ifndef BLOCKEDGE_NEGCACHE_H
#define BLOCKEDGE_NEGCACHE_H

#include "blockedge/blockkey.h"
#include "blockedge/defs.h"

typedef struct be_negcache_s be_negcache_t;

/* A table of at most max_keys (>= 16) entries; NULL when out of memory. */
be_negcache_t *be_negcache_new(unsigned max_keys);
void be_negcache_free(be_negcache_t **np);

/* Remembers key as absent until `until` (ms on the monotonic clock). */
void be_negcache_add(be_negcache_t *n, const be_key_t *key, be_msec_t until);

/* Whether key is remembered as absent at `now`. */
int be_negcache_hit(be_negcache_t *n, const be_key_t *key, be_msec_t now);

/* Forgets key (a purge, or the block was found after all). */
void be_negcache_forget(be_negcache_t *n, const be_key_t *key);

#endif
