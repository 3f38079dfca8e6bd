# The state file is not trusted storage (SPEC §3a). Editing a lock away, moving,
# removing or swapping a record for an older copy of itself, and random damage are all
# refused with exit 3 (nothing decrypted, nothing printed); `state verify` names every
# bad record; an older build's state is refused until `state migrate` upgrades it.
. "$(dirname "$0")/lib.sh"
cd "$T"
R=/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts
V=https://kv1.vault.azure.net
K=$V/keys/cmk1
n=0
ev() { n=$((n + 1)); printf '{"specversion":"1.0","id":"%s-%d","source":"test","type":"%s","subject":"%s","time":"2026-11-02T10:00:%02dZ","data":%s}\n' "$RUN" $n "$1" "$2" $n "$3"; }
RUN=a
{
  cmk_estate
  ev resource.cmk.enabled $R/cs '{"key_uri":"'$K'"}'
  ev resource.cmk.enabled $R/face '{"key_uri":"'$K'/v1"}'
} >setup.jsonl
RUN=b
ev vault.access.revoked $V '{"principal":"mi-cs"}' >revoke.jsonl
DB=s.db
secret="plaintext-$(date +%s%N)"
"$CMKGUARD" replay --rules "$ROOT/rules" --state $DB setup.jsonl >/dev/null || fail "setup"
printf '%s' "$secret" | "$CMKGUARD" data put --state $DB $R/cs || fail "data put"
printf 'face-%s' "$secret" | "$CMKGUARD" data put --state $DB $R/face || fail "data put face"
cp $DB before.db; cp $DB.mkey before.db.mkey
"$CMKGUARD" replay --rules "$ROOT/rules" --state $DB revoke.jsonl >/dev/null || fail "revoke"
expect_rc 1 "the revoked resource is locked" -- "$CMKGUARD" data get --state $DB $R/cs
expect_rc 0 "a fresh state verifies" -- "$CMKGUARD" state verify --state $DB
jq -e '.verified and .bad == 0' "$T/out" >/dev/null && ok "verify reports no bad record" || fail "verify: $(cat "$T/out")"
[ ! -s $DB-wal ] && ok "the state is checkpointed on close" || fail "a WAL file is left behind"

fresh() { cp $DB "$1"; cp $DB.mkey "$1.mkey"; }
no_plaintext() { grep -q "$secret" "$T/out" && fail "$1: plaintext printed" || ok "$1: no plaintext"; }

# 1. The lock edited away with the sqlite3 shell, without the master key.
fresh edit.db
sqlite3 edit.db "UPDATE resources SET doc = replace(replace(doc, '\"locked\":true', '\"locked\":false'), '\"reasons\":[\"access-missing:get,wrapKey,unwrapKey\"]', '\"reasons\":[]') WHERE id = '$R/cs'"
[ "$(sqlite3 edit.db "SELECT instr(doc, '\"locked\":false') > 0 FROM resources WHERE id = '$R/cs'")" = 1 ] \
  && ok "the edit took (the document now says unlocked)" || fail "the edit did not apply"
expect_rc 3 "data get on the edited state is refused" -- "$CMKGUARD" data get --state edit.db $R/cs
expect_err "resources record '$R/cs' fails its authentication check" "the refusal names the table and id"
no_plaintext "edited lock"
expect_rc 3 "state show on the edited state is refused" -- "$CMKGUARD" state show --state edit.db
expect_rc 3 "replay into the edited state is refused" -- "$CMKGUARD" replay --state edit.db revoke.jsonl
expect_rc 1 "state verify fails on the edited state" -- "$CMKGUARD" state verify --state edit.db
expect_err "resources record '$R/cs'" "verify names the bad record"
jq -e '.verified == false and .bad >= 1' "$T/out" >/dev/null && ok "verify reports it" || fail "verify out: $(cat "$T/out")"

# 2. The document swapped for an older copy of itself (a valid MAC of its own).
fresh swap.db
sqlite3 swap.db "ATTACH 'before.db' AS old; UPDATE resources SET doc = (SELECT doc FROM old.resources WHERE id = '$R/cs'), ver = (SELECT ver FROM old.resources WHERE id = '$R/cs'), mac = (SELECT mac FROM old.resources WHERE id = '$R/cs') WHERE id = '$R/cs'"
expect_rc 3 "an older copy of a document is refused" -- "$CMKGUARD" data get --state swap.db $R/cs
expect_err "do not match its state head" "the refusal says the records do not match the head"
no_plaintext "swapped document"

# 3. A document moved to another id, and one removed.
fresh move.db
sqlite3 move.db "UPDATE resources SET doc = (SELECT doc FROM resources WHERE id = '$R/face'), mac = (SELECT mac FROM resources WHERE id = '$R/face'), ver = (SELECT ver FROM resources WHERE id = '$R/face') WHERE id = '$R/cs'"
expect_rc 3 "a document moved to another id is refused" -- "$CMKGUARD" data get --state move.db $R/cs
no_plaintext "moved document"
fresh del.db
sqlite3 del.db "DELETE FROM acl"
expect_rc 3 "removed rows are refused" -- "$CMKGUARD" state show --state del.db
fresh data.db
sqlite3 data.db "UPDATE data SET resource = '$R/cs' WHERE resource = '$R/face'" 2>/dev/null
sqlite3 data.db "DELETE FROM data WHERE resource = '$R/cs'; INSERT INTO data SELECT '$R/cs', class, sealed, ver, mac FROM (SELECT * FROM data) WHERE resource = '$R/face'"
expect_rc 3 "sealed data moved to another resource is refused" -- "$CMKGUARD" data get --state data.db $R/cs
fresh head.db
sqlite3 head.db "DELETE FROM head"
expect_rc 3 "a missing state head is refused" -- "$CMKGUARD" state show --state head.db
expect_err "has no state head" "names the missing head"

