# A compliance author's day, as README walks it: a rule with its mapping, checked against
# the schema and loaded with the pack; its test in JUnit; an exemption; the day decided,
# reported (read back from a real browser) and exported.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/browser.sh"
cd "$ROOT"
D=examples/compliance-day
"$CMKGUARD" rules schema >"$T/schema.json"
/usr/bin/python3 scripts/schema-check.py "$T/schema.json" $D/acme.yaml $D/acme.test.yaml $D/exemptions.yaml \
  >"$T/schema.out" 2>&1 && ok "the day's files validate against rules schema" || fail "schema: $(cat "$T/schema.out")"
expect_rc 0 "rules check: the rule loads with the pack" -- "$CMKGUARD" rules check rules $D/acme.yaml
expect_rc 0 "rules check: and the exemption against them" -- \
  "$CMKGUARD" rules check rules $D/acme.yaml --exemptions $D/exemptions.yaml
jq -e '.exemptions == 1' "$T/out" >/dev/null && ok "one exemption" || fail "check said $(cat "$T/out")"
# the test, in JUnit
expect_rc 0 "rules test --format junit passes" -- "$CMKGUARD" rules test --format junit $D/acme.test.yaml
cp "$T/out" "$T/junit.xml"
xmllint --noout --schema tests/fixtures/junit.xsd "$T/junit.xml" 2>"$T/xmllint.err" \
  && ok "the JUnit report is valid" || fail "JUnit: $(cat "$T/xmllint.err")"
grep -q '<testsuites [^>]*tests="3" failures="0"' "$T/junit.xml" && ok "3 cases, none failed" \
  || fail "JUnit counts: $(head -3 "$T/junit.xml")"
# the day: replayed with the pack, ACME's rule and the exemption
"$CMKGUARD" audit keygen --out "$T/acme" >/dev/null
cat $D/estate.jsonl $D/day.jsonl | "$CMKGUARD" replay --rules rules --rules $D/acme.yaml \
  --exemptions $D/exemptions.yaml --sign-key "$T/acme.key" --out "$T/acme.audit" - 2>"$T/replay.err" \
  && ok "the day replays" || fail "replay: $(cat "$T/replay.err")"
jq -s -e '[.[].data.findings[]?] | length == 2
  and any(.rule == "ACME-KEY-HSM" and .result == "match" and (.resource // "" | test("cs-prod$") | not)
          and .compliance == [{"control": "CRYPTO-7", "standard": "ACME security policy 2026"}]
          and .tags == ["acme", "hsm"])
  and any(.result == "exempted" and .exemption == "EX-ACME-DEV-HSM")' "$T/acme.audit" >/dev/null \
  && ok "one finding with ACME's mapping, one held back by EX-ACME-DEV-HSM" \
  || fail "findings: $(jq -c '.data.findings[]?' "$T/acme.audit")"
jq -r 'select(.data.findings[]?.result == "exempted") | .subject' "$T/acme.audit" | grep -q '/accounts/cs-dev$' \
  && ok "the exempted finding is cs-dev's" || fail "the exemption held back the wrong resource"
# the report, with the exemption files for their expiry, read back from the browser
expect_rc 0 "report" -- "$CMKGUARD" report --pubkey "$T/acme.pub" --rules rules --rules $D/acme.yaml \
  --exemptions $D/exemptions.yaml --as-of 2026-12-01T00:00:00Z --out "$T/acme.html" "$T/acme.audit"
browser_dom "$T/acme.html" >"$T/acme.dom" && dom_json <"$T/acme.dom" >"$T/acme.json" \
  && ok "chromium rendered the report" || fail "chromium rendered nothing"
jq -e '.first.text | startswith("Verified: 12 records in 1 chain")' "$T/acme.json" >/dev/null \
  && ok "first line: verified" || fail "first line: $(jq -c .first "$T/acme.json")"
jq -e '[.els[].attrs] | (map(select(."data-count-findings")) | .[0]."data-count-findings") == "2"
  and (map(select(."data-count-result-exempted")) | .[0]."data-count-result-exempted") == "1"
  and (map(select(."data-exemptions-expiring")) | .[0]."data-exemptions-expiring") == "1"
  and any(."data-exemption-file" == "EX-ACME-DEV-HSM" and ."data-expiry" == "within 30 days"
          and ."data-held" == "1")' "$T/acme.json" >/dev/null \
  && ok "the page counts 2 findings, 1 exempted, and EX-ACME-DEV-HSM expiring within 30 days (1 held back)" \
  || fail "report DOM: $(jq -c '[.els[].attrs | select(has("data-exemption-file") or has("data-count-findings"))]' "$T/acme.json")"
grep -q 'ACME security policy 2026 CRYPTO-7' "$T/acme.dom" && ok "the rule's control is on the page" \
  || fail "the page lacks the rule's control"
# an exemption file that names an unknown rule is refused, as rules check refuses it
sed 's/ACME-KEY-HSM/ACME-NO-SUCH/' $D/exemptions.yaml >"$T/bad.yaml"
expect_rc 2 "report: an exemption naming an unknown rule is refused" -- "$CMKGUARD" report --pubkey "$T/acme.pub" \
  --rules rules --rules $D/acme.yaml --exemptions "$T/bad.yaml" --out "$T/x.html" "$T/acme.audit"
expect_err "bad.yaml:[0-9]+:[0-9]+: .*ACME-NO-SUCH" "the error names the file, line and rule"
expect_rc 2 "report: --exemptions without --rules is a usage error" -- "$CMKGUARD" report --pubkey "$T/acme.pub" \
  --exemptions $D/exemptions.yaml --out "$T/x.html" "$T/acme.audit"
# and for the SIEM
"$CMKGUARD" audit export --format ocsf --pubkey "$T/acme.pub" "$T/acme.audit" >"$T/ocsf.jsonl"
jq -s -e 'length == 2 and any(.status_id == 3 and .compliance.status_id == 3)
  and all(.compliance.requirements | index("ACME security policy 2026 CRYPTO-7"))' "$T/ocsf.jsonl" >/dev/null \
  && ok "OCSF: two Compliance Findings, the exempted one suppressed, both mapped to CRYPTO-7" \
  || fail "OCSF: $(jq -c '{status_id, c: .compliance}' "$T/ocsf.jsonl")"
done_test
