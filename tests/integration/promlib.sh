# promlib.sh - what the Prometheus tests (74, 82, 83) add to lib.sh: a real Prometheus server
# (Debian's package) on loopback scraping this test's blockedge, and an instant query.
# Source after lib.sh.

command -v prometheus >/dev/null || fail "prometheus is not installed (tools/install-deps.sh)"
command -v promtool >/dev/null || fail "promtool is not installed (tools/install-deps.sh)"

# start_prometheus [RULES_FILE]: Prometheus scraping 127.0.0.1:$ADMIN_PORT as job "blockedge"
# every second (rules evaluated every second too); its config passes promtool first. Waits
# (<= 10 s) until it is ready. Sets PROM_PORT and PROM_PID.
start_prometheus() {
    local rules=${1:-} ready="" i
    PROM_PORT=$(free_port)
    mkdir -p "$T/prom-data"
    {
        printf 'global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n'
        [ -n "$rules" ] && printf 'rule_files:\n  - %s\n' "$rules"
        printf 'scrape_configs:\n  - job_name: blockedge\n    static_configs:\n'
        printf "      - targets: ['127.0.0.1:%s']\n" "$ADMIN_PORT"
    } >"$T/prometheus.yml"
    promtool check config "$T/prometheus.yml" >"$T/promtool-config.out" 2>&1 ||
        fail "promtool check config: $(cat "$T/promtool-config.out")"
    prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" \
        --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn \
        >"$T/prometheus.stdout" 2>"$T/prometheus.log" &
    PROM_PID=$!
    track "$PROM_PID"
    IT_LOGS+=("$T/prometheus.log")
    for ((i = 0; i < 100; i++)); do
        kill -0 "$PROM_PID" 2>/dev/null || fail "prometheus exited at start"
        ready=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$PROM_PORT/-/ready")
        [ "$ready" = 200 ] && return 0
        sleep 0.1
    done
    fail "prometheus on $PROM_PORT was not ready in 10 s"
}

# prom_query EXPR: the first result's value, or "none".
prom_query() {
    curl -s --max-time 2 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
        "$PY" -c '
import json, sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if r else "none")
except Exception:
    print("none")'
}
