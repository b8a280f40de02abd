// SPDX-License-Identifier: MIT
/*
 * The partition's sandbox: identity, death with the supervisor, and the
 * seccomp allow-list. Keep docs/sandbox.md in sync with the tables here:
 * it gives the reason for every entry.
 */
#include "vmm/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <linux/kvm.h>
#include <malloc.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "shared/memlimit.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

/*
 * Every system call a running partition makes (measured with strace over
 * the integration suite, then checked against the code paths), grouped by
 * who needs it. Calls with argument filters (ioctl, tgkill, mmap,
 * mprotect) are added separately below. Keep this list short: every entry
 * is attack surface.
 */
static const int allowed[] = {
	/* Device I/O on the fds the partition was given. */
	SCMP_SYS(read), SCMP_SYS(write),          /* eventfds, timerfds, TAP, console */
	SCMP_SYS(readv), SCMP_SYS(writev),        /* virtio-console, TAP tx, UART output */
	SCMP_SYS(preadv),                         /* virtio-blk requests (pwritev: disk_rules) */
	SCMP_SYS(fdatasync),                      /* virtio-blk flush */
	/*
	 * virtio-blk's io_uring: submit and reap. The ring was set up before
	 * the filter and restricted (src/devices/blk_io.h) to READV, WRITEV
	 * and FSYNC on the image as fixed file 0, with no register operation:
	 * io_uring_setup and io_uring_register stay forbidden.
	 */
	SCMP_SYS(io_uring_enter),
	SCMP_SYS(accept4),                        /* a listening virtio-console stream */
	SCMP_SYS(close),                          /* a console peer leaves; device teardown */
	/* The I/O thread's loop and its timers. */
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_ctl), SCMP_SYS(timerfd_settime),
	SCMP_SYS(poll),                           /* confirming a hang-up on one fd */
	/* Messages to and from the supervisor (SOCK_SEQPACKET, fds by SCM_RIGHTS). */
	SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),
	/* Threads: locks, the vCPU kick, thread exit. */
	SCMP_SYS(futex), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(restart_syscall), SCMP_SYS(getpid), SCMP_SYS(gettid),
	SCMP_SYS(madvise), SCMP_SYS(munmap), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(sched_yield),                    /* the UART waits its turn at a shared console file */
	/* glibc: the allocator, and clocks where the vDSO cannot answer. */
	SCMP_SYS(brk), SCMP_SYS(getrandom), SCMP_SYS(clock_gettime),
#ifdef __SANITIZE_ADDRESS__
	/* ASan/UBSan runtimes, in the sanitizer build only (make SAN=1). */
	SCMP_SYS(sigaltstack), SCMP_SYS(sched_getaffinity),
#endif
};

/*
 * The only ioctl requests a running partition makes, on whatever fd (a
 * seccomp filter cannot see which file an fd is; /dev/kvm itself is
 * closed before the filter is loaded, so no VM can be created).
 */
static const unsigned long allowed_ioctls[] = {
	KVM_RUN,       /* vCPU threads: run the guest */
	KVM_GET_REGS,  /* crash report: RIP of a failed vCPU */
	KVM_GET_SREGS, /* crash report: CS base, to read the faulting instruction */
	KVM_TRANSLATE, /* crash report: the instruction's guest-physical address */
	KVM_SET_REGS,  /* int3/fwait at CPL0 (vmm/insn_fixup.h): RIP past the instruction */
	KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, /* int3 at CPL0: inject #BP */
	KVM_GET_FPU,   /* fwait at CPL0: is an x87 exception pending? */
	/*
	 * Interrupts (devices/ioapic.c): a line raised from user space (the
	 * UART) is one MSI; a guest's write of a redirection entry replaces
	 * its own VM's routes. Virtio interrupts use irqfds. KVM_IRQ_LINE:
	 * the UART with LVMM_IRQCHIP=kernel.
	 */
	KVM_SIGNAL_MSI, KVM_SET_GSI_ROUTING, KVM_IRQ_LINE,
	/*
	 * The guest's run-time page lock splits its own RAM slots (protect.c).
	 * The process already maps that memory, so remapping its own VM's
	 * memory grants nothing; the VM fd can reach no other VM.
	 */
	KVM_SET_USER_MEMORY_REGION,
	TUNSETOFFLOAD, /* virtio-net on a TAP: offloads follow what the guest accepted */
	FIONREAD,      /* virtio-console: bytes left after the peer hung up */
};

