#!/usr/bin/env bash
# 71_memory_bound: memory_size is a hard bound. Filling a 4 MiB memory tier with three times as
# much (192 blocks of 64 KiB), blockedge_cache_bytes never exceeds the capacity -- sampled after
# every batch and continuously by a background scraper -- evictions account for every block no
# longer held, the earliest blocks are misses again, and the latest one is still a hit.
source "$(dirname "$0")/lib.sh"

CAP=4194304
NBLOCKS=192
gen_blocks "$T/blocks" "$NBLOCKS" 64k 7101
mapfile -t KEYS < <(keys_of "$T/blocks")
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_MEMORY_SIZE=4m
CONF_MAX_BLOCK_SIZE=1m
start_blockedge "$(be_conf "$ORIGIN_URL")"
check_eq "$(metric 'blockedge_cache_capacity_bytes{tier="memory"}')" "$CAP" "memory capacity (4m)"

# Background scraper: samples cache bytes until told to stop (at most 120 s / 6000 samples).
"$PY" - "$ADMIN_PORT" "$T/scraper.stop" "$T/scraper.out" <<'PYEOF' &
import os, sys, time, urllib.request
sys.path.insert(0, os.environ["IT_DIR"])
import ithelp
port, stop, out = sys.argv[1:4]
peak, samples, deadline = 0, 0, time.monotonic() + 120
while not os.path.exists(stop) and time.monotonic() < deadline and samples < 6000:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
        peak = max(peak, int(ithelp.metric(text, 'blockedge_cache_bytes{tier="memory"}')))
        samples += 1
    except OSError:
        pass
    time.sleep(0.02)
with open(out, "w") as f:
    f.write(f"{peak} {samples}\n")
PYEOF
SCRAPER=$!
track "$SCRAPER"

mkdir -p "$T/fill"
batch=4
for ((i = 0; i < NBLOCKS; i += batch)); do
    args=()
    for ((j = i; j < i + batch; j++)); do
        args+=(-o "$T/fill/$j" "$BE_URL/blocks/${KEYS[$j]}")
    done
    curl -s --max-time 30 -w '%{http_code} %header{x-cache}\n' "${args[@]}" >"$T/fill.codes" ||
        fail "curl failed during the fill at block $i"
    j=$i
    while read -r code xcache; do
        check_eq "$code" 200 "status of block $j"
        check_eq "$xcache" MISS "X-Cache of block $j during the fill"
        check_eq "$(sha_of "$T/fill/$j")" "${KEYS[$j]}" "body of block $j"
        rm -f "$T/fill/$j"
        j=$((j + 1))
    done <"$T/fill.codes"
    check_eq "$j" "$((i + batch))" "responses in batch $i"
    bytes=$(metric 'blockedge_cache_bytes{tier="memory"}')
    check_num "$bytes" -le "$CAP" "cache bytes after $((i + batch)) blocks"
done

touch "$T/scraper.stop"
wait "$SCRAPER"
read -r peak samples <"$T/scraper.out" || fail "the background scraper wrote nothing"
log "background scraper: $samples samples, peak cache bytes $peak"
check_num "$samples" -gt 0 "background samples"
check_num "$peak" -le "$CAP" "peak cache bytes seen by the background scraper"

blocks=$(metric 'blockedge_cache_blocks{tier="memory"}')
bytes=$(metric 'blockedge_cache_bytes{tier="memory"}')
evictions=$(metric 'blockedge_cache_evictions_total{tier="memory"}')
log "after the fill: $blocks blocks, $bytes bytes, $evictions evictions"
check_num "$blocks" -gt 0 "blocks in memory"
check_num "$((blocks * 65536))" -le "$bytes" "cache bytes cover the blocks held"
check_num "$bytes" -le "$CAP" "cache bytes after the fill"
check_eq "$evictions" "$((NBLOCKS - blocks))" "evictions (every block fetched and no longer held)"
check_eq "$(metric blockedge_origin_requests_total)" "$NBLOCKS" "origin requests during the fill"

# The latest block is still held, the earliest ones were evicted and are misses again (each
# block was read once: LRU and the default s3fifo alike evict such blocks oldest first).
code=$(http_get "$BE_URL/blocks/${KEYS[$((NBLOCKS - 1))]}")
check_eq "$code" 200 "GET of the latest block"
check_eq "$(hdr X-Cache)" HIT-MEMORY "X-Cache of the latest block"
for j in 0 1 2; do
    code=$(http_get "$BE_URL/blocks/${KEYS[$j]}")
    check_eq "$code" 200 "GET of early block $j"
    check_eq "$(hdr X-Cache)" MISS "X-Cache of early block $j"
    check_eq "$(sha_of "$T/last.body")" "${KEYS[$j]}" "body of early block $j"
    expect_origin_count "${KEYS[$j]}" 2
done
check_num "$(metric 'blockedge_cache_bytes{tier="memory"}')" -le "$CAP" "cache bytes at the end"
log "ok"
