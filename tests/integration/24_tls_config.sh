#!/usr/bin/env bash
# 24_tls_config: the TLS configuration. `-t` loads the certificate and key and checks that they
# match: a key of another certificate -> exit 1 naming both files; a missing certificate or key
# file, or one that is not PEM -> exit 1 naming the file; "listen ... tls" without
# tls_certificate or tls_certificate_key -> exit 1; a good pair -> "test is successful". The
# server refuses to start on a mismatched pair. Running on a good pair it presents that
# certificate, speaks TLS 1.2 and 1.3 and refuses TLS 1.1; a client that never starts the
# handshake is dropped after client_header_timeout, and one that speaks plain HTTP is dropped
# at once (counted as tls_error) while the server goes on serving.
source "$(dirname "$0")/lib.sh"

make_cert good
make_cert other
echo "this is not a PEM file" >"$T/garbage.pem"

gen_blocks "$T/blocks" 1 8k 2401
KEY=$(keys_of "$T/blocks" | head -n 1)
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
TLS_PORT=$(free_port)

# conf NAME TLS_LINES: a config file $T/NAME.conf with a TLS listener before the plain one and
# TLS_LINES (the tls_certificate* directives) in the http block; prints its path.
conf() {
    local f="$T/$1.conf"
    be_conf "$ORIGIN_URL" "$1" |
        sed "s|^\\(    listen 127.0.0.1:$HTTP_PORT;\\)\$|    listen 127.0.0.1:$TLS_PORT tls;\\n\\1\\n$2|" |
        sed 's/^    client_header_timeout 60s;$/    client_header_timeout 2s;/' >"$f"
    grep -q "listen 127.0.0.1:$TLS_PORT tls;" "$f" || fail "conf $1: no TLS listener"
    echo "$f"
}
pair() {
    printf '    tls_certificate %s;\\n    tls_certificate_key %s;' "$1" "$2"
}

# check NAME CONF: blockedge -t -c CONF (<= 10 s); output in $T/NAME.out; sets RC.
check() {
    timeout 10 "$BLOCKEDGE" -t -c "$2" >"$T/$1.out" 2>&1
    RC=$?
    IT_LOGS+=("$T/$1.out")
}

# --- A good pair.
GOOD=$(conf good "$(pair "$T/good.crt" "$T/good.key")")
check t-good "$GOOD"
check_eq "$RC" 0 "-t with a matching certificate and key"
check_contains "$T/t-good.out" "configuration file $GOOD test is successful" "-t output (good pair)"

# --- The key of another certificate.
C=$(conf mismatch "$(pair "$T/good.crt" "$T/other.key")")
check t-mismatch "$C"
check_eq "$RC" 1 "-t with a key that does not match the certificate"
check_contains "$T/t-mismatch.out" "$T/other.key" "-t names the key (mismatch)"
check_contains "$T/t-mismatch.out" "test failed" "-t failure line (mismatch)"
# (That the message names the certificate too is checked at the end.)

# --- Missing files.
C=$(conf nocertfile "$(pair "$T/missing.crt" "$T/good.key")")
check t-nocertfile "$C"
check_eq "$RC" 1 "-t with a missing certificate file"
check_contains "$T/t-nocertfile.out" "$T/missing.crt" "-t names the missing certificate file"
C=$(conf nokeyfile "$(pair "$T/good.crt" "$T/missing.key")")
check t-nokeyfile "$C"
check_eq "$RC" 1 "-t with a missing key file"
check_contains "$T/t-nokeyfile.out" "$T/missing.key" "-t names the missing key file"

# --- Files that are not PEM.
C=$(conf garbagecert "$(pair "$T/garbage.pem" "$T/good.key")")
check t-garbagecert "$C"
check_eq "$RC" 1 "-t with a certificate file that is not PEM"
check_contains "$T/t-garbagecert.out" "$T/garbage.pem" "-t names the unreadable certificate"
C=$(conf garbagekey "$(pair "$T/good.crt" "$T/garbage.pem")")
check t-garbagekey "$C"
check_eq "$RC" 1 "-t with a key file that is not PEM"
check_contains "$T/t-garbagekey.out" "$T/garbage.pem" "-t names the unreadable key"

# --- "listen ... tls" without the directives.
C=$(conf nocert "    tls_certificate_key $T/good.key;")
check t-nocert "$C"
check_eq "$RC" 1 "-t with listen ... tls and no tls_certificate"
check_contains "$T/t-nocert.out" "tls_certificate" "-t names the missing directive"
C=$(conf nokey "    tls_certificate $T/good.crt;")
check t-nokey "$C"
check_eq "$RC" 1 "-t with listen ... tls and no tls_certificate_key"
check_contains "$T/t-nokey.out" "tls_certificate_key" "-t names the missing directive (key)"
C=$(conf none "")
check t-none "$C"
check_eq "$RC" 1 "-t with listen ... tls and neither directive"

