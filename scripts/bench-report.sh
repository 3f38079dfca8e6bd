#!/usr/bin/env bash
# Turns build/bench/results.txt into the table make bench prints and an SVG chart:
# each goal as a bar of (figure / limit or peer) against the goal's ratio. The goals are
# issue 11's: replay with checkpoints at 2x jq and half the floor, signing at 0.85 of
# the sign rate, 64 MiB, run at 0.7 of a kcat passthrough, p99 within 2x of the same
# probe through a kcat passthrough, cold rotation at 0.8 of the unwrap limit; and issue
# 12's for several instances: a partition back within the session timeout, its restore
# and 1 s after its owner is killed, a partition of 100 000 resources restored from its
# changelog within 2 s. A row whose figure was not measured (BENCH_ONLY) is left out.
set -u
R=$1 SVG=$2
get() { awk -v k="$1" '$1 == k {v = $2} END {print v}' "$R"; }
rows=()
row() { # NAME FIGURE FIGURE_LABEL BASE BASE_LABEL GOAL_RATIO [le]: ratio = figure / base,
  # at least the goal (or, with le, at most the goal)
  [ -n "$2" ] || return 0
  rows+=("$1|$2|$3|$4|$5|$6|${7:-ge}"); }
row "checkpoint replay vs jq" "$(get replay_checkpoint_per_s)" "events/s" "$(get jq_per_s)" "jq events/s" 2
row "checkpoint replay vs the floor (1 core)" "$(get replay_checkpoint_per_s)" "events/s" "$(get floor_events_per_s)" "floor events/s" 0.5
row "signed replay vs Ed25519 signing (1 core)" "$(get replay_signed_per_s)" "events/s" "$(get ed25519_sign_per_s)" "signatures/s" 0.85
row "peak RSS, checkpoint replay vs 64 MiB" "$(get replay_checkpoint_rss_kib)" "KiB peak" 65536 "KiB goal" 1 le
row "Kafka end to end vs kcat passthrough" "$(get kafka_run_per_s)" "events/s" "$(get kcat_passthrough_per_s)" "kcat msgs/s" 0.70
row "p99 at $(get latency_offered_per_s) ev/s vs kcat passthrough p99" "$(get latency_p99_ms)" "ms p99" "$(get latency_pass_p99_ms)" "ms p99" 2 le
row "re-wrap fan-out (cold) vs RSA unwrap x cores" "$(get fanout_cold_per_s)" "rewraps/s" "$(get rsa_unwrap_per_s_all)" "unwraps/s" 0.80
row "failover after kill -9 vs session+restore+1 s" "$(get failover_s)" "s" "$(get failover_goal_s)" "s goal" 1 le
row "changelog restore, $(get snapshot_resources) resources, vs 2 s" "$(get changelog_restore_s)" "s" "$(get changelog_restore_goal_s)" "s goal" 1 le
printf '%-46s %14s %14s %8s %6s  %s\n' "measure" "figure" "limit/peer" "ratio" "goal" "met"
met=0
for r in "${rows[@]}"; do
  IFS='|' read -r name fig fl base bl goal dir <<<"$r"
  ratio=$(awk -v a="$fig" -v b="$base" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}')
  ok=$(awk -v r="$ratio" -v g="$goal" -v d="$dir" 'BEGIN {print (r != "n/a" && (d == "le" ? r + 0 <= g : r + 0 >= g)) ? "yes" : "no"}')
  [ "$ok" = yes ] && met=$((met + 1))
  sign=">="; [ "$dir" = le ] && sign="<="
  printf '%-46s %14s %14s %8s %6s  %s\n' "$name" "$fig" "$base" "$ratio" "$sign$goal" "$ok"
