# Azure-native events over Kafka decide as in replay: a message in an Azure shape (an
# Event Grid batch, a Resource Notification) yields one decision per derived event, and
# a restart reflects each message exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
start_broker --partitions 2
write_config "$T/run.yaml"
F=$ROOT/tests/fixtures/azure
{ sed 's/^/tenant-a\t/' "$F/rn-lifecycle.jsonl"; sed 's/^/tenant-b\t/' "$F/eventgrid.jsonl"
  sed -n 13p "$F/bad-shapes.jsonl" | sed 's/^/tenant-b\t/'; } >"$T/in.txt"
produce "$T/in.txt"
start_run "$T/run.yaml"
{ cat "$F/rn-lifecycle.jsonl"; } | "$CMKGUARD" replay --rules "$ROOT/rules" - >"$T/replay-a.jsonl" 2>/dev/null
{ cat "$F/eventgrid.jsonl"; sed -n 13p "$F/bad-shapes.jsonl"; } | "$CMKGUARD" replay --rules "$ROOT/rules" - >"$T/replay-b.jsonl" 2>/dev/null
want=$(( $(wc -l <"$T/replay-a.jsonl") + $(wc -l <"$T/replay-b.jsonl") ))
consume cmk.audit "$want" "$T/audit.jsonl"
stop_run
[ "$RUN_RC" -eq 0 ] && ok "run stops cleanly" || fail "run exit $RUN_RC"
key() { jq -r '[.data.cause, .subject, .data.outcome, ([.data.actions[].op] | join(","))] | join(" ")' "$@" | sort; }
diff <(key "$T/replay-a.jsonl" "$T/replay-b.jsonl") <(key "$T/audit.jsonl") >/dev/null \
  && ok "the same decisions as replay, derived events and all" || { fail "Kafka differs from replay"; diff <(key "$T/replay-a.jsonl" "$T/replay-b.jsonl") <(key "$T/audit.jsonl") | head -5 >&2; }
jq -e -s '[.[] | select(.data.derived_from != null)] | length > 10' "$T/audit.jsonl" >/dev/null && ok "records carry derived_from" || fail "no derived_from"
rejected=$(jq -s 'map(select(.data.outcome == "rejected")) | length' "$T/audit.jsonl")
timeout 30 kcat -C -b "$BOOT" -t cmk.dead -c "$rejected" -q -f '%h\n' >"$T/dead.txt" 2>/dev/null
grep -q 'Event Grid batch, element 2: not a JSON object' "$T/dead.txt" && ok "a bad batch element is dead-lettered with its reason" || fail "dead letter: $(cat "$T/dead.txt")"
before=$(count cmk.audit 2)
start_run "$T/run.yaml"
for _ in $(seq 1 100); do [ "$(grep -c 'run: consuming' "$T/run.log")" -ge 2 ] && break; sleep 0.05; done
stop_run
[ "$(count cmk.audit 2)" -eq "$before" ] && ok "a restart re-sends nothing" || fail "records after restart: $(count cmk.audit 2), before $before"
expect_rc 0 "the chains verify" -- "$CMKGUARD" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" --kafka "$T/run.yaml"
done_test
