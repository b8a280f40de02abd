// SPDX-License-Identifier: MIT
/*
 * CPUID (src/vmm/cpuid.c): masks and topology applied to a table, mask
 * names, and the probe `lvmm check` and the partition share: on /dev/kvm,
 * which cpuid_disable masks KVM puts back (skipped without /dev/kvm).
 */
#include <fcntl.h>
#include <unistd.h>

#include "unit.h"
#include "config/cpufeatures.h"
#include "vmm/cpuid.h"

static struct lvmm_cpuid_table t;

static struct kvm_cpuid_entry2 *entry(uint32_t fn, uint32_t idx)
{
	for (unsigned i = 0; i < t.nent; i++)
		if (t.e[i].function == fn && t.e[i].index == idx)
			return &t.e[i];
	return NULL;
}

static void test_build(void)
{
	struct lvmm_cpuid_mask m[2];

	memset(&t, 0, sizeof(t));
	t.nent = 4;
	t.e[0] = (struct kvm_cpuid_entry2){ .function = 1, .ecx = 0x7fffffff, .edx = ~0U, .ebx = 0xffff };
	t.e[1] = (struct kvm_cpuid_entry2){ .function = 7, .index = 0, .ebx = ~0U };
	t.e[2] = (struct kvm_cpuid_entry2){ .function = 7, .index = 1, .ebx = ~0U };
	t.e[3] = (struct kvm_cpuid_entry2){ .function = 0x80000001, .edx = ~0U };
	CHECK_EQ(cpu_feature_lookup("popcnt", &m[0]), 0);
	CHECK_EQ(cpu_feature_lookup("smap", &m[1]), 0);
	cpuid_build(&t, 2, 3, m, 2);
	CHECK_EQ(entry(1, 0)->ecx & (1U << 23), 0);         /* popcnt masked */
	CHECK(entry(1, 0)->ecx & (1U << 13));                /* cx16 untouched */
	CHECK(entry(1, 0)->ecx & (1U << 31));                /* hypervisor */
	CHECK_EQ(entry(1, 0)->ebx >> 24, 2);                 /* APIC ID = vCPU index */
	CHECK_EQ((entry(1, 0)->ebx >> 16) & 0xff, 3);        /* logical CPUs */
	CHECK_EQ(entry(7, 0)->ebx & (1U << 20), 0);          /* smap: subleaf 0 only */
	CHECK_EQ(entry(7, 1)->ebx, ~0U);
	CHECK_EQ(entry(0x80000001, 0)->edx & (1U << 26), 0); /* no 1 GiB pages, always */
}

static void test_names(void)
{
	struct lvmm_cpuid_mask m = { .leaf = 1, .subleaf = 0xffffffffU, .reg = 2, .bit = 23 };
	char buf[40];

	CHECK_STR(cpuid_mask_name(&m, buf, sizeof(buf)), "popcnt");
	m.bit = 1;
	CHECK_STR(cpuid_mask_name(&m, buf, sizeof(buf)), "CPUID.0x1:ECX[1]");
	m = (struct lvmm_cpuid_mask){ .leaf = 7, .subleaf = 0, .reg = 1, .bit = 0 };
	CHECK_STR(cpuid_mask_name(&m, buf, sizeof(buf)), "fsgsbase");
	m.bit = 30;
	CHECK_STR(cpuid_mask_name(&m, buf, sizeof(buf)), "CPUID.0x7.0:EBX[30]");
}

/* The probe agrees with itself and hides cx16 (a bit KVM owns) everywhere. */
static void test_probe(int kvm)
{
	struct lvmm_cpuid_mask m[3];
	uint32_t u = ~0U, u2 = ~0U;

	CHECK_EQ(cpu_feature_lookup("cx16", &m[0]), 0);
	CHECK_EQ(cpu_feature_lookup("popcnt", &m[1]), 0);
	CHECK_EQ(cpu_feature_lookup("x2apic", &m[2]), 0);
	CHECK_EQ(cpuid_mask_effective(kvm, m, 3, &u), 0);
	CHECK_EQ(u & 1, 0);
	CHECK_EQ(u & ~7U, 0);
	CHECK_EQ(cpuid_mask_effective(kvm, m + 1, 1, &u2), 0);
	CHECK_EQ(u2, (u >> 1) & 1);
	CHECK_EQ(cpuid_mask_effective(kvm, m, 0, &u2), 0);
	CHECK_EQ(u2, 0);
	printf("# cpuid_disable on this host's KVM: cx16 %s, popcnt %s, x2apic %s\n",
	       u & 1 ? "stays" : "hidden", u & 2 ? "stays" : "hidden", u & 4 ? "stays" : "hidden");
}

int main(void)
{
	int kvm;

	RUN(test_build);
	RUN(test_names);
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("skip - test_probe: /dev/kvm is not available\n");
	} else {
		unit_current = "test_probe";
		unit_failed_checks = 0;
		test_probe(kvm);
		unit_tests_run++;
		if (unit_failed_checks)
			unit_tests_failed++;
		else
			printf("ok - test_probe\n");
		close(kvm);
	}
	return unit_done();
}
