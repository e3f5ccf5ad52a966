#!/usr/bin/env bash
# 20_h2_parity: HTTP/2 answers exactly like HTTP/1.1. For a hit, a miss, HEAD, 304, 206, 416, 400,
# 404 (other path and absent at origin), 405, 502 (digest mismatch) and 504 (stalled origin), the
# clients curl --http1.1 (plain and TLS), curl --http2-prior-knowledge (h2c), curl --http2 -k
# (h2 over TLS) and nghttp (h2c) get the same status, the same body bytes (sha256) and the same
# contract headers, and each request is counted under its protocol. ALPN: h2 and http/1.1 are
# negotiated when offered, and a TLS client without ALPN (or with only unknown protocols) gets
# HTTP/1.1.
source "$(dirname "$0")/lib.sh"

# --- Blocks: same size for all, so the headers of the miss case compare equal across clients.
gen_blocks "$T/blocks" 12 20k 2001
mapfile -t KEYS < <(keys_of "$T/blocks")
SIZE=$(size_of "$T/blocks" "${KEYS[0]}")
HIT=${KEYS[0]}
# The miss case uses one fresh key per client.
MISS_H1=${KEYS[1]} MISS_H1TLS=${KEYS[2]} MISS_H2C=${KEYS[3]} MISS_H2TLS=${KEYS[4]} MISS_NGHTTP=${KEYS[5]}
# BAD names the bytes of block 6, but the origin serves other bytes under that name.
BAD=${KEYS[6]}
head -c "$SIZE" /dev/urandom >"$T/blocks/$BAD"
[ "$(sha_of "$T/blocks/$BAD")" != "$BAD" ] || fail "could not make a mismatching block"
# Every absent-key request must reach the origin here: the negative cache is off
# (69_negative_cache tests it).
CONF_CACHE_EXTRA="    negative_ttl 0;"
ABSENT=$(printf 'absent-%s' "$$" | sha256sum | cut -c1-64)

# tls_conf ORIGIN_URL NAME: be_conf plus a TLS listener on $TLS_PORT (placed before the plain
# one, which lib.sh's conf_listen then takes as $BE_URL) with the $T/cert pair.
tls_conf() {
    be_conf "$1" "$2" | sed "s|^\\(    listen 127.0.0.1:$HTTP_PORT;\\)\$|    listen 127.0.0.1:$TLS_PORT tls;\\n\\1\\n    tls_certificate $T/cert.crt;\\n    tls_certificate_key $T/cert.key;\\n    h2_max_concurrent_streams 100;|"
}

make_cert cert
start_nginx_origin "$T/blocks"
start_stall_origin stall

CONF_RETRIES=0
CONF_READ_TIMEOUT=2s
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
TLS_PORT=$(free_port)
start_blockedge "$(tls_conf "$ORIGIN_URL" be)" be
check_eq "$BE_PORT" "$HTTP_PORT" "plain listener taken as BE_URL"
A_PLAIN=$BE_PORT A_TLS=$TLS_PORT A_ADMIN=$BE_ADMIN

HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
TLS_PORT=$(free_port)
start_blockedge "$(tls_conf "$STALL_URL" be-stall)" be-stall
B_PLAIN=$BE_PORT B_TLS=$TLS_PORT B_ADMIN=$BE_ADMIN

# The processes we started answer on both listeners of A: a plain GET and a TLS GET of HIT
# (this also makes HIT cached for the hit case).
check_eq "$(http_get "http://127.0.0.1:$A_PLAIN/blocks/$HIT")" 200 "warm-up GET of HIT"
check_eq "$(sha_of "$T/last.body")" "$HIT" "warm-up body"
check_eq "$(http_get "https://127.0.0.1:$A_TLS/blocks/$HIT" -k --http1.1)" 200 "TLS GET of HIT"
check_eq "$(metric 'blockedge_http_requests_total{proto="http/1.1",code="200"}' "$A_ADMIN")" 2 \
    "HTTP/1.1 200s after the warm-up"

