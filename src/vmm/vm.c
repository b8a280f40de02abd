// SPDX-License-Identifier: MIT
/*
 * The partition's VM object: KVM VM, guest memory, interrupt plumbing,
 * virtio-mmio slots, messages to the supervisor, and the coordination of
 * pause / exit / start gate between the vCPU threads, the I/O thread and
 * the process's main thread.
 */
#include "vmm/vm.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "shared/parse.h"
#include "shared/ratelimit.h"
#include "common/proto.h"
#include "lvmm/guest_abi.h"
#include "vmm/cmdline.h"

#define KVM_TSS_ADDR 0xfffbd000ULL
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL

/* ---- interrupts and doorbells --------------------------------------------- */

int vm_irq_line(struct vm *vm, uint32_t gsi, int level)
{
	struct kvm_irq_level l = { .irq = gsi, .level = (uint32_t)level };

	if (vm->split_irqchip)
		return vm->irq_line ? vm->irq_line(vm->irq_opaque, gsi, level) : -ENODEV;
	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0 ? -errno : 0;
}

void vm_set_irq_controller(struct vm *vm, int (*fn)(void *opaque, uint32_t gsi, int level),
			   void *opaque)
{
	vm->irq_line = fn;
	vm->irq_opaque = opaque;
}

int vm_signal_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi m = { .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32),
			     .data = data };

	/* > 0 delivered, 0 blocked by the guest (its LAPIC is off): both are the guest's business. */
	return ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &m) < 0 ? -errno : 0;
}

int vm_set_msi_routes(struct vm *vm, const uint64_t *addr, const uint32_t *data, unsigned n,
		      uint32_t valid)
{
	struct {
		struct kvm_irq_routing hdr;
		struct kvm_irq_routing_entry e[32];
	} t;
	unsigned i;

	if (n > ARRAY_SIZE(t.e))
		return -EINVAL;
	memset(&t, 0, sizeof(t));
	for (i = 0; i < n; i++) {
		struct kvm_irq_routing_entry *e = &t.e[t.hdr.nr];

		if (!(valid & 1u << i))
			continue;
		e->gsi = i;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = (uint32_t)addr[i];
		e->u.msi.address_hi = (uint32_t)(addr[i] >> 32);
		e->u.msi.data = data[i];
		t.hdr.nr++;
	}
	return ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, &t) < 0 ? -errno : 0;
}

int vm_irqfd(struct vm *vm, uint32_t gsi, int *efd_out)
{
	struct kvm_irqfd f = { .gsi = gsi };
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (efd < 0)
		return -errno;
	f.fd = (uint32_t)efd;
	if (ioctl(vm->vm_fd, KVM_IRQFD, &f) < 0) {
		int e = -errno;

		close(efd);
		return e;
	}
	*efd_out = efd;
	return 0;
}

int vm_ioeventfd(struct vm *vm, uint64_t addr, uint32_t len, bool pio, bool datamatch,
		 uint64_t data, int *efd_out)
{
	struct kvm_ioeventfd io = { .addr = addr, .len = len, .datamatch = data };
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (efd < 0)
		return -errno;
	io.fd = efd;
	io.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) | (datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0);
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		int e = -errno;

		close(efd);
		return e;
	}
	*efd_out = efd;
	return 0;
}

int vm_alloc_virtio_slot(struct vm *vm, uint64_t *base, uint32_t *irq)
{
	if (vm->nr_virtio_slots >= LVMM_VIRTIO_MMIO_MAX)
		return -ENOSPC;
	/* The command line lists slots 0..nr_virtio_slots-1 (boot.c, vmm/cmdline.h). */
	virtio_slot(vm->nr_virtio_slots++, base, irq);
	return 0;
}

/* ---- supervisor messages -------------------------------------------------- */

