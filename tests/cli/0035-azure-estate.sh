# The Azure-shaped estate of examples/azure-estate, end to end: `import` bootstraps the
# state from az and Resource Graph output, then a stream of Event Grid deliveries
# continues from there. Every outcome asserted here is one that
# examples/azure-estate/README.md promises; the two must change together.
. "$(dirname "$0")/lib.sh"
cd "$T"
EX=$ROOT/examples/azure-estate
RULES=$ROOT/rules
AT=2026-11-30T12:00:00Z

# The estate's names (README.md, "The estate").
TA=3f2c9a1e-5b7d-4c8e-9a10-1b2c3d4e5f60
TB=8d1e4b7a-2c3f-4a5b-8c6d-7e8f9a0b1c2d
TC=c4a7e2d1-9b8c-4f3e-a2d1-0e9f8a7b6c5d
KA=https://kv-contoso-cmk.vault.azure.net
KB=https://kv-fabrikam-rbac.vault.azure.net
KC=https://kv-woodgrove.vault.azure.net
CS_CONTOSO=/subscriptions/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/cs-contoso-moderation
FACE_CONTOSO=/subscriptions/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/face-contoso-id
FACE_FAB=/subscriptions/2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f/resourcegroups/rg-vision/providers/Microsoft.CognitiveServices/accounts/face-fabrikam
CS_FAB=/subscriptions/2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f/resourcegroups/rg-vision/providers/Microsoft.CognitiveServices/accounts/cs-fabrikam
CS_WOOD=/subscriptions/5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/cs-woodgrove
P_CS_CONTOSO=a1b2c3d4-1111-4a2b-8c3d-4e5f6a7b8c9d
P_UAI_FAB=e5f6a7b8-5555-4e6f-8a7b-8c9d0e1f2a3b
P_CS_FAB=0718293a-7777-4a8b-8c9d-0e1f2a3b4c5d
P_APP_WOOD=29304b5c-9999-4cad-8e1f-2a3b4c5d6e7f
P_READER_FAB=3a415c6d-aaaa-4dbe-9f2a-3b4c5d6e7f80
CS_V1=7c9e2f4a1b3d4e5f8a6b9c0d1e2f3a4b
CS_V2=b2c4d6e8f0a24b6c8d0e2f4a6b8c0d1e
FACE_V1=9f8e7d6c5b4a49388271605f4e3d2c1b
FACE_V2=3c5e7a9b1d2f4e6a8c0b2d4f6a8c0e2f
ACCESS_LOST='access-missing:get,wrapKey,unwrapKey'
# The stream's event ids, by line of events/stream.jsonl.
L1=2f0c6b1e-8a34-4d2b-9e57-1c0a9b8d7e61   # Resource Notification: face-contoso-id turns to CMK
L2=5b7d9e1f-2a3c-4e5f-8a9b-0c1d2e3f4a5b   # KeyNewVersionCreated (Event Grid schema): cs-key
L3=8c1d3e5f-7a9b-4c2d-8e4f-6a8b0c2d4e6f   # KeyNewVersionCreated (CloudEvents schema): face-key
L4=a3b5c7d9-e1f3-4a5b-9c7d-e9f1a3b5c7d9   # KeyNearExpiry: cmk-2048
L5A=c9d1e3f5-a7b9-4c1d-8e3f-5a7b9c1d3e5f  # batch, 1st: SecretNewVersionCreated
L5B=d0e2f4a6-b8c0-4d2e-9f4a-6b8c0d2e4f6a  # batch, 2nd: KeyNewVersionCreated: ec-sign
L6=e1f3a5b7-c9d1-4e3f-8a5b-7c9d1e3f5a7b   # VaultAccessPolicyChanged
L7=f2a4b6c8-d0e2-4f4a-9b6c-8d0e2f4a6b8c   # Resource Notification: vault without cs-contoso's policy
L8=0a2c4e6a-8c0e-4a2c-8e4a-6c8e0a2c4e6a   # Resource Notification: role assignment Deleted
L9=1b3d5f7a-9b1d-4f3a-8b5d-7f9a1b3d5f7a   # Resource Notification: cs-woodgrove's identity removed
L10=2c4e6a8c-0e2a-4c6e-8a0c-2e4a6c8e0a2c  # malformed: keyVersion is a number
L11=3d5f7a9b-1d3f-4a7b-9d1f-3a5b7d9f1a3b  # KeyExpired (CloudEvents schema): cmk-2048

