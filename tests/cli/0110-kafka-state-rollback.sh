# `run` compares its state with the audit topic it wrote: an older copy of the state (a
# rollback) beside a newer audit topic is refused with exit 3 naming both positions, and
# nothing more reaches the audit topic; the current state goes on as before.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
start_broker --partitions 2
write_config "$T/run.yaml"
lifecycle_events 0 10 2 >"$T/in1.txt"
lifecycle_events 10 10 2 >"$T/in2.txt"
produce "$T/in1.txt"
start_run "$T/run.yaml"
consume cmk.audit 40 "$T/a1.jsonl"
stop_run
[ "$RUN_RC" -eq 0 ] && ok "first run stops cleanly" || fail "first run exit $RUN_RC"
cp "$T/state.db" "$T/old.db"; cp "$T/state.db.mkey" "$T/old.db.mkey"
produce "$T/in2.txt"
start_run "$T/run.yaml"
consume cmk.audit 80 "$T/a2.jsonl"
stop_run
[ "$RUN_RC" -eq 0 ] && ok "second run stops cleanly" || fail "second run exit $RUN_RC"
before=$(count cmk.audit 2)
[ "$before" -eq 80 ] && ok "80 records in the audit topic" || fail "$before records, expected 80"

# The older copy of the state, put back in place, is refused.
cp "$T/state.db" "$T/new.db"; cp "$T/state.db.mkey" "$T/new.db.mkey"
rm -f "$T/state.db-wal" "$T/state.db-shm"
cp "$T/old.db" "$T/state.db"; cp "$T/old.db.mkey" "$T/state.db.mkey"
expect_rc 3 "run refuses a state older than its audit topic" -- "$CMKGUARD" run --config "$T/run.yaml"
expect_err "chain cmk.events/[01]: the state is at record [0-9]+, but the audit topic cmk.audit holds record [0-9]+" \
  "the refusal names both positions"
after=$(count cmk.audit 2)
[ "$after" -eq "$before" ] && ok "nothing reached the audit topic" || fail "records went from $before to $after"

# The current state runs again and adds nothing (nothing new to read).
cp "$T/new.db" "$T/state.db"; cp "$T/new.db.mkey" "$T/state.db.mkey"
start_run "$T/run.yaml"
wait_for_consuming() { for _ in $(seq 1 200); do [ "$(grep -c 'run: consuming' "$T/run.log")" -ge 3 ] && return 0; sleep 0.05; done; return 1; }
wait_for_consuming && ok "the current state runs" || fail "run did not start: $(tail -3 "$T/run.log")"
stop_run
[ "$RUN_RC" -eq 0 ] && ok "and stops cleanly" || fail "third run exit $RUN_RC"
[ "$(count cmk.audit 2)" -eq "$before" ] && ok "it re-sends nothing" || fail "records changed"
expect_rc 0 "every chain verifies" -- "$CMKGUARD" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" --kafka "$T/run.yaml"
done_test