# 4. A whole older copy beside a newer trail: refused, trail untouched (see also 0040).
KEY=$ROOT/tests/golden/test-signing.key
"$CMKGUARD" replay --state t.db --sign-key "$KEY" --out trail.jsonl setup.jsonl >/dev/null || fail "trail setup"
cp t.db t0.db; cp t.db.mkey t0.db.mkey
"$CMKGUARD" replay --state t.db --sign-key "$KEY" --out trail.jsonl revoke.jsonl >/dev/null || fail "trail revoke"
cp trail.jsonl trail.0
expect_rc 3 "a rolled-back state is refused beside its newer trail" -- "$CMKGUARD" replay --state t0.db --sign-key "$KEY" --out trail.jsonl revoke.jsonl
cmp -s trail.jsonl trail.0 && ok "the trail is byte-identical afterwards" || fail "the trail changed"

# 5. Random single-bit damage: every flip is refused, or harmless (verifies and reads the same).
SEED=${SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
echo "bit-flip seed: $SEED (rerun with SEED=$SEED)"
RANDOM=$SEED
FLIPS=${FLIPS:-500}
"$CMKGUARD" state show --state $DB >show.0
"$CMKGUARD" data get --state $DB $R/face >face.0 2>/dev/null
size=$(stat -c %s $DB)
refused=0 harmless=0 silent=0
for i in $(seq 1 "$FLIPS"); do
  cp $DB f.db; cp $DB.mkey f.db.mkey
  off=$(( (RANDOM * 32768 + RANDOM) % size )); bit=$((RANDOM % 8))
  byte=$(od -An -tu1 -j "$off" -N1 f.db | tr -d ' ')
  printf "\\$(printf %03o $((byte ^ (1 << bit))))" | dd of=f.db bs=1 seek="$off" conv=notrunc status=none
  if "$CMKGUARD" state verify --state f.db >/dev/null 2>&1; then
    "$CMKGUARD" state show --state f.db >show.f 2>/dev/null; s=$?
    "$CMKGUARD" data get --state f.db $R/face >face.f 2>/dev/null; d=$?
    if [ $s -eq 0 ] && [ $d -eq 0 ] && cmp -s show.0 show.f && cmp -s face.0 face.f; then
      harmless=$((harmless + 1))
    elif { [ $s -eq 0 ] && ! cmp -s show.0 show.f; } || { [ $d -eq 0 ] && ! cmp -s face.0 face.f; }; then
      silent=$((silent + 1)); echo "flip $i (byte $off bit $bit): verified, and read as other state" >&2
    else
      refused=$((refused + 1)) # verified, yet the read itself refused it
    fi
  else
    refused=$((refused + 1))
    "$CMKGUARD" data get --state f.db $R/cs >face.f 2>/dev/null
    grep -q "$secret" face.f && { silent=$((silent + 1)); echo "flip $i: refused by verify, yet data get printed plaintext" >&2; }
  fi
done
echo "flips: $refused refused, $harmless harmless, $silent misread"
[ "$silent" -eq 0 ] && ok "no flip of $FLIPS was read silently as other state" || fail "$silent flips misread (seed $SEED)"
[ "$refused" -gt 0 ] && ok "$refused flips were refused" || fail "no flip was refused: the walk did not reach the records"

# 6. An older build's state: refused until migrated, then reads as it did.
cp "$ROOT/tests/fixtures/old-state/state.db" old.db
cp "$ROOT/tests/fixtures/old-state/state.db.mkey" old.db.mkey; chmod 600 old.db.mkey
OR=/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts
expect_rc 3 "an older build's state is refused" -- "$CMKGUARD" state show --state old.db
expect_err "state migrate --state old.db" "the refusal names the command that upgrades it"
expect_rc 3 "data get on it is refused too" -- "$CMKGUARD" data get --state old.db $OR/cs
expect_rc 0 "state migrate upgrades it" -- "$CMKGUARD" state migrate --state old.db
expect_rc 0 "the migrated state verifies" -- "$CMKGUARD" state verify --state old.db
expect_rc 0 "the migrated state shows" -- "$CMKGUARD" state show --state old.db
jq -S . "$T/out" >show.mig; jq -S . "$ROOT/tests/fixtures/old-state/show.json" >show.old
cmp -s show.mig show.old && ok "it shows what the older build showed" || fail "migrated state shows differently"
expect_rc 1 "its locked resource stays locked" -- "$CMKGUARD" data get --state old.db $OR/cs
printf '{"specversion":"1.0","id":"c-1","source":"test","type":"vault.access.granted","subject":"%s","time":"2026-11-02T12:00:00Z","data":{"principal":"mi-cs","permissions":["get","wrapKey","unwrapKey"]}}\n' "$V" >grant.jsonl
expect_rc 0 "the migrated state takes new events" -- "$CMKGUARD" replay --rules "$ROOT/rules" --state old.db grant.jsonl
[ "$("$CMKGUARD" data get --state old.db $OR/cs)" = secret-cs ] && ok "its data reads back after the re-grant" || fail "data after migrate"
expect_rc 0 "a second migrate changes nothing" -- "$CMKGUARD" state migrate --state old.db
grep -q "already at format 3" "$T/out" && ok "it says the state is current" || fail "second migrate: $(cat "$T/out")"
done_test
