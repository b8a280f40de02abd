# SPDX-License-Identifier: MIT
# libFuzzer targets for the virtio code that parses guest input (included by
# the top-level Makefile):
#   vq    the split-ring chain walker (virtqueue.c)
#   mmio  virtio-mmio register sequences + the device core's state machine
#   blk   virtio-blk requests end to end on a memfd image
#   net   virtio-net tx (and rx) paths over a socketpair backend
#   link  the inter-partition link ring against a hostile peer process
#   policy    the policy parser (its text may come from a partition)
#   platform  the platform-file parser and checks
#   proto     the supervisor's validation of partition messages (common/proto.c)
#   ctl       the supervisor's control requests: validator and state machine (supervisor/ctl.c)
#   api       the API front-end's parsing: routes, agent lines, replies, the event ring (src/api)
#   crb       the TPM 2.0 CRB device's registers and command path
#   manifest  signed boot manifests (parser, signature, boot set) and the event-log parser
#   trustmsg  the supervisor's validation of trust-process answers (supervisor/trust.c)
#
#   make fuzz                  build, then run each target for FUZZ_TIME seconds
#   make fuzz FUZZ_TIME=600    longer; FUZZ_TARGETS="vq blk" for a subset
#   make fuzz-build            only build them
#
# Each fuzzer starts from tests/fuzz/corpus/<target>/ (seeds and regression
# inputs, read-only) and grows $(BUILD)/fuzz/corpus/<target>/. Crashes land in
# $(BUILD)/fuzz/artifacts/<target>/: after the fix, copy the input into
# tests/fuzz/corpus/<target>/. Every corpus file is also replayed by the unit
# tests $(BUILD)/tests/unit/test_vq_fuzz_<target> (gcc, and ASan with SAN=1).

FUZZ_TARGETS ?= vq mmio blk net link policy platform proto ctl api crb manifest trustmsg
FUZZ_TIME ?= 20
FUZZ_CC ?= clang
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=gnu11 -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) $(WARN) \
	-D_GNU_SOURCE -Iinclude -Isrc -Itests
# Only what the harnesses reach: no vm.c (the harnesses fake vm_*), no KVM.
FUZZ_LIB_SRCS := $(wildcard src/virtio/*.c src/devices/virtio_*.c) src/devices/blk_io.c src/devices/link_ring.c src/vmm/gmem.c \
	src/vmm/bus.c src/vmm/iothread.c src/vmm/thread_start.c src/common/log.c src/common/util.c $(wildcard src/shared/*.c) \
	$(wildcard src/config/*.c) $(wildcard src/supervisor/*.c) src/common/proto.c \
	$(wildcard src/trust/*.c) src/devices/tpm_crb.c src/api/ops.c src/api/parse.c src/api/follow.c src/api/metrics.c \
	src/api/policy.c
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_LIB := $(FUZZ_DIR)/libfuzzlvmm.a
FUZZ_HDRS := tests/fuzz/fuzz.h tests/fuzz/fake_vm.h

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(E) "  FUZZCC  $<"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

# An archive, so each fuzzer links only the objects it reaches.
$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_HDRS) $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(E) "  FUZZLD  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -o $@ $< $(FUZZ_LIB) -lcyaml -lyaml -l:liburing.a -lpthread -lcrypto -ljansson

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

fuzz: fuzz-build
	$(Q)set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/artifacts/$$t; \
		echo "  FUZZ    $$t ($(FUZZ_TIME) s)"; \
		$(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_DIR)/artifacts/$$t/ \
			$(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t \
			>$(FUZZ_DIR)/$$t.log 2>&1 || { tail -n 40 $(FUZZ_DIR)/$$t.log; exit 1; }; \
		grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' \
			$(FUZZ_DIR)/$$t.log | sed 's/^/          /'; \
	done

# Corpus replays, built like the unit tests so `tests/run` runs them.
FUZZ_REPLAY_BINS := $(FUZZ_TARGETS:%=$(BUILD)/tests/unit/test_vq_fuzz_%)

$(BUILD)/tests/unit/test_vq_fuzz_%: tests/fuzz/replay.c tests/fuzz/fuzz_%.c $(FUZZ_HDRS) $(BUILD)/liblvmm.a
	@mkdir -p $(dir $@)
	$(E) "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -Itests -DCORPUS_DIR='"tests/fuzz/corpus/$*"' -DTARGET='"$*"' \
		-DHARNESS='"fuzz/fuzz_$*.c"' -o $@ $< $(BUILD)/liblvmm.a $(LDFLAGS) $(LIBS)

unit: $(FUZZ_REPLAY_BINS)

.PHONY: fuzz fuzz-build
