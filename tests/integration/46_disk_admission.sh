#!/usr/bin/env bash
# 46_disk_admission: with disk_admission second_hit a block asked for once is not written to
# disk; asked for again (a memory hit) it is, once. The admin inspection (GET /blocks/<hex>)
# shows "disk":false after the first request and the record after the second; the counters
# agree (blockedge_disk_admission_skipped_total, blockedge_disk_writes_total), and after a
# restart the block asked for twice is a disk hit while the one asked for once is a miss.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disklib.sh"

gen_blocks "$T/blocks" 2 4k 4601
mapfile -t KEYS < <(keys_of "$T/blocks")
A=${KEYS[0]}
B=${KEYS[1]}
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
mkdir -p "$T/disk"
CONF_MEMORY_SIZE=4m
CONF_MAX_BLOCK_SIZE=64k
CONF_CACHE_EXTRA="    disk_admission second_hit;"
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
get "$B" MISS
check_eq "$(wait_metric blockedge_disk_admission_skipped_total 2 5)" 2 "fills skipped"
sleep 0.3 # a write, had one been queued, would be through by now
check_eq "$(metric blockedge_disk_writes_total)" 0 "disk writes after one request each"
check_eq "$(on_disk "$A")" false "A on disk after one request"
check_contains "$T/inspect.json" '"memory":{' "A in memory after one request"

get "$A" HIT-MEMORY
check_eq "$(wait_metric blockedge_disk_writes_total 1 5)" 1 "disk writes after A's second request"
for ((i = 0; i < 50; i++)); do
    [ "$(on_disk "$A")" = true ] && break
    sleep 0.1
done
check_eq "$(on_disk "$A")" true "A on disk after its second request"
check_eq "$(on_disk "$B")" false "B on disk after one request"

get "$A" HIT-MEMORY
sleep 0.3
check_eq "$(metric blockedge_disk_writes_total)" 1 "disk writes after A's third request"
check_eq "$(metric blockedge_disk_admission_skipped_total)" 2 "fills skipped at the end"

signal_and_wait "$BE_PID" TERM 10
check_eq "$SIG_RC" 0 "exit status"
start_blockedge "$CONF"
wait_disk_ready
get "$A" HIT-DISK
get "$B" MISS
expect_origin_count "$A" 1
expect_origin_count "$B" 2
log "ok"
