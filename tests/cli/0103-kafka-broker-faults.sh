# Broker faults: while the audit topic is too slow to take the records, consumption
# pauses at a bounded backlog and nothing is dropped; a broker going down and up loses
# nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
start_broker --brokers 3 --partitions 4
PORT=$(free_port)
write_config "$T/run.yaml" "backlog: 40" "batch: 20" "metrics: {listen: 127.0.0.1:$PORT}"
start_run "$T/run.yaml"
# Ready once the group has assigned the partitions (the endpoint answers before that).
assigned() { metrics $PORT 2>/dev/null | grep -q '^cmkguard_assigned_partitions [1-9]'; }
wait_until 30 "run is assigned its partitions" -- assigned
# Every broker answers 4 s late: records wait for their acknowledgements.
for b in 1 2 3; do broker_ctl rtt $b 4000; done
lifecycle_events 0 250 8 >"$T/a.txt"
# In large message sets: a fetch through the slow broker then brings many events at once,
# as it does whatever the load on the machine (the producer's batching otherwise follows
# it), so run reads faster than its records are acknowledged.
produce "$T/a.txt" -X linger.ms=200
paused=0; maxb=0; decided=0
for _ in $(seq 1 600); do
  m=$(metrics $PORT 2>/dev/null)
  b=$(echo "$m" | awk '/^cmkguard_audit_backlog/ {print $2}')
  [ "${b:-0}" -gt "$maxb" ] && maxb=$b
  if echo "$m" | grep -q '^cmkguard_consumption_paused 1'; then
    paused=1
    decided=$(echo "$m" | awk '/^cmkguard_events_consumed_total/ {s += $2} END {print s}')
    [ "$maxb" -ge 40 ] && break
  fi
  sleep 0.05
done
[ "$paused" -eq 1 ] && ok "consumption paused while the audit topic lags" || fail "never paused: $(echo "$m" | grep -v '^#')"
[ "$maxb" -ge 40 ] && [ "$maxb" -le 60 ] && ok "audit backlog bounded (peak $maxb; limit 40 plus one batch of 20)" || fail "backlog peak $maxb"
[ "${decided:-0}" -lt 1000 ] && ok "reading stopped while paused ($decided of 1000 events read)" || fail "read $decided while paused"
for b in 1 2 3; do broker_ctl rtt $b 0; done
consume cmk.audit 1000 "$T/audit1.jsonl" 90
# Retriable Produce errors (NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT), then a broker
# going down and coming back, while more events stream.
broker_ctl error produce 10 6
broker_ctl error produce 10 7
lifecycle_events 250 250 8 >"$T/b.txt"
produce "$T/b.txt"
broker_ctl down 2
# The outage reaches run: its clients lose their connection to broker 2 (librdkafka says
# so on stderr), and only then does the broker come back.
wait_until 30 "run's clients see broker 2 go down" -- grep -q '/2: Disconnected' "$T/run.log" \
  && ok "run's clients lost broker 2"
broker_ctl up 2
consume cmk.audit 2000 "$T/audit2.jsonl" 120
stop_run
[ "$RUN_RC" -eq 0 ] && ok "clean stop after the faults" || fail "run exit $RUN_RC"
n=$(count cmk.audit 4)
[ "$n" -eq 2000 ] && ok "exactly 2000 records for 2000 events" || fail "$n records"
timeout 60 kcat -C -b "$BOOT" -t cmk.audit -c "$n" -q -f '%s\n' >"$T/all.jsonl" 2>/dev/null
[ "$(jq -r .data.cause "$T/all.jsonl" | sort | uniq -d | wc -l)" -eq 0 ] && ok "no duplicated decisions" || fail "duplicates"
jq -s -e 'map(.data.outcome) | unique == ["allowed"]' "$T/all.jsonl" >/dev/null && ok "all applied once" || fail "outcomes"
expect_rc 0 "chains verify after the faults" -- "$CMKGUARD" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" --kafka "$T/run.yaml"
grep -q "consumption paused" "$T/run.log" && ok "the pause is logged" || fail "no pause in the log"
done_test
