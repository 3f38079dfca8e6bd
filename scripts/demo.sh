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
BROKER_PID=""; RUN_PID=""
cleanup() {
  [ -n "$RUN_PID" ] && kill -TERM "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null || true
  [ -n "$BROKER_PID" ] && kill -TERM "$BROKER_PID" 2>/dev/null && wait "$BROKER_PID" 2>/dev/null || true
}
trap cleanup EXIT

step "1. the embedded Kafka broker (librdkafka's mock cluster, loopback only)"
. scripts/kafka-lib.sh
broker_start "$D" ./cmkguard --partitions 4 || { echo "the broker did not start: $(cat "$D/broker.err")" >&2; exit 1; }
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
