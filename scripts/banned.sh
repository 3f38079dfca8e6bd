#!/bin/sh
# Fails when a banned C function appears in the sources.
set -eu
hits=$(grep -nE '(^|[^_a-zA-Z0-9])(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets)[[:space:]]*\(' \
  common/*.[ch] crypto/*.[ch] vault/*.[ch] policy/*.[ch] audit/*.[ch] stream/*.[ch] cli/*.[ch] tests/unit/*.[ch] 2>/dev/null || true)
if [ -n "$hits" ]; then
  echo "cmkguard: banned functions used:" >&2
  echo "$hits" >&2
  exit 1
fi
