# Rule metadata (SPEC §4a, §5): every finding repeats its rule's tags and compliance; a
# rule set without metadata and without exemptions writes the records it always did;
# ill-typed metadata is refused with FILE:LINE:COL and exit 2.
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$CMKGUARD" replay --rules rules --sign-key tests/golden/test-signing.key examples/story.jsonl >"$T/story.jsonl" 2>/dev/null \
  || fail "replay of the story exited non-zero"
# CMK-ACCESS in the shipped pack: MCSB v1 DP-5, its tags, and no exemption
jq -e -s '[.[].data.findings[] | select(.rule == "CMK-ACCESS")] | length > 0 and all(
    .compliance == [{"control":"DP-5","standard":"MCSB v1"}] and .tags == ["cmk","identity","key-vault"]
    and .result == "match" and (has("exemption") | not))' "$T/story.jsonl" >/dev/null \
  && ok "a CMK-ACCESS finding carries the rule's tags and compliance" || fail "CMK-ACCESS findings: $(jq -c '.data.findings[] | select(.rule=="CMK-ACCESS")' "$T/story.jsonl" | head -1)"
# a rule with tags but no compliance: tags only
jq -e -s '[.[].data.findings[] | select(.rule == "CMK-AT-CREATION")] | length > 0 and
    all(.tags == ["cmk","lifecycle"] and (has("compliance") | not))' "$T/story.jsonl" >/dev/null \
  && ok "a rule without compliance writes no compliance member" || fail "CMK-AT-CREATION findings"
# every finding of the shipped pack has tags, in the member order of RFC 8785
jq -e -s '[.[].data.findings[]] | length > 0 and all(has("tags"))' "$T/story.jsonl" >/dev/null \
  && ok "every finding of the shipped pack has tags" || fail "a finding without tags"
"$CMKGUARD" audit verify --pubkey tests/golden/test-signing.pub "$T/story.jsonl" >/dev/null \
  && ok "records with metadata verify" || fail "records with metadata do not verify"
# The pack as it was before metadata (tests/fixtures/rules-plain), no exemptions: the
# records are byte for byte those the build before metadata wrote (story-plain).
"$CMKGUARD" replay --rules tests/fixtures/rules-plain --sign-key tests/golden/test-signing.key examples/story.jsonl >"$T/plain.jsonl" 2>/dev/null \
  || fail "replay with the plain rules exited non-zero"
cmp -s "$T/plain.jsonl" tests/golden/story-plain.audit.jsonl \
  && ok "rules without metadata write the same bytes as before" || fail "plain rules: records differ from story-plain.audit.jsonl"
jq -e -s '[.[].data.findings[] | has("tags") or has("compliance") or has("exemption")] | any | not' "$T/plain.jsonl" >/dev/null \
  && ok "findings of rules without metadata have no tags, compliance or exemption" || fail "plain findings carry metadata"
# type errors in metadata
cd "$T"
hdr='rules:
  - id: R1
    on: [resource.cmk.enabled]
    when: resource.identity
    action: deny
    severity: high'
check() { # file pattern description
  expect_rc 2 "$3 exits 2" -- "$CMKGUARD" rules check "$1"
  expect_err "^cmkguard: $2" "$3 names where"
}
printf '%s\n    tags: cmk\n' "$hdr" >tags-scalar.yaml
check tags-scalar.yaml "tags-scalar.yaml:7:11: tags must be a list of strings, not a scalar" "tags not a list"
printf '%s\n    tags: [cmk, {a: b}]\n' "$hdr" >tags-map.yaml
check tags-map.yaml "tags-map.yaml:7:17: tags must be a string, not a mapping" "a tag that is no string"
printf '%s\n    compliance: [{standard: "MCSB v1"}]\n' "$hdr" >comp-missing.yaml
check comp-missing.yaml "comp-missing.yaml:7:18: a compliance entry needs 'control'" "compliance entry without control"
printf '%s\n    compliance: [{standard: "MCSB v1", control: DP-5, level: 1}]\n' "$hdr" >comp-field.yaml
check comp-field.yaml "comp-field.yaml:7:55: unknown field 'level' in a compliance entry" "unknown field in a compliance entry"
printf '%s\n    compliance: {standard: "MCSB v1", control: DP-5}\n' "$hdr" >comp-map.yaml
check comp-map.yaml "comp-map.yaml:7:17: compliance must be a list of \\{standard, control\\}, not a mapping" "compliance not a list"
printf '%s\n    references: ["ftp://example.com/x"]\n' "$hdr" >ref.yaml
check ref.yaml "ref.yaml:7:18: references 'ftp://example.com/x' is not an http\\(s\\) URL" "a reference that is no URL"
printf '%s\n    tags: [cmk]\n    compliance: [{standard: "MCSB v1", control: DP-5}]\n    references: [https://learn.microsoft.com/security/benchmark/azure/]\n' "$hdr" >good.yaml
expect_rc 0 "well-typed metadata loads" -- "$CMKGUARD" rules check good.yaml
done_test
