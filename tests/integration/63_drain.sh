#!/usr/bin/env bash
# 63_drain: SIGTERM drains. 100 HTTP/2 streams (nghttp, one connection) and 100 HTTP/1.1
# requests (curl, one connection each) wait on a slow nginx origin (limit_rate) when SIGTERM
# arrives, a slow HTTP/2 reader (slowh2.py) is in the middle of a 2 MiB hit, and an HTTP/1.1
# client has sent half of its request head. Then: new connections to the client and admin
# ports are refused at once; the HTTP/2 clients get GOAWAY NO_ERROR naming their last stream,
# before any answer; every response still arrives whole (SHA-256 of each body is its name),
# the HTTP/1.1 ones with "Connection: close", the slow reader's too although the server wrote
# its last byte long before the reader took it (lingering close), and the half-sent request
# is answered once its head is complete; blockedge exits 0 within shutdown_timeout (8s); the
# access log holds a line for every request (the buffers were flushed) and a restart finds
# every block filled during the drain on disk (the open segment intact). Then SIGQUIT with a
# request that never ends: blockedge closes it at shutdown_timeout (2s), not before and not
# much later, and still exits 0.
#
# The origin is held with SIGSTOP until all 200 fetches are under way, so a slow start of the
# clients on a loaded machine cannot let early blocks finish before the signal; SIGCONT follows
# once the listeners are seen closed, and limit_rate keeps every fetch going for about 2 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disklib.sh"

# blocks DIR N SIZE SEED: lib.sh's gen_blocks checks each block with a process of its own,
# seconds for 200 blocks on a busy machine; this makes them in one and checks them in one.
blocks() {
    "$PY" "$IT_HELP" gen-blocks "$1" "$2" "$3" "$4" || fail "gen-blocks $*"
    check_eq "$(cd "$1" && keys_of . | xargs sha256sum -- | awk '$1 == $2' | wc -l)" "$2" \
        "blocks in $1 whose SHA-256 is their name"
}

N=100 # per protocol
blocks "$T/blocks" $((2 * N)) 64k 6301
mapfile -t KEYS < <(keys_of "$T/blocks")
H2_KEYS=("${KEYS[@]:0:N}")
H1_KEYS=("${KEYS[@]:N:N}")
# BIG, for a slow HTTP/2 reader, is served at full speed (it is fetched before the signal).
blocks "$T/big" 1 2m 6302
BIG=$(keys_of "$T/big")
mv "$T/big/$BIG" "$T/blocks/$BIG"
start_nginx_origin "$T/blocks" origin 'limit_rate 32k; if ($uri ~ '"$BIG"') { set $limit_rate 0; }'

HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
mkdir -p "$T/disk" "$T/h1"
CONF_DISK_SIZE=128m
CONF_DISK_SEGMENT_SIZE=32m # one segment: one fdatasync at the exit, none during the drain
CONF="shutdown_timeout 8s;
$(disk_conf "$ORIGIN_URL" "$T/disk" | sed "s|^\\(    listen 127.0.0.1:$HTTP_PORT;\\)\$|\\1\\n    access_log $T/access.log;|")"
start_blockedge "$CONF"
wait_disk_ready
check_eq "$(http_get "$BE_URL/blocks/$(printf '0%.0s' {1..63})x")" 400 "a bad key from the server we started"
check_eq "$(http_get "$BE_URL/blocks/$BIG")" 200 "GET of BIG"
check_eq "$(sha_of "$T/last.body")" "$BIG" "body of BIG"

