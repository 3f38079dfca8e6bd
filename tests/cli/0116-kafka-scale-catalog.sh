# Several instances (SPEC §7a), across tenants: two `run`s share four partitions; tenant
# A's events and tenant B's land in different ones. A resource of A bound to a key in B's
# vault is denied by CMK-TENANT through the catalog topic, with the outcome and findings
# a single `replay` of the same events gives; a CMK resource moved from A to B locks, and
# its state follows it to B's partition as a derived event, on which B's later events
# are decided.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
start_broker --partitions 4
GROUP=catalog scale_config "$T/run.yaml" "batch: 20"
declare -a PIDS
start_inst() { "$CMKGUARD" run --config "$T/run.yaml" --state "$T/i$1" >>"$T/run$1.log" 2>&1 & PIDS[$1]=$!; }
stop_insts() { for i in 1 2; do [ -n "${PIDS[$i]:-}" ] && kill -KILL "${PIDS[$i]}" 2>/dev/null; done; stop_all; }
trap 'stop_insts; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT

R=/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts
VA=https://kva.vault.azure.net VB=https://kvb.vault.azure.net
n=0
ev() { # KEY TYPE SUBJECT DATA: one line "KEY<TAB>EVENT"
  n=$((n + 1))
  printf '%s\t{"specversion":"1.0","id":"x-%d","source":"test","type":"%s","subject":"%s","time":"2026-11-02T10:00:%02dZ","data":%s}\n' \
    "$1" "$n" "$2" "$3" "$((n % 60))" "$4"
}
vault='"region":"westeurope","subscription":"s","soft_delete":true,"purge_protection":true'
{
  ev tb vault.upserted "$VB" "{\"tenant\":\"tb\",$vault}"
  ev tb key.created "$VB/keys/k" '{"version":"v1","kty":"RSA","size":2048}'
  ev ta vault.upserted "$VA" "{\"tenant\":\"ta\",$vault}"
  ev ta key.created "$VA/keys/k" '{"version":"v1","kty":"RSA","size":2048}'
  for r in ra rx; do
    ev ta resource.created "$R/$r" '{"kind":"Face","tenant":"ta","region":"westeurope","subscription":"s"}'
    ev ta resource.identity.enabled "$R/$r" "{\"principal\":\"mi-$r\",\"tenant\":\"ta\"}"
    ev ta vault.access.granted "$VA" "{\"principal\":\"mi-$r\",\"permissions\":[\"get\",\"wrapKey\",\"unwrapKey\"]}"
  done
  ev ta resource.cmk.enabled "$R/ra" "{\"key_uri\":\"$VA/keys/k\"}"
} >"$T/p1.txt"
{
  ev ta resource.cmk.enabled "$R/rx" "{\"key_uri\":\"$VB/keys/k\"}" # A's resource, B's key
  ev ta resource.moved "$R/ra" '{"tenant":"tb","subscription":"sb"}'
} >"$T/p2.txt"
CROSS=x-$((n - 1)) MOVE=x-$n
ev tb resource.identity.enabled "$R/ra" '{"principal":"mi-rb","tenant":"tb"}' >"$T/p3.txt"
LATER=x-$n
cut -f2 "$T/p1.txt" "$T/p2.txt" "$T/p3.txt" >"$T/all.jsonl"

