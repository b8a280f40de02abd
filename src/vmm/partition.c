// SPDX-License-Identifier: MIT
/*
 * The partition process: receives its platform entry, the supervisor's
 * grant and every fd it may use, builds its configuration from them
 * (part_config.c), then sequences everything else: its sealed boot images,
 * the VM object, vCPUs, devices, boot image, threads, sandbox, run, report,
 * teardown. It never opens a file by name (but its own memfds, read-only,
 * through /proc/self/fd: images.c).
 */
#include "vmm/partition.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"
#include "devices/registry.h"
#include "devices/tpm_crb.h"
#include "virtio/virtio.h"
#include "vmm/boot.h"
#include "vmm/cmdline.h"
#include "vmm/cpuid.h"
#include "vmm/images.h"
#include "vmm/part_config.h"
#include "vmm/sandbox.h"
#include "vmm/thread_start.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

static struct plat_config_msg msg; /* as received: the grant and the entry */
static struct lvmm_part_config cfg; /* built from msg */
static int fds[LVMM_MSG_MAX_FDS];
static unsigned nfds;
static struct vm the_vm;
static struct device_table devices;
static struct sandbox_cfg sandbox;

static bool fd_ok(int32_t idx, bool optional)
{
	if (idx == LVMM_NO_FD)
		return optional;
	return idx >= 0 && (unsigned)idx < nfds;
}

/*
 * The identity to drop to. uid = gid = 0 means "none assigned" (a
 * supervisor without an identity range): the shared nobody user. Any
 * other 0 is refused, and so is -1, which setresuid reads as "unchanged":
 * either would leave the partition running as root.
 */
static int identity_resolve(char *err, size_t errlen)
{
	if (!cfg.uid && !cfg.gid) {
		sandbox.uid = SANDBOX_NOBODY;
		sandbox.gid = SANDBOX_NOBODY;
		return 0;
	}
	if (!cfg.uid || !cfg.gid || cfg.uid == UINT32_MAX || cfg.gid == UINT32_MAX) {
		snprintf(err, errlen, "config: uid %u gid %u: a partition never runs as root",
			 cfg.uid, cfg.gid);
		return -EINVAL;
	}
	sandbox.uid = (uid_t)cfg.uid;
	sandbox.gid = (gid_t)cfg.gid;
	return 0;
}

/* The supervisor is trusted, but a wrong config must fail loudly, not corrupt memory. */
static int config_validate(char *err, size_t errlen)
{
	unsigned i, k, ntpm = 0;
	int r;

	if (!proto_str_ok(cfg.name, sizeof(cfg.name)) ||
	    !proto_str_ok(cfg.cmdline, sizeof(cfg.cmdline))) {
		snprintf(err, errlen, "config: unterminated string");
		return -EINVAL;
	}
	if (cfg.vcpus < 1 || cfg.vcpus > LVMM_MAX_VCPUS || cfg.mem_bytes < 4 * MiB ||
	    cfg.mem_bytes % 4096 || cfg.ndevs > LVMM_MAX_DEVS ||
	    cfg.ncpuid_mask > LVMM_MAX_CPUID_MASK || cfg.nprotect > LVMM_MAX_PROTECT ||
	    cfg.on_violation > LVMM_VIOL_MAX || cfg.watchdog_action > LVMM_WDOG_MAX) {
		snprintf(err, errlen, "config: value out of range");
		return -EINVAL;
	}
	if (!fd_ok(cfg.fd_kvm, false) || !fd_ok(cfg.fd_mem, false) ||
	    !fd_ok(cfg.fd_kernel, false) || !fd_ok(cfg.fd_initrd, true) ||
	    !fd_ok(cfg.fd_console_out, true) || !fd_ok(cfg.fd_console_in, true) ||
	    ((cfg.flags & LVMM_PART_F_CONSOLE_SOCK) && !fd_ok(cfg.fd_console_listen, false)) ||
	    !fd_ok(cfg.fd_gate, !(cfg.flags & LVMM_PART_F_GATED)) || !fd_ok(cfg.fd_safe_kernel, true) ||
	    !fd_ok(cfg.fd_safe_initrd, true)) {
		snprintf(err, errlen, "config: bad fd index");
		return -EINVAL;
	}
	r = identity_resolve(err, errlen);
	if (r)
		return r;
	for (i = 0; i < LVMM_MAX_VCPUS; i++)
		if (cfg.host_cpus[i] < -1 || cfg.host_cpus[i] >= CPU_SETSIZE) {
			snprintf(err, errlen, "config: bad host CPU %d", cfg.host_cpus[i]);
			return -EINVAL;
		}
	for (i = 0; i < cfg.ndevs; i++) {
		const struct lvmm_dev_cfg *d = &cfg.devs[i];

		if (!proto_str_ok(d->id, sizeof(d->id)) || !proto_str_ok(d->peer, sizeof(d->peer)) ||
		    d->type == LVMM_DEV_NONE || d->type > LVMM_DEV_TYPE_MAX) {
			snprintf(err, errlen, "config: device %u malformed", i);
			return -EINVAL;
		}
		for (k = 0; k < ARRAY_SIZE(d->fd); k++)
			if (!fd_ok(d->fd[k], true)) {
				snprintf(err, errlen, "config: device %s: bad fd index", d->id);
				return -EINVAL;
			}
		if (d->type == LVMM_DEV_TPM) {
			char why[160];

			/* One CRB window at a fixed address: a second TPM has nowhere to go. */
			if (++ntpm > 1) {
				snprintf(err, errlen, "config: device %s: a second TPM", d->id);
				return -EINVAL;
			}
			r = tpm_crb_check_cfg(d, fds, nfds, why, sizeof(why));
			if (r) {
				snprintf(err, errlen, "config: device %s: %s", d->id, why);
				return r;
			}
		}
	}
	return 0;
}

