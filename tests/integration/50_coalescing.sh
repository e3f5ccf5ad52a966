#!/usr/bin/env bash
# 50_coalescing: 50 concurrent GETs of one uncached block, on 50 connections spread over two
# worker threads, cause exactly one origin fetch; the other 49 wait for it (counted as
# coalesced) and all 50 get the right bytes. A waiter that disconnects -- even the one whose
# request started the fetch -- does not cancel it for the others.
source "$(dirname "$0")/lib.sh"

gen_blocks "$T/blocks" 2 1m 5001
mapfile -t KEYS < <(keys_of "$T/blocks")
KA=${KEYS[0]}
KB=${KEYS[1]}
# 1 MiB at 128 KiB/s: each origin fetch takes about 8 s, long enough for every client to join.
start_nginx_origin "$T/blocks" origin "limit_rate 128k;"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "$(be_conf "$ORIGIN_URL")"
mkdir -p "$T/c"

# start_client NAME KEY: a background curl; sets CLIENT_PID.
start_client() {
    curl -s --max-time 60 -o "$T/c/$1.body" -w '%{http_code}' "$BE_URL/blocks/$2" \
        >"$T/c/$1.code" 2>/dev/null &
    CLIENT_PID=$!
    track "$CLIENT_PID"
}

# --- 50 clients, one fetch.
pids=()
start_client a0 "$KA"
pids+=("$CLIENT_PID")
check_eq "$(wait_metric blockedge_inflight_fetches 1 5)" 1 "fetches in flight after the first client"
for i in $(seq 1 49); do
    start_client "a$i" "$KA"
    pids+=("$CLIENT_PID")
done
coalesced=$(wait_metric blockedge_coalesced_requests_total 49 10)
log "all 50 clients started; coalesced so far: $coalesced, in flight: $(metric blockedge_inflight_fetches)"
for pid in "${pids[@]}"; do
    wait "$pid"
done
for i in $(seq 0 49); do
    check_eq "$(cat "$T/c/a$i.code")" 200 "status of client a$i"
    check_eq "$(sha_of "$T/c/a$i.body")" "$KA" "body of client a$i"
done
expect_origin_count "$KA" 1
check_eq "$(metric blockedge_coalesced_requests_total)" 49 "coalesced requests"
check_eq "$(metric blockedge_origin_requests_total)" 1 "origin requests"
check_eq "$(metric blockedge_inflight_fetches)" 0 "fetches in flight at the end"

# --- 5 clients; the first (whose miss started the fetch) disconnects while waiting.
start_client b0 "$KB"
B0=$CLIENT_PID
check_eq "$(wait_metric blockedge_inflight_fetches 1 5)" 1 "fetches in flight after client b0"
pids=()
for i in 1 2 3 4; do
    start_client "b$i" "$KB"
    pids+=("$CLIENT_PID")
done
check_eq "$(wait_metric blockedge_coalesced_requests_total 53 10)" 53 "coalesced after 4 more waiters"
kill -KILL "$B0"
wait "$B0" 2>/dev/null
check_eq "$(metric blockedge_inflight_fetches)" 1 "fetch still in flight after b0 left"
for pid in "${pids[@]}"; do
    wait "$pid"
done
for i in 1 2 3 4; do
    check_eq "$(cat "$T/c/b$i.code")" 200 "status of client b$i"
    check_eq "$(sha_of "$T/c/b$i.body")" "$KB" "body of client b$i"
done
expect_origin_count "$KB" 1
code=$(http_get "$BE_URL/blocks/$KB")
check_eq "$code" 200 "GET after the fetch"
check_eq "$(hdr X-Cache)" HIT-MEMORY "the abandoned fetch filled the cache"
check_eq "$(metric blockedge_origin_requests_total)" 2 "origin requests in total"
log "ok"
