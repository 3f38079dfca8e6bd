#!/usr/bin/env bash
# cmkguard under valgrind memcheck (any error or definite leak fails): the fault
# scenario end to end (replay into a state with signing and checkpoints, resume,
# verify, data put/get, state show, rule tests), then CLI suites that stay small.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VG=$ROOT/scripts/valgrind-cmkguard.sh
T=$(mktemp -d /tmp/cmkguard-vg.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
step() { # DESCRIPTION -- command...
  local what=$1; shift 2
  if "$@" >"$T/out" 2>"$T/err"; then echo "ok   valgrind: $what"
  else echo "FAIL valgrind: $what (exit $?)"; tail -20 "$T/err"; fails=$((fails + 1)); fi
}
F=$ROOT/tests/faults
K=$ROOT/tests/golden/test-signing.key
R=/subscriptions/sub-f/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/cs-1
replay() { "$VG" replay --rules "$F/rules.yaml" --sign-key "$K" --checkpoint 4 --commit-every 3 \
  --state "$T/s.db" --out "$T/a.jsonl" "$F/scenario.jsonl"; }
step "replay into a state" -- replay
cp "$T/a.jsonl" "$T/golden.jsonl"; rm -f "$T"/s.db* "$T/a.jsonl" # a fresh state, a fresh trail
stopped() { CMKGUARD_FAULT=io:150 replay; [ $? -eq 3 ] && grep -q 'injected fault: io call 150' "$T/err"; }
step "a replay stopped by a full disk" -- stopped
step "the rerun resumes" -- replay
step "resumed records equal a run without faults" -- cmp "$T/a.jsonl" "$T/golden.jsonl"
step "audit verify" -- "$VG" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" "$T/a.jsonl"
step "state show" -- "$VG" state show --state "$T/s.db"
# A resource that stays readable (the scenario's end with every one locked or shredded).
sed -n 3p "$F/scenario.jsonl" | sed 's/face-1/face-2/; s/"f-03"/"f-v1"/' >"$T/more.jsonl"
step "replay continues the chain" -- "$VG" replay --state "$T/s.db" "$T/more.jsonl"
step "data put" -- sh -c "echo secret | $VG data put --state $T/s.db ${R%/*}/face-2"
step "data get" -- sh -c "[ \"\$($VG data get --state $T/s.db ${R%/*}/face-2)\" = secret ]"
step "rules test" -- "$VG" rules test "$ROOT/rules/tests"
for t in ${VALGRIND_TESTS:-0004 0005 0010}; do
  step "tests/cli/$t" -- env CMKGUARD="$VG" bash "$ROOT"/tests/cli/$t-*.sh
done
[ "$fails" -eq 0 ] && echo "valgrind: clean" || { echo "valgrind: $fails failure(s)"; exit 1; }
