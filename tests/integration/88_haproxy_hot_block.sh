#!/usr/bin/env bash
# 88_haproxy_hot_block: Zipf(1.2) load over 1000 blocks through HAProxy on conf/haproxy.cfg,
# 16 connections, once with the shipped hash-balance-factor 150 and once without it. Prints each
# edge's share of the requests. Without the factor the hottest block's owner takes its third
# plus the hot block's traffic; with it, requests beyond 150% of the mean load in progress go to
# the next edge on the ring, so the busiest edge's share must come down.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/halib.sh"

fast_blocks "$T/blocks" 1000 4k 8801
start_nginx_origin "$T/blocks"
start_edges "$ORIGIN_URL"
EDGES=(edge1 edge2 edge3)

# 50000 references, rank r (1-based, in keys order) drawn with probability ~ 1 / r^1.2.
"$PY" - "$T/keys" "$T/zipf" <<'PYEOF'
import bisect, random, sys
keys = open(sys.argv[1]).read().split()
w = [1.0 / (r ** 1.2) for r in range(1, len(keys) + 1)]
cum, s = [], 0.0
for x in w:
    s += x
    cum.append(s)
rng = random.Random(8801)
with open(sys.argv[2], "w") as out:
    for _ in range(50000):
        out.write(keys[bisect.bisect_left(cum, rng.random() * s)] + "\n")
PYEOF
cat >"$T/zipf.lua" <<LUA
local keys, i = {}, 0
for line in io.lines("$T/zipf") do keys[#keys + 1] = line end
init = function(args) i = math.random(#keys) end
request = function()
    i = i + 1
    return wrk.format("GET", "/blocks/" .. keys[(i % #keys) + 1])
end
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("WRK requests=%d errors=%d\n", summary.requests,
        e.connect + e.read + e.write + e.status + e.timeout))
end
LUA

# run LABEL: 3 s of load; prints "MAXSHARE%" after logging every edge's share.
run() {
    local label=$1 line total max=0 shares="" s n
    wrk -t 2 -c 16 -d 3s -s "$T/zipf.lua" "$HA_URL" >"$T/wrk.$label" 2>&1 || fail "wrk ($label) failed: $(cat "$T/wrk.$label")"
    grep -q '^WRK .* errors=0$' "$T/wrk.$label" || fail "wrk ($label): $(cat "$T/wrk.$label")"
    ha_cmd "show stat" | awk -F, '$1 == "edges" && $2 ~ /^edge/ { print $2, $8 }' >"$T/stot.$label"
    total=$(awk '{ s += $2 } END { print s }' "$T/stot.$label")
    while read -r n s; do
        shares+=" $n=$((s * 1000 / total / 10)).$((s * 1000 / total % 10))%"
        [ $((s * 1000 / total)) -gt "$max" ] && max=$((s * 1000 / total))
    done <"$T/stot.$label"
    log "$label: $total requests, per-edge share:$shares (max $((max / 10)).$((max % 10))%)"
    echo "$max"
}

start_haproxy
pass warm "$HA_URL" # every block on its owner first: both runs start warm
with=$(run "with hash-balance-factor 150")
kill -TERM "$HA_PID"
wait "$HA_PID" 2>/dev/null
rm -f "$T/ha.sock"
HA_NO_BALANCE_FACTOR=1 start_haproxy
without=$(run "without hash-balance-factor")
check_num "$with" -lt "$without" "the busiest edge's share (per mille) with hash-balance-factor vs without"

log "ok"
