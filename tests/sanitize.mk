# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Included by the Makefile: the sanitizer builds, the fuzzers and the soak. Each build has its
# own output directory, so build/gcpause and the plain unit tests are never rebuilt by these.
#
#   make asan-unit-test	unit tests under ASan+UBSan (build/asan/tests/); part of `make test`
#   make e2e-asan		end-to-end suite and tests/stress/fleet.sh against build/asan/gcpause
#   make fuzz-smoke		every fuzzer for FUZZ_SMOKE_TIME s; part of `make test`
#   make fuzz		every fuzzer for FUZZ_TIME s (FUZZERS="proc_maps http" picks some)
#   make soak		tests/soak/soak.py for SOAK_TIME s (600 by default)

.PHONY: asan asan-unit-test e2e-asan fuzz fuzz-smoke fuzz-build soak

SAN_DIR		:= tests/sanitize
SAN_FLAGS	:= -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
		   -fno-sanitize-recover=undefined
# A sanitizer report fails the run: ASan and UBSan abort, LSan exits non-zero. log_path keeps the
# reports of processes whose exit status a test does not look at (e2e-asan checks for them).
ASAN_OPTS	:= abort_on_error=1:detect_leaks=1
UBSAN_OPTS	:= print_stacktrace=1:halt_on_error=1
SAN_ENV		= ASAN_OPTIONS=$(ASAN_OPTS) UBSAN_OPTIONS=$(UBSAN_OPTS) \
		  LSAN_OPTIONS=suppressions=$(CURDIR)/$(SAN_DIR)/lsan.supp:print_suppressions=0

# --- ASan+UBSan build: build/asan/ ---------------------------------------------------------
ASAN_OUT	:= $(OUTPUT)/asan
ASAN_OBJS	:= $(patsubst src/%.c,$(ASAN_OUT)/obj/%.o,$(SRCS))
ASAN_LIB_OBJS	:= $(filter-out $(ASAN_OUT)/obj/main.o,$(ASAN_OBJS))
ASAN_UNIT_BINS	:= $(patsubst tests/unit/%.c,$(ASAN_OUT)/tests/%,$(UNIT_SRCS))

$(ASAN_OUT) $(ASAN_OUT)/tests $(ASAN_OUT)/logs:
	$(Q)mkdir -p $@

