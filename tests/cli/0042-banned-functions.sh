#!/usr/bin/env bash
# The build refuses banned C functions at compile time, in every file it compiles.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
CC=${CC:-cc}
compile() { # SOURCE-TEXT: compiles it the way the build does
  printf '%s\n' "$1" >"$T/t.c"
  $CC -std=c11 -D_GNU_SOURCE -I. -include common/banned.h -fsyntax-only "$T/t.c" 2>"$T/err"
}
for call in 'strcpy(d, s)' 'strcat(d, s)' 'strncpy(d, s, 4)' 'strncat(d, s, 4)' \
            'sprintf(d, "%s", s)' 'vsprintf(d, s, ap)' 'strtok(d, s)' 'atoi(s)' 'atol(s)' \
            'atoll(s)' 'gmtime(&t)' 'localtime(&t)' 'ctime(&t)' 'asctime(tm)' 'gets(d)'; do
  f=${call%%(*}
  src="#include <stdarg.h>
#include <string.h>
#include <stdio.h>
void f(char *d, const char *s, va_list ap, time_t t, struct tm *tm);
void f(char *d, const char *s, va_list ap, time_t t, struct tm *tm) { (void)d; (void)s; (void)ap; (void)t; (void)tm; (void)$call; }"
  if compile "$src"; then fail "$f compiled"
  elif grep -q "sorry_${f}_is_a_banned_function" "$T/err"; then ok "$f refused, named"
  else fail "$f refused without its name"; sed 's/^/  | /' "$T/err" | head -3 >&2; fi
done
compile '#include <stdio.h>
int f(char *d, size_t n, const char *s);
int f(char *d, size_t n, const char *s) { return snprintf(d, n, "%s", s); }' \
  && ok "snprintf compiles" || fail "a clean file does not compile: $(head -2 "$T/err")"
# Every compile the build runs carries the guard: library, command, tests, benchmarks.
make -B -n all build/tests/test_common build/bench/bench-gen build/bench/bench-latency \
  2>/dev/null | grep -E "^(${CC:-cc}|clang|gcc) .*\.c( |$)" >"$T/cmds"
n=$(wc -l <"$T/cmds")
[ "$n" -gt 20 ] && ok "$n compiles listed" || fail "only $n compiles listed"
if grep -v -- '-include common/banned.h' "$T/cmds" | grep -q .; then
  fail "compiles without the guard:"; grep -v -- '-include common/banned.h' "$T/cmds" | head -3 >&2
else ok "every compile includes common/banned.h"; fi
grep -q -- '$(GUARD)' <(sed -n '/^fuzz:/,/^$/p' Makefile) && ok "fuzzers compile with the guard" \
  || fail "the fuzz target lacks the guard"
done_test
