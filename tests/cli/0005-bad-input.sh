# Bad events never stop a replay: each gets a rejected record with a reason.
. "$(dirname "$0")/lib.sh"
cd "$T"
R=/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts
good='{"specversion":"1.0","id":"g1","type":"resource.created","subject":"'$R'/a","time":"2026-11-02T10:00:00Z","data":{"kind":"Face","tenant":"t1","region":"r","subscription":"s1"}}'
{
  echo '{"specversion":"1.0"'                                  # 1 truncated
  printf '{"specversion":"1.0","id":"x\xff","type":"a"}\n'       # 2 not UTF-8
  printf '%s' '{"a":'; for i in $(seq 1 100); do printf '['; done; for i in $(seq 1 100); do printf ']'; done; echo '}'   # 3 too deep
  echo '[1]'                                                   # 4 not an object (a batch of one)
  printf '{"specversion":"1.0","id":"big","type":"resource.created","subject":"%s/b","time":"2026-11-02T10:00:00Z","data":{"kind":"%s","tenant":"t","region":"r","subscription":"s"}}\n' "$R" "$(head -c 3000 /dev/zero | tr '\0' 'k')"  # 5 oversized
  echo '{"specversion":"1.0","id":"n1","type":"resource.created","subject":"'$R'/c","time":"2026-11-02T10:00:00Z","data":{"kind":"Fa\u0000ce","tenant":"t","region":"r","subscription":"s"}}'  # 6 NUL
  echo '{"specversion":"1.0","id":"f1","type":"key.created","subject":"https://kv1.vault.azure.net/keys/k","time":"2026-11-02T10:00:00Z","data":{"version":"v1","kty":"RSA","size":2048.5}}' # 7 float
  echo ''                                                      # blank: skipped
  echo "$good"                                                 # 9 fine
  echo "$good"                                                 # 10 duplicate
} >bad.jsonl
expect_rc 0 "replay of bad input exits 0" -- "$CMKGUARD" replay --max-message 2048 bad.jsonl
cp "$T/out" out.jsonl
[ "$(wc -l <out.jsonl)" -eq 9 ] && ok "one record per non-blank line" || fail "$(wc -l <out.jsonl) records"
reason() { sed -n "${1}p" out.jsonl | jq -r '.data.outcome + ": " + (.data.reason // "")'; }
want() { case "$(reason "$1")" in *"$2"*) ok "line $1: $2" ;; *) fail "line $1: got '$(reason "$1")', wanted '$2'" ;; esac; }
want 1 "rejected: not valid JSON"
want 2 "rejected: not valid JSON"
want 3 "rejected: nesting deeper than 64"
want 4 "not a JSON object"
want 5 "rejected: message is 3"
want 6 "rejected: data contains a NUL character"
want 7 "rejected: data.size: expected an integer, not a fraction"
want 8 "allowed: "
want 9 "duplicate: event id 'g1' was seen before"
sed -n 8p out.jsonl | jq -e '.data.input=="bad.jsonl:9"' >/dev/null && ok "input names file:line" || fail "input: $(sed -n 8p out.jsonl | jq -r .data.input)"
grep -q "bad.jsonl:5: event rejected: message is" "$T/err" && ok "rejections are logged to stderr with file:line" || fail "no log line"
# stdin works too, and a missing file is a usage error
expect_rc 0 "replay reads stdin" -- sh -c "echo '$good' | \"$CMKGUARD\" replay -"
expect_rc 2 "a missing events file exits 2" -- "$CMKGUARD" replay nope.jsonl
expect_err "nope.jsonl: cannot open events" "missing file named"
expect_rc 2 "unknown option exits 2" -- "$CMKGUARD" replay --frobnicate x
expect_rc 2 "--checkpoint without a key exits 2" -- "$CMKGUARD" replay --checkpoint 5 bad.jsonl
expect_rc 2 "unknown command exits 2" -- "$CMKGUARD" frobnicate
done_test
