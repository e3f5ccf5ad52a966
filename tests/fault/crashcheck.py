#!/usr/bin/env python3
"""crashcheck.py - crash-consistency check of the disk tier, after CrashMonkey and ALICE.

  crashcheck.py BUILD_DIR [--blocks N] [--size BYTES] [--max-states M] [--keep]

1. Record: blockedge runs under the fault shim (BUILD_DIR/tests/faultshim.so) with
   BE_FAULT_RECORD, fills N blocks from a file:// origin and is killed (SIGKILL) while its
   last segment is still open: the log holds every write, fdatasync, truncate, create, rename
   and unlink the disk tier did to its segment files, in order, with the bytes written.
2. Crash states: the files as they would be after a crash at every point of that log (every
   prefix of the operations), plus, after the last fdatasync of a file, the unsynced writes
   reordered (the first one lost, the later ones kept) and the last one torn at a 512-byte
   sector boundary, the renames not followed by a sync of the directory undone, and each file
   created since the last sync of the directory absent (fdatasync of a file does not make its
   name durable: a crash may leave no trace of it). States equal to one already checked are
   skipped.
3. Check each state: blockedge (no shim) starts on a copy of it, its index loads, every block
   whose record was written before an fdatasync of its segment in that state is a disk hit
   (nothing fsync'ed is lost, even where the file's name was not yet durable: the disk tier
   must sync a segment's name before its data), and every block is answered 200 with bytes
   whose SHA-256 is its key (nothing wrong is served, whatever is left on disk).
Prints how many states of each kind were built (and how many were distinct), the number
checked and each failure; exit 1 when one failed. Every wait is bounded; only 127.0.0.1 is
used. ctest runs a short form (tests/CMakeLists.txt); the long one is run by hand.
"""
import argparse
import hashlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SECTOR = 512


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def conf_text(tmp, disk, blocks, http_port, admin_port, name):
    return f"""worker_threads 1;
error_log {tmp}/{name}.error.log info;
http {{
    listen 127.0.0.1:{http_port};
}}
cache {{
    memory_size 64m;
    max_block_size 1m;
    disk_path {disk};
    disk_size 64m;
    disk_segment_size 1m;
}}
origin {{
    server file://{blocks}/;
}}
admin {{
    listen 127.0.0.1:{admin_port};
}}
"""


