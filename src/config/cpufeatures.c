// SPDX-License-Identifier: MIT
#include "config/cpufeatures.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

#define EAX 0
#define EBX 1
#define ECX 2
#define EDX 3
#define ALL 0xffffffffU

static const struct {
	const char *name;
	struct lvmm_cpuid_mask m;
} features[] = {
	{ "pcid",     { 1, ALL, ECX, 17, { 0 } } },
	{ "x2apic",   { 1, ALL, ECX, 21, { 0 } } },
	{ "movbe",    { 1, ALL, ECX, 22, { 0 } } },
	{ "cx16",     { 1, ALL, ECX, 13, { 0 } } },
	{ "sse4_2",   { 1, ALL, ECX, 20, { 0 } } },
	{ "popcnt",   { 1, ALL, ECX, 23, { 0 } } },
	{ "tsc-deadline", { 1, ALL, ECX, 24, { 0 } } },
	{ "aes",      { 1, ALL, ECX, 25, { 0 } } },
	{ "xsave",    { 1, ALL, ECX, 26, { 0 } } },
	{ "avx",      { 1, ALL, ECX, 28, { 0 } } },
	{ "rdrand",   { 1, ALL, ECX, 30, { 0 } } },
	{ "fsgsbase", { 7, 0, EBX, 0, { 0 } } },
	{ "avx2",     { 7, 0, EBX, 5, { 0 } } },
	{ "smep",     { 7, 0, EBX, 7, { 0 } } },
	{ "invpcid",  { 7, 0, EBX, 10, { 0 } } },
	{ "avx512f",  { 7, 0, EBX, 16, { 0 } } },
	{ "rdseed",   { 7, 0, EBX, 18, { 0 } } },
	{ "smap",     { 7, 0, EBX, 20, { 0 } } },
	{ "umip",     { 7, 0, ECX, 2, { 0 } } },
	{ "pku",      { 7, 0, ECX, 3, { 0 } } },
	{ "la57",     { 7, 0, ECX, 16, { 0 } } },
	{ "xsavec",   { 0xd, 1, EAX, 1, { 0 } } },
	{ "xsaves",   { 0xd, 1, EAX, 3, { 0 } } },
	{ "pdpe1gb",  { 0x80000001, ALL, EDX, 26, { 0 } } },
	{ "rdtscp",   { 0x80000001, ALL, EDX, 27, { 0 } } },
};

int cpu_feature_lookup(const char *name, struct lvmm_cpuid_mask *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(features); i++) {
		if (!strcmp(features[i].name, name)) {
			*out = features[i].m;
			return 0;
		}
	}
	return -ENOENT;
}

const char *cpu_feature_name(const struct lvmm_cpuid_mask *m)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(features); i++) {
		const struct lvmm_cpuid_mask *f = &features[i].m;

		if (f->leaf == m->leaf && f->subleaf == m->subleaf && f->reg == m->reg &&
		    f->bit == m->bit)
			return features[i].name;
	}
	return NULL;
}

const char *cpu_feature_names(void)
{
	static char buf[512];
	size_t i, n = 0;

	if (buf[0])
		return buf;
	for (i = 0; i < ARRAY_SIZE(features) && n < sizeof(buf) - 16; i++) {
		int w = snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? ", " : "", features[i].name);

		if (w < 0 || (size_t)w >= sizeof(buf) - n)
			break;
		n += (size_t)w;
	}
	return buf;
}
