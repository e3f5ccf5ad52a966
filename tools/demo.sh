#!/usr/bin/env bash
# tools/demo.sh - blockedge in one command: build, sample blocks, a Zipf load, the counters.
#
#   sudo ./tools/demo.sh          (from the repo root; root only to install missing packages)
#
# Steps: tools/install-deps.sh; a RelWithDebInfo build into build/; 2000 sample blocks of
# 1k-64k into /var/tmp/blockedge/origin/ (the file:// origin of conf/blockedge.conf); start
# build/blockedge -c conf/blockedge.conf (http 127.0.0.1:8480, admin 127.0.0.1:8481, or free
# ports in a temp copy of the config when those are taken); wait for /healthz; five seconds of
# wrk -t2 -c16 with bench/wrk/zipf.lua (s = 1.0); print requests, hits, misses, hit ratio and
# origin fetches from /metrics; stop blockedge with SIGTERM. The server is stopped on any exit.
# Logs: /var/tmp/blockedge/demo-build.log, /var/tmp/blockedge/demo-server.log.
#
# environment: DEMO_BLOCKS (2000)  DEMO_SIZES (1k-64k)  DEMO_DURATION (5s)  DEMO_ZIPF_S (1.0)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

WORK=/var/tmp/blockedge
ORIGIN_DIR=$WORK/origin
KEYS=$WORK/keys.txt
BUILD_LOG=$WORK/demo-build.log
SERVER_LOG=$WORK/demo-server.log
CONF=conf/blockedge.conf
HTTP_PORT=8480
ADMIN_PORT=8481
NBLOCKS=${DEMO_BLOCKS:-2000}
SIZES=${DEMO_SIZES:-1k-64k}
DURATION=${DEMO_DURATION:-5s}
ZIPF_S=${DEMO_ZIPF_S:-1.0}
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3

step() {
    printf '==> %s\n' "$*"
}

die() {
    echo "demo: $*" >&2
    exit 1
}

case "${1:-}" in
-h | --help)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
"") ;;
*) echo "demo: unknown argument \"$1\" (try -h)" >&2; exit 2 ;;
esac
[ -f "$CONF" ] || die "$ROOT/$CONF not found"

SERVER_PID=
WRK_PID=
TMPCONF=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "$WRK_PID" ] && kill -TERM "$WRK_PID" 2>/dev/null
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    [ -n "$TMPCONF" ] && rm -f "$TMPCONF"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. dependencies and build -------------------------------------------------------------
step "checking packages (tools/install-deps.sh)"
./tools/install-deps.sh | sed 's/^/    /'

mkdir -p "$WORK"
step "building (RelWithDebInfo; log in $BUILD_LOG)"
if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build -j2; } \
    >"$BUILD_LOG" 2>&1; then
    tail -n 30 "$BUILD_LOG" >&2
    die "build failed; see $BUILD_LOG"
fi

# --- 2. sample blocks ------------------------------------------------------------------------
step "writing $NBLOCKS sample blocks ($SIZES) into $ORIGIN_DIR/"
rm -f "$KEYS"
build/blockgen -q -d "$ORIGIN_DIR" -n "$NBLOCKS" -s "$SIZES" --seed 1 -k "$KEYS"
sed "s|^|$ORIGIN_DIR/|" "$KEYS" | xargs stat -c %s |
    awk '{ s += $1 } END { printf "    %d blocks, %.1f MiB\n", NR, s / 1048576 }'

# --- 3. start blockedge ----------------------------------------------------------------------
port_free() {
    "$PYTHON" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

RUNCONF=$CONF
if ! port_free "$HTTP_PORT" || ! port_free "$ADMIN_PORT"; then
    old_http=$HTTP_PORT old_admin=$ADMIN_PORT
    HTTP_PORT=$(free_port)
    ADMIN_PORT=$(free_port)
    while [ "$ADMIN_PORT" = "$HTTP_PORT" ]; do ADMIN_PORT=$(free_port); done
    TMPCONF=$(mktemp "${TMPDIR:-/tmp}/blockedge-demo.XXXXXX.conf")
    sed -e "s/127\.0\.0\.1:$old_http\b/127.0.0.1:$HTTP_PORT/g" \
        -e "s/127\.0\.0\.1:$old_admin\b/127.0.0.1:$ADMIN_PORT/g" "$CONF" >"$TMPCONF"
    RUNCONF=$TMPCONF
    echo "    ports $old_http/$old_admin are busy; using $HTTP_PORT/$ADMIN_PORT ($RUNCONF)"
fi

step "starting build/blockedge -c $RUNCONF"
build/blockedge -t -c "$RUNCONF" >"$SERVER_LOG" 2>&1 ||
    { cat "$SERVER_LOG" >&2; die "blockedge -t rejected $RUNCONF"; }
build/blockedge -c "$RUNCONF" >>"$SERVER_LOG" 2>&1 </dev/null &
SERVER_PID=$!

ADMIN=http://127.0.0.1:$ADMIN_PORT
for i in $(seq 100); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        tail -n 20 "$SERVER_LOG" >&2
        die "blockedge exited during start-up; see $SERVER_LOG"
    fi
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$ADMIN/healthz" || true)" = 200 ] &&
        break
    [ "$i" = 100 ] && die "no 200 from $ADMIN/healthz within 10 s; see $SERVER_LOG"
    sleep 0.1
