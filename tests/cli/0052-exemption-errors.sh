# Broken exemption files are refused like rule files: FILE:LINE:COL and exit 2, from
# replay and from rules check; nothing is decided.
. "$(dirname "$0")/lib.sh"
cd "$T"
R=/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts
printf '{"specversion":"1.0","id":"e1","type":"resource.created","subject":"%s/cs1","time":"2026-11-01T09:00:00Z","data":{"kind":"Face","tenant":"t1","region":"we","subscription":"s1"}}\n' "$R" >events.jsonl
ex() { # file, then the lines of one exemption after "  - id: EX-1"
  local f=$1; shift
  { printf 'exemptions:\n  - id: EX-1\n'; for l in "$@"; do printf '    %s\n' "$l"; done; } >"$f"
}
check() { # file pattern description
  expect_rc 2 "$3: replay exits 2" -- "$CMKGUARD" replay --rules "$ROOT/rules" --exemptions "$1" events.jsonl
  expect_err "^cmkguard: $2" "$3: replay names where"
  [ -s "$T/out" ] && fail "$3: records were written" || true
  expect_rc 2 "$3: rules check exits 2" -- "$CMKGUARD" rules check "$ROOT/rules" --exemptions "$1"
  expect_err "^cmkguard: $2" "$3: rules check names where"
}
ok_fields=('rules: [CMK-REGION]' "resources: [\"$R/*\"]" 'category: waiver' 'expires: 2027-03-31T00:00:00Z' 'reason: approved')
ex good.yaml "${ok_fields[@]}" 'ticket: SEC-1'
expect_rc 0 "a well-formed exemption loads" -- "$CMKGUARD" rules check "$ROOT/rules" --exemptions good.yaml
ex unknown-rule.yaml 'rules: [CMK-REGION, CMK-NOPE]' "resources: [\"$R/*\"]" 'category: waiver' 'expires: 2027-03-31T00:00:00Z' 'reason: r'
check unknown-rule.yaml "unknown-rule.yaml:3:25: unknown rule id 'CMK-NOPE'" "unknown rule id"
ex no-expires.yaml 'rules: [CMK-REGION]' "resources: [\"$R/*\"]" 'category: waiver' 'reason: r'
check no-expires.yaml "no-expires.yaml:2:5: exemption EX-1 is missing 'expires'" "missing expires"
ex bad-expires.yaml 'rules: [CMK-REGION]' "resources: [\"$R/*\"]" 'category: waiver' 'expires: 2027-02-30T00:00:00Z' 'reason: r'
check bad-expires.yaml "bad-expires.yaml:6:14: expires '2027-02-30T00:00:00Z' is not an RFC 3339 date-time" "expires not a real instant"
ex glob-class.yaml 'rules: [CMK-REGION]' 'resources: ["/subscriptions/s1/[abc"]' 'category: waiver' 'expires: 2027-03-31T00:00:00Z' 'reason: r'
check glob-class.yaml "glob-class.yaml:4:17: bad glob '/subscriptions/s1/\\[abc': it has a '\\[' with no closing '\\]'" "bad glob (open class)"
ex glob-rel.yaml 'rules: [CMK-REGION]' 'resources: ["subscriptions/*"]' 'category: waiver' 'expires: 2027-03-31T00:00:00Z' 'reason: r'
check glob-rel.yaml "glob-rel.yaml:4:17: bad glob 'subscriptions/\\*': it must start with '/'" "bad glob (not an id)"
ex field.yaml "${ok_fields[@]}" 'owner: me'
check field.yaml "field.yaml:8:5: unknown field 'owner' in an exemption" "unknown field"
ex category.yaml 'rules: [CMK-REGION]' "resources: [\"$R/*\"]" 'category: forever' 'expires: 2027-03-31T00:00:00Z' 'reason: r'
check category.yaml "category.yaml:5:15: category 'forever' is not waiver or mitigated" "bad category"
ex no-rules.yaml 'rules: []' "resources: [\"$R/*\"]" 'category: waiver' 'expires: 2027-03-31T00:00:00Z' 'reason: r'
check no-rules.yaml "no-rules.yaml:3:12: rules names no rule" "empty rules"
printf 'exemption:\n  - id: EX-1\n' >top.yaml
check top.yaml "top.yaml:1:1: unknown field 'exemption' in an exemption file" "unknown top-level field"
# the same id twice, across two files of one folder
mkdir dup && cp good.yaml dup/a.yaml && cp good.yaml dup/b.yaml
check dup "dup/b.yaml:2:5: duplicate exemption id 'EX-1' \\(first at .*dup/a.yaml:2:5\\)" "duplicate id"
mkdir empty
check empty "empty: no exemption files found" "a folder with no exemption files"
done_test
