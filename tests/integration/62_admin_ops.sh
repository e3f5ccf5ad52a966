#!/usr/bin/env bash
# 62_admin_ops: the admin listener's block operations against a real nginx origin.
#  - write requests need the bearer token of admin_token_file: none or a wrong one gets 403
#    (counted by reason), the right one works; -t fails with file:line on an empty token file;
#  - a key that is not 64 hex digits gets 400 with the reason;
#  - GET /blocks/<hex> reports memory and disk without fetching (the origin log shows nothing);
#  - DELETE /blocks/<hex> purges memory and disk: the next GET is a MISS, also after a restart
#    with the disk tier (the purge record holds); purging an absent key answers 404;
#  - a fetch under way when its key is purged is delivered but not cached (a slow origin);
#  - POST /prefetch of a block on disk reads it into memory (no origin request, no client hit);
#    POST /prefetch of 1000 lines, 10 of them bad and 5 missing at the origin, reports 985
#    done, 10 bad_key, 5 not_found; the 985 are then memory hits with no origin request; the
#    bounds answer 413, an empty list 400;
#  - a node whose rules deny the client answers 403 to everything, and purges nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disklib.sh"

NPREFETCH=985
NEXTRA=6 # blocks for the purge checks
# gen_blocks checks each block with its own sha256sum process (~20 s for 991 here): with
# blockgen built, write them with it and check them all with one sha256sum instead.
if [ -n "$BLOCKGEN" ] && [ -x "$BLOCKGEN" ]; then
    "$BLOCKGEN" -q -d "$T/blocks" -n $((NPREFETCH + NEXTRA)) -s 1k-4k --seed 6201 >"$T/blockgen.out" 2>&1 ||
        fail "blockgen failed: $(cat "$T/blockgen.out")"
    keys_of "$T/blocks" >"$T/all.keys"
    (cd "$T/blocks" && xargs sha256sum -- <"$T/all.keys") | awk '$1 != $2 { bad++ } END { exit bad > 0 }' ||
        fail "a generated block does not hash to its name"
else
    gen_blocks "$T/blocks" $((NPREFETCH + NEXTRA)) 1k-4k 6201
    keys_of "$T/blocks" >"$T/all.keys"
fi
check_eq "$(wc -l <"$T/all.keys")" $((NPREFETCH + NEXTRA)) "blocks generated"
head -n "$NPREFETCH" "$T/all.keys" >"$T/prefetch.keys"
mapfile -t X < <(tail -n "$NEXTRA" "$T/all.keys")
start_nginx_origin "$T/blocks"
TOKEN="it-$$-$RANDOM-token"
printf '%s\n' "$TOKEN" >"$T/token"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
mkdir -p "$T/disk"
CONF_RETRIES=0

# admin_conf EXTRA: the standard disk config with EXTRA lines added to admin { }.
admin_conf() {
    disk_conf "$ORIGIN_URL" "$T/disk" | sed "s|^admin {|admin {\n$1|"
}
CONF=$(admin_conf "    admin_token_file $T/token;\n    prefetch_concurrency 8;")

# jget FILE EXPR: a value of the JSON document in FILE (EXPR in Python, d is the document).
jget() {
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" ||
        fail "jget $2: $(head -c 300 "$1")"
}

# admin METHOD PATH [CURL ARGS...]: an admin request; body in $T/last.body, prints the status.
admin() {
    local method=$1 path=$2
    shift 2
    http_get "$BE_ADMIN$path" -X "$method" "$@"
}
AUTH=(-H "Authorization: Bearer $TOKEN")

