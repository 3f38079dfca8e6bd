# Fault injection along the scenario in tests/faults: every crypto and I/O failure
# point, and a spread of allocation and SQLite-allocation failure points (`make torture`
# walks every one of those too). Each failure stops cleanly or is absorbed, the state
# reads, and a rerun resumes to the same records as a run that saw no fault.
. "$(dirname "$0")/lib.sh"
step() { # KIND STEP: sanitizer builds are slower, so they take a sparser walk
  local s=$2; [ -n "${ASAN_OPTIONS:-}" ] && s=$((s * 4 + 1)); echo "$s"; }
for spec in crypto:1 io:1 alloc:11 sqlite:31; do
  kind=${spec%%:*}
  if out=$("$ROOT/tests/faults/torture.sh" "$kind" "$(step "$kind" "${spec#*:}")" 2>&1); then
    ok "$(echo "$out" | tail -1)"
  else
    fail "$kind"; echo "$out" | tail -20 >&2
  fi
done
done_test
