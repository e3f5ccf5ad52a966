#!/usr/bin/env bash
# 73_access_log: one line per request in nginx's combined format plus cache status, tier, block
# bytes and duration; buffered lines reach the file within the flush interval and at exit;
# SIGUSR1 reopens the file (the renamed one keeps its lines, new lines go to the new file);
# "access_log off" with "popularity off" serves without a log and without popularity metrics.
source "$(dirname "$0")/lib.sh"

gen_blocks "$T/blocks" 2 4k-8k 7303
mapfile -t KEYS < <(keys_of "$T/blocks")
SIZE0=$(size_of "$T/blocks" "${KEYS[0]}")
ABSENT=$(printf 'absent-%s' "$$" | sha256sum | cut -c1-64)
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
LOG="$T/access.log"
start_blockedge "$(be_conf "$ORIGIN_URL" | sed "s|^    listen 127.0.0.1:$HTTP_PORT;|&\n    access_log $LOG;|")"
IT_LOGS+=("$LOG")

A=(-A "it-agent/1.0" -e "http://referer.example/")
check_eq "$(http_get "$BE_URL/blocks/${KEYS[0]}" "${A[@]}")" 200 "GET (miss)"
check_eq "$(http_get "$BE_URL/blocks/${KEYS[0]}" "${A[@]}")" 200 "GET (hit)"
check_eq "$(http_get "$BE_URL/blocks/${KEYS[0]}" -I)" 200 "HEAD"
check_eq "$(http_get "$BE_URL/blocks/${KEYS[0]}" -H 'Range: bytes=0-99')" 206 "range"
check_eq "$(http_get "$BE_URL/blocks/$ABSENT")" 404 "absent block"
check_eq "$(http_get "$BE_URL/blocks/not-a-key" -A 'say "hi"\')" 400 "bad key"
check_eq "$(wait_lines "$LOG" 6)" 6 "access log lines within the flush interval"

"$PY" - "$LOG" "${KEYS[0]}" "$SIZE0" "$ABSENT" <<'PYEOF' || fail "access log format: $(cat "$LOG")"
import re, sys
path, key, size, absent = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
line_re = re.compile(
    r'^(\S+) - - \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "([^"]*)" (\d{3}) (\d+) '
    r'"([^"]*)" "([^"]*)" (HIT|MISS|-) (memory|disk|origin|-) (\d+|-) (\d+\.\d{6})$')
rows = []
for line in open(path).read().splitlines():
    m = line_re.match(line)
    assert m, f"line does not parse: {line!r}"
    rows.append(m.groups())
assert len(rows) == 6, rows
# workers flush their own buffers: find each request by what it was, not by its place
def one(pred, what):
    found = [r for r in rows if pred(r)]
    assert len(found) == 1, f"{what}: {found}"
    return found[0]
miss = one(lambda r: r[3] == "200" and r[7] == "MISS", "the miss")
addr, _, req, status, sent, ref, agent, cache, tier, block, dur = miss
assert addr == "127.0.0.1" and req == f"GET /blocks/{key} HTTP/1.1", miss
assert (sent, ref, agent, tier, block) == (
    size, "http://referer.example/", "it-agent/1.0", "origin", size), miss
hit = one(lambda r: r[2].startswith("GET ") and r[3] == "200" and r[7] == "HIT", "the hit")
assert hit[4] == size and hit[8:10] == ("memory", size) and hit[6] == "it-agent/1.0", hit
head = one(lambda r: r[2].startswith("HEAD "), "the HEAD")
assert head[3:5] == ("200", "0") and head[7:10] == ("HIT", "memory", size), head
rng = one(lambda r: r[3] == "206", "the range")
assert rng[4] == "100" and rng[7:10] == ("HIT", "memory", size), rng
nf = one(lambda r: r[3] == "404", "the 404")
assert nf[2] == f"GET /blocks/{absent} HTTP/1.1" and nf[7:10] == ("MISS", "origin", "-"), nf
bad = one(lambda r: r[3] == "400", "the 400")
assert bad[7:10] == ("-", "-", "-") and bad[5] == "-", bad
assert bad[6] == r"say \x22hi\x22\x5C", bad  # quotes and backslashes escaped as nginx does
PYEOF

# SIGUSR1: logrotate renames the file, then asks for a reopen.
mv "$LOG" "$LOG.1"
kill -USR1 "$BE_PID"
sleep 0.3
check_eq "$(http_get "$BE_URL/blocks/${KEYS[1]}")" 200 "GET after SIGUSR1"
check_eq "$(http_get "$BE_URL/blocks/${KEYS[1]}")" 200 "GET after SIGUSR1"
check_eq "$(wait_lines "$LOG" 2)" 2 "lines in the reopened access log"
check_eq "$(grep -c '' "$LOG.1")" 6 "lines left in the renamed access log"
check_contains "$BE_ERRLOG" "logs reopened" "error log after SIGUSR1"

# At exit the buffers are written even before the flush timer fires.
check_eq "$(http_get "$BE_URL/blocks/${KEYS[1]}")" 200 "GET before SIGTERM"
signal_and_wait "$BE_PID" TERM 10
check_eq "$SIG_RC" 0 "exit status after SIGTERM"
check_eq "$(grep -c '' "$LOG")" 3 "lines after exit"

# access_log off, popularity off.
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
before=$(find "$T" -maxdepth 1 -type f | wc -l)
start_blockedge "$(be_conf "$ORIGIN_URL" off |
    sed "s|^    listen 127.0.0.1:$HTTP_PORT;|&\n    access_log off;|")
stats { popularity off; }" off
check_eq "$(http_get "$BE_URL/blocks/${KEYS[0]}")" 200 "GET with access_log off"
scrape >"$T/off.prom" || fail "GET /metrics failed"
if grep -q '^blockedge_popularity\|^blockedge_mrc' "$T/off.prom"; then
    fail "popularity metrics with popularity off"
fi
curl -s --max-time 5 "$BE_ADMIN/stats" | grep -q '"popularity"' && fail "/stats has popularity"
after=$(find "$T" -maxdepth 1 -type f -newer "$BE_CONF" ! -name '*.prom' ! -name 'off.*' \
    ! -name 'last.*' | wc -l)
check_eq "$after" 0 "files written with access_log off"
log "ok (before: $before files)"
