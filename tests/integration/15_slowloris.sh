#!/usr/bin/env bash
# 15_slowloris: one host cannot take the node with slow clients. blockedge runs with
# max_connections_per_ip 64, client_header_timeout 3s and send_timeout 3s, and slowhttptest
# attacks it from 127.0.0.1:
#  (a) slowloris (-H): 1000 connections at 100/s, each sending a header line a second;
#  (b) slow read (-X): 1000 connections at 100/s asking for a cached 8 MiB block three times
#      each with a receive window of 512..1024 bytes, reading 32 bytes a second;
#  (c) h2load -c 100 over h2c from 127.0.0.1 once a reload lowered the limit to 10.
# Meanwhile a normal client on another address (curl --interface 127.0.0.2: Linux routes all of
# 127/8 to lo) fetches a cached block in a loop, one connection per request. Checked: the normal
# client gets 200 on every request; blockedge's open descriptors (sampled every 100 ms from
# /proc) stay under what it holds idle plus the per-address limit plus a margin; refusals are
# counted (connections_closed_total{reason="per_ip_limit"}) and logged at most once per 10 s per
# worker; the attackers' held connections are closed by the header and send timeouts; h2load
# gets exactly 10 clients served and 90 refused. The figures are printed.
source "$(dirname "$0")/lib.sh"

command -v slowhttptest >/dev/null || fail "slowhttptest is not installed (tools/install-deps.sh)"
command -v h2load >/dev/null || fail "h2load is not installed (tools/install-deps.sh)"
PERIP=64
MARGIN=24 # admin scrapes, the sampler's own look, a worker's origin or log descriptors
OTHER=127.0.0.2

gen_blocks "$T/small" 1 4k 1501
gen_blocks "$T/big" 1 8m 1502
SMALL=$(keys_of "$T/small" | head -1)
BIG=$(keys_of "$T/big" | head -1)
mkdir -p "$T/blocks"
cp "$T/small/$SMALL" "$T/big/$BIG" "$T/blocks/"

HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
# conf LIMIT: the standard config with the per-address limit and short timeouts.
conf() {
    be_conf "file://$T/blocks/" | sed \
        -e "s|^    listen 127.0.0.1:$HTTP_PORT;\$|&\\n    max_connections_per_ip $1;|" \
        -e 's|client_header_timeout 60s;|client_header_timeout 3s;|' \
        -e 's|send_timeout 60s;|send_timeout 3s;|'
}
start_blockedge "$(conf "$PERIP")"
grep -q "max_connections_per_ip $PERIP;" "$BE_CONF" || fail "the limit is not in the config"

check_eq "$(http_get "$BE_URL/blocks/$SMALL")" 200 "small block (fill)"
check_eq "$(http_get "$BE_URL/blocks/$BIG")" 200 "big block (fill)"
check_eq "$(http_get "$BE_URL/blocks/$SMALL" --interface "$OTHER")" 200 "from $OTHER"
check_eq "$(hdr X-Cache)" HIT-MEMORY "the normal client's block is cached"
check_eq "$(http_get "$BE_URL/blocks/$BIG")" 200 "big block (hit)"
check_eq "$(hdr X-Cache)" HIT-MEMORY "the slow readers' block is cached"

