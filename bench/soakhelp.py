"""soakhelp.py - the Python parts of bench/soak.

  soakhelp.py gen DIR COUNT SEED           blocks of 4 KiB-256 KiB (log-uniform) named by SHA-256
  soakhelp.py origin PORT DIR LOG SECONDS  an origin that flaps (see Flapper)
  soakhelp.py clients PORT TLS_PORT KEYS UNKNOWN OUT SECONDS
                                           verifying clients over HTTP/1.1, h2c and TLS, and
                                           clients that hang up in the middle of a body
  soakhelp.py sample PID ADMIN_PORT CSV SECONDS
                                           one row a second: RSS, fds, connections, fetches, counters
  soakhelp.py judge CSV CLIENTS_JSON       the verdict (exit 1 on a failure) and an SVG plot

Every loop is bounded by a deadline; nothing here reaches past 127.0.0.1.
"""
import hashlib
import json
import math
import os
import random
import re
import socket
import ssl
import subprocess
import sys
import threading
import time

# ---------------------------------------------------------------------------------------------
# Blocks


def gen(directory, count, seed):
    rnd = random.Random(seed)
    keys = []
    os.makedirs(directory, exist_ok=True)
    for _ in range(count):
        size = int(math.exp(rnd.uniform(math.log(4096), math.log(262144))))
        data = rnd.randbytes(size)
        key = hashlib.sha256(data).hexdigest()
        with open(os.path.join(directory, key), "wb") as f:
            f.write(data)
        keys.append((size, key))
    # the largest last: clients that hang up pick from the tail
    for _, key in sorted(keys):
        print(key)


# ---------------------------------------------------------------------------------------------
# An origin that flaps


class Flapper:
    """Every CYCLE seconds: ok, then REFUSE seconds of reset connections, STALL seconds of
    answers that never come, WRONG seconds of 200s whose bytes are not the block's."""
    CYCLE, REFUSE, STALL, WRONG = 30.0, 3.0, 3.0, 3.0

    def __init__(self, start):
        self.start = start

    def phase(self):
        t = (time.monotonic() - self.start) % self.CYCLE
        ok = self.CYCLE - self.REFUSE - self.STALL - self.WRONG
        if t < ok:
            return "ok"
        if t < ok + self.REFUSE:
            return "refuse"
        if t < ok + self.REFUSE + self.STALL:
            return "stall"
        return "wrong"


def origin(port, directory, log_path, seconds):
    end = time.monotonic() + seconds
    flap = Flapper(time.monotonic())
    counts = {}
    lock = threading.Lock()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(256)
    srv.settimeout(0.2)

    def count(what):
        with lock:
            counts[what] = counts.get(what, 0) + 1

    def serve(conn):
        try:
            conn.settimeout(5)
            buf = b""
            while time.monotonic() < end:
                while b"\r\n\r\n" not in buf:
                    got = conn.recv(65536)
                    if not got:
                        return
                    buf += got
                    if len(buf) > 65536:
                        return
                head, buf = buf.split(b"\r\n\r\n", 1)
                line = head.split(b"\r\n", 1)[0].decode("latin-1")
                m = re.match(r"GET /blocks/([0-9a-f]{64}) HTTP/1\.1$", line)
                path = os.path.join(directory, m.group(1)) if m else None
                phase = flap.phase()
                count(phase)
                if phase == "refuse":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                    return
                if phase == "stall":
                    time.sleep(min(8.0, max(0.0, end - time.monotonic())))
                    return
                if path is None or not os.path.isfile(path):
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    continue
                with open(path, "rb") as f:
                    data = f.read()
                if phase == "wrong":
                    data = bytes([data[0] ^ 0xff]) + data[1:]
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
        except OSError:
            pass
        finally:
            conn.close()

    def dump():
        with lock:
            text = json.dumps(counts, sort_keys=True)
        with open(log_path + ".tmp", "w") as f:
            f.write(text + "\n")
        os.replace(log_path + ".tmp", log_path)

    dumped = time.monotonic()
    while time.monotonic() < end:
        if time.monotonic() - dumped >= 1.0:
            dump()
            dumped = time.monotonic()
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    srv.close()
    dump()


