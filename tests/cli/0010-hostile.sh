# Hostile rules and events: deep nesting, 100 000 rules, catastrophic regexes,
# multi-megabyte fields, NUL bytes. Each gets a clear error or a rejected record, in
# bounded memory, and the process never crashes. (Billion-laughs aliases: 0004.)
. "$(dirname "$0")/lib.sh"
cd "$T"
# Peak RSS (KiB) of a command, its exit code in $rc; sanitizer builds get more room.
limit=262144; [ -n "${ASAN_OPTIONS:-}" ] && limit=1048576
case $CMKGUARD in *valgrind*) limit=1048576 ;; esac
measure() { /usr/bin/time -f '%M' -o rss.txt "$@" >out 2>err; rc=$?; rss=$(tail -1 rss.txt); }
bounded() { # DESCRIPTION
  if [ "$rss" -le "$limit" ]; then ok "$1 (peak RSS ${rss} KiB)"; else fail "$1: peak RSS ${rss} KiB over ${limit}"; fi; }
V=https://kv-h.vault.azure.net
ev() { printf '{"specversion":"1.0","id":"%s","source":"/h","type":"%s","subject":"%s","time":"2026-11-23T10:00:00Z","data":%s}\n' "$@"; }

# --- rules ---
# 10 000-deep YAML nesting
perl -e 'print "rules: ", "[" x 10000, "]" x 10000, "\n"' >deep.yaml
measure "$CMKGUARD" rules check deep.yaml
[ $rc -eq 2 ] && grep -q 'deep.yaml:1:[0-9]*: YAML nested deeper than 32' err && ok "10 000-deep YAML: FILE:LINE:COL error, exit 2" || { fail "deep YAML: exit $rc"; head -2 err >&2; }
bounded "10 000-deep YAML"
# 10 000-deep condition: parentheses (too long) and a chain of 'not' (too deep)
rule() { printf 'rules:\n  - id: H\n    title: h\n    on: [vault.upserted]\n    when: %s\n    action: alert\n    severity: low\n    message: m\n' "$1"; }
rule "$(perl -e 'print "(" x 10000, "vault.soft_delete", ")" x 10000')" >parens.yaml
measure "$CMKGUARD" rules check parens.yaml
[ $rc -eq 2 ] && grep -qE 'parens.yaml:5:[0-9]+: ' err && ok "10 000 nested parentheses: a located error, exit 2 ($(cut -c1-90 err | head -1))" || { fail "parens: exit $rc"; head -2 err >&2; }
rule "$(perl -e 'print "not " x 2000, "vault.soft_delete"')" >nots.yaml
measure "$CMKGUARD" rules check nots.yaml
[ $rc -eq 2 ] && grep -qE 'nots.yaml:5:[0-9]+: .*(deep|nest)' err && ok "2 000 chained 'not': a located depth error, exit 2" || { fail "nots: exit $rc"; head -2 err >&2; }
# 100 000 rules over 25 files
mkdir many
perl -e 'for $f (0..24) { open F, sprintf(">many/r%02d.yaml", $f); print F "rules:\n";
  for $i (0..3999) { $n = $f*4000+$i; print F "  - id: R$n\n    title: r\n    on: [resource.cmk.enabled]\n    when: resource.key_uri matches \"^https://kv$n\\\\.vault\"\n    action: alert\n    severity: low\n    message: \"r $n\"\n" } close F }'
measure "$CMKGUARD" rules check many
[ $rc -eq 2 ] && grep -qE '^cmkguard: many/r02.yaml:[0-9]+:[0-9]+: more than 10000 rules' err && ok "100 000 rules: refused at the rule past the limit, named by file:line:col" || { fail "100k rules: exit $rc"; head -2 err >&2; }
bounded "100 000 rules"
measure "$CMKGUARD" replay --rules many /dev/null
[ $rc -eq 2 ] && ok "replay refuses the 100 000-rule set with exit 2" || fail "replay with 100k rules: exit $rc"
# 10 000 rules (the limit) load and evaluate
rm many/r0[3-9].yaml many/r1*.yaml many/r2*.yaml; perl -ne 'print if $. <= 1+2000*7' many/r02.yaml >r2 && mv r2 many/r02.yaml
measure "$CMKGUARD" rules check many
[ $rc -eq 0 ] && grep -q '"rules":10000' out && ok "10 000 rules load" || { fail "10 000 rules: exit $rc"; head -2 err >&2; }
bounded "10 000 rules with a regex each"
# NUL byte in a rule file
printf 'rules:\n  - id: N\n    title: "a\0b"\n' >nul.yaml
measure "$CMKGUARD" rules check nul.yaml
[ $rc -eq 2 ] && grep -qE 'nul.yaml:[0-9]+:[0-9]+: ' err && ok "NUL byte in a rule file: a located error, exit 2" || { fail "NUL in rules: exit $rc"; head -2 err >&2; }