# --- -t reads the token file: an empty or missing one fails with file:line.
: >"$T/empty.token"
printf '%s\n' "$(admin_conf "    admin_token_file $T/empty.token;")" >"$T/empty.conf"
if "$BLOCKEDGE" -t -c "$T/empty.conf" 2>"$T/t.err"; then fail "-t accepted an empty token file"; fi
check_contains "$T/t.err" "cannot read \"admin_token_file\": \"$T/empty.token\" is empty in $T/empty.conf:" "-t message for an empty token file"
printf '%s\n' "$(admin_conf "    admin_token_file $T/no-such.token;")" >"$T/missing.conf"
if "$BLOCKEDGE" -t -c "$T/missing.conf" 2>"$T/t.err"; then fail "-t accepted a missing token file"; fi
check_contains "$T/t.err" "open() \"$T/no-such.token\" failed (2: No such file or directory) in $T/missing.conf:" "-t message for a missing token file"
printf '%s\n' "$CONF" >"$T/ok.conf"
"$BLOCKEDGE" -t -c "$T/ok.conf" 2>"$T/t.err" || fail "-t with a good token file: $(cat "$T/t.err")"
"$BLOCKEDGE" -T | grep -q '^prefetch_concurrency .* 16 ' || fail "-T does not show prefetch_concurrency with its default"
"$BLOCKEDGE" -T | grep -q '^admin_token_file ' || fail "-T does not show admin_token_file"

start_blockedge "$CONF"
wait_disk_ready

# --- the token: missing and wrong ones are refused and counted, GET needs none.
K=${X[0]}
check_eq "$(admin DELETE "/blocks/$K")" 403 "DELETE without a token"
check_contains "$T/last.body" 'needs "Authorization: Bearer <token>"' "403 body without a token"
check_eq "$(admin DELETE "/blocks/$K" -H "Authorization: Bearer wrong-$TOKEN")" 403 "DELETE with a wrong token"
check_contains "$T/last.body" "wrong token" "403 body with a wrong token"
check_eq "$(admin POST "/purge/$K" -H "Authorization: Basic $TOKEN")" 403 "POST /purge with another scheme"
check_eq "$(admin POST /prefetch --data-binary "@$T/prefetch.keys" -H "Authorization: Bearer ${TOKEN}x")" 403 "POST /prefetch with a wrong token"
check_eq "$(metric 'blockedge_admin_denied_total{reason="no_token"}')" 2 "refusals without a token"
check_eq "$(metric 'blockedge_admin_denied_total{reason="bad_token"}')" 2 "refusals with a wrong token"
check_eq "$(metric 'blockedge_admin_prefetch_jobs_total{result="accepted"}')" 0 "no job started by a refused POST"
check_eq "$(admin GET "/blocks/$K")" 404 "GET /blocks without a token (not held)"

# --- bad keys: 400 with the reason, whatever the method.
check_eq "$(admin DELETE /blocks/xyz "${AUTH[@]}")" 400 "DELETE of a short key"
check_contains "$T/last.body" "expected 64 hex digits, got 3 characters" "reason for a short key"
check_eq "$(admin DELETE "/blocks/${K:0:63}g" "${AUTH[@]}")" 400 "DELETE of a key with a non-hex digit"
check_contains "$T/last.body" "character 64 is not a hex digit" "reason for a non-hex digit"
check_eq "$(admin POST "/purge/${K}0" "${AUTH[@]}")" 400 "POST /purge of a 65-digit key"
check_eq "$(admin GET /blocks/..%2f..%2fetc)" 400 "GET /blocks of a path"
check_eq "$(admin PUT "/blocks/$K" "${AUTH[@]}")" 405 "PUT /blocks"
check_eq "$(hdr Allow)" "GET, DELETE" "Allow of /blocks"

# --- inspect: memory and disk as they are, and never an origin fetch.
check_eq "$(http_get "$BE_URL/blocks/$K")" 200 "GET of a block"
check_eq "$(hdr X-Cache)" MISS "X-Cache of the first GET"
check_eq "$(wait_metric blockedge_disk_writes_total 1 10)" 1 "the block written to disk"
check_eq "$(admin GET "/blocks/$K")" 200 "inspect of a held block"
cp "$T/last.body" "$T/inspect.json"
check_eq "$(jget "$T/inspect.json" 'd["held"]')" True "inspect: held"
check_eq "$(jget "$T/inspect.json" 'd["memory"]["size"]')" "$(size_of "$T/blocks" "$K")" "inspect: memory size"
check_eq "$(jget "$T/inspect.json" 'd["disk"]["size"]')" "$(size_of "$T/blocks" "$K")" "inspect: disk size"
check_eq "$(jget "$T/inspect.json" 'd["disk_tier"]')" ready "inspect: disk tier state"
check_eq "$(jget "$T/inspect.json" 'd["fetching"]')" False "inspect: nothing fetching"
check_eq "$(http_get "$BE_URL/blocks/$K")" 200 "GET of a block again"
check_eq "$(hdr X-Cache)" HIT-MEMORY "X-Cache of the second GET"
admin GET "/blocks/$K" >/dev/null
check_eq "$(jget "$T/last.body" 'd["memory"]["hits"]')" 1 "inspect: memory hits"
check_eq "$(admin GET "/blocks/${X[1]}")" 404 "inspect of a block never asked for"
check_eq "$(jget "$T/last.body" '[d["held"], d["memory"], d["disk"]]')" "[False, False, False]" "inspect of an absent block"
expect_origin_count "$K" 1
expect_origin_count "${X[1]}" 0

