#!/usr/bin/env bash
# 31_origin_errors: each way an origin fetch fails maps to its status and its reason counter, and
# nothing is cached but an origin 404, for negative_ttl: absent at origin -> 404 (not_found; a
# repeat within negative_ttl is 404 MISS-NEGATIVE without an origin request); origin port
# closed -> 502 (connect); origin silent or stalled mid-body past read_timeout -> 504 within a
# few seconds (timeout); a block over max_block_size -> 502 (too_large), while a block of exactly
# max_block_size is served.
source "$(dirname "$0")/lib.sh"

gen_blocks "$T/blocks" 1 64k 3101
gen_blocks "$T/blocks" 1 65k 3102
mapfile -t KEYS < <(keys_of "$T/blocks")
EXACT=${KEYS[0]}
LARGE=${KEYS[1]}
check_eq "$(size_of "$T/blocks" "$EXACT")" 65536 "size of the block at the limit"
check_eq "$(size_of "$T/blocks" "$LARGE")" 66560 "size of the block over the limit"
ABSENT=$(printf 'absent-%s' "$$" | sha256sum | cut -c1-64)
start_nginx_origin "$T/blocks"

# retries 0 everywhere: one origin request per client request, so counts are exact.
CONF_RETRIES=0
CONF_MAX_BLOCK_SIZE=64k
CONF_READ_TIMEOUT=2s
CONF_CONNECT_TIMEOUT=2s

# --- A: the nginx origin.
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "$(be_conf "$ORIGIN_URL" be-nginx)" be-nginx
A_URL=$BE_URL
A_ADMIN=$BE_ADMIN

# The first 404 comes from the origin; the repeat, within negative_ttl (10s by default), from
# the negative cache without an origin request (69_negative_cache tests the TTL itself).
check_eq "$(curl -s -o /dev/null -w '%{http_code} %header{x-cache}' "$A_URL/blocks/$ABSENT")" \
    "404 MISS" "GET of a block absent at origin"
check_eq "$(curl -s -o /dev/null -w '%{http_code} %header{x-cache}' "$A_URL/blocks/$ABSENT")" \
    "404 MISS-NEGATIVE" "the same GET again"
expect_origin_count "$ABSENT" 1
check_eq "$(metric 'blockedge_origin_errors_total{reason="not_found"}' "$A_ADMIN")" 1 "not_found errors"
check_eq "$(metric 'blockedge_negative_hits_total' "$A_ADMIN")" 1 "negative cache hits"

code=$(http_get "$A_URL/blocks/$LARGE")
check_eq "$code" 502 "GET of a block over max_block_size"
check_eq "$(metric 'blockedge_origin_errors_total{reason="too_large"}' "$A_ADMIN")" 1 "too_large errors"

code=$(http_get "$A_URL/blocks/$EXACT")
check_eq "$code" 200 "GET of a block of exactly max_block_size"
check_eq "$(sha_of "$T/last.body")" "$EXACT" "body of the block at the limit"
check_eq "$(metric 'blockedge_cache_blocks{tier="memory"}' "$A_ADMIN")" 1 \
    "blocks cached (only the one at the limit)"

# --- B: an origin port nobody listens on.
CLOSED_PORT=$(free_port)
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "$(be_conf "http://127.0.0.1:$CLOSED_PORT/blocks/" be-closed)" be-closed
code=$(http_get "$BE_URL/blocks/$EXACT")
check_eq "$code" 502 "GET with the origin port closed"
check_eq "$(metric 'blockedge_origin_errors_total{reason="connect"}')" 1 "connect errors"

# --- C: an origin that accepts and then stalls (silent, or headers and 10 bytes then nothing).
start_stall_origin stall
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "$(be_conf "$STALL_URL" be-stall)" be-stall
SILENT=$(printf 'a%.0s' {1..64})
MIDBODY=$(printf 'b%.0s' {1..64})
n=0
for k in "$SILENT" "$MIDBODY"; do
    n=$((n + 1))
    t0=$(now_ms)
    code=$(http_get "$BE_URL/blocks/$k")
    el=$(($(now_ms) - t0))
    check_eq "$code" 504 "GET from a stalled origin (${k:0:4}…)"
    log "stalled origin (${k:0:4}…): 504 after ${el} ms with read_timeout 2s"
    check_num "$el" -ge 1500 "ms until the 504 (read_timeout 2s)"
    check_num "$el" -lt 6000 "ms until the 504 (read_timeout 2s)"
    check_eq "$(metric 'blockedge_origin_errors_total{reason="timeout"}')" "$n" "timeout errors"
done
check_eq "$(grep -c "/blocks/" "$STALL_LOG")" 2 "requests the stalled origin received"
log "ok"