# --- events ---
R=/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/h
{
  ev e1 vault.upserted $V '{"tenant":"t","region":"r","subscription":"s","soft_delete":true,"purge_protection":true,"retention_days":90}'
  perl -e 'print "{\"specversion\":\"1.0\",\"id\":\"deep\",\"data\":{\"a\":", "[" x 10000, "]" x 10000, "}}\n"'
  ev e2 key.created $V/keys/k '{"version":"v1","kty":"RSA","size":2048}'
  perl -e 'print "{\"specversion\":\"1.0\",\"id\":\"big\",\"source\":\"/h\",\"type\":\"resource.created\",\"subject\":\"x\",\"time\":\"2026-11-23T10:00:00Z\",\"data\":{\"kind\":\"", "A" x (3<<20), "\"}}\n"'
  ev e3 resource.created $R '{"kind":"ContentSafety","tenant":"t","region":"r","subscription":"s"}'
  printf '{"specversion":"1.0","id":"nul\0","source":"/h"}\n'
  ev e4 resource.identity.enabled $R '{"principal":"mi-h","tenant":"t"}'
  perl -e 'print "{\"specversion\":\"1.0\",\"id\":\"huge\",\"data\":\"", "B" x (50<<20), "\"}\n"'
  ev e5 vault.access.granted $V '{"principal":"mi-h","permissions":["get","wrapKey","unwrapKey"]}'
  ev e6 vault.upserted https://kv-redos.vault.azure.net "{\"tenant\":\"$(perl -e 'print "a" x 40000, "!"')\",\"region\":\"r\",\"subscription\":\"s\",\"soft_delete\":true,\"purge_protection\":true,\"retention_days\":90}"
  ev e7 resource.cmk.enabled $R "{\"key_uri\":\"$V/keys/k\"}"
} >hostile.jsonl
cat >redos.yaml <<'Y'
rules:
  - id: REDOS
    title: a catastrophic pattern
    on: [vault.upserted]
    when: vault.tenant matches "(a+)+$"
    action: alert
    severity: low
    message: "matched {vault.uri}"
Y
measure "$CMKGUARD" replay --rules redos.yaml hostile.jsonl
[ $rc -eq 0 ] && ok "replay of hostile events completes" || { fail "hostile replay: exit $rc"; tail -3 err >&2; }
bounded "hostile events (a 50 MiB line, a 3 MiB field, 10 000-deep JSON, a 40 000-character ReDoS input)"
[ "$(wc -l <out)" -eq 11 ] && ok "one record per event: nothing lost" || fail "$(wc -l <out) records for 11 events"
outcome() { jq -r --arg c "$1" 'select(.data.cause==$c) | .data.outcome + " " + (.data.reason // "")' out | head -1; }
case "$(outcome deep)" in "rejected "*"deeper than 64"*) ok "10 000-deep JSON event: rejected (nested deeper than 64)" ;; *) fail "deep event: $(outcome deep)" ;; esac
case "$(jq -r 'select(.data.input=="hostile.jsonl:4") | .data.outcome + " " + .data.reason' out)" in "rejected "*"bytes"*) ok "3 MiB field over the 1 MiB message limit: rejected" ;; *) fail "big: $(outcome big)" ;; esac
case "$(jq -r 'select(.data.input=="hostile.jsonl:8") | .data.outcome + " " + .data.reason' out)" in "rejected "*"bytes"*) ok "50 MiB line: rejected without being held" ;; *) fail "huge line" ;; esac
case "$(jq -r 'select(.data.input=="hostile.jsonl:6") | .data.outcome + " " + .data.reason' out)" in "rejected "*JSON*) ok "NUL byte in an event: rejected, the next event still applies" ;; *) fail "nul event" ;; esac
for e in e1 e2 e3 e4 e5 e7; do [ "$(outcome $e | cut -d' ' -f1)" = allowed ] || fail "$e: $(outcome $e)"; done
ok "every good event around the hostile ones is allowed"
case "$(outcome e6)" in allowed*) ok "the ReDoS input is judged (the pattern comes out unknown, not a hang) and allowed" ;; *) fail "ReDoS event: $(outcome e6 | cut -c1-100)" ;; esac
jq -s -e 'any(.[]; .data.cause=="e6" and any(.data.findings[]?; .rule=="REDOS" and .result=="unknown"))' out >/dev/null && ok "(a+)+\$ on 40 000 characters hits its match limit: the finding says unknown" || fail "no unknown REDOS finding"
# A 3 MiB field is fine when the operator allows bigger messages.
measure "$CMKGUARD" replay --max-message 8388608 --rules redos.yaml hostile.jsonl
[ "$(outcome big | cut -d' ' -f1)" != "" ] && [ "$(jq -r 'select(.data.cause=="big") | .data.reason // ""' out)" != "" ] && ! jq -r 'select(.data.cause=="big") | .data.reason' out | grep -q bytes && ok "with --max-message 8 MiB the 3 MiB field is decoded (and judged on its content)" || fail "big with --max-message: $(outcome big | cut -c1-80)"
bounded "hostile events with an 8 MiB message limit"
done_test
