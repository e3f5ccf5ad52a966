#!/usr/bin/env bash
# 22_h2_attacks: the known HTTP/2 attacks over h2c, each driven frame by frame by h2attack.py,
# which asserts the server's reaction on the wire:
#   rapid reset (HEADERS + RST_STREAM on distinct uncached keys) -> GOAWAY(ENHANCE_YOUR_CALM),
#     against a fast origin and against a stalling one, and its MadeYouReset variant;
#   CONTINUATION flood -> close;  HPACK bomb -> each stream reset, the connection still serves;
#   SETTINGS flood and PING flood (ACKs never read, or read after it) -> GOAWAY(ENHANCE_YOUR_CALM)
#     and close, long before send_timeout;
#   zero window (stream, and connection) -> close within send_timeout (3s);
#   streams over MAX_CONCURRENT_STREAMS -> REFUSED_STREAM (limit not yet acknowledged) or
#     PROTOCOL_ERROR (acknowledged);
#   missing/malformed pseudo-headers and connection-specific headers -> RST_STREAM(PROTOCOL_ERROR).
# Around each attack this script asserts that origin fetches stayed bounded, the close reason
# counters, that blockedge still runs, and that a well-behaved curl client on other connections
# (a bounded background loop) got only verified 200s, some of them while the attack ran.
# One worker thread, so attacker and well-behaved client share one event loop.
source "$(dirname "$0")/lib.sh"

ATTACK="$IT_DIR/h2attack.py"
gen_blocks "$T/blocks" 4 16k 2201
gen_blocks "$T/blocks" 1 1m 2202
mapfile -t KEYS < <(keys_of "$T/blocks")
GOOD=${KEYS[0]}
GOOD_SIZE=$(size_of "$T/blocks" "$GOOD")
BIG=${KEYS[4]}
start_nginx_origin "$T/blocks"

CONF_WORKERS=1
CONF_RETRIES=0
# h2_conf ORIGIN_URL NAME: the standard config, send_timeout 3s, 100 streams per connection.
h2_conf() {
    be_conf "$1" "$2" | sed -e 's/^    send_timeout 60s;$/    send_timeout 3s;\n    h2_max_concurrent_streams 100;/'
}
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "$(h2_conf "$ORIGIN_URL" be)" be
grep -q "send_timeout 3s;" "$BE_CONF" || fail "config without send_timeout 3s"
A_PID=$BE_PID A_PORT=$BE_PORT A_ADMIN=$BE_ADMIN

for k in "${KEYS[@]}"; do
    check_eq "$(http_get "$BE_URL/blocks/$k" --http2-prior-knowledge)" 200 "warm-up GET ${k:0:12} over h2c"
    check_eq "$(sha_of "$T/last.body")" "$k" "warm-up body ${k:0:12}"
done

# ----------------------------------------------------------------------------------------------
# The well-behaved client: curl over h2c, a new connection per request, until told to stop
# (at most 3000 requests or 60 s). Each line: "<ms> <status> <bytes>".

good_start() {
    GOOD_LOG="$T/good.$1"
    : >"$GOOD_LOG"
    rm -f "$T/good.stop"
    (
        end=$(($(now_ms) + 60000))
        for ((i = 0; i < 3000; i++)); do
            [ -e "$T/good.stop" ] && break
            [ "$(now_ms)" -lt "$end" ] || break
            r=$(curl -s --http2-prior-knowledge --max-time 5 -o /dev/null \
                -w '%{http_code} %{size_download}' "http://127.0.0.1:$GOOD_PORT/blocks/$GOOD")
            echo "$(now_ms) $r" >>"$GOOD_LOG"
            sleep 0.02
        done
    ) &
    GOOD_PID=$!
    track "$GOOD_PID"
    # Running before the attack starts.
    for ((i = 0; i < 50; i++)); do
        [ -s "$GOOD_LOG" ] && break
        sleep 0.05
    done
    [ -s "$GOOD_LOG" ] || fail "the well-behaved client did not get going"
}

