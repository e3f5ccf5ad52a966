/*
 * admin_blocks.h - the admin's per-block endpoints: GET /blocks/<hex> (what the node holds for
 * a key, without fetching) and DELETE /blocks/<hex> or POST /purge/<hex> (purge it from every
 * tier, for good). Answers are small JSON documents; a key that is not 64 hex digits gets 400
 * with the reason. Thread: the admin's loop.
 */
#ifndef BLOCKEDGE_ADMIN_BLOCKS_H
#define BLOCKEDGE_ADMIN_BLOCKS_H

#include <stddef.h>

#include "blockedge/adminbox.h"
#include "blockedge/adminhttp.h"
#include "blockedge/adminstats.h"
#include "blockedge/services.h"

/* Why s[0..len) is not a block key, written into buf[cap]; NULL when it is one. */
const char *be_admin_key_problem(const char *s, size_t len, char *buf, size_t cap);

/* Answers c with what memory, disk and the in-flight table hold for the key: 200 when a tier
 * holds it, 404 when none does (the same document either way); 400 for a bad key. */
void be_admin_blocks_inspect(be_services_t *svc, be_adminhttp_t *c, const char *hex, size_t len);

/* Purges the key (be_cache_purge) and answers c once the disk tier is through: 200 with what
 * was found, or 404 when nothing held it and no fetch was under way; counted in stats. 400 for
 * a bad key. The answer comes through box; if c goes first the purge still completes. */
void be_admin_blocks_purge(be_services_t *svc, be_adminbox_t *box, be_admin_stats_t *stats,
                           be_adminhttp_t *c, const char *hex, size_t len);

#endif