void vm_event_send(struct vm *vm, const struct lvmm_event *ev)
{
	if (vm->sup_fd < 0)
		return;
	pthread_mutex_lock(&vm->sup_lock);
	/* Never block a vCPU or the I/O thread on the supervisor: drop instead. */
	if (proto_send(vm->sup_fd, LVMM_MSG_EVENT, ev, sizeof(*ev), NULL, 0, MSG_DONTWAIT))
		pr_debug("event %u dropped", ev->kind);
	pthread_mutex_unlock(&vm->sup_lock);
}

void vm_event(struct vm *vm, uint32_t kind, const char *dev, uint64_t a, uint64_t b, uint64_t c)
{
	struct lvmm_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	if (dev)
		snprintf(ev.dev, sizeof(ev.dev), "%s", dev);
	ev.a = a, ev.b = b, ev.c = c;
	vm_event_send(vm, &ev);
}

static void vm_dma_fault(void *opaque, const char *dev, uint64_t gpa, uint64_t len,
			 enum dma_dir dir, enum dma_fault_kind kind)
{
	struct vm *vm = opaque;
	struct lvmm_event ev;
	bool report;

	pthread_mutex_lock(&vm->exit_lock);
	report = ratelimit_allow(&vm->fault_rl);
	pthread_mutex_unlock(&vm->exit_lock);
	if (!report)
		return;
	pr_warn("DMA fault: device %s %s 0x%" PRIx64 "+0x%" PRIx64 " %s (%" PRIu64 " faults "
		"so far)", dev ? dev : "?", dir == DMA_FROM_DEVICE ? "write to" : "read from", gpa,
		len, kind == DMA_FAULT_PROTECTED ? "in a protected range" :
		"outside the partition's memory", (uint64_t)atomic_load(&vm->gmem.dma_faults));
	memset(&ev, 0, sizeof(ev));
	ev.kind = LVMM_EV_DMA_FAULT;
	if (dev)
		snprintf(ev.dev, sizeof(ev.dev), "%s", dev);
	ev.a = gpa, ev.b = len, ev.c = dir, ev.d = kind;
	vm_event_send(vm, &ev);
}

/* ---- lifecycle ------------------------------------------------------------ */

