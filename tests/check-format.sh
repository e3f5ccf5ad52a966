#!/usr/bin/env bash
# Fails when any tracked-or-new C source drifts from .clang-format.
set -euo pipefail
cd "${1:-.}"
files=$(find src include tests tools bench -name '*.[ch]' 2>/dev/null | sort)
[ -n "$files" ] || { echo "check-format: no C files found" >&2; exit 1; }
n=0; bad=0
for f in $files; do
    n=$((n + 1))
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "check-format: $f differs from .clang-format (run: clang-format -i $f)"
        bad=$((bad + 1))
    fi
done
echo "check-format: $n files checked, $bad drifted"
[ "$bad" -eq 0 ]
