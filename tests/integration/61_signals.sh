#!/usr/bin/env bash
# 61_signals: blockedge -s NAME signals the process named by the config's pid file, as nginx -s:
# reopen makes it reopen its logs, stop drains it and it exits 0 and removes the pid file; a
# missing pid file, a stale pid, a pid file that holds no number and an unknown name are clear
# errors (exit 1, or 2 for the usage error), never a signal sent elsewhere.
source "$(dirname "$0")/lib.sh"

mkdir -p "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
PIDFILE="$T/be.pid"
CONF_TEXT="pid $PIDFILE;
$(be_conf "file://$T/blocks/")"

# run NAME ARGS...: run blockedge (<= 10 s) with stdout+stderr in $T/NAME.out; sets RC.
run() {
    local name=$1
    shift
    timeout 10 "$BLOCKEDGE" "$@" >"$T/$name.out" 2>&1
    RC=$?
    IT_LOGS+=("$T/$name.out")
}

# --- before the server runs: no pid file is an error naming the file.
printf '%s\n' "$CONF_TEXT" >"$T/pre.conf"
run nofile -s reopen -c "$T/pre.conf"
check_eq "$RC" 1 "exit status of -s without a pid file"
check_contains "$T/nofile.out" "open() \"$PIDFILE\" failed (2: No such file or directory)" \
    "-s without a pid file"

# --- an unknown signal name is a usage error.
run bogus -s restart -c "$T/pre.conf"
check_eq "$RC" 2 "exit status of -s restart"
check_contains "$T/bogus.out" 'invalid option: "-s restart"' "-s with an unknown name"

# --- a pid file that holds no number.
echo "not-a-pid" >"$PIDFILE"
run badpid -s reopen -c "$T/pre.conf"
check_eq "$RC" 1 "exit status of -s with a garbage pid file"
check_contains "$T/badpid.out" "invalid PID number \"not-a-pid\" in \"$PIDFILE\"" "garbage pid file"
rm -f "$PIDFILE"

# --- the running server.
start_blockedge "$CONF_TEXT" be
check_eq "$(cat "$PIDFILE")" "$BE_PID" "pid file names the server"

run reopen -s reopen -c "$BE_CONF"
check_eq "$RC" 0 "exit status of -s reopen"
for ((i = 0; i < 50; i++)); do
    grep -qF 'logs reopened' "$BE_ERRLOG" && break
    sleep 0.1
done
check_contains "$BE_ERRLOG" "logs reopened" "error log after -s reopen"

run reload -s reload -c "$BE_CONF"
check_eq "$RC" 0 "exit status of -s reload"
for ((i = 0; i < 50; i++)); do
    grep -qF 'SIGHUP' "$BE_ERRLOG" && break
    sleep 0.1
done
check_contains "$BE_ERRLOG" "SIGHUP" "the server saw -s reload"
kill -0 "$BE_PID" 2>/dev/null || fail "the server exited after -s reload"

t0=$(now_ms)
run stop -s stop -c "$BE_CONF"
check_eq "$RC" 0 "exit status of -s stop"
SIG_RC=124
for ((i = 0; i < 50; i++)); do
    if ! kill -0 "$BE_PID" 2>/dev/null; then
        wait "$BE_PID"
        SIG_RC=$?
        break
    fi
    sleep 0.1
done
check_eq "$SIG_RC" 0 "the server's exit status after -s stop (within 5 s)"
log "-s stop: exited in $(($(now_ms) - t0)) ms"
[ ! -e "$PIDFILE" ] || fail "the pid file is still there after -s stop"

# --- a stale pid file (the process is gone): kill() fails and says so.
sleep 60 &
GONE=$!
kill -KILL "$GONE"
wait "$GONE" 2>/dev/null
echo "$GONE" >"$PIDFILE"
run stale -s stop -c "$BE_CONF"
check_eq "$RC" 1 "exit status of -s with a stale pid"
check_contains "$T/stale.out" "kill($GONE, 15) failed (3: No such process)" "stale pid"

log "ok"
