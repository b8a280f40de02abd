/* SPDX-License-Identifier: MIT */
/*
 * A vCPU's CPUID: built from KVM's supported set with lvmm's topology and
 * the platform's cpuid_disable masks, and the probe that tells which masks
 * did not take. KVM puts some bits back (on this host every bit it does
 * not own itself: popcnt, xsave, sse*, aes, ...; docs/platform.md), so a
 * mask is only a request until it has been read back.
 */
#ifndef LVMM_CPUID_H
#define LVMM_CPUID_H

#include <linux/kvm.h>
#include <stdint.h>

#include "common/util.h"
#include "lvmm/proto.h"

_Static_assert(LVMM_MAX_CPUID_MASK <= 32, "one bit per mask in a uint32_t");

/* KVM_GET_SUPPORTED_CPUID on /dev/kvm into t. 0 or -errno. */
int cpuid_get_supported(int kvm_fd, struct lvmm_cpuid_table *t) MUST_CHECK;

/*
 * Turn a copy of the supported set into vCPU id's CPUID in a VM of n
 * vCPUs: our topology (n single-threaded cores, APIC ID = id), the
 * hypervisor bit, no 1 GiB pages, then every mask in m[0..nm) cleared.
 */
void cpuid_build(struct lvmm_cpuid_table *t, unsigned id, unsigned n,
		 const struct lvmm_cpuid_mask *m, unsigned nm);

/*
 * Pure comparison: got[0..nent) is a vCPU's CPUID as KVM reports it after
 * the masks were applied; bit k of the result is set when m[k]'s bit is
 * still set in a matching leaf/subleaf (the guest still sees it).
 */
uint32_t cpuid_masks_not_hidden(struct kvm_cpuid_entry2 *got, unsigned nent,
				const struct lvmm_cpuid_mask *m, unsigned nm);

/*
 * Read vcpu_fd's CPUID back (KVM_GET_CPUID2) and set bit k of *unhidden
 * for every mask m[k] whose bit KVM still reports. 0 or -errno.
 */
int cpuid_unhidden(int vcpu_fd, const struct lvmm_cpuid_mask *m, unsigned nm,
		   uint32_t *unhidden) MUST_CHECK;

/*
 * The same probe without a partition (for `lvmm check`): a scratch VM
 * and vCPU on kvm_fd get the supported CPUID with m[0..nm) cleared, and
 * bit k of *unhidden is set for each mask KVM put back. 0 or -errno.
 */
int cpuid_mask_effective(int kvm_fd, const struct lvmm_cpuid_mask *m, unsigned nm,
			 uint32_t *unhidden) MUST_CHECK;

/*
 * cpuid_mask_effective() on a /dev/kvm of its own (for `lvmm check` and
 * `lvmm run` before anything starts). -ENOENT / -EACCES: no usable KVM.
 */
int cpuid_probe(const struct lvmm_cpuid_mask *m, unsigned nm, uint32_t *unhidden) MUST_CHECK;

/*
 * Bit k set for each mask m[k] that the guest's user mode (CPL3) still sees
 * because this host lets CPUID at CPL3 run natively: under kvm_pvm (no
 * VT-x/AMD-V, guest user code runs as host user code) CPUID exits only where
 * the host kernel has CPUID faulting. 0 on any other host, and for a bit the
 * host's own CPUID does not have. Call before the sandbox (arch_prctl, /sys).
 */
uint32_t cpuid_user_visible(const struct lvmm_cpuid_mask *m, unsigned nm);

/*
 * Name a mask for messages: its cpuid_disable feature name when it has
 * one, else "CPUID.LEAF[.SUB]:REG[BIT]". Returns buf.
 */
const char *cpuid_mask_name(const struct lvmm_cpuid_mask *m, char *buf, size_t len);

/*
 * "a, b, c": the names of the masks m[k] whose bit k is set in which, into
 * buf (truncated at a whole name). Returns buf.
 */
const char *cpuid_mask_list(const struct lvmm_cpuid_mask *m, unsigned nm, uint32_t which,
			    char *buf, size_t len);

#endif
