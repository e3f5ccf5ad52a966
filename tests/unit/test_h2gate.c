/*
 * test_h2gate.c - the gate in front of a real nghttp2 server session (the options http2.c
 * uses: no closed streams, NO_RFC7540_PRIORITIES): the closed-stream ring and its bound; bytes
 * handed over up to an incomplete frame header (or PRIORITY frame) and the rest on the next
 * call; each RFC 9113 answer as the frames the session then sends: GOAWAY and its code, or
 * RST_STREAM with its stream and code; frames after our own reset ignored.
 */
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "blockedge/h2gate.h"
#include "test.h"

static uint8_t out[4096];
static size_t outlen;
static uint8_t in[1024];
static size_t inlen;

static ssize_t
on_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)s, (void)flags, (void)ud;
    if (outlen + len > sizeof(out))
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    memcpy(out + outlen, data, len);
    outlen += len;
    return (ssize_t)len;
}

static nghttp2_session *
server(void)
{
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    nghttp2_session *s;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_send_callback(cbs, on_send);
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_closed_streams(opt, 1);
    nghttp2_session_server_new2(&s, cbs, NULL, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1}};
    nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, iv, 1);
    nghttp2_session_send(s);
    outlen = 0;
    inlen = 0;
    return s;
}

static void
frame(uint8_t type, uint8_t flags, int32_t id, const uint8_t *payload, size_t len)
{
    uint8_t *h = in + inlen;
    h[0] = (uint8_t)(len >> 16), h[1] = (uint8_t)(len >> 8), h[2] = (uint8_t)len;
    h[3] = type, h[4] = flags;
    h[5] = (uint8_t)(id >> 24), h[6] = (uint8_t)(id >> 16), h[7] = (uint8_t)(id >> 8);
    h[8] = (uint8_t)id;
    if (len > 0)
        memcpy(h + 9, payload, len);
    inlen += 9 + len;
}

static void
preface(void)
{
    memcpy(in + inlen, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    inlen += 24;
    frame(NGHTTP2_SETTINGS, 0, 0, NULL, 0);
}

/* A GET: :method GET, :scheme http, :path / (static table), :authority a (literal). */
static void
request(int32_t id, int end_stream)
{
    static const uint8_t block[] = {0x82, 0x86, 0x84, 0x01, 0x01, 'a'};
    frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | (end_stream ? NGHTTP2_FLAG_END_STREAM : 0),
          id, block, sizeof(block));
}

static void
priority(int32_t id, int32_t dep)
{
    uint8_t p[5] = {(uint8_t)(dep >> 24), (uint8_t)(dep >> 16), (uint8_t)(dep >> 8), (uint8_t)dep,
                    15};
    frame(NGHTTP2_PRIORITY, 0, id, p, sizeof(p));
}

/* Runs in[] through the gate and the session's answer out; returns the gate's error count. */
static int
run(be_h2gate_t *g, nghttp2_session *s)
{
    int errors = 0;
    ssize_t n = be_h2gate_recv(g, s, in, inlen, &errors);
    if (n != (ssize_t)inlen)
        return -100;
    nghttp2_session_send(s);
    inlen = 0;
    return errors;
}

/* The first frame of TYPE in out[] (after SETTINGS and their ACKs): its stream and code. */
static int
find(uint8_t type, int32_t *id, uint32_t *code)
{
    for (size_t at = 0; at + 9 <= outlen;) {
        const uint8_t *h = out + at;
        size_t len = ((size_t)h[0] << 16) | ((size_t)h[1] << 8) | h[2];
        if (h[3] == type) {
            const uint8_t *p = h + 9 + (type == NGHTTP2_GOAWAY ? 4 : 0);
            *id = (int32_t)(((uint32_t)h[5] << 24) | ((uint32_t)h[6] << 16) |
                            ((uint32_t)h[7] << 8) | h[8]);
            *code = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
            return 1;
        }
        at += 9 + len;
    }
    return 0;
}

