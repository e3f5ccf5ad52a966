#!/usr/bin/env bash
# 64_systemd: blockedge under a service manager. A Python AF_UNIX datagram socket stands in for
# systemd's $NOTIFY_SOCKET (a path, then an abstract "@" name): the first message is READY=1
# with MAINPID, sent only once the listeners answer (at its arrival a request on the client port
# gets its 400, /healthz its 200), and SIGTERM brings STOPPING=1 before the exit (status 0); an
# unreachable NOTIFY_SOCKET is logged and changes nothing else. conf/blockedge.service and
# conf/blockedge.socket pass "systemd-analyze verify" (ExecStart pointed at the built binary in a
# copy) without a single warning, and carry what the drain and the hardening need; the socket's
# ListenStream is the sample config's listen address, and a node started the way systemd
# activates it (the socket at descriptor 3, LISTEN_FDS, LISTEN_PID) serves on that very
# socket. conf/logrotate, pointed at this test's
# files, rotates the logs of a running node and its postrotate makes it reopen them.
source "$(dirname "$0")/lib.sh"

mkdir -p "$T/blocks"
UNITS="$BE_SOURCE_DIR/conf"

# receiver NAME OUT: a datagram socket bound at NAME ("/path" or "@abstract") that writes each
# message to OUT as one line (newlines shown as "|"). At READY=1 it first asks the client port
# for a bad key and the admin port for /healthz, and appends " http=STATUS admin=STATUS". Stops
# after STOPPING=1 or 60 s. NAME.bound appears once it listens.
receiver() {
    "$PY" - "$1" "$2" "$HTTP_PORT" "$ADMIN_PORT" "$T/$3.bound" <<'PYEOF' &
import socket, sys, time
name, out, http, admin, bound = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

def status(port, path):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
            c.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            line = c.makefile("rb").readline().decode("latin-1").split()
            return line[1] if len(line) > 1 else "none"
    except OSError as e:
        return type(e).__name__

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + name[1:] if name.startswith("@") else name)
open(bound, "w").close()
s.settimeout(1)
end = time.monotonic() + 60
with open(out, "a", buffering=1) as f:
    while time.monotonic() < end:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            continue
        extra = ""
        if "READY=1" in msg.split("\n"):
            extra = f" http={status(http, '/blocks/zz')} admin={status(admin, '/healthz')}"
        f.write(msg.replace("\n", "|") + extra + "\n")
        if "STOPPING=1" in msg.split("\n"):
            break
PYEOF
    track "$!"
    RECV_PID=$!
}

# notify_run NAME: a receiver at NAME, blockedge started with NOTIFY_SOCKET=NAME, then SIGTERM;
# checks the messages and the exit.
notify_run() {
    local name=$1 tag=$2 i
    HTTP_PORT=$(free_port)
    ADMIN_PORT=$(free_port)
    receiver "$name" "$T/$tag.msgs" "$tag"
    for ((i = 0; i < 100; i++)); do
        [ -e "$T/$tag.bound" ] && break
        sleep 0.05
    done
    [ -e "$T/$tag.bound" ] || fail "$tag: the notify receiver did not bind $name"
    export NOTIFY_SOCKET=$name
    start_blockedge "$(be_conf "file://$T/blocks/" "$tag")" "$tag"
    unset NOTIFY_SOCKET
    for ((i = 0; i < 100; i++)); do
        grep -q "READY=1" "$T/$tag.msgs" 2>/dev/null && break
        sleep 0.05
    done
    check_eq "$(head -n 1 "$T/$tag.msgs")" \
        "READY=1|MAINPID=$BE_PID|STATUS=serving http=400 admin=200" \
        "$tag: the first message, and what the ports answered when it came"
    signal_and_wait "$BE_PID" TERM "$(ms_bound 10)"
    check_eq "$SIG_RC" 0 "$tag: exit status after SIGTERM"
    wait "$RECV_PID"
    check_eq "$(cat "$T/$tag.msgs")" "READY=1|MAINPID=$BE_PID|STATUS=serving http=400 admin=200
STOPPING=1|STATUS=draining: finishing the requests in flight" "$tag: every message, in order"
    log "$tag: READY=1 with the ports answering, STOPPING=1 on SIGTERM"
}

notify_run "$T/notify.sock" path
notify_run "@blockedge-it-$$-$RANDOM" abstract

# --- nobody listens on NOTIFY_SOCKET: logged at warn, and the node serves and stops as usual.
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
export NOTIFY_SOCKET="$T/nobody.sock"
start_blockedge "$(be_conf "file://$T/blocks/" lost)" lost
unset NOTIFY_SOCKET
check_contains "$BE_ERRLOG" "[warn] $BE_PID#0: sendto() \"$T/nobody.sock\" failed (2: No such file or directory) while notifying the service manager" \
    "error log with an unreachable NOTIFY_SOCKET"
