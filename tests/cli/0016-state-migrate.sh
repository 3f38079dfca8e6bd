# A state written by the build before canonical identifiers (format 1) is never
# misread: it is refused, naming the file and the command that upgrades it, and
# `state migrate` upgrades it once. The fixture (tests/migrate/state-v1.*) was written
# by that build (b905923) from tests/migrate/state-v1.events.jsonl with the shipped
# rules and `--out state-v1.audit.jsonl`, then `data put` of "secret data" into cs1.
. "$(dirname "$0")/lib.sh"
cd "$T"
FIX=$ROOT/tests/migrate
R=/subscriptions/s1/resourcegroups/rg/providers/Microsoft.CognitiveServices/accounts
old_state() { # DB: the format 1 state and its master key
  rm -f "$1" "$1"-wal "$1"-shm
  sqlite3 "$1" <"$FIX/state-v1.sql" || fail "cannot load the fixture"
  base64 -d "$FIX/state-v1.mkey.b64" >"$1.mkey" && chmod 600 "$1.mkey"
}
dump() { sqlite3 "$1" .dump; }
old_state old.db
dump old.db >before.sql
# refused, never misread, never written
expect_rc 3 "replay refuses a format 1 state" -- "$CMKGUARD" replay --state old.db "$FIX/state-v1.events.jsonl"
expect_err "old.db: state written by an older cmkguard \(format 1; this build reads format 3\): upgrade it once with 'cmkguard state migrate --state old.db'" \
  "the refusal names the file and the command"
expect_rc 3 "state show refuses it" -- "$CMKGUARD" state show --state old.db
expect_err "cmkguard state migrate --state old.db" "state show names the command"
expect_rc 3 "data get refuses it" -- "$CMKGUARD" data get --state old.db $R/cs1
dump old.db >after.sql
cmp -s before.sql after.sql && ok "a refused state is left as it was" || fail "the refusal changed the state"
# migrate, once
expect_rc 0 "state migrate" -- "$CMKGUARD" state migrate --state old.db
grep -q "old.db: migrated from format 1 to 3: 1 vaults, 1 keys (1 key versions re-sealed), 2 resources, 1 access entries made canonical; 7 event ids kept as seen from every source" "$T/out" \
  && ok "migrate says what it did" || fail "migrate output: $(cat "$T/out")"
expect_rc 0 "migrate again" -- "$CMKGUARD" state migrate --state old.db
grep -q "already at format 3: nothing to migrate" "$T/out" && ok "a second migrate changes nothing" || fail "second migrate: $(cat "$T/out")"
[ "$(sqlite3 old.db "select v from meta where k = 'format'")" = 3 ] && ok "format 3 stamped" || fail "format stamp"
# canonical spellings; the resource id as first seen
expect_rc 0 "state show after migrate" -- "$CMKGUARD" state show --state old.db
jq -e --arg id "$R/cs1" '.resources[0] | .id == $id and .tenant == "t-contoso" and .region == "westeurope"
    and .key_uri == "https://kv-old.vault.azure.net/keys/cmk1/v1abc" and .wrapped_under == .key_uri
    and .identity == {"principal":"p-one","tenant":"t-contoso"}' "$T/out" >/dev/null \
  && ok "resource: canonical tenant, region, principal, key URI; id as first seen" || fail "resource: $(jq -c '.resources[0]' "$T/out")"
jq -e '.vaults[0].tenant == "t-contoso" and .vaults[0].region == "westeurope" and .keys[0].versions[0].version == "v1abc"' "$T/out" >/dev/null \
  && ok "vault and key versions canonical" || fail "vault/key: $(jq -c '.vaults, .keys' "$T/out")"
# the re-sealed key material still opens: the DEK unwraps, the data reads back
[ "$("$CMKGUARD" data get --state old.db /SUBSCRIPTIONS/s1/resourceGroups/RG/providers/microsoft.cognitiveservices/accounts/CS1)" = "secret data" ] \
  && ok "data sealed before the migration reads back, by any spelling" || fail "data get after migrate"