class Node:
    """One blockedge process on a config; stopped with SIGKILL."""

    def __init__(self, binary, tmp, disk, blocks, name, env=None):
        self.http, self.admin = free_port(), free_port()
        path = os.path.join(tmp, name + ".conf")
        with open(path, "w") as f:
            f.write(conf_text(tmp, disk, blocks, self.http, self.admin, name))
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen([binary, "-c", path], env=e, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(tmp, name + ".stderr"), "w"))
        try:
            self.wait_metric("blockedge_disk_index_state", 1, 10)
        except RuntimeError:
            self.kill()
            raise

    def get(self, path, port=None):
        c = http.client.HTTPConnection("127.0.0.1", port or self.http, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, r.getheader("X-Cache", "-"), body

    def metric(self, name):
        try:
            _, _, body = self.get("/metrics", self.admin)
        except OSError:
            return None
        for line in body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def wait_metric(self, name, value, secs):
        deadline = time.monotonic() + secs
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("blockedge exited during start-up")
            if self.metric(name) == value:
                return
            time.sleep(0.05)
        raise RuntimeError(f"{name} did not reach {value} in {secs} s")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def make_blocks(d, n, size, seed):
    keys = []
    os.makedirs(d)
    for i in range(n):
        data = hashlib.sha256(f"{seed}-{i}".encode()).digest() * (size // 32)
        data = bytes(b ^ (i & 0xFF) for b in data[:64]) + data[64:]
        key = hashlib.sha256(data).hexdigest()
        with open(os.path.join(d, key), "wb") as f:
            f.write(data)
        keys.append(key)
    return keys


def parse_log(path, disk):
    """The recorded operations: (op, name, arg, data), names reduced to the file's base name;
    a sync of the directory disk is op "D"."""
    ops = []
    with open(path, "rb") as f:
        raw = f.read()
    pos = 0
    while pos < len(raw):
        end = raw.index(b"\n", pos)
        parts = raw[pos:end].decode().split(" ")
        pos = end + 1
        op = parts[0]
        if op == "W":
            off, n = int(parts[-2]), int(parts[-1])
            name = " ".join(parts[1:-2])
            ops.append(("W", name, off, raw[pos:pos + n]))
            pos += n
        elif op == "T":
            ops.append(("T", " ".join(parts[1:-1]), int(parts[-1]), None))
        elif op == "R":
            ops.append(("R", parts[1], parts[2], None))
        else:
            ops.append((op, " ".join(parts[1:]), None, None))
    out = []
    for op, name, arg, data in ops:
        if name.endswith(" (deleted)"):
            continue  # a write to a file already removed: it is nowhere after a crash
        if op == "S" and os.path.realpath(name) == os.path.realpath(disk):
            out.append(("D", "", None, None))
            continue
        out.append((op, os.path.basename(name), os.path.basename(arg) if op == "R" else arg,
                    data))
    return out


def apply(files, op):
    kind, name, arg, data = op
    if kind == "C":
        files[name] = bytearray()
    elif kind == "W":
        f = files.setdefault(name, bytearray())
        if len(f) < arg:
            f.extend(b"\0" * (arg - len(f)))
        f[arg:arg + len(data)] = data
    elif kind == "T":
        f = files.setdefault(name, bytearray())
        del f[arg:]
        f.extend(b"\0" * (arg - len(f)))
    elif kind == "R":
        if name in files:
            files[arg] = files.pop(name)
    elif kind == "U":
        files.pop(name, None)


def digest_of(data):
    """The key of a block record written whole in data (a record header starts it), or None."""
    if len(data) >= 48 and data[:4] == b"BREC":
        return data[16:48].hex()
    return None


def states(ops):
    """(kind, label, files, durable keys) for every crash state."""
    for k in range(len(ops) + 1):
        files, synced, unsynced, durable, renames, fresh = {}, {}, {}, set(), [], []
        for i in range(k):
            op = ops[i]
            kind, name = op[0], op[1]
            new_file = kind == "C" and name not in files  # O_TRUNC of a named file: not new
            apply(files, op)
            if kind == "R" and op[2] != name:
                renames.append(i)
                fresh = [op[2] if n == name else n for n in fresh if n != op[2]]
            elif kind == "D":
                renames, fresh = [], []
            elif new_file and name not in fresh:
                fresh.append(name)
            elif kind == "U" and name in fresh:
                fresh.remove(name)
            if kind == "W":
                unsynced.setdefault(name, []).append(i)
            elif kind == "S":
                for j in unsynced.pop(name, []):
                    key = digest_of(ops[j][3])
                    if key is not None:
                        synced.setdefault(name, set()).add(key)
            elif kind == "R" and name in synced:
                synced[op[2]] = synced.pop(name)
            elif kind in ("U", "C"):
                synced.pop(name, None)
        for name, keys in synced.items():
            if name in files:
                durable |= keys
        yield "prefix", f"prefix {k}", files, durable
        # A rename is durable only once its directory is synced: before that, a crash may
        # leave the file under its old name.
        if renames and ops[k - 1][0] in ("S", "W"):
            files4 = {n: bytearray(d) for n, d in files.items()}
            for i in reversed(renames):
                old, new = ops[i][1], ops[i][2]
                if new in files4:
                    files4[old] = files4.pop(new)
            label = f"prefix {k}, {len(renames)} renames not durable"
            yield "renames undone", label, files4, durable
        # A file created since the last sync of its directory has no durable name: a crash may
        # leave no trace of it, whatever was written or fdatasync'ed to it (fdatasync and fsync
        # of a file do not persist its directory entry), while the other files are as in the
        # prefix. Each such file alone, and all of them at once. Its fdatasync'ed blocks stay
        # counted: the disk tier must make a segment's name durable before a sync of its data
        # makes a record durable, so a state that loses them is the tier's fault.
        gone = [n for n in fresh if n in files]
        for drop in [[n] for n in gone] + ([gone] if len(gone) > 1 else []):
            files5 = {n: d for n, d in files.items() if n not in drop}
            yield "file never named", f"prefix {k}, {' '.join(drop)} never named", files5, durable
        # After the last fdatasync of the file written last: lose its first unsynced write
        # while the later ones landed, and tear the last one at a sector boundary.
        if k > 0 and ops[k - 1][0] == "W":
            name = ops[k - 1][1]
            pend = unsynced.get(name, [])
            if len(pend) >= 2:
                files2 = replay(ops, k, skip=pend[0])
                yield "write lost", f"prefix {k}, write {pend[0]} lost", files2, durable
            data = ops[k - 1][3]
            if len(data) > SECTOR:
                files3 = replay(ops, k - 1)
                cut = (len(data) // 2) // SECTOR * SECTOR or SECTOR
                apply(files3, ("W", name, ops[k - 1][2], data[:cut]))
                yield "write torn", f"prefix {k}, last write torn at {cut}", files3, durable


def replay(ops, k, skip=None):
    files = {}
    for i in range(k):
        if i != skip:
            apply(files, ops[i])
    return files


def state_sig(files, durable):
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(f"{name}\0{len(files[name])}\0".encode())
        h.update(files[name])
    h.update(" ".join(sorted(durable)).encode())
    return h.digest()


def check_state(args, tmp, blocks, keys, label, files, durable, n):
    disk = os.path.join(tmp, f"state{n}")
    os.makedirs(disk)
    for name, data in files.items():
        with open(os.path.join(disk, name), "wb") as f:
            f.write(data)
    try:
        node = Node(args.blockedge, tmp, disk, blocks, f"state{n}")
    except RuntimeError as e:
        return [f"no start: {e} (see {tmp}/state{n}.stderr with --keep)"]
    errors = []
    try:
        for key in sorted(durable) + [k for k in keys if k not in durable]:
            try:
                status, xc, body = node.get("/blocks/" + key)
            except OSError as e:
                gone = node.proc.poll() is not None
                errors.append(f"{key[:16]}: {e}: blockedge {'exited' if gone else 'hung'}")
                break
            if status != 200 or hashlib.sha256(body).hexdigest() != key:
                errors.append(f"{key[:16]}: status {status}, {len(body)} bytes: WRONG")
            elif key in durable and xc != "HIT-DISK":
                errors.append(f"{key[:16]}: fsync'ed but {xc}")
    finally:
        node.kill()
    if not args.keep:
        shutil.rmtree(disk)
    return errors


def preload(binary, shim):
    """LD_PRELOAD for the shim: an AddressSanitizer build needs its runtime first."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=30).stdout
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0].startswith("libasan.so") and len(parts) >= 3:
            return parts[2] + ":" + shim
    return shim


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build")
    p.add_argument("--blocks", type=int, default=24)
    p.add_argument("--size", type=int, default=65536)
    p.add_argument("--max-states", type=int, default=1000)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    t0 = time.monotonic()
    args.blockedge = os.path.join(args.build, "blockedge")
    shim = preload(args.blockedge, os.path.join(args.build, "tests", "faultshim.so"))
    tmp = tempfile.mkdtemp(prefix="blockedge-crash.")
    blocks = os.path.join(tmp, "blocks")
    keys = make_blocks(blocks, args.blocks, args.size, 1)
    rec = os.path.join(tmp, "record.log")
    disk = os.path.join(tmp, "disk")
    os.makedirs(disk)
    node = Node(args.blockedge, tmp, disk, blocks, "record",
                {"LD_PRELOAD": shim, "BE_FAULT": "", "BE_FAULT_RECORD": rec})
    for key in keys:
        status, _, body = node.get("/blocks/" + key)
        assert status == 200 and hashlib.sha256(body).hexdigest() == key, key
    node.wait_metric("blockedge_disk_writes_total", len(keys), 10)
    node.kill()
    ops = parse_log(rec, disk)
    summary = {}
    for op in ops:
        summary[op[0]] = summary.get(op[0], 0) + 1
    print(f"recorded {len(ops)} operations: {summary}")
    checked = failed = 0
    seen, kinds = set(), {}
    for kind, label, files, durable in states(ops):
        if checked == args.max_states:
            break
        sig = state_sig(files, durable)
        made = kinds.setdefault(kind, [0, 0])
        made[0] += 1
        if sig in seen:
            continue  # the same files and the same fsync'ed blocks as a state already checked
        seen.add(sig)
        made[1] += 1
        errors = check_state(args, tmp, blocks, keys, label, files, durable, checked)
        checked += 1
        if errors:
            failed += 1
            print(f"FAIL {label} ({len(durable)} fsync'ed blocks): " + "; ".join(errors[:3]))
    print("states built (distinct): " +
          ", ".join(f"{kind} {n} ({d})" for kind, (n, d) in kinds.items()))
    print(f"{checked} crash states checked in {time.monotonic() - t0:.0f} s, {failed} failed")
    if not args.keep:
        shutil.rmtree(tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
