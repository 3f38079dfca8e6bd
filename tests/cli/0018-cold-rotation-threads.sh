# A cold rotation (right after a restart: no DEK in memory) of a key 120 resources use,
# on 1, 2, 3 and 8 threads (CMKGUARD_THREADS): the same records byte for byte and the
# same state (`state show`), which is also the state a hot rotation leaves; data sealed
# before, in resources spread over the workers' items, reads back after each. Then an unwrap fails (an injected fault, which keeps the
# rotation on one thread): exit 3, no record, the state as it was. (A damaged DEK on
# several threads is tests/unit/test_rotation.c.)
. "$(dirname "$0")/lib.sh"
cd "$T"
V=https://kv-r.vault.azure.net
R=/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts
N=120
awk -v n=$N -v V=$V -v R=$R 'BEGIN {
  t = "\"time\":\"2026-11-23T10:00:00Z\""
  printf "{\"specversion\":\"1.0\",\"id\":\"s%d\",\"type\":\"vault.upserted\",\"subject\":\"%s\",%s,\"data\":{\"tenant\":\"t\",\"region\":\"r\",\"subscription\":\"s\",\"soft_delete\":true,\"purge_protection\":true}}\n", ++e, V, t
  printf "{\"specversion\":\"1.0\",\"id\":\"s%d\",\"type\":\"key.created\",\"subject\":\"%s/keys/k\",%s,\"data\":{\"version\":\"v1\",\"kty\":\"RSA\",\"size\":2048}}\n", ++e, V, t
  for (i = 0; i < n; i++) {
    kind = i % 3 ? "ContentSafety" : "Face"
    printf "{\"specversion\":\"1.0\",\"id\":\"s%d\",\"type\":\"resource.created\",\"subject\":\"%s/r%03d\",%s,\"data\":{\"kind\":\"%s\",\"tenant\":\"t\",\"region\":\"r\",\"subscription\":\"s\"}}\n", ++e, R, i, t, kind
    printf "{\"specversion\":\"1.0\",\"id\":\"s%d\",\"type\":\"resource.identity.enabled\",\"subject\":\"%s/r%03d\",%s,\"data\":{\"principal\":\"mi-%d\",\"tenant\":\"t\"}}\n", ++e, R, i, t, i
    printf "{\"specversion\":\"1.0\",\"id\":\"s%d\",\"type\":\"vault.access.granted\",\"subject\":\"%s\",%s,\"data\":{\"principal\":\"mi-%d\",\"permissions\":[\"get\",\"wrapKey\",\"unwrapKey\"]}}\n", ++e, V, t, i
    printf "{\"specversion\":\"1.0\",\"id\":\"s%d\",\"type\":\"resource.cmk.enabled\",\"subject\":\"%s/r%03d\",%s,\"data\":{\"key_uri\":\"%s/keys/k\"}}\n", ++e, R, i, t, V
  }
  # one resource without access stays locked on v1 (a rotation leaves it where it is)
  printf "{\"specversion\":\"1.0\",\"id\":\"s%d\",\"type\":\"vault.access.revoked\",\"subject\":\"%s\",%s,\"data\":{\"principal\":\"mi-5\"}}\n", ++e, V, t
}' >setup.jsonl
printf '{"specversion":"1.0","id":"rot","type":"key.rotated","subject":"%s/keys/k","time":"2026-11-23T11:00:00Z","data":{"version":"v2"}}\n' $V >rotate.jsonl
"$CMKGUARD" replay --rules "$ROOT/rules" --state s.db setup.jsonl >/dev/null 2>setup.err || fail "setup: $(tail -1 setup.err)"
SEALED="r000 r007 r064 r119" # spread over the items the workers take
for r in $SEALED; do echo "sealed in $r" | "$CMKGUARD" data put --state s.db $R/$r || fail "data put $r"; done
fresh() { rm -f "$1".db*; cp s.db "$1.db"; cp s.db.mkey "$1.db.mkey"; [ -e s.db-wal ] && cp s.db-wal "$1.db-wal"; true; }
for n in 1 2 3 8; do
  fresh c$n
  CMKGUARD_THREADS=$n "$CMKGUARD" replay --rules "$ROOT/rules" --state c$n.db rotate.jsonl >c$n.jsonl 2>c$n.err ||
    fail "rotation on $n threads: $(tail -1 c$n.err)"
  "$CMKGUARD" state show --state c$n.db >c$n.show 2>>c$n.err || fail "state show after $n threads"
  for r in $SEALED; do
    [ "$("$CMKGUARD" data get --state c$n.db $R/$r)" = "sealed in $r" ] || fail "data of $r does not read back after $n threads"
  done
