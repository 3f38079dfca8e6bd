# A state written by the build before batched outbox and seen rows (format 2), caught
# by a crash with its whole outbox undelivered, is refused until `state migrate`; after
# it, `run` delivers that outbox exactly as it was queued, ids seen before the migration
# are still duplicates, the chain goes on from where the state left it, and a clean stop
# leaves no outbox row behind. The fixture (tests/migrate/state-v2.*) was written by that
# build (c7a5564): `run` over tests/migrate/state-v2.events.jsonl (lines 1-20 of
# examples/story.jsonl and a line that is not JSON) on one partition while the broker
# refused every produce, killed once all 21 events were decided.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
FIX=$ROOT/tests/migrate
start_broker --partitions 1
PORT=$(free_port)
write_config "$T/run.yaml" "metrics: {listen: 127.0.0.1:$PORT}"
sqlite3 "$T/state.db" <"$FIX/state-v2.sql" || fail "cannot load the fixture"
base64 -d "$FIX/state-v2.mkey.b64" >"$T/state.db.mkey" && chmod 600 "$T/state.db.mkey"
queued=$(sqlite3 "$T/state.db" "SELECT count(*) FROM outbox WHERE chain IS NOT NULL")
dead=$(sqlite3 "$T/state.db" "SELECT count(*) FROM outbox WHERE chain IS NULL")
sqlite3 "$T/state.db" "SELECT hex(value) FROM outbox WHERE chain IS NOT NULL ORDER BY id" >"$T/queued.hex"
[ "$queued" -gt 0 ] && [ "$dead" -gt 0 ] || fail "the fixture holds $queued records and $dead dead letters"

expect_rc 3 "run refuses a format 2 state" -- "$CMKGUARD" run --config "$T/run.yaml"
expect_err "state written by an older cmkguard \(format 2; this build reads format 3\): upgrade it once with 'cmkguard state migrate --state $T/state.db'" \
  "the refusal names the format and the command"
expect_rc 0 "state migrate" -- "$CMKGUARD" state migrate --state "$T/state.db"
grep -q "migrated from format 2 to 3" "$T/out" && ok "migrate says from which format" || fail "migrate: $(cat "$T/out")"
expect_rc 0 "the migrated state verifies" -- "$CMKGUARD" state verify --state "$T/state.db"
[ "$(sqlite3 "$T/state.db" "SELECT count(*) FROM outbox")" -eq $((queued + dead)) ] \
  && ok "the undelivered outbox rows are kept" || fail "outbox rows after migrate: $(sqlite3 "$T/state.db" "SELECT count(*) FROM outbox")"

# The events the state has applied (offsets it skips), then two more: an id seen before
# the migration (a duplicate), and a new one.
{ cat "$FIX/state-v2.events.jsonl"
  sed -n 3p "$FIX/state-v2.events.jsonl"
  sed -n 21p "$ROOT/examples/story.jsonl"; } | sed 's/^/contoso\t/' >"$T/more.txt"
produce "$T/more.txt"
start_run "$T/run.yaml"
want=$((queued + 2))
consume cmk.audit "$want" "$T/audit.jsonl"
stop_run
[ "$RUN_RC" -eq 0 ] && ok "run stops cleanly" || fail "run exit $RUN_RC: $(tail -3 "$T/run.log")"
head -n "$queued" "$T/audit.jsonl" | while IFS= read -r l; do printf '%s' "$l" | od -v -An -tx1 | tr -d ' \n' | tr a-f A-F; echo; done >"$T/got.hex"
cmp -s "$T/queued.hex" "$T/got.hex" && ok "the outbox is delivered byte for byte, in order" || fail "delivered records differ from the outbox"
[ "$(count cmk.dead 1)" -eq "$dead" ] && ok "the queued dead letters are delivered" || fail "$(count cmk.dead 1) dead letters, expected $dead"
jq -s -e --argjson q "$queued" '[.[].seq] == [range(1; $q + 3)] and (.[$q].prevhash == .[$q - 1].hash)' "$T/audit.jsonl" >/dev/null \
  && ok "the chain goes on from the migrated head" || fail "chain: $(jq -c '[.seq, .prevhash[:8], .hash[:8]]' "$T/audit.jsonl" | tr '\n' ' ')"
id3=$(sed -n 3p "$FIX/state-v2.events.jsonl" | jq -r .id)
jq -s -e --arg id "$id3" --argjson q "$queued" '.[$q].data.cause == $id and .[$q].data.outcome == "duplicate"' "$T/audit.jsonl" >/dev/null \
  && ok "an id seen before the migration is a duplicate" || fail "after migrate: $(sed -n "$((queued + 1))p" "$T/audit.jsonl" | head -c 300)"
[ "$(sqlite3 "$T/state.db" "SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM outbox_batches)")" -eq 0 ] \
  && ok "a clean stop leaves no outbox row" || fail "outbox rows left: $(sqlite3 "$T/state.db" "SELECT count(*) FROM outbox; SELECT count(*) FROM outbox_batches")"
[ "$(sqlite3 "$T/state.db" "SELECT count(*) FROM seen_batches")" -ge 1 ] \
  && ok "the new event id is kept in a batch row" || fail "no seen batch row"
expect_rc 0 "the state verifies after the run" -- "$CMKGUARD" state verify --state "$T/state.db"
done_test