static void
test_h2gate_ring_remembers_the_last_streams_only(void)
{
    be_h2gate_t g;
    be_h2gate_init(&g);
    be_h2gate_note(&g, 1, BE_H2GATE_RX_END);
    be_h2gate_note(&g, 1, BE_H2GATE_RX_RST);
    BE_CHECK_INT(be_h2gate_closed_how(&g, 1), BE_H2GATE_RX_END | BE_H2GATE_RX_RST);
    BE_CHECK_INT(be_h2gate_closed_how(&g, 3), 0);
    for (int32_t id = 3; id < 3 + 2 * BE_H2GATE_CLOSED; id += 2)
        be_h2gate_note(&g, id, BE_H2GATE_TX_RST);
    BE_CHECK_INT(be_h2gate_closed_how(&g, 1), 0); /* the oldest, forgotten */
    BE_CHECK_INT(be_h2gate_closed_how(&g, 3), BE_H2GATE_TX_RST);
    be_h2gate_note(&g, 3 + 2 * BE_H2GATE_CLOSED, BE_H2GATE_RX_END);
    BE_CHECK_INT(be_h2gate_closed_how(&g, 3), 0);
    BE_CHECK_INT(be_h2gate_closed_how(&g, 5), BE_H2GATE_TX_RST);
    BE_CHECK_INT(be_h2gate_closed_how(&g, 1 + 2 * BE_H2GATE_CLOSED), BE_H2GATE_TX_RST);
    BE_CHECK(sizeof(g) <= 24 + 8 * BE_H2GATE_CLOSED);
}

static void
test_h2gate_waits_for_a_whole_frame_header(void)
{
    be_h2gate_t g;
    be_h2gate_init(&g);
    nghttp2_session *s = server();
    preface();
    request(1, 1);
    priority(1, 1);
    int errors = 0;
    size_t whole = inlen;
    /* Up to the PRIORITY frame less one byte: everything before it is consumed. */
    BE_CHECK_INT(be_h2gate_recv(&g, s, in, whole - 1, &errors), whole - 14);
    BE_CHECK_INT(errors, 0);
    BE_CHECK_INT(be_h2gate_recv(&g, s, in + whole - 14, 5, &errors), 0); /* half a header */
    BE_CHECK_INT(be_h2gate_recv(&g, s, in + whole - 14, 14, &errors), 14);
    BE_CHECK_INT(errors, 1);
    nghttp2_session_send(s);
    int32_t id;
    uint32_t code;
    BE_CHECK(find(NGHTTP2_RST_STREAM, &id, &code));
    BE_CHECK_INT(id, 1);
    BE_CHECK_INT(code, NGHTTP2_PROTOCOL_ERROR);
    nghttp2_session_del(s);
}

/* Stream 1 opened and closed as HOW says, then FRAME on it; the answer, as (type, id, code). */
static void
after_close(unsigned how, uint8_t type, int *errors, uint8_t *answer, int32_t *id, uint32_t *code)
{
    be_h2gate_t g;
    be_h2gate_init(&g);
    nghttp2_session *s = server();
    preface();
    request(1, 1);
    request(3, 1);
    frame(NGHTTP2_RST_STREAM, 0, 1, (const uint8_t[]){0, 0, 0, 8}, 4); /* nghttp2 forgets 1 */
    *errors = run(&g, s);
    be_h2gate_note(&g, 1, how);
    outlen = 0;
    if (type == NGHTTP2_DATA)
        frame(NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1, (const uint8_t *)"x", 1);
    else
        request(1, 1);
    *errors += run(&g, s);
    *answer = 0;
    if (find(NGHTTP2_GOAWAY, id, code))
        *answer = NGHTTP2_GOAWAY;
    else if (find(NGHTTP2_RST_STREAM, id, code))
        *answer = NGHTTP2_RST_STREAM;
    nghttp2_session_del(s);
}

