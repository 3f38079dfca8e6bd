# The CloudEvents headers survive a crash: records and dead letters that were made
# durable but never delivered (the audit topic refused every write) are resent from the
# outbox by the next run with the same content-type and ce_* headers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
start_broker --partitions 1
PORT=$(free_port)
write_config "$T/run.yaml" "metrics: {listen: 127.0.0.1:$PORT}"
STRUCTURED='application/cloudevents+json; charset=UTF-8'
# Structured events, one not JSON, one of an unknown type; then binary-mode events, one
# without ce_id and one about a resource that does not exist.
sed -n '1,20p;51,52p' "$ROOT/examples/story.jsonl" | sed 's/^/contoso\t/' >"$T/in.txt"
produce "$T/in.txt"
R=/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/none
printf '{}\n' | kcat -P -b "$BOOT" -t cmk.events -k contoso -H ce_specversion=1.0 -H ce_source=/t \
  -H ce_type=resource.cmk.disabled -H "ce_subject=$R" -H ce_time=2026-11-02T10:00:00Z || fail "kcat"
printf '{}\n' | kcat -P -b "$BOOT" -t cmk.events -k contoso -H ce_specversion=1.0 -H ce_id=b-2 \
  -H ce_source=/t -H ce_type=resource.cmk.disabled -H "ce_subject=$R" -H ce_time=2026-11-02T10:00:00Z || fail "kcat"
events=$(( $(wc -l <"$T/in.txt") + 2 ))
[ "$(count cmk.events 1)" -eq "$events" ] || fail "events topic holds $(count cmk.events 1) of $events"
# From now on the broker refuses every write (retriably): nothing can be delivered.
broker_ctl error produce 100000 6
start_run "$T/run.yaml"
decided=0
for _ in $(seq 1 600); do
  decided=$(metrics $PORT 2>/dev/null | awk '/^cmkguard_events_consumed_total/ {s += $2} END {print s + 0}')
  [ "$decided" -ge "$events" ] && break
  sleep 0.05
done
[ "$decided" -eq "$events" ] && ok "all $events events decided while the audit topic refuses writes" || fail "decided $decided of $events"
kill -KILL "$RUN_PID"; wait "$RUN_PID" 2>/dev/null
[ "$(count cmk.audit 1)" -eq 0 ] && [ "$(count cmk.dead 1)" -eq 0 ] && ok "nothing was delivered before the crash" \
  || fail "delivered before the crash: $(count cmk.audit 1) records, $(count cmk.dead 1) dead letters"
broker_ctl clear-errors produce
GROUP=after-crash write_config "$T/run.yaml"
start_run "$T/run.yaml"
cut -f2- "$T/in.txt" | "$CMKGUARD" replay --rules "$ROOT/rules" - >"$T/replay.jsonl" 2>/dev/null
want=$(( $(wc -l <"$T/replay.jsonl") + 2 ))
consume cmk.audit "$want" "$T/audit.jsonl"
stop_run
grep -q 'outbox record(s) from an earlier run' "$T/run.log" && grep -q ', [1-9][0-9]* resent' "$T/run.log" \
  && ok "the records came from the outbox" || fail "no resend: $(grep 'run:' "$T/run.log" | head -5)"
headers='[.headers as $h | range(0; $h | length; 2) | {key: $h[.], value: $h[. + 1]}] | from_entries'
timeout 60 kcat -C -b "$BOOT" -t cmk.audit -c "$want" -q -J >"$T/audit.json" 2>/dev/null
jq -s -e --arg ct "$STRUCTURED" "length == $want and all(.[]; (.payload | fromjson) as \$r | ($headers) as \$h
    | \$h[\"content-type\"] == \$ct and \$h.ce_specversion == \$r.specversion and \$h.ce_id == \$r.id
      and \$h.ce_source == \$r.source and \$h.ce_type == \$r.type and \$h.ce_time == \$r.time
      and \$h.ce_subject == \$r.subject)" "$T/audit.json" >/dev/null \
  && ok "resent audit records carry content-type and ce_* headers equal to the record" \
  || fail "resent audit headers: $(head -c 500 "$T/audit.json")"
n=$(jq -s 'map(select(.data.outcome == "rejected")) | length' "$T/audit.jsonl")
timeout 30 kcat -C -b "$BOOT" -t cmk.dead -c "$n" -q -J >"$T/dead.json" 2>/dev/null
jq -s -e --slurpfile a "$T/audit.jsonl" "length == $n and length >= 4 and all(.[]; ($headers) as \$h
    | all(\"ce_specversion\", \"ce_id\", \"ce_source\", \"ce_type\", \"ce_time\", \"ce_subject\"; \$h[.] | type == \"string\" and length > 0)
      and ([\$a[] | select(.id == \$h[\"cmkguard-record\"] and .data.reason == \$h[\"cmkguard-reason\"])] | length == 1))" "$T/dead.json" >/dev/null \
  && ok "$n resent dead letters carry ce_* headers and name their rejection record" \
  || fail "resent dead letters: $(head -c 500 "$T/dead.json")"
jq -s -e "map($headers) | any(.ce_id == \"b-2\" and .ce_type == \"resource.cmk.disabled\") and any(.ce_type == \"cmkguard.deadletter\" and .[\"content-type\"] == \"application/json\")" "$T/dead.json" >/dev/null \
  && ok "binary-mode dead letters: the event's own attributes, or self-described without ce_id" || fail "binary dead letters: $(jq -c "$headers" "$T/dead.json" | tail -2)"
expect_rc 0 "the chain verifies" -- "$CMKGUARD" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" --kafka "$T/run.yaml"
done_test