void vm_request_exit(struct vm *vm, const struct lvmm_exit *why)
{
	unsigned i;

	pthread_mutex_lock(&vm->exit_lock);
	if (!vm->exit_recorded) {
		vm->exit = *why;
		vm->exit_recorded = true;
	}
	atomic_store(&vm->state, VM_EXITING);
	pthread_cond_broadcast(&vm->state_cond);
	pthread_mutex_unlock(&vm->exit_lock);
	for (i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
}

void vm_exit_simple(struct vm *vm, uint32_t reason, int status, const char *detail)
{
	struct lvmm_exit x;

	memset(&x, 0, sizeof(x));
	x.reason = reason;
	x.status = status;
	if (detail)
		snprintf(x.detail, sizeof(x.detail), "%s", detail);
	vm_request_exit(vm, &x);
}

void vm_vcpu_park(struct vm *vm)
{
	pthread_mutex_lock(&vm->exit_lock);
	vm->paused_vcpus++;
	pthread_cond_broadcast(&vm->state_cond);
	while (atomic_load(&vm->state) == VM_PAUSED)
		pthread_cond_wait(&vm->state_cond, &vm->exit_lock);
	vm->paused_vcpus--;
	pthread_mutex_unlock(&vm->exit_lock);
}

/* Wait (bounded by dl) until no run-time lock holds the vCPUs. Under exit_lock. */
static int wait_self_pause(struct vm *vm, const struct timespec *dl)
{
	int r = 0;

	while (vm->self_pause && !r)
		r = pthread_cond_timedwait(&vm->state_cond, &vm->exit_lock, dl);
	return r ? -EBUSY : 0;
}

int vm_pause(struct vm *vm)
{
	struct timespec dl;
	unsigned i, started = 0;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 2;
	pthread_mutex_lock(&vm->exit_lock);
	if (wait_self_pause(vm, &dl)) {
		pthread_mutex_unlock(&vm->exit_lock);
		return -EBUSY;
	}
	if (atomic_load(&vm->state) != VM_RUNNING) {
		r = atomic_load(&vm->state) == VM_PAUSED ? 0 : -ESRCH;
		pthread_mutex_unlock(&vm->exit_lock);
		return r;
	}
	atomic_store(&vm->state, VM_PAUSED);
	pthread_mutex_unlock(&vm->exit_lock);
	for (i = 0; i < vm->nr_vcpus; i++) {
		started += vm->vcpus[i].started;
		vcpu_kick(&vm->vcpus[i]);
	}
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 2;
	pthread_mutex_lock(&vm->exit_lock);
	while (vm->paused_vcpus < started && atomic_load(&vm->state) == VM_PAUSED && !r)
		r = -pthread_cond_timedwait(&vm->state_cond, &vm->exit_lock, &dl);
	pthread_mutex_unlock(&vm->exit_lock);
	return r == -ETIMEDOUT ? -EBUSY : r;
}

int vm_sleep(struct vm *vm)
{
	unsigned i;

	pthread_mutex_lock(&vm->exit_lock);
	if (atomic_load(&vm->state) != VM_RUNNING) {
		pthread_mutex_unlock(&vm->exit_lock);
		return -ESRCH;
	}
	/* Not vm_pause(): the calling vCPU cannot park before its exit is handled. */
	atomic_store(&vm->state, VM_PAUSED);
	vm->asleep = true;
	atomic_store(&vm->wak_sts, false);
	pthread_mutex_unlock(&vm->exit_lock);
	for (i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	vm_event(vm, LVMM_EV_SLEEP, NULL, LVMM_SLP_TYP_S3, 0, 0);
	return 0;
}

void vm_wake_self(struct vm *vm)
{
	bool was;

	pthread_mutex_lock(&vm->exit_lock);
	was = vm->asleep;
	pthread_mutex_unlock(&vm->exit_lock);
	if (was && !vm_resume(vm))
		vm_event(vm, LVMM_EV_SLEEP, NULL, 0, 0, 0);
}

int vm_pause_others(struct vm *vm, struct vcpu *self)
{
	struct timespec dl;
	unsigned i, others = 0;
	int r = 0;

	pthread_mutex_lock(&vm->exit_lock);
	if (atomic_load(&vm->state) != VM_RUNNING || vm->self_pause) {
		pthread_mutex_unlock(&vm->exit_lock);
		return -EBUSY;
	}
	atomic_store(&vm->state, VM_PAUSED);
	vm->self_pause = true;
	pthread_mutex_unlock(&vm->exit_lock);
	for (i = 0; i < vm->nr_vcpus; i++) {
		if (&vm->vcpus[i] == self)
			continue;
		others += vm->vcpus[i].started;
		vcpu_kick(&vm->vcpus[i]);
	}
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 2;
	pthread_mutex_lock(&vm->exit_lock);
	while (vm->paused_vcpus < others && atomic_load(&vm->state) == VM_PAUSED && !r)
		r = pthread_cond_timedwait(&vm->state_cond, &vm->exit_lock, &dl);
	if (!r && atomic_load(&vm->state) != VM_PAUSED)
		r = ECANCELED; /* an exit request overtook us */
	pthread_mutex_unlock(&vm->exit_lock);
	if (r) {
		vm_resume_others(vm);
		return -EBUSY;
	}
	return 0;
}

void vm_resume_others(struct vm *vm)
{
	pthread_mutex_lock(&vm->exit_lock);
	if (vm->self_pause && atomic_load(&vm->state) == VM_PAUSED)
		atomic_store(&vm->state, VM_RUNNING);
	vm->self_pause = false;
	pthread_cond_broadcast(&vm->state_cond);
	pthread_mutex_unlock(&vm->exit_lock);
}

bool vm_self_paused(struct vm *vm)
{
	bool b;

	pthread_mutex_lock(&vm->exit_lock);
	b = vm->self_pause;
	pthread_mutex_unlock(&vm->exit_lock);
	return b;
}

uint32_t vm_public_state(struct vm *vm)
{
	return vm_self_paused(vm) ? VM_RUNNING : (uint32_t)atomic_load(&vm->state);
}

int vm_resume(struct vm *vm)
{
	struct timespec dl;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 2;
	pthread_mutex_lock(&vm->exit_lock);
	if (wait_self_pause(vm, &dl)) {
		pthread_mutex_unlock(&vm->exit_lock);
		return -EBUSY;
	}
	if (atomic_load(&vm->state) == VM_PAUSED) {
		/* A sleeping guest wakes: it continues after its sleep write and sees WAK_STS. */
		if (vm->asleep)
			atomic_store(&vm->wak_sts, true);
		vm->asleep = false;
		atomic_store(&vm->state, VM_RUNNING);
		pthread_cond_broadcast(&vm->state_cond);
	} else if (atomic_load(&vm->state) != VM_RUNNING) {
		r = -ESRCH;
	}
	pthread_mutex_unlock(&vm->exit_lock);
	return r;
}

/* ---- setup ---------------------------------------------------------------- */

static int kvm_check(struct vm *vm, char *err, size_t errlen)
{
	static const struct { int cap; const char *name; bool split; bool kernel; } caps[] = {
		{ KVM_CAP_IRQCHIP, "in-kernel irqchip", false, true },
		{ KVM_CAP_PIT2, "in-kernel PIT", false, true },
		{ KVM_CAP_SPLIT_IRQCHIP, "split irqchip", true, false },
		{ KVM_CAP_IRQ_ROUTING, "GSI routing", true, false },
		{ KVM_CAP_SIGNAL_MSI, "MSI injection", true, false },
		{ KVM_CAP_IOEVENTFD, "ioeventfd", true, true }, { KVM_CAP_IRQFD, "irqfd", true, true },
		{ KVM_CAP_USER_MEMORY, "user memory", true, true },
		{ KVM_CAP_EXT_CPUID, "CPUID2", true, true },
	};
	size_t i;
	int r = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);

	if (r != KVM_API_VERSION) {
		snprintf(err, errlen, "KVM API version %d, lvmm needs %d", r, KVM_API_VERSION);
		return -ENOTSUP;
	}
	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		if (!(vm->split_irqchip ? caps[i].split : caps[i].kernel))
			continue;
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0) {
			snprintf(err, errlen, "this KVM lacks %s (capability %d)%s", caps[i].name,
				 caps[i].cap, caps[i].kernel ? "" :
				 "; LVMM_IRQCHIP=kernel uses KVM's in-kernel irqchip instead");
			return -ENOTSUP;
		}
	}
	r = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (r <= 0)
		r = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (r > 0 && vm->nr_vcpus > (unsigned)r) {
		snprintf(err, errlen, "%u vCPUs requested, this KVM allows %d", vm->nr_vcpus, r);
		return -EINVAL;
	}
	return 0;
}