# --- purge: memory and disk; the next GET is a MISS; an absent key answers 404.
check_eq "$(admin DELETE "/blocks/$K" "${AUTH[@]}")" 200 "DELETE of a held block"
check_eq "$(jget "$T/last.body" '[d["purged"], d["memory"], d["disk"], d["fetching"]]')" "[True, True, True, False]" "purge answer"
check_eq "$(jget "$T/last.body" 'd["key"]')" "$K" "purge answer: key"
check_eq "$(admin GET "/blocks/$K")" 404 "inspect after the purge"
check_eq "$(http_get "$BE_URL/blocks/$K")" 200 "GET after the purge"
check_eq "$(hdr X-Cache)" MISS "X-Cache after the purge"
check_eq "$(sha_of "$T/last.body")" "$K" "bytes after the purge"
expect_origin_count "$K" 2
check_eq "$(admin POST "/purge/${X[1]}" "${AUTH[@]}")" 404 "purge of a block nothing holds"
check_eq "$(jget "$T/last.body" '[d["purged"], d["memory"], d["disk"]]')" "[False, False, False]" "answer for an absent block"
expect_origin_count "${X[1]}" 0

# --- the purge record holds across a restart; a block not purged comes back from disk.
K2=${X[2]}
K3=${X[3]}
check_eq "$(http_get "$BE_URL/blocks/$K2")" 200 "GET of the control block"
check_eq "$(http_get "$BE_URL/blocks/$K3")" 200 "GET of a block to prefetch from disk"
check_eq "$(wait_metric blockedge_disk_writes_total 6 10)" 6 "records: 2 fills of K, 2 purges, K2, K3"
check_eq "$(admin DELETE "/blocks/$K" "${AUTH[@]}")" 200 "second purge of K"
check_eq "$(jget "$T/last.body" '[d["memory"], d["disk"]]')" "[True, True]" "second purge answer"
check_eq "$(metric 'blockedge_admin_purges_total{result="purged"}')" 2 "purges that found the block"
check_eq "$(metric 'blockedge_admin_purges_total{result="absent"}')" 1 "purges that found nothing"
check_eq "$(metric blockedge_disk_purges_total)" 3 "disk purges (the absent key's record included)"
signal_and_wait "$BE_PID" TERM 15
check_eq "$SIG_RC" 0 "exit status after SIGTERM"
start_blockedge "$CONF" be2
wait_disk_ready
check_eq "$(admin GET "/blocks/$K")" 404 "inspect of the purged block after the restart"
check_eq "$(admin GET "/blocks/$K2")" 200 "inspect of the control block after the restart"
check_eq "$(jget "$T/last.body" '[d["memory"], d["disk"] != False]')" "[False, True]" "control block: on disk only"
check_eq "$(http_get "$BE_URL/blocks/$K2")" 200 "GET of the control block after the restart"
check_eq "$(hdr X-Cache)" HIT-DISK "X-Cache of the control block after the restart"
check_eq "$(http_get "$BE_URL/blocks/$K")" 200 "GET of the purged block after the restart"
check_eq "$(hdr X-Cache)" MISS "X-Cache of the purged block after the restart"
expect_origin_count "$K" 3
expect_origin_count "$K2" 1

# --- a prefetch of a block the disk holds reads it into memory, without the origin.
check_eq "$(admin POST /prefetch "${AUTH[@]}" --data-binary "$K3")" 202 "POST /prefetch of a block on disk"
JOB0=$(jget "$T/last.body" 'd["id"]')
for ((i = 0; i < 100; i++)); do
    admin GET "/prefetch/$JOB0" >/dev/null
    [ "$(jget "$T/last.body" 'd["state"]')" = done ] && break
    sleep 0.1
