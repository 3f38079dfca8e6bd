# After a full scenario, no secret appears in the audit trail, the logs or the store.
. "$(dirname "$0")/lib.sh"
cd "$T"
cp "$ROOT/examples/story.jsonl" story.jsonl
"$CMKGUARD" replay --rules "$ROOT/rules" --state s.db --sign-key "$ROOT/tests/golden/test-signing.key" story.jsonl >audit.jsonl 2>log.txt || fail "replay"
R=/subscriptions/sub-app/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/cs-dev
marker="PLAINTEXT-MARKER-$$-$(date +%s%N)"
printf '%s' "$marker" | "$CMKGUARD" data put --state s.db $R 2>>log.txt || fail "put"
"$CMKGUARD" state show --state s.db >show.json 2>>log.txt
sqlite_dump() { cat s.db s.db-wal 2>/dev/null; }
for f in audit.jsonl log.txt show.json; do
  grep -q "$marker" $f && fail "$f holds plaintext data" || ok "$f: no plaintext data"
  grep -qE 'PRIVATE KEY|BEGIN ' $f && fail "$f holds a PEM key" || ok "$f: no PEM key"
done
sqlite_dump | grep -aq "$marker" && fail "the store holds plaintext data" || ok "store: no plaintext data"
# The master key must not appear anywhere but its own file.
mk=$(od -An -tx1 s.db.mkey | tr -d ' \n')
for f in audit.jsonl log.txt show.json; do grep -q "$mk" $f && fail "$f holds the master key"; done
sqlite_dump | od -An -tx1 | tr -d ' \n' | grep -q "$mk" && fail "store holds the master key" || ok "master key only in its own file"
# Private key material in the store is sealed: no DER RSA private key header (30 82 .. .. 02 01 00).
sqlite3_hex=$(sqlite_dump | od -An -tx1 | tr -d ' \n')
{ printf '%s' "$sqlite3_hex"; sqlite_dump | tr -cd '0-9a-f'; } | grep -qE '3082[0-9a-f]{4}020100300d06092a864886f70d010101' && fail "an unsealed PKCS#8 RSA key in the store" || ok "no unsealed private key in the store, raw or hex"
done_test
