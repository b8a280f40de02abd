# SPDX-License-Identifier: MIT
# lvmm: one non-recursive Makefile.
#   make            build build/lvmm, the test guests and the unit tests
#   make demo       install, build and run the default platform (examples/)
#   make test       build everything and run the whole suite (tests/run)
#   make SAN=1 ...  the same with ASan + UBSan, in build-san/
#   make deps       install the Debian packages lvmm needs (idempotent)
#   make fuzz       build the libFuzzer targets with clang and run each briefly
#   make bench      run the benchmarks against QEMU: table and plots in build/bench/
#                   (BENCH="blk link" for some, RUNS=N runs per figure, QUICK=1)
#   make loc        count the trusted supervisor core's lines
#   make npm-tools  the pinned OpenAPI linter (npm) the API test uses
#   V=1             show full commands

SAN ?= 0
DEMO ?= examples/demo.yaml
ifeq ($(SAN),1)
BUILD ?= build-san
else
BUILD ?= build
endif

CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif

Q := @
E := @echo
ifeq ($(V),1)
Q :=
E := @true
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes \
	-Wstrict-prototypes -Wundef -Wwrite-strings -Wno-unused-parameter \
	-Wvla -Wimplicit-fallthrough
HARDEN := -fstack-protector-strong -fPIE -fwrapv -fno-strict-aliasing
HARDEN_LD := -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack
ifeq ($(SAN),1)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
# The sanitizer runtimes need dynamic linking.
SAN_LD := -pie -fsanitize=address,undefined
else
OPT := -O2 -g -D_FORTIFY_SOURCE=2
# static-pie: exec in 0.7 ms instead of 3.9 ms (two execs per partition start), ASLR kept.
SAN_LD := -static-pie
endif
CFLAGS := -std=gnu11 $(OPT) $(WARN) $(HARDEN) -D_GNU_SOURCE -Iinclude -Isrc -MMD -MP
LDFLAGS := $(HARDEN_LD) $(SAN_LD)
# liburing statically in every mode: Debian's liburing.so.2 (2.3) does not
# export io_uring_register_restrictions / io_uring_enable_rings, which the
# virtio-blk ring needs (src/devices/blk_io.c), and a sanitizer build links
# dynamically.
# -lcrypto: OpenSSL's libcrypto (SHA-256, Ed25519) for src/trust. Its static
# archive references dlopen/getaddrinfo/gethostbyname, which lvmm never uses:
# --wrap sends them to failing stubs in src/trust/digest.c, so -static-pie
# links without glibc's warnings and OpenSSL cannot load code at run time.
# (Any getaddrinfo() call in lvmm would get those stubs too: EAI_FAIL.)
LIBS := -lcyaml -lyaml -lseccomp -l:liburing.a -lpthread -lcrypto -ljansson \
	-Wl,--wrap=dlopen,--wrap=getaddrinfo,--wrap=gethostbyname

# Every .c under these folders is part of lvmm; main.c only in the binary.
LIB_SRCS := $(wildcard src/cli/*.c src/config/*.c src/common/*.c src/supervisor/*.c src/vmm/*.c src/devices/*.c src/virtio/*.c src/trust/*.c) \
	src/api/ops.c src/api/parse.c src/api/follow.c
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/src/main.o

# The API front-end (src/api): its own binary, dynamically linked, because
# libmicrohttpd's static archive drags in GnuTLS and its dependencies; it is
# exec'd once per run (not per partition start), so the dynamic loader's
# cost does not matter there. docs/api.md.
API_SRCS := $(wildcard src/api/*.c) src/common/proto.c src/common/util.c src/common/log.c
API_OBJS := $(API_SRCS:%.c=$(BUILD)/%.o)
API_LIBS := -lmicrohttpd -ljansson -lseccomp
ifeq ($(SAN),1)
API_LD := $(HARDEN_LD) $(SAN_LD)
else
API_LD := $(HARDEN_LD) -pie
endif

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)

all: $(BUILD)/lvmm $(BUILD)/lvmm-api guests unit

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(E) "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/liblvmm.a: $(LIB_OBJS)
	$(E) "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/lvmm: $(MAIN_OBJ) $(BUILD)/liblvmm.a
	$(E) "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/lvmm-api: $(API_OBJS)
	$(E) "  LD      $@"
	$(Q)$(CC) $(API_LD) -o $@ $^ $(API_LIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c tests/unit/unit.h $(BUILD)/liblvmm.a
	@mkdir -p $(dir $@)
	$(E) "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/liblvmm.a $(LDFLAGS) $(LIBS)

unit: $(UNIT_BINS)

# Test guests (freestanding, built the same in every mode) and fuzzers.
include tests/guests/guests.mk
-include tests/fuzz/fuzz.mk

# The README's two commands.
# Sequential on purpose: packages first, then the build, then the run.
demo:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) scripts/demo.sh $(DEMO)

test:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory -j$$(nproc) all
	$(Q)$(MAKE) --no-print-directory npm-tools
	$(Q)LVMM=$(BUILD)/lvmm BUILD=$(BUILD) tests/run

# The OpenAPI linter for docs/api/openapi.yaml (tests/integration/api.sh), a
# pinned version from the npm registry into $(BUILD)/node_modules. Without
# npm the test says it skipped; a failed install is not a build failure.
REDOCLY_VERSION := 2.77.0
npm-tools: $(BUILD)/node_modules/.bin/redocly
$(BUILD)/node_modules/.bin/redocly:
	$(Q)if command -v npm >/dev/null; then \
		echo "  NPM     @redocly/cli@$(REDOCLY_VERSION)"; \
		mkdir -p $(BUILD) && npm install --prefix $(BUILD) --no-audit --no-fund --loglevel=error \
			@redocly/cli@$(REDOCLY_VERSION) >$(BUILD)/npm.log 2>&1 || \
			{ echo "npm install failed (see $(BUILD)/npm.log)"; true; }; \
	else echo "npm is not installed: the OpenAPI lint test will be skipped"; fi

# Packages from Debian only; quiet when everything is present.
DEPS := gcc make libc6-dev libcyaml-dev libyaml-dev libseccomp-dev clang \
	qemu-system-x86 qemu-utils busybox-static iproute2 socat cpio xz-utils \
	kmod swtpm swtpm-tools curl python3 libssl-dev openssl tpm2-tools acpica-tools liburing-dev \
	libmicrohttpd-dev libjansson-dev python3-jsonschema python3-yaml
deps:
	$(Q)missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

loc:
	$(Q)scripts/loc.sh

BENCH_TOOLS := $(patsubst bench/tools/%.c,$(BUILD)/bench/%,$(wildcard bench/tools/*.c))
$(BUILD)/bench/%: bench/tools/%.c
	@mkdir -p $(dir $@)
	$(E) "  CC      $<"
	$(Q)$(CC) -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Isrc -o $@ $< $(BUILD)/liblvmm.a -lpthread

bench: all $(BENCH_TOOLS)
	$(Q)LVMM=$(BUILD)/lvmm BUILD=$(BUILD) bench/run $(BENCH)

clean:
	rm -rf build build-san

.PHONY: all unit test demo deps loc bench clean guests fuzz npm-tools
.DEFAULT_GOAL := all

-include $(shell find $(BUILD) -type f -name '*.d' 2>/dev/null)
