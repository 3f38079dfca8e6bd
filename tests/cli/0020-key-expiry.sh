# Key validity (SPEC §3): a key version outside its nbf/exp wraps nothing, but still
# unwraps — data stays readable and nothing locks by expiry alone. With the shipped
# pack, KEY-NEAR-EXPIRY alerts on Key Vault's notice and CMK-KEY-EXPIRED denies a
# binding to an expired version.
. "$(dirname "$0")/lib.sh"
cd "$T"
R=/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts
V=https://kvx.vault.azure.net
K=$V/keys/cmk
n=0
# ev TYPE SUBJECT TIME DATA
ev() { n=$((n + 1)); printf '{"specversion":"1.0","id":"x-%d","type":"%s","subject":"%s","time":"%s","data":%s}\n' $n "$1" "$2" "$3" "$4"; }
replay() { "$CMKGUARD" replay --rules "$ROOT/rules" --state s.db "$@"; }
rec() { jq -c --arg c "$1" --arg s "$2" 'select(.data.cause==$c and .subject==$s)' "$T/out"; }
{
  ev vault.upserted $V 2026-11-01T09:00:00Z '{"tenant":"t1","region":"westeurope","subscription":"s","soft_delete":true,"purge_protection":true}'
  ev key.created $K 2026-11-01T09:00:01Z '{"version":"v1","kty":"RSA","size":2048,"nbf":"2026-11-01T00:00:00Z","exp":"2026-12-01T00:00:00Z"}'
  for r in cs cs2; do
    ev resource.created $R/$r 2026-11-01T09:00:02Z '{"kind":"ContentSafety","tenant":"t1","region":"westeurope","subscription":"s1"}'
    ev resource.identity.enabled $R/$r 2026-11-01T09:00:03Z '{"principal":"mi-'$r'","tenant":"t1"}'
    ev vault.access.granted $V 2026-11-01T09:00:04Z '{"principal":"mi-'$r'","permissions":["get","wrapKey","unwrapKey"]}'
  done
} >setup.jsonl
expect_rc 0 "setup" -- replay setup.jsonl
secret="kept under an expiring key $(date +%s%N)"
printf '%s' "$secret" | "$CMKGUARD" data put --state s.db $R/cs || fail "data put"
"$CMKGUARD" state show --state s.db >show.json
jq -e '.keys[0].versions[0] | .nbf=="2026-11-01T00:00:00Z" and .exp=="2026-12-01T00:00:00Z"' show.json >/dev/null \
  && ok "state show spells the version's nbf and exp" || fail "state show: $(jq -c .keys show.json)"

# 1. bound before its exp: allowed, re-wrapped under v1
ev resource.cmk.enabled $R/cs 2026-11-02T10:00:00Z '{"key_uri":"'$K'"}' >bind.jsonl
expect_rc 0 "bind before exp" -- replay bind.jsonl
rec x-$n $R/cs | jq -e '.data.outcome=="allowed" and .data.actions[0].op=="rewrap" and (.data.actions[0].to|endswith("/keys/cmk/v1"))' >/dev/null \
  && ok "binding before exp is allowed and re-wraps under v1" || fail "bind: $(cat "$T/out")"
"$CMKGUARD" data get --state s.db $R/cs --sealed >sealed.0

# 2. a rotation onto a version that has already expired: failed, nothing changes
ev key.rotated $K 2026-11-05T00:00:00Z '{"version":"v2","exp":"2026-11-04T00:00:00Z"}' >rot.jsonl
expect_rc 0 "replay the rotation" -- replay rot.jsonl
rec x-$n $K | jq -e '.data.outcome=="failed" and (.data.reason|test("key version v2 expired at 2026-11-04T00:00:00Z"))
  and any(.data.actions[]; .op=="rewrap" and .status=="failed" and (.error|test("cannot wrap under .*/v2")))' >/dev/null \
  && ok "a rotation onto an expired version fails with the re-wrap's error" || fail "rotation: $(cat "$T/out")"
"$CMKGUARD" state show --state s.db >show.json
jq -e --arg r $R/cs '(.keys[0].versions|map(.version))==["v1"] and (.resources[]|select(.id==$r)|.wrapped_under|endswith("/v1"))' show.json >/dev/null \
  && ok "the failed rotation left the key and the resource as they were" || fail "state after rotation: $(jq -c . show.json)"
"$CMKGUARD" data get --state s.db $R/cs --sealed >sealed.1
cmp -s sealed.0 sealed.1 && ok "sealed bytes unchanged" || fail "sealed bytes changed"
[ "$("$CMKGUARD" data get --state s.db $R/cs)" = "$secret" ] && ok "data still readable after the failed rotation" || fail "data get after rotation"

