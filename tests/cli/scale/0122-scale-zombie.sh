# Several instances (SPEC §7a), a zombie: of three instances, one is frozen (SIGSTOP)
# mid-stream past its session timeout; the group gives its partitions to the other two,
# which go on with its chains; then it wakes (SIGCONT) still holding events it read
# before. Whatever it writes after waking must be fenced: audit verify accepts every
# chain, and in the chains it accepted the checker still finds exactly one decision
# per events message and each tenant as a replay of its events alone; the woken
# instance logs the partitions it lost; a new instance restores the replays' state.
# Minutes long, so kept out of the default suite (scripts/run-tests.sh runs only
# tests/cli/[0-9]*.sh). Run it with
#   bash tests/cli/scale/0122-scale-zombie.sh      (SEED=N repeats a run)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../kafka.sh"
test_seed
P=${SCALE_PARTITIONS:-12}
start_broker --partitions $P
GROUP=zombie scale_config "$T/run.yaml" "batch: 200" # a session timeout of 6 s
master_key "$T/master.key"
for i in 1 2 3; do instance_config $i "$T/run.yaml"; done
tenant_events "$SEED" "${SCALE_EVENTS:-12000}" "${SCALE_TENANTS:-24}" $P >"$T/in.txt"
split -n l/2 -d "$T/in.txt" "$T/half."
produce "$T/half.00"
for i in 1 2 3; do start_instance $i "$T/run-i$i.yaml"; done
wait_until 120 "three instances share the partitions" -- owners $P 1 2 3
z=$(( RANDOM % 3 + 1 )); others=(); for i in 1 2 3; do [ $i = $z ] || others+=($i); done
held=$(partitions_of $z)
# Freeze it while it works: once it has decided a fortieth of the events (its metrics
# say so), a random moment later.
enough=$(( ${SCALE_EVENTS:-12000} / 40 )) # 300 at full size
working() { metrics_scrape "${IPORT[$z]}" 2>/dev/null | awk -v n=$enough '/^cmkguard_events_(consumed_)?total/ {s += $NF} END {exit !(s >= n)}'; }
wait_until 120 "instance $z decides events" -- working
sleep "0.$((RANDOM % 10))" # the moment of the freeze, from the printed seed
kill -STOP "${INST[$z]}"
echo "instance $z frozen, owning $held partitions"
# Its session times out (6 s), the other two take its partitions and go on.
wait_until 120 "the others take the frozen instance's partitions" -- owners $P "${others[@]}" \
  && ok "instance $z frozen past its session timeout: its $held partitions moved"
produce "$T/half.01"
caught() { caught_up $P; }
wait_until 600 "the others reach the last event of every partition" -- caught
# It wakes with its partitions gone and events in hand; it writes what it can until it
# hears it lost them, and rejoins.
kill -CONT "${INST[$z]}"
echo "instance $z woke"
rejoined() { owners $P 1 2 3; }
wait_until 120 "the woken instance rejoins the group" -- rejoined && ok "instance $z rejoined with some partitions"
wait_until 120 "the three are at the last event of every partition" -- caught
grep -q 'partition [0-9]* lost' "$T/i$z.log" && ok "the woken instance learnt it lost its partitions: $(grep -c 'partition [0-9]* lost' "$T/i$z.log")" \
  || fail "the woken instance never logged a partition lost: $(grep 'partition' "$T/i$z.log" | tail -3)"
for i in 1 2 3; do
  stop_instance $i
  [ "$INST_RC" -eq 0 ] && ok "instance $i stops cleanly" || fail "instance $i: exit $INST_RC: $(tail -3 "$T/i$i.log")"
done
dump_topics $P
expect_rc 0 "audit verify --kafka verifies every chain (fenced writes ignored)" -- \
  "$CMKGUARD" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" --kafka "$T/run.yaml"
cp "$T/out" "$T/verify.json" # the chains verification accepted, for the checker
# Whether the zombie got a write out before it heard is timing: say what verify ignored.
echo "audit verify ignored $(jq '[.chains[] | (.fenced // 0)] | add' "$T/verify.json") fenced and $(jq '[.chains[] | (.uncommitted // 0)] | add' "$T/verify.json") uncommitted record(s)"
final_state $P "$T/run.yaml"
states=(); while read -r s; do states+=(--state "$s"); done <"$T/final.states"
[ ${#states[@]} -gt 0 ] || fail "the new instance left no state"
check_exactly_once --fenced --verified "$T/verify.json" --master-key "$T/master.key" "${states[@]}"
done_test
