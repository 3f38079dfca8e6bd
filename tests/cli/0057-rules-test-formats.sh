# `rules test --format text|json|junit`: text as before (plus skipped cases); JSON lines
# (a case per line, a summary last); JUnit XML that xmllint validates against the JUnit
# structure in tests/fixtures/junit.xsd, with the counts and the failing case named.
. "$(dirname "$0")/lib.sh"
XSD=$ROOT/tests/fixtures/junit.xsd
command -v xmllint >/dev/null || { fail "xmllint is needed (libxml2-utils, scripts/deps.sh)"; done_test; }
cd "$T"
mkdir -p pack/tests
cp "$ROOT/rules/cmk.yaml" pack/
cp "$ROOT/rules/tests/setup.jsonl" pack/tests/
ev() { # id subject-name time extra-data
  printf '  - {specversion: "1.0", id: %s, type: resource.created, subject: /subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/%s, time: "2026-11-02T10:00:0%sZ", data: {kind: Face, tenant: t1, region: westeurope, subscription: s1%s}}\n' "$@"
}
{ echo "name: \"creation <F12> & 'friends' \\\"quoted\\\"\""
  echo "setup: setup.jsonl"
  echo "events:"
  ev eager eager 0 ', key_uri: "https://kv1.vault.azure.net/keys/cmk1"'
  ev patient patient 1 ''
  echo "expect:"
  echo "  - {event: eager, outcome: denied, rules: [CMK-AT-CREATION]}"
  echo "  - {event: patient, outcome: denied, rules: [CMK-AT-CREATION]}"
  echo "  - {event: patient, outcome: allowed, skip: \"waits for <the> exemption & override loader\"}"
} >pack/tests/mixed.test.yaml
{ echo "name: all good"
  echo "setup: setup.jsonl"
  echo "events:"
  ev fine fine 2 ''
  echo "expect:"
  echo "  - {event: fine, outcome: allowed, rules: [], key_source: mmk}"
  echo "  - {index: 1, outcome: allowed}"
} >pack/tests/good.test.yaml

# text: as before, with skipped cases reported and counted
expect_rc 0 "text: shipped rule tests pass" -- "$CMKGUARD" rules test --require-all "$ROOT/rules/tests"
tail -1 "$T/out" | grep -qxE '[0-9]+ passed, 0 failed' && ok "text: summary line as before" || fail "text summary: $(tail -1 "$T/out")"
grep -qE '^ok   .*creation.test.yaml:12: c1 denied \[CMK-AT-CREATION\]$' "$T/out" && ok "text: ok lines as before" || fail "text ok line"
expect_rc 1 "text: a failing case exits 1" -- "$CMKGUARD" rules test pack/tests
grep -qE '^FAIL pack/tests/mixed.test.yaml:[0-9]+: patient allowed \[\]: outcome allowed, expected denied' "$T/out" && ok "text: FAIL line" || fail "text FAIL line: $(grep FAIL "$T/out")"
grep -qxF 'skip pack/tests/mixed.test.yaml:9: patient: waits for <the> exemption & override loader' "$T/out" && ok "text: skip line" || fail "text skip line: $(grep skip "$T/out")"
tail -1 "$T/out" | grep -qxF '3 passed, 1 failed, 1 skipped' && ok "text: skipped counted" || fail "text summary: $(tail -1 "$T/out")"

# junit
expect_rc 1 "junit: a failing case exits 1" -- "$CMKGUARD" rules test --format junit pack/tests
cp "$T/out" mixed.xml
xmllint --noout --schema "$XSD" mixed.xml 2>"$T/why" && ok "junit: validates against the JUnit XSD" || { fail "junit invalid"; cat "$T/why" >&2; }
x() { xmllint --xpath "$1" mixed.xml 2>/dev/null; }
[ "$(x 'string(/testsuites/@tests)')/$(x 'string(/testsuites/@failures)')/$(x 'string(/testsuites/@skipped)')/$(x 'string(/testsuites/@errors)')" = "5/1/1/0" ] \
  && ok "junit: 5 tests, 1 failure, 1 skipped, 0 errors" || fail "junit totals: $(head -2 mixed.xml | tail -1)"
[ "$(x 'count(//testsuite)')" = 2 ] && ok "junit: a testsuite per test file" || fail "junit suites"
[ "$(x 'string(//testsuite[@name="pack/tests/mixed.test.yaml"]/@tests)')/$(x 'string(//testsuite[@name="pack/tests/mixed.test.yaml"]/@failures)')" = "3/1" ] \
  && ok "junit: the suite's own counts" || fail "junit suite counts"
