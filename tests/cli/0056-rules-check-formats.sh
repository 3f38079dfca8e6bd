# `rules check --format text|json|sarif`: text as before; JSON lines (errors, then a
# summary); a SARIF 2.1.0 log that an independent validator accepts against the subset
# schema in tests/fixtures, naming the file, line and column of the broken rule.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SARIF_SCHEMA=$ROOT/tests/fixtures/sarif-2.1.0-subset.schema.json
$PY -c 'import jsonschema' 2>/dev/null || { fail "python3-jsonschema is needed (scripts/deps.sh)"; done_test; }
cd "$T"
sarif_valid() { # file: validates against the SARIF subset
  $PY - "$SARIF_SCHEMA" "$1" <<'EOF'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
errs = sorted(v.iter_errors(json.load(open(sys.argv[2]))), key=lambda e: list(e.absolute_path))
for e in errs:
    print("SARIF: /%s: %s" % ("/".join(map(str, e.absolute_path)), e.message), file=sys.stderr)
sys.exit(1 if errs else 0)
EOF
}
mkdir -p bad "my rules"
cat >bad/type.yaml <<'EOF'
rules:
  - id: R1
    title: t
    on: [resource.cmk.enabled]
    action: deny
    severity: high
    when: vault.retention_days == "ninety"
EOF
cp "$ROOT/tests/fixtures/schema/bad/rule-bad-action.yaml" "my rules/bad action.yaml"

# text: unchanged (the summary object on stdout, errors on stderr)
expect_rc 0 "text: shipped rules load" -- "$CMKGUARD" rules check "$ROOT/rules"
grep -qxE '\{"rules":1[0-9],"rules_hash":"[0-9a-f]{64}"\}' "$T/out" && ok "text: count and hash, as before" || fail "text output: $(cat "$T/out")"
text_out=$(cat "$T/out")
expect_rc 0 "--format text is the default" -- "$CMKGUARD" rules check --format text "$ROOT/rules"
[ "$(cat "$T/out")" = "$text_out" ] && ok "--format text prints the same" || fail "--format text differs"
expect_rc 2 "text: broken rule exits 2" -- "$CMKGUARD" rules check bad/type.yaml
expect_err '^cmkguard: bad/type.yaml:7:32: cannot compare' "text: FILE:LINE:COL on stderr"
[ -s "$T/out" ] && fail "text: stdout not empty on error" || ok "text: nothing on stdout on error"

# json: one object per line
expect_rc 0 "json: shipped rules load" -- "$CMKGUARD" rules check --format json "$ROOT/rules"
[ "$(wc -l <"$T/out")" -eq 1 ] && ok "json: one summary line" || fail "json lines: $(cat "$T/out")"
jq -e --arg h "$(echo "$text_out" | jq -r .rules_hash)" \
  'select(.type=="summary") | .ok==true and .errors==0 and .rules_hash==$h and (.rules|type)=="number"' "$T/out" >/dev/null \
  && ok "json: summary ok with the same hash" || fail "json summary: $(cat "$T/out")"
expect_rc 2 "json: broken rule exits 2" -- "$CMKGUARD" rules check --format=json "$ROOT/rules" bad/type.yaml
jq -c . "$T/out" >/dev/null 2>&1 && ok "json: every line parses" || fail "json: a line does not parse"
[ "$(wc -l <"$T/out")" -eq 2 ] && ok "json: an error line and a summary line" || fail "json lines: $(cat "$T/out")"
jq -se '.[0] | .type=="error" and .file=="bad/type.yaml" and .line==7 and .col==32 and .kind=="type-mismatch" and (.message|test("cannot compare"))' \
  "$T/out" >/dev/null && ok "json: error names file, line, col, kind, message" || fail "json error: $(head -1 "$T/out")"
jq -e 'select(.type=="summary") | .ok==false and .errors==1 and .rules==null and .paths==[$p, "bad/type.yaml"]' \
  --arg p "$ROOT/rules" "$T/out" >/dev/null && ok "json: summary not ok" || fail "json summary: $(tail -1 "$T/out")"
