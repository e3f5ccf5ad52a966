#!/usr/bin/env bash
# 17_origin_conns: origin_max_conns bounds the connections to one origin host, node-wide. 8
# clients ask at once for 8 blocks the origin sends slowly (limit_rate): with origin_max_conns 2
# (two workers, one connection each) the node never has more than 2 connections to the origin
# (sampled with ss) and every client gets its block; reloaded with origin_max_conns 0, the same
# load on 8 other blocks opens more than 2, so the bound is the directive's doing.
source "$(dirname "$0")/lib.sh"

gen_blocks "$T/blocks" 16 128k 1701
start_nginx_origin "$T/blocks" origin "limit_rate 64k;"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_ORIGIN_EXTRA="    origin_max_conns ${MAXC:-2};"
start_blockedge "$(be_conf "$ORIGIN_URL")"

# load FIRST: GETs of 8 blocks from FIRST on, at once; prints the peak of established
# connections to the origin port seen while they ran.
load() {
    keys_of "$T/blocks" | sed -n "$1,$(($1 + 7))p" | sed "s|^|$BE_URL/blocks/|" >"$T/urls"
    xargs -P 8 -n 1 curl -s -o /dev/null --max-time 30 -w '%{http_code}\n' <"$T/urls" >"$T/codes" &
    local pid=$! peak=0 n
    while kill -0 "$pid" 2>/dev/null; do
        n=$(ss -Htn state established "( dport = :$ORIGIN_PORT )" | wc -l)
        [ "$n" -gt "$peak" ] && peak=$n
        sleep 0.05
    done
    wait "$pid"
    echo "$peak"
}

peak=$(load 1)
log "origin_max_conns 2: peak $peak connections to the origin, $(metric blockedge_origin_connections_total) opened"
check_eq "$(grep -c '^200$' "$T/codes")" 8 "clients served"
check_num "$peak" -ge 1 "connections seen (the sampling works)"
check_num "$peak" -le 2 "peak connections to the origin"
check_num "$(metric blockedge_origin_connections_total)" -le 2 "origin connections opened"

printf '%s\n' "$(CONF_ORIGIN_EXTRA='    origin_max_conns 0;' be_conf "$ORIGIN_URL")" >"$BE_CONF"
kill -HUP "$BE_PID"
check_eq "$(wait_metric 'blockedge_config_reloads_total{result="ok"}' 1 "$(ms_bound 10)")" 1 "reloaded"
peak=$(load 9)
log "origin_max_conns 0: peak $peak connections to the origin"
check_eq "$(grep -c '^200$' "$T/codes")" 8 "clients served without the cap"
check_num "$peak" -gt 2 "peak connections without the cap"
log "ok"
