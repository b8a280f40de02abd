/* SPDX-License-Identifier: MIT */
/*
 * vCPUs: the per-vCPU object, its setup and the KVM_RUN loop.
 *
 * Layering: vcpu.c uses the VM object (vm.h: memory, buses, run state);
 * vm.c only kicks vCPUs, through the inline vcpu_kick() below, so the VM
 * object never calls into the vCPU loop.
 */
#ifndef LVMM_VCPU_H
#define LVMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"
#include "shared/ratelimit.h"
#include "common/util.h"
#include "lvmm/proto.h"
#include "vmm/loader.h"

/* Interrupts KVM_RUN (no SA_RESTART); unblocked only on vCPU threads. */
#define VCPU_KICK_SIGNAL SIGUSR1

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	atomic_uint_fast64_t exits_io, exits_mmio, exits_hlt, exits_other;
	/* Emulation failures lvmm completed itself (vmm/insn_fixup.h); also in exits_other. */
	atomic_uint_fast64_t fixup_int3, fixup_fwait;
	struct ratelimit fixup_rl; /* this vCPU thread's log lines about them */
};

/*
 * Once per process: supported CPUID (given's when it has entries: the
 * supervisor's copy; else KVM_GET_SUPPORTED_CPUID), kvm_run size, the kick
 * signal. 0 or -errno.
 */
int vcpu_global_init(int kvm_fd, const struct lvmm_cpuid_table *given) MUST_CHECK;

/*
 * Create vCPU id of vm (vm->vcpus[id]) with CPUID, MSRs, LAPIC LINTs and
 * FPU state. 0 or -errno.
 */
int vcpu_create(struct vm *vm, unsigned id) MUST_CHECK;

/* Set the registers a boot kind expects at its entry point (the boot vCPU only). */
int vcpu_set_boot_state(struct vcpu *v, enum image_kind kind, uint64_t entry) MUST_CHECK;

/*
 * Start the vCPU thread: it names and pins itself, then waits at the VM's
 * gate (vm_open_gate) before running guest code. 0 or -errno.
 */
int vcpu_start(struct vcpu *v) MUST_CHECK;

/* Wait for a started vCPU thread to end (after an exit request). */
void vcpu_join(struct vcpu *v);

/* Close the vCPU (thread already joined). */
void vcpu_destroy(struct vcpu *v);

/*
 * Make the vCPU leave KVM_RUN soon; it then re-reads the VM's state.
 * immediate_exit covers a kick that lands just before KVM_RUN; the signal
 * one that lands inside it. Safe from any thread.
 */
static inline void vcpu_kick(struct vcpu *v)
{
	if (!v->started)
		return;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

#endif
