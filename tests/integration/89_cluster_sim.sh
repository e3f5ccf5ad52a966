#!/usr/bin/env bash
# 89_cluster_sim: tools/cachesim --cluster against a live cluster. Three blockedge edges on
# 127.0.0.2-4 behind a real HAProxy (balance uri path-only, hash-type consistent, servers with
# id 1..3 and the default weight: the ring cachesim models), an nginx origin. 1500 distinct
# blocks are read through HAProxy twice, each pass every block once interleaved with as many
# Zipf 0.99 repeats, one request at a time; each edge's memory holds about half of its share,
# so it evicts. Then:
#   (a) every request logged by edge i is for a block cachesim --owners places on edge i, and
#       each edge served exactly the requests cachesim predicts for it, and holds (its
#       blockedge_cache_blocks) within 2% of the blocks the simulated edge ends with;
#   (b) the origin's request count and the simulated one (the same requests, the same policy at
#       the memory tier's byte budget net of its tables, sizes charged as the tier charges them)
#       are within 2% of each other.
# All of it twice: under memory_policy lru, then s3fifo (the default), fresh edges each time. A
# 1 MiB tier is one shard (memcache.c: at least 4 MiB a shard), so one simulated cache per
# node is the tier under either policy.
source "$(dirname "$0")/lib.sh"

command -v haproxy >/dev/null || fail "haproxy is not installed (tools/install-deps.sh)"
CACHESIM=${CACHESIM:-$(dirname "$BLOCKEDGE")/cachesim}
[ -x "$CACHESIM" ] || fail "no cachesim next to $BLOCKEDGE"
NBLOCKS=1500
MEMORY=1m
MEM_BYTES=$((${MEMORY%m} << 20)) # MEMORY in MiB
FOOT=""

# The blocks (lib.sh's gen_blocks checks each with its own sha256sum: minutes for 1500 on a busy
# host; one Python pass checks them all here).
[ -x "$BLOCKGEN" ] || fail "BLOCKGEN='$BLOCKGEN' is not executable"
"$BLOCKGEN" -q -d "$T/blocks" -n "$NBLOCKS" -s 4k --seed 8901 >"$T/blockgen.out" 2>&1 ||
    fail "blockgen: $(cat "$T/blockgen.out")"
keys_of "$T/blocks" >"$T/keys"
check_num "$(wc -l <"$T/keys")" -eq "$NBLOCKS" "keys generated"
"$PY" - "$T/blocks" "$T/keys" <<'PYEOF' || fail "a generated block does not match its key"
import hashlib, sys
for k in open(sys.argv[2]).read().split():
    with open(sys.argv[1] + "/" + k, "rb") as f:
        if hashlib.sha256(f.read()).hexdigest() != k:
            sys.exit("block %s: wrong digest" % k)
PYEOF
start_nginx_origin "$T/blocks"

CONF_WORKERS=1
CONF_MEMORY_SIZE=$MEMORY
CONF_MAX_BLOCK_SIZE=64k

# haproxy_stop: ends the HAProxy cluster_run started (one at a time on the ports).
haproxy_stop() {
    kill -TERM "$HA_PID" 2>/dev/null
    wait "$HA_PID" 2>/dev/null || true
}

# cluster_run POLICY: the whole check under one memory_policy; its files in $T/POLICY.
cluster_run() {
    local policy=$1 R=$T/$1 i conf
    mkdir -p "$R"
    ORIGIN_BEFORE=$(origin_total)

    # Three edges, edge i on 127.0.0.(i+1), each with an access log (one line per request it
    # served).
    CONF_CACHE_EXTRA="    memory_policy $policy;"
    EDGE_ADDR=() EDGE_ADMIN=() EDGE_PID=()
    for i in 1 2 3; do
        HTTP_PORT=$(free_port)
        ADMIN_PORT=$(free_port)
        CONF_HTTP_EXTRA="    access_log $R/edge$i.access.log;"
        conf=$(be_conf "$ORIGIN_URL" "$policy-edge$i" | sed "s/listen 127.0.0.1:$HTTP_PORT;/listen 127.0.0.$((i + 1)):$HTTP_PORT;/")
        start_blockedge "$conf" "$policy-edge$i"
        EDGE_ADDR[i]="127.0.0.$((i + 1)):$HTTP_PORT"
        EDGE_ADMIN[i]=$BE_ADMIN
        EDGE_PID[i]=$BE_PID
    done

    HA_PORT=$(free_port)
    cat >"$R/haproxy.cfg" <<EOF
global
    maxconn 256
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend blocks
    bind 127.0.0.1:$HA_PORT
    default_backend edges
backend edges
    balance uri path-only
    hash-type consistent
    server edge1 ${EDGE_ADDR[1]} id 1
    server edge2 ${EDGE_ADDR[2]} id 2
    server edge3 ${EDGE_ADDR[3]} id 3
EOF
    haproxy -c -f "$R/haproxy.cfg" >"$R/haproxy.check" 2>&1 || fail "haproxy -c: $(cat "$R/haproxy.check")"
    haproxy -db -f "$R/haproxy.cfg" >"$R/haproxy.stderr" 2>&1 &
    HA_PID=$!
    track "$HA_PID"
    IT_LOGS+=("$R/haproxy.stderr")
    for ((i = 0; i < 50; i++)); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HA_PORT/healthz")" != 000 ] && break
        sleep 0.1
    done

    # The load: both passes, in order, through HAProxy on one keep-alive connection; the requests
    # are written as a cachesim trace (key, then the bytes the memory tier charges for the block).
    "$PY" - "$HA_PORT" "$T/keys" "$R/requests" <<'PYEOF' || fail "load failed"
