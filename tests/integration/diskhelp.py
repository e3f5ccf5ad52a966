"""diskhelp.py - clients for the disk-tier integration tests (40_*.sh).

  getall BASE KEYS OUT        GET every key once, in order, over one keep-alive connection;
                              fails (exit 1) on any status but 200 or a body whose SHA-256 is
                              not its key; writes "KEY X-CACHE" lines to OUT.
  storm BASE KEYS SECS N OUT  N threads GET random keys for at most SECS seconds (or until the
                              server refuses connections); every complete 200 body must hash
                              to its key.
                              Writes "ok bad errors" to OUT; exit 1 when bad > 0.
  find DIR KEY                print "FILE OFFSET" of the record header of KEY in DIR's segments
                              (the first copy found in the newest segment holding it).
Every loop is bounded by a count or a deadline.
"""
import hashlib
import http.client
import os
import random
import sys
import threading
import time


def parse_base(base):
    hostport = base.split("//", 1)[1].rstrip("/")
    host, port = hostport.rsplit(":", 1)
    return host, int(port)


def keys_of(path):
    with open(path) as f:
        return [line.split()[0] for line in f if len(line.split()[0]) == 64]


def getall(base, keys_path, out_path):
    host, port = parse_base(base)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    bad = 0
    with open(out_path, "w") as out:
        for key in keys_of(keys_path):
            conn.request("GET", "/blocks/" + key)
            r = conn.getresponse()
            body = r.read()
            xc = r.getheader("X-Cache", "-")
            if r.status != 200 or hashlib.sha256(body).hexdigest() != key:
                print(f"getall: {key[:16]}: status {r.status}, {len(body)} bytes, X-Cache {xc}",
                      file=sys.stderr)
                bad += 1
            out.write(f"{key} {xc}\n")
    return 1 if bad else 0


def storm(base, keys_path, secs, nthreads, out_path):
    host, port = parse_base(base)
    keys = keys_of(keys_path)
    deadline = time.monotonic() + float(secs)
    counts = {"ok": 0, "bad": 0, "errors": 0}
    lock = threading.Lock()

    def run(seed):
        rnd = random.Random(seed)
        conn = None
        n = 0
        while time.monotonic() < deadline and n < 100000:
            n += 1
            key = rnd.choice(keys)
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=5)
                conn.request("GET", "/blocks/" + key)
                r = conn.getresponse()
                body = r.read()
                good = r.status == 200 and hashlib.sha256(body).hexdigest() == key
                with lock:
                    if good:
                        counts["ok"] += 1
                    elif r.status == 200:
                        counts["bad"] += 1
                        print(f"storm: WRONG BYTES for {key[:16]} ({len(body)} bytes)",
                              file=sys.stderr)
                    else:
                        counts["errors"] += 1
            except ConnectionRefusedError:
                return  # the server is gone (killed): this client is done
            except (OSError, http.client.HTTPException):
                with lock:
                    counts["errors"] += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.02)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(int(nthreads))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(out_path, "w") as f:
        f.write(f"{counts['ok']} {counts['bad']} {counts['errors']}\n")
    return 1 if counts["bad"] else 0


def find(dirpath, key):
    digest = bytes.fromhex(key)
    names = sorted(n for n in os.listdir(dirpath) if n.endswith(".seg"))
    for name in reversed(names):
        path = os.path.join(dirpath, name)
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        pos = data.find(digest)
        # a record header holds the digest at +16 after its magic "BREC"
        while pos >= 16:
            if data[pos - 16:pos - 12] == b"BREC":
                print(f"{path} {pos - 16}")
                return 0
            pos = data.find(digest, pos + 1)
    return 1


def main(argv):
    cmd = argv[1]
    if cmd == "getall":
        return getall(argv[2], argv[3], argv[4])
    if cmd == "storm":
        return storm(argv[2], argv[3], argv[4], argv[5], argv[6])
    if cmd == "find":
        return find(argv[2], argv[3])
    raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
