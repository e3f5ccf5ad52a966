/*
 * fuzz_h2.c - libFuzzer target for a whole HTTP/2 connection: the input's bytes, after the
 * client connection preface, go to a real server-side session (blockedge's own callbacks,
 * flow control, limits and glitch budget) on a node built through the server object, with
 * a memory tier holding two blocks and a file:// origin holding a third block and a file
 * whose bytes do not match its name.
 *
 * Input: one byte that picks how the rest is written (0: in one piece, else in pieces of
 * ((b & 63) + 1) * 16 bytes with a loop turn between them), then the frames. The target
 * reads everything the server answers, then half-closes and waits for the server to close.
 *
 * What must hold, besides no sanitizer report: the connection is closed within a bound once
 * the client has gone (no hang); every HPACK block the server sends decodes; a 200 with a
 * body carries exactly one of the good blocks; a 206 carries the bytes of a good block at
 * the offsets its Content-Range names; the bytes of the mismatched file are never sent.
 * With BE_FUZZ_H2_TRACE set, each stream's answer is printed (to review a corpus).
 */
#include <nghttp2/nghttp2.h>
#include <signal.h>

#include "../unit/fixture.h"
#include "blockedge/http2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NGOOD       3
#define OUT_CAP     (2u << 20)
#define BODY_CAP    (128u << 10)
#define MAX_TRACKED 64
#define CLOSE_MS    5000

static const size_t good_size[NGOOD] = {1000, 40000, 70000}; /* last: origin only */

static struct {
    int ready;
    int trace; /* BE_FUZZ_H2_TRACE set: each stream's answer on stderr */
    be_config_t cfg;
    be_server_t *node;
    be_services_t *svc;
    be_worker_t *w;
    char dir[512];
    unsigned char *good[NGOOD];
    unsigned char bad[3000];
    unsigned char out[OUT_CAP];
} F;

typedef struct tracked_s {
    int32_t id;
    int status;
    int ended;
    uint64_t range_from, range_total;
    int has_range;
    size_t len;
    unsigned char *body;
} tracked_t;

static void
setup(void)
{
    char hex[BE_KEY_HEX_LEN + 1];
    be_key_t key;

    signal(SIGPIPE, SIG_IGN);
    F.trace = getenv("BE_FUZZ_H2_TRACE") != NULL;
    fixture_tmpdir(F.dir, sizeof(F.dir), "fuzz_h2");
    fixture_config(&F.cfg, 1);
    fixture_file_origin(&F.cfg, F.dir);
    F.cfg.memory_size = 4u << 20;
    be_worker_t *ws[1];
    F.node = fixture_build(&F.cfg, &F.svc, ws, 1, "fuzz_h2");
    F.w = ws[0];
    for (int i = 0; i < NGOOD; i++) {
        F.good[i] = malloc(good_size[i]);
        if (F.good[i] == NULL)
            abort();
        for (size_t j = 0; j < good_size[i]; j++)
            F.good[i][j] = (unsigned char)(j * 31 + (size_t)i * 7 + (j >> 8));
        if (i < NGOOD - 1)
            fixture_cache_block(F.svc, F.good[i], good_size[i], hex);
        else
            fixture_write_block(F.dir, F.good[i], good_size[i], hex);
    }
    /* A file named for other bytes: the verifier must refuse it. */
    memset(F.bad, 'x', sizeof(F.bad));
    unsigned char named[16] = "not these bytes";
    be_sha256(named, sizeof(named), &key);
    be_key_to_hex(&key, hex);
    fixture_write_file(F.dir, hex, F.bad, sizeof(F.bad));
    F.ready = 1;
}

/* ---- the client side: write, turn, read -------------------------------------------------- */

static void
drain(int fd, size_t *len, int *closed)
{
    unsigned char sink[16384];
    if (*len < OUT_CAP) {
        fixture_read(fd, F.out, OUT_CAP, len, closed);
        return;
    }
    size_t n = 0;
    fixture_read(fd, sink, sizeof(sink), &n, closed); /* past the cap: read and drop */
}

