#!/usr/bin/env bash
# Turns build/bench/results.txt into the table make bench prints and an SVG chart:
# each goal as a bar of (figure / limit or peer) against the goal's ratio.
set -u
R=$1 SVG=$2
get() { awk -v k="$1" '$1 == k {v = $2} END {print v}' "$R"; }
rows=()
row() { # NAME FIGURE FIGURE_LABEL BASE BASE_LABEL GOAL_RATIO (ratio = figure / base; higher is better)
  rows+=("$1|$2|$3|$4|$5|$6"); }
row "signed replay vs Ed25519 signing (1 core)" "$(get replay_signed_per_s)" "events/s" "$(get ed25519_sign_per_s)" "signatures/s" 0.85
row "checkpoint replay vs 500k events/s/core" "$(get replay_checkpoint_per_s)" "events/s" 500000 "goal events/s" 1
row "checkpoint replay vs jq" "$(get replay_checkpoint_per_s)" "events/s" "$(get jq_per_s)" "jq events/s" 5
row "unsigned replay vs jq" "$(get replay_unsigned_per_s)" "events/s" "$(get jq_per_s)" "jq events/s" 5
row "Kafka end to end vs kcat passthrough" "$(get kafka_run_per_s)" "events/s" "$(get kcat_passthrough_per_s)" "kcat msgs/s" 0.70
row "re-wrap fan-out (hot) vs RSA unwrap x cores" "$(get fanout_hot_per_s)" "rewraps/s" "$(get rsa_unwrap_per_s_all)" "unwraps/s" 0.80
row "re-wrap fan-out (cold) vs RSA unwrap x cores" "$(get fanout_cold_per_s)" "rewraps/s" "$(get rsa_unwrap_per_s_all)" "unwraps/s" 0.80
row "latency p99 at $(get latency_offered_per_s) events/s (10 ms)" 10 "ms goal" "$(get latency_p99_ms)" "ms p99" 1
row "peak RSS, 1M-event replay (64 MiB)" 65536 "KiB goal" "$(get replay_checkpoint_rss_kib)" "KiB peak" 1
printf '%-46s %14s %14s %8s %6s  %s\n' "measure" "figure" "limit/peer" "ratio" "goal" "met"
met=0
for r in "${rows[@]}"; do
  IFS='|' read -r name fig fl base bl goal <<<"$r"
  ratio=$(awk -v a="$fig" -v b="$base" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}')
  ok=$(awk -v r="$ratio" -v g="$goal" 'BEGIN {print (r != "n/a" && r + 0 >= g) ? "yes" : "no"}')
  [ "$ok" = yes ] && met=$((met + 1))
  printf '%-46s %14s %14s %8s %6s  %s\n' "$name" "$fig" "$base" "$ratio" "$goal" "$ok"
done
echo "goals met: $met of ${#rows[@]}"
if [ -n "$(get replay_base_checkpoint_per_s)" ]; then
  echo "this build against the baseline build (BENCH_BASELINE), same sitting:"
  for m in unsigned checkpoint state; do
    printf '  replay %-11s %10s vs %10s events/s  ratio %s\n' "$m" "$(get replay_${m}_per_s)" \
      "$(get replay_base_${m}_per_s)" \
      "$(awk -v a="$(get replay_${m}_per_s)" -v b="$(get replay_base_${m}_per_s)" 'BEGIN {if (b > 0) printf "%.3f", a / b; else print "n/a"}')"
  done
  printf '  run        %10s vs %10s events/s  ratio %s\n' "$(get kafka_run_per_s)" "$(get kafka_run_base_per_s)" \
    "$(awk -v a="$(get kafka_run_per_s)" -v b="$(get kafka_run_base_per_s)" 'BEGIN {if (b > 0) printf "%.3f", a / b; else print "n/a"}')"
  printf '  jq ratio (checkpoint replay / jq): this %s, baseline %s\n' \
    "$(awk -v a="$(get replay_checkpoint_per_s)" -v b="$(get jq_per_s)" 'BEGIN {printf "%.3f", a / b}')" \
    "$(awk -v a="$(get replay_base_checkpoint_per_s)" -v b="$(get jq_per_s)" 'BEGIN {printf "%.3f", a / b}')"
fi
echo "(state replay: $(get replay_state_per_s) events/s, peak RSS $(get replay_state_rss_kib) KiB)"
echo "(figures: $(get events) events, $(get cores) cores, $(get cpu | tr _ ' '), $(get date); violations $(get violations_pct)%;" \
  "replay RSS unsigned $(get replay_unsigned_rss_kib) KiB; latency p50 $(get latency_p50_ms) ms, max $(get latency_max_ms) ms)"
# The chart: one bar per goal, length = ratio / goal ratio, the goal at the line.
{
  h=$(( ${#rows[@]} * 34 + 70 ))
  echo "<svg xmlns='http://www.w3.org/2000/svg' width='860' height='$h' font-family='sans-serif' font-size='12'>"
  echo "<rect width='860' height='$h' fill='white'/>"
  echo "<text x='10' y='20' font-size='14' font-weight='bold'>cmkguard make bench: each figure over its limit or peer, as a share of the goal</text>"
  echo "<text x='10' y='38' fill='#555'>$(get events) events, $(get cores) cores, $(get date)</text>"
  y=55
  for r in "${rows[@]}"; do
    IFS='|' read -r name fig fl base bl goal <<<"$r"
    share=$(awk -v a="$fig" -v b="$base" -v g="$goal" 'BEGIN {s = (b > 0) ? a / b / g : 0; if (s > 2) s = 2; printf "%.3f", s}')
    w=$(awk -v s="$share" 'BEGIN {printf "%d", s * 200}')
    color=$(awk -v s="$share" 'BEGIN {print (s >= 1) ? "#2e7d32" : "#c62828"}')
    ratio=$(awk -v a="$fig" -v b="$base" 'BEGIN {if (b > 0) printf "%.2f", a / b}')
    echo "<text x='10' y='$((y + 15))'>$name</text>"
    echo "<rect x='330' y='$y' width='$w' height='20' fill='$color'/>"
    echo "<text x='$((335 + w))' y='$((y + 15))'>$ratio (goal $goal)</text>"
    y=$((y + 34))
  done
  echo "<line x1='530' y1='48' x2='530' y2='$((y - 8))' stroke='black' stroke-dasharray='4 3'/>"
  echo "<text x='512' y='$((y + 8))' fill='#555'>goal</text>"
  echo "</svg>"
} >"$SVG"
echo "chart: $SVG"
