#!/usr/bin/env bash
# 87_haproxy_shield: the shield tier of conf/haproxy.cfg. Three edges whose origin is HAProxy's
# "shields" frontend, two shields behind it hashed like the edges, an nginx origin behind them.
# 2000 blocks read through every edge, the three edges at once: the origin sees each block once
# (2000 requests). Then load through HAProxy's client frontend on 1000 new blocks (edge misses,
# so shield traffic) while one shield is killed with -9: no client error.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/halib.sh"

N=2000
M=1000
fast_blocks "$T/blocks" $((N + M)) 2k 8701
head -n "$N" "$T/keys" >"$T/keys.a"
tail -n "$M" "$T/keys" >"$T/keys.b"
start_nginx_origin "$T/blocks"
start_shields "$ORIGIN_URL"
DIRECT=$(free_port)
NODE_DIRECT_PORT=$DIRECT start_edges "$HA_SHIELD_URL"
HA_WAIT_SHIELDS=1 start_haproxy
EDGES=(edge1 edge2 edge3)

# One client per edge: h2load -i gives each client the list from its start.
t0=$(now_ms)
pids=()
for i in 1 2 3; do
    urls_of "http://127.0.0.$((1 + i)):$DIRECT" "$T/keys.a" >"$T/urls.$i"
    h2load --h1 -n "$N" -c 1 -i "$T/urls.$i" >"$T/edge$i.out" 2>&1 &
    pids+=("$!")
done
for p in "${pids[@]}"; do
    wait "$p" || fail "h2load through an edge failed"
done
for i in 1 2 3; do
    check_contains "$T/edge$i.out" "status codes: $N 2xx" "GETs through edge$i"
done
sleep 0.3
origin=$(origin_total)
s1=$(metric blockedge_origin_requests_total "${NODE_ADMIN[shield1]}")
s2=$(metric blockedge_origin_requests_total "${NODE_ADMIN[shield2]}")
log "$N blocks through each of 3 edges at once in $(($(now_ms) - t0)) ms: origin requests $origin (shield1 fetched $s1, shield2 $s2)"
check_eq "$origin" "$N" "origin requests for $N blocks read through 3 edges"
check_num "$s1" -ge $((N / 4)) "shield1's share of the fetches"
check_num "$s2" -ge $((N / 4)) "shield2's share of the fetches"

# Load on new blocks (edge misses, fetched through the shields) while shield1 dies.
ha_wrk 3s "$T/keys.b" "$T/wrk.out"
sleep 0.7
kill -KILL "${NODE_PID[shield1]}"
ha_wrk_done "$T/wrk.out"
wrk_line=$WRK_LINE wrk_bad=$WRK_BAD
retried=$(ha_cmd "show stat" | awk -F, '$1 == "shields" && $2 == "BACKEND" { print $16 "/" $17 }')
log "kill -9 of shield1 under load: $wrk_line; HAProxy shields retries/redispatches $retried"
check_eq "$wrk_bad" 0 "client errors while a shield died"

log "ok"
