"""h2conform.py - RFC 9113 stream-state conformance cases for blockedge, frame by frame.

`h2conform.py PORT GOOD_KEY BIG_KEY [--tls CA_FILE] [CASE...]` runs each case (all of them when
none is named) on a new connection to 127.0.0.1:PORT, h2c with prior knowledge or, with --tls,
h2 over TLS negotiated by ALPN and verified against CA_FILE. GOOD_KEY is a small cached block,
BIG_KEY a cached block larger than the default 65535-byte window, so that its stream stays
half-closed (remote) while the client grants no window. Each case asserts the exact frame the
server answers with (GOAWAY and its code, RST_STREAM and its stream and code, or nothing), and
then that a good request is still served: on the same connection where the RFC leaves it open,
on a new one where the answer was a connection error. One JSON line per case goes to stdout;
the exit status is 0, or 1 with the reasons on stderr.

The raw connection, frames and header blocks are h2raw.py's.
"""
import json
import socket
import ssl
import sys
import time

from h2raw import (CANCEL, MAX_WINDOW, SETTINGS_HEADER_TABLE_SIZE, STREAM_CLOSED, Conn, block_of,
                   data_frame, err_name, headers_frame, raw_frame, request_fields, tls_context)
from hyperframe.frame import (HeadersFrame, PingFrame, PriorityFrame, RstStreamFrame,
                              SettingsFrame, WindowUpdateFrame)

QUIET_S = 0.4  # how long "nothing" is waited for
ANSWER_S = 3.0  # how long an expected frame is waited for

TLS_CA = None


def connect(port):
    """A new connection, h2c or TLS, once SETTINGS went both ways and were acknowledged."""
    c = Conn(port, tls_ca=TLS_CA)
    c.wait_settings(ANSWER_S, acked=True)
    return c


def get(c, sid, key, extra=()):
    """GET /blocks/KEY on stream SID; waits for its end. Returns (status, body ok)."""
    return c.get(sid, key, ANSWER_S, extra=extra, until_goaway=True), c.has_block(sid, key)


class Case:
    def __init__(self, port, good, big):
        self.port, self.good, self.big = port, good, big
        self.problems = []

    def expect(self, what, got, want):
        if got != want:
            self.problems.append(f"{what}: expected {want}, got {got}")

    def good_on(self, c, sid, what):
        """A good request on stream SID of connection C: 200 with the block's bytes."""
        status, ok = get(c, sid, self.good)
        if status != 200 or not ok:
            self.problems.append(f"{what}: good request on stream {sid} got {status} "
                                 f"(body ok={ok}, rst={err_name(c.rst.get(sid))}, "
                                 f"goaway={c.goaway}, closed={c.how})")
        return status

    def good_new(self, what):
        c = connect(self.port)
        status = self.good_on(c, 1, what + " (new connection)")
        c.close()
        return status

    def closed_after(self, c, what):
        """After a connection error: the server closes, and a new connection is served."""
        if c.wait_closed(ANSWER_S) is None and not c.eof:
            self.problems.append(f"{what}: the connection was still open after its GOAWAY")
        return self.good_new(what)


# ---- the cases. Each returns (what the server sent, status of the good request after it).

def case_half_closed_data(k):
    """DATA on a half-closed (remote) stream: the big block's answer waits for window."""
    c = connect(k.port)
    c.request(1, f"/blocks/{k.big}")
    c.read_until(lambda: 1 in c.data, ANSWER_S)
    c.send(data_frame(1))
    got = c.answer(1, ANSWER_S)
    k.expect("DATA on a half-closed (remote) stream", got, "GOAWAY(STREAM_CLOSED)")
    return got, k.closed_after(c, "half-closed DATA")


def case_half_closed_headers(k):
    c = connect(k.port)
    c.request(1, f"/blocks/{k.big}")
    c.read_until(lambda: 1 in c.data, ANSWER_S)
    c.request(1, f"/blocks/{k.good}")
    got = c.answer(1, ANSWER_S)
    k.expect("HEADERS on a half-closed (remote) stream", got, "GOAWAY(STREAM_CLOSED)")
    return got, k.closed_after(c, "half-closed HEADERS")


