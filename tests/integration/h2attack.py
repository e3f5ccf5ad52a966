"""h2attack.py - HTTP/2 attacks on blockedge, frame by frame, for its integration tests (h2c).

`h2attack.py ATTACK PORT GOOD_KEY ARGS...` runs one known HTTP/2 attack against a server on 127.0.0.1,
asserts the server's reaction on the wire (GOAWAY and its code, RST_STREAM and its code, or the
close), checks midway that a well-behaved client on another connection still gets a verified
block, prints one JSON line with what it saw, and exits 0, or 1 with the reasons. Origin
counts, metrics and the server's memory are the calling test's business.

The connection, frames and header blocks are h2raw.py's (HPACK literals and static-table
indexes only, so an attack may insert entries into the server's dynamic table without
desynchronising the encoder). Every loop is bounded by a count and a deadline; traffic goes
only to 127.0.0.1. `h2attack.py stall-unknown-origin` is an origin for these tests: it serves the
blocks it has and never answers for the others.
"""
import json
import os
import socket
import sys
import time

from h2raw import (CANCEL, ENHANCE_YOUR_CALM, MAX_WINDOW, NO_ERROR, PROTOCOL_ERROR, REFUSED_STREAM,
                   SETTINGS_HEADER_TABLE_SIZE, SETTINGS_INITIAL_WINDOW_SIZE,
                   SETTINGS_MAX_CONCURRENT_STREAMS, Conn, block_of, err_name, headers_frame,
                   hp_indexed, hp_literal, hp_literal_indexed, is_block, request_fields, tcp_state)
from hyperframe.frame import (ContinuationFrame, PingFrame, RstStreamFrame, SettingsFrame,
                              WindowUpdateFrame)


def note(msg):
    print(f"  {msg}", file=sys.stderr)


def random_key():
    return os.urandom(32).hex()


def good_get(port, key, timeout=5.0):
    """A well-behaved client on a new connection: GET /blocks/KEY must be a 200 with the block's
    bytes. Returns a problem string, or None."""
    t0 = time.monotonic()
    try:
        c = Conn(port, max_window=True)
        c.get(1, key, timeout)
        c.close()
    except OSError as e:
        return f"well-behaved client: {e}"
    ms = (time.monotonic() - t0) * 1000
    if c.status(1) != 200 or 1 not in c.ended:
        return (f"well-behaved client: status {c.status(1)}, ended={1 in c.ended}, "
                f"rst={err_name(c.rst.get(1))}, closed={c.how} after {ms:.0f} ms")
    if not c.has_block(1, key):
        return "well-behaved client: the body is not the block"
    note(f"well-behaved client on another connection: 200, verified, {ms:.0f} ms")
    return None


# ---------------------------------------------------------------------------------------------
# Attacks. Each returns (result dict, list of problems).


def attack_rapid_reset(port, good_key, made_you=False, streams=2000, batch=20):
    """HEADERS for a distinct uncached key immediately followed by RST_STREAM(CANCEL), on and
    on. With MADE_YOU ("MadeYouReset"), the client does not reset the stream itself but sends
    a WINDOW_UPDATE that overflows the stream's window, which makes the server reset it
    (FLOW_CONTROL_ERROR, a stream error). Expected:
    GOAWAY(ENHANCE_YOUR_CALM), then the close."""
    problems = []
    c = Conn(port)
    c.wait_settings(5)
    sent = 0
    good = None
    while sent < streams and not c.eof and c.goaway is None:
        out = b""
        for _ in range(batch):
            sid = 1 + 2 * sent
            out += headers_frame(sid, block_of(request_fields(f"/blocks/{random_key()}")))
            if made_you:
                out += WindowUpdateFrame(sid, window_increment=MAX_WINDOW).serialize()
            else:
                out += RstStreamFrame(sid, error_code=CANCEL).serialize()
            sent += 1
        c.send(out)
        c.pump(0.005)
        if good is None and sent >= 40:
            good = good_get(port, good_key) or ""
    if good is None:
        good = good_get(port, good_key) or ""
    if good:
        problems.append(good)
    closed = c.wait_closed(5)
    res = {"streams_sent": sent, "goaway": err_name(c.goaway and c.goaway[0]),
           "last_stream_id": c.goaway and c.goaway[1], "closed": c.how,
           "responses": len(c.headers), "server_resets": len(c.rst)}
    if c.goaway is None or c.goaway[0] != ENHANCE_YOUR_CALM:
        problems.append(f"expected GOAWAY(ENHANCE_YOUR_CALM), got {res}")
    if closed is None:
        problems.append("the connection was still open 5 s after the flood")
    return res, problems


