#!/usr/bin/env bash
# 91_fault_disk_write: disk write faults cost the disk tier, never a client, and never index a
# record that is not whole. Under the fault shim, 24 blocks of 64 KiB are filled twice:
#   A. every pwritev of a segment is interrupted (EINTR) or cut to 5000 bytes, and the 5th,
#      10th and 15th fail with EIO: the first 3 records fail half-written, the other 21 are
#      written whole through the EINTRs and short counts. Counted as 3 io faults and 3 drops.
#   B. in a new directory: creating the first segment fails (EIO on open), the 7th pwritev
#      fails with ENOSPC (writes pause, the segment is sealed at the next write), that seal's
#      fdatasync fails with EIO, and so does creating the next segment (no segment is
#      reclaimed for it: EIO is not a full disk).
# Every client gets its 200 with the right bytes (from memory and the origin). After each run
# blockedge restarts without faults: exactly the records counted as written are disk hits,
# every other block is a miss refetched right, and no record fails its checks.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disklib.sh"
source "$(dirname "$0")/faultlib.sh"

N=24
gen_blocks "$T/blocks" "$N" 64k 9101
keys_of "$T/blocks" >"$T/keys"
start_nginx_origin "$T/blocks"
CONF_MAX_BLOCK_SIZE=256k

# restart_and_check DIR WRITTEN: start without faults on DIR; WRITTEN blocks come from disk.
restart_and_check() {
    local dir=$1 written=$2 name=$3
    HTTP_PORT=$(free_port)
    ADMIN_PORT=$(free_port)
    fault_launch ""
    start_blockedge "$(disk_conf "$ORIGIN_URL" "$dir" "$name")" "$name"
    wait_disk_ready
    get_all "$T/keys" "$T/$name.out"
    check_eq "$(xcache_count "$T/$name.out" HIT-DISK)" "$written" "$name: disk hits after the restart"
    check_eq "$(xcache_count "$T/$name.out" MISS)" $((N - written)) "$name: misses after the restart"
    check_eq "$(metric blockedge_disk_corruptions_total)" 0 "$name: corruptions after the restart"
    signal_and_wait "$BE_PID" TERM 15
    check_eq "$SIG_RC" 0 "$name: exit status after SIGTERM"
}

# ---- A: EIO in the middle of records, EINTR and short writes everywhere
mkdir -p "$T/diskA"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_DISK_SEGMENT_SIZE=2m # no roll: every pwritev is a record's
fault_launch "pwritev:path=*.seg:after=4:every=5:count=3:err=EIO;pwritev:path=*.seg:every=2:err=EINTR;pwritev:path=*.seg:short=5000"
start_blockedge "$(disk_conf "$ORIGIN_URL" "$T/diskA" beA)" beA
wait_disk_ready
get_all "$T/keys" "$T/fillA.out"
check_eq "$(xcache_count "$T/fillA.out" MISS)" "$N" "A: MISS during the fill"
check_eq "$(wait_metric blockedge_disk_writes_total $((N - 3)) 10)" $((N - 3)) "A: records written"
check_eq "$(metric blockedge_disk_writes_dropped_total)" 3 "A: fills dropped"
check_eq "$(metric 'blockedge_disk_errors_total{kind="io"}')" 3 "A: io faults"
check_eq "$(metric 'blockedge_disk_errors_total{kind="other"}')" 0 "A: other faults (EINTR is none)"
check_eq "$(metric 'blockedge_disk_errors_total{kind="no_space"}')" 0 "A: no_space faults (a short write is none)"
check_eq "$(fault_count "^pwritev .* err=EIO")" 3 "A: EIO injected"
check_num "$(fault_count "^pwritev .* short=5000")" -ge $((N * 12)) "A: short writes injected"
check_num "$(fault_count "^pwritev .* err=EINTR")" -ge $((N * 12)) "A: EINTR injected"
check_eq "$(grep -c 'pwritev() to ".*" failed (5: Input/output error)' "$BE_ERRLOG")" 1 "A: io fault logged once"
get_all "$T/keys" "$T/againA.out"
check_eq "$(xcache_count "$T/againA.out" HIT-MEMORY)" "$N" "A: every block served from memory"
signal_and_wait "$BE_PID" TERM 15
check_eq "$SIG_RC" 0 "A: exit status after SIGTERM"
restart_and_check "$T/diskA" $((N - 3)) afterA
head -n 3 "$T/keys" | sed 's/$/ MISS/' >"$T/expA"
head -n 3 "$T/afterA.out" | diff - "$T/expA" >/dev/null || fail "A: the first 3 blocks (their writes failed) are not the misses: $(head -n 3 "$T/afterA.out")"

# ---- B: open EIO, ENOSPC, fdatasync EIO
mkdir -p "$T/diskB"
: >"$FAULT_LOG"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_DISK_SEGMENT_SIZE=1m
fault_launch "openat:path=*.seg.tmp:every=2:count=2:err=EIO;pwritev:path=*.seg:after=6:count=1:err=ENOSPC;fdatasync:path=*.seg:count=1:err=EIO"
start_blockedge "$(disk_conf "$ORIGIN_URL" "$T/diskB" beB)" beB
wait_disk_ready
head -n 12 "$T/keys" >"$T/keysB1"
tail -n +13 "$T/keys" >"$T/keysB2"
get_all "$T/keysB1" "$T/fillB1.out"
sleep 0.5 # past the pause after ENOSPC
get_all "$T/keysB2" "$T/fillB2.out"
check_eq "$(grep -c ' MISS$' "$T/fillB1.out" "$T/fillB2.out" | awk -F: '{s += $2} END {print s}')" "$N" "B: MISS during the fill"
for ((i = 0; i < 50; i++)); do
    w=$(metric blockedge_disk_writes_total)
    d=$(metric blockedge_disk_writes_dropped_total)
    [ $((w + d)) -ge "$N" ] && break
    sleep 0.1
done
log "B: $w records written, $d fills dropped"
check_eq $((w + d)) "$N" "B: fills written or dropped"
check_num "$d" -ge 3 "B: fills dropped (2 open EIO, ENOSPC, the pause)"
check_eq "$(fault_count "^openat .* err=EIO")" 2 "B: open EIO injected"
check_eq "$(fault_count "^pwritev .* err=ENOSPC")" 1 "B: ENOSPC injected"
check_eq "$(fault_count "^fdatasync .* err=EIO")" 1 "B: fdatasync EIO injected"
check_eq "$(metric 'blockedge_disk_errors_total{kind="io"}')" 3 "B: io faults (2 open, fdatasync)"
check_eq "$(metric 'blockedge_cache_evictions_total{tier="disk"}')" 0 "B: disk evictions (a failed open frees no segment)"
check_eq "$(metric 'blockedge_disk_errors_total{kind="no_space"}')" 1 "B: no_space faults"
check_num "$w" -ge 11 "B: records written (the second half, after the pause, all but one)"
check_contains "$BE_ERRLOG" 'open() of a new segment' "B: open fault logged"
ls "$T/diskB" | grep -q '\.tmp$' && fail "B: a temporary segment file was left behind: $(ls "$T/diskB")"
signal_and_wait "$BE_PID" TERM 15
check_eq "$SIG_RC" 0 "B: exit status after SIGTERM"
restart_and_check "$T/diskB" "$w" afterB
log "ok"