# the chain continues, and the state goes on deciding with canonical ids
n=0
ev() { n=$((n + 1)); printf '{"specversion":"1.0","id":"%s","source":"%s","type":"%s","subject":"%s","time":"2026-10-02T10:00:%02dZ","data":%s}\n' "$1" "$2" "$3" "$4" $n "$5"; }
{
  ev o6 /tenants/contoso resource.cmk.disabled "$R/cs1" '{}'
  ev o6 /tenants/elsewhere resource.cmk.disabled "$R/cs1" '{}'
  ev n1 /tenants/contoso key.rotated https://KV-OLD.vault.azure.net/keys/CMK1 '{"version":"V2XYZ"}'
  ev n2 /tenants/contoso resource.key.updated /subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/cs1 \
    '{"key_uri":"https://kv-old.vault.azure.net:443/keys/cmk1/V2XYZ"}'
  ev n3 /tenants/contoso resource.identity.enabled "$R/CS2" '{"principal":"P-TWO","tenant":"T-CONTOSO"}'
  ev n4 /tenants/contoso vault.access.granted https://kv-old.vault.azure.net '{"principal":"p-two","permissions":["Get","WrapKey","UnwrapKey"]}'
  ev n5 /tenants/contoso resource.cmk.enabled "$R/cs2" '{"key_uri":"https://kv-old.vault.azure.net/keys/cmk1"}'
} >more.jsonl
expect_rc 0 "replay continues the migrated state and its trail" -- "$CMKGUARD" replay --rules "$ROOT/rules" --state old.db --out more.audit.jsonl more.jsonl
cat "$FIX/state-v1.audit.jsonl" more.audit.jsonl >trail.jsonl
[ "$(wc -l <trail.jsonl)" -eq 15 ] && ok "one record per event, and one for the resource pinned to the rotated key" || fail "$(wc -l <trail.jsonl) records"
jq -se '.[6].hash == .[7].prevhash and .[7].seq == 8 and ([.[].seq] == [range(1; 16)])' trail.jsonl >/dev/null \
  && ok "the chain continues across the migration" || fail "chain: $(jq -c '[.seq, .prevhash[:8], .hash[:8]]' trail.jsonl | tr '\n' ' ')"
out() { jq -r --arg c "$1" "select(.data.cause == \$c) | .data.outcome + \" \" + ([.data.findings[]? | .rule] | join(\",\"))" more.audit.jsonl | sed -n "${2:-1}p"; }
want() { [ "$(out "$1" "${3:-1}")" = "$2" ] && ok "$4" || fail "$4: got '$(out "$1" "${3:-1}")', wanted '$2'"; }
want o6 "duplicate " 1 "an id seen before the migration is still a duplicate"
want o6 "duplicate " 2 "a migrated id, which had no source, counts as seen from every source"
want n1 "allowed " 1 "rotating the migrated key"
want n2 "allowed " 1 "binding to the new version in another spelling: allowed"
jq -se --arg id "$R/cs1" 'map(select(.data.cause == "n2"))[0] | .subject == $id and .data.actions[0].op == "rewrap" and .data.actions[0].status == "ok"
    and .data.actions[0].from == "https://kv-old.vault.azure.net/keys/cmk1/v1abc" and .data.actions[0].to == "https://kv-old.vault.azure.net/keys/cmk1/v2xyz"' trail.jsonl >/dev/null \
  && ok "the re-wrap unwraps under the migrated version" || fail "n2: $(jq -c 'select(.data.cause == "n2")' trail.jsonl)"
want n5 "allowed " 1 "a resource created before the migration binds with canonical tenant and principal"
[ "$("$CMKGUARD" data get --state old.db $R/cs1)" = "secret data" ] && ok "data reads back after the re-wrap" || fail "data get after rewrap"
# a new state is stamped at once
expect_rc 0 "a new state" -- "$CMKGUARD" replay --state new.db more.jsonl
[ "$(sqlite3 new.db "select v from meta where k = 'format'")" = 3 ] && ok "a new state is format 3" || fail "new state format"
# a newer format is refused by both
sqlite3 new.db "update meta set v = '4' where k = 'format'"
expect_rc 3 "a newer state is refused" -- "$CMKGUARD" state show --state new.db
expect_err "new.db: state written by a newer cmkguard \(format 4; this build reads format 3\)" "the refusal says newer"
expect_rc 3 "migrate refuses a newer state" -- "$CMKGUARD" state migrate --state new.db
expect_err "newer cmkguard" "migrate says newer"
# two resources whose ids differ only in case cannot be merged: refused, nothing written
old_state clash.db
sqlite3 clash.db "insert into resources select upper(id), doc from resources where id like '%cs2'"
dump clash.db >before.sql
expect_rc 3 "migrate refuses ids that differ only in case" -- "$CMKGUARD" state migrate --state clash.db
expect_err "resources '.*/cs2' and '.*/CS2' differ only in case|resources '.*/CS2' and '.*/cs2' differ only in case" "the refusal names both ids"
dump clash.db >after.sql
cmp -s before.sql after.sql && ok "a refused migration writes nothing" || fail "the refused migration changed the state"
expect_rc 2 "migrate needs --state" -- "$CMKGUARD" state migrate
expect_rc 2 "migrate takes no resource" -- "$CMKGUARD" state migrate --state old.db $R/cs1
done_test
