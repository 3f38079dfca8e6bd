# `replay --out` on an existing trail continues it and never cuts a record: the next
# batch into the same state and file appends; a file that does not end at the state's
# chain head (a rolled-back state, another state, a torn last line) is refused with
# exit 3 and left byte for byte as it was.
. "$(dirname "$0")/lib.sh"
cd "$T"
KEY=$ROOT/tests/golden/test-signing.key
PUB=$ROOT/tests/golden/test-signing.pub
head -6 "$ROOT/examples/story.jsonl" >e1.jsonl
sed -n '7,12p' "$ROOT/examples/story.jsonl" >e2.jsonl
sed -n '13,$p' "$ROOT/examples/story.jsonl" >e3.jsonl
[ -s e3.jsonl ] || fail "the story has fewer than 13 events"
rp() { "$CMKGUARD" replay --rules "$ROOT/rules" --sign-key "$KEY" "$@"; }
seqs() { jq -r .seq "$1" | tr '\n' ' '; }

expect_rc 0 "first batch into a new trail" -- rp --state s.db --out trail.jsonl e1.jsonl
n1=$(wc -l <trail.jsonl)
[ "$n1" -ge 6 ] && ok "first batch wrote $n1 records" || fail "first batch wrote $n1 records"
cp s.db s1.db; cp s.db.mkey s1.db.mkey; cp trail.jsonl trail.1
expect_rc 0 "second batch into the same trail" -- rp --state s.db --out trail.jsonl e2.jsonl
n2=$(wc -l <trail.jsonl)
[ "$n2" -gt "$n1" ] && ok "the trail grew from $n1 to $n2 records" || fail "the trail has $n2 records after $n1"
head -n "$n1" trail.jsonl | cmp -s - trail.1 && ok "the first batch's records are kept byte for byte" \
  || fail "the first batch's records changed"
want=$(seq 1 "$n2" | tr '\n' ' ')
[ "$(seqs trail.jsonl)" = "$want" ] && ok "one chain, seq 1..$n2" || fail "seqs: $(seqs trail.jsonl)"
expect_rc 0 "the continued trail verifies" -- "$CMKGUARD" audit verify --pubkey "$PUB" trail.jsonl
jq -e '.verified and .records == '"$n2" "$T/out" >/dev/null && ok "verify counts $n2 records" \
  || fail "verify: $(cat "$T/out")"

# The same trail replayed in one go is the same bytes as the two batches.
expect_rc 0 "both batches in one replay" -- rp --state one.db --out one.jsonl <(cat e1.jsonl e2.jsonl)
# (input names differ, so compare everything but data.input)
strip() { jq -c 'del(.data.input, .hash, .prevhash, .sig)' "$1"; }
[ "$(strip one.jsonl)" = "$(strip trail.jsonl)" ] && ok "two batches decide as one replay does" \
  || fail "two batches differ from one replay"

# A rolled-back state (taken after the first batch) beside the newer trail: refused.
cp trail.jsonl trail.2
cp s1.db old.db; cp s1.db.mkey old.db.mkey
expect_rc 3 "a state behind its trail is refused" -- rp --state old.db --out trail.jsonl e3.jsonl
expect_err "ends at record $n2 of chain main, but the state's chain main is at record $n1" \
  "the refusal names the file's last seq and the state's"
cmp -s trail.jsonl trail.2 && ok "the trail is untouched" || fail "the refused replay changed the trail"

# A state that never wrote this trail (or no state at all): refused, untouched.
expect_rc 3 "a fresh state and an existing trail are refused" -- rp --state new.db --out trail.jsonl e3.jsonl
expect_err "already holds audit records \\(the last is record $n2 of chain main\\)" "names the last record"
expect_rc 3 "no state and an existing trail are refused" -- rp --out trail.jsonl e3.jsonl
cmp -s trail.jsonl trail.2 && ok "the trail is still untouched" || fail "a refused replay changed the trail"

# A trail whose last line is torn is not continued.
cp s.db torn.db; cp s.db.mkey torn.db.mkey
cp trail.jsonl torn.jsonl; printf '{"specversion":"1.0","id":"main:9' >>torn.jsonl; cp torn.jsonl torn.0
expect_rc 3 "a torn trail is refused" -- rp --state torn.db --out torn.jsonl e3.jsonl
expect_err "does not end with a complete audit record" "the refusal says the last line is torn"
cmp -s torn.jsonl torn.0 && ok "the torn trail is untouched" || fail "the torn trail changed"

# An empty file, or a new name, is a fresh trail.
: >empty.jsonl
expect_rc 0 "an empty file is written from the start" -- rp --out empty.jsonl e1.jsonl
[ "$(jq -r .seq empty.jsonl | head -1)" = 1 ] && ok "the fresh trail starts at seq 1" || fail "fresh trail"

# A resumed replay never cuts a record either: it produces again what its interrupted run
# wrote after the last commit, checks those records equal the file's, and only then
# writes. An older copy of a state taken in the middle of an interrupted run, put back
# beside a trail that run and a later batch completed, is refused and changes nothing.
head -30 "$ROOT/examples/story.jsonl" >e4.jsonl
sed -n '31,$p' "$ROOT/examples/story.jsonl" >e5.jsonl
mid=""
for n in $(seq 5 400); do
  rm -f m.db m.db-wal m.db-shm m.db.mkey m.jsonl
  CMKGUARD_FAULT=io:$n rp --state m.db --commit-every 3 --out m.jsonl e4.jsonl >/dev/null 2>&1
  [ $? -eq 3 ] || continue
  lines=$(sqlite3 m.db "select v from meta where k = 'replay:main'" 2>/dev/null | cut -d' ' -f1)
  [ -n "$lines" ] && [ "$lines" -gt 0 ] && [ -s m.jsonl ] && { mid=$n; break; }
done
if [ -z "$mid" ]; then
  fail "no I/O fault left a run stopped after a commit"
else
  ok "io fault $mid stops the run after line $lines was committed"
  cp m.db mid.db; cp m.db.mkey mid.db.mkey
  expect_rc 0 "the rerun resumes the interrupted replay" -- rp --state m.db --commit-every 3 --out m.jsonl e4.jsonl
  expect_err "resuming the interrupted replay" "it says it resumes"
  rp --state one4.db --commit-every 3 --out one4.jsonl e4.jsonl >/dev/null 2>&1
  cmp -s m.jsonl one4.jsonl && ok "the resumed trail is byte for byte the trail of a run without a stop" \
    || fail "the resumed trail differs"
  expect_rc 0 "the next batch continues it" -- rp --state m.db --commit-every 3 --out m.jsonl e5.jsonl
  cp m.jsonl m.0
  rm -f m.db-wal m.db-shm; cp mid.db m.db; cp mid.db.mkey m.db.mkey
  expect_rc 3 "the mid-run copy of the state is refused beside the longer trail" -- \
    rp --state m.db --commit-every 3 --out m.jsonl e4.jsonl
  expect_err "holds records its state does not know" "the refusal says why"
  cmp -s m.jsonl m.0 && ok "the trail is untouched" || fail "the refused resume changed the trail"
fi

# The third batch continues the good state's trail.
expect_rc 0 "third batch continues" -- rp --state s.db --out trail.jsonl e3.jsonl
expect_rc 0 "the three-batch trail verifies" -- "$CMKGUARD" audit verify --pubkey "$PUB" trail.jsonl
done_test