CONTRACT="content-type content-length etag cache-control accept-ranges x-cache content-range allow"
CLIENTS="h1 h1tls h2c h2tls nghttp"
mkdir -p "$T/r"

# contract_of HDRFILE KEY: the contract headers present, in CONTRACT's order, one "name: value"
# a line (the last of a repeated name, trimmed), with KEY replaced by <KEY> (the miss case
# compares different keys). One awk: the test calls this twice per client and case.
contract_of() {
    awk -v names="$CONTRACT" -v key="$2" '
        BEGIN { n = split(names, want, " ") }
        {
            sub(/\r$/, "")
            i = index($0, ":")
            if (i < 2) next
            name = tolower(substr($0, 1, i - 1))
            v = substr($0, i + 1)
            sub(/^[ \t]+/, "", v)
            sub(/[ \t]+$/, "", v)
            val[name] = v
            seen[name] = 1
        }
        END {
            for (j = 1; j <= n; j++)
                if (seen[want[j]]) {
                    v = val[want[j]]
                    if (key != "") gsub(key, "<KEY>", v)
                    print want[j] ": " v
                }
        }' "$1"
}

# fetch CLIENT CASE PLAIN_PORT TLS_PORT PATH METHOD [HEADER]: one request; writes
# $T/r/CASE.CLIENT.{status,hdr,body,proto}. nghttp runs twice: -nv for the status and headers,
# then plain for the body bytes (nghttp prints both on stdout).
fetch() {
    local client=$1 case=$2 pport=$3 tport=$4 path=$5 method=$6 header=${7:-} out
    local pfx="$T/r/$case.$client" args=() w
    : >"$pfx.body"
    : >"$pfx.hdr"
    [ -n "$header" ] && args+=(-H "$header")
    case $client in
    h1 | h1tls | h2c | h2tls)
        case $method in
        HEAD) args+=(-I) ;; # (curl -I writes the head to -o as well: the body is not kept)
        GET) ;;
        *) args+=(-X "$method") ;;
        esac
        case $client in
        h1) args+=(--http1.1 "http://127.0.0.1:$pport$path") ;;
        h1tls) args+=(--http1.1 -k "https://127.0.0.1:$tport$path") ;;
        h2c) args+=(--http2-prior-knowledge "http://127.0.0.1:$pport$path") ;;
        h2tls) args+=(--http2 -k "https://127.0.0.1:$tport$path") ;;
        esac
        local to=$pfx.body
        [ "$method" = HEAD ] && to=/dev/null
        w=$(curl -s --max-time 15 --path-as-is -o "$to" -D "$pfx.hdr" \
            -w '%{http_code} %{http_version}' "${args[@]}")
        echo "${w% *}" >"$pfx.status"
        echo "${w#* }" >"$pfx.proto"
        ;;
    nghttp)
        [ "$method" = POST ] && args+=(-d "$T/post.data")
        [ "$method" = HEAD ] && args+=(-H ":method: HEAD")
        out=$(timeout 15 nghttp -nv "${args[@]}" "http://127.0.0.1:$pport$path")
        printf '%s\n' "$out" >"$pfx.v"
        printf '%s\n' "$out" | sed -n 's/^\[[ 0-9.]*\] recv (stream_id=[0-9]*) \([^:][^:]*\|:status\): \(.*\)$/\1: \2/p' \
            >"$pfx.hdr"
        printf '%s\n' "$out" | sed -n 's/^\[[ 0-9.]*\] recv (stream_id=[0-9]*) :status: //p' \
            >"$pfx.status"
        echo 2 >"$pfx.proto"
        timeout 15 nghttp "${args[@]}" "http://127.0.0.1:$pport$path" >"$pfx.body"
        ;;
    esac
}
echo posted >"$T/post.data"

declare -A WANT_H1 WANT_H2

