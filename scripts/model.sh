#!/usr/bin/env bash
# Model-checks the scale-out protocol (model/scaleout.pml) with spin: an exhaustive
# safety search of each bounded configuration must find nothing, each deliberately
# broken variant must find its violation, and the kept trail of the unfenced variant
# must still replay to its violation. `scripts/model.sh fast` (make test) runs the
# small configurations; `scripts/model.sh` (make model) all of them.
# Usage: scripts/model.sh [fast|full] [WORKDIR]
set -u
mode=${1:-full}
work=${2:-build/model}
root=$(cd "$(dirname "$0")/.." && pwd)
model=$root/model/scaleout.pml
mkdir -p "$work" && work=$(cd "$work" && pwd)
command -v spin >/dev/null 2>&1 || { echo "model: spin is not installed (scripts/deps.sh)" >&2; exit 2; }
# Memory stays bounded: states are stored compressed (COLLAPSE) and a search that
# reaches MEMLIM (MiB) fails instead of growing.
PAN_CC=${PAN_CC:-"cc -O2 -w -DSAFETY -DCOLLAPSE -DMEMLIM=1536"}
PAN_RUN="-m4000 -w24"
pass=0; fail=0

# pan NAME DEFINES...: generates, compiles and runs the verifier in its own folder;
# leaves its report in $work/NAME/pan.out and its trail, if any, beside the model.
pan() {
  local name=$1; shift
  local dir=$work/$name
  rm -rf "$dir" && mkdir -p "$dir" && cp "$model" "$dir/"
  (cd "$dir" && spin -a "$@" scaleout.pml >spin.out 2>&1 && $PAN_CC -o pan pan.c >cc.out 2>&1 &&
    /usr/bin/time -f '%e s, %M KiB' -o time.out ./pan $PAN_RUN >pan.out 2>&1)
}

summary() { # NAME: states and time of a finished search
  local d=$work/$1
  printf '%s states, %s' "$(awk '/states, stored/ {print $1}' "$d/pan.out")" "$(cat "$d/time.out" 2>/dev/null)"
}

# safe NAME DEFINES...: the exhaustive search finds no violation and is complete.
safe() {
  local name=$1; shift
  pan "$name" "$@"
  local out=$work/$name/pan.out
  if grep -q 'errors: 0' "$out" 2>/dev/null && ! grep -qE 'MEMLIM|max search depth too small' "$out"; then
    pass=$((pass+1)); echo "ok   model/$name ($*): no violation, $(summary "$name")"
  else
    fail=$((fail+1)); echo "FAIL model/$name ($*)"
    sed 's/^/     | /' "$work/$name"/*.out | grep -vE '^\s+\|\s*$' | tail -30
  fi
}

# broken NAME DEFINES...: the search finds a violation and writes its trail.
broken() {
  local name=$1; shift
  pan "$name" "$@"
  local out=$work/$name/pan.out
  if grep -qE 'errors: [1-9]' "$out" 2>/dev/null && [ -f "$work/$name/scaleout.pml.trail" ]; then
    pass=$((pass+1))
    echo "ok   model/$name ($*): violation found: $(grep -m1 -o 'assertion violated.*' "$out")"
  else
    fail=$((fail+1)); echo "FAIL model/$name ($*): the broken variant found no violation"
    tail -20 "$out" 2>/dev/null | sed 's/^/     | /'
  fi
}

# replay NAME TRAIL DEFINES...: a kept trail still leads the model to its violation.
replay() {
  local name=$1 trail=$2; shift 2
  local dir=$work/$name
  rm -rf "$dir" && mkdir -p "$dir" && cp "$model" "$dir/" && cp "$trail" "$dir/scaleout.pml.trail"
  if (cd "$dir" && spin -t "$@" scaleout.pml >replay.out 2>&1) &&
    grep -q 'assertion violated' "$dir/replay.out"; then
    pass=$((pass+1)); echo "ok   model/$name: $(basename "$trail") replays to: $(grep -m1 -o 'assert(.*' "$dir/replay.out")"
  else
    fail=$((fail+1)); echo "FAIL model/$name: $(basename "$trail") no longer replays to its violation"
    tail -20 "$dir/replay.out" | sed 's/^/     | /'
  fi
}

# The protocol: bounded events (NEV), crashes (MAXCRASH, over instances 0 and 1) and
# snapshots (MAXSNAP); two instances that may both claim, so either can be a zombie.
safe events3 -DNEV=3 -DMAXCRASH=0 -DMAXSNAP=1
safe crash1 -DNEV=1 -DMAXCRASH=1 -DMAXSNAP=1
# Each broken variant is caught.
broken nofence -DNOFENCE -DNEV=2 -DMAXCRASH=0
broken restore-before-claim -DRESTORE_BEFORE_CLAIM -DNEV=2 -DMAXCRASH=1
broken reconcile-by-seq -DRECONCILE_BY_SEQ -DNEV=1 -DMAXCRASH=1
# A failing trail is a test: the unfenced variant's, kept in model/trails/.
replay nofence-trail "$root/model/trails/nofence.trail" -DNOFENCE -DNEV=2 -DMAXCRASH=0
if [ "$mode" = full ]; then
  safe crash2 -DNEV=1 -DMAXCRASH=2 -DMAXSNAP=1
  # Two events with a crash is past 50 M states: a bitstate search (256 MiB of bits,
  # three per state) covers most of it, not all.
  PAN_CC="cc -O2 -w -DSAFETY -DBITSTATE -DMEMLIM=1024" PAN_RUN="-m4000 -w31 -k3" \
    safe events2-crash1-bitstate -DNEV=2 -DMAXCRASH=1 -DMAXSNAP=1
  # Physical exactly-once in the audit topic cannot hold without broker fencing: a
  # session that lost the partition still lands its late copies (see ARCHITECTURE).
  broken strict-once -DSTRICT_ONCE -DNEV=2 -DMAXCRASH=1
fi
echo
echo "model: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
