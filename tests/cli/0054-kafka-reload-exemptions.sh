# run reads the config's exemptions and reloads them with the rules on SIGHUP; a broken
# exemption file keeps the loaded set and says why (SPEC §4a, §7).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
start_broker --partitions 1
R=/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts
mkdir "$T/ex"
exemption() { # GLOB [RULE]
  printf 'exemptions:\n  - id: EX-RELOAD\n    rules: [%s]\n    resources: ["%s"]\n    category: waiver\n    expires: 2027-01-01T00:00:00Z\n    reason: reload test\n' \
    "${2:-CMK-AT-CREATION}" "$1" >"$T/ex/ex.yaml"
}
exemption "$R/x*"
PORT=$(free_port)
write_config "$T/run.yaml" "exemptions: [$T/ex]" "metrics: {listen: 127.0.0.1:$PORT}"
start_run "$T/run.yaml"
ev() { printf 'acme\t{"specversion":"1.0","id":"%s","type":"resource.created","subject":"%s/%s","time":"2026-11-02T10:00:00Z","data":{"kind":"Face","tenant":"t","region":"r","subscription":"s","key_uri":"https://kv1.vault.azure.net/keys/k"}}\n' "$1" "$R" "$1"; }
ev x1 >"$T/1.txt"; produce "$T/1.txt"
consume cmk.audit 1 "$T/a1.jsonl"
h1=$(jq -r .data.rules_hash "$T/a1.jsonl")
jq -e '.data.outcome == "allowed" and .data.findings[0].result == "exempted" and .data.findings[0].exemption == "EX-RELOAD"' "$T/a1.jsonl" >/dev/null \
  && ok "run applies the config's exemptions" || fail "first decision: $(jq -c .data "$T/a1.jsonl")"
# a broken exemption file: the loaded set stays
exemption "$R/x*" CMK-NOPE
kill -HUP "$RUN_PID"
wait_until 10 "the failed reload is logged" -- grep -q "rules not reloaded" "$T/run.log"
grep -q "rules not reloaded, keeping the loaded set ($h1): .*ex/ex.yaml:3:13: unknown rule id 'CMK-NOPE'" "$T/run.log" \
  && ok "a broken exemption file keeps the loaded set and names where" || fail "log: $(tail -2 "$T/run.log")"
ev x2 >"$T/2.txt"; produce "$T/2.txt"
consume cmk.audit 2 "$T/a2.jsonl"
tail -1 "$T/a2.jsonl" | jq -e --arg h "$h1" '.data.rules_hash == $h and .data.outcome == "allowed" and .data.findings[0].result == "exempted"' >/dev/null \
  && ok "events after a failed reload keep the old exemptions" || fail "after failed reload: $(tail -1 "$T/a2.jsonl" | jq -c .data)"
# a good change: the exemption now covers y* only
exemption "$R/y*"
kill -HUP "$RUN_PID"
wait_until 10 "the reload is logged" -- grep -q "rules reloaded" "$T/run.log"
grep -q "rules reloaded: [0-9]* rules, 1 exemptions, hash" "$T/run.log" && ok "SIGHUP reloads the exemptions" || fail "log: $(tail -2 "$T/run.log")"
{ ev x3; ev y1; } >"$T/3.txt"; produce "$T/3.txt"
consume cmk.audit 4 "$T/a3.jsonl"
x3=$(jq -c 'select(.data.cause == "x3")' "$T/a3.jsonl"); y1=$(jq -c 'select(.data.cause == "y1")' "$T/a3.jsonl")
echo "$x3" | jq -e --arg h "$h1" '.data.outcome == "denied" and .data.findings[0].result == "match" and .data.rules_hash != $h' >/dev/null \
  && ok "after the reload x3 is no longer exempted (new rules_hash)" || fail "x3: $x3"
echo "$y1" | jq -e '.data.outcome == "allowed" and .data.findings[0].exemption == "EX-RELOAD"' >/dev/null \
  && ok "and y1 is" || fail "y1: $y1"
# the metrics count findings by result, exempted ones apart
m=$(metrics $PORT)
echo "$m" | grep -q '^cmkguard_findings_total{rule="CMK-AT-CREATION",result="exempted"} 3$' \
  && echo "$m" | grep -q '^cmkguard_findings_total{rule="CMK-AT-CREATION",result="match"} 1$' \
  && ok "metrics count exempted findings apart" || fail "metrics: $(echo "$m" | grep findings_total)"
stop_run
[ "$RUN_RC" -eq 0 ] && ok "clean stop" || fail "exit $RUN_RC"
done_test