static int
turn(int fd, size_t *len, int *closed)
{
    size_t before = *len;
    event_base_loop(F.w->base, EVLOOP_NONBLOCK);
    drain(fd, len, closed);
    return *len != before;
}

/* Writes the input in pieces, turning the loop in between; stops early if the server closed. */
static void
feed(int fd, const uint8_t *p, size_t n, size_t piece, size_t *len, int *closed)
{
    size_t off = 0;
    int stuck = 0;
    while (off < n && !*closed && stuck < 1000) {
        size_t want = piece == 0 || n - off < piece ? n - off : piece;
        ssize_t k = send(fd, p + off, want, MSG_NOSIGNAL);
        if (k > 0) {
            off += (size_t)k;
            stuck = 0;
        } else if (k < 0 && errno != EAGAIN && errno != EINTR) {
            break; /* the server closed */
        } else {
            stuck++;
        }
        turn(fd, len, closed);
    }
}

/* Turns until nothing moves for a while (misses complete through the I/O pool meanwhile). */
static void
settle(int fd, size_t *len, int *closed)
{
    struct timespec pause = {0, 50000};
    for (int idle = 0, turns = 0; idle < 20 && turns < 4000 && !*closed; turns++) {
        if (turn(fd, len, closed))
            idle = 0;
        else {
            idle++;
            nanosleep(&pause, NULL);
        }
    }
}

/* ---- what the server sent ------------------------------------------------------------------ */

static tracked_t *
track(tracked_t *t, int *nt, int32_t id)
{
    for (int i = 0; i < *nt; i++)
        if (t[i].id == id)
            return &t[i];
    if (*nt == MAX_TRACKED)
        return NULL;
    tracked_t *s = &t[(*nt)++];
    memset(s, 0, sizeof(*s));
    s->id = id;
    return s;
}

static void
on_field(tracked_t *s, const nghttp2_nv *nv)
{
    char v[96];
    size_t n = nv->valuelen < sizeof(v) - 1 ? nv->valuelen : sizeof(v) - 1;
    memcpy(v, nv->value, n);
    v[n] = '\0';
    if (nv->namelen == 7 && memcmp(nv->name, ":status", 7) == 0)
        s->status = atoi(v);
    else if (nv->namelen == 13 && memcmp(nv->name, "content-range", 13) == 0) {
        unsigned long long a, b, total;
        if (sscanf(v, "bytes %llu-%llu/%llu", &a, &b, &total) == 3) {
            s->has_range = 1;
            s->range_from = a;
            s->range_total = total;
        }
    }
}

/* Decodes one complete header block for stream s; aborts if the server's HPACK is bad. */
static void
decode(nghttp2_hd_inflater *inf, tracked_t *s, const uint8_t *in, size_t n)
{
    for (;;) {
        nghttp2_nv nv;
        int flags = 0;
        ssize_t used = nghttp2_hd_inflate_hd2(inf, &nv, &flags, in, n, 1);
        if (used < 0)
            abort(); /* the server sent an HPACK block that does not decode */
        in += used;
        n -= (size_t)used;
        if ((flags & NGHTTP2_HD_INFLATE_EMIT) && s != NULL)
            on_field(s, &nv);
        if (flags & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(inf);
            return;
        }
        if (used == 0 && n == 0 && !(flags & NGHTTP2_HD_INFLATE_EMIT))
            abort();
    }
}

static void
body(tracked_t *s, const uint8_t *p, size_t n)
{
    if (s->len + n > BODY_CAP) {
        s->len = BODY_CAP + 1; /* longer than any good block: checked below */
        return;
    }
    if (s->body == NULL && (s->body = malloc(BODY_CAP)) == NULL)
        abort();
    memcpy(s->body + s->len, p, n);
    s->len += n;
}

/* A frame's payload without its padding (and HEADERS' priority fields); NULL if malformed. */
static const uint8_t *
payload(const uint8_t *f, uint32_t len, uint8_t type, uint8_t flags, size_t *n)
{
    size_t skip = 0, pad = 0;
    if ((type == 0 || type == 1) && (flags & 0x8)) {
        if (len < 1)
            return NULL;
        pad = f[0];
        skip = 1;
    }
    if (type == 1 && (flags & 0x20))
        skip += 5;
    if (skip + pad > len)
        return NULL;
    *n = len - skip - pad;
    return f + skip;
}

