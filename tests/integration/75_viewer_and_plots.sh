#!/usr/bin/env bash
# 75_viewer_and_plots: tools/blockedge-top --once shows the node's counts, rates, Zipf exponent,
# predicted hit ratios and the hottest block first; tools/blockedge-plot writes two well-formed
# SVG files (rank-frequency with the fitted line, and the curve with the current size); both
# fail with a message and exit 1 when the node does not answer. blockedge-plot --sim draws
# tools/cachesim's CSV as the expected text chart and refuses a CSV that is not cachesim's.
source "$(dirname "$0")/lib.sh"

TOP="$BE_SOURCE_DIR/tools/blockedge-top"
PLOT="$BE_SOURCE_DIR/tools/blockedge-plot"
N=10
gen_blocks "$T/blocks" "$N" 4k 7505
mapfile -t KEYS < <(keys_of "$T/blocks")
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
start_blockedge "$(be_conf "$ORIGIN_URL")"

urls=()
for ((i = 0; i < N; i++)); do
    for ((j = 0; j < 3 * (N - i); j++)); do
        urls+=(-o /dev/null "$BE_URL/blocks/${KEYS[$i]}")
    done
done
curl -s --max-time 30 "${urls[@]}" || fail "workload curl failed"

COLUMNS=120 "$PY" "$TOP" --once -i 0.3 -n 5 "$BE_ADMIN" >"$T/top.out" 2>"$T/top.err" ||
    fail "blockedge-top --once failed: $(cat "$T/top.err")"
IT_LOGS+=("$T/top.out")
check_contains "$T/top.out" "blockedge 0.1.0 at $BE_ADMIN" "viewer header"
check_contains "$T/top.out" "hit ratio" "viewer hit ratio"
check_contains "$T/top.out" "zipf      s = " "viewer Zipf exponent"
check_contains "$T/top.out" "1/8x" "viewer predicted hit ratios"
check_contains "$T/top.out" "/s" "viewer rates"
first=$(awk '$1 == "1" && NF == 5 {print $5}' "$T/top.out")
check_eq "$first" "${KEYS[0]}" "hottest block shown at rank 1"
check_num "$(awk '$1 ~ /^[0-9]+$/ && NF == 5' "$T/top.out" | wc -l)" -eq 5 "rows of hottest blocks"

"$PY" "$PLOT" --url "$BE_ADMIN" --top 100 --out-dir "$T/plots" >"$T/plot.out" 2>&1 ||
    fail "blockedge-plot failed: $(cat "$T/plot.out")"
"$PY" - "$T/plots/rank-frequency.svg" "$T/plots/mrc.svg" <<'PYEOF' || fail "SVG files are not right"
import sys
import xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
for path, want in zip(sys.argv[1:], ("Zipf s = ", "memory_size")):
    root = ET.parse(path).getroot()
    assert root.tag == ns + "svg", root.tag
    lines = root.findall(f".//{ns}polyline")
    assert len(lines) >= 1, f"{path}: no polyline"
    text = " ".join(t.text or "" for t in root.iter(ns + "text"))
    assert want in text, f"{path}: {want!r} not in {text!r}"
PYEOF

# --sim: cachesim's CSV (two runs concatenated, headers repeated) as a text chart, exactly.
cat >"$T/sim.csv" <<'EOF'
load,cache_bytes,policy,requests,hits,hit_ratio,byte_hit_ratio,requests_per_s
"t",1000,lru,100,50,0.5000,0.5000,1
"t",1000,s3fifo,100,60,0.6000,0.6000,1
load,cache_bytes,policy,requests,hits,hit_ratio,byte_hit_ratio,requests_per_s
"t",2000,lru,100,70,0.7000,0.7000,1
"t",2000,s3fifo,100,80,0.8000,0.8000,1
EOF
cat >"$T/sim.want" <<'EOF'
t: hit ratio % by cache size
 80.0 |       3
      |
 75.0 |
      |
 70.0 |      l
      |
 65.0 |
      |
 60.0 |  3
      |
 55.0 |
      |
 50.0 | l
      +----------
       10%  20%
       l lru  3 s3fifo
EOF
"$PY" "$PLOT" --sim "$T/sim.csv" --corpus 10000 >"$T/sim.out" 2>&1 ||
    fail "blockedge-plot --sim failed: $(cat "$T/sim.out")"
diff -u "$T/sim.want" "$T/sim.out" >"$T/sim.diff" || fail "text chart differs: $(cat "$T/sim.diff")"
printf 'x,y\n1,2\n' | "$PY" "$PLOT" --sim - >/dev/null 2>"$T/sim.err" &&
    fail "plotter took a CSV without hit_ratio"
check_contains "$T/sim.err" "not the CSV of cachesim --csv" "plotter error on a foreign CSV"

dead="http://127.0.0.1:$(free_port)"
"$PY" "$TOP" --once -i 0.1 "$dead" >/dev/null 2>"$T/dead.err" && fail "viewer succeeded on $dead"
check_contains "$T/dead.err" "blockedge-top: $dead/stats:" "viewer error message"
"$PY" "$PLOT" --url "$dead" --out-dir "$T/x" >/dev/null 2>&1 && fail "plotter succeeded on $dead"
log "ok"
