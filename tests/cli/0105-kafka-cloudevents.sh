# The CloudEvents Kafka binding: the same events produced in structured mode to one
# topic and in binary mode (ce_* headers, data as the value) to another are decided the
# same; every audit message carries content-type and the ce_* headers of its record;
# dead letters carry ce_* headers and name the record of their rejection.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
start_broker --partitions 1 --topic cmk.events --topic cmk.audit --topic cmk.dead \
  --topic bin.events --topic bin.audit --topic bin.dead
STRUCTURED='application/cloudevents+json; charset=UTF-8'
# Two runs, one per mode, each from an empty state; record times come from the events.
write_config "$T/s.yaml"
sed -i 's#^audit: {sign_key: \(.*\)}$#audit: {sign_key: \1, clock: event}#' "$T/s.yaml"
sed -e 's/cmk\.\(events\|audit\|dead\)/bin.\1/g' -e 's#/state.db#/state-bin.db#' \
  -e 's/group.id: .*/group.id: bin/' "$T/s.yaml" >"$T/b.yaml"
grep -q 'clock: event' "$T/s.yaml" && grep -q 'events: bin.events' "$T/b.yaml" || fail "configs: $(cat "$T/b.yaml")"

# The events both modes get: the story's JSON objects, and one without an id.
jq -c 'fromjson? // empty' -R "$ROOT/examples/story.jsonl" >"$T/common.jsonl"
jq -c 'select(.id == "e-0001") | del(.id)' "$T/common.jsonl" >>"$T/common.jsonl"
key() { case $1 in *fabrikam*) echo fabrikam ;; *) echo contoso ;; esac; }
while IFS= read -r e; do printf '%s\t%s\n' "$(key "$e")" "$e"; done <"$T/common.jsonl" >"$T/s.txt"
sed -n '51p' "$ROOT/examples/story.jsonl" | sed 's/^/contoso\t/' >>"$T/s.txt"   # not JSON
produce "$T/s.txt"
# binary EVENT [KCAT ARGS...]: attributes as ce_* headers, data as the value
binary() {
  local e=$1 h=(); shift
  while IFS= read -r l; do h+=(-H "$l"); done < <(jq -r '
    to_entries[] | select(.key != "data" and .key != "datacontenttype") | "ce_\(.key)=\(.value)"' <<<"$e")
  jq -c .data <<<"$e" | kcat -P -b "$BOOT" -t bin.events -k "$(key "$e")" "${h[@]}" \
    -H "content-type=$(jq -r '.datacontenttype // "application/json"' <<<"$e")" "$@" \
    || fail "kcat binary produce"
}
while IFS= read -r e; do binary "$e"; done <"$T/common.jsonl"
# Binary mode only: data that is not JSON, a header that is not UTF-8, a header trying
# to add a member to the event.
K=https://kv-contoso.vault.azure.net/keys/cmk-cs
printf 'not json\n' | kcat -P -b "$BOOT" -t bin.events -k contoso -H ce_specversion=1.0 \
  -H ce_id=b-1 -H ce_source=/t -H ce_type=key.rotated -H ce_subject=$K -H ce_time=2026-11-02T10:00:00Z
printf '{}\n' | kcat -P -b "$BOOT" -t bin.events -k contoso -H ce_specversion=1.0 -H ce_id=b-2 \
  -H ce_source=/t -H ce_type=key.rotated -H "ce_subject=$K"$'\xff' -H ce_time=2026-11-02T10:00:00Z
INJ='x","type":"vault.upserted","subject":"https://kv9.vault.azure.net'
printf '{"version":"v9"}\n' | kcat -P -b "$BOOT" -t bin.events -k contoso -H ce_specversion=1.0 \
  -H ce_id=b-3 -H ce_source=/t -H ce_type=key.rotated -H "ce_subject=$INJ" -H ce_time=2026-11-02T10:00:00Z

# What the common events come to, from a replay of the same events.
"$CMKGUARD" replay --rules "$ROOT/rules" "$T/common.jsonl" >"$T/replay.jsonl" 2>/dev/null
want=$(wc -l <"$T/replay.jsonl")
[ "$want" -gt 50 ] || fail "replay gave $want records"
start_run "$T/s.yaml"
consume cmk.audit $((want + 1)) "$T/s-audit.jsonl"
stop_run
start_run "$T/b.yaml"
consume bin.audit $((want + 3)) "$T/b-audit.jsonl"
stop_run
[ "$RUN_RC" -eq 0 ] || fail "run exit $RUN_RC: $(tail -3 "$T/run.log")"

# Binary mode decides as structured mode: the same records but for where they came from.
same='del(.id, .chain, .hash, .prevhash, .sig, .data.input)'
if diff <(head -n "$want" "$T/s-audit.jsonl" | jq -c "$same") <(head -n "$want" "$T/b-audit.jsonl" | jq -c "$same") >"$T/diff"; then
  ok "binary-mode events decided as the same events in structured mode ($want records)"
else fail "binary and structured decisions differ:"; head -6 "$T/diff" >&2; fi
jq -e -s --arg r "missing required member 'id'" 'map(select(.data.reason == $r)) | length == 1' "$T/b-audit.jsonl" >/dev/null \
  && ok "a binary event without ce_id is rejected as one without id" || fail "no rejection for the missing ce_id"
tail -n 3 "$T/b-audit.jsonl" >"$T/b-only.jsonl"
jq -e -s '.[0].data.outcome == "rejected" and (.[0].data.reason | test("value \\(data\\) is not valid JSON")) and .[0].data.cause == "b-1"' "$T/b-only.jsonl" >/dev/null \
  && ok "binary data that is not JSON: rejected, naming the event" || fail "non-JSON data: $(sed -n 1p "$T/b-only.jsonl")"
jq -e -s '.[1].data.outcome == "rejected" and (.[1].data.reason | test("ce_subject.*UTF-8"))' "$T/b-only.jsonl" >/dev/null \
  && ok "a header that is not UTF-8: rejected" || fail "bad UTF-8 header: $(sed -n 2p "$T/b-only.jsonl")"
jq -e -s --arg s "$INJ" '.[2].data.outcome == "rejected" and .[2].subject == $s and .[2].data.event_type == "key.rotated"' "$T/b-only.jsonl" >/dev/null \
  && ok "a header value is a value: no member injected" || fail "injection: $(sed -n 3p "$T/b-only.jsonl")"

# Every audit message: content-type and the six ce_* headers equal to its record's fields.
check_audit() { # TOPIC COUNT
  timeout 60 kcat -C -b "$BOOT" -t "$1" -c "$2" -q -J >"$T/$1.json" 2>/dev/null
  jq -s -e --arg ct "$STRUCTURED" 'length > 0 and all(.[];
      (.payload | fromjson) as $r | ([.headers as $h | range(0; $h | length; 2) | {key: $h[.], value: $h[. + 1]}] | from_entries) as $h
      | $h["content-type"] == $ct and $h.ce_specversion == $r.specversion and $h.ce_id == $r.id
        and $h.ce_source == $r.source and $h.ce_type == $r.type and $h.ce_time == $r.time
        and $h.ce_subject == $r.subject and ($h | has("ce_subject")) == ($r | has("subject")))' "$T/$1.json" >/dev/null
}
check_audit cmk.audit $((want + 1)) && check_audit bin.audit $((want + 3)) \
  && ok "audit messages carry content-type and ce_* headers equal to the record" \
  || fail "audit headers: $(head -c 600 "$T/bin.audit.json")"

