#!/usr/bin/env bash
# 90_fault_disk_read: disk read faults never reach a client. 40 blocks of 64 KiB are filled to
# disk (about 15 a segment), then blockedge restarts under the fault shim: every read of the
# first segment fails with EIO, and every read of the others is interrupted (EINTR) every other
# call and cut to 4096 bytes otherwise. The first segment's blocks are refetched from the
# origin and served right; after 3 failed reads the segment is retired (dropped from the index,
# its file removed, counted, logged once) and its other blocks go to the origin without a
# read. The other segments' blocks are served from disk, right, with no fault counted: an
# interrupted or short read is carried on, not taken for a corrupt record. Then a restart in
# which every read of one good segment fails while the index loads: the node comes up, that
# segment's blocks come from the origin, the rest are disk hits.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disklib.sh"
source "$(dirname "$0")/faultlib.sh"

# split_by_first_segment KEYS NAME: the segment holding the first of KEYS in SEG (its path) and
# SEGNAME; the keys it holds in $T/NAME.in, the others in $T/NAME.out.
split_by_first_segment() {
    segs_of "$T/disk" "$1" >"$T/$2.segs"
    SEG=$(head -n 1 "$T/$2.segs" | cut -d' ' -f2)
    SEGNAME=$(basename "$SEG")
    awk -v b="$SEG" '$2 == b {print $1}' "$T/$2.segs" >"$T/$2.in"
    awk -v b="$SEG" '$2 != b {print $1}' "$T/$2.segs" >"$T/$2.out"
}

# restart_under FAULTS NAME: blockedge on the same disk tier under the shim's FAULTS, fresh ports.
restart_under() {
    fault_launch "$1"
    HTTP_PORT=$(free_port)
    ADMIN_PORT=$(free_port)
    CONF=$(disk_conf "$ORIGIN_URL" "$T/disk")
    start_blockedge "$CONF" "$2"
    wait_disk_ready
}

N=40
gen_blocks "$T/blocks" "$N" 64k 9001
keys_of "$T/blocks" >"$T/keys"
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
mkdir -p "$T/disk"
CONF_MAX_BLOCK_SIZE=256k
CONF=$(disk_conf "$ORIGIN_URL" "$T/disk")

fault_launch ""
start_blockedge "$CONF"
wait_disk_ready
get_all "$T/keys" "$T/fill.out"
check_eq "$(xcache_count "$T/fill.out" MISS)" "$N" "MISS during the fill"
check_eq "$(wait_metric blockedge_disk_writes_total "$N" 10)" "$N" "records written"
signal_and_wait "$BE_PID" TERM 15
check_eq "$SIG_RC" 0 "exit status after SIGTERM"

# The first key's segment is the bad one; every other key lives in a good one.
split_by_first_segment "$T/keys" first
BAD=$SEG BADNAME=$SEGNAME
mv "$T/first.in" "$T/bad.keys"
mv "$T/first.out" "$T/good.keys"
NBAD=$(wc -l <"$T/bad.keys")
NGOOD=$(wc -l <"$T/good.keys")
log "$NBAD blocks in $BADNAME (failing), $NGOOD in other segments"
check_num "$NBAD" -ge 6 "blocks in the failing segment"
check_num "$NGOOD" -ge 6 "blocks in the other segments"

restart_under "preadv2:path=*/$BADNAME:err=EIO;preadv2:path=*.seg:every=2:err=EINTR;preadv2:path=*.seg:short=4096" be2
o0=$(origin_total)

