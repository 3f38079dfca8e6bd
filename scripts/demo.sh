#!/usr/bin/env bash
# The demo: an embedded Kafka broker, a multi-tenant story produced with kcat, cmkguard
# run deciding it, the signed audit trail read back, summarised and verified.
set -euo pipefail
cd "$(dirname "$0")/.."
D=build/demo
rm -rf "$D" && mkdir -p "$D"
B=""; N=""
if [ -t 1 ]; then B=$(tput bold 2>/dev/null || true); N=$(tput sgr0 2>/dev/null || true); fi
step() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
BROKER_PID=""; RUN_PID=""; INST=()
cleanup() {
  [ -n "$RUN_PID" ] && kill -TERM "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null || true
  for p in "${INST[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  [ -n "$BROKER_PID" ] && kill -TERM "$BROKER_PID" 2>/dev/null && wait "$BROKER_PID" 2>/dev/null || true
}
trap cleanup EXIT

step "1. the embedded Kafka broker (librdkafka's mock cluster, loopback only)"
. scripts/kafka-lib.sh
broker_start "$D" ./cmkguard --partitions 4 --topic cmk.events --topic cmk.audit --topic cmk.dead \
  --topic scale.events --topic scale.audit --topic scale.dead --topic scale.state || { echo "the broker did not start: $(cat "$D/broker.err")" >&2; exit 1; }
echo "bootstrap servers: $BOOT"

step "2. an Ed25519 key for the audit trail, and the run configuration"
./cmkguard audit keygen --out "$D/audit"
cat >"$D/run.yaml" <<YAML
kafka:
  bootstrap.servers: $BOOT
  group.id: cmkguard-demo
topics: {events: cmk.events, audit: cmk.audit, dead_letter: cmk.dead}
rules: [../../rules]
state: state.db
audit: {sign_key: audit.key}
status_interval: 2
YAML
cat "$D/run.yaml"

step "3. produce the story with kcat, keyed by tenant ($(wc -l <examples/story.jsonl) events, malformed ones included)"
# Each tenant's events share a key, hence a partition, hence an order.
awk '{ t = "contoso"; if ($0 ~ /"subject":"https:\/\/kv-fabrikam/) t = "fabrikam"; print t "\t" $0 }' examples/story.jsonl >"$D/keyed.txt"
kcat -P -b "$BOOT" -t cmk.events -K $'\t' -l "$D/keyed.txt"
./cmkguard replay --rules rules examples/story.jsonl 2>/dev/null | wc -l >"$D/expected"
echo "produced; $(cat "$D/expected") audit records expected"

step "4. cmkguard run: decide, act, sign, deliver exactly once"
./cmkguard run --config "$D/run.yaml" 2>"$D/run.log" &
RUN_PID=$!
timeout 60 kcat -C -b "$BOOT" -t cmk.audit -c "$(cat "$D/expected")" -q -f '%s\n' >"$D/audit.jsonl"
kill -TERM "$RUN_PID"; wait "$RUN_PID"; RUN_PID=""
sed 's/^/  /' "$D/run.log"

