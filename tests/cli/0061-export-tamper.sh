# audit export verifies the whole trail first: a record that fails stops it with exit 1
# naming the record (file:line, seq), and nothing at all reaches stdout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/trail.sh"
cd "$ROOT"
export_() { "$CMKGUARD" audit export --format ocsf --pubkey "$PUB" "$@"; }
# an altered finding late in the trail: the records before it verified, yet none is printed
n=$(grep -n '"CMK-CROSS-TENANT-MOVE"' "$STORY" | head -1 | cut -d: -f1)
sed "${n}s/\"severity\":\"critical\"/\"severity\":\"low\"/" "$STORY" >"$T/flip.jsonl"
cmp -s "$STORY" "$T/flip.jsonl" && fail "the edit did not change the trail"
expect_rc 1 "an altered record fails the export" -- export_ "$T/flip.jsonl"
expect_err "flip.jsonl:$n: seq $n: hash mismatch" "the altered record is named by file:line and seq"
[ ! -s "$T/out" ] && ok "nothing printed, not even the findings before it" || fail "stdout has $(wc -l <"$T/out") lines"
# a dropped record
sed '20d' "$STORY" >"$T/drop.jsonl"
expect_rc 1 "a dropped record fails the export" -- export_ "$T/drop.jsonl"
expect_err "drop.jsonl:20: seq 21: seq 21 follows seq 19" "the gap is named"
[ ! -s "$T/out" ] && ok "nothing printed for a broken chain" || fail "stdout not empty"
# the second of two files is altered: the first file's findings are not printed either
make_trail "$T/trail.jsonl"
sed 's/"result":"exempted"/"result":"match"/' "$T/trail.jsonl" >"$T/edit.jsonl"
n=$(grep -n '"result":"match"' "$T/edit.jsonl" | head -1 | cut -d: -f1)
expect_rc 1 "an altered second file fails the export" -- export_ "$STORY" "$T/edit.jsonl"
grep -q "edit.jsonl:[0-9]*: seq [0-9]*: " "$T/err" && ok "the record of the second file is named" || fail "not named: $(cat "$T/err")"
[ ! -s "$T/out" ] && ok "nothing printed from the first file" || fail "stdout not empty"
# unsigned records at the end show only once the input is read whole
"$CMKGUARD" replay --rules rules --sign-key "$KEY" --checkpoint 10 examples/story.jsonl 2>/dev/null | head -n 65 >"$T/cut.jsonl"
expect_rc 1 "an unsigned tail fails the export" -- export_ "$T/cut.jsonl"
expect_err "records seq 61..65 of chain 'main' are not signed" "the unsigned tail is named"
[ ! -s "$T/out" ] && ok "nothing printed for an unsigned tail" || fail "stdout not empty"
# the wrong key
"$CMKGUARD" audit keygen --out "$T/other" >/dev/null
expect_rc 1 "the wrong key fails the export" -- export_ --pubkey "$T/other.pub" "$STORY"
expect_err "story.audit.jsonl:1: seq 1: signed by key" "the first record is named"
# the intact trail still exports
expect_rc 0 "the intact trail exports" -- export_ "$STORY"
done_test
