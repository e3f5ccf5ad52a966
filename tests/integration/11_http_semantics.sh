#!/usr/bin/env bash
# 11_http_semantics: HEAD, If-None-Match (a long list too), single ranges (on a miss and on a
# hit), unsatisfiable and multiple ranges, methods other than GET/HEAD, 100 pipelined GETs sent
# in one write answered in order with the right bytes, an absolute-form target and empty lines
# before a request line.
source "$(dirname "$0")/lib.sh"

gen_blocks "$T/blocks" 30 1k-16k 1101
mapfile -t KEYS < <(keys_of "$T/blocks")
K1=${KEYS[0]}
K2=${KEYS[1]}
S1=$(size_of "$T/blocks" "$K1")
S2=$(size_of "$T/blocks" "$K2")
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "$(be_conf "$ORIGIN_URL")"
B1="$T/blocks/$K1"

# --- Range on a miss: the first request for K1 asks for its first ten bytes.
code=$(http_get "$BE_URL/blocks/$K1" -H 'Range: bytes=0-9')
check_eq "$code" 206 "Range bytes=0-9 on a miss"
check_eq "$(hdr Content-Range)" "bytes 0-9/$S1" "Content-Range of bytes=0-9"
check_eq "$(hdr Content-Length)" 10 "Content-Length of bytes=0-9"
cmp -s "$T/last.body" <(head -c 10 "$B1") || fail "bytes=0-9 body differs from the block's first 10 bytes"
check_eq "$(hdr ETag)" "\"$K1\"" "ETag on 206"

# --- Range on a hit.
code=$(http_get "$BE_URL/blocks/$K1" -H 'Range: bytes=0-9')
check_eq "$code" 206 "Range bytes=0-9 on a hit"
check_eq "$(hdr X-Cache)" HIT-MEMORY "X-Cache of the second request"
cmp -s "$T/last.body" <(head -c 10 "$B1") || fail "bytes=0-9 body (hit) differs"

code=$(http_get "$BE_URL/blocks/$K1" -H 'Range: bytes=-5')
check_eq "$code" 206 "suffix range bytes=-5"
check_eq "$(hdr Content-Range)" "bytes $((S1 - 5))-$((S1 - 1))/$S1" "Content-Range of bytes=-5"
check_eq "$(hdr Content-Length)" 5 "Content-Length of bytes=-5"
cmp -s "$T/last.body" <(tail -c 5 "$B1") || fail "bytes=-5 body differs from the last 5 bytes"

code=$(http_get "$BE_URL/blocks/$K1" -H 'Range: bytes=10-')
check_eq "$code" 206 "open range bytes=10-"
check_eq "$(hdr Content-Range)" "bytes 10-$((S1 - 1))/$S1" "Content-Range of bytes=10-"
check_eq "$(hdr Content-Length)" "$((S1 - 10))" "Content-Length of bytes=10-"
cmp -s "$T/last.body" <(tail -c +11 "$B1") || fail "bytes=10- body differs"

code=$(http_get "$BE_URL/blocks/$K1" -H 'Range: bytes=999999999-')
check_eq "$code" 416 "unsatisfiable bytes=999999999-"
check_eq "$(hdr Content-Range)" "bytes */$S1" "Content-Range of a 416"

code=$(http_get "$BE_URL/blocks/$K1" -H 'Range: bytes=0-1,5-6')
check_eq "$code" 200 "multi-range answered in full"
check_eq "$(sha_of "$T/last.body")" "$K1" "multi-range body is the whole block"
expect_block_headers "$K1" "$S1"

# --- If-None-Match.
for inm in "\"$K1\"" '*' "W/\"$K1\"" "\"${K2}\", \"$K1\""; do
    code=$(http_get "$BE_URL/blocks/$K1" -H "If-None-Match: $inm")
    check_eq "$code" 304 "If-None-Match: $inm"
    check_eq "$(stat -c %s "$T/last.body")" 0 "304 body size (If-None-Match: $inm)"
    check_eq "$(hdr ETag)" "\"$K1\"" "ETag on 304"
    check_eq "$(hdr Cache-Control)" "public, max-age=31536000, immutable" "Cache-Control on 304"
done
code=$(http_get "$BE_URL/blocks/$K1" -H "If-None-Match: \"$K2\"")
check_eq "$code" 200 "non-matching If-None-Match"
check_eq "$(sha_of "$T/last.body")" "$K1" "non-matching If-None-Match body"
# A long list (issue 15: past 511 bytes it got 431): eight other ETags then ours is a 304; 200
# others (14 KiB, inside the 16 KiB head), none ours, is the block.
OTHERS=$(for i in $(seq 1 8); do printf 'W/"%064d", ' "$i"; done)
code=$(http_get "$BE_URL/blocks/$K1" -H "If-None-Match: $OTHERS\"$K1\"")
check_eq "$code" 304 "If-None-Match with nine ETags, ours last"
OTHERS=$(for i in $(seq 1 200); do printf '"%064d", ' "$i"; done)
code=$(http_get "$BE_URL/blocks/$K1" -H "If-None-Match: ${OTHERS%, }")
check_eq "$code" 200 "If-None-Match with 200 other ETags"
check_eq "$(sha_of "$T/last.body")" "$K1" "If-None-Match with 200 other ETags: body"
code=$(http_get "$BE_URL/blocks/$K1" -H "If-None-Match: ${OTHERS%, }" -H "If-None-Match: \"$K1\"")
check_eq "$code" 304 "a long If-None-Match field, then ours in a second one"

