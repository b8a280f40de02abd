/* SPDX-License-Identifier: MIT */
/* vCPU setup and the KVM_RUN loop. */
#ifndef LVMM_VCPU_H
#define LVMM_VCPU_H

#include "vmm/loader.h"
#include "vmm/vm.h"

/* Once per process: supported CPUID, kvm_run size, the kick signal. 0 or -errno. */
int vcpu_global_init(struct vm *vm) MUST_CHECK;

/* Create vCPU id with CPUID, MSRs, LAPIC LINTs and FPU state. 0 or -errno. */
int vcpu_create(struct vm *vm, unsigned id) MUST_CHECK;

/* Set the registers a boot kind expects at its entry point (the boot vCPU only). */
int vcpu_set_boot_state(struct vcpu *v, enum image_kind kind, uint64_t entry) MUST_CHECK;

/* Start the vCPU thread. 0 or -errno. */
int vcpu_start(struct vcpu *v) MUST_CHECK;

/* Make the vCPU leave KVM_RUN soon (it re-checks the VM state). */
void vcpu_kick(struct vcpu *v);

/* Close the vCPU (thread already joined). */
void vcpu_destroy(struct vcpu *v);

#endif