def attack_continuation(port, good_key, frames=20000, batch=50):
    """HEADERS without END_HEADERS, then CONTINUATION frames that never end the block.
    Expected: the connection is closed (GOAWAY optional) long before the flood ends, and the
    request is never answered."""
    problems = []
    c = Conn(port)
    c.wait_settings(5)
    key = random_key()
    c.send(headers_frame(1, block_of(request_fields(f"/blocks/{key}")), end_headers=False))
    sent = 0
    good = None
    while sent < frames and not c.eof and c.goaway is None:
        out = b""
        for _ in range(batch):
            out += ContinuationFrame(1, data=hp_literal(f"x-flood-{sent}", "v" * 64)).serialize()
            sent += 1
        c.send(out)
        c.pump(0.002)
        if good is None:
            good = good_get(port, good_key) or ""
    if good is None:
        good = good_get(port, good_key) or ""
    if good:
        problems.append(good)
    closed = c.wait_closed(5)
    res = {"continuations_sent": sent, "goaway": err_name(c.goaway and c.goaway[0]),
           "closed": c.how, "answered": c.status(1)}
    if closed is None:
        problems.append(f"the connection was not closed: {res}")
    if sent >= frames:
        problems.append(f"all {frames} CONTINUATION frames were accepted")
    if c.status(1) is not None:
        problems.append(f"the endless header block was answered with {c.status(1)}")
    if c.goaway is not None and c.goaway[0] == NO_ERROR:
        problems.append("GOAWAY(NO_ERROR) for a CONTINUATION flood")
    return res, problems


def attack_hpack_bomb(port, good_key, rounds=20, entry=4000, refs=4000):
    """Each round: one HEADERS (a valid request for a cached block) that inserts a ~4 KB header
    into the dynamic table and then references it REFS times (~16 MB decoded from ~8 KB).
    Expected: each such stream is reset (or answered 431), the connection stays usable, and a
    normal request on it afterwards gets its block."""
    problems = []
    c = Conn(port, max_window=True)
    c.wait_settings(5)
    reactions = {}
    for r in range(rounds):
        sid = 1 + 2 * r
        block = block_of(request_fields(f"/blocks/{good_key}"))
        block += hp_literal_indexed("x-bomb", "b" * entry) + hp_indexed(62) * refs
        if len(block) > 16384:
            raise SystemExit("bomb block larger than the default max frame size")
        c.send(headers_frame(sid, block))
        c.read_until(lambda: sid in c.rst or sid in c.ended or c.status(sid) is not None, 5)
        if sid in c.rst:
            reaction = f"RST_STREAM({err_name(c.rst[sid])})"
        elif c.status(sid) is not None:
            reaction = f"status {c.status(sid)}"
        else:
            reaction = f"nothing (closed={c.how})"
        reactions[reaction] = reactions.get(reaction, 0) + 1
        if sid not in c.rst and c.status(sid) != 431:
            problems.append(f"bomb stream {sid}: expected RST_STREAM or 431, got {reaction}")
            break
        if r == rounds // 2:
            p = good_get(port, good_key)
            if p:
                problems.append(p)
    sid = 1 + 2 * rounds
    after = c.get(sid, good_key, 5)
    ok = after == 200 and c.has_block(sid, good_key)
    if not ok:
        problems.append(f"a normal request after the bombs got {after} (rst="
                        f"{err_name(c.rst.get(sid))}, closed={c.how}, goaway={c.goaway})")
    res = {"rounds": rounds, "decoded_bytes_per_round": (entry + 6) * (refs + 1),
           "reactions": reactions, "after": after, "goaway": err_name(c.goaway and c.goaway[0])}
    c.close()
    return res, problems


