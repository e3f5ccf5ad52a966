"""ithelp.py - Python helpers for blockedge's integration tests.

Used two ways: as a command (`ithelp.py free-port FILE`, `metric QUERY`, `lint-metrics`,
`gen-blocks`, `stall-origin`, `scripted-origin`) from lib.sh, and as a module imported by test scripts that speak
raw HTTP/1.1 over a socket (`read_responses`, `parse_responses`). Knows nothing of the server
beyond its wire formats: HTTP/1.1 framing and the Prometheus text format 0.0.4.
Every loop here is bounded by a count or a deadline.
"""
import hashlib
import os
import random
import re
import socket
import sys
import threading
import time

# ---------------------------------------------------------------------------------------------
# Ports


def free_port(used_path):
    """Print a port on 127.0.0.1 that binds now and was not handed out before in this test.

    Ports come from 20000-32000, below Linux's ephemeral range, so client sockets cannot take
    them between this check and the server's bind.
    """
    used = set()
    try:
        with open(used_path) as f:
            used = {int(x) for x in f.read().split()}
    except FileNotFoundError:
        pass
    rnd = random.SystemRandom()
    for _ in range(500):
        port = rnd.randint(20000, 32000)
        if port in used:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        with open(used_path, "a") as f:
            f.write(f"{port}\n")
        return port
    raise SystemExit("free-port: no free port found")


# ---------------------------------------------------------------------------------------------
# Prometheus text format

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?\s*$')
LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_labels(text):
    labels = {}
    pos = 0
    text = text or ""
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        if not m:
            raise ValueError(f"bad label set: {text!r}")
        labels[m.group(1)] = m.group(2)
        pos = m.end()
    return labels


def parse_samples(text):
    """Yield (name, labels dict, value string) for each sample line."""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise ValueError(f"bad sample line: {line!r}")
        yield m.group(1), parse_labels(m.group(3)), m.group(4)


def fmt_value(v):
    f = float(v)
    if f == int(f) and abs(f) < 2**53:
        return str(int(f))
    return v


def metric(text, query):
    """Value of the series named by QUERY (`name` or `name{a="x",b="y"}`, label order free).

    Prints 0 when the series is absent: a counter that never moved may not be exported yet.
    """
    m = SAMPLE_RE.match(query + " 0")
    if not m:
        raise SystemExit(f"metric: bad query {query!r}")
    name, want = m.group(1), parse_labels(m.group(3))
    for sname, labels, value in parse_samples(text):
        if sname == name and labels == want:
            return fmt_value(value)
    return "0"


def metric_sum(text, name):
    """Sum over every series of one metric name."""
    total = 0.0
    for sname, _labels, value in parse_samples(text):
        if sname == name:
            total += float(value)
    return fmt_value(repr(total))


def lint_metrics(text, expected):
    """Check HELP/TYPE lines. EXPECTED is a list of "family:type". Returns a list of problems."""
    problems = []
    helps, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            parts = line.split(" ", 3)
            if len(parts) < 4 or not parts[3].strip():
                problems.append(f"HELP line without text: {line!r}")
            else:
                helps[parts[2]] = parts[3]
        elif line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary",
                                                    "untyped"):
                problems.append(f"bad TYPE line: {line!r}")
            else:
                if parts[2] in types:
                    problems.append(f"TYPE given twice for {parts[2]}")
                types[parts[2]] = parts[3]
    for item in expected:
        fam, typ = item.split(":")
        if fam not in helps:
            problems.append(f"no # HELP line for {fam}")
        if fam not in types:
            problems.append(f"no # TYPE line for {fam}")
        elif types[fam] != typ:
            problems.append(f"{fam} has TYPE {types[fam]}, expected {typ}")
    try:
        samples = list(parse_samples(text))
    except ValueError as e:
        return problems + [str(e)]
    for name, labels, value in samples:
        fam = name
        if name not in types:
            for suffix in ("_bucket", "_sum", "_count"):
                base = name[: -len(suffix)]
                if name.endswith(suffix) and types.get(base) in ("histogram", "summary"):
                    fam = base
                    break
        if fam not in types:
            problems.append(f"sample {name} has no # TYPE line")
        try:
            float(value)
        except ValueError:
            problems.append(f"sample {name} has a non-numeric value {value!r}")
    return problems


def series_key(name, labels):
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def duplicate_series(text):
    """Problems: a series (name + label set, label order ignored) given twice."""
    seen, problems = set(), []
    for name, labels, _ in parse_samples(text):
        key = series_key(name, labels)
        if key in seen:
            problems.append(f"duplicate series {key}")
        seen.add(key)
    return problems