step "5. the decisions, in chain order"
jq -s -r 'sort_by(.chain, .seq)[] |
  def short: if . == null then "-" else (split("/") | last | sub("\\.vault\\.azure\\.net$"; "")) end;
  [ .chain + ":" + (.seq|tostring), .data.event_type // "?", (.subject|short), .data.outcome,
    ([.data.findings[] | .rule + (if .result=="unknown" then "?" else "" end)] | join(",")),
    ([.data.actions[] | .op + (if .status=="failed" then "!" else "" end)] | join(",")),
    ((.data.reason // "") | .[0:50]) ] | @tsv' "$D/audit.jsonl" |
  awk -F'\t' 'BEGIN{printf "%-16s %-27s %-11s %-9s %-24s %-8s %s\n","record","event","subject","outcome","findings","actions","reason"}
              {printf "%-16s %-27s %-11s %-9s %-24s %-8s %s\n",$1,$2,$3,$4,$5,$6,$7}'

step "6. every resource now (state.db)"
./cmkguard state show --state "$D/state.db" | jq -r '.resources[] |
  "  \(.id | split("/") | last): \(.key_source)\(if .key_uri then " " + .key_uri else "" end)" +
  (if .locked then "  LOCKED (" + (.lock_reasons | join(", ")) + ")" else "" end) +
  (if (.layers|length) == 2 then "  [double encryption]" else "" end)'

step "7. dead letters (bad input, with the reason in a header)"
timeout 30 kcat -C -b "$BOOT" -t cmk.dead -e -q -f '  %h\n' | sed 's/content-type=application\/json,//' | cut -c1-150

step "8. verify every chain in the audit topic, then a tampered copy"
./cmkguard audit verify --pubkey "$D/audit.pub" --kafka "$D/run.yaml"
sed '12s/"outcome":"allowed"/"outcome":"denied"/' "$D/audit.jsonl" >"$D/tampered.jsonl"
./cmkguard audit verify --pubkey "$D/audit.pub" "$D/tampered.jsonl" 2>&1 || echo "  -> exit $? as expected"

step "9. Azure speaks for itself: a Key Vault Event Grid event and a Resource Notification, as Azure writes them"
# Event Grid delivers to Event Hubs, which speaks Kafka: the same topic, no conversion.
sed 's/^/contoso\t/' examples/azure-demo.jsonl >"$D/azure.txt"
kcat -P -b "$BOOT" -t cmk.events -K $'\t' -l "$D/azure.txt"
total=$(cat examples/story.jsonl examples/azure-demo.jsonl | ./cmkguard replay --rules rules - 2>/dev/null | wc -l)
./cmkguard run --config "$D/run.yaml" 2>>"$D/run.log" &
RUN_PID=$!
timeout 60 kcat -C -b "$BOOT" -t cmk.audit -c "$total" -q -f '%s\n' >"$D/audit2.jsonl"
kill -TERM "$RUN_PID"; wait "$RUN_PID"; RUN_PID=""
echo "each Azure event becomes cmkguard events (ORIGINAL#n), decided and audited one by one:"
jq -r 'select(.data.derived_from) |
  [ (.data.derived_from.type | sub("^Microsoft\\."; "")), (.data.cause | split("-") | last),
    .data.event_type, (.subject | split("/") | last), .data.outcome,
    ([.data.findings[] | .rule] | join(",")), ([.data.actions[] | .op] | join(",")) ] | @tsv' "$D/audit2.jsonl" |
  awk -F'\t' '{printf "  %-48s %-16s %-26s %-10s %-8s %-17s %s\n",$1,$2,$3,$4,$5,$6,$7}'
./cmkguard audit verify --pubkey "$D/audit.pub" --kafka "$D/run.yaml"

step "10. several instances: three runs share the work, one is killed, the chains go on"
# SPEC 7a: the state of each partition lives in the state topic, so any instance can take
# any partition; all three share one config and the master key, each its own --state.
cat >"$D/scale.yaml" <<YAML
kafka:
  bootstrap.servers: $BOOT
  group.id: cmkguard-demo-scale
  session.timeout.ms: 6000
  heartbeat.interval.ms: 500
topics: {events: scale.events, audit: scale.audit, dead_letter: scale.dead, state: scale.state}
master_key: master.key
rules: [../../rules]
state: unused
audit: {sign_key: audit.key}
batch: 50
status_interval: 0
YAML
for i in 1 2 3; do
  ./cmkguard run --config "$D/scale.yaml" --state "$D/scale$i" 2>"$D/scale$i.log" &
  INST[$i]=$!
done
# 200 resources over 8 tenants, 4 events each, keyed by tenant
awk 'BEGIN { for (i = 0; i < 200; i++) { t = "tenant" (i % 8); r = "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/r" i
  printf "%s\t{\"specversion\":\"1.0\",\"id\":\"s-%d-1\",\"type\":\"resource.created\",\"subject\":\"%s\",\"time\":\"2026-11-02T10:00:00Z\",\"data\":{\"kind\":\"Face\",\"tenant\":\"%s\",\"region\":\"we\",\"subscription\":\"s1\"}}\n", t, i, r, t
  printf "%s\t{\"specversion\":\"1.0\",\"id\":\"s-%d-2\",\"type\":\"resource.identity.enabled\",\"subject\":\"%s\",\"time\":\"2026-11-02T10:00:01Z\",\"data\":{\"principal\":\"mi-%d\",\"tenant\":\"%s\"}}\n", t, i, r, i, t
  printf "%s\t{\"specversion\":\"1.0\",\"id\":\"s-%d-3\",\"type\":\"resource.moved\",\"subject\":\"%s\",\"time\":\"2026-11-02T10:00:02Z\",\"data\":{\"tenant\":\"%s\",\"subscription\":\"s2\"}}\n", t, i, r, t
  printf "%s\t{\"specversion\":\"1.0\",\"id\":\"s-%d-4\",\"type\":\"resource.identity.disabled\",\"subject\":\"%s\",\"time\":\"2026-11-02T10:00:03Z\",\"data\":{}}\n", t, i, r } }' >"$D/scale.txt"
total=$(wc -l <"$D/scale.txt")
owned() { [ "$(cat "$D"/scale?.log | grep -c 'owned (epoch')" -ge 4 ]; }
poll_until 60 owned || { echo "the instances did not take the partitions" >&2; exit 1; }
head -n $((total / 2)) "$D/scale.txt" | kcat -P -b "$BOOT" -t scale.events -K $'\t'
decided() { [ "$(timeout 20 kcat -C -b "$BOOT" -t scale.audit -e -q -f '%s\n' 2>/dev/null | jq -r '[.chain, .seq] | @tsv' | sort -u | wc -l)" -ge "$1" ]; }
poll_until 60 decided $((total / 4)) || true
echo "kill -9 instance 2 (pid ${INST[2]}) mid-stream; its partitions move to the others"
kill -KILL "${INST[2]}"; wait "${INST[2]}" 2>/dev/null || true; INST[2]=
tail -n $((total - total / 2)) "$D/scale.txt" | kcat -P -b "$BOOT" -t scale.events -K $'\t'
poll_until 120 decided "$total" || { echo "not every event was decided" >&2; exit 1; }
for i in 1 3; do kill -TERM "${INST[$i]}"; wait "${INST[$i]}" || true; INST[$i]=; done
echo "who owned what (each claim is a new epoch in the partition's changelog):"
for i in 1 2 3; do grep -h 'owned (epoch' "$D/scale$i.log" |
  sed -E "s/.*partition ([0-9]+) owned \\(epoch ([0-9]+).*restored in ([0-9.]+s) from ([a-z ]+),.*chain at seq ([0-9]+).*/  instance $i: partition \\1, epoch \\2, restored in \\3 from \\4, chain goes on after seq \\5/"; done
timeout 20 kcat -C -b "$BOOT" -t scale.audit -e -q -f '%s\n' >"$D/scale-audit.jsonl"
echo "$total events; $(jq -r '[.chain, .seq] | @tsv' "$D/scale-audit.jsonl" | sort -u | wc -l) distinct decision records in $(jq -r .chain "$D/scale-audit.jsonl" | sort -u | wc -l) chains"
./cmkguard audit verify --pubkey "$D/audit.pub" --kafka "$D/scale.yaml"
