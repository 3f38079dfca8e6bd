#!/usr/bin/env bash
# make bench: workloads from a fixed seed, each figure beside its physical limit or its
# peer measured in the same run, and the ratio between them. Results go to
# build/bench/results.txt and build/bench/chart.svg. Sizes can be lowered for a quick
# look: BENCH_EVENTS, BENCH_RESOURCES, BENCH_FANOUT, BENCH_KAFKA_EVENTS, BENCH_LAT_SECONDS.
# BENCH_ONLY=scale measures several instances alone (with the workload and bench-snapshot
# it needs), skipping the other sections; BENCH_ONLY=kafka the Kafka figures alone (run
# against a kcat passthrough, and the latency probes), with BENCH_BASELINE's run beside.
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
case ${BENCH_ONLY:-} in '' | scale | kafka) ;; *) echo "bench: BENCH_ONLY takes scale or kafka" >&2; exit 2 ;; esac
full() { [ -z "${BENCH_ONLY:-}" ]; }   # every section, not only one
only() { [ -z "${BENCH_ONLY:-}" ] || [ "$BENCH_ONLY" = "$1" ]; }   # a section of every one, or the one asked for
say() { echo "bench: $*" >&2; }
now() { date +%s.%N; }
calc() { awk "BEGIN {printf \"%.0f\", $1}"; }     # integer result
fcalc() { awk "BEGIN {printf \"%.6f\", $1}"; }    # fractional result
secs() { awk "BEGIN {printf \"%.3f\", $1}"; }     # seconds, to the millisecond
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

# An earlier build reads the rule pack of its own tree (BENCH_BASELINE_RULES, by default
# the rules/ beside its binary).
BASE_RULES=${BENCH_BASELINE_RULES:-$(dirname "${BENCH_BASELINE:-.}")/rules}
if full; then
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
fi

if only scale; then
# --- a partition's state through the snapshot seam (bench/snapshot.c): the state the
# workload leaves, snapshotted and restored in one process ---
say "snapshot and restore of the state the workload leaves"
"$B/bench-snapshot" --rules "$RULES" "$W" >"$B/snapshot.out" 2>"$B/snapshot.err" \
  || { say "bench-snapshot failed: $(tail -1 "$B/snapshot.err")"; exit 1; }
while read -r k v; do res "$k" "$v"; done <"$B/snapshot.out"
fi

if full; then
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
fi

# --- Kafka: the embedded broker, cmkguard run vs a kcat passthrough ---
say "Kafka: $KEVENTS events through the embedded broker"
. "$ROOT/scripts/kafka-lib.sh"
rm -f "$B/broker.ctl"; mkfifo "$B/broker.ctl"
# (instances of several are killed outright: one stopping with the broker gone waits for it)
trap 'exec 7>&-; kill -KILL ${SCALE_PIDS:-} 2>/dev/null; kill ${BROKER_PID:-} ${TAIL_PID:-} ${RUN:-} ${PASS_C:-} ${PASS_P:-} 2>/dev/null; wait 2>/dev/null' EXIT
broker_start "$B" "$CMK" --partitions 16 --topic cmk.events --topic cmk.audit --topic cmk.dead \
  --topic lat.events --topic lat.audit --topic lat.dead --topic bench.pass \
  --topic latpass.events --topic latpass.out \
  --topic base.events --topic base.audit --topic base.dead || { say "the broker did not start"; exit 1; }
head -n "$KEVENTS" "$W" | awk '{ if (match($0, /-t[0-9]+/)) k = substr($0, RSTART + 1, RLENGTH - 1); else k = "t0"; print k "\t" $0 }' >"$B/kafka.in"
# until_ok SECONDS COMMAND...: a condition that must hold in time, or the bench fails
until_ok() { poll_until "$@" || { say "timed out waiting for: ${*:2}"; exit 1; }; }
sched() { # PID...: seconds these processes' threads have run on a core, and waited for one
  local p; for p; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done | awk '{r += $1; w += $2} END {printf "%.3f %.3f", r / 1e9, w / 1e9}'; }