[ "$(x 'string(//testcase[failure]/@name)')" = "patient (line 8)" ] && ok "junit: the failing case is named" || fail "junit failing case: $(x 'string(//testcase[failure]/@name)')"
x 'string(//testcase[failure]/failure/@message)' | grep -q 'outcome allowed, expected denied' && ok "junit: failure message says what differed" || fail "junit failure message"
x 'string(//testcase[failure]/failure)' | grep -q '^pack/tests/mixed.test.yaml:8: patient: ' && ok "junit: failure text says where" || fail "junit failure text"
[ "$(x 'string(//testcase[skipped]/skipped/@message)')" = "waits for <the> exemption & override loader" ] && ok "junit: skipped, with its reason, escaped and back" || fail "junit skipped"
[ "$(x 'string(//testsuite[@name="pack/tests/mixed.test.yaml"]/properties/property[@name="title"]/@value)')" = "creation <F12> & 'friends' \"quoted\"" ] \
  && ok "junit: the title survives XML escaping" || fail "junit title: $(x 'string(//property/@value)')"
[ "$(x 'string(//testcase[1]/@classname)')" = "pack.tests.good" ] && ok "junit: classname from the file" || fail "junit classname: $(x 'string(//testcase[1]/@classname)')"
expect_rc 0 "junit: shipped tests with --require-all" -- "$CMKGUARD" rules test --format junit --require-all "$ROOT/rules/tests"
xmllint --noout --schema "$XSD" "$T/out" 2>/dev/null && ok "junit: shipped run validates" || fail "junit shipped run invalid"
[ "$(xmllint --xpath 'count(//testsuite[@name="rule hits"]/testcase)' "$T/out")" -ge 18 ] && ok "junit: --require-all adds a case per rule" || fail "junit rule hits"

# a broken test file: exit 2, an <error> in its suite
printf 'name: broken\nevents: []\nexpect:\n  - {event: x, outcom: allowed}\n' >pack/tests/zz-broken.test.yaml
expect_rc 2 "junit: a broken test file exits 2" -- "$CMKGUARD" rules test --format junit pack/tests
xmllint --noout --schema "$XSD" "$T/out" 2>/dev/null && ok "junit: still valid" || fail "junit with error invalid"
[ "$(xmllint --xpath 'string(/testsuites/@errors)' "$T/out")" = 1 ] && xmllint --xpath 'string(//testsuite[@name="pack/tests/zz-broken.test.yaml"]/testcase/error)' "$T/out" | grep -q "zz-broken.test.yaml:4:.*unknown field 'outcom'" \
  && ok "junit: the error is in the broken file's suite, with FILE:LINE:COL" || fail "junit error: $(grep -A2 zz-broken "$T/out")"
expect_rc 2 "json: a broken test file exits 2" -- "$CMKGUARD" rules test --format json pack/tests
jq -se 'map(select(.type=="error"))[0] | .file=="pack/tests/zz-broken.test.yaml" and .line==4 and (.message|test("outcom"))' "$T/out" >/dev/null \
  && ok "json: an error object for the broken file" || fail "json error: $(grep error "$T/out")"
rm pack/tests/zz-broken.test.yaml

# json
expect_rc 1 "json: a failing case exits 1" -- "$CMKGUARD" rules test --format json pack/tests
jq -c . "$T/out" >/dev/null 2>&1 && ok "json: every line parses" || fail "json: a line does not parse"
[ "$(grep -c '"type":"case"' "$T/out")" = 5 ] && ok "json: a line per case" || fail "json cases: $(cat "$T/out")"
jq -se 'map(select(.type=="case" and .status=="fail"))[0] | .name=="patient" and .line==8 and .file=="pack/tests/mixed.test.yaml" and (.detail|test("^outcome allowed, expected denied; rules \\[\\], expected \\[CMK-AT-CREATION\\]$"))' \
  "$T/out" >/dev/null && ok "json: the failing case" || fail "json failing case"
jq -se 'map(select(.type=="case" and .status=="skip"))[0] | .name=="patient" and .detail=="waits for <the> exemption & override loader"' \
  "$T/out" >/dev/null && ok "json: the skipped case" || fail "json skipped case"
jq -se 'last | .type=="summary" and .ok==false and .passed==3 and .failed==1 and .skipped==1 and .errors==0 and .hits["CMK-AT-CREATION"]==1' \
  "$T/out" >/dev/null && ok "json: summary last, with counts and rule hits" || fail "json summary: $(tail -1 "$T/out")"
expect_rc 0 "json: shipped tests" -- "$CMKGUARD" rules test --format json "$ROOT/rules/tests"
jq -se 'last | .ok==true and .failed==0 and .passed > 50' "$T/out" >/dev/null && ok "json: shipped tests all pass" || fail "json shipped: $(tail -1 "$T/out")"
[ -z "$(grep -v '^{' "$T/out")" ] && ok "json: nothing but JSON on stdout" || fail "json: text mixed in"

# usage
expect_rc 2 "an unknown format" -- "$CMKGUARD" rules test --format sarif pack/tests
expect_err "--format is one of text\|json\|junit, not 'sarif'" "the unknown format is named"
expect_rc 2 "--format without a value" -- "$CMKGUARD" rules test --format
expect_rc 0 "--require-all after --format" -- "$CMKGUARD" rules test --format json --require-all "$ROOT/rules/tests"
done_test
