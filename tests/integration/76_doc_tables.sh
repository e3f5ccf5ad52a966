#!/bin/bash
# 76_doc_tables: the README's configuration tables are the directive table's (`blockedge -M md`),
# so they cannot drift from -T and the manual pages made from the same rows.
#
# 1. README.md's generated block equals the binary's output (tools/readme-tables.sh --check);
#    on a difference the script's diff and the command that regenerates the block are shown.
# 2. The check can fail: one character changed inside the block of a copy of README is
#    reported with a diff, and regenerating that copy restores README exactly (the text
#    outside the markers is kept as written).
# 3. The output is a well-formed table per context: every directive of -T has one row, each
#    row has four cells (a "|" in a value is escaped), and -M with another document fails.
# Normal tree only: it reads sources and the binary's output, nothing a sanitizer could see.
. "$(dirname "$0")/lib.sh"

TOOL="$BE_SOURCE_DIR/tools/readme-tables.sh"
README="$BE_SOURCE_DIR/README.md"

# --- 1. README against the binary.
if ! bash "$TOOL" --check "$BLOCKEDGE" "$README" >"$T/check.out" 2>&1; then
    cat "$T/check.out" >&2
    fail "README.md's configuration tables differ from \`blockedge -M md\` (diff above);" \
        "regenerate them with: tools/readme-tables.sh build/blockedge"
fi

# --- 2. A one-character change inside the block is caught, and regeneration undoes it.
cp "$README" "$T/README.md"
line=$(grep -n '^| `memory_size` | `SIZE` | `256m` |' "$T/README.md" | cut -d: -f1)
[ "$(echo "$line" | wc -w)" = 1 ] || fail "expected one memory_size row in the tables of README.md, found lines: $line"
sed -i "${line}s/256m/265m/" "$T/README.md"
cmp -s "$README" "$T/README.md" && fail "the edit of the copy changed nothing"
bash "$TOOL" --check "$BLOCKEDGE" "$T/README.md" >"$T/bad.out" 2>&1
check_eq "$?" 1 "exit status of --check on a README with one character changed"
check_contains "$T/bad.out" '-| `memory_size` | `SIZE` | `265m` |' "the diff shows README's row"
check_contains "$T/bad.out" '+| `memory_size` | `SIZE` | `256m` |' "the diff shows the table's row"
check_contains "$T/bad.out" "regenerate them with: tools/readme-tables.sh" "the regeneration command"
bash "$TOOL" "$BLOCKEDGE" "$T/README.md" || fail "regenerating the copy failed"
cmp -s "$README" "$T/README.md" || fail "the regenerated copy differs from README.md: $(diff "$README" "$T/README.md" | head -n 20)"
# Without markers there is nothing to check against: an error, not a pass.
grep -v '^<!-- END generated' "$README" >"$T/nomark.md"
bash "$TOOL" --check "$BLOCKEDGE" "$T/nomark.md" >"$T/nomark.out" 2>&1
check_eq "$?" 2 "exit status of --check on a README without the end marker"

# --- 3. The tables' shape.
"$BLOCKEDGE" -M md >"$T/md" || fail "-M md failed"
"$BLOCKEDGE" -T | awk 'NR > 1' >"$T/T"
check_eq "$(grep -c '^| `' "$T/md")" "$(wc -l <"$T/T")" "rows of -M md against the directives of -T"
check_eq "$(grep -c '^### ' "$T/md")" 7 "one table per context (main and six blocks)"
bad=$(sed 's/\\|//g' "$T/md" | awk -F'|' '/^\|/ && NF != 6' | head -n 3)
[ -z "$bad" ] || fail "rows without exactly four cells: $bad"
check_contains "$T/md" '| `memory_policy` | `lru\|sieve\|s3fifo\|wtinylfu` |' "an escaped | in a syntax cell"
"$BLOCKEDGE" -M 7 >"$T/m7.out" 2>&1
check_eq "$?" 2 "exit status of -M 7"
check_contains "$T/m7.out" '"-M 7" (5, 8 or md)' "-M 7's error"
log "README tables: $(grep -c '^| `' "$T/md") rows in $(grep -c '^### ' "$T/md") tables match the directive table"
