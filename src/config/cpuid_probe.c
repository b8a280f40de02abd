// SPDX-License-Identifier: MIT
#include "config/cpuid_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/util.h"

#define PROBE_MAX_ENTRIES 256 /* as src/vmm/vcpu.c: KVM reports fewer than 100 here */

static uint32_t reg_of(const struct kvm_cpuid_entry2 *e, unsigned reg)
{
	switch (reg) {
	case 0: return e->eax;
	case 1: return e->ebx;
	case 2: return e->ecx;
	default: return e->edx;
	}
}

static uint32_t *reg_ptr(struct kvm_cpuid_entry2 *e, unsigned reg)
{
	switch (reg) {
	case 0: return &e->eax;
	case 1: return &e->ebx;
	case 2: return &e->ecx;
	default: return &e->edx;
	}
}

static int matches(const struct kvm_cpuid_entry2 *e, const struct lvmm_cpuid_mask *m)
{
	return e->function == m->leaf && (m->subleaf == 0xffffffffU || e->index == m->subleaf);
}

uint32_t cpuid_masks_not_hidden(const struct kvm_cpuid_entry2 *got, unsigned nent,
				const struct lvmm_cpuid_mask *masks, unsigned n)
{
	uint32_t out = 0;
	unsigned i, k;

	for (k = 0; k < n && k < LVMM_MAX_CPUID_MASK; k++)
		for (i = 0; i < nent; i++)
			if (matches(&got[i], &masks[k]) &&
			    (reg_of(&got[i], masks[k].reg) >> (masks[k].bit & 31)) & 1)
				out |= 1U << k;
	return out;
}

int cpuid_probe(const struct lvmm_cpuid_mask *masks, unsigned n, uint32_t *not_hidden)
{
	const size_t size = sizeof(struct kvm_cpuid2) + PROBE_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *t;
	int kvm, vm = -1, vcpu = -1, r;
	unsigned i, k;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return -errno;
	t = calloc(1, size); /* a flexible array: no fixed struct around it */
	if (!t) {
		close(kvm);
		return -ENOMEM;
	}
	t->nent = PROBE_MAX_ENTRIES;
	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, t) < 0)
		goto err;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		goto err;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		goto err;
	for (i = 0; i < t->nent && i < PROBE_MAX_ENTRIES; i++)
		for (k = 0; k < n && k < LVMM_MAX_CPUID_MASK; k++)
			if (matches(&t->entries[i], &masks[k]))
				*reg_ptr(&t->entries[i], masks[k].reg) &= ~(1U << (masks[k].bit & 31));
	if (ioctl(vcpu, KVM_SET_CPUID2, t) < 0)
		goto err;
	t->nent = PROBE_MAX_ENTRIES;
	if (ioctl(vcpu, KVM_GET_CPUID2, t) < 0)
		goto err;
	*not_hidden = cpuid_masks_not_hidden(t->entries, MIN(t->nent, PROBE_MAX_ENTRIES), masks, n);
	r = 0;
	goto out;
err:
	r = -errno;
out:
	if (vcpu >= 0)
		close(vcpu);
	if (vm >= 0)
		close(vm);
	free(t);
	close(kvm);
	return r;
}
