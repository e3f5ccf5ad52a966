#!/usr/bin/env bash
# README command 2: install what is missing, build the normal and the sanitizer
# (AddressSanitizer + UndefinedBehaviorSanitizer) trees, and run the whole suite in both.
#   tools/test.sh            everything
#   BE_TEST_ONLY=normal|asan tools/test.sh   one tree only
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh

jobs=2
only=${BE_TEST_ONLY:-}
status=0

run_tree() { # run_tree DIR [cmake args...]
    local dir=$1; shift
    echo "=== build $dir ($*)"
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
    echo "=== test $dir"
    (cd "$dir" && ctest -j"$jobs" --output-on-failure --timeout 600) || status=1
}

[ "$only" = asan ] || run_tree build
[ "$only" = normal ] || run_tree build-asan -DBE_SANITIZE=ON

if [ $status -ne 0 ]; then
    echo "test.sh: FAILED" >&2
fi
exit $status
