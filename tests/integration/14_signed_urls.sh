#!/usr/bin/env bash
# 14_signed_urls: auth { mode signed; }. A URL signed with the current or the previous secret
# gets its block (miss, then memory hit; HTTP/1.1, h2c, and TLS with h1 and h2), as does the
# same token in "Authorization: Bearer"; an expired link, a tampered key or expires, a third
# secret, no token and a malformed one get 403 with the reason as the body, even for a cached
# block and without an origin request; blockedge_auth_denied_total{reason} counts each; the
# access log shows DENIED and the reason and never a signature; a SIGHUP after the secret file
# is rewritten makes the old secret fail and the new one pass; -t names file:line for a
# missing secret file, "mode signed" without secret_file and a third secret, and warns about a
# group-readable file.
source "$(dirname "$0")/lib.sh"

SIGN="$BE_SOURCE_DIR/tools/blockedge-sign"
gen_blocks "$T/blocks" 4 4k-16k 1414
mapfile -t KEYS < <(keys_of "$T/blocks")
start_nginx_origin "$T/blocks"
make_cert tls
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
TLS_PORT=$(free_port)
LOG="$T/access.log"

CUR=current-secret-$$-0123456789
PREV=previous-secret-$$-abcdefghij
THIRD=third-secret-$$-zyxwvutsrqpon
NEW=newest-secret-$$-after-the-reload
secret_file() { # secret_file NAME SECRET...: one per line, with a comment and a blank line
    local f="$T/$1"
    shift
    { echo "# signed-URL secrets: current first"; printf '%s\n' "$@" | sed '1a\\'; } >"$f"
    chmod 600 "$f"
    echo "$f"
}
SECRETS=$(secret_file url.secret "$CUR" "$PREV")
for s in CUR PREV THIRD NEW; do
    secret_file "only.$s" "${!s}" >/dev/null
done

# conf AUTH_LINES: the standard config with a TLS listener, an access log and auth { }.
conf() {
    be_conf "$ORIGIN_URL" |
        sed "s|^    listen 127.0.0.1:$HTTP_PORT;|    listen 127.0.0.1:$TLS_PORT tls;\n&\n    tls_certificate $T/tls.crt;\n    tls_certificate_key $T/tls.key;\n    access_log $LOG;|"
    printf 'auth {\n%s\n}\n' "$1"
}

# --- -t: what a bad auth block says.
run_t() { # run_t NAME CONF_TEXT: blockedge -t on it; RC and $T/NAME.out
    printf '%s\n' "$2" >"$T/$1.conf"
    timeout 10 "$BLOCKEDGE" -t -c "$T/$1.conf" >"$T/$1.out" 2>&1
    RC=$?
    IT_LOGS+=("$T/$1.out")
}
line_of() { # line_of FILE PATTERN: the first line number matching
    grep -n "$2" "$1" | head -n 1 | cut -d: -f1
}
run_t t-nofile "$(conf "    mode signed;
    secret_file $T/absent.secret;")"
check_eq "$RC" 1 "-t with a missing secret file"
check_contains "$T/t-nofile.out" "cannot read \"secret_file\": open() \"$T/absent.secret\" failed (2: No such file or directory) in $T/t-nofile.conf:$(line_of "$T/t-nofile.conf" secret_file)" \
    "-t names the missing secret file and file:line"
run_t t-nosecret "$(conf "    mode signed;")"
check_eq "$RC" 1 "-t with mode signed and no secret_file"
check_contains "$T/t-nosecret.out" "\"mode signed\" requires \"secret_file\" in $T/t-nosecret.conf:$(line_of "$T/t-nosecret.conf" 'mode signed')" \
    "-t names mode signed without secret_file"
printf '%s\n%s\n\n%s\n' "$CUR" "$PREV" "$THIRD" >"$T/three.secret"
chmod 600 "$T/three.secret"
run_t t-three "$(conf "    mode signed;
    secret_file $T/three.secret;")"
check_eq "$RC" 1 "-t with three secrets"
check_contains "$T/t-three.out" "a third secret (at most two: the current one, then the previous one) in $T/three.secret:4" \
    "-t names the third secret's file:line"
cp "$SECRETS" "$T/loose.secret"
chmod 644 "$T/loose.secret"
run_t t-loose "$(conf "    mode signed;
    secret_file $T/loose.secret;")"
check_eq "$RC" 0 "-t with a world-readable secret file"
check_contains "$T/t-loose.out" "[warn] \"secret_file\" \"$T/loose.secret\" is readable by group or others" \
    "-t warns about a world-readable secret file"

