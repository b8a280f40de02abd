/* SPDX-License-Identifier: MIT */
/*
 * Which cpuid_disable masks does KVM honour? Some KVMs (this host's kvm_pvm)
 * put host-owned feature bits back after KVM_SET_CPUID2, so a mask can be
 * accepted and silently not take. `lvmm check` and `lvmm run` ask KVM
 * before anything runs; a partition can compare its own vCPU's table with
 * cpuid_masks_not_hidden().
 */
#ifndef LVMM_CPUID_PROBE_H
#define LVMM_CPUID_PROBE_H

#include <linux/kvm.h>
#include <stdint.h>

#include "lvmm/proto.h"

/*
 * Pure comparison: got[0..nent) is a vCPU's CPUID as KVM reports it
 * (KVM_GET_CPUID2) after the masks were applied. Bit i of the result is
 * set when masks[i]'s bit is still set in a matching leaf/subleaf, i.e.
 * the guest still sees that feature. n is at most LVMM_MAX_CPUID_MASK.
 */
uint32_t cpuid_masks_not_hidden(const struct kvm_cpuid_entry2 *got, unsigned nent,
				const struct lvmm_cpuid_mask *masks, unsigned n);

/*
 * Ask KVM: a throwaway VM and vCPU get KVM's supported CPUID with masks
 * applied (KVM_SET_CPUID2), then read it back (KVM_GET_CPUID2). Returns 0
 * with *not_hidden as above, or -errno when the check was not possible
 * (-ENOENT / -EACCES: no usable /dev/kvm).
 */
int cpuid_probe(const struct lvmm_cpuid_mask *masks, unsigned n, uint32_t *not_hidden);

#endif
