// SPDX-License-Identifier: MIT
#include "vmm/cpuid.h"

#include <asm/prctl.h>
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "config/cpufeatures.h"

#define SUBLEAF_ANY 0xffffffffU

int cpuid_get_supported(int kvm_fd, struct lvmm_cpuid_table *t)
{
	memset(t, 0, sizeof(*t));
	t->nent = LVMM_MAX_CPUID_ENTRIES;
	return ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, t) < 0 ? -errno : 0;
}

static unsigned order_base_2(unsigned n)
{
	unsigned s = 0;

	while (s < 31 && (1U << s) < n)
		s++;
	return s;
}

static uint32_t *cpuid_reg(struct kvm_cpuid_entry2 *e, unsigned reg)
{
	switch (reg) {
	case 0: return &e->eax;
	case 1: return &e->ebx;
	case 2: return &e->ecx;
	default: return &e->edx;
	}
}

static bool mask_matches(const struct lvmm_cpuid_mask *m, const struct kvm_cpuid_entry2 *e)
{
	return m->leaf == e->function && (m->subleaf == SUBLEAF_ANY || m->subleaf == e->index);
}

void cpuid_build(struct lvmm_cpuid_table *t, unsigned id, unsigned n,
		 const struct lvmm_cpuid_mask *m, unsigned nm)
{
	unsigned shift = order_base_2(n), i, k;

	for (i = 0; i < t->nent && i < LVMM_MAX_CPUID_ENTRIES; i++) {
		struct kvm_cpuid_entry2 *e = &t->e[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffffU) | (id << 24) | (MIN(n, 255U) << 16);
			e->ecx |= 1U << 31; /* hypervisor present */
			if (n > 1)
				e->edx |= 1U << 28; /* HTT: ebx[23:16] is valid */
			break;
		case 4: /* Intel cache topology: cores per package - 1 in eax[31:26] */
			e->eax = (e->eax & 0x3ffU) | ((MIN(n, 64U) - 1) << 26);
			break;
		case 0xb:
		case 0x1f:
			if (e->index == 0) { /* SMT level: one thread per core */
				e->eax = 0, e->ebx = 1, e->ecx = (1U << 8);
			} else if (e->index == 1) { /* core level */
				e->eax = shift, e->ebx = n, e->ecx = (2U << 8) | 1;
			} else {
				e->eax = e->ebx = 0, e->ecx = e->index;
			}
			e->edx = id;
			break;
		case 0x80000001:
			e->edx &= ~(1U << 26); /* PDPE1GB: 1 GiB pages fault under this host's KVM */
			break;
		case 0x80000008: /* AMD: NC = cores - 1, ApicIdCoreIdSize */
			e->ecx = (e->ecx & ~0xf0ffU) | (MIN(n, 256U) - 1) | (shift << 12);
			break;
		case 0x8000001e: /* AMD topology extensions */
			e->eax = id;
			e->ebx = (e->ebx & ~0xffffU) | id; /* one thread per compute unit */
			e->ecx = 0;
			break;
		default:
			break;
		}
		for (k = 0; k < nm && k < LVMM_MAX_CPUID_MASK; k++)
			if (mask_matches(&m[k], e))
				*cpuid_reg(e, m[k].reg) &= ~(1U << (m[k].bit & 31));
	}
}

uint32_t cpuid_masks_not_hidden(struct kvm_cpuid_entry2 *got, unsigned nent,
				const struct lvmm_cpuid_mask *m, unsigned nm)
{
	uint32_t out = 0;
	unsigned i, k;

	for (k = 0; k < nm && k < LVMM_MAX_CPUID_MASK; k++)
		for (i = 0; i < nent; i++)
			if (mask_matches(&m[k], &got[i]) &&
			    (*cpuid_reg(&got[i], m[k].reg) & (1U << (m[k].bit & 31))))
				out |= 1U << k;
	return out;
}

