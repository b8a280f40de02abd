/* SPDX-License-Identifier: MIT */
/*
 * One partition's virtual machine, as seen by the VMM process: the KVM VM,
 * guest memory and its translator, the irqchip mode, the buses, the
 * I/O thread, the vCPU objects and the run state they share (running,
 * paused, exiting). There is exactly one struct vm per partition process.
 *
 * Devices and vCPU threads use this object; it uses neither (vCPUs are
 * only kicked, inline). Who creates what, in which order, and when the
 * sandbox closes is partition.c's business.
 */
#ifndef LVMM_VM_H
#define LVMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lvmm/proto.h"
#include "vmm/bus.h"
#include "vmm/gmem.h"
#include "vmm/iothread.h"
#include "vmm/protect.h"
#include "vmm/vcpu.h"
#include "shared/ratelimit.h"

enum vm_state { VM_RUNNING = 1, VM_PAUSED = 2, VM_EXITING = 3 };

struct vm {
	const struct lvmm_part_config *cfg;
	const int *fds; /* fds received with the config */
	unsigned nfds;
	int sup_fd;     /* socket to the supervisor */

	/*
	 * vm_create() ran (its fds below are open or -1): until then, as in
	 * partition.c's static VM when a step before vm_create() fails, they
	 * are zeros that name fds this VM never opened, and vm_destroy()
	 * closes nothing.
	 */
	bool created;
	int kvm_fd;     /* /dev/kvm: closed (-1) before the sandbox */
	int vm_fd;
	int mem_fd;
	uint64_t mem_bytes;
	uint8_t *mem;   /* whole memfd mapping */
	struct gmem gmem;
	struct bus pio;
	struct bus mmio;
	struct iothread io;

	unsigned nr_vcpus;
	struct vcpu vcpus[LVMM_MAX_VCPUS];

	unsigned nr_virtio_slots; /* slots 0..n-1 are taken (vm_alloc_virtio_slot) */

	/* Exit handling: the first vCPU to see an exit condition records it. */
	pthread_mutex_t exit_lock;
	pthread_cond_t state_cond;
	atomic_int state; /* enum vm_state */
	unsigned paused_vcpus;
	bool go;            /* vCPUs wait for this until the sandbox is in place */
	unsigned at_gate;   /* vCPU threads done with their own setup (name, pinning) */
	bool exit_recorded;
	struct lvmm_exit exit;
	/*
	 * ACPI S3 (docs/acpi.md): the guest put itself to sleep (the VM is
	 * paused from its own view); a resume wakes it and sets WAK_STS, which
	 * the guest reads in the sleep status register and clears.
	 */
	bool asleep;        /* under exit_lock */
	atomic_bool wak_sts;

	pthread_mutex_t sup_lock; /* serialises messages to the supervisor */
	struct ratelimit fault_rl;

	struct protect prot;  /* protected ranges, their memslots, the watchdog */
	/*
	 * KVM's split irqchip (the default): LAPICs in the kernel, the IOAPIC
	 * in this process (devices/ioapic.c), no 8259 and no PIT. False with
	 * LVMM_IRQCHIP=kernel: KVM's PIC, IOAPIC and PIT, kept for comparison
	 * (bench/teardown.sh) and for guests that need a PIT.
	 */
	bool split_irqchip;
	/* Where vm_irq_line goes with a split irqchip (set by the IOAPIC device). */
	int (*irq_line)(void *opaque, uint32_t gsi, int level);
	void *irq_opaque;
	bool self_pause;      /* VM_PAUSED by a vCPU for a run-time lock, not by the supervisor */
	/*
	 * Leave the VM to process exit instead of closing it once the guest
	 * has ended (LVMM_VM_TEARDOWN=exit, for bench/teardown.sh's comparison):
	 * the exit then waits for two SRCU grace periods instead of one.
	 */
	bool exit_keeps_vm;
};

/*
 * Create the VM from a validated config: KVM VM, guest memory slots and
 * translator (with the configured protected ranges and the kernel regions
 * already resolved into regions), the irqchip (split: LAPICs only; or
 * with LVMM_IRQCHIP=kernel KVM's PIC, IOAPIC and PIT), the I/O
 * thread's epoll set. No
 * vCPUs, devices or boot image (partition.c adds those). On failure a
 * precise reason is in err and the caller runs vm_destroy(). 0 or -errno.
 */
int vm_create(struct vm *vm, const struct lvmm_part_config *cfg, const int *fds, unsigned nfds,
	      int sup_fd, const struct gmem_prot_list *regions, char *err,
	      size_t errlen) MUST_CHECK;

