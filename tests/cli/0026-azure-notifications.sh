# Resource Notifications: an account's life (MMK, CMK, key updated, identity removed,
# deleted), and a role assignment at resource-group scope made before its RBAC vault.
. "$(dirname "$0")/lib.sh"
cd "$T"
F=$ROOT/tests/fixtures/azure
summary() { jq -r '[.data.cause, .data.event_type, .data.outcome, ([.data.actions[] | .op] | join(",")), ([.data.findings[] | .rule] | join(","))] | join(" ")' "$1"; }
expect_rc 0 "replay of the account lifecycle exits 0" -- "$CMKGUARD" replay --rules "$ROOT/rules" "$F/rn-lifecycle.jsonl"
cp "$T/out" life.jsonl
summary life.jsonl >got
cat >want <<'W'
rn-1#1 vault.upserted allowed  
rn-1#2 vault.access.granted allowed  
rn-2#1 key.created allowed  
rn-3#1 resource.created allowed wrap 
rn-3#2 resource.identity.enabled allowed  
rn-4#1 resource.cmk.enabled allowed rewrap 
rn-5#1 key.rotated allowed  
rn-5#1 key.rotated allowed  KEY-PINNED-STALE
rn-6#1 resource.key.updated allowed rewrap 
rn-7#1 resource.identity.disabled allowed lockout CMK-IDENTITY-DISABLED
rn-8#1 resource.deleted allowed shred 
W
diff want got >/dev/null && ok "MMK -> CMK -> key updated -> identity removed -> deleted" || { fail "lifecycle differs"; diff want got >&2; }
jq -e -s 'all(.[]; .data.derived_from.type == "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated" or .data.derived_from.type == "Microsoft.ResourceNotifications.Resources.Deleted")' life.jsonl >/dev/null \
  && ok "every record names the notification it comes from" || fail "derived_from"
[ "$(jq -r 'select(.data.cause=="rn-1#1") | .time' life.jsonl)" = "2026-11-22T10:00:00.1234567Z" ] \
  && ok "time: data.operationalInfo.resourceEventTime" || fail "time of rn-1#1"
# the same stream in two runs over one state decides the same
head -4 "$F/rn-lifecycle.jsonl" >a.jsonl; tail -n +5 "$F/rn-lifecycle.jsonl" >b.jsonl
"$CMKGUARD" replay --rules "$ROOT/rules" --state s.db a.jsonl >split.jsonl 2>/dev/null
"$CMKGUARD" replay --rules "$ROOT/rules" --state s.db b.jsonl >>split.jsonl 2>/dev/null
summary split.jsonl >got2
diff want got2 >/dev/null && ok "split over two runs with --state: the same decisions" || { fail "split differs"; diff want got2 >&2; }
# a notification seen again is a duplicate
"$CMKGUARD" replay --rules "$ROOT/rules" --state s.db b.jsonl >dup.jsonl 2>/dev/null
jq -e -s 'length == 4 and all(.[]; .data.outcome == "duplicate" and (.data | has("derived_from") | not))' dup.jsonl >/dev/null \
  && ok "an Azure event seen before: one duplicate record, nothing derived" || fail "duplicates: $(summary dup.jsonl)"

# RBAC: the assignment comes first, the vault later; deleting the assignment revokes
expect_rc 0 "replay of the RBAC story exits 0" -- "$CMKGUARD" replay --rules "$ROOT/rules" "$F/rn-rbac.jsonl"
summary "$T/out" >got3
cat >want3 <<'W'
rb-1 Microsoft.ResourceNotifications.Resources.CreatedOrUpdated allowed  
rb-2#1 vault.upserted allowed  
rb-2#2 vault.access.granted allowed  
rb-3#1 key.created allowed  
rb-4#1 resource.created allowed wrap 
rb-4#2 resource.identity.enabled allowed  
rb-4#3 resource.cmk.enabled allowed rewrap 
rb-5#1 vault.access.revoked allowed  
rb-5#1 vault.access.revoked allowed lockout 
W
diff want3 got3 >/dev/null && ok "assignment at RG scope covers the vault made later; its deletion locks" || { fail "rbac differs"; diff want3 got3 >&2; }
# and across runs: the assignment in one, the vault in the next
head -1 "$F/rn-rbac.jsonl" >r1.jsonl; tail -n +2 "$F/rn-rbac.jsonl" >r2.jsonl
"$CMKGUARD" replay --rules "$ROOT/rules" --state r.db r1.jsonl >rsplit.jsonl 2>/dev/null
"$CMKGUARD" replay --rules "$ROOT/rules" --state r.db r2.jsonl >>rsplit.jsonl 2>/dev/null
summary rsplit.jsonl >got4
diff want3 got4 >/dev/null && ok "role assignments persist with --state" || { fail "rbac split differs"; diff want3 got4 >&2; }
done_test