# refused PORT...: for each port in turn, wait (<= 3 s) until a connect to it is refused, then
# check that five more attempts are refused too. Prints how many attempts got through before
# the first refusal, per port. One process for all: on a busy machine each start costs.
refused() {
    "$PY" - "$(ms_bound 3000)" "$@" <<'PYEOF'
import socket, sys, time
bound = int(sys.argv[1]) / 1000

def attempt(port):
    """True when the connect is refused; an accepted or hanging connect is not."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        pass
    return False

counts = []
for port in map(int, sys.argv[2:]):
    deadline, accepted = time.monotonic() + bound, 0
    while not attempt(port):
        accepted += 1
        if time.monotonic() > deadline:
            sys.exit(f"port {port}: still accepting connections {bound} s after the signal")
        time.sleep(0.01)
    for i in range(5):
        if not attempt(port):
            sys.exit(f"port {port}: refused once, then accepted a connection again")
    counts.append(str(accepted))
print(" ".join(counts))
PYEOF
}

# h2_report FILE: what nghttp -v printed (frames interleaved with the bodies it writes to
# stdout: each DATA frame's bytes come just before its "recv DATA frame <length=N..." line)
# as one line: streams opened, streams ended, bodies whose SHA-256 is the key of their :path,
# 200 answers, the highest stream id, the GOAWAY's last_stream_id and error code, and
# whether the GOAWAY came before the first response. A wrong parse cannot pass: the digests
# would not match.
h2_report() {
    "$PY" - "$1" <<'PYEOF'
import hashlib, re, sys
out = open(sys.argv[1], "rb").read()
sent = re.compile(rb"send HEADERS frame <[^>]*stream_id=(\d+)>\n((?:[ \t].*\n)*)")
path = re.compile(rb"^\s+:path: /blocks/([0-9a-f]{64})$", re.M)
data = re.compile(rb"\[ *[0-9.]+\] recv DATA frame <length=(\d+), flags=0x([0-9a-f]+), stream_id=(\d+)>\n")
status = re.compile(rb"recv \(stream_id=(\d+)\) :status: (\d+)\n")
goaway = re.compile(rb"recv GOAWAY frame <[^>]*>\n\s+\(last_stream_id=(\d+), error_code=([A-Z_]+)")
keys = {}
for m in sent.finditer(out):
    p = path.search(m.group(2))
    if p:
        keys[int(m.group(1))] = p.group(1).decode()
bodies, ended = {}, set()
for m in data.finditer(out):
    n, sid = int(m.group(1)), int(m.group(3))
    bodies.setdefault(sid, []).append(out[m.start() - n:m.start()])
    if int(m.group(2), 16) & 1:
        ended.add(sid)
whole = sum(hashlib.sha256(b"".join(bodies.get(s, []))).hexdigest() == k for s, k in keys.items())
ok200 = sum(m.group(2) == b"200" for m in status.finditer(out) if int(m.group(1)) in keys)
g = goaway.search(out)
if g is None or not keys:
    sys.exit(f"no GOAWAY or no request in nghttp's output ({len(keys)} requests)")
first = status.search(out)
before = "yes" if first is None or g.start() < first.start() else "no"
print(len(keys), len(ended & keys.keys()), whole, ok200, max(keys), int(g.group(1)),
      g.group(2).decode(), before)
PYEOF
}

# --- 200 requests in flight: the origin is stopped, so each waits on its fetch.
kill -STOP "$ORIGIN_PID"
urls() {
    local k
    for k in "$@"; do echo "$BE_URL/blocks/$k"; done
}
timeout 40 nghttp -v $(urls "${H2_KEYS[@]}") >"$T/h2.out" 2>"$T/h2.err" &
H2_PID=$!
timeout 40 curl -s --http1.1 --parallel --parallel-immediate --parallel-max "$N" \
    --output-dir "$T/h1" --remote-name-all \
    -w '%{http_code} %header{connection} %{url_effective}\n' $(urls "${H1_KEYS[@]}") \
    >"$T/h1.out" 2>"$T/h1.err" &
H1_PID=$!
IT_LOGS+=("$T/h2.err" "$T/h1.err")
v=$(wait_metric blockedge_inflight_fetches $((2 * N)) "$(ms_bound 20)")
check_eq "$v" $((2 * N)) "origin fetches under way before the signal"
check_eq "$(metric blockedge_connections_open)" $((N + 1)) "client connections open before the signal"
check_eq "$(metric 'blockedge_http_requests_total{proto="h2",code="200"}')" 0 "h2 answers before the signal"
# ... and a slow HTTP/2 reader of BIG (a hit), mid-transfer when the signal comes.
"$PY" "$IT_DIR/slowh2.py" "$BE_PORT" "$BIG" 1000000 "$T/slow.progress" >"$T/slow.out" 2>"$T/slow.err" &
SLOW_PID=$!
IT_LOGS+=("$T/slow.err")
for ((i = 0; i < 100; i++)); do
    [ -s "$T/slow.progress" ] && break
    sleep 0.05
done
[ -s "$T/slow.progress" ] || fail "the slow HTTP/2 reader got no data in 5 s"
# ... and an HTTP/1.1 client that has sent half of its request head (its local port goes to
# $T/half.port); the rest follows once the drain has begun ($T/go). Prints the status, the
# Connection header and whether the body is BIG.
"$PY" - "$BE_PORT" "$BIG" "$T/go" "$T/half.port" >"$T/half.out" 2>"$T/half.err" <<'PYEOF' &
import hashlib, os, sys, time
sys.path.insert(0, os.environ["IT_DIR"])
import ithelp
port, key, go, mark = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = ithelp.connect(port)
s.sendall(f"GET /blocks/{key} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
with open(mark + ".tmp", "w") as f:
    f.write(f"{s.getsockname()[1]}\n")
os.rename(mark + ".tmp", mark)
deadline = time.monotonic() + 30
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.01)
try:
    s.sendall(b"\r\n")
    resps, _, how = ithelp.read_responses(s, ["GET"], 20)
except OSError as e:
    resps, how = [], f"error {e}"
if len(resps) != 1:
    print(f"no answer ({how})")
else:
    r = resps[0]
    print(r.status, r.header("connection"), hashlib.sha256(r.body).hexdigest() == key)
PYEOF
HALF_PID=$!
IT_LOGS+=("$T/half.err")
# The server must have read those bytes (its socket's Recv-Q is empty) before the signal, or
# the connection is one with nothing read yet, which a drain closes at once.
for ((i = 0; i < 100; i++)); do
    [ -s "$T/half.port" ] &&
        [ "$(ss -Htn state established "( sport = :$BE_PORT and dport = :$(cat "$T/half.port") )" |
            awk '{print $1}')" = 0 ] && break
    sleep 0.05
done
[ "$i" -lt 100 ] || fail "the server did not read the half-sent head in 5 s"

# --- SIGTERM: listeners close at once, then the origin goes on.
t0=$(now_ms)
kill -TERM "$BE_PID"
got=$(refused "$BE_PORT" "$ADMIN_PORT") || fail "a port still accepts after SIGTERM: $got"
touch "$T/go"
kill -CONT "$ORIGIN_PID"
log "client and admin ports refused after ${got/ / and } accepted attempt(s), the origin" \
    "resumed $(($(now_ms) - t0)) ms after SIGTERM"

# Until the exit, note when the last client connection is gone (ss: none established on the
# port), so a slow exit tells the drain from the teardown after it.
bound=$(ms_bound 8000)
closed_at=""
while kill -0 "$BE_PID" 2>/dev/null && [ $(($(now_ms) - t0)) -lt $((bound + 5000)) ]; do
    if [ -z "$closed_at" ] && [ -z "$(ss -Htn state established "( sport = :$BE_PORT )")" ]; then
        closed_at=$(($(now_ms) - t0))
    fi
    sleep 0.05
done
el=$(($(now_ms) - t0))
kill -0 "$BE_PID" 2>/dev/null && fail "blockedge still runs ${el} ms after SIGTERM (shutdown_timeout 8s)"
wait "$BE_PID"
rc=$?
log "drained and exited in ${el} ms (status $rc; the last client connection closed after" \
    "${closed_at:-$el} ms)"
check_eq "$rc" 0 "exit status after SIGTERM"
if grep -q "still open after the grace period" "$BE_ERRLOG"; then
    fail "connections were cut at shutdown_timeout instead of finishing: $(grep -c . "$T/h1.out") curl transfers, slow reader: $(cat "$T/slow.progress"), ss before the exit: closed after ${closed_at:-never} ms"
fi
check_num "$el" -lt "$bound" "ms from SIGTERM to exit (shutdown_timeout 8s; the last client connection closed after ${closed_at:-$el} ms)"
check_contains "$BE_ERRLOG" "signal 15 received, finishing requests and exiting" "error log"
grep -qE '#0: exiting$' "$BE_ERRLOG" || fail "no final \"exiting\" line in the error log"

# --- every response arrived whole.
wait "$H2_PID"
h2rc=$?
wait "$H1_PID"
h1rc=$?
check_eq "$h1rc" 0 "curl's exit status"
check_eq "$h2rc" 0 "nghttp's exit status"
h2_report "$T/h2.out" >"$T/h2.report" || fail "nghttp's output: $(cat "$T/h2.report")"
read -r streams ended whole ok200 last goaway_last goaway_code goaway_first <"$T/h2.report"
check_eq "$streams" "$N" "h2 streams nghttp opened"
check_eq "$goaway_code" NO_ERROR "error code of the GOAWAY nghttp received"
check_eq "$goaway_last" "$last" "last_stream_id of the GOAWAY (the highest stream nghttp opened)"
check_eq "$goaway_first" yes "GOAWAY came before the first response"
check_eq "$ok200" "$N" "h2 streams answered 200"
check_eq "$ended" "$N" "h2 streams ended with END_STREAM"
check_eq "$whole" "$N" "h2 bodies whose SHA-256 is their name"
check_eq "$(wc -l <"$T/h1.out")" "$N" "curl transfers"
check_eq "$(awk '$1 == 200 && $2 == "close"' "$T/h1.out" | wc -l)" "$N" \
    "HTTP/1.1 answers 200 with Connection: close: $(awk '$1 != 200 || $2 != "close"' "$T/h1.out" | head -n 3)"
# (one sha256sum for every body: each file is named by its key)
check_eq "$(cd "$T/h1" && sha256sum -- * | awk '$1 == $2' | wc -l)" "$N" "HTTP/1.1 bodies whose SHA-256 is their name"
log "$N h2 streams after GOAWAY and $N HTTP/1.1 responses with Connection: close, all whole"
wait "$HALF_PID"
check_eq "$(cat "$T/half.out")" "200 close True" \
    "a request whose head was half sent at the signal (status, Connection, body)"
# The slow reader: the server wrote its last byte long before the reader took it, and the
# reader's WINDOW_UPDATEs kept coming: without a lingering close its kernel resets the
# connection and the tail of the block is lost.
wait "$SLOW_PID" || fail "slowh2.py failed: $(cat "$T/slow.err")"
check_eq "$(cat "$T/slow.out")" "200 $(size_of "$T/blocks" "$BIG") yes yes 1 NO_ERROR eof" \
    "the slow HTTP/2 reader (status, bytes, whole, END_STREAM, GOAWAY last id and code, end)"

# --- the logs were flushed: one access-log line per request.
printf '%s\n' "${KEYS[@]}" >"$T/keys.all"
check_eq "$(grep -oE 'GET /blocks/[0-9a-f]{64} HTTP/[12][.0-9]*" 200 ' "$T/access.log" | cut -c13-76 |
    sort | uniq -c | awk '$1 == 1 {print $2}' | sort | comm -12 - <(sort "$T/keys.all") | wc -l)" \
    $((2 * N)) "keys with exactly one access-log line (200)"

# --- the fills of the drain reached the disk: a restart finds them all.
kill -STOP "$ORIGIN_PID" # a miss now would hang, not pass
start_blockedge "$CONF" be2
wait_disk_ready
check_eq "$(metric 'blockedge_cache_blocks{tier="disk"}')" $((2 * N + 1)) "blocks on disk after the restart"
if grep -q "torn tail" "$BE_ERRLOG"; then
    fail "the open segment had a torn tail after a drain"
fi
check_eq "$(CURL_MAX_TIME=5 http_get "$BE_URL/blocks/${KEYS[0]}")" 200 "a block after the restart"
check_eq "$(hdr X-Cache)" HIT-DISK "X-Cache after the restart"
check_eq "$(sha_of "$T/last.body")" "${KEYS[0]}" "body after the restart"
signal_and_wait "$BE_PID" TERM "$(ms_bound 10)"
check_eq "$SIG_RC" 0 "exit status of the restarted node"
kill -CONT "$ORIGIN_PID"

# --- SIGQUIT with a request that never ends: cut at shutdown_timeout, exit 0.
start_stall_origin stall
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "shutdown_timeout 2s;
$(be_conf "$STALL_URL" be3)" be3
STUCK=$(printf 'a%.0s' {1..64})
curl -s --max-time 30 -o /dev/null -w '%{http_code}' "$BE_URL/blocks/$STUCK" >"$T/stuck.out" 2>&1 &
STUCK_PID=$!
check_eq "$(wait_metric blockedge_inflight_fetches 1 "$(ms_bound 10)")" 1 "the stuck fetch under way"
t0=$(now_ms)
signal_and_wait "$BE_PID" QUIT "$(ms_bound 10)"
el=$(($(now_ms) - t0))
log "SIGQUIT with a stuck request: exited in ${el} ms (status $SIG_RC)"
check_eq "$SIG_RC" 0 "exit status after SIGQUIT"
check_num "$el" -ge 2000 "ms from SIGQUIT to exit (not before shutdown_timeout 2s)"
check_num "$el" -lt $((2000 + $(ms_bound 3000))) "ms from SIGQUIT to exit (soon after shutdown_timeout 2s)"
check_contains "$BE_ERRLOG" "signal 3 received" "error log after SIGQUIT"
check_contains "$BE_ERRLOG" "still open after the grace period" "error log after SIGQUIT"
wait "$STUCK_PID"
check_eq "$(cat "$T/stuck.out")" 000 "the stuck request got no answer"

# --- drain_delay: after SIGTERM /healthz answers 503 "draining" while blocks are still served
# (a load balancer's check takes the node out first), then the drain, then exit 0.
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "drain_delay 1500ms;
$(be_conf "$ORIGIN_URL" be4)" be4
check_eq "$(http_get "$BE_URL/blocks/${KEYS[0]}")" 200 "a block before the stop"
t0=$(now_ms)
kill -TERM "$BE_PID"
sleep 0.3
check_eq "$(http_get "$BE_ADMIN/healthz")" 503 "/healthz during drain_delay"
check_eq "$(cat "$T/last.body")" draining "/healthz body during drain_delay"
check_eq "$(http_get "$BE_URL/blocks/${KEYS[0]}")" 200 "a block during drain_delay"
check_eq "$(hdr X-Cache)" HIT-MEMORY "X-Cache during drain_delay"
signal_and_wait "$BE_PID" CONT "$(ms_bound 10)"
el=$(($(now_ms) - t0))
log "drain_delay 1500ms: /healthz said 503 draining, blocks served, exited after ${el} ms"
check_eq "$SIG_RC" 0 "exit status after drain_delay"
check_num "$el" -ge 1500 "ms from SIGTERM to exit (not before drain_delay)"
check_contains "$BE_ERRLOG" "answers 503 for drain_delay 1500 ms" "error log at the stop"

log "ok"
