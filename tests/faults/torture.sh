#!/usr/bin/env bash
# Fault-injection torture: for one seam kind, fail its Nth call for every N along the
# scenario (tests/faults/scenario.jsonl replayed into a SQLite state with signing,
# checkpoints and frequent commits), and check each time that
#   - the run either completes with the expected records or stops with exit 3 and a
#     clear error of its own besides the injection notice (never a crash);
#   - the state it leaves opens and reads (`state show`);
#   - after a stop, rerunning the same command without the fault completes, and the
#     record file is byte-identical to a run that never saw a fault.
# usage: torture.sh KIND [STEP]   (every STEPth N; default 1, every N)
#        torture.sh one KIND N    (one N; prints "past" when N is beyond the last call)
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CMKGUARD=${CMKGUARD:-$ROOT/cmkguard}
case $CMKGUARD in /*) ;; *) CMKGUARD=$ROOT/$CMKGUARD ;; esac
F=$ROOT/tests/faults

replay() { # DIR [env...]
  local d=$1; shift
  env "$@" "$CMKGUARD" replay --rules "$F/rules.yaml" --sign-key "$ROOT/tests/golden/test-signing.key" \
    --checkpoint 4 --commit-every 3 --state "$d/s.db" --out "$d/out.jsonl" "$F/scenario.jsonl"
}

one() { # KIND N GOLDEN
  local kind=$1 n=$2 golden=$3 d rc
  d=$(mktemp -d "${TMPDIR:-/tmp}/cmkguard-fault.XXXXXX")
  replay "$d" CMKGUARD_FAULT="$kind:$n" >/dev/null 2>"$d/err"; rc=$?
  local why=""
  if ! grep -q '^cmkguard: injected fault' "$d/err"; then
    [ $rc -eq 0 ] && cmp -s "$d/out.jsonl" "$golden" && { echo past; rm -rf "$d"; return 0; }
    why="no fault reached, yet exit $rc or different records"
  elif [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
    why="exit $rc (a crash or a wrong code), expected 0 or 3"
  elif [ $rc -eq 3 ] && ! grep -v '^cmkguard: injected fault' "$d/err" | grep -q '^cmkguard: '; then
    why="stopped without an error message of its own"
  elif [ $rc -eq 0 ] && ! cmp -s "$d/out.jsonl" "$golden"; then
    why="absorbed the fault but wrote different records"
  elif [ -e "$d/s.db" ] && ! "$CMKGUARD" state show --state "$d/s.db" >/dev/null 2>"$d/show.err"; then
    why="the state left behind does not read: $(head -1 "$d/show.err")"
  elif [ $rc -eq 3 ] && ! replay "$d" >/dev/null 2>"$d/rerun.err"; then
    why="the rerun failed: $(grep -v 'event rejected' "$d/rerun.err" | head -1)"
  elif [ $rc -eq 3 ] && ! cmp -s "$d/out.jsonl" "$golden"; then
    why="the rerun's records differ from a run without faults"
  fi
  if [ -n "$why" ]; then
    echo "FAIL: $kind:$n: $why"
    sed 's/^/  | /' "$d/err" | grep -v 'event rejected' | head -4
    [ -n "${KEEP:-}" ] && echo "  kept in $d" || rm -rf "$d"
    return 1
  fi
  echo "ok $rc"
  rm -rf "$d"
}

if [ "${1:-}" = one ]; then one "$2" "$3" "$4"; exit; fi

kind=$1 step=${2:-1}
G=$(mktemp -d "${TMPDIR:-/tmp}/cmkguard-golden.XXXXXX")
trap 'rm -rf "$G"' EXIT
replay "$G" CMKGUARD_FAULT="$kind:count" >/dev/null 2>"$G/err" || { echo "FAIL: the run without faults failed"; cat "$G/err"; exit 1; }
calls=$(sed -n "s/^cmkguard: fault seams: $kind was called \([0-9]*\) times$/\1/p" "$G/err")
[ -n "$calls" ] && [ "$calls" -gt 0 ] || { echo "FAIL: no $kind seam was called"; exit 1; }
cp "$G/out.jsonl" "$G/golden.jsonl"
# Every N from 1 to the last call, then one past it; two at a time.
seq 1 "$step" $((calls + 1)) | xargs -P 2 -I{} "$0" one "$kind" {} "$G/golden.jsonl" >"$G/log"
failed=$(grep -c '^FAIL' "$G/log")
stopped=$(grep -c '^ok 3' "$G/log"); absorbed=$(grep -c '^ok 0' "$G/log")
grep -A4 '^FAIL' "$G/log" | head -40
walk="every N"; [ "$step" -gt 1 ] && walk="N in steps of $step"
echo "$kind: $calls calls; $walk: $stopped stopped cleanly, $absorbed absorbed, $failed failed"
[ "$failed" -eq 0 ]