expect_err '^cmkguard: bad/type.yaml:7:32:' "json: the error also goes to stderr"

# sarif
expect_rc 2 "sarif: broken rule exits 2" -- "$CMKGUARD" rules check --format sarif bad/type.yaml
cp "$T/out" type.sarif
sarif_valid type.sarif 2>"$T/why" && ok "sarif: the log validates against the SARIF 2.1.0 subset" || { fail "sarif invalid"; cat "$T/why" >&2; }
jq -e '."$schema"=="https://json.schemastore.org/sarif-2.1.0.json" and .version=="2.1.0"
       and .runs[0].tool.driver.name=="cmkguard" and (.runs[0].tool.driver.version|length>0)' type.sarif >/dev/null \
  && ok "sarif: version, \$schema, driver" || fail "sarif header"
jq -e '.runs[0] as $r | ($r.results|length)==1 and $r.results[0].level=="error"
       and $r.results[0].ruleId==$r.tool.driver.rules[$r.results[0].ruleIndex].id
       and $r.tool.driver.rules[$r.results[0].ruleIndex].name=="type-mismatch"
       and ($r.results[0].message.text|test("cannot compare vault.retention_days"))' type.sarif >/dev/null \
  && ok "sarif: one result, its rule is type-mismatch, its message the loader's" || fail "sarif result: $(jq -c '.runs[0].results' type.sarif)"
jq -e '.runs[0].results[0].locations[0].physicalLocation | .artifactLocation.uri=="bad/type.yaml"
       and .region.startLine==7 and .region.startColumn==32' type.sarif >/dev/null \
  && ok "sarif: file, line and column of the broken rule" || fail "sarif location: $(jq -c '.runs[0].results[0].locations' type.sarif)"
expect_rc 2 "sarif: a path with a space" -- "$CMKGUARD" rules check --format sarif "my rules"
jq -e '.runs[0].results[0] | .locations[0].physicalLocation.artifactLocation.uri=="my%20rules/bad%20action.yaml"
       and .locations[0].physicalLocation.region.startLine==9 and .locations[0].physicalLocation.region.startColumn==13
       and .ruleId=="CG11"' "$T/out" >/dev/null && ok "sarif: a space in a path is percent-encoded" \
  || fail "sarif uri: $(jq -c '.runs[0].results[0]' "$T/out")"
expect_rc 2 "sarif: an absolute path" -- "$CMKGUARD" rules check --format sarif "$T/bad"
jq -e --arg u "file://$T/bad/type.yaml" '.runs[0].results[0].locations[0].physicalLocation.artifactLocation.uri==$u' "$T/out" >/dev/null \
  && ok "sarif: an absolute path becomes a file:// URI" || fail "sarif uri: $(jq -c '.runs[0].results[0].locations' "$T/out")"
expect_rc 0 "sarif: shipped rules" -- "$CMKGUARD" rules check --format sarif "$ROOT/rules"
cp "$T/out" ok.sarif
sarif_valid ok.sarif 2>"$T/why" && jq -e '(.runs[0].results|length)==0 and (.runs[0].properties.rules|type)=="number"' ok.sarif >/dev/null \
  && ok "sarif: no results when the rules load" || { fail "sarif on good rules"; cat "$T/why" >&2; }
expect_rc 2 "sarif: a missing path" -- "$CMKGUARD" rules check --format sarif nowhere
sarif_valid "$T/out" 2>/dev/null && jq -e '.runs[0].results[0].ruleId=="CG01" and (.runs[0].results[0].locations[0].physicalLocation.region==null)' "$T/out" >/dev/null \
  && ok "sarif: an unreadable path has no region" || fail "sarif unreadable: $(jq -c '.runs[0].results' "$T/out")"

# usage
expect_rc 2 "an unknown format" -- "$CMKGUARD" rules check --format junit "$ROOT/rules"
expect_err "--format is one of text\|json\|sarif, not 'junit'" "the unknown format is named"
expect_rc 2 "--format without a value" -- "$CMKGUARD" rules check --format
expect_rc 2 "an unknown option" -- "$CMKGUARD" rules check --colour "$ROOT/rules"
done_test
