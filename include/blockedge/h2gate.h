/*
 * h2gate.h - the RFC 9113 stream-state answers nghttp2 1.52 cannot give once it keeps no closed
 * streams: a walk over the client's frame headers in front of nghttp2_session_mem_recv, and a
 * bounded memory of how recent streams closed.
 */
#ifndef BLOCKEDGE_H2GATE_H
#define BLOCKEDGE_H2GATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nghttp2/nghttp2.h>

/* Closed streams remembered per connection (8 bytes each): more than h2_max_concurrent_streams'
 * default, so a stream is still known while the ones opened after it are answered. */
#define BE_H2GATE_CLOSED 128

/* How a stream closed (bits): the client ended it, the client reset it, we reset it. */
enum { BE_H2GATE_RX_END = 1, BE_H2GATE_RX_RST = 2, BE_H2GATE_TX_RST = 4 };

typedef struct be_h2gate_s {
    size_t preface_left; /* client preface bytes not yet walked over */
    size_t payload_left; /* the current frame's payload bytes not yet walked over */
    int32_t max_id;      /* highest stream id the client opened with HEADERS */
    unsigned next;       /* the slot written next in closed[] */
    struct {
        int32_t id; /* 0: an empty slot */
        uint8_t how;
    } closed[BE_H2GATE_CLOSED];
} be_h2gate_t;

void be_h2gate_init(be_h2gate_t *g);

/* Stream id closed, or is closing, in the way HOW says (added to what is known of it). */
void be_h2gate_note(be_h2gate_t *g, int32_t id, unsigned how);

/* What is remembered of stream id: BE_H2GATE_* bits, 0 when nothing (never opened, or forgotten).
 */
unsigned be_h2gate_closed_how(const be_h2gate_t *g, int32_t id);

/* Hands p[0..len) to session, frame by frame where it must: before nghttp2 sees a DATA,
 * HEADERS or PRIORITY frame whose stream it no longer knows, the gate answers what RFC 9113
 * says (RST_STREAM or GOAWAY, queued in the session). Returns the bytes consumed (fewer than
 * len when a frame header, or a PRIORITY frame, is not complete yet: keep the rest for the
 * next call) or nghttp2's negative error. *errors counts the frames answered with an error. */
ssize_t be_h2gate_recv(be_h2gate_t *g, nghttp2_session *session, const uint8_t *p, size_t len,
                       int *errors);

#endif
