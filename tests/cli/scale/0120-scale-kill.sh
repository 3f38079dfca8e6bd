# Several instances (SPEC §7a), killed: three `run` instances share one config and one
# consumer group over 12 partitions while 20 000 events of 36 tenants stream in; one of
# them, chosen at random, is killed with SIGKILL mid-stream four times and restarted on
# its own cache. At the end every events message has exactly one decision record, each
# tenant's records are those of a replay of its events alone, every chain verifies, and
# a new instance restoring from the changelog alone reaches the replays' state.
# Minutes long, so kept out of the default suite (scripts/run-tests.sh runs only
# tests/cli/[0-9]*.sh). Run it with
#   bash tests/cli/scale/0120-scale-kill.sh        (SEED=N repeats a run)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kafka.sh"
test_seed
P=${SCALE_PARTITIONS:-12}
start_broker --partitions $P
# A killed member's partitions go to the others once its session times out (6 s).
GROUP=scale scale_config "$T/run.yaml" "batch: 200"
master_key "$T/master.key"
tenant_events "$SEED" "${SCALE_EVENTS:-20000}" "${SCALE_TENANTS:-36}" $P >"$T/in.txt"
total=$(wc -l <"$T/in.txt")
produce "$T/in.txt"
for i in 1 2 3; do start_instance $i "$T/run.yaml"; done
kills=0
for at in 15 30 45 60; do
  # A random instance, at a random moment past at% of the events (the seed's choices).
  mark=$(( total * (at + RANDOM % 10) / 100 )) victim=$(( RANDOM % 3 + 1 ))
  past() { [ "$(count cmk.audit $P)" -ge "$mark" ]; }
  wait_until 300 "the instances deliver $mark records" -- past || break
  kill_instance $victim && kills=$((kills + 1))
  echo "killed instance $victim past $mark records"
  start_instance $victim "$T/run.yaml"
done
[ "$kills" -eq 4 ] && ok "SIGKILL four times mid-stream, each instance restarted" || fail "only $kills kills"
caught() { caught_up $P; }
wait_until 600 "the instances reach the last event of every partition" -- caught
for i in 1 2 3; do
  stop_instance $i
  [ "$INST_RC" -eq 0 ] && ok "instance $i stops cleanly" || fail "instance $i: exit $INST_RC: $(tail -3 "$T/i$i.log")"
done
dump_topics $P
expect_rc 0 "audit verify --kafka verifies every chain" -- "$CMKGUARD" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" --kafka "$T/run.yaml"
cp "$T/out" "$T/verify.json" # the chains verification accepted, for the checker
final_state $P "$T/run.yaml"
mapfile -t states <"$T/final.states"
args=(); for s in "${states[@]}"; do args+=(--state "$s"); done
[ ${#args[@]} -gt 0 ] && ok "${#states[@]} state file(s) restored from the changelog" || fail "the new instance left no state"
check_exactly_once --fenced --verified "$T/verify.json" --master-key "$T/master.key" "${args[@]}"
done_test