# holds FILE DESCRIPTION [JQ ARGS...] FILTER: the filter, over FILE's lines slurped into
# one array, is true. R($c) is the records whose cause is $c; D($c) the first of them,
# the decision record (fan-out records follow it).
holds() {
  local file=$1 what=$2 filter=${*: -1}; shift 2; set -- "${@:1:$#-1}"
  if jq -s -e "$@" "def R(\$c): map(select(.data.cause == \$c)); def D(\$c): R(\$c) | min_by(.seq); $filter" "$file" >/dev/null 2>"$T/jq.err"; then
    ok "$what"
  else
    fail "$what"; sed 's/^/  | jq: /' "$T/jq.err" | head -3 >&2
    [ "$file" = stream.jsonl ] && jq -c '[.data.cause, .subject, .data.event_type, .data.outcome,
        [.data.findings[]?.rule], [.data.actions[]?.op], .data.state.locked, .data.reason]' "$file" \
        | sed 's/^/  | /' | head -40 >&2
  fi
}

"$CMKGUARD" audit keygen --out audit >/dev/null || fail "audit keygen"

# ---- 1. import: the bodies become the events that would have built the estate ----
expect_rc 0 "import reads every body: az lists and shows, Resource Graph, data-plane key" -- \
  "$CMKGUARD" import --time $AT "$EX"/import/*.json
cp "$T/out" import.jsonl
"$CMKGUARD" import --time $AT "$EX"/import/*.json >import2.jsonl 2>/dev/null
cmp -s import.jsonl import2.jsonl && ok "import is deterministic" || fail "two imports of the same bodies differ"
holds import.jsonl "every imported event is a cmkguard event at --time, with a unique id" --arg at $AT '
  length > 0 and all(.specversion == "1.0" and .time == $at and (.source | type) == "string")
  and (map(.id) | unique | length) == length'
holds import.jsonl "import derives 3 vaults, 4 keys, 5 grants, 5 resources, 5 identities, 3 CMK bindings, and the facts of 3 vaults and 2 role assignments" '
  (group_by(.type) | map({key: .[0].type, value: length}) | from_entries) ==
  {"vault.upserted": 3, "key.created": 4, "vault.access.granted": 5, "resource.created": 5,
   "resource.identity.enabled": 5, "resource.cmk.enabled": 3,
   "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated": 5}'
holds import.jsonl "import orders vaults, keys, access, then resources" '
  def ph: {"vault.upserted": 0, "key.created": 1, "vault.access.granted": 2,
           "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated": 2}[.type] // 3;
  map(ph) == (map(ph) | sort)'
holds import.jsonl "each resource is created, then gets its identity, then its CMK binding" '
  to_entries | map(select(.value.type | startswith("resource."))) | group_by(.value.subject | ascii_downcase)
  | length == 5 and all(.[]; sort_by(.key) | map(.value.type) as $t
      | $t == (["resource.created", "resource.identity.enabled", "resource.cmk.enabled"] | map(select(IN($t[])))))'
holds import.jsonl "no resource asks for CMK at creation (F12)" '
  all(.[]; .type != "resource.created" or (.data.key_uri == null))'
holds import.jsonl "the RBAC vault is reached through the resource-group role assignment, not through Reader" \
  --arg kb $KB --arg p $P_UAI_FAB --arg reader $P_READER_FAB '
  any(.type == "vault.access.granted" and (.subject | ascii_downcase) == $kb and (.data.principal | ascii_downcase) == $p)
  and all(.data.principal? // "" | ascii_downcase != $reader)'
holds import.jsonl "a policy with secret permissions only grants nothing" --arg app $P_APP_WOOD '
  all(.type != "vault.access.granted" or (.data.principal | ascii_downcase) != $app)'
holds import.jsonl "face-fabrikam's identity is the user-assigned one that identityClientId names" \
  --arg r $FACE_FAB --arg p $P_UAI_FAB '
  any(.type == "resource.identity.enabled" and (.subject | ascii_downcase) == ($r | ascii_downcase)
      and (.data.principal | ascii_downcase) == $p)'
holds import.jsonl "the data-plane key is RSA-2048, its size read from n" --arg k "$KB/keys/face-key" --arg v $FACE_V1 '
  any(.type == "key.created" and (.subject | ascii_downcase) == $k and .data.kty == "RSA" and .data.size == 2048
      and (.data.version | ascii_downcase) == $v)'
holds import.jsonl "the EC key has no size" --arg k "$KA/keys/ec-sign" '
  any(.type == "key.created" and (.subject | ascii_downcase) == $k and .data.kty == "EC" and (.data.size == null))'
holds import.jsonl "an empty keyVersion binds the versionless key URI" --arg r $CS_CONTOSO --arg k "$KA/keys/cs-key" '
  any(.type == "resource.cmk.enabled" and .subject == $r and (.data.key_uri | ascii_downcase) == $k)'

# ---- 2. bootstrap the state: import | replay ----
echo "contoso moderation terms" >terms.txt
expect_rc 0 "import | replay bootstraps the state" -- bash -c 'set -o pipefail
  "$1" import --time '$AT' "$2"/import/*.json | "$1" replay --rules "$3" --state db --sign-key audit.key --out audit.jsonl -' \
  _ "$CMKGUARD" "$EX" "$RULES"
cp audit.jsonl bootstrap.jsonl
[ "$(wc -l <bootstrap.jsonl)" -eq "$(wc -l <import.jsonl)" ] && ok "one record per imported event" \
  || fail "$(wc -l <bootstrap.jsonl) records for $(wc -l <import.jsonl) imported events"
holds bootstrap.jsonl "the whole estate is allowed: spellings (West US, /resourcegroups/, upper-case version, Get/WrapKey) change no decision" '
  all(.data.outcome == "allowed") and all(.data.findings | length == 0)'
holds bootstrap.jsonl "three CMK bindings re-wrap from the MMK" '
  map(select(.data.event_type == "resource.cmk.enabled" and .data.actions[0].op == "rewrap" and .data.actions[0].from == "mmk"))
  | length == 3'
"$CMKGUARD" data put --state db $CS_CONTOSO <terms.txt || fail "data put"
[ "$("$CMKGUARD" data get --state db $CS_CONTOSO)" = "contoso moderation terms" ] && ok "cs-contoso-moderation reads its data under CMK" \
  || fail "data get under CMK"

# ---- 3. the Event Grid stream continues from the imported state ----
nboot=$(wc -l <audit.jsonl)
expect_rc 0 "the stream replays into the same state and trail" -- \
  "$CMKGUARD" replay --rules "$RULES" --state db --sign-key audit.key --out audit.jsonl "$EX"/events/*.jsonl
tail -n +$((nboot + 1)) audit.jsonl >stream.jsonl
S=stream.jsonl

# line 1: a Resource Notification turns face-contoso-id to CMK (pinned to cs-key v1)
holds $S "L1: CreatedOrUpdated derives exactly resource.cmk.enabled as $L1#1" --arg id $L1 '
  (R($id + "#1") | length == 1 and .[0].data.event_type == "resource.cmk.enabled")
  and (R($id + "#2") | length == 0) and (R($id) | length == 0)'
holds $S "L1: the derived event is allowed, names its origin and re-wraps from the MMK" --arg id $L1 --arg r $FACE_CONTOSO --arg v $CS_V1 '
  R($id + "#1")[0] | .data.outcome == "allowed" and .subject == $r
  and .data.derived_from.type == "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated" and .data.derived_from.id == $id
  and .data.actions[0].op == "rewrap" and .data.actions[0].from == "mmk" and (.data.state.key_uri | endswith("/keys/cs-key/" + $v))'

# line 2: rotation in the Event Grid schema
holds $S "L2: KeyNewVersionCreated of a known key derives key.rotated, allowed" --arg id $L2 '
  (R($id + "#1") | length >= 1 and all(.data.outcome == "allowed" and .data.event_type == "key.rotated"))
  and (D($id + "#1") | .data.derived_from.type == "Microsoft.KeyVault.KeyNewVersionCreated" and .data.derived_from.id == $id)'
holds $S "L2: the versionless cs-contoso-moderation is re-wrapped onto the new version" --arg id $L2 --arg r $CS_CONTOSO --arg v $CS_V2 '
  any(R($id + "#1")[]; .subject == $r and .data.actions[0].op == "rewrap" and (.data.actions[0].to | endswith("/keys/cs-key/" + $v)))'
holds $S "L2: the pinned face-contoso-id gets KEY-PINNED-STALE, no re-wrap" --arg id $L2 --arg r $FACE_CONTOSO '
  any(R($id + "#1")[]; .subject == $r and any(.data.findings[]; .rule == "KEY-PINNED-STALE") and (.data.actions | length == 0))'

# line 3: rotation in the CloudEvents schema, written like Azure's own sample
holds $S "L3: the CloudEvents KeyNewVersionCreated (\"ObjectName \", \" Version\", NBF/EXP as strings) derives key.rotated" --arg id $L3 '
  R($id + "#1") | length >= 1 and all(.data.outcome == "allowed" and .data.event_type == "key.rotated")'
holds $S "L3: face-fabrikam, pinned to the upper-case version, gets KEY-PINNED-STALE" --arg id $L3 --arg r $FACE_FAB '
  any(R($id + "#1")[]; (.subject | ascii_downcase) == ($r | ascii_downcase) and any(.data.findings[]; .rule == "KEY-PINNED-STALE"))'

# line 4: near expiry
holds $S "L4: KeyNearExpiry derives key.expiring; KEY-NEAR-EXPIRY on the key cs-woodgrove uses" --arg id $L4 '
  (R($id + "#1") | length >= 1 and all(.data.outcome == "allowed" and .data.event_type == "key.expiring"))
  and any(R($id + "#1")[]; (.subject | endswith("/keys/cmk-2048"))
      and any(.data.findings[]; .rule == "KEY-NEAR-EXPIRY" and (.message | test("protects 1 resource"))))'

# line 5: a batch (JSON array) of two events
holds $S "L5: the secret event in the batch is recorded, derives nothing" --arg id $L5A '
  (R($id) | length == 1 and .[0].data.outcome == "allowed" and (.[0].data.actions | length == 0)) and (R($id + "#1") | length == 0)'
holds $S "L5: the EC key's new version in the same batch derives key.rotated" --arg id $L5B '
  R($id + "#1") | length == 1 and .[0].data.event_type == "key.rotated" and .[0].data.outcome == "allowed"'

# line 6: access policy changed says nothing of how
holds $S "L6: VaultAccessPolicyChanged is recorded and derives nothing" --arg id $L6 '
  (R($id) | length == 1 and .[0].data.outcome == "allowed" and (.[0].data.actions | length == 0)) and (R($id + "#1") | length == 0)'

# line 7: the vault body without cs-contoso-moderation's policy: a lockout
holds $S "L7: the vault notification derives only vault.access.revoked (1/0 booleans change nothing else)" --arg id $L7 --arg p $P_CS_CONTOSO '
  (R($id + "#1") | length >= 1 and all(.data.event_type == "vault.access.revoked" and .data.outcome == "allowed"))
  and (R($id + "#2") | length == 0)'
holds $S "L7: cs-contoso-moderation is locked, the reason named, from stream.jsonl:7" --arg id $L7 --arg r $CS_CONTOSO --arg why $ACCESS_LOST '
  any(R($id + "#1")[]; .subject == $r and .data.state.locked == true and .data.state.lock_reasons == [$why]
      and any(.data.actions[]; .op == "lockout") and (.data.input | endswith("stream.jsonl:7")))'

# line 8: the role assignment that gave face-fabrikam its access is deleted
holds $S "L8: the Deleted role assignment derives vault.access.revoked and locks face-fabrikam" --arg id $L8 --arg r $FACE_FAB --arg why $ACCESS_LOST '
  (R($id + "#1") | length >= 1 and all(.data.event_type == "vault.access.revoked"))
  and any(R($id + "#1")[]; (.subject | ascii_downcase) == ($r | ascii_downcase) and .data.state.locked == true
      and .data.state.lock_reasons == [$why])'

# line 9: cs-woodgrove's identity is removed while on CMK
holds $S "L9: the identity removal derives resource.identity.disabled: CMK-IDENTITY-DISABLED, locked" --arg id $L9 '
  R($id + "#1") | length == 1 and .[0].data.event_type == "resource.identity.disabled" and .[0].data.outcome == "allowed"
  and any(.[0].data.findings[]; .rule == "CMK-IDENTITY-DISABLED") and .[0].data.state.locked == true
  and (.[0].data.state.lock_reasons | index("identity-missing") != null)'

# line 10: a wrong-typed property is rejected whole
holds $S "L10: keyVersion as a number is rejected, the reason naming the field" --arg id $L10 '
  (R($id) | length == 1 and .[0].data.outcome == "rejected" and (.[0].data.reason | test("keyVersion")))
  and (R($id + "#1") | length == 0)'

# line 11: expiry locks nothing by itself
holds $S "L11: KeyExpired derives key.expired, allowed, and locks nothing" --arg id $L11 '
  R($id + "#1") | length >= 1 and all(.data.event_type == "key.expired" and .data.outcome == "allowed")
  and all(.data.actions | all(.op != "lockout"))'
holds $S "every derived event's decision record names an Azure type and the event it came from" '
  map(select(.data.cause | contains("#"))) | group_by(.data.cause) | map(min_by(.seq)) | length == 9
  and all(.data.derived_from.type | startswith("Microsoft.")) and all((.data.cause | split("#")[0]) == .data.derived_from.id)'

# ---- 4. the posture the stream leaves ----
"$CMKGUARD" state show --state db >posture.json 2>show.err || fail "state show: $(cat show.err)"
res() { jq -e --arg id "$1" ".resources[] | select(.id == \$id) | $2" posture.json >/dev/null; }
[ "$(jq '.resources | length' posture.json)" = 5 ] && ok "five resources" || fail "resources: $(jq -c '[.resources[].id]' posture.json)"
res $FACE_CONTOSO '.key_source == "cmk" and (.key_uri | endswith("/keys/cs-key/'$CS_V1'")) and (.locked | not) and (.layers | length) == 2' \
  && ok "face-contoso-id: CMK pinned to v1, unlocked, two layers; its id as first imported (/resourceGroups/)" \
  || fail "face-contoso-id: $(jq -c '.resources[] | select(.id | test("face-contoso"))' posture.json)"
res $CS_CONTOSO '.key_source == "cmk" and .key_uri == "'$KA'/keys/cs-key" and (.wrapped_under | endswith("/'$CS_V2'"))
  and .locked and .lock_reasons == ["'$ACCESS_LOST'"]' \
  && ok "cs-contoso-moderation: versionless, wrapped under v2, locked for access" \
  || fail "cs-contoso-moderation: $(jq -c '.resources[] | select(.id | test("cs-contoso"))' posture.json)"
res $FACE_FAB '.key_uri == "'$KB'/keys/face-key/'$FACE_V1'" and .locked and .identity.principal == "'$P_UAI_FAB'"' \
  && ok "face-fabrikam: bound to the lower-cased version, locked, its id as Resource Graph spelled it" \
  || fail "face-fabrikam: $(jq -c '.resources[] | select(.id | test("face-fabrikam"; "i"))' posture.json)"
res $CS_FAB '.key_source == "mmk" and (.locked | not) and .identity.principal == "'$P_CS_FAB'" and .tenant == "'$TB'"' \
  && ok "cs-fabrikam: on the MMK, tenant from the Resource Graph column" \
  || fail "cs-fabrikam: $(jq -c '.resources[] | select(.id | test("cs-fabrikam"; "i"))' posture.json)"
res $CS_WOOD '.locked and .lock_reasons == ["identity-missing"] and .identity == null and .region == "westus" and .tenant == "'$TC'"' \
  && ok "cs-woodgrove: locked for its identity alone (expiry adds no reason), region compacted" \
  || fail "cs-woodgrove: $(jq -c '.resources[] | select(.id | test("woodgrove"))' posture.json)"
jq -e --arg k "$KB/keys/face-key" --arg v1 $FACE_V1 --arg v2 $FACE_V2 '.keys[] | select(.uri == $k)
  | .kty == "RSA" and .size == 2048 and ([.versions[].version] | index($v1) != null and index($v2) != null)' posture.json >/dev/null \
  && ok "face-key: both versions, lower case, trimmed" || fail "face-key: $(jq -c '.keys' posture.json)"
jq -e --arg a $TA '[.vaults[] | select(.tenant == $a)] | length == 1 and .[0].soft_delete and .[0].purge_protection' posture.json >/dev/null \
  && ok "kv-contoso-cmk keeps soft delete and purge protection through the 1/0 notification" || fail "vaults: $(jq -c .vaults posture.json)"
expect_rc 1 "the locked cs-contoso-moderation refuses its data" -- "$CMKGUARD" data get --state db $CS_CONTOSO
expect_err "locked: data access refused \\($ACCESS_LOST\\)" "the refusal names the lock"

# ---- 5. one signed chain over the import and the stream ----
expect_rc 0 "audit verify: the bootstrap and the stream are one signed chain" -- "$CMKGUARD" audit verify --pubkey audit.pub audit.jsonl
done_test