# good_stop FROM_MS TO_MS: stop the loop; every answer was a full 200 and at least one came
# while the attack ran (FROM..TO).
good_stop() {
    local from=$1 to=$2 total during bad
    touch "$T/good.stop"
    wait "$GOOD_PID"
    total=$(wc -l <"$GOOD_LOG")
    bad=$(awk -v s="$GOOD_SIZE" '$2 != 200 || $3 != s' "$GOOD_LOG" | head -n 3)
    [ -z "$bad" ] || fail "well-behaved client during $ATTACK_NAME got: $bad"
    during=$(awk -v a="$from" -v b="$to" '$1 >= a && $1 <= b' "$GOOD_LOG" | wc -l)
    check_num "$during" -ge 1 "well-behaved 200s while $ATTACK_NAME ran"
    log "$ATTACK_NAME: well-behaved client got $total × 200 ($during during the attack)"
}

# run_attack NAME ARGS...: h2attack.py NAME $ATTACK_PORT $GOOD ARGS... with the well-behaved
# client running around it; sets ATTACK_JSON (what h2attack.py saw).
run_attack() {
    ATTACK_NAME=$1
    shift
    local t0 t1 rc
    GOOD_PORT=$ATTACK_PORT
    good_start "$ATTACK_NAME"
    t0=$(now_ms)
    "$PY" "$ATTACK" "$ATTACK_NAME" "$ATTACK_PORT" "$GOOD" "$@" >"$T/attack.out" 2>"$T/attack.err"
    rc=$?
    t1=$(now_ms)
    ATTACK_JSON=$(tail -n 1 "$T/attack.out")
    cat "$T/attack.err" >&2
    log "$ATTACK_NAME $*: $ATTACK_JSON ($((t1 - t0)) ms)"
    [ "$rc" -eq 0 ] || fail "$ATTACK_NAME: unexpected server reaction (see above): $ATTACK_JSON"
    good_stop "$t0" "$t1"
    kill -0 "$A_PID" 2>/dev/null || fail "blockedge exited during $ATTACK_NAME"
}

# closed REASON [ADMIN]: blockedge_connections_closed_total{reason=REASON}.
closed() {
    metric "blockedge_connections_closed_total{reason=\"$1\"}" "${2:-$A_ADMIN}"
}

# settle ADMIN: wait (<= 10 s) until no origin fetch is under way.
settle() {
    local v
    v=$(BE_ADMIN=$1 wait_metric blockedge_inflight_fetches 0 10)
    check_eq "$v" 0 "origin fetches still under way"
}

ATTACK_PORT=$A_PORT

# ---- Rapid reset against the nginx origin: the glitch budget ends it.
o0=$(origin_total)
f0=$(metric blockedge_origin_requests_total)
calm0=$(closed h2_enhance_your_calm)
run_attack rapid-reset
settle "$A_ADMIN"
sleep 0.3
o1=$(origin_total)
f1=$(metric blockedge_origin_requests_total)
log "rapid reset: $((f1 - f0)) origin fetches, $((o1 - o0)) requests logged by the origin"
check_num "$((f1 - f0))" -le 120 "origin fetches caused by the rapid reset (h2_max_concurrent_streams 100)"
check_num "$((o1 - o0))" -le 120 "origin requests logged during the rapid reset"
check_eq "$(closed h2_enhance_your_calm)" "$((calm0 + 1))" "connections closed as h2_enhance_your_calm"

# ---- MadeYouReset: the client makes the server reset each stream (its window overflowed).
o0=$(origin_total)
f0=$(metric blockedge_origin_requests_total)
calm0=$(closed h2_enhance_your_calm)
run_attack made-you-reset
settle "$A_ADMIN"
sleep 0.3
f1=$(metric blockedge_origin_requests_total)
log "MadeYouReset: $((f1 - f0)) origin fetches"
check_num "$((f1 - f0))" -le 120 "origin fetches caused by MadeYouReset (h2_max_concurrent_streams 100)"
check_num "$(($(origin_total) - o0))" -le 120 "origin requests logged during MadeYouReset"
check_eq "$(closed h2_enhance_your_calm)" "$((calm0 + 1))" "connections closed as h2_enhance_your_calm (MadeYouReset)"

