# The benchmark's floor (bench-floor): the crypto operations a replay makes are counted
# exactly (a hand-made estate whose operations are known), and on a generated workload
# every figure is printed, the counts agree with what the trail shows was done, the
# replay it counts writes the trail the replay command writes, and the floor is the sum
# of its parts.
. "$(dirname "$0")/lib.sh"
cd "$T"
BUILD_DIR=${CMK_BUILD:-$ROOT/build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
FLOOR=$BUILD_DIR/bench/bench-floor GEN=$BUILD_DIR/bench/bench-gen
[ -x "$FLOOR" ] && [ -x "$GEN" ] || { fail "no $FLOOR or $GEN (make $BUILD_DIR/bench/bench-floor)"; done_test; }
KEY=$ROOT/tests/golden/test-signing.key
val() { awk -v k="$1" '$1 == k {print $2}' "$2"; }

# A vault, its RSA-2048 key, two resources (ContentSafety, Face) bound to it, then the key
# rotates: 2 key generations (v1, v2); 6 data keys (3 each) and the in-memory state's
# master key; 5 AES key wraps under the master key (the DEK and the block key each, and
# the Face service key); 4 RSA-OAEP wraps (each binding, then each re-wrap under v2, the
# DEKs held); each key version's material sealed; nothing unwrapped, nothing signed.
V=https://kv1.vault.azure.net K=https://kv1.vault.azure.net/keys/k1
R=/subscriptions/s1/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts
n=0
ev() {
  n=$((n + 1))
  printf '{"specversion":"1.0","id":"e%d","source":"/t","type":"%s","subject":"%s","time":"2026-01-01T00:00:%02dZ","data":%s}\n' \
    $n "$1" "$2" $n "$3"
}
{
  cmk_estate
  for r in cs face; do ev resource.cmk.enabled $R/$r '{"key_uri":"'$K'"}'; done
  ev key.rotated $K '{"version":"v2"}'
} >tiny.jsonl
"$FLOOR" --rules "$ROOT/rules" --out tiny.trail --seconds 0.01 --keygen-samples 1 tiny.jsonl >tiny.out 2>tiny.err \
  || { fail "bench-floor on the estate: $(tail -1 tiny.err)"; done_test; }
[ "$(jq -r '.data.outcome' tiny.trail | sort -u)" = allowed ] && ok "the estate is allowed throughout" \
  || fail "the estate: $(jq -r '.data.outcome' tiny.trail | sort | uniq -c | tr '\n' ' ')"
got=$(grep '^floor_n_' tiny.out | sort | tr '\n' ' ')
want="floor_n_dek 7 floor_n_gcm_seal 2 floor_n_keygen_rsa2048 2 floor_n_kw_wrap 5 floor_n_wrap_rsa2048 4 "
[ "$got" = "$want" ] && ok "exact counts: $want" || fail "counts: $got; expected $want"

# A generated workload, as make bench runs it.
"$GEN" --events 3000 --resources 300 --seed 1 >w.jsonl
"$FLOOR" --rules "$ROOT/rules" --sign-key "$KEY" --checkpoint 100 --out w.trail --seconds 0.01 \
  --keygen-samples 2 w.jsonl >w.out 2>w.err || { fail "bench-floor on the workload: $(tail -1 w.err)"; done_test; }
missing=
for k in floor_replay_s floor_events floor_records floor_record_bytes floor_decode_s floor_sha256_s \
  floor_crypto_s floor_s floor_events_per_s floor_keygen_rsa2048_us floor_keygen_rsa2048_samples \
  floor_keygen_rsa2048_min_ms floor_keygen_rsa2048_max_ms floor_wrap_rsa2048_s floor_kw_wrap_s floor_dek_s floor_sign_s; do
  [ -n "$(val $k w.out)" ] || missing="$missing $k"
done
[ -z "$missing" ] && ok "every figure printed" || fail "missing:$missing"
"$CMKGUARD" replay --rules "$ROOT/rules" --sign-key "$KEY" --checkpoint 100 w.jsonl >cli.trail 2>/dev/null
cmp -s cli.trail w.trail && ok "the counted replay wrote what the replay command writes" \
  || fail "bench-floor's trail differs from the replay command's"
[ "$(val floor_events w.out)" = 3000 ] && [ "$(val floor_records w.out)" = "$(wc -l <w.trail)" ] \
  && [ "$(val floor_record_bytes w.out)" = $(($(wc -c <w.trail) - $(wc -l <w.trail))) ] \
  && ok "3000 events decoded, every record's bytes hashed" || fail "events, records or bytes: $(grep -E 'events|records|bytes' w.out | tr '\n' ' ')"
# What the trail shows was done, against what was counted.
keys=$(jq -s '[.[] | select(.data.event_type == "key.created" and .data.outcome == "allowed")] | length' w.trail)
rewraps=$(jq -s '[.[].data.actions[]? | select(.op == "rewrap" and (.error // null) == null and .to != "mmk")] | length' w.trail)
wraps=$(jq -s '[.[].data.actions[]? | select(.op == "wrap" and (.error // null) == null)] | length' w.trail)
sigs=$(jq -s '[.[] | select(has("sig"))] | length' w.trail)
kw=$(val floor_n_kw_wrap w.out)
[ "$keys" -gt 0 ] && [ "$(val floor_n_keygen_rsa2048 w.out)" = "$keys" ] && ok "$keys key generations" \
  || fail "key generations: $(val floor_n_keygen_rsa2048 w.out), the trail has $keys keys created"
[ "$rewraps" -gt 0 ] && [ "$(val floor_n_wrap_rsa2048 w.out)" = "$rewraps" ] && ok "$rewraps RSA-OAEP wraps" \
  || fail "RSA-OAEP wraps: $(val floor_n_wrap_rsa2048 w.out), the trail has $rewraps re-wraps under a key"
[ "$wraps" -gt 0 ] && [ "$(val floor_n_dek w.out)" = $((3 * wraps + 1)) ] && ok "$((3 * wraps + 1)) data keys" \
  || fail "data keys: $(val floor_n_dek w.out), expected 3 for each of $wraps resources and the master key"
[ "${kw:-0}" -ge $((2 * wraps)) ] && [ "$kw" -le $((3 * wraps + rewraps)) ] && ok "$kw AES key wraps for $wraps resources" \
  || fail "AES key wraps: ${kw:-none} for $wraps resources"
[ "$sigs" -gt 0 ] && [ "$(val floor_n_sign w.out)" = "$sigs" ] && ok "$sigs checkpoint signatures" \
  || fail "signatures: $(val floor_n_sign w.out), the trail has $sigs signed records"
[ -z "$(val floor_n_unwrap_rsa2048 w.out)" ] && ok "no unwraps (the DEKs are held)" || fail "unwraps counted"
awk '$1 == "floor_decode_s" || $1 == "floor_sha256_s" || $1 == "floor_crypto_s" {s += $2} $1 == "floor_s" {f = $2}
  $1 == "floor_events_per_s" {r = $2} END {exit !(f > 0 && s - f < 0.0021 && f - s < 0.0021 && r > 0)}' w.out \
  && ok "the floor is the sum of its parts" || fail "floor: $(grep -E '_s |per_s' w.out | tr '\n' ' ')"
awk '/^floor_n_/ {n = $2; k = substr($1, 9)} /_us / && k != "" && $1 == "floor_" k "_us" {e = $2}
  /_s / && k != "" && $1 == "floor_" k "_s" {if (e <= 0 || (e * n / 1e6 - $2) ^ 2 > 0.0000011) bad = 1; k = ""}
  END {exit bad}' w.out && ok "each kind's part is its count times its standalone time" \
  || fail "a kind's part is not count x time"
done_test
