# SIGHUP reloads the rules; a broken rule file keeps the loaded set and says why.
# The status line and the Prometheus endpoint report what run does.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
start_broker --partitions 2
mkdir "$T/rules" && cp "$ROOT/rules/cmk.yaml" "$T/rules/"
PORT=$(free_port)
write_config "$T/run.yaml" "metrics: {listen: 127.0.0.1:$PORT}"
sed -i "s|^rules: .*|rules: [$T/rules]|" "$T/run.yaml"
start_run "$T/run.yaml"
R=/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts
ev() { printf 'acme\t{"specversion":"1.0","id":"%s","type":"resource.created","subject":"%s/%s","time":"2026-11-02T10:00:00Z","data":{"kind":"Face","tenant":"t","region":"r","subscription":"s","key_uri":"https://kv1.vault.azure.net/keys/k"}}\n' "$1" "$R" "$1"; }
ev e1 >"$T/1.txt"; produce "$T/1.txt"
consume cmk.audit 1 "$T/a1.jsonl"
h1=$(jq -r .data.rules_hash "$T/a1.jsonl")
jq -e '.data.outcome=="denied" and .data.findings[0].rule=="CMK-AT-CREATION"' "$T/a1.jsonl" >/dev/null && ok "CMK-AT-CREATION denies under the loaded rules" || fail "first decision"
# a broken rule file: the old set stays
printf 'rules:\n  - id: BROKEN\n    on: [nope]\n' >"$T/rules/zz-broken.yaml"
kill -HUP "$RUN_PID"
for _ in $(seq 1 100); do grep -q "rules not reloaded" "$T/run.log" && break; sleep 0.05; done
grep -q "rules not reloaded, keeping the loaded set ($h1): .*zz-broken.yaml:2:5: rule BROKEN is missing 'when'" "$T/run.log" && ok "a broken reload keeps the old set and names the file" || fail "log: $(tail -2 "$T/run.log")"
ev e2 >"$T/2.txt"; produce "$T/2.txt"
consume cmk.audit 2 "$T/a2.jsonl"
[ "$(tail -1 "$T/a2.jsonl" | jq -r .data.rules_hash)" = "$h1" ] && tail -1 "$T/a2.jsonl" | jq -e '.data.outcome=="denied"' >/dev/null \
  && ok "events after a failed reload use the old rules" || fail "after failed reload"
# a good change: the rule removed, the reload takes
rm "$T/rules/zz-broken.yaml"
awk '/- id: CMK-AT-CREATION/ {skip=1} /- id: CMK-IDENTITY$/ {skip=0} !skip' "$ROOT/rules/cmk.yaml" >"$T/rules/cmk.yaml"
kill -HUP "$RUN_PID"
for _ in $(seq 1 100); do grep -q "rules reloaded" "$T/run.log" && break; sleep 0.05; done
# the shipped pack less the rule removed above
want=$(($(grep -c '^  - id: ' "$ROOT/rules/cmk.yaml") - 1))
grep -q "rules reloaded: $want rules" "$T/run.log" && ok "SIGHUP reloads the rules" || fail "log: $(tail -2 "$T/run.log")"
ev e3 >"$T/3.txt"; produce "$T/3.txt"
consume cmk.audit 3 "$T/a3.jsonl"
tail -1 "$T/a3.jsonl" | jq -e --arg h "$h1" '.data.outcome=="allowed" and .data.rules_hash != $h' >/dev/null \
  && ok "the next event is decided by the new rules (new rules_hash)" || fail "after reload: $(tail -1 "$T/a3.jsonl" | jq -c .data)"
m=$(metrics $PORT)
echo "$m" | grep -q '^cmkguard_decisions_total{outcome="denied"} 2$' && echo "$m" | grep -q '^cmkguard_decisions_total{outcome="allowed"} 1$' \
  && ok "metrics count outcomes" || fail "metrics: $(echo "$m" | grep decisions_total)"
echo "$m" | grep -q '^cmkguard_rule_reloads_total{result="failed"} 1$' && echo "$m" | grep -q '^cmkguard_rule_reloads_total{result="ok"} 1$' \
  && ok "metrics count reloads" || fail "reload metrics"
echo "$m" | grep -qE '^cmkguard_consumer_lag [0-9]+$' && ok "metrics report consumer lag" || fail "no lag metric"
grep -qE 'run: [0-9]+ events \([0-9]+/s\), lag [0-9-]+, audit backlog [0-9]+' "$T/run.log" && ok "periodic status line on stderr" || fail "no status line"
stop_run
[ "$RUN_RC" -eq 0 ] && ok "clean stop" || fail "exit $RUN_RC"
# bad config is exit 2 with where
printf 'kafka: {bootstrap.servers: x}\nrules: [r]\nstate: s.db\nbogus: 1\n' >"$T/bad.yaml"
expect_rc 2 "a bad config exits 2" -- "$CMKGUARD" run --config "$T/bad.yaml"
expect_err "bad.yaml:4:1: unknown field 'bogus'" "names where"
done_test
