# Files as people write them (SPEC §2): a byte-order mark, CRLF line ends and blank
# lines are read as they are; a lone surrogate escape, a member name given twice and a
# time that is no calendar instant are rejected with a reason, and processing goes on;
# CloudEvents extension attributes are accepted and ignored.
. "$(dirname "$0")/lib.sh"
cd "$T"
R=/subscriptions/s1/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts
ev() { # id subject-name time [extra members]
  printf '{"specversion":"1.0","id":"%s","source":"/s","type":"resource.created","subject":"%s/%s","time":"%s","data":{"kind":"Face","tenant":"t","region":"r","subscription":"s"}%s}' \
    "$1" "$R" "$2" "$3" "${4:-}"
}
{
  printf '\xef\xbb\xbf'; ev first a 2026-11-02T10:00:00Z; printf '\r\n'              # 1 BOM, CRLF
  printf '\r\n'                                                                  # 2 blank (CRLF)
  printf '   \n'                                                                 # 3 blank
  ev 'lone-\uD800' b 2026-11-02T10:00:01Z; printf '\r\n'                         # 4 lone high surrogate
  ev 'lone-\uDC00' c 2026-11-02T10:00:02Z; printf '\n'                           # 5 lone low surrogate
  ev 'lit-\\uD800' d 2026-11-02T10:00:03Z; printf '\n'                           # 6 escaped backslash: text
  ev twice e 2026-11-02T10:00:04Z ',"data":{}'; printf '\n'                      # 7 data given twice
  ev deep f 2026-11-02T10:00:05Z ',"x":{"y":{"z":1,"z":2}}'; printf '\n'        # 8 twice, deeper
  ev feb30 g 2026-02-30T10:00:00Z; printf '\n'                                   # 9 no February 30
  ev feb29 h 2026-02-29T10:00:00Z; printf '\n'                                   # 10 2026 is no leap year
  ev h24 i 2026-11-02T24:00:00Z; printf '\n'                                     # 11 no hour 24
  ev leap j 2028-02-29T10:00:00Z; printf '\n'                                    # 12 2028 is
  ev ext k 2026-11-02T10:00:06Z ',"datacontenttype":"application/json","dataschema":"https://example.com/s","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","partitionkey":"t","comexampleext":[1,{"a":true}]'
  printf '\r\n'                                                                  # 13 extensions
  printf '\n\n'                                                                  # trailing blank lines
} >text.jsonl
expect_rc 0 "replay of text as people write it exits 0" -- "$CMKGUARD" replay text.jsonl
cp "$T/out" out.jsonl
[ "$(wc -l <out.jsonl)" -eq 11 ] && ok "one record per non-blank line" || fail "$(wc -l <out.jsonl) records"
at() { jq -r --arg l "text.jsonl:$1" 'select(.data.input == $l) | .data.outcome + ": " + (.data.reason // "")' out.jsonl; }
want() { case "$(at "$1")" in "$2"*) ok "line $1: $3" ;; *) fail "line $1 ($3): got '$(at "$1")', wanted '$2'" ;; esac; }
want 1 "allowed: " "a BOM at the start of the file and CRLF: the first event is kept"
jq -se 'map(select(.data.input == "text.jsonl:1")) | .[0].data.cause == "first"' out.jsonl >/dev/null && ok "the first event's id is read whole" || fail "first id"
want 4 "rejected: a string holds a lone UTF-16 surrogate escape \\uD800" "lone high surrogate rejected"
want 5 "rejected: a string holds a lone UTF-16 surrogate escape \\uDC00" "lone low surrogate rejected"
jq -se 'map(select(.data.input == "text.jsonl:4" or .data.input == "text.jsonl:5")) | length == 2 and all(.data.cause == null)' out.jsonl >/dev/null \
  && ok "no replacement character stands in for the surrogate: the rejection names no id" || fail "line 4 cause"
want 6 "allowed: " "an escaped backslash before uD800 is text"
jq -se 'map(select(.data.input == "text.jsonl:6")) | .[0].data.cause == "lit-\\uD800"' out.jsonl >/dev/null && ok "its id keeps the backslash" || fail "line 6 cause"
want 7 "rejected: duplicate member 'data'" "a member given twice at the top is named"
want 8 "rejected: duplicate member 'x.y.z'" "a member given twice deeper is named with its path"
want 9 "rejected: time '2026-02-30T10:00:00Z' is not an RFC 3339 date-time" "February 30 rejected"
want 10 "rejected: time '2026-02-29T10:00:00Z'" "February 29 of a common year rejected"
want 11 "rejected: time '2026-11-02T24:00:00Z'" "hour 24 rejected"
want 12 "allowed: " "February 29 of a leap year allowed"
want 13 "allowed: " "extension attributes, datacontenttype and dataschema are accepted"
grep -q "text.jsonl:4: event rejected: a string holds a lone UTF-16 surrogate" "$T/err" && ok "rejections are logged with file:line" || fail "no log line"
# the same through stdin
expect_rc 0 "stdin too" -- sh -c "\"$CMKGUARD\" replay - <text.jsonl"
[ "$(jq -r 'select(.data.input == "stdin:1") | .data.outcome' "$T/out")" = allowed ] && ok "a BOM on stdin is read as on a file" || fail "stdin BOM"
done_test