check_eq "$(http_get "$BE_URL/blocks/zz")" 400 "a request with an unreachable NOTIFY_SOCKET"
signal_and_wait "$BE_PID" TERM "$(ms_bound 10)"
check_eq "$SIG_RC" 0 "exit status with an unreachable NOTIFY_SOCKET"

# --- the unit files: what the drain, the notifications and the hardening rely on.
unit_value() { # unit_value FILE KEY: every value of KEY, one a line
    sed -n "s/^$2=//p" "$1"
}
SVC="$UNITS/blockedge.service"
SOCK="$UNITS/blockedge.socket"
check_eq "$(unit_value "$SVC" Type)" notify "Type="
check_eq "$(unit_value "$SVC" NotifyAccess)" all "NotifyAccess="
check_eq "$(unit_value "$SVC" ExecStart)" "/usr/sbin/blockedge -c /etc/blockedge/blockedge.conf" "ExecStart="
check_eq "$(unit_value "$SVC" ExecReload | tail -n 1)" '/bin/kill -HUP $MAINPID' "the last ExecReload="
check_eq "$(unit_value "$SVC" KillSignal)" SIGTERM "KillSignal= (SIGTERM drains)"
for kv in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes ProtectHome=yes \
    "ReadWritePaths=/var/cache/blockedge /var/log/blockedge" LimitNOFILE=65536 \
    User=blockedge RuntimeDirectory=blockedge LogsDirectory=blockedge CacheDirectory=blockedge; do
    grep -qxF "$kv" "$SVC" || fail "blockedge.service has no line \"$kv\""
done
stop=$(unit_value "$SVC" TimeoutStopSec)
check_num "${stop%s}" -gt 10 "TimeoutStopSec= (seconds) above the default shutdown_timeout 10s"
check_eq "$(unit_value "$SOCK" Service)" blockedge.service "Service= of the socket"
check_eq "$(unit_value "$SOCK" ReusePort)" yes "ReusePort= of the socket"
check_eq "$(unit_value "$SOCK" ListenStream)" \
    "$(conf_listen http "$(sed 's/#.*//' "$BE_SOURCE_DIR/conf/blockedge.conf")")" \
    "ListenStream= against the sample config's listen"

# systemd-analyze verify, on copies whose commands name the built binary (verify refuses a unit
# whose ExecStart= is not executable). It exits 0 on unknown keys and bad values too, only
# printing them: any output is a failure. A unit that cannot be wrong comes first: if verify
# fails on it, systemd-analyze cannot run here, and the test says so and falls back to a
# section/KEY=value syntax check (the contract lines above are checked either way).
mkdir -p "$T/units" "$T/control"
sed "s|/usr/sbin/blockedge|$BLOCKEDGE|g" "$SVC" >"$T/units/blockedge.service"
cp "$SOCK" "$T/units/blockedge.socket"
printf '[Unit]\nDescription=control\n[Service]\nExecStart=/bin/true\n' >"$T/control/control.service"
verify_in() { # verify_in DIR UNIT...: systemd-analyze verify there; output in $T/verify.out
    local dir=$1
    shift
    (cd "$dir" && systemd-analyze verify "$@") >"$T/verify.out" 2>&1 && [ ! -s "$T/verify.out" ]
}
if command -v systemd-analyze >/dev/null 2>&1 && verify_in "$T/control" ./control.service; then
    verify_in "$T/units" ./blockedge.service ./blockedge.socket ||
        fail "systemd-analyze verify: $(cat "$T/verify.out")"
    log "systemd-analyze verify: blockedge.service and blockedge.socket are clean"
else
    log "systemd-analyze cannot run here ($(head -c 300 "$T/verify.out" 2>/dev/null ||
        echo not installed)): the unit files are NOT verified by systemd, only by the" \
        "contract lines above and a section/KEY=value syntax check"
    for f in "$T/units/blockedge.service" "$T/units/blockedge.socket"; do
        bad=$(grep -vnE '^(#.*|\[(Unit|Service|Socket|Install)\]|[A-Za-z]+=.*|)$' "$f")
        [ -z "$bad" ] || fail "$(basename "$f"): lines that are not a section, KEY=value or comment: $bad"
    done
fi

# --- socket activation as blockedge.socket asks for it: a launcher binds the ListenStream=
# address (on a free port) with ReusePort= and Backlog= as systemd would, puts the socket at
# descriptor 3, sets LISTEN_FDS=1 and LISTEN_PID to its own pid and execs blockedge (so the
# pid is blockedge's). blockedge must serve on that very socket: descriptor 3 is still it
# after start-up, and it is the only socket listening on the port (no worker bound its own).
stream=$(unit_value "$SOCK" ListenStream)
check_eq "$(unit_value "$SOCK" Backlog)" 511 "Backlog= of the socket"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
printf '%s\n' "$(be_conf "file://$T/blocks/" act | sed "s|listen 127.0.0.1:$HTTP_PORT;|listen ${stream%:*}:$HTTP_PORT;|")" >"$T/act.conf"
grep -q "listen ${stream%:*}:$HTTP_PORT;" "$T/act.conf" || fail "the activated node's listen line"
"$PY" - "${stream%:*}" "$HTTP_PORT" "$(unit_value "$SOCK" Backlog)" "$T/act.inode" "$BLOCKEDGE" \
    "$T/act.conf" <<'PYEOF' >"$T/act.stdout" 2>"$T/act.stderr" &
