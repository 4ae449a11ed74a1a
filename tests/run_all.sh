#!/usr/bin/env bash
# run_all.sh - run every test (cmocka unit binaries, then Python/Node integration
# scripts) against one or more build folders, and print one closing line:
# "N passed, N failed".
#   tests/run_all.sh [--unit-only] BUILD_DIR [BUILD_DIR ...]
# Integration scripts tests/integration/test_*.py get the binary in $OMNIC and
# print one "PASS <name>" or "FAIL <name>: <why>" line per case.
set -u
cd "$(dirname "$0")/.."
unit_only=0
if [ "${1:-}" = "--unit-only" ]; then unit_only=1; shift; fi
[ $# -ge 1 ] || set -- build
PY=${PYTHON:-/usr/bin/python3}
pass=0 fail=0
failed_names=()
log=$(mktemp -d)
for b in "$@"; do
    tag=$(basename "$b")
    for t in "$b"/tests/test_*; do
        [ -x "$t" ] || continue
        name="$tag/$(basename "$t")"
        out="$log/$(basename "$t").$tag.out"
        "$t" >"$out" 2>&1; rc=$?
        p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
        f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
        p=${p:-0}; f=${f:-0}
        if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi
        pass=$((pass + p)); fail=$((fail + f))
        if [ "$f" != 0 ]; then failed_names+=("$name"); echo "FAIL $name (log below)"; cat "$out"; else echo "ok   $name ($p)"; fi
    done
    [ $unit_only = 1 ] && continue
    for t in tests/integration/test_*.py; do
        [ -f "$t" ] || continue
        name="$tag/$(basename "$t")"
        out="$log/$(basename "$t").$tag.out"
        OMNIC="$b/omnic" BUILD_DIR="$b" "$PY" "$t" >"$out" 2>&1; rc=$?
        p=$(grep -c '^PASS ' "$out"); f=$(grep -c '^FAIL ' "$out")
        if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi
        pass=$((pass + p)); fail=$((fail + f))
        if [ "$f" != 0 ]; then failed_names+=("$name"); echo "FAIL $name (log below)"; cat "$out"; else echo "ok   $name ($p)"; fi
    done
done
rm -rf "$log"
[ ${#failed_names[@]} -eq 0 ] || printf 'failed: %s\n' "${failed_names[@]}"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
