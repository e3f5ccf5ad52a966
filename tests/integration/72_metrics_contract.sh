#!/usr/bin/env bash
# 72_metrics_contract: after a scripted, skewed workload, /metrics passes promtool's checker, has
# HELP/TYPE for every family of the contract and no duplicate series, no counter goes down
# across three scrapes, hits + misses equal the block requests made, and /stats reports the
# same counts with the hottest blocks in order, /stats?top=N, the Zipf fit and the curve.
source "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || fail "promtool is not installed (tools/install-deps.sh)"
N=12
gen_blocks "$T/blocks" "$N" 1k-8k 7202
mapfile -t KEYS < <(keys_of "$T/blocks")
ABSENT=$(printf 'absent-%s' "$$" | sha256sum | cut -c1-64)
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_RETRIES=0
start_blockedge "$(be_conf "$ORIGIN_URL")"
scrape >"$T/s1.prom" || fail "GET /metrics failed"

# Block i is asked N - i times (GET, one HEAD each), so the ranking is known exactly.
urls=()
block_requests=0
for ((i = 0; i < N; i++)); do
    for ((j = 0; j < N - i; j++)); do
        urls+=(-o /dev/null "$BE_URL/blocks/${KEYS[$i]}")
        block_requests=$((block_requests + 1))
    done
done
curl -s --max-time 30 "${urls[@]}" || fail "workload curl failed"
scrape >"$T/s2.prom" || fail "GET /metrics failed"
check_eq "$(curl -s -o /dev/null -w '%{http_code}' -I --max-time 5 "$BE_URL/blocks/${KEYS[0]}")" 200 "HEAD"
check_eq "$(http_get "$BE_URL/blocks/$ABSENT")" 404 "a block absent at origin"
check_eq "$(http_get "$BE_URL/blocks/zz")" 400 "a malformed key (not a block request)"
block_requests=$((block_requests + 2))
scrape >"$T/s3.prom" || fail "GET /metrics failed"
IT_LOGS+=("$T/s3.prom")

promtool check metrics <"$T/s3.prom" >"$T/promtool.out" 2>&1 ||
    fail "promtool check metrics: $(cat "$T/promtool.out")"
"$PY" "$IT_HELP" dup-series <"$T/s3.prom" >"$T/dup.out" || fail "$(cat "$T/dup.out")"
"$PY" "$IT_HELP" monotonic "$T/s1.prom" "$T/s2.prom" "$T/s3.prom" >"$T/mono.out" ||
    fail "counters went down: $(cat "$T/mono.out")"
"$PY" "$IT_HELP" lint-metrics \
    blockedge_http_requests_total:counter blockedge_cache_hits_total:counter \
    blockedge_cache_misses_total:counter blockedge_cache_blocks:gauge blockedge_cache_bytes:gauge \
    blockedge_cache_capacity_bytes:gauge blockedge_cache_evictions_total:counter \
    blockedge_origin_requests_total:counter blockedge_origin_errors_total:counter \
    blockedge_coalesced_requests_total:counter blockedge_inflight_fetches:gauge \
    blockedge_disk_corruptions_total:counter blockedge_request_duration_seconds:histogram \
    blockedge_origin_fetch_duration_seconds:histogram blockedge_sent_bytes_total:counter \
    blockedge_popularity_zipf_exponent:gauge blockedge_popularity_zipf_requests:gauge \
    blockedge_mrc_hit_ratio:gauge \
    $(grep -q '^blockedge_memory_allocated_bytes ' "$T/s3.prom" && # jemalloc builds only
        echo blockedge_memory_allocated_bytes:gauge blockedge_memory_resident_bytes:gauge) \
    <"$T/s3.prom" >"$T/lint.out" || fail "/metrics: $(cat "$T/lint.out")"

delta() {
    echo $(($(metric_in "$T/s3.prom" "$1") - $(metric_in "$T/s1.prom" "$1")))
}
hits=$(delta 'blockedge_cache_hits_total{tier="memory"}')
misses=$(delta 'blockedge_cache_misses_total')
check_eq "$((hits + misses))" "$block_requests" "hits ($hits) + misses ($misses) vs block requests"
check_eq "$misses" "$((N + 1))" "misses (each block once, and the absent one)"

# /stats: the same counters, the ranking, top=N, the fit and the curve.
curl -s --max-time 5 "$BE_ADMIN/stats?top=5" >"$T/stats.json" || fail "GET /stats failed"
curl -s --max-time 5 "$BE_ADMIN/stats" >"$T/stats-default.json" || fail "GET /stats failed"
IT_LOGS+=("$T/stats.json")
"$PY" - "$T/stats.json" "$T/stats-default.json" "$T/s3.prom" "$N" "${KEYS[@]}" <<'PYEOF' ||
import json, sys
sys.path.insert(0, __import__("os").environ["IT_DIR"])
import ithelp
stats = json.load(open(sys.argv[1]))
default = json.load(open(sys.argv[2]))
prom = open(sys.argv[3]).read()
n = int(sys.argv[4])
keys = sys.argv[5:]
def m(q):
    return float(ithelp.metric(prom, q))
assert stats["hits"]["memory"] >= m('blockedge_cache_hits_total{tier="memory"}'), stats["hits"]
assert stats["misses"] == m("blockedge_cache_misses_total"), stats["misses"]
assert stats["metrics"]["blockedge_origin_requests_total"] == m("blockedge_origin_requests_total")
pop = stats["popularity"]
top = pop["top"]
assert len(top) == 5, len(top)
assert len(default["popularity"]["top"]) == 10, len(default["popularity"]["top"])
# block 0 was asked n times plus one HEAD, block i n - i times; counts are exact below K
assert top[0]["key"] == keys[0] and top[0]["count"] == n + 1, top[0]
for i in range(1, 5):
    assert top[i]["key"] == keys[i] and top[i]["count"] == n - i and top[i]["error"] == 0, top[i]
z = pop["zipf"]
assert z["ranks"] >= 8 and z["requests"] > 0 and 0.3 < z["exponent"] < 2.0, z
assert abs(z["exponent"] - m("blockedge_popularity_zipf_exponent")) < 1e-5, z
curve = pop["mrc"]["curve"]
assert len(curve) == 49, len(curve)
assert all(a["hit_ratio"] <= b["hit_ratio"] + 1e-12 for a, b in zip(curve, curve[1:])), curve
assert curve[24]["cache_bytes"] == pop["mrc"]["memory_size"], curve[24]
assert pop["memory_bytes"] > 0 and pop["references"] == n * (n + 1) // 2 + 1, pop
PYEOF
    fail "/stats does not match: $(head -c 1500 "$T/stats.json")"
log "ok"
