#!/usr/bin/env bash
# 74_prometheus: a real Prometheus server (Debian's package), started here on loopback with a
# scrape config written here (1 s interval), scrapes blockedge; its HTTP API then returns
# blockedge_cache_hits_total with exactly the value blockedge reports, and the scrape is "up".
# Bounded: at most ~30 s of waiting in all.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/promlib.sh"

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

start_prometheus

got=none
up=none
for ((i = 0; i < 40; i++)); do
    got=$(prom_query 'blockedge_cache_hits_total{tier="memory",job="blockedge"}')
    up=$(prom_query 'up{job="blockedge"}')
    [ "$got" = "$want" ] && [ "$up" = 1 ] && break
    sleep 0.5
done
check_eq "$up" 1 "up{job=\"blockedge\"} in Prometheus"
check_eq "$got" "$want" "blockedge_cache_hits_total{tier=\"memory\"} in Prometheus"
check_eq "$(prom_query 'blockedge_cache_misses_total')" "$(metric blockedge_cache_misses_total)" \
    "blockedge_cache_misses_total in Prometheus"
zipf=$(prom_query 'blockedge_popularity_zipf_exponent')
[ "$zipf" != none ] || fail "blockedge_popularity_zipf_exponent not in Prometheus"
log "ok (hits $got, zipf $zipf)"
