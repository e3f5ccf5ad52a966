#!/usr/bin/env bash
# 44_disk_eviction: disk_size is a bound and reclaim keeps what is used. disk_size 4m with 1 MiB
# segments and a 1 MiB memory tier; 128 blocks of 64 KiB (8 MiB, twice the disk) are filled in
# batches of 8, and after every batch the 8 blocks of a hot set are read again. The segment
# files stay within disk_size + one segment (checked with du after every batch and by a
# background sampler), old cold blocks are reclaimed (counted as disk evictions), and the hot set
# stays on disk: after a restart every hot block is HIT-DISK and was fetched from the origin once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disklib.sh"
# Every disk read through the read pool and the in-flight table (not inline from the page
# cache), so the coalesced read path and its fall-back to the origin are what is exercised.
export BLOCKEDGE_DISK_INLINE_READS=0

N=128
HOT=8
LIMIT=$((5 * 1048576))
gen_blocks "$T/blocks" "$N" 64k 4401
keys_of "$T/blocks" >"$T/keys"
head -n "$HOT" "$T/keys" >"$T/hot"
tail -n +$((HOT + 1)) "$T/keys" | split -l 8 - "$T/batch."
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
mkdir -p "$T/disk"
CONF_MEMORY_SIZE=1m
CONF_MAX_BLOCK_SIZE=256k
CONF_DISK_SIZE=4m
CONF=$(disk_conf "$ORIGIN_URL" "$T/disk")

start_blockedge "$CONF"
wait_disk_ready

# Background sampler: the directory's bytes, every 20 ms, until told to stop (<= 60 s).
(
    peak=0
    for ((i = 0; i < 3000; i++)); do
        [ -e "$T/sampler.stop" ] && break
        b=$(du -sb --apparent-size "$T/disk" 2>/dev/null | cut -f1)
        [ -n "$b" ] && [ "$b" -gt "$peak" ] && peak=$b
        sleep 0.02
    done
    echo "$peak $i" >"$T/sampler.out"
) &
SAMPLER=$!
track "$SAMPLER"

get_all "$T/hot" "$T/hot.out"
for f in "$T"/batch.*; do
    get_all "$f" "$f.out"
    sleep 0.05 # let the writer catch up, so the hot set is re-read from disk, not dropped
    get_all "$T/hot" "$T/hot.out"
    used=$(du -sb --apparent-size "$T/disk" | cut -f1)
    check_num "$used" -le "$LIMIT" "disk bytes after $(basename "$f")"
    check_num "$(metric 'blockedge_cache_bytes{tier="disk"}')" -le "$LIMIT" "blockedge_cache_bytes{tier=disk}"
done
touch "$T/sampler.stop"
wait "$SAMPLER"
read -r peak samples <"$T/sampler.out" || fail "the sampler wrote nothing"
log "sampler: $samples samples, peak $peak bytes (limit $LIMIT)"
check_num "$peak" -le "$LIMIT" "peak disk bytes"
evictions=$(metric 'blockedge_cache_evictions_total{tier="disk"}')
reappends=$(metric blockedge_disk_reappends_total)
log "disk evictions $evictions, re-appends $reappends, blocks on disk $(metric 'blockedge_cache_blocks{tier="disk"}')"
check_num "$evictions" -gt 40 "disk evictions"
check_num "$reappends" -gt 0 "hot blocks re-appended"
signal_and_wait "$BE_PID" TERM 15
check_eq "$SIG_RC" 0 "exit status after SIGTERM"

start_blockedge "$CONF" be2
wait_disk_ready
get_all "$T/hot" "$T/hot2.out"
check_eq "$(xcache_count "$T/hot2.out" HIT-DISK)" "$HOT" "hot blocks on disk after the restart"
while read -r k; do
    expect_origin_count "$k" 1
done <"$T/hot"
K=$(sed -n 1p "$T/batch.aa")
code=$(http_get "$BE_URL/blocks/$K")
check_eq "$code" 200 "GET of an old cold block"
check_eq "$(hdr X-Cache)" MISS "X-Cache of an old cold block (reclaimed)"
log "ok"
