#!/usr/bin/env bash
# 67_fd_exhaustion: at the open-files limit the node neither spins nor floods its log, and it
# keeps descriptors for itself. blockedge runs under `ulimit -n 512` with max_connections 2000
# and 1000 idle clients connect, twice:
#  - as started: blockedge takes the limit into account (at most 256 client connections, said
#    at start-up), closes the connections past it at once with one log line per interval, and
#    its admin listener still answers;
#  - with 420 of its 512 descriptors taken before it starts (so accept() does fail with EMFILE):
#    each worker stops accepting for a moment instead of retrying at once.
# Both times blockedge's CPU over 3 s (from /proc) stays low, the error log grows by a handful
# of lines, and once the idle clients leave a fresh client is served.
source "$(dirname "$0")/lib.sh"

gen_blocks "$T/blocks" 1 4k 6701
K=$(keys_of "$T/blocks" | head -1)
REAL=$BLOCKEDGE

# cpu_ticks PID: user + system clock ticks so far.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# The idle clients: 1000 non-blocking connects, nothing sent, held until $T/release exists.
cat >"$T/hold.py" <<'EOF'
import os, socket, sys, time
port, release, held = int(sys.argv[1]), sys.argv[2], sys.argv[3]
socks = []
for _ in range(1000):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
    socks.append(s)
open(held, "w").close()
end = time.monotonic() + 60
while not os.path.exists(release) and time.monotonic() < end:
    time.sleep(0.05)
for s in socks:
    s.close()
EOF

# run_case NAME STOLEN: blockedge under ulimit -n 512 with STOLEN descriptors open before it
# starts, 1000 idle clients, and the checks above.
run_case() {
    local name=$1 stolen=$2 i
    HTTP_PORT=$(free_port)
    ADMIN_PORT=$(free_port)
    # (python opens them: bash's own allocator breaks on hundreds of "exec N<" under a
    # small limit)
    {
        printf '#!/bin/sh\nulimit -n 512 || exit 99\n'
        printf 'exec "%s" -c "import os, sys\n' "$PY"
        printf 'for _ in range(%d): os.set_inheritable(os.open(\\"/dev/null\\", os.O_RDONLY), True)\n' "$stolen"
        printf 'os.execv(sys.argv[1], sys.argv[1:])" "%s" "$@"\n' "$REAL"
    } >"$T/limited.$name.sh"
    chmod +x "$T/limited.$name.sh"
    BLOCKEDGE=$T/limited.$name.sh
    start_blockedge "$(be_conf "file://$T/blocks/" "$name" |
        sed "s|^    listen 127.0.0.1:$HTTP_PORT;\$|&\\n    max_connections 2000;|")" "$name"
    local errlog=$T/$name.error.log
    check_contains "$errlog" "at most 256 client connections are accepted" \
        "$name: start-up names the ceiling"
    check_eq "$(http_get "$BE_URL/blocks/$K")" 200 "$name: GET before the flood"

    rm -f "$T/release" "$T/held"
    "$PY" "$T/hold.py" "$BE_PORT" "$T/release" "$T/held" &
    local holder=$!
    track "$holder"
    for ((i = 0; i < $(ms_bound 100); i++)); do
        [ -e "$T/held" ] && break
        sleep 0.1
    done
    [ -e "$T/held" ] || fail "$name: the idle clients did not connect"
    sleep 1
    local lines0 t0 t1 lines1 hz cpu growth
    lines0=$(wc -l <"$errlog")
    t0=$(cpu_ticks "$BE_PID")
    sleep 3
    t1=$(cpu_ticks "$BE_PID")
    lines1=$(wc -l <"$errlog")
    hz=$(getconf CLK_TCK)
    cpu=$(((t1 - t0) * 100 / (3 * hz)))
    growth=$((lines1 - lines0))
    log "$name: blockedge used ${cpu}% of a core over 3 s at the limit; the error log grew by $growth lines"
    check_num "$cpu" -lt 50 "$name: CPU at the limit (a spinning accept uses 100% per worker)"
    check_num "$growth" -le 10 "$name: error log lines in 3 s at the limit"
    if [ "$stolen" = 0 ]; then # with descriptors to spare, the admin listener gets one
        check_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BE_ADMIN/healthz")" \
            200 "$name: admin /healthz at the limit"
    fi

    touch "$T/release"
    wait "$holder"
    local code=000
    for ((i = 0; i < $(ms_bound 50); i++)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BE_URL/blocks/$K")
        [ "$code" = 200 ] && break
        sleep 0.2
    done
    check_eq "$code" 200 "$name: a fresh client is served once the idle ones left"
}

run_case ceiling 0
check_contains "$T/ceiling.error.log" "new connections are closed at once" \
    "ceiling: the full table is logged"
check_num "$(grep -c 'new connections are closed at once' "$T/ceiling.error.log")" -le 4 \
    "ceiling: full-table lines (one per worker per interval)"
kill -TERM "$BE_PID"

run_case emfile 420
check_contains "$T/emfile.error.log" "accept() failed (24: Too many open files)" \
    "emfile: EMFILE is logged"
check_contains "$T/emfile.error.log" "accepting paused for 100 ms" "emfile: the pause is said"
check_num "$(grep -c 'Too many open files' "$T/emfile.error.log")" -le 6 \
    "emfile: EMFILE lines in the whole run"
log "ok"