static int vm_setup_memory(struct vm *vm, const struct gmem_prot_list *regions, char *err,
			   size_t errlen)
{
	struct guest_layout lay;
	struct stat st;
	unsigned slot;
	int r;

	if (fstat(vm->mem_fd, &st) < 0 || (uint64_t)st.st_size != vm->mem_bytes) {
		snprintf(err, errlen, "guest memory object has the wrong size");
		return -EINVAL;
	}
	vm->mem = mmap(NULL, vm->mem_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		       vm->mem_fd, 0);
	if (vm->mem == MAP_FAILED) {
		r = -errno;
		vm->mem = NULL;
		snprintf(err, errlen, "cannot map %" PRIu64 " MiB of guest memory: %s",
			 vm->mem_bytes / MiB, strerror(-r));
		return r;
	}
	/*
	 * Huge pages cut first-touch faults by 512x. For a memfd they need
	 * shmem THP (transparent_hugepage/shmem_enabled = advise or
	 * within_size); where that is off this is a no-op.
	 */
	if (madvise(vm->mem, vm->mem_bytes, MADV_HUGEPAGE) < 0)
		pr_debug("MADV_HUGEPAGE: %s", strerror(errno));
	layout_from_size(vm->mem_bytes, &lay);
	for (slot = 0; slot < 2; slot++) {
		uint64_t gpa = slot ? LVMM_HIGH_RAM_START : 0;
		uint64_t off = slot ? lay.lowmem_end : 0;
		uint64_t size = slot ? vm->mem_bytes - lay.lowmem_end : lay.lowmem_end;

		if (!size)
			continue;
		r = gmem_add_slot(&vm->gmem, gpa, size, vm->mem + off, off, false);
		if (r) {
			snprintf(err, errlen, "guest memory slot: %s", strerror(-r));
			return r;
		}
	}
	/* KVM's memslots: RAM split around the protected ranges (src/vmm/protect.c). */
	r = protect_init(vm, regions, err, errlen);
	if (!r)
		r = protect_map_ram(vm, err, errlen);
	if (r)
		return r;
	vm->gmem.on_fault = vm_dma_fault;
	vm->gmem.fault_opaque = vm;
	return 0;
}

