/* SPDX-License-Identifier: MIT */
/*
 * cpuid: prints which CPU features the guest sees, for the cpuid_disable
 * tests. For each feature below (the names of lvmm's cpuid_disable), one
 * line "cpuid: NAME cpl3=B cpl0=B": B is the bit as CPUID reports it at
 * CPL3 (where main runs, natively on this host) and at CPL0 (a service
 * call: what a kernel sees). Then "cpuid: done". Options: cpl0=0 skips the
 * CPL0 reads (each costs hundreds of emulated instructions here).
 */
#include "rt.h"

static const struct {
	const char *name;
	uint32_t leaf, sub;
	uint8_t reg, bit; /* reg: 0 eax, 1 ebx, 2 ecx, 3 edx */
} feats[] = {
	{ "cx16", 1, 0, 2, 13 },      { "sse4_2", 1, 0, 2, 20 },   { "x2apic", 1, 0, 2, 21 },
	{ "popcnt", 1, 0, 2, 23 },    { "tsc-deadline", 1, 0, 2, 24 }, { "aes", 1, 0, 2, 25 },
	{ "xsave", 1, 0, 2, 26 },     { "hypervisor", 1, 0, 2, 31 }, { "fsgsbase", 7, 0, 1, 0 },
	{ "invpcid", 7, 0, 1, 10 },   { "smap", 7, 0, 1, 20 },     { "pdpe1gb", 0x80000001, 0, 3, 26 },
};

static uint32_t cpuid_cpl3(uint32_t leaf, uint32_t sub, unsigned reg)
{
	uint32_t r[4];

	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
	return r[reg & 3];
}

int main(void)
{
	char arg[16];
	int cpl0 = !(rt_cmdline_get("cpl0", arg, sizeof(arg)) >= 0 && strcmp(arg, "0") == 0);

	for (unsigned i = 0; i < sizeof(feats) / sizeof(feats[0]); i++) {
		uint32_t v3 = cpuid_cpl3(feats[i].leaf, feats[i].sub, feats[i].reg);

		if (cpl0) {
			uint64_t a = feats[i].leaf | ((uint64_t)feats[i].sub << 32);
			uint32_t v0 = (uint32_t)rt_syscall(RT_SYS_CPUID, (long)a, feats[i].reg);

			printf("cpuid: %s cpl3=%u cpl0=%u\n", feats[i].name, (v3 >> feats[i].bit) & 1,
			       (v0 >> feats[i].bit) & 1);
		} else {
			printf("cpuid: %s cpl3=%u\n", feats[i].name, (v3 >> feats[i].bit) & 1);
		}
	}
	printf("cpuid: done\n");
	return 0;
}