done
check_eq "$(jget "$T/last.body" '[d["state"], d["done"], d["cached"], d["from_disk"]]')" "['done', 0, 1, 1]" "prefetch from disk"
check_eq "$(http_get "$BE_URL/blocks/$K3")" 200 "GET of the block prefetched from disk"
check_eq "$(hdr X-Cache)" HIT-MEMORY "X-Cache of the block prefetched from disk"
expect_origin_count "$K3" 1
check_eq "$(metric 'blockedge_cache_hits_total{tier="disk"}')" 1 "disk hits: the control block's GET, not the prefetch"

# --- prefetch: 1000 lines, 10 bad, 5 missing at the origin.
for i in 1 2 3 4 5; do
    printf 'missing-%s-%s' "$$" "$i" | sha256sum | cut -c1-64
done >"$T/missing.keys"
"$PY" - "$T/prefetch.keys" "$T/missing.keys" "$T/list" <<'PYEOF' || fail "cannot write the key list"
import sys
good = open(sys.argv[1]).read().split()
missing = open(sys.argv[2]).read().split()
bad = ["zz" * 32, good[0][:63], good[0] + "0", "../etc/passwd", "hello world",
       good[1][:32] + " " + good[1][32:], "g" + good[2][1:], "0x" + good[3][2:], "-", good[4][:-1] + "/"]
lines, bi, mi = [], 0, 0
for i, k in enumerate(good):
    lines.append(k.upper() if i % 7 == 0 else k)  # either case
    if i % 97 == 50 and bi < len(bad):
        lines.append(bad[bi]); bi += 1
    if i % 190 == 100 and mi < len(missing):
        lines.append("  " + missing[mi] + "\t"); mi += 1
lines += bad[bi:] + missing[mi:]
assert len(lines) == 1000, len(lines)
with open(sys.argv[3], "w") as f:
    f.write("\r\n".join(lines[:500]) + "\r\n\n" + "\n".join(lines[500:]) + "\n")
PYEOF
scrape >"$T/before.prom" || fail "GET /metrics failed"
before_origin=$(origin_total)
check_eq "$(admin POST /prefetch "${AUTH[@]}" --data-binary "@$T/list")" 202 "POST /prefetch"
check_eq "$(hdr Location)" "/prefetch/$(jget "$T/last.body" 'd["id"]')" "Location of the job"
JOB=$(jget "$T/last.body" 'd["id"]')
check_eq "$(jget "$T/last.body" 'd["total"]')" 1000 "total keys when accepted"
t0=$(now_ms)
state=running
for ((i = 0; i < 300; i++)); do
    check_eq "$(admin GET "/prefetch/$JOB")" 200 "GET /prefetch/$JOB"
    state=$(jget "$T/last.body" 'd["state"]')
    [ "$state" = done ] && break
    sleep 0.1
done
check_eq "$state" done "job state within 30 s"
log "prefetch of 1000 lines took $(($(now_ms) - t0)) ms (poll resolution 100 ms)"
cp "$T/last.body" "$T/job.json"
IT_LOGS+=("$T/job.json")
check_eq "$(jget "$T/job.json" 'd["total"]')" 1000 "job total"
check_eq "$(jget "$T/job.json" 'd["done"]')" "$NPREFETCH" "job done"
check_eq "$(jget "$T/job.json" 'd["cached"]')" 0 "job cached"
check_eq "$(jget "$T/job.json" 'd["pending"]')" 0 "job pending"
check_eq "$(jget "$T/job.json" 'd["failed"]["bad_key"]')" 10 "job bad keys"
check_eq "$(jget "$T/job.json" 'd["failed"]["not_found"]')" 5 "job keys missing at the origin"
check_eq "$(jget "$T/job.json" 'sum(d["failed"].values())')" 15 "job failures in all"
check_eq "$(jget "$T/job.json" 'len(d["bad_lines"])')" 10 "bad lines listed"
scrape >"$T/after.prom" || fail "GET /metrics failed"
delta() {
    echo $(($(metric_in "$T/after.prom" "$1") - $(metric_in "$T/before.prom" "$1")))
}
check_eq "$(delta 'blockedge_admin_prefetch_keys_total{result="fetched"}')" "$NPREFETCH" "prefetched keys counted"
check_eq "$(delta 'blockedge_admin_prefetch_keys_total{result="bad_key"}')" 10 "bad keys counted"
check_eq "$(delta 'blockedge_admin_prefetch_keys_total{result="not_found"}')" 5 "missing keys counted"
check_eq "$(delta 'blockedge_admin_prefetch_jobs_total{result="accepted"}')" 1 "jobs accepted"
check_eq "$(delta 'blockedge_admin_prefetch_keys_total{result="disk"}')" 0 "keys read from disk by this job"
check_eq "$(delta blockedge_cache_misses_total)" 0 "a prefetch is no client miss"
check_eq "$(delta blockedge_origin_requests_total)" $((NPREFETCH + 5)) "origin requests of the job"
sleep 0.3
check_eq "$(($(origin_total) - before_origin))" $((NPREFETCH + 5)) "origin log lines of the job"
for k in $(cat "$T/missing.keys"); do
    expect_origin_count "$k" 1
