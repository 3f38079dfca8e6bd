# The README's five-minute walkthrough, step by step, with what it promises checked.
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
W=examples/walkthrough
RES=/subscriptions/sub-app/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/my-safety
"$CMKGUARD" audit keygen --out "$T/audit" >/dev/null || fail "keygen"
rep() { "$CMKGUARD" replay --rules rules --state "$T/cmk.db" --sign-key "$T/audit.key" "$W/$1" 2>/dev/null; }
rep 01-vault-and-key.jsonl >"$T/audit.jsonl" || fail "step 2"
rep 02-enable-cmk.jsonl >>"$T/audit.jsonl" || fail "step 3"
jq -s -e '.[4].data.outcome=="denied" and .[4].data.findings[0].rule=="CMK-ACCESS" and .[6].data.outcome=="allowed" and .[6].data.actions[0].op=="rewrap" and (.[6].data.actions[0].to|endswith("/data-key/v1"))' "$T/audit.jsonl" >/dev/null \
  && ok "CMK denied without access, then re-wrapped to v1" || fail "step 3 records"
echo "my blocklist terms" | "$CMKGUARD" data put --state "$T/cmk.db" $RES || fail "data put"
before=$("$CMKGUARD" data get --state "$T/cmk.db" --sealed $RES | sha256sum)
rep 03-rotate.jsonl >>"$T/audit.jsonl" || fail "step 4"
after=$("$CMKGUARD" data get --state "$T/cmk.db" --sealed $RES | sha256sum)
[ "$before" = "$after" ] && ok "rotation leaves the sealed bytes alone" || fail "sealed bytes changed"
tail -1 "$T/audit.jsonl" | jq -e '.data.actions[0].op=="rewrap" and (.data.actions[0].to|endswith("/v2"))' >/dev/null && ok "rotation re-wraps to v2" || fail "rotation record"
rep 04-revoke.jsonl >>"$T/audit.jsonl" || fail "step 5"
expect_rc 1 "revoked: data access refused" -- "$CMKGUARD" data get --state "$T/cmk.db" $RES
expect_err "my-safety: locked: data access refused \\(access-missing:get,wrapKey,unwrapKey\\)" "refusal as the README shows"
expect_rc 0 "the trail of four runs verifies as one chain" -- "$CMKGUARD" audit verify --pubkey "$T/audit.pub" "$T/audit.jsonl"
sed -i '3s/"allowed"/"denied"/' "$T/audit.jsonl"
expect_rc 1 "an edited record fails" -- "$CMKGUARD" audit verify --pubkey "$T/audit.pub" "$T/audit.jsonl"
expect_err "audit.jsonl:3: seq 3: hash mismatch" "as the README shows"
# step 7: the report says the edit first; undone, report and export go through
expect_rc 1 "a report on the edited trail exits 1" -- "$CMKGUARD" report --pubkey "$T/audit.pub" --out "$T/report.html" "$T/audit.jsonl"
grep -qE '<h1 id="verdict"[^>]*>Verification FAILED: [^<]*audit.jsonl:3: seq 3: hash mismatch' "$T/report.html" \
  && ok "its first line says verification FAILED at line 3" || fail "the report's first line"
sed -i '3s/"denied"/"allowed"/' "$T/audit.jsonl"
expect_rc 0 "the edit undone, a report with the state" -- "$CMKGUARD" report --pubkey "$T/audit.pub" --state "$T/cmk.db" --out "$T/report.html" "$T/audit.jsonl"
grep -qE '<h1 id="verdict"[^>]*>Verified: ' "$T/report.html" && ok "the report says the trail verified" || fail "report after the undo"
[ "$("$CMKGUARD" audit export --format ocsf --pubkey "$T/audit.pub" "$T/audit.jsonl" | jq -c '[.finding_info.uid, .severity, .compliance.status]')" \
  = '["main:5/1/CMK-ACCESS","High","Fail"]' ] && ok "the export as the README shows" || fail "export"
done_test
