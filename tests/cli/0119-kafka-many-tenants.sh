# Many tenants, one instance, two SIGKILLs: 24 tenants' estates (vaults, keys, access,
# CMK bindings, rotations that fan out, denials, duplicates, bad input) stream through
# `run`, which is killed twice at a random moment and restarted. Then every events
# message has exactly one decision record, each tenant's records and final state are
# those of a replay of its events alone, and every chain verifies. This is the harness
# the several-instance tests (tests/cli/scale/) use, checked here on one instance.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
test_seed
P=12
start_broker --partitions $P
write_config "$T/run.yaml" "batch: 200"
tenant_events "$SEED" 5000 24 $P >"$T/in.txt"
total=$(wc -l <"$T/in.txt")
[ "$(cut -f1 "$T/in.txt" | sort -u | wc -l)" -eq 24 ] && ok "$total events of 24 tenants" || fail "tenants: $(cut -f1 "$T/in.txt" | sort -u | wc -l)"
produce "$T/in.txt"
start_instance 1 "$T/run.yaml"
kills=0
for at in 25 60; do
  # Strike once the run has delivered a random share past at% of the events (the
  # moment is the seed's): mid-batch, mid-commit or mid-delivery.
  mark=$(( total * (at + RANDOM % 15) / 100 ))
  past() { [ "$(count cmk.audit $P)" -ge "$mark" ]; }
  wait_until 60 "run delivers $mark records" -- past || break
  kill_instance 1 && kills=$((kills + 1))
  # Offsets live in the state, not the group: a new group gets every partition at once
  # instead of waiting for the killed member's session to time out.
  GROUP=many-$kills write_config "$T/run.yaml" "batch: 200"
  start_instance 1 "$T/run.yaml"
done
[ "$kills" -eq 2 ] && ok "killed with SIGKILL twice mid-stream" || fail "only $kills kills"
caught() { caught_up $P; }
wait_until 90 "run reaches the last event of every partition" -- caught
stop_instance 1
[ "$INST_RC" -eq 0 ] && ok "a clean stop at the end" || fail "run exit $INST_RC: $(tail -3 "$T/i1.log")"
dump_topics $P
check_exactly_once --state "$T/i1"
expect_rc 0 "audit verify --kafka verifies every chain" -- "$CMKGUARD" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" --kafka "$T/run.yaml"
# The checker itself must see what it is for: a record delivered twice counts once, a
# second decision for an input, a different record at a taken seq, a lost one all fail.
cp "$T/audit.dump" "$T/audit.good"
sel() { awk -v want="$1" '$0 ~ "\"input\":\"cmk.events/" want "\"" {print; exit}' "$T/audit.good"; }
again=$(sel '[0-9]+/[0-9]+')
selfcheck() { # WANT DESCRIPTION: runs the checker on $T/audit.dump
  python3 "$ROOT/tests/cli/scale-check.py" --audit "$T/audit.dump" --events "$T/events.dump" --watermarks "$T/events.hw" \
    --cmkguard "$CMKGUARD" --rules "$ROOT/rules" --work "$T/check" >"$T/self.out" 2>&1
  [ $? -eq "$1" ] && ok "checker: $2" || { fail "checker: $2"; sed 's/^/  | /' "$T/self.out" | grep FAIL >&2; }
}
rec=${again#* * }
{ cat "$T/audit.good"; echo "$again"; } >"$T/audit.dump"
selfcheck 0 "a byte-identical resend counts once"
last=$(cut -d' ' -f3- "$T/audit.good" | jq -c --arg c "$(jq -r .chain <<<"$rec")" 'select(.chain == $c)' | jq -s -c 'max_by(.seq)')
jq -c --argjson l "$last" '.seq = $l.seq + 1 | .prevhash = $l.hash | .hash = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"' <<<"$rec" |
  sed 's/^/0 999999 /' | cat "$T/audit.good" - >"$T/audit.dump"
selfcheck 1 "a second decision for an input, chained at the end, fails"
jq -c '.data.outcome = "denied"' <<<"$rec" | sed 's/^/0 999999 /' | cat "$T/audit.good" - >"$T/audit.dump"
selfcheck 1 "a different record at a taken seq fails"
jq -c '.seq += 100000' <<<"$rec" | sed 's/^/0 999999 /' | cat "$T/audit.good" - >"$T/audit.dump"
selfcheck 1 "a gap in a chain fails"
grep -vF -- "$rec" "$T/audit.good" >"$T/audit.dump"
selfcheck 1 "a lost record fails"
done_test