done
echo "goals met: $met of ${#rows[@]}"
if [ -n "$(get replay_base_checkpoint_per_s)$(get kafka_run_base_per_s)" ]; then
  echo "this build against the baseline build (BENCH_BASELINE), same sitting:"
  [ -n "$(get replay_base_checkpoint_per_s)" ] && for m in unsigned checkpoint state; do
    printf '  replay %-11s %10s vs %10s events/s  ratio %s\n' "$m" "$(get replay_${m}_per_s)" \
      "$(get replay_base_${m}_per_s)" \
      "$(awk -v a="$(get replay_${m}_per_s)" -v b="$(get replay_base_${m}_per_s)" 'BEGIN {if (b > 0) printf "%.3f", a / b; else print "n/a"}')"
  done
  printf '  run        %10s vs %10s events/s  ratio %s\n' "$(get kafka_run_per_s)" "$(get kafka_run_base_per_s)" \
    "$(awk -v a="$(get kafka_run_per_s)" -v b="$(get kafka_run_base_per_s)" 'BEGIN {if (b > 0) printf "%.3f", a / b; else print "n/a"}')"
  [ -n "$(get replay_base_checkpoint_per_s)" ] && printf '  jq ratio (checkpoint replay / jq): this %s, baseline %s\n' \
    "$(awk -v a="$(get replay_checkpoint_per_s)" -v b="$(get jq_per_s)" 'BEGIN {printf "%.3f", a / b}')" \
    "$(awk -v a="$(get replay_base_checkpoint_per_s)" -v b="$(get jq_per_s)" 'BEGIN {printf "%.3f", a / b}')"
fi
[ -n "$(get kafka_replay_state_per_s)" ] && echo "(Kafka, $(get kafka_run_cpu_s) s of CPU for run's threads, $(get kafka_run_broker_cpu_s) s for the broker's;" \
  "the passthrough $(get kcat_passthrough_cpu_s) s for both kcat, $(get kcat_passthrough_broker_cpu_s) s for the broker; the same events through" \
  "replay --state, no Kafka: $(get kafka_replay_state_per_s) events/s, $(get kafka_replay_state_cpu_s) s of CPU," \
  "$(awk -v a="$(get kafka_replay_state_per_s)" -v b="$(get kcat_passthrough_per_s)" 'BEGIN {if (b > 0) printf "%.2f", a / b}') of the passthrough)"
[ -n "$(get floor_s)" ] && echo "(floor $(get floor_s) s for $(get floor_events) events on one core: decoding $(get floor_decode_s) s," \
  "SHA-256 of $(get floor_records) records $(get floor_sha256_s) s, crypto $(get floor_crypto_s) s of which" \
  "$(get floor_n_keygen_rsa2048) RSA-2048 key generations $(get floor_keygen_rsa2048_s) s" \
  "(each $(get floor_keygen_rsa2048_min_ms)..$(get floor_keygen_rsa2048_max_ms) ms over $(get floor_keygen_rsa2048_samples))," \
  "$(get floor_n_wrap_rsa2048) RSA-OAEP wraps $(get floor_wrap_rsa2048_s) s, $(get floor_n_kw_wrap) AES key wraps" \
  "$(get floor_kw_wrap_s) s, $(get floor_n_dek) data keys $(get floor_dek_s) s, $(get floor_n_sign) signatures $(get floor_sign_s) s)"
[ -n "$(get replay_unsigned_per_s)" ] && echo "(not goals: unsigned replay $(get replay_unsigned_per_s) events/s, $(awk -v a="$(get replay_unsigned_per_s)" -v b="$(get jq_per_s)" 'BEGIN {if (b > 0) printf "%.2f", a / b}') of jq;" \
  "hot fan-out $(get fanout_hot_per_s) rewraps/s; state replay: $(get replay_state_per_s) events/s, peak RSS $(get replay_state_rss_kib) KiB;" \
  "the state of $(get snapshot_resources) resources: a snapshot of $(get snapshot_bytes) bytes in $(get snapshot_s) s, restored in $(get restore_s) s)"
