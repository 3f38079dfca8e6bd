# report on a trail that fails verification: exit 1, and a page whose first visible
# line says verification FAILED naming the record, with nothing drawn from the trail.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/trail.sh"
. "$(dirname "$0")/browser.sh"
cd "$ROOT"
report() { "$CMKGUARD" report --pubkey "$PUB" --out "$T/page.html" --as-of 2026-12-01T00:00:00Z "$@"; }
check_failed_page() { # WHAT PATTERN: the rendered page says FAILED, names the record, and nothing else
  local what=$1 pat=$2
  [ -s "$T/page.html" ] || { fail "$what: no page written"; return; }
  browser_dom "$T/page.html" >"$T/page.dom" || { fail "$what: chromium"; return; }
  dom_json <"$T/page.dom" >"$T/page.json"
  jq -e --arg p "$pat" '.first.in == ["verdict"] and (.first.text | startswith("Verification FAILED: "))
      and (.first.text | test($p))' "$T/page.json" >/dev/null \
    && ok "$what: the first visible line says verification FAILED and names the record" \
    || fail "$what: first line: $(jq -c .first "$T/page.json")"
  jq -e '[.els[] | select(.id == "verdict")][0].attrs["data-verified"] == "false"
      and ([.els[] | select(.id == "summary" or .id == "posture" or .id == "findings" or .id == "exemptions")] | length == 0)
      and ([.els[].attrs | keys[] | select(startswith("data-count-") or . == "data-resource" or . == "data-finding")] | length == 0)
      and (.tags.svg // 0) == 0' "$T/page.json" >/dev/null \
    && ok "$what: no counts, posture, findings or charts from an unverified trail" \
    || fail "$what: the page shows content from the trail"
  grep -q '<title>cmkguard compliance report: verification FAILED</title>' "$T/page.html" \
    && ok "$what: the title says so too" || fail "$what: title"
}
# a flipped byte
n=$(grep -n '"CMK-CROSS-TENANT-MOVE"' "$STORY" | head -1 | cut -d: -f1)
sed "${n}s/\"severity\":\"critical\"/\"severity\":\"low\"/" "$STORY" >"$T/flip.jsonl"
expect_rc 1 "an altered record: exit 1" -- report "$T/flip.jsonl"
expect_err "flip.jsonl:$n: seq $n: hash mismatch" "stderr names the record"
check_failed_page "altered record" "flip\\.jsonl:$n: seq $n: hash mismatch"
jq -e --arg n "$n" '[.els[] | select(.attrs["data-chain"])] | length == 1 and .[0].attrs["data-verified"] == "false"' \
  "$T/page.json" >/dev/null && ok "the chain is shown as FAILED" || fail "chain row"
# a dropped record
sed '20d' "$STORY" >"$T/drop.jsonl"
expect_rc 1 "a dropped record: exit 1" -- report "$T/drop.jsonl"
check_failed_page "dropped record" "drop\\.jsonl:20: seq 21: seq 21 follows seq 19"
# an unsigned tail, known only at the end
"$CMKGUARD" replay --rules rules --sign-key "$KEY" --checkpoint 10 examples/story.jsonl 2>/dev/null | head -n 65 >"$T/cut.jsonl"
expect_rc 1 "an unsigned tail: exit 1" -- report "$T/cut.jsonl"
check_failed_page "unsigned tail" "records seq 61\\.\\.65 of chain 'main' are not signed"
jq -e '[.els[] | select(.attrs["data-chain"]) | .attrs["data-verified"]] == ["false"]' "$T/page.json" >/dev/null \
  && ok "the chain with the unsigned tail is marked FAILED" || fail "unsigned tail chain row"
# the second chain of the fixture trail altered
make_trail "$T/trail.jsonl"
sed 's/"resource.identity.disabled"/"resource.identity.enabled"/' "$T/trail.jsonl" >"$T/eu.jsonl"
n=$(grep -n '"resource.identity.enabled"' "$T/eu.jsonl" | cut -d: -f1)
expect_rc 1 "an altered record of a second chain: exit 1" -- report "$T/eu.jsonl"
check_failed_page "second chain" "eu\\.jsonl:$n: seq 2: hash mismatch"
jq -e '[.els[] | select(.attrs["data-chain"]) | [.attrs["data-chain"], .attrs["data-verified"]]] == [["main", "true"], ["eu", "false"]]' \
  "$T/page.json" >/dev/null && ok "the chain that failed is the one marked FAILED" || fail "chain rows: $(jq -c '[.els[] | select(.attrs["data-chain"]) | .attrs]' "$T/page.json")"
# the wrong key
"$CMKGUARD" audit keygen --out "$T/other" >/dev/null
expect_rc 1 "the wrong key: exit 1" -- "$CMKGUARD" report --pubkey "$T/other.pub" --out "$T/page.html" "$STORY"
check_failed_page "wrong key" "story\\.audit\\.jsonl:1: seq 1: signed by key"
# an input that cannot be read writes no page
rm -f "$T/page.html"
expect_rc 2 "a missing input: exit 2" -- report "$T/nope.jsonl"
[ ! -e "$T/page.html" ] && ok "and no page" || fail "a page was written for a missing input"
done_test
