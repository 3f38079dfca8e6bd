# Helpers for tests against the embedded broker, with kcat as the independent client.
# Needs lib.sh first. Every wait is for a condition, bounded in time.
command -v kcat >/dev/null || { echo "kcat is missing (make deps installs it)" >&2; exit 1; }
. "$ROOT/scripts/kafka-lib.sh"

# start_broker [ARGS...]: starts `cmkguard broker`, sets BOOT; commands go to fd 7.
start_broker() {
  mkfifo "$T/broker.ctl"
  broker_start "$T" "$CMKGUARD" "$@" || { fail "broker did not start: $(cat "$T/broker.err")"; done_test; }
  trap 'stop_all; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
}
# broker_ctl COMMAND: sends a control command and waits for its answer.
broker_ctl() {
  local before; before=$(wc -l <"$T/broker.out")
  echo "$*" >&7
  answered() { [ "$(wc -l <"$T/broker.out")" -gt "$before" ]; }
  wait_until 10 "broker control '$*' answered" -- answered || return 1
  tail -1 "$T/broker.out" | grep -q '^ok' || fail "broker control '$*': $(tail -1 "$T/broker.out")"
}
# write_config FILE [EXTRA YAML LINES]
write_config() {
  local f=$1; shift
  { printf 'kafka:\n  bootstrap.servers: %s\n  group.id: %s\n' "$BOOT" "${GROUP:-cmkguard-test}"
    printf 'topics: {events: cmk.events, audit: cmk.audit, dead_letter: cmk.dead}\n'
    printf 'rules: [%s/rules]\nstate: %s/state.db\n' "$ROOT" "$T"
    printf 'audit: {sign_key: %s/tests/golden/test-signing.key}\n' "$ROOT"
    printf 'status_interval: 1\n'
    for l in "$@"; do printf '%s\n' "$l"; done; } >"$f"
}
start_run() { # CONFIG [LOG]
  "$CMKGUARD" run --config "$1" >>"${2:-$T/run.log}" 2>&1 &
  RUN_PID=$!
}
stop_run() { # clean stop: SIGTERM, wait for exit status
  kill -TERM "$RUN_PID" 2>/dev/null
  wait "$RUN_PID"; RUN_RC=$?
}
stop_all() {
  [ -n "${RUN_PID:-}" ] && kill -KILL "$RUN_PID" 2>/dev/null
  local i; for i in "${!INST[@]}"; do kill -KILL "${INST[$i]}" 2>/dev/null; done
  [ -z "${KEEP:-}" ] && [ -n "${BROKER_PID:-}" ] && { exec 7>&- 2>/dev/null; kill -TERM "$BROKER_PID" 2>/dev/null; wait "$BROKER_PID" 2>/dev/null; }
}
# produce FILE [KCAT-OPTION...]: lines "KEY<TAB>JSON" to cmk.events
produce() { local f=$1; shift; kcat -P -b "$BOOT" -t cmk.events -K $'\t' "$@" -l "$f" || fail "kcat produce"; }
# consume TOPIC COUNT OUT [SECONDS]: waits until COUNT messages are there, writes them
consume() {
  timeout "${4:-60}" kcat -C -b "$BOOT" -t "$1" -c "$2" -q -f '%s\n' >"$3" 2>/dev/null
  [ "$(wc -l <"$3")" -ge "$2" ] || fail "$1: only $(wc -l <"$3") of $2 messages arrived"
}
# count TOPIC [PARTITIONS]: messages now in the topic (sum of high watermarks)
count() {
  local args=() p
  for p in $(seq 0 $(( ${2:-16} - 1 ))); do args+=(-t "$1:$p:-1"); done
  timeout 30 kcat -Q -b "$BOOT" "${args[@]}" 2>/dev/null | awk '/offset/ {s += $NF} END {print s + 0}'
}
# metrics PORT: the Prometheus text from run's endpoint
metrics() { metrics_scrape "$@"; }
# lifecycle_events FIRST COUNT TENANTS: resource lifecycles (4 events each), keyed by tenant
lifecycle_events() {
  awk -v first="$1" -v cnt="$2" -v tenants="$3" -v R=/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts 'BEGIN {
    split("resource.created resource.identity.enabled resource.moved resource.identity.disabled", ty, " ")
    n = first * 4
    for (i = first; i < first + cnt; i++) {
      t = "t" (i % tenants)
      for (k = 1; k <= 4; k++) {
        n++
        if (k == 1) d = "{\"kind\":\"Face\",\"tenant\":\"" t "\",\"region\":\"we\",\"subscription\":\"s1\"}"
        if (k == 2) d = "{\"principal\":\"mi-" i "\",\"tenant\":\"" t "\"}"
        if (k == 3) d = "{\"tenant\":\"" t "\",\"subscription\":\"s2\"}"
        if (k == 4) d = "{}"
        printf "%s\t{\"specversion\":\"1.0\",\"id\":\"l-%d\",\"type\":\"%s\",\"subject\":\"%s/r%d\",\"time\":\"2026-11-02T10:00:00Z\",\"data\":%s}\n", t, n, ty[k], R, i, d
      }
    }
  }'
}
# scale_config FILE [EXTRA YAML LINES]: a config for several instances (SPEC §7a) that
# share it, each with its own --state: the state topic, the shared master key, and a
# session timeout short enough that a member gone is noticed within seconds.
scale_config() {
  local f=$1; shift
  write_config "$f" "master_key: $T/master.key" "$@"
  sed -i -e 's|^topics: .*|topics: {events: cmk.events, audit: cmk.audit, dead_letter: cmk.dead, state: cmk.state, catalog: cmk.catalog}|' \
    -e "s|^state: .*|state: $T/unused|" \
    -e "s|^  group.id: .*|  group.id: ${GROUP:-scale}\n  session.timeout.ms: 6000\n  heartbeat.interval.ms: 500|" "$f"
}
# audit_all PARTITIONS: every message of the audit topic, partition by partition
audit_all() {
  local p; for p in $(seq 0 $(( $1 - 1 ))); do
    timeout 30 kcat -C -b "$BOOT" -t cmk.audit -p "$p" -o beginning -e -q -f '%s\n' 2>/dev/null
  done
}
# decided_at_least PARTITIONS N: the audit topic holds N distinct (chain, seq)
decided_at_least() { [ "$(audit_all "$1" | jq -r '[.chain, .seq] | @tsv' | sort -u | wc -l)" -ge "$2" ]; }

