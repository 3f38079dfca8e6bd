# Several instances under broker faults (SPEC §7a): retriable produce errors, added
# round-trip time and a broker going down and up while two instances decide, then a
# restore on a new machine (no local cache) while fetches fail and answers come late;
# every event still has exactly one decision record and every chain verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
start_broker --brokers 3 --partitions 4
scale_config "$T/run.yaml" "batch: 40"
declare -a PIDS
start_inst() { "$CMKGUARD" run --config "$T/run.yaml" --state "$T/$1" >>"$T/run-$1.log" 2>&1 & PIDS+=($!); }
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; stop_all; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
stop_insts() {
  local p rc
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p"; rc=$?; [ "$rc" -eq 0 ] || fail "instance $p exit $rc"; done
  PIDS=()
}
start_inst a; start_inst b
owning() { [ "$(cat "$T"/run-*.log | grep -c 'owned (epoch')" -ge 4 ]; }
wait_until 60 "the two instances own the partitions" -- owning
# During processing: Produce errors (NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT) on the
# changelog and the audit topic alike, every broker 300 ms late, then broker 2 down and up.
broker_ctl error produce 10 6
broker_ctl error produce 10 7
for b in 1 2 3; do broker_ctl rtt $b 300; done
lifecycle_events 0 200 8 >"$T/a.txt"
produce "$T/a.txt"
broker_ctl down 2
wait_until 30 "the instances see broker 2 go down" -- grep -q '/2: Disconnected' "$T"/run-a.log "$T"/run-b.log
broker_ctl up 2
for b in 1 2 3; do broker_ctl rtt $b 0; done
wait_until 120 "800 events decided through the faults" -- decided_at_least 4 800
stop_insts
ok "two instances decided 800 events through produce errors, latency and a broker outage"
# A new machine restores every partition from the changelog while fetches fail and
# answers come late, then decides more.
broker_ctl error fetch 8 6
for b in 1 2 3; do broker_ctl rtt $b 200; done
lifecycle_events 200 100 8 >"$T/b.txt"
produce "$T/b.txt"
start_inst c
wait_until 120 "1200 events decided after a restore under faults" -- decided_at_least 4 1200
for b in 1 2 3; do broker_ctl rtt $b 0; done
stop_insts
[ "$(grep -c 'owned (epoch.*from the changelog' "$T/run-c.log")" -eq 4 ] &&
  ok "the new machine restored the 4 partitions from the changelog" || fail "$(grep owned "$T/run-c.log")"
audit_all 4 >"$T/audit.jsonl"
jq -r '[.chain, (.seq | tostring), .hash] | @tsv' "$T/audit.jsonl" | sort -u >"$T/keys"
[ "$(cut -f1,2 "$T/keys" | uniq -d | wc -l)" -eq 0 ] && ok "no fork" || fail "forks in the audit topic"
[ "$(wc -l <"$T/keys")" -eq 1200 ] && ok "1200 distinct records for 1200 events" || fail "$(wc -l <"$T/keys") distinct records"
[ "$(jq -r .data.input "$T/audit.jsonl" | sort -u | wc -l)" -eq 1200 ] && ok "every input decided" || fail "inputs missing"
expect_rc 0 "every chain verifies" -- \
  "$CMKGUARD" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" --kafka "$T/run.yaml"
done_test
