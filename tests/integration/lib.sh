# lib.sh - the harness every tests/integration/NN_*.sh sources.
#
# Owns: one temp dir per test, every process the test starts (killed in the EXIT trap), free
# ports, an nginx origin serving a block directory at /blocks/, blockedge started from inline
# config text, block generation, metric scraping, and failure reports that show the logs.
# Environment (set by ctest): BLOCKEDGE, BLOCKGEN, BE_SOURCE_DIR.
# Every wait here is bounded by a count of short sleeps; nothing listens beyond 127.0.0.1.

set -u

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export IT_DIR
IT_NAME=$(basename "$0" .sh)
PY=/usr/bin/python3
IT_HELP="$IT_DIR/ithelp.py"
: "${BE_SOURCE_DIR:=$(cd "$IT_DIR/../.." && pwd)}"
: "${BLOCKGEN:=}"

if [ -z "${BLOCKEDGE:-}" ] || [ ! -x "$BLOCKEDGE" ]; then
    echo "FAIL [$IT_NAME]: BLOCKEDGE='${BLOCKEDGE:-}' is not an executable server binary" >&2
    exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/blockedge-it-$IT_NAME.XXXXXX") || exit 1
# A ThreadSanitizer build (build-tsan) writes its reports to $T/tsan.PID, whichever process
# (blockedge, blockgen, a tool) and wherever its stderr goes; other builds ignore this.
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}log_path=$T/tsan"
IT_PIDS=()
IT_LOGS=()