def attack_flood(port, good_key, kind, read_at_end=False, max_bytes=256 << 20, seconds=20):
    """SETTINGS (kind "settings") or PING (kind "ping") frames sent as fast as the server takes
    them, while never reading its ACKs (small receive buffer). Expected: the server closes the
    connection (flood detection, or the send timeout once its output is stuck). read_at_end:
    with an ordinary receive buffer, read what the server sent once the flood is over; then a
    GOAWAY(ENHANCE_YOUR_CALM) must be among it."""
    problems = []
    c = Conn(port, rcvbuf=None if read_at_end else 4096, auto=False)
    if kind == "settings":
        one = SettingsFrame(0, settings={SETTINGS_HEADER_TABLE_SIZE: 4096}).serialize()
    else:
        one = PingFrame(0, opaque_data=b"flooding").serialize()
    chunk = one * (65536 // len(one))
    t0 = time.monotonic()
    sent = 0
    stalled_at = None
    closed_at = None
    how = None
    good = None
    c.sock.settimeout(0.2)
    while sent < max_bytes and time.monotonic() - t0 < seconds:
        try:
            sent += c.sock.send(chunk)
        except socket.timeout:
            if stalled_at is None:
                stalled_at = time.monotonic()
                note(f"{kind} flood: the server stopped taking frames after {sent} bytes "
                     f"({sent // len(one)} frames) in {stalled_at - t0:.2f} s")
        except (BrokenPipeError, ConnectionResetError):
            closed_at, how = time.monotonic(), "reset"
            break
        if tcp_state(c.sock) != 1:
            closed_at, how = time.monotonic(), f"tcp state {tcp_state(c.sock)}"
            break
        if good is None and stalled_at is not None and time.monotonic() - stalled_at > 0.3:
            good = good_get(port, good_key) or ""
    if good is None:
        good = good_get(port, good_key) or ""
    if good:
        problems.append(good)
    res = {"kind": kind, "bytes_sent": sent, "frames_sent": sent // len(one),
           "stalled_after_s": stalled_at and round(stalled_at - t0, 2),
           "closed_after_s": closed_at and round(closed_at - t0, 2),
           "closed_after_stall_s": closed_at and stalled_at and round(closed_at - stalled_at, 2),
           "how": how}
    if closed_at is None:
        problems.append(f"the connection was still open after {res}")
    if read_at_end:
        c.read_until(lambda: c.goaway is not None, 3)
        res["goaway"] = err_name(c.goaway[0]) if c.goaway else None
        res["frames_in"] = c.frames_in
        if res["goaway"] != "ENHANCE_YOUR_CALM":
            problems.append(f"{kind} flood: no GOAWAY(ENHANCE_YOUR_CALM) among the "
                            f"{c.frames_in} frames read after it")
    c.close()
    return res, problems


def attack_zero_window(port, good_key, big_key, mode, min_s, max_s):
    """GET of a big cached block while never granting flow-control window: mode "stream" sets
    SETTINGS_INITIAL_WINDOW_SIZE=0, mode "conn" opens the stream window but never the
    connection's (65535 bytes, then nothing). Expected: the response head, no more body than
    the window allows, then the close between MIN_S and MAX_S seconds after the request."""
    problems = []
    win = 0 if mode == "stream" else 1 << 24
    c = Conn(port, settings={SETTINGS_INITIAL_WINDOW_SIZE: win})
    c.wait_settings(5, acked=True)
    t0 = time.monotonic()
    c.request(1, f"/blocks/{big_key}")
    c.read_until(lambda: c.status(1) is not None, 5)
    p = good_get(port, good_key)
    if p:
        problems.append(p)
    closed = c.wait_closed(max_s + 5)
    el = time.monotonic() - t0
    got = len(c.data.get(1, b""))
    allowed = 0 if mode == "stream" else 65535
    res = {"mode": mode, "status": c.status(1), "body_bytes": got, "closed": c.how,
           "closed_after_s": round(el, 2), "goaway": err_name(c.goaway and c.goaway[0])}
    if c.status(1) != 200:
        problems.append(f"expected a 200 head first, got {c.status(1)}")
    if got != allowed:
        problems.append(f"{got} body bytes with a window of {allowed}")
    if 1 in c.ended:
        problems.append("the stream ended although the window never opened")
    if closed is None:
        problems.append(f"the connection was still open {el:.1f} s after the request")
    elif not min_s <= el <= max_s:
        problems.append(f"closed {el:.2f} s after the request, expected {min_s}..{max_s} s")
    return res, problems


def attack_over_limit(port, good_key, keys, limit, acked):
    """LIMIT streams kept open (INITIAL_WINDOW_SIZE=0: their answers cannot finish), then one
    more. With ACKED the client has acknowledged the server's SETTINGS first (RFC 9113 5.1.2:
    REFUSED_STREAM or PROTOCOL_ERROR, as a stream or a connection error); without it, the
    server's limit is still pending and the extra stream must be refused (REFUSED_STREAM).
    If the connection survives, the LIMIT streams are then let finish and must carry their
    blocks, and a new stream is served."""
    problems = []
    c = Conn(port, settings={SETTINGS_INITIAL_WINDOW_SIZE: 0}, auto=acked)
    if acked:
        c.wait_settings(5, acked=True)
        if (c.server_settings or {}).get(SETTINGS_MAX_CONCURRENT_STREAMS) != limit:
            problems.append(f"server SETTINGS {c.server_settings}: expected "
                            f"MAX_CONCURRENT_STREAMS {limit}")
    sids = [1 + 2 * i for i in range(limit)]
    want = {sid: keys[i % len(keys)] for i, sid in enumerate(sids)}
    c.send(b"".join(headers_frame(sid, block_of(request_fields(f"/blocks/{want[sid]}")))
                    for sid in sids))
    if acked:
        c.read_until(lambda: all(c.status(s) is not None for s in sids), 5)
        heads = sum(1 for s in sids if c.status(s) is not None)
        if heads != limit:
            problems.append(f"only {heads} of {limit} streams got a response head")
    extra = 1 + 2 * limit
    c.send(headers_frame(extra, block_of(request_fields(f"/blocks/{good_key}"))))
    c.read_until(lambda: extra in c.rst or c.goaway is not None, 5)
    if extra in c.rst:
        reaction = f"RST_STREAM({err_name(c.rst[extra])})"
        allowed = (REFUSED_STREAM,) if not acked else (REFUSED_STREAM, PROTOCOL_ERROR)
        if c.rst[extra] not in allowed:
            problems.append(f"stream {extra} over the limit: {reaction}")
    elif c.goaway is not None:
        reaction = f"GOAWAY({err_name(c.goaway[0])}, last={c.goaway[1]})"
        if not acked or c.goaway[0] != PROTOCOL_ERROR:
            problems.append(f"stream {extra} over the limit: {reaction}")
    else:
        reaction = f"nothing (status {c.status(extra)}, closed={c.how})"
        problems.append(f"stream {extra} over the limit: {reaction}")
    served = None
    if c.goaway is None and not c.eof:
        if not acked:
            c.send(SettingsFrame(0, flags=["ACK"]).serialize())
        c.send(SettingsFrame(0, settings={SETTINGS_INITIAL_WINDOW_SIZE: 1 << 20}).serialize() +
               WindowUpdateFrame(0, window_increment=MAX_WINDOW - 65535).serialize())
        c.read_until(lambda: all(s in c.ended or s in c.rst for s in sids), 10)
        served = sum(1 for s in sids if c.status(s) == 200 and s in c.ended and
                     c.has_block(s, want[s]))
        if served != limit:
            problems.append(f"{served} of the {limit} streams within the limit got their block")
        nxt = extra + 2
        if c.get(nxt, good_key, 5) != 200:
            problems.append(f"a new stream after the others finished got {c.status(nxt)}")
    p = good_get(port, good_key)
    if p:
        problems.append(p)
    res = {"acked": acked, "reaction": reaction, "served_within_limit": served}
    c.close()
    return res, problems


BAD_REQUESTS = {
    # missing or malformed pseudo-headers
    "pseudo": [
        ("no :path", lambda k: [(":method", "GET"), (":scheme", "http"),
                                (":authority", "127.0.0.1")]),
        ("no :method", lambda k: [(":scheme", "http"), (":authority", "127.0.0.1"),
                                  (":path", f"/blocks/{k}")]),
        ("no :scheme", lambda k: [(":method", "GET"), (":authority", "127.0.0.1"),
                                  (":path", f"/blocks/{k}")]),
        ("empty :path", lambda k: [(":method", "GET"), (":scheme", "http"),
                                   (":authority", "127.0.0.1"), (":path", "")]),
        ("two :path", lambda k: request_fields(f"/blocks/{k}") + [(":path", f"/blocks/{k}")]),
        ("unknown pseudo-header", lambda k: request_fields(f"/blocks/{k}") + [(":foo", "bar")]),
        ("pseudo-header after a regular one",
         lambda k: [(":method", "GET"), (":scheme", "http"), ("accept", "*/*"),
                    (":authority", "127.0.0.1"), (":path", f"/blocks/{k}")]),
        ("upper-case field name", lambda k: request_fields(f"/blocks/{k}", extra=[("Accept", "*/*")])),
        (":status in a request", lambda k: request_fields(f"/blocks/{k}", extra=[(":status", "200")])),
    ],
    # connection-specific header fields (RFC 9113 8.2.2)
    "connection": [
        ("connection: keep-alive", lambda k: request_fields(f"/blocks/{k}",
                                                            extra=[("connection", "keep-alive")])),
        ("transfer-encoding: chunked",
         lambda k: request_fields(f"/blocks/{k}", extra=[("transfer-encoding", "chunked")])),
        ("keep-alive: 5", lambda k: request_fields(f"/blocks/{k}", extra=[("keep-alive", "5")])),
        ("proxy-connection: close",
         lambda k: request_fields(f"/blocks/{k}", extra=[("proxy-connection", "close")])),
        ("upgrade: h2c", lambda k: request_fields(f"/blocks/{k}", extra=[("upgrade", "h2c")])),
        ("te: gzip", lambda k: request_fields(f"/blocks/{k}", extra=[("te", "gzip")])),
    ],
}


def attack_bad_requests(port, good_key, which):
    """Each malformed request on its own stream of one connection, naming an uncached key.
    Expected: RST_STREAM(PROTOCOL_ERROR) for each and no answer; then a normal request on the
    same connection is served."""
    problems = []
    c = Conn(port, max_window=True)
    c.wait_settings(5)
    sid = 1
    seen = {}
    for name, fields in BAD_REQUESTS[which]:
        c.send(headers_frame(sid, block_of(fields(random_key()))))
        c.read_until(lambda: sid in c.rst or sid in c.ended or c.goaway is not None, 5)
        if sid in c.rst:
            seen[name] = f"RST_STREAM({err_name(c.rst[sid])})"
        elif c.status(sid) is not None:
            seen[name] = f"status {c.status(sid)}"
        else:
            seen[name] = f"nothing (goaway={c.goaway}, closed={c.how})"
        if c.rst.get(sid) != PROTOCOL_ERROR or c.status(sid) is not None:
            problems.append(f"{name}: expected RST_STREAM(PROTOCOL_ERROR), got {seen[name]}")
        else:
            note(f"{name}: RST_STREAM(PROTOCOL_ERROR)")
        sid += 2
        if c.eof or c.goaway is not None:
            break
    ok = c.get(sid, good_key, 5) == 200 and c.has_block(sid, good_key)
    if not ok:
        problems.append(f"a normal request on the same connection afterwards got "
                        f"{c.status(sid)} (closed={c.how}, goaway={c.goaway})")
    p = good_get(port, good_key)
    if p:
        problems.append(p)
    c.close()
    return {"which": which, "reactions": seen}, problems


# ---------------------------------------------------------------------------------------------
# Not attacks: many concurrent streams on one connection (23_h2_streams).


def many_streams(port, spec_path, expect_limit):
    """SPEC_PATH lists "KEY STATUS" lines. All requests go out in one write on one connection
    (so they are concurrent), after the server's SETTINGS are acknowledged. Each stream must end
    with its STATUS; a 200 must carry exactly the block (sha256 == KEY), a 4xx/5xx must not."""
    problems = []
    with open(spec_path) as f:
        spec = [line.split() for line in f if line.strip()]
    c = Conn(port, max_window=True)
    c.wait_settings(5, acked=True)
    limit = (c.server_settings or {}).get(SETTINGS_MAX_CONCURRENT_STREAMS)
    if limit != expect_limit:
        problems.append(f"MAX_CONCURRENT_STREAMS is {limit}, expected {expect_limit}")
    sids = [1 + 2 * i for i in range(len(spec))]
    t0 = time.monotonic()
    c.send(b"".join(headers_frame(sid, block_of(request_fields(f"/blocks/{key}"))) for sid, (key, _)
                    in zip(sids, spec)))
    c.read_until(lambda: all(s in c.ended or s in c.rst for s in sids), 30)
    el = time.monotonic() - t0
    caches = {}
    for sid, (key, want) in zip(sids, spec):
        got = c.status(sid)
        body = c.data.get(sid, b"")
        caches[c.header(sid, "x-cache")] = caches.get(c.header(sid, "x-cache"), 0) + 1
        if sid in c.rst:
            problems.append(f"stream {sid} ({key[:12]}): RST_STREAM({err_name(c.rst[sid])})")
        elif sid not in c.ended:
            problems.append(f"stream {sid} ({key[:12]}): not finished (status {got})")
        elif str(got) != want:
            problems.append(f"stream {sid} ({key[:12]}): status {got}, expected {want}")
        elif got == 200 and not is_block(body, key):
            problems.append(f"stream {sid} ({key[:12]}): {len(body)} bytes that are not the block")
        elif got == 200 and c.header(sid, "content-length") != str(len(body)):
            problems.append(f"stream {sid}: content-length {c.header(sid, 'content-length')} "
                            f"for {len(body)} bytes")
        elif got != 200 and is_block(body, key):
            problems.append(f"stream {sid}: status {got} with the block's bytes")
    res = {"streams": len(sids), "seconds": round(el, 3), "x_cache": caches,
           "body_bytes": sum(len(v) for v in c.data.values()), "goaway": c.goaway, "closed": c.how}
    c.close()
    return res, problems


# ---------------------------------------------------------------------------------------------
# An origin that serves the blocks it has and stalls on the others


def stall_unknown_origin(port, directory, log_path, lifetime):
    """HTTP/1.1 origin for LIFETIME seconds: GET /blocks/KEY answers 200 with DIRECTORY/KEY when
    that file exists; for any other key it reads the request and then never answers (the
    connection stays open until the client gives up or the lifetime ends). One request line per
    request is appended to LOG_PATH."""
    import threading
    deadline = time.monotonic() + lifetime
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(256)
    srv.settimeout(0.5)
    lock = threading.Lock()

    def serve(conn):
        conn.settimeout(1)
        data = b""
        try:
            while time.monotonic() < deadline:
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    try:
                        chunk = conn.recv(4096)
                    except socket.timeout:
                        if time.monotonic() >= deadline:
                            return
                        continue
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                line = head.split(b"\r\n", 1)[0].decode("latin-1")
                with lock:
                    with open(log_path, "a") as f:
                        f.write(line + "\n")
                parts = line.split()
                name = parts[1].rsplit("/", 1)[-1] if len(parts) > 1 else ""
                path = os.path.join(directory, name)
                if not name or not os.path.isfile(path):
                    while time.monotonic() < deadline:  # stall: keep the socket, answer nothing
                        try:
                            if conn.recv(4096) == b"":
                                return
                        except socket.timeout:
                            pass
                    return
                with open(path, "rb") as f:
                    body = f.read()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(body) + body)
        except OSError:
            return
        finally:
            conn.close()

    while time.monotonic() < deadline:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    srv.close()