# --- The server itself refuses to start on a mismatched pair.
timeout 10 "$BLOCKEDGE" -c "$T/mismatch.conf" >"$T/run-mismatch.out" 2>&1
check_eq "$?" 1 "exit status of blockedge on a mismatched pair"
check_contains "$T/run-mismatch.out" "$T/other.key" "start-up error names the key"
IT_LOGS+=("$T/run-mismatch.out")

# --- Running on the good pair.
start_blockedge "$(cat "$GOOD")" good
check_eq "$BE_PORT" "$HTTP_PORT" "plain listener taken as BE_URL"
check_eq "$(http_get "https://127.0.0.1:$TLS_PORT/blocks/$KEY" --cacert "$T/good.crt" --http1.1)" 200 \
    "HTTPS GET verified against our certificate"
check_eq "$(sha_of "$T/last.body")" "$KEY" "HTTPS body"
check_eq "$(http_get "https://127.0.0.1:$TLS_PORT/blocks/$KEY" --cacert "$T/good.crt" --http2)" 200 \
    "h2 GET verified against our certificate"

sclient() {
    timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername 127.0.0.1 "$@" </dev/null 2>&1
}
sclient -tls1_3 >"$T/tls13.out"
check_contains "$T/tls13.out" "New, TLSv1.3, Cipher is" "TLS 1.3 handshake"
sclient -tls1_2 >"$T/tls12.out"
check_contains "$T/tls12.out" "New, TLSv1.2, Cipher is" "TLS 1.2 handshake"
want_fp=$(openssl x509 -in "$T/good.crt" -noout -fingerprint -sha256)
got_fp=$(openssl x509 -noout -fingerprint -sha256 <"$T/tls12.out")
check_eq "$got_fp" "$want_fp" "certificate the server presents"
tls0=$(metric 'blockedge_connections_closed_total{reason="tls_error"}')
sclient -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' >"$T/tls11.out"
if ! grep -q "^New, (NONE), Cipher is (NONE)" "$T/tls11.out"; then
    fail "a TLS 1.1 handshake succeeded: $(head -c 600 "$T/tls11.out")"
fi
grep -qiE "alert protocol version|no protocols available|unsupported protocol|wrong version" "$T/tls11.out" ||
    fail "TLS 1.1 was not refused for its version: $(head -c 600 "$T/tls11.out")"

# --- Plain HTTP to the TLS port: dropped as a TLS error, the server serves on.
"$PY" - "$TLS_PORT" "$KEY" <<'PYEOF' || fail "plain HTTP on the TLS port was not dropped (see above)"
import os, sys
sys.path.insert(0, os.environ["IT_DIR"])
import ithelp
s = ithelp.connect(int(sys.argv[1]))
s.sendall(f"GET /blocks/{sys.argv[2]} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
data, closed = ithelp.read_to_eof(s, 5)
s.close()
if not closed:
    sys.exit("connection still open 5 s after plain HTTP on the TLS port")
if b"HTTP/1.1 200" in data:
    sys.exit("plain HTTP was answered on the TLS port")
PYEOF
check_eq "$(wait_metric 'blockedge_connections_closed_total{reason="tls_error"}' "$((tls0 + 2))" 3)" \
    "$((tls0 + 2))" "connections closed as tls_error (TLS 1.1, plain HTTP)"

# --- A client that connects and never starts the handshake: dropped after client_header_timeout 2s.
h0=$(metric 'blockedge_connections_closed_total{reason="header_timeout"}')
t0=$(now_ms)
"$PY" - "$TLS_PORT" <<'PYEOF' || fail "a silent TLS client was not dropped in time (see above)"
import os, sys
sys.path.insert(0, os.environ["IT_DIR"])
import ithelp
s = ithelp.connect(int(sys.argv[1]))
data, closed = ithelp.read_to_eof(s, 8)
s.close()
if not closed:
    sys.exit("a client that sent nothing was still connected after 8 s (client_header_timeout 2s)")
PYEOF
el=$(($(now_ms) - t0))
log "silent TLS client dropped after ${el} ms (client_header_timeout 2s)"
check_num "$el" -ge 1500 "ms until a silent TLS client is dropped"
check_num "$el" -lt 5000 "ms until a silent TLS client is dropped"
check_eq "$(metric 'blockedge_connections_closed_total{reason="header_timeout"}')" "$((h0 + 1))" \
    "connections closed as header_timeout"

check_eq "$(http_get "https://127.0.0.1:$TLS_PORT/blocks/$KEY" -k --http2)" 200 "h2 GET after the bad clients"
check_eq "$(sha_of "$T/last.body")" "$KEY" "h2 body after the bad clients"

# --- A mismatch is about the pair: the message names the certificate as well as the key.
# (Last, so that a failure here hides none of the checks above.)
check_contains "$T/t-mismatch.out" "$T/good.crt" "-t names the certificate (mismatch)"
check_contains "$T/run-mismatch.out" "$T/good.crt" "start-up error names the certificate (mismatch)"
log "ok"
