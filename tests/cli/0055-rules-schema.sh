# `rules schema` prints rules/schema.json; an independent validator (python3-jsonschema)
# accepts every shipped rule, exemption and rule-test file with it, and refuses each
# broken file of tests/fixtures/schema/bad for the mistake the file names, as the
# cmkguard loader does.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
CHECK=$ROOT/scripts/schema-check.py
FIX=$ROOT/tests/fixtures/schema
if ! $PY -c 'import jsonschema, yaml' 2>/dev/null; then
  fail "python3-jsonschema and python3-yaml are needed (scripts/deps.sh installs them)"
  done_test
fi

expect_rc 0 "rules schema exits 0" -- "$CMKGUARD" rules schema
cp "$T/out" "$T/schema.json"
cmp -s "$T/schema.json" "$ROOT/rules/schema.json" && ok "rules schema prints rules/schema.json byte for byte" \
  || fail "rules schema differs from rules/schema.json"
$PY - "$T/schema.json" <<'EOF' && ok "it is a draft 2020-12 JSON Schema" || fail "not a valid 2020-12 schema"
import json, sys, jsonschema
s = json.load(open(sys.argv[1]))
assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema", s["$schema"]
jsonschema.Draft202012Validator.check_schema(s)
for d in ("ruleFile", "exemptionFile", "testFile"):
    assert {"$ref": "#/$defs/" + d} in s["oneOf"], d
EOF
expect_rc 2 "rules schema takes no arguments" -- "$CMKGUARD" rules schema extra

# Every shipped file, and the fixtures that use every member, validate.
shipped=("$ROOT"/rules/*.yaml "$ROOT"/rules/tests/*.test.yaml "$ROOT"/rules/tests/fixtures/*.yaml)
while IFS= read -r f; do shipped+=("$f"); done < <(find "$ROOT/examples" -name '*.yaml' -o -name '*.yml' | sort)
if $PY "$CHECK" "$T/schema.json" "${shipped[@]}" "$FIX"/good/* >"$T/valid" 2>&1; then
  ok "the shipped files validate ($(grep -c '^ok ' "$T/valid") files)"
else
  fail "a shipped file does not validate:"; grep -v '^ok ' "$T/valid" | sed 's/^/  | /' >&2
fi

# The loader agrees with the schema on the good fixtures it knows (metadata, overrides
# and exemptions are checked once this build's loader reads them).
loader_knows() { # stderr file: false when the loader refused only a member it does not read yet
  ! grep -qE "unknown field '(tags|compliance|references|overrides|exemptions)'|unrecognized option '--exemptions'" "$1"
}
expect_rc 0 "the loader accepts the skipped-case rule test" -- "$CMKGUARD" rules test "$FIX/good/skip.test.yaml"
"$CMKGUARD" rules test "$FIX/good/with-exemptions.test.yaml" >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 0 ]; then ok "the loader accepts a rule test with exemptions"
elif ! loader_knows "$T/err"; then echo "note: rule tests do not take exemptions yet: $(cat "$T/err")"
else fail "the loader refuses good/with-exemptions.test.yaml: $(cat "$T/err")"; fi
for f in rule-meta.yaml rule-overrides.yaml; do
  "$CMKGUARD" rules check "$ROOT/rules" "$FIX/good/$f" >"$T/out" 2>"$T/err"; rc=$?
  if [ $rc -eq 0 ]; then ok "the loader accepts good/$f"
  elif ! loader_knows "$T/err"; then echo "note: good/$f: this loader does not read it yet: $(cat "$T/err")"
  else fail "the loader refuses good/$f: $(cat "$T/err")"; fi
done
"$CMKGUARD" replay --rules "$ROOT/rules" --exemptions "$FIX/good/exemptions.yaml" - </dev/null >"$T/out" 2>"$T/err"; rc=$?
exemptions_known=true
if [ $rc -eq 0 ]; then ok "the loader accepts good/exemptions.yaml"
elif ! loader_knows "$T/err"; then exemptions_known=false; echo "note: this build has no --exemptions: exemption files are checked by the schema only"
else fail "the loader refuses good/exemptions.yaml: $(cat "$T/err")"; fi

# Each broken file names its mistake, what the schema must say, and what the loader must say.
n=0
for f in "$FIX"/bad/*; do
  b=$(basename "$f"); n=$((n + 1))
  mistake=$(sed -n 's/^# mistake: //p' "$f"); want_schema=$(sed -n 's/^# schema: //p' "$f"); want_loader=$(sed -n 's/^# loader: //p' "$f")
  [ -n "$mistake" ] && [ -n "$want_schema" ] && [ -n "$want_loader" ] || { fail "$b: lacks its # mistake/schema/loader header"; continue; }
  $PY "$CHECK" "$T/schema.json" --invalid "$f" >"$T/why" 2>&1; rc=$?
  why=$(cat "$T/why")
  if [ $rc -ne 0 ]; then fail "schema: $why"
  elif grep -qE -- "$want_schema" "$T/why"; then ok "schema refuses $b ($mistake): ${why#*: }"
  else fail "schema refuses $b for another reason than /$want_schema/: $why"; fi
  case $b in
    rule-*) "$CMKGUARD" rules check "$ROOT/rules/cmk.yaml" "$f" >"$T/out" 2>"$T/err"; rc=$? ;;
    test-*) "$CMKGUARD" rules test "$f" >"$T/out" 2>"$T/err"; rc=$? ;;
    exemption-*)
      $exemptions_known || continue
      "$CMKGUARD" replay --rules "$ROOT/rules" --exemptions "$f" - </dev/null >"$T/out" 2>"$T/err"; rc=$? ;;
    *) fail "$b: name it rule-, test- or exemption-"; continue ;;
  esac
  if [ $rc -eq 2 ] && ! loader_knows "$T/err"; then
    echo "note: $b: this loader does not read that member yet: $(head -1 "$T/err")"
  elif [ $rc -eq 2 ] && grep -qE -- "$b:[0-9]+:[0-9]+: .*($want_loader)" "$T/err"; then
    ok "loader refuses $b: $(cut -d: -f5- "$T/err" | head -1)"
  else
    fail "loader on $b: exit $rc, expected 2 with FILE:LINE:COL /$want_loader/: $(head -1 "$T/err")"
  fi
done
[ $n -ge 25 ] && ok "$n broken files" || fail "only $n broken files"
done_test
