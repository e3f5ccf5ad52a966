#!/usr/bin/env bash
# 18_miss_flood: a random-key flood against an nginx origin. blockedge has origin_max_inflight
# 16 and miss_rate 100r/s burst=100; the attacker (h2load, 4 connections x 16 streams = 64
# streams, 10,000 requests/s: on two cores an attacker at full speed would mostly measure the
# load generator's own CPU against the good client's) asks for never-seen random keys for 10 s
# while a well-behaved client (h2load --rps, 2 connections, 500 requests/s) reads 64 cached
# blocks. Measured in the same run:
#  - the origin (its own access log): requests during the flood <= burst + rate x duration, at
#    most rate + burst in any one second, and carried by at most origin_max_inflight
#    connections (so never more at once);
#  - the good client: 0 errors, and its p99 with the flood against its p99 without it (printed;
#    asserted within 2x, with a 2 ms floor: below that the figure is scheduler noise; asserted
#    in the normal tree only, and the test runs alone: RUN_SERIAL);
#  - then miss_rate off (reload): the flood reaches the origin, still at most 16 at once.
source "$(dirname "$0")/lib.sh"

RATE=100 BURST=100 CAP=16 FLOOD_S=10
gen_blocks "$T/blocks" 64 4k 1801
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_HTTP_EXTRA="    miss_rate ${RATE}r/s burst=$BURST;
    trusted 127.0.0.2;"
CONF_ORIGIN_EXTRA="    origin_max_inflight $CAP;"
CONF_LOG_LEVEL=notice
start_blockedge "$(be_conf "$ORIGIN_URL")"

keys_of "$T/blocks" | sed "s|^|$BE_URL/blocks/|" >"$T/hot.urls"
xargs -P 4 -n 8 curl -s -o /dev/null --interface 127.0.0.2 <"$T/hot.urls"
check_eq "$(metric 'blockedge_cache_blocks{tier="memory"}')" 64 "hot blocks cached (by a trusted peer)"
"$PY" -c "
import secrets, sys
with open(sys.argv[1], 'w') as f:
    for _ in range(50000):
        f.write(sys.argv[2] + '/blocks/' + secrets.token_hex(32) + '\n')
" "$T/random.urls" "$BE_URL"

# good SECONDS LOG: the well-behaved client, 2 connections at 250 requests/s each.
good() {
    timeout 60 h2load -c 2 -m 1 --rps 250 -D "$1" -i "$T/hot.urls" --log-file "$2" \
        >"$2.out" 2>&1
    check_eq "$?" 0 "h2load (good client) exit status"
    IT_LOGS+=("$2.out")
    "$PY" "$IT_HELP" h2load-latency "$2"
}
# flood SECONDS OUT: the attacker.
flood() {
    timeout 60 h2load -c 4 -m 16 --rps 2500 -D "$1" -i "$T/random.urls" >"$2" 2>&1
}

read -r q_n q_ok q_p50 q_p99 <<<"$(good 4 "$T/quiet.log")"
log "good client alone: $q_n requests, $q_ok 200, p50 ${q_p50} us, p99 ${q_p99} us"
check_eq "$q_ok" "$q_n" "good client alone: every request 200"

since=$(date +%s.%N)
flood "$FLOOD_S" "$T/flood.out" &
fpid=$!
sleep 2
read -r f_n f_ok f_p50 f_p99 <<<"$(good 5 "$T/flooded.log")"
wait "$fpid"
check_eq "$?" 0 "h2load (flood) exit status"
IT_LOGS+=("$T/flood.out")
sleep 0.5 # nginx logs a request as it ends
read -r o_n o_conc o_sec <<<"$("$PY" "$IT_HELP" origin-load "$ORIGIN_TIMING_LOG" "$since" 404)"
fl_reqs=$(sed -n 's/^requests: \([0-9]*\) total.*/\1/p' "$T/flood.out")
limited=$(metric blockedge_miss_rate_limited_total)
floor=2000
base=$((q_p99 > floor ? q_p99 : floor))
ratio=$(awk -v a="$f_p99" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
log "flood: $fl_reqs requests in ${FLOOD_S} s from 64 streams, $limited refused 429; origin: $o_n requests ($((o_n / FLOOD_S))/s), over $o_conc connections, at most $o_sec in one second"
log "good client under the flood: $f_n requests, $f_ok 200, p50 ${f_p50} us, p99 ${f_p99} us: p99 ratio $ratio (flood / quiet, quiet floored at $floor us)"
check_num "$fl_reqs" -gt 2000 "flood requests (the attack ran)"
check_num "$limited" -gt $((fl_reqs / 2)) "flood requests refused 429"
check_num "$o_n" -ge "$BURST" "origin requests during the flood (the burst went through)"
check_num "$o_n" -le $((BURST + RATE * (FLOOD_S + 1))) "origin requests during the flood"
check_num "$o_sec" -le $((RATE + BURST)) "origin requests in any one second"
check_num "$o_conc" -le "$CAP" "origin connections that carried them (>= requests at once)"
check_eq "$f_ok" "$f_n" "good client under the flood: every request 200"
check_num "$f_n" -ge 2000 "good client under the flood: requests made (of 2500)"
if [ -z "${BE_TEST_SANITIZED:-}" ]; then
    check_num "$f_p99" -le $((2 * base)) "good client's p99 under the flood (2x its quiet p99)"
else
    log "p99 ratio not asserted: a sanitizer build (instrumented code measures itself)"
fi

# miss_rate off: the flood reaches the origin, origin_max_inflight still holds.
printf '%s\n' "$(CONF_HTTP_EXTRA='' be_conf "$ORIGIN_URL")" >"$BE_CONF"
kill -HUP "$BE_PID"
check_eq "$(wait_metric 'blockedge_config_reloads_total{result="ok"}' 1 "$(ms_bound 10)")" 1 "reloaded"
since=$(date +%s.%N)
flood 4 "$T/flood2.out"
IT_LOGS+=("$T/flood2.out")
sleep 0.5
read -r o_n o_conc o_sec <<<"$("$PY" "$IT_HELP" origin-load "$ORIGIN_TIMING_LOG" "$since" 404)"
log "flood without miss_rate: origin $o_n requests in 4 s ($((o_n / 4))/s) over $o_conc connections"
check_num "$o_n" -gt $((BURST + RATE * 5)) "origin requests without miss_rate (more than the budget)"
check_num "$o_conc" -le "$CAP" "origin connections without miss_rate (>= requests at once)"
log "ok"
