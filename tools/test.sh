#!/usr/bin/env bash
# README command 2: install what is missing, build the normal and the sanitizer
# (AddressSanitizer + UndefinedBehaviorSanitizer) trees and run the whole suite in both, then
# build the ThreadSanitizer tree and run the tests labelled "tsan" in it (tests/CMakeLists.txt).
#   tools/test.sh            everything
#   BE_TEST_ONLY=normal|asan|tsan tools/test.sh   one tree only
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=2
only=${BE_TEST_ONLY:-}
status=0
case $only in
'' | normal | asan | tsan) ;;
*) echo "test.sh: BE_TEST_ONLY=$only: expected normal, asan or tsan" >&2; exit 2 ;;
esac

tools/install-deps.sh

run_tree() { # run_tree DIR "CTEST ARGS" [cmake args...]
    local dir=$1 select=$2 t0
    shift 2
    t0=$SECONDS
    echo "=== build $dir ($*)"
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
    echo "=== test $dir (built in $((SECONDS - t0)) s)"
    t0=$SECONDS
    # shellcheck disable=SC2086 # $select is a list of ctest arguments
    (cd "$dir" && "${wrap[@]}" ctest -j"$jobs" --output-on-failure --timeout 600 $select) || status=1
    echo "=== $dir tested in $((SECONDS - t0)) s"
}

# The ThreadSanitizer runtimes of gcc 12 and clang 14 map shadow memory at fixed addresses and
# can abort with "unexpected memory mapping" where the kernel randomizes mmap with more than 28
# bits (vm.mmap_rnd_bits=32 on some distributions). At 28 (Debian 12's default) they need
# nothing. Above: run ctest, and so every process it starts, without address randomization; or
# where setarch is refused (a container's seccomp profile), lower the sysctl on a CI machine.
tsan_wrap() {
    local bits
    bits=$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 28)
    wrap=()
    [ "$bits" -gt 28 ] || return 0
    if setarch "$(uname -m)" -R true 2>/dev/null; then
        wrap=(setarch "$(uname -m)" -R)
    elif [ "$(id -u)" -eq 0 ] && [ "${CI:-}" = true ]; then
        sysctl -w vm.mmap_rnd_bits=28
    else
        echo "test.sh: vm.mmap_rnd_bits=$bits and setarch -R is refused: TSan may not start" >&2
    fi
}

wrap=()
[ -n "$only" ] && [ "$only" != normal ] || run_tree build ""
[ -n "$only" ] && [ "$only" != asan ] || run_tree build-asan "" -DBE_SANITIZE=ON
if [ -z "$only" ] || [ "$only" = tsan ]; then
    tsan_wrap
    run_tree build-tsan "-L tsan" -DBE_TSAN=ON
fi

if [ $status -ne 0 ]; then
    echo "test.sh: FAILED" >&2
fi
exit $status