/* Did the policy grant every device of the entry? */
static bool all_devices_granted(void)
{
	unsigned n = msg.part.ndevs < LVMM_MAX_DEVS ? msg.part.ndevs : LVMM_MAX_DEVS;

	return (msg.grant.granted & ((1U << n) - 1)) == (1U << n) - 1;
}

/*
 * A measured start (gated, and its entry has a vTPM: the trust process
 * measures it) boots exactly the devices of its entry. PCR 21 lists them,
 * and PCR 20 holds the guest's command line with one virtio_mmio.device=
 * entry per virtio device, which the trust process builds from the entry
 * (src/trust/verdict.c): the supervisor asks it to measure before the
 * policy's grant is decided, and never tells it the grant. A device the
 * policy withholds would give the guest another command line (and device
 * set) than the measured one, so such a start is refused instead.
 */
static int measured_devices_check(char *err, size_t errlen)
{
	unsigned i;

	if (!(cfg.flags & LVMM_PART_F_GATED) || plat_part_tpm(&msg.part) < 0 || all_devices_granted())
		return 0;
	for (i = 0; i < msg.part.ndevs && (msg.grant.granted >> i & 1); i++)
		;
	/* At most 127 bytes: the exit report's detail. */
	snprintf(err, errlen, "device %s refused by the policy: with a vTPM, a partition starts only "
		 "with all its devices", i < msg.part.ndevs ? msg.part.devs[i].id : "?");
	return -EPERM;
}

static void send_exit(int sup, const struct lvmm_exit *x)
{
	if (proto_send(sup, LVMM_MSG_EXIT, x, sizeof(*x), NULL, 0, 0))
		pr_debug("could not report exit to the supervisor");
}

static void fail_setup(int sup, int r, const char *why)
{
	struct lvmm_exit x;

	pr_err("%s", why);
	memset(&x, 0, sizeof(x));
	x.reason = LVMM_EXIT_SETUP;
	x.status = r;
	snprintf(x.detail, sizeof(x.detail), "%s", why);
	send_exit(sup, &x);
}

