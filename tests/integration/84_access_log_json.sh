#!/usr/bin/env bash
# 84_access_log_json: `access_log PATH json` writes one JSON object per request with the same
# fields as the combined line (a miss, a hit, a HEAD, a range, a 404, a 400 with quotes,
# backslashes and non-ASCII bytes in its User-Agent, an HTTP/2 request); every line
# parses with Python's json module; a reload switches the format to combined and back; -t
# names file:line for an unknown format and for "off json".
source "$(dirname "$0")/lib.sh"

gen_blocks "$T/blocks" 2 4k-8k 8404
mapfile -t KEYS < <(keys_of "$T/blocks")
SIZE0=$(size_of "$T/blocks" "${KEYS[0]}")
ABSENT=$(printf 'absent-%s' "$$" | sha256sum | cut -c1-64)
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
LOG="$T/access.log"
conf_with() { # conf_with "ACCESS_LOG ARGS": the config with that access_log line
    be_conf "$ORIGIN_URL" | sed "s|^    listen 127.0.0.1:$HTTP_PORT;|&\n    access_log $1;|"
}

# -t: the format is checked, with file:line.
for bad in "$LOG yaml" "off json" "$LOG json extra"; do
    conf_with "$bad" >"$T/bad.conf"
    line=$(grep -n "access_log" "$T/bad.conf" | cut -d: -f1)
    if "$BLOCKEDGE" -t -c "$T/bad.conf" 2>"$T/t.err"; then fail "-t accepted \"access_log $bad\""; fi
    check_contains "$T/t.err" "$T/bad.conf:$line" "-t names the line of \"access_log $bad\""
done

start_blockedge "$(conf_with "$LOG json")"
IT_LOGS+=("$LOG")

A=(-A "it-agent/1.0" -e "http://referer.example/")
check_eq "$(http_get "$BE_URL/blocks/${KEYS[0]}" "${A[@]}")" 200 "GET (miss)"
check_eq "$(http_get "$BE_URL/blocks/${KEYS[0]}" "${A[@]}")" 200 "GET (hit)"
check_eq "$(http_get "$BE_URL/blocks/${KEYS[0]}" -I)" 200 "HEAD"
check_eq "$(http_get "$BE_URL/blocks/${KEYS[0]}" -H 'Range: bytes=0-99')" 206 "range"
check_eq "$(http_get "$BE_URL/blocks/$ABSENT")" 404 "absent block"
check_eq "$(http_get "$BE_URL/blocks/not-a-key" -A $'say "hi"\\ caf\xc3\xa9 \xff')" 400 "bad key"
check_eq "$(http_get "$BE_URL/blocks/${KEYS[0]}" --http2-prior-knowledge)" 200 "GET over h2c"
check_eq "$(wait_lines "$LOG" 7)" 7 "access log lines within the flush interval"

"$PY" - "$LOG" "${KEYS[0]}" "$SIZE0" "$ABSENT" <<'PYEOF' || fail "JSON access log: $(cat "$LOG")"
import json, re, sys
path, key, size, absent = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
size = int(size)
fields = ["time_local", "remote_addr", "method", "path", "protocol", "status", "body_bytes_sent",
          "http_referer", "http_user_agent", "cache", "tier", "block_bytes", "request_time"]
