/*
 * accesslog.c - the access log: per-worker buffers and descriptors, flush timers, reopen.
 *
 * Owns the line format and the buffers; knows a request only as a be_access_entry_t. Each
 * slot (one per worker) is touched by its worker's thread alone while the workers run,
 * and by the main thread only after they are joined; so no lock. Lines are built with
 * snprintf: this costs about a microsecond per request, paid only when the log is on.
 * Two formats carry the same fields: nginx's combined line plus blockedge's own, or one JSON
 * object per line (`access_log PATH json`) for log pipelines.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "blockedge/accesslog.h"
#include "blockedge/clock.h"
#include "blockedge/log.h"
#include "blockedge/services.h"
#include "blockedge/stats.h"
#include "blockedge/worker.h"

#define BUF_SIZE      (64 * 1024)
#define LINE_MAX_LEN  8192 /* the longest fields, escaped six bytes per byte for JSON, fit */
#define FLUSH_EVERY_S 1

typedef struct slot_s {
    be_accesslog_t *log;
    be_worker_t *w;
    int fd;   /* -1: off on this worker */
    int json; /* JSON lines instead of combined */
    char path[1024];
    struct event *timer;
    char *buf;
    size_t len;
    be_timetext_t time; /* $time_local */
} slot_t;

struct be_accesslog_s {
    int nslots;
    slot_t *slots;
};

static int
open_log(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

static void
flush_slot(slot_t *s)
{
    size_t off = 0;
    while (off < s->len && s->fd >= 0) {
        ssize_t n = write(s->fd, s->buf + off, s->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = errno;
            be_log(BE_LOG_ERROR, "write() to \"%s\" failed (%d: %s) while writing the access log",
                   s->path, err, strerror(err));
            break; /* the buffer is dropped: never block a worker on a sick disk */
        }
        off += (size_t)n;
    }
    s->len = 0;
}

static void
on_flush_timer(evutil_socket_t fd, short what, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(what);
    flush_slot(arg);
}

be_accesslog_t *
be_accesslog_new(be_services_t *svc)
{
    be_accesslog_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->slots = calloc((size_t)svc->nworkers, sizeof(*a->slots));
    if (a->slots == NULL) {
        free(a);
        return NULL;
    }
    a->nslots = svc->nworkers;
    for (int i = 0; i < a->nslots; i++)
        a->slots[i].fd = -1;
    struct timeval every = {FLUSH_EVERY_S, 0};
    for (int i = 0; i < a->nslots; i++) {
        slot_t *s = &a->slots[i];
        s->log = a;
        s->w = svc->workers[i];
        be_timetext_init(&s->time, BE_TIMEFMT_LOG);
        snprintf(s->path, sizeof(s->path), "%s", svc->cfg->access_log);
        s->json = svc->cfg->access_log_json;
        s->fd = s->path[0] != '\0' ? open_log(s->path) : -1;
        if (s->fd < 0 && s->path[0] != '\0') {
            int err = errno;
            be_log(BE_LOG_EMERG, "open() \"%s\" failed (%d: %s) while opening the access log",
                   s->path, err, strerror(err));
            be_accesslog_free(&a);
            return NULL;
        }
        s->buf = malloc(BUF_SIZE);
        s->timer = event_new(s->w->base, -1, EV_PERSIST, on_flush_timer, s);
        if (s->buf == NULL || s->timer == NULL || event_add(s->timer, &every) != 0) {
            be_log(BE_LOG_EMERG, "out of memory while opening the access log");
            be_accesslog_free(&a);
            return NULL;
        }
    }
    return a;
}

void
be_accesslog_free(be_accesslog_t **ap)
{
    be_accesslog_t *a = *ap;
    if (a == NULL)
        return;
    *ap = NULL;
    for (int i = 0; i < a->nslots; i++) {
        slot_t *s = &a->slots[i];
        if (s->buf != NULL)
            flush_slot(s);
        if (s->timer != NULL)
            event_free(s->timer);
        if (s->fd >= 0)
            close(s->fd);
        free(s->buf);
    }
    free(a->slots);
    free(a);
}

static void
do_reopen(void *arg)
{
    slot_t *s = arg;
    flush_slot(s);
    if (s->fd < 0)
        return; /* off */
    int fd = open_log(s->path);
    if (fd < 0) {
        int err = errno;
        be_log(BE_LOG_ALERT, "open() \"%s\" failed (%d: %s) while reopening the access log",
               s->path, err, strerror(err));
        return;
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = fd;
}

void
be_accesslog_reopen(be_accesslog_t *a)
{
    for (int i = 0; i < a->nslots; i++)
        if (be_worker_post(a->slots[i].w, do_reopen, &a->slots[i]) != BE_OK)
            be_log(BE_LOG_ALERT, "cannot reopen the access log of worker %d: out of memory",
                   a->slots[i].w->id);
}

typedef struct {
    slot_t *slot;
    int json;
    char path[1024];
} retarget_t;

static void
do_retarget(void *arg)
{
    retarget_t *m = arg;
    slot_t *s = m->slot;
    int fd = -1;
    if (m->path[0] != '\0' && (fd = open_log(m->path)) < 0) {
        int err = errno;
        be_log(BE_LOG_ALERT,
               "open() \"%s\" failed (%d: %s) while switching the access log; "
               "keeping \"%s\"",
               m->path, err, strerror(err), s->path[0] ? s->path : "off");
        free(m);
        return;
    }
    flush_slot(s);
    if (s->fd >= 0)
        close(s->fd);
    s->fd = fd;
    s->json = m->json;
    snprintf(s->path, sizeof(s->path), "%s", m->path);
    free(m);
}

void
be_accesslog_retarget(be_accesslog_t *a, const char *path, int json)
{
    for (int i = 0; i < a->nslots; i++) {
        retarget_t *m = malloc(sizeof(*m));
        if (m != NULL) {
            m->slot = &a->slots[i];
            m->json = json;
            snprintf(m->path, sizeof(m->path), "%s", path);
        }
        if (m == NULL || be_worker_post(a->slots[i].w, do_retarget, m) != BE_OK) {
            free(m);
            be_log(BE_LOG_ALERT, "cannot switch the access log of worker %d: out of memory",
                   a->slots[i].w->id);
        }
    }
}

int
be_accesslog_on(const be_accesslog_t *a, int worker)
{
    return a != NULL && worker >= 1 && worker <= a->nslots && a->slots[worker - 1].fd >= 0;
}

/* ---- the line ------------------------------------------------------------------------------ */

/* Copies s into out as nginx does: '"', '\' and bytes outside printable ASCII become
 * \xHH; an empty value is "-". Returns the new position. */
static size_t
put_escaped(char *out, size_t pos, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (s == NULL || *s == '\0')
        s = "-";
    for (; *s != '\0' && pos + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            out[pos++] = '\\';
            out[pos++] = 'x';
            out[pos++] = hex[c >> 4];
            out[pos++] = hex[c & 15];
        } else {
            out[pos++] = (char)c;
        }
    }
    return pos;
}

static size_t
put_str(char *out, size_t pos, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (pos + n >= cap)
        n = cap - pos - 1;
    memcpy(out + pos, s, n);
    return pos + n;
}

/* Copies s into out as a JSON string's contents: '"' and '\\' escaped, control bytes and
 * bytes outside ASCII as \u00XX (each byte as one code point, so any input stays valid
 * UTF-8 JSON). Returns the new position. */
static size_t
put_json(char *out, size_t pos, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; s != NULL && *s != '\0' && pos + 6 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[pos++] = '\\';
            out[pos++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            memcpy(out + pos, "\\u00", 4);
            out[pos + 4] = hex[c >> 4];
            out[pos + 5] = hex[c & 15];
            pos += 6;
        } else {
            out[pos++] = (char)c;
        }
    }
    return pos;
}