static void stats_reply(struct vm *vm, struct lvmm_ctl_reply *rep)
{
	unsigned i;

	for (i = 0; i < vm->nr_vcpus; i++) {
		struct timespec ts;
		clockid_t clk;

		/* Each vCPU thread's own CPU clock (the supervisor reads only the process's). */
		if (vm->vcpus[i].started && !pthread_getcpuclockid(vm->vcpus[i].thread, &clk) &&
		    !clock_gettime(clk, &ts))
			rep->vcpu_ns += (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
		rep->exits_io += atomic_load(&vm->vcpus[i].exits_io);
		rep->exits_mmio += atomic_load(&vm->vcpus[i].exits_mmio);
		rep->exits_hlt += atomic_load(&vm->vcpus[i].exits_hlt);
		rep->exits_other += atomic_load(&vm->vcpus[i].exits_other);
	}
	rep->dma_faults = atomic_load(&vm->gmem.dma_faults);
	rep->violations = atomic_load(&vm->prot.violations);
	rep->violations_suppressed = atomic_load(&vm->prot.suppressed);
	rep->protected_ranges = (uint32_t)atomic_load(&vm->gmem.nr_prot);
	rep->unhandled_io = atomic_load(&vm->pio.unhandled) + atomic_load(&vm->mmio.unhandled);
	devices_stats(&devices, rep);
}

/* Control messages from the supervisor, on the I/O thread. */
static void on_supervisor(void *opaque, uint32_t events)
{
	static struct lvmm_ctl_reply rep;
	struct vm *vm = opaque;
	struct lvmm_msg_hdr hdr;
	struct lvmm_ctl ctl;
	int r;

	r = proto_recv(vm->sup_fd, &hdr, &ctl, sizeof(ctl), NULL, 0, MSG_DONTWAIT);
	if (r == -EAGAIN)
		return;
	if (r || hdr.type != LVMM_MSG_CTL || hdr.len != sizeof(ctl)) {
		/* Supervisor gone (or talking nonsense): nobody can stop us later, so stop now. */
		iothread_del(&vm->io, vm->sup_fd);
		vm_exit_simple(vm, LVMM_EXIT_STOPPED, 0, "supervisor connection closed");
		return;
	}
	memset(&rep, 0, sizeof(rep));
	rep.op = ctl.op;
	rep.seq = ctl.seq;
	ctl.dev[sizeof(ctl.dev) - 1] = 0;
	switch (ctl.op) {
	case LVMM_CTL_PAUSE: r = vm_pause(vm); break;
	case LVMM_CTL_RESUME: r = vm_resume(vm); break;
	case LVMM_CTL_STOP:
		vm_exit_simple(vm, LVMM_EXIT_STOPPED, 0, "stopped by the supervisor");
		r = 0;
		break;
	case LVMM_CTL_LINK_DOWN:
	case LVMM_CTL_LINK_UP: r = devices_ctl(&devices, ctl.dev, ctl.op); break;
	case LVMM_CTL_STATS: stats_reply(vm, &rep); r = 0; break;
	case LVMM_CTL_POWER_BUTTON: r = devices_ctl(&devices, "acpi_pm", ctl.op); break;
	default: r = -EINVAL; break;
	}
	rep.result = r;
	rep.state = vm_public_state(vm);
	pthread_mutex_lock(&vm->sup_lock);
	if (proto_send(vm->sup_fd, LVMM_MSG_CTL_REPLY, &rep, sizeof(rep), NULL, 0, 0))
		pr_debug("control reply lost");
	pthread_mutex_unlock(&vm->sup_lock);
}

/*
 * Warn, once per partition start, naming every cpuid_disable feature that
 * KVM did not hide (the guest still sees it), and those only the guest's
 * kernel does not see because this host runs CPL3 CPUID natively
 * (docs/platform.md).
 */
static void cpuid_check_masks(struct vm *vm)
{
	char list[LVMM_MAX_CPUID_MASK * 32];
	uint32_t unhidden, user;
	int r;

	if (!cfg.ncpuid_mask)
		return;
	r = cpuid_unhidden(vm->vcpus[0].fd, cfg.cpuid_mask, cfg.ncpuid_mask, &unhidden);
	if (r) {
		pr_warn("cpuid_disable: cannot read the vCPU's CPUID back (%s): the masks may not "
			"have taken", strerror(-r));
		return;
	}
	user = cpuid_user_visible(cfg.cpuid_mask, cfg.ncpuid_mask) & ~unhidden;
	if (unhidden)
		pr_warn("cpuid_disable: this host's KVM cannot hide %s: the guest still sees %s",
			cpuid_mask_list(cfg.cpuid_mask, cfg.ncpuid_mask, unhidden, list, sizeof(list)),
			unhidden & (unhidden - 1) ? "them" : "it");
	if (user)
		pr_warn("cpuid_disable: guest user mode (CPL3) still sees %s: this host runs CPUID "
			"at CPL3 natively (kvm_pvm without CPUID faulting); the guest's kernel does not",
			cpuid_mask_list(cfg.cpuid_mask, cfg.ncpuid_mask, user, list, sizeof(list)));
	if (!unhidden && !user)
		pr_debug("cpuid_disable: all %u masks took", cfg.ncpuid_mask);
}

/* Is fd index idx used by anything but the boot image (console, a device)? */
static bool fd_index_shared(int32_t idx)
{
	unsigned i, k;

	if (idx == cfg.fd_console_out || idx == cfg.fd_console_in || idx == cfg.fd_mem ||
	    ((cfg.flags & LVMM_PART_F_CONSOLE_SOCK) && idx == cfg.fd_console_listen))
		return true;
	for (i = 0; i < cfg.ndevs; i++)
		for (k = 0; k < ARRAY_SIZE(cfg.devs[i].fd); k++)
			if (cfg.devs[i].fd[k] == idx)
				return true;
	return false;
}

/*
 * Least privilege: once everything is built, /dev/kvm (which can create
 * new VMs) and the boot images are not needed again, so they are not
 * kept for the guest's lifetime.
 */
static void close_setup_fds(struct vm *vm)
{
	const int32_t idx[] = { cfg.fd_kvm, cfg.fd_kernel, cfg.fd_initrd, cfg.fd_safe_kernel,
				cfg.fd_safe_initrd };
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(idx); i++) {
		if (idx[i] == LVMM_NO_FD || fds[idx[i]] < 0 || fd_index_shared(idx[i]))
			continue;
		close(fds[idx[i]]);
		fds[idx[i]] = -1;
	}
	vm->kvm_fd = -1;
}

