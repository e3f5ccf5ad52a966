/*
 * admin_blocks.c - GET /blocks/<hex> and DELETE /blocks/<hex> (= POST /purge/<hex>) on the
 * admin listener.
 *
 * Inspecting reads the tiers' indexes only (cache.c's be_cache_peek): no fetch, no disk read,
 * no recency touched, nothing counted as a hit. A purge is cache.c's be_cache_purge; its
 * result comes back from a worker (after the disk writer) through the admin box, and is
 * answered on the connection if that is still there, counted either way. Knows no HTTP
 * framing (adminhttp.c) and no routing (admin.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include <event2/buffer.h>

#include "blockedge/admin_blocks.h"
#include "blockedge/cache.h"
#include "blockedge/clock.h"
#include "blockedge/log.h"
#include "blockedge/worker.h"

static int
hex_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

const char *
be_admin_key_problem(const char *s, size_t len, char *buf, size_t cap)
{
    if (len != BE_KEY_HEX_LEN) {
        snprintf(buf, cap, "invalid block key: expected 64 hex digits, got %zu characters", len);
        return buf;
    }
    for (size_t i = 0; i < len; i++) {
        if (!hex_digit(s[i])) {
            snprintf(buf, cap, "invalid block key: character %zu is not a hex digit", i + 1);
            return buf;
        }
    }
    return NULL;
}

/* Parses the key, or answers 400 with the reason. BE_OK or BE_ERROR. */
static int
parse_key(be_adminhttp_t *c, const char *hex, size_t len, be_key_t *key)
{
    char why[128];
    if (be_admin_key_problem(hex, len, why, sizeof(why)) != NULL ||
        be_key_from_hex(hex, len, key) != BE_OK) {
        be_adminhttp_text(c, 400, "%s", why);
        return BE_ERROR;
    }
    return BE_OK;
}

static void
reply_json(be_adminhttp_t *c, int status, struct evbuffer *body)
{
    be_adminhttp_reply(c, status, "application/json", NULL, body);
}

/* ---- inspect -------------------------------------------------------------------------------- */

static const char *
disk_tier_name(int state)
{
    switch (state) {
    case BE_DISK_LOADING:
        return "loading";
    case BE_DISK_READY:
        return "ready";
    case BE_DISK_FAILED:
        return "failed";
    default:
        return "none";
    }
}

static const char *
fetching_name(int phase)
{
    return phase == BE_TIER_DISK ? "\"disk\"" : phase == BE_TIER_MISS ? "\"origin\"" : "false";
}

static void
peek_json(struct evbuffer *out, const char *hex, const be_cache_peek_t *pk, be_msec_t now)
{
    evbuffer_add_printf(out, "{\"key\":\"%s\",\"held\":%s,\"memory\":", hex,
                        pk->memory || pk->disk ? "true" : "false");
    if (pk->memory)
        evbuffer_add_printf(out,
                            "{\"size\":%llu,\"footprint\":%llu,\"hits\":%u,\"idle_seconds\":%.3f}",
                            (unsigned long long)pk->mem.size, (unsigned long long)pk->mem.footprint,
                            pk->mem.hits, (double)(now - pk->mem.last_use) / 1e3);
    else
        evbuffer_add_printf(out, "false");
    evbuffer_add_printf(out, ",\"disk\":");
    if (pk->disk)
        evbuffer_add_printf(out,
                            "{\"size\":%u,\"segment\":\"%016llx.seg\",\"offset\":%u,"
                            "\"hit_since_written\":%s}",
                            pk->dsk.len, (unsigned long long)pk->dsk.segment, pk->dsk.offset,
                            pk->dsk.hit ? "true" : "false");
    else
        evbuffer_add_printf(out, "false");
    evbuffer_add_printf(out, ",\"disk_tier\":\"%s\",\"fetching\":%s}\n",
                        disk_tier_name(pk->disk_state), fetching_name(pk->fetching));
}

