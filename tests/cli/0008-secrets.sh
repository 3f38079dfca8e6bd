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
# Plaintext DEKs: every DEK wrapped under the service master key (data keys of resources
# off CMK, Face service layers, blocklist keys) is recovered from the store here with the
# master key and the openssl tool, then looked for in everything cmkguard wrote.
unwrap() { printf '%s' "$1" | perl -pe 's/(..)/chr(hex($1))/ge' >w.bin &&
  openssl enc -d -id-aes256-wrap -K "$mk" -iv A6A6A6A6A6A6A6A6 -in w.bin -out p.bin 2>/dev/null &&
  od -An -tx1 p.bin | tr -d ' \n'; }
deks=()
while IFS='|' read -r ref wdek wsvc wblk; do
  [ "$ref" = mmk ] && [ -n "$wdek" ] && deks+=("$(unwrap "$wdek")")
  [ -n "$wsvc" ] && deks+=("$(unwrap "$wsvc")")
  [ -n "$wblk" ] && deks+=("$(unwrap "$wblk")")
done < <(sqlite3 s.db "SELECT json_extract(doc,'\$.wrap_ref'), json_extract(doc,'\$.wdek'),
  json_extract(doc,'\$.wsvc'), json_extract(doc,'\$.wblk') FROM resources")
good=0; for d in "${deks[@]}"; do [ ${#d} -eq 64 ] && good=$((good + 1)); done
[ "$good" -ge 5 ] && [ "$good" -eq ${#deks[@]} ] && ok "recovered $good plaintext DEKs from the store to look for" || fail "recovered $good of ${#deks[@]} DEKs"
store_hex=$(sqlite_dump | od -An -tx1 | tr -d ' \n')
leaks=0
for d in "${deks[@]}"; do
  b64=$(printf '%s' "$d" | perl -pe 's/(..)/chr(hex($1))/ge' | base64 -w0)
  for f in audit.jsonl log.txt show.json; do
    if grep -qiF "$d" $f || grep -qF "$b64" $f; then leaks=$((leaks + 1)); echo "  DEK in $f" >&2; fi
  done
  { printf '%s' "$store_hex" | grep -qF "$d" || sqlite_dump | grep -aqiF -e "$d" -e "$b64"; } && { leaks=$((leaks + 1)); echo "  DEK in the store" >&2; }
done
[ "$leaks" -eq 0 ] && ok "no plaintext DEK in the records, the logs, state show or the store (raw, hex, base64)" || fail "$leaks plaintext DEK occurrence(s)"
# Key files are created 0600.
"$CMKGUARD" audit keygen --out k >/dev/null 2>&1
[ "$(stat -c %a k.key)" = 600 ] && ok "audit keygen: the private key is 0600" || fail "k.key mode $(stat -c %a k.key)"
[ "$(stat -c %a s.db.mkey)" = 600 ] && ok "the service master key is 0600" || fail "s.db.mkey mode $(stat -c %a s.db.mkey)"
# A missing master key: a clear error, nothing decrypted, and no new key made in its place.
mv s.db.mkey saved.mkey
expect_rc 3 "data get without the master key fails" -- "$CMKGUARD" data get --state s.db $R
expect_err "master key of this state is missing" "it says the master key is missing"
[ ! -s "$T/out" ] && ok "nothing was decrypted" || fail "plaintext came out without the master key"
[ ! -e s.db.mkey ] && ok "no new master key was made in its place" || fail "a new master key replaced the missing one"
expect_rc 3 "replay into the state without its master key fails" -- "$CMKGUARD" replay --state s.db story.jsonl
# A wrong master key: the same.
head -c 32 /dev/urandom >s.db.mkey; chmod 600 s.db.mkey
expect_rc 3 "data get with a wrong master key fails" -- "$CMKGUARD" data get --state s.db $R
expect_err "not the service master key" "it says the master key is wrong"
grep -q "$marker" "$T/out" && fail "plaintext came out under a wrong master key" || ok "nothing was decrypted"
mv saved.mkey s.db.mkey
"$CMKGUARD" data get --state s.db $R >back.txt 2>/dev/null && [ "$(cat back.txt)" = "$marker" ] && ok "with the right key the data reads back" || fail "data does not read back"
done_test