# ---------------------------------------------------------------------------------------------
# Clients


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}
        self.wrong = []

    def add(self, what, n=1):
        with self.lock:
            self.c[what] = self.c.get(what, 0) + n

    def bad(self, what):
        with self.lock:
            self.wrong.append(what)


def zipf_picker(keys, s, rnd):
    weights = [1.0 / (r + 1) ** s for r in range(len(keys))]
    total = sum(weights)
    cdf, acc = [], 0.0
    for w in weights:
        acc += w / total
        cdf.append(acc)

    def pick():
        x = rnd.random()
        lo, hi = 0, len(cdf) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if cdf[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return keys[lo]
    return pick


def read_response(sock, want_body=True):
    """One HTTP/1.1 response: (status, body). Raises OSError/ValueError on a broken one."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        got = sock.recv(65536)
        if not got:
            raise ValueError("closed before a head")
        buf += got
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for ln in lines[1:]:
        name, _, value = ln.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(rest) < length:
        got = sock.recv(min(1 << 20, length - len(rest)))
        if not got:
            raise ValueError("closed in a body")
        rest += got
    return status, rest[:length]


def verifier(label, pick, tally, end, opener, getter):
    """GETs one at a time over a connection opener() makes (reopened when it breaks, counted as
    "LABEL broken connections (why)"); every 200's bytes must hash to the key asked for."""
    link = None
    while time.monotonic() < end:
        key = pick()
        try:
            if link is None:
                link = opener()
            status, body = getter(link, key)
        except Exception as e:  # sockets, a closed connection, a broken answer, h2's errors
            tally.add(f"{label} broken connections ({type(e).__name__})")
            if link is not None:
                link[0].close()
            link = None
            time.sleep(0.05)
            continue
        tally.add(f"{label} {status}")
        if status == 200 and hashlib.sha256(body).hexdigest() != key:
            tally.bad(f"{label}: /blocks/{key}: 200 with bytes of another SHA-256")
    if link is not None:
        link[0].close()


def h1_verifier(port, pick, unknown, tally, end, rnd):
    """HTTP/1.1 keep-alive; one request in 20 asks for a key the origin does not have."""
    def opener():
        return (socket.create_connection(("127.0.0.1", port), timeout=10),)

    def getter(link, key):
        link[0].sendall(f"GET /blocks/{key} HTTP/1.1\r\nHost: soak\r\n\r\n".encode())
        return read_response(link[0])

    verifier("h1", lambda: rnd.choice(unknown) if rnd.random() < 0.05 else pick(), tally, end,
             opener, getter)


def curl_verifier(port, scheme, h2flag, pick, tally, end, tmp, label):
    """Batches of 20 GETs through one curl (h2 over TLS, ALPN). Not for h2c: curl 7.88 reuses
    a prior-knowledge connection for the second URL of a -K list and fails it (exit 16)."""
    n = 0
    while time.monotonic() < end:
        batch = [pick() for _ in range(20)]
        cfg = os.path.join(tmp, f"{label}.curl")
        with open(cfg, "w") as f:
            for i, key in enumerate(batch):
                f.write(f'url = "{scheme}://127.0.0.1:{port}/blocks/{key}"\n')
                f.write(f'output = "{tmp}/{label}.{i}"\n')
        try:
            out = subprocess.run(["curl", "-s", "-k", h2flag, "--max-time", "15", "-K", cfg,
                                  "-w", "%{http_code} %{http_version}\n"],
                                 capture_output=True, text=True, timeout=30).stdout.split("\n")
        except subprocess.TimeoutExpired:
            tally.add(f"{label} curl timeouts")
            continue
        for i, key in enumerate(batch):
            fields = out[i].split() if i < len(out) else []
            code = fields[0] if fields else "000"
            tally.add(f"{label} {code}")
            if code == "200":
                with open(f"{tmp}/{label}.{i}", "rb") as f:
                    if hashlib.sha256(f.read()).hexdigest() != key:
                        tally.bad(f"{label}: /blocks/{key}: 200 with bytes of another SHA-256")
                if len(fields) > 1 and fields[1] != "2":
                    tally.bad(f"{label}: answered over HTTP/{fields[1]}, not HTTP/2")
        n += 1


def h2c_get(conn, sock, key):
    """One GET over an open h2c connection (h2's state machine): (status, body)."""
    import h2.events
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "GET"), (":scheme", "http"), (":authority", "soak"),
                            (":path", f"/blocks/{key}")], end_stream=True)
    sock.sendall(conn.data_to_send())
    status, body = 0, bytearray()
    while True:
        data = sock.recv(65536)
        if not data:
            raise ValueError("closed")
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                status = int(dict(ev.headers)[b":status"])
            elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                body += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, sid)
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                sock.sendall(conn.data_to_send())
                return status, bytes(body)
            elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                raise ValueError("reset")
        sock.sendall(conn.data_to_send())


