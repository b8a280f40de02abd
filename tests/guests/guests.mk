# SPDX-License-Identifier: MIT
# In-tree test guests: freestanding ELF64 images with a PVH note, linked at
# 1 MiB. Included by the top-level Makefile (uses $(BUILD), $(E), $(Q)).
# Guest flags are our own: host CFLAGS (hardening, sanitizers) do not apply.

GUEST_CC ?= gcc
GUEST_DIR := tests/guests
GUEST_OUT := $(BUILD)/guests
GUEST_OBJ := $(GUEST_OUT)/obj

GUEST_CFLAGS := -std=gnu11 -ffreestanding -nostdlib -fno-pic -fno-pie \
	-mno-red-zone -mgeneral-regs-only -fno-stack-protector -fno-builtin \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -fcf-protection=none \
	-mcmodel=small --param=min-pagesize=0 -O2 -g -Wall -Wextra -Werror -Wshadow -Wundef \
	-Wmissing-prototypes -Wstrict-prototypes \
	-I$(GUEST_DIR)/rt -Iinclude -MMD -MP
GUEST_ASFLAGS := -ffreestanding -fno-pic -fno-pie -I$(GUEST_DIR)/rt -Iinclude -MMD -MP
GUEST_LDFLAGS := -static -nostdlib -no-pie -Wl,--build-id=none \
	-Wl,-T,$(GUEST_DIR)/rt/guest.ld -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments

comma := ,
GUEST_NAMES := hello smp memory fault blk net console hostile user service \
	ticker blkbench netbench agent cpuid protect tpm emul irq
GUEST_RT_SRCS := $(wildcard $(GUEST_DIR)/rt/*.c)
GUEST_RT_OBJS := $(patsubst $(GUEST_DIR)/rt/%,$(GUEST_OBJ)/rt/%.o,$(GUEST_RT_SRCS))
GUEST_ENTRY := $(GUEST_OBJ)/rt/entry.S.o
GUEST_RT_LIB := $(GUEST_OBJ)/librt.a
GUEST_ELFS := $(GUEST_NAMES:%=$(GUEST_OUT)/%.elf)

# The same guests as Linux bzImages (64-bit boot protocol, lvmm only): the
# bzImage head (setup header + 64-bit entry) first, then the usual entry.
GUEST_BZ_NAMES := hello
GUEST_BZ_ENTRY := $(GUEST_OBJ)/rt/bzimage.S.o
GUEST_BZ_LDFLAGS := $(filter-out -Wl$(comma)-T$(comma)%,$(GUEST_LDFLAGS)) \
	-Wl,-T,$(GUEST_DIR)/rt/bzimage.ld
GUEST_BZIMAGES := $(GUEST_BZ_NAMES:%=$(GUEST_OUT)/%.bzimage)

guests: $(GUEST_ELFS) $(GUEST_BZIMAGES)

$(GUEST_OBJ)/rt/%.c.o: $(GUEST_DIR)/rt/%.c
	@mkdir -p $(dir $@)
	$(E) "  GCC     $<"
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_OBJ)/rt/%.S.o: $(GUEST_DIR)/rt/%.S
	@mkdir -p $(dir $@)
	$(E) "  GAS     $<"
	$(Q)$(GUEST_CC) $(GUEST_ASFLAGS) -c $< -o $@

$(GUEST_OBJ)/%.o: $(GUEST_DIR)/%.c
	@mkdir -p $(dir $@)
	$(E) "  GCC     $<"
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(GUEST_RT_LIB): $(GUEST_RT_OBJS)
	$(E) "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

# The entry object comes first and whole; the library only as needed.
$(GUEST_OUT)/%.elf: $(GUEST_ENTRY) $(GUEST_OBJ)/%.o $(GUEST_RT_LIB) $(GUEST_DIR)/rt/guest.ld
	$(E) "  LD      $@"
	$(Q)$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(GUEST_ENTRY) $(GUEST_OBJ)/$*.o $(GUEST_RT_LIB) -lgcc

# The protect guest has its read-only data in a segment of its own (kernel_rodata).
$(GUEST_OUT)/protect.elf: $(GUEST_ENTRY) $(GUEST_OBJ)/protect.o $(GUEST_RT_LIB) $(GUEST_DIR)/protect.ld
	$(E) "  LD      $@"
	$(Q)$(GUEST_CC) $(filter-out -Wl$(comma)-T$(comma)%,$(GUEST_LDFLAGS)) -Wl,-T,$(GUEST_DIR)/protect.ld \
		-o $@ $(GUEST_ENTRY) $(GUEST_OBJ)/protect.o $(GUEST_RT_LIB) -lgcc

# The ELF of a bzImage (kept for gdb/objdump), then the flat file: setup
# area and protected-mode part, .bss as zeros (the stacks stay out).
$(GUEST_OBJ)/%.bzelf: $(GUEST_BZ_ENTRY) $(GUEST_ENTRY) $(GUEST_OBJ)/%.o $(GUEST_RT_LIB) $(GUEST_DIR)/rt/bzimage.ld
	$(E) "  LD      $@"
	$(Q)$(GUEST_CC) $(GUEST_BZ_LDFLAGS) -o $@ $(GUEST_BZ_ENTRY) $(GUEST_ENTRY) $(GUEST_OBJ)/$*.o $(GUEST_RT_LIB) -lgcc

$(GUEST_OUT)/%.bzimage: $(GUEST_OBJ)/%.bzelf
	$(E) "  OBJCOPY $@"
	$(Q)objcopy -O binary --set-section-flags .bss=alloc,load,contents $< $@

.PHONY: guests

# Keep the objects that only exist on the way to an .elf.
.SECONDARY: $(GUEST_NAMES:%=$(GUEST_OBJ)/%.o) $(GUEST_ENTRY) $(GUEST_BZ_ENTRY) \
	$(GUEST_BZ_NAMES:%=$(GUEST_OBJ)/%.bzelf)
