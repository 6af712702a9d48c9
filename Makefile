# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# gcpause build. `make` builds build/gcpause; `make test` runs unit and end-to-end tests (root);
# `make demo` traces a demo workload. Quiet by default, V=1 shows the commands.

OUTPUT		:= build
CLANG		?= clang
BPFTOOL		?= bpftool
CC		?= cc
PYTHON		?= /usr/bin/python3.11
BTF		?= /sys/kernel/btf/vmlinux

ARCH		:= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' \
			-e 's/ppc64le/powerpc/' -e 's/riscv64/riscv/' -e 's/s390x/s390/')
VMLINUX_DIR	:= vmlinux/$(ARCH)
VMLINUX		:= $(VMLINUX_DIR)/vmlinux.h

# CFLAGS is the user's (make CFLAGS="-O1 -fsanitize=address" works); the project's own flags
# are added in ALL_CFLAGS whatever it says.
CFLAGS		?= -g -O2
ALL_CFLAGS	= $(CFLAGS) -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wmissing-prototypes -Werror=implicit-function-declaration \
		   -D_GNU_SOURCE -MMD -MP
CPPFLAGS	+= -I$(OUTPUT) -Isrc -Ibpf \
		   $(shell pkg-config --cflags libbpf json-c libmicrohttpd 2>/dev/null)
LDLIBS		+= $(shell pkg-config --libs libbpf json-c libmicrohttpd 2>/dev/null || \
		   echo -lbpf -ljson-c -lmicrohttpd) \
		   -ldw -ldebuginfod -lelf -llzma -lcapstone -lncursesw -lz -lm
# The BPF target has no system include dirs of its own; borrow the host's (asm/ lives in the
# multiarch one) the way libbpf-bootstrap does.
CLANG_BPF_SYS_INCLUDES = $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')
BPF_CFLAGS	= -g -O2 -Wall -target bpf -D__TARGET_ARCH_$(ARCH) -I$(VMLINUX_DIR) -Ibpf -MMD -MP \
		  $(CLANG_BPF_SYS_INCLUDES)

ifeq ($(V),1)
	Q =
	msg =
	SUBMAKE = $(MAKE)
else
	SUBMAKE = $(MAKE) -s
	Q = @
	msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
	MAKEFLAGS += --no-print-directory
endif

BPF_SRCS	:= $(wildcard bpf/*.bpf.c)
BPF_OBJS	:= $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS		:= $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
# One folder per concern (docs/design.md); objects mirror it under build/obj/.
SRCS		:= $(wildcard src/*.c src/*/*.c src/*/*/*.c)
OBJS		:= $(patsubst src/%.c,$(OUTPUT)/obj/%.o,$(SRCS))
LIB_OBJS	:= $(filter-out $(OUTPUT)/obj/main.o,$(OBJS))

UNIT_SRCS	:= $(wildcard tests/unit/test_*.c)
UNIT_BINS	:= $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
FIXTURE_SRCS	:= $(wildcard tests/fixtures/*.c)
FIXTURES	:= $(patsubst tests/fixtures/%.c,$(OUTPUT)/tests/fixtures/%,$(FIXTURE_SRCS))

.PHONY: all deps test check-layers unit-test e2e-test fixtures demo clean vmlinux bench
.DELETE_ON_ERROR:
.SECONDARY: $(BPF_OBJS) $(SKELS)

all: $(OUTPUT)/gcpause

# One script installs every Debian package the build and the tests need; it is a no-op when all
# are present. The stamp keeps repeated builds from asking dpkg each time.
deps: $(OUTPUT)/.deps-installed
$(OUTPUT)/.deps-installed: scripts/install-deps.sh | $(OUTPUT)
	$(call msg,DEPS,$<)
	$(Q)./scripts/install-deps.sh
	$(Q)touch $@

$(OUTPUT) $(OUTPUT)/tests $(OUTPUT)/tests/fixtures:
	$(Q)mkdir -p $@

# Regenerate the committed vmlinux.h from this kernel's BTF, or another one's: make vmlinux BTF=file
vmlinux:
	$(call msg,BTF,$(VMLINUX) from $(BTF))
	$(Q)mkdir -p $(VMLINUX_DIR)
	$(Q)$(BPFTOOL) btf dump file $(BTF) format c > $(VMLINUX).tmp && mv $(VMLINUX).tmp $(VMLINUX)

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(VMLINUX) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)llvm-strip -g $@ 2>/dev/null || true

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# Skeleton headers must exist before any userspace file that includes one is compiled.
$(OUTPUT)/obj/%.o: src/%.c | $(OUTPUT) $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(CPPFLAGS) -c $< -o $@

$(OUTPUT)/gcpause: $(OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/tests/test_%: tests/unit/test_%.c $(LIB_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(CPPFLAGS) $^ $(LDLIBS) -lcmocka -o $@

$(OUTPUT)/tests/fixtures/embed_host: tests/fixtures/embed_host.c | $(OUTPUT)/tests/fixtures
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags python-3.11-embed) $< \
		$(shell pkg-config --libs python-3.11-embed) -o $@

$(OUTPUT)/tests/fixtures/%: tests/fixtures/%.c | $(OUTPUT)/tests/fixtures
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $< -o $@

fixtures: $(FIXTURES)

# The folders' include rules and no module cycles (docs/design.md, "Map").
check-layers:
	$(Q)$(PYTHON) scripts/check-layers.py

unit-test: deps $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do $$t; done

e2e-test: deps all fixtures
	$(Q)$(PYTHON) -m pytest -q tests/e2e

# deps first, alone: the other targets' flags come from pkg-config, which it may install.
# The unit tests run twice: as built, and under ASan+UBSan; the fuzzers run briefly each.
test: deps
	$(Q)$(SUBMAKE) all fixtures $(UNIT_BINS)
	$(Q)$(SUBMAKE) check-layers
	$(Q)$(SUBMAKE) unit-test
	$(Q)$(SUBMAKE) asan-unit-test
	$(Q)$(SUBMAKE) fuzz-smoke
	$(Q)$(SUBMAKE) e2e-test

# Overhead on the traced process, side by side; rewrites the report in docs/performance.md.
bench: deps
	$(Q)$(SUBMAKE) all
	$(Q)$(PYTHON) benchmarks/bench.py --docs docs/performance.md

demo: deps
	$(Q)$(SUBMAKE) all
	$(Q)./scripts/demo.sh

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

# Optional: the image build copies no tests/ (.dockerignore) and needs none of its targets.
-include tests/sanitize.mk

-include $(OBJS:.o=.d) $(BPF_OBJS:.o=.d) $(OUTPUT)/tests/*.d $(OUTPUT)/tests/fixtures/*.d
