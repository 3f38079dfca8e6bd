# Shared helpers for the CLI tests: each test runs in its own temporary folder.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CMKGUARD=${CMKGUARD:-$ROOT/cmkguard}
case $CMKGUARD in /*) ;; *) CMKGUARD=$ROOT/$CMKGUARD ;; esac
T=$(mktemp -d /tmp/cmkguard-test.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
# expect_rc WANT DESCRIPTION -- command...
expect_rc() {
  local want=$1 what=$2; shift 3
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "$what: exit $rc, expected $want"; sed 's/^/  | /' "$T/err" | head -5 >&2
  else ok "$what"; fi
}
# expect_err PATTERN DESCRIPTION: the last stderr matches
expect_err() {
  if grep -qE -- "$1" "$T/err"; then ok "$2"; else fail "$2: stderr lacks /$1/"; sed 's/^/  | /' "$T/err" | head -5 >&2; fi
}
done_test() { [ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }; }
# cmk_estate: through the caller's `ev TYPE SUBJECT DATA`, a vault $V in tenant t1, its
# key $K (RSA 2048), and two resources under $R, cs (ContentSafety) and face (Face), each
# with an identity the vault grants get, wrapKey and unwrapKey.
cmk_estate() {
  ev vault.upserted $V '{"tenant":"t1","region":"we","subscription":"s1","soft_delete":true,"purge_protection":true}'
  ev key.created $K '{"version":"v1","kty":"RSA","size":2048}'
  for r in cs face; do
    kind=ContentSafety; [ $r = face ] && kind=Face
    ev resource.created $R/$r '{"kind":"'$kind'","tenant":"t1","region":"we","subscription":"s1"}'
    ev resource.identity.enabled $R/$r '{"principal":"mi-'$r'","tenant":"t1"}'
    ev vault.access.granted $V '{"principal":"mi-'$r'","permissions":["get","wrapKey","unwrapKey"]}'
  done
}
# test_seed: seeds $RANDOM from SEED, or from the clock when SEED is unset, and prints
# the seed, so that a run with random choices can be repeated: SEED=N bash tests/cli/….
test_seed() {
  SEED=${SEED:-$(( $(date +%s%N) % 2147483647 ))}
  RANDOM=$SEED
  echo "seed: $SEED (SEED=$SEED repeats this run's random choices)"
}
# wait_until SECONDS DESCRIPTION -- command...: runs the command every 50 ms until it
# succeeds; when SECONDS pass first, the test fails (and wait_until returns 1).
wait_until() {
  local secs=$1 what=$2; shift 3
  local end=$(( $(date +%s%N) + secs * 1000000000 ))
  until "$@"; do
    if [ "$(date +%s%N)" -ge "$end" ]; then fail "$what: not within ${secs}s"; return 1; fi
    sleep 0.05
  done
}
