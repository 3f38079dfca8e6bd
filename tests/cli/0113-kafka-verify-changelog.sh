# audit verify --kafka with a state topic (SPEC §7a): a changelog and an audit topic with a
# zombie's records in both, made by test_kverify (KVERIFY_DUMP) and produced with kcat,
# verify with the zombie's records ignored and counted; an altered changelog record fails.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
BUILD_DIR=${CMK_BUILD:-$ROOT/build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
GEN=$BUILD_DIR/tests/test_kverify
[ -x "$GEN" ] || { fail "no $GEN (make $GEN)"; done_test; }
mkdir "$T/w"
(cd "$ROOT" && KVERIFY_DUMP="$T/w" "$GEN" >"$T/gen.log" 2>&1) || fail "test_kverify: $(tail -3 "$T/gen.log")"
read -r records ignored <"$T/w/expect"
start_broker --partitions 1
cat >"$T/run.yaml" <<EOF
kafka:
  bootstrap.servers: $BOOT
  group.id: cmkguard-test
topics: {events: cmk.events, audit: cmk.audit, dead_letter: cmk.dead, state: cmk.state}
rules: [$ROOT/rules]
state: $T/state
master_key: $T/w/master.key
EOF
kcat -P -b "$BOOT" -X enable.idempotence=true -t cmk.state -p 0 "$T"/w/state/* || fail "kcat: the changelog"
kcat -P -b "$BOOT" -X enable.idempotence=true -t cmk.audit -p 0 -l "$T/w/audit.jsonl" || fail "kcat: the audit records"
pub=$ROOT/tests/golden/test-signing.pub
expect_rc 0 "the chain verifies by its changelog, the zombie's records ignored" -- \
  "$CMKGUARD" audit verify --pubkey "$pub" --kafka "$T/run.yaml"
jq -e --argjson r "$records" --argjson i "$ignored" \
  '.verified and .records == $r and .chains[0].chain == "cmk.events/0" and .chains[0].last_seq == $r
   and .chains[0].fenced + .chains[0].uncommitted == $i and ([.chains[0].claims[].owner] == ["a", "b"])' \
  "$T/out" >/dev/null && ok "the summary: $records records, $ignored ignored, claims by a and b" \
  || fail "summary: $(cat "$T/out")"
[ "$(grep -cE '^cmkguard: cmk\.audit/0/[0-9]+: chain .cmk\.events/0. seq [0-9]+: (a fenced write|uncommitted)' "$T/err")" -eq "$ignored" ] \
  && ok "each ignored record is named by topic/partition/offset" || fail "stderr: $(head -3 "$T/err")"
# Without the state topic the zombie's records are in the chain: it fails, as before.
sed -e 's/, state: cmk.state}/}/' -e '/^master_key:/d' "$T/run.yaml" >"$T/plain.yaml"
grep -q 'dead_letter: cmk.dead}' "$T/plain.yaml" || fail "plain.yaml: $(cat "$T/plain.yaml")"
expect_rc 1 "without topics.state the zombie's records break the chain" -- \
  "$CMKGUARD" audit verify --pubkey "$pub" --kafka "$T/plain.yaml"
expect_err 'cmk\.audit/0/[0-9]+: seq [0-9]+: (seq [0-9]+ comes after|prevhash does not match)' \
  "the record that breaks it is named"
# A changelog record altered (one bit of a copy of the last, appended): never read as truth.
last=$(ls "$T/w/state" | tail -1)
cp "$T/w/state/$last" "$T/bad"
b=$(od -An -tu1 -j20 -N1 "$T/bad" | tr -d ' ')
printf "\\x$(printf %02x $(( b ^ 1 )))" | dd of="$T/bad" bs=1 seek=20 conv=notrunc 2>/dev/null
cmp -s "$T/bad" "$T/w/state/$last" && fail "the copy was not altered"
kcat -P -b "$BOOT" -t cmk.state -p 0 "$T/bad" || fail "kcat: the altered record"
expect_rc 1 "an altered changelog record fails the check" -- \
  "$CMKGUARD" audit verify --pubkey "$pub" --kafka "$T/run.yaml"
expect_err 'cmk\.state/0.*does not authenticate' "the error names the state partition and the offset"
done_test
