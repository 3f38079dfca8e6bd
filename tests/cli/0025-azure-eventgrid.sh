# Event Grid events from Key Vault, in both schemas, alone and as a batch: each derived
# event is decided and audited on its own, with data.derived_from naming the Azure event.
. "$(dirname "$0")/lib.sh"
cd "$T"
F=$ROOT/tests/fixtures/azure
expect_rc 0 "replay of Event Grid events exits 0" -- "$CMKGUARD" replay --rules "$ROOT/rules" "$F/eventgrid.jsonl"
cp "$T/out" out.jsonl
# the decision records (fan-out records repeat the cause)
jq -r 'select(.subject | startswith("https://")) // select(.data.derived_from == null) | [.data.cause, .data.event_type, .data.outcome] | join(" ")' out.jsonl | uniq >got
cat >want <<'W'
eg-setup-vault#1 vault.upserted allowed
eg-setup-vault#2 vault.access.granted allowed
eg-ce-1#1 key.created allowed
eg-key-body#1 key.created allowed
eg-b-1#1 key.rotated allowed
eg-b-2#1 key.expiring allowed
eg-b-3 Microsoft.KeyVault.VaultAccessPolicyChanged allowed
eg-b-4 Microsoft.KeyVault.SecretNewVersionCreated allowed
eg-b-1 Microsoft.KeyVault.KeyNewVersionCreated duplicate
eg-ce-2#1 key.expired allowed
W
diff want got >/dev/null && ok "vault and key decisions in order" || { fail "decisions differ"; diff want got >&2; }
# Key Vault's expiry notices carry the instant: key.expiring records it on the version
jq -se 'map(select(.data.cause == "eg-b-2#1")) | length == 1 and .[0].data.derived_from.type == "Microsoft.KeyVault.KeyNearExpiry"' out.jsonl >/dev/null \
  && ok "KeyNearExpiry derives key.expiring" || fail "no key.expiring from KeyNearExpiry"
line() { jq -c "select(.data.cause==\"$1\") | $2" out.jsonl | head -1; }
[ "$(line eg-ce-1#1 .data.derived_from)" = '{"id":"eg-ce-1","type":"Microsoft.KeyVault.KeyNewVersionCreated"}' ] \
  && ok "derived_from names the Azure event" || fail "derived_from: $(line eg-ce-1#1 .data.derived_from)"
[ "$(line eg-ce-1#1 .time)" = '"2026-11-24T08:01:00.1234567Z"' ] && ok "a derived event keeps the Azure time" || fail "time: $(line eg-ce-1#1 .time)"
[ "$(line eg-b-3 '.data | has("derived_from")')" = false ] && ok "an event that derives nothing has no derived_from" || fail "derived_from on eg-b-3"
[ "$(line eg-b-3 '.data.actions | length')" = 0 ] && ok "and no actions" || fail "actions on eg-b-3"
# a key announced by Event Grid has no type or size: the binding fails closed
[ "$(line eg-acct#3 '[.data.outcome, ([.data.findings[] | .rule + "=" + .result] | join(","))] | join(" ")')" = '"denied CMK-KEY-TYPE=unknown,CMK-KEY-SIZE=unknown"' ] \
  && ok "unknown key type and size: CMK-KEY-TYPE and CMK-KEY-SIZE unknown, denied" || fail "eg-acct#3: $(line eg-acct#3 .data)"
[ "$(line eg-acct-again#1 .data.outcome)" = '"allowed"' ] && ok "once a body states them, the binding goes through" || fail "eg-acct-again"
# a rotation derived from Event Grid re-wraps the versionless binding
jq -se '[.[] | select(.data.cause=="eg-b-1#1" and (.subject|startswith("/subscriptions")))][0].data.actions[0].op=="rewrap"' out.jsonl >/dev/null \
  && ok "the derived rotation re-wraps the bound resource" || fail "no rewrap for eg-b-1#1"
# replay is deterministic
"$CMKGUARD" replay --rules "$ROOT/rules" "$F/eventgrid.jsonl" >again.jsonl 2>/dev/null
cmp -s out.jsonl again.jsonl && ok "same events, same bytes" || fail "replay not deterministic"
# the chain verifies, derived records and all
"$CMKGUARD" audit keygen --out k >/dev/null 2>&1
"$CMKGUARD" replay --rules "$ROOT/rules" --sign-key k.key "$F/eventgrid.jsonl" >signed.jsonl 2>/dev/null
expect_rc 0 "signed records verify" -- "$CMKGUARD" audit verify --pubkey k.pub signed.jsonl
done_test