# 3. Key Vault's near-expiry notice: KEY-NEAR-EXPIRY, the key protects cs
ev key.expiring $K 2026-11-24T00:00:00Z '{"version":"v1","exp":"2026-12-01T00:00:00Z"}' >near.jsonl
expect_rc 0 "replay the near-expiry notice" -- replay near.jsonl
rec x-$n $K | jq -e '.data.outcome=="allowed" and ([.data.findings[].rule]==["KEY-NEAR-EXPIRY"])
  and (.data.findings[0].message|test("protects 1 resource.*v1 expires at 2026-12-01T00:00:00Z"))' >/dev/null \
  && ok "key.expiring fires KEY-NEAR-EXPIRY for a key in use" || fail "near expiry: $(cat "$T/out")"

# 4. expired: Key Vault's notice locks nothing; a binding after exp is denied
{ ev key.expired $K 2026-12-01T00:00:00Z '{"version":"v1"}'
  ev resource.cmk.enabled $R/cs2 2026-12-01T00:00:01Z '{"key_uri":"'$K'"}'
  ev resource.key.updated $R/cs 2026-12-01T00:00:02Z '{"key_uri":"'$K'/v1"}'; } >late.jsonl
expect_rc 0 "replay after expiry" -- replay late.jsonl
rec x-$((n - 2)) $K | jq -e '.data.outcome=="allowed" and .data.findings==[]' >/dev/null && ok "key.expired is allowed" || fail "expired: $(cat "$T/out")"
[ -z "$(jq -c --arg c x-$((n - 2)) 'select(.data.cause==$c and (.data.actions|length)>0)' "$T/out")" ] \
  && ok "key.expired locks nothing" || fail "key.expired acted: $(cat "$T/out")"
for c in x-$((n - 1)) x-$n; do
  jq -c --arg c $c 'select(.data.cause==$c)' "$T/out" | jq -e '.data.outcome=="denied" and ([.data.findings[].rule]==["CMK-KEY-EXPIRED"])' >/dev/null \
    && ok "binding after exp is denied by CMK-KEY-EXPIRED ($c)" || fail "late binding $c: $(cat "$T/out")"
done
"$CMKGUARD" state show --state s.db >show.json
jq -e --arg a $R/cs --arg b $R/cs2 '(.resources[]|select(.id==$a)|.locked==false and .key_uri=="'$K'")
  and (.resources[]|select(.id==$b)|.key_source=="mmk")' show.json >/dev/null \
  && ok "nothing locked, denied bindings changed nothing" || fail "state after expiry: $(jq -c .resources show.json)"
[ "$("$CMKGUARD" data get --state s.db $R/cs)" = "$secret" ] && ok "data get still reads the data after expiry" || fail "data get after expiry"
"$CMKGUARD" data get --state s.db $R/cs --sealed >sealed.2
cmp -s sealed.0 sealed.2 && ok "sealed bytes unchanged after expiry" || fail "sealed bytes changed after expiry"

# 5. without rules, the physics alone: the binding fails with the wrap's error
cp s.db p.db; cp s.db.mkey p.db.mkey
ev resource.cmk.enabled $R/cs2 2026-12-02T00:00:00Z '{"key_uri":"'$K'"}' >phys.jsonl
expect_rc 0 "replay without rules" -- "$CMKGUARD" replay --state p.db phys.jsonl
jq -e '.data.outcome=="failed" and .data.actions[0].status=="failed" and (.data.actions[0].error|test("expired at 2026-12-01T00:00:00Z")) and .data.state.key_source=="mmk"' "$T/out" >/dev/null \
  && ok "without rules a binding to an expired version fails" || fail "physics: $(cat "$T/out")"
# a rotation onto a valid version re-wraps cs from the expired v1 (it still unwraps)
ev key.rotated $K 2026-12-02T00:00:01Z '{"version":"v3","exp":"2027-12-01T00:00:00Z"}' >rot3.jsonl
expect_rc 0 "rotate onto a valid version" -- replay rot3.jsonl
rec x-$n $R/cs | jq -e '.data.outcome=="allowed" and .data.actions[0].op=="rewrap" and (.data.actions[0].from|endswith("/v1")) and (.data.actions[0].to|endswith("/v3"))' >/dev/null \
  && ok "a valid rotation re-wraps away from the expired version" || fail "rotation to v3: $(cat "$T/out")"
[ "$("$CMKGUARD" data get --state s.db $R/cs)" = "$secret" ] && ok "data reads under v3" || fail "data get under v3"
done_test