# --- A node with signed URLs.
start_blockedge "$(conf "    mode signed;
    secret_file $SECRETS;
    clock_skew 30s;")"
IT_LOGS+=("$LOG")
BE_TLS="https://127.0.0.1:$TLS_PORT"
NOW=$(date +%s)
url() { # url KEY SECRET-NAME [BASE] [sign args...]: a signed URL
    local key=$1 s=$2 base=${3:-$BE_URL}
    shift 3 2>/dev/null || shift $#
    "$PY" "$SIGN" "$key" --secret-file "$T/only.$s" --base "$base" "$@"
}
# remember URL: prints URL and notes its signature in $T/sigs (none may reach a log).
remember() {
    echo "${1##*sig=}" >>"$T/sigs"
    echo "$1"
}
expect_403() { # expect_403 REASON-BODY WHAT URL [CURL ARGS...]
    local why=$1 what=$2
    shift 2
    check_eq "$(http_get "$@")" 403 "$what"
    check_eq "$(cat "$T/last.body")" "$why" "$what: body"
}
denied() {
    metric "blockedge_auth_denied_total{reason=\"$1\"}"
}

K0=${KEYS[0]}
U0=$(remember "$(url "$K0" CUR)")
check_eq "$(http_get "$U0")" 200 "signed URL, miss"
check_eq "$(hdr X-Cache)" MISS "first request is a miss"
check_eq "$(sha_of "$T/last.body")" "$K0" "the block's bytes"
check_eq "$(http_get "$U0")" 200 "signed URL, memory hit"
check_eq "$(hdr X-Cache)" HIT-MEMORY "second request is a memory hit"
check_eq "$(http_get "$U0" --http2-prior-knowledge)" 200 "signed URL over h2c (curl)"
check_eq "$(sha_of "$T/last.body")" "$K0" "the block's bytes over h2c"
nghttp -nv "$U0" >"$T/nghttp.out" 2>&1 || fail "nghttp failed: $(cat "$T/nghttp.out")"
grep -q ':status: 200' "$T/nghttp.out" || fail "nghttp (h2c): no 200: $(cat "$T/nghttp.out")"
UT=$(remember "$(url "${KEYS[1]}" CUR "$BE_TLS")")
check_eq "$(http_get "$UT" --cacert "$T/tls.crt" --http1.1)" 200 "signed URL over TLS (HTTP/1.1), miss"
check_eq "$(http_get "$UT" --cacert "$T/tls.crt" --http2)" 200 "signed URL over TLS (h2), hit"
check_eq "$(hdr X-Cache)" HIT-MEMORY "TLS h2 request is a memory hit"
check_eq "$(sha_of "$T/last.body")" "${KEYS[1]}" "the block's bytes over TLS"
check_eq "$(http_get "$(remember "$(url "$K0" PREV)")")" 200 "the previous secret"
check_eq "$(http_get "$(remember "$(url "$K0" CUR "$BE_URL" --expires $((NOW - 5)))")")" 200 \
    "expired 5 s ago, within clock_skew 30s"
check_eq "$(http_get "$(remember "$(url "$K0" CUR)")" -I)" 200 "HEAD with a signed URL"

# Bearer: the same token in a header, on the bare URL.
B=$(url "$K0" CUR "$BE_URL" --bearer)
echo "${B##*.}" >>"$T/sigs"
check_eq "$(http_get "$BE_URL/blocks/$K0" -H "$B")" 200 "Bearer token"
check_eq "$(http_get "$BE_URL/blocks/$K0" -H "$B" --http2-prior-knowledge)" 200 "Bearer token over h2c"

