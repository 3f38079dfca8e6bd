# Identifiers as Azure writes them (SPEC §2a), end to end through replay with the
# shipped rules: spelling never changes a decision, and records, state and rule
# fields carry one canonical spelling per thing. Controls show the same rules still
# deny what really differs.
. "$(dirname "$0")/lib.sh"
cd "$T"
RG=/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts
rg=/subscriptions/S1/resourcegroups/RG/providers/microsoft.cognitiveservices/accounts
TEN=72F988BF-86F1-41AF-91AB-2D7CD011DB47
ten=72f988bf-86f1-41af-91ab-2d7cd011db47
V=https://kv1.vault.azure.net
CN=https://kv-cn.vault.azure.cn
HSM=https://hsm1.managedhsm.azure.net
n=0
ev() { # id type subject data [source]
  n=$((n + 1))
  printf '{"specversion":"1.0","id":"%s","source":"%s","type":"%s","subject":"%s","time":"2026-11-02T10:%02d:00Z","data":%s}\n' \
    "$1" "${5:-/tenants/contoso}" "$2" "$3" $n "$4"
}
vault() { ev "$1" vault.upserted "$2" '{"tenant":"'"$3"'","region":"'"$4"'","subscription":"s1","soft_delete":true,"purge_protection":true}'; }
res() { # id name region principal
  ev "$1-c" resource.created "$RG/$2" '{"kind":"ContentSafety","tenant":"'$ten'","region":"'"$3"'","subscription":"s1"}'
  ev "$1-i" resource.identity.enabled "$RG/$2" '{"principal":"'"$4"'","tenant":"'$TEN'"}'
}
{
  vault v1 "$V" "$TEN" westus
  vault v2 "https://KV-CN.vault.azure.cn:443/" "$ten" "West US"
  vault v3 "$HSM/" "$ten" westus
  ev k1 key.created "$V/keys/CMK1" '{"version":"0123ABCD","kty":"RSA","size":2048}'
  ev k2 key.created "$CN/keys/k2" '{"version":"v2","kty":"RSA","size":2048}'
  ev k3 key.created "https://HSM1.managedhsm.azure.net:443/keys/k3/" '{"version":"v3","kty":"RSA-HSM","size":2048}'
  # a: West US beside a westus vault, Get/WrapKey/UnwrapKey, a :443 key URI with an
  #    upper-case version, reached through a /resourcegroups/ spelling of its id
  res a cs-a "West US" PRINCIPAL-A
  ev a-g vault.access.granted "$V" '{"principal":"principal-a","permissions":["Get","WrapKey","UnwrapKey"]}'
  ev a-e resource.cmk.enabled "$rg/CS-A" '{"key_uri":"https://KV1.vault.azure.net:443/keys/cmk1/0123ABCD/"}'
  # b: a vault in Azure China, permissions ["all"], a versionless key URI
  res b cs-b westus principal-b
  ev b-g vault.access.granted "$CN" '{"principal":"PRINCIPAL-B","permissions":["all"]}'
  ev b-e resource.cmk.enabled "$RG/cs-b" '{"key_uri":"https://kv-cn.VAULT.azure.cn/keys/K2"}'
  # c: a Managed HSM key, with permissions cmkguard does not need beside the three
  res c cs-c WestUS principal-c
  ev c-g vault.access.granted "$HSM" '{"principal":"principal-c","permissions":["purge","sign","decrypt","get","wrapKey","unwrapKey"]}'
  ev c-e resource.cmk.enabled "$RG/cs-c" '{"key_uri":"'$HSM'/keys/k3/V3"}'
  # controls: a region that differs, permissions that lack unwrapKey, a version that does not exist
  res d cs-d "East US" principal-d
  ev d-g vault.access.granted "$V" '{"principal":"principal-d","permissions":["all"]}'
  ev d-e resource.cmk.enabled "$RG/cs-d" '{"key_uri":"'$V'/keys/cmk1/0123abcd"}'
  res e cs-e westus principal-e
  ev e-g vault.access.granted "$V" '{"principal":"principal-e","permissions":["Get","WrapKey"]}'
  ev e-e resource.cmk.enabled "$RG/cs-e" '{"key_uri":"'$V'/keys/cmk1/0123abcd"}'
  res f cs-f westus principal-f
  ev f-g vault.access.granted "$V" '{"principal":"principal-f","permissions":["all"]}'
  ev f-e resource.cmk.enabled "$RG/cs-f" '{"key_uri":"'$V'/keys/cmk1/ffff"}'
  # a name that is no Key Vault key permission is bad input
  ev g-g vault.access.granted "$V" '{"principal":"principal-f","permissions":["get","frobnicate"]}'
  # the same id from another source is another event; the same pair a duplicate
  ev dup resource.key.updated "$rg/cs-a" '{"key_uri":"'$V'/keys/cmk1"}' /tenants/contoso
  ev dup resource.key.updated "$rg/cs-a" '{"key_uri":"'$V'/keys/cmk1/0123abcd"}' /tenants/other
  ev dup resource.key.updated "$rg/cs-a" '{"key_uri":"'$V'/keys/cmk1"}' /tenants/other
  # a resource created again under another spelling is the same resource
  ev a-again resource.created "$rg/cs-a" '{"kind":"Face","tenant":"t","region":"westus","subscription":"s1"}'
} >events.jsonl
expect_rc 0 "replay of Azure spellings" -- "$CMKGUARD" replay --rules "$ROOT/rules" --state st.db events.jsonl
cp "$T/out" out.jsonl
[ "$(wc -l <out.jsonl)" -eq "$(wc -l <events.jsonl)" ] && ok "one record per event" || fail "$(wc -l <out.jsonl) records"
rec() { jq -c --arg id "$1" --arg src "${2:-}" 'select(.data.cause == $id)' out.jsonl | sed -n "${3:-1}p"; }
outcome() { # cause [nth] -> "outcome rule,rule"
  rec "$1" "" "${2:-1}" | jq -r '.data.outcome + " " + ([.data.findings[]? | .rule] | join(","))'
}
want() { # cause expected-outcome-and-rules what [nth]
  local got; got=$(outcome "$1" "${4:-1}")
  [ "$got" = "$2" ] && ok "$3" || fail "$3: got '$got', wanted '$2'"
}
for c in v1 v2 v3 k1 k2 k3; do want $c "allowed " "$c allowed"; done
want a-i "allowed " "a resource id spelled /resourcegroups/ is found"
want a-e "allowed " "West US beside westus, Get/WrapKey/UnwrapKey, a :443 key URI, an upper-case version: allowed"
want b-e "allowed " "a key on vault.azure.cn with [\"all\"]: allowed"
want c-e "allowed " "a Managed HSM key with unneeded permissions beside the three: allowed"
want d-e "denied CMK-REGION" "control: East US beside westus is denied by CMK-REGION"
want e-e "denied CMK-ACCESS" "control: Get/WrapKey alone is denied by CMK-ACCESS"
want f-e "denied CMK-KEY-MISSING" "control: a version that does not exist is denied by CMK-KEY-MISSING"
rec g-g | jq -e '.data.outcome == "rejected" and (.data.reason | test("frobnicate.*not a Key Vault key permission"))' >/dev/null \
  && ok "a permission Key Vault does not have is rejected with a reason" || fail "g-g: $(rec g-g)"
