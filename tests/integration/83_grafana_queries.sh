#!/usr/bin/env bash
# 83_grafana_queries: conf/grafana/blockedge.json is valid dashboard JSON whose panels cover
# what operators watch; every PromQL query of every panel, with the dashboard's variables
# filled in ($instance = all, $__rate_interval = 1m), parses and returns data from a real
# Prometheus that has scraped a live node with a disk tier after a skewed workload (hits,
# misses, a 404). Bounded: at most ~30 s of waiting in all.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disklib.sh"
source "$(dirname "$0")/promlib.sh"

DASH=$BE_SOURCE_DIR/conf/grafana/blockedge.json

# The panels and their queries, one "TITLE<TAB>KIND<TAB>EXPR" line per query.
"$PY" - "$DASH" >"$T/queries.tsv" <<'PY' || fail "$DASH: not a dashboard"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["uid"] and d["title"] and d["panels"], "uid, title and panels are required"
ids = [p["id"] for p in d["panels"]]
assert len(ids) == len(set(ids)), "panel ids repeat"
for p in d["panels"]:
    assert p["targets"], "panel %r has no query" % p["title"]
    for t in p["targets"]:
        kind = "instant" if t.get("instant") else "range"
        print("%s\t%s\t%s" % (p["title"], kind, t["expr"]))
PY
nq=$(wc -l <"$T/queries.tsv")
check_num "$nq" -ge 20 "queries in the dashboard"
for want in "Hit ratio by tier" "Request latency (heatmap)" "Origin fetches and errors" \
    "Cache bytes vs capacity" "Evictions" "Zipf exponent" "Miss-ratio curve" "Connections"; do
    check_contains "$T/queries.tsv" "$want" "the dashboard's panels"
done

N=16
gen_blocks "$T/blocks" "$N" 1k-8k 8301
mapfile -t KEYS < <(keys_of "$T/blocks")
ABSENT=$(printf 'absent-%s' "$$" | sha256sum | cut -c1-64)
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
mkdir -p "$T/disk"
start_blockedge "$(disk_conf "$ORIGIN_URL" "$T/disk")"
wait_disk_ready

start_prometheus

# A skewed workload in rounds while Prometheus scrapes: block i asked N - i times a round.
workload() {
    local urls=() i j
    for ((i = 0; i < N; i++)); do
        for ((j = 0; j < N - i; j++)); do
            urls+=(-o /dev/null "$BE_URL/blocks/${KEYS[$i]}")
        done
    done
    urls+=(-o /dev/null "$BE_URL/blocks/$ABSENT")
    curl -s --max-time 20 "${urls[@]}" || fail "workload curl failed"
}

# run_query KIND EXPR: "ok N" (N series or points) or "error: ..." / "empty".
run_query() {
    local kind=$1 expr=$2 now
    now=$(date +%s)
    if [ "$kind" = instant ]; then
        curl -s --max-time 5 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$expr"
    else
        curl -s --max-time 5 -G "http://127.0.0.1:$PROM_PORT/api/v1/query_range" \
            --data-urlencode "query=$expr" --data-urlencode "start=$((now - 60))" \
            --data-urlencode "end=$now" --data-urlencode "step=1"
    fi | "$PY" -c '
import json, sys
try:
    r = json.load(sys.stdin)
except Exception as e:
    print("error: no JSON (%s)" % e); sys.exit()
if r.get("status") != "success":
    print("error: %s" % r.get("error", r)); sys.exit()
res = r["data"]["result"]
vals = [v for s in res for v in (s.get("values") or [s.get("value")]) if v and v[1] not in ("NaN",)]
print("ok %d" % len(res) if vals else "empty")'
}

# The families a build may lack: jemalloc's figures, absent where a sanitizer replaces the
# allocator. A query over one of them may be empty only when the node does not export it.
OPTIONAL="blockedge_memory_allocated_bytes blockedge_memory_resident_bytes"
scrape >"$T/metrics.prom"
may_be_empty() { # may_be_empty EXPR: 0 when EXPR names an optional family the node lacks
    local n
    for n in $OPTIONAL; do
        case "$1" in *"$n"*) grep -q "^# TYPE $n " "$T/metrics.prom" || return 0 ;; esac
    done
    return 1
}

# Up to ~25 s: load, then ask every query until each returns data.
declare -A RESULT
pending=$nq
for ((round = 0; round < 12 && pending > 0; round++)); do
    kill -0 "$PROM_PID" 2>/dev/null || fail "prometheus exited"
    workload
    sleep 1
    pending=0
    while IFS=$'\t' read -r title kind expr; do
        q=${expr//\$instance/.*}
        q=${q//\$__rate_interval/1m}
        RESULT[$expr]=$(run_query "$kind" "$q")
        case "${RESULT[$expr]}" in
        error:*) fail "panel \"$title\": the query does not run: ${RESULT[$expr]}: $q" ;;
        ok*) ;;
        *) may_be_empty "$expr" && RESULT[$expr]="ok (not exported by this build)" ;;
        esac
        case "${RESULT[$expr]}" in
        ok*) ;;
        *) pending=$((pending + 1)) ;;
        esac
    done <"$T/queries.tsv"
done
while IFS=$'\t' read -r title kind expr; do
    case "${RESULT[$expr]}" in
    ok*) ;;
    *) fail "panel \"$title\": no data for $expr (${RESULT[$expr]})" ;;
    esac
done <"$T/queries.tsv"
log "ok ($nq queries in $(grep -c '"title"' "$DASH") titled objects, all with data)"