# ---- Rapid reset against an origin that stalls on every uncached key (and serves GOOD): reset
# streams keep their fetch slot until the fetch ends, so the connection cannot have more than
# 100 fetches going at once. The fetches end with read_timeout 3s; nothing stays behind.
SLOW_PORT=$(free_port)
SLOW_LOG="$T/slow.requests"
: >"$SLOW_LOG"
"$PY" "$ATTACK" stall-unknown-origin "$SLOW_PORT" "$T/blocks" "$SLOW_LOG" 120 >"$T/slow.stderr" 2>&1 &
track "$!"
IT_LOGS+=("$T/slow.stderr")
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_READ_TIMEOUT=3s start_blockedge "$(CONF_READ_TIMEOUT=3s h2_conf "http://127.0.0.1:$SLOW_PORT/blocks/" be-slow)" be-slow
S_PID=$BE_PID S_ADMIN=$BE_ADMIN S_PORT=$BE_PORT
check_eq "$(http_get "$BE_URL/blocks/$GOOD" --http2-prior-knowledge)" 200 "GOOD through the stalling origin"
check_eq "$(sha_of "$T/last.body")" "$GOOD" "GOOD body through the stalling origin"
ATTACK_PORT=$S_PORT
calm0=$(closed h2_enhance_your_calm "$S_ADMIN")
n0=$(wc -l <"$SLOW_LOG")
run_attack rapid-reset
sleep 0.3
inflight=$(metric blockedge_inflight_fetches "$S_ADMIN")
stalled=$(($(wc -l <"$SLOW_LOG") - n0))
log "rapid reset on a stalling origin: $stalled origin requests, $inflight fetches in flight after it"
check_num "$stalled" -le 100 "origin requests while fetches stall (h2_max_concurrent_streams 100)"
check_num "$stalled" -ge 1 "origin requests while fetches stall"
check_eq "$(closed h2_enhance_your_calm "$S_ADMIN")" "$((calm0 + 1))" \
    "connections closed as h2_enhance_your_calm (stalling origin)"
settle "$S_ADMIN"
check_eq "$(metric blockedge_connections_open "$S_ADMIN")" 0 "connections open after the stalled fetches ended"
check_eq "$(metric 'blockedge_origin_errors_total{reason="timeout"}' "$S_ADMIN")" "$stalled" \
    "stalled fetches ended by read_timeout"
kill -0 "$S_PID" 2>/dev/null || fail "blockedge (stalling origin) exited"
ATTACK_PORT=$A_PORT

# ---- CONTINUATION flood.
o0=$(origin_total)
err0=$(($(closed h2_protocol_error) + $(closed h2_enhance_your_calm)))
run_attack continuation
check_eq "$(($(closed h2_protocol_error) + $(closed h2_enhance_your_calm)))" "$((err0 + 1))" \
    "connections closed as h2_protocol_error or h2_enhance_your_calm"
sleep 0.2
check_eq "$(origin_total)" "$o0" "origin requests caused by the CONTINUATION flood"

# ---- HPACK bomb: ~16 MB of decoded headers per stream, 20 streams; memory stays put.
rss_kb() {
    awk '/^VmRSS:/ {print $2}' "/proc/$A_PID/status"
}
rss0=$(rss_kb)
run_attack hpack-bomb
rss1=$(rss_kb)
log "hpack bomb: RSS $rss0 kB -> $rss1 kB"
check_num "$((rss1 - rss0))" -lt 16384 "RSS growth in kB after 20 HPACK bombs (16 MB decoded each)"

