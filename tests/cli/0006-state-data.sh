# State persists in SQLite; data sealed under a resource's DEK survives re-wraps
# byte for byte; a locked resource refuses access; Face shows two layers.
. "$(dirname "$0")/lib.sh"
cd "$T"
R=/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts
V=https://kv1.vault.azure.net
K=$V/keys/cmk1
n=0
ev() { n=$((n + 1)); printf '{"specversion":"1.0","id":"%s-%d","type":"%s","subject":"%s","time":"2026-11-02T10:00:%02dZ","data":%s}\n' "$RUN" $n "$1" "$2" $n "$3"; }
RUN=a
{
  cmk_estate
} >setup.jsonl
DB=state.db
expect_rc 0 "setup replay into a state file" -- "$CMKGUARD" replay --rules "$ROOT/rules" --state $DB setup.jsonl
[ -f $DB.mkey ] && [ "$(stat -c %a $DB.mkey)" = 600 ] && ok "master key created with mode 0600" || fail "master key file"
secret="the quick brown fox $(date +%s%N)"
printf '%s' "$secret" | "$CMKGUARD" data put --state $DB $R/cs || fail "data put"
printf '%s' "face-$secret" | "$CMKGUARD" data put --state $DB $R/face || fail "data put face"
printf 'blocked-words' | "$CMKGUARD" data put --state $DB $R/cs --class blocklist-name || fail "blocklist put"
[ "$("$CMKGUARD" data get --state $DB $R/cs)" = "$secret" ] && ok "data round-trips under MMK" || fail "data get under MMK"
"$CMKGUARD" data get --state $DB $R/cs --sealed >sealed.0
grep -q "quick brown" sealed.0 && fail "sealed bytes hold plaintext" || ok "sealed bytes are not plaintext"
# enable CMK (versionless) on cs, pinned on face; then rotate
RUN=b
{ ev resource.cmk.enabled $R/cs '{"key_uri":"'$K'"}'
  ev resource.cmk.enabled $R/face '{"key_uri":"'$K'/v1"}'; } >cmk.jsonl
expect_rc 0 "enable CMK" -- "$CMKGUARD" replay --rules "$ROOT/rules" --state $DB cmk.jsonl
jq -s -e 'any(.[]; .data.outcome=="allowed" and .data.actions[0].op=="rewrap" and .data.actions[0].from=="mmk")' "$T/out" >/dev/null && ok "CMK enable re-wraps from the MMK" || fail "no rewrap: $(cat "$T/out")"
"$CMKGUARD" data get --state $DB $R/cs --sealed >sealed.1
cmp -s sealed.0 sealed.1 && ok "sealed bytes unchanged by the CMK re-wrap" || fail "sealed bytes changed"
[ "$("$CMKGUARD" data get --state $DB $R/cs)" = "$secret" ] && ok "data reads back under CMK" || fail "data get under CMK"
RUN=c
ev key.rotated $K '{"version":"v2"}' >rot.jsonl
expect_rc 0 "rotate" -- "$CMKGUARD" replay --rules "$ROOT/rules" --state $DB rot.jsonl
jq -s -e --arg r "$R/cs" 'any(.[]; .subject==$r and .data.actions[0].op=="rewrap" and (.data.actions[0].to|endswith("/v2")))' "$T/out" >/dev/null && ok "rotation re-wraps the versionless resource to v2" || fail "rotation: $(jq -c "[.subject,.data.outcome,.data.actions]" "$T/out")"
"$CMKGUARD" data get --state $DB $R/cs --sealed >sealed.2
cmp -s sealed.0 sealed.2 && ok "sealed bytes unchanged by rotation (F7)" || fail "sealed bytes changed by rotation"
[ "$("$CMKGUARD" data get --state $DB $R/face)" = "face-$secret" ] && ok "Face data reads through both layers" || fail "face data"
"$CMKGUARD" state show --state $DB $R/face >face.json
jq -e '(.layers|length)==2 and .layers[0].key=="mmk" and (.layers[1].key|endswith("/keys/cmk1/v1"))' face.json >/dev/null && ok "Face on CMK shows two layers (F13)" || fail "face layers: $(cat face.json)"
# revoke: locked; data refused with exit 1; blocklist names still readable (F14)
RUN=d
ev vault.access.revoked $V '{"principal":"mi-cs"}' >revoke.jsonl
expect_rc 0 "revoke" -- "$CMKGUARD" replay --rules "$ROOT/rules" --state $DB revoke.jsonl
expect_rc 1 "locked resource refuses data access" -- "$CMKGUARD" data get --state $DB $R/cs
expect_err "locked: data access refused \\(access-missing:get,wrapKey,unwrapKey\\)" "refusal names the lock reasons"
[ "$("$CMKGUARD" data get --state $DB $R/cs --class blocklist-name)" = blocked-words ] && ok "blocklist names stay readable while locked" || fail "blocklist under lock"
"$CMKGUARD" state show --state $DB >all.json
jq -e --arg r "$R/cs" '.resources[]|select(.id==$r)|.locked and (.lock_reasons==["access-missing:get,wrapKey,unwrapKey"])' all.json >/dev/null && ok "state show reports the lock" || fail "state show"
RUN=e
ev vault.access.granted $V '{"principal":"mi-cs","permissions":["get","wrapKey","unwrapKey"]}' >grant.jsonl
"$CMKGUARD" replay --rules "$ROOT/rules" --state $DB grant.jsonl >/dev/null 2>&1
[ "$("$CMKGUARD" data get --state $DB $R/cs)" = "$secret" ] && ok "re-grant unlocks the data" || fail "unlock"
# a wrong master key decrypts nothing
cp $DB other.db; head -c 32 /dev/urandom >other.db.mkey; chmod 600 other.db.mkey
expect_rc 3 "a wrong master key is refused" -- "$CMKGUARD" data get --state other.db $R/cs
expect_err "not the service master key" "wrong master key named"
head -c 7 /dev/urandom >bad.db.mkey; cp $DB bad.db
expect_rc 3 "a malformed master key is refused" -- "$CMKGUARD" state show --state bad.db
expect_err "bad.db.mkey: not a service master key" "malformed master key named"
expect_rc 1 "unknown resource" -- "$CMKGUARD" data get --state $DB $R/nobody
expect_rc 2 "data without --state" -- "$CMKGUARD" data get $R/cs
done_test
