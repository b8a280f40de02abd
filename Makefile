# SPDX-License-Identifier: MIT
# lvmm: one non-recursive Makefile.
#   make            build build/lvmm, the test guests and the unit tests
#   make demo       install, build and run the default platform (examples/)
#   make demo-eac   the same for the EAC demo (trusted boot, attestation)
#   make test       build everything and run the whole suite (tests/run)
#   make SAN=1 ...  the same with ASan + UBSan, in build-san/
#   make deps       install the Debian packages everything needs (idempotent);
#                   deps-build, deps-demo, deps-test: only what that needs
#   make install    PREFIX=/usr/local DESTDIR=: binary, man pages, systemd unit, docs
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
# pack-relative-relocs (DT_RELR, glibc >= 2.36): the start-up self-relocation reads
# 6 KiB of relocations instead of 455 KiB of .rela.dyn (-224 KiB PSS per process).
SAN_LD := -static-pie -Wl,-z,pack-relative-relocs
# Unused functions and data left out (each in its own section): -43 KiB of
# text, and since every process maps the binary's pages in 64 KiB fault-around
# blocks, -100 KiB PSS for the supervisor and one partition (bench/startup.sh).
GC_CFLAGS := -ffunction-sections -fdata-sections
GC_LD := -Wl,--gc-sections
endif
CFLAGS := -std=gnu11 $(OPT) $(GC_CFLAGS) $(WARN) $(HARDEN) -D_GNU_SOURCE -Iinclude -Isrc -MMD -MP
LDFLAGS := $(HARDEN_LD) $(SAN_LD) $(GC_LD)
# liburing statically in every mode: Debian's liburing.so.2 (2.3) does not
# export io_uring_register_restrictions / io_uring_enable_rings, which the
# virtio-blk ring needs (src/devices/blk_io.c), and a sanitizer build links
# dynamically.
# -lcrypto: OpenSSL's libcrypto (SHA-256, Ed25519) for src/trust. Its static
# archive references dlopen/getaddrinfo/gethostbyname, which lvmm never uses:
# --wrap sends them to failing stubs in src/trust/digest.c, so -static-pie
# links without glibc's warnings and OpenSSL cannot load code at run time.
# (Any getaddrinfo() call in lvmm would get those stubs too: EAI_FAIL.)
# -ljansson: `lvmm ctl`/`lvmm top` parse the front-end's JSON (src/cli/http.c).
# -lncurses -ltinfo: `lvmm top` (static archives exist in Debian's libncurses-dev).
LIBS := -lcyaml -lyaml -lseccomp -l:liburing.a -lpthread -lcrypto -ljansson -lncurses -ltinfo \
	-Wl,--wrap=dlopen,--wrap=getaddrinfo,--wrap=gethostbyname
# build/lvmm (the command, the supervisor and every partition) without libcrypto
# and ncurses: check, measure, top and the trust process are build/lvmm-tools
# (main.c built with LVMM_FULL=1), which it execs (src/main.c: a static-pie
# process dirties all of libcrypto's relocated tables, 336 KiB, at start, and
# maps the code). Linking without those libraries keeps them out.
LVMM_LIBS := $(filter-out -lcrypto -lncurses -ltinfo -Wl%,$(LIBS))

