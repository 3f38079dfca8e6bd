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
  [ -z "${KEEP:-}" ] && [ -n "${BROKER_PID:-}" ] && { exec 7>&- 2>/dev/null; kill -TERM "$BROKER_PID" 2>/dev/null; wait "$BROKER_PID" 2>/dev/null; }
}
# produce FILE: lines "KEY<TAB>JSON"
produce() { kcat -P -b "$BOOT" -t cmk.events -K $'\t' -l "$1" || fail "kcat produce"; }
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