/* Everything the guest needs, built in order; no thread runs yet. 0 or -errno with err set. */
static int partition_build(struct vm *vm, int sup, char *err, size_t errlen)
{
	unsigned i;
	int r;

	static struct gmem_prot_list regions;

	/* Kernel regions first: the memslots are built read-only around them. */
	r = boot_kernel_regions(&cfg, fds, &regions, err, errlen);
	if (r)
		return r;
	r = vm_create(vm, &cfg, fds, nfds, sup, &regions, err, errlen);
	if (r)
		return r;
	r = vcpu_global_init(vm->kvm_fd, &msg.cpuid);
	for (i = 0; !r && i < vm->nr_vcpus; i++)
		r = vcpu_create(vm, i);
	if (r) {
		snprintf(err, errlen, "creating vCPUs: %s", strerror(-r));
		return r;
	}
	pr_debug("vCPUs created");
	cpuid_check_masks(vm);
	/* Devices before the boot image: they take the virtio slots its command line lists. */
	r = devices_create(&devices, vm, err, errlen);
	if (r)
		return r;
	/*
	 * With every device granted, the slots taken are those the trust process
	 * counts from the entry (cmdline_virtio_slots()) for the command line it
	 * measures: a device model that takes a slot unknown to it is a bug, and
	 * is refused here rather than measured wrong.
	 */
	if (all_devices_granted() && vm->nr_virtio_slots != cmdline_virtio_slots(&msg.part)) {
		snprintf(err, errlen, "the devices took %u virtio-mmio slots, the measured command "
			 "line lists %u (vmm/cmdline.c does not know a device type)",
			 vm->nr_virtio_slots, cmdline_virtio_slots(&msg.part));
		return -EPROTO;
	}
	pr_debug("devices created");
	r = protect_devices(vm, err, errlen);
	if (r)
		return r;
	r = boot_load(vm, err, errlen);
	if (r)
		return r;
	pr_debug("kernel loaded");
	r = iothread_add(&vm->io, sup, EPOLLIN, on_supervisor, vm);
	if (r)
		snprintf(err, errlen, "watching the supervisor socket: %s", strerror(-r));
	return r;
}

/*
 * A gated start (LVMM_PART_F_GATED): the VM is built and the images are
 * loaded (with a safe image: not yet, the verdict says which set) while
 * the trust process verifies and measures, but no vCPU thread exists until
 * it sends its verdict on the gate (struct lvmm_gate): measured boot's
 * promise, PCRs extended before the first guest instruction and nothing
 * run on a refused boot, holds because nothing can run before this
 * returns 0. A go brings the vTPM's event log (*logfd, or -1); a go for
 * the safe image makes its set this start's. 0 (go), 1 (stopped while
 * waiting), or -errno with err set (refused, malformed, the trust process
 * or the supervisor gone).
 */
