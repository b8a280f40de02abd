/* SPDX-License-Identifier: MIT */
/*
 * One partition's virtual machine, as seen by the VMM process: KVM fds,
 * guest memory and its translator, the buses, the I/O thread, vCPUs and
 * devices. There is exactly one struct vm per partition process.
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

struct kvm_run;
struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	atomic_uint_fast64_t exits_io, exits_mmio, exits_hlt, exits_other;
};

/*
 * A device type: one static const table per device file. create() builds
 * an instance from its config entry (cfg is NULL for built-in platform
 * devices) and registers its ranges; destroy() undoes create() in reverse.
 * Both run before the sandbox, so they may allocate and open nothing more
 * than the fds they were given.
 */
struct device_ops {
	const char *name;
	int (*create)(struct vm *vm, const struct lvmm_dev_cfg *cfg, void **state);
	void (*destroy)(void *state);
	/* Optional: fill per-device statistics for `lvmm ctl stats`. */
	void (*stats)(void *state, struct lvmm_dev_stats *out);
	/* Optional: control operation (link up/down). 0 or -errno. */
	int (*ctl)(void *state, uint32_t op);
};

#define VM_MAX_DEVICES 32

struct vm_device {
	const struct device_ops *ops;
	void *state;
	char id[LVMM_NAME_MAX];
};

enum vm_state { VM_RUNNING = 1, VM_PAUSED = 2, VM_EXITING = 3 };

struct vm {
	const struct lvmm_part_config *cfg;
	const int *fds; /* fds received with the config */
	unsigned nfds;
	int sup_fd;     /* socket to the supervisor */

	int kvm_fd;
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

	struct vm_device devices[VM_MAX_DEVICES];
	unsigned nr_devices;

	unsigned nr_virtio_slots;
	char virtio_cmdline[LVMM_MAX_DEVS * 48];

	/* Exit handling: the first vCPU to see an exit condition records it. */
	pthread_mutex_t exit_lock;
	pthread_cond_t state_cond;
	atomic_int state; /* enum vm_state */
	unsigned paused_vcpus;
	bool go;            /* vCPUs wait for this until the sandbox is in place */
	unsigned at_gate;   /* vCPU threads done with their own setup (name, pinning) */
	bool exit_recorded;
	struct lvmm_exit exit;

	pthread_mutex_t sup_lock; /* serialises messages to the supervisor */
	struct ratelimit fault_rl;
};

/*
 * Build the VM from a validated config: KVM objects, memory, vCPUs,
 * devices, boot image. On failure a precise reason is in err and the
 * caller runs vm_teardown(). 0 or -errno.
 */
int vm_setup(struct vm *vm, const struct lvmm_part_config *cfg, const int *fds, unsigned nfds,
	     int sup_fd, char *err, size_t errlen) MUST_CHECK;

/*
 * Start the I/O thread and every vCPU thread; vCPUs wait at a gate
 * (vm_open_gate) so the sandbox can cover them before guest code runs.
 * 0 or -errno.
 */
int vm_start(struct vm *vm) MUST_CHECK;

/* Let the vCPU threads (which wait after vm_start) run guest code. */
void vm_open_gate(struct vm *vm);

/* Wait until every vCPU thread has ended (after an exit request), then stop the I/O thread. */
void vm_wait(struct vm *vm);

/* Destroy the devices in reverse order: flushes consoles, closes backends. */
void vm_destroy_devices(struct vm *vm);

/* Destroy devices (reverse order), vCPUs and memory. */
void vm_teardown(struct vm *vm);

/* Create a device instance from ops and its config entry (NULL: built-in). 0 or -errno. */
int vm_add_device(struct vm *vm, const struct device_ops *ops,
		  const struct lvmm_dev_cfg *cfg) MUST_CHECK;

/* Assert or de-assert a GSI line (KVM_IRQ_LINE). 0 or -errno. */
int vm_irq_line(struct vm *vm, uint32_t gsi, int level);

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

/* Convenience: request exit with a reason and status only. */
void vm_exit_simple(struct vm *vm, uint32_t reason, int status, const char *detail);

#endif