# parity CASE KEY WANT_STATUS PATH METHOD [HEADER]: fetch with every client (in parallel when
# PAR=1, e.g. for the 504s); each must answer WANT_STATUS with HTTP/1.1's contract headers and
# body. Then count the requests each protocol should have added. PARITY_MS: how long the
# fetches took (not the checks after them, hundreds of small processes on a busy machine).
parity() {
    local case=$1 key=$2 want=$3 path=$4 method=$5 header=${6:-} c k p t0
    local pp=$A_PLAIN tp=$A_TLS pids=()
    t0=$(now_ms)
    [ "${PAR:-0}" = 1 ] && pp=$B_PLAIN tp=$B_TLS
    for c in $CLIENTS; do
        p=$path
        if [ "$case" = miss ] || [ "$case" = 504 ]; then
            k=${PER_CLIENT[$c]}
            p=${path//$key/$k}
        fi
        if [ "${PAR:-0}" = 1 ]; then
            fetch "$c" "$case" "$pp" "$tp" "$p" "$method" "$header" &
            pids+=("$!")
        else
            fetch "$c" "$case" "$pp" "$tp" "$p" "$method" "$header"
        fi
    done
    # (only our fetches: a bare wait would wait for the servers too)
    [ "${#pids[@]}" -gt 0 ] && wait "${pids[@]}"
    PARITY_MS=$(($(now_ms) - t0))
    local base="$T/r/$case.h1"
    check_eq "$(cat "$base.status")" "$want" "$case: HTTP/1.1 status"
    for c in $CLIENTS; do
        local f="$T/r/$case.$c" k1=$key kc=$key
        if [ "$case" = miss ] || [ "$case" = 504 ]; then
            k1=${PER_CLIENT[h1]}
            kc=${PER_CLIENT[$c]}
        fi
        check_eq "$(cat "$f.status")" "$want" "$case: status over $c"
        case $c in
        h1 | h1tls) check_eq "$(cat "$f.proto")" 1.1 "$case: protocol of $c" ;;
        *) check_eq "$(cat "$f.proto")" 2 "$case: protocol of $c" ;;
        esac
        contract_of "$base.hdr" "$k1" >"$f.want"
        contract_of "$f.hdr" "$kc" >"$f.got"
        cmp -s "$f.want" "$f.got" ||
            fail "$case: contract headers over $c differ from HTTP/1.1: $(diff "$f.want" "$f.got" | tr '\n' ' ')"
        if [ "$case" = miss ]; then
            check_eq "$(sha_of "$f.body")" "$kc" "$case: body over $c is its block"
        else
            check_eq "$(sha_of "$f.body")" "$(sha_of "$base.body")" "$case: body bytes over $c"
        fi
    done
    if [ "${PAR:-0}" != 1 ]; then
        WANT_H1[$want]=$((${WANT_H1[$want]:-0} + 2))
        WANT_H2[$want]=$((${WANT_H2[$want]:-0} + 4)) # h2c, h2tls, nghttp twice
    fi
    log "parity $case: $want over $CLIENTS"
}

declare -A PER_CLIENT=([h1]=$MISS_H1 [h1tls]=$MISS_H1TLS [h2c]=$MISS_H2C [h2tls]=$MISS_H2TLS
    [nghttp]=$MISS_NGHTTP)
parity miss "$MISS_H1" 200 "/blocks/$MISS_H1" GET
for c in $CLIENTS; do
    check_eq "$(hdr X-Cache "$T/r/miss.$c.hdr")" MISS "miss: X-Cache over $c"
    expect_origin_count "${PER_CLIENT[$c]}" 1
done
expect_block_headers "$MISS_H1" "$SIZE" "$T/r/miss.h1.hdr"

parity hit "$HIT" 200 "/blocks/$HIT" GET
check_eq "$(hdr X-Cache "$T/r/hit.h1.hdr")" HIT-MEMORY "hit: X-Cache"
check_eq "$(sha_of "$T/r/hit.h1.body")" "$HIT" "hit: body"
expect_block_headers "$HIT" "$SIZE" "$T/r/hit.h1.hdr"

