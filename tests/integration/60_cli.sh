#!/usr/bin/env bash
# 60_cli: the command line. -t checks a config without binding anything and reports in nginx's
# words; a bad directive names file:line; -t refuses what start-up would (an error log it cannot
# open, a server URL with a bad host or port, unreadable or unbounded S3 credentials, start-up
# stops on /dev/zero credentials); -v, -h, -T print what they promise; an unknown option
# is a usage error; SIGTERM stops a running server with status 0 within 5 s; -t warns when
# max_connections does not fit the open-files limit.
source "$(dirname "$0")/lib.sh"

mkdir -p "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
GOOD="$T/good.conf"
be_conf "file://$T/blocks/" >"$GOOD"

# run NAME ARGS...: run blockedge (<= 10 s) with stdout+stderr in $T/NAME.out; sets RC.
run() {
    local name=$1
    shift
    timeout 10 "$BLOCKEDGE" "$@" >"$T/$name.out" 2>&1
    RC=$?
    IT_LOGS+=("$T/$name.out")
}

# --- -t on a good config.
run t-good -t -c "$GOOD"
check_eq "$RC" 0 "exit status of -t on a good config"
check_contains "$T/t-good.out" "blockedge: configuration file $GOOD test is successful" "-t output"

# --- -t on a config with an unknown directive on line 3.
BAD="$T/bad.conf"
cat >"$BAD" <<CONF
worker_threads 1;
cache {
    memroy_size 4m;
}
http { listen 127.0.0.1:$HTTP_PORT; }
admin { listen 127.0.0.1:$ADMIN_PORT; }
CONF
run t-bad -t -c "$BAD"
check_eq "$RC" 1 "exit status of -t on a bad config"
check_contains "$T/t-bad.out" "unknown directive \"memroy_size\" in $BAD:3" "-t error message"
check_contains "$T/t-bad.out" "test failed" "-t failure line"

# --- -t refuses what start-up would refuse (issue 15): an error log that cannot be opened, a
# server URL libcurl would not parse (file:line named), an s3_credentials_file that is not a
# regular file or is past 64 KiB; and start-up itself stops at once on /dev/zero instead of
# reading it forever. An error log that does not exist yet is fine, and -t does not create it.
# probe NAME ORIGIN_BODY [MAIN_LINE]: a config with the origin block's lines on line 5 on.
probe() {
    cat >"$T/$1.conf" <<CONF
worker_threads 1;
${3:-error_log stderr;}
http { listen 127.0.0.1:$HTTP_PORT; }
origin {
    $2
}
admin { listen 127.0.0.1:$ADMIN_PORT; }
CONF
}
probe errlog "server file://$T/blocks/;" "error_log $T/nonexistent/x.log;"
run t-errlog -t -c "$T/errlog.conf"
check_eq "$RC" 1 "exit status of -t with error_log in a missing directory"
check_contains "$T/t-errlog.out" "open() \"$T/nonexistent/x.log\" failed (2: No such file or directory)" \
    "-t names the error log it cannot open"
probe newlog "server file://$T/blocks/;" "error_log $T/new.log;"
run t-newlog -t -c "$T/newlog.conf"
check_eq "$RC" 0 "exit status of -t with an error log not created yet"
[ -e "$T/new.log" ] && fail "-t created the error log"
for url in 'http://[::1/' 'http://[::1]x/' 'http://[zz::1]/' 'http://h:99999/' 'http://h:0/' \
    'http://h:/' 'http://h:8o/' 'http://h^/'; do
    probe url "server $url;"
    run t-url -t -c "$T/url.conf"
    check_eq "$RC" 1 "exit status of -t with server $url"
    check_contains "$T/t-url.out" "invalid URL \"$url\" in \"server\" directive" "-t error for $url"
    check_contains "$T/t-url.out" "in $T/url.conf:5" "-t names file:line for $url"
done
for url in 'http://[::1]:8080/' 'http://[fe80::1%25eth0]/' 'https://u:p@h.example/p/' 'http://10.0.0.1:65535/'; do
    probe url "server $url;"
    run t-url -t -c "$T/url.conf"
    check_eq "$RC" 0 "exit status of -t with server $url"