rows = []
for raw in open(path, "rb").read().splitlines():
    line = raw.decode("utf-8")  # the writer escapes every non-ASCII byte: always valid UTF-8
    o = json.loads(line)
    assert list(o) == fields, f"fields: {list(o)}"
    assert re.match(r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$", o["time_local"]), o
    assert isinstance(o["status"], int) and isinstance(o["body_bytes_sent"], int), o
    assert isinstance(o["request_time"], float) and o["request_time"] >= 0, o
    rows.append(o)
assert len(rows) == 7, rows
def one(pred, what):
    found = [r for r in rows if pred(r)]
    assert len(found) == 1, f"{what}: {found}"
    return found[0]
miss = one(lambda r: r["status"] == 200 and r["cache"] == "MISS", "the miss")
assert (miss["remote_addr"], miss["method"], miss["path"], miss["protocol"]) == (
    "127.0.0.1", "GET", f"/blocks/{key}", "HTTP/1.1"), miss
assert (miss["body_bytes_sent"], miss["http_referer"], miss["http_user_agent"], miss["tier"],
        miss["block_bytes"]) == (size, "http://referer.example/", "it-agent/1.0", "origin", size), miss
hit = one(lambda r: r["method"] == "GET" and r["status"] == 200 and r["cache"] == "HIT"
          and r["protocol"] == "HTTP/1.1", "the hit")
assert (hit["tier"], hit["block_bytes"], hit["body_bytes_sent"]) == ("memory", size, size), hit
h2 = one(lambda r: r["protocol"] == "HTTP/2.0", "the h2c request")
assert (h2["status"], h2["cache"], h2["tier"], h2["body_bytes_sent"]) == (200, "HIT", "memory", size), h2
head = one(lambda r: r["method"] == "HEAD", "the HEAD")
assert (head["status"], head["body_bytes_sent"], head["cache"]) == (200, 0, "HIT"), head
rng = one(lambda r: r["status"] == 206, "the range")
assert rng["body_bytes_sent"] == 100 and rng["block_bytes"] == size, rng
nf = one(lambda r: r["status"] == 404, "the 404")
assert (nf["path"], nf["cache"], nf["tier"], nf["block_bytes"]) == (
    f"/blocks/{absent}", "MISS", "origin", None), nf
bad = one(lambda r: r["status"] == 400, "the 400")
assert (bad["cache"], bad["tier"], bad["block_bytes"], bad["http_referer"]) == ("", "", None, ""), bad
# every byte comes back as itself (non-ASCII bytes as the code point of the same value)
assert bad["http_user_agent"] == 'say "hi"\\ caf\u00c3\u00a9 \u00ff', repr(bad["http_user_agent"])
PYEOF

# reload_to "ACCESS_LOG ARGS": rewrite the config, SIGHUP, wait for the reload.
reload_to() {
    conf_with "$1" >"$BE_CONF"
    local before i
    before=$(grep -c 'configuration reloaded' "$BE_ERRLOG")
    kill -HUP "$BE_PID"
    for ((i = 0; i < 50; i++)); do
        [ "$(grep -c 'configuration reloaded' "$BE_ERRLOG")" -gt "$before" ] && break
        sleep 0.1
    done
    check_num "$(grep -c 'configuration reloaded' "$BE_ERRLOG")" -gt "$before" "reload to \"$1\""
    sleep 0.3 # each worker takes the new configuration from its mailbox
}
reload_to "$LOG combined"
check_eq "$(http_get "$BE_URL/blocks/${KEYS[1]}")" 200 "GET after the reload to combined"
check_eq "$(wait_lines "$LOG" 8)" 8 "lines after the reload to combined"
tail -n 1 "$LOG" | grep -Eq "^127\.0\.0\.1 - - \[.*\] \"GET /blocks/${KEYS[1]} HTTP/1\.1\" 200 [0-9]+ \"-\" \"curl/[^\"]*\" MISS origin [0-9]+ [0-9.]+$" ||
    fail "the line after the reload to combined: $(tail -n 1 "$LOG")"
reload_to "$LOG json"
check_eq "$(http_get "$BE_URL/blocks/${KEYS[1]}")" 200 "GET after the reload back to json"
check_eq "$(wait_lines "$LOG" 9)" 9 "lines after the reload back to json"
tail -n 1 "$LOG" | "$PY" -c 'import json, sys; o = json.loads(sys.stdin.read()); assert o["cache"] == "HIT", o' ||
    fail "the line after the reload back to json: $(tail -n 1 "$LOG")"
log "ok"
