#!/usr/bin/env bash
# 23_h2_streams: many concurrent streams on one HTTP/2 connection (h2_max_concurrent_streams
# 100), all for blocks that are not cached yet.
#   A. h2attack.py "many": 100 requests for 100 distinct uncached keys in one write on one
#      connection: each stream ends 200 MISS with exactly its block; the origin sees each once.
#   B. nghttp -nv with 100 distinct uncached keys on one connection: 100 x 200, each stream's DATA
#      adds up to its block's size, and the origin sees each key once.
#   C. h2load -c 1 -m 100 -n 100 over 100 distinct uncached keys: 100 x 2xx, DATA bytes = the sum
#      of the block sizes, each key fetched once.
#   D. 100 streams of one connection with mixed fates: uncached (200), cached (200), absent at
#      origin (404) and mismatching digest (502): each stream gets its own status, and no error
#      stream carries block bytes.
#   E. 100 streams for the same uncached key: one origin fetch, 100 verified blocks.
source "$(dirname "$0")/lib.sh"

ATTACK="$IT_DIR/h2attack.py"
gen_blocks "$T/blocks" 400 1k-256k 2301
mapfile -t KEYS < <(keys_of "$T/blocks")
SET_A=("${KEYS[@]:0:100}")
SET_B=("${KEYS[@]:100:100}")
SET_C=("${KEYS[@]:200:100}")
SET_D=("${KEYS[@]:300:90}")
SAME=${KEYS[390]}
CACHED=("${KEYS[@]:391:3}")
BAD=("${KEYS[@]:394:3}")
for k in "${BAD[@]}"; do
    head -c 5000 /dev/urandom >"$T/blocks/$k"
done
ABSENT=()
for i in 1 2 3 4; do
    ABSENT+=("$(printf 'absent-%s-%s' "$$" "$i" | sha256sum | cut -c1-64)")
done

start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_RETRIES=0
start_blockedge "$(be_conf "$ORIGIN_URL" | sed -e 's/^    send_timeout 60s;$/    send_timeout 60s;\n    h2_max_concurrent_streams 100;/')"
grep -q "h2_max_concurrent_streams 100;" "$BE_CONF" || fail "config without h2_max_concurrent_streams"
check_eq "$(metric blockedge_origin_requests_total)" 0 "origin fetches before the test"

# sum_sizes KEY...: total bytes of the blocks.
sum_sizes() {
    local k n=0
    for k in "$@"; do
        n=$((n + $(size_of "$T/blocks" "$k")))
    done
    echo "$n"
}

# each_fetched_once KEY...: the origin logged exactly one request for each key.
each_fetched_once() {
    local k c
    sleep 0.3
    for k in "$@"; do
        c=$(origin_count "$k")
        [ "$c" = 1 ] || fail "origin requests for ${k:0:16}…: expected 1, got $c"
    done
}

# --- A: 100 distinct uncached keys in one write, bytes verified per stream.
: >"$T/spec.a"
for k in "${SET_A[@]}"; do
    echo "$k 200" >>"$T/spec.a"
done
t0=$(now_ms)
"$PY" "$ATTACK" many "$BE_PORT" - "$T/spec.a" 100 >"$T/a.out" 2>"$T/a.err" ||
    fail "A: streams without their blocks: $(head -c 2000 "$T/a.err") $(cat "$T/a.out")"
log "A: $(cat "$T/a.out") in $(($(now_ms) - t0)) ms"
grep -qF '"x_cache": {"MISS": 100}' "$T/a.out" || fail "A: not 100 MISS answers: $(cat "$T/a.out")"
grep -qF "\"body_bytes\": $(sum_sizes "${SET_A[@]}")," "$T/a.out" || fail "A: body bytes: $(cat "$T/a.out")"
each_fetched_once "${SET_A[@]}"
check_eq "$(metric blockedge_origin_requests_total)" 100 "origin fetches after A"
check_eq "$(metric 'blockedge_http_requests_total{proto="h2",code="200"}')" 100 "h2 200s after A"

# --- B: nghttp, 100 URIs on one connection.
uris=()
for k in "${SET_B[@]}"; do
    uris+=("$BE_URL/blocks/$k")
done
timeout 60 nghttp -nv "${uris[@]}" >"$T/b.out" 2>&1 || fail "B: nghttp failed: $(tail -n 5 "$T/b.out")"
IT_LOGS+=("$T/b.out")
check_eq "$(grep -c '^\[ *[0-9.]*\] Connected$' "$T/b.out")" 1 "B: nghttp connections"
check_eq "$(grep -c 'recv (stream_id=[0-9]*) :status: 200$' "$T/b.out")" 100 "B: streams answered 200"
# Per stream: the key from the request's :path, and the DATA bytes received.
"$PY" - "$T/b.out" "$T/blocks" <<'PYEOF' || fail "B: nghttp streams did not carry their blocks (see above)"
import os, re, sys
text = open(sys.argv[1]).read()
paths, data, cl = {}, {}, {}
sid = None
sent_before_data = None  # requests out before the first DATA came back: all 100 were concurrent
for line in text.splitlines():
    m = re.search(r"send HEADERS frame <.*stream_id=(\d+)>", line)
    if m:
        sid = int(m.group(1))
        continue
    if sent_before_data is None and "recv DATA frame" in line:
        sent_before_data = len(paths)
    m = re.match(r"\s+:path: /blocks/([0-9a-f]{64})$", line)
    if m and sid is not None:
        paths[sid] = m.group(1)
        continue
    m = re.search(r"recv DATA frame <length=(\d+), flags=0x[0-9a-f]+, stream_id=(\d+)>", line)
    if m:
        data[int(m.group(2))] = data.get(int(m.group(2)), 0) + int(m.group(1))
        continue
    m = re.search(r"recv \(stream_id=(\d+)\) content-length: (\d+)$", line)
    if m:
        cl[int(m.group(1))] = int(m.group(2))
