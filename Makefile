# cmkguard — GNU make build.  `make` builds ./cmkguard; `make test` runs every test;
# `make asan` runs the same suite under AddressSanitizer + UBSan; `make demo` tells the story.
CC      ?= cc
PKGS    := openssl yaml-0.1 rdkafka libpcre2-8 yajl sqlite3 libmicrohttpd
BUILD   ?= build
WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wformat=2
OPT     ?= -O2 -g
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# Every file compiled starts with common/banned.h: a banned function is a compile error.
GUARD   := -include common/banned.h
CFLAGS  += $(WARN) $(OPT) -D_GNU_SOURCE -I. $(GUARD) $(PKG_CFLAGS) $(SANFLAGS)
LDLIBS  += $(PKG_LIBS) -lpthread $(SANFLAGS)

MODULES := common crypto store vault decode azure policy audit pipeline stream
LIB_SRC := $(foreach m,$(MODULES),$(wildcard $(m)/*.c)) $(filter-out cli/main.c,$(wildcard cli/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/schema.o
LIB     := $(BUILD)/libcmkguard.a
BIN     := cmkguard
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_TOOLS := $(BUILD)/bench/bench-gen $(BUILD)/bench/bench-limits $(BUILD)/bench/bench-latency \
               $(BUILD)/bench/bench-floor $(BUILD)/bench/bench-snapshot

.PHONY: all deps test unit cli-tests rule-tests asan demo clean fuzz torture analyze valgrind bench lint model scale
all: deps $(BIN)

deps:
	@scripts/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# rules/schema.json, embedded as a C array (od and sed: xxd is not always there).
$(BUILD)/gen/schema.c: rules/schema.json
	@mkdir -p $(dir $@)
	@{ printf '/* Generated from %s by the Makefile: do not edit. */\n' '$<'; \
	  printf '#include "policy/schema.h"\n\nconst unsigned char pol_schema_json[] = {\n'; \
	  od -An -v -tx1 $< | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  printf '0x00};\nconst size_t pol_schema_json_len = sizeof pol_schema_json - 1;\n'; \
	} >$@.tmp && mv $@.tmp $@

$(BUILD)/gen/schema.o: $(BUILD)/gen/schema.c policy/schema.h
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/cli/main.o $(LIB)
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

test: all $(UNIT_BIN) $(BENCH_TOOLS)
	@$(MAKE) --no-print-directory lint
	@scripts/run-tests.sh $(BUILD)
	@$(MAKE) --no-print-directory analyze

# Formatting: every C file as the committed .clang-format lays it out; a difference
# fails, naming the file and line (clang-format -i FILE fixes it).
LINT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
lint:
	@clang-format --dry-run --Werror $(LINT_FILES) && echo "clang-format: clean"

unit: all $(UNIT_BIN)
	@scripts/run-tests.sh $(BUILD) unit

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" BIN=build-asan/cmkguard test-asan

# Sanitizer reports also go to files, so one cannot hide behind an ignored exit code.
test-asan: deps $(BIN) $(UNIT_BIN) $(BUILD)/bench/bench-gen $(BUILD)/bench/bench-floor
	@rm -rf build-asan/reports && mkdir -p build-asan/reports
	@CMKGUARD=build-asan/cmkguard \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$(CURDIR)/build-asan/reports/asan \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(CURDIR)/build-asan/reports/ubsan \
	  scripts/run-tests.sh build-asan
	@if ls build-asan/reports/* >/dev/null 2>&1; then \
	  echo "sanitizer reports:"; cat build-asan/reports/*; exit 1; fi

# Every failure point of every seam kind along the fault scenario (tests/faults).
torture: all
	@for k in crypto io alloc sqlite; do tests/faults/torture.sh $$k || exit 1; done

# Static analysis: cppcheck and the clang static analyzer; any finding fails.
analyze: deps
	@cppcheck --enable=warning,portability,performance --std=c11 --inline-suppr -q \
	  --error-exitcode=1 -I. -D_GNU_SOURCE --include=common/banned.h $(MODULES) cli && echo "cppcheck: clean"
	@rm -rf build-scan && scan-build --status-bugs -o build-scan/reports \
	  $(MAKE) --no-print-directory BUILD=build-scan CC=clang BIN=build-scan/cmkguard \
	  build-scan/cmkguard >build-scan.log 2>&1 \
	  && echo "scan-build: clean" || { grep -E 'warning:|bugs found' build-scan.log; exit 1; }

# Several instances at full size (tests/cli/scale: 12 partitions, up to 20 000 events,
# kill -9, scaling 1 -> 3 -> 2, a zombie), minutes each; make test runs 0123 and 0124,
# the same tests over 4 partitions, and 0114-0118.
scale: all $(UNIT_BIN)
	@fails=0; for t in tests/cli/scale/[0-9]*.sh; do echo "== $$t"; bash $$t || fails=$$((fails+1)); done; \
	  echo "$$fails failed"; [ $$fails -eq 0 ]

# The scale-out protocol model-checked with spin (model/scaleout.pml): exhaustive safety
# searches that must find nothing, broken variants that must find their violation, and
# the kept trail replayed. make test runs the fast part (tests/cli/0070).
model: deps
	@scripts/model.sh full $(BUILD)/model

# cmkguard under valgrind memcheck: the fault scenario end to end and small CLI suites.
valgrind: all
	@scripts/valgrind.sh

# Benchmarks: workloads from a fixed seed, each figure beside its limit or peer.
$(BUILD)/bench/bench-gen: bench/gen.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O2 -D_GNU_SOURCE $(GUARD) -o $@ $<
$(BUILD)/bench/bench-%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)
bench: all $(BENCH_TOOLS)
	@scripts/bench.sh

demo: all
	@scripts/demo.sh

# libFuzzer harnesses (clang): each runs FUZZ_SECONDS on its seed corpus; crashes land
# in build-fuzz/ as crash-* files, to become regression inputs.
FUZZ_SECONDS ?= 60
# FUZZ_RUNS=N runs each harness for N executions instead of a time limit.
FUZZ_LIMIT = $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS),-max_total_time=$(FUZZ_SECONDS))
FUZZERS := event rules verify cebind changelog
fuzz: deps
	@$(MAKE) --no-print-directory CC=clang BUILD=build-fuzz OPT="-O1 -g" \
	  SANFLAGS="-fsanitize=fuzzer-no-link,address,undefined" build-fuzz/libcmkguard.a
	@for f in $(FUZZERS); do \
	  clang -std=c11 -g -O1 -D_GNU_SOURCE -I. $(GUARD) $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined \
	    -o build-fuzz/fuzz_$$f tests/fuzz/fuzz_$$f.c build-fuzz/libcmkguard.a $(PKG_LIBS) -lpthread || exit 1; \
	  mkdir -p build-fuzz/corpus-$$f && cp -n tests/fuzz/corpus/$$f/* build-fuzz/corpus-$$f/ 2>/dev/null; \
	  echo "fuzz_$$f: $(FUZZ_LIMIT)"; \
	  build-fuzz/fuzz_$$f $(FUZZ_LIMIT) -max_len=65536 -artifact_prefix=build-fuzz/ -print_final_stats=1 \
	    build-fuzz/corpus-$$f > build-fuzz/fuzz_$$f.log 2>&1; rc=$$?; \
	  grep -E 'Done|ERROR|SUMMARY|crash-|executed_units|execs_per_sec' build-fuzz/fuzz_$$f.log; \
	  [ $$rc = 0 ] || { echo "fuzz_$$f failed: see build-fuzz/fuzz_$$f.log" >&2; exit 1; }; \
	done

clean:
	rm -rf build build-asan build-fuzz $(BIN)

-include $(LIB_OBJ:.o=.d) $(BUILD)/cli/main.d