start_inst 1
start_inst 2
audit() { audit_all 4; }
decided() { [ "$(audit | jq -r "select(.data.cause == \"$1\") | .seq" | wc -l)" -ge 1 ]; }
produce "$T/p1.txt"
wait_until 90 "the first events decided" -- decided "x-$(wc -l <"$T/p1.txt")"
parts=$(timeout 30 kcat -C -b "$BOOT" -t cmk.events -o beginning -e -q -f '%k %p\n' 2>/dev/null | sort -u)
pa=$(awk '$1 == "ta" {print $2}' <<<"$parts") pb=$(awk '$1 == "tb" {print $2}' <<<"$parts")
[ -n "$pa" ] && [ -n "$pb" ] && [ "$pa" != "$pb" ] &&
  ok "tenant A's events in partition $pa, tenant B's in $pb" || fail "partitions: $parts"
owned() { [ "$(grep -h "owned (epoch" "$T"/run1.log "$T"/run2.log | wc -l)" -ge 4 ] &&
  grep -q "owned (epoch" "$T/run1.log" && grep -q "owned (epoch" "$T/run2.log"; }
wait_until 60 "both instances own partitions" -- owned
# Every instance reads the whole catalog: four vaults and keys, from two partitions.
known() { grep -Eq 'catalog: .* ([4-9]|[1-9][0-9]+) known' "$T/run$1.log"; }
wait_until 60 "instance 1 knows the catalog" -- known 1
wait_until 60 "instance 2 knows the catalog" -- known 2
timeout 30 kcat -C -b "$BOOT" -t cmk.catalog -o beginning -e -q -f '%k\t%s\n' 2>/dev/null >"$T/catalog.txt"
[ "$(cut -f1 "$T/catalog.txt" | sort -u | wc -l)" -eq 4 ] && ok "the catalog holds 2 vaults and 2 keys" ||
  fail "catalog keys: $(cut -f1 "$T/catalog.txt" | sort -u | tr '\n' ' ')"
grep -Eqi 'sealed|wdek|private|BEGIN' "$T/catalog.txt" && fail "key material in the catalog" ||
  ok "no key material in the catalog"
cut -f2 "$T/catalog.txt" | jq -s -e --arg v "$VB" 'map(select(.uri == $v)) |
  length > 0 and all(.facts.tenant == "tb" and .kind == "vault")' >/dev/null &&
  ok "B's vault in the catalog with its tenant" || fail "B's vault: $(grep "$VB" "$T/catalog.txt")"

produce "$T/p2.txt"
wait_until 90 "the cross-tenant binding decided" -- decided "$CROSS"
# the move's derived event reaches B's partition and is decided there
wait_until 90 "the moved resource arrives in B's partition" -- decided "$MOVE#1"
produce "$T/p3.txt"
wait_until 90 "B's later event decided" -- decided "$LATER"
for i in 1 2; do kill -TERM "${PIDS[$i]}"; done
for i in 1 2; do wait "${PIDS[$i]}"; rc=$?; [ "$rc" -eq 0 ] || fail "instance $i exit $rc"; PIDS[$i]=; done
audit >"$T/audit.jsonl"

# The same events, one instance, one state.
expect_rc 0 "replay of the same events" -- "$CMKGUARD" replay --rules "$ROOT/rules" --out "$T/one.jsonl" "$T/all.jsonl"
summary() { # FILE CAUSE: outcome and sorted finding rules of the cause's decision
  jq -r "select(.data.cause == \"$2\" and .type == \"cmkguard.audit.decision\") |
    [.data.outcome, ([.data.findings[].rule] | sort | join(\",\"))] | @tsv" "$1" | sort -u
}
want=$(summary "$T/one.jsonl" "$CROSS") got=$(summary "$T/audit.jsonl" "$CROSS")
echo "one instance: $want; two: $got"
[ -n "$got" ] && [ "$got" = "$want" ] && ok "cross-tenant binding decided as one instance decides it" ||
  fail "cross-tenant binding: two instances '$got', one '$want'"
grep -q CMK-TENANT <<<"$got" && [ "$(cut -f1 <<<"$got")" = denied ] && ok "denied by CMK-TENANT" ||
  fail "not denied by CMK-TENANT: $got"
state() { # FILE CAUSE: the record's resource state
  jq -c "select(.data.cause == \"$2\" and .type == \"cmkguard.audit.decision\") |
    {outcome: .data.outcome, key_source: .data.state.key_source, locked: .data.state.locked}" "$1" | sort -u
}
want=$(state "$T/one.jsonl" "$MOVE") got=$(state "$T/audit.jsonl" "$MOVE")
[ "$got" = "$want" ] && jq -e '.locked == true and .key_source == "cmk"' <<<"$got" >/dev/null &&
  ok "the move locks the CMK resource, as one instance: $got" || fail "move: two '$got', one '$want'"
arr=$(jq -c "select(.data.cause == \"$MOVE#1\") | {type: .data.event_type, outcome: .data.outcome,
  key_source: .data.state.key_source, locked: .data.state.locked, chain}" "$T/audit.jsonl" | sort -u)
jq -e '.type == "cmkguard.resource.arrived" and .outcome == "allowed" and .locked == true and
  .key_source == "cmk"' <<<"$arr" >/dev/null && ok "its state arrives in B's partition: $arr" ||
  fail "arrival: $arr"
[ "$(jq -r .chain <<<"$arr")" = "cmk.events/$pb" ] && ok "recorded on B's chain" || fail "chain: $arr"
timeout 30 kcat -C -b "$BOOT" -t cmk.events -o beginning -e -q -f '%k\t%s\n' 2>/dev/null |
  awk -F'\t' -v id="$MOVE#1" 'index($2, "\"id\":\"" id "\"") {print $1}' >"$T/derived.keys"
[ "$(sort -u "$T/derived.keys")" = tb ] && ok "the derived event is keyed by tenant B" ||
  fail "derived event keys: $(cat "$T/derived.keys")"
later=$(state "$T/audit.jsonl" "$LATER")
jq -e '.outcome == "allowed" and .locked == true and .key_source == "cmk"' <<<"$later" >/dev/null &&
  ok "B's later event decided on the moved state: $later" || fail "later event: $later"
chain_of() { jq -r "select(.data.cause == \"$1\") | .chain" "$T/audit.jsonl" | sort -u; }
[ "$(chain_of "$LATER")" = "cmk.events/$pb" ] && ok "B's later event on B's chain" || fail "later chain"
grep -q '"lost":true' <<<"$(jq -c "select(.data.cause == \"$LATER\") | .data.state" "$T/audit.jsonl")" &&
  fail "the moved resource's data key was lost" || ok "its data key travelled wrapped, not lost"
expect_rc 0 "audit verify --kafka: every chain" -- \
  "$CMKGUARD" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" --kafka "$T/run.yaml"
done_test