closed() { # closed REASON: blockedge_connections_closed_total{reason=REASON}
    metric "blockedge_connections_closed_total{reason=\"$1\"}"
}
nfds() {
    find "/proc/$BE_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}
sleep 0.3
BASE_FDS=$(nfds)
BOUND=$((BASE_FDS + PERIP + MARGIN))
log "blockedge holds $BASE_FDS descriptors idle; bound during the attacks: $BOUND"

# The sampler and the normal client run until $T/stop exists.
(
    while [ ! -e "$T/stop" ]; do
        nfds
        sleep 0.1
    done
) >"$T/fds.txt" &
SAMPLER=$!
track "$SAMPLER"
(
    while [ ! -e "$T/stop" ]; do
        curl -s -o /dev/null --interface "$OTHER" --max-time 3 -w '%{http_code} %{time_total}\n' \
            "$BE_URL/blocks/$SMALL"
        sleep 0.05
    done
) >"$T/normal.txt" &
NORMAL=$!
track "$NORMAL"

# attack NAME ARGS...: one slowhttptest run of at most 10 s (bounded at 25 s), stats in NAME.csv.
attack() {
    local name=$1
    shift
    timeout 25 slowhttptest "$@" -c 1000 -r 100 -l 10 -p 2 -g -o "$T/$name" \
        >"$T/$name.out" 2>&1
    local rc=$?
    [ "$rc" -eq 124 ] && fail "$name: slowhttptest ran past 25 s"
    [ -s "$T/$name.csv" ] || fail "$name: slowhttptest wrote no statistics: $(tail -5 "$T/$name.out")"
}

# csv_max NAME COLUMN: the largest value of a column of slowhttptest's statistics. (Its
# "Connected" counts a refused connection until its next write or read notices the close, so
# the server's descriptors, not that column, are the bound checked; its probe connection comes
# from 127.0.0.1 as well, so its "Service Available" says nothing about the normal client.)
csv_max() {
    awk -F, -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
        c && $c + 0 > m { m = $c + 0 } END { print m + 0 }' "$T/$1.csv"
}

cpu_ticks() { # user + system clock ticks of blockedge so far
    awk '{ print $14 + $15 }' "/proc/$BE_PID/stat"
}
cpu0=$(cpu_ticks)
ms0=$(now_ms)

# --- (a) slowloris
refused0=$(closed per_ip_limit)
hto0=$(closed header_timeout)
attack loris -H -i 1 -x 24 -t GET -u "$BE_URL/blocks/$SMALL"
refused_a=$(($(closed per_ip_limit) - refused0))
hto_a=$(($(closed header_timeout) - hto0))
log "slowloris: $refused_a connections refused at the limit, $hto_a closed by client_header_timeout;" \
    "slowhttptest saw at most $(csv_max loris Connected) connected at once, $(csv_max loris Closed) closed"
check_num "$refused_a" -gt 0 "slowloris: connections refused at max_connections_per_ip"
check_num "$hto_a" -ge "$PERIP" "slowloris: held connections closed by client_header_timeout"
check_num "$(csv_max loris Closed)" -ge "$hto_a" "slowloris: connections slowhttptest saw closed"

# --- (b) slow read of a large cached block
refused0=$(closed per_ip_limit)
sto0=$(closed send_timeout)
attack slowread -X -w 512 -y 1024 -n 1 -z 32 -k 3 -u "$BE_URL/blocks/$BIG"
refused_b=$(($(closed per_ip_limit) - refused0))
sto_b=$(($(closed send_timeout) - sto0))
log "slow read: $refused_b connections refused at the limit, $sto_b closed by send_timeout;" \
    "slowhttptest saw at most $(csv_max slowread Connected) connected at once, $(csv_max slowread Closed) closed"
check_num "$refused_b" -gt 0 "slow read: connections refused at max_connections_per_ip"
check_num "$sto_b" -ge "$PERIP" "slow read: held connections closed by send_timeout"
check_num "$(csv_max slowread Closed)" -ge "$sto_b" "slow read: connections slowhttptest saw closed"

cpu=$((($(cpu_ticks) - cpu0) * 1000 * 100 / ($(getconf CLK_TCK) * ($(now_ms) - ms0))))
log "blockedge used ${cpu}% of a core during the two slowhttptest attacks"

# --- (c) HTTP/2 from one address, the limit lowered to 10 by a reload
printf '%s\n' "$(conf 10)" >"$BE_CONF"
kill -HUP "$BE_PID"
for ((i = 0; i < $(ms_bound 50); i++)); do
    grep -q 'configuration reloaded' "$BE_ERRLOG" && break
    sleep 0.1
done
check_contains "$BE_ERRLOG" "configuration reloaded" "reload to max_connections_per_ip 10"
sleep 0.3 # the workers take the new configuration from their mailboxes
wait_metric blockedge_connections_open 0 $(($(ms_bound 5000) / 1000)) >/dev/null
refused0=$(closed per_ip_limit)
timeout 20 h2load -c 100 -n 1000 "$BE_URL/blocks/$SMALL" >"$T/h2load.out" 2>&1
refused_c=$(($(closed per_ip_limit) - refused0))
succeeded=$(sed -n 's/^requests:.* \([0-9]\+\) succeeded.*/\1/p' "$T/h2load.out")
log "h2load -c 100 at limit 10: $refused_c connections refused, $succeeded of 1000 requests succeeded"
check_eq "$refused_c" 90 "h2load: connections refused at max_connections_per_ip 10"
check_eq "$succeeded" 100 "h2load: requests served on the 10 connections let in"

touch "$T/stop"
wait "$SAMPLER" "$NORMAL"

# --- the figures and the bounds
peak=$(sort -n "$T/fds.txt" | tail -1)
samples=$(wc -l <"$T/fds.txt")
total=$(wc -l <"$T/normal.txt")
ok=$(grep -c '^200 ' "$T/normal.txt")
p99=$(awk '{ print $2 }' "$T/normal.txt" | sort -n |
    awk '{ v[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; printf "%.1f", v[i] * 1000 }')
pmax=$(awk '{ print $2 }' "$T/normal.txt" | sort -n | tail -1 | awk '{ printf "%.1f", $1 * 1000 }')
log "normal client from $OTHER: $ok of $total requests got 200 ($((total - ok)) failed), p99 ${p99} ms, max ${pmax} ms"
log "blockedge descriptors: $BASE_FDS idle, peak $peak over $samples samples (bound $BOUND)"
lines=$(grep -c "max_connections_per_ip [0-9]* reached" "$BE_ERRLOG")
log "error log: $lines rate-limited refusal lines"
check_num "$total" -ge 100 "requests the normal client made"
check_eq "$ok" "$total" "the normal client's requests answered 200"
check_num "$peak" -le "$BOUND" "blockedge's open descriptors during the attacks"
check_num "$lines" -ge 1 "the refusal is logged"
check_num "$lines" -le 10 "refusal lines (one per worker per 10 s)"
check_contains "$BE_ERRLOG" "client 127.0.0.1: max_connections_per_ip $PERIP reached" "the log line"
check_eq "$(wait_metric blockedge_connections_open 0 5)" 0 "connections open once the attackers left"
log "ok"