import os, socket, sys
host, port, backlog, inode_file, binary, conf = sys.argv[1:7]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # ReusePort=yes
s.bind((host, int(port)))
s.listen(int(backlog))
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)  # (dup2 onto itself would leave it close-on-exec)
with open(inode_file, "w") as f:
    f.write(f"{os.fstat(3).st_ino}\n")
env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES="http")
os.execve(binary, [binary, "-c", conf], env)
PYEOF
BE_PID=$!
track "$BE_PID"
IT_LOGS+=("$T/act.stderr" "$T/act.error.log")
for ((i = 0; i < 100; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$ADMIN_PORT/healthz")" = 200 ] && break
    kill -0 "$BE_PID" 2>/dev/null || fail "the socket-activated blockedge exited at start-up"
    sleep 0.1
done
[ "$i" -lt 100 ] || fail "the socket-activated blockedge did not answer /healthz in 10 s"
check_eq "$(http_get "http://127.0.0.1:$HTTP_PORT/blocks/zz")" 400 "a request to the socket-activated node"
check_eq "$(readlink "/proc/$BE_PID/fd/3")" "socket:[$(cat "$T/act.inode")]" \
    "descriptor 3 of the socket-activated node (the socket it was handed)"
check_eq "$(ss -Hltn "( sport = :$HTTP_PORT )" | wc -l)" 1 "sockets listening on the activated port"
if grep -q "inherited descriptor" "$T/act.error.log"; then
    fail "the activated node refused its socket: $(grep "inherited descriptor" "$T/act.error.log")"
fi
signal_and_wait "$BE_PID" TERM "$(ms_bound 10)"
check_eq "$SIG_RC" 0 "exit status of the socket-activated node"
log "socket activation: blockedge served on the socket blockedge.socket describes"

# --- conf/logrotate against a running node: its paths moved under $T, and without "su" and
# the user in "create" (there is no blockedge user here).
mkdir -p "$T/logs" "$T/run"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "pid $T/run/blockedge.pid;
$(be_conf "file://$T/blocks/" rot | sed -e "s|^error_log .*|error_log $T/logs/error.log info;|" \
    -e "s|^\\(    listen 127.0.0.1:$HTTP_PORT;\\)\$|\\1\\n    access_log $T/logs/access.log;|")" rot
check_eq "$BE_ERRLOG" "$T/logs/error.log" "the rotated node's error log"
check_eq "$(http_get "$BE_URL/blocks/zz")" 400 "a request before the rotation"
for ((i = 0; i < 50; i++)); do
    grep -q '/blocks/zz' "$T/logs/access.log" 2>/dev/null && break
    sleep 0.1
done
check_contains "$T/logs/access.log" "GET /blocks/zz HTTP/1.1\" 400" "access log before the rotation"
sed -e "s|/var/log/blockedge|$T/logs|g" -e "s|/run/blockedge|$T/run|g" -e '/^ *su /d' \
    -e 's/^\( *create 0640\).*/\1/' "$UNITS/logrotate" >"$T/logrotate.conf"
grep -q "$T/logs/\\*.log" "$T/logrotate.conf" || fail "logrotate: the log path was not rewritten"
logrotate -f -s "$T/logrotate.state" "$T/logrotate.conf" >"$T/logrotate.out" 2>&1 ||
    fail "logrotate failed: $(cat "$T/logrotate.out")"
[ -s "$T/logs/access.log.1" ] && [ -s "$T/logs/error.log.1" ] ||
    fail "logrotate did not rotate: $(ls "$T/logs")"
for ((i = 0; i < 50; i++)); do
    grep -q 'logs reopened' "$T/logs/error.log" 2>/dev/null && break
    sleep 0.1
done
check_contains "$T/logs/error.log" "logs reopened" "the new error log after postrotate"
check_eq "$(http_get "$BE_URL/blocks/zy")" 400 "a request after the rotation"
for ((i = 0; i < 50; i++)); do
    grep -q '/blocks/zy' "$T/logs/access.log" 2>/dev/null && break
    sleep 0.1
done
check_contains "$T/logs/access.log" "GET /blocks/zy HTTP/1.1\" 400" "the new access log"
if grep -q '/blocks/zy' "$T/logs/access.log.1"; then
    fail "a request after the rotation went to the rotated access log"
fi
signal_and_wait "$BE_PID" TERM "$(ms_bound 10)"
check_eq "$SIG_RC" 0 "exit status of the rotated node"
log "logrotate: rotated, reopened on SIGUSR1 from postrotate"

log "ok"
