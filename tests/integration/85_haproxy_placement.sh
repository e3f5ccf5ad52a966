#!/usr/bin/env bash
# 85_haproxy_placement: three edges behind HAProxy on conf/haproxy.cfg. 3000 distinct blocks,
# read once over h2 with TLS and once over HTTP/1.1: every block lands on exactly one edge (the
# edges' blockedge_cache_blocks sum to 3000), the origin sees 3000 requests, the second pass is
# all hits, and every edge owns a fair share. The PROXY v2 header HAProxy sends names the real
# client in the edge's access log; a connection without a header, with a bad one or with none in
# time is closed and logged; PROXY v1 before TLS and before h2c works too.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/halib.sh"

N=3000
fast_blocks "$T/blocks" "$N" 1k 8501
start_nginx_origin "$T/blocks"
NODE_HTTP_EXTRA="    client_header_timeout 1s;" start_edges "$ORIGIN_URL"
start_haproxy
EDGES=(edge1 edge2 edge3)

# One request at a time: hash-balance-factor sends a request to the next node on the ring when
# its owner has more than 150% of the mean of requests in progress (88_haproxy_hot_block), so
# only a load that never reaches that bound places every block on its owner alone.
t0=$(now_ms)
urls_of "$HA_TLS_URL" "$T/keys" >"$T/urls.tls"
h2load -n "$N" -c 1 -m 1 -i "$T/urls.tls" >"$T/pass1.out" 2>&1 || fail "h2load pass 1: $(tail -5 "$T/pass1.out")"
check_contains "$T/pass1.out" "$N succeeded, 0 failed, 0 errored" "h2 over TLS pass"
check_contains "$T/pass1.out" "status codes: $N 2xx" "h2 over TLS pass"
urls_of "$HA_URL" "$T/keys" >"$T/urls.h1"
h2load --h1 -n "$N" -c 1 -i "$T/urls.h1" >"$T/pass2.out" 2>&1 || fail "h2load pass 2: $(tail -5 "$T/pass2.out")"
check_contains "$T/pass2.out" "status codes: $N 2xx" "HTTP/1.1 pass"
log "2 x $N requests through HAProxy in $(($(now_ms) - t0)) ms"

blocks=$(sum_metric 'blockedge_cache_blocks{tier="memory"}' "${EDGES[@]}")
hits=$(sum_metric 'blockedge_cache_hits_total{tier="memory"}' "${EDGES[@]}")
sleep 0.3
origin=$(origin_total)
shares=""
for e in "${EDGES[@]}"; do
    b=$(metric 'blockedge_cache_blocks{tier="memory"}' "${NODE_ADMIN[$e]}")
    shares+=" $e=$b"
    check_num "$b" -ge $((N / 5)) "blocks on $e (a fair share of $N)"
done
log "blocks per edge:$shares; sum $blocks, origin requests $origin, second-pass hits $hits"
check_eq "$blocks" "$N" "blocks summed over the edges (each block on one edge)"
check_eq "$origin" "$N" "origin requests"
check_eq "$hits" "$N" "memory hits of the second pass"

# The PROXY v2 header names the client: a request from 127.0.0.9 is logged as 127.0.0.9 by
# the edge, though HAProxy connects from 127.0.0.1.
K=$(head -n 1 "$T/keys")
check_eq "$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.9 "$HA_URL/blocks/$K?from9")" 200 "GET from 127.0.0.9"
sleep 1.2 # the access log is written at least every second
check_eq "$(cat "$T"/edge*.access.log | grep -F "from9" | cut -d' ' -f1)" 127.0.0.9 "client in the edge's access log"