# The failing segment: each block comes from the origin, right; 3 failed reads retire it.
head -n 3 "$T/bad.keys" >"$T/bad3.keys"
get_all "$T/bad3.keys" "$T/bad3.out"
check_eq "$(xcache_count "$T/bad3.out" MISS)" 3 "MISS for blocks whose disk read failed"
check_eq "$(metric 'blockedge_disk_errors_total{kind="io"}')" 3 "io faults counted"
check_eq "$(metric blockedge_disk_segments_retired_total)" 1 "segments retired after 3 failed reads"
[ -e "$BAD" ] && fail "the retired segment's file $BAD is still there"
check_eq "$(grep -c "disk tier: segment \"$T/disk/$BADNAME\" retired after 3 failed reads" "$BE_ERRLOG")" 1 "retirement logged once"
# Its other blocks are no longer read from it: straight to the origin, no more faults.
tail -n +4 "$T/bad.keys" >"$T/badrest.keys"
get_all "$T/badrest.keys" "$T/badrest.out"
check_eq "$(xcache_count "$T/badrest.out" MISS)" $((NBAD - 3)) "MISS for the retired segment's other blocks"
# 3 requests, each a failed read on the loop (RWF_NOWAIT) and one on an I/O thread
check_eq "$(fault_count "^preadv2 .*/$BADNAME err=EIO")" 6 "EIO injected only until the retirement"
check_eq "$(metric 'blockedge_disk_errors_total{kind="io"}')" 3 "io faults after the retirement"
check_eq "$(($(origin_total) - o0))" "$NBAD" "origin requests for the failing segment's blocks"

# The other segments: interrupted and short reads are carried on; right bytes, from disk.
get_all "$T/good.keys" "$T/good.out"
check_eq "$(xcache_count "$T/good.out" HIT-DISK)" "$NGOOD" "HIT-DISK through EINTR and short reads"
eintr=$(fault_count "^preadv2 .* err=EINTR")
short=$(fault_count "^preadv2 .* short=4096")
log "EINTR injected $eintr times, short reads $short times"
check_num "$eintr" -ge "$NGOOD" "EINTR injections"
check_num "$short" -ge $((NGOOD * 15)) "short-read injections (64 KiB in 4096-byte steps)"
check_eq "$(metric blockedge_disk_corruptions_total)" 0 "corruptions (a short read is not one)"
check_eq "$(metric 'blockedge_disk_errors_total{kind="other"}')" 0 "other faults (EINTR is not one)"
check_eq "$(($(origin_total) - o0))" "$NBAD" "no origin request for blocks on good segments"

# Everything again: right bytes from memory (the refetched blocks were filled there too).
get_all "$T/keys" "$T/again.out"
check_eq "$(xcache_count "$T/again.out" HIT-MEMORY)" "$N" "HIT-MEMORY for every block"
signal_and_wait "$BE_PID" TERM 15
check_eq "$SIG_RC" 0 "exit status after SIGTERM"

# Start-up: every read of one good segment fails while the index loads. The node still comes
# up ready; that segment's blocks come from the origin, right; the others are disk hits.
split_by_first_segment "$T/good.keys" load
LOADBADNAME=$SEGNAME
mv "$T/load.in" "$T/loadbad.keys"
mv "$T/load.out" "$T/loadgood.keys"
NLB=$(wc -l <"$T/loadbad.keys")
NLG=$(wc -l <"$T/loadgood.keys")
restart_under "pread,preadv2:path=*/$LOADBADNAME:err=EIO" be3
check_num "$(fault_count "^pread.* .*/$LOADBADNAME err=EIO")" -ge 1 "reads of $LOADBADNAME failed during the load"
o0=$(origin_total)
get_all "$T/loadbad.keys" "$T/loadbad.out"
check_eq "$(xcache_count "$T/loadbad.out" MISS)" "$NLB" "MISS for the blocks of a segment unreadable at start-up"
get_all "$T/loadgood.keys" "$T/loadgood.out"
check_eq "$(xcache_count "$T/loadgood.out" HIT-DISK)" "$NLG" "HIT-DISK for the other segments"
check_eq "$(($(origin_total) - o0))" "$NLB" "origin requests after a start-up read fault"
check_eq "$(wait_metric blockedge_disk_writes_total "$NLB" 10)" "$NLB" "refetched blocks written again"
signal_and_wait "$BE_PID" TERM 15
check_eq "$SIG_RC" 0 "exit status after SIGTERM"

# And once more without faults: the segment skipped at start-up was neither removed nor
# overwritten by the new one, so every block of the good segments is a disk hit, right.
restart_under "" be4
get_all "$T/good.keys" "$T/final.out"
check_eq "$(xcache_count "$T/final.out" HIT-DISK)" "$NGOOD" "HIT-DISK for every good block after a clean restart"
check_eq "$(metric blockedge_disk_corruptions_total)" 0 "corruptions after a clean restart"
signal_and_wait "$BE_PID" TERM 15
check_eq "$SIG_RC" 0 "exit status after SIGTERM"
log "ok"
