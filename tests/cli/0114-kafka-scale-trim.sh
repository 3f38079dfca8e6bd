# A partition's changelog past what the embedded broker keeps (SPEC §7a): the broker
# trims a partition's head past 5 MiB, silently. Snapshots every 256 KiB keep the latest
# snapshot and the changelog after it in what remains, so a new machine restores a
# partition whose head is gone, and its chain goes on without a gap.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
start_broker --partitions 1
scale_config "$T/run.yaml" "batch: 100" "snapshot_bytes: 262144"
low() { kcat -Q -b "$BOOT" -t "$1:0:-2" 2>/dev/null | awk '{print $NF}'; }
lifecycle_events 0 750 1 >"$T/a.txt"
produce "$T/a.txt"
"$CMKGUARD" run --config "$T/run.yaml" --state "$T/one" >>"$T/run.log" 2>&1 &
RUN_PID=$!
wait_until 180 "3000 events decided" -- decided_at_least 1 3000
stop_run
[ "$RUN_RC" -eq 0 ] && ok "clean stop" || fail "run exit $RUN_RC"
trimmed=$(low cmk.state)
[ "${trimmed:-0}" -gt 0 ] && ok "the broker trimmed the changelog's head (low watermark $trimmed)" ||
  fail "the changelog was not trimmed (low ${trimmed:-?}): the test needs more events"
[ "$(low cmk.audit)" -eq 0 ] && ok "the audit partition was not trimmed" || fail "the audit partition was trimmed"
lifecycle_events 750 25 1 >"$T/b.txt"
produce "$T/b.txt"
: >"$T/run.log"
"$CMKGUARD" run --config "$T/run.yaml" --state "$T/two" >>"$T/run.log" 2>&1 &
RUN_PID=$!
wait_until 60 "3100 events decided" -- decided_at_least 1 3100
stop_run
grep -q 'partition 0 owned (epoch 2.*from the changelog.*chain at seq 3000' "$T/run.log" &&
  ok "restored from the snapshot past the trimmed head, the chain at seq 3000" ||
  fail "$(grep -h 'owned\|cannot\|error' "$T/run.log" | head -3)"
audit_all 1 >"$T/audit.jsonl"
[ "$(jq -r .seq "$T/audit.jsonl" | sort -n | uniq | awk 'NR != $1 {bad++} END {print NR, bad + 0}')" = "3100 0" ] &&
  ok "one chain, seq 1 to 3100 without a gap" || fail "the chain has a gap or a repeat"
expect_rc 0 "the chain verifies" -- \
  "$CMKGUARD" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" --kafka "$T/run.yaml"
done_test
