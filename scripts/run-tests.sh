#!/usr/bin/env bash
# Runs every test: unit binaries, rule-pack tests, CLI tests. Closes with "N passed, N failed".
set -u
build=${1:-build}
only=${2:-all}
export CMKGUARD=${CMKGUARD:-$PWD/cmkguard}
export CMK_BUILD=$PWD/$build # the tools built beside the binary under test (bench/)
pass=0; fail=0; failed=()
run() { # name, command...
  local name=$1; shift
  local log t0 took; log=$(mktemp); t0=$(date +%s)
  if "$@" >"$log" 2>&1; then
    took=$(( $(date +%s) - t0 ))
    pass=$((pass+1)); echo "ok   $name (${took}s)"
  else
    took=$(( $(date +%s) - t0 ))
    fail=$((fail+1)); failed+=("$name"); echo "FAIL $name (${took}s)"; sed 's/^/     | /' "$log" | tail -40
  fi
  rm -f "$log"
}
for t in "$build"/tests/test_*; do
  [ -x "$t" ] && run "unit/$(basename "$t")" "$t"
done
if [ "$only" = all ]; then
  [ -d rules/tests ] && run "rules/tests" "$CMKGUARD" rules test --require-all rules/tests
  for t in tests/cli/[0-9]*.sh; do
    [ -f "$t" ] && run "cli/$(basename "$t" .sh)" bash "$t"
  done
fi
echo
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