def h2c_verifier(port, pick, tally, end):
    """h2c with prior knowledge, one stream at a time."""
    import h2.config
    import h2.connection

    def opener():
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        return (sock, conn)

    verifier("h2c", pick, tally, end, opener, lambda link, key: h2c_get(link[1], link[0], key))


def hang_up(port, big, tally, end, rnd):
    """Asks for a large block and closes after its first bytes, 10 times a second."""
    while time.monotonic() < end:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(f"GET /blocks/{rnd.choice(big)} HTTP/1.1\r\nHost: soak\r\n\r\n".encode())
            s.recv(2000)
            s.close()
            tally.add("hang-ups")
        except OSError:
            tally.add("hang-up connect errors")
        time.sleep(0.1)


def clients(port, tls_port, keys_path, unknown_path, out_path, seconds):
    keys = open(keys_path).read().split()
    unknown = open(unknown_path).read().split()
    end = time.monotonic() + seconds
    tally = Tally()
    tmp = os.path.dirname(keys_path)  # scratch files beside the keys, not among the results
    rnd = random.Random(7)
    pick = zipf_picker(keys, 0.99, random.Random(11))
    threads = [
        threading.Thread(target=h1_verifier, args=(port, pick, unknown, tally, end, random.Random(i)))
        for i in range(2)]
    threads.append(threading.Thread(target=h2c_verifier, args=(
        port, zipf_picker(keys, 0.99, random.Random(3)), tally, end)))
    threads.append(threading.Thread(target=curl_verifier, args=(
        tls_port, "https", "--http2", zipf_picker(keys, 0.99, random.Random(5)),
        tally, end, tmp, "tls")))
    threads.append(threading.Thread(target=hang_up, args=(port, keys[-50:], tally, end, rnd)))
    for t in threads:
        t.daemon = True
        t.start()
    for t in threads:
        t.join(seconds + 60)
    with open(out_path, "w") as f:
        json.dump({"counts": tally.c, "wrong": tally.wrong}, f, indent=1, sort_keys=True)


# ---------------------------------------------------------------------------------------------
# Sampling


METRICS = [
    ("connections", "blockedge_connections_open"),
    ("inflight", "blockedge_inflight_fetches"),
    ("requests", "blockedge_http_requests_total"),
    ("hits", "blockedge_cache_hits_total"),
    ("misses", "blockedge_cache_misses_total"),
    ("origin_errors", "blockedge_origin_errors_total"),
    ("cache_bytes", "blockedge_cache_bytes"),
    ("disk_written", "blockedge_disk_written_bytes_total"),
]


def metric_sums(text):
    sums = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        name = re.split(r"[{ ]", line, 1)[0]
        try:
            sums[name] = sums.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
        except ValueError:
            pass
    return sums


def proc_figures(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def sample(pid, admin_port, csv_path, seconds):
    t0 = time.monotonic()
    end = t0 + seconds
    with open(csv_path, "w") as out:
        out.write("t,rss_bytes,fds," + ",".join(m[0] for m in METRICS) + "\n")
        while time.monotonic() < end:
            tick = time.monotonic()
            try:
                rss, fds = proc_figures(pid)
            except OSError:
                out.write(f"{tick - t0:.1f},dead\n")
                return
            try:
                with socket.create_connection(("127.0.0.1", admin_port), timeout=3) as s:
                    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
                    _, body = read_response(s)
                sums = metric_sums(body.decode())
            except (OSError, ValueError):
                sums = {}
            row = [f"{tick - t0:.1f}", str(rss), str(fds)]
            row += ["%.0f" % sums[m[1]] if m[1] in sums else "" for m in METRICS]
            out.write(",".join(row) + "\n")
            out.flush()
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))


