# Rotating a versionless key used by many resources re-wraps every DEK: from the DEKs
# the resources hold, or after a restart by unwrapping them first, on every core. All
# three ways give the same records, every DEK ends under the new version and the data
# stays readable.
. "$(dirname "$0")/lib.sh"
cd "$T"
V=https://kv-f.vault.azure.net
R=/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts
N=150
awk -v n=$N -v V=$V -v R=$R 'BEGIN {
  e = 0
  printf "{\"specversion\":\"1.0\",\"id\":\"f%d\",\"type\":\"vault.upserted\",\"subject\":\"%s\",\"time\":\"2026-11-23T10:00:00Z\",\"data\":{\"tenant\":\"t\",\"region\":\"r\",\"subscription\":\"s\",\"soft_delete\":true,\"purge_protection\":true}}\n", ++e, V
  printf "{\"specversion\":\"1.0\",\"id\":\"f%d\",\"type\":\"key.created\",\"subject\":\"%s/keys/k\",\"time\":\"2026-11-23T10:00:00Z\",\"data\":{\"version\":\"v1\",\"kty\":\"RSA\",\"size\":2048}}\n", ++e, V
  for (i = 0; i < n; i++) {
    printf "{\"specversion\":\"1.0\",\"id\":\"f%d\",\"type\":\"resource.created\",\"subject\":\"%s/a%d\",\"time\":\"2026-11-23T10:00:00Z\",\"data\":{\"kind\":\"Face\",\"tenant\":\"t\",\"region\":\"r\",\"subscription\":\"s\"}}\n", ++e, R, i
    printf "{\"specversion\":\"1.0\",\"id\":\"f%d\",\"type\":\"resource.identity.enabled\",\"subject\":\"%s/a%d\",\"time\":\"2026-11-23T10:00:00Z\",\"data\":{\"principal\":\"mi-%d\",\"tenant\":\"t\"}}\n", ++e, R, i, i
    printf "{\"specversion\":\"1.0\",\"id\":\"f%d\",\"type\":\"vault.access.granted\",\"subject\":\"%s\",\"time\":\"2026-11-23T10:00:00Z\",\"data\":{\"principal\":\"mi-%d\",\"permissions\":[\"get\",\"wrapKey\",\"unwrapKey\"]}}\n", ++e, V, i
    printf "{\"specversion\":\"1.0\",\"id\":\"f%d\",\"type\":\"resource.cmk.enabled\",\"subject\":\"%s/a%d\",\"time\":\"2026-11-23T10:00:00Z\",\"data\":{\"key_uri\":\"%s/keys/k\"}}\n", ++e, R, i, V
  }
}' >setup.jsonl
printf '{"specversion":"1.0","id":"rot","type":"key.rotated","subject":"%s/keys/k","time":"2026-11-23T11:00:00Z","data":{"version":"v2"}}\n' $V >rotate.jsonl
"$CMKGUARD" replay --rules "$ROOT/rules" --state s.db setup.jsonl >/dev/null 2>setup.err || fail "setup: $(tail -1 setup.err)"
echo secret | "$CMKGUARD" data put --state s.db $R/a7 || fail "data put"
cold() { # NAME [ENV]: the rotation replayed into a fresh copy of the state
  rm -f c.db*; cp s.db c.db; cp s.db.mkey c.db.mkey; [ -e s.db-wal ] && cp s.db-wal c.db-wal
  env "${@:2}" "$CMKGUARD" replay --rules "$ROOT/rules" --state c.db rotate.jsonl >"$1.jsonl" 2>"$1.err" || fail "$1 replay"
  cp c.db "$1.db"; cp c.db.mkey "$1.db.mkey"; [ -e c.db-wal ] && cp c.db-wal "$1.db-wal"; true; }
cold parallel
cold single CMKGUARD_FAULT=io:999999999   # fault injection keeps everything on one thread
cmp -s parallel.jsonl single.jsonl && ok "cold rotation: the parallel unwrap gives the same records as one thread" || fail "parallel and single-threaded rotations differ"
n=$(jq -s '[.[].data.actions[]? | select(.op == "rewrap" and .to == "'$V'/keys/k/v2" and (.error // null) == null)] | length' parallel.jsonl)
[ "$n" -eq $N ] && ok "all $N DEKs re-wrapped under v2" || fail "$n of $N re-wrapped"
cat setup.jsonl rotate.jsonl >all.jsonl
"$CMKGUARD" replay --rules "$ROOT/rules" all.jsonl 2>/dev/null | tail -n $((N + 1)) >hot.jsonl
cmp -s <(jq -c '.data | del(.input)' hot.jsonl) <(jq -c '.data | del(.input)' parallel.jsonl) && ok "hot rotation (DEKs held in memory) decides the same" || fail "hot and cold rotations differ"
[ "$("$CMKGUARD" data get --state parallel.db $R/a7)" = secret ] && ok "data reads back under the new version" || fail "data does not read back after the rotation"
done_test