$(ASAN_OUT)/obj/%.o: src/%.c | $(ASAN_OUT) $(SKELS)
	$(call msg,CC-ASAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(CPPFLAGS) -c $< -o $@

$(ASAN_OUT)/gcpause: $(ASAN_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $^ $(LDLIBS) -o $@

$(ASAN_OUT)/tests/test_%: tests/unit/test_%.c $(ASAN_LIB_OBJS) | $(ASAN_OUT)/tests
	$(call msg,CC-ASAN,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(CPPFLAGS) $^ $(LDLIBS) -lcmocka -o $@

asan: deps $(ASAN_OUT)/gcpause

asan-unit-test: deps $(ASAN_UNIT_BINS)
	$(Q)set -e; for t in $(ASAN_UNIT_BINS); do $(SAN_ENV) $$t; done

# The whole end-to-end suite and the fleet stress against the sanitized binary. Reports go to
# build/asan/logs/: any file there after the run fails the target, whatever the tests said.
# The sanitized binary is 2-3 times slower, and a few tests bound timing ratios: the tests that
# fail are run once more (a sanitizer report in either run still fails the target).
# The image and manifest tests run the image's own binary, never GCPAUSE_BIN: not again here.
E2E_ASAN_ARGS	:= --ignore=tests/e2e/test_docker.py --ignore=tests/e2e/test_kubectl.py \
		   --ignore=tests/e2e/test_deploy.py
e2e-asan: deps all fixtures $(ASAN_OUT)/gcpause | $(ASAN_OUT)/logs
	$(Q)rm -f $(ASAN_OUT)/logs/*
	$(Q)status=0; \
	export $(SAN_ENV) ASAN_OPTIONS=$(ASAN_OPTS):log_path=$(CURDIR)/$(ASAN_OUT)/logs/asan \
		UBSAN_OPTIONS=$(UBSAN_OPTS):log_path=$(CURDIR)/$(ASAN_OUT)/logs/ubsan; \
	GCPAUSE_BIN=$(CURDIR)/$(ASAN_OUT)/gcpause $(PYTHON) -m pytest -q $(E2E_ASAN_ARGS) \
		tests/e2e || \
	GCPAUSE_BIN=$(CURDIR)/$(ASAN_OUT)/gcpause $(PYTHON) -m pytest -q --last-failed \
		$(E2E_ASAN_ARGS) tests/e2e || status=1; \
	GCPAUSE=$(ASAN_OUT)/gcpause tests/stress/fleet.sh || status=1; \
	if ls $(ASAN_OUT)/logs/* >/dev/null 2>&1; then \
		echo "e2e-asan: sanitizer reports in $(ASAN_OUT)/logs:"; \
		head -n 60 $(ASAN_OUT)/logs/*; status=1; \
	fi; \
	exit $$status

# --- libFuzzer: build/fuzz/ -----------------------------------------------------------------
FUZZ_OUT	:= $(OUTPUT)/fuzz
FUZZ_FLAGS	:= -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
		   -fno-sanitize-recover=undefined
FUZZ_OBJS	:= $(patsubst src/%.c,$(FUZZ_OUT)/obj/%.o,$(filter-out src/main.c,$(SRCS)))
FUZZ_SRCS	:= $(wildcard tests/fuzz/fuzz_*.c)
ALL_FUZZERS	:= $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRCS))
FUZZERS		?= $(ALL_FUZZERS)
FUZZ_BINS	:= $(patsubst %,$(FUZZ_OUT)/fuzz_%,$(ALL_FUZZERS))
FUZZ_TIME	?= 60
FUZZ_SMOKE_TIME	?= 2

$(FUZZ_OUT)/obj:
	$(Q)mkdir -p $@

$(FUZZ_OUT)/obj/%.o: src/%.c | $(FUZZ_OUT)/obj $(SKELS)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(ALL_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(CPPFLAGS) -c $< -o $@

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_OBJS) | $(FUZZ_OUT)/obj
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(ALL_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer $(CPPFLAGS) -Itests/fuzz \
		$< $(FUZZ_OBJS) $(LDLIBS) -o $@

fuzz-build: deps $(FUZZ_BINS)

# Runs each fuzzer on its checked-in seeds (tests/fuzz/corpus/NAME) plus what earlier runs found
# (build/fuzz/corpus/NAME); a crash leaves its input in build/fuzz/artifacts/ and fails the run.
# Turn every such input into a unit test (tests/unit/test_fuzz_regressions.c) before fixing it.
define run_fuzzers
	$(Q)mkdir -p $(FUZZ_OUT)/artifacts $(FUZZ_OUT)/logs
	$(Q)status=0; for name in $(FUZZERS); do \
		mkdir -p $(FUZZ_OUT)/corpus/$$name; \
		log=$(FUZZ_OUT)/logs/$$name.log; \
		if $(SAN_ENV) $(FUZZ_OUT)/fuzz_$$name -max_total_time=$(1) -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_OUT)/artifacts/$$name- \
			$(FUZZ_OUT)/corpus/$$name tests/fuzz/corpus/$$name >$$log 2>&1; then \
			printf '  %-8s %-14s %s\n' FUZZ $$name \
				"$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log) runs, ok"; \
		else \
			echo "fuzz: $$name failed; its log is $$log, the input in $(FUZZ_OUT)/artifacts/"; \
			grep -E -m1 -A25 '^==[0-9]+==ERROR|runtime error|deadly signal|timeout' $$log; \
			status=1; \
		fi; \
	done; exit $$status
endef

fuzz-smoke: deps $(FUZZ_BINS)
	$(call run_fuzzers,$(FUZZ_SMOKE_TIME))

fuzz: deps $(FUZZ_BINS)
	$(call run_fuzzers,$(FUZZ_TIME))

# --- soak: bounded, ~10 minutes -------------------------------------------------------------
SOAK_TIME	?= 600

soak: deps all
	$(Q)SOAK_TIME=$(SOAK_TIME) GCPAUSE_BIN=$(CURDIR)/$(OUTPUT)/gcpause $(PYTHON) tests/soak/soak.py

# Kept between runs: they are only named in pattern rules, which would make them intermediate.
.SECONDARY: $(ASAN_OBJS) $(FUZZ_OBJS)

-include $(ASAN_OBJS:.o=.d) $(ASAN_OUT)/tests/*.d $(FUZZ_OBJS:.o=.d) $(FUZZ_OUT)/*.d
