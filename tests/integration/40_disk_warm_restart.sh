#!/usr/bin/env bash
# 40_disk_warm_restart: the disk tier survives a restart. 200 blocks (4-64 KiB) are filled
# through blockedge (every one a MISS, each written to disk); after SIGTERM and a restart every
# block is answered HIT-DISK with the right bytes and the origin sees no new request; the second
# read is HIT-MEMORY (promoted). Also: -t rejects an unusable disk_path, the config checks that
# disk_size is given and holds two segments, and a missing directory at start-up is logged once,
# counted, and the node serves from the origin.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disklib.sh"

N=200
gen_blocks "$T/blocks" "$N" 4k-64k 4001
keys_of "$T/blocks" >"$T/keys"
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
mkdir -p "$T/disk"
CONF_MEMORY_SIZE=4m
CONF_MAX_BLOCK_SIZE=1m
CONF=$(disk_conf "$ORIGIN_URL" "$T/disk")

# -t: a usable directory passes, a missing one or a file does not.
printf '%s\n' "$CONF" >"$T/ok.conf"
"$BLOCKEDGE" -t -c "$T/ok.conf" 2>"$T/t.err" || fail "-t with a usable disk_path: $(cat "$T/t.err")"
printf '%s\n' "${CONF//$T\/disk/$T/missing}" >"$T/missing.conf"
if "$BLOCKEDGE" -t -c "$T/missing.conf" 2>"$T/t.err"; then fail "-t accepted a missing disk_path"; fi
check_contains "$T/t.err" "\"disk_path\" is not usable: stat() \"$T/missing\" failed (2: No such file or directory)" "-t message"
: >"$T/afile"
printf '%s\n' "${CONF//$T\/disk/$T/afile}" >"$T/file.conf"
if "$BLOCKEDGE" -t -c "$T/file.conf" 2>"$T/t.err"; then fail "-t accepted a file as disk_path"; fi
check_contains "$T/t.err" "is not a directory" "-t message for a file"
printf '%s\n' "$CONF" | grep -v disk_size >"$T/nosize.conf"
if "$BLOCKEDGE" -t -c "$T/nosize.conf" 2>"$T/t.err"; then fail "-t accepted disk_path without disk_size"; fi
check_contains "$T/t.err" "\"disk_path\" requires \"disk_size\" in $T/nosize.conf:" "-t message without disk_size"
printf '%s\n' "${CONF//disk_size 64m/disk_size 1m}" >"$T/small.conf"
if "$BLOCKEDGE" -t -c "$T/small.conf" 2>"$T/t.err"; then fail "-t accepted disk_size < 2 segments"; fi
check_contains "$T/t.err" "\"disk_size\" 1m is less than two \"disk_segment_size\" 1m" "-t message for a small disk"

start_blockedge "$CONF"
wait_disk_ready
check_eq "$(metric 'blockedge_cache_capacity_bytes{tier="disk"}')" 67108864 "disk capacity"
get_all "$T/keys" "$T/fill.out"
check_eq "$(xcache_count "$T/fill.out" MISS)" "$N" "MISS during the fill"
check_eq "$(wait_metric blockedge_disk_writes_total "$N" 10)" "$N" "records written"
check_eq "$(metric 'blockedge_cache_blocks{tier="disk"}')" "$N" "blocks on disk"
signal_and_wait "$BE_PID" TERM 15
check_eq "$SIG_RC" 0 "exit status after SIGTERM"
before=$(origin_total)
check_eq "$before" "$N" "origin requests during the fill"

start_blockedge "$CONF" be2
wait_disk_ready
check_eq "$(metric 'blockedge_cache_blocks{tier="disk"}')" "$N" "blocks on disk after the restart"
get_all "$T/keys" "$T/warm.out"
check_eq "$(xcache_count "$T/warm.out" HIT-DISK)" "$N" "HIT-DISK after the restart"
check_eq "$(metric 'blockedge_cache_hits_total{tier="disk"}')" "$N" "disk hits"
check_eq "$(metric blockedge_cache_misses_total)" 0 "misses after the restart"
check_eq "$(metric blockedge_disk_corruptions_total)" 0 "corruptions"
sleep 0.3
check_eq "$(origin_total)" "$before" "origin requests after the restart"

# A missing disk_path at start-up: logged once, counted, state 2, and the node still serves.
signal_and_wait "$BE_PID" TERM 15
check_eq "$SIG_RC" 0 "exit status after SIGTERM"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "$(disk_conf "$ORIGIN_URL" "$T/missing")" be-missing
check_eq "$(wait_metric blockedge_disk_index_state 2 10)" 2 "disk index state with a missing directory"
check_eq "$(metric 'blockedge_disk_errors_total{kind="path"}')" 1 "path faults"
code=$(http_get "$BE_URL/blocks/$(sed -n 2p "$T/keys")")
check_eq "$code" 200 "GET without a usable disk"
check_eq "$(hdr X-Cache)" MISS "X-Cache without a usable disk"
check_eq "$(grep -c 'open() "'"$T"'/missing" failed (2: No such file or directory) on the disk tier' "$BE_ERRLOG")" 1 "the fault logged once"
signal_and_wait "$BE_PID" TERM 15
check_eq "$SIG_RC" 0 "exit status after SIGTERM (missing disk)"
start_blockedge "$CONF" be3
wait_disk_ready

# A disk hit is promoted to memory: the second GET is a memory hit.
K=$(tail -n 1 "$T/keys")
code=$(http_get "$BE_URL/blocks/$K")
check_eq "$code" 200 "first GET of the last block"
check_eq "$(hdr X-Cache)" HIT-DISK "X-Cache of the first GET"
code=$(http_get "$BE_URL/blocks/$K")
check_eq "$code" 200 "GET of the last block"
check_eq "$(hdr X-Cache)" HIT-MEMORY "X-Cache after promotion"
expect_block_headers "$K" "$(size_of "$T/blocks" "$K")"
# A range of a disk hit (the first block is not in memory since the restart).
K0=$(head -n 1 "$T/keys")
code=$(http_get "$BE_URL/blocks/$K0" -H 'Range: bytes=10-19')
check_eq "$code" 206 "range of a disk block"
check_eq "$(hdr X-Cache)" HIT-DISK "X-Cache of the range"
check_eq "$(cmp <(tail -c +11 "$T/blocks/$K0" | head -c 10) "$T/last.body" && echo same)" same "range bytes"
log "ok"