void
be_admin_blocks_inspect(be_services_t *svc, be_adminhttp_t *c, const char *hex, size_t len)
{
    be_key_t key;
    be_cache_peek_t pk;
    char text[BE_KEY_HEX_LEN + 1];
    if (parse_key(c, hex, len, &key) != BE_OK)
        return;
    struct evbuffer *body = evbuffer_new();
    if (body == NULL) {
        be_adminhttp_text(c, 500, "out of memory");
        return;
    }
    be_cache_peek(svc, &key, &pk);
    peek_json(body, be_key_to_hex(&key, text), &pk, be_clock_msec());
    reply_json(c, pk.memory || pk.disk ? 200 : 404, body);
    evbuffer_free(body);
}

/* ---- purge ---------------------------------------------------------------------------------- */

typedef struct purge_op_s {
    be_boxmsg_t msg; /* first: the box hands it back */
    be_adminbox_t *box;
    be_admin_stats_t *stats;
    be_adminhttp_t *conn; /* NULL once the client is gone */
    be_key_t key;
    be_purge_result_t r;
} purge_op_t;

static void
op_free(purge_op_t *op)
{
    be_adminbox_unref(&op->box);
    free(op);
}

/* The client went away first: the purge goes on, its answer has nowhere to go. */
static void
op_gone(void *arg)
{
    ((purge_op_t *)arg)->conn = NULL;
}

/* On the admin's loop: count and answer. */
static void
op_run(be_boxmsg_t *m)
{
    purge_op_t *op = (purge_op_t *)m;
    int found = op->r.memory || op->r.disk || op->r.fetching;
    char hex[BE_KEY_HEX_LEN + 1];
    op->stats->purges[found ? BE_ADMIN_PURGE_PURGED : BE_ADMIN_PURGE_ABSENT]++;
    be_key_to_hex(&op->key, hex);
    be_log(BE_LOG_DEBUG, "admin: purged %s (memory %d, disk %d, fetch under way %d)", hex,
           op->r.memory, op->r.disk, op->r.fetching);
    struct evbuffer *body = op->conn != NULL ? evbuffer_new() : NULL;
    if (body != NULL) {
        evbuffer_add_printf(body,
                            "{\"key\":\"%s\",\"purged\":%s,\"memory\":%s,\"disk\":%s,"
                            "\"fetching\":%s}\n",
                            hex, found ? "true" : "false", op->r.memory ? "true" : "false",
                            op->r.disk ? "true" : "false", op->r.fetching ? "true" : "false");
        reply_json(op->conn, found ? 200 : 404, body);
        evbuffer_free(body);
    } else if (op->conn != NULL) {
        be_adminhttp_text(op->conn, 500, "out of memory");
    }
    op_free(op);
}

static void
op_drop(be_boxmsg_t *m)
{
    op_free((purge_op_t *)m);
}

/* From be_cache_purge, on a worker (or at once without a disk tier). */
static void
on_purged(void *arg, const be_purge_result_t *r)
{
    purge_op_t *op = arg;
    op->r = *r;
    be_adminbox_post(op->box, &op->msg);
}

void
be_admin_blocks_purge(be_services_t *svc, be_adminbox_t *box, be_admin_stats_t *stats,
                      be_adminhttp_t *c, const char *hex, size_t len)
{
    be_key_t key;
    if (parse_key(c, hex, len, &key) != BE_OK)
        return;
    purge_op_t *op = calloc(1, sizeof(*op));
    if (op == NULL) {
        be_adminhttp_text(c, 500, "out of memory");
        return;
    }
    op->msg.run = op_run;
    op->msg.drop = op_drop;
    op->box = be_adminbox_ref(box);
    op->stats = stats;
    op->conn = c;
    op->key = key;
    be_adminhttp_hold(c, op_gone, op);
    if (be_cache_purge(svc, svc->workers[0], &key, on_purged, op) != BE_OK) {
        be_adminhttp_text(c, 500, "out of memory");
        op_free(op);
    }
}