# --- HEAD, on a miss (K2) and on a hit (K1). (That no body follows is checked on a raw socket below.)
for k in "$K2" "$K1"; do
    code=$(http_get "$BE_URL/blocks/$k" -I)
    check_eq "$code" 200 "HEAD ${k:0:12}"
    expect_block_headers "$k" "$(size_of "$T/blocks" "$k")"
done

# --- Other methods.
for m in POST PUT DELETE; do
    code=$(http_get "$BE_URL/blocks/$K1" -X "$m")
    check_eq "$code" 405 "$m"
    check_eq "$(hdr Allow)" "GET, HEAD" "Allow on the 405 to $m"
done

# --- Raw socket: HEAD followed by GET in one write (HEAD must send no body), then 100
# pipelined GETs in one write, over keys of which some are cached and some are not (repeats of
# uncached keys included), answered in order.
"$PY" - "$BE_PORT" "$T/blocks" "${KEYS[@]}" <<'PYEOF' || fail "raw pipelining checks failed"
import hashlib, os, sys
sys.path.insert(0, os.environ["IT_DIR"])
import ithelp

port, bdir, keys = int(sys.argv[1]), sys.argv[2], sys.argv[3:]

def req(method, key):
    return f"{method} /blocks/{key} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()

s = ithelp.connect(port)
s.sendall(req("HEAD", keys[1]) + req("GET", keys[1]))
resps, rest, how = ithelp.read_responses(s, ["HEAD", "GET"], 15)
s.close()
if len(resps) != 2 or rest:
    sys.exit(f"HEAD+GET: {resps} leftover={rest[:80]!r} ({how})")
size = os.path.getsize(os.path.join(bdir, keys[1]))
if resps[0].status != 200 or resps[0].header("content-length") != str(size):
    sys.exit(f"HEAD: {resps[0]} Content-Length={resps[0].header('content-length')}")
if resps[1].status != 200 or hashlib.sha256(resps[1].body).hexdigest() != keys[1]:
    sys.exit(f"GET after HEAD: {resps[1]}")

# keys[0..1] are cached by now; keys[2..29] are not.
seq = [keys[(i * 7) % len(keys)] for i in range(100)]
s = ithelp.connect(port)
s.sendall(b"".join(req("GET", k) for k in seq))
resps, rest, how = ithelp.read_responses(s, ["GET"] * len(seq), 60)
s.close()
if len(resps) != len(seq):
    sys.exit(f"pipeline: {len(resps)} of {len(seq)} responses ({how})")
for i, (k, r) in enumerate(zip(seq, resps)):
    if r.status != 200:
        sys.exit(f"pipeline #{i}: status {r.status}")
    if hashlib.sha256(r.body).hexdigest() != k:
        sys.exit(f"pipeline #{i}: body is not block {k[:16]}")
    if r.header("etag") != f'"{k}"':
        sys.exit(f"pipeline #{i}: ETag {r.header('etag')} for {k[:16]}")
if rest:
    sys.exit(f"pipeline: {len(rest)} bytes after the 100th response")
print(f"pipeline: {len(seq)} responses in order", file=sys.stderr)

# RFC 9112 3.2.2 and 2.2 (issue 15): an absolute-form target is served by its path, and empty
# lines before a request line are skipped (up to eight); on one connection, in order.
s = ithelp.connect(port)
s.sendall(f"GET http://edge.example/blocks/{keys[0]} HTTP/1.1\r\nHost: other\r\n\r\n".encode()
          + b"\r\n" * 8 + req("GET", keys[1]))
resps, rest, how = ithelp.read_responses(s, ["GET", "GET"], 15)
if len(resps) != 2 or rest:
    sys.exit(f"absolute-form + empty lines: {resps} leftover={rest[:80]!r} ({how})")
for k, r in zip(keys[:2], resps):
    if r.status != 200 or hashlib.sha256(r.body).hexdigest() != k:
        sys.exit(f"absolute-form + empty lines: {r} for {k[:16]}")
# nine empty lines: 400, and the connection closes
s.sendall(b"\r\n" * 9 + req("GET", keys[0]))
resps, rest, how = ithelp.read_responses(s, ["GET"], 15)
s.close()
if len(resps) != 1 or resps[0].status != 400:
    sys.exit(f"nine empty lines: {resps} ({how})")
print("absolute-form and leading empty lines: served; nine empty lines: 400", file=sys.stderr)
PYEOF

# Each distinct key was fetched once, whether it was first asked for alone or in the pipeline.
for k in "${KEYS[@]}"; do
    expect_origin_count "$k" 1
done
log "ok"
