# audit export --format ocsf: one OCSF 1.3.0 Compliance Finding per finding of a verified
# trail, with the attributes class 2003 requires, severities and statuses mapped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/trail.sh"
cd "$ROOT"
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null || fail "python3-jsonschema is missing (scripts/deps.sh installs it)"
make_trail "$T/trail.jsonl"
for t in "$STORY" "$T/trail.jsonl"; do
  name=$(basename "$t")
  expect_rc 0 "$name: export" -- "$CMKGUARD" audit export --format ocsf --pubkey "$PUB" "$t"
  cp "$T/out" "$T/$name.ocsf"
  want=$(jq -s '[.[].data.findings[]?] | length' "$t")
  got=$(wc -l <"$T/$name.ocsf")
  [ "$want" -gt 0 ] && [ "$got" -eq "$want" ] && ok "$name: one OCSF event per finding ($got)" \
    || fail "$name: $got OCSF events for $want findings"
  if /usr/bin/python3 tests/cli/ocsf-validate.py "$SCHEMA" <"$T/$name.ocsf" >"$T/schema.log"; then
    ok "$name: every event has the attributes class 2003 requires"
  else fail "$name: schema"; sed 's/^/  | /' "$T/schema.log" >&2; fi
  # the mapping, finding by finding, in trail order
  jq -c '. as $r | .data.findings[]? | [$r.hash, $r.seq, .rule,
         ({"low":2,"medium":3,"high":4,"critical":5}[.severity]),
         ({"match":3,"unknown":2,"exempted":3}[.result]),
         (if .result == "exempted" then 3 else 1 end),
         ([.compliance[]?.standard] | unique | if length == 0 then ["cmkguard rules"] else . end),
         (.resource // $r.subject)]' "$t" >"$T/want.map"
  jq -c '[.metadata.correlation_uid, .metadata.sequence, .compliance.control, .severity_id,
          .compliance.status_id, .status_id, (.compliance.standards | unique), .resources[0].uid]' \
    "$T/$name.ocsf" >"$T/got.map"
  if cmp -s "$T/want.map" "$T/got.map"; then
    ok "$name: record hash, seq, rule, severity, statuses, standards and resource map as documented"
  else fail "$name: mapping differs"; diff "$T/want.map" "$T/got.map" | head -6 >&2; fi
  jq -e -s 'all(.[]; (.time | type) == "number" and .time % 1000 == 0 and .time > 1700000000000
                      and .finding_info.created_time == .time)' "$T/$name.ocsf" >/dev/null \
    && ok "$name: time in whole milliseconds since the epoch" || fail "$name: time"
  jq -s -e 'map(.finding_info.uid) | length == (unique | length)' "$T/$name.ocsf" >/dev/null \
    && ok "$name: finding uids are unique" || fail "$name: duplicate finding uids"
done
# time: the record's instant, in ms
t0=$(jq -r 'select(.data.findings | length > 0) | .time' "$STORY" | head -1)
want=$(( $(date -u -d "$t0" +%s) * 1000 ))
[ "$(head -1 "$T/story.audit.jsonl.ocsf" | jq .time)" = "$want" ] && ok "time is the record's time ($t0)" \
  || fail "time of the first finding is not $want"
# each result once: match, unknown, exempted
O=$T/trail.jsonl.ocsf
jq -e -s 'map(select(.unmapped.result == "exempted")) | length == 2 and all(.[];
    .compliance.status_id == 3 and .status_id == 3 and .status == "Suppressed"
    and .compliance.status_detail == "exempted by EX-2026-014"
    and .compliance.requirements == ["MCSB v1 DP-5", "CIS Microsoft Azure Foundations Benchmark v2.1.0 8.3.9"]
    and .finding_info.types == ["residency", "cmk"])' "$O" >/dev/null \
  && ok "exempted: compliance Fail, finding Suppressed, the exemption, requirements and tags" \
  || fail "exempted findings mapped wrongly"
jq -e -s 'map(select(.unmapped.result == "unknown")) | length == 1 and .[0].compliance.status_id == 2
    and .[0].compliance.status == "Warning" and .[0].status_id == 1' "$O" >/dev/null \
  && ok "unknown: compliance Warning (no result for missing information)" || fail "unknown mapped wrongly"
jq -e -s 'map(select(.unmapped.result == "match")) | length > 0 and all(.[]; .compliance.status_id == 3
    and .status == "New")' "$O" >/dev/null && ok "match: compliance Fail, finding New" || fail "match mapped wrongly"
jq -e -s 'map(.severity_id) | sort | unique == [2, 3, 4, 5]' "$O" >/dev/null \
  && ok "all four severities seen" || fail "severities"
# the same input gives the same bytes; stdin works
"$CMKGUARD" audit export --format ocsf --pubkey "$PUB" <"$STORY" >"$T/stdin.ocsf" 2>/dev/null
cmp -s "$T/stdin.ocsf" "$T/story.audit.jsonl.ocsf" && ok "stdin gives the same bytes" || fail "stdin export differs"
# usage
expect_rc 2 "no --format is a usage error" -- "$CMKGUARD" audit export --pubkey "$PUB" "$STORY"
expect_rc 2 "an unknown format is a usage error" -- "$CMKGUARD" audit export --format csv --pubkey "$PUB" "$STORY"
expect_rc 2 "no --pubkey is a usage error" -- "$CMKGUARD" audit export --format ocsf "$STORY"
done_test
