#!/usr/bin/env bash
# Runs every test: unit binaries, rule-pack tests, CLI tests. Closes with "N passed, N failed".
# TEST_JOBS=N runs up to N tests at once (default: the number of cores); each test keeps
# its own folder and broker, and prints its result, with its time, as it finishes.
set -u
build=${1:-build}
only=${2:-all}
export CMKGUARD=${CMKGUARD:-$PWD/cmkguard}
export CMK_BUILD=$PWD/$build # the tools built beside the binary under test (bench/)
jobs=${TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
names=()
pass=0; fail=0; failed=()
# start NAME COMMAND...: runs it in the background, its output and status under $out
start() {
  local i=${#names[@]}
  names+=("$1"); shift
  ( t0=$(date +%s); "$@" >"$out/$i.log" 2>&1; rc=$?
    echo "$rc $(( $(date +%s) - t0 ))" >"$out/$i.rc.tmp" && mv "$out/$i.rc.tmp" "$out/$i.rc" ) &
}
# report I: its result, once
report() {
  local i=$1 rc took
  read -r rc took <"$out/$i.rc"
  if [ "$rc" -eq 0 ]; then
    pass=$((pass+1)); echo "ok   ${names[$i]} (${took}s)"
  else
    fail=$((fail+1)); failed+=("${names[$i]}"); echo "FAIL ${names[$i]} (${took}s)"
    sed 's/^/     | /' "$out/$i.log" | tail -40
  fi
  touch "$out/$i.done"
}
# reap [LIMIT]: reports what finished, waiting until fewer than LIMIT run (0: all done)
reap() {
  local limit=${1:-0} i running
  while :; do
    running=0
    for i in "${!names[@]}"; do
      [ -e "$out/$i.done" ] && continue
      if [ -e "$out/$i.rc" ]; then report "$i"; else running=$((running+1)); fi
    done
    [ "$running" -lt "$limit" ] || { [ "$limit" -eq 0 ] && [ "$running" -eq 0 ]; } && return
    wait -n 2>/dev/null || sleep 0.2
  done
}
run() { # NAME COMMAND...
  reap "$jobs"
  start "$@"
}
# Unit tests one at a time (they are quick), then the rest side by side.
for t in "$build"/tests/test_*; do
  [ -x "$t" ] && { start "unit/$(basename "$t")" "$t"; reap 0; }
done
if [ "$only" = all ]; then
  [ -d rules/tests ] && run "rules/tests" "$CMKGUARD" rules test --require-all rules/tests
  for t in tests/cli/[0-9]*.sh; do
    [ -f "$t" ] && run "cli/$(basename "$t" .sh)" bash "$t"
  done
fi
reap 0
echo
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
