# Signed trails for the export and report tests: the golden story, and a trail built
# from tests/fixtures/report/trail.in.jsonl with findings replay does not make yet
# (exempted, unknown, tags, compliance, a lost resource, markup in ids and messages).
KEY=$ROOT/tests/golden/test-signing.key
PUB=$ROOT/tests/golden/test-signing.pub
STORY=$ROOT/tests/golden/story.audit.jsonl
SCHEMA=$ROOT/tests/fixtures/ocsf/compliance-finding.schema.json
make_trail() { # OUT: the fixture trail, signed with the test key
  /usr/bin/python3 "$ROOT/tests/cli/sign-trail.py" "$KEY" "$PUB" \
    <"$ROOT/tests/fixtures/report/trail.in.jsonl" >"$1" || fail "cannot sign the fixture trail"
}
# Events as the report counts them: a decision record and the fan-out records that
# follow it in its chain with the same cause and input are one event.
JQ_EVENTS='[.[] | select(.type=="cmkguard.audit.decision")]
  | reduce .[] as $r ({last: {}, out: []};
      ($r.data.cause + "\n" + $r.data.input) as $k
      | if .last[$r.chain] == $k then . else .out += [$r.data.outcome] | .last[$r.chain] = $k end)
  | .out'
# Posture: the last state each resource subject carried.
JQ_POSTURE='reduce (.[] | select(.data | has("state"))) as $r ({}; .[$r.subject] = $r.data.state)'
