# halib.sh - the cluster tests' harness (85-88), sourced after lib.sh: blockedge edges and
# shields on the loopback addresses 127.0.0.2..9 behind a real HAProxy whose configuration is
# the shipped conf/haproxy.cfg with this test's ports, certificate and log put in by sed.
#
# Edges: edge1..edge3 on 127.0.0.2..4, each "listen IP:EDGE_PORT proxy_protocol" with its
# admin on IP:EDGE_ADMIN_PORT (the ports conf/haproxy.cfg's 8480 and 8481 become). Shields:
# shield1, shield2 on 127.0.0.5..6 (8580, 8581). HAProxy: HA_URL (HTTP/1.1 and h2c), HA_TLS_URL
# (h2 and HTTP/1.1 over TLS) and the shields' frontend HA_SHIELD_URL (8590), stats on $T/ha.sock.

HA_CFG_SRC="$BE_SOURCE_DIR/conf/haproxy.cfg"
EDGE_PORT=$(free_port)
EDGE_ADMIN_PORT=$(free_port)
SHIELD_PORT=$(free_port)
SHIELD_ADMIN_PORT=$(free_port)
HA_PORT=$(free_port)
HA_TLS_PORT=$(free_port)
HA_SHIELD_PORT=$(free_port)
HA_URL="http://127.0.0.1:$HA_PORT"
HA_TLS_URL="https://127.0.0.1:$HA_TLS_PORT"
HA_SHIELD_URL="http://127.0.0.1:$HA_SHIELD_PORT/blocks/"
declare -A NODE_PID NODE_ADMIN NODE_CONF

command -v haproxy >/dev/null || fail "haproxy is not installed (tools/install-deps.sh)"
for ip in 2 3 4 5 6 7 8 9; do
    "$PY" -c "import socket; s = socket.socket(); s.bind(('127.0.0.$ip', 0)); s.close()" \
        2>/dev/null || fail "cannot bind 127.0.0.$ip: the cluster tests need 127.0.0.2..9"
done

# node_conf NAME IP PORT ADMIN_PORT ORIGIN_URL: a node's config. NODE_LISTEN_FLAGS (default
# proxy_protocol), NODE_MEMORY (64m), NODE_DISK=1 (a disk tier in $T/NAME.disk),
# NODE_DIRECT_PORT (a second listener without PROXY header, to read a node directly),
# NODE_MAIN_EXTRA, NODE_CACHE_EXTRA, NODE_HTTP_EXTRA.
node_conf() {
    cat <<EOF
worker_threads ${CONF_WORKERS:-2};
error_log $T/$1.error.log info;
${NODE_MAIN_EXTRA:-}
http {
    listen $2:$3 ${NODE_LISTEN_FLAGS-proxy_protocol};
${NODE_DIRECT_PORT:+    listen $2:$NODE_DIRECT_PORT;}
    access_log $T/$1.access.log;
    keepalive_timeout 75s;
    trusted 127.0.0.0/8;
    real_ip_header X-Forwarded-For;
${NODE_HTTP_EXTRA:-}
}
cache {
    memory_size ${NODE_MEMORY:-64m};
    max_block_size 1m;
${NODE_DISK:+    disk_path $T/$1.disk;
    disk_size 64m;
    disk_segment_size 1m;}
${NODE_CACHE_EXTRA:-}
}
origin {
    server $5;
    connect_timeout 1s;
    read_timeout 10s;
    retries 2;
}
admin {
    listen $2:$4;
}
EOF
}

# start_node NAME IP PORT ADMIN_PORT ORIGIN_URL: start it (lib.sh's start_blockedge) and
# remember NODE_PID[NAME], NODE_ADMIN[NAME], NODE_CONF[NAME].
start_node() {
    [ -z "${NODE_DISK:-}" ] || mkdir -p "$T/$1.disk"
    start_blockedge "$(node_conf "$@")" "$1"
    NODE_PID[$1]=$BE_PID
    NODE_ADMIN[$1]=$BE_ADMIN
    NODE_CONF[$1]=$BE_CONF
}

