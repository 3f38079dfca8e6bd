# The physics without any rule: purge without protection loses data, deleted
# resources are shredded, a denied or failed change leaves state as it was.
. "$(dirname "$0")/lib.sh"
cd "$T"
R=/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts
V=https://kvw.vault.azure.net
K=$V/keys/k
n=0
ev() { n=$((n + 1)); printf '{"specversion":"1.0","id":"p-%d","type":"%s","subject":"%s","time":"2026-11-02T10:00:%02dZ","data":%s}\n' $n "$1" "$2" $n "$3"; }
{
  ev vault.upserted $V '{"tenant":"t1","region":"we","subscription":"s","soft_delete":false,"purge_protection":false}'
  ev key.created $K '{"version":"v1","kty":"RSA","size":2048}'
  ev resource.created $R/r '{"kind":"ContentSafety","tenant":"t1","region":"we","subscription":"s1"}'
  ev resource.identity.enabled $R/r '{"principal":"mi","tenant":"t1"}'
  ev vault.access.granted $V '{"principal":"mi","permissions":["get","wrapKey","unwrapKey"]}'
  ev resource.cmk.enabled $R/r '{"key_uri":"'$K'"}'
} >a.jsonl
"$CMKGUARD" replay --state s.db a.jsonl >/dev/null 2>&1 || fail "setup"
printf 'payload' | "$CMKGUARD" data put --state s.db $R/r || fail "put"
n=10
{ ev key.deleted $K '{}'              # no soft delete: the key is gone for good (F15)
  ev resource.cmk.disabled $R/r '{}'  # cannot unwrap any more: failed, nothing changes
  ev resource.deleted $R/r '{}'
} >b.jsonl
expect_rc 0 "replay" -- "$CMKGUARD" replay --state s.db b.jsonl
cp "$T/out" b.out
sed -n 2p b.out | jq -e '.data.actions[0].op=="shred" and .data.state.lost and .data.state.locked and .data.state.lock_reasons==["key-destroyed"]' >/dev/null && ok "deleting a key without soft delete shreds and loses the data" || fail "lost: $(sed -n 2p b.out)"
sed -n 3p b.out | jq -e '.data.outcome=="failed" and .data.state.key_source=="cmk" and (.data.reason|test("destroyed"))' >/dev/null && ok "disabling CMK on a lost resource fails and changes nothing" || fail "failed: $(sed -n 3p b.out)"
sed -n 4p b.out | jq -e '.data.outcome=="allowed" and .data.actions[0].op=="shred" and .data.state==null' >/dev/null && ok "resource.deleted shreds" || fail "delete: $(sed -n 4p b.out)"
expect_rc 1 "data of a deleted resource is gone" -- "$CMKGUARD" data get --state s.db $R/r
# the chain continued from the first run: seq goes on
first=$(head -1 b.out | jq .seq)
[ "$first" = 7 ] && ok "the chain continues across runs of one state ($first)" || fail "seq $first"
done_test
