# No metrics client can stall run or the endpoint: while connections sit idle, one
# sends a header a byte a second, one sent half a request line and one never reads
# its answers, every event is still audited and other scrapes are answered at once.
# The server then closes each connection that stays idle past metrics.timeout_seconds.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kafka.sh"
command -v curl >/dev/null || { echo "curl is missing (make deps installs it)" >&2; exit 1; }
command -v ss >/dev/null || { echo "ss is missing (make deps installs iproute2)" >&2; exit 1; }
start_broker --partitions 2
PORT=$(free_port)
URL=http://127.0.0.1:$PORT/metrics
TIMEOUT=3
write_config "$T/run.yaml" "metrics: {listen: 127.0.0.1:$PORT, timeout_seconds: $TIMEOUT}"
start_run "$T/run.yaml"
wait_until 30 "the endpoint answers" -- curl -sf --max-time 5 -o /dev/null "$URL" \
  || { sed 's/^/  | /' "$T/run.log" | tail -5 >&2; done_test; }
# held: connections the server side holds open on the metrics port
held() { ss -Htn state established "( sport = :$PORT )" | wc -l; }
held_at_least() { [ "$(held)" -ge "$1" ]; }
none_held() { [ "$(held)" -eq 0 ]; }
stop_drip() { [ -n "${DRIP_PID:-}" ] && kill "$DRIP_PID" 2>/dev/null; wait "$DRIP_PID" 2>/dev/null; DRIP_PID=; }
trap 'stop_drip; stop_all; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT

exec {IDLE1}<>"/dev/tcp/127.0.0.1/$PORT" {IDLE2}<>"/dev/tcp/127.0.0.1/$PORT" \
     {IDLE3}<>"/dev/tcp/127.0.0.1/$PORT" {HALF}<>"/dev/tcp/127.0.0.1/$PORT" \
     {DRIP}<>"/dev/tcp/127.0.0.1/$PORT" {DEAF}<>"/dev/tcp/127.0.0.1/$PORT" || fail "connect"
printf 'GET /metr' >&"$HALF"
# A header one byte a second: the pace of the client is what is tested, not a wait.
{ printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: '; while printf 'a'; do sleep 1; done; } >&"$DRIP" 2>/dev/null &
DRIP_PID=$!
# Requests enough for answers that fill the socket buffers, never read.
for _ in $(seq 1 2000); do printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'; done >&"$DEAF" &
wait_until 10 "six connections held" -- held_at_least 6

# A scrape while all six are held: answered within a second.
curl -sf --max-time 1 -o "$T/m0.txt" "$URL" && still=$(held) && [ "$still" -ge 6 ] \
  && ok "a scrape is answered while six stalling connections are held" \
  || fail "scrape with the connections held (held: $(held))"

# Events flow meanwhile; every poll scrapes too, with a one-second budget.
lifecycle_events 0 100 8 >"$T/ev.txt"
EV=$(wc -l <"$T/ev.txt")
produce "$T/ev.txt"
scrapes=0; slow=0
audited() {
  if curl -sf --max-time 1 -o "$T/m.txt" "$URL"; then scrapes=$((scrapes + 1)); else slow=$((slow + 1)); fi
  [ "$(count cmk.audit 2)" -ge "$EV" ]
}
wait_until 60 "all $EV events audited" -- audited && ok "all $EV events audited with the connections held"
[ "$slow" -eq 0 ] && [ "$scrapes" -gt 0 ] && ok "$scrapes concurrent scrapes, each answered within 1 s" \
  || fail "$slow of $((scrapes + slow)) scrapes failed or took over 1 s"
curl -sf --max-time 1 -o "$T/m.txt" "$URL" && grep -q "^cmkguard_events_consumed_total $EV\$" "$T/m.txt" \
  && ok "the endpoint counts the $EV events" || fail "count: $(grep events_consumed "$T/m.txt")"

# The dripper stops: now every connection is idle, and the server closes each one.
stop_drip
if wait_until $((TIMEOUT + 10)) "the server closes idle connections" -- none_held; then
  ok "every stalling connection closed by the server once idle"
else ss -tn "( sport = :$PORT )" >&2; fi
eof() { local rc; read -r -t 1 -u "$1" _; rc=$?; [ "$rc" -eq 1 ]; }
open=0
for fd in "$IDLE1" "$IDLE2" "$IDLE3" "$HALF"; do eof "$fd" || open=$((open + 1)); done
[ "$open" -eq 0 ] && ok "the idle clients read the end of the stream" || fail "$open idle clients read no end of stream"
# A fresh idle connection lasts the timeout, not less, and not much more.
t_open=$(date +%s%N)
exec {LATE}<>"/dev/tcp/127.0.0.1/$PORT" || fail "connect"
wait_until 10 "the new connection held" -- held_at_least 1
wait_until $((TIMEOUT + 10)) "the server closes the idle connection" -- none_held
ms=$(( ($(date +%s%N) - t_open) / 1000000 ))
[ "$ms" -ge $((TIMEOUT * 1000 - 100)) ] && [ "$ms" -le $((TIMEOUT * 1000 + 3000)) ] \
  && ok "an idle connection is closed after the ${TIMEOUT} s timeout (${ms} ms)" \
  || fail "idle connection closed after ${ms} ms, timeout ${TIMEOUT} s"
eof "$LATE" || fail "no end of stream on the late connection"
curl -sf --max-time 1 -o /dev/null "$URL" && ok "the endpoint still answers" || fail "endpoint after the timeouts"
stop_run
[ "$RUN_RC" -eq 0 ] && ok "clean stop" || fail "exit $RUN_RC"
done_test