def case_closed_data(k):
    """DATA on a stream closed by END_STREAM both ways (answered in full): a connection error."""
    c = connect(k.port)
    k.good_on(c, 1, "closed DATA: first request")
    c.send(data_frame(1))
    got = c.answer(1, ANSWER_S)
    k.expect("DATA on a closed stream", got, "GOAWAY(STREAM_CLOSED)")
    return got, k.closed_after(c, "closed DATA")


def case_closed_headers(k):
    c = connect(k.port)
    k.good_on(c, 1, "closed HEADERS: first request")
    c.request(1, f"/blocks/{k.good}")
    got = c.answer(1, ANSWER_S)
    k.expect("HEADERS on a closed stream", got, "GOAWAY(STREAM_CLOSED)")
    return got, k.closed_after(c, "closed HEADERS")


def case_data_in_one_write(k):
    """HEADERS with END_STREAM and DATA on the same stream in one write (a cached block)."""
    c = connect(k.port)
    c.send(headers_frame(1, block_of(request_fields(f"/blocks/{k.good}"))) + data_frame(1))
    got = c.answer(1, ANSWER_S)
    k.expect("DATA after END_STREAM in the same write", got, "GOAWAY(STREAM_CLOSED)")
    return got, k.closed_after(c, "DATA after END_STREAM")


def reset_then(k, frame_of, what):
    """Stream 1 reset by the client (HEADERS without END_STREAM, RST_STREAM CANCEL), then
    FRAME_OF(1): a stream error, and the connection serves stream 3."""
    c = connect(k.port)
    c.send(headers_frame(1, block_of(request_fields(f"/blocks/{k.good}")), end_stream=False) +
           RstStreamFrame(1, error_code=CANCEL).serialize())
    c.pump(0.1)
    c.rst.pop(1, None)
    c.send(frame_of(1))
    got = c.answer(1, ANSWER_S)
    k.expect(what, got, f"RST_STREAM(1,{err_name(STREAM_CLOSED)})")
    return got, k.good_on(c, 3, what)


def case_rst_data(k):
    return reset_then(k, lambda sid: data_frame(sid), "DATA after the client's RST_STREAM")


def case_rst_headers(k):
    return reset_then(k, lambda sid: headers_frame(sid, block_of(request_fields(f"/blocks/{k.good}"))),
                      "HEADERS after the client's RST_STREAM")


def case_lower_id(k):
    """HEADERS on stream 3 after stream 5 was opened: a connection error PROTOCOL_ERROR."""
    c = connect(k.port)
    k.good_on(c, 5, "lower id: first request")
    c.request(3, f"/blocks/{k.good}")
    got = c.answer(3, ANSWER_S)
    k.expect("HEADERS on a stream id lower than a previous one", got, "GOAWAY(PROTOCOL_ERROR)")
    if c.status(3) is not None:
        k.problems.append(f"the lower stream id was answered {c.status(3)}")
    return got, k.closed_after(c, "lower id")


def case_data_lower_unopened(k):
    """DATA on stream 3, never opened, after stream 5 (so 3 is closed, RFC 9113 5.1.1): a
    stream error STREAM_CLOSED (6.1); the connection serves stream 7."""
    c = connect(k.port)
    k.good_on(c, 5, "DATA on a skipped id: first request")
    c.send(data_frame(3))
    got = c.answer(3, ANSWER_S)
    k.expect("DATA on a stream never opened, below the last", got, "RST_STREAM(3,STREAM_CLOSED)")
    return got, k.good_on(c, 7, "DATA on a skipped id")


def case_data_idle(k):
    """DATA on an idle stream (above every opened one): a connection error PROTOCOL_ERROR."""
    c = connect(k.port)
    k.good_on(c, 1, "DATA on idle: first request")
    c.send(data_frame(3))
    got = c.answer(3, ANSWER_S)
    k.expect("DATA on an idle stream", got, "GOAWAY(PROTOCOL_ERROR)")
    return got, k.closed_after(c, "DATA on idle")