done
probe s3zero "server s3://bucket/; s3_credentials_file /dev/zero;"
run t-s3zero -t -c "$T/s3zero.conf"
check_eq "$RC" 1 "exit status of -t with s3_credentials_file /dev/zero"
check_contains "$T/t-s3zero.out" "s3_credentials_file \"/dev/zero\" is not a regular file" "-t /dev/zero"
head -c 70000 /dev/zero | tr '\0' '#' >"$T/big.cred"
probe s3big "server s3://bucket/; s3_credentials_file $T/big.cred;"
run t-s3big -t -c "$T/s3big.conf"
check_eq "$RC" 1 "exit status of -t with a 70000-byte s3_credentials_file"
check_contains "$T/t-s3big.out" "is larger than 65536 bytes" "-t names the bound"
printf '[default]\naws_access_key_id = AKID\n' >"$T/half.cred"
probe s3half "server s3://bucket/; s3_credentials_file $T/half.cred;"
run t-s3half -t -c "$T/s3half.conf"
check_eq "$RC" 1 "exit status of -t with credentials lacking the secret"
check_contains "$T/t-s3half.out" "no aws_access_key_id and aws_secret_access_key" "-t half credentials"
run start-s3zero -c "$T/s3zero.conf"
check_eq "$RC" 1 "exit status of start-up with s3_credentials_file /dev/zero (not 124: no spin)"
check_contains "$T/start-s3zero.out" "is not a regular file" "start-up error for /dev/zero"

# --- -t binds nothing: it succeeds while another process holds both listen ports.
"$PY" - "$HTTP_PORT" "$ADMIN_PORT" "$T/holder.ready" <<'PYEOF' &
import socket, sys, time
socks = []
for p in sys.argv[1:3]:
    s = socket.socket()
    s.bind(("127.0.0.1", int(p)))
    s.listen(8)
    socks.append(s)
open(sys.argv[3], "w").close()
time.sleep(60)
PYEOF
HOLDER=$!
track "$HOLDER"
for ((i = 0; i < 50; i++)); do
    [ -e "$T/holder.ready" ] && break
    sleep 0.1
done
[ -e "$T/holder.ready" ] || fail "could not occupy the listen ports"
run t-busy -t -c "$GOOD"
check_eq "$RC" 0 "exit status of -t while the listen ports are taken"
check_contains "$T/t-busy.out" "test is successful" "-t output while the ports are taken"
kill -TERM "$HOLDER"
wait "$HOLDER" 2>/dev/null

# --- -v, -h, -T, and an unknown option.
run v -v
check_eq "$RC" 0 "exit status of -v"
grep -qiE 'blockedge.*[0-9]+\.[0-9]+' "$T/v.out" || fail "-v prints no version line: $(cat "$T/v.out")"

run h -h
check_eq "$RC" 0 "exit status of -h"
grep -qi 'usage' "$T/h.out" || fail "-h prints no usage: $(cat "$T/h.out")"
check_contains "$T/h.out" "-c" "-h mentions -c"
check_contains "$T/h.out" "-t" "-h mentions -t"

run T -T
check_eq "$RC" 0 "exit status of -T"
for d in memory_size max_block_size worker_threads listen read_timeout; do
    grep -qw "$d" "$T/T.out" || fail "-T does not list $d"
done

run bad-opt -Z
[ "$RC" = 1 ] || [ "$RC" = 2 ] || fail "exit status of an unknown option: expected 1 or 2, got $RC"
grep -qi 'usage' "$T/bad-opt.out" || fail "an unknown option prints no usage: $(cat "$T/bad-opt.out")"

# --- SIGTERM stops a running server with status 0.
start_blockedge "$(cat "$GOOD")"
check_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BE_ADMIN/healthz")" 200 \
    "healthz before SIGTERM"
t0=$(now_ms)
signal_and_wait "$BE_PID" TERM 5
check_eq "$SIG_RC" 0 "exit status after SIGTERM (within 5 s)"
log "SIGTERM: exited in $(($(now_ms) - t0)) ms"
# --- -t warns when max_connections plus the node's own descriptors pass the open-files limit
# (10000 by default, under ulimit -n 1024), and says nothing when they fit (ulimit -n 16384).
(ulimit -n 1024 && exec timeout 10 "$BLOCKEDGE" -t -c "$GOOD") >"$T/t-fdlow.out" 2>&1
check_eq "$?" 0 "exit status of -t under ulimit -n 1024 (a warning, not an error)"
check_contains "$T/t-fdlow.out" "[warn] max_connections 10000 plus about" "-t fd limit warning"
check_contains "$T/t-fdlow.out" "open files limit 1024 (ulimit -n)" "-t names the limit"
(ulimit -n 16384 && exec timeout 10 "$BLOCKEDGE" -t -c "$GOOD") >"$T/t-fdok.out" 2>&1
check_eq "$?" 0 "exit status of -t under ulimit -n 16384"
grep -qF '[warn]' "$T/t-fdok.out" && fail "-t warned although max_connections fits the limit"

log "ok"