static int wait_verdict(struct vm *vm, int sup, int *logfd, char *err, size_t errlen)
{
	static union {
		struct lvmm_gate g;
		struct lvmm_ctl c;
	} u;
	static struct lvmm_ctl_reply rep;
	struct lvmm_msg_hdr hdr;
	uint64_t t0 = now_ns();
	bool tpm = false, safe = cfg.fd_safe_kernel != LVMM_NO_FD;
	int gate = fds[cfg.fd_gate], fd = -1, r;
	unsigned i, guard;

	for (i = 0; i < cfg.ndevs; i++)
		tpm |= cfg.devs[i].type == LVMM_DEV_TPM;
	/* Bounded: a control request while waiting is answered "busy" (a stop ends the wait). */
	for (guard = 0; guard < 64; guard++) {
		struct pollfd p[2] = { { .fd = gate, .events = POLLIN }, { .fd = sup, .events = POLLIN } };

		if (poll(p, 2, -1) < 0 && errno != EINTR) {
			r = -errno;
			snprintf(err, errlen, "waiting for the verdict: %s", strerror(-r));
			return r;
		}
		if (p[0].revents)
			break; /* the verdict, or the gate closed without one */
		if (!p[1].revents)
			continue;
		memset(&hdr, 0, sizeof(hdr));
		r = proto_recv(sup, &hdr, &u.c, sizeof(u.c), NULL, 0, 0);
		if (r || hdr.type != LVMM_MSG_CTL || hdr.len != sizeof(u.c) || hdr.nfds) {
			snprintf(err, errlen, "the supervisor is gone, or sent message type %u at the gate",
				 hdr.type);
			return r ? r : -EPROTO;
		}
		if (u.c.op == LVMM_CTL_STOP)
			return 1;
		memset(&rep, 0, sizeof(rep));
		rep.op = u.c.op;
		rep.seq = u.c.seq;
		rep.result = -EBUSY;
		rep.state = vm_public_state(vm);
		if (proto_send(sup, LVMM_MSG_CTL_REPLY, &rep, sizeof(rep), NULL, 0, 0))
			pr_debug("control reply lost");
	}
	memset(&hdr, 0, sizeof(hdr));
	r = guard < 64 ? proto_recv(gate, &hdr, &u.g, sizeof(u.g), &fd, 1, MSG_DONTWAIT) : -EBUSY;
	close(gate); /* it carries one verdict */
	fds[cfg.fd_gate] = -1;
	if (r) {
		snprintf(err, errlen, "boot refused: its trust process ended without a verdict (%s)",
			 strerror(-r));
		return r;
	}
	/* 0 ms: verification and measurement were entirely hidden behind the build (bench/trust.sh). */
	pr_debug("waited %" PRIu64 " us at the gate for the verdict", (now_ns() - t0) / 1000);
	if (hdr.type != LVMM_MSG_GATE || hdr.len != sizeof(u.g) || u.g.go > 2 || (u.g.go == 2 && !safe) ||
	    hdr.nfds != (u.g.go && tpm)) {
		if (hdr.nfds)
			close(fd);
		snprintf(err, errlen, "no valid verdict from the trust process (message type %u)", hdr.type);
		return -EPROTO;
	}
	if (!u.g.go) {
		u.g.why[sizeof(u.g.why) - 1] = 0;
		snprintf(err, errlen, "boot refused: %.200s", u.g.why);
		return -EPERM;
	}
	if (u.g.go == 2) {
		/* The safe image's set is this start's: loaded, and its entry's command line used. */
		int32_t k = cfg.fd_kernel, i2 = cfg.fd_initrd;

		cfg.fd_kernel = cfg.fd_safe_kernel, cfg.fd_initrd = cfg.fd_safe_initrd;
		cfg.fd_safe_kernel = k, cfg.fd_safe_initrd = i2;
		_Static_assert(sizeof(cfg.cmdline) == sizeof(msg.part.safe.cmdline), "the same limit");
		memcpy(cfg.cmdline, msg.part.safe.cmdline, sizeof(cfg.cmdline)); /* terminated: part_config.c */
	}
	*logfd = hdr.nfds ? fd : -1;
	return 0;
}

/* The vTPM's event log (a go's fd, consumed) into guest memory. 0 or -errno with err set. */
static int place_eventlog(struct vm *vm, int fd, char *err, size_t errlen)
{
	int r = fd < 0 ? 0 : tpm_crb_place_eventlog(vm, fd);

	if (fd >= 0)
		close(fd);
	if (r)
		snprintf(err, errlen, "the vTPM's event log: %s", strerror(-r));
	return r;
}