/*
 * Leave the in-kernel 8259 as a BIOS would: vector bases 0x08/0x70, every
 * line masked. KVM creates it with base 0 and nothing masked, its default
 * routing feeds it GSIs 0-15 and the BSP's LINT0 is ExtINT, so a guest that
 * never touches it (hardware-reduced ACPI) would take device interrupts as
 * CPU exceptions (GSI 5 -> vector 5, #BR). See docs/acpi.md.
 */
static int vm_init_pic(struct vm *vm)
{
	static const struct { uint32_t id; uint8_t base; } pics[] = {
		{ KVM_IRQCHIP_PIC_MASTER, 0x08 }, { KVM_IRQCHIP_PIC_SLAVE, 0x70 },
	};

	for (unsigned i = 0; i < ARRAY_SIZE(pics); i++) {
		struct kvm_irqchip c = { .chip_id = pics[i].id };

		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &c) < 0)
			return -errno;
		c.chip.pic.irq_base = pics[i].base;
		c.chip.pic.imr = 0xff;
		c.chip.pic.init4 = 1; /* ICW4 expected, as after a BIOS's init sequence */
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &c) < 0)
			return -errno;
	}
	return 0;
}

/*
 * KVM's in-kernel PIC, IOAPIC and PIT: the platform before the split
 * irqchip, kept for comparison (LVMM_IRQCHIP=kernel, bench/teardown.sh)
 * and for guests that need a PIT or an 8259 (acpi=off).
 */
static int vm_kernel_irqchip(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int r;

	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0 ||
	    ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		r = -errno;
		snprintf(err, errlen, "creating the in-kernel irqchip/PIT: %s", strerror(-r));
		return r;
	}
	r = vm_init_pic(vm);
	if (r)
		snprintf(err, errlen, "programming the 8259: %s", strerror(-r));
	return r;
}

/*
 * The split irqchip: the LAPICs in the kernel and GSIs 0-23 reserved for
 * the user-space IOAPIC's MSI routes; no PIC, IOAPIC or PIT in the kernel,
 * so destroying the VM unregisters no I/O-bus device and no PIT (each
 * unregistration waits for an SRCU grace period: 15-25 ms per VM in all
 * on this host, bench/teardown.sh). A hardware-reduced ACPI guest never
 * uses a PIC or PIT (docs/platform.md).
 */
static int vm_split_irqchip(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { LVMM_IOAPIC_PINS } };
	int r;

	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
		r = -errno;
		snprintf(err, errlen, "enabling the split irqchip: %s", strerror(-r));
		return r;
	}
	return 0;
}

