#!/usr/bin/env bash
# 10_miss_then_hit: the first GET of a block is a MISS fetched from the origin and verified, the
# second is a HIT-MEMORY; both carry every contract header and the exact bytes, and the origin
# sees exactly one request for the key.
source "$(dirname "$0")/lib.sh"

gen_blocks "$T/blocks" 1 37k 1001
KEY=$(keys_of "$T/blocks" | head -n 1)
SIZE=$(size_of "$T/blocks" "$KEY")
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "$(be_conf "$ORIGIN_URL")"

check_eq "$(metric 'blockedge_cache_misses_total')" 0 "misses before any request"

code=$(http_get "$BE_URL/blocks/$KEY")
check_eq "$code" 200 "first GET status"
check_eq "$(hdr X-Cache)" MISS "first GET X-Cache"
check_eq "$(sha_of "$T/last.body")" "$KEY" "first GET body digest"
expect_block_headers "$KEY" "$SIZE"

code=$(http_get "$BE_URL/blocks/$KEY")
check_eq "$code" 200 "second GET status"
check_eq "$(hdr X-Cache)" HIT-MEMORY "second GET X-Cache"
check_eq "$(sha_of "$T/last.body")" "$KEY" "second GET body digest"
expect_block_headers "$KEY" "$SIZE"

expect_origin_count "$KEY" 1
check_eq "$(metric 'blockedge_cache_misses_total')" 1 "blockedge_cache_misses_total"
check_eq "$(metric 'blockedge_cache_hits_total{tier="memory"}')" 1 "memory hits"
check_eq "$(metric 'blockedge_origin_requests_total')" 1 "blockedge_origin_requests_total"
check_eq "$(metric 'blockedge_cache_blocks{tier="memory"}')" 1 "blocks in memory"
log "ok"
