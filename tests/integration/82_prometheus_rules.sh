#!/usr/bin/env bash
# 82_prometheus_rules: conf/prometheus/blockedge-rules.yml passes `promtool check rules`; its
# unit tests (blockedge-rules.test.yml: every alert fed series that make it fire and series
# that keep it quiet, every recording rule's value) pass `promtool test rules`, and fail once a
# rule is broken on purpose; every blockedge metric a rule names is in a live /metrics; and a
# real Prometheus scraping a live node with the rules loaded computes the recording rules and
# fires no alert for a healthy node. Bounded: at most ~30 s of waiting in all.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disklib.sh"
source "$(dirname "$0")/promlib.sh"

RULES=$BE_SOURCE_DIR/conf/prometheus/blockedge-rules.yml
TESTS=$BE_SOURCE_DIR/conf/prometheus/blockedge-rules.test.yml

promtool check rules "$RULES" >"$T/check.out" 2>&1 || fail "promtool check rules: $(cat "$T/check.out")"
check_contains "$T/check.out" "SUCCESS: 15 rules found" "promtool check rules"

# The unit tests compare alert labels; annotations (runbooks, checked above) are left out of the
# copy they run on, so a reworded runbook does not need its text repeated in the test file.
# copy_rules OUT [SED]: the rules without annotations, SED applied to the expressions.
copy_rules() {
    "$PY" - "$RULES" "$TESTS" "$1" "${2:-}" <<'PY'
import re, sys, yaml
rules, tests, out, sed = sys.argv[1:5]
d = yaml.safe_load(open(rules))
for g in d["groups"]:
    for r in g["rules"]:
        r.pop("annotations", None)
        if sed:
            old, new = sed.split("=>")
            r["expr"] = r["expr"].replace(old, new)
yaml.safe_dump(d, open(out + "/rules.yml", "w"))
t = yaml.safe_load(open(tests))
t["rule_files"] = [out + "/rules.yml"]
yaml.safe_dump(t, open(out + "/rules.test.yml", "w"))
PY
}
mkdir -p "$T/good" "$T/broken"
copy_rules "$T/good"
promtool test rules "$T/good/rules.test.yml" >"$T/test.out" 2>&1 ||
    fail "promtool test rules: $(cat "$T/test.out")"
check_contains "$T/test.out" "SUCCESS" "promtool test rules"
# The tests must be able to fail: a digest-mismatch alert that needs 2 bad bodies, not 1.
copy_rules "$T/broken" '[10m]) > 0=>[10m]) > 1'
if promtool test rules "$T/broken/rules.test.yml" >"$T/broken.out" 2>&1; then
    fail "promtool test rules passed with a broken rule"
fi
check_contains "$T/broken.out" "BlockedgeDigestMismatch" "the broken rule's failure"

# A live node (with a disk tier, whose metrics the rules use): every blockedge_* name in the
# rules' expressions is in its /metrics.
gen_blocks "$T/blocks" 4 4k 8204
mapfile -t KEYS < <(keys_of "$T/blocks")
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
mkdir -p "$T/disk"
start_blockedge "$(disk_conf "$ORIGIN_URL" "$T/disk")"
wait_disk_ready
for k in "${KEYS[@]}"; do
    curl -s --max-time 5 -o /dev/null -o /dev/null "$BE_URL/blocks/$k" "$BE_URL/blocks/$k" || fail "GET $k failed"
done
scrape >"$T/metrics.prom"
names=$("$PY" - "$RULES" <<'PY' | sed 's/_bucket$//' | sort -u
import re, sys, yaml
for g in yaml.safe_load(open(sys.argv[1]))["groups"]:
    for r in g["rules"]:
        print("\n".join(re.findall(r"\bblockedge_[a-z_]+", r["expr"])))
PY
)
[ -n "$names" ] || fail "no metric names found in $RULES"
for n in $names; do
    grep -q "^# TYPE $n " "$T/metrics.prom" || fail "the rules name $n, which /metrics does not export"
done

cp "$RULES" "$T/blockedge-rules.yml"
start_prometheus "$T/blockedge-rules.yml"

# Load while Prometheus scrapes, so the rates have something to show.
ratio=none
for ((i = 0; i < 50; i++)); do
    kill -0 "$PROM_PID" 2>/dev/null || fail "prometheus exited"
    curl -s --max-time 5 -o /dev/null "$BE_URL/blocks/${KEYS[$((i % 4))]}" || true
    ratio=$(prom_query 'blockedge:hit_ratio:rate5m{job="blockedge"}')
    [ "$ratio" != none ] && [ "$ratio" != NaN ] && break
    sleep 0.4
done
[ "$ratio" != none ] && [ "$ratio" != NaN ] || fail "blockedge:hit_ratio:rate5m never had a value"
awk -v r="$ratio" 'BEGIN { exit !(r > 0 && r <= 1) }' ||
    fail "blockedge:hit_ratio:rate5m is $ratio, not in (0, 1] (every request after the first 4 is a hit)"
lookups=$(prom_query 'blockedge:lookups:rate5m')
[ "$lookups" != none ] || fail "blockedge:lookups:rate5m has no value"
# "or vector(0)": a healthy node answers 0, while a query that fails answers "none".
firing=$(prom_query 'count(ALERTS{alertstate="firing"}) or vector(0)')
check_eq "$firing" 0 "alerts firing for a healthy node"
log "ok (hit ratio $ratio, lookups/s $lookups)"
