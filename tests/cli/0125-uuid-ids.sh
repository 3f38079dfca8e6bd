# Event ids that are UUIDs (as Event Grid and Azure write them) are remembered exactly:
# a UUID seen again from its source is a duplicate, in this run or after a restart from
# the state; the same UUID in the other case, in mixed case, or from another source is
# another event.
. "$(dirname "$0")/lib.sh"
cd "$T"
V=https://kv-u.vault.azure.net
ev() { printf '{"specversion":"1.0","id":"%s","source":"%s","type":"vault.upserted","subject":"%s","time":"2026-11-01T00:00:00Z","data":{"tenant":"t1","region":"we","subscription":"s1","soft_delete":true,"purge_protection":true}}\n' "$1" "$2" "$V"; }
U=0f8fad5b-d9cb-469f-a165-70867728950e
{
  ev $U /a                                    # 1 allowed
  ev $U /a                                    # 2 duplicate
  ev 0F8FAD5B-D9CB-469F-A165-70867728950E /a  # 3 allowed: another id
  ev 0F8FAD5B-D9CB-469F-A165-70867728950E /a  # 4 duplicate
  ev 0f8fad5b-d9cb-469f-A165-70867728950e /a  # 5 allowed: mixed case, another id
  ev 0f8fad5b-d9cb-469f-A165-70867728950e /a  # 6 duplicate
  ev $U /b                                    # 7 allowed: another source
  ev "{$U}" /a                                # 8 allowed: braces, another id
  ev 00000000-0000-0000-0000-000000000001 /a  # 9 allowed: digits only
  ev 00000000-0000-0000-0000-000000000001 /a  # 10 duplicate
} >a.jsonl
{
  ev 7c9e6679-7425-40de-944b-e07fc1f90ae7 /a  # 1 allowed
  ev $U /a                                    # 2 duplicate, from the state
  ev 0F8FAD5B-D9CB-469F-A165-70867728950E /a  # 3 duplicate
  ev 0f8fad5b-d9cb-469f-A165-70867728950e /a  # 4 duplicate
  ev $U /b                                    # 5 duplicate
  ev $U /c                                    # 6 allowed: a source not seen
  ev 00000000-0000-0000-0000-000000000001 /a  # 7 duplicate
  ev 7c9e6679-7425-40de-944b-e07fc1f90ae7 /a  # 8 duplicate, from this run
} >b.jsonl
outcomes() { jq -r '.data.outcome' "$1" | paste -sd' '; }
expect_rc 0 "replay of UUID ids exits 0" -- "$CMKGUARD" replay --rules "$ROOT/rules" --state s.db a.jsonl
got=$(outcomes "$T/out")
want="allowed duplicate allowed duplicate allowed duplicate allowed allowed allowed duplicate"
[ "$got" = "$want" ] && ok "one run: a UUID again is a duplicate; another case, source or spelling is not" \
  || fail "one run: got '$got', expected '$want'"
expect_rc 0 "the next replay over the same state exits 0" -- "$CMKGUARD" replay --rules "$ROOT/rules" --state s.db b.jsonl
got=$(outcomes "$T/out")
want="allowed duplicate duplicate duplicate duplicate allowed duplicate duplicate"
[ "$got" = "$want" ] && ok "after a restart: the UUIDs seen are remembered, exactly as written" \
  || fail "after a restart: got '$got', expected '$want'"
done_test
