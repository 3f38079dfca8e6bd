# audit verify accepts an intact chain and names the first bad record otherwise.
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
G=tests/golden/story.audit.jsonl
P=tests/golden/test-signing.pub
expect_rc 0 "intact chain verifies" -- "$CMKGUARD" audit verify --pubkey $P $G
grep -q '"verified":true' "$T/out" && ok "summary on stdout" || fail "no summary"
expect_rc 0 "verify reads stdin" -- sh -c "\"$CMKGUARD\" audit verify --pubkey $P < $G"
# a flipped byte inside record 12
sed '12s/"outcome":"allowed"/"outcome":"allowes"/' $G >"$T/flip.jsonl"
expect_rc 1 "flipped byte fails" -- "$CMKGUARD" audit verify --pubkey $P "$T/flip.jsonl"
expect_err "flip.jsonl:12: seq 12: hash mismatch" "flipped byte named by line and seq"
# a dropped record
sed '20d' $G >"$T/drop.jsonl"
expect_rc 1 "dropped record fails" -- "$CMKGUARD" audit verify --pubkey $P "$T/drop.jsonl"
expect_err "drop.jsonl:20: seq 21: seq 21 follows seq 19" "dropped record named"
# two records swapped
awk 'NR==30{h=$0;next} {print} NR==31{print h}' $G >"$T/swap.jsonl"
expect_rc 1 "reordered records fail" -- "$CMKGUARD" audit verify --pubkey $P "$T/swap.jsonl"
expect_err "swap.jsonl:30: seq 31" "reordered record named"
# a record re-hashed after editing still breaks the chain or the signature
python3 - "$G" "$T/rehash.jsonl" <<'PY' 2>/dev/null || cp "$G" "$T/rehash.jsonl"
import hashlib, json, sys
lines = open(sys.argv[1]).read().splitlines()
r = json.loads(lines[4]); r["data"]["outcome"] = "denied"
body = {k: v for k, v in r.items() if k not in ("hash", "sig")}
r["hash"] = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
lines[4] = json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PY
expect_rc 1 "edited and re-hashed record fails" -- "$CMKGUARD" audit verify --pubkey $P "$T/rehash.jsonl"
expect_err "rehash.jsonl:5: seq 5: bad signature" "re-hashed record caught by its signature"
# the wrong key
"$CMKGUARD" audit keygen --out "$T/other" >/dev/null
expect_rc 1 "wrong key fails" -- "$CMKGUARD" audit verify --pubkey "$T/other.pub" $G
expect_err "seq 1: signed by key [0-9a-f]{16}, not by the given key" "wrong key named"
# unsigned records at the end (checkpoint mode cut short)
"$CMKGUARD" replay --rules rules --sign-key tests/golden/test-signing.key --checkpoint 10 examples/story.jsonl 2>/dev/null >"$T/cp.jsonl"
expect_rc 0 "checkpointed chain verifies" -- "$CMKGUARD" audit verify --pubkey $P "$T/cp.jsonl"
signed=$(grep -c '"sig"' "$T/cp.jsonl")
total=$(wc -l <"$T/cp.jsonl")
[ "$signed" -eq $((total / 10 + 1)) ] && ok "checkpoint mode signs every 10th record and the checkpoint ($signed of $total)" || fail "signed $signed of $total"
tail -1 "$T/cp.jsonl" | jq -e '.type=="cmkguard.audit.checkpoint" and .data.last_seq==(.seq-1)' >/dev/null && ok "final checkpoint record" || fail "no final checkpoint"
head -n 65 "$T/cp.jsonl" >"$T/cut.jsonl"
expect_rc 1 "unsigned tail fails" -- "$CMKGUARD" audit verify --pubkey $P "$T/cut.jsonl"
expect_err "records seq 61..65 of chain 'main' are not signed" "unsigned tail named"
# unsigned replay cannot pass as signed
"$CMKGUARD" replay --rules rules examples/story.jsonl 2>/dev/null >"$T/plain.jsonl"
expect_rc 1 "an unsigned chain does not verify" -- "$CMKGUARD" audit verify --pubkey $P "$T/plain.jsonl"
printf 'not json\n' >"$T/junk.jsonl"
expect_rc 1 "garbage fails" -- "$CMKGUARD" audit verify --pubkey $P "$T/junk.jsonl"
expect_err "junk.jsonl:1: not a JSON object" "garbage named"
expect_rc 2 "a missing public key is a usage error" -- "$CMKGUARD" audit verify --pubkey "$T/nope.pub" $G
done_test
