#!/usr/bin/env bash
# 65_reload: SIGHUP applies a new configuration to a loaded node without a failed request.
# wrk (HTTP/1.1) and h2load (h2c) read cached blocks while the node is reloaded 20 times,
# alternating between two files that name different origins (two nginx) and different extra
# listeners. After each reload a never-fetched key goes to the origin the file now names, the
# extra listener the file adds answers and the one it drops refuses; the load sees 0 errors
# and keeps hitting memory. Then: a file with a syntax error changes nothing (one error line
# with file:line, reloads_total{result="error"}); worker_threads is kept with a notice; a
# smaller memory_size evicts down to it at once.
source "$(dirname "$0")/lib.sh"

NHOT=64
NFRESH=40
gen_blocks "$T/blocks" $((NHOT + NFRESH)) 32k 6501
mapfile -t KEYS < <(keys_of "$T/blocks")
HOT=("${KEYS[@]:0:NHOT}")
FRESH=("${KEYS[@]:NHOT}")

start_nginx_origin "$T/blocks" origin_a
URL_A=$ORIGIN_URL LOG_A=$ORIGIN_LOG
start_nginx_origin "$T/blocks" origin_b
URL_B=$ORIGIN_URL LOG_B=$ORIGIN_LOG

HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
EXTRA_A=$(free_port)
EXTRA_B=$(free_port)

# conf ORIGIN EXTRA_PORT [MEMORY_SIZE] [WORKERS]
conf() {
    cat <<EOF
worker_threads ${4:-2};
error_log $T/be.error.log info;
http {
    listen 127.0.0.1:$2;
    listen 127.0.0.1:$HTTP_PORT;
    keepalive_timeout 75s;
}
cache {
    memory_size ${3:-64m};
    max_block_size 256k;
}
origin {
    server $1;
    retries 1;
}
admin {
    listen 127.0.0.1:$ADMIN_PORT;
}
EOF
}

start_blockedge "$(conf "$URL_A" "$EXTRA_A")"
for k in "${HOT[@]}"; do
    check_eq "$(http_get "$BE_URL/blocks/$k")" 200 "warm-up GET ${k:0:12}"
done

# reload TEXT: writes the file, sends SIGHUP and waits for the node to say it reloaded.
RELOADS=0
reload() {
    local i want
    printf '%s\n' "$1" >"$BE_CONF"
    want=$((RELOADS + 1))
    kill -HUP "$BE_PID"
    for ((i = 0; i < $(ms_bound 100); i++)); do
        [ "$(grep -c 'configuration reloaded' "$T/be.error.log")" -ge "$want" ] && break
        sleep 0.05
    done
    check_num "$(grep -c 'configuration reloaded' "$T/be.error.log")" -ge "$want" \
        "reload $want logged"
    RELOADS=$want
}

# port_state PORT: "200" when a GET of a hot key answers, "refused" when nothing listens.
port_state() {
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$1/blocks/${HOT[0]}")
    [ "$code" = 000 ] && code=refused
    echo "$code"
}

# --- load: wrk and h2load on the hot keys for the whole reload sequence.
printf '%s\n' "${HOT[@]}" >"$T/hot.txt"
for k in "${HOT[@]}"; do echo "$BE_URL/blocks/$k"; done >"$T/uris.txt"
hits0=$(metric 'blockedge_cache_hits_total{tier="memory"}')
BE_WRK_REPORT=1 timeout 60 wrk -t1 -c8 -d12s -s "$BE_SOURCE_DIR/bench/wrk/keys.lua" "$BE_URL" \
    -- "$T/hot.txt" >"$T/wrk.out" 2>&1 &
WRK=$!
timeout 60 h2load -c 4 -m 8 -D 12 -i "$T/uris.txt" >"$T/h2load.out" 2>&1 &
H2=$!
IT_LOGS+=("$T/wrk.out" "$T/h2load.out")
sleep 1

