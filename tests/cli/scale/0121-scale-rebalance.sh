# Several instances (SPEC §7a), scaled: 1 -> 3 -> 2 instances with SIGTERM while the
# events of 24 tenants stream in, once with the eager `range` assignor and once with
# `cooperative-sticky` (every member lists the same strategy). Each round ends with one
# decision record per events message, each tenant as a replay of its events alone,
# verified chains, and a new instance restoring the replays' state from the changelog.
# librdkafka 2.0.2 aborts a cooperative-sticky consumer destroyed before its first
# assignment, and loops with more members than partitions: every instance is stopped
# only once the group has given it partitions (its metrics say so), and there are
# never more members than partitions.
# Minutes long, so kept out of the default suite (scripts/run-tests.sh runs only
# tests/cli/[0-9]*.sh). Run it with
#   bash tests/cli/scale/0121-scale-rebalance.sh   (SEED=N repeats a run)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kafka.sh"
test_seed
P=${SCALE_PARTITIONS:-12}
T0=$T
round() { # STRATEGY: one broker, one group, the scaling story
  local strategy=$1 i
  start_broker --partitions $P
  GROUP=scale-$strategy scale_config "$T/run.yaml" "batch: 200"
  kafka_props "$T/run.yaml" "partition.assignment.strategy: $strategy"
  master_key "$T/master.key"
  for i in 1 2 3; do instance_config $i "$T/run.yaml"; done
  tenant_events "$SEED" "${SCALE_EVENTS:-9000}" "${SCALE_TENANTS:-24}" $P >"$T/in.txt"
  split -n l/3 -d "$T/in.txt" "$T/part."
  produce "$T/part.00"
  start_instance 1 "$T/run-i1.yaml"
  wait_until 60 "$strategy: instance 1 owns every partition" -- owners $P 1
  produce "$T/part.01"
  start_instance 2 "$T/run-i2.yaml"; start_instance 3 "$T/run-i3.yaml"
  wait_until 120 "$strategy: three instances share the partitions" -- owners $P 1 2 3 \
    && ok "$strategy: 1 -> 3 instances, each owns some of the $P partitions"
  produce "$T/part.02"
  before=$(count cmk.audit $P)
  moving() { [ "$(count cmk.audit $P)" -gt "$before" ]; }
  wait_until 120 "$strategy: the three deliver" -- moving
  stop_instance 3
  [ "$INST_RC" -eq 0 ] && ok "$strategy: SIGTERM stops instance 3 cleanly" || fail "$strategy: instance 3 exit $INST_RC"
  wait_until 120 "$strategy: two instances take over" -- owners $P 1 2 \
    && ok "$strategy: 3 -> 2 instances, each owns some of the $P partitions"
  caught() { caught_up $P; }
  wait_until 600 "$strategy: the instances reach the last event of every partition" -- caught
  for i in 1 2; do
    stop_instance $i
    [ "$INST_RC" -eq 0 ] && ok "$strategy: instance $i stops cleanly" || fail "$strategy: instance $i exit $INST_RC: $(tail -3 "$T/i$i.log")"
  done
  dump_topics $P
  expect_rc 0 "$strategy: audit verify --kafka verifies every chain" -- \
    "$CMKGUARD" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" --kafka "$T/run.yaml"
  cp "$T/out" "$T/verify.json" # the chains verification accepted, for the checker
  final_state $P "$T/run.yaml"
  local states=() s
  while read -r s; do states+=(--state "$s"); done <"$T/final.states"
  [ ${#states[@]} -gt 0 ] || fail "$strategy: the new instance left no state"
  check_exactly_once --fenced --verified "$T/verify.json" --master-key "$T/master.key" "${states[@]}"
  stop_all # the broker too: the next round starts from nothing
}
for strategy in range cooperative-sticky; do
  T=$T0/$strategy; mkdir "$T"
  echo "--- $strategy"
  round "$strategy"
done
T=$T0
done_test