bad = []
for s, key in paths.items():
    size = os.path.getsize(os.path.join(sys.argv[2], key))
    if data.get(s) != size or cl.get(s) != size:
        bad.append(f"stream {s} {key[:12]}: {data.get(s)} DATA bytes, content-length {cl.get(s)}, block {size}")
if len(paths) != 100:
    bad.append(f"{len(paths)} requests seen in nghttp's output")
if sent_before_data != 100:
    bad.append(f"{sent_before_data} requests sent before the first DATA frame, expected 100")
for b in bad[:10]:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
PYEOF
each_fetched_once "${SET_B[@]}"
log "B: nghttp, 100 streams on one connection, each with its block's bytes"

# --- C: h2load, one connection, 100 streams at once.
: >"$T/uris.c"
for k in "${SET_C[@]}"; do
    echo "$BE_URL/blocks/$k" >>"$T/uris.c"
done
timeout 60 h2load -c 1 -m 100 -n 100 -i "$T/uris.c" >"$T/c.out" 2>&1 || fail "C: h2load failed: $(tail -n 5 "$T/c.out")"
IT_LOGS+=("$T/c.out")
check_eq "$(grep '^requests:' "$T/c.out")" \
    "requests: 100 total, 100 started, 100 done, 100 succeeded, 0 failed, 0 errored, 0 timeout" "C: h2load requests"
check_eq "$(grep '^status codes:' "$T/c.out")" "status codes: 100 2xx, 0 3xx, 0 4xx, 0 5xx" "C: h2load status codes"
check_eq "$(sed -n 's/^traffic:.* (\([0-9]*\)) data$/\1/p' "$T/c.out")" "$(sum_sizes "${SET_C[@]}")" "C: h2load DATA bytes"
each_fetched_once "${SET_C[@]}"
log "C: h2load, 100 streams on one connection: $(grep '^finished in' "$T/c.out")"

# --- D: mixed fates on one connection.
for k in "${CACHED[@]}"; do
    check_eq "$(http_get "$BE_URL/blocks/$k" --http2-prior-knowledge)" 200 "D: warm-up of ${k:0:12}"
done
: >"$T/spec.d"
for ((i = 0; i < 90; i++)); do
    echo "${SET_D[$i]} 200" >>"$T/spec.d"
    case $i in
    10 | 40 | 70) echo "${CACHED[$((i / 30))]} 200" >>"$T/spec.d" ;;
    20 | 50 | 80) echo "${BAD[$((i / 30))]} 502" >>"$T/spec.d" ;;
    esac
    case $i in
    5) echo "${ABSENT[0]} 404" >>"$T/spec.d" ;;
    35) echo "${ABSENT[1]} 404" >>"$T/spec.d" ;;
    65) echo "${ABSENT[2]} 404" >>"$T/spec.d" ;;
    89) echo "${ABSENT[3]} 404" >>"$T/spec.d" ;;
    esac
done
check_eq "$(wc -l <"$T/spec.d")" 100 "D: streams in the spec"
f0=$(metric blockedge_origin_requests_total)
"$PY" "$ATTACK" many "$BE_PORT" - "$T/spec.d" 100 >"$T/d.out" 2>"$T/d.err" ||
    fail "D: streams with the wrong answer: $(head -c 2000 "$T/d.err") $(cat "$T/d.out")"
log "D: $(cat "$T/d.out")"
each_fetched_once "${SET_D[@]}" "${BAD[@]}"
for k in "${ABSENT[@]}"; do
    expect_origin_count "$k" 1
done
check_eq "$(metric blockedge_origin_requests_total)" "$((f0 + 97))" "D: origin fetches (90 + 3 + 4)"
check_eq "$(metric 'blockedge_origin_errors_total{reason="digest_mismatch"}')" 3 "D: digest mismatches"
check_eq "$(metric 'blockedge_origin_errors_total{reason="not_found"}')" 4 "D: not found at origin"

# --- E: one uncached key on 100 streams: one fetch, everyone served.
: >"$T/spec.e"
for ((i = 0; i < 100; i++)); do
    echo "$SAME 200" >>"$T/spec.e"
done
co0=$(metric blockedge_coalesced_requests_total)
h0=$(metric 'blockedge_cache_hits_total{tier="memory"}')
"$PY" "$ATTACK" many "$BE_PORT" - "$T/spec.e" 100 >"$T/e.out" 2>"$T/e.err" ||
    fail "E: streams without the block: $(head -c 2000 "$T/e.err") $(cat "$T/e.out")"
log "E: $(cat "$T/e.out")"
expect_origin_count "$SAME" 1
co=$(($(metric blockedge_coalesced_requests_total) - co0))
hits=$(($(metric 'blockedge_cache_hits_total{tier="memory"}') - h0))
log "E: $co coalesced waiters, $hits memory hits"
check_eq "$((co + hits))" 99 "E: coalesced waiters + hits besides the one fetch"
kill -0 "$BE_PID" 2>/dev/null || fail "blockedge exited"
log "ok"
