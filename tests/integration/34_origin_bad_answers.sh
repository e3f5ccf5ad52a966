#!/usr/bin/env bash
# 34_origin_bad_answers: an origin answer that is not a clean 200 of at most max_block_size never
# becomes a cached block, even when the bytes it carried hash to the key, and maps to the
# contract's reasons. A scripted origin answers each key its own way: a truncated body, a
# Content-Length that says less or more than is sent, a redirect (not followed), a length over
# max_block_size, a chunked body that never ends (endless, stalled, cut without its last chunk,
# or trickling a byte at a time, never silent for read_timeout: fetch_timeout ends it), a 500. Clean answers (Content-Length, chunked, HTTP/1.0 ended by close) still work.
# An https origin whose certificate nobody trusts is refused (TLS is verified).
source "$(dirname "$0")/lib.sh"

# mode -> expected status and reason ("" for 200)
declare -A WANT=(
    [ok]="200 -" [chunked]="200 -" [http10]="200 -"
    [truncate]="502 status" [cl_short]="502 digest_mismatch" [cl_long]="504 timeout"
    [redirect]="502 status" [oversize_cl]="502 too_large" [oversize_chunked]="502 too_large"
    [chunked_stall]="504 timeout" [chunked_close]="502 status" [trickle]="504 timeout"
    [status500]="502 status"
)
MODES=(ok chunked http10 truncate cl_short cl_long redirect oversize_cl oversize_chunked
    chunked_stall chunked_close trickle status500)
gen_blocks "$T/blocks" "${#MODES[@]}" 20k-60k 3401
mapfile -t KEYS < <(keys_of "$T/blocks")
declare -A KEY_OF
for i in "${!MODES[@]}"; do
    KEY_OF[${MODES[$i]}]=${KEYS[$i]}
    echo "${MODES[$i]}" >"$T/blocks/${KEYS[$i]}.mode"
done
start_scripted_origin "$T/blocks"
check_eq "$(http_get "$SCRIPT_URL${KEY_OF[ok]}")" 200 "the scripted origin serves a clean block"
check_eq "$(sha_of "$T/last.body")" "${KEY_OF[ok]}" "the scripted origin's clean block"
: >"$SCRIPT_LOG"

HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
# retries 0 and no circuit breaker: one origin request per client request, whatever the answer
CONF_RETRIES=0 CONF_MAX_BLOCK_SIZE=64k CONF_READ_TIMEOUT=1s
CONF_ORIGIN_EXTRA="max_fails 0;
    fetch_timeout 2500ms;"
start_blockedge "$(be_conf "$SCRIPT_URL")"

declare -A REASONS=()
good=0
for mode in "${MODES[@]}"; do
    k=${KEY_OF[$mode]}
    read -r code reason <<<"${WANT[$mode]}"
    # timeouts cost read_timeout each: ask once; every other case twice (nothing was cached)
    tries=2
    [ "$reason" = timeout ] && tries=1
    for ((i = 1; i <= tries; i++)); do
        t0=$(now_ms)
        got=$(http_get "$BE_URL/blocks/$k")
        el=$(($(now_ms) - t0))
        check_eq "$got" "$code" "answer to the \"$mode\" origin (#$i)"
        check_num "$el" -lt 4000 "ms to answer the \"$mode\" case"
        if [ "$mode" = trickle ]; then
            check_num "$el" -ge 2300 "ms until the trickle's 504 (fetch_timeout 2500ms)"
        fi
        if [ "$code" = 200 ]; then
            check_eq "$(sha_of "$T/last.body")" "$k" "body of the \"$mode\" block"
            check_eq "$(hdr X-Cache)" "$([ "$i" = 1 ] && echo MISS || echo HIT-MEMORY)" \
                "X-Cache of the \"$mode\" block (#$i)"
        elif [ -s "$T/last.body" ] && cmp -s "$T/last.body" "$T/blocks/$k"; then
            fail "the \"$mode\" bytes reached the client"
        fi
    done
    if [ "$code" = 200 ]; then
        good=$((good + 1))
        check_eq "$(grep -cF "/blocks/$k " "$SCRIPT_LOG")" 1 "origin requests for \"$mode\""
    else
        REASONS[$reason]=$((${REASONS[$reason]:-0} + tries))
        check_eq "$(grep -cF "/blocks/$k " "$SCRIPT_LOG")" "$tries" \
            "origin requests for \"$mode\" (never cached)"
    fi
    check_eq "$(metric 'blockedge_cache_blocks{tier="memory"}')" "$good" \
        "blocks cached after \"$mode\""
done
for reason in "${!REASONS[@]}"; do
    check_eq "$(metric "blockedge_origin_errors_total{reason=\"$reason\"}")" "${REASONS[$reason]}" \
        "origin errors with reason $reason"
done
# The redirect was not followed.
if grep -qF '?moved' "$SCRIPT_LOG"; then
    fail "blockedge followed the origin's redirect"
fi

# An https origin with a self-signed certificate: 502, and the log says why.
NGINX_ORIGIN_TLS=1 start_nginx_origin "$T/blocks" tls
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "$(be_conf "$ORIGIN_URL" be-tls)" be-tls
check_eq "$(http_get "$BE_URL/blocks/${KEY_OF[ok]}")" 502 "GET from an https origin nobody trusts"
grep -F '[error]' "$BE_ERRLOG" | grep -F "$ORIGIN_URL" | grep -qiF 'certificate' ||
    fail "no [error] line naming the certificate problem"
check_eq "$(origin_total)" 0 "requests the untrusted origin answered"
log "ok"
