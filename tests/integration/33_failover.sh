#!/usr/bin/env bash
# 33_failover: several origin servers. (A) one refuses connections, one works: every request is
# still 200 (the retry goes to the other server), and the circuit breaker marks the dead one down
# so later misses go straight to the live one. (B) both stalled: the first miss waits read_timeout
# on each and gets 504; once both breakers are open a miss is refused at once with 502, without
# asking either. (C) a stalled origin next to a good one: the retry on the other server answers
# 200 after one read_timeout. (D) one stalled origin and retries to spare: 504 when fetch_timeout
# (the deadline) passes, not after every retry. (E) a backup is used only when the primary is
# down, and a primary marked down is probed again after fail_timeout and marked up. (F) a lone
# server has no breaker.
source "$(dirname "$0")/lib.sh"

gen_blocks "$T/blocks" 24 4k-16k 3301
mapfile -t KEYS < <(keys_of "$T/blocks")
start_nginx_origin "$T/blocks"
GOOD_URL=$ORIGIN_URL
CONF_WORKERS=1 # one breaker to reason about (each worker has its own)

# elapsed_get URL: http_get, prints "CODE MS".
elapsed_get() {
    local t0 code
    t0=$(now_ms)
    code=$(http_get "$1")
    echo "$code $(($(now_ms) - t0))"
}

# --- A: a refusing server and a good one.
CLOSED_PORT=$(free_port)
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_RETRIES=1 CONF_CONNECT_TIMEOUT=1s
CONF_ORIGIN_EXTRA="server $GOOD_URL;
    max_fails 2;
    fail_timeout 60s;"
start_blockedge "$(be_conf "http://127.0.0.1:$CLOSED_PORT/blocks/" be-a)" be-a
for k in "${KEYS[@]:0:12}"; do
    check_eq "$(http_get "$BE_URL/blocks/$k")" 200 "GET of ${k:0:16}… with one origin refusing"
    check_eq "$(sha_of "$T/last.body")" "$k" "body of ${k:0:16}…"
done
check_eq "$(metric blockedge_origin_marked_down_total)" 1 "servers marked down"
check_eq "$(metric "blockedge_origin_server_marked_down{server=\"http://127.0.0.1:$CLOSED_PORT/blocks/\"}")" \
    1 "workers with the refusing server marked down"
check_eq "$(metric "blockedge_origin_server_marked_down{server=\"$GOOD_URL\"}")" 0 \
    "workers with the good server marked down"
check_eq "$(metric blockedge_origin_retries_total)" 2 "retries (until the breaker opened)"
check_eq "$(metric blockedge_origin_requests_total)" 14 "origin attempts: 12 + 2 retries"
check_eq "$(metric 'blockedge_origin_errors_total{reason="connect"}')" 0 "fetches failed"
grep -F '[warn]' "$BE_ERRLOG" | grep -F "127.0.0.1:$CLOSED_PORT" | grep -qF 'marked down for 60 s' ||
    fail "no [warn] line saying the refusing server was marked down"

# --- B: two stalled servers: 504 once, then 502 at once while both are marked down.
start_stall_origin stall1
S1_URL=$STALL_URL S1_LOG=$STALL_LOG
start_stall_origin stall2
S2_URL=$STALL_URL S2_LOG=$STALL_LOG
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_RETRIES=1 CONF_READ_TIMEOUT=500ms
CONF_ORIGIN_EXTRA="server $S2_URL;
    max_fails 1;
    fail_timeout 60s;"
start_blockedge "$(be_conf "$S1_URL" be-b)" be-b
read -r code ms <<<"$(elapsed_get "$BE_URL/blocks/${KEYS[0]}")"
check_eq "$code" 504 "GET with both servers stalled"
check_num "$ms" -ge 900 "ms until the 504 (two attempts of read_timeout 500ms)"
check_num "$ms" -lt 3000 "ms until the 504"
check_eq "$(metric blockedge_origin_marked_down_total)" 2 "servers marked down"
for k in "${KEYS[@]:1:5}"; do
    read -r code ms <<<"$(elapsed_get "$BE_URL/blocks/$k")"
    check_eq "$code" 502 "GET with both servers marked down"
    # "At once" is proved by the origin attempts below staying at 2 (nothing was waited on);
    # this bound only catches a gross stall (an ASan tree beside another test took 570 ms).
    check_num "$ms" -lt 1500 "ms until the 502 with both servers marked down"
done
check_eq "$(metric blockedge_origin_requests_total)" 2 "origin attempts (none while both are down)"
check_eq "$(metric blockedge_origin_unavailable_total)" 5 "fetches refused with every server down"
check_eq "$(metric 'blockedge_origin_errors_total{reason="connect"}')" 5 "connect errors"
check_eq "$(($(grep -c /blocks/ "$S1_LOG") + $(grep -c /blocks/ "$S2_LOG")))" 2 \
    "requests the stalled servers received"

# --- C: a stalled server and a good one: the retry goes to the good one.
: >"$S1_LOG"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_RETRIES=1 CONF_READ_TIMEOUT=1s
CONF_ORIGIN_EXTRA="server $GOOD_URL;
    max_fails 0;
    fetch_timeout 5s;"