int vm_create(struct vm *vm, const struct lvmm_part_config *cfg, const int *fds, unsigned nfds,
	      int sup_fd, const struct gmem_prot_list *regions, char *err, size_t errlen)
{
	static const char *const chips[] = { "split", "kernel" }, *const tds[] = { "close", "exit" };
	int chip = knob_choice("LVMM_IRQCHIP", chips, ARRAY_SIZE(chips));
	int td = knob_choice("LVMM_VM_TEARDOWN", tds, ARRAY_SIZE(tds));
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
	unsigned i;
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->fds = fds;
	vm->nfds = nfds;
	vm->sup_fd = sup_fd;
	vm->kvm_fd = fds[cfg->fd_kvm];
	vm->mem_fd = fds[cfg->fd_mem];
	vm->mem_bytes = cfg->mem_bytes;
	vm->nr_vcpus = cfg->vcpus;
	vm->vm_fd = -1;
	vm->io.epfd = vm->io.stop_fd = -1;
	for (i = 0; i < LVMM_MAX_VCPUS; i++)
		vm->vcpus[i].fd = -1;
	vm->created = true;
	pthread_mutex_init(&vm->exit_lock, NULL);
	pthread_mutex_init(&vm->sup_lock, NULL);
	pthread_cond_init(&vm->state_cond, NULL);
	atomic_store(&vm->state, VM_RUNNING);
	bus_init(&vm->pio, "port I/O");
	bus_init(&vm->mmio, "MMIO");
	vm->split_irqchip = chip != 1;
	vm->exit_keeps_vm = td == 1;

	r = kvm_check(vm, err, errlen);
	if (r)
		return r;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(-r));
		return r;
	}
	/* Needed on Intel VMX (real-mode TSS and EPT identity map); harmless elsewhere. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
		pr_debug("KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		pr_debug("KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	/*
	 * Memory first: once the in-kernel irqchip existed, every memslot
	 * change waited for an SRCU grace period (5-8 ms here); before it,
	 * registering memory costs ~0.1 ms. Kept for the split irqchip too.
	 */
	r = vm_setup_memory(vm, regions, err, errlen);
	if (r)
		return r;
	r = vm->split_irqchip ? vm_split_irqchip(vm, err, errlen) : vm_kernel_irqchip(vm, err, errlen);
	if (r)
		return r;
	r = iothread_init(&vm->io);
	if (r) {
		snprintf(err, errlen, "I/O thread: %s", strerror(-r));
		return r;
	}
	pr_debug("memory and irqchip ready");
	return 0;
}

/*
 * The VM before its memory: closing the VM's last reference destroys it
 * (KVM unregisters its MMU notifier, one SRCU grace period), after which
 * unmapping the memory is plain page freeing. The other order makes the
 * unmap invalidate every page through KVM first.
 */
void vm_destroy(struct vm *vm)
{
	if (!vm->created)
		return; /* its fds are zeros, not its own: fd 0 is not this VM's to close */
	iothread_destroy(&vm->io);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->mem)
		munmap(vm->mem, vm->mem_bytes);
	vm->mem = NULL;
	vm->vm_fd = -1;
}

/* ---- the gate: no guest code before the sandbox ------------------------------ */

void vm_wait_gate(struct vm *vm)
{
	unsigned i, started = 0;

	for (i = 0; i < vm->nr_vcpus; i++)
		started += vm->vcpus[i].started;
	pthread_mutex_lock(&vm->exit_lock);
	while (vm->at_gate < started)
		pthread_cond_wait(&vm->state_cond, &vm->exit_lock);
	pthread_mutex_unlock(&vm->exit_lock);
}

bool vm_vcpu_at_gate(struct vm *vm)
{
	bool go;

	pthread_mutex_lock(&vm->exit_lock);
	vm->at_gate++;
	pthread_cond_broadcast(&vm->state_cond);
	while (!vm->go && atomic_load(&vm->state) != VM_EXITING)
		pthread_cond_wait(&vm->state_cond, &vm->exit_lock);
	go = atomic_load(&vm->state) != VM_EXITING;
	pthread_mutex_unlock(&vm->exit_lock);
	return go;
}

void vm_open_gate(struct vm *vm)
{
	pthread_mutex_lock(&vm->exit_lock);
	vm->go = true;
	pthread_cond_broadcast(&vm->state_cond);
	pthread_mutex_unlock(&vm->exit_lock);
}