if only kafka; then
kcat -P -b "$BOOT" -t cmk.events -K $'\t' -l "$B/kafka.in" || { say "kcat produce failed"; exit 1; }
b0=$(sched "$BROKER_PID"); t0=$(now)
/usr/bin/time -f '%U %S' -o "$B/pass-c.cpu" kcat -C -b "$BOOT" -t cmk.events -o beginning -e -q -f '%k\t%s\n' 2>/dev/null |
  /usr/bin/time -f '%U %S' -o "$B/pass-p.cpu" kcat -P -b "$BOOT" -t bench.pass -K $'\t' -p -1
t1=$(now); b1=$(sched "$BROKER_PID")
res kcat_passthrough_per_s "$(calc "$KEVENTS / ($t1 - $t0)")"
# CPU seconds (user + system) of the two kcat processes, and of the broker meanwhile
res kcat_passthrough_cpu_s "$(cat "$B/pass-c.cpu" "$B/pass-p.cpu" | awk '{s += $1 + $2} END {printf "%.3f", s}')"
res kcat_passthrough_broker_cpu_s "$(secs "${b1% *} - ${b0% *}")"
# What run does besides Kafka, over the same events: the pipeline with the same state
# file commits (replay --state, one commit per 500 events as run's batches), on one core.
# run cannot be faster than this; the difference is what Kafka costs it.
cut -f2- "$B/kafka.in" >"$B/kafka.jsonl"
rm -f "$B"/kafka-replay.db*
t0=$(now)
/usr/bin/time -f '%U %S' -o "$B/kafka-replay.cpu" "$CMK" replay --rules "$RULES" --state "$B/kafka-replay.db" \
  --sign-key "$KEY" --checkpoint 1000 --commit-every 500 "$B/kafka.jsonl" >/dev/null 2>"$B/kafka-replay.err" \
  || { say "replay of the Kafka events failed: $(tail -1 "$B/kafka-replay.err")"; exit 1; }
t1=$(now)
res kafka_replay_state_per_s "$(calc "$KEVENTS / ($t1 - $t0)")"
res kafka_replay_state_cpu_s "$(awk '{printf "%.3f", $1 + $2}' "$B/kafka-replay.cpu")"
rm -f "$B"/kafka-replay.db* "$B/kafka.jsonl"
fi
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
  local t0 t1 r0 r1 b0 b1; r0=$(sched $RUN); b0=$(sched "$BROKER_PID"); t0=$(now)
  until_ok 600 metrics_drained "$4" "$KEVENTS"
  t1=$(now); r1=$(sched $RUN); b1=$(sched "$BROKER_PID")
  res "$1" "$(calc "$KEVENTS / ($t1 - $t0)")"
  # CPU seconds meanwhile, of run's threads and of the broker's
  res "${1%_per_s}_cpu_s" "$(secs "${r1% *} - ${r0% *}")"
  res "${1%_per_s}_broker_cpu_s" "$(secs "${b1% *} - ${b0% *}")"
  kill -TERM $RUN; wait $RUN; RUN=
}
if only kafka; then
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
r0=$(sched $RUN); b0=$(sched "$BROKER_PID")
"$B/bench-latency" --brokers "$BOOT" --events-topic lat.events --audit-topic lat.audit \
  --pass-events-topic latpass.events --pass-out-topic latpass.out \
  --rate "$LAT_RATE" --seconds "$LAT_SECONDS" | while read -r k v; do res "$k" "$v"; done