def case_after_server_reset(k):
    """The server reset stream 1 (a request without :path); the client's DATA for it, sent
    before it could know, is ignored (RFC 9113 5.1), and the connection serves stream 3."""
    c = connect(k.port)
    fields = [(n, v) for n, v in request_fields(f"/blocks/{k.good}") if n != ":path"]
    c.send(headers_frame(1, block_of(fields), end_stream=False))
    first = c.answer(1, ANSWER_S)
    k.expect("a request without :path", first, "RST_STREAM(1,PROTOCOL_ERROR)")
    c.rst.pop(1, None)
    c.send(data_frame(1))
    got = c.answer(1, QUIET_S)
    k.expect("DATA after the server's RST_STREAM", got, "nothing")
    return got, k.good_on(c, 3, "after the server's reset")


def case_priority_self_open(k):
    """PRIORITY making an open stream depend on itself: a stream error PROTOCOL_ERROR."""
    c = connect(k.port)
    c.request(1, f"/blocks/{k.big}")
    c.read_until(lambda: 1 in c.data, ANSWER_S)
    c.send(PriorityFrame(1, depends_on=1, stream_weight=15).serialize())
    got = c.answer(1, ANSWER_S)
    k.expect("PRIORITY depending on itself (open stream)", got, "RST_STREAM(1,PROTOCOL_ERROR)")
    c.send(WindowUpdateFrame(0, window_increment=MAX_WINDOW - 65535).serialize())
    return got, k.good_on(c, 3, "PRIORITY self (open)")


def case_priority_self_closed(k):
    c = connect(k.port)
    k.good_on(c, 1, "PRIORITY self (closed): first request")
    c.send(PriorityFrame(1, depends_on=1, stream_weight=15).serialize())
    got = c.answer(1, ANSWER_S)
    k.expect("PRIORITY depending on itself (closed stream)", got, "RST_STREAM(1,PROTOCOL_ERROR)")
    return got, k.good_on(c, 3, "PRIORITY self (closed)")


def case_priority_self_idle(k):
    """On an idle stream RST_STREAM may not be sent (6.4): the error is the connection's."""
    c = connect(k.port)
    c.send(PriorityFrame(3, depends_on=3, stream_weight=15).serialize())
    got = c.answer(3, ANSWER_S)
    k.expect("PRIORITY depending on itself (idle stream)", got, "GOAWAY(PROTOCOL_ERROR)")
    return got, k.closed_after(c, "PRIORITY self (idle)")


def case_priority_stream0(k):
    c = connect(k.port)
    # hyperframe refuses to build it: the frame by hand (RFC 9113 6.3), on stream 1, weight 15.
    c.send(raw_frame(0x2, 0, 0, bytes([0, 0, 0, 1, 15])))
    got = c.answer(None, ANSWER_S)
    k.expect("PRIORITY on stream 0", got, "GOAWAY(PROTOCOL_ERROR)")
    return got, k.closed_after(c, "PRIORITY on stream 0")


def case_priority_valid(k):
    """PRIORITY frames that are fine (on stream 0's tree, on closed and idle streams) are
    ignored: no answer, and the connection serves."""
    c = connect(k.port)
    k.good_on(c, 1, "valid PRIORITY: first request")
    c.send(PriorityFrame(1, depends_on=0, stream_weight=15).serialize() +
           PriorityFrame(9, depends_on=1, stream_weight=200, exclusive=True).serialize())
    got = c.answer(1, QUIET_S)
    if c.rst:
        got = f"RST_STREAM {c.rst}"
    k.expect("valid PRIORITY frames", got, "nothing")
    return got, k.good_on(c, 3, "valid PRIORITY")


