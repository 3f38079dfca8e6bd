#!/usr/bin/env bash
# The cold rotation figure of scripts/bench.sh alone, for comparing builds side by side on
# a machine others load: ROUNDS rounds, each measuring the RSA-OAEP unwrap limit on every
# core (bench-limits) and then each binary's cold rotation of a key BENCH_FANOUT resources
# use (default 10 000): the replay of the rotation into a fresh copy of the state that
# binary set up, minus the same replay of an event that changes nothing. Prints every
# round's times, then per binary the best round against the best limit (on a shared
# machine, the least disturbed sample of each), as bench.sh's ratio, and the median CPU
# time (user + system) the rotation took, which others' load moves less.
#
#   make build/bench/bench-gen build/bench/bench-limits
#   scripts/bench-fanout.sh 10 /tmp/before/cmkguard ./cmkguard
set -u
[ $# -ge 2 ] || { echo "usage: $0 ROUNDS BINARY..." >&2; exit 2; }
ROUNDS=$1; shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
B=$ROOT/build/bench/fanout-ab
FANOUT=${BENCH_FANOUT:-10000}
mkdir -p "$B"
now() { date +%s.%N; }
build/bench/bench-gen --rotate-fanout "$FANOUT" >"$B/fanout.jsonl" || exit 1
head -n -1 "$B/fanout.jsonl" >"$B/setup.jsonl"; tail -1 "$B/fanout.jsonl" >"$B/rotate.jsonl"
# as bench.sh: the same event turned into one that re-wraps nothing
sed 's/"key.rotated"/"vault.access.revoked"/; s/"version":"v2"/"principal":"nobody"/; s|/keys/cmk"|"|; s/"id":"b-[0-9]*"/"id":"noop"/' \
  "$B/rotate.jsonl" >"$B/noop.jsonl"
i=0
for bin in "$@"; do # each binary sets up its own state: formats may differ between builds
  i=$((i + 1)); rm -f "$B/s$i".db*
  "$bin" replay --rules rules --state "$B/s$i.db" "$B/setup.jsonl" >/dev/null 2>"$B/setup$i.err" ||
    { echo "$bin: setup failed: $(tail -1 "$B/setup$i.err")" >&2; exit 1; }
done
timed() { # N FILE: seconds for binary N to replay FILE into a fresh copy of its state, and
  # its CPU seconds (user + system)
  rm -f "$B"/run.db*; cp "$B/s$1.db" "$B/run.db"; cp "$B/s$1.db.mkey" "$B/run.db.mkey"
  [ -e "$B/s$1.db-wal" ] && cp "$B/s$1.db-wal" "$B/run.db-wal"
  local t0 t1; t0=$(now)
  /usr/bin/time -f "%U %S" -o "$B/run.cpu" "${bins[$1]}" replay --rules rules --state "$B/run.db" "$2" \
    >"$B/run.out" 2>"$B/run.err" || { echo "${bins[$1]}: replay failed: $(tail -1 "$B/run.err")" >&2; exit 1; }
  t1=$(now); awk -v t="$(awk "BEGIN {printf \"%.6f\", $t1 - $t0}")" '{printf "%s %.2f", t, $1 + $2}' "$B/run.cpu"; }
bins=(none "$@")
: >"$B/raw.txt"
for r in $(seq "$ROUNDS"); do
  lim=$(build/bench/bench-limits --seconds 1 --sign-key tests/golden/test-signing.key | awk '$1 == "rsa_unwrap_per_s_all" {print $2}')
  echo "limit $lim" >>"$B/raw.txt"
  for n in $(seq $#); do
    base=$(timed "$n" "$B/noop.jsonl") || exit 1
    rot=$(timed "$n" "$B/rotate.jsonl") || exit 1
    k=$(jq 'select(.data.event_type == "key.rotated") | [.data.actions[]? | select(.op == "rewrap" and (.error // null) == null)] | length' "$B/run.out" | awk '{s += $1} END {print s}')
    echo "$n $k $rot $base" | awk '{printf "%s %s %.3f %.2f\n", $1, $2, $3 - $5, $4 - $6}' >>"$B/raw.txt"
  done
done
awk -v names="$*" 'BEGIN {split(names, bin, " ")}
  $1 == "limit" {if ($2 > lim) lim = $2; next}
  {t[$1] = t[$1] " " $3; c[$1, ++nc[$1]] = $4; if (!($1 in best) || $3 < best[$1]) {best[$1] = $3; k[$1] = $2}}
  END {
    printf "best unwrap limit on all cores: %d/s\n", lim
    for (n = 1; n in bin; n++) {
      for (i = 1; i <= nc[n]; i++) for (j = i + 1; j <= nc[n]; j++) if (c[n, j] < c[n, i]) {x = c[n, i]; c[n, i] = c[n, j]; c[n, j] = x}
      m = nc[n] % 2 ? c[n, (nc[n] + 1) / 2] : (c[n, nc[n] / 2] + c[n, nc[n] / 2 + 1]) / 2
      printf "%s: rotation seconds%s; best %.3f s = %.0f rewraps/s, %.2f of the limit; median CPU %.2f s\n", bin[n], t[n], best[n], k[n] / best[n], k[n] / best[n] / lim, m
    }
  }' "$B/raw.txt"