# Refusals. K2 is never fetched: refusals come before the cache and the origin.
K2=${KEYS[2]}
GOOD2=$(remember "$(url "$K2" CUR)")
EXP=${GOOD2#*expires=}
EXP=${EXP%%&*}
expect_403 expired "expired link" "$(remember "$(url "$K2" CUR "$BE_URL" --expires $((NOW - 100)))")"
expect_403 "bad signature" "tampered key" "${GOOD2/$K2/${KEYS[3]}}"
expect_403 "bad signature" "tampered expires" "${GOOD2/expires=$EXP/expires=$((EXP + 1))}"
expect_403 "bad signature" "a third secret" "$(remember "$(url "$K2" THIRD)")"
expect_403 missing "no token" "$BE_URL/blocks/$K2"
expect_403 missing "no token, a cached block" "$BE_URL/blocks/$K0"
expect_403 missing "no token over h2c" "$BE_URL/blocks/$K0" --http2-prior-knowledge
expect_403 missing "no token over TLS" "$BE_TLS/blocks/$K0" --cacert "$T/tls.crt"
expect_403 malformed "empty sig" "$BE_URL/blocks/$K2?expires=$EXP&sig="
expect_403 malformed "sig twice" "$GOOD2&sig=${GOOD2##*sig=}"
expect_403 "bad signature" "Bearer with a third secret" "$BE_URL/blocks/$K2" \
    -H "$(url "$K2" THIRD "$BE_URL" --bearer)"
check_eq "$(http_get "$BE_URL/blocks/$K2" -I)" 403 "HEAD without a token"
check_eq "$(http_get "$BE_URL/blocks/zz?expires=1&sig=x")" 400 "a bad key is still 400"
expect_origin_count "$K2" 0

check_eq "$(denied missing)" 5 "auth_denied_total{reason=missing} (4 GET, 1 HEAD)"
check_eq "$(denied expired)" 1 "auth_denied_total{reason=expired}"
check_eq "$(denied bad_signature)" 4 "auth_denied_total{reason=bad_signature}"
check_eq "$(denied malformed)" 2 "auth_denied_total{reason=malformed}"
check_eq "$(metric 'blockedge_auth_denied_total{reason="ok"}')" 0 "no ok series"
h1=$(metric 'blockedge_http_requests_total{proto="http/1.1",code="403"}')
h2=$(metric 'blockedge_http_requests_total{proto="h2",code="403"}')
check_eq "$((h1 + h2))" 12 "403s in blockedge_http_requests_total"

# --- Access log: the reason, and no signature.
for ((i = 0; i < 30; i++)); do
    [ "$(grep -c DENIED "$LOG" 2>/dev/null)" -ge 12 ] && break
    sleep 0.1
done
check_eq "$(grep -c ' DENIED missing - ' "$LOG")" 5 "access log: DENIED missing"
check_eq "$(grep -c ' DENIED bad_signature - ' "$LOG")" 4 "access log: DENIED bad_signature"
check_eq "$(grep -c ' DENIED expired - ' "$LOG")" 1 "access log: DENIED expired"
check_eq "$(grep -c ' DENIED malformed - ' "$LOG")" 2 "access log: DENIED malformed"
check_num "$(grep -c 'sig=REDACTED' "$LOG")" -ge 10 "access log: signatures redacted"
check_num "$(grep -c '' "$T/sigs")" -ge 9 "signatures remembered"
while read -r s; do
    [ -n "$s" ] || fail "an empty signature was remembered"
    grep -qF -- "$s" "$LOG" && fail "access log holds a signature: $(grep -F -- "$s" "$LOG")"
    grep -qF -- "$s" "$BE_ERRLOG" && fail "error log holds a signature"
done <"$T/sigs"
grep -q "\"GET /blocks/$K0?expires=[0-9]*&sig=REDACTED HTTP/1.1\" 200 " "$LOG" ||
    fail "access log: the good request's line: $(head -n 3 "$LOG")"

# --- SIGHUP rereads the secret file: rotate to NEW alone.
OLD=$(remember "$(url "$K0" CUR)")
secret_file url.secret "$NEW" >/dev/null
reloads=$(grep -c 'configuration reloaded' "$BE_ERRLOG")
kill -HUP "$BE_PID"
for ((i = 0; i < 50; i++)); do
    [ "$(grep -c 'configuration reloaded' "$BE_ERRLOG")" -gt "$reloads" ] && break
    sleep 0.1
done
check_num "$(grep -c 'configuration reloaded' "$BE_ERRLOG")" -gt "$reloads" "reload logged"
sleep 0.3 # each worker takes the new configuration from its mailbox
expect_403 "bad signature" "the old secret after the reload" "$OLD"
check_eq "$(http_get "$(remember "$(url "$K0" NEW)")")" 200 "the new secret after the reload"
check_eq "$(http_get "$(remember "$(url "$K0" NEW)")" --http2-prior-knowledge)" 200 \
    "the new secret after the reload (h2c)"
# A reload that fails (a third secret) keeps the running secrets.
printf '%s\n%s\n%s\n' "$NEW" "$CUR" "$THIRD" >"$SECRETS"
kill -HUP "$BE_PID"
for ((i = 0; i < 50; i++)); do
    grep -q 'a third secret' "$BE_ERRLOG" && break
    sleep 0.1
done
check_contains "$BE_ERRLOG" "a third secret (at most two: the current one, then the previous one) in $SECRETS:3" \
    "a failed reload names the secret file's line"
check_eq "$(http_get "$(remember "$(url "$K0" NEW)")")" 200 "the running secret after a failed reload"
log ok
