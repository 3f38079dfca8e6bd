# End to end over Kafka: the story in, one decision per event out, bad input dead-lettered,
# every chain verified; a clean stop and a restart add nothing twice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
start_broker --partitions 4
write_config "$T/run.yaml"
# Key every event by tenant, as producers do; two tenants share the cluster.
jq -Rr 'fromjson? // empty | (if (.subject // "" | test("fabrikam")) then "fabrikam" else "contoso" end) + "\t" + tojson' \
  "$ROOT/examples/story.jsonl" >"$T/in.txt"
sed -n '51p' "$ROOT/examples/story.jsonl" | sed 's/^/contoso\t/' >>"$T/in.txt"   # the malformed line
events=$(wc -l <"$T/in.txt")
produce "$T/in.txt"
start_run "$T/run.yaml"
# The same events replayed give the number of records to expect.
cut -f2- "$T/in.txt" | "$CMKGUARD" replay --rules "$ROOT/rules" - >"$T/replay.jsonl" 2>/dev/null
want=$(wc -l <"$T/replay.jsonl")
consume cmk.audit "$want" "$T/audit.jsonl"
stop_run
[ "$RUN_RC" -eq 0 ] && ok "SIGTERM stops run cleanly (exit 0)" || fail "run exit $RUN_RC"
grep -q "run: stopped after $events events" "$T/run.log" && ok "run reports what it did on stop" || fail "stop line: $(tail -3 "$T/run.log")"
jq -s -e 'map(select(.data.cause != null)) | group_by(.data.cause + "|" + .subject + "|" + .data.outcome) | all(length == 1)' "$T/audit.jsonl" >/dev/null \
  && ok "each (event, subject, outcome) has exactly one record" || fail "duplicated records"
[ "$(jq -r .data.cause "$T/audit.jsonl" | sort -u | grep -vc null)" -ge $((events - 2)) ] && ok "every event id is reflected" || fail "events missing"
diff <(jq -r '.data.outcome' "$T/replay.jsonl" | sort | uniq -c) <(jq -r '.data.outcome' "$T/audit.jsonl" | sort | uniq -c) >/dev/null \
  && ok "Kafka decisions match the replay of the same events" || fail "outcomes differ from replay"
other=$(jq -s '[.[] | select((.data.input // "") | test("^cmk.events/[0-9]+/[0-9]+$") | not)] | length' "$T/audit.jsonl")
[ "$other" = 0 ] && ok "input names topic/partition/offset" || fail "input is not topic/partition/offset in ${other:-unreadable} records"
# bad input goes to the dead-letter topic with the reason in a header
rejected=$(jq -s 'map(select(.data.outcome=="rejected")) | length' "$T/audit.jsonl")
timeout 30 kcat -C -b "$BOOT" -t cmk.dead -c "$rejected" -q -f '%h\n' >"$T/dead.txt" 2>/dev/null
[ "$(wc -l <"$T/dead.txt")" -eq "$rejected" ] && ok "$rejected rejected events dead-lettered" || fail "dead letters: $(wc -l <"$T/dead.txt") of $rejected"
grep -q 'cmkguard-reason=not valid JSON' "$T/dead.txt" && ok "dead letters carry the reason" || fail "no reason header: $(head -2 "$T/dead.txt")"
timeout 30 kcat -C -b "$BOOT" -t cmk.audit -c 1 -q -f '%k|%h\n' >"$T/hdr.txt" 2>/dev/null
grep -q '|content-type=application/cloudevents+json' "$T/hdr.txt" && grep -qE '^(https://|/subscriptions/)' "$T/hdr.txt" \
  && ok "audit messages: key = subject, content-type header" || fail "audit headers: $(cat "$T/hdr.txt")"
expect_rc 0 "audit verify --kafka verifies every chain" -- "$CMKGUARD" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" --kafka "$T/run.yaml"
# A restart with nothing new adds nothing.
before=$(count cmk.audit 4)
start_run "$T/run.yaml"
consuming_twice() { [ "$(grep -c 'run: consuming' "$T/run.log")" -ge 2 ]; }
wait_until 30 "the restarted run consumes" -- consuming_twice
stop_run
after=$(count cmk.audit 4)
[ "$after" -eq "$before" ] && ok "a restart re-sends nothing ($after records)" || fail "records went from $before to $after"
# A state rebuilt from nothing (a new instance) decides everything again, but its chains
# continue from the audit topic's tail instead of starting over at seq 1.
rm -f "$T/state.db" "$T/state.db-wal" "$T/state.db-shm" "$T/state.db.mkey"
GROUP=rebuilt write_config "$T/run.yaml"
start_run "$T/run.yaml"
consume cmk.audit $((before * 2)) "$T/twice.jsonl" 60
stop_run
grep -q "continues from the audit topic at seq" "$T/run.log" && ok "a new state continues each chain from the topic" || fail "no chain continued from the topic"
expect_rc 0 "the chains still verify end to end" -- "$CMKGUARD" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" --kafka "$T/run.yaml"
done_test