int cpuid_unhidden(int vcpu_fd, const struct lvmm_cpuid_mask *m, unsigned nm, uint32_t *unhidden)
{
	static __thread struct lvmm_cpuid_table t;

	*unhidden = 0;
	memset(&t, 0, sizeof(t));
	t.nent = LVMM_MAX_CPUID_ENTRIES;
	if (ioctl(vcpu_fd, KVM_GET_CPUID2, &t) < 0)
		return -errno;
	*unhidden = cpuid_masks_not_hidden(t.e, MIN(t.nent, LVMM_MAX_CPUID_ENTRIES), m, nm);
	return 0;
}

int cpuid_mask_effective(int kvm_fd, const struct lvmm_cpuid_mask *m, unsigned nm,
			 uint32_t *unhidden)
{
	static struct lvmm_cpuid_table t;
	int vm_fd, vcpu_fd, r;

	*unhidden = 0;
	r = cpuid_get_supported(kvm_fd, &t);
	if (r)
		return r;
	cpuid_build(&t, 0, 1, m, nm);
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		return -errno;
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (vcpu_fd < 0) {
		r = -errno;
		goto err_vm;
	}
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, &t) < 0) {
		r = -errno;
		goto err_vcpu;
	}
	r = cpuid_unhidden(vcpu_fd, m, nm, unhidden);
err_vcpu:
	close(vcpu_fd);
err_vm:
	close(vm_fd);
	return r;
}

int cpuid_probe(const struct lvmm_cpuid_mask *m, unsigned nm, uint32_t *unhidden)
{
	int kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), r;

	if (kvm_fd < 0)
		return -errno;
	r = cpuid_mask_effective(kvm_fd, m, nm, unhidden);
	close(kvm_fd);
	return r;
}

/*
 * kvm_pvm traps a guest's CPL3 CPUID only through the host kernel's CPUID
 * faulting (measured: an Intel host hid cx16 from CPL3, an AMD EPYC host
 * without cpuid_fault did not). ARCH_SET_CPUID(0) fails with ENODEV where
 * there is no faulting; where it succeeds, CPUID is switched straight back on.
 */
static bool user_cpuid_untrapped(void)
{
	if (access("/sys/module/kvm_pvm", F_OK))
		return false;
	if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) == 0) {
		if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1))
			pr_warn("cpuid: cannot switch CPUID back on: %s", strerror(errno));
		return false;
	}
	return errno == ENODEV;
}

uint32_t cpuid_user_visible(const struct lvmm_cpuid_mask *m, unsigned nm)
{
	uint32_t out = 0, r[4];
	unsigned k;

	if (!user_cpuid_untrapped())
		return 0;
	for (k = 0; k < nm && k < LVMM_MAX_CPUID_MASK; k++) {
		__cpuid_count(m[k].leaf, m[k].subleaf == SUBLEAF_ANY ? 0 : m[k].subleaf, r[0], r[1],
			      r[2], r[3]);
		if (r[m[k].reg & 3] & (1U << (m[k].bit & 31)))
			out |= 1U << k;
	}
	return out;
}

const char *cpuid_mask_name(const struct lvmm_cpuid_mask *m, char *buf, size_t len)
{
	static const char regs[4][4] = { "EAX", "EBX", "ECX", "EDX" };
	const char *name = cpu_feature_name(m);

	if (name)
		snprintf(buf, len, "%s", name);
	else if (m->subleaf == SUBLEAF_ANY)
		snprintf(buf, len, "CPUID.0x%x:%s[%u]", m->leaf, regs[m->reg & 3], m->bit & 31);
	else
		snprintf(buf, len, "CPUID.0x%x.%u:%s[%u]", m->leaf, m->subleaf, regs[m->reg & 3],
			 m->bit & 31);
	return buf;
}

const char *cpuid_mask_list(const struct lvmm_cpuid_mask *m, unsigned nm, uint32_t which,
			    char *buf, size_t len)
{
	char name[40];
	size_t n = 0;
	unsigned k;

	if (len)
		buf[0] = 0;
	for (k = 0; k < nm && k < LVMM_MAX_CPUID_MASK; k++) {
		int w;

		if (!(which & (1U << k)))
			continue;
		w = snprintf(buf + n, len - n, "%s%s", n ? ", " : "",
			     cpuid_mask_name(&m[k], name, sizeof(name)));
		if (w < 0 || (size_t)w >= len - n) {
			buf[n] = 0;
			break;
		}
		n += (size_t)w;
	}
	return buf;
}
