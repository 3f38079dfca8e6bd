# Azure shapes that cannot be translated are rejected with a reason naming the shape
# and the field; nothing of them is applied, and processing goes on.
. "$(dirname "$0")/lib.sh"
cd "$T"
F=$ROOT/tests/fixtures/azure
expect_rc 0 "replay of bad Azure shapes exits 0" -- "$CMKGUARD" replay "$F/bad-shapes.jsonl"
cp "$T/out" out.jsonl
n=$(wc -l <"$F/bad-shapes.expect")
[ "$(wc -l <out.jsonl)" -eq "$n" ] && ok "one record per event ($n)" || fail "$(wc -l <out.jsonl) records, wanted $n"
i=0
while IFS= read -r want; do
  i=$((i + 1))
  got=$(sed -n "${i}p" out.jsonl | jq -r '[.data.outcome, (.data.reason // ""), .data.event_type] | join(" | ")')
  case "$want" in
    OK) case "$got" in allowed*) ok "record $i allowed" ;; *) fail "record $i: $got" ;; esac ;;
    vault.*) case "$got" in "allowed |  | $want") ok "record $i: $want" ;; *) fail "record $i: $got" ;; esac ;;
    *) case "$got" in rejected*"$want"*) ok "record $i: $want" ;; *) fail "record $i: got '$got', wanted '$want'" ;; esac ;;
  esac
done <"$F/bad-shapes.expect"
# rejections name the shape
jq -e -s '[.[] | select(.data.outcome == "rejected" and (.data.cause == "bad-1"))][0].data.reason | startswith("Microsoft.ResourceNotifications.Resources.CreatedOrUpdated (Microsoft.KeyVault/vaults): ")' out.jsonl >/dev/null \
  && ok "the reason names the shape" || fail "shape not named"
grep -q "bad-shapes.jsonl:1: event rejected: " "$T/err" && ok "rejections logged with file:line" || fail "no log"
done_test
