#!/usr/bin/env bash
# 13_bad_keys: anything under /blocks/ that is not exactly 64 hex characters is a 400, any other
# path is a 404, and none of them reaches the origin.
source "$(dirname "$0")/lib.sh"

gen_blocks "$T/blocks" 1 4k 1002
KEY=$(keys_of "$T/blocks" | head -n 1)
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "$(be_conf "$ORIGIN_URL")"

# The valid key works, so a 400 below is about the key and nothing else.
check_eq "$(http_get "$BE_URL/blocks/$KEY")" 200 "valid key"
expect_origin_count "$KEY" 1

bad_paths=(
    "/blocks/${KEY:0:63}"               # 63 hex
    "/blocks/${KEY}0"                   # 65 hex
    "/blocks/${KEY:0:63}g"              # a non-hex character
    "/blocks/${KEY:0:62}zz"             # more non-hex
    "/blocks/.."                        # dot-dot
    "/blocks/%2e%2e"                    # encoded dot-dot
    "/blocks/%2e%2e/${KEY:0:56}"        # encoded traversal followed by hex
    "/blocks/$KEY/"                     # trailing slash
    "/blocks/"                          # empty key
)
for p in "${bad_paths[@]}"; do
    code=$(http_get "$BE_URL$p" --path-as-is)
    check_eq "$code" 400 "GET $p"
done

for p in "/" "/foo" "/block/$KEY" "/blocksx/$KEY" "/foo/blocks/$KEY"; do
    code=$(http_get "$BE_URL$p" --path-as-is)
    check_eq "$code" 404 "GET $p on the block listener"
done

sleep 0.3
check_eq "$(origin_total)" 1 "origin requests (only the valid key)"
check_eq "$(metric 'blockedge_http_requests_total{proto="http/1.1",code="400"}')" \
    "${#bad_paths[@]}" "requests counted with code 400"
check_eq "$(metric 'blockedge_cache_misses_total')" 1 "misses (only the valid key)"
log "ok"
