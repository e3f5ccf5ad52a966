#!/usr/bin/env bash
# 30_verify: an origin that serves bytes whose SHA-256 is not the key gets a 502, every time:
# nothing is cached, each request is a new fetch, each is counted as digest_mismatch, and the
# error log names the key and the origin at level error. A good block next to it still works.
source "$(dirname "$0")/lib.sh"

gen_blocks "$T/blocks" 2 8k 3001
mapfile -t KEYS < <(keys_of "$T/blocks")
GOOD=${KEYS[0]}
# BAD names the bytes of block 1, but the file under that name holds other bytes.
BAD=${KEYS[1]}
head -c 8192 /dev/urandom >"$T/blocks/$BAD"
[ "$(sha_of "$T/blocks/$BAD")" != "$BAD" ] || fail "could not make a mismatching block"

start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
# retries 0: one origin request per client request, so the counts below are exact.
CONF_RETRIES=0
start_blockedge "$(be_conf "$ORIGIN_URL")"

check_eq "$(http_get "$ORIGIN_URL$BAD")" 200 "the origin serves the bad block"

for i in 1 2; do
    code=$(http_get "$BE_URL/blocks/$BAD")
    check_eq "$code" 502 "GET of a mismatching block (#$i)"
    if cmp -s "$T/last.body" "$T/blocks/$BAD"; then
        fail "the mismatching bytes were sent to the client (#$i)"
    fi
done
# The direct check above plus one fetch per client request: nothing was cached.
expect_origin_count "$BAD" 3
check_eq "$(metric 'blockedge_origin_errors_total{reason="digest_mismatch"}')" 2 \
    "digest_mismatch errors"
check_eq "$(metric 'blockedge_cache_blocks{tier="memory"}')" 0 "blocks cached after mismatches"

check_eq "$(http_get "$BE_URL/blocks/$GOOD")" 200 "GET of a good block"
check_eq "$(sha_of "$T/last.body")" "$GOOD" "good block body"
check_eq "$(metric 'blockedge_origin_errors_total{reason="digest_mismatch"}')" 2 \
    "digest_mismatch errors after the good block"

# The error log: a line at level error naming the key and the origin.
grep -F '[error]' "$BE_ERRLOG" | grep -F "$BAD" | grep -qF "127.0.0.1:$ORIGIN_PORT" ||
    fail "no [error] line naming $BAD and 127.0.0.1:$ORIGIN_PORT in $BE_ERRLOG"
log "ok"
