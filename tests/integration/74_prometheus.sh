#!/usr/bin/env bash
# 74_prometheus: a real Prometheus server (Debian's package), started here on loopback with a
# scrape config written here (1 s interval), scrapes blockedge; its HTTP API then returns
# blockedge_cache_hits_total with exactly the value blockedge reports, and the scrape is "up".
# Bounded: at most ~30 s of waiting in all.
source "$(dirname "$0")/lib.sh"

command -v prometheus >/dev/null || fail "prometheus is not installed (tools/install-deps.sh)"
gen_blocks "$T/blocks" 4 4k 7404
mapfile -t KEYS < <(keys_of "$T/blocks")
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "$(be_conf "$ORIGIN_URL")"

urls=()
for k in "${KEYS[@]}"; do
    for ((j = 0; j < 3; j++)); do
        urls+=(-o /dev/null "$BE_URL/blocks/$k")
    done
done
curl -s --max-time 20 "${urls[@]}" || fail "workload curl failed"
want=$(metric 'blockedge_cache_hits_total{tier="memory"}')
check_eq "$want" 8 "memory hits reported by blockedge (4 blocks x 2 repeats)"

PROM_PORT=$(free_port)
mkdir -p "$T/prom-data"
cat >"$T/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: blockedge
    static_configs:
      - targets: ['127.0.0.1:$ADMIN_PORT']
YML
promtool check config "$T/prometheus.yml" >"$T/promtool-config.out" 2>&1 ||
    fail "promtool check config: $(cat "$T/promtool-config.out")"
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn \
    >"$T/prometheus.stdout" 2>"$T/prometheus.log" &
PROM_PID=$!
track "$PROM_PID"
IT_LOGS+=("$T/prometheus.log")
ready=""
for ((i = 0; i < 100; i++)); do
    kill -0 "$PROM_PID" 2>/dev/null || fail "prometheus exited at start"
    ready=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$PROM_PORT/-/ready")
    [ "$ready" = 200 ] && break
    sleep 0.1
done
[ "$ready" = 200 ] || fail "prometheus on $PROM_PORT was not ready in 10 s"

# query EXPR: the first result's value, or "none".
query() {
    curl -s --max-time 2 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
        "$PY" -c '
import json, sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if r else "none")
except Exception:
    print("none")'
}

got=none
up=none
for ((i = 0; i < 40; i++)); do
    got=$(query 'blockedge_cache_hits_total{tier="memory",job="blockedge"}')
    up=$(query 'up{job="blockedge"}')
    [ "$got" = "$want" ] && [ "$up" = 1 ] && break
    sleep 0.5
done
check_eq "$up" 1 "up{job=\"blockedge\"} in Prometheus"
check_eq "$got" "$want" "blockedge_cache_hits_total{tier=\"memory\"} in Prometheus"
check_eq "$(query 'blockedge_cache_misses_total')" "$(metric blockedge_cache_misses_total)" \
    "blockedge_cache_misses_total in Prometheus"
zipf=$(query 'blockedge_popularity_zipf_exponent')
[ "$zipf" != none ] || fail "blockedge_popularity_zipf_exponent not in Prometheus"
log "ok (hits $got, zipf $zipf)"