static void
test_h2gate_answers_frames_on_closed_streams(void)
{
    int errors;
    uint8_t answer;
    int32_t id;
    uint32_t code;
    after_close(BE_H2GATE_RX_END, NGHTTP2_DATA, &errors, &answer, &id, &code);
    BE_CHECK_INT(answer, NGHTTP2_GOAWAY);
    BE_CHECK_INT(code, NGHTTP2_STREAM_CLOSED);
    BE_CHECK_INT(errors, 1);
    after_close(BE_H2GATE_RX_END, NGHTTP2_HEADERS, &errors, &answer, &id, &code);
    BE_CHECK_INT(answer, NGHTTP2_GOAWAY);
    BE_CHECK_INT(code, NGHTTP2_STREAM_CLOSED);
    after_close(BE_H2GATE_RX_RST, NGHTTP2_DATA, &errors, &answer, &id, &code);
    BE_CHECK_INT(answer, NGHTTP2_RST_STREAM);
    BE_CHECK_INT(id, 1);
    BE_CHECK_INT(code, NGHTTP2_STREAM_CLOSED);
    after_close(BE_H2GATE_RX_RST, NGHTTP2_HEADERS, &errors, &answer, &id, &code);
    BE_CHECK_INT(answer, NGHTTP2_RST_STREAM);
    BE_CHECK_INT(code, NGHTTP2_STREAM_CLOSED);
    after_close(BE_H2GATE_RX_RST | BE_H2GATE_TX_RST, NGHTTP2_DATA, &errors, &answer, &id, &code);
    BE_CHECK_INT(answer, 0); /* after our own reset: ignored */
    BE_CHECK_INT(errors, 0);
    after_close(0, NGHTTP2_HEADERS, &errors, &answer, &id, &code); /* unknown, lower id */
    BE_CHECK_INT(answer, NGHTTP2_GOAWAY);
    BE_CHECK_INT(code, NGHTTP2_PROTOCOL_ERROR);
    after_close(0, NGHTTP2_DATA, &errors, &answer, &id, &code);
    BE_CHECK_INT(answer, NGHTTP2_RST_STREAM);
    BE_CHECK_INT(code, NGHTTP2_STREAM_CLOSED);
}

static void
test_h2gate_answers_bad_priority_frames(void)
{
    be_h2gate_t g;
    int32_t id;
    uint32_t code;
    /* Valid ones pass: a dependency on stream 0, on another stream, on an idle stream. */
    be_h2gate_init(&g);
    nghttp2_session *s = server();
    preface();
    priority(1, 0);
    priority(3, 1);
    request(5, 1);
    priority(5, 3);
    BE_CHECK_INT(run(&g, s), 0);
    BE_CHECK(!find(NGHTTP2_GOAWAY, &id, &code));
    BE_CHECK(!find(NGHTTP2_RST_STREAM, &id, &code));
    /* Self-dependency of an idle stream: the connection's error. */
    priority(7, 7);
    BE_CHECK_INT(run(&g, s), 1);
    BE_CHECK(find(NGHTTP2_GOAWAY, &id, &code));
    BE_CHECK_INT(code, NGHTTP2_PROTOCOL_ERROR);
    nghttp2_session_del(s);
    /* PRIORITY on stream 0. */
    be_h2gate_init(&g);
    s = server();
    preface();
    priority(0, 1);
    BE_CHECK_INT(run(&g, s), 1);
    BE_CHECK(find(NGHTTP2_GOAWAY, &id, &code));
    BE_CHECK_INT(code, NGHTTP2_PROTOCOL_ERROR);
    nghttp2_session_del(s);
}

int
main(void)
{
    BE_RUN(test_h2gate_ring_remembers_the_last_streams_only);
    BE_RUN(test_h2gate_waits_for_a_whole_frame_header);
    BE_RUN(test_h2gate_answers_frames_on_closed_streams);
    BE_RUN(test_h2gate_answers_bad_priority_frames);
    BE_TEST_EXIT();
}
