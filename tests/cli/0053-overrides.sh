# Overrides (SPEC §4a) in a rule file loaded after the shipped pack: disable a rule,
# weaken deny or lockout to alert, give a new severity. Strengthening, unknown rule ids
# and anything else are refused with FILE:LINE:COL and exit 2.
. "$(dirname "$0")/lib.sh"
cd "$T"
R=/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts
ev() { printf '{"specversion":"1.0","id":"%s","type":"%s","subject":"%s","time":"%s","data":%s}\n' "$@"; }
{ cat "$ROOT/rules/tests/setup.jsonl"
  ev kv2 vault.upserted https://kv2.vault.azure.net 2026-11-02T10:00:00Z '{"tenant":"t1","region":"northeurope","subscription":"s","soft_delete":true,"purge_protection":true,"retention_days":90}'
  ev kv2-big key.created https://kv2.vault.azure.net/keys/big 2026-11-02T10:00:01Z '{"version":"v1","kty":"RSA","size":4096}'
  ev kv2-cs2 vault.access.granted https://kv2.vault.azure.net 2026-11-02T10:00:02Z '{"principal":"mi-cs2","permissions":["get","wrapKey","unwrapKey"]}'
  ev kv3 vault.upserted https://kv3.vault.azure.net 2026-11-02T10:00:03Z '{"tenant":"t9","region":"westeurope","subscription":"s","soft_delete":true,"purge_protection":true,"retention_days":90}'
  ev kv3-key key.created https://kv3.vault.azure.net/keys/k3 2026-11-02T10:00:04Z '{"version":"v1","kty":"RSA","size":2048}'
  ev kv3-cs2 vault.access.granted https://kv3.vault.azure.net 2026-11-02T10:00:05Z '{"principal":"mi-cs2","permissions":["get","wrapKey","unwrapKey"]}'
  ev region resource.cmk.enabled "$R/cs2" 2026-11-02T10:00:06Z '{"key_uri":"https://kv2.vault.azure.net/keys/big"}'
  ev tenant resource.key.updated "$R/cs2" 2026-11-02T10:00:07Z '{"key_uri":"https://kv3.vault.azure.net/keys/k3"}'
  ev away resource.moved "$R/cs1" 2026-11-02T10:00:08Z '{"tenant":"t2","subscription":"s2"}'
} >events.jsonl
mkdir rules && cp "$ROOT/rules/cmk.yaml" rules/
cat >rules/zz-local.yaml <<'YAML'
overrides:
  - {rule: CMK-REGION, action: alert}
  - {rule: CMK-KEY-SIZE, enabled: false}
  - {rule: CMK-TENANT, severity: low}
  - {rule: CMK-CROSS-TENANT-MOVE, action: alert, severity: medium}
YAML
expect_rc 0 "replay with overrides" -- "$CMKGUARD" replay --rules rules events.jsonl
cp "$T/out" a.jsonl
rec() { jq -c --arg c "$1" 'select(.data.cause == $c)' a.jsonl; }
rec region | jq -e '.data.outcome == "allowed" and (.data.findings | map(.rule)) == ["CMK-REGION"] and .data.findings[0].action == "alert"' >/dev/null \
  && ok "a deny weakened to alert lets the change through and says alert" || fail "region: $(rec region)"
rec region | jq -e '.data.findings | map(.rule) | index("CMK-KEY-SIZE") | not' >/dev/null \
  && ok "a disabled rule yields no finding (a 4096-bit key)" || fail "CMK-KEY-SIZE still fires"
rec tenant | jq -e '.data.outcome == "denied" and (.data.findings[] | select(.rule == "CMK-TENANT") | .severity == "low" and .action == "deny")' >/dev/null \
  && ok "a new severity, the action kept" || fail "tenant: $(rec tenant)"
rec away | jq -e '(.data.findings[] | select(.rule == "CMK-CROSS-TENANT-MOVE") | .action == "alert" and .severity == "medium")
    and (.data.state.lock_reasons | index("rule:CMK-CROSS-TENANT-MOVE") | not)' >/dev/null \
  && ok "a lockout weakened to alert holds no lock of its own" || fail "away: $(rec away)"
"$CMKGUARD" rules check rules >chk.json && jq -e '.rules == 17' chk.json >/dev/null && ok "the disabled rule is left out of the count" || fail "rules check: $(cat chk.json)"
[ "$(jq -r .rules_hash chk.json)" != "$("$CMKGUARD" rules check "$ROOT/rules" | jq -r .rules_hash)" ] \
  && ok "overrides change rules_hash" || fail "same rules_hash with overrides"
# errors
bad() { # name, override line, pattern, description
  mkdir "$1" && cp "$ROOT/rules/cmk.yaml" "$1/"
  printf 'overrides:\n  - %s\n' "$2" >"$1/zz.yaml"
  expect_rc 2 "$4 exits 2" -- "$CMKGUARD" replay --rules "$1" events.jsonl
  expect_err "^cmkguard: $1/zz.yaml:$3" "$4 names where"
}
bad up1 '{rule: CMK-IDENTITY-DISABLED, action: deny}' "2:43: an override may only weaken an action to alert, not make it deny" "alert strengthened to deny"
bad up2 '{rule: CMK-REGION, action: lockout}' "2:32: an override may only weaken an action to alert, not make it lockout" "deny turned to lockout"
bad same '{rule: KEY-NEAR-EXPIRY, action: alert}' "2:37: rule KEY-NEAR-EXPIRY is already alert" "alert to alert"
bad act '{rule: CMK-REGION, action: ignore}' "2:32: action 'ignore' is not deny, alert or lockout" "unknown action"
bad unknown '{rule: CMK-NOPE, enabled: false}' "2:12: override of unknown rule 'CMK-NOPE'" "unknown rule id"
bad enable '{rule: CMK-REGION, enabled: true}' "2:33: an override can only disable a rule" "enabled: true"
bad nothing '{rule: CMK-REGION}' "2:5: override of CMK-REGION changes nothing" "an override that changes nothing"
bad sev '{rule: CMK-REGION, severity: urgent}' "2:34: severity 'urgent' is not low, medium, high or critical" "bad severity"
bad field '{rule: CMK-REGION, colour: red}' "2:24: unknown field 'colour' in an override" "unknown field"
# an override applies to rules loaded before it: a rule of a later file is unknown to it
mkdir order && cp "$ROOT/rules/cmk.yaml" order/b.yaml
printf 'overrides:\n  - {rule: CMK-REGION, action: alert}\n' >order/a.yaml
expect_rc 2 "an override before its rule exits 2" -- "$CMKGUARD" rules check order
expect_err "^cmkguard: order/a.yaml:2:12: override of unknown rule 'CMK-REGION' \\(an override applies to a rule loaded before it" "and says why"
printf 'overrides: {rule: CMK-REGION}\n' >notlist.yaml
expect_rc 2 "overrides that are no list exit 2" -- "$CMKGUARD" rules check "$ROOT/rules" notlist.yaml
expect_err "^cmkguard: notlist.yaml:1:12: overrides must be a list" "and name where"
# an override of a rule that is already disabled is accepted and changes nothing
printf 'overrides:\n  - {rule: CMK-KEY-SIZE, enabled: false}\n  - {rule: CMK-KEY-SIZE, severity: low}\n' >twice.yaml
expect_rc 0 "overriding a disabled rule is accepted" -- "$CMKGUARD" rules check "$ROOT/rules" twice.yaml
done_test