done
n=$(jq -s '[.[].data.actions[]? | select(.op == "rewrap" and .to == "'$V'/keys/k/v2" and .status == "ok")] | length' c1.jsonl)
[ "$n" -eq $((N - 1)) ] && ok "one thread re-wraps the $((N - 1)) usable DEKs under v2" || fail "$n re-wrapped on one thread"
grep -q '"wrapped_under":"'$V'/keys/k/v2"' c1.show && grep -q '"wrapped_under":"'$V'/keys/k/v1"' c1.show &&
  ok "state show: usable resources under v2, the locked one under v1" || fail "state show does not say where the DEKs are"
for n in 2 3 8; do
  cmp -s c1.jsonl c$n.jsonl && ok "$n threads: the same records as one" || fail "$n threads: records differ from one thread"
  cmp -s c1.show c$n.show && ok "$n threads: the same state as one" || fail "$n threads: state differs from one thread"
done
# hot: the same events in one process, the DEKs held in memory
cat setup.jsonl rotate.jsonl >all.jsonl
"$CMKGUARD" replay --rules "$ROOT/rules" --state h.db all.jsonl 2>h.err | tail -n "$(wc -l <c1.jsonl)" >h.jsonl || fail "hot replay"
"$CMKGUARD" state show --state h.db >h.show 2>>h.err || fail "state show after the hot rotation"
cmp -s <(jq -c '.data | del(.input)' h.jsonl) <(jq -c '.data | del(.input)' c1.jsonl) &&
  ok "a hot rotation decides the same" || fail "hot and cold rotations differ"
cmp -s h.show c1.show && ok "a hot rotation leaves the same state" || fail "hot and cold states differ"
# an unwrap that fails (an injected fault: the rotation then runs on one thread) stops
# the whole event: exit 3, no record, nothing written
"$CMKGUARD" state show --state s.db >before.show 2>/dev/null
nc=$(fresh f; CMKGUARD_FAULT=crypto:count "$CMKGUARD" replay --rules "$ROOT/rules" --state f.db rotate.jsonl 2>&1 >/dev/null |
  sed -n 's/.*crypto[^0-9]*\([0-9][0-9]*\).*/\1/p' | tail -1)
[ -n "$nc" ] && [ "$nc" -gt $((2 * N)) ] || fail "crypto calls not counted (got '$nc')"
k=$((nc / 2)) rc=0
while [ "$k" -lt "$nc" ]; do # the first call from the middle on that is an unwrap
  fresh f
  CMKGUARD_FAULT=crypto:$k "$CMKGUARD" replay --rules "$ROOT/rules" --state f.db rotate.jsonl >f.jsonl 2>f.err
  rc=$?
  grep -q 'rsa-oaep unwrap' f.err && break
  k=$((k + 1))
done
grep -q 'rsa-oaep unwrap' f.err && ok "crypto call $k of $nc is one of the rotation's unwraps" || fail "no unwrap among calls $((nc / 2))..$nc"
[ $rc -eq 3 ] && ok "a failed unwrap stops the rotation (exit 3)" || fail "failed unwrap: exit $rc"
[ ! -s f.jsonl ] && ok "no record of the failed rotation" || fail "the failed rotation wrote records"
"$CMKGUARD" state show --state f.db >f.show 2>/dev/null
cmp -s before.show f.show && ok "the state is as it was" || fail "the failed rotation changed the state"
done_test