start_blockedge "$(be_conf "$S1_URL" be-c)" be-c
k=${KEYS[12]}
read -r code ms <<<"$(elapsed_get "$BE_URL/blocks/$k")"
check_eq "$code" 200 "GET with the first server stalled"
check_eq "$(sha_of "$T/last.body")" "$k" "body after the retry"
check_num "$ms" -ge 900 "ms until the 200 (one read_timeout, then the other server)"
check_num "$ms" -lt 3000 "ms until the 200"
check_eq "$(grep -c /blocks/ "$S1_LOG")" 1 "requests the stalled server received"
expect_origin_count "$k" 1 "$ORIGIN_LOG"
check_eq "$(metric blockedge_origin_retries_total)" 1 "retries"
# round robin: the next miss starts on the good server
k=${KEYS[13]}
read -r code ms <<<"$(elapsed_get "$BE_URL/blocks/$k")"
check_eq "$code" 200 "GET of the next block"
check_num "$ms" -lt 900 "ms for the next block (round robin went on to the good server)"

# --- D: one stalled server, retries to spare: 504 at the deadline.
: >"$S1_LOG"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_RETRIES=5 CONF_READ_TIMEOUT=1s
CONF_ORIGIN_EXTRA="max_fails 0;
    fetch_timeout 2500ms;"
start_blockedge "$(be_conf "$S1_URL" be-d)" be-d
read -r code ms <<<"$(elapsed_get "$BE_URL/blocks/${KEYS[14]}")"
check_eq "$code" 504 "GET from a stalled server with retries 5"
log "stalled server, read_timeout 1s, retries 5, fetch_timeout 2500ms: 504 after $ms ms"
check_num "$ms" -ge 2300 "ms until the 504 (fetch_timeout 2500ms)"
check_num "$ms" -lt 3500 "ms until the 504 (fetch_timeout 2500ms)"
check_eq "$(grep -c /blocks/ "$S1_LOG")" 3 "attempts within the deadline (at 0, 1 and 2 s)"
check_eq "$(metric 'blockedge_origin_errors_total{reason="timeout"}')" 1 "timeout errors"

# --- E: backup only while the primary is down; the primary is probed after fail_timeout.
mkdir -p "$T/primary"
PRIMARY_PORT=$(free_port)
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_RETRIES=1
CONF_ORIGIN_EXTRA="server $GOOD_URL backup;
    max_fails 1;
    fail_timeout 2s;"
start_blockedge "$(be_conf "http://127.0.0.1:$PRIMARY_PORT/blocks/" be-e)" be-e
k=${KEYS[15]}
check_eq "$(http_get "$BE_URL/blocks/$k")" 200 "GET with the primary refusing (backup answers)"
expect_origin_count "$k" 1 "$ORIGIN_LOG"
check_eq "$(metric blockedge_origin_marked_down_total)" 1 "primary marked down"
# the primary comes back: a scripted origin on its port, holding the remaining blocks
for k in "${KEYS[@]:16}"; do
    cp "$T/blocks/$k" "$T/primary/$k"
done
start_scripted_origin "$T/primary" primary "$PRIMARY_PORT"
: >"$SCRIPT_LOG"
k=${KEYS[16]}
check_eq "$(http_get "$BE_URL/blocks/$k")" 200 "GET while the primary is still marked down"
expect_origin_count "$k" 1 "$ORIGIN_LOG"
check_eq "$(grep -c /blocks/ "$SCRIPT_LOG")" 0 "requests to the primary while marked down"
# (fail_timeout leaves the scripted origin's start-up time to spare: the GET above had to come
# while the primary was still marked down)
sleep 2.1
for k in "${KEYS[@]:17:4}"; do
    check_eq "$(http_get "$BE_URL/blocks/$k")" 200 "GET after fail_timeout"
    expect_origin_count "$k" 0 "$ORIGIN_LOG"
done
check_eq "$(grep -c /blocks/ "$SCRIPT_LOG")" 4 "requests to the primary once it is back"
check_eq "$(metric "blockedge_origin_server_marked_down{server=\"http://127.0.0.1:$PRIMARY_PORT/blocks/\"}")" \
    0 "workers with the primary marked down once it is back"
grep -F '[notice]' "$BE_ERRLOG" | grep -F "127.0.0.1:$PRIMARY_PORT" | grep -qF 'marked up' ||
    fail "no [notice] line saying the primary was marked up"

# --- F: a lone server is never marked down (as in nginx): every miss still asks it.
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_RETRIES=0
CONF_ORIGIN_EXTRA="max_fails 1;"
start_blockedge "$(be_conf "http://127.0.0.1:$CLOSED_PORT/blocks/" be-f)" be-f
for k in "${KEYS[@]:0:3}"; do
    check_eq "$(http_get "$BE_URL/blocks/$k")" 502 "GET from a lone refusing server"
done
check_eq "$(metric blockedge_origin_requests_total)" 3 "attempts on the lone server"
check_eq "$(metric blockedge_origin_marked_down_total)" 0 "lone server marked down"
check_eq "$(metric blockedge_origin_unavailable_total)" 0 "fetches refused without asking"
log "ok"