# ---- several instances (SPEC §7a) and the exactly-once check over many tenants ----
declare -A INST=() # instance (a number, or a name) -> pid of its `run`
# start_instance N CONFIG [ARGS...]: `run --config CONFIG --state $T/iN ARGS...`, its
# output in $T/iN.log; the pid in INST[N]. N instances can share one config.
start_instance() {
  local n=$1 cfg=$2; shift 2
  echo "--- start $(date +%T.%N)" >>"$T/i$n.log"
  "$CMKGUARD" run --config "$cfg" --state "$T/i$n" "$@" >>"$T/i$n.log" 2>&1 &
  INST[$n]=$!
}
# stop_instance N: SIGTERM, waits; its exit status in INST_RC.
stop_instance() {
  kill -TERM "${INST[$1]}" 2>/dev/null
  wait "${INST[$1]}"; INST_RC=$?
  unset "INST[$1]"
}
# kill_instance N: SIGKILL at whatever it was doing.
kill_instance() {
  kill -KILL "${INST[$1]}" 2>/dev/null
  wait "${INST[$1]}" 2>/dev/null
  unset "INST[$1]"
}
# tenant_events SEED EVENTS TENANTS [PARTITIONS]: tenants-gen.py's "TENANT<TAB>JSON"
# lines for produce: each tenant its own estate, decisions of every kind, bad input.
tenant_events() {
  python3 "$ROOT/tests/cli/tenants-gen.py" --seed "$1" --events "$2" --tenants "$3" ${4:+--spread "$4"}
}
# watermarks TOPIC PARTITIONS [-1|-2]: "PARTITION OFFSET" lines, high (-1) or low (-2)
watermarks() {
  local args=() p
  for p in $(seq 0 $(( $2 - 1 ))); do args+=(-t "$1:$p:${3:--1}"); done
  timeout 30 kcat -Q -b "$BOOT" "${args[@]}" 2>/dev/null |
    sed -n 's/.*\[\([0-9]*\)\] offset \(-\{0,1\}[0-9]*\)$/\1 \2/p' | sort -n
}
# caught_up PARTITIONS: the audit topic has a record for the last message of every
# events partition, among the last 20 of the audit partition of the same number (run
# gives events partition P's chain audit partition P mod the audit partitions: the
# tests create both with as many; a fenced late write may come after it).
caught_up() {
  local want got
  want=$(watermarks cmk.events "$1" | awk '$2 > 0 {print $1, $2 - 1}')
  got=$(timeout 20 kcat -C -b "$BOOT" -t cmk.audit -o -20 -e -q -f '%s\n' 2>/dev/null |
    sed -n 's/.*"input":"cmk\.events\/\([0-9]*\)\/\([0-9]*\)".*/\1 \2/p' |
    awk '!($1 in m) || $2 > m[$1] {m[$1] = $2} END {for (p in m) print p, m[p]}' | sort -n)
  [ -n "$want" ] && [ "$want" = "$got" ]
}
# dump_topics PARTITIONS: reads the events and audit topics back with kcat, for
# check_exactly_once: $T/events.hw (high watermarks), $T/events.dump, $T/audit.dump.
dump_topics() {
  watermarks cmk.events "$1" >"$T/events.hw"
  [ "$(watermarks cmk.audit "$1" -2 | awk '{s += $2} END {print s + 0}')" = 0 ] \
    && ok "the broker kept every audit message (low watermarks 0)" \
    || fail "broker retention dropped audit messages: the test needs more partitions"
  timeout 60 kcat -C -b "$BOOT" -t cmk.events -e -q -f '%p\t%o\t%k\t%s\n' >"$T/events.dump" 2>/dev/null
  timeout 120 kcat -C -b "$BOOT" -t cmk.audit -e -q -f '%p %o %s\n' >"$T/audit.dump" 2>/dev/null
}
# check_exactly_once [scale-check.py ARGS...]: scale-check.py on what dump_topics read
# (see there: one record per seq per chain, one decision per events message, each
# tenant as a replay of its events alone; with --state FILE... the final state too).
# Its lines are printed indented.
check_exactly_once() {
  python3 "$ROOT/tests/cli/scale-check.py" --audit "$T/audit.dump" --events "$T/events.dump" \
    --watermarks "$T/events.hw" --cmkguard "$CMKGUARD" --rules "$ROOT/rules" --work "$T/check" "$@" \
    >"$T/check.out" 2>&1
  local rc=$?
  sed 's/^/  /' "$T/check.out"
  [ "$rc" -eq 0 ] && ok "exactly once: every check of scale-check.py passed" || fail "scale-check.py found $(grep -c '^FAIL' "$T/check.out") problem(s)"
}
# master_key FILE: a master key for instances to share (SPEC §7a), made once before any
# starts (state.h: vlt_state_open creates one where none is), by a throwaway replay.
master_key() {
  : >"$T/mk.jsonl"
  "$CMKGUARD" replay --state "$T/mk.db" --master-key "$1" "$T/mk.jsonl" >/dev/null 2>&1 || fail "no master key made"
  rm -f "$T/mk.db" "$T/mk.jsonl"
  [ -s "$1" ] || fail "no master key at $1"
}
# kafka_props FILE 'name: value'...: adds client properties to the config's kafka map.
kafka_props() {
  local f=$1 l; shift
  for l in "$@"; do sed -i "/^  group.id:/a\\  $l" "$f"; done
}
declare -A IPORT=() # instance -> its metrics port, when it has a config of its own
# instance_config N CONFIG: $T/run-iN.yaml, CONFIG with a metrics endpoint of its own
# (the only difference), so that a test can see what the group gave instance N.
instance_config() {
  IPORT[$1]=$(free_port)
  { cat "$2"; printf 'metrics: {listen: 127.0.0.1:%s}\n' "${IPORT[$1]}"; } >"$T/run-i$1.yaml"
}
# partitions_of N: how many events partitions instance N owns now (its metrics; 0 when it
# does not answer): a count now, where the log ("partition N owned", "... released") has history.
partitions_of() {
  metrics_scrape "${IPORT[$1]}" 2>/dev/null | awk '/^cmkguard_assigned_partitions / {n = $NF} END {print n + 0}'
}
# owners PARTITIONS N...: instances N... together own every partition, each some.
owners() {
  local p=$1 sum=0 i a; shift
  for i in "$@"; do a=$(partitions_of "$i"); [ "$a" -gt 0 ] || return 1; sum=$((sum + a)); done
  [ "$sum" -eq "$p" ]
}
# final_state PARTITIONS CONFIG: a new instance, with no cache of its own, joins the
# group alone, restores every partition from the changelog, stops cleanly; its state
# files are listed in $T/final.states (the changelog, not a disk, is the truth: §7a).
final_state() {
  instance_config final "$2"
  start_instance final "$T/run-ifinal.yaml"
  wait_until 120 "a new instance owns all $1 partitions" -- owners "$1" final
  stop_instance final
  [ "$INST_RC" -eq 0 ] || fail "the restoring instance: exit $INST_RC: $(tail -3 "$T/ifinal.log")"
  # its caches, STATE_DIR/partition-N.db (a state file itself without topics.state)
  { [ -f "$T/ifinal" ] && echo "$T/ifinal"; find "$T/ifinal" -name 'partition-*.db' 2>/dev/null | sort -V; } >"$T/final.states"
}