parity head "$HIT" 200 "/blocks/$HIT" HEAD
# HEADERS with END_STREAM and no DATA frame.
grep -q "recv HEADERS frame <length=[0-9]*, flags=0x05" "$T/r/head.nghttp.v" ||
    fail "HEAD over nghttp: no HEADERS frame with END_STREAM|END_HEADERS"
if grep -q "recv DATA frame" "$T/r/head.nghttp.v"; then
    fail "HEAD over nghttp: a DATA frame was sent"
fi
check_eq "$(stat -c %s "$T/r/head.nghttp.body")" 0 "HEAD over nghttp: body size"
expect_block_headers "$HIT" "$SIZE" "$T/r/head.h2tls.hdr"

parity 304 "$HIT" 304 "/blocks/$HIT" GET "If-None-Match: \"$HIT\""
check_eq "$(stat -c %s "$T/r/304.h1.body")" 0 "304: body size"
check_eq "$(hdr ETag "$T/r/304.h1.hdr")" "\"$HIT\"" "304: ETag"

# A long If-None-Match (issue 15: past 511 bytes, 431 over HTTP/1.1 and RST_STREAM over h2):
# eight other ETags then ours, and 100 others (7 KiB) without ours.
LONG_INM=$(for i in $(seq 1 8); do printf 'W/"%064d", ' "$i"; done)
parity 304long "$HIT" 304 "/blocks/$HIT" GET "If-None-Match: $LONG_INM\"$HIT\""
LONG_INM=$(for i in $(seq 1 100); do printf '"%064d", ' "$i"; done)
parity 200long "$HIT" 200 "/blocks/$HIT" GET "If-None-Match: ${LONG_INM%, }"
check_eq "$(sha_of "$T/r/200long.h2c.body")" "$HIT" "200long: body"

parity 206 "$HIT" 206 "/blocks/$HIT" GET "Range: bytes=100-1099"
check_eq "$(hdr Content-Range "$T/r/206.h1.hdr")" "bytes 100-1099/$SIZE" "206: Content-Range"
cmp -s "$T/r/206.h1.body" <(tail -c +101 "$T/blocks/$HIT" | head -c 1000) ||
    fail "206: body is not bytes 100-1099 of the block"

parity 416 "$HIT" 416 "/blocks/$HIT" GET "Range: bytes=999999-"
check_eq "$(hdr Content-Range "$T/r/416.h1.hdr")" "bytes */$SIZE" "416: Content-Range"

parity 400 "$HIT" 400 "/blocks/${HIT:0:40}zz" GET
parity 404path "$HIT" 404 "/foo/bar" GET
parity 404origin "$ABSENT" 404 "/blocks/$ABSENT" GET
parity 405 "$HIT" 405 "/blocks/$HIT" POST
check_eq "$(hdr Allow "$T/r/405.h1.hdr")" "GET, HEAD" "405: Allow"
parity 502 "$BAD" 502 "/blocks/$BAD" GET
if cmp -s "$T/r/502.h2c.body" "$T/blocks/$BAD"; then
    fail "502: the mismatching bytes were sent over h2c"
fi
# Nothing was cached from the failures: every client's request went to the origin.
expect_origin_count "$ABSENT" 6
expect_origin_count "$BAD" 6

# --- 504: instance B's origin accepts and never answers; read_timeout 2s. One key per client,
# all clients at once.
declare -A PER_CLIENT=([h1]=$(printf 'c%.0s' {1..64}) [h1tls]=$(printf 'd%.0s' {1..64})
    [h2c]=$(printf 'e%.0s' {1..64}) [h2tls]=$(printf 'f%.0s' {1..64}) [nghttp]=$(printf '1%.0s' {1..64}))