static int rule(scmp_filter_ctx ctx, int nr, unsigned n, const struct scmp_arg_cmp *a)
{
	int r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, a);

	return r == -EFAULT ? 0 : r; /* -EFAULT: syscall unknown on this architecture */
}

/*
 * Positional writes and fallocate, on the writable images only (their fds
 * compared whole, 64 bits: the kernel reads 32). Anywhere else they could
 * rewrite or punch holes into the supervisor's log (stdout and stderr are
 * shared) or allocate the host's disk; fallocate only punches or zeroes,
 * keeping the size, as discard and write-zeroes do (virtio_blk.c).
 */
static int disk_rules(scmp_filter_ctx ctx, const struct sandbox_cfg *c)
{
	static const scmp_datum_t modes[] = { FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					      FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE };
	unsigned i, k;
	int r = 0;

	for (i = 0; !r && i < c->ndisks && i < LVMM_MAX_DEVS; i++) {
		struct scmp_arg_cmp a[2] = { SCMP_A0_64(SCMP_CMP_EQ, (scmp_datum_t)c->disk_fds[i]) };

		r = rule(ctx, SCMP_SYS(pwritev), 1, a);       /* virtio-blk requests */
		if (!r)
			r = rule(ctx, SCMP_SYS(pwrite64), 1, a); /* its write-zeroes fallback */
		for (k = 0; !r && k < ARRAY_SIZE(modes); k++) {
			a[1] = (struct scmp_arg_cmp)SCMP_A1_64(SCMP_CMP_EQ, modes[k]);
			r = rule(ctx, SCMP_SYS(fallocate), 2, a);
		}
	}
	return r;
}

static int build_filter(scmp_filter_ctx ctx, const struct sandbox_cfg *c, pid_t self, char *err,
			size_t errlen)
{
	size_t i;
	int r = 0;

	for (i = 0; !r && i < ARRAY_SIZE(allowed); i++)
		r = rule(ctx, allowed[i], 0, NULL);
	if (r) {
		snprintf(err, errlen, "seccomp rule for syscall %d: %s", allowed[i - 1], strerror(-r));
		return r;
	}
	for (i = 0; !r && i < ARRAY_SIZE(allowed_ioctls); i++) {
		struct scmp_arg_cmp a = SCMP_A1_64(SCMP_CMP_EQ, allowed_ioctls[i]);

		r = rule(ctx, SCMP_SYS(ioctl), 1, &a);
	}
	if (r) {
		snprintf(err, errlen, "seccomp rule for ioctl 0x%lx: %s", allowed_ioctls[i - 1],
			 strerror(-r));
		return r;
	}
	/*
	 * Signals: only to this process's own threads (the vCPU kick,
	 * raise/abort). tgkill's first argument is the target's thread group,
	 * so nothing else, in particular no sibling partition, can be
	 * signalled; kill and tkill name any process and are not allowed.
	 */
	{
		struct scmp_arg_cmp a = SCMP_A0_64(SCMP_CMP_EQ, (scmp_datum_t)self);

		r = rule(ctx, SCMP_SYS(tgkill), 1, &a);
	}
	/*
	 * The UART shrinks each console client's send buffer (SO_SNDBUF
	 * only), so that a client that does not read holds at most the ring
	 * plus that much: its loss starts early and is counted.
	 */
	if (!r) {
		struct scmp_arg_cmp a[2] = { SCMP_A1_64(SCMP_CMP_EQ, SOL_SOCKET),
					     SCMP_A2_64(SCMP_CMP_EQ, SO_SNDBUF) };

		r = rule(ctx, SCMP_SYS(setsockopt), 2, a);
	}
	/*
	 * io_uring_register only to drop virtio-blk's image from its ring at
	 * the end (blk_io_exit); the ring's own restrictions allow nothing
	 * else either.
	 */
	if (!r) {
		struct scmp_arg_cmp a = SCMP_A1_64(SCMP_CMP_EQ, IORING_UNREGISTER_FILES);

		r = rule(ctx, SCMP_SYS(io_uring_register), 1, &a);
	}
	if (!r)
		r = disk_rules(ctx, c);
	/*
	 * The UART looks its console file's size up before each write
	 * (console_limit: uart.c) by seeking to its end, on that fd only:
	 * where writes to it go anyway.
	 */
	if (!r && c->console_fd >= 0) {
		struct scmp_arg_cmp a[3] = { SCMP_A0_64(SCMP_CMP_EQ, (scmp_datum_t)c->console_fd),
					     SCMP_A1_64(SCMP_CMP_EQ, 0), SCMP_A2_64(SCMP_CMP_EQ, SEEK_END) };

		r = rule(ctx, SCMP_SYS(lseek), 3, a);
		/*
		 * ... under a POSIX record lock on it (F_SETLK only: lock,
		 * unlock, never wait), so that partitions sharing the file
		 * take turns.
		 */
		a[1] = SCMP_A1_64(SCMP_CMP_EQ, F_SETLK);
		if (!r)
			r = rule(ctx, SCMP_SYS(fcntl), 2, a);
	}
	/* Memory, but never executable: a compromised process cannot make new code. */
	if (!r) {
		struct scmp_arg_cmp a = SCMP_A2_64(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);

		r = rule(ctx, SCMP_SYS(mmap), 1, &a);
		if (!r)
			r = rule(ctx, SCMP_SYS(mprotect), 1, &a);
	}
	if (r)
		snprintf(err, errlen, "seccomp argument rules: %s", strerror(-r));
	return r;
}

