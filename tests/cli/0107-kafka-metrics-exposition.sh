# The Prometheus endpoint on a real run: promtool finds nothing to say about a scrape,
# and what it counts is what the topics hold (events produced, decisions and findings
# in the audit topic, dead letters), read independently with kcat and jq.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
command -v promtool >/dev/null || { echo "promtool is missing (make deps installs it)" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is missing (make deps installs it)" >&2; exit 1; }
start_broker --partitions 2
# The shipped pack, plus a rule that is unknown on every CMK change (no key has an exp).
mkdir "$T/rules" && cp "$ROOT/rules/cmk.yaml" "$T/rules/"
cat >"$T/rules/zz-expiry.yaml" <<'EOF'
rules:
  - id: KEY-EXP-BEFORE-2027
    title: Keys bound to a resource expire before 2027
    on: [resource.cmk.enabled]
    when: key.exp < "2027-01-01T00:00:00Z"
    action: alert
    severity: low
    message: "key {resource.key_uri} expires before 2027"
EOF
PORT=$(free_port)
URL=http://127.0.0.1:$PORT/metrics
write_config "$T/run.yaml" "metrics: {listen: 127.0.0.1:$PORT}"
sed -i "s|^rules: .*|rules: [$T/rules]|" "$T/run.yaml"
start_run "$T/run.yaml"
scrape() { curl -sf --max-time 5 "$URL"; }
value() { # FILE SERIES: the value of one series in a scrape
  awk -v s="$2" '$1 == s {print $2; found = 1} END {if (!found) print "none"}' "$1"; }
wait_until 30 "the endpoint answers" -- scrape >/dev/null
# The story, keyed by one tenant: one partition, in order; bad input included.
sed 's/^/contoso\t/' "$ROOT/examples/story.jsonl" >"$T/story.txt"
produce "$T/story.txt"
N=$(wc -l <"$T/story.txt")
drained() {
  scrape >"$T/m.txt" || return 1
  [ "$(value "$T/m.txt" cmkguard_events_consumed_total)" = "$N" ] &&
    [ "$(value "$T/m.txt" cmkguard_audit_backlog)" = 0 ] &&
    [ "$(value "$T/m.txt" cmkguard_audit_records_delivered_total)" = \
      "$(( $(value "$T/m.txt" cmkguard_audit_records_total) + $(value "$T/m.txt" cmkguard_dead_letters_total) ))" ]
}
wait_until 60 "all $N events decided and delivered" -- drained
ok "events consumed: $N, as produced"

# promtool's linter on a real scrape: nothing to report.
curl -s --max-time 5 -D "$T/headers" -o "$T/scrape.txt" "$URL" || fail "scrape"
promtool check metrics <"$T/scrape.txt" >"$T/promtool.out" 2>&1; rc=$?
[ "$rc" -eq 0 ] && [ ! -s "$T/promtool.out" ] && ok "promtool check metrics finds nothing" \
  || fail "promtool (exit $rc): $(head -5 "$T/promtool.out")"
grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$T/headers" \
  && ok "content type of the text format 0.0.4" || fail "headers: $(cat "$T/headers")"
grep -qE '^cmkguard_build_info\{version="[0-9]+\.[0-9]+\.[0-9]+"\} 1$' "$T/scrape.txt" \
  && ok "cmkguard_build_info names the version" || fail "no build info"
# Every family: HELP and TYPE, the prefix, _total on counters and only there.
awk '/^# TYPE / {t[$3] = $4} /^# HELP / {h[$3] = 1}
     END {for (f in t) {
            if (!h[f] || f !~ /^cmkguard_/) bad = bad " " f
            if ((t[f] == "counter") != (f ~ /_total$/)) bad = bad " " f
          } print bad}' "$T/scrape.txt" >"$T/bad"
[ -z "$(tr -d ' ' <"$T/bad")" ] && ok "families: HELP, TYPE, prefix, _total on counters" || fail "families:$(cat "$T/bad")"

# What the audit topic holds, read with kcat.
RECORDS=$(value "$T/scrape.txt" cmkguard_audit_records_total)
[ "$(count cmk.audit 2)" -eq "$RECORDS" ] && ok "audit records counted: $RECORDS, as in the topic" \
  || fail "audit topic holds $(count cmk.audit 2), metrics say $RECORDS"
consume cmk.audit "$RECORDS" "$T/audit.jsonl"
jq -r '.data.findings[] | "cmkguard_findings_total{rule=\"\(.rule)\",result=\"\(.result)\"} "' "$T/audit.jsonl" \
  | sort | uniq -c | awk '{print $2, $1}' | sort >"$T/findings.want"
grep '^cmkguard_findings_total{' "$T/scrape.txt" | sort >"$T/findings.got"
grep -q 'rule="CMK-TENANT",result="match"' "$T/findings.want" \
  && grep -q 'rule="KEY-EXP-BEFORE-2027",result="unknown"' "$T/findings.want" \
  || fail "the story lacks the findings this test is about: $(cat "$T/findings.want")"
diff "$T/findings.want" "$T/findings.got" >"$T/findings.diff" \
  && ok "findings by rule and result equal the audit topic's ($(wc -l <"$T/findings.got") series)" \
  || fail "findings differ from the audit topic: $(cat "$T/findings.diff")"
# One decision per input position: its first record's outcome.
jq -rs 'group_by(.data.input) | map(.[0].data.outcome) | group_by(.) | .[] | "cmkguard_decisions_total{outcome=\"\(.[0])\"} \(length)"' \
  "$T/audit.jsonl" | sort >"$T/decisions.want"
grep '^cmkguard_decisions_total{' "$T/scrape.txt" | grep -v ' 0$' | sort >"$T/decisions.got"
diff "$T/decisions.want" "$T/decisions.got" >"$T/decisions.diff" \
  && ok "decisions by outcome equal the audit topic's" || fail "decisions differ: $(cat "$T/decisions.diff")"
DEAD=$(value "$T/scrape.txt" cmkguard_dead_letters_total)
[ "$DEAD" -gt 0 ] && [ "$(count cmk.dead 2)" -eq "$DEAD" ] && ok "dead letters counted: $DEAD, as in the topic" \
  || fail "dead-letter topic holds $(count cmk.dead 2), metrics say $DEAD"
[ "$(value "$T/scrape.txt" cmkguard_event_processing_seconds_count)" = "$N" ] \
  && [ "$(value "$T/scrape.txt" 'cmkguard_event_processing_seconds_bucket{le="+Inf"}')" = "$N" ] \
  && ok "the processing-time histogram holds every event" || fail "histogram: $(grep processing_seconds_count "$T/scrape.txt")"

# A reload that takes moves the load time and the ok counter.
before=$(date +%s)
kill -HUP "$RUN_PID"
reloaded() { scrape >"$T/m.txt" && [ "$(value "$T/m.txt" 'cmkguard_rule_reloads_total{result="ok"}')" = 1 ]; }
wait_until 30 "the reload is counted" -- reloaded
[ "$(value "$T/m.txt" cmkguard_rules_last_load_timestamp_seconds)" -ge "$before" ] \
  && ok "the last load time follows the reload" || fail "load time $(value "$T/m.txt" cmkguard_rules_last_load_timestamp_seconds) < $before"

# Only GET /metrics.
[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/")" = 404 ] \
  && [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/metrics/x")" = 404 ] \
  && ok "other paths: 404" || fail "other paths"
[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST -d x "$URL")" = 405 ] \
  && [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X DELETE "$URL")" = 405 ] \
  && ok "other methods: 405" || fail "other methods"