# ---------------------------------------------------------------------------------------------
# The verdict


def svg_plot(rows, path):
    """RSS (MiB) and open fds over time, one polyline each, scaled to their own maxima."""
    w, h, pad = 720, 300, 40
    tmax = max(r["t"] for r in rows) or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             'font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>']
    for name, color, scale in (("rss_bytes", "#c0392b", 1 << 20), ("fds", "#2471a3", 1)):
        vmax = max(r[name] for r in rows) / scale or 1.0
        pts = " ".join(f"{pad + (w - 2 * pad) * r['t'] / tmax:.1f},"
                       f"{h - pad - (h - 2 * pad) * (r[name] / scale) / vmax:.1f}" for r in rows)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{pts}"/>')
        label = "RSS" if name == "rss_bytes" else "open fds"
        unit = " MiB" if name == "rss_bytes" else ""
        y = 16 if name == "rss_bytes" else 32
        parts.append(f'<text x="{pad}" y="{y}" fill="{color}">{label} (max {vmax:.0f}{unit})</text>')
    parts.append(f'<text x="{w - pad}" y="{h - 10}" text-anchor="end">{tmax:.0f} s</text></svg>')
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def judge(csv_path, clients_path):
    problems = []
    rows = []
    with open(csv_path) as f:
        header = f.readline().strip().split(",")
        for line in f:
            fields = line.strip().split(",")
            if len(fields) > 1 and fields[1] == "dead":
                problems.append(f"blockedge died at t={fields[0]} s")
                break
            rows.append({k: float(v) if v else 0.0 for k, v in zip(header, fields)})
    if len(rows) < 10:
        problems.append(f"only {len(rows)} samples")
    else:
        # Warm-up: the first 40% (the caches fill, the pools grow). Then the last 30% must not
        # stand above the plateau the middle reached.
        n = len(rows)
        mid = rows[int(n * 0.4):int(n * 0.7)]
        last = rows[int(n * 0.7):]
        rss_mid = max(r["rss_bytes"] for r in mid)
        rss_last = max(r["rss_bytes"] for r in last)
        fds_mid = max(r["fds"] for r in mid)
        fds_last = max(r["fds"] for r in last)
        print(f"soak: RSS max {rss_mid / 2**20:.1f} MiB after warm-up, {rss_last / 2**20:.1f} MiB "
              f"at the end; open fds max {fds_mid:.0f} then {fds_last:.0f}; "
              f"connections at the end {rows[-1]['connections']:.0f}")
        if rss_last > rss_mid * 1.10 + (8 << 20):
            problems.append(f"RSS grew after warm-up: {rss_mid / 2**20:.1f} -> "
                            f"{rss_last / 2**20:.1f} MiB")
        if fds_last > fds_mid + 64:
            problems.append(f"open fds grew after warm-up: {fds_mid:.0f} -> {fds_last:.0f}")
        svg_plot(rows, os.path.splitext(csv_path)[0] + ".svg")
    res = json.load(open(clients_path))
    counts = res["counts"]
    print("soak: client answers: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for w in res["wrong"][:10]:
        problems.append(w)
    if len(res["wrong"]) > 10:
        problems.append(f"... {len(res['wrong'])} wrong answers in all")
    for label in ("h1", "h2c", "tls"):
        if counts.get(f"{label} 200", 0) == 0:
            problems.append(f"no {label} client got a 200: the load did not run")
    for p in problems:
        print(f"soak: FAIL: {p}")
    return 1 if problems else 0


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "gen" and len(argv) == 5:
        gen(argv[2], int(argv[3]), int(argv[4]))
    elif cmd == "origin" and len(argv) == 6:
        origin(int(argv[2]), argv[3], argv[4], float(argv[5]))
    elif cmd == "clients" and len(argv) == 8:
        clients(int(argv[2]), int(argv[3]), argv[4], argv[5], argv[6], float(argv[7]))
    elif cmd == "sample" and len(argv) == 6:
        sample(int(argv[2]), int(argv[3]), argv[4], float(argv[5]))
    elif cmd == "judge" and len(argv) == 4:
        return judge(argv[2], argv[3])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
