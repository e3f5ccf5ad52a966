/*
 * origin_report.c - what a failed attempt says in the error log, and how often.
 *
 * Errors are summarized per worker like the breakers: the first of a kind per peer is
 * logged with its detail, the next ones within error_summary_interval are counted and
 * logged as one line per peer and reason ("origin X: 1532 timeouts in the last 10 s").
 * 404s are not errors. An S3 error document's <Code> is named. Knows nothing of retries.
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "blockedge/log.h"
#include "blockedge/worker.h"
#include "origin_int.h"

static const char *
plural(be_fetch_status_t st)
{
    switch (st) {
    case BE_FETCH_TIMEOUT:
        return "timeouts";
    case BE_FETCH_CONNECT:
        return "connect errors";
    case BE_FETCH_STATUS:
        return "bad answers";
    case BE_FETCH_TOO_LARGE:
        return "blocks over max_block_size";
    case BE_FETCH_DIGEST_MISMATCH:
        return "digest mismatches";
    default:
        return "errors";
    }
}

static const char *
peer_name(const be_origin_t *o, const peer_t *p)
{
    return p->index == NO_PEER ? "(all servers down)" : o->cfg->servers[p->index].url;
}

void
be_origin_interval_text(be_msec_t ms, char *buf, size_t len)
{
    if (ms % 1000 == 0)
        snprintf(buf, len, "%lld s", (long long)(ms / 1000));
    else
        snprintf(buf, len, "%lld ms", (long long)ms);
}

static void arm_summary(be_origin_t *o);

static void
on_summary(evutil_socket_t fd, short kind, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(kind);
    be_origin_t *o = arg;
    be_msec_t now = be_worker_now(o->w);
    char iv[32];
    int more = 0;
    o->summary_armed = 0;
    be_origin_interval_text(o->cfg->error_summary_interval, iv, sizeof(iv));
    for (int i = 0; i <= NO_PEER; i++) {
        peer_t *p = &o->peers[i];
        if (i >= o->npeers && i != NO_PEER)
            continue;
        for (int st = 0; st < BE_FETCH_NSTATUS; st++) {
            if (p->pending[st] == 0)
                continue;
            if (now - p->reported[st] < o->cfg->error_summary_interval) {
                more = 1;
                continue;
            }
            be_log(BE_LOG_ERROR, "origin \"%s\": %u %s in the last %s (last: %s)", peer_name(o, p),
                   p->pending[st], plural((be_fetch_status_t)st), iv, p->last[st]);
            p->pending[st] = 0;
            p->reported[st] = now;
        }
    }
    if (more)
        arm_summary(o);
}

static void
arm_summary(be_origin_t *o)
{
    if (o->summary_armed || o->closing)
        return;
    be_msec_t t = o->cfg->error_summary_interval / 4 + 1; /* late by a quarter at most */
    struct timeval tv = {t / 1000, (t % 1000) * 1000};
    if (evtimer_add(o->summary, &tv) == 0)
        o->summary_armed = 1;
}

/* Logs one error of peer p: at once when it is the first of its kind in an interval,
 * otherwise counted into the next summary line. */
void
be_origin_report(be_origin_t *o, peer_t *p, be_fetch_status_t st, const char *hex,
                 const char *detail)
{
    be_msec_t now = be_worker_now(o->w);
    snprintf(p->last[st], sizeof(p->last[st]), "%s", detail);
    if (p->reported[st] == 0 || now - p->reported[st] >= o->cfg->error_summary_interval) {
        be_log(BE_LOG_ERROR, "origin \"%s\": %s (%s) while fetching block %s", peer_name(o, p),
               be_fetch_message(st), detail, hex);
        p->reported[st] = now;
        return;
    }
    p->pending[st]++;
    arm_summary(o);
}

/* "<Code>SignatureDoesNotMatch</Code>" in an S3 error body, or "". */
static void
s3_error_code(const fetch_t *f, char *out, size_t len)
{
    out[0] = '\0';
    if (f->errbody == NULL)
        return;
    const char *s = strstr(f->errbody, "<Code>");
    const char *e = s != NULL ? strstr(s, "</Code>") : NULL;
    if (e == NULL)
        return;
    s += 6;
    size_t n = 0;
    for (; s < e && n + 1 < len; s++)
        if (*s > ' ' && *s < 0x7f && *s != '"')
            out[n++] = *s;
    out[n] = '\0';
}

/* The text that says what went wrong in one attempt, for the error log. */
void
be_origin_describe(const fetch_t *f, be_fetch_status_t st, char *buf, size_t len)
{
    char code[64];
    int answer = st != BE_FETCH_DIGEST_MISMATCH && st != BE_FETCH_TIMEOUT;
    s3_error_code(f, code, sizeof(code));
    if (answer && code[0] != '\0')
        snprintf(buf, len, "S3 error %s, HTTP %ld", code, f->code);
    else if (answer && f->code != 0 && f->code != 200)
        snprintf(buf, len, "HTTP %ld", f->code);
    else if (f->why[0] != '\0')
        snprintf(buf, len, "%s", f->why);
    else if (f->errbuf[0] != '\0')
        snprintf(buf, len, "%s", f->errbuf);
    else
        snprintf(buf, len, "%s", be_fetch_label(st));
}

void
be_origin_report_flush(be_origin_t *o)
{
    for (int i = 0; i <= NO_PEER; i++)
        for (int st = 0; st < BE_FETCH_NSTATUS; st++)
            o->peers[i].reported[st] = 0; /* every interval is over */
    if (o->summary_armed) {
        evtimer_del(o->summary);
        on_summary(-1, 0, o);
    }
}

int
be_origin_report_init(be_origin_t *o)
{
    o->summary = evtimer_new(o->w->base, on_summary, o);
    return o->summary != NULL ? BE_OK : BE_ERROR;
}
