#!/usr/bin/env bash
# The scale-out protocol, model-checked (model/scaleout.pml): the small bounded
# configurations find no violation, each broken variant finds its own, and the kept
# trail of the unfenced variant still replays to its violation (make model runs more).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
if scripts/model.sh fast "$T/model" >"$T/out" 2>&1; then ok "model: $(tail -1 "$T/out")"
else fail "model"; fi
cat "$T/out"
grep -q '^ok   model/nofence-trail' "$T/out" || fail "the kept trail was not replayed"
done_test
