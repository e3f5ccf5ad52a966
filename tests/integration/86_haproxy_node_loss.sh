#!/usr/bin/env bash
# 86_haproxy_node_loss: three edges (memory and disk tiers) behind HAProxy on conf/haproxy.cfg,
# wrk (HTTP/1.1) and h2load (h2 over TLS) running through it when one edge is killed with -9.
# HAProxy's retries on the next owner keep client errors at 0; the other edges' blocks stay hits
# (>= 99%); only the dead edge's keys move (<= 1/3 + 5%); restarted with its disk tier, the edge
# gets its keys back and serves them as disk hits. A stop (SIGTERM with drain_delay) takes an
# edge out through its /healthz answering 503 before its sockets close: no client error either.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/halib.sh"

N=1200
fast_blocks "$T/blocks" "$N" 4k 8601
start_nginx_origin "$T/blocks"
NODE_MAIN_EXTRA="drain_delay 3s;" NODE_DISK=1 start_edges "$ORIGIN_URL"
start_haproxy
EDGES=(edge1 edge2 edge3)

pass warm "$HA_URL"
sleep 1.2
served_by warm "${EDGES[@]}" | sort >"$T/warm"
check_eq "$(cut -d' ' -f1 "$T/warm" | sort -u | grep -c .)" "$N" "keys served in the warm pass"
check_eq "$(grep -c . "$T/warm")" "$N" "requests logged in the warm pass (one edge each)"

# Load: wrk over HTTP/1.1 and h2load over h2 with TLS, both cycling through the keys.
urls_of "$HA_TLS_URL" "$T/keys" >"$T/urls.tls"
ha_wrk 4s "$T/keys" "$T/wrk.out"
h2load -c 2 -m 4 -D 4 -i "$T/urls.tls" >"$T/h2load.out" 2>&1 &
H2L=$!
sleep 1.5
kill -KILL "${NODE_PID[edge2]}"
t_kill=$(now_ms)
ha_wrk_done "$T/wrk.out"
wait "$H2L" || fail "h2load failed: $(tail -n 8 "$T/h2load.out")"
wrk_line=$WRK_LINE wrk_bad=$WRK_BAD
h2_line=$(grep -E '^requests: ' "$T/h2load.out")
h2_bad=$(echo "$h2_line" | sed -E 's/.* ([0-9]+) failed, ([0-9]+) errored.*/\1 \2/' | awk '{ print $1 + $2 }')
h2_non2xx=$(grep -E '^status codes: ' "$T/h2load.out" | sed -E 's/status codes: [0-9]+ 2xx, ([0-9]+) 3xx, ([0-9]+) 4xx, ([0-9]+) 5xx/\1 \2 \3/' | awk '{ print $1 + $2 + $3 }')
log "kill -9 of edge2 under load: wrk: $wrk_line; h2load: $h2_line, non-2xx $h2_non2xx"
retried=$(ha_cmd "show stat" | awk -F, '$1 == "edges" && $2 == "BACKEND" { print $16 "/" $17 }')
log "HAProxy backend edges: retries/redispatches $retried"
check_eq "$wrk_bad" 0 "wrk client errors"
check_eq "$h2_bad" 0 "h2load failed or errored requests"
check_eq "$h2_non2xx" 0 "h2load answers other than 2xx"

# After: HAProxy has taken edge2 out (2 failed checks 1 s apart); every key once more.
wait_ha_up edges 2 5
pass after "$HA_URL"
sleep 1.2
served_by after edge1 edge3 | sort >"$T/after"
check_eq "$(grep -c . "$T/after")" "$N" "requests logged after the loss"
moved=$(join "$T/warm" "$T/after" | awk '$2 != $5' | grep -c .)
kept=$(join "$T/warm" "$T/after" | awk '$2 != "edge2"' | grep -c .)
kept_hits=$(join "$T/warm" "$T/after" | awk '$2 != "edge2" && $2 == $5 && $6 == "HIT"' | grep -c .)
owned2=$(awk '$2 == "edge2"' "$T/warm" | grep -c .)
log "after the loss: $moved of $N keys changed owner (edge2 owned $owned2); the other edges' keys: $kept_hits of $kept hits on the same edge"
check_num "$moved" -eq "$owned2" "keys that changed owner (exactly edge2's)"
check_num $((moved * 100)) -le $((N * 38)) "keys that changed owner (at most 1/3 + 5%)"
check_num $((kept_hits * 100)) -ge $((kept * 99)) "hits on the other edges (>= 99%)"

# edge2 comes back on its disk tier: its keys return to it and are disk hits.
restart_node edge2
wait_ha_up edges 3 5
pass back "$HA_URL"
sleep 1.2
served_by back "${EDGES[@]}" | sort >"$T/back"
back2=$(join "$T/warm" "$T/back" | awk '$2 == "edge2" && $5 == "edge2"' | grep -c .)
back2disk=$(join "$T/warm" "$T/back" | awk '$2 == "edge2" && $5 == "edge2" && $6 == "HIT" && $7 == "disk"' | grep -c .)
log "edge2 restarted: $back2 of its $owned2 keys back on it, $back2disk of them disk hits; $(($(now_ms) - t_kill)) ms since the kill"
check_num "$back2" -eq "$owned2" "edge2's keys served by edge2 again"
check_num $((back2disk * 100)) -ge $((owned2 * 99)) "edge2's keys as disk hits after its restart (>= 99%)"

# A stop, not a crash: with drain_delay edge3's /healthz says 503 while it still serves;
# HAProxy's checks take it out (check status L7STS, a 503, not a refused connection) before
# its sockets close, so wrk sees no error.
ha_wrk 4s "$T/keys" "$T/wrk2.out"
sleep 0.5
kill -TERM "${NODE_PID[edge3]}"
wait_ha_up edges 2 4
check=$(ha_cmd "show stat" | awk -F, '$1 == "edges" && $2 == "edge3" { print $18, $37 }')
ha_wrk_done "$T/wrk2.out"
wrk_line=$WRK_LINE wrk_bad=$WRK_BAD
log "SIGTERM to edge3 with drain_delay 3s under load: HAProxy says \"$check\"; $wrk_line"
check_eq "$check" "DOWN L7STS" "edge3's state and last check in HAProxy"
check_eq "$wrk_bad" 0 "wrk client errors while edge3 drained"

log "ok"