# The address in use, and addresses that are not HOST:PORT, are config errors (exit 2).
GROUP=cmkguard-other write_config "$T/other.yaml" "metrics: {listen: 127.0.0.1:$PORT}"
sed -i "s|^state: .*|state: $T/other.db|" "$T/other.yaml"
expect_rc 2 "the port in use: exit 2" -- "$CMKGUARD" run --config "$T/other.yaml"
expect_err "config: metrics.listen 127.0.0.1:$PORT: Address already in use" "names metrics.listen and why"
for bad in "localhost:9100" "127.0.0.1" "[::1:9100"; do
  sed -i "s|^metrics: .*|metrics: {listen: \"$bad\"}|" "$T/other.yaml"
  expect_rc 2 "metrics.listen '$bad': exit 2" -- "$CMKGUARD" run --config "$T/other.yaml"
  expect_err "config: metrics.listen" "names metrics.listen"
done
sed -i "s|^metrics: .*|metrics: {listen: \"127.0.0.1:1\", timeout_seconds: 0}|" "$T/other.yaml"
expect_rc 2 "metrics.timeout_seconds 0: exit 2" -- "$CMKGUARD" run --config "$T/other.yaml"
expect_err "other.yaml:[0-9]+:[0-9]+: metrics.timeout_seconds" "names where"
stop_run
[ "$RUN_RC" -eq 0 ] && ok "clean stop" || fail "exit $RUN_RC"
done_test