# spellings in records: canonical URIs, the resource id as first seen
rec a-e | jq -e --arg id "$RG/cs-a" '.subject == $id and .data.state.key_uri == "https://kv1.vault.azure.net/keys/cmk1/0123abcd"' >/dev/null \
  && ok "records carry the first spelling of a resource id and the canonical key URI" || fail "a-e: $(rec a-e)"
rec v2 | jq -e '.subject == "https://kv-cn.vault.azure.cn"' >/dev/null && ok "vault subject canonical, host kept" || fail "v2: $(rec v2)"
rec b-e | jq -e '.data.state.key_uri == "https://kv-cn.vault.azure.cn/keys/k2" and .data.actions[0].op == "rewrap" and .data.actions[0].status == "ok"' >/dev/null \
  && ok "a sovereign-cloud key wraps and round-trips through the binding" || fail "b-e: $(rec b-e)"
rec c-e | jq -e '.data.state.key_uri == "https://hsm1.managedhsm.azure.net/keys/k3/v3" and .data.actions[0].status == "ok"' >/dev/null \
  && ok "a Managed HSM key wraps" || fail "c-e: $(rec c-e)"
want dup "allowed " "(source, id) first seen: allowed" 1
want dup "allowed " "the same id from another source: allowed" 2
want dup "duplicate " "the same (source, id) again: duplicate" 3
rec a-again | jq -e --arg id "$RG/cs-a" '.data.outcome == "rejected" and .subject == $id and (.data.reason | contains("already exists"))' >/dev/null \
  && ok "another spelling of an existing id creates nothing" || fail "a-again: $(rec a-again)"
# state show: canonical values, first spellings, any spelling finds the resource
expect_rc 0 "state show by another spelling" -- "$CMKGUARD" state show --state st.db "$rg/CS-A"
jq -e --arg id "$RG/cs-a" --arg t "$ten" '.id == $id and .region == "westus" and .tenant == $t and .identity.principal == "principal-a" and .identity.tenant == $t' "$T/out" >/dev/null \
  && ok "state shows the first spelling and canonical tenant, region, principal" || fail "state: $(cat "$T/out")"
expect_rc 0 "state show" -- "$CMKGUARD" state show --state st.db
jq -e '[.vaults[].uri] == ["https://hsm1.managedhsm.azure.net","https://kv-cn.vault.azure.cn","https://kv1.vault.azure.net"] and (.vaults | map(.region) | unique) == ["westus"]' "$T/out" >/dev/null \
  && ok "vault URIs keep their hosts; regions compact" || fail "vaults: $(jq -c .vaults "$T/out")"
printf 'hello' | "$CMKGUARD" data put --state st.db "$rg/cs-b" && ok "data put by another spelling" || fail "data put"
[ "$("$CMKGUARD" data get --state st.db "$RG/CS-B")" = hello ] && ok "data get by a third spelling" || fail "data get"
done_test