# PROXY v1 before TLS and before h2c, on a second listener of edge1.
TLSP=$(free_port)
H2P=$(free_port)
start_blockedge "$(NODE_HTTP_EXTRA="    max_connections_per_ip 1;" NODE_LISTEN_FLAGS="proxy_protocol;
    listen 127.0.0.7:$TLSP tls proxy_protocol;
    listen 127.0.0.7:$H2P proxy_protocol;
    tls_certificate $T/ha.crt;
    tls_certificate_key $T/ha.key" node_conf edge7 127.0.0.8 "$EDGE_PORT" "$EDGE_ADMIN_PORT" "$ORIGIN_URL")" edge7
check_eq "$(curl -sk -o /dev/null -w '%{http_code}' --haproxy-protocol --http2 "https://127.0.0.7:$TLSP/blocks/$K")" 200 "PROXY v1 then TLS"
check_eq "$(curl -s -o /dev/null -w '%{http_code} %{http_version}' --haproxy-protocol --http2-prior-knowledge "http://127.0.0.7:$H2P/blocks/$K")" "200 2" "PROXY v1 then h2c"

# max_connections_per_ip counts the address the header names: a second connection naming
# 203.0.113.1 is closed while the first is open; one naming 203.0.113.2 is served.
perip=$("$PY" -c '
import socket, sys, time
port, key = int(sys.argv[1]), sys.argv[2]
def conn(ip):
    s = socket.create_connection(("127.0.0.7", port), 3)
    s.sendall(("PROXY TCP4 %s 127.0.0.7 40000 80\r\n" % ip).encode())
    s.settimeout(3)
    return s
def get(s):
    s.sendall(("GET /blocks/%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % key).encode())
    try:
        return s.recv(12).decode("latin-1") or "closed"
    except Exception as e:
        return "closed"
a = conn("203.0.113.1")
time.sleep(0.3)
b = conn("203.0.113.1")
time.sleep(0.3)
c = conn("203.0.113.2")
print(get(b), "|", get(c), "|", get(a))
' "$H2P" "$K")
log "per-IP limit 1 behind PROXY headers: second 203.0.113.1 | 203.0.113.2 | first 203.0.113.1: $perip"
check_eq "$perip" "closed | HTTP/1.1 200 | HTTP/1.1 200" "max_connections_per_ip on PROXY addresses"

# No header, a bad one, none in time (client_header_timeout 1s): closed without an answer (a
# reset when unread bytes were left), with the reason in the error log; the node goes on.
bad() { # bad NODE_IP BYTES: what the edge sends back, and after how many seconds
    "$PY" -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 3)
s.sendall(sys.argv[3].encode("latin-1"))
s.settimeout(4)
t = time.time()
try:
    d = s.recv(100)
except Exception as e:
    d = repr(e).encode()
print("%r %.1f" % (d, time.time() - t))
' "$1" "$EDGE_PORT" "$2"
}
check_eq "$(bad 127.0.0.2 $'GET /blocks/'"$K"$' HTTP/1.1\r\nHost: x\r\n\r\n' | grep -c HTTP)" 0 "edge1 answer to a request without a PROXY header"
check_contains "$T/edge1.error.log" "no PROXY protocol header: connection closed" "edge1 error log"
check_eq "$(bad 127.0.0.3 $'PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\nGET / HTTP/1.1\r\n\r\n' | grep -c HTTP)" 0 "edge2 answer to a bad PROXY header"
check_contains "$T/edge2.error.log" "malformed PROXY protocol v1 header: connection closed" "edge2 error log"
out=$(bad 127.0.0.4 $'PROXY TCP4 1.2.3.4')
check_eq "${out%% *}" "b''" "edge3 answer to a header that never ends"
check_contains "$T/edge3.error.log" "no whole PROXY protocol header in time: connection closed" "edge3 error log"
log "a PROXY header that never ends: closed after ${out##* } s (client_header_timeout 1s)"
for e in "${EDGES[@]}"; do
    kill -0 "${NODE_PID[$e]}" || fail "$e exited"
done
check_eq "$(curl -s -o /dev/null -w '%{http_code}' "$HA_URL/blocks/$K")" 200 "a GET through HAProxy after the bad headers"

log "ok"
