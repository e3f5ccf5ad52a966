#!/usr/bin/env bash
# 70_metrics: after a scripted workload -- N misses, M hits, one block absent at origin, one bad
# key -- every counter moved by exactly what the workload did, the gauges describe the cache, and
# /metrics is well-formed Prometheus text with HELP and TYPE for each family.
source "$(dirname "$0")/lib.sh"

N=5
M=7
gen_blocks "$T/blocks" "$N" 1k-32k 7001
mapfile -t KEYS < <(keys_of "$T/blocks")
ABSENT=$(printf 'absent-%s' "$$" | sha256sum | cut -c1-64)
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_RETRIES=0
start_blockedge "$(be_conf "$ORIGIN_URL")"

check_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BE_ADMIN/healthz")" 200 "/healthz"
scrape >"$T/before.prom" || fail "GET /metrics failed"

body_bytes=0
block_bytes=0
for k in "${KEYS[@]}"; do # N misses
    check_eq "$(http_get "$BE_URL/blocks/$k")" 200 "miss of ${k:0:12}"
    check_eq "$(hdr X-Cache)" MISS "X-Cache of the first GET of ${k:0:12}"
    body_bytes=$((body_bytes + $(stat -c %s "$T/last.body")))
    block_bytes=$((block_bytes + $(size_of "$T/blocks" "$k")))
done
for ((i = 0; i < M; i++)); do # M hits
    k=${KEYS[$((i % N))]}
    check_eq "$(http_get "$BE_URL/blocks/$k")" 200 "hit of ${k:0:12}"
    check_eq "$(hdr X-Cache)" HIT-MEMORY "X-Cache of a repeated GET of ${k:0:12}"
    body_bytes=$((body_bytes + $(stat -c %s "$T/last.body")))
done
check_eq "$(http_get "$BE_URL/blocks/$ABSENT")" 404 "GET of a block absent at origin"
check_eq "$(http_get "$BE_URL/blocks/not-a-key")" 400 "GET of a malformed key"

scrape >"$T/after.prom" || fail "GET /metrics failed"
IT_LOGS+=("$T/after.prom")

# delta QUERY: how much the series moved during the workload.
delta() {
    echo $(($(metric_in "$T/after.prom" "$1") - $(metric_in "$T/before.prom" "$1")))
}

check_eq "$(delta 'blockedge_cache_hits_total{tier="memory"}')" "$M" "memory hits"
check_eq "$(delta 'blockedge_cache_misses_total')" "$((N + 1))" "misses (N blocks + the absent one)"
check_eq "$(delta 'blockedge_origin_requests_total')" "$((N + 1))" "origin requests"
check_eq "$(delta 'blockedge_origin_errors_total{reason="not_found"}')" 1 "not_found errors"
check_eq "$(delta 'blockedge_http_requests_total{proto="http/1.1",code="404"}')" 1 "requests with code 404"
check_eq "$(delta 'blockedge_http_requests_total{proto="http/1.1",code="400"}')" 1 "requests with code 400"
ok200=$(delta 'blockedge_http_requests_total{proto="http/1.1",code="200"}')
# Block requests only, unless the admin listener's own scrapes are counted too (at most 2 here).
check_num "$ok200" -ge "$((N + M))" "requests with code 200"
check_num "$ok200" -le "$((N + M + 2))" "requests with code 200"
check_num "$(delta 'blockedge_sent_bytes_total')" -ge "$body_bytes" "sent bytes vs. bodies received"
check_eq "$(delta 'blockedge_coalesced_requests_total')" 0 "coalesced requests"
check_eq "$(metric_in "$T/after.prom" 'blockedge_cache_blocks{tier="memory"}')" "$N" "blocks in memory"
check_num "$(metric_in "$T/after.prom" 'blockedge_cache_bytes{tier="memory"}')" -ge "$block_bytes" \
    "bytes in memory vs. the blocks' sizes"
check_eq "$(metric_in "$T/after.prom" 'blockedge_cache_capacity_bytes{tier="memory"}')" 67108864 \
    "memory capacity (64m)"
check_eq "$(metric_in "$T/after.prom" 'blockedge_cache_evictions_total{tier="memory"}')" 0 "evictions"
check_eq "$(metric_in "$T/after.prom" 'blockedge_inflight_fetches')" 0 "fetches in flight"

# Well-formed text: HELP and TYPE for each family of the contract, TYPE for every sample.
ctype=$(curl -s -o /dev/null -w '%{content_type}' --max-time 5 "$BE_ADMIN/metrics")
[[ "$ctype" == text/plain* ]] || fail "/metrics Content-Type: $ctype"
"$PY" "$IT_HELP" lint-metrics \
    blockedge_http_requests_total:counter \
    blockedge_cache_hits_total:counter \
    blockedge_cache_misses_total:counter \
    blockedge_cache_blocks:gauge \
    blockedge_cache_bytes:gauge \
    blockedge_cache_capacity_bytes:gauge \
    blockedge_cache_evictions_total:counter \
    blockedge_origin_requests_total:counter \
    blockedge_origin_errors_total:counter \
    blockedge_coalesced_requests_total:counter \
    blockedge_inflight_fetches:gauge \
    blockedge_sent_bytes_total:counter \
    <"$T/after.prom" >"$T/lint.out" || fail "/metrics is not well-formed: $(cat "$T/lint.out")"
log "ok"
