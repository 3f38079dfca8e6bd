#!/usr/bin/env bash
# make bench: workloads from a fixed seed, each figure beside its physical limit or its
# peer measured in the same run, and the ratio between them. Results go to
# build/bench/results.txt and build/bench/chart.svg. Sizes can be lowered for a quick
# look: BENCH_EVENTS, BENCH_RESOURCES, BENCH_FANOUT, BENCH_KAFKA_EVENTS, BENCH_LAT_SECONDS.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
B=$ROOT/build/bench
mkdir -p "$B"
CMK=$ROOT/cmkguard
KEY=tests/golden/test-signing.key
EVENTS=${BENCH_EVENTS:-1000000} RESOURCES=${BENCH_RESOURCES:-100000}
FANOUT=${BENCH_FANOUT:-10000} KEVENTS=${BENCH_KAFKA_EVENTS:-100000}
LAT_RATE=${BENCH_LAT_RATE:-1000} LAT_SECONDS=${BENCH_LAT_SECONDS:-10}
RULES=$ROOT/rules
say() { echo "bench: $*" >&2; }
now() { date +%s.%N; }
calc() { awk "BEGIN {printf \"%.0f\", $1}"; }     # integer result
fcalc() { awk "BEGIN {printf \"%.6f\", $1}"; }    # fractional result
res() { echo "$1 $2" >>"$B/results.txt"; }
get() { awk -v k="$1" '$1 == k {print $2}' "$B/results.txt" | tail -1; }
: >"$B/results.txt"
res date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
res cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1 | tr ' ' '_')"
res cores "$(nproc)"

# --- workloads ---
W=$B/events-$EVENTS-$RESOURCES.jsonl
[ -s "$W" ] || { say "generating $EVENTS events over $RESOURCES resources (seed 1)"; "$B/bench-gen" --events "$EVENTS" --resources "$RESOURCES" --seed 1 >"$W"; }
res events "$(wc -l <"$W")"

# --- limits, in process ---
say "measuring the limits: Ed25519 signing, RSA-2048 OAEP unwrap (1 core and all cores)"
"$B/bench-limits" --seconds 2 --sign-key "$KEY" | while read -r k v; do res "$k" "$v"; done

# --- replay ---
replay() { # NAME ARGS...: events/s and peak RSS of one replay of the workload
  local name=$1; shift
  say "replay ($name): $EVENTS events"
  local t0 t1; t0=$(now)
  /usr/bin/time -f '%M' -o "$B/rss.txt" "$CMK" replay --rules "$RULES" "$@" "$W" >"$B/replay-$name.jsonl" 2>"$B/replay-$name.err" \
    || { say "replay $name failed: $(tail -1 "$B/replay-$name.err")"; exit 1; }
  t1=$(now)
  res "replay_${name}_per_s" "$(calc "$EVENTS / ($t1 - $t0)")"
  res "replay_${name}_rss_kib" "$(tail -1 "$B/rss.txt")"
  res "replay_${name}_records" "$(wc -l <"$B/replay-$name.jsonl")"
}
replay unsigned
replay checkpoint --sign-key "$KEY" --checkpoint 1000
replay signed --sign-key "$KEY"
rm -f "$B"/replay-state.db*
replay state --state "$B/replay-state.db" --sign-key "$KEY" --checkpoint 1000
# BENCH_BASELINE=PATH: the same replays by an earlier build's binary, in this sitting,
# so a change's cost is a ratio measured side by side.
# An earlier build reads the rule pack of its own tree (BENCH_BASELINE_RULES, by default
# the rules/ beside its binary).
BASE_RULES=${BENCH_BASELINE_RULES:-$(dirname "${BENCH_BASELINE:-.}")/rules}
if [ -n "${BENCH_BASELINE:-}" ]; then
  CMK_THIS=$CMK CMK=$BENCH_BASELINE RULES=$BASE_RULES
  replay base_unsigned
  replay base_checkpoint --sign-key "$KEY" --checkpoint 1000
  rm -f "$B"/replay-state.db*
  replay base_state --state "$B/replay-state.db" --sign-key "$KEY" --checkpoint 1000
  CMK=$CMK_THIS RULES=$ROOT/rules