PAR=1 parity 504 "${PER_CLIENT[h1]}" 504 "/blocks/${PER_CLIENT[h1]}" GET
el=$PARITY_MS
log "504 over every client in ${el} ms (read_timeout 2s)"
check_num "$el" -lt "$(ms_bound 9000)" "ms for the 504s (nghttp asks twice, one after the other)"
# h1, h1tls, h2c, h2tls once each, nghttp twice (headers, then body).
check_eq "$(grep -c "/blocks/" "$STALL_LOG")" 6 "requests the stalled origin received"
check_eq "$(metric 'blockedge_http_requests_total{proto="h2",code="504"}' "$B_ADMIN")" 4 \
    "h2 504s counted"
check_eq "$(metric 'blockedge_http_requests_total{proto="http/1.1",code="504"}' "$B_ADMIN")" 2 \
    "HTTP/1.1 504s counted"

# Every request above was counted under its protocol (the warm-up added two HTTP/1.1 200s).
WANT_H1[200]=$((WANT_H1[200] + 2))
scrape "$A_ADMIN" >"$T/metrics.txt" || fail "no /metrics from A"
for code in "${!WANT_H2[@]}"; do
    check_eq "$(metric_in "$T/metrics.txt" "blockedge_http_requests_total{proto=\"h2\",code=\"$code\"}")" \
        "${WANT_H2[$code]}" "h2 requests counted with code $code"
    check_eq "$(metric_in "$T/metrics.txt" "blockedge_http_requests_total{proto=\"http/1.1\",code=\"$code\"}")" \
        "${WANT_H1[$code]}" "HTTP/1.1 requests counted with code $code"
done

# --- ALPN with openssl s_client: h2 and http/1.1 when offered; none when not offered, and then
# the connection speaks HTTP/1.1.
alpn() {
    timeout 10 openssl s_client -connect "127.0.0.1:$A_TLS" -servername 127.0.0.1 "$@" \
        </dev/null 2>&1
}
alpn -alpn h2 >"$T/alpn.h2"
check_contains "$T/alpn.h2" "ALPN protocol: h2" "s_client -alpn h2"
alpn -alpn http/1.1 >"$T/alpn.h1"
check_contains "$T/alpn.h1" "ALPN protocol: http/1.1" "s_client -alpn http/1.1"
alpn -alpn foo/1,http/1.1,h2 >"$T/alpn.pref"
check_contains "$T/alpn.pref" "ALPN protocol: h2" "s_client offering foo/1,http/1.1,h2 (server prefers h2)"
printf 'GET /blocks/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$HIT" |
    timeout 10 openssl s_client -connect "127.0.0.1:$A_TLS" -servername 127.0.0.1 -ign_eof \
        >"$T/alpn.none" 2>&1
check_contains "$T/alpn.none" "No ALPN negotiated" "s_client without -alpn"
check_contains "$T/alpn.none" "HTTP/1.1 200" "HTTP/1.1 answer without ALPN"

# Python's ssl: without set_alpn_protocols, and with only an unknown protocol, the answer is
# HTTP/1.1 with the block's bytes.
"$PY" - "$A_TLS" "$HIT" <<'PYEOF' || fail "TLS without ALPN did not get HTTP/1.1 (see above)"
import hashlib, os, socket, ssl, sys
sys.path.insert(0, os.environ["IT_DIR"])
import ithelp

port, key = int(sys.argv[1]), sys.argv[2]
for offer in (None, ["foo/1"]):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if offer is not None:
        ctx.set_alpn_protocols(offer)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    if s.selected_alpn_protocol() is not None:
        sys.exit(f"offer {offer}: ALPN {s.selected_alpn_protocol()!r} selected")
    s.sendall(f"GET /blocks/{key} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    resps, rest, how = ithelp.read_responses(s, ["GET"], 10)
    s.close()
    if len(resps) != 1 or resps[0].status != 200:
        sys.exit(f"offer {offer}: {resps} ({how})")
    if hashlib.sha256(resps[0].body).hexdigest() != key:
        sys.exit(f"offer {offer}: body is not the block")
    print(f"  ok: TLS with ALPN offer {offer}: no ALPN, HTTP/1.1 200", file=sys.stderr)
PYEOF
log "ok"