import bisect, http.client, random, sys
port, keys, out = int(sys.argv[1]), [l.strip() for l in open(sys.argv[2]) if l.strip()], sys.argv[3]
rng = random.Random(8901)
order = keys[:]
rng.shuffle(order)
cdf, total = [], 0.0
for r in range(1, len(keys) + 1):
    total += r ** -0.99
    cdf.append(total)
one = []
for k in keys:
    one.append(k)
    one.append(order[min(bisect.bisect_left(cdf, rng.random() * total), len(keys) - 1)])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
with open(out, "w") as f:
    for k in one + one:
        c.request("GET", "/blocks/" + k)
        r = c.getresponse()
        body = r.read()
        if r.status != 200 or len(body) != 4096:
            sys.exit("GET /blocks/%s through haproxy: %d, %d bytes" % (k, r.status, len(body)))
        f.write(k + "\n")
PYEOF
    NREQ=$(wc -l <"$R/requests")
    check_num "$NREQ" -eq $((4 * NBLOCKS)) "requests sent"

    # What the memory tier charges for one 4 KiB block (its footprint), from the admin inspection
    # (once: the same under each policy).
    [ -n "$FOOT" ] || while read -r key; do
        for i in 1 2 3; do
            FOOT=$(curl -s "${EDGE_ADMIN[i]}/blocks/$key" | "$PY" -c \
                'import json,sys; d=json.load(sys.stdin); print(d["memory"]["footprint"] if d.get("memory") else "")' 2>/dev/null)
            [ -n "$FOOT" ] && break 2
        done
    done < <(tail -n 20 "$R/requests")
    check_num "${FOOT:-x}" -ge 4096 "footprint of a 4 KiB block"

    # Blocks each edge's memory holds now, and the tier's own tables (bucket arrays, policy) as
    # they grew with them: edge 1's bytes less its blocks'. The simulated cache is memory_size
    # less these.
    for i in 1 2 3; do
        scrape "${EDGE_ADMIN[i]}" >"$R/metrics$i" || fail "edge$i: /metrics failed"
    done
    TABLES=$("$PY" - "$R" "$FOOT" <<'PYEOF'
import sys
r, foot = sys.argv[1], int(sys.argv[2])
def metric(i, name):
    for line in open("%s/metrics%d" % (r, i)):
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    sys.exit("edge%d: no %s" % (i, name))
held = [metric(i, 'blockedge_cache_blocks{tier="memory"}') for i in (1, 2, 3)]
open(r + "/held", "w").write(" ".join(map(str, held)) + "\n")
print(metric(1, 'blockedge_cache_bytes{tier="memory"}') - held[0] * foot)
PYEOF
    )
    check_num "$TABLES" -ge 0 "memory tier bytes beyond its blocks"
    CAP=$((MEM_BYTES - TABLES))
    sed "s/\$/ $FOOT/" "$R/requests" >"$R/trace"
    "$CACHESIM" --trace "$R/trace" --cluster 3 --cache "$CAP" --policy "$policy" \
        --owners "$R/owners" --json >"$R/sim.json" 2>"$R/sim.stderr" || fail "cachesim --cluster: $(cat "$R/sim.stderr")"

    # The edges write their access logs at exit: stop them (gracefully) before reading.
    for i in 1 2 3; do
        signal_and_wait "${EDGE_PID[i]}" TERM 10
        check_eq "$SIG_RC" 0 "edge$i exit status"
    done
    ORIGIN=$(($(origin_total) - ORIGIN_BEFORE))

    "$PY" - "$R" "$ORIGIN" "$policy" <<'PYEOF' || fail "$policy: the cluster and cachesim disagree"
import json, sys
t, origin, policy = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tag = "[89_cluster_sim] %s: " % policy
sim = json.load(open(t + "/sim.json"))
owner = {}
for line in open(t + "/owners"):
    k, e = line.split()
    owner[k] = int(e)
served, misplaced = [0, 0, 0], 0
for i in (1, 2, 3):
    for line in open("%s/edge%d.access.log" % (t, i)):
        if "/blocks/" not in line:
            continue
        key = line.split("/blocks/")[1][:64]
        served[i - 1] += 1
        if owner[key] != i:
            misplaced += 1
predicted = sim["tiers"][0]["node_requests"]
held = [int(float(x)) for x in open(t + "/held").read().split()]
held_sim = sim["tiers"][0]["node_objects"]
simulated = sim["origin_requests"]
print(tag + "requests per edge: served %s, predicted %s; misplaced %d" %
      (served, predicted, misplaced), file=sys.stderr)
print(tag + "blocks held per edge: %s, simulated %s" % (held, held_sim), file=sys.stderr)
print(tag + "origin requests: measured %d, simulated %d (%+.2f%%); edge hit %.2f%%" %
      (origin, simulated, 100.0 * (simulated - origin) / origin,
       100 * sim["tiers"][0]["hit_ratio"]), file=sys.stderr)
if misplaced or served != predicted:
    sys.exit("placement differs from the HAProxy ring model")
if any(abs(a - b) > 0.02 * b for a, b in zip(held, held_sim)):
    sys.exit("blocks held per edge differ from the simulation by more than 2%")
if abs(simulated - origin) > 0.02 * origin:
    sys.exit("simulated origin requests off by more than 2%")
PYEOF
    haproxy_stop
}

for policy in lru s3fifo; do
    cluster_run "$policy"
done
log "ok"
