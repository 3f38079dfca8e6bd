# Shared by the Kafka tests (tests/cli/kafka.sh), `make bench` and `make demo`: the
# embedded broker, a scrape of run's metrics, and a bounded wait for a condition.

# free_port: a TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice,
# so that tests and benches running side by side do not pick the same one).
free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# poll_until SECONDS COMMAND...: runs COMMAND every 20 ms until it succeeds (0), or
# until SECONDS pass (1). Callers say what a timeout means: a failed test, a failed bench.
poll_until() {
  local end=$(( $(date +%s%N) + $1 * 1000000000 )); shift
  until "$@"; do
    [ "$(date +%s%N)" -lt "$end" ] || return 1
    sleep 0.02
  done
}

# broker_start DIR CMKGUARD [ARGS...]: starts `cmkguard broker ARGS` with its output in
# DIR; sets BROKER_PID and BOOT (its bootstrap servers). With a fifo DIR/broker.ctl
# present, the broker reads control commands from it (the caller opens it on fd 7).
# Returns 1 when no bootstrap line came within 10 s.
broker_start() {
  local dir=$1 cmk=$2; shift 2
  if [ -p "$dir/broker.ctl" ]; then
    "$cmk" broker "$@" <"$dir/broker.ctl" >"$dir/broker.out" 2>"$dir/broker.err" &
  else
    "$cmk" broker "$@" </dev/null >"$dir/broker.out" 2>"$dir/broker.err" &
  fi
  BROKER_PID=$!
  [ -p "$dir/broker.ctl" ] && exec 7>"$dir/broker.ctl"
  broker_up() { [ -s "$dir/broker.out" ]; }
  poll_until 10 broker_up || return 1
  BOOT=$(head -1 "$dir/broker.out")
}

# metrics_scrape PORT: the Prometheus text run serves on 127.0.0.1:PORT.
metrics_scrape() {
  exec 8<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET /metrics HTTP/1.0\r\n\r\n' >&8
  timeout 5 cat <&8
  exec 8<&-
}

# metrics_assigned PORT: run has been given partitions.
metrics_assigned() { metrics_scrape "$1" 2>/dev/null | grep -q '^cmkguard_assigned_partitions [1-9]'; }

# metrics_drained PORT N: run has read N events and delivered every record it made.
metrics_drained() {
  metrics_scrape "$1" 2>/dev/null | awk -v n="$2" '/^cmkguard_events_(consumed_)?total/ {s += $NF}
    /^cmkguard_audit_backlog/ {b = $NF} END {exit !(s >= n && b == 0)}'
}