done
grep -qE ' /blocks/(zz|\.\.|hello|-)' "$ORIGIN_LOG" && fail "a bad key reached the origin"
check_eq "$(wait_metric 'blockedge_cache_blocks{tier="disk"}' $((NPREFETCH + 3)) 10)" $((NPREFETCH + 3)) "prefetched blocks written to disk too"

# every prefetched block is now a memory hit, with no origin request
get_all "$T/prefetch.keys" "$T/warm.out"
check_eq "$(xcache_count "$T/warm.out" HIT-MEMORY)" "$NPREFETCH" "HIT-MEMORY after the prefetch"
scrape >"$T/after2.prom" || fail "GET /metrics failed"
check_eq "$(($(metric_in "$T/after2.prom" 'blockedge_cache_hits_total{tier="memory"}') - $(metric_in "$T/after.prom" 'blockedge_cache_hits_total{tier="memory"}')))" "$NPREFETCH" "memory hits after the prefetch"
check_eq "$(($(origin_total) - before_origin))" $((NPREFETCH + 5)) "no origin request after the prefetch"

# a second job of the same keys finds them cached; the job list shows both, newest first
check_eq "$(admin POST /prefetch "${AUTH[@]}" --data-binary "@$T/prefetch.keys")" 202 "second POST /prefetch"
JOB2=$(jget "$T/last.body" 'd["id"]')
for ((i = 0; i < 100; i++)); do
    admin GET "/prefetch/$JOB2" >/dev/null
    [ "$(jget "$T/last.body" 'd["state"]')" = done ] && break
    sleep 0.1
done
check_eq "$(jget "$T/last.body" '[d["state"], d["cached"], d["done"]]')" "['done', $NPREFETCH, 0]" "second job: all cached"
check_eq "$(admin GET /prefetch)" 200 "GET /prefetch"
check_eq "$(jget "$T/last.body" '[j["id"] for j in d["jobs"]]')" "[$JOB2, $JOB, $JOB0]" "job list"
check_eq "$(admin GET /prefetch/999)" 404 "an unknown job"

# bounds: an empty list, more than 100000 keys, a body over 8 MiB (refused before it is read)
check_eq "$(admin POST /prefetch "${AUTH[@]}" --data-binary '')" 400 "POST /prefetch of nothing"
"$PY" -c 'import sys; sys.stdout.write(("a" * 64 + "\n") * 100001)' >"$T/many"
check_eq "$(admin POST /prefetch "${AUTH[@]}" --data-binary "@$T/many")" 413 "POST /prefetch of 100001 keys"
check_contains "$T/last.body" "too many keys" "413 body for too many keys"
head -c 9000000 /dev/zero | tr '\0' 'a' >"$T/huge"
check_eq "$(admin POST /prefetch "${AUTH[@]}" -H 'Expect: 100-continue' --data-binary "@$T/huge")" 413 "POST /prefetch of 9 MB"
check_eq "$(metric 'blockedge_admin_prefetch_jobs_total{result="too_large"}')" 2 "jobs refused as too large"
check_eq "$(metric 'blockedge_admin_prefetch_jobs_total{result="bad_request"}')" 1 "jobs refused as empty"
signal_and_wait "$BE_PID" TERM 15
check_eq "$SIG_RC" 0 "exit status after SIGTERM"

