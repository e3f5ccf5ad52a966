#!/usr/bin/env bash
# 12_smuggling: a malformed or ambiguous HTTP/1.1 request gets exactly one 400 (414/431 for an
# over-long request line/header section) and the connection is closed, so a request pipelined
# behind it in the same write is never answered and never reaches the origin. HTTP/1.0 without
# Host is fine.
source "$(dirname "$0")/lib.sh"

gen_blocks "$T/blocks" 3 4k 1201
mapfile -t KEYS < <(keys_of "$T/blocks")
KB=${KEYS[0]} # named by the bad requests
KS=${KEYS[1]} # named by the request smuggled behind them
K10=${KEYS[2]}
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "$(be_conf "$ORIGIN_URL")"

"$PY" - "$BE_PORT" "$KB" "$KS" "$K10" <<'PYEOF' || fail "malformed requests were not refused and closed (see above)"
import hashlib, os, sys
sys.path.insert(0, os.environ["IT_DIR"])
import ithelp

port, kb, ks, k10 = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
line = f"GET /blocks/{kb} HTTP/1.1\r\n".encode()
host = b"Host: 127.0.0.1\r\n"
smuggled = f"GET /blocks/{ks} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()

cases = [
    ("Content-Length and Transfer-Encoding",
     line + host + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("two different Content-Length", line + host + b"Content-Length: 0\r\nContent-Length: 5\r\n\r\n", 400),
    ("duplicate identical Content-Length",
     line + host + b"Content-Length: 0\r\nContent-Length: 0\r\n\r\n", 400),
    ("Content-Length: abc", line + host + b"Content-Length: abc\r\n\r\n", 400),
    ("Content-Length: -1", line + host + b"Content-Length: -1\r\n\r\n", 400),
    ("Content-Length: 1 2", line + host + b"Content-Length: 1 2\r\n\r\n", 400),
    ("obs-fold continuation line", line + host + b"X-Folded: a\r\n  b\r\n\r\n", 400),
    ("HTTP/1.1 without Host", line + b"Accept: */*\r\n\r\n", 400),
    # RFC 9112 section 3.2: more than one Host field line is a 400 as well.
    ("two Host headers", line + host + b"Host: example.com\r\n\r\n", 400),
    ("GET with a body", line + host + b"Content-Length: 5\r\n\r\nhello", 400),
    ("Transfer-Encoding: chunked on GET", line + host + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("bare LF line endings", f"GET /blocks/{kb} HTTP/1.1\nHost: 127.0.0.1\n\n".encode(), 400),
    ("space before colon", line + host + b"X-Foo : bar\r\n\r\n", 400),
    ("invalid character in method (@)", f"G@T /blocks/{kb} HTTP/1.1\r\n".encode() + host + b"\r\n", 400),
    ("control character in method", f"GE\x01T /blocks/{kb} HTTP/1.1\r\n".encode() + host + b"\r\n", 400),
    ("request line over 8 KiB", b"GET /blocks/" + b"a" * 9000 + b" HTTP/1.1\r\n" + host + b"\r\n", 414),
    ("header section over 16 KiB",
     line + host + b"".join(b"X-Pad-%02d: %s\r\n" % (i, b"p" * 1000) for i in range(20)) + b"\r\n", 431),
]

failures = []
for name, bad, want in cases:
    s = ithelp.connect(port)
    try:
        s.sendall(bad + smuggled)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may refuse before reading everything; what it sent still counts
    data, closed = ithelp.read_to_eof(s, 5)
    s.close()
    problems = []
    if not closed:
        problems.append("connection still open 5 s after the response")
    try:
        resps, rest = ithelp.parse_responses(data, ["GET", "GET"], at_eof=True)
    except ValueError as e:
        resps, rest = [], data
        problems.append(f"unparsable response: {e}")
    statuses = [r.status for r in resps]
    if statuses[:1] != [want]:
        problems.append(f"expected one {want}, got statuses {statuses}")
    if len(resps) > 1 or rest or any(b"HTTP/1." in r.body for r in resps):
        problems.append(f"more than one response: {statuses}, {len(rest)} trailing bytes")
    if problems:
        failures.append(f"{name}: " + "; ".join(problems) + f" (first bytes {data[:60]!r})")
    else:
        print(f"  ok: {name} -> {want}, closed", file=sys.stderr)

# HTTP/1.0 needs no Host: one 200 with the block, then the connection closes.
s = ithelp.connect(port)
s.sendall(f"GET /blocks/{k10} HTTP/1.0\r\n\r\n".encode())
data, closed = ithelp.read_to_eof(s, 15)
s.close()
resps, rest = ithelp.parse_responses(data, ["GET"], at_eof=True)
if not resps or resps[0].status != 200 or hashlib.sha256(resps[0].body).hexdigest() != k10:
    failures.append(f"HTTP/1.0 without Host: expected 200 with the block, got {resps} {data[:60]!r}")
elif not closed:
    failures.append("HTTP/1.0 without Host: connection not closed after the response")
else:
    print("  ok: HTTP/1.0 without Host -> 200", file=sys.stderr)

for f in failures:
    print("  FAILED " + f, file=sys.stderr)
sys.exit(1 if failures else 0)
PYEOF

# Still serving, and neither the bad requests nor the smuggled one reached the origin.
check_eq "$(http_get "$BE_URL/blocks/$K10")" 200 "a normal request afterwards"
expect_origin_count "$K10" 1
check_eq "$(origin_count "$KB")" 0 "origin requests for the key named by the bad requests"
check_eq "$(origin_count "$KS")" 0 "origin requests for the smuggled key"
log "ok"
