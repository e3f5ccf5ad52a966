#!/usr/bin/env bash
# 35_shield: a parent blockedge as the origin of two edges (an origin shield). Each edge's
# "server http://parent/blocks/" is a plain HTTP origin; the parent fetches from the store. Every
# block asked of both edges, one after the other and at the same time, reaches the store once.
source "$(dirname "$0")/lib.sh"

# The sample shield and edge configs are valid. -t reads the files a config names, so their S3
# credentials file (a deployed node's /etc/blockedge/s3-credentials) is a local one.
printf '[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = example-secret\n' \
    >"$T/s3-credentials"
for c in shield edge; do
    sed "s|/etc/blockedge/s3-credentials|$T/s3-credentials|" "$BE_SOURCE_DIR/conf/$c.conf" >"$T/$c.conf"
    "$BLOCKEDGE" -t -c "$T/$c.conf" >"$T/t.$c" 2>&1 ||
        fail "conf/$c.conf does not pass -t: $(cat "$T/t.$c")"
done

gen_blocks "$T/blocks" 20 4k-64k 3501
mapfile -t KEYS < <(keys_of "$T/blocks")
ABSENT=$(printf 'absent-%s' "$$" | sha256sum | cut -c1-64)
start_nginx_origin "$T/blocks"

HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "$(be_conf "$ORIGIN_URL" shield)" shield
SHIELD_URL=$BE_URL SHIELD_ADMIN=$BE_ADMIN

declare -a EDGE_URL EDGE_ADMIN
for e in 1 2; do
    HTTP_PORT=$(free_port)
    ADMIN_PORT=$(free_port)
    start_blockedge "$(be_conf "$SHIELD_URL/blocks/" "edge$e")" "edge$e"
    EDGE_URL[$e]=$BE_URL
    EDGE_ADMIN[$e]=$BE_ADMIN
done

# The first ten blocks: edge 1 then edge 2. The other ten: both edges at once.
for k in "${KEYS[@]:0:10}"; do
    for e in 1 2; do
        check_eq "$(http_get "${EDGE_URL[$e]}/blocks/$k")" 200 "edge $e GET of ${k:0:16}…"
        check_eq "$(sha_of "$T/last.body")" "$k" "edge $e body of ${k:0:16}…"
    done
done
pids=()
for k in "${KEYS[@]:10}"; do
    for e in 1 2; do
        curl -s --max-time 15 -o "$T/par.$e.$k" "${EDGE_URL[$e]}/blocks/$k" &
        pids+=("$!")
    done
done
for p in "${pids[@]}"; do
    wait "$p" || fail "a concurrent GET through an edge failed"
done
for k in "${KEYS[@]:10}"; do
    for e in 1 2; do
        check_eq "$(sha_of "$T/par.$e.$k")" "$k" "edge $e concurrent body of ${k:0:16}…"
    done
done

for ((i = 0; i < 30; i++)); do
    [ "$(origin_total)" -ge 20 ] && break
    sleep 0.1
done
sleep 0.2
check_eq "$(origin_total)" 20 "GETs the store saw for 20 blocks through 2 edges"
for k in "${KEYS[@]}"; do
    check_eq "$(origin_count "$k")" 1 "GETs the store saw for ${k:0:16}…"
done
check_eq "$(metric blockedge_origin_requests_total "$SHIELD_ADMIN")" 20 "shield origin requests"
for e in 1 2; do
    check_eq "$(metric blockedge_origin_requests_total "${EDGE_ADMIN[$e]}")" 20 \
        "edge $e requests to the shield"
    check_eq "$(http_get "${EDGE_URL[$e]}/blocks/$ABSENT")" 404 "edge $e GET of an absent block"
done
check_eq "$(metric 'blockedge_cache_blocks{tier="memory"}' "$SHIELD_ADMIN")" 20 "blocks in the shield"
log "ok"