def counter_series(text):
    """{series: value} of every counter, and of histogram _bucket/_sum/_count samples."""
    types = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) == 4:
                types[parts[2]] = parts[3]
    out = {}
    for name, labels, value in parse_samples(text):
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[: -len(suffix)]) == "histogram":
                fam = name[: -len(suffix)]
        if types.get(fam) in ("counter", "histogram"):
            out[series_key(name, labels)] = float(value)
    return out


def counters_monotonic(paths):
    """Problems: a counter series of one scrape that is lower (or gone) in a later one."""
    problems = []
    scrapes = []
    for path in paths:
        with open(path) as f:
            scrapes.append(counter_series(f.read()))
    for i in range(1, len(scrapes)):
        for key, before in scrapes[i - 1].items():
            after = scrapes[i].get(key)
            if after is None:
                problems.append(f"{key} vanished between scrape {i} and {i + 1}")
            elif after < before:
                problems.append(f"{key} went down: {before} -> {after} (scrape {i + 1})")
    if not scrapes or not scrapes[0]:
        problems.append("no counter series at all")
    return problems


# ---------------------------------------------------------------------------------------------
# Blocks (used only when tools/blockgen is not built)


def parse_size(text):
    m = re.fullmatch(r"(\d+)([kKmM]?)", text)
    if not m:
        raise SystemExit(f"gen-blocks: bad size {text!r}")
    mult = {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2).lower()]
    return int(m.group(1)) * mult


def gen_blocks(directory, count, size_spec, seed):
    if "-" in size_spec:
        lo, hi = (parse_size(x) for x in size_spec.split("-", 1))
    else:
        lo = hi = parse_size(size_spec)
    rng = random.Random(int(seed, 0))
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "keys.txt"), "a") as keys:
        for _ in range(count):
            data = rng.randbytes(rng.randint(lo, hi))
            key = hashlib.sha256(data).hexdigest()
            tmp = os.path.join(directory, f".{key}.tmp")
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, os.path.join(directory, key))
            keys.write(key + "\n")


# ---------------------------------------------------------------------------------------------
# A stalling origin


def stall_origin(port, log_path, lifetime):
    """Accept connections and never finish a response, for LIFETIME seconds at most.

    A request whose path contains "/bbbb" gets a status line and headers promising 65536 bytes,
    then 10 bytes, then nothing; any other request gets nothing at all. Each request line is
    appended to LOG_PATH so a test can count origin requests.
    """
    deadline = time.monotonic() + lifetime
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)
    srv.settimeout(0.5)
    held = []
    lock = threading.Lock()

    def serve(conn):
        conn.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
        except OSError:
            return
        line = data.split(b"\r\n", 1)[0].decode("latin-1")
        with lock:
            with open(log_path, "a") as f:
                f.write(line + "\n")
        if "/bbbb" in line:
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                             b"Content-Length: 65536\r\n\r\n0123456789")
            except OSError:
                pass

    while time.monotonic() < deadline:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        held.append(conn)  # kept open, unanswered, until the lifetime ends
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    for c in held:
        c.close()
    srv.close()


# ---------------------------------------------------------------------------------------------
# A scripted origin: each block answered in a chosen, possibly broken, way

SCRIPT_MODES = ("ok", "chunked", "http10", "truncate", "cl_short", "cl_long", "redirect",
                "oversize_cl", "oversize_chunked", "chunked_stall", "chunked_close", "trickle",
                "status500")


