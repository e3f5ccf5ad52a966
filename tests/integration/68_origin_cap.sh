#!/usr/bin/env bash
# 68_origin_cap: origin_max_inflight bounds what clients can make the origin do. The origin
# answers one known block and never answers any other key (h2attack.py stall-unknown-origin).
# blockedge has one worker (the kernel's SO_REUSEPORT split of 16 clients over two workers
# would leave one with fewer than its 4 slots about one run in fifty), origin_max_inflight 8
# and origin_queue_timeout 3s (the late-orphan phase needs its waiters still queued after a
# poll that can take a second on a loaded machine).
#  - Churn: for 4 s, clients ask for random never-seen keys and hang up 20 ms later. Fetches
#    every client has left are cancelled to make room: blockedge never holds more than 8
#    connections to the origin, its descriptors stay bounded, and a client reading the cached
#    block meanwhile keeps getting 200 (its median latency against a quiet run is printed).
#  - Queue: 16 clients that stay ask for 16 new keys: 8 hold every slot, the other 8 wait
#    origin_queue_timeout and get 503 with Retry-After, counted in
#    blockedge_origin_queue_rejected_total.
#  - Late orphans: 4 more misses queue, then the 8 holders hang up: the waiters get the freed
#    slots (their keys reach the origin) rather than 503 at origin_queue_timeout.
source "$(dirname "$0")/lib.sh"

gen_blocks "$T/blocks" 1 4k 6801
HOT=$(keys_of "$T/blocks" | head -1)
OPORT=$(free_port)
"$PY" "$IT_DIR/h2attack.py" stall-unknown-origin "$OPORT" "$T/blocks" "$T/origin.log" 120 \
    >"$T/origin.stderr" 2>&1 &
track "$!"
IT_LOGS+=("$T/origin.stderr")
for ((i = 0; i < 50; i++)); do
    "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $OPORT), 1).close()" \
        2>/dev/null && break
    sleep 0.1
done
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_WORKERS=1
CONF_ORIGIN_EXTRA="    origin_max_inflight 8;
    origin_queue_timeout 3s;
    fetch_timeout 60s;"
CONF_READ_TIMEOUT=60s
start_blockedge "$(be_conf "http://127.0.0.1:$OPORT/blocks/")"
check_eq "$(http_get "$BE_URL/blocks/$HOT")" 200 "the known block, cached"

# median_ms N: the median time of N GETs of the cached block, in ms.
median_ms() {
    for ((i = 0; i < $1; i++)); do
        curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 5 "$BE_URL/blocks/$HOT"
    done >"$T/hot.times"
    grep -vc '^200 ' "$T/hot.times" >"$T/hot.bad" || true
    awk '{ print $2 * 1000 }' "$T/hot.times" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }'
}
quiet=$(median_ms 30)
check_eq "$(cat "$T/hot.bad")" 0 "hits in the quiet run"

# --- churn: random keys, clients that leave after 20 ms.
cat >"$T/churn.py" <<'EOF'
import os, socket, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
end = time.monotonic() + secs
n = 0
while time.monotonic() < end:
    socks = []
    for _ in range(20):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(("GET /blocks/%s HTTP/1.1\r\nHost: x\r\n\r\n" % os.urandom(32).hex()).encode())
            socks.append(s)
            n += 1
        except OSError:
            pass
    time.sleep(0.02)
    for s in socks:
        s.close()
print(n)
EOF
"$PY" "$T/churn.py" "$BE_PORT" 4 >"$T/churn.out" 2>&1 &
CHURN=$!
max_origin=0 max_fds=0
sleep 0.5
during=$(median_ms 20)
hot_bad=$(cat "$T/hot.bad")
while kill -0 "$CHURN" 2>/dev/null; do
    n=$(ss -Htn state established "( dport = :$OPORT )" | wc -l)
    [ "$n" -gt "$max_origin" ] && max_origin=$n
    n=$(ls "/proc/$BE_PID/fd" | wc -l)
    [ "$n" -gt "$max_fds" ] && max_fds=$n
    sleep 0.05
