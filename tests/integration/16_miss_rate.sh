#!/usr/bin/env bash
# 16_miss_rate: the per-client miss budget. With miss_rate 1r/m burst=10 (a token a minute, so a
# slow machine cannot refill the bucket during the test), a client asking for 25 never-seen keys
# in a row gets 10 fetched and 429 + Retry-After (1..60 s) for the rest, and the origin sees only
# the fetched ones; the same client's hits and negative-cache answers are still served. (The
# refill and Retry-After arithmetic are test_missrate's.) A
# trusted peer (127.0.0.2) is exempt, unless it names the client in X-Forwarded-For: then that
# client has its own budget, and an untrusted peer cannot name someone else. HTTP/2 gets the
# same 429. Counted in blockedge_miss_rate_limited_total; miss_rate off on reload lifts it.
source "$(dirname "$0")/lib.sh"

gen_blocks "$T/blocks" 2 4k 1601
HOT=$(keys_of "$T/blocks" | head -1)
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_HTTP_EXTRA="    miss_rate 1r/m burst=10;
    trusted 127.0.0.2;
    real_ip_header X-Forwarded-For;"
start_blockedge "$(be_conf "$ORIGIN_URL")"

absent() { printf 'absent-%s-%s' "$$" "$1" | sha256sum | cut -c1-64; }
# get KEY [CURL ARGS]: "STATUS X-Cache Retry-After"
get() {
    local key=$1
    shift
    curl -s -o /dev/null --max-time 10 -w '%{http_code} %header{x-cache} %header{retry-after}' \
        "$@" "$BE_URL/blocks/$key"
}

check_eq "$(get "$HOT" --interface 127.0.0.2)" "200 MISS " "the hot block, fetched by a trusted peer"

# A burst of misses from one client.
n404=0 n429=0 other=""
t0=$(now_ms)
for i in $(seq 1 25); do
    r=$(get "$(absent "a$i")")
    case "$r" in
    "404 MISS ") n404=$((n404 + 1)) ;;
    "429 MISS "[1-9] | "429 MISS "[1-5][0-9] | "429 MISS 60") n429=$((n429 + 1)) ;;
    *) other="$other [$i: $r]" ;;
    esac
done
took=$(($(now_ms) - t0))
log "25 misses in $took ms from 127.0.0.1: $n404 fetched (404), $n429 refused 429"
check_eq "$other" "" "answers other than 404 MISS or 429 with Retry-After: 1..60"
check_num "$n404" -ge 10 "misses fetched (the burst)"
check_num "$n404" -le $((10 + took / 60000)) "misses fetched (the burst)"
check_eq "$(grep -c '/blocks/' "$ORIGIN_LOG")" $((n404 + 1)) "origin requests (the fetched misses and the hot block)"
check_eq "$(get "$HOT")" "200 HIT-MEMORY " "a limited client's hit is served"
check_eq "$(get "$(absent a1)")" "404 MISS-NEGATIVE " "a limited client's negative-cache answer is served"
http_get "$BE_URL/blocks/$(absent a99)" >/dev/null
check_contains "$T/last.body" "too many misses" "the 429's reason"
n429=$((n429 + 1))
r=$(get "$(absent y2)" -H 'X-Forwarded-For: 198.51.100.9')
check_eq "${r% *} " "429 MISS " "an untrusted peer naming another client is still limited as itself"
n429=$((n429 + 1))
# HTTP/2: the same answer.
r=$(get "$(absent h1)" --http2-prior-knowledge)
check_eq "${r% *} " "429 MISS " "the answer over h2c"
check_eq "$(metric 'blockedge_http_requests_total{proto="h2",code="429"}')" 1 "h2 429s counted"
n429=$((n429 + 1))

# A trusted peer is exempt...
refused=0
for i in $(seq 1 25); do
    [ "$(get "$(absent "t$i")" --interface 127.0.0.2)" = "404 MISS " ] || refused=$((refused + 1))
done
check_eq "$refused" 0 "misses refused to the trusted peer"
# ...unless it names the client: X-Forwarded-For gives that client its own budget.
n404=0
t0=$(now_ms)
for i in $(seq 1 14); do
    r=$(get "$(absent "x$i")" --interface 127.0.0.2 -H 'X-Forwarded-For: 203.0.113.1, 198.51.100.7')
    [ "$r" = "404 MISS " ] && n404=$((n404 + 1))
    [ "${r% *} " = "429 MISS " ] && n429=$((n429 + 1))
done
check_num "$n404" -ge 10 "misses fetched for 198.51.100.7 through the trusted peer"
check_num "$n404" -le $((10 + ($(now_ms) - t0) / 60000)) "misses fetched for 198.51.100.7 (its budget, not the peer's)"
check_eq "$(get "$(absent y1)" --interface 127.0.0.2 -H 'X-Forwarded-For: 198.51.100.8')" "404 MISS " \
    "another forwarded client has its own budget"

check_eq "$(metric blockedge_miss_rate_limited_total)" "$n429" "blockedge_miss_rate_limited_total"

# Off on reload: the same client's misses are all fetched.
CONF_HTTP_EXTRA="" printf '%s\n' "$(CONF_HTTP_EXTRA='' be_conf "$ORIGIN_URL")" >"$BE_CONF"
kill -HUP "$BE_PID"
check_eq "$(wait_metric 'blockedge_config_reloads_total{result="ok"}' 1 "$(ms_bound 10)")" 1 "reloaded"
refused=0
for i in $(seq 1 15); do
    [ "$(get "$(absent "o$i")")" = "404 MISS " ] || refused=$((refused + 1))
done
check_eq "$refused" 0 "misses refused with miss_rate off"
log "ok"
