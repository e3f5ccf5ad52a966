#!/usr/bin/env bash
# 92_fault_sockets: socket faults cost only the connection they hit. blockedge listens on two
# ports and runs under the fault shim:
#   - on the second port, reads and writes of client sockets fail now and then with ECONNRESET,
#     more often with EAGAIN, and writes are cut to 4000 bytes;
#   - reads from the origin's sockets fail with ECONNRESET twice, then with EAGAIN now and then.
# A request whose origin fetch is reset gets a 502 (nothing is cached) and the next one the
# right bytes. Then 4 clients on each port ask for random blocks for 2 s: the clean port's
# clients all get 200 with the right bytes, the faulted port's get the right bytes or a cut
# connection, never a wrong byte. Each cut request is a connection closed as io_error, every
# accepted connection is closed, and the open connections come back to where they started.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disklib.sh"
source "$(dirname "$0")/faultlib.sh"

N=30
gen_blocks "$T/blocks" "$N" 16k-64k 9201
keys_of "$T/blocks" >"$T/keys"
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
FP=$(free_port) # the faulted port
CONF_HTTP_EXTRA="    listen 127.0.0.1:$FP;"
CONF_RETRIES=1
fault_launch "recv:rport=$ORIGIN_PORT:count=2:err=ECONNRESET;recv:rport=$ORIGIN_PORT:every=3:count=40:err=EAGAIN;read,readv:lport=$FP:after=10:every=29:err=ECONNRESET;read,readv:lport=$FP:every=4:err=EAGAIN;write,writev:lport=$FP:after=15:every=151:err=ECONNRESET;write,writev:lport=$FP:every=3:err=EAGAIN;write,writev:lport=$FP:short=4000"
start_blockedge "$(be_conf "$ORIGIN_URL")"
CLEAN_URL="http://127.0.0.1:$HTTP_PORT"
FAULTED_URL="http://127.0.0.1:$FP"
base=$(metric blockedge_connections_open)

# The origin's first two answers are reset: one attempt and its retry, so a 502.
K1=$(head -n 1 "$T/keys")
check_eq "$(http_get "$CLEAN_URL/blocks/$K1")" 502 "a fetch whose origin reads were reset"
check_eq "$(fault_count "^recv .* err=ECONNRESET")" 2 "origin resets injected"
check_eq "$(http_get "$CLEAN_URL/blocks/$K1")" 200 "the next request for the block"
check_eq "$(sha_of "$T/last.body")" "$K1" "its bytes"

"$PY" "$DISK_HELP" storm "$FAULTED_URL" "$T/keys" 2 4 "$T/faulted.out" 2>"$T/faulted.err" &
fpid=$!
"$PY" "$DISK_HELP" storm "$CLEAN_URL" "$T/keys" 2 4 "$T/clean.out" 2>"$T/clean.err"
crc=$?
wait "$fpid"
frc=$?
read -r fok fbad ferr <"$T/faulted.out" || fail "the faulted port's clients wrote nothing"
read -r cok cbad cerr <"$T/clean.out" || fail "the clean port's clients wrote nothing"
log "faulted port: $fok right, $fbad wrong, $ferr cut; clean port: $cok right, $cbad wrong, $cerr cut"
check_eq "$fbad" 0 "wrong bodies on the faulted port"
check_eq "$frc" 0 "faulted port's client exit status"
check_eq "$cbad" 0 "wrong bodies on the clean port"
check_eq "$crc" 0 "clean port's client exit status"
check_eq "$cerr" 0 "failed requests on the clean port"
check_num "$cok" -gt 50 "right answers on the clean port"
check_num "$fok" -gt 20 "right answers on the faulted port"
check_num "$ferr" -gt 0 "cut requests on the faulted port"

resets=$(fault_count "^(read|readv|write|writev) .* err=ECONNRESET")
log "client resets $resets, EAGAIN $(fault_count "^(read|readv|write|writev) .* err=EAGAIN"), short writes $(fault_count "short=4000"), origin EAGAIN $(fault_count "^recv .* err=EAGAIN")"
check_num "$resets" -gt 0 "client resets injected"
check_num "$(fault_count "^(read|readv) .* err=EAGAIN")" -gt 0 "client read EAGAIN injected"
check_num "$(fault_count "^(write|writev) .* err=EAGAIN")" -gt 0 "client write EAGAIN injected"
check_num "$(fault_count "short=4000")" -gt 0 "short writes injected"
check_num "$(fault_count "^recv .* err=EAGAIN")" -gt 0 "origin EAGAIN injected"
check_eq "$(wait_metric blockedge_connections_open "$base" 5)" "$base" "open connections back to the start"
scrape >"$T/end.prom"
ioerr=$(metric_in "$T/end.prom" 'blockedge_connections_closed_total{reason="io_error"}')
accepted=$(metric_in "$T/end.prom" blockedge_connections_accepted_total)
closed=$(awk '/^blockedge_connections_closed_total\{/ {s += $2} END {print s + 0}' "$T/end.prom")
log "connections: $accepted accepted, $closed closed, $ioerr as io_error"
# A reset the client saw cut its request; one that met a connection already closing (the
# client gone) does not show there, but still closes it.
check_num "$ioerr" -ge "$ferr" "connections closed as io_error (at least one per cut request)"
check_num "$ioerr" -le "$resets" "connections closed as io_error (at most one per reset)"
check_eq "$((accepted - closed))" "$base" "accepted minus closed connections"
check_eq "$(metric 'blockedge_http_requests_total{proto="http/1.1",code="502"}')" 1 "502 answers"
signal_and_wait "$BE_PID" TERM 15
check_eq "$SIG_RC" 0 "exit status after SIGTERM"
log "ok"