def scripted_answer(conn, data, mode, hexkey, lifetime_end):
    """Write the answer MODE makes of DATA (the block's bytes) to CONN."""
    n = len(data)
    head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
    chunk = lambda b: b"%x\r\n" % len(b) + b + b"\r\n"
    if mode == "ok":
        conn.sendall((head + f"Content-Length: {n}\r\n\r\n").encode() + data)
    elif mode == "chunked":
        body = b"".join(chunk(data[i:i + 1000]) for i in range(0, n, 1000)) + b"0\r\n\r\n"
        conn.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode() + body)
    elif mode == "http10":  # no length: the body ends when the connection closes
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n" + data)
    elif mode == "truncate":  # half the promised bytes, then close
        conn.sendall((head + f"Content-Length: {n}\r\n\r\n").encode() + data[:n // 2])
    elif mode == "cl_short":  # announces fewer bytes than it sends
        conn.sendall((head + f"Content-Length: {n - 16}\r\n\r\n").encode() + data)
    elif mode == "cl_long":  # announces more bytes than it sends, and keeps the connection
        conn.sendall((head + f"Content-Length: {n + 16}\r\n\r\n").encode() + data)
        hold(conn, lifetime_end)
    elif mode == "redirect":
        conn.sendall((f"HTTP/1.1 302 Found\r\nLocation: /blocks/{hexkey}?moved\r\n"
                      "Content-Length: 0\r\n\r\n").encode())
    elif mode == "oversize_cl":
        conn.sendall((head + f"Content-Length: {1 << 30}\r\n\r\n").encode() + data)
        hold(conn, lifetime_end)
    elif mode == "oversize_chunked":  # a chunked body that never ends
        conn.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
        piece = chunk(b"x" * 4096)
        for _ in range(1 << 18):
            if time.monotonic() > lifetime_end:
                break
            conn.sendall(piece)
    elif mode in ("chunked_stall", "chunked_close"):  # every byte, but never the last chunk
        body = b"".join(chunk(data[i:i + 1000]) for i in range(0, n, 1000))
        conn.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode() + body)
        if mode == "chunked_stall":
            hold(conn, lifetime_end)
    elif mode == "trickle":  # a chunked body, one byte every 100 ms: never silent, never done
        conn.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
        for i in range(n):
            if time.monotonic() > lifetime_end:
                break
            conn.sendall(chunk(data[i:i + 1]))
            time.sleep(0.1)
    elif mode == "status500":
        conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops\n")


def hold(conn, lifetime_end):
    """Keep CONN open, silent, until the peer closes it or the lifetime ends."""
    conn.settimeout(0.2)
    while time.monotonic() < lifetime_end:
        try:
            if not conn.recv(4096):
                return
        except socket.timeout:
            continue
        except OSError:
            return


def scripted_origin(port, directory, log_path, lifetime):
    """Serve GET /blocks/<hex> from DIRECTORY/<hex>, answered as DIRECTORY/<hex>.mode says.

    One request per connection (the connection is closed after the answer). A key with no file
    gets 404. Each request line is appended to LOG_PATH. Runs LIFETIME seconds at most.
    """
    end = time.monotonic() + lifetime
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)
    srv.settimeout(0.2)
    lock = threading.Lock()

    def serve(conn):
        try:
            conn.settimeout(5)
            req = b""
            while b"\r\n\r\n" not in req and len(req) < 65536:
                got = conn.recv(4096)
                if not got:
                    return
                req += got
            line = req.split(b"\r\n", 1)[0].decode("latin-1")
            with lock:
                with open(log_path, "a") as f:
                    f.write(line + "\n")
            m = re.match(r"GET /blocks/([0-9a-f]{64}) HTTP/1\.1$", line)
            path = os.path.join(directory, m.group(1)) if m else None
            if path is None or not os.path.isfile(path):
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                return
            with open(path, "rb") as f:
                data = f.read()
            mode = "ok"
            if os.path.exists(path + ".mode"):
                with open(path + ".mode") as f:
                    mode = f.read().strip()
            scripted_answer(conn, data, mode, m.group(1), end)
        except OSError:
            pass
        finally:
            conn.close()

    while time.monotonic() < end:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    srv.close()


# ---------------------------------------------------------------------------------------------
# Raw HTTP/1.1 responses


class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (lower-case name, value)
        self.body = body
        self.raw_head = raw_head

    def header(self, name):
        vals = [v for n, v in self.headers if n == name.lower()]
        return vals[-1] if vals else None

    def __repr__(self):
        return f"<{self.status} {self.reason} body={len(self.body)}>"


class Incomplete(Exception):
    pass


