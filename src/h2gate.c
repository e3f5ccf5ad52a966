/*
 * h2gate.c - RFC 9113 answers for frames on streams nghttp2 no longer knows.
 *
 * http2.c keeps no closed streams in nghttp2 (NO_RFC7540_PRIORITIES destroys them at close in
 * 1.52, and no_closed_streams says so too): that is part of the Rapid Reset defence, since a
 * session that retains streams holds memory for each one a client opens and resets. The cost
 * is that nghttp2 then silently ignores what arrives for a closed stream, and never sees a
 * stream id lower than the last as an error, where RFC 9113 wants an answer:
 *   - a frame after the client's END_STREAM: a connection error STREAM_CLOSED (5.1, closed);
 *   - DATA or HEADERS after the client's RST_STREAM: a stream error STREAM_CLOSED (5.1);
 *   - anything after our own RST_STREAM: ignored (the client may have sent it before it knew);
 *   - HEADERS on a stream id lower than one already opened, not a stream we know: a connection
 *     error PROTOCOL_ERROR (5.1.1); DATA there: a stream error STREAM_CLOSED (6.1);
 *   - PRIORITY on stream 0: a connection error PROTOCOL_ERROR (6.3); PRIORITY that makes a
 *     stream depend on itself: a stream error PROTOCOL_ERROR (5.3.1), or a connection error
 *     when the stream is idle, where RST_STREAM may not be sent (6.4). nghttp2 reads PRIORITY
 *     frames and drops them unseen once NO_RFC7540_PRIORITIES is on.
 *
 * The gate walks the frame headers of the client's bytes in front of nghttp2_session_mem_recv.
 * Before a frame that may need one of these answers, it hands nghttp2 everything up to that
 * frame, so the stream states it consults are the ones the frame meets; a stream nghttp2 still
 * has (open or half-closed) is nghttp2's business. For the others it consults a ring of the
 * last BE_H2GATE_CLOSED closed streams and how each closed (8 bytes a stream, about 1 KiB a
 * connection, whatever the client does). A stream that has left the ring is answered as one
 * never opened. The frame itself still goes to nghttp2, which ignores it but counts its bytes
 * against the connection's flow-control window and keeps the HPACK state in step.
 */
#include <string.h>

#include "blockedge/h2gate.h"

#define FRAME_HEADER 9
#define PRIORITY_LEN 5

void
be_h2gate_init(be_h2gate_t *g)
{
    memset(g, 0, sizeof(*g));
    g->preface_left = 24; /* the client connection preface, "PRI * HTTP/2.0..." */
}

void
be_h2gate_note(be_h2gate_t *g, int32_t id, unsigned how)
{
    if (id <= 0)
        return;
    for (unsigned i = 0; i < BE_H2GATE_CLOSED; i++) {
        if (g->closed[i].id == id) {
            g->closed[i].how |= (uint8_t)how;
            return;
        }
    }
    g->closed[g->next].id = id;
    g->closed[g->next].how = (uint8_t)how;
    g->next = (g->next + 1) % BE_H2GATE_CLOSED;
}

unsigned
be_h2gate_closed_how(const be_h2gate_t *g, int32_t id)
{
    for (unsigned i = 0; i < BE_H2GATE_CLOSED; i++)
        if (g->closed[i].id == id)
            return g->closed[i].how;
    return 0;
}

/* nghttp2 still has the stream (open, half-closed, or closing after our RST_STREAM). */
static int
known(nghttp2_session *session, int32_t id)
{
    nghttp2_stream *st = nghttp2_session_find_stream(session, id);
    if (st == NULL)
        return 0;
    nghttp2_stream_proto_state ps = nghttp2_stream_get_state(st);
    return ps != NGHTTP2_STREAM_STATE_CLOSED && ps != NGHTTP2_STREAM_STATE_IDLE;
}

/* A client stream no HEADERS has opened yet (ours, the even ones, are never opened). */
static int
idle(const be_h2gate_t *g, int32_t id)
{
    return id % 2 == 0 || id > g->max_id;
}