# ---- SETTINGS and PING floods (issue 15: the output backed up, reading stopped, and only the
# send timeout closed, with no GOAWAY). Each PING or SETTINGS costs a tenth of a glitch: the
# flood ends in GOAWAY(ENHANCE_YOUR_CALM) after about 1000 frames, well before send_timeout
# (3s). Once with the ACKs never read (4 KiB receive buffer), once read after the flood, where
# the GOAWAY must be on the wire.
for kind in settings ping; do
    for how in "" read; do
        n0=$(closed h2_enhance_your_calm)
        s0=$(closed send_timeout)
        run_attack "$kind-flood" $how
        check_eq "$(closed h2_enhance_your_calm)" "$((n0 + 1))" \
            "connections closed as h2_enhance_your_calm after the $kind flood ${how:-unread}"
        check_eq "$(closed send_timeout)" "$s0" "send timeouts during the $kind flood ${how:-unread}"
        after=$(printf '%s' "$ATTACK_JSON" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["closed_after_s"])')
        "$PY" -c "import sys; sys.exit(0 if $after < 2.0 else 1)" ||
            fail "$kind flood ${how:-unread}: closed after $after s, expected well under send_timeout"
        [ -z "$how" ] || [[ "$ATTACK_JSON" == *'"goaway": "ENHANCE_YOUR_CALM"'* ]] ||
            fail "$kind flood read: no GOAWAY(ENHANCE_YOUR_CALM): $ATTACK_JSON"
    done
done

# ---- Zero window: on the stream (nothing can be sent) and on the connection (65535 bytes,
# then nothing). The connection goes within send_timeout (3s) of the last progress.
for mode in stream conn; do
    n0=$(closed send_timeout)
    run_attack zero-window "$mode" "$BIG" 2.0 6.0
    check_eq "$(closed send_timeout)" "$((n0 + 1))" "connections closed as send_timeout (zero window, $mode)"
done

# ---- More streams than MAX_CONCURRENT_STREAMS (100), the limit not yet acknowledged and
# acknowledged. The 100 keep-open streams are for cached blocks: no origin traffic.
o0=$(origin_total)
run_attack over-limit 100 unacked "${KEYS[@]:0:4}"
perr0=$(closed h2_protocol_error)
run_attack over-limit 100 acked "${KEYS[@]:0:4}"
PERR_WANT=""
# A connection ended by a PROTOCOL_ERROR GOAWAY counts as h2_protocol_error (checked last).
[[ "$ATTACK_JSON" == *'GOAWAY(PROTOCOL_ERROR'* ]] && PERR_WANT=$((perr0 + 1)) PERR_GOT=$(closed h2_protocol_error)
check_eq "$(origin_total)" "$o0" "origin requests caused by the streams over the limit"

# ---- Malformed requests, each naming an uncached key: reset, never fetched.
o0=$(origin_total)
f0=$(metric blockedge_origin_requests_total)
run_attack bad-requests pseudo
run_attack bad-requests connection
sleep 0.2
check_eq "$(origin_total)" "$o0" "origin requests caused by malformed requests"
check_eq "$(metric blockedge_origin_requests_total)" "$f0" "origin fetches caused by malformed requests"

# ---- Still healthy: /healthz, and a block over h2c and HTTP/1.1.
check_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$A_ADMIN/healthz")" 200 "/healthz after the attacks"
check_eq "$(http_get "http://127.0.0.1:$A_PORT/blocks/$BIG" --http2-prior-knowledge)" 200 "h2c GET after the attacks"
check_eq "$(sha_of "$T/last.body")" "$BIG" "h2c body after the attacks"
check_eq "$(http_get "http://127.0.0.1:$A_PORT/blocks/$BIG")" 200 "HTTP/1.1 GET after the attacks"

if [ -n "$PERR_WANT" ]; then
    check_eq "$PERR_GOT" "$PERR_WANT" \
        "connections closed as h2_protocol_error after the GOAWAY(PROTOCOL_ERROR) for streams over the limit"
fi
log "ok"