for ((r = 1; r <= 20; r++)); do
    if ((r % 2 == 1)); then
        reload "$(conf "$URL_B" "$EXTRA_B")"
        want_log=$LOG_B other_log=$LOG_A on=$EXTRA_B off=$EXTRA_A
    else
        reload "$(conf "$URL_A" "$EXTRA_A")"
        want_log=$LOG_A other_log=$LOG_B on=$EXTRA_A off=$EXTRA_B
    fi
    k=${FRESH[r - 1]}
    check_eq "$(curl -s -o /dev/null -w '%{http_code} %header{x-cache}' --max-time 10 \
        "$BE_URL/blocks/$k")" "200 MISS" "fresh key after reload $r"
    check_eq "$(origin_count "$k" "$want_log")" 1 "reload $r: the new origin fetched ${k:0:12}"
    check_eq "$(origin_count "$k" "$other_log")" 0 "reload $r: the old origin did not"
    check_eq "$(port_state "$on")" 200 "reload $r: listener $on answers"
    check_eq "$(port_state "$off")" refused "reload $r: listener $off is closed"
    sleep 0.3
done
hits_mid=$(metric 'blockedge_cache_hits_total{tier="memory"}')

wait "$WRK"
check_eq "$?" 0 "wrk exit status"
wait "$H2"
check_eq "$?" 0 "h2load exit status"
report=$(grep '^be-wrk ' "$T/wrk.out")
[ -n "$report" ] || fail "wrk printed no report"
wrk_reqs=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$report")
check_num "$wrk_reqs" -gt 1000 "wrk requests during the reloads"
check_eq "$(sed 's/.* errors=\([0-9]*\) non2xx=\([0-9]*\).*/\1 \2/' <<<"$report")" "0 0" \
    "wrk errors and non-2xx during 20 reloads"
h2reqs=$(grep '^requests:' "$T/h2load.out")
h2done=$(sed 's/.* \([0-9]*\) succeeded.*/\1/' <<<"$h2reqs")
check_num "$h2done" -gt 1000 "h2load requests during the reloads"
check_contains "$T/h2load.out" "0 failed, 0 errored, 0 timeout" "h2load errors during 20 reloads"
check_contains "$T/h2load.out" "0 4xx, 0 5xx" "h2load status codes during 20 reloads"
check_num "$((hits_mid - hits0))" -gt "$((wrk_reqs / 2))" "memory hits kept coming during the reloads"
check_eq "$(metric 'blockedge_config_reloads_total{result="ok"}')" 20 "reloads counted"
log "20 reloads under load: wrk $wrk_reqs requests, h2load $h2done, 0 errors"

# --- a broken file changes nothing.
printf 'worker_threads 2;\nhttp {\n    listen 127.0.0.1:%s;\n    bogus_directive 1;\n}\n' \
    "$HTTP_PORT" >"$BE_CONF"
kill -HUP "$BE_PID"
check_eq "$(wait_metric 'blockedge_config_reloads_total{result="error"}' 1 "$(ms_bound 10)")" 1 \
    "failed reload counted"
check_contains "$T/be.error.log" "$BE_CONF:4" "the reload error names file:line"
check_contains "$T/be.error.log" "configuration not reloaded" "the reload error says nothing changed"
k=${FRESH[20]}
check_eq "$(http_get "$BE_URL/blocks/$k")" 200 "GET after the broken reload"
check_eq "$(origin_count "$k" "$LOG_A")" 1 "the origin is still the last good one"
check_eq "$(port_state "$EXTRA_A")" 200 "the last good listener set still answers"
kill -0 "$BE_PID" || fail "blockedge died on a broken reload"

# --- worker_threads cannot change live; memory_size can, and a shrink evicts.
before=$(metric 'blockedge_cache_bytes{tier="memory"}')
check_num "$before" -gt 1500000 "memory tier bytes before the shrink"
reload "$(conf "$URL_A" "$EXTRA_A" 1m 3)"
check_contains "$T/be.error.log" "worker_threads cannot change while running" \
    "worker_threads change reported"
check_eq "$(metric 'blockedge_cache_capacity_bytes{tier="memory"}')" 1048576 "new memory capacity"
check_num "$(metric 'blockedge_cache_bytes{tier="memory"}')" -le 1048576 "memory tier fits the new size"
# 64m made 16 shards of 4 MiB; the count stays for the tier's life, and the log says so.
check_contains "$T/be.error.log" "memory_size 1048576 keeps the memory tier's 16 shards (1 for this size" \
    "shard count kept on reload"
check_eq "$(http_get "$BE_URL/blocks/${HOT[1]}")" 200 "GET after the shrink"
log "ok"
