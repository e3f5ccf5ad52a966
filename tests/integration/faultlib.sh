# faultlib.sh - what the fault-injection tests (9x_fault_*.sh) add to lib.sh and disklib.sh:
# starting blockedge under the fault shim (tests/fault/faultshim.c, its grammar is in its
# header comment) and reading the shim's log of injected faults. Source after disklib.sh.
# Environment (set by ctest): FAULTSHIM, the shim's path.

FAULT_LOG="$T/faults.log"
: >"$FAULT_LOG"

# fault_launch SPEC: the next start_blockedge runs with the shim preloaded and BE_FAULT=SPEC
# ("" loads the shim without faults). An AddressSanitizer build needs its runtime first in
# the list of preloaded libraries, so it is put there when blockedge links it.
fault_launch() {
    [ -n "${FAULTSHIM:-}" ] && [ -f "$FAULTSHIM" ] || fail "FAULTSHIM='${FAULTSHIM:-}' is not the built shim"
    local pre=$FAULTSHIM asan
    asan=$(ldd "$BLOCKEDGE" | awk '/libasan\.so/ {print $3; exit}')
    [ -n "$asan" ] && pre="$asan:$FAULTSHIM"
    BE_LAUNCH=(env "LD_PRELOAD=$pre" "BE_FAULT=$1" "BE_FAULT_LOG=$FAULT_LOG")
}

# fault_count PATTERN: lines of the shim's log matching the extended regex PATTERN.
fault_count() {
    grep -cE "$1" "$FAULT_LOG"
}

# segs_of DIR KEYS: "KEY FILE" for each key of the file KEYS: the segment holding its record
# (the newest copy), "-" when none does.
segs_of() {
    "$PY" - "$1" "$2" <<'PYEOF' || fail "segs_of $1 $2 failed"
import os, sys
d = sys.argv[1]
segs = []
for name in sorted(n for n in os.listdir(d) if n.endswith(".seg")):
    with open(os.path.join(d, name), "rb") as f:
        segs.append((os.path.join(d, name), f.read()))
for key in open(sys.argv[2]).read().split():
    digest, where = bytes.fromhex(key), "-"
    for path, data in reversed(segs):
        pos = data.find(digest)
        while pos >= 16 and data[pos - 16:pos - 12] != b"BREC":
            pos = data.find(digest, pos + 1)
        if pos >= 16:
            where = path
            break
    print(key, where)
PYEOF
}