/*
 * Undo vm_create (vCPUs and devices already destroyed). Idempotent, and a
 * no-op on a VM vm_create() never ran on (all zeros: its fds are not -1).
 */
void vm_destroy(struct vm *vm);

/*
 * Wait until every started vCPU thread is at the gate, i.e. has named and
 * pinned itself (calls the sandbox forbids).
 */
void vm_wait_gate(struct vm *vm);

/* Let the vCPU threads (waiting at the gate) run guest code. */
void vm_open_gate(struct vm *vm);

/* Called by a vCPU thread once its own setup is done: wait for the gate. False if exiting. */
bool vm_vcpu_at_gate(struct vm *vm);

/*
 * Assert or de-assert a GSI line: through the user-space IOAPIC with a
 * split irqchip, KVM_IRQ_LINE with the in-kernel one. 0 or -errno.
 */
int vm_irq_line(struct vm *vm, uint32_t gsi, int level);

/* The interrupt controller behind vm_irq_line (fn NULL: none). Before the guest runs. */
void vm_set_irq_controller(struct vm *vm, int (*fn)(void *opaque, uint32_t gsi, int level),
			   void *opaque);

/* Deliver one MSI (KVM_SIGNAL_MSI). 0 (also when the guest's LAPIC refused it) or -errno. */
int vm_signal_msi(struct vm *vm, uint64_t addr, uint32_t data);

/*
 * Replace the GSI routing table (KVM_SET_GSI_ROUTING): GSI i routed as the
 * MSI addr[i]/data[i] for each i < n (n <= 32) whose bit is set in valid;
 * the other GSIs have no route. 0 or -errno.
 */
int vm_set_msi_routes(struct vm *vm, const uint64_t *addr, const uint32_t *data, unsigned n,
		      uint32_t valid);

/* Create an eventfd that injects an edge on gsi when written (KVM_IRQFD). 0 or -errno. */
int vm_irqfd(struct vm *vm, uint32_t gsi, int *efd_out) MUST_CHECK;

/*
 * Create an eventfd signalled when the guest writes to addr (KVM_IOEVENTFD);
 * with datamatch, only writes of value data. 0 or -errno.
 */
int vm_ioeventfd(struct vm *vm, uint64_t addr, uint32_t len, bool pio, bool datamatch,
		 uint64_t data, int *efd_out) MUST_CHECK;

/*
 * Reserve the next virtio-mmio slot: its base address and IRQ, and append
 * the matching "virtio_mmio.device=" entry to the guest command line.
 * 0 or -ENOSPC.
 */
int vm_alloc_virtio_slot(struct vm *vm, uint64_t *base, uint32_t *irq) MUST_CHECK;

/* Send an event to the supervisor (never blocks the caller for long). */
void vm_event(struct vm *vm, uint32_t kind, const char *dev, uint64_t a, uint64_t b, uint64_t c);
void vm_event_send(struct vm *vm, const struct lvmm_event *ev);

/*
 * From vCPU self's thread (outside KVM_RUN): park every other vCPU and
 * wait until they are parked. -EBUSY if the VM is not running (paused by
 * the supervisor, exiting) or they did not park within 2 s (then nothing
 * is left paused). vm_resume_others() undoes it.
 */
int vm_pause_others(struct vm *vm, struct vcpu *self) MUST_CHECK;
void vm_resume_others(struct vm *vm);

/* Is the VM paused only by vm_pause_others() (the supervisor sees it running)? */
bool vm_self_paused(struct vm *vm);

/* The state to report to the supervisor: a lock's brief pause is not a pause. */
uint32_t vm_public_state(struct vm *vm);

/*
 * Record why the partition ends (first caller wins) and make every vCPU
 * leave KVM_RUN. Safe from any thread.
 */
void vm_request_exit(struct vm *vm, const struct lvmm_exit *why);

/* Called by a vCPU thread that saw VM_PAUSED: wait until the VM runs or exits. */
void vm_vcpu_park(struct vm *vm);

/* Pause every vCPU and wait until all are parked / resume them. 0 or -errno. */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);

/*
 * The guest wrote SLP_TYP=S3|SLP_EN: stop every vCPU (the caller's parks
 * once its exit is handled) without waiting, and tell the supervisor. A
 * later vm_resume() wakes it with WAK_STS set. 0, or -ESRCH if not running.
 */
int vm_sleep(struct vm *vm);

/* Wake a sleeping guest by itself (console input): resume it and tell the supervisor. */
void vm_wake_self(struct vm *vm);

/* Convenience: request exit with a reason and status only. */
void vm_exit_simple(struct vm *vm, uint32_t reason, int status, const char *detail);

#endif
