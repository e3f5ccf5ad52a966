#!/usr/bin/env bash
# 81_disk_admission_policy: with disk_admission policy and memory_policy s3fifo a block is
# written to disk once S3-FIFO moved it from its small FIFO to main, not at its second request
# (that is second_hit): block A asked for twice in a row stays in the small FIFO (no eviction
# yet: no write), a scan of 800 blocks asked for once each pushes A (hit while small) into main
# and is itself never written, and A's next hit queues its one write; after a restart A is a disk
# hit and a scanned block a miss. `blockedge -t` says that policy works as second_hit under lru
# and sieve, and says nothing under s3fifo.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disklib.sh"

NSCAN=800
gen_blocks "$T/blocks" $((NSCAN + 1)) 4k 8101
keys_of "$T/blocks" >"$T/keys"
A=$(head -n 1 "$T/keys")
tail -n "$NSCAN" "$T/keys" >"$T/scan"
S=$(head -n 1 "$T/scan")
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
mkdir -p "$T/disk"
CONF_MEMORY_SIZE=1m
CONF_MAX_BLOCK_SIZE=64k

# -t: the fallback is said under lru and sieve, not under s3fifo.
for policy in lru sieve s3fifo; do
    CONF_CACHE_EXTRA="    memory_policy $policy;
    disk_admission policy;"
    disk_conf "$ORIGIN_URL" "$T/disk" >"$T/t-$policy.conf"
    timeout 10 "$BLOCKEDGE" -t -c "$T/t-$policy.conf" >"$T/t-$policy.out" 2>&1
    check_eq "$?" 0 "blockedge -t under $policy"
    if [ "$policy" = s3fifo ]; then
        if grep -q "second_hit" "$T/t-$policy.out"; then
            fail "-t under s3fifo speaks of a fallback: $(cat "$T/t-$policy.out")"
        fi
    else
        check_contains "$T/t-$policy.out" \
            "memory_policy $policy has no small queue to survive, so disk_admission works as second_hit" \
            "-t under $policy"
    fi
done

CONF_CACHE_EXTRA="    memory_policy s3fifo;
    disk_admission policy;"
CONF=$(disk_conf "$ORIGIN_URL" "$T/disk")
start_blockedge "$CONF"
wait_disk_ready

# get KEY XCACHE: GET the block, check status, bytes and X-Cache.
get() {
    check_eq "$(http_get "$BE_URL/blocks/$1")" 200 "GET ${1:0:16}…"
    check_eq "$(sha_of "$T/last.body")" "$1" "body of ${1:0:16}…"
    check_eq "$(hdr X-Cache)" "$2" "X-Cache of ${1:0:16}…"
}

# on_disk KEY: "true" when the admin inspection shows a disk record of KEY, else "false".
on_disk() {
    curl -s --max-time 5 "$BE_ADMIN/blocks/$1" >"$T/inspect.json" || fail "inspect ${1:0:16}…"
    "$PY" -c 'import json, sys; print("true" if json.load(open(sys.argv[1]))["disk"] else "false")' \
        "$T/inspect.json" || fail "inspect output: $(cat "$T/inspect.json")"
}

get "$A" MISS
get "$A" HIT-MEMORY
check_eq "$(wait_metric blockedge_disk_admission_skipped_total 1 5)" 1 "fills skipped"
sleep 0.3 # a write, had one been queued, would be through by now
check_eq "$(metric blockedge_disk_writes_total)" 0 "disk writes after A's second request (still small)"
check_eq "$(on_disk "$A")" false "A on disk after two requests"

get_all "$T/scan" "$T/scan.out"
check_eq "$(xcache_count "$T/scan.out" MISS)" "$NSCAN" "scanned blocks that were misses"
check_eq "$(wait_metric blockedge_disk_admission_skipped_total $((NSCAN + 1)) 5)" $((NSCAN + 1)) \
    "fills skipped after the scan"
check_num "$(metric 'blockedge_cache_evictions_total{tier="memory"}')" -gt 0 "memory evictions in the scan"
sleep 0.3
check_eq "$(metric blockedge_disk_writes_total)" 0 "disk writes after the scan"

get "$A" HIT-MEMORY
check_eq "$(wait_metric blockedge_disk_writes_total 1 5)" 1 "disk writes after A's hit in main"
for ((i = 0; i < 50; i++)); do
    [ "$(on_disk "$A")" = true ] && break
    sleep 0.1
done
check_eq "$(on_disk "$A")" true "A on disk after its hit in main"
check_eq "$(on_disk "$S")" false "a scanned block on disk"
get "$A" HIT-MEMORY
sleep 0.3
check_eq "$(metric blockedge_disk_writes_total)" 1 "disk writes after A's next hit"

signal_and_wait "$BE_PID" TERM 10
check_eq "$SIG_RC" 0 "exit status"
start_blockedge "$CONF"
wait_disk_ready
get "$A" HIT-DISK
get "$S" MISS
expect_origin_count "$A" 1
expect_origin_count "$S" 2
log "ok"
