#!/bin/sh
# cmkguard under valgrind memcheck: any memory error or definite leak exits 99.
# PCRE2's JIT is off: memcheck cannot follow JIT-compiled code.
CMKGUARD_NO_JIT=1
export CMKGUARD_NO_JIT
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite --track-origins=yes "$(dirname "$0")/../cmkguard" "$@"
