#!/bin/sh
# tools/fuzz.sh TARGET SECONDS - runs one libFuzzer target (tests/fuzz/fuzz_TARGET.c), or each
# of them with TARGET "all", for SECONDS each, at nice 19, one at a time.
#
# Builds the fuzz tree (clang, -DBE_FUZZ=ON, build-fuzz/) if needed. The fuzzer works on a copy
# of tests/fuzz/corpus/TARGET in a temporary directory, so nothing it generates lands in the
# repository; a crashing input is copied to tests/fuzz/crashers/TARGET/ for review. Prints
# executions per second and libFuzzer's final cov/ft; exits non-zero if any target crashed.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-fuzz"

usage() {
    echo "usage: tools/fuzz.sh TARGET|all SECONDS" >&2
    exit 2
}
[ $# -eq 2 ] || usage
case "$2" in '' | *[!0-9]*) usage ;; esac
seconds=$2

if [ "$1" = all ]; then
    targets=$(cd "$root/tests/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')
else
    [ -f "$root/tests/fuzz/fuzz_$1.c" ] || { echo "fuzz.sh: no tests/fuzz/fuzz_$1.c" >&2; exit 2; }
    targets=$1
fi

# Configured on every run (quick) so that a new tests/fuzz/fuzz_*.c is a target.
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DBE_FUZZ=ON >/dev/null
for t in $targets; do
    cmake --build "$build" -j2 --target "fuzz_$t" >/dev/null
done

work=$(mktemp -d /tmp/blockedge-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
status=0
for t in $targets; do
    mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
    cp "$root/tests/fuzz/corpus/$t/"* "$work/$t/corpus/"
    dict=
    if [ -f "$root/tests/fuzz/$t.dict" ]; then
        cp "$root/tests/fuzz/$t.dict" "$work/$t/dict"
        if [ "$t" = config ]; then # every directive name of the table, never stale
            grep -oE '^ +[A-Z_]+\("[a-z0-9_]+"' "$root/src/directives.c" |
                sed -E 's/^ +[A-Z_]+\(("[a-z0-9_]+")/\1/' | sort -u >>"$work/$t/dict"
        fi
        dict="-dict=$work/$t/dict"
    fi
    rc=0
    (cd "$work/$t" && nice -n 19 "$build/tests/fuzz_$t" -max_total_time="$seconds" \
        -artifact_prefix="$work/$t/artifacts/" -print_final_stats=1 $dict corpus \
        >"$work/$t/log" 2>&1) || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t/log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$work/$t/log" | tail -n 1)
    cov=$(echo "$last" | grep -oE 'cov: [0-9]+' | grep -oE '[0-9]+' || true)
    ft=$(echo "$last" | grep -oE 'ft: [0-9]+' | grep -oE '[0-9]+' || true)
    units=$(ls "$work/$t/corpus" | wc -l)
    echo "fuzz_$t: ${seconds}s, ${execs:-?} execs, ${speed:-?} execs/s, cov ${cov:-?}, ft ${ft:-?}, corpus $units"
    # A slow-unit artifact is an input libFuzzer saw take over 10 s: at nice 19 on a busy
    # machine that is mostly waiting for a CPU. Reported, rerun to time it, not a failure.
    for f in "$work/$t/artifacts"/slow-unit-*; do
        [ -e "$f" ] || continue
        t0=$(date +%s%N)
        "$build/tests/fuzz_$t" "$f" >/dev/null 2>&1 || true
        echo "fuzz_$t: slow input (under load?): $(basename "$f"); alone it took" \
            "$((($(date +%s%N) - t0) / 1000000)) ms"
        rm -f "$f"
    done
    if [ "$rc" -ne 0 ] || [ -n "$(ls "$work/$t/artifacts")" ]; then
        status=1
        mkdir -p "$root/tests/fuzz/crashers/$t"
        cp "$work/$t/artifacts/"* "$root/tests/fuzz/crashers/$t/" 2>/dev/null || true
        echo "fuzz_$t: FAILED (exit $rc); inputs in tests/fuzz/crashers/$t/; log:" >&2
        grep -E 'ERROR|SUMMARY|==[0-9]+==|#[0-9]+ 0x' "$work/$t/log" | head -n 30 >&2
    fi
done
exit $status
