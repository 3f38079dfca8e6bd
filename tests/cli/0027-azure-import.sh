# cmkguard import: ARM bodies -> cmkguard events; import | replay bootstraps an estate,
# and a Resource Notification stream of the same facts then derives nothing new.
. "$(dirname "$0")/lib.sh"
cd "$T"
E=$ROOT/tests/fixtures/azure/estate
expect_rc 0 "import of the estate exits 0" -- "$CMKGUARD" import "$E/vaults.json" "$E/key-arm.json" "$E/key-dataplane.json" "$E/roles.json" "$E/graph.json"
cp "$T/out" events.jsonl
jq -r .type events.jsonl | uniq -c | awk '{print $2, $1}' >got
cat >want <<'W'
vault.upserted 2
key.created 2
vault.access.granted 3
Microsoft.ResourceNotifications.Resources.CreatedOrUpdated 3
resource.created 4
resource.identity.enabled 3
resource.cmk.enabled 3
W
diff want got >/dev/null && ok "vaults, keys, access (and the Azure facts behind it), resources, identities, CMK bindings, in that order" || { fail "order"; diff want got >&2; }
jq -e -s 'all(.[]; .source == "cmkguard/import" and (.id | test("^import:[0-9a-f]{32}$")) and .time == "2026-11-01T08:00:00Z")' events.jsonl >/dev/null \
  && ok "source, ids from the bodies, time: the latest the bodies state" || fail "envelope: $(head -1 events.jsonl)"
jq -e -s '[.[] | select(.subject == "https://kv-rbac.vault.azure.net/keys/k-rbac")][0].data | .size == 2048 and .kty == "RSA-HSM" and .exp == "2027-10-02T08:00:00+00:00"' events.jsonl >/dev/null \
  && ok "a data-plane key: size from its modulus, exp from expires" || fail "data-plane key"
jq -e -s '[.[] | select(.type == "vault.access.granted" and .subject == "https://kv-rbac.vault.azure.net")] | length == 1' events.jsonl >/dev/null \
  && ok "a role assignment grants on the RBAC vault it covers" || fail "rbac grant"
jq -e -s '[.[] | select(.type == "resource.identity.enabled" and (.subject | endswith("cs-safety")))][0].data.principal == "aaaaaaaa-0000-0000-0000-000000000099"' events.jsonl >/dev/null \
  && ok "identityClientId picks the user-assigned identity" || fail "user-assigned identity"
# the same input, the same bytes, in any order of files; --time sets the time
"$CMKGUARD" import "$E/graph.json" "$E/roles.json" "$E/key-dataplane.json" "$E/key-arm.json" "$E/vaults.json" >again.jsonl
cmp -s events.jsonl again.jsonl && ok "deterministic, whatever the order of the files" || fail "import not deterministic"
"$CMKGUARD" import --time 2026-12-01T00:00:00Z "$E"/*.json | jq -e -s 'all(.[]; .time == "2026-12-01T00:00:00Z")' >/dev/null \
  && ok "--time sets every event's time" || fail "--time"
cat "$E/vaults.json" | "$CMKGUARD" import - | jq -e -s 'length == 6' >/dev/null && ok "reads stdin" || fail "stdin"
# bootstrap, then the notification stream of the same facts: nothing new
"$CMKGUARD" import "$E"/*.json | "$CMKGUARD" replay --rules "$ROOT/rules" --state st.db - >boot.jsonl 2>boot.err
jq -e -s 'length == 20 and all(.[]; .data.outcome == "allowed")' boot.jsonl >/dev/null && ok "import | replay bootstraps the estate" || fail "bootstrap: $(jq -c '[.data.cause,.data.outcome,.data.reason]' boot.jsonl | grep -v allowed | head -3)"
jq -e -s '[.[] | select(.data.event_type == "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated")] | length == 3 and all(.[]; .data.actions == [] and (.data | has("derived_from") | not))' boot.jsonl >/dev/null \
  && ok "the facts of vaults and role assignments are observed, deriving nothing the events did not" || fail "fact lines"
"$CMKGUARD" replay --rules "$ROOT/rules" --state st.db "$ROOT/tests/fixtures/azure/rn-known.jsonl" >known.jsonl 2>/dev/null
jq -e -s 'length == 9 and all(.[]; .data.outcome == "allowed" and (.data | has("derived_from") | not) and (.data.actions == []))' known.jsonl >/dev/null \
  && ok "a notification stream of known facts derives nothing" || fail "re-derived: $(jq -c '[.data.cause,.data.event_type]' known.jsonl | head -5)"
"$CMKGUARD" import "$E"/*.json | "$CMKGUARD" replay --state st.db - | jq -e -s 'all(.[]; .data.outcome == "duplicate")' >/dev/null \
  && ok "importing again: duplicates, nothing applied twice" || fail "second import"
# a body cmkguard cannot import: exit 2, the file and the body named, nothing written
echo '[{"id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/x","type":"Microsoft.Storage/storageAccounts"}]' >bad.json
expect_rc 2 "an unknown body type exits 2" -- "$CMKGUARD" import "$E/vaults.json" bad.json
expect_err "bad.json: body 1: type 'Microsoft.Storage/storageAccounts' is not a resource cmkguard imports" "the file and the body named"
[ ! -s "$T/out" ] && ok "nothing partial written" || fail "partial output"
echo '{"id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v","type":"Microsoft.KeyVault/vaults","location":"westus","properties":{"tenantId":"t","enableSoftDelete":"on"}}' >bad2.json
expect_rc 2 "a wrong-typed property exits 2" -- "$CMKGUARD" import bad2.json
expect_err "bad2.json: properties.enableSoftDelete: expected a boolean" "the field named"
expect_rc 2 "a bad --time exits 2" -- "$CMKGUARD" import --time yesterday "$E/vaults.json"
done_test