done
wait "$CHURN"
churned=$(cat "$T/churn.out")
cancelled=$(metric 'blockedge_origin_orphans_cancelled_total')
log "churn: $churned abandoned misses in 4 s; at most $max_origin origin connections and $max_fds descriptors; $cancelled orphaned fetches cancelled; cached-block median ${during} ms during vs ${quiet} ms quiet"
check_num "$churned" -gt 200 "abandoned misses sent"
check_num "$max_origin" -le 8 "origin connections during the churn (origin_max_inflight 8)"
check_num "$max_fds" -lt 300 "blockedge descriptors during the churn"
check_num "$cancelled" -gt 0 "orphaned fetches cancelled"
check_eq "$hot_bad" 0 "cached-block GETs that failed during the churn"

# --- 16 clients that stay ask for 16 new keys: 8 hold every slot (any orphan the churn left is
# cancelled to make room), the other 8 wait origin_queue_timeout and get 503 + Retry-After.
rejected0=$(metric 'blockedge_origin_queue_rejected_total')
PIDS=()
for ((i = 0; i < 16; i++)); do
    curl -s -o /dev/null -D "$T/stay.$i.h" -w '%{http_code}\n' --max-time 20 \
        "$BE_URL/blocks/$("$PY" -c 'import os; print(os.urandom(32).hex())')" >"$T/stay.$i.code" &
    PIDS+=("$!")
    track "$!"
done
t0=$(now_ms)
for ((i = 0; i < $(ms_bound 100); i++)); do
    [ "$(cat "$T"/stay.*.code | grep -c '^503$')" -ge 8 ] && break
    sleep 0.1
done
el=$(($(now_ms) - t0))
sleep 0.5
check_eq "$(cat "$T"/stay.*.code | grep -c '^503$')" 8 "misses answered 503 with every slot taken (${el} ms)"
check_eq "$(cat "$T"/stay.*.code | grep -c .)" 8 "the other 8 still wait on the origin"
check_eq "$(grep -il '^retry-after: 1' "$T"/stay.*.h | wc -l)" 8 "Retry-After on each 503"
check_num "$el" -ge 2900 "the 503s came after origin_queue_timeout"
check_num "$(metric 'blockedge_origin_queue_rejected_total')" -ge $((rejected0 + 8)) "rejections counted"
check_eq "$(http_get "$BE_URL/blocks/$HOT")" 200 "a hit with every slot taken"

# --- Waiters take the slots of fetches whose clients leave after the waiters came: 4 new
# misses queue behind the 8 holders, then the holders hang up. Their fetches are orphaned
# with nobody arriving to notice; the waiters must get those slots (their keys reach the
# origin) instead of 503 at origin_queue_timeout.
waits0=$(metric 'blockedge_origin_queue_waits_total')
WAITERS=() WKEYS=()
for ((i = 0; i < 4; i++)); do
    WKEYS+=("$("$PY" -c 'import os; print(os.urandom(32).hex())')")
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 "$BE_URL/blocks/${WKEYS[i]}" \
        >"$T/late.$i.code" &
    WAITERS+=("$!")
    track "$!"
done
for ((i = 0; i < $(ms_bound 50); i++)); do
    [ "$(metric 'blockedge_origin_queue_waits_total')" -ge $((waits0 + 4)) ] && break
    sleep 0.1
done
check_num "$(metric 'blockedge_origin_queue_waits_total')" -ge $((waits0 + 4)) "the 4 late misses queued"
kill "${PIDS[@]}" 2>/dev/null
sleep "$(ms_bound 1500 | awk '{ printf "%.1f", $1 / 1000 }')"
check_eq "$(cat "$T"/late.*.code | grep -c .)" 0 "late misses answered early (a freed slot leaves them waiting on the stalled origin)"
for k in "${WKEYS[@]}"; do
    check_eq "$(grep -c "$k" "$T/origin.log")" 1 "late miss ${k:0:12} reached the origin"
done
kill "${WAITERS[@]}" 2>/dev/null
log "ok"