def main(argv):
    if len(argv) == 6 and argv[1] == "stall-unknown-origin":
        stall_unknown_origin(int(argv[2]), argv[3], argv[4], float(argv[5]))
        return 0
    if len(argv) < 4:
        print("usage: h2attack.py ATTACK PORT GOOD_KEY [ARGS...]\n"
              "  rapid-reset | made-you-reset | continuation | hpack-bomb | settings-flood [read] |\n"
              "  ping-flood [read] |\n"
              "  zero-window MODE BIG_KEY MIN_S MAX_S | over-limit LIMIT acked|unacked KEY... |\n"
              "  bad-requests pseudo|connection | many SPEC_FILE LIMIT\n"
              "h2attack.py stall-unknown-origin PORT DIR LOG LIFETIME", file=sys.stderr)
        return 2
    attack, port, good_key, rest = argv[1], int(argv[2]), argv[3], argv[4:]
    t0 = time.monotonic()
    if attack == "rapid-reset":
        res, problems = attack_rapid_reset(port, good_key)
    elif attack == "made-you-reset":
        res, problems = attack_rapid_reset(port, good_key, made_you=True)
    elif attack == "continuation":
        res, problems = attack_continuation(port, good_key)
    elif attack == "hpack-bomb":
        res, problems = attack_hpack_bomb(port, good_key)
    elif attack in ("settings-flood", "ping-flood"):
        res, problems = attack_flood(port, good_key, attack.split("-")[0], rest[:1] == ["read"])
    elif attack == "zero-window":
        res, problems = attack_zero_window(port, good_key, rest[1], rest[0], float(rest[2]),
                                           float(rest[3]))
    elif attack == "over-limit":
        res, problems = attack_over_limit(port, good_key, rest[2:], int(rest[0]),
                                          rest[1] == "acked")
    elif attack == "bad-requests":
        res, problems = attack_bad_requests(port, good_key, rest[0])
    elif attack == "many":
        res, problems = many_streams(port, rest[0], int(rest[1]))
    else:
        print(f"unknown attack {attack!r}", file=sys.stderr)
        return 2
    # An attack lasts at least 0.6 s, so the caller's background client overlaps it.
    left = 0.6 - (time.monotonic() - t0)
    if left > 0 and attack != "many":
        time.sleep(left)
    res["attack"] = attack
    res["seconds"] = round(time.monotonic() - t0, 3)
    print(json.dumps(res, default=str))
    for p in problems:
        print(f"{attack}: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
