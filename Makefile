# cmkguard — GNU make build.  `make` builds ./cmkguard; `make test` runs every test;
# `make asan` runs the same suite under AddressSanitizer + UBSan; `make demo` tells the story.
CC      ?= cc
PKGS    := openssl yaml-0.1 rdkafka libpcre2-8 yajl sqlite3
BUILD   ?= build
WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter
OPT     ?= -O2 -g
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  += $(WARN) $(OPT) -D_GNU_SOURCE -I. $(PKG_CFLAGS) $(SANFLAGS)
LDLIBS  += $(PKG_LIBS) -lpthread $(SANFLAGS)

MODULES := common crypto vault policy audit stream
LIB_SRC := $(foreach m,$(MODULES),$(wildcard $(m)/*.c)) $(filter-out cli/main.c,$(wildcard cli/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB     := $(BUILD)/libcmkguard.a
BIN     := cmkguard
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps test unit cli-tests rule-tests asan demo clean banned
all: deps $(BIN)

deps:
	@scripts/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/cli/main.o $(LIB) | banned
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Banned functions fail the build.
banned:
	@scripts/banned.sh

test: all $(UNIT_BIN)
	@scripts/run-tests.sh $(BUILD)

unit: all $(UNIT_BIN)
	@scripts/run-tests.sh $(BUILD) unit

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" BIN=build-asan/cmkguard test-asan

# Sanitizer reports also go to files, so one cannot hide behind an ignored exit code.
test-asan: deps $(BIN) $(UNIT_BIN)
	@rm -rf build-asan/reports && mkdir -p build-asan/reports
	@CMKGUARD=build-asan/cmkguard \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$(CURDIR)/build-asan/reports/asan \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(CURDIR)/build-asan/reports/ubsan \
	  scripts/run-tests.sh build-asan
	@if ls build-asan/reports/* >/dev/null 2>&1; then \
	  echo "sanitizer reports:"; cat build-asan/reports/*; exit 1; fi

demo: all
	@scripts/demo.sh

clean:
	rm -rf build build-asan $(BIN)

-include $(LIB_OBJ:.o=.d) $(BUILD)/cli/main.d
