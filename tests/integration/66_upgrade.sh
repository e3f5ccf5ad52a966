#!/usr/bin/env bash
# 66_upgrade: SIGUSR2 replaces the running binary without a refused connection or a failed
# request. blockedge runs from a copy in $T/bin with a disk tier holding warm blocks; wrk,
# h2load and a loop of fresh connections run while the copy is replaced and SIGUSR2 sent. The
# new process takes the listening sockets and the disk tier (the old one seals and releases
# it), serves disk hits within a second, the old pid exits and the pid file names the new
# one; the load sees 0 errors and the loop 0 refused connections. Then an upgrade to a
# binary that exits at once leaves the running process serving.
source "$(dirname "$0")/lib.sh"

NHOT=32
NCOLD=200
gen_blocks "$T/blocks" $((NHOT + NCOLD)) 4k 6601
mapfile -t KEYS < <(keys_of "$T/blocks")
HOT=("${KEYS[@]:0:NHOT}")
COLD=("${KEYS[@]:NHOT}")
start_nginx_origin "$T/blocks"

mkdir -p "$T/bin" "$T/disk"
cp "$BLOCKEDGE" "$T/bin/blockedge"
REAL=$BLOCKEDGE
BLOCKEDGE=$T/bin/blockedge
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_TEXT="pid $T/be.pid;
$(be_conf "$ORIGIN_URL" | sed "s|^    memory_size .*|    memory_size 64m;\\n    disk_path $T/disk;\\n    disk_size 64m;\\n    disk_segment_size 1m;|")"
start_blockedge "$CONF_TEXT"
OLD=$BE_PID

# Every block once: all in memory (64m) and written to disk.
for k in "${KEYS[@]}"; do
    check_eq "$(http_get "$BE_URL/blocks/$k")" 200 "warm-up GET ${k:0:12}"
done
check_eq "$(wait_metric 'blockedge_disk_writes_total' $((NHOT + NCOLD)) "$(ms_bound 20)")" \
    $((NHOT + NCOLD)) "blocks written to the disk tier"

# --- load while upgrading.
printf '%s\n' "${HOT[@]}" >"$T/hot.txt"
for k in "${HOT[@]}"; do echo "$BE_URL/blocks/$k"; done >"$T/uris.txt"
BE_WRK_REPORT=1 timeout 60 wrk -t1 -c8 -d8s -s "$BE_SOURCE_DIR/bench/wrk/keys.lua" "$BE_URL" \
    -- "$T/hot.txt" >"$T/wrk.out" 2>&1 &
WRK=$!
timeout 60 h2load -c 4 -m 8 -D 8 -i "$T/uris.txt" >"$T/h2load.out" 2>&1 &
H2=$!
# A new connection every 10 ms for 6 s: each must be accepted and answered.
(
    ok=0 bad=0
    end=$(($(now_ms) + 6000))
    while [ "$(now_ms)" -lt "$end" ]; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BE_URL/blocks/${HOT[0]}")
        if [ "$code" = 200 ]; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
        sleep 0.01
    done
    echo "$ok $bad"
) >"$T/fresh.out" 2>&1 &
FRESH=$!
IT_LOGS+=("$T/wrk.out" "$T/h2load.out" "$T/fresh.out")
sleep 1.5

cp "$REAL" "$T/bin/blockedge.new"
mv -f "$T/bin/blockedge.new" "$T/bin/blockedge"
t0=$(now_ms)
kill -USR2 "$OLD"
# The first disk hit: only the new process can answer HIT-DISK (the old one holds every
# block in memory). Each cold key is asked once.
first_disk=""
i=0
while [ -z "$first_disk" ] && [ "$i" -lt "$NCOLD" ] && [ $(($(now_ms) - t0)) -lt "$(ms_bound 10000)" ]; do
    x=$(curl -s -o /dev/null -w '%{http_code} %header{x-cache}' --max-time 5 "$BE_URL/blocks/${COLD[i]}")
    [ "$x" = "200 HIT-DISK" ] && first_disk=$(($(now_ms) - t0))
    i=$((i + 1))
    sleep 0.01
done
[ -n "$first_disk" ] || fail "no disk hit from the new process after SIGUSR2"
for ((i = 0; i < $(ms_bound 150); i++)); do
    kill -0 "$OLD" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$OLD" 2>/dev/null && fail "the old process $OLD is still running 15 s after SIGUSR2"
NEW=$(cat "$T/be.pid")
[ "$NEW" != "$OLD" ] || fail "the pid file still names the old process"
kill -0 "$NEW" || fail "the new process $NEW is not running"
track "$NEW"
BE_PID=$NEW

wait "$WRK"
check_eq "$?" 0 "wrk exit status"
wait "$H2"
check_eq "$?" 0 "h2load exit status"
wait "$FRESH"
report=$(grep '^be-wrk ' "$T/wrk.out")
[ -n "$report" ] || fail "wrk printed no report"
check_eq "$(sed 's/.* errors=\([0-9]*\) non2xx=\([0-9]*\).*/\1 \2/' <<<"$report")" "0 0" \
    "wrk errors and non-2xx across the upgrade"
check_contains "$T/h2load.out" "0 failed, 0 errored, 0 timeout" "h2load errors across the upgrade"
check_contains "$T/h2load.out" "0 4xx, 0 5xx" "h2load status codes across the upgrade"
read -r fresh_ok fresh_bad <"$T/fresh.out"
check_eq "$fresh_bad" 0 "fresh connections refused or failed across the upgrade"
check_num "$fresh_ok" -gt 20 "fresh connections answered"
check_contains "$BE_ERRLOG" "open segment sealed and directory lock released" "the old one sealed its disk tier"
check_num "$(metric 'blockedge_disk_index_state')" -eq 1 "the new process's disk index is ready"
log "upgrade $OLD -> $NEW: first disk hit ${first_disk} ms after SIGUSR2; fresh connections $fresh_ok ok, $fresh_bad failed; $(sed 's/ p50.*//' <<<"$report")"

# --- a binary that exits at once: the running process goes on.
printf '#!/bin/sh\nexit 3\n' >"$T/bin/blockedge.bad"
chmod +x "$T/bin/blockedge.bad"
mv -f "$T/bin/blockedge.bad" "$T/bin/blockedge"
kill -USR2 "$NEW"
for ((i = 0; i < $(ms_bound 100); i++)); do
    grep -q 'binary upgrade failed' "$BE_ERRLOG" && break
    sleep 0.1
done
check_contains "$BE_ERRLOG" "binary upgrade failed" "the failed upgrade is logged"
check_contains "$BE_ERRLOG" "exited with status 3" "the failed upgrade gives the status"
kill -0 "$NEW" || fail "the running process died on a failed upgrade"
check_eq "$(cat "$T/be.pid")" "$NEW" "the pid file still names the running process"
check_eq "$(http_get "$BE_URL/blocks/${COLD[$((NCOLD - 1))]}")" 200 "GET after the failed upgrade"
check_eq "$(curl -s -o /dev/null -w '%{http_code}' "$BE_ADMIN/healthz")" 200 "admin after the failed upgrade"
log "ok"
