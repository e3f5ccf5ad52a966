#!/usr/bin/env bash
# 45_policy_scan: S3-FIFO keeps the hot set through a scan, LRU loses it. Two nodes (memory_policy
# is fixed at start-up, so one per policy) with an 8 MiB memory tier share an nginx origin and
# take the same load at the same time: a Zipf 0.99 warm-up over 10 000 blocks of 4 KiB, a
# measured window of Zipf requests, a scan of 3x memory_size in never-seen blocks (each read
# once), then a second window (another seed: no request repeated on purpose). A window's hit
# ratio comes from the node's own counters (hits{tier="memory"} and misses deltas). Asserted:
# under s3fifo the window after the scan is within 3 points of the one before; under lru the
# drop is larger than under s3fifo (what makes the test able to fail). Request counts and
# sequences are fixed (seeded), so the figures barely depend on how fast a loaded machine runs;
# both nodes' figures are printed.
source "$(dirname "$0")/lib.sh"

NHOT=10000
NSCAN=6144 # 3 x 8 MiB of 4 KiB blocks
WARM=12000
WINDOW=3000

if [ -n "$BLOCKGEN" ] && [ -x "$BLOCKGEN" ]; then
    "$BLOCKGEN" -q -d "$T/blocks" -n $((NHOT + NSCAN)) -s 4k --seed 4501 >"$T/blockgen.out" 2>&1 ||
        fail "blockgen failed: $(cat "$T/blockgen.out")"
else
    "$PY" "$IT_HELP" gen-blocks "$T/blocks" $((NHOT + NSCAN)) 4k 4501 || fail "gen-blocks failed"
fi
keys_of "$T/blocks" >"$T/keys"
check_num "$(wc -l <"$T/keys")" -eq $((NHOT + NSCAN)) "keys generated"
head -n "$NHOT" "$T/keys" >"$T/hot"
tail -n "$NSCAN" "$T/keys" >"$T/scan"
for k in $(head -n 2 "$T/hot") $(tail -n 2 "$T/scan"); do
    check_eq "$(sha_of "$T/blocks/$k")" "$k" "digest of block ${k:0:16}…"
done

# drive PORT KEYS zipf N SEED | scan: keep-alive GETs on 4 connections (request i on connection
# i mod 4), each pipelined 8 deep, so misses overlap; Zipf 0.99 by line rank with a seeded
# generator (the same requests on every run), or every key once in order. Any status but 200
# fails.
cat >"$T/drive.py" <<'PYEOF'
import bisect, random, socket, sys, threading
LANES = 4
port, keysfile, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
keys = [line.split()[0] for line in open(keysfile) if line.strip()]
if mode == "zipf":
    n, rng = int(sys.argv[4]), random.Random(int(sys.argv[5]))
    cdf, total = [], 0.0
    for rank in range(1, len(keys) + 1):
        total += rank ** -0.99
        cdf.append(total)
    seq = [keys[min(bisect.bisect_left(cdf, rng.random() * total), len(keys) - 1)] for _ in range(n)]
else:
    seq = keys
