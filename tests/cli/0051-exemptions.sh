# Exemptions (SPEC §4a) through replay: a finding held back is "exempted", names its
# exemption and does not act; from expires on the rule acts again, and a lockout held
# back locks at the next event that evaluates the resource. rules_hash covers them.
. "$(dirname "$0")/lib.sh"
cd "$T"
R=/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts
ev() { # id type subject time data
  printf '{"specversion":"1.0","id":"%s","type":"%s","subject":"%s","time":"%s","data":%s}\n' "$@"
}
vault='{"tenant":"t1","region":"northeurope","subscription":"s-sec","soft_delete":true,"purge_protection":true,"retention_days":90}'
{ cat "$ROOT/rules/tests/setup.jsonl"
  ev kv2 vault.upserted https://kv2.vault.azure.net 2026-11-02T10:00:00Z "$vault"
  ev kv2-key key.created https://kv2.vault.azure.net/keys/k2 2026-11-02T10:00:01Z '{"version":"v1","kty":"RSA","size":2048}'
  ev kv2-cs2 vault.access.granted https://kv2.vault.azure.net 2026-11-02T10:00:02Z '{"principal":"mi-cs2","permissions":["get","wrapKey","unwrapKey"]}'
  ev held resource.cmk.enabled "$R/cs2" 2026-11-02T10:00:03Z '{"key_uri":"https://kv2.vault.azure.net/keys/k2"}'
  ev kv1-moved vault.upserted https://kv1.vault.azure.net 2026-11-03T10:00:00Z "$vault"
  ev cs1-before resource.moved "$R/cs1" 2026-11-09T23:59:59Z '{"tenant":"t1","subscription":"s1"}'
  ev cs1-after resource.identity.enabled "$R/cs1" 2026-11-10T00:00:00Z '{"principal":"mi-cs1","tenant":"t1"}'
  ev expired resource.key.updated "$R/cs2" 2026-12-01T00:00:00Z '{"key_uri":"https://kv2.vault.azure.net/keys/k2/v1"}'
} >events.jsonl
mkdir rules ex
cp "$ROOT/rules/cmk.yaml" "$ROOT/rules/tests/fixtures/region-lock.yaml" rules/
cat >ex/region.yaml <<YAML
exemptions:
  - id: EX-2026-014
    rules: [CMK-REGION]
    resources: ["/SUBSCRIPTIONS/s1/resourcegroups/RG/providers/*/accounts/cs?"]
    category: waiver
    expires: 2026-12-01T00:00:00Z
    reason: data residency approved by the privacy office
    ticket: SEC-1234
YAML
cat >ex/lock.yaml <<YAML
exemptions:
  - id: EX-LOCK
    rules: [T-REGION-LOCK]
    resources: ["$R/cs1"]
    category: mitigated
    expires: 2026-11-10T00:00:00Z
    reason: the vault is being moved back
YAML
expect_rc 0 "replay with two exemption files" -- "$CMKGUARD" replay --rules rules --exemptions ex/lock.yaml --exemptions ex/region.yaml events.jsonl
cp "$T/out" a.jsonl
rec() { jq -c --arg c "$1" --arg s "${2:-}" 'select(.data.cause == $c and ($s == "" or .subject == $s))' a.jsonl; }
rec held | jq -e '.data.outcome == "allowed" and .data.state.key_source == "cmk" and (.data.findings | length == 1) and
    (.data.findings[0] | .rule == "CMK-REGION" and .result == "exempted" and .exemption == "EX-2026-014" and .action == "deny"
     and .compliance == [{"control":"DP-5","standard":"MCSB v1"}] and (.tags | index("placement")))' >/dev/null \
  && ok "an exempted deny lets the change through, says exempted and names the exemption" || fail "held: $(rec held)"
rec kv1-moved "$R/cs1" | jq -e '.data.findings[0] | .rule == "T-REGION-LOCK" and .result == "exempted" and .exemption == "EX-LOCK"' >/dev/null \
  && ok "an exempted lockout is reported as exempted" || fail "kv1-moved cs1: $(rec kv1-moved "$R/cs1")"
