#!/usr/bin/env bash
# The demo: replay a multi-tenant story through the shipped rules, sign the audit
# trail, show what happened to each resource, and verify the chain.
set -euo pipefail
cd "$(dirname "$0")/.."
D=build/demo
rm -rf "$D" && mkdir -p "$D"
B=""; N=""
if [ -t 1 ]; then B=$(tput bold 2>/dev/null || true); N=$(tput sgr0 2>/dev/null || true); fi
step() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }

step "1. an Ed25519 key for the audit trail"
./cmkguard audit keygen --out "$D/audit"

step "2. replay examples/story.jsonl ($(wc -l <examples/story.jsonl) events) through rules/"
./cmkguard replay --rules rules --state "$D/state.db" --sign-key "$D/audit.key" \
  examples/story.jsonl >"$D/audit.jsonl" 2>"$D/replay.log"
echo "$(wc -l <"$D/audit.jsonl") signed records in $D/audit.jsonl; rejected input logged to $D/replay.log:"
sed 's/^/  /' "$D/replay.log"

step "3. the decisions"
jq -r '
  def short: if . == null then "-" else (split("/") | last | sub("\\.vault\\.azure\\.net$"; "")) end;
  [ (.seq|tostring), .data.event_type // "?", (.subject|short), .data.outcome,
    ([.data.findings[] | .rule + (if .result=="unknown" then "?" else "" end)] | join(",")),
    ([.data.actions[] | .op + (if .status=="failed" then "!" else "" end)] | join(",")),
    ((.data.reason // "") | .[0:60]) ]
  | @tsv' "$D/audit.jsonl" |
  awk -F'\t' 'BEGIN{printf "%-4s %-27s %-11s %-9s %-24s %-8s %s\n","seq","event","subject","outcome","findings","actions","reason"}
              {printf "%-4s %-27s %-11s %-9s %-24s %-8s %s\n",$1,$2,$3,$4,$5,$6,$7}'

step "4. every resource now"
./cmkguard state show --state "$D/state.db" | jq -r '.resources[] |
  "  \(.id | split("/") | last): \(.key_source)\(if .key_uri then " " + .key_uri else "" end)" +
  (if .locked then "  LOCKED (" + (.lock_reasons | join(", ")) + ")" else "" end) +
  (if (.layers|length) == 2 then "  [double encryption]" else "" end)'

step "5. verify the signed chain (exit 1 names the first bad record)"
./cmkguard audit verify --pubkey "$D/audit.pub" "$D/audit.jsonl"
printf '\nTamper with one record and verify again:\n'
sed '12s/"outcome":"allowed"/"outcome":"denied"/' "$D/audit.jsonl" >"$D/tampered.jsonl"
./cmkguard audit verify --pubkey "$D/audit.pub" "$D/tampered.jsonl" || echo "  -> exit $? as expected"