# restart_node NAME: start it again on the config it had.
restart_node() {
    [ -z "${NODE_DISK:-}" ] || mkdir -p "$T/$1.disk"
    start_blockedge "$(cat "${NODE_CONF[$1]}")" "$1"
    NODE_PID[$1]=$BE_PID
}

# start_edges ORIGIN_URL: edge1..edge3 on 127.0.0.2..4.
start_edges() {
    local i
    for i in 1 2 3; do
        start_node "edge$i" "127.0.0.$((1 + i))" "$EDGE_PORT" "$EDGE_ADMIN_PORT" "$1"
    done
}

# start_shields ORIGIN_URL: shield1, shield2 on 127.0.0.5..6 (no PROXY header: HAProxy sends
# them X-Forwarded-For).
start_shields() {
    local i
    for i in 1 2; do
        NODE_LISTEN_FLAGS="" start_node "shield$i" "127.0.0.$((4 + i))" "$SHIELD_PORT" \
            "$SHIELD_ADMIN_PORT" "$1"
    done
}

# ha_config: conf/haproxy.cfg with this test's ports, certificate, socket and log on stderr.
# HA_NO_BALANCE_FACTOR=1 drops the hash-balance-factor lines.
ha_config() {
    sed -e "s|log /dev/log local0|log stderr format raw local0|" \
        -e "s|/run/haproxy/admin.sock|$T/ha.sock|; s|maxconn 20000|maxconn 4000|" \
        -e "s|/etc/haproxy/certs/blockedge.pem|$T/ha.pem|" \
        -e "s|bind \*:443 |bind 127.0.0.1:$HA_TLS_PORT |" \
        -e "s|bind \*:80 |bind 127.0.0.1:$HA_PORT |" \
        -e "s|127.0.0.1:8590|127.0.0.1:$HA_SHIELD_PORT|" \
        -e "s|:8480 |:$EDGE_PORT |; s|port 8481 |port $EDGE_ADMIN_PORT |" \
        -e "s|:8580 |:$SHIELD_PORT |; s|port 8581 |port $SHIELD_ADMIN_PORT |" \
        "$HA_CFG_SRC" |
        if [ "${HA_NO_BALANCE_FACTOR:-0}" = 1 ]; then grep -v hash-balance-factor; else cat; fi
}

# ha_cmd COMMAND: one command on HAProxy's stats socket; its answer on stdout.
ha_cmd() {
    "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
sys.stdout.write(out.decode())
' "$T/ha.sock" "$1"
}

# ha_up BACKEND: how many of the backend's servers HAProxy has UP.
ha_up() {
    ha_cmd "show stat" | awk -F, -v b="$1" '$1 == b && $2 != "BACKEND" && $18 ~ /^UP/' | grep -c .
}

# wait_ha_up BACKEND N SECONDS: wait until N of its servers are UP.
wait_ha_up() {
    local i n=0
    for ((i = 0; i < $3 * 10; i++)); do
        n=$(ha_up "$1" 2>/dev/null)
        [ "${n:-0}" -eq "$2" ] && return 0
        sleep 0.1
    done
    fail "HAProxy backend $1: ${n:-0} servers UP after $3 s, expected $2: $(ha_cmd 'show stat' | cut -d, -f1,2,18,37)"
}

# start_haproxy: HAProxy on ha_config in the foreground (-db), its log in $T/haproxy.stderr;
# waits until every edge is UP (and both shields with HA_WAIT_SHIELDS=1).
start_haproxy() {
    local i
    make_cert ha
    cat "$T/ha.crt" "$T/ha.key" >"$T/ha.pem"
    ha_config >"$T/haproxy.cfg"
    haproxy -c -q -f "$T/haproxy.cfg" >"$T/haproxy.check" 2>&1 ||
        fail "haproxy -c refused the test's config: $(cat "$T/haproxy.check")"
    haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.stderr" 2>&1 &
    HA_PID=$!
    track "$HA_PID"
    IT_LOGS+=("$T/haproxy.stderr")
    for ((i = 0; i < 50; i++)); do
        [ -S "$T/ha.sock" ] && break
        sleep 0.1
    done
    wait_ha_up edges 3 10
    if [ "${HA_WAIT_SHIELDS:-0}" = 1 ]; then
        wait_ha_up shields 2 10
    fi
}