# Dead letters: the six ce_* headers, and a link to the record of the rejection.
headers='[.headers as $h | range(0; $h | length; 2) | {key: $h[.], value: $h[. + 1]}] | from_entries'
for m in s b; do
  topic=$([ $m = s ] && echo cmk || echo bin)
  n=$(jq -s 'map(select(.data.outcome == "rejected")) | length' "$T/$m-audit.jsonl")
  timeout 30 kcat -C -b "$BOOT" -t $topic.dead -c "$n" -q -J >"$T/$m-dead.json" 2>/dev/null
  [ "$(wc -l <"$T/$m-dead.json")" -eq "$n" ] || fail "$topic.dead: $(wc -l <"$T/$m-dead.json") of $n dead letters"
  jq -s -e --slurpfile a "$T/$m-audit.jsonl" "map($headers) | all(.[];
      . as \$h | all(\"ce_specversion\", \"ce_id\", \"ce_source\", \"ce_type\", \"ce_time\", \"ce_subject\"; \$h[.] | type == \"string\" and length > 0)
      and ([\$a[] | select(.id == \$h[\"cmkguard-record\"])] | length == 1 and .[0].data.outcome == \"rejected\"
           and .[0].data.reason == \$h[\"cmkguard-reason\"]))" "$T/$m-dead.json" >/dev/null \
    && ok "$topic.dead: $n dead letters with ce_* headers, each naming its rejection record" \
    || fail "$topic.dead headers: $(head -c 600 "$T/$m-dead.json")"
done
# A dead letter that is a CloudEvent is described by its own attributes; one that is not
# describes itself.
jq -s -e --arg ct "$STRUCTURED" "map($headers) | any(.ce_id == \"e-0048\" and .ce_type == \"key.purged\" and .[\"content-type\"] == \$ct and .ce_source == \"/tenants/contoso/activity\")" "$T/s-dead.json" >/dev/null \
  && ok "a rejected CloudEvent keeps its own attributes in the headers" || fail "dead letter of a CloudEvent: $(jq -c "$headers" "$T/s-dead.json" | grep e-0048)"
jq -s -e "map($headers) | any(.ce_type == \"cmkguard.deadletter\" and .ce_source == \"cmkguard\" and (.ce_id | test(\"^cmk.events/0/[0-9]+$\")) and .[\"content-type\"] == \"application/octet-stream\")" "$T/s-dead.json" >/dev/null \
  && ok "a dead letter that is not a CloudEvent describes itself" || fail "self-described dead letter: $(jq -c "$headers" "$T/s-dead.json" | head -3)"
# A binary-mode dead letter holds the event in structured mode, equal to its headers.
jq -s -e --arg ct "$STRUCTURED" "map(select(.payload | fromjson? | .id == \"e-0048\")) | length == 1 and (.[0] | ($headers) as \$h | (.payload | fromjson) as \$e
    | \$h[\"content-type\"] == \$ct and \$h.ce_id == \$e.id and \$h.ce_subject == \$e.subject and (\$e.data | type) == \"object\")" "$T/b-dead.json" >/dev/null \
  && ok "a binary-mode dead letter is the event in structured mode" || fail "binary dead letter: $(head -c 400 "$T/b-dead.json")"
for c in s b; do
  expect_rc 0 "the $c run's audit topic verifies" -- "$CMKGUARD" audit verify --pubkey "$ROOT/tests/golden/test-signing.pub" --kafka "$T/$c.yaml"
done
done_test
