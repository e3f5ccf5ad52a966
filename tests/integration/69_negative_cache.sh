#!/usr/bin/env bash
# 69_negative_cache: an origin 404 is remembered for negative_ttl. 50 clients ask for one key
# the origin does not have, for 5 s (wrk -c50), with negative_ttl 2s: the origin sees at most
# one request per TTL (<= 4 in 5 s) while every client gets 404; after the TTL the next request
# goes to the origin again; a block uploaded meanwhile is served once the TTL is over (or at
# once after a purge); with negative_ttl 0 every request is a MISS.
source "$(dirname "$0")/lib.sh"

gen_blocks "$T/blocks" 1 4k 6901
mkdir -p "$T/later"
gen_blocks "$T/later" 1 4k 6902
ABSENT=$(printf 'never-%s' "$$" | sha256sum | cut -c1-64)
LATER=$(keys_of "$T/later" | head -1)
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "$(be_conf "$ORIGIN_URL" | sed 's|^    max_block_size .*|&\n    negative_ttl 2s;|')"

echo "$ABSENT" >"$T/absent.txt"
BE_WRK_REPORT=1 timeout 60 wrk -t2 -c50 -d5s -s "$BE_SOURCE_DIR/bench/wrk/keys.lua" \
    "$BE_URL" -- "$T/absent.txt" >"$T/wrk.out" 2>&1
check_eq "$?" 0 "wrk exit status"
IT_LOGS+=("$T/wrk.out")
report=$(grep '^be-wrk ' "$T/wrk.out")
reqs=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$report")
non2xx=$(sed 's/.* non2xx=\([0-9]*\).*/\1/' <<<"$report")
n=$(origin_count "$ABSENT")
log "404 flood: $reqs requests from 50 connections in 5 s, $n origin requests (negative_ttl 2s)"
check_num "$reqs" -gt 1000 "requests in the flood"
check_eq "$non2xx" "$reqs" "every request answered 404"
check_num "$n" -ge 1 "origin requests in the flood"
check_num "$n" -le 4 "origin requests in the flood (one per negative_ttl at most)"
check_num "$(metric 'blockedge_negative_hits_total')" -gt $((reqs * 99 / 100)) \
    "negative cache hits (the rest joined one of the origin fetches)"

# The block appears at the origin: 404 until the TTL is over, then served.
check_eq "$(curl -s -o /dev/null -w '%{http_code} %header{x-cache}' "$BE_URL/blocks/$LATER")" "404 MISS" \
    "a block not there yet"
cp "$T/later/$LATER" "$T/blocks/$LATER"
check_eq "$(curl -s -o /dev/null -w '%{http_code} %header{x-cache}' "$BE_URL/blocks/$LATER")" \
    "404 MISS-NEGATIVE" "uploaded within negative_ttl: still 404"
sleep 2.2
check_eq "$(curl -s -o /dev/null -w '%{http_code} %header{x-cache}' "$BE_URL/blocks/$LATER")" "200 MISS" \
    "after negative_ttl: fetched"

# negative_ttl 0: off.
printf '%s\n' "$(be_conf "$ORIGIN_URL" | sed 's|^    max_block_size .*|&\n    negative_ttl 0;|')" >"$BE_CONF"
kill -HUP "$BE_PID"
check_eq "$(wait_metric 'blockedge_config_reloads_total{result="ok"}' 1 "$(ms_bound 10)")" 1 "reloaded"
before=$(origin_count "$ABSENT")
for i in 1 2 3; do
    check_eq "$(curl -s -o /dev/null -w '%{http_code} %header{x-cache}' "$BE_URL/blocks/$ABSENT")" \
        "404 MISS" "negative_ttl 0: GET #$i"
done
check_eq "$(origin_count "$ABSENT")" $((before + 3)) "negative_ttl 0: every GET asks the origin"
log "ok"
