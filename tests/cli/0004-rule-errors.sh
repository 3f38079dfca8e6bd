# Broken rule files are refused up front with FILE:LINE:COL and exit 2.
. "$(dirname "$0")/lib.sh"
cd "$T"
rule() { # file body
  printf '%s\n' "$2" >"$1"
}
check() { # file pattern description
  expect_rc 2 "$3 exits 2" -- "$CMKGUARD" rules check "$1"
  expect_err "^cmkguard: $2" "$3 names where"
}
hdr='rules:
  - id: R1
    title: t
    on: [resource.cmk.enabled]
    action: deny
    severity: high'
rule unknown-field.yaml "$hdr
    when: resource.identity
    colour: blue"
check unknown-field.yaml "unknown-field.yaml:8:5: unknown field 'colour'" "unknown field"
rule type.yaml "$hdr
    when: vault.retention_days == \"ninety\""
check type.yaml "type.yaml:7:32: cannot compare vault.retention_days \\(integer\\) with literal \\(string\\)" "type mismatch"
rule field.yaml "$hdr
    when: vault.colour == \"x\""
check field.yaml "field.yaml:7:11: unknown field 'vault.colour'" "unknown field in a condition"
rule regex.yaml "$hdr
    when: resource.key_uri matches \"(unclosed\""
check regex.yaml "regex.yaml:7:.*: bad regular expression" "bad regex"
rule macro.yaml "$hdr
    when: no_such_macro and resource.identity"
check macro.yaml "macro.yaml:7:11: unknown macro or field 'no_such_macro'" "unknown macro"
rule list.yaml "$hdr
    when: key.kty in no_such_list"
check list.yaml "list.yaml:7:.*: unknown list 'no_such_list'" "unknown list"
rule deny.yaml 'rules:
  - id: R1
    on: [key.rotated]
    when: key.exists
    action: deny
    severity: low'
check deny.yaml "deny.yaml:3:10: 'deny' cannot apply to key.rotated" "deny on an event that cannot be denied"
rule dup.yaml "$hdr
    when: resource.identity
  - id: R1
    on: [resource.created]
    when: resource.exists
    action: alert
    severity: low"
check dup.yaml "dup.yaml:8:5: duplicate rule id 'R1' \\(first at dup.yaml:2:5\\)" "duplicate id"
rule syntax.yaml 'rules:
  - id: R1
     on: [x'
check syntax.yaml "syntax.yaml:3:.*: YAML" "YAML syntax error"
rule action.yaml 'rules:
  - {id: R1, on: [resource.created], when: resource.exists, action: explode, severity: low}'
check action.yaml "action.yaml:2:.*: action 'explode' is not deny, alert or lockout" "bad action"
rule missing.yaml 'rules:
  - {id: R1, on: [resource.created], action: alert, severity: low}'
check missing.yaml "missing.yaml:2:5: rule R1 is missing 'when'" "missing field"
rule notbool.yaml "$hdr
    when: resource.kind"
check notbool.yaml "notbool.yaml:7:11: resource.kind is a string, not a condition" "non-boolean condition"
rule type2.yaml 'rules:
  - {id: R1, on: [resource.created], when: resource.exists, action: alert, severity: [high]}'
check type2.yaml "type2.yaml:2:.*: severity must be a string, not a list" "wrong YAML type"
# billion laughs: aliases are bounded
{ echo 'a: &a ["x","x","x","x","x","x","x","x","x","x"]'
  prev=a; for i in b c d e f g h i j; do echo "$i: &$i [*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev]"; prev=$i; done
  echo 'rules: []'; } >laughs.yaml
check laughs.yaml "laughs.yaml:.*: more than 64 YAML aliases" "billion laughs"
{ printf 'rules: '; for i in $(seq 1 200); do printf '['; done; for i in $(seq 1 200); do printf ']'; done; echo; } >deep.yaml
check deep.yaml "deep.yaml:1:.*: YAML nested deeper than" "deep nesting"
head -c 5000000 /dev/zero | tr '\0' '#' >big.yaml
check big.yaml "big.yaml: rule file larger than 4 MiB" "oversized rule file"
# the shipped pack loads, and `rules check` reports its hash
expect_rc 0 "shipped rules load" -- "$CMKGUARD" rules check "$ROOT/rules"
grep -qE '"rules":1[0-9],"rules_hash":"[0-9a-f]{64}"' "$T/out" && ok "rules check reports count and hash" || fail "rules check output: $(cat "$T/out")"
# replay refuses broken rules with exit 2 before reading any event
expect_rc 2 "replay with broken rules exits 2" -- "$CMKGUARD" replay --rules dup.yaml "$ROOT/examples/story.jsonl"
done_test
