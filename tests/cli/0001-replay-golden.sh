# Replaying the same events, rules and key gives the same bytes: the golden file.
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
run() { "$CMKGUARD" replay --rules rules --sign-key tests/golden/test-signing.key examples/story.jsonl 2>/dev/null; }
run >"$T/a.jsonl" || fail "replay exited non-zero"
run >"$T/b.jsonl"
cmp -s "$T/a.jsonl" "$T/b.jsonl" && ok "two replays are byte-identical" || fail "two replays differ"
if cmp -s "$T/a.jsonl" tests/golden/story.audit.jsonl; then ok "replay matches tests/golden/story.audit.jsonl"
else fail "replay differs from the golden file"; diff <(jq -c '.data' tests/golden/story.audit.jsonl) <(jq -c '.data' "$T/a.jsonl") | head -10 >&2; fi
# Every line is one JSON object with the record fields, and no floats anywhere.
n=$(jq -c 'select(.specversion=="1.0" and .source=="cmkguard" and (.seq|type)=="number" and (.sig|type)=="string")' "$T/a.jsonl" | wc -l)
[ "$n" -eq "$(wc -l <"$T/a.jsonl")" ] && ok "every record carries the CloudEvents and chain fields" || fail "malformed records: $n"
grep -qE '[0-9]\.[0-9]+[,}]' <(jq -c '[..|numbers]' "$T/a.jsonl") && fail "a floating-point number" || ok "no floating-point numbers"
# outcomes seen in the story
for o in allowed denied rejected duplicate; do
  jq -s -e --arg o "$o" 'any(.[]; .data.outcome==$o)' "$T/a.jsonl" >/dev/null && ok "story has a $o record" || fail "no $o record"
done
done_test
