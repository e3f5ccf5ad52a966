#!/usr/bin/env bash
# 21_h2load: bounded HTTP/2 load on cached blocks. h2load -c 16 -m 32 -n 20000 over h2c and
# over TLS (ALPN h2): every request succeeds with a 2xx, no error, no timeout, and the DATA
# bytes h2load counted are exactly 20000 blocks. blockedge's counters agree: 20000 more h2
# 200s and memory hits per run, the same sent bytes, and not one more origin fetch.
source "$(dirname "$0")/lib.sh"

N=20000
NKEYS=64
gen_blocks "$T/blocks" "$NKEYS" 4k 2101
mapfile -t KEYS < <(keys_of "$T/blocks")
SIZE=4096
check_eq "$(size_of "$T/blocks" "${KEYS[0]}")" "$SIZE" "block size"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$T/cert.key" -out "$T/cert.crt" >"$T/openssl.out" 2>&1 ||
    fail "openssl could not make a certificate: $(cat "$T/openssl.out")"

start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
TLS_PORT=$(free_port)
# The TLS listener goes before the plain one: lib.sh's conf_listen takes the last as BE_URL.
start_blockedge "$(be_conf "$ORIGIN_URL" |
    sed "s|^\\(    listen 127.0.0.1:$HTTP_PORT;\\)\$|    listen 127.0.0.1:$TLS_PORT tls;\\n\\1\\n    tls_certificate $T/cert.crt;\\n    tls_certificate_key $T/cert.key;\\n    h2_max_concurrent_streams 100;|")"
check_eq "$BE_PORT" "$HTTP_PORT" "plain listener taken as BE_URL"

# Warm the cache over HTTP/1.1, one request per key.
for k in "${KEYS[@]}"; do
    check_eq "$(http_get "$BE_URL/blocks/$k")" 200 "warm-up GET ${k:0:12}"
done
check_eq "$(metric 'blockedge_cache_blocks{tier="memory"}')" "$NKEYS" "blocks cached after the warm-up"
check_eq "$(metric 'blockedge_origin_requests_total')" "$NKEYS" "origin fetches after the warm-up"

# run_h2load NAME BASE_URL PROTO: h2load over the cached keys; checks its summary and the counters.
run_h2load() {
    local name=$1 base=$2 proto=$3 out="$T/h2load.$1.out" k before_req before_hits before_bytes t0 el
    : >"$T/uris.$name"
    for k in "${KEYS[@]}"; do
        echo "$base/blocks/$k" >>"$T/uris.$name"
    done
    before_req=$(metric 'blockedge_http_requests_total{proto="h2",code="200"}')
    before_hits=$(metric 'blockedge_cache_hits_total{tier="memory"}')
    before_bytes=$(metric 'blockedge_sent_bytes_total')
    t0=$(now_ms)
    timeout 60 h2load -c 16 -m 32 -n "$N" -i "$T/uris.$name" >"$out" 2>&1
    local rc=$?
    el=$(($(now_ms) - t0))
    IT_LOGS+=("$out")
    check_eq "$rc" 0 "h2load ($name) exit status"
    grep -q "^Application protocol: $proto\$" "$out" || fail "h2load ($name) did not speak $proto"
    local reqs codes data
    reqs=$(grep '^requests:' "$out")
    codes=$(grep '^status codes:' "$out")
    data=$(sed -n 's/^traffic:.* (\([0-9]*\)) data$/\1/p' "$out")
    check_eq "$reqs" "requests: $N total, $N started, $N done, $N succeeded, 0 failed, 0 errored, 0 timeout" \
        "h2load ($name) requests"
    check_eq "$codes" "status codes: $N 2xx, 0 3xx, 0 4xx, 0 5xx" "h2load ($name) status codes"
    check_eq "$data" "$((N * SIZE))" "h2load ($name) DATA bytes"
    check_eq "$(metric 'blockedge_http_requests_total{proto="h2",code="200"}')" "$((before_req + N))" \
        "h2 200s counted ($name)"
    check_eq "$(metric 'blockedge_cache_hits_total{tier="memory"}')" "$((before_hits + N))" \
        "memory hits ($name)"
    check_eq "$(metric 'blockedge_sent_bytes_total')" "$((before_bytes + N * SIZE))" \
        "sent bytes ($name)"
    log "h2load $name: $N requests in ${el} ms; $(grep '^finished in' "$out")"
}

run_h2load h2c "$BE_URL" h2c
run_h2load tls "https://127.0.0.1:$TLS_PORT" h2

check_eq "$(metric 'blockedge_origin_requests_total')" "$NKEYS" "origin fetches after both runs"
check_eq "$(metric 'blockedge_cache_misses_total')" "$NKEYS" "misses after both runs"
check_eq "$(origin_total)" "$NKEYS" "requests the origin logged"
log "ok"
