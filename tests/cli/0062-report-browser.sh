# report: one self-contained HTML page, rendered by a real browser with no network; the
# counts in the rendered DOM are the trail's, computed here from the trail with jq.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/trail.sh"
. "$(dirname "$0")/browser.sh"
cd "$ROOT"
make_trail "$T/trail.jsonl"
for t in "$STORY" "$T/trail.jsonl"; do
  name=$(basename "$t" .jsonl)
  page=$T/$name.html
  expect_rc 0 "$name: report" -- "$CMKGUARD" report --pubkey "$PUB" --out "$page" --as-of 2026-12-01T00:00:00Z "$t"
  # nothing from outside: no remote src/href, no @import, no url() but data:, no script
  if grep -Eio "(src|href)[[:space:]]*=[[:space:]]*[\"']?[a-z]*:?//[^\"' >]*" "$page" \
     || grep -Eio '@import|url\([[:space:]]*["'"'"']?[^d"'"'"' )][^)]*\)' "$page" \
     || grep -Eio '<(script|link|img|iframe|object|embed)[[:space:]>]' "$page"; then
    fail "$name: the page refers to something outside it"
  else ok "$name: the page refers to nothing outside it and has no script"; fi
  browser_dom "$page" >"$T/$name.dom" && [ -s "$T/$name.dom" ] && ok "$name: chromium rendered the page" \
    || { fail "$name: chromium rendered nothing"; tail -5 "$T/chromium.log" >&2; continue; }
  dom_json <"$T/$name.dom" >"$T/$name.json"
  jq -e '.first.in == ["verdict"] and (.first.text | startswith("Verified: "))' "$T/$name.json" >/dev/null \
    && ok "$name: the first visible line says the trail verified" || fail "$name: first line: $(jq -c .first "$T/$name.json")"
  # expected counts, from the trail
  jq -s --argjson ev "$(jq -s "$JQ_EVENTS" "$t")" --argjson pos "$(jq -s "$JQ_POSTURE" "$t")" '
    {events: ($ev | length), records: length, findings: ([.[].data.findings[]?] | length),
     resources: ($pos | length),
     locked: ([$pos[] | select(. != null and .locked)] | length),
     lost: ([$pos[] | select(. != null and .lost)] | length)}
    + ([("allowed", "denied", "rejected", "duplicate", "failed") as $o
        | {key: ("outcome-" + $o), value: ([$ev[] | select(. == $o)] | length)}] | from_entries)
    + ([("low", "medium", "high", "critical") as $s
        | {key: ("severity-" + $s), value: ([.[].data.findings[]? | select(.severity == $s)] | length)}] | from_entries)
    + ([("match", "unknown", "exempted") as $s
        | {key: ("result-" + $s), value: ([.[].data.findings[]? | select(.result == $s)] | length)}] | from_entries)
    | to_entries | sort_by(.key) | from_entries' "$t" >"$T/want.json"
  jq '[.els[].attrs | to_entries[] | select(.key | startswith("data-count-"))
       | {key: (.key | ltrimstr("data-count-")), value: (.value | tonumber)}] | sort_by(.key) | from_entries' \
    "$T/$name.json" >"$T/got.json"
  if cmp -s "$T/want.json" "$T/got.json"; then
    ok "$name: summary counts match the trail ($(jq -c '{events, findings, resources, locked, lost}' "$T/want.json"))"
  else fail "$name: summary counts differ"; diff "$T/want.json" "$T/got.json" >&2; fi
  # findings per rule, in the table and in the time chart
  jq -s -c '[.[].data.findings[]?.rule] | group_by(.) | map({key: .[0], value: length}) | from_entries' "$t" >"$T/want.rules"
  jq -c '[.els[] | select(.tag == "tr" and .attrs["data-rule"])
          | {key: .attrs["data-rule"], value: (.attrs["data-count"] | tonumber)}] | from_entries' \
    "$T/$name.json" >"$T/got.rules"
  jq -e -n --slurpfile a "$T/want.rules" --slurpfile b "$T/got.rules" '$a == $b' >/dev/null \
    && ok "$name: findings per rule match the trail" || { fail "$name: rules"; cat "$T/want.rules" "$T/got.rules" >&2; }
  jq -e --argjson n "$(jq '.findings' "$T/want.json")" \
    '[.els[] | select(.tag == "rect" and .attrs["data-count"]) | .attrs["data-count"] | tonumber] | add == $n' \
    "$T/$name.json" >/dev/null && ok "$name: the bars of the time chart add up to the findings" || fail "$name: time chart"
  jq -e '[.tags.svg, (.els | map(select(.id == "chart-time" or .id == "chart-rules" or .id == "chart-heat")) | length)] == [3, 3]' \
    "$T/$name.json" >/dev/null && ok "$name: three inline SVG charts" || fail "$name: charts"
  # posture: each resource's locked/lost flags and findings
  jq -s -c --argjson pos "$(jq -s "$JQ_POSTURE" "$t")" '. as $all | $pos | to_entries | map(.key as $k | {key: $k,
      value: [(.value != null and .value.locked), (.value != null and .value.lost),
              ([$all[] | .subject as $s | .data.findings[]? | select((.resource // $s) == $k)] | length)]})
      | from_entries' "$t" >"$T/want.posture"
  jq -c '[.els[] | select(.tag == "tr" and .attrs["data-resource"] and .attrs["data-findings"])
          | {key: .attrs["data-resource"], value: [.attrs["data-locked"] == "true", .attrs["data-lost"] == "true",
             (.attrs["data-findings"] | tonumber)]}] | from_entries' "$T/$name.json" >"$T/got.posture"
  jq -e -n --slurpfile a "$T/want.posture" --slurpfile b "$T/got.posture" '$a == $b' >/dev/null \
    && ok "$name: posture per resource (locked, lost, findings) matches the trail" \
    || { fail "$name: posture"; cat "$T/want.posture" "$T/got.posture" >&2; }
done
# markup in ids and messages stays text
J=$T/trail.json
jq -e '(.tags.img // 0) == 0 and (.tags.script // 0) == 0
    and .tags.b == ([.els[] | select(.attrs | keys | any(startswith("data-count-")))] | length)' "$J" >/dev/null \
  && ok "markup from the trail made no element" || fail "markup from the trail became elements: $(jq -c .tags "$J")"
jq -e '[.els[] | select(.attrs["data-finding"]) | .text] | any(contains("<script>alert(1)</script> & co"))
    and any(contains("(F12) <b>bold</b>"))' "$J" >/dev/null \
  && ok "messages with markup read back as text" || fail "messages with markup are not shown as text"
jq -e --argjson n "$(jq -s '[.[].data.findings[]?] | length' "$T/trail.jsonl")" \
  '[.els[] | select(.attrs["data-finding"])] | length == $n' "$J" >/dev/null \
  && ok "every finding listed with its message" || fail "latest findings"
grep -q 'cs-e&quot;&gt;&lt;img src=x onerror=alert(2)&gt;' "$T/trail.html" && ok "an id with markup is escaped" \
  || fail "the id with markup is not escaped as expected"
jq -e '[.els[] | select(.attrs["data-resource"]) | .attrs["data-resource"]] | any(endswith("cs-e\"><img src=x onerror=alert(2)>"))' \
  "$J" >/dev/null && ok "and reads back whole in the DOM" || fail "the id with markup did not survive"
jq -e '[.els[] | select(.attrs["data-rule"] == "CMK-REGION")][0].text
    | contains("MCSB v1 DP-5; CIS Microsoft Azure Foundations Benchmark v2.1.0 8.3.9") and ([scan("DP-5")] | length == 1)' \
  "$J" >/dev/null && ok "a rule's compliance controls, each once" || fail "controls of CMK-REGION"
# exemptions in the trail
jq -e '[.els[] | select(.attrs["data-exemption"])] | length == 1 and .[0].attrs["data-exemption"] == "EX-2026-014"
    and .[0].attrs["data-count"] == "2" and .[0].attrs["data-expiry"] == "unknown"' "$J" >/dev/null \
  && ok "the exemption in force, with the findings it held back" || fail "exemptions: $(jq -c '[.els[] | select(.attrs["data-exemption"])]' "$J")"
# two chains, each verified
jq -e '[.els[] | select(.attrs["data-chain"]) | [.attrs["data-chain"], .attrs["data-verified"]]] == [["main", "true"], ["eu", "true"]]' \
  "$J" >/dev/null && ok "each chain's verification result" || fail "chains"
# a screenshot, kept under build/
mkdir -p "$ROOT/build"
browser_shot "$T/trail.html" "$ROOT/build/report.png"
[ "$(head -c 8 "$ROOT/build/report.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] \
  && ok "screenshot saved as build/report.png" || fail "no PNG screenshot"
# usage
expect_rc 2 "no --out is a usage error" -- "$CMKGUARD" report --pubkey "$PUB" "$STORY"
expect_rc 2 "no AUDIT file is a usage error" -- "$CMKGUARD" report --pubkey "$PUB" --out "$T/x.html"
expect_rc 2 "a bad --as-of is a usage error" -- "$CMKGUARD" report --pubkey "$PUB" --out "$T/x.html" --as-of yesterday "$STORY"
done_test