r1=$(sched $RUN); b1=$(sched "$BROKER_PID")
# run's CPU over both probes (it idles through the passthrough's), the time its threads
# waited for a core meanwhile, and the broker's CPU over both
res latency_run_cpu_s "$(secs "${r1% *} - ${r0% *}")"
res latency_run_waited_s "$(secs "${r1#* } - ${r0#* }")"
res latency_broker_cpu_s "$(secs "${b1% *} - ${b0% *}")"
kill -TERM $RUN; wait $RUN; RUN=
kill $PASS_C; wait $PASS_C $PASS_P 2>/dev/null; PASS_C= PASS_P=
fi

if only scale; then
# --- several instances (SPEC §7a): one consumer group, each partition's state in the
# state topic. Three instances against one on the same events, the failover after a
# kill -9, and a partition's restore from its changelog ---
say "several instances: 1 and 3 on $KEVENTS events over 12 partitions, a kill -9, a restore"
broker_topic() { # NAME PARTITIONS: a topic made through the broker's control fifo
  local before; before=$(wc -l <"$B/broker.out")
  echo "topic $1 $2" >&7
  answered() { [ "$(wc -l <"$B/broker.out")" -gt "$before" ]; }
  until_ok 10 answered
  tail -1 "$B/broker.out" | grep -q '^ok' || { say "broker: topic $1: $(tail -1 "$B/broker.out")"; exit 1; }
}
scale_topics() { # PREFIX PARTITIONS: its events, audit, dead-letter and state topics
  local t; for t in events audit dead state; do broker_topic "$1.$t" "$2"; done; }
scale_config() { # FILE GROUP PORT PREFIX [YAML LINES]: config() with the state topic, the
  # shared master key and the session timeout of tests/cli/kafka.sh's scale_config
  local f=$1 g=$2 port=$3 x=$4 l; shift 4
  config "$f" "$g" "$B/$x.unused" "$port" "$x"
  sed -i -e "s|^topics: .*|topics: {events: $x.events, audit: $x.audit, dead_letter: $x.dead, state: $x.state}|" \
    -e 's|^  group.id: .*|&\n  session.timeout.ms: 6000\n  heartbeat.interval.ms: 500|' "$f"
  { printf 'master_key: %s\n' "$B/$x.master.key"; for l in "$@"; do printf '%s\n' "$l"; done; } >>"$f"
}
declare -a IPID IPORT
scale_start() { # PREFIX I [YAML LINES]: instance I of PREFIX's group, with a config of its
  # own (its metrics port) and a new state directory
  local x=$1 i=$2; shift 2
  IPORT[i]=$(free_port)
  scale_config "$B/$x-$i.yaml" "bench-$x-$$" "${IPORT[i]}" "$x" "$@"
  rm -rf "$B/$x-i$i"
  "$CMK" run --config "$B/$x-$i.yaml" --state "$B/$x-i$i" 2>"$B/$x-$i.err" & IPID[i]=$!
  SCALE_PIDS="${IPID[*]}"
}
scale_stop() { # I...: a clean stop of these instances
  local i; for i; do kill -TERM "${IPID[i]}" 2>/dev/null; done
  for i; do wait "${IPID[i]}"; IPID[i]=; done
  SCALE_PIDS="${IPID[*]}"
}
mvalue() { # FAMILY PORT...: the family's value summed over these instances' endpoints
  local f=$1 p; shift
  for p; do metrics_scrape "$p" 2>/dev/null; done | awk -v f="$f" '$1 == f {s += $2} END {print s + 0}'
}
settled() { # PARTS PORT...: every instance holds partitions, together all PARTS of them
  local n=$1 p; shift
  for p; do metrics_scrape "$p" 2>/dev/null | grep -q '^cmkguard_assigned_partitions [1-9]' || return 1; done
  [ "$(mvalue cmkguard_assigned_partitions "$@")" -eq "$n" ]
}
decided() { # N PORT...: together the instances have decided N events and delivered every
  # record they made (an event is counted once decided, before its batch is committed)
  local n=$1 p; shift
  for p; do metrics_scrape "$p" 2>/dev/null; done | awk -v n="$n" '$1 == "cmkguard_events_consumed_total" {e += $2}
    $1 == "cmkguard_audit_records_total" {r += $2} $1 == "cmkguard_audit_records_delivered_total" {d += $2}
    $1 == "cmkguard_audit_backlog" {b += $2} END {exit !(e >= n && d >= r && b == 0)}'
}
wm() { kcat -Q -b "$BOOT" -t "$1" 2>/dev/null | awk '/offset/ {print $NF}'; }   # TOPIC:PART:-1 high, -2 low
last_inputs() { # PREFIX PARTS: the input of each events partition's last message, as records name it
  local p; for p in $(seq 0 $(($2 - 1))); do echo "$1.events/$p/$(( $(wm "$1.events:$p:-1") - 1 ))"; done | sort; }
in_audit() { # PREFIX FILE: each input FILE lists has its decision record among the audit partitions' last 200
  ! timeout 30 kcat -C -b "$BOOT" -t "$1.audit" -o -200 -e -q -f '%s\n' 2>/dev/null | jq -r '.data.input // empty' |
    sort -u | comm -13 - "$2" | grep -q .; }
all_decided() { # PREFIX FILE PORT...: the metrics say every event is decided, and the audit topic agrees
  decided "$KEVENTS" "${@:3}" && in_audit "$1" "$2"; }
TCK=$(getconf CLK_TCK)
busy() { awk -v t="$TCK" '$1 == "cpu" {printf "%.3f", ($2 + $3 + $4 + $7 + $8 + $9) / t}' /proc/stat; }  # CPU seconds of the whole machine
# Throughput: N instances settle on the 12 partitions of empty topics; then the events
# are produced and the clock runs from the first produced to the last decided (the
# metrics say so, and the last message of each partition has its record in the audit
# topic: the metrics alone have said so while records of the last batches were still to
# come, as an event is counted once decided and its records only once made). The cores
# the instances, the broker and the whole machine used meanwhile, and the time the
# instances' threads waited for a core, say what bound it.
scale_figure() { # N
  local n=$1 x=s$1 i ports=() pids=() t0 t1 i0 i1 b0 b1 m0 m1
  scale_topics "$x" 12
  for i in $(seq 1 "$n"); do scale_start "$x" "$i"; ports+=("${IPORT[i]}"); pids+=("${IPID[i]}"); done
  until_ok 60 settled 12 "${ports[@]}"
  i0=$(sched "${pids[@]}"); b0=$(sched "$BROKER_PID"); m0=$(busy); t0=$(now)
  kcat -P -b "$BOOT" -t "$x.events" -K $'\t' -l "$B/kafka.in" || { say "kcat produce failed"; exit 1; }
  last_inputs "$x" 12 >"$B/$x.last"
  until_ok 600 all_decided "$x" "$B/$x.last" "${ports[@]}"
  t1=$(now); i1=$(sched "${pids[@]}"); b1=$(sched "$BROKER_PID"); m1=$(busy)
  per() { awk -v a="$1" -v b="$2" -v t="$(fcalc "$t1 - $t0")" 'BEGIN {printf "%.2f", (b - a) / t}'; }  # A B: per second of the run
  res "scale${n}_per_s" "$(calc "$KEVENTS / ($t1 - $t0)")"
  res "scale${n}_s" "$(fcalc "$t1 - $t0")"
  res "scale${n}_run_cores" "$(per "${i0% *}" "${i1% *}")"
  res "scale${n}_run_waiting" "$(per "${i0#* }" "${i1#* }")"
  res "scale${n}_broker_cores" "$(per "${b0% *}" "${b1% *}")"
  res "scale${n}_machine_cores" "$(per "$m0" "$m1")"
  res "scale${n}_records" "$(mvalue cmkguard_audit_records_delivered_total "${ports[@]}")"
  scale_stop $(seq 1 "$n")
}
scale_figure 1
scale_figure 3
res scale3_vs_1 "$(fcalc "$(get scale3_per_s) / $(get scale1_per_s)")"
# How the events spread over the 12 partitions: the most loaded instance bounds the three.
res scale_partition_events "$(for p in $(seq 0 11); do kcat -Q -b "$BOOT" -t "s3.events:$p:-1" 2>/dev/null; done |
  awk '/offset/ {v = $NF; s += v; if (min == "" || v < min) min = v; if (v > max) max = v} END {printf "%d..%d", min, max}')"
res scale3_instance_events "$(sed -n 's/.*stopped after \([0-9]*\) events.*/\1/p' "$B"/s3-[123].err | sort -n | paste -sd/)"

# Failover: three instances on a stream; once the victim has decided events of its own it
# is killed with SIGKILL. Each of its partitions processes again when a survivor has
# claimed it (logged "partition N owned (epoch ...)", seen by polling) and the first
# record past the chain head it restored is in the audit topic: its timestamp, set by the
# producer, taken from a reader of the audit topic's tail started before the kill (the
# broker trims a partition past 5 MiB, the audit too, so the record cannot be looked up
# later). The goal: the session timeout, the logged restore, 1 s.
say "failover: three instances, one killed with SIGKILL"
scale_topics sf 12
ports=()
for i in 1 2 3; do scale_start sf "$i"; ports+=("${IPORT[i]}"); done
until_ok 60 settled 12 "${ports[@]}"
kcat -P -b "$BOOT" -t sf.events -K $'\t' -l "$B/kafka.in" || { say "kcat produce failed"; exit 1; }
victim_busy() { [ "$(mvalue cmkguard_events_consumed_total "${IPORT[2]}")" -ge 2000 ]; }
until_ok 120 victim_busy
: >"$B/sf.tail"   # partition, timestamp (ms), seq of every record from now on
kcat -C -b "$BOOT" -t sf.audit -o end -u -q -f '%p\t%T\t%s\n' 2>/dev/null > >(awk -F'\t' \
  'match($3, /"seq":[0-9]+,/) {print $1, $2, substr($3, RSTART + 6, RLENGTH - 7); fflush()}' >"$B/sf.tail") & TAIL_PID=$!
tailing() { [ -s "$B/sf.tail" ]; }
until_ok 30 tailing
lines1=$(wc -l <"$B/sf-1.err") lines3=$(wc -l <"$B/sf-3.err")
tk=$(now); kill -KILL "${IPID[2]}"; wait "${IPID[2]}" 2>/dev/null; IPID[2]=; SCALE_PIDS="${IPID[*]}"
# The victim's partitions: owned and neither released nor lost since.
vparts=$(awk '/ partition [0-9]+ owned/ {o[$4] = 1} / partition [0-9]+ (released|lost)/ {delete o[$4]}
  END {for (p in o) print p}' "$B/sf-2.err" | sort -n | tr '\n' ' ')
[ -n "$vparts" ] || { say "the killed instance owned no partition: $(tail -3 "$B/sf-2.err")"; exit 1; }
declare -A HEAD OWNED RESTORE FIRST
taken_over() { # every partition of the victim's owned again and past its restored head
  local p l
  for p in $vparts; do
    [ -n "${FIRST[$p]:-}" ] && continue
    if [ -z "${HEAD[$p]:-}" ]; then
      l=$({ tail -n +$((lines1 + 1)) "$B/sf-1.err"; tail -n +$((lines3 + 1)) "$B/sf-3.err"; } |
        grep "run: partition $p owned (epoch" | tail -1)
      [ -n "$l" ] || return 1
      OWNED[$p]=$(now)
      HEAD[$p]=$(sed -n 's/.*chain at seq \([0-9]*\),.*/\1/p' <<<"$l")
      RESTORE[$p]=$(sed -n 's/.*restored in \([0-9.]*\)s.*/\1/p' <<<"$l")
      # nothing left to decide (a small BENCH_KAFKA_EVENTS): back once owned, as polled
      [ "$(sed -n 's/.*input from offset \([0-9]*\);.*/\1/p' <<<"$l")" -ge "$(wm "sf.events:$p:-1")" ] &&
        FIRST[$p]=$(date +%s%3N) && continue
    fi
    FIRST[$p]=$(awk -v p="$p" -v s=$((HEAD[$p] + 1)) '$1 == p && $3 == s {print $2; exit}' "$B/sf.tail")
    [ -n "${FIRST[$p]}" ] || return 1
  done
}
until_ok 120 taken_over
kill "$TAIL_PID"; wait "$TAIL_PID" 2>/dev/null; TAIL_PID=
scale_stop 1 3
for p in $vparts; do
  echo "$p $(fcalc "${OWNED[$p]} - $tk") $(fcalc "${FIRST[$p]} / 1000 - $tk") ${RESTORE[$p]}"
done >"$B/failover.txt"
res failover_partitions "$(wc -l <"$B/failover.txt")"
res failover_owned_s "$(awk '$2 > m {m = $2} END {printf "%.2f", m}' "$B/failover.txt")"
res failover_first_s "$(awk 'NR == 1 || $3 < m {m = $3} END {printf "%.2f", m}' "$B/failover.txt")"
res failover_s "$(awk '$3 > m {m = $3} END {printf "%.2f", m}' "$B/failover.txt")"
res failover_restore_s "$(awk '$4 > m {m = $4} END {printf "%.2f", m}' "$B/failover.txt")"
res failover_goal_s "$(awk -v r="$(get failover_restore_s)" 'BEGIN {printf "%.2f", 6 + r + 1}')"

# Restore through Kafka: one partition with as many resources as the embedded broker's
# 5 MiB of a partition holds with its snapshots, decided by one instance, then restored
# from the changelog alone by a new one (a new state directory: no local cache).
KR_RES=${BENCH_KAFKA_RESTORE_RESOURCES:-1500}
say "restore: a partition of $KR_RES resources from its changelog"
scale_topics sr 1
"$B/bench-gen" --events $((KR_RES * 10)) --resources "$KR_RES" --seed 1 | awk '{print "p\t" $0}' >"$B/sr.in"
kcat -P -b "$BOOT" -t sr.events -K $'\t' -l "$B/sr.in" || { say "kcat produce failed"; exit 1; }
scale_start sr 1
until_ok 300 decided "$(wc -l <"$B/sr.in")" "${IPORT[1]}"
scale_stop 1
res kafka_restore_resources "$("$CMK" state show --state "$B/sr-i1/partition-0.db" --master-key "$B/sr.master.key" | jq '.resources | length')"
res kafka_restore_changelog_msgs "$(( $(wm sr.state:0:-1) - $(wm sr.state:0:-2) ))"
res kafka_restore_changelog_trimmed "$(wm sr.state:0:-2)"
res kafka_restore_changelog_bytes "$(timeout 30 kcat -C -b "$BOOT" -t sr.state -p 0 -o beginning -e -q -f '%S\n' 2>/dev/null | awk '{s += $1} END {print s + 0}')"
scale_start sr 2
owned() { grep -q 'run: partition 0 owned (epoch' "$B/sr-2.err"; }
until_ok 60 owned
grep -q 'owned (epoch.*from the changelog' "$B/sr-2.err" || { say "the restore was not from the changelog: $(grep owned "$B/sr-2.err")"; exit 1; }
res kafka_restore_s "$(sed -n 's/.*restored in \([0-9.]*\)s.*/\1/p' "$B/sr-2.err" | tail -1)"
scale_stop 2
# The 100 000-resource restore is bench-snapshot's (above): such a changelog (~97 MB) is
# far past what the embedded broker keeps of a partition.
res changelog_restore_goal_s 2
fi

scripts/bench-report.sh "$B/results.txt" "$B/chart.svg"