/* The fields every format shares, worked out once. */
typedef struct {
    char addr[64]; /* $remote_addr: the peer without its port, "-" when unknown */
    const char *time, *cache, *tier;
} fields_t;

static void
fields_of(slot_t *s, const be_access_entry_t *e, fields_t *f)
{
    snprintf(f->addr, sizeof(f->addr), "%s", e->peer != NULL ? e->peer : "-");
    char *colon = strrchr(f->addr, ':');
    if (e->peer != NULL && colon != NULL && colon != f->addr)
        *colon = '\0';
    if (e->client != NULL)
        snprintf(f->addr, sizeof(f->addr), "%s", e->client);
    f->time = be_timetext_get(&s->time, be_worker_wall_sec(s->w));
    f->cache = f->tier = "-";
    switch (e->tier) {
    case BE_TIER_MEMORY:
        f->cache = "HIT", f->tier = "memory";
        break;
    case BE_TIER_DISK:
        f->cache = "HIT", f->tier = "disk";
        break;
    case BE_TIER_MISS:
        f->cache = "MISS", f->tier = "origin";
        break;
    }
    if (e->denied != NULL)
        f->cache = "DENIED", f->tier = e->denied;
}

/* nginx's combined format, then cache status, tier, block bytes and seconds taken. */
static size_t
combined_line(const be_access_entry_t *e, const fields_t *f, char *line, size_t cap)
{
    size_t pos = 0;
    uint64_t duration_us = e->duration_us;
    pos = put_str(line, pos, cap, f->addr);
    pos = put_str(line, pos, cap, " - - [");
    pos = put_str(line, pos, cap, f->time);
    pos = put_str(line, pos, cap, "] \"");
    if (e->method[0] != '\0') {
        pos = put_escaped(line, pos, cap, e->method);
        pos = put_str(line, pos, cap, " ");
        pos = put_escaped(line, pos, cap, e->path);
        pos = put_str(line, pos, cap, e->http2 ? " HTTP/2.0" : " HTTP/1.1");
    } else {
        pos = put_str(line, pos, cap, "-");
    }
    char mid[96];
    snprintf(mid, sizeof(mid), "\" %d %" PRIu64 " \"", e->status, e->body_len);
    pos = put_str(line, pos, cap, mid);
    pos = put_escaped(line, pos, cap, e->referer);
    pos = put_str(line, pos, cap, "\" \"");
    pos = put_escaped(line, pos, cap, e->agent);
    char tail[128];
    if (e->block_size >= 0)
        snprintf(tail, sizeof(tail), "\" %s %s %" PRId64 " %" PRIu64 ".%06" PRIu64 "\n", f->cache,
                 f->tier, e->block_size, duration_us / 1000000, duration_us % 1000000);
    else
        snprintf(tail, sizeof(tail), "\" %s %s - %" PRIu64 ".%06" PRIu64 "\n", f->cache, f->tier,
                 duration_us / 1000000, duration_us % 1000000);
    return put_str(line, pos, cap, tail);
}

