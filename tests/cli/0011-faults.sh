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
# A real full disk (/dev/full), with signatures made inline (checkpoints) and on the
# signing thread (a signature per record): exit 3, and the error says why.
for mode in "--checkpoint 5" ""; do
  # shellcheck disable=SC2086
  expect_rc 3 "a full disk stops the replay (${mode:-a signature per record})" -- "$CMKGUARD" replay \
    --rules "$ROOT/rules" --sign-key "$ROOT/tests/golden/test-signing.key" $mode --out /dev/full "$ROOT/examples/story.jsonl"
  expect_err 'cannot write audit record main:[0-9]+: No space left on device' "it names the record and the cause"
done
done_test
