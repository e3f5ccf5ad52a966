# bench/lib.sh - what the benchmark scripts share (sourced by bench/run and bench/disk):
# starting servers in their own sessions and stopping them all on exit, waiting for them,
# the nginx origin and proxy_cache edge configs, edge checks and warming, /metrics reads,
# bounded wrk runs and the report's number formats.
# The sourcing script sets ROOT, BENCH_NAME, NGINX, WRK, PYTHON, THREADS, CONNS, DURATION,
# DUR_S and KEEP, and calls bench_setup_tmp before starting anything. NGINX_SENDFILE and
# NGINX_TCP_NOPUSH (default on, on) set those two nginx directives. CURL_K=-k lets the checks
# accept a self-signed certificate (bench/run --tls).

die() {
    echo "$BENCH_NAME: $*" >&2
    exit 1
}

# --- processes and clean-up --------------------------------------------------------------
# Each server runs under setsid as its own process group, so a stop reaches its workers too.

# bench_setup_tmp: makes $TMP and installs the traps that stop every process started with
# start() and remove $TMP (unless KEEP=1) on exit, failure or Ctrl-C.
bench_setup_tmp() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/blockedge-bench.XXXXXX")
    chmod 755 "$TMP" # nginx workers may run as an unprivileged user
    PGIDS=()
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pg
    for pg in "${PGIDS[@]}"; do
        kill -TERM -- "-$pg" 2>/dev/null || true
    done
    for pg in "${PGIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 -- "-$pg" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pg" 2>/dev/null || true
    done
    if [ "$KEEP" = 1 ]; then
        echo "$BENCH_NAME: kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
# start NAME LOG CMD...: runs CMD in its own session; sets PID_NAME (= its process group).
start() {
    local name=$1 log=$2
    shift 2
    setsid "$@" >"$log" 2>&1 </dev/null &
    local pid=$!
    PGIDS+=("$pid")
    eval "PID_$name=$pid"
}

# show_log FILE...: the tail of each log, for a failure report.
show_log() {
    local f
    for f in "$@"; do
        [ -s "$f" ] || continue
        echo "---- $f (last 20 lines)" >&2
        tail -n 20 "$f" >&2
    done
}

# wait_http NAME URL LOG...: waits (10 s at most) until URL answers at all.
wait_http() {
    local name=$1 url=$2
    shift 2
    local pidvar="PID_$name"
    for _ in $(seq 100); do
        if ! kill -0 "${!pidvar}" 2>/dev/null; then
            show_log "$@"
            die "$name exited during start-up"
        fi
        local h2=
        # nginx's cleartext "listen ... http2" (the proxy_cache edge and the floor) speaks only h2
        case $name in nginx | floor) [ "${H2:-0}" = 1 ] && [ "${TLS:-0}" = 0 ] && h2=--http2-prior-knowledge ;; esac
        if [ "$(curl -s $h2 ${CURL_K:-} -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)" != 000 ]; then
            return 0
        fi
        sleep 0.1
    done
    show_log "$@"
    die "$name did not answer $url within 10 s"
}

# --- nginx -------------------------------------------------------------------------------
# nginx_main DIR: the parts every nginx here shares; paths all inside DIR.
nginx_main() {
    local dir=$1
    mkdir -p "$dir/logs" "$dir/tmp"
    cat <<EOF
daemon off;
master_process on;
worker_processes 2;
pid $dir/nginx.pid;
lock_file $dir/nginx.lock;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
EOF
}

nginx_http_common() {
    local dir=$1
    cat <<EOF
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    types { }
    default_type application/octet-stream;
    sendfile ${NGINX_SENDFILE:-on};
    tcp_nopush ${NGINX_TCP_NOPUSH:-on};
    keepalive_requests 1000000;
EOF
}

# nginx_files_conf DIR LISTEN HTTP_EXTRA SERVER_EXTRA: nginx serving $TMP/blocks/ at /blocks/
# as plain files on LISTEN, with extra lines in its http and server blocks.
nginx_files_conf() {
    local dir=$1
    nginx_main "$dir"
    echo "http {"
    nginx_http_common "$dir"
    cat <<EOF
$3
    server {
        listen $2;
$4
        location /blocks/ { root $TMP; }
        location = /ping { return 204; }
    }
}
EOF
}

# nginx_static_conf DIR PORT: the floor bench/run measures edges against: static files, no
# access log, open_file_cache.
nginx_static_conf() {
    nginx_files_conf "$1" "127.0.0.1:$2 reuseport${NGINX_H2:-}" \
        "    open_file_cache max=65536 inactive=10m;
    open_file_cache_valid 10m;" ""
}

# nginx_origin_conf DIR PORT: the origin (access log in DIR/logs).
nginx_origin_conf() {
    nginx_files_conf "$1" "127.0.0.1:$2" "" "        access_log $1/logs/access.log;"
}

# nginx_edge_conf DIR PORT ORIGIN_PORT [MAX_SIZE]: the tuned nginx proxy_cache edge.
nginx_edge_conf() {
    local dir=$1 port=$2 origin_port=$3 max_size=${4:-4g}
    nginx_main "$dir"
    echo "http {"
    nginx_http_common "$dir"
    cat <<EOF
    open_file_cache max=65536 inactive=10m;
    open_file_cache_valid 10m;
    proxy_cache_path $dir/cache levels=1:2 keys_zone=blocks:64m max_size=$max_size inactive=1y
                     use_temp_path=off;
    upstream origin {
        server 127.0.0.1:$origin_port;
        keepalive 32;
    }
    server {
        listen 127.0.0.1:$port reuseport${NGINX_H2:-};
        location = /ping { return 204; }
        location /blocks/ {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache blocks;
            proxy_cache_key \$uri;
            proxy_cache_valid 200 1y;
            proxy_cache_lock on;
            add_header X-Cache \$upstream_cache_status;
        }
    }
}
EOF
}

