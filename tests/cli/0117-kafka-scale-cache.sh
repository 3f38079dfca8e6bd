# Several instances' state (SPEC §7a): a partition released cleanly leaves a local cache
# (a state file per partition, under the shared master key) that a restart on the same
# machine starts from, reading only the changelog after it; the caches together equal the
# state one replay of the same events reaches; a damaged cache is refused and the
# partition restored from the changelog alone; a new machine (no caches) restores from
# the changelog, and every chain goes on without a gap.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
start_broker --partitions 4
GROUP=cache scale_config "$T/run.yaml" "batch: 40"
lifecycle_events 0 100 8 >"$T/ev1"
lifecycle_events 100 100 8 >"$T/ev2"
lifecycle_events 200 50 8 >"$T/ev3"
inst() { # DIR: one instance until all N records are there, then a clean stop
  "$CMKGUARD" run --config "$T/run.yaml" --state "$1" >>"$T/run.log" 2>&1 &
  RUN_PID=$!
  wait_until 90 "$2 records" -- decided_at_least 4 "$2"
  stop_run
  [ "$RUN_RC" -eq 0 ] && ok "clean stop after $2 records" || fail "run exit $RUN_RC"
}
produce "$T/ev1"
inst "$T/i1" 400
n=$(ls "$T"/i1/partition-*.db 2>/dev/null | wc -l)
[ "$n" -eq 4 ] && ok "a cache per partition released" || fail "$n caches"
# The caches are state files: together they hold what one replay of the events holds.
cut -f2- "$T/ev1" >"$T/ev1.jsonl"
"$CMKGUARD" replay --rules "$ROOT/rules" --state "$T/one.db" "$T/ev1.jsonl" >/dev/null 2>&1 ||
  fail "replay of the same events"
"$CMKGUARD" state show --state "$T/one.db" | jq -S '[.resources[]] | sort_by(.id)' >"$T/one.json"
for f in "$T"/i1/partition-*.db; do
  "$CMKGUARD" state show --state "$f" --master-key "$T/master.key" | jq -c '.resources[]'
done | jq -s -S 'sort_by(.id)' >"$T/caches.json"
[ "$(jq length "$T/caches.json")" -eq 100 ] && cmp -s "$T/one.json" "$T/caches.json" &&
  ok "the caches' 100 resources equal one replay's" || fail "the caches differ from one replay: $(diff "$T/one.json" "$T/caches.json" | head -5)"
# A restart on the same machine starts from the caches; one of them damaged is refused.
printf 'X' | dd of="$T/i1/partition-2.db" bs=1 seek=$(( $(stat -c %s "$T/i1/partition-2.db") - 100 )) conv=notrunc 2>/dev/null
produce "$T/ev2"
: >"$T/run.log"
inst "$T/i1" 800
cached=$(grep -c "from the local cache" "$T/run.log")
[ "$cached" -eq 3 ] && ok "three partitions restored from their caches" || fail "$cached from caches: $(grep owned "$T/run.log")"
grep -q "partition-2.db: not used" "$T/run.log" && ok "the damaged cache refused, its partition from the changelog" ||
  fail "the damaged cache was not refused: $(grep -h 'partition 2' "$T/run.log")"
# A new machine: no caches, the changelog alone.
produce "$T/ev3"
: >"$T/run.log"
inst "$T/i2" 1000
[ "$(grep -c "from the changelog" "$T/run.log")" -eq 4 ] && ok "a new machine restores from the changelog" ||
  fail "$(grep owned "$T/run.log")"
audit_all 4 >"$T/audit.jsonl"
[ "$(wc -l <"$T/audit.jsonl")" -eq 1000 ] && ok "1000 records, one per event" || fail "$(wc -l <"$T/audit.jsonl") records for 1000 events"
expect_rc 0 "every chain verifies" -- \
  "$CMKGUARD" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" --kafka "$T/run.yaml"
done_test
