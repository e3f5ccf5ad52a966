/*
 * missrate.h - the per-client miss budget (miss_rate): a token bucket per client address,
 * node-wide, so a client cannot turn the node into an amplifier against the origin by asking
 * for blocks nobody has.
 *
 * Only requests that would go to the origin take a token; hits never reach this table. A
 * client's bucket holds up to `burst` tokens and refills at `rate` per second. The table is
 * bounded: at most BE_MISSRATE_CLIENTS clients, the one seen least recently forgotten first
 * (a forgotten client starts again with a full bucket). Sharded, a mutex per shard; memory
 * for a shard is taken the first time a client of it is seen. Any thread.
 */
#ifndef BLOCKEDGE_MISSRATE_H
#define BLOCKEDGE_MISSRATE_H

#include "blockedge/clientaddr.h"
#include "blockedge/defs.h"

#define BE_MISSRATE_CLIENTS 65536

typedef struct be_missrate_s be_missrate_t;

/* An empty table; NULL when out of memory. */
be_missrate_t *be_missrate_new(void);
void be_missrate_free(be_missrate_t **mp);

/* Takes one token from client's bucket (rate tokens per second, at most burst) at `now`
 * (ms, monotonic). BE_OK: taken. BE_DECLINED: the bucket is empty; *retry_s is when the
 * next token comes, in whole seconds (at least 1). BE_ERROR: out of memory (not limited). */
int be_missrate_take(be_missrate_t *m, const be_clientaddr_t *client, double rate, int burst,
                     be_msec_t now, int *retry_s);

/* Clients in the table (for tests and /stats). */
unsigned be_missrate_clients(be_missrate_t *m);

#endif