done
echo "    up: http 127.0.0.1:$HTTP_PORT, admin 127.0.0.1:$ADMIN_PORT (pid $SERVER_PID)"

# --- 4. a short Zipf load --------------------------------------------------------------------
step "load: wrk -t2 -c16 -d$DURATION, Zipf s=$ZIPF_S over $NBLOCKS keys"
WRK_OUT=$WORK/demo-wrk.log
BE_KEYS=$KEYS BE_ZIPF_S=$ZIPF_S BE_WRK_REPORT=1 \
    timeout --kill-after=5 60 wrk -t2 -c16 -d"$DURATION" --timeout 5s \
    -s bench/wrk/zipf.lua "http://127.0.0.1:$HTTP_PORT" >"$WRK_OUT" 2>&1 &
WRK_PID=$! # waited for in the background so that Ctrl-C stops the demo at once
wait "$WRK_PID" || { cat "$WRK_OUT" >&2; die "wrk failed"; }
WRK_PID=
line=$(grep '^be-wrk ' "$WRK_OUT") || { cat "$WRK_OUT" >&2; die "no summary from wrk"; }
for kv in ${line#be-wrk }; do
    case "$kv" in
    requests=* | duration_us=* | bytes=* | errors=* | non2xx=* | p50_us=* | p99_us=*)
        printf -v "W_${kv%%=*}" '%s' "${kv#*=}"
        ;;
    esac
done
awk -v r="$W_requests" -v d="$W_duration_us" -v b="$W_bytes" -v p50="$W_p50_us" \
    -v p99="$W_p99_us" -v e="$W_errors" -v n="$W_non2xx" 'BEGIN {
        printf "    %d requests, %.0f req/s, %.1f MiB/s, p50 %.2f ms, p99 %.2f ms, %d errors, %d non-2xx\n",
            r, r / (d / 1e6), b / (d / 1e6) / 1048576, p50 / 1000, p99 / 1000, e, n }'

# --- 5. the counters -------------------------------------------------------------------------
step "from $ADMIN/metrics"
METRICS=$WORK/demo-metrics.txt
curl -s --max-time 5 "$ADMIN/metrics" >"$METRICS" || die "cannot read $ADMIN/metrics"

# metric NAME_AND_LABELS: sum of the samples whose name (and leading labels) match.
metric() {
    awk -v m="$1" 'index($0, m) == 1 && substr($0, length(m) + 1, 1) ~ /[ {,]/ { s += $NF; n++ }
        END { if (n) printf "%.0f\n", s; else print "-" }' "$METRICS"
}
m_requests=$(metric blockedge_http_requests_total)
m_mem=$(metric 'blockedge_cache_hits_total{tier="memory"}')
m_disk=$(metric 'blockedge_cache_hits_total{tier="disk"}')
m_miss=$(metric blockedge_cache_misses_total)
m_origin=$(metric blockedge_origin_requests_total)
m_coalesced=$(metric blockedge_coalesced_requests_total)
m_zipf=$(awk '$1 == "blockedge_popularity_zipf_exponent" { print $2 }' "$METRICS")
ratio=$(awk -v h="$m_mem" -v d="$m_disk" -v m="$m_miss" 'BEGIN {
    h += 0; d += 0; m += 0
    if (h + d + m > 0) printf "%.1f%%", 100 * (h + d) / (h + d + m); else print "-" }')
printf '    %-34s %s\n' "requests" "$m_requests" \
    'cache hits {tier="memory"}' "$m_mem" \
    'cache hits {tier="disk"}' "$m_disk" \
    "cache misses" "$m_miss" \
    "hit ratio" "$ratio" \
    "origin requests" "$m_origin" \
    "coalesced requests" "$m_coalesced"
[ -n "$m_zipf" ] && printf '    %-34s %s (the load used %s)\n' "fitted Zipf exponent" "$m_zipf" "$ZIPF_S"

# --- 6. stop ---------------------------------------------------------------------------------
step "stopping blockedge (SIGTERM)"
kill -TERM "$SERVER_PID"
rc=0
for _ in $(seq 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "    still running 10 s after SIGTERM; killing it" >&2
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    rc=1
fi
wait "$SERVER_PID" 2>/dev/null || code=$?
SERVER_PID=
echo "    stopped (exit status ${code:-0}). Run it yourself: build/blockedge -c $CONF"
echo "    then e.g. curl -sI http://127.0.0.1:8480/blocks/$(head -n 1 "$KEYS")"
exit "$rc"
