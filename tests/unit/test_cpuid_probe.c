// SPDX-License-Identifier: MIT
/* cpuid_disable masks that KVM does not honour: the comparison, and KVM's answer where there is one. */
#include <fcntl.h>
#include <unistd.h>

#include "config/cpufeatures.h"
#include "vmm/cpuid.h"
#include "unit/unit.h"

static struct lvmm_cpuid_mask mask(const char *name)
{
	struct lvmm_cpuid_mask m = { 0 };

	if (cpu_feature_lookup(name, &m))
		printf("# unknown feature %s\n", name);
	return m;
}

static void test_compare(void)
{
	struct kvm_cpuid_entry2 t[4] = {
		{ .function = 1, .index = 0, .ecx = (1U << 23) | (1U << 26) }, /* popcnt, xsave kept */
		{ .function = 7, .index = 0, .ebx = 1U << 0 },                 /* fsgsbase kept */
		{ .function = 7, .index = 1, .ebx = 1U << 20 },                /* smap bit, other subleaf */
		{ .function = 0x80000001, .edx = 0 },                          /* pdpe1gb hidden */
	};
	struct lvmm_cpuid_mask m[6] = {
		mask("popcnt"), mask("cx16"), mask("xsave"), mask("fsgsbase"), mask("smap"), mask("pdpe1gb"),
	};

	/* popcnt (0), xsave (2), fsgsbase (3) still visible; cx16 hidden; smap only on subleaf 1. */
	CHECK_EQ(cpuid_masks_not_hidden(t, 4, m, 6), (1U << 0) | (1U << 2) | (1U << 3));
	CHECK_EQ(cpuid_masks_not_hidden(t, 4, m, 0), 0);
	CHECK_EQ(cpuid_masks_not_hidden(t, 0, m, 6), 0);
	CHECK_STR(cpu_feature_name(&m[0]), "popcnt");
	CHECK_STR(cpu_feature_name(&m[5]), "pdpe1gb");
}

/* Every KVM owns CX16's emulation and hides it; the probe must say so. */
static void test_probe_cx16(void)
{
	struct lvmm_cpuid_mask m[1] = { mask("cx16") };
	uint32_t not_hidden = 0xffffffffU;

	CHECK_EQ(cpuid_probe(m, 1, &not_hidden), 0);
	CHECK_EQ(not_hidden, 0);
}

int main(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	RUN(test_compare);
	if (fd < 0) {
		printf("skip - test_probe_cx16: /dev/kvm is not available\n");
	} else {
		close(fd);
		RUN(test_probe_cx16);
	}
	return unit_done();
}
