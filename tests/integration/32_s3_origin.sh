#!/usr/bin/env bash
# 32_s3_origin: a real S3-compatible store (Swift + s3api on loopback) as the origin. A miss is a
# SigV4-signed GET (the access key holds a colon, as tempauth's "account:user" does), the bytes are
# verified and cached, the next request is a hit and the store sees one GET; a key absent from the
# bucket is 404 and not cached; a wrong secret is a 502 with one clear error-log line naming the
# S3 error code, and repeats are summarized per interval instead of logged one by one.
source "$(dirname "$0")/lib.sh"
# Every absent-key request must reach the origin here: the negative cache is off
# (69_negative_cache tests it).
CONF_CACHE_EXTRA="    negative_ttl 0;"
source "$(dirname "$0")/s3lib.sh"

start_s3_store
log "Swift + s3api at $S3_ENDPOINT"
gen_blocks "$T/blocks" 2 4k-64k 3201
gen_blocks "$T/blocks" 1 1m 3202
mapfile -t KEYS < <(keys_of "$T/blocks")
for k in "${KEYS[@]}"; do
    s3_put_block "$T/blocks/$k" "$k"
done
ABSENT=$(printf 'absent-%s' "$$" | sha256sum | cut -c1-64)

cat >"$T/credentials" <<EOC
# written by the test
[other]
aws_access_key_id = nobody
aws_secret_access_key = nothing

[default]
aws_access_key_id = $S3_ACCESS_KEY
aws_secret_access_key = $S3_SECRET_KEY
EOC
chmod 600 "$T/credentials"

# s3_conf CREDENTIALS_LINE NAME: the standard config with an s3:// server.
s3_conf() {
    be_conf "s3://$S3_BUCKET/blocks/" "$2" |
        sed "s|^origin {|origin {\n    s3_endpoint $S3_ENDPOINT/;\n    s3_region $S3_REGION;\n    $1\n    error_summary_interval 1s;|"
}
CONF_RETRIES=0

# --- Without credentials (no file, nothing in the environment), or with a file without the
# [default] keys, blockedge does not start, and says why.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
printf '[other]\naws_access_key_id = x\naws_secret_access_key = y\n' >"$T/nodefault"
n=0
for line in "" "s3_credentials_file $T/nodefault;" "s3_credentials_file $T/missing;"; do
    n=$((n + 1))
    HTTP_PORT=$(free_port)
    ADMIN_PORT=$(free_port)
    s3_conf "$line" "nocred$n" >"$T/nocred$n.conf"
    timeout 10 "$BLOCKEDGE" -c "$T/nocred$n.conf" >"$T/nocred$n.out" 2>&1
    rc=$?
    check_eq "$rc" 1 "exit status without usable credentials (case $n)"
    grep -F '[emerg]' "$T/nocred$n.error.log" | grep -qE 'without credentials|no aws_access_key_id|open\(\) ".*missing" failed' ||
        fail "no [emerg] line saying what is wrong with the credentials (case $n): $(cat "$T/nocred$n.error.log")"
done

# --- A: credentials from the file.
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "$(s3_conf "s3_credentials_file $T/credentials;" be-s3)" be-s3
for k in "${KEYS[@]}"; do
    check_eq "$(http_get "$BE_URL/blocks/$k")" 200 "first GET of ${k:0:16}… through S3"
    check_eq "$(hdr X-Cache)" MISS "X-Cache of the first GET"
    check_eq "$(sha_of "$T/last.body")" "$k" "body of ${k:0:16}…"
    check_eq "$(http_get "$BE_URL/blocks/$k")" 200 "second GET of ${k:0:16}…"
    check_eq "$(hdr X-Cache)" HIT-MEMORY "X-Cache of the second GET"
    check_eq "$(sha_of "$T/last.body")" "$k" "body of the hit"
    check_eq "$(s3_gets "$k")" 1 "signed GETs the store saw for ${k:0:16}…"
done
check_eq "$(metric 'blockedge_origin_requests_total')" 3 "origin requests"
check_eq "$(metric 'blockedge_cache_blocks{tier="memory"}')" 3 "blocks cached"

for i in 1 2; do
    check_eq "$(http_get "$BE_URL/blocks/$ABSENT")" 404 "GET of a key absent from the bucket (#$i)"
done
check_eq "$(metric 'blockedge_origin_errors_total{reason="not_found"}')" 2 "not_found errors"
check_eq "$(s3_gets "$ABSENT")" 2 "GETs of the absent key (nothing cached)"
if grep -F '[error]' "$BE_ERRLOG" | grep -qF "$ABSENT"; then
    fail "a 404 from the bucket was logged as an error"
fi

# --- B: credentials from the environment, with the wrong secret.
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=not-the-secret
start_blockedge "$(s3_conf "" be-badkey)" be-badkey
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
K=${KEYS[0]}
check_eq "$(http_get "$BE_URL/blocks/$K")" 502 "GET signed with a wrong secret"
check_eq "$(metric 'blockedge_origin_errors_total{reason="status"}')" 1 "status errors"
check_eq "$(metric 'blockedge_cache_blocks{tier="memory"}')" 0 "blocks cached with a wrong secret"
grep -F '[error]' "$BE_ERRLOG" | grep -F "s3://$S3_BUCKET/blocks/" | grep -F "$K" |
    grep -qF 'S3 error SignatureDoesNotMatch, HTTP 403' ||
    fail "no [error] line naming SignatureDoesNotMatch and the block in $BE_ERRLOG"
for i in 1 2 3 4; do
    check_eq "$(http_get "$BE_URL/blocks/$K")" 502 "GET with a wrong secret (#$((i + 1)))"
done
# The repeats make no line each: a summary once the 1 s interval has passed (5 failures on 2
# workers: one worker saw at least 3).
for ((i = 0; i < 40; i++)); do
    grep -qF 'bad answers in the last 1 s' "$BE_ERRLOG" && break
    sleep 0.1
done
grep -F 'bad answers in the last 1 s (last: S3 error SignatureDoesNotMatch, HTTP 403)' "$BE_ERRLOG" |
    grep -qF "origin \"s3://$S3_BUCKET/blocks/\"" || fail "no summary line for the repeated 403s"
# Summaries are per worker (like the breakers): at most a detail line and a summary line each.
n=$(grep -cF 'SignatureDoesNotMatch' "$BE_ERRLOG")
check_num "$n" -le 4 "error-log lines naming SignatureDoesNotMatch for 5 failures on 2 workers"
log "ok"
