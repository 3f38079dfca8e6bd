# report --state: the state is read through the vault API, authenticated, and never
# written; its posture stands beside the trail's, its chain head is matched against the
# trail, and a state that fails its checks is reported on the first line, not used.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/trail.sh"
. "$(dirname "$0")/browser.sh"
cd "$T"
DB=$T/s.db
"$CMKGUARD" replay --rules "$ROOT/rules" --state "$DB" --sign-key "$KEY" --out trail.jsonl \
  "$ROOT/examples/story.jsonl" 2>/dev/null || fail "replay into a state"
before=$(cat "$DB" "$DB.mkey" | sha256sum)
render() { browser_dom "$1" >"$1.dom" && dom_json <"$1.dom" >"$1.json"; }
expect_rc 0 "a report with the state" -- "$CMKGUARD" report --pubkey "$PUB" --state "$DB" --out page.html trail.jsonl
[ "$(cat "$DB" "$DB.mkey" | sha256sum)" = "$before" ] && ok "the state and its key are left byte for byte" \
  || fail "the report changed the state"
[ ! -e "$DB-wal" ] || [ ! -s "$DB-wal" ] && ok "no write-ahead log left behind" || fail "a WAL file is left"
render page.html
jq -e '.first.in == ["verdict"] and (.first.text | startswith("Verified: ")) and (.first.text | endswith("the state too"))' \
  page.html.json >/dev/null && ok "the first line says the trail and the state verified" || fail "first line: $(jq -c .first page.html.json)"
jq -e '[.els[] | select(.attrs["data-state-verified"])][0].attrs["data-state-verified"] == "true"' page.html.json >/dev/null \
  && ok "the state section says it verified" || fail "state section"
jq -e '[.els[] | select(.attrs["data-state-chain"])] | length == 1 and (.[0].text | contains("state and trail end at the same record"))' \
  page.html.json >/dev/null && ok "the state's chain head is the trail's last record" || fail "state chain: $(jq -c '[.els[] | select(.attrs["data-state-chain"]) | .text]' page.html.json)"
# posture: every resource the state holds, locked and lost as the state says
"$CMKGUARD" state show --state "$DB" >show.json || fail "state show"
jq -c '[.resources[] | {key: .id, value: [.locked, (.lost // false)]}] | from_entries' show.json >want.json
jq -c '[.els[] | select(.tag == "tr" and .attrs["data-findings"]) | select(.attrs["data-exists"] == "true")
        | {key: .attrs["data-resource"], value: [.attrs["data-locked"] == "true", .attrs["data-lost"] == "true"]}]
       | from_entries' page.html.json >got.json
jq -e -n --slurpfile a want.json --slurpfile b got.json '$a == $b' >/dev/null \
  && ok "posture per resource agrees with state show ($(jq -c 'length' want.json) resources)" \
  || { fail "posture differs from state show"; cat want.json got.json >&2; }
jq -e '[.els[] | select(.tag == "tr" and .attrs["data-findings"] and .attrs["data-exists"] == "true") | .text
        | contains("agrees")] | length > 0 and all' page.html.json >/dev/null \
  && ok "each resource's last record agrees with the state" || fail "a resource differs from the state"
# a trail cut short: the state is ahead of it
head -n 40 trail.jsonl >short.jsonl
expect_rc 0 "a report on a prefix of the trail" -- "$CMKGUARD" report --pubkey "$PUB" --state "$DB" --out short.html short.jsonl
render short.html
jq -e '[.els[] | select(.attrs["data-state-chain"])][0].text | contains("state is ahead: the trail ends at seq 40")' \
  short.html.json >/dev/null && ok "the state is shown ahead of a shorter trail" || fail "state ahead: $(jq -c '[.els[] | select(.attrs["data-state-chain"]) | .text]' short.html.json)"
jq -e '[.els[] | select(.tag == "tr" and .attrs["data-findings"]) | .text | contains("differs") or contains("only in state")] | any' \
  short.html.json >/dev/null && ok "resources that changed since are flagged" || fail "no resource flagged against the state"
# a lock edited away in the state: refused, reported first, and not used
cp "$DB" edit.db; cp "$DB.mkey" edit.db.mkey
sqlite3 edit.db "UPDATE resources SET doc = replace(doc, '\"locked\":true', '\"locked\":false') WHERE instr(doc, '\"locked\":true') > 0" \
  || fail "sqlite3 edit"
expect_rc 1 "an edited state: exit 1" -- "$CMKGUARD" report --pubkey "$PUB" --state edit.db --out edit.html trail.jsonl
expect_err "edit.db: the state failed verification" "stderr says the state failed"
render edit.html
jq -e '.first.in == ["verdict"] and (.first.text | startswith("Verification FAILED: state edit.db: "))' edit.html.json >/dev/null \
  && ok "the first line says the state FAILED verification" || fail "first line: $(jq -c .first edit.html.json)"
jq -e '[.els[] | select(.attrs["data-state-verified"])][0].attrs["data-state-verified"] == "false"
       and ([.els[] | select(.attrs["data-state-chain"])] | length == 0)
       and ([.els[] | select(.tag == "tr" and .attrs["data-findings"]) | .text | contains("agrees") or contains("differs")] | any | not)' \
  edit.html.json >/dev/null && ok "nothing from the failed state is shown" || fail "the failed state was used"
jq -e '[.els[] | select(.attrs["data-count-records"])][0].attrs["data-count-records"] == "67"' edit.html.json >/dev/null \
  && ok "the verified trail is still reported" || fail "trail content missing"
# a missing state or master key
expect_rc 1 "a missing state: exit 1" -- "$CMKGUARD" report --pubkey "$PUB" --state nope.db --out none.html trail.jsonl
[ ! -e nope.db ] && ok "and no state is created" || fail "a state was created"
: >empty.db
expect_rc 1 "an empty file as the state: exit 1" -- "$CMKGUARD" report --pubkey "$PUB" --state empty.db --out empty.html trail.jsonl
[ ! -s empty.db ] && [ ! -e empty.db.mkey ] && ok "and it is left empty, with no master key made" || fail "the empty file was made a state"
cp "$DB" nokey.db
expect_rc 1 "a state without its master key: exit 1" -- "$CMKGUARD" report --pubkey "$PUB" --state nokey.db --out nokey.html trail.jsonl
render nokey.html
jq -e '.first.text | startswith("Verification FAILED: state nokey.db: ")' nokey.html.json >/dev/null \
  && ok "a missing master key is reported first" || fail "first line: $(jq -c .first nokey.html.json)"
[ ! -e nokey.db.mkey ] && ok "and no master key is created" || fail "a master key was created"
done_test