/* Become uid/gid for good: no supplementary groups, and check root cannot come back. */
static int drop_identity(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	int r;

	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
		r = -errno;
		snprintf(err, errlen, "dropping to uid %u gid %u: %s", (unsigned)uid, (unsigned)gid,
			 strerror(-r));
		return r;
	}
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != uid ||
	    eu != uid || su != uid || rg != gid || eg != gid || sg != gid ||
	    setresuid(0, 0, 0) == 0) {
		snprintf(err, errlen, "dropping to uid %u gid %u did not take", (unsigned)uid,
			 (unsigned)gid);
		return -EPERM;
	}
	return 0;
}

int sandbox_apply(const struct sandbox_cfg *c, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int r;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(-r));
		return r;
	}
	/*
	 * Guest RAM, the images, links and rings, the threads' stacks are all
	 * mapped by now; the run needs little more (docs/sandbox.md).
	 */
	r = sandbox_limit_address_space(SANDBOX_AS_HEADROOM, err, errlen);
	if (r)
		return r;
	if (geteuid() == 0) {
		r = drop_identity(c->uid, c->gid, err, errlen);
		if (r)
			return r;
	}
	/*
	 * After the identity change, which resets both: guest memory must not
	 * end up in a core file, and the kernel's "parent died" signal is
	 * cleared by a credential change. Without it a partition that cannot
	 * notice its supervisor's death (SIGSTOPped, wedged) would outlive it,
	 * holding its disk locks. If the supervisor died before the signal
	 * was armed, the parent has changed: stop here.
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
		r = -errno;
		snprintf(err, errlen, "prctl: %s", strerror(-r));
		return r;
	}
	if (getppid() != c->parent) {
		snprintf(err, errlen, "the supervisor (pid %d) is gone", (int)c->parent);
		return -ESRCH;
	}
#ifdef __SANITIZE_ADDRESS__
	/*
	 * LeakSanitizer's end-of-process check stops the world with prctl,
	 * clone and ptrace, which the filter forbids: the process would die
	 * of SIGSYS at exit. Check now instead (setup's allocations); this
	 * also turns the exit-time check off.
	 */
	__lsan_do_leak_check();
#endif
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		snprintf(err, errlen, "seccomp_init failed");
		return -ENOMEM;
	}
	r = build_filter(ctx, c, getpid(), err, errlen);
	if (r)
		goto out;
	/*
	 * Apply to the vCPU and I/O threads that already exist, atomically; a
	 * call of another architecture (i386, x32) kills the process, not only
	 * the thread (libseccomp's default).
	 */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!r)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (!r)
		r = seccomp_load(ctx);
	if (r)
		snprintf(err, errlen, "loading the seccomp filter: %s", strerror(-r));
out:
	seccomp_release(ctx);
	/*
	 * libseccomp built the filter in ~130 KiB of small allocations, all
	 * freed now: give their pages back (brk and madvise are allowed), or
	 * every partition keeps ~28 KiB of dirty heap it never uses again.
	 */
	malloc_trim(0);
	return r;
}