# sum_metric QUERY NODE...: the series summed over the nodes.
sum_metric() {
    local q=$1 n v s=0
    shift
    for n in "$@"; do
        v=$(metric "$q" "${NODE_ADMIN[$n]}")
        [[ "$v" =~ ^[0-9]+$ ]] || fail "metric $q of $n: '$v'"
        s=$((s + v))
    done
    echo "$s"
}

# urls_of BASE KEYSFILE: BASE/blocks/KEY per key, for h2load -i.
urls_of() {
    sed "s|^|$1/blocks/|" "$2"
}

# fast_blocks DIR N SIZE SEED: N blocks by tools/blockgen (which names each by its digest),
# keys in DIR/keys.txt and $T/keys; lib.sh's gen_blocks re-hashes every block in the shell,
# too slow for thousands. The first 5 are checked here.
fast_blocks() {
    mkdir -p "$1"
    [ -x "$BLOCKGEN" ] || fail "tools/blockgen is not built"
    "$BLOCKGEN" -q -d "$1" -n "$2" -s "$3" --seed "$4" >"$T/blockgen.out" 2>&1 ||
        fail "blockgen failed: $(cat "$T/blockgen.out")"
    keys_of "$1" >"$T/keys"
    check_eq "$(grep -c . "$T/keys")" "$2" "blocks generated"
    local k
    for k in $(head -n 5 "$T/keys"); do
        check_eq "$(sha_of "$1/$k")" "$k" "digest of block ${k:0:16}…"
    done
}

# pass TAG BASE [H2LOAD ARGS...]: every key of $T/keys once through BASE, one request at a time
# (HTTP/1.1), tagged "?p=TAG" for served_by; fails unless all are 200.
pass() {
    local tag=$1 base=$2
    shift 2
    sed "s|^|$base/blocks/|; s|\$|?p=$tag|" "$T/keys" >"$T/urls.$tag"
    local n
    n=$(grep -c . "$T/urls.$tag")
    h2load --h1 -n "$n" -c 1 "$@" -i "$T/urls.$tag" >"$T/pass.$tag" 2>&1 ||
        fail "h2load pass $tag: $(tail -n 5 "$T/pass.$tag")"
    check_contains "$T/pass.$tag" "status codes: $n 2xx" "pass $tag"
}

# served_by TAG NODE...: "KEY NODE CACHE-STATUS TIER" for each request tagged TAG in the
# nodes' access logs (written at least once a second: wait for it first).
served_by() {
    local tag=$1 n
    shift
    for n in "$@"; do
        grep -F "?p=$tag " "$T/$n.access.log" |
            awk -v n="$n" '{ k = $7; sub(/^\/blocks\//, "", k); sub(/\?.*/, "", k); print k, n, $(NF - 3), $(NF - 2) }'
    done
}

# ha_wrk SECONDS KEYS OUT: wrk through HAProxy (1 thread, 4 connections) walking the keys file
# round robin (bench/wrk/keys.lua), in the background: its pid in WRK, its output in OUT.
ha_wrk() {
    BE_WRK_REPORT=1 wrk -t 1 -c 4 -d "$1" -s "$BE_SOURCE_DIR/bench/wrk/keys.lua" "$HA_URL" -- "$2" \
        >"$3" 2>&1 &
    WRK=$!
}

# ha_wrk_done OUT: waits for ha_wrk's wrk; sets WRK_LINE (its "be-wrk ..." summary) and WRK_BAD
# (socket errors, timeouts and non-2xx answers). Fails the test when wrk failed or said nothing.
ha_wrk_done() {
    wait "$WRK" || fail "wrk failed: $(cat "$1")"
    WRK_LINE=$(grep '^be-wrk ' "$1") || fail "no summary from wrk: $(cat "$1")"
    WRK_BAD=$(echo "$WRK_LINE" | sed -E 's/.* errors=([0-9]+) non2xx=([0-9]+).*/\1 \2/' | awk '{ print $1 + $2 }')
}