[ -n "$(get scale1_per_s)" ] && echo "(several instances, 12 partitions: 3 instances $(get scale3_per_s) events/s vs 1 instance" \
  "$(get scale1_per_s), ratio $(awk -v a="$(get scale3_per_s)" -v b="$(get scale1_per_s)" 'BEGIN {if (b > 0) printf "%.2f", a / b}');" \
  "cores used by the instances $(get scale1_run_cores) and $(get scale3_run_cores), their threads waiting for a core" \
  "$(get scale1_run_waiting) and $(get scale3_run_waiting), the broker $(get scale1_broker_cores) and $(get scale3_broker_cores)," \
  "the whole machine $(get scale1_machine_cores) and $(get scale3_machine_cores) of $(get cores); events per partition $(get scale_partition_events), per instance $(get scale3_instance_events);" \
  "failover of $(get failover_partitions) partitions: owned again $(get failover_owned_s) s after the kill, first record $(get failover_first_s) s," \
  "last $(get failover_s) s, restore $(get failover_restore_s) s; through the broker, a partition of $(get kafka_restore_resources)" \
  "resources restored from its changelog in $(get kafka_restore_s) s)"
echo "(figures: $(get events) events, $(get cores) cores, $(get cpu | tr _ ' '), $(get date); violations $(get violations_pct)%;" \
  "replay RSS unsigned $(get replay_unsigned_rss_kib) KiB; latency p50 $(get latency_p50_ms) ms, max $(get latency_max_ms) ms;" \
  "passthrough p50 $(get latency_pass_p50_ms) ms, max $(get latency_pass_max_ms) ms;" \
  "over both probes, run $(get latency_run_cpu_s) s of CPU, $(get latency_run_waited_s) s waiting for a core, the broker $(get latency_broker_cpu_s) s)"
# The chart: one bar per goal, length = ratio / goal ratio, the goal at the line.
{
  h=$(( ${#rows[@]} * 34 + 70 ))
  echo "<svg xmlns='http://www.w3.org/2000/svg' width='860' height='$h' font-family='sans-serif' font-size='12'>"
  echo "<rect width='860' height='$h' fill='white'/>"
  echo "<text x='10' y='20' font-size='14' font-weight='bold'>cmkguard make bench: each figure over its limit or peer, as a share of the goal</text>"
  echo "<text x='10' y='38' fill='#555'>$(get events) events, $(get cores) cores, $(get date)</text>"
  y=55
  for r in "${rows[@]}"; do
    IFS='|' read -r name fig fl base bl goal dir <<<"$r"
    # The bar is the share of the goal reached: ratio / goal, or goal / ratio for an upper bound.
    share=$(awk -v a="$fig" -v b="$base" -v g="$goal" -v d="$dir" 'BEGIN {r = (b > 0) ? a / b : 0
      s = d == "le" ? (r > 0 ? g / r : 0) : r / g; if (s > 2) s = 2; printf "%.3f", s}')
    w=$(awk -v s="$share" 'BEGIN {printf "%d", s * 200}')
    color=$(awk -v s="$share" 'BEGIN {print (s >= 1) ? "#2e7d32" : "#c62828"}')
    ratio=$(awk -v a="$fig" -v b="$base" 'BEGIN {if (b > 0) printf "%.2f", a / b}')
    echo "<text x='10' y='$((y + 15))'>$name</text>"
    echo "<rect x='330' y='$y' width='$w' height='20' fill='$color'/>"
    sign="&#8805;"; [ "$dir" = le ] && sign="&#8804;"
    echo "<text x='$((335 + w))' y='$((y + 15))'>$ratio (goal $sign $goal)</text>"
    y=$((y + 34))
  done
  echo "<line x1='530' y1='48' x2='530' y2='$((y - 8))' stroke='black' stroke-dasharray='4 3'/>"
  echo "<text x='512' y='$((y + 8))' fill='#555'>goal</text>"
  echo "</svg>"
} >"$SVG"
echo "chart: $SVG"