it_cleanup() {
    local rc=$? pid i
    trap - EXIT
    for pid in "${IT_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${IT_PIDS[@]}"; do
        for ((i = 0; i < 30; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    # A sanitizer report from any blockedge we started fails the test, even one that passed.
    for f in "$T"/*.stderr "$T"/tsan.*; do
        [ -e "$f" ] || continue
        if grep -qE 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer|runtime error:' "$f"; then
            echo "FAIL [$IT_NAME]: sanitizer report in $f:" >&2
            head -n 60 "$f" >&2
            rc=1
        fi
    done
    if [ "$rc" -ne 0 ] && [ -n "${BE_KEEP_TMP:-}" ]; then
        echo "[$IT_NAME] kept $T" >&2
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap it_cleanup EXIT
trap 'exit 130' INT TERM

# track PID: kill PID when the test ends.
track() {
    IT_PIDS+=("$1")
}

# log MSG...: progress on stderr, prefixed with the test's name.
log() {
    echo "[$IT_NAME] $*" >&2
}

# fail MSG: print MSG and the tail of every log the test knows of, then exit 1.
fail() {
    local f
    echo "FAIL [$IT_NAME]: $*" >&2
    for f in "${IT_LOGS[@]}"; do
        [ -s "$f" ] || continue
        echo "----- tail of $f -----" >&2
        tail -n 25 "$f" >&2
    done
    exit 1
}

# check_eq GOT EXPECTED WHAT
check_eq() {
    if [ "$1" != "$2" ]; then
        fail "$3: expected '$2', got '$1'"
    fi
}

# check_num A OP B WHAT: integer comparison (OP is -eq -ne -lt -le -gt -ge); non-numbers fail.
check_num() {
    local a=$1 op=$2 b=$3 what=$4
    [[ "$a" =~ ^-?[0-9]+$ ]] || fail "$what: '$a' is not an integer"
    [[ "$b" =~ ^-?[0-9]+$ ]] || fail "$what: '$b' is not an integer"
    if ! [ "$a" "$op" "$b" ]; then
        fail "$what: expected $a $op $b"
    fi
}

# check_contains FILE FIXED-STRING WHAT
check_contains() {
    grep -qF -- "$2" "$1" || fail "$3: '$2' not found in $(basename "$1"): $(head -c 600 "$1")"
}

# wait_lines FILE N: wait (<= 3 s) until FILE has N lines; prints the count.
wait_lines() {
    local f=$1 n=$2 i c=0
    for ((i = 0; i < 30; i++)); do
        c=$( (grep -c '' "$f" 2>/dev/null) || true)
        [ "${c:-0}" -ge "$n" ] && break
        sleep 0.1
    done
    echo "${c:-0}"
}

# ms_bound MS: an upper bound on how long something may take, times BE_TEST_TIME_SCALE (1 by
# default; the ThreadSanitizer tree sets 3, its code runs several times slower). Lower bounds
# (a timeout must not fire early) are never scaled.
ms_bound() {
    echo $(($1 * ${BE_TEST_TIME_SCALE:-1}))
}

# now_ms: a monotonic-enough wall clock in milliseconds.
now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

# free_port: print a port on 127.0.0.1 that is free now and not yet handed out in this test.
free_port() {
    "$PY" "$IT_HELP" free-port "$T/ports"
}

# ----------------------------------------------------------------------------------------------
# Blocks

# gen_blocks DIR N SIZE [SEED]: N blocks (SIZE like 4k or 1k-64k) in DIR, keys in DIR/keys.txt.
# Uses tools/blockgen when built, a Python fallback otherwise; checks every block either way.
gen_blocks() {
    local dir=$1 n=$2 size=$3 seed=${4:-1} key count=0
    mkdir -p "$dir"
    if [ -n "$BLOCKGEN" ] && [ -x "$BLOCKGEN" ]; then
        "$BLOCKGEN" -q -d "$dir" -n "$n" -s "$size" --seed "$seed" >"$T/blockgen.out" 2>&1 ||
            fail "blockgen -d $dir -n $n -s $size --seed $seed failed: $(cat "$T/blockgen.out")"
    else
        "$PY" "$IT_HELP" gen-blocks "$dir" "$n" "$size" "$seed" || fail "gen-blocks failed"
    fi
    while read -r key; do
        [ -f "$dir/$key" ] || fail "gen_blocks: $dir/$key missing"
        check_eq "$(sha256sum <"$dir/$key" | cut -c1-64)" "$key" "gen_blocks: digest of $key"
        count=$((count + 1))
    done < <(keys_of "$dir")
    check_num "$count" -ge "$n" "gen_blocks: keys written to $dir/keys.txt"
}

# keys_of DIR: the keys listed in DIR/keys.txt, one per line, in order.
keys_of() {
    grep -oE '^[0-9a-f]{64}' "$1/keys.txt"
}

# size_of DIR KEY: the block's size in bytes.
size_of() {
    stat -c %s "$1/$2"
}

# sha_of FILE: lower-case hex SHA-256 of the file.
sha_of() {
    sha256sum <"$1" | cut -c1-64
}

# ----------------------------------------------------------------------------------------------
# nginx origin

# start_nginx_origin DIR [NAME] [EXTRA]: nginx serving DIR at /blocks/ on a free port; EXTRA is
# inserted into the /blocks/ location (e.g. "limit_rate 128k;"). Sets ORIGIN_PORT, ORIGIN_URL,
# ORIGIN_LOG (access log: "METHOD URI STATUS BYTES" per line), ORIGIN_TIMING_LOG (the same
# requests as "END_SECONDS.MS DURATION_SECONDS URI STATUS CONNECTION_ID", for concurrency) and
# ORIGIN_PID. With
# NGINX_ORIGIN_TLS=1 it serves https with a fresh self-signed certificate (nobody trusts it).
start_nginx_origin() {
    local dir=$1 name=${2:-origin} extra=${3:-} port pfx token pid i got="" scheme=http tls=""
    port=$(free_port) || fail "no free port for nginx"
    pfx="$T/$name"
    token="probe-$name-$$-$RANDOM"
    mkdir -p "$pfx/tmp"
    if [ "${NGINX_ORIGIN_TLS:-0}" = 1 ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
            -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
            -keyout "$pfx/key.pem" -out "$pfx/cert.pem" >"$pfx/openssl.out" 2>&1 ||
            fail "openssl could not make a certificate: $(cat "$pfx/openssl.out")"
        scheme=https
        tls="ssl; ssl_certificate $pfx/cert.pem; ssl_certificate_key $pfx/key.pem"
    fi
    cat >"$pfx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
error_log $pfx/error.log info;
pid $pfx/nginx.pid;
events { worker_connections 1024; }
http {
    log_format blockorigin '\$request_method \$request_uri \$status \$body_bytes_sent';
    access_log $pfx/access.log blockorigin;
    log_format blocktiming '\$msec \$request_time \$request_uri \$status \$connection';
    access_log $pfx/timing.log blocktiming;
    client_body_temp_path $pfx/tmp/client;
    proxy_temp_path $pfx/tmp/proxy;
    fastcgi_temp_path $pfx/tmp/fastcgi;
    uwsgi_temp_path $pfx/tmp/uwsgi;
    scgi_temp_path $pfx/tmp/scgi;
    default_type application/octet-stream;
    keepalive_requests 100000;
    server {
        listen 127.0.0.1:$port $tls;
        location = /__probe { return 200 "$token"; }
        location /blocks/ { alias $dir/; $extra }
    }
}
EOF
    : >"$pfx/access.log"
    nginx -e "$pfx/error.log" -p "$pfx" -c "$pfx/nginx.conf" >"$pfx/stderr" 2>&1 &
    pid=$!
    track "$pid"
    IT_LOGS+=("$pfx/stderr" "$pfx/error.log")
    for ((i = 0; i < 100; i++)); do
        got=$(curl -sk --max-time 1 "$scheme://127.0.0.1:$port/__probe" 2>/dev/null)
        [ "$got" = "$token" ] && break
        kill -0 "$pid" 2>/dev/null || fail "nginx origin $name exited at start"
        sleep 0.1
    done
    [ "$got" = "$token" ] || fail "nginx origin $name did not answer its probe on port $port"
    ORIGIN_PORT=$port
    ORIGIN_URL="$scheme://127.0.0.1:$port/blocks/"
    ORIGIN_LOG="$pfx/access.log"
    ORIGIN_TIMING_LOG="$pfx/timing.log"
    ORIGIN_PID=$pid
}

# origin_count KEY [LOG]: how many requests the origin logged for /blocks/KEY.
origin_count() {
    local log=${2:-$ORIGIN_LOG}
    grep -cF " /blocks/$1 " "$log"
}

# origin_total [LOG]: how many /blocks/ requests the origin logged.
origin_total() {
    local log=${1:-$ORIGIN_LOG}
    grep -cF " /blocks/" "$log"
}

# expect_origin_count KEY N [LOG]: the origin logged exactly N requests for KEY. nginx writes the
# line as the response ends, so wait (bounded) for N to appear, then a moment for any extra one.
expect_origin_count() {
    local key=$1 n=$2 log=${3:-$ORIGIN_LOG} i c
    for ((i = 0; i < 30; i++)); do
        c=$(origin_count "$key" "$log")
        [ "$c" -ge "$n" ] && break
        sleep 0.1
    done
    sleep 0.2
    c=$(origin_count "$key" "$log")
    check_eq "$c" "$n" "origin requests for ${key:0:16}…"
}

# ----------------------------------------------------------------------------------------------
# blockedge

# be_conf ORIGIN_URL [NAME]: the standard config text, listening on $HTTP_PORT and $ADMIN_PORT.
# Overrides: CONF_WORKERS CONF_MEMORY_SIZE CONF_MAX_BLOCK_SIZE CONF_CONNECT_TIMEOUT
# CONF_READ_TIMEOUT CONF_RETRIES CONF_LOG_LEVEL, and CONF_HTTP_EXTRA, CONF_CACHE_EXTRA and
# CONF_ORIGIN_EXTRA (lines added to http { }, cache { } and origin { }, e.g. more "server" lines
# or "max_fails 0;").
be_conf() {
    local origin=$1 name=${2:-be}
    cat <<EOF
worker_threads ${CONF_WORKERS:-2};
error_log $T/$name.error.log ${CONF_LOG_LEVEL:-info};
http {
    listen 127.0.0.1:$HTTP_PORT;
    keepalive_timeout 75s;
    client_header_timeout 60s;
    send_timeout 60s;
${CONF_HTTP_EXTRA:-}
}
cache {
    memory_size ${CONF_MEMORY_SIZE:-64m};
    max_block_size ${CONF_MAX_BLOCK_SIZE:-16m};
${CONF_CACHE_EXTRA:-}
}
origin {
    server $origin;
    connect_timeout ${CONF_CONNECT_TIMEOUT:-5s};
    read_timeout ${CONF_READ_TIMEOUT:-30s};
    retries ${CONF_RETRIES:-1};
${CONF_ORIGIN_EXTRA:-}
}
admin {
    listen 127.0.0.1:$ADMIN_PORT;
}
EOF
}

# conf_listen BLOCK CONF_TEXT: the first "listen" address inside "BLOCK { ... }".
conf_listen() {
    printf '%s' "$2" | tr '\n' ' ' |
        sed -n "s/.*\\b$1[[:space:]]*{[^}]*listen[[:space:]]\\+\\([^;[:space:]]*\\).*/\\1/p"
}

# start_blockedge CONF_TEXT [NAME]: write NAME.conf, start blockedge on it, wait (<= 10 s) for the
# admin /healthz to answer 200 from the process we started. Sets BE_PID, BE_URL, BE_ADMIN,
# BE_PORT, BE_ERRLOG, BE_CONF. BE_LAUNCH (an array, empty by default) is put before the command,
# e.g. (env LD_PRELOAD=...) for the fault tests (faultlib.sh); it must exec blockedge in place.
BE_LAUNCH=()
start_blockedge() {
    local conf=$1 name=${2:-be} http admin code="" i
    BE_CONF="$T/$name.conf"
    printf '%s\n' "$conf" >"$BE_CONF"
    http=$(conf_listen http "$conf")
    admin=$(conf_listen admin "$conf")
    [ -n "$http" ] && [ -n "$admin" ] || fail "start_blockedge: no http/admin listen in config"
    BE_ERRLOG=$(printf '%s\n' "$conf" | sed -n 's/^[[:space:]]*error_log[[:space:]]\+\([^;[:space:]]*\).*/\1/p')
    : "${BE_ERRLOG:=$T/$name.stderr}"
    IT_LOGS+=("$T/$name.stderr" "$BE_ERRLOG")
    "${BE_LAUNCH[@]}" "$BLOCKEDGE" -c "$BE_CONF" >"$T/$name.stdout" 2>"$T/$name.stderr" &
    BE_PID=$!
    track "$BE_PID"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$BE_PID" 2>/dev/null || fail "blockedge ($name) exited during start-up"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://$admin/healthz")
        [ "$code" = 200 ] && break
        sleep 0.1
    done
    [ "$code" = 200 ] || fail "blockedge ($name) admin /healthz on $admin did not answer 200 in 10 s"
    kill -0 "$BE_PID" 2>/dev/null || fail "blockedge ($name) is not running after start-up"
    BE_URL="http://$http"
    BE_PORT=${http##*:}
    BE_ADMIN="http://$admin"
}

# signal_and_wait PID SIGNAL SECONDS: send SIGNAL, wait up to SECONDS for the exit; sets SIG_RC to
# the exit status, or "timeout". (Not in $(...): only this shell can reap its children.)
signal_and_wait() {
    local pid=$1 sig=$2 secs=$3 i
    kill "-$sig" "$pid" 2>/dev/null
    for ((i = 0; i < secs * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        SIG_RC=timeout
        return
    fi
    wait "$pid"
    SIG_RC=$?
}

# ----------------------------------------------------------------------------------------------
# HTTP with curl

# http_get URL [CURL ARGS...]: fetch URL; body in $T/last.body, headers in $T/last.hdr; prints the
# status code ("000" when the request failed).
http_get() {
    local url=$1
    shift
    # curl leaves -o untouched when a response has no body: start from empty files.
    : >"$T/last.body"
    : >"$T/last.hdr"
    curl -s --max-time "${CURL_MAX_TIME:-15}" -o "$T/last.body" -D "$T/last.hdr" \
        -w '%{http_code}' "$@" "$url"
}

# hdr NAME [FILE]: the value of header NAME in the last response of FILE (default $T/last.hdr).
hdr() {
    local file=${2:-$T/last.hdr}
    tr -d '\r' <"$file" | grep -i "^$1:" | tail -n 1 | sed 's/^[^:]*:[[:space:]]*//; s/[[:space:]]*$//'
}

# has_hdr NAME [FILE]: whether header NAME is present.
has_hdr() {
    local file=${2:-$T/last.hdr}
    tr -d '\r' <"$file" | grep -qi "^$1:"
}

# expect_block_headers KEY SIZE [FILE]: every header the contract puts on a 200/206 block reply.
expect_block_headers() {
    local key=$1 size=$2 file=${3:-$T/last.hdr}
    check_eq "$(hdr Content-Type "$file")" "application/octet-stream" "Content-Type"
    check_eq "$(hdr Content-Length "$file")" "$size" "Content-Length"
    check_eq "$(hdr ETag "$file")" "\"$key\"" "ETag"
    check_eq "$(hdr Cache-Control "$file")" "public, max-age=31536000, immutable" "Cache-Control"
    check_eq "$(hdr Accept-Ranges "$file")" "bytes" "Accept-Ranges"
}

# ----------------------------------------------------------------------------------------------
# Metrics

# scrape [ADMIN_URL] > FILE: the /metrics text.
scrape() {
    curl -s --max-time 5 -f "${1:-$BE_ADMIN}/metrics"
}

# metric QUERY [ADMIN_URL]: the value of one series, e.g. 'blockedge_cache_hits_total{tier="memory"}'
# (label order free; 0 when absent; "scrape-failed" when /metrics did not answer).
metric() {
    local text
    text=$(scrape "${2:-$BE_ADMIN}") || {
        echo scrape-failed
        return
    }
    printf '%s\n' "$text" | "$PY" "$IT_HELP" metric "$1"
}

# metric_in FILE QUERY: the value of one series in a saved scrape.
metric_in() {
    "$PY" "$IT_HELP" metric "$2" <"$1"
}

# wait_metric QUERY VALUE SECONDS: wait until the series equals VALUE; prints the last value.
wait_metric() {
    local q=$1 want=$2 secs=$3 i v=""
    for ((i = 0; i < secs * 10; i++)); do
        v=$(metric "$q")
        [ "$v" = "$want" ] && break
        sleep 0.1
    done
    echo "$v"
}

# ----------------------------------------------------------------------------------------------
# Other origins

# start_stall_origin NAME: a TCP origin that accepts and never completes a response (see
# ithelp.py stall_origin: paths containing "/bbbb" get headers and 10 bytes first). Sets
# STALL_PORT, STALL_URL, STALL_LOG (one request line per request).
start_stall_origin() {
    local name=${1:-stall} port i
    port=$(free_port) || fail "no free port for the stalling origin"
    STALL_LOG="$T/$name.requests"
    : >"$STALL_LOG"
    "$PY" "$IT_HELP" stall-origin "$port" "$STALL_LOG" 240 >"$T/$name.stderr" 2>&1 &
    track "$!"
    IT_LOGS+=("$T/$name.stderr")
    for ((i = 0; i < 50; i++)); do
        "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $port), 1).close()" \
            2>/dev/null && break
        sleep 0.1
    done
    [ "$i" -lt 50 ] || fail "stalling origin did not listen on $port"
    STALL_PORT=$port
    STALL_URL="http://127.0.0.1:$port/blocks/"
}

# The probe connection above shows up as an accepted socket without a request: harmless.

# start_scripted_origin DIR [NAME] [PORT]: a Python origin serving DIR/<hex> at /blocks/, each
# block answered as DIR/<hex>.mode says (ithelp.py SCRIPT_MODES: ok, chunked, http10, truncate,
# cl_short, cl_long, redirect, oversize_cl, oversize_chunked, chunked_stall, chunked_close,
# trickle, status500); no file: 404. Sets SCRIPT_PORT, SCRIPT_URL, SCRIPT_LOG (one request line each).
start_scripted_origin() {
    local dir=$1 name=${2:-scripted} port=${3:-} i
    [ -n "$port" ] || port=$(free_port) || fail "no free port for the scripted origin"
    SCRIPT_LOG="$T/$name.requests"
    : >"$SCRIPT_LOG"
    "$PY" "$IT_HELP" scripted-origin "$port" "$dir" "$SCRIPT_LOG" 240 >"$T/$name.stderr" 2>&1 &
    track "$!"
    IT_LOGS+=("$T/$name.stderr")
    for ((i = 0; i < 50; i++)); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/blocks/$(printf '0%.0s' {1..64})")" = 404 ] && break
        sleep 0.1
    done
    [ "$i" -lt 50 ] || fail "scripted origin did not answer on $port"
    SCRIPT_PORT=$port
    SCRIPT_URL="http://127.0.0.1:$port/blocks/"
}

# make_cert NAME: a self-signed EC P-256 certificate for 127.0.0.1 in $T/NAME.{crt,key}.
make_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$T/$1.key" -out "$T/$1.crt" >"$T/$1.openssl.out" 2>&1 ||
        fail "openssl could not make a certificate: $(cat "$T/$1.openssl.out")"
}
