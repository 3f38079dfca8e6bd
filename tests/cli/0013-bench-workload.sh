# The benchmark's workload generator: the same seed gives the same bytes, another seed
# other ones, and the mix is what BENCHMARKS.md says (about a fifth violations or bad
# input), decided by cmkguard itself.
. "$(dirname "$0")/lib.sh"
cd "$T"
GEN=$ROOT/build/bench/bench-gen
[ -x "$GEN" ] || { GEN=$T/bench-gen; cc -std=c11 -O2 -o "$GEN" "$ROOT/bench/gen.c" || { fail "cannot build bench-gen"; done_test; }; }
"$GEN" --events 20000 --resources 2000 --seed 1 >a.jsonl
"$GEN" --events 20000 --resources 2000 --seed 1 >b.jsonl
"$GEN" --events 20000 --resources 2000 --seed 2 >c.jsonl
cmp -s a.jsonl b.jsonl && ok "same seed, same workload" || fail "the generator is not deterministic"
cmp -s a.jsonl c.jsonl && fail "another seed gave the same workload" || ok "another seed, another workload"
[ "$(wc -l <a.jsonl)" -eq 20000 ] && ok "20000 events" || fail "$(wc -l <a.jsonl) events"
"$CMKGUARD" replay --rules "$ROOT/rules" a.jsonl >out.jsonl 2>/dev/null || fail "replay of the workload"
pct=$(jq -r '.data.outcome' out.jsonl | awk '$0 != "allowed" {v++} END {printf "%d", 100 * v / NR}')
[ "$pct" -ge 15 ] && [ "$pct" -le 30 ] && ok "$pct % violations or bad input" || fail "$pct % violations or bad input, expected 15..30"
for o in allowed denied rejected duplicate; do
  jq -s -e --arg o "$o" 'any(.[]; .data.outcome == $o)' out.jsonl >/dev/null && ok "has $o events" || fail "no $o event"
done
"$GEN" --rotate-fanout 100 >f.jsonl
[ "$(grep -c '"resource.cmk.enabled"' f.jsonl)" -eq 100 ] && [ "$(tail -1 f.jsonl | jq -r .type)" = key.rotated ] \
  && ok "fan-out workload: 100 CMK resources, then the rotation" || fail "fan-out workload"
done_test