typedef struct {
    uint32_t length;
    uint8_t type;
    int32_t id;
} frame_t;

/* The answer, if any, to a frame about to reach nghttp2: 0, or -1 after queuing an error. */
static int
answer_stream_frame(be_h2gate_t *g, nghttp2_session *session, const frame_t *f)
{
    if (idle(g, f->id) || known(session, f->id))
        return 0;
    unsigned how = be_h2gate_closed_how(g, f->id);
    if (how & BE_H2GATE_TX_RST)
        return 0;
    if (how & BE_H2GATE_RX_RST || (how == 0 && f->type == NGHTTP2_DATA)) {
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, f->id, NGHTTP2_STREAM_CLOSED);
        return -1;
    }
    nghttp2_session_terminate_session(session, how & BE_H2GATE_RX_END ? NGHTTP2_STREAM_CLOSED
                                                                      : NGHTTP2_PROTOCOL_ERROR);
    return -1;
}

static int
answer_priority(be_h2gate_t *g, nghttp2_session *session, const frame_t *f, const uint8_t *payload)
{
    int32_t dep = (int32_t)(((uint32_t)(payload[0] & 0x7f) << 24) | ((uint32_t)payload[1] << 16) |
                            ((uint32_t)payload[2] << 8) | payload[3]);
    if (f->id != 0 && dep != f->id)
        return 0;
    if (f->id == 0 || idle(g, f->id)) {
        nghttp2_session_terminate_session(session, NGHTTP2_PROTOCOL_ERROR);
        return -1;
    }
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, f->id, NGHTTP2_PROTOCOL_ERROR);
    return -1;
}

/* Frames the gate may answer: DATA and HEADERS below the highest stream opened, PRIORITY. */
static int
checked(const be_h2gate_t *g, const frame_t *f)
{
    if (f->type == NGHTTP2_PRIORITY)
        return f->length == PRIORITY_LEN;
    return (f->type == NGHTTP2_DATA || f->type == NGHTTP2_HEADERS) && !idle(g, f->id);
}

static ssize_t
feed(nghttp2_session *session, const uint8_t *p, size_t len)
{
    return len == 0 ? 0 : nghttp2_session_mem_recv(session, p, len);
}

ssize_t
be_h2gate_recv(be_h2gate_t *g, nghttp2_session *session, const uint8_t *p, size_t len, int *errors)
{
    size_t at = 0, fed = 0;
    while (at < len) {
        size_t left = len - at;
        if (g->preface_left > 0 || g->payload_left > 0) {
            size_t *skip = g->preface_left > 0 ? &g->preface_left : &g->payload_left;
            size_t n = *skip < left ? *skip : left;
            *skip -= n;
            at += n;
            continue;
        }
        if (left < FRAME_HEADER)
            break;
        const uint8_t *h = p + at;
        frame_t f = {
            .length = ((uint32_t)h[0] << 16) | ((uint32_t)h[1] << 8) | h[2],
            .type = h[3],
            .id = (int32_t)(((uint32_t)(h[5] & 0x7f) << 24) | ((uint32_t)h[6] << 16) |
                            ((uint32_t)h[7] << 8) | h[8]),
        };
        if (f.type == NGHTTP2_PRIORITY && f.length == PRIORITY_LEN &&
            left < FRAME_HEADER + PRIORITY_LEN)
            break;
        if (checked(g, &f) && nghttp2_session_want_read(session)) {
            ssize_t rv = feed(session, p + fed, at - fed);
            if (rv < 0)
                return rv;
            fed = at;
            int r = f.type == NGHTTP2_PRIORITY ? answer_priority(g, session, &f, h + FRAME_HEADER)
                                               : answer_stream_frame(g, session, &f);
            *errors += r < 0;
        }
        if (f.type == NGHTTP2_HEADERS && f.id % 2 == 1 && f.id > g->max_id)
            g->max_id = f.id;
        at += FRAME_HEADER;
        g->payload_left = f.length;
    }
    ssize_t rv = feed(session, p + fed, at - fed);
    return rv < 0 ? rv : (ssize_t)at;
}