rec kv1-moved "$R/cs1" | jq -e '.data.state.locked == false' >/dev/null && ok "and does not lock" || fail "cs1 locked while exempted"
rec kv1-moved "$R/face1" | jq -e '.data.state.locked == true and .data.findings[0].result == "match" and (.data.findings[0] | has("exemption") | not)' >/dev/null \
  && ok "the same lockout locks a resource the exemption does not match" || fail "face1: $(rec kv1-moved "$R/face1")"
rec cs1-before | jq -e '.data.state.locked == false and .data.findings == []' >/dev/null \
  && ok "before expires the held-back lockout stays held back" || fail "cs1-before: $(rec cs1-before)"
rec cs1-after | jq -e '.data.state.locked == true and (.data.actions | map(.op) | index("lockout")) and
    .data.state.lock_reasons == ["rule:T-REGION-LOCK"] and .data.findings[0].rule == "T-REGION-LOCK" and .data.findings[0].result == "match"' >/dev/null \
  && ok "from expires on, the next event evaluating the resource locks it" || fail "cs1-after: $(rec cs1-after)"
rec expired | jq -e '.data.outcome == "denied" and .data.findings[0].rule == "CMK-REGION" and .data.findings[0].result == "match"' >/dev/null \
  && ok "from expires on, the deny denies again" || fail "expired: $(rec expired)"
# without the exemptions: denied and locked as the rules say
expect_rc 0 "replay without exemptions" -- "$CMKGUARD" replay --rules rules events.jsonl
cp "$T/out" b.jsonl
jq -e -s '(map(select(.data.cause == "held"))[0].data.outcome == "denied") and
    (map(select(.data.cause == "kv1-moved" and .subject == "'"$R/cs1"'"))[0].data.state.locked == true)' b.jsonl >/dev/null \
  && ok "without exemptions the same events are denied and locked" || fail "without exemptions"
# a folder of exemption files loads like --rules PATH
expect_rc 0 "--exemptions takes a folder" -- "$CMKGUARD" replay --rules rules --exemptions ex events.jsonl
cmp -s "$T/out" a.jsonl && ok "a folder gives the same records as its files in name order" || fail "folder and files differ"
# rules_hash covers the exemption files
h0=$(jq -r -s '.[0].data.rules_hash' b.jsonl); h1=$(jq -r -s '.[0].data.rules_hash' a.jsonl)
[ "$h0" != "$h1" ] && ok "exemptions change rules_hash" || fail "same rules_hash with and without exemptions"
[ "$(jq -r -s 'map(.data.rules_hash) | unique | length' a.jsonl)" = 1 ] && ok "one rules_hash on every record" || fail "several rules_hash values"
"$CMKGUARD" rules check rules >chk0.json && [ "$(jq -r .rules_hash chk0.json)" = "$h0" ] \
  && ok "without exemptions rules_hash is the rule files' hash" || fail "rules check hash $(cat chk0.json) vs $h0"
"$CMKGUARD" rules check rules --exemptions ex >chk1.json && jq -e --arg h "$h1" '.rules_hash == $h and .exemptions == 2' chk1.json >/dev/null \
  && ok "rules check --exemptions reports the same hash and the count" || fail "rules check --exemptions: $(cat chk1.json)"
sed -i 's/privacy office/privacy office (renewed)/' ex/region.yaml
"$CMKGUARD" rules check rules --exemptions ex >chk2.json
[ "$(jq -r .rules_hash chk2.json)" != "$h1" ] && ok "an edited exemption file changes rules_hash" || fail "rules_hash unchanged after an edit"
expect_rc 2 "--exemptions without --rules is bad usage" -- "$CMKGUARD" replay --exemptions ex events.jsonl
# the run config takes exemptions: a broken one stops run before it connects, exit 2
printf 'exemptions:\n  - id: EX-1\n    rules: [NOPE]\n' >bad.yaml
printf 'kafka: {bootstrap.servers: 127.0.0.1:1, group.id: g}\nrules: [rules]\nexemptions: [bad.yaml]\nstate: s.db\n' >run.yaml
expect_rc 2 "run with a broken exemption file exits 2" -- "$CMKGUARD" run --config run.yaml
expect_err "bad.yaml:3:13: unknown rule id 'NOPE'" "and names where"
done_test
