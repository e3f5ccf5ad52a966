#!/usr/bin/env bash
# 41_disk_kill9: a kill -9 at any moment never leads to a wrong byte. 20 times: start blockedge
# on the same disk directory (a small disk_size, so segments roll and are reclaimed, and a
# 2 MiB memory tier, so reads go to disk), run 8 clients fetching random keys (misses, fills
# and disk hits at once), kill -9 it at a random moment. Every start-up must succeed and load
# its index, and every complete 200 body any client got must hash to its key. At the end one
# clean pass reads every block with the right bytes, most of them from disk.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disklib.sh"
# Every disk read through the read pool and the in-flight table (not inline from the page
# cache), so the coalesced read path and its fall-back to the origin are what is exercised.
export BLOCKEDGE_DISK_INLINE_READS=0

N=300
ROUNDS=${KILL9_ROUNDS:-20}
gen_blocks "$T/blocks" "$N" 16k-128k 4101
keys_of "$T/blocks" >"$T/keys"
start_nginx_origin "$T/blocks" origin "limit_rate 4m;"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
mkdir -p "$T/disk"
CONF_MEMORY_SIZE=2m
CONF_MAX_BLOCK_SIZE=1m
CONF_DISK_SIZE=12m
CONF=$(disk_conf "$ORIGIN_URL" "$T/disk")

total_ok=0
total_err=0
for ((r = 1; r <= ROUNDS; r++)); do
    start_blockedge "$CONF" "be$r"
    wait_disk_ready
    secs=$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 0.3 + rand() * 0.7 }')
    "$PY" "$DISK_HELP" storm "$BE_URL" "$T/keys" 3 8 "$T/storm$r.out" 2>"$T/storm$r.err" &
    client=$!
    sleep "$secs"
    kill -KILL "$BE_PID"
    wait "$BE_PID" 2>/dev/null
    wait "$client"
    crc=$?
    read -r ok bad errs <"$T/storm$r.out" || fail "round $r: the storm client wrote nothing"
    [ "$crc" -eq 0 ] && [ "$bad" -eq 0 ] || fail "round $r: $bad wrong bodies: $(head -5 "$T/storm$r.err")"
    total_ok=$((total_ok + ok))
    total_err=$((total_err + errs))
done
log "$ROUNDS kills: $total_ok verified 200s, $total_err refused or cut requests"
check_num "$total_ok" -gt 0 "verified responses during the storms"

start_blockedge "$CONF" final
wait_disk_ready
get_all "$T/keys" "$T/final.out"
disk=$(xcache_count "$T/final.out" HIT-DISK)
log "final pass: $disk of $N blocks from disk, $(metric blockedge_disk_corruptions_total) corruptions counted"
check_num "$disk" -gt 0 "blocks served from disk after the kills"
torn=$(cat "$T"/be*.error.log "$T"/final.error.log | grep -c "torn tail")
log "start-ups that dropped a torn tail: $torn"
log "ok"