fi
rm -f "$B"/replay-state.db*
cmp -s <(jq -c '.data.outcome' "$B/replay-unsigned.jsonl") <(jq -c '.data.outcome' "$B/replay-signed.jsonl") \
  || { say "signed and unsigned replays decided differently"; exit 1; }
res violations_pct "$(jq -r '.data.outcome' "$B/replay-unsigned.jsonl" | awk '$0 != "allowed" && $0 != "null" {v++} END {printf "%.1f", 100 * v / NR}')"
rm -f "$B"/replay-*.jsonl

# --- the jq peer: parse, select CMK events, regex-check the key URI, write a JSON line ---
say "jq over the same file"
t0=$(now)
jq -R -c 'fromjson? | select(.type | startswith("resource.cmk")) |
  {id, subject, valid: ((.data.key_uri // "") | test("^https://[a-z0-9-]+\\.vault\\.azure\\.net/keys/[A-Za-z0-9-]+(/[A-Za-z0-9]+)?$"))}' \
  "$W" >"$B/jq.out"
t1=$(now)
res jq_per_s "$(calc "$EVENTS / ($t1 - $t0)")"

# --- the floor: the work no replay with checkpoints can skip, on one core (bench/floor.c):
# decoding every line, SHA-256 over every record written, and the crypto operations the
# same replay makes (counted in process), each kind timed standalone ---
say "floor: decoding, hashing the records, the replay's own crypto timed standalone"
"$B/bench-floor" --rules "$RULES" --sign-key "$KEY" --checkpoint 1000 --out "$B/floor-trail.jsonl" "$W" \
  >"$B/floor.out" 2>"$B/floor.err" || { say "bench-floor failed: $(tail -1 "$B/floor.err")"; exit 1; }
rm -f "$B/floor-trail.jsonl"
while read -r k v; do res "$k" "$v"; done <"$B/floor.out"
[ "$(get floor_records)" = "$(get replay_checkpoint_records)" ] \
  || { say "the floor's replay wrote $(get floor_records) records, the replay $(get replay_checkpoint_records)"; exit 1; }
res replay_vs_floor "$(fcalc "$(get replay_checkpoint_per_s) / $(get floor_events_per_s)")"

# --- a partition's state through the snapshot seam (bench/snapshot.c): the state the
# workload leaves, snapshotted and restored in one process ---
say "snapshot and restore of the state the workload leaves"
"$B/bench-snapshot" --rules "$RULES" "$W" >"$B/snapshot.out" 2>"$B/snapshot.err" \
  || { say "bench-snapshot failed: $(tail -1 "$B/snapshot.err")"; exit 1; }
while read -r k v; do res "$k" "$v"; done <"$B/snapshot.out"

# --- re-wrap fan-out: a versionless key used by FANOUT resources rotates ---
# Hot: in one process, the resources hold their DEKs (as the service does) and only the
# new key wraps. Cold: right after a restart from the state, each DEK is first unwrapped
# under the old version. Either way the rotation's time is the run with it minus the run
# without it.
say "fan-out: rotating a key used by $FANOUT resources"
"$B/bench-gen" --rotate-fanout "$FANOUT" >"$B/fanout.jsonl"
head -n -1 "$B/fanout.jsonl" >"$B/fanout-setup.jsonl"; tail -1 "$B/fanout.jsonl" >"$B/fanout-rotate.jsonl"
sed 's/"key.rotated"/"vault.access.revoked"/; s/"version":"v2"/"principal":"nobody"/; s|/keys/cmk"|"|; s/"id":"b-[0-9]*"/"id":"noop"/' \
  "$B/fanout-rotate.jsonl" >"$B/fanout-noop.jsonl"
timed() { # FILE [ARGS]: seconds to replay FILE
  local f=$1 t0 t1; shift; t0=$(now)
  "$CMK" replay --rules rules "$@" "$f" >"$B/fan.out" 2>>"$B/fanout.err" || { say "fan-out replay failed"; exit 1; }
  t1=$(now); fcalc "$t1 - $t0"; }
rewraps() { jq 'select(.data.event_type == "key.rotated") | [.data.actions[]? | select(.op == "rewrap" and (.error // null) == null)] | length' "$B/fan.out" | awk '{s += $1} END {print s}'; }
setup=$(timed "$B/fanout-setup.jsonl")
full=$(timed "$B/fanout.jsonl")
res fanout_rewraps "$(rewraps)"
res fanout_hot_per_s "$(calc "$(rewraps) / ($full - $setup)")"
rm -f "$B"/fan.db*
"$CMK" replay --rules rules --state "$B/fan.db" "$B/fanout-setup.jsonl" >/dev/null 2>>"$B/fanout.err" || { say "fan-out setup failed"; exit 1; }
timed_state() { # FILE: seconds to replay FILE into a fresh copy of the fan-out state
  rm -f "$B"/fan2.db*; cp "$B/fan.db" "$B/fan2.db"; cp "$B/fan.db.mkey" "$B/fan2.db.mkey"
  [ -e "$B/fan.db-wal" ] && cp "$B/fan.db-wal" "$B/fan2.db-wal"
  timed "$1" --state "$B/fan2.db"; }
base=$(timed_state "$B/fanout-noop.jsonl")
rot=$(timed_state "$B/fanout-rotate.jsonl")
res fanout_cold_per_s "$(calc "$(rewraps) / ($rot - $base)")"

# --- Kafka: the embedded broker, cmkguard run vs a kcat passthrough ---
say "Kafka: $KEVENTS events through the embedded broker"
. "$ROOT/scripts/kafka-lib.sh"
rm -f "$B/broker.ctl"; mkfifo "$B/broker.ctl"
trap 'exec 7>&-; kill ${BROKER_PID:-} ${RUN:-} ${PASS_C:-} ${PASS_P:-} 2>/dev/null; wait 2>/dev/null' EXIT
broker_start "$B" "$CMK" --partitions 16 --topic cmk.events --topic cmk.audit --topic cmk.dead \
  --topic lat.events --topic lat.audit --topic lat.dead --topic bench.pass \
  --topic latpass.events --topic latpass.out \
  --topic base.events --topic base.audit --topic base.dead || { say "the broker did not start"; exit 1; }
head -n "$KEVENTS" "$W" | awk '{ if (match($0, /-t[0-9]+/)) k = substr($0, RSTART + 1, RLENGTH - 1); else k = "t0"; print k "\t" $0 }' >"$B/kafka.in"
kcat -P -b "$BOOT" -t cmk.events -K $'\t' -l "$B/kafka.in" || { say "kcat produce failed"; exit 1; }
t0=$(now)
kcat -C -b "$BOOT" -t cmk.events -o beginning -e -q -f '%k\t%s\n' 2>/dev/null | kcat -P -b "$BOOT" -t bench.pass -K $'\t' -p -1
t1=$(now)
res kcat_passthrough_per_s "$(calc "$KEVENTS / ($t1 - $t0)")"
# until_ok SECONDS COMMAND...: a condition that must hold in time, or the bench fails
until_ok() { poll_until "$@" || { say "timed out waiting for: ${*:2}"; exit 1; }; }
config() { # FILE GROUP STATE PORT TOPIC-PREFIX [RULES]
  printf 'kafka:\n  bootstrap.servers: %s\n  group.id: %s\n  linger.ms: 1\n  fetch.wait.max.ms: 5\n' "$BOOT" "$2"
  printf 'topics: {events: %s.events, audit: %s.audit, dead_letter: %s.dead}\n' "$5" "$5" "$5"
  printf 'rules: [%s]\nstate: %s\naudit: {sign_key: %s/%s, checkpoint: 1000}\n' "${6:-$ROOT/rules}" "$3" "$ROOT" "$KEY"
  printf 'metrics: {listen: "127.0.0.1:%s"}\nstatus_interval: 0\n' "$4"; } >"$1"
run_figure() { # RESULT BINARY NAME PORT TOPIC-PREFIX [RULES]: events/s of one run to drained
  rm -f "$B/$3".db*
  config "$B/$3.yaml" "bench-$3-$$" "$B/$3.db" "$4" "$5" "${6:-}"
  "$2" run --config "$B/$3.yaml" 2>"$B/$3.err" & RUN=$!
  until_ok 60 metrics_assigned "$4"
  local t0 t1; t0=$(now)
  until_ok 600 metrics_drained "$4" "$KEVENTS"
  t1=$(now)
  res "$1" "$(calc "$KEVENTS / ($t1 - $t0)")"
  kill -TERM $RUN; wait $RUN; RUN=
}
run_figure kafka_run_per_s "$CMK" run "$(free_port)" cmk
# The baseline build's run over the same events, on topics of its own.
if [ -n "${BENCH_BASELINE:-}" ]; then
  kcat -P -b "$BOOT" -t base.events -K $'\t' -l "$B/kafka.in" || { say "kcat produce failed"; exit 1; }
  run_figure kafka_run_base_per_s "$BENCH_BASELINE" base "$(free_port)" base "$BASE_RULES"
fi

# --- latency at a fixed offered rate: the same probe on fresh topics through a kcat
# passthrough (consume -> produce, with run's fetch.wait.max.ms and linger.ms), then
# through cmkguard run ---
say "latency: $LAT_RATE events/s for ${LAT_SECONDS}s, through a kcat passthrough and through run"
rm -f "$B/pass.fifo"; mkfifo "$B/pass.fifo"
kcat -C -b "$BOOT" -t latpass.events -o beginning -u -q -X fetch.wait.max.ms=5 -f '%k\t%s\n' \
  >"$B/pass.fifo" 2>"$B/pass.err" & PASS_C=$!
kcat -P -b "$BOOT" -t latpass.out -K $'\t' -p -1 -X linger.ms=1 <"$B/pass.fifo" 2>>"$B/pass.err" & PASS_P=$!
# The passthrough is up when a first message has gone through it (the probe starts
# reading the output topic after it). kcat -P reads 1 KiB at a time: the line it reads
# for this message is 1 KiB long (bench-latency pads its events the same way).
printf 'warm\t{"id":"warm","pad":"%0996d"}\n' 0 | kcat -P -b "$BOOT" -t latpass.events -K $'\t' \
  || { say "kcat produce failed"; exit 1; }
pass_through() { kcat -C -b "$BOOT" -t latpass.out -o beginning -e -q 2>/dev/null | grep -q warm; }
until_ok 60 pass_through
rm -f "$B"/lat.db*
LAT_PORT=$(free_port)
config "$B/lat.yaml" "bench-lat-$$" "$B/lat.db" "$LAT_PORT" lat
"$CMK" run --config "$B/lat.yaml" 2>"$B/lat.err" & RUN=$!
until_ok 60 metrics_assigned "$LAT_PORT"
"$B/bench-latency" --brokers "$BOOT" --events-topic lat.events --audit-topic lat.audit \
  --pass-events-topic latpass.events --pass-out-topic latpass.out \
  --rate "$LAT_RATE" --seconds "$LAT_SECONDS" | while read -r k v; do res "$k" "$v"; done
kill -TERM $RUN; wait $RUN; RUN=
kill $PASS_C; wait $PASS_C $PASS_P 2>/dev/null; PASS_C= PASS_P=

scripts/bench-report.sh "$B/results.txt" "$B/chart.svg"