def case_headers_self_dep(k):
    """HEADERS with a priority block that depends on its own stream."""
    c = connect(k.port)
    block = block_of(request_fields(f"/blocks/{k.good}"))
    c.send(HeadersFrame(1, data=block, depends_on=1, stream_weight=15,
                        flags=["END_STREAM", "END_HEADERS", "PRIORITY"]).serialize())
    got = c.answer(1, ANSWER_S)
    if got.startswith("GOAWAY"):
        k.expect("HEADERS depending on itself", got, "GOAWAY(PROTOCOL_ERROR)")
        return got, k.closed_after(c, "HEADERS self-dependency")
    k.expect("HEADERS depending on itself", got, "RST_STREAM(1,PROTOCOL_ERROR)")
    return got, k.good_on(c, 3, "HEADERS self-dependency")


def case_inm_long(k):
    """If-None-Match over 511 bytes (eight other ETags, then ours; then without ours): 304 and
    200 over HTTP/2, the same as HTTP/1.1 gives."""
    others = ", ".join(f'W/"{i:064d}"' for i in range(1, 9))
    lists = {304: f'{others}, "{k.good}"', 200: others}
    c = connect(k.port)
    sid, got = 1, []
    for want, inm in lists.items():
        if len(inm) <= 511:
            raise SystemExit("If-None-Match list too short for the case")
        status, ok = get(c, sid, k.good, extra=[("if-none-match", inm)])
        h1 = http1_status(k, inm)
        got.append(f"{status}/{h1}")
        k.expect(f"If-None-Match of {len(inm)} bytes over HTTP/2", status, want)
        k.expect(f"If-None-Match of {len(inm)} bytes over HTTP/1.1", h1, want)
        if want == 200 and not ok:
            k.problems.append("If-None-Match (no match): the body is not the block")
        sid += 2
    return " ".join(got), k.good_on(c, sid, "long If-None-Match")


def http1_status(k, inm):
    s = socket.create_connection(("127.0.0.1", k.port), timeout=5)
    if TLS_CA:
        s = tls_context(TLS_CA, "http/1.1").wrap_socket(s, server_hostname="127.0.0.1")
    s.sendall(f"HEAD /blocks/{k.good} HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: {inm}\r\n"
              "Connection: close\r\n\r\n".encode())
    head = b""
    while b"\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    s.close()
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def flood(k, kind):
    """PING or SETTINGS frames, 4000 in one go, the ACKs read as they come: GOAWAY
    ENHANCE_YOUR_CALM, then the close."""
    c = connect(k.port)
    one = (PingFrame(0, opaque_data=b"flooding").serialize() if kind == "ping" else
           SettingsFrame(0, settings={SETTINGS_HEADER_TABLE_SIZE: 4096}).serialize())
    for _ in range(40):
        if c.goaway is not None or not c.send(one * 100):
            break
        c.pump(0.02)
    got = c.answer(None, ANSWER_S)
    k.expect(f"{kind} flood", got, "GOAWAY(ENHANCE_YOUR_CALM)")
    return got, k.closed_after(c, f"{kind} flood")


def case_ping_flood(k):
    return flood(k, "ping")


def case_settings_flood(k):
    return flood(k, "settings")


CASES = {name[5:].replace("_", "-"): fn for name, fn in sorted(globals().items())
         if name.startswith("case_")}


def main(argv):
    global TLS_CA
    args = argv[1:]
    if "--tls" in args:
        i = args.index("--tls")
        TLS_CA = args[i + 1]
        del args[i:i + 2]
    if len(args) < 3:
        print(__doc__.split("\n\n")[1], "\ncases:", " ".join(CASES), file=sys.stderr)
        return 2
    port, good, big, names = int(args[0]), args[1], args[2], args[3:] or list(CASES)
    failed = 0
    for name in names:
        k = Case(port, good, big)
        t0 = time.monotonic()
        try:
            got, after = CASES[name](k)
        except (OSError, ssl.SSLError) as e:
            got, after = f"error {e!r}", None
            k.problems.append(f"client error: {e!r}")
        res = {"case": name, "tls": bool(TLS_CA), "got": got, "good_after": after,
               "ms": round((time.monotonic() - t0) * 1000)}
        print(json.dumps(res), flush=True)
        for p in k.problems:
            print(f"{'tls' if TLS_CA else 'h2c'} {name}: {p}", file=sys.stderr)
        failed += bool(k.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