static int
is_good(const tracked_t *s)
{
    for (int i = 0; i < NGOOD; i++) {
        if (s->status == 200 && s->len == good_size[i] && memcmp(s->body, F.good[i], s->len) == 0)
            return 1;
        if (s->status == 206 && s->range_total == good_size[i] &&
            s->range_from + s->len <= good_size[i] &&
            memcmp(s->body, F.good[i] + s->range_from, s->len) == 0)
            return 1;
    }
    return 0;
}

static void
check_output(size_t len)
{
    tracked_t t[MAX_TRACKED];
    int nt = 0;
    nghttp2_hd_inflater *inf;
    if (nghttp2_hd_inflate_new(&inf) != 0)
        abort();
    uint8_t *block = NULL;
    size_t blen = 0;
    tracked_t *hs = NULL;
    size_t off = 0;
    while (off + 9 <= len && len <= OUT_CAP) {
        const uint8_t *h = F.out + off;
        uint32_t flen = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
        uint8_t type = h[3], flags = h[4];
        int32_t id =
            (int32_t)(((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8]) &
                      0x7fffffffu);
        if (off + 9 + flen > len)
            break; /* cut off where the reading stopped */
        size_t n = 0;
        const uint8_t *p = payload(h + 9, flen, type, flags, &n);
        off += 9 + flen;
        if (type == 1 || type == 9) { /* HEADERS, CONTINUATION */
            if (p == NULL && type == 1)
                abort(); /* the server framed its own HEADERS wrong */
            if (type == 9)
                p = h + 9, n = flen;
            if (type == 1)
                hs = track(t, &nt, id), blen = 0;
            uint8_t *nb = realloc(block, blen + n + 1);
            if (nb == NULL)
                abort();
            block = nb;
            memcpy(block + blen, p, n);
            blen += n;
            if (type == 1 && hs != NULL && (flags & 0x1))
                hs->ended = 1;
            if (flags & 0x4)
                decode(inf, hs, block, blen);
        } else if (type == 0 && p != NULL) { /* DATA */
            tracked_t *s = track(t, &nt, id);
            if (s != NULL) {
                body(s, p, n);
                s->ended |= flags & 0x1;
            }
        }
    }
    for (int i = 0; i < nt; i++) {
        tracked_t *s = &t[i];
        if (F.trace)
            fprintf(stderr, "fuzz_h2: stream %d status %d %s%zu body bytes%s\n", s->id, s->status,
                    s->ended ? "ended, " : "", s->len, is_good(s) ? ", a good block's" : "");
        if (s->len > 0 && s->len <= BODY_CAP && memmem(s->body, s->len, F.bad, 64) != NULL)
            abort(); /* bytes that failed verification were served */
        if (s->ended && s->len > 0 && (s->status == 200 || s->status == 206) && !is_good(s))
            abort(); /* a complete answer that is not a good block's bytes */
        free(s->body);
    }
    free(block);
    nghttp2_hd_inflate_del(inf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    if (!F.ready)
        setup();
    size_t piece = data[0] == 0 ? 0 : ((size_t)(data[0] & 63) + 1) * 16;
    size_t len = 0;
    int closed = 0;
    int fd = fixture_connect(F.w, "fuzz_h2");
    feed(fd, (const uint8_t *)BE_H2_PREFACE, BE_H2_PREFACE_LEN, 0, &len, &closed);
    feed(fd, data + 1, size - 1, piece, &len, &closed);
    settle(fd, &len, &closed);
    shutdown(fd, SHUT_WR);
    int64_t end = fixture_now_ms() + CLOSE_MS;
    struct timespec pause = {0, 100000};
    while (F.w->nconns > 0 && fixture_now_ms() < end) {
        if (!turn(fd, &len, &closed))
            nanosleep(&pause, NULL);
    }
    if (F.w->nconns > 0)
        abort(); /* the client went away and the connection stayed */
    drain(fd, &len, &closed);
    close(fd);
    check_output(len < OUT_CAP ? len : OUT_CAP);
    return 0;
}
