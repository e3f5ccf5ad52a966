#!/usr/bin/env bash
# 43_disk_enospc: a full (or read-only) file system costs the disk tier, never a client.
# disk_path is a 3 MiB tmpfs while disk_size says 16m: filling 120 blocks of 64 KiB (7.5 MiB)
# runs into ENOSPC. Every client still gets its 200 with the right bytes, the fault is counted
# (and logged once), the store shrinks to what fits and goes on writing; after a restart no
# partial record is served: every block is right, from disk or refetched. Then a read-only
# tmpfs: -t rejects it, and at start-up the fault is logged once, counted, and the node serves.
# Mounting needs root (CAP_SYS_ADMIN): where it is refused the test says so and passes without
# checking these faults.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disklib.sh"

N=120
MNT="$T/tmpfs"
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=3m blockedge-it "$MNT" 2>"$T/mount.err"; then
    log "SKIP: cannot mount a tmpfs ($(cat "$T/mount.err")); ENOSPC not tested"
    exit 0
fi
ROMNT="$T/rofs"
mkdir -p "$ROMNT"
unmount_tmpfs() {
    local rc=$?
    # stop blockedge first so the mount is not busy
    for pid in "${IT_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    umount "$MNT" 2>/dev/null || umount -l "$MNT"
    if mountpoint -q "$ROMNT"; then umount "$ROMNT" 2>/dev/null || umount -l "$ROMNT"; fi
    (exit $rc)
    it_cleanup
}
trap unmount_tmpfs EXIT

gen_blocks "$T/blocks" "$N" 64k 4301
keys_of "$T/blocks" >"$T/keys"
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_MEMORY_SIZE=2m
CONF_MAX_BLOCK_SIZE=256k
CONF_DISK_SIZE=16m
CONF=$(disk_conf "$ORIGIN_URL" "$MNT")

start_blockedge "$CONF"
wait_disk_ready
head -n 90 "$T/keys" >"$T/keys1"
tail -n +91 "$T/keys" | split -l 10 - "$T/keys2."
get_all "$T/keys1" "$T/fill.out"
check_eq "$(xcache_count "$T/fill.out" MISS)" 90 "MISS during the fill"
sleep 0.5
w1=$(metric blockedge_disk_writes_total)
# After the pause the store has shrunk to what fits: slower fills are written again.
for f in "$T"/keys2.*; do
    get_all "$f" "$f.out"
    sleep 0.3
done
w2=$(metric blockedge_disk_writes_total)
log "writes before the pause $w1, after $w2"
check_num "$w2" -gt "$w1" "writes after ENOSPC (the store goes on in less space)"
nospc=$(metric 'blockedge_disk_errors_total{kind="no_space"}')
log "ENOSPC faults: $nospc, writes: $(metric blockedge_disk_writes_total), dropped: $(metric blockedge_disk_writes_dropped_total), df: $(df -k "$MNT" | tail -1)"
check_num "$nospc" -gt 0 "no_space faults counted"
check_eq "$(grep -c 'on the disk tier; further "no_space" faults are only counted' "$BE_ERRLOG")" 1 "ENOSPC logged once"
# still serving: everything again (memory, disk or origin), right bytes
get_all "$T/keys" "$T/again.out"
signal_and_wait "$BE_PID" TERM 15
check_eq "$SIG_RC" 0 "exit status after SIGTERM"

start_blockedge "$CONF" be2
wait_disk_ready
# Newest first: the blocks on disk are the last ones written, and asking for them before any
# miss means no write (so no ENOSPC reclaim) can drop them before they are read, however slow
# the build (ThreadSanitizer) or the machine.
tac "$T/keys" >"$T/keys.newest"
get_all "$T/keys.newest" "$T/after.out"
disk=$(xcache_count "$T/after.out" HIT-DISK)
log "after the restart: $disk blocks from disk, $(metric blockedge_disk_corruptions_total) corruptions"
check_num "$disk" -gt 0 "blocks served from disk after the restart"
check_eq "$(metric blockedge_disk_corruptions_total)" 0 "corruptions after the restart (no partial record indexed)"
signal_and_wait "$BE_PID" TERM 15
check_eq "$SIG_RC" 0 "exit status after SIGTERM"

# A read-only file system: -t says so; at start-up the fault is logged once and counted, the
# disk tier stays off (state 2) and the node serves from memory and the origin.
mount -t tmpfs -o size=1m,ro blockedge-it-ro "$ROMNT" || fail "cannot mount a read-only tmpfs"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
ROCONF=$(disk_conf "$ORIGIN_URL" "$ROMNT")
printf '%s\n' "$ROCONF" >"$T/ro.conf"
if "$BLOCKEDGE" -t -c "$T/ro.conf" 2>"$T/t.err"; then fail "-t accepted a read-only disk_path"; fi
grep -qi "read-only file system" "$T/t.err" || fail "-t message for a read-only disk_path: $(cat "$T/t.err")"
start_blockedge "$ROCONF" be-ro
check_eq "$(wait_metric blockedge_disk_index_state 2 10)" 2 "disk index state on a read-only file system"
check_eq "$(metric 'blockedge_disk_errors_total{kind="read_only"}')" 1 "read_only faults"
get_all "$T/keys1" "$T/ro.out"
check_eq "$(grep -c 'further "read_only" faults are only counted' "$BE_ERRLOG")" 1 "read-only logged once"
log "ok"