# --- a fetch under way when its key is purged is delivered, not cached.
mkdir -p "$T/slow"
head -c 262144 /dev/urandom >"$T/slow/tmp" # 4 s at 64k/s
SLOW=$(sha_of "$T/slow/tmp")
mv "$T/slow/tmp" "$T/slow/$SLOW"
start_nginx_origin "$T/slow" slow "limit_rate 64k;"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
mkdir -p "$T/disk3"
start_blockedge "$(disk_conf "$ORIGIN_URL" "$T/disk3" be3 | sed "s|^admin {|admin {\n    admin_token_file $T/token;|")" be3
wait_disk_ready
curl -s --max-time 20 -o "$T/slow.body" -D "$T/slow.hdr" "$BE_URL/blocks/$SLOW" &
slow_pid=$!
check_eq "$(wait_metric blockedge_inflight_fetches 1 5)" 1 "the slow fetch under way"
check_eq "$(admin DELETE "/blocks/$SLOW" "${AUTH[@]}")" 200 "purge during the fetch"
check_eq "$(jget "$T/last.body" '[d["memory"], d["disk"], d["fetching"]]')" "[False, False, True]" "purge answer during the fetch"
wait "$slow_pid" || fail "the GET of the slow block failed"
check_eq "$(sha_of "$T/slow.body")" "$SLOW" "the waiter got its bytes"
check_eq "$(hdr X-Cache "$T/slow.hdr")" MISS "X-Cache of the slow GET"
sleep 0.3
check_eq "$(admin GET "/blocks/$SLOW")" 404 "inspect after the fetch ended: nothing kept"
check_eq "$(metric 'blockedge_cache_blocks{tier="memory"}')" 0 "nothing in memory"
check_eq "$(metric blockedge_disk_writes_total)" 1 "only the purge record on disk"
signal_and_wait "$BE_PID" TERM 15
check_eq "$SIG_RC" 0 "exit status after SIGTERM"

# --- a node whose rules deny this client: 403 everywhere, and nothing is purged.
start_nginx_origin "$T/blocks" origin4
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
DENY_CONF=$(be_conf "$ORIGIN_URL" be4 | sed "s|^admin {|admin {\n    admin_token_file $T/token;\n    deny all;|")
# start_blockedge waits for /healthz 200, which this node refuses: start it by hand
printf '%s\n' "$DENY_CONF" >"$T/be4.conf"
"$BLOCKEDGE" -c "$T/be4.conf" >"$T/be4.stdout" 2>"$T/be4.stderr" &
BE4=$!
track "$BE4"
IT_LOGS+=("$T/be4.stderr" "$T/be4.error.log")
BE_ADMIN="http://127.0.0.1:$ADMIN_PORT"
BE_URL="http://127.0.0.1:$HTTP_PORT"
for ((i = 0; i < 100; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BE_ADMIN/healthz")" = 403 ] && break
    kill -0 "$BE4" 2>/dev/null || fail "the denying node exited at start"
    sleep 0.1
done
K5=${X[5]}
check_eq "$(http_get "$BE_URL/blocks/$K5")" 200 "GET on the denying node"
check_eq "$(admin DELETE "/blocks/$K5" "${AUTH[@]}")" 403 "DELETE from a denied address, right token"
check_eq "$(cat "$T/last.body")" forbidden "403 body for a denied address"
check_eq "$(admin POST "/purge/$K5" "${AUTH[@]}")" 403 "POST /purge from a denied address"
check_eq "$(admin POST /prefetch "${AUTH[@]}" --data-binary "$K5")" 403 "POST /prefetch from a denied address"
check_eq "$(admin GET "/blocks/$K5")" 403 "GET /blocks from a denied address"
check_eq "$(admin GET /metrics)" 403 "GET /metrics from a denied address"
check_eq "$(http_get "$BE_URL/blocks/$K5")" 200 "GET after the refused purges"
check_eq "$(hdr X-Cache)" HIT-MEMORY "X-Cache after the refused purges"
log "ok"