# Every .c under these folders is part of lvmm; main.c only in the binary.
LIB_SRCS := $(wildcard src/cli/*.c src/config/*.c src/common/*.c src/shared/*.c src/supervisor/*.c src/vmm/*.c src/devices/*.c src/virtio/*.c src/trust/*.c) \
	src/api/ops.c src/api/parse.c src/api/follow.c src/api/metrics.c src/api/policy.c \
	src/api/gather.c src/api/sandbox.c
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/src/main.o
TOOLS_MAIN_OBJ := $(BUILD)/src/main-tools.o

# The API front-end (src/api): its own binary, dynamically linked, because
# libmicrohttpd's static archive drags in GnuTLS and its dependencies; it is
# exec'd once per run (not per partition start), so the dynamic loader's
# cost does not matter there. docs/api.md. It compiles uploaded policies
# (src/api/policy.c) with src/config's policy loader and the model's name
# lookups (src/supervisor/policy.c): docs/design.md, "Who compiles an uploaded policy".
API_SRCS := $(wildcard src/api/*.c) src/common/proto.c src/common/util.c src/common/log.c \
	src/shared/parse.c src/shared/ratelimit.c src/shared/seccomp_rules.c src/shared/memlimit.c src/config/policy_load.c src/config/yaml_util.c \
	src/supervisor/policy.c
API_OBJS := $(API_SRCS:%.c=$(BUILD)/%.o)
API_LIBS := -lmicrohttpd -lgnutls -ljansson -lseccomp -lcyaml -lyaml
ifeq ($(SAN),1)
API_LD := $(HARDEN_LD) $(SAN_LD)
else
API_LD := $(HARDEN_LD) -pie
endif

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tests/tools/%)

all: $(BUILD)/lvmm $(BUILD)/lvmm-tools $(BUILD)/lvmm-api guests unit

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(E) "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/liblvmm.a: $(LIB_OBJS)
	$(E) "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/lvmm: $(MAIN_OBJ) $(BUILD)/liblvmm.a
	$(E) "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LVMM_LIBS)

$(TOOLS_MAIN_OBJ): src/main.c
	@mkdir -p $(dir $@)
	$(E) "  CC      $< (LVMM_FULL)"
	$(Q)$(CC) $(CFLAGS) -DLVMM_FULL=1 -c $< -o $@

$(BUILD)/lvmm-tools: $(TOOLS_MAIN_OBJ) $(BUILD)/liblvmm.a
	$(E) "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/lvmm-api: $(API_OBJS)
	$(E) "  LD      $@"
	$(Q)$(CC) $(API_LD) -o $@ $^ $(API_LIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c tests/unit/unit.h $(BUILD)/liblvmm.a
	@mkdir -p $(dir $@)
	$(E) "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/liblvmm.a $(LDFLAGS) $(LIBS)

unit: $(UNIT_BINS) $(TOOL_BINS)

# Host-side helpers the integration tests drive (e.g. tests/tools/tpm_peer.c).
$(BUILD)/tests/tools/%: tests/tools/%.c $(BUILD)/liblvmm.a
	@mkdir -p $(dir $@)
	$(E) "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(BUILD)/liblvmm.a $(LDFLAGS) $(LIBS)

# Test guests (freestanding, built the same in every mode) and fuzzers.
include tests/guests/guests.mk
-include tests/fuzz/fuzz.mk

# The README's two commands.
# Sequential on purpose: packages first, then the build, then the run.
demo:
	$(Q)$(MAKE) --no-print-directory deps-demo
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) scripts/demo.sh $(DEMO)

# The EAC demo (examples/eac/eac.yaml): an approved and a tampered user kernel.
demo-eac:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) LVMM=$(BUILD)/lvmm scripts/eac-demo.sh

test:
	$(Q)$(MAKE) --no-print-directory deps-test
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

# Packages from Debian only, in three sets so that each command installs
# only what it needs (`make demo` pulls nothing test-only); quiet when
# everything is present. `make deps` is the whole list (what CI installs).
# libmicrohttpd-dev, libgnutls28-dev (its TLS), libjansson-dev: build/lvmm-api (and its run-time libraries,
# which the demo needs too).
DEPS_BUILD := gcc make libc6-dev libcyaml-dev libyaml-dev libseccomp-dev libssl-dev \
	libncurses-dev liburing-dev libmicrohttpd-dev libgnutls28-dev libjansson-dev
# scripts/demo.sh: a network namespace with a TAP (iproute2, sysctl) and a responder.
DEPS_DEMO := $(DEPS_BUILD) iproute2 procps python3
# The suite: fuzzers (clang), QEMU for references and benchmarks, the Linux image
# (busybox-static, cpio, xz-utils, kmod), vTPMs (swtpm), trust tools (openssl,
# tpm2-tools), iasl (acpica-tools), socat/curl, man pages (man-db, groff-base),
# a pty for `lvmm top` (bsdutils: script), the unit check (systemd: systemd-analyze),
# the OpenAPI spec check (python3-jsonschema, python3-yaml: tests/integration/api_spec.py),
# promtool for the Prometheus text (prometheus: tests/integration/metrics.sh), logrotate
# rotating a console file (tests/integration/console.sh).
DEPS_TEST := $(DEPS_DEMO) clang qemu-system-x86 qemu-utils busybox-static socat cpio xz-utils \
	kmod swtpm swtpm-tools curl openssl tpm2-tools acpica-tools man-db groff-base bsdutils strace \
	systemd python3-jsonschema python3-yaml prometheus logrotate
DEPS := $(DEPS_TEST)
# make bench: the plots of the scale curves (bench/report.sh).
DEPS_BENCH := $(DEPS_TEST) gnuplot-nox

define install_missing
	$(Q)missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

deps: deps-test
deps-build:
	$(call install_missing,$(DEPS_BUILD))
deps-demo:
	$(call install_missing,$(DEPS_DEMO))
deps-test:
	$(call install_missing,$(DEPS_TEST))
deps-bench:
	$(call install_missing,$(DEPS_BENCH))
# The lists themselves, for scripts and tests: make -s print-deps-demo
print-deps-%:
	@echo $(DEPS_$(shell echo $* | tr a-z A-Z))

# ---- installation ---------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=] [BUILD=build]; make uninstall alike.
# The unit and the man pages name the installed paths (@BINDIR@, @SYSCONFDIR@).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec/lvmm
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/lvmm
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
# Helper programs lvmm starts go to LIBEXECDIR: the API front-end, which the
# supervisor looks for next to its own binary, then in LIBEXECDIR (docs/api.md),
# and lvmm-tools (check, measure, top, trust processes), looked for the same way.
HELPERS ?= $(BUILD)/lvmm-api $(BUILD)/lvmm-tools

install: $(BUILD)/lvmm $(HELPERS)
	$(E) "  INSTALL $(DESTDIR)$(PREFIX)"
	$(Q)install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSCONFDIR)/lvmm
	$(Q)install -m 0755 $(BUILD)/lvmm $(DESTDIR)$(BINDIR)/lvmm
	$(Q)$(if $(HELPERS),install -d $(DESTDIR)$(LIBEXECDIR) && \
		install -m 0755 $(HELPERS) $(DESTDIR)$(LIBEXECDIR)/,true)
	$(Q)install -m 0644 man/lvmm.1 $(DESTDIR)$(MANDIR)/man1/lvmm.1
	$(Q)install -m 0644 man/lvmm-platform.5 $(DESTDIR)$(MANDIR)/man5/lvmm-platform.5
	$(Q)sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' dist/lvmm@.service.in \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/lvmm@.service && chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/lvmm@.service
	$(Q)install -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	$(Q)cd docs && find . -type f | while read -r f; do \
		install -D -m 0644 "$$f" "$(DESTDIR)$(DOCDIR)/$$f" || exit 1; done
	$(Q)install -m 0644 examples/*.yaml $(DESTDIR)$(DOCDIR)/examples/

uninstall:
	$(Q)rm -f $(DESTDIR)$(BINDIR)/lvmm $(DESTDIR)$(MANDIR)/man1/lvmm.1 \
		$(DESTDIR)$(MANDIR)/man5/lvmm-platform.5 $(DESTDIR)$(SYSTEMDUNITDIR)/lvmm@.service
	$(Q)$(if $(HELPERS),rm -f $(addprefix $(DESTDIR)$(LIBEXECDIR)/,$(notdir $(HELPERS))) && \
		rmdir $(DESTDIR)$(LIBEXECDIR) 2>/dev/null || true,true)
	$(Q)rm -rf $(DESTDIR)$(DOCDIR)
	$(Q)rmdir $(DESTDIR)$(SYSCONFDIR)/lvmm 2>/dev/null || true

loc:
	$(Q)scripts/loc.sh

BENCH_TOOLS := $(patsubst bench/tools/%.c,$(BUILD)/bench/%,$(wildcard bench/tools/*.c))
$(BUILD)/bench/%: bench/tools/%.c
	@mkdir -p $(dir $@)
	$(E) "  CC      $<"
	$(Q)$(CC) -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Isrc -o $@ $< $(BUILD)/liblvmm.a -lpthread

bench: deps-bench
	$(Q)$(MAKE) --no-print-directory all $(BENCH_TOOLS)
	$(Q)LVMM=$(BUILD)/lvmm BUILD=$(BUILD) bench/run $(BENCH)

clean:
	rm -rf build build-san

.PHONY: all unit test demo demo-eac deps deps-build deps-demo deps-test deps-bench loc bench clean guests fuzz \
	npm-tools install uninstall
.DEFAULT_GOAL := all

-include $(shell find $(BUILD) -type f -name '*.d' 2>/dev/null)
