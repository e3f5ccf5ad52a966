#!/usr/bin/env bash
# 80_mrc_policy: with memory_policy s3fifo, after a Zipf load /metrics has the miss-ratio
# curve of that policy (blockedge_mrc_hit_ratio{policy="s3fifo",cache_bytes}, miniature
# simulations) beside LRU's (policy="lru", SHARDS), 7 sizes each, and passes promtool's checker;
# /stats shows the same curves under popularity.mrc.policies. The sample rate is 1 here, so the
# miniature cache of memory_size is a replica of the memory tier's policy: its predicted hit ratio
# must be within 5 points of the hit ratio the node's counters show for the same load.
source "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || fail "promtool is not installed (tools/install-deps.sh)"
NBLOCKS=1000
NREQ=4000
gen_blocks "$T/blocks" "$NBLOCKS" 4k 8001
keys_of "$T/blocks" >"$T/keys"
check_num "$(wc -l <"$T/keys")" -eq "$NBLOCKS" "keys generated"
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
CONF_MEMORY_SIZE=1m
CONF_MAX_BLOCK_SIZE=64k
CONF_CACHE_EXTRA="    memory_policy s3fifo;"
start_blockedge "$(be_conf "$ORIGIN_URL")
stats {
    mrc_sample_rate 1;
}"
scrape >"$T/s0.prom" || fail "GET /metrics failed"
if grep -q '^blockedge_mrc_hit_ratio{policy="s3fifo"' "$T/s0.prom"; then
    fail "an s3fifo curve before any request"
fi

# Zipf 0.9 over the blocks (seeded), one keep-alive connection; any status but 200 fails.
"$PY" - "$BE_PORT" "$T/keys" "$NREQ" <<'PYEOF' || fail "load failed"
import bisect, http.client, random, sys
port, keys, n = int(sys.argv[1]), [l.strip() for l in open(sys.argv[2]) if l.strip()], int(sys.argv[3])
rng = random.Random(8001)
cdf, total = [], 0.0
for r in range(1, len(keys) + 1):
    total += r ** -0.9
    cdf.append(total)
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
for _ in range(n):
    k = keys[min(bisect.bisect_left(cdf, rng.random() * total), len(keys) - 1)]
    c.request("GET", "/blocks/" + k)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"GET {k}: {r.status}")
PYEOF

scrape >"$T/s1.prom" || fail "GET /metrics failed"
IT_LOGS+=("$T/s1.prom")
promtool check metrics <"$T/s1.prom" >"$T/promtool.out" 2>&1 ||
    fail "promtool check metrics: $(cat "$T/promtool.out")"
check_eq "$(grep -c '^blockedge_mrc_hit_ratio{policy="s3fifo",cache_bytes="[0-9]*"} ' "$T/s1.prom")" 7 \
    "s3fifo curve points in /metrics"
check_eq "$(grep -c '^blockedge_mrc_hit_ratio{policy="lru",cache_bytes="[0-9]*"} ' "$T/s1.prom")" 7 \
    "lru curve points in /metrics"
curl -s --max-time 5 "$BE_ADMIN/stats" >"$T/stats.json" || fail "GET /stats failed"
IT_LOGS+=("$T/stats.json")

"$PY" - "$T/s1.prom" "$T/stats.json" <<'PYEOF' || fail "curves do not match"
import json, sys
sys.path.insert(0, __import__("os").environ["IT_DIR"])
import ithelp
prom = open(sys.argv[1]).read()
stats = json.load(open(sys.argv[2]))
m = lambda q: float(ithelp.metric(prom, q))
mrc = stats["popularity"]["mrc"]
assert mrc["policy"] == "s3fifo", mrc["policy"]
pol = mrc["policies"]
assert sorted(pol) == ["lru", "s3fifo"], sorted(pol)
for name, curve in pol.items():
    assert len(curve) == 7, (name, curve)
    for p in curve:
        q = 'blockedge_mrc_hit_ratio{policy="%s",cache_bytes="%d"}' % (name, p["cache_bytes"])
        assert abs(m(q) - p["hit_ratio"]) < 1e-6, (q, m(q), p)
    assert curve[3]["cache_bytes"] == 1048576, curve[3]
    assert curve[0]["hit_ratio"] <= curve[-1]["hit_ratio"], (name, curve)
in_metrics = stats["metrics"]["blockedge_mrc_hit_ratio"]["s3fifo"]["1048576"]
assert abs(in_metrics - pol["s3fifo"][3]["hit_ratio"]) < 1e-6, (in_metrics, pol["s3fifo"][3])
hits = m('blockedge_cache_hits_total{tier="memory"}')
misses = m("blockedge_cache_misses_total")
actual = hits / (hits + misses)
predicted = pol["s3fifo"][3]["hit_ratio"]
print(f"s3fifo at memory_size: predicted {predicted:.4f}, counters {actual:.4f}; "
      f"lru predicted {pol['lru'][3]['hit_ratio']:.4f}")
assert abs(predicted - actual) <= 0.05, (predicted, actual)
PYEOF
log "ok"
