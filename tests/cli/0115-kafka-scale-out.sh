# Several instances (SPEC §7a): three `run`s in one group, the state of each partition in
# the state topic. Events stream in chunks while one instance at a time is killed with
# SIGKILL and restarted on its own state directory; at the end every input message has
# exactly one decision record (a byte-identical repeat counts once), every chain is one
# path without a fork, and the trail verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
test_seed
start_broker --partitions 6
scale_config "$T/run.yaml" "batch: 50"
declare -a PIDS
start_inst() { # N
  "$CMKGUARD" run --config "$T/run.yaml" --state "$T/i$1" >>"$T/run$1.log" 2>&1 &
  PIDS[$1]=$!
}
stop_all_inst() { for i in 1 2 3; do [ -n "${PIDS[$i]:-}" ] && kill -KILL "${PIDS[$i]}" 2>/dev/null; done; stop_all; }
trap 'stop_all_inst; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
lifecycle_events 0 600 12 >"$T/all.txt"
total=$(wc -l <"$T/all.txt")
split -n l/4 -d "$T/all.txt" "$T/chunk."
for i in 1 2 3; do start_inst "$i"; done
kills=0
for c in "$T"/chunk.*; do
  before=$(count cmk.audit 6)
  produce "$c"
  delivered() { [ "$(count cmk.audit 6)" -gt "$before" ]; }
  wait_until 90 "the instances deliver from $(basename "$c")" -- delivered
  sleep "0.0$((RANDOM % 10))" # the moment of the kill, from the printed seed
  v=$((RANDOM % 3 + 1))
  kill -KILL "${PIDS[$v]}" && kills=$((kills + 1))
  wait "${PIDS[$v]}" 2>/dev/null
  start_inst "$v"
done
ok "$kills SIGKILLs while $total events streamed"
# Every input decided: distinct (chain, seq) reach the total.
wait_until 120 "every event decided" -- decided_at_least 6 "$total"
for i in 1 2 3; do kill -TERM "${PIDS[$i]}"; done
for i in 1 2 3; do wait "${PIDS[$i]}"; rc=$?; [ "$rc" -eq 0 ] || fail "instance $i exit $rc"; PIDS[$i]=; done
audit_all 6 >"$T/audit.jsonl"
jq -r '[.chain, (.seq | tostring), .hash] | @tsv' "$T/audit.jsonl" | sort -u >"$T/keys"
forks=$(cut -f1,2 "$T/keys" | uniq -d | wc -l)
[ "$forks" -eq 0 ] && ok "one record per (chain, seq): no fork" || fail "$forks seqs with two different records"
repeats=$(( $(wc -l <"$T/audit.jsonl") - $(wc -l <"$T/keys") ))
ok "$repeats byte-identical repeats (a killed owner's records in flight, resent by the next)"
jq -r 'select(.type == "cmkguard.audit.decision") | .data.input' "$T/audit.jsonl" | sort | uniq -c >"$T/inputs"
n_in=$(wc -l <"$T/inputs")
[ "$n_in" -eq "$total" ] && ok "all $total inputs decided" || fail "$n_in of $total inputs have a record"
# an input with more records than copies of one record is decided twice
jq -r 'select(.type == "cmkguard.audit.decision") | [.data.input, .hash] | @tsv' "$T/audit.jsonl" | sort -u |
  cut -f1 | uniq -d >"$T/twice"
[ ! -s "$T/twice" ] && ok "no input decided twice" || fail "decided twice: $(head -3 "$T/twice" | tr '\n' ' ')"
gaps=$(jq -r '[.chain, .seq] | @tsv' "$T/audit.jsonl" | sort -u | awk -F'\t' '
  { n[$1]++; if ($2 > m[$1]) m[$1] = $2 } END { for (c in n) g += n[c] != m[c]; print g + 0 }')
[ "$gaps" -eq 0 ] && ok "every chain runs from seq 1 without a gap" || fail "$gaps chains with a gap"
expect_rc 0 "audit verify --kafka: every chain, signatures and claim boundaries" -- \
  "$CMKGUARD" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" --kafka "$T/run.yaml"
claims=$(grep -h "owned (epoch" "$T"/run*.log | wc -l)
[ "$claims" -gt 6 ] && ok "$claims claims: partitions moved between instances" || fail "only $claims claims"
done_test