def lane(part, errors):
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    buf = b""
    def response():
        nonlocal buf
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                head = buf[:end].decode("latin-1").split("\r\n")
                length = 0
                for line in head[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if len(buf) >= end + 4 + length:
                    buf = buf[end + 4 + length:]
                    return head[0]
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise OSError("connection closed early")
            buf += chunk
    try:
        for i in range(0, len(part), 8):
            batch = part[i:i + 8]
            sock.sendall(b"".join(b"GET /blocks/%s HTTP/1.1\r\nHost: t\r\n\r\n" % k.encode()
                                  for k in batch))
            for key in batch:
                status = response()
                if status.split()[1] != "200":
                    raise OSError(f"GET /blocks/{key}: {status}")
    except OSError as e:
        errors.append(str(e))
errors = []
lanes = [threading.Thread(target=lane, args=(seq[j::LANES], errors)) for j in range(LANES)]
for t in lanes:
    t.start()
for t in lanes:
    t.join()
if errors:
    sys.exit(errors[0])
PYEOF
# phase ARGS...: the same load (drive.py KEYS MODE ...) on both nodes at once; any failure
# fails the test.
phase() {
    local p s3 lru
    "$PY" "$T/drive.py" "$S3_PORT" "$@" 2>"$T/drive.s3fifo.err" &
    s3=$!
    "$PY" "$T/drive.py" "$LRU_PORT" "$@" 2>"$T/drive.lru.err" &
    lru=$!
    track "$s3"
    track "$lru"
    wait "$s3" || fail "load $2 on the s3fifo node failed: $(cat "$T/drive.s3fifo.err")"
    wait "$lru" || fail "load $2 on the lru node failed: $(cat "$T/drive.lru.err")"
}

# counters ADMIN: "HITS MISSES" of the node now.
counters() {
    local text
    text=$(scrape "$1") || fail "scrape of $1 failed"
    printf '%s %s\n' \
        "$(printf '%s\n' "$text" | "$PY" "$IT_HELP" metric 'blockedge_cache_hits_total{tier="memory"}')" \
        "$(printf '%s\n' "$text" | "$PY" "$IT_HELP" metric blockedge_cache_misses_total)"
}

# permille H0 M0 H1 M1: the hit ratio between two counter readings, in tenths of a percent.
permille() {
    local dh=$(($3 - $1)) dm=$(($4 - $2))
    check_num $((dh + dm)) -eq "$WINDOW" "requests counted in a window"
    echo $((dh * 1000 / (dh + dm)))
}

start_nginx_origin "$T/blocks"
CONF_MEMORY_SIZE=8m
CONF_MAX_BLOCK_SIZE=64k

# start POLICY: a node; sets PORT and ADMIN.
start() {
    HTTP_PORT=$(free_port)
    ADMIN_PORT=$(free_port)
    CONF_CACHE_EXTRA="    memory_policy $1;"
    start_blockedge "$(be_conf "$ORIGIN_URL" "$1")" "$1"
    check_eq "$(metric 'blockedge_cache_capacity_bytes{tier="memory"}')" 8388608 "$1 capacity"
    PORT=$BE_PORT
    ADMIN=$BE_ADMIN
}
start s3fifo
S3_PORT=$PORT S3_ADMIN=$ADMIN S3_PID=$BE_PID
start lru
LRU_PORT=$PORT LRU_ADMIN=$ADMIN LRU_PID=$BE_PID
T0=$(now_ms)

phase "$T/hot" zipf "$WARM" 11
read -r S3_H0 S3_M0 < <(counters "$S3_ADMIN")
read -r LRU_H0 LRU_M0 < <(counters "$LRU_ADMIN")
phase "$T/hot" zipf "$WINDOW" 12
read -r S3_H1 S3_M1 < <(counters "$S3_ADMIN")
read -r LRU_H1 LRU_M1 < <(counters "$LRU_ADMIN")
phase "$T/scan" scan
read -r S3_H2 S3_M2 < <(counters "$S3_ADMIN")
read -r LRU_H2 LRU_M2 < <(counters "$LRU_ADMIN")
check_num $((S3_M2 - S3_M1)) -eq "$NSCAN" "s3fifo: every scanned block was a miss"
check_num $((LRU_M2 - LRU_M1)) -eq "$NSCAN" "lru: every scanned block was a miss"
phase "$T/hot" zipf "$WINDOW" 13
read -r S3_H3 S3_M3 < <(counters "$S3_ADMIN")
read -r LRU_H3 LRU_M3 < <(counters "$LRU_ADMIN")
log "load: $(($(now_ms) - T0)) ms"

S3_BEFORE=$(permille "$S3_H0" "$S3_M0" "$S3_H1" "$S3_M1")
S3_AFTER=$(permille "$S3_H2" "$S3_M2" "$S3_H3" "$S3_M3")
LRU_BEFORE=$(permille "$LRU_H0" "$LRU_M0" "$LRU_H1" "$LRU_M1")
LRU_AFTER=$(permille "$LRU_H2" "$LRU_M2" "$LRU_H3" "$LRU_M3")
for node in "s3fifo $S3_ADMIN $S3_PID $S3_BEFORE $S3_AFTER" "lru $LRU_ADMIN $LRU_PID $LRU_BEFORE $LRU_AFTER"; do
    read -r policy admin pid before after <<<"$node"
    check_num "$(metric 'blockedge_cache_bytes{tier="memory"}' "$admin")" -le 8388608 "$policy bytes held"
    log "$policy: hot-set hit ratio before the scan $((before / 10)).$((before % 10))%," \
        "after $((after / 10)).$((after % 10))%" \
        "(memory blocks $(metric 'blockedge_cache_blocks{tier="memory"}' "$admin"))"
    signal_and_wait "$pid" TERM 10
    check_eq "$SIG_RC" 0 "$policy node exit status"
done
S3_DROP=$((S3_BEFORE - S3_AFTER))
LRU_DROP=$((LRU_BEFORE - LRU_AFTER))
log "drop through a scan of 3x memory_size: s3fifo $S3_DROP permille, lru $LRU_DROP permille"
check_num "$S3_DROP" -le 30 "s3fifo: hit ratio points lost through the scan (permille)"
check_num "$LRU_DROP" -gt "$S3_DROP" "lru lost more of the hot set than s3fifo"
log "ok"
