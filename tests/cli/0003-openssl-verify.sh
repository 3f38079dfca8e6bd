# Records verify with the plain openssl tool, without cmkguard: SHA-256 over the
# canonical form without hash and sig, Ed25519 over the 32 raw hash bytes.
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
G=tests/golden/story.audit.jsonl
P=tests/golden/test-signing.pub
kid=$(openssl pkey -pubin -in $P -outform DER | openssl dgst -sha256 -r | cut -c1-16)
checked=0
for n in 1 12 40 $(wc -l <$G); do
  line=$(sed -n "${n}p" $G)
  hash=$(printf '%s' "$line" | sed -E 's/.*"hash":"([0-9a-f]{64})".*/\1/')
  sig=$(printf '%s' "$line" | sed -E 's/.*"sig":"([^"]+)".*/\1/')
  # The record is canonical already: removing the two members leaves the hashed form.
  body=$(printf '%s' "$line" | sed -E 's/"hash":"[0-9a-f]{64}",//; s/"sig":"[^"]+",//')
  got=$(printf '%s' "$body" | openssl dgst -sha256 -r | cut -d' ' -f1)
  [ "$got" = "$hash" ] || { fail "record $n: openssl sha256 $got != $hash"; continue; }
  printf '%s' "$hash" | perl -e 'print pack("H*", <STDIN>)' >"$T/h.bin"
  printf '%s' "$sig" | base64 -d >"$T/s.bin"
  if openssl pkeyutl -verify -pubin -inkey $P -rawin -in "$T/h.bin" -sigfile "$T/s.bin" >/dev/null 2>&1; then
    checked=$((checked + 1))
  else fail "record $n: openssl rejects the signature"; fi
  printf '%s' "$line" | grep -q "\"kid\":\"$kid\"" || fail "record $n: kid is not SHA-256(SPKI DER)[:16]"
  # a tampered hash must not verify
  printf '%s' "$hash" | tr '0-9a-f' '1-9a-f0' | perl -e 'print pack("H*", <STDIN>)' >"$T/bad.bin"
  openssl pkeyutl -verify -pubin -inkey $P -rawin -in "$T/bad.bin" -sigfile "$T/s.bin" >/dev/null 2>&1 && fail "record $n: openssl accepts a wrong hash"
done
[ "$checked" -eq 4 ] && ok "4 records verified by openssl (hash, signature, kid)" || fail "only $checked verified"
done_test