# free_ports N: N ports on 127.0.0.1 that the kernel hands out now.
free_ports() {
    "$PYTHON" -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])' "$1"
}

# --- checks and metrics ------------------------------------------------------------------
# check_edge NAME BASE_URL HIT_HEADER_REGEX [KEY]: 200 and the right bytes twice, then a hit.
check_edge() {
    local name=$1 base=$2 hit_re=$3 key=${4:-$FIRST_KEY}
    local body=$TMP/check.body hdr=$TMP/check.hdr code sum
    for pass in 1 2; do
        code=$(curl -s ${CURL_H2:-} ${CURL_K:-} --max-time 10 -D "$hdr" -o "$body" -w '%{http_code}' "$base/blocks/$key" || true)
        [ "$code" = 200 ] || die "$name: GET /blocks/$key (pass $pass) gave status $code, not 200"
        sum=$(sha256sum "$body" | cut -c1-64)
        [ "$sum" = "$key" ] || die "$name: GET /blocks/$key (pass $pass): body sha256 is $sum"
    done
    if ! tr -d '\r' <"$hdr" | grep -Eiq "$hit_re"; then
        tr -d '\r' <"$hdr" | sed 's/^/    /' >&2
        die "$name: second GET of $key is not a cache hit (want /$hit_re/)"
    fi
}

# warm NAME BASE_URL [KEYSFILE]: GETs every key once, 16 at a time; all must be 200.
warm() {
    local name=$1 base=$2 keys=${3:-$TMP/keys.txt} cfg=$TMP/warm.curl nkeys
    nkeys=$(wc -l <"$keys")
    if [ "${H2:-0}" = 1 ]; then # curl 7.88's --parallel breaks on h2 prior knowledge: h2load
        sed "s|.*|$base/blocks/&|" "$keys" >"$TMP/warm.urls"
        local ok # one client, so that it walks every URL once
        ok=$(h2load -c1 -m16 -n "$nkeys" -i "$TMP/warm.urls" 2>&1 | awk '/^status codes:/ { print $3 }')
        [ "$ok" = "$nkeys" ] || die "$name: warming $nkeys keys over h2 gave $ok 2xx answers"
        return 0
    fi
    sed "s|.*|url = \"$base/blocks/&\"\noutput = \"/dev/null\"|" "$keys" >"$cfg"
    local codes
    codes=$(curl -s ${CURL_K:-} --no-progress-meter --max-time 120 --parallel --parallel-max 16 -K "$cfg" -w '%{http_code}\n' |
        sort | uniq -c | tr -s ' ' | sed 's/^ //')
    [ "$codes" = "$nkeys 200" ] || die "$name: warming $nkeys keys gave status counts: $codes"
}

# metric NAME_AND_LABELS: the sum of matching samples in $TMP/metrics (0 when none).
metric() {
    awk -v m="$1" 'index($0, m) == 1 && substr($0, length(m) + 1, 1) ~ /[ {]/ { s += $NF }
        END { printf "%.0f\n", s + 0 }' "$TMP/metrics"
}

fetch_metrics() {
    curl -s --max-time 5 "http://127.0.0.1:$BE_ADMIN_PORT/metrics" >"$TMP/metrics" || : >"$TMP/metrics"
}

# --- measure -----------------------------------------------------------------------------
# run_wrk NAME URL [KEYSFILE]: one bounded wrk run, uniform over the keys; appends
# "rps mibs p50_us p99_us errors non2xx" to $TMP/NAME.results.
run_wrk() {
    local name=$1 url=$2 keys=${3:-$TMP/keys.txt} out=$TMP/$1.wrk line
    # In the background and waited for, so that a signal stops the script (and wrk) at once.
    BE_KEYS=$keys BE_ZIPF_S=0 BE_WRK_REPORT=1 \
        start wrk "$out" timeout --kill-after=5 $((DUR_S + 30)) \
        "$WRK" -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 5s -s "$ROOT/bench/wrk/zipf.lua" \
        "$url"
    wait "$PID_wrk" || { cat "$out" >&2; die "$name: wrk failed"; }
    unset 'PGIDS[-1]'
    line=$(grep '^be-wrk ' "$out") || { cat "$out" >&2; die "$name: no be-wrk line in wrk output"; }
    local requests duration_us bytes errors non2xx p50_us p99_us kv
    for kv in ${line#be-wrk }; do
        case "$kv" in
        requests=* | duration_us=* | bytes=* | errors=* | non2xx=* | p50_us=* | p99_us=*)
            printf -v "${kv%%=*}" '%s' "${kv#*=}" ;;
        esac
    done
    awk -v r="$requests" -v d="$duration_us" -v b="$bytes" -v p50="$p50_us" -v p99="$p99_us" \
        -v e="$errors" -v n="$non2xx" \
        'BEGIN { printf "%.0f %.1f %d %d %d %d\n", r / (d / 1e6), b / (d / 1e6) / 1048576, p50, p99, e, n }' \
        >>"$TMP/$name.results"
}

# ms MICROSECONDS: "1.23ms".
ms() {
    awk -v u="$1" 'BEGIN { printf "%.2fms", u / 1000 }'
}

# ratio A B: A/B as "1.23x".
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'
}
