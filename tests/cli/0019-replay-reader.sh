# replay reads and decodes a regular file on a second thread (pipeline/reader.c), while
# CMKGUARD_NO_READER=1 (a test switch) keeps both on the deciding thread, as a pipe and
# fault injection do. Either way the records are the same byte for byte, the messages
# the same in the same order, the exit code the same: for the bench workload (malformed
# lines, duplicated ids), Azure's shapes, text as people write it, lines past
# --max-message, a resumed replay and a read error of the input; a trail that stops
# being written mid-run stops both with the same error.
. "$(dirname "$0")/lib.sh"
cd "$T"
KEY=$ROOT/tests/golden/test-signing.key
GEN=$ROOT/build/bench/bench-gen
[ -x "$GEN" ] || { GEN=$T/bench-gen; cc -std=c11 -O2 -o "$GEN" "$ROOT/bench/gen.c" || { fail "cannot build bench-gen"; done_test; }; }
"$GEN" --events 10000 --resources 1000 --seed 7 >work.jsonl

# The workload, then Azure's shapes, then text as people write it, then lines past 4 KiB.
{
  cat work.jsonl "$ROOT"/tests/fixtures/azure/*.jsonl
  printf '\r\n   \n{"specversion":"1.0","id":"lone-\\uD800","type":"key.created"}\r\n'
  printf '{"id":"twice","id":"again"}\nnot json at all\n[1,2]\n"str"\n{}\n'
  head -c 6000 /dev/zero | tr '\0' 'x'; printf '\n'
  printf '{"specversion":"1.0","id":"pad","source":"/%s","type":"key.created"}\n' "$(head -c 5000 /dev/zero | tr '\0' 'p')"
  sed -n '100,300p' work.jsonl
} >mix.jsonl

# both NAME ARGS...: the replay on two threads, then on one; the same stdout, stderr
# (but the rate in progress lines) and exit code. Leaves NAME.out, NAME.err, NAME.rc.
both() {
  local name=$1; shift
  "$CMKGUARD" replay "$@" >"$name.out" 2>"$name.err"; echo $? >"$name.rc"
  CMKGUARD_NO_READER=1 "$CMKGUARD" replay "$@" >"$name.1.out" 2>"$name.1.err"; echo $? >"$name.1.rc"
  cmp -s "$name.out" "$name.1.out" && ok "$name: the same records on one thread and two" \
    || fail "$name: the records differ"
  grep -v 'events/s$' "$name.err" >"$name.e2"; grep -v 'events/s$' "$name.1.err" >"$name.e1"
  cmp -s "$name.e2" "$name.e1" && ok "$name: the same messages in the same order" \
    || { fail "$name: the messages differ"; diff "$name.e1" "$name.e2" | head -5 >&2; }
  cmp -s "$name.rc" "$name.1.rc" && ok "$name: the same exit code ($(cat "$name.rc"))" \
    || fail "$name: exit $(cat "$name.rc") on two threads, $(cat "$name.1.rc") on one"
}

both mix --rules "$ROOT/rules" --sign-key "$KEY" --checkpoint 100 --progress mix.jsonl
[ "$(cat mix.rc)" = 0 ] && ok "the mixed input replays" || fail "mix: exit $(cat mix.rc)"
[ "$(grep -c 'event rejected' mix.err)" -gt 200 ] && ok "rejections are logged, in order" \
  || fail "$(grep -c 'event rejected' mix.err) rejections logged"
jq -c 'select(.data.derived_from != null)' mix.out | grep -q . && ok "Azure's events are translated" \
  || fail "no record derived from an Azure event"

both max --rules "$ROOT/rules" --max-message 4096 mix.jsonl
grep -q 'mix.jsonl:[0-9]*: event rejected: message is 6000 bytes, over the limit of 4096' max.err \
  && ok "a line past --max-message is rejected with its size" || fail "no over-the-limit rejection"

# stdin from a file is a regular file too; from a pipe it is read on the deciding thread
"$CMKGUARD" replay --rules "$ROOT/rules" - <mix.jsonl >stdin.out 2>stdin.err
CMKGUARD_NO_READER=1 "$CMKGUARD" replay --rules "$ROOT/rules" - <mix.jsonl >stdin.1.out 2>stdin.1.err
cat mix.jsonl | "$CMKGUARD" replay --rules "$ROOT/rules" - >pipe.out 2>pipe.err
cmp -s stdin.out stdin.1.out && cmp -s stdin.err stdin.1.err && ok "stdin from a file: the same on one thread and two" \
  || fail "stdin from a file: records or messages differ"
cmp -s stdin.out pipe.out && cmp -s stdin.err pipe.err && ok "a pipe gives the same records and messages" \
  || fail "a pipe's records or messages differ"

# A read error of the input (/proc/self/mem is a regular file that reading at 0 fails).
both readerr --rules "$ROOT/rules" /proc/self/mem
[ "$(cat readerr.rc)" = 3 ] && grep -q '/proc/self/mem:1: read error' readerr.err \
  && ok "a read error is reported with its line, exit 3" || fail "read error: $(cat readerr.err)"

# The trail cannot be written (a full disk): the replay stops with the same error. The
# records are sealed on a worker, which reports a failed write at the next record the
# deciding thread hands it, so how many events were decided (and rejections logged) in
# between depends on the threads' timing, with the reader or without: each run logs a
# prefix of the rejections of the run that completes, then the same error.
full() { # NAME [env...]
  local name=$1; shift
  env "$@" "$CMKGUARD" replay --rules "$ROOT/rules" --sign-key "$KEY" --checkpoint 100 \
    --out /dev/full mix.jsonl >/dev/null 2>"$name.err"; echo $? >"$name.rc"
}
full full; full full.1 CMKGUARD_NO_READER=1
for f in full full.1; do
  [ "$(cat $f.rc)" = 3 ] && tail -1 $f.err | grep -q 'cannot write audit record main:7: No space left' \
    && ok "$f: a full disk stops the replay at record 7, exit 3" || fail "$f: exit $(cat $f.rc), $(tail -1 $f.err)"
  n=$(grep -c 'event rejected' $f.err)
  grep 'event rejected' $f.err | cmp -s - <(grep 'event rejected' mix.1.err | head -n "$n") \
    && ok "$f: the $n rejections logged first are the complete run's first" || fail "$f: rejections differ"
done

# A resumed replay: a run stopped by an I/O fault after a commit (fault injection keeps
# one thread), then resumed on two threads and on one, from copies of what it left.
rp() { "$CMKGUARD" replay --rules "$ROOT/rules" --sign-key "$KEY" --checkpoint 100 --commit-every 500 "$@"; }
total=$(CMKGUARD_FAULT=io:count rp --state c.db --out c.jsonl work.jsonl 2>&1 >/dev/null | sed -n 's/.*was called \([0-9]*\) times.*/\1/p')
mid=""
for n in $(seq $((total / 2)) $((total / 2 + 40))); do
  rm -f m.db* m.jsonl
  CMKGUARD_FAULT=io:$n rp --state m.db --out m.jsonl work.jsonl >/dev/null 2>&1
  [ $? -eq 3 ] || continue
  lines=$(sqlite3 m.db "select v from meta where k = 'replay:main'" 2>/dev/null | cut -d' ' -f1)
  [ -n "$lines" ] && [ "$lines" -gt 0 ] && { mid=$n; break; }
done
if [ -z "$mid" ]; then
  fail "no I/O fault between calls $((total / 2)) and $((total / 2 + 40)) of $total stopped the run after a commit"
else
  ok "io fault $mid of $total stops the run after line $lines was committed"
  for w in two one; do
    mkdir "$w"; cp m.db* m.jsonl work.jsonl "$w"/
  done
  (cd two && rp --state m.db --out m.jsonl work.jsonl >out 2>err; echo $? >rc)
  (cd one && CMKGUARD_NO_READER=1 rp --state m.db --out m.jsonl work.jsonl >out 2>err; echo $? >rc)
  [ "$(cat two/rc) $(cat one/rc)" = "0 0" ] && ok "both resume" || fail "resumes exit $(cat two/rc), $(cat one/rc)"
  grep -q "resuming the interrupted replay of work.jsonl after line $lines" two/err \
    && ok "it says where it resumes" || fail "resume message: $(head -2 two/err)"
  cmp -s two/m.jsonl one/m.jsonl && ok "the resumed trails are the same on one thread and two" \
    || fail "the resumed trails differ"
  cmp -s two/err one/err && ok "and so are their messages" || fail "resume messages differ"
  rp --state u.db --out u.jsonl work.jsonl >/dev/null 2>&1
  cmp -s two/m.jsonl u.jsonl && ok "and the trail of a run without a stop" || fail "the resumed trail differs from an uninterrupted run's"
fi
done_test