/* The same fields as one JSON object; strings that were "-" in the combined line are "" here
 * and a missing block size is null. */
static size_t
json_line(const be_access_entry_t *e, const fields_t *f, char *line, size_t cap)
{
    size_t pos = 0;
    char num[160];
    pos = put_str(line, pos, cap, "{\"time_local\":\"");
    pos = put_json(line, pos, cap, f->time);
    pos = put_str(line, pos, cap, "\",\"remote_addr\":\"");
    pos = put_json(line, pos, cap, e->peer != NULL ? f->addr : "");
    pos = put_str(line, pos, cap, "\",\"method\":\"");
    pos = put_json(line, pos, cap, e->method);
    pos = put_str(line, pos, cap, "\",\"path\":\"");
    pos = put_json(line, pos, cap, e->method[0] != '\0' ? e->path : "");
    pos = put_str(line, pos, cap, "\",\"protocol\":\"");
    pos = put_str(line, pos, cap, e->method[0] == '\0' ? "" : e->http2 ? "HTTP/2.0" : "HTTP/1.1");
    snprintf(num, sizeof(num),
             "\",\"status\":%d,\"body_bytes_sent\":%" PRIu64 ",\"http_referer\":\"", e->status,
             e->body_len);
    pos = put_str(line, pos, cap, num);
    pos = put_json(line, pos, cap, e->referer);
    pos = put_str(line, pos, cap, "\",\"http_user_agent\":\"");
    pos = put_json(line, pos, cap, e->agent);
    pos = put_str(line, pos, cap, "\",\"cache\":\"");
    pos = put_json(line, pos, cap, strcmp(f->cache, "-") != 0 ? f->cache : "");
    pos = put_str(line, pos, cap, "\",\"tier\":\"");
    pos = put_json(line, pos, cap, strcmp(f->tier, "-") != 0 ? f->tier : "");
    char size[32] = "null";
    if (e->block_size >= 0)
        snprintf(size, sizeof(size), "%" PRId64, e->block_size);
    snprintf(num, sizeof(num),
             "\",\"block_bytes\":%s,\"request_time\":%" PRIu64 ".%06" PRIu64 "}\n", size,
             e->duration_us / 1000000, e->duration_us % 1000000);
    return put_str(line, pos, cap, num);
}

void
be_accesslog_write(be_accesslog_t *a, const be_access_entry_t *e)
{
    int id = e->worker;
    if (!be_accesslog_on(a, id))
        return;
    slot_t *s = &a->slots[id - 1];
    char line[LINE_MAX_LEN];
    size_t cap = sizeof(line) - 1;
    fields_t f;
    fields_of(s, e, &f);
    size_t pos = s->json ? json_line(e, &f, line, cap) : combined_line(e, &f, line, cap);
    if (line[pos - 1] != '\n')
        line[pos++] = '\n'; /* truncated: still one line */

    if (s->len + pos > BUF_SIZE)
        flush_slot(s);
    memcpy(s->buf + s->len, line, pos);
    s->len += pos;
}
