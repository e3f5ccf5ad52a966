/*
 * connlimit.h - open client connections per address, node-wide: the table behind
 * max_connections_per_ip.
 *
 * One entry per address that holds at least one connection (IPv4 per address, IPv6 per /64,
 * an IPv4-mapped IPv6 address as its IPv4 address), removed when its count drops to 0, so
 * the table never holds more entries than the node has connections. Sharded, a mutex per
 * shard, hashed with a per-process random seed (an attacker choosing many /64s cannot aim
 * them at one probe run). Any thread; no callback runs under a lock, no clock is read.
 */
#ifndef BLOCKEDGE_CONNLIMIT_H
#define BLOCKEDGE_CONNLIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "blockedge/defs.h"

#define BE_CONNLIMIT_MAGIC 0x636c696du /* "clim" */

/* An address as the table counts it: 16 bytes, IPv4 as ::ffff:a.b.c.d, IPv6 cut to its /64. */
typedef struct be_connkey_s {
    uint8_t b[16];
} be_connkey_t;

typedef struct be_connlimit_s be_connlimit_t;

/* Writes key as logs show it ("192.0.2.7", "2001:db8:1:2::/64") to out; returns out. */
const char *be_connlimit_key_text(const be_connkey_t *key, char *out, size_t len);

/* An empty table; NULL when out of memory. Thread: any. */
be_connlimit_t *be_connlimit_new(void);

/* Frees the table (its counts need not be 0). *lp = NULL. */
void be_connlimit_free(be_connlimit_t **lp);

/* The key of a peer address: BE_OK, or BE_DECLINED for a family that is not counted
 * (AF_UNIX, say). */
int be_connlimit_key(const struct sockaddr *sa, be_connkey_t *key);

/* Counts one more connection for key unless key already holds limit of them (limit 0: no
 * limit, always counted). BE_OK when counted (the caller must be_connlimit_release() it
 * exactly once), BE_DECLINED when at the limit, BE_ERROR when out of memory (not counted).
 * *held, when not NULL, gets the connections key holds afterwards (or at the refusal). */
int be_connlimit_take(be_connlimit_t *l, const be_connkey_t *key, unsigned limit, unsigned *held);

/* Counts one connection of key less; the entry goes when its count reaches 0. Releasing a
 * key that holds nothing is a bug (checked: aborts). */
void be_connlimit_release(be_connlimit_t *l, const be_connkey_t *key);

/* Connections key holds now (0 when absent). */
unsigned be_connlimit_count(be_connlimit_t *l, const be_connkey_t *key);

/* Addresses held now (entries), and the bytes the slot arrays take. */
size_t be_connlimit_entries(be_connlimit_t *l);
size_t be_connlimit_bytes(be_connlimit_t *l);

#endif