/*
 * Start the I/O thread and every vCPU thread, and wait until each vCPU
 * has named and pinned itself (both forbidden by the sandbox); the vCPUs
 * then wait at the gate. 0 or -errno with err set.
 */
static int partition_start_threads(struct vm *vm, char *err, size_t errlen)
{
	unsigned i;
	int r;

	/* The I/O thread shares the vCPUs' dedicated host CPUs, if there are any. */
	CPU_ZERO(&vm->io.cpus);
	for (i = 0; i < vm->nr_vcpus; i++) {
		if (vm->cfg->host_cpus[i] >= 0) {
			CPU_SET(vm->cfg->host_cpus[i], &vm->io.cpus);
			vm->io.pin = true;
		}
	}
	vm->io.hold = true; /* until the sandbox is on: iothread_release below */
	thread_start_narrow(); /* the threads start on this CPU, while this one waits for them */
	r = iothread_start(&vm->io);

	for (i = 0; !r && i < vm->nr_vcpus; i++)
		r = vcpu_start(&vm->vcpus[i]);
	vm_wait_gate(vm);
	thread_start_widen();
	if (r)
		snprintf(err, errlen, "starting threads: %s", strerror(-r));
	return r;
}

/* Wait for every vCPU thread to end (after an exit request), then stop the I/O thread. */
static void partition_join(struct vm *vm)
{
	unsigned i;

	pr_debug("joining vCPU threads");
	for (i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(&vm->vcpus[i]);
	pr_debug("vCPU threads joined");
	/* The per-instruction lines are rate-limited: the totals, once. */
	for (i = 0; i < vm->nr_vcpus; i++) {
		uint64_t n3 = atomic_load(&vm->vcpus[i].fixup_int3);
		uint64_t nw = atomic_load(&vm->vcpus[i].fixup_fwait);

		if (n3 || nw)
			pr_info("vcpu%u: completed %" PRIu64 " int3 and %" PRIu64 " fwait at CPL0 "
				"(KVM's emulator rejects them here)", i, n3, nw);
	}
	iothread_stop(&vm->io);
}

/* The vCPUs (each holds a reference to the VM), then the VM object and its memory. */
static void partition_close_vm(struct vm *vm)
{
	unsigned i;

	for (i = 0; i < vm->nr_vcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	vm_destroy(vm);
}

/* Undo partition_build in reverse: devices, then vCPUs and the VM. */
static void partition_teardown(struct vm *vm)
{
	devices_destroy(&devices);
	partition_close_vm(vm);
}

/*
 * The images the guest may write: the only fds the sandbox lets positional
 * writes and fallocate name; and the console's output, whose size the UART
 * may look up.
 */
static void sandbox_fds(const struct vm *vm)
{
	unsigned i;

	sandbox.ndisks = 0;
	for (i = 0; i < cfg.ndevs && i < LVMM_MAX_DEVS; i++)
		if (cfg.devs[i].type == LVMM_DEV_BLK && !(cfg.devs[i].flags & LVMM_DEV_F_READONLY) &&
		    !virtio_cfg_fd(vm, &cfg.devs[i], 0, &sandbox.disk_fds[sandbox.ndisks]))
			sandbox.ndisks++;
	sandbox.console_fd = cfg.console_limit && cfg.fd_console_out != LVMM_NO_FD ?
			     vm->fds[cfg.fd_console_out] : -1;
}

int partition_main(int sup)
{
	struct lvmm_msg_hdr hdr;
	struct vm *vm = &the_vm;
	int r, logfd = -1;
	bool early, built;
	char err[256];

	/* If the supervisor dies, so do we: nobody else may hold this VM (re-armed by the sandbox). */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	sandbox.parent = getppid();
	if (sandbox.parent == 1)
		return 1;
	r = proto_recv(sup, &hdr, &msg, sizeof(msg), fds, LVMM_MSG_MAX_FDS, 0);
	if (r || hdr.type != LVMM_MSG_CONFIG || hdr.len != sizeof(msg)) {
		fprintf(stderr, "lvmm partition: no valid configuration from the supervisor\n");
		return 1;
	}
	nfds = hdr.nfds;
	r = part_config_build(&msg, &cfg, err, sizeof(err));
	if (!r)
		r = config_validate(err, sizeof(err));
	if (!r)
		r = measured_devices_check(err, sizeof(err));
	if (r) {
		fail_setup(sup, r, err);
		return 1;
	}
	log_level = (int)cfg.log_level;
	{
		char pfx[LVMM_NAME_MAX + 8];

		snprintf(pfx, sizeof(pfx), "lvmm[%s]", cfg.name);
		log_set_prefix(pfx);
	}
	pr_debug("configuration built");
	r = part_lock_disks(&msg, fds, nfds, err, sizeof(err));
	if (r) {
		fail_setup(sup, r, err);
		return 1;
	}
	/* Its own sealed copies of the images (a gated start's trust process hashes them meanwhile). */
	r = images_seal(&cfg, fds, cfg.flags & LVMM_PART_F_GATED ? fds[cfg.fd_gate] : -1, err,
			sizeof(err));
	/* With a safe image the verdict says which image set to build with: it comes first. */
	early = (cfg.flags & LVMM_PART_F_GATED) && cfg.fd_safe_kernel != LVMM_NO_FD;
	if (!r && early)
		r = wait_verdict(vm, sup, &logfd, err, sizeof(err));
	built = !r;
	if (!r)
		r = partition_build(vm, sup, err, sizeof(err));
	if (!r && (cfg.flags & LVMM_PART_F_GATED) && !early)
		r = wait_verdict(vm, sup, &logfd, err, sizeof(err));
	if (r == 1) {
		struct lvmm_exit x = { .reason = LVMM_EXIT_STOPPED };

		snprintf(x.detail, sizeof(x.detail), "stopped while its boot was being verified");
		send_exit(sup, &x);
		if (built)
			partition_teardown(vm);
		return 0;
	}
	if (!r)
		r = place_eventlog(vm, logfd, err, sizeof(err));
	else if (logfd >= 0)
		close(logfd);
	if (r)
		goto fail;
	r = partition_start_threads(vm, err, sizeof(err));
	if (r)
		goto fail_running;
	close_setup_fds(vm);
	sandbox_fds(vm);
	r = sandbox_apply(&sandbox, err, sizeof(err));
	if (r)
		goto fail_running;
	iothread_release(&vm->io);
	if (proto_send(sup, LVMM_MSG_READY, NULL, 0, NULL, 0, 0))
		pr_debug("could not report readiness");
	pr_debug("sandboxed; starting the guest");
	protect_start(vm);
	vm_open_gate(vm);
	partition_join(vm);
	pr_debug("guest ended: %s", vm->exit.detail);
	/*
	 * The supervisor reports how the guest ended (with RIP and bytes on a
	 * crash). Final counters first (seq 0: nobody asked), for its summary;
	 * then the devices (console flushed, disks and TAPs closed: the
	 * supervisor may hand them to a restarted partition), then the report.
	 * Then the VM is closed by hand, before its memory, rather than left
	 * to process exit as QEMU does: at exit the kernel tears down the
	 * memory first, and its MMU notifier's release waits for one SRCU
	 * grace period, then the VM's destruction waits for another. Closed
	 * here, the VM takes its notifier with it and the exit waits for
	 * none. A grace period is ~0.1 ms when nothing else waits for one but
	 * several jiffies when partitions stop together: stopping 8 idle
	 * partitions at once took 6-50 ms (median 18), 5-20 ms (median 11)
	 * this way; 32 took 35-50, 14-35 (bench/teardown.sh).
	 */
	{
		static struct lvmm_ctl_reply rep;

		memset(&rep, 0, sizeof(rep));
		rep.op = LVMM_CTL_STATS;
		stats_reply(vm, &rep);
		if (proto_send(sup, LVMM_MSG_CTL_REPLY, &rep, sizeof(rep), NULL, 0, 0))
			pr_debug("final statistics lost");
	}
	devices_destroy(&devices);
	send_exit(sup, &vm->exit);
	if (!vm->exit_keeps_vm)
		partition_close_vm(vm);
	return 0;

fail_running:
	vm_exit_simple(vm, LVMM_EXIT_SETUP, r, err);
	vm_open_gate(vm);
	partition_join(vm);
fail:
	fail_setup(sup, r, err);
	if (built)
		partition_teardown(vm);
	return 1;
}
