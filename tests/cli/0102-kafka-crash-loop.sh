# Exactly once through crashes: 20 000 events stream in ten chunks while run is killed
# with SIGKILL after each; at the end every event has exactly one decision record, no
# state change is lost or doubled, and every chain verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
# The mock broker keeps about 5 MiB per partition: 64 tenants over 16 partitions keep
# every audit partition far below that, so nothing here is lost to retention.
test_seed
start_broker --partitions 16
write_config "$T/run.yaml" "batch: 200"
# 5 000 resources in 64 tenants, 4 events each: created, identity on, moved, identity off.
lifecycle_events 0 5000 64 >"$T/all.txt"
total=$(wc -l <"$T/all.txt")
# Interleave by resource so each chunk carries whole lifecycles in order per tenant.
split -n l/10 -d "$T/all.txt" "$T/chunk."
kills=0
start_run "$T/run.yaml"
for c in "$T"/chunk.*; do
  before=$(count cmk.audit)
  produce "$c"
  # Strike while this run is working: once it has delivered something new, after a
  # random few milliseconds (mid-batch, mid-commit or mid-delivery).
  delivered() { [ "$(count cmk.audit)" -gt "$before" ]; }
  wait_until 60 "run delivers from chunk $(basename "$c")" -- delivered
  sleep "0.0$((RANDOM % 10))" # the random moment of the kill, from the printed seed
  kill -KILL "$RUN_PID" 2>/dev/null && kills=$((kills + 1))
  wait "$RUN_PID" 2>/dev/null
  # Offsets live in the state, not the group: a fresh group gets every partition at once
  # instead of waiting for the killed member to time out.
  GROUP=crash-$kills write_config "$T/run.yaml" "batch: 200"
  start_run "$T/run.yaml"
done
[ "$kills" -ge 10 ] && ok "$kills SIGKILLs while $total events streamed" || fail "only $kills kills"
consume cmk.audit "$total" "$T/audit.jsonl" 120
stop_run
[ "$RUN_RC" -eq 0 ] && ok "final clean stop" || fail "run exit $RUN_RC"
cnt=$(count cmk.audit)
low=0; for p in $(seq 0 15); do l=$(kcat -Q -b "$BOOT" -t "cmk.audit:$p:-2" 2>/dev/null | awk '{print $NF}'); low=$((low + ${l:-0})); done
[ "$low" -eq 0 ] && ok "the broker kept every audit message (low watermarks 0)" || fail "broker retention dropped $low messages: the test needs more partitions"
[ "$cnt" -eq "$total" ] && ok "exactly $total records in the audit topic" || fail "$cnt records for $total events"
timeout 60 kcat -C -b "$BOOT" -t cmk.audit -c "$cnt" -q -f '%s\n' >"$T/all.jsonl" 2>/dev/null
dups=$(jq -r .data.cause "$T/all.jsonl" | sort | uniq -d | wc -l)
missing=$(comm -23 <(cut -f2- "$T/all.txt" | jq -r .id | sort) <(jq -r .data.cause "$T/all.jsonl" | sort -u) | wc -l)
[ "$dups" -eq 0 ] && ok "no event has two decision records" || fail "$dups events with two records"
[ "$missing" -eq 0 ] && ok "no event lacks its decision record" || fail "$missing events without a record"
jq -s -e 'map(.data.outcome) | unique == ["allowed"]' "$T/all.jsonl" >/dev/null \
  && ok "every event applied once: all allowed, none duplicate or rejected" || fail "outcomes: $(jq -r .data.outcome "$T/all.jsonl" | sort | uniq -c | tr '\n' ' ')"
"$CMKGUARD" state show --state "$T/state.db" >"$T/state.json" 2>/dev/null
jq -e '(.resources | length) == 5000 and all(.resources[]; .subscription == "s2" and .identity == null)' "$T/state.json" >/dev/null \
  && ok "final state: 5000 resources, each moved once and its identity off" || fail "state: $(jq -c '.resources | length' "$T/state.json")"
expect_rc 0 "every chain verifies after the crashes" -- "$CMKGUARD" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" --kafka "$T/run.yaml"
# Every recovery that ran to its end accounted for each outbox record: already delivered,
# or resent (a kill may cut one short, and the next run begins its own; the last run,
# stopped cleanly, must have finished any it began).
awk '/outbox record\(s\) from an earlier run/ { want = $3; open = 1 }
     /already in the audit topic/ { if (!open || $3 + $(NF - 1) != want) bad++; open = 0 }
     END { exit (bad || open) }' "$T/run.log" \
  && ok "every recovery accounted for its outbox ($(grep -c 'already in the audit topic' "$T/run.log") recoveries)" \
  || fail "a recovery lost track of its outbox: $(grep -E 'earlier run|already in the audit' "$T/run.log" | head -4)"
done_test