def origin_load(log_path, since, status):
    """From an nginx timing log ("END DURATION URI STATUS CONNECTION" per line), the requests
    with STATUS that ended after SINCE (epoch seconds): "count connections max_per_second".
    An HTTP/1.1 connection carries one request at a time, so the number of connections that
    carried them bounds how many were under way at once (nginx's millisecond times are too
    coarse to tell that from the intervals)."""
    starts, conns = [], set()
    with open(log_path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 5 or parts[3] != status:
                continue
            end, dur = float(parts[0]), float(parts[1])
            if end >= since:
                starts.append(end - dur)
                conns.add(parts[4])
    starts.sort()
    per_sec, j = 0, 0
    for i, a in enumerate(starts):  # the most starts within any one-second window
        while starts[j] < a - 1.0:
            j += 1
        per_sec = max(per_sec, i - j + 1)
    return "%d %d %d" % (len(starts), len(conns), per_sec)


def h2load_latency(log_path):
    """From an h2load --log-file (start_us status duration_us per line): "requests ok p50_us
    p99_us" (ok: status 200)."""
    durs, ok = [], 0
    with open(log_path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3:
                continue
            ok += parts[1] == "200"
            durs.append(int(parts[2]))
    durs.sort()
    if not durs:
        return "0 0 0 0"
    pick = lambda q: durs[min(len(durs) - 1, int(q * len(durs)))]
    return "%d %d %d %d" % (len(durs), ok, pick(0.5), pick(0.99))


def parse_one(data, method, at_eof):
    """Parse one response from DATA. Returns (Response, bytes consumed); raises Incomplete."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise Incomplete()
    head = data[:end].decode("latin-1")
    lines = head.split("\r\n")
    m = re.fullmatch(r"HTTP/1\.[01] (\d{3})(?: (.*))?", lines[0])
    if not m:
        raise ValueError(f"bad status line {lines[0]!r}")
    status = int(m.group(1))
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"bad header line {line!r}")
        headers.append((name.strip().lower(), value.strip()))
    pos = end + 4
    resp = Response(status, m.group(2) or "", headers, b"", data[:pos])
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return resp, pos
    te = resp.header("transfer-encoding")
    cl = resp.header("content-length")
    if te and "chunked" in te.lower():
        body = b""
        p = pos
        for _ in range(1 << 20):
            eol = data.find(b"\r\n", p)
            if eol < 0:
                raise Incomplete()
            size = int(data[p:eol].split(b";")[0], 16)
            p = eol + 2
            if size == 0:
                trailer_end = data.find(b"\r\n\r\n", p - 2)
                if trailer_end < 0:
                    raise Incomplete()
                resp.body = body
                return resp, trailer_end + 4
            if len(data) < p + size + 2:
                raise Incomplete()
            body += data[p:p + size]
            p += size + 2
        raise ValueError("too many chunks")
    if cl is not None:
        n = int(cl)
        if len(data) < pos + n:
            raise Incomplete()
        resp.body = data[pos:pos + n]
        return resp, pos + n
    if not at_eof:
        raise Incomplete()
    resp.body = data[pos:]
    return resp, len(data)


def parse_responses(data, methods, at_eof=True):
    """Parse as many responses as DATA holds. Returns (responses, leftover bytes)."""
    out = []
    pos = 0
    for method in methods:
        if pos >= len(data):
            break
        try:
            resp, used = parse_one(data[pos:], method, at_eof)
        except Incomplete:
            break
        out.append(resp)
        pos += used
    return out, data[pos:]


def connect(port, timeout=10.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_responses(sock, methods, timeout):
    """Read until len(METHODS) responses are complete, EOF, or TIMEOUT seconds.

    Returns (responses, leftover bytes, how it ended: "complete" | "eof" | "timeout").
    A reset after data counts as EOF: a server may close with our pipelined bytes unread.
    """
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        resps, rest = parse_responses(data, methods, at_eof=False)
        if len(resps) == len(methods):
            return resps, rest, "complete"
        left = deadline - time.monotonic()
        if left <= 0:
            return resps, rest, "timeout"
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            resps, rest = parse_responses(data, methods, at_eof=True)
            return resps, rest, "eof"
        data += chunk


def read_to_eof(sock, timeout):
    """All bytes until EOF; returns (data, True) or (data, False) on timeout."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk


# ---------------------------------------------------------------------------------------------


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "free-port":
        print(free_port(argv[2]))
    elif cmd == "metric":
        print(metric(sys.stdin.read(), argv[2]))
    elif cmd == "metric-sum":
        print(metric_sum(sys.stdin.read(), argv[2]))
    elif cmd == "lint-metrics":
        problems = lint_metrics(sys.stdin.read(), argv[2:])
        for p in problems:
            print(p)
        return 1 if problems else 0
    elif cmd in ("dup-series", "monotonic"):
        if cmd == "dup-series":
            problems = duplicate_series(sys.stdin.read())
        else:
            problems = counters_monotonic(argv[2:])
        for p in problems:
            print(p)
        return 1 if problems else 0
    elif cmd == "origin-load":
        print(origin_load(argv[2], float(argv[3]), argv[4]))
    elif cmd == "h2load-latency":
        print(h2load_latency(argv[2]))
    elif cmd == "gen-blocks":
        gen_blocks(argv[2], int(argv[3]), argv[4], argv[5])
    elif cmd == "stall-origin":
        stall_origin(int(argv[2]), argv[3], float(argv[4]))
    elif cmd == "scripted-origin":
        scripted_origin(int(argv[2]), argv[3], argv[4], float(argv[5]))
    else:
        print("usage: ithelp.py free-port FILE | metric QUERY | metric-sum NAME | "
              "lint-metrics FAMILY:TYPE... | dup-series | monotonic SCRAPE... | gen-blocks DIR N SIZE SEED | "
              "stall-origin PORT LOG LIFETIME | scripted-origin PORT DIR LOG LIFETIME | "
              "origin-load LOG SINCE STATUS | h2load-latency LOG", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
