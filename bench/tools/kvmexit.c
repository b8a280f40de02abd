// SPDX-License-Identifier: MIT
/*
 * kvmexit: where a VMM's exit time goes in the kernel. A child process sets
 * up a KVM VM the way a VMM does, runs one vCPU to its first exit, and
 * exits; the parent measures from the child's "about to exit" to waitpid()
 * returning: the kernel's teardown of the process and its VM. Configurations
 * (each the median of N runs):
 *   vcpu        VM, 64 MiB memfd guest RAM, one vCPU that ran
 *   split       + KVM_CAP_SPLIT_IRQCHIP (LAPIC in the kernel, PIC/IOAPIC/PIT
 *                 in user space): what QEMU microvm and lvmm ask for
 *   irqchip     + KVM_CREATE_IRQCHIP (in-kernel PIC and IOAPIC)
 *   irqchip_pit + KVM_CREATE_PIT2: lvmm with LVMM_IRQCHIP=kernel
 *   split8      8 split-irqchip processes told to exit one after another
 *                 (each its own pipe closing, as a supervisor stops its
 *                 partitions), to the last waitpid(): the VM left to
 *                 process exit (QEMU; lvmm with LVMM_VM_TEARDOWN=exit)
 *   split8_closed the same, each closing its vCPU and VM before it exits
 *                 (what an lvmm partition does)
 *
 * Process exit frees the memory before the last file goes: KVM's MMU
 * notifier is released (one SRCU grace period), then the VM destroyed
 * (another). Closed first, the VM takes its notifier along (one). A grace
 * period asked for while none is running is expedited (~0.1 ms); one asked
 * for while another process's is running is a normal one, a few jiffies:
 * the split8 pair shows what that does to processes exiting in a row.
 *
 *   kvmexit [N]   -> one line: vcpu_ms=.. split_ms=.. irqchip_ms=.. irqchip_pit_ms=..
 *                    split8_ms=.. split8_closed_ms=..
 *   kvmexit N CONF -> only that configuration (for perf: bench/teardown.sh)
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { VCPU = 0, SPLIT = 1, IRQCHIP = 2, IRQCHIP_PIT = 3, SPLIT8 = 4, SPLIT8_CLOSED = 5, NCONF = 6 };
static const char *const names[NCONF] = { "vcpu", "split", "irqchip", "irqchip_pit", "split8",
					   "split8_closed" };
#define TOGETHER 8 /* processes in the split8 configurations */

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * In the child: build the VM, run the vCPU once, report readiness on fd;
 * with go >= 0 wait for it to close (split8*); exit.
 */
static void child(int conf, int fd, int go)
{
	size_t sz = 64 << 20;
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, mfd, vcpu, runsz;
	struct kvm_userspace_memory_region r;
	struct kvm_run *run;
	struct kvm_sregs s;
	struct kvm_regs rg;
	uint8_t *mem;
	char c = 1;

	vm = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);
	mfd = memfd_create("guest", MFD_CLOEXEC);
	if (vm < 0 || mfd < 0 || ftruncate(mfd, (off_t)sz))
		_exit(2);
	mem = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	r = (struct kvm_userspace_memory_region){ .memory_size = sz, .userspace_addr = (uintptr_t)mem };
	if (mem == MAP_FAILED || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r))
		_exit(2);
	if (conf == SPLIT || conf >= SPLIT8) {
		struct kvm_enable_cap cap = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { 24 } };

		if (ioctl(vm, KVM_ENABLE_CAP, &cap))
			_exit(3);
	} else if ((conf == IRQCHIP || conf == IRQCHIP_PIT) && ioctl(vm, KVM_CREATE_IRQCHIP, 0)) {
		_exit(3);
	}
	if (conf == IRQCHIP_PIT) {
		struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

		if (ioctl(vm, KVM_CREATE_PIT2, &pit))
			_exit(3);
	}
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	runsz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || runsz <= 0)
		_exit(4);
	run = mmap(NULL, (size_t)runsz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	/* Real mode at 0x1000: out %al, $0x10 (an exit to us). */
	memcpy(mem + 0x1000, "\xe6\x10\xf4", 3);
	if (run == MAP_FAILED || ioctl(vcpu, KVM_GET_SREGS, &s))
		_exit(4);
	s.cs.base = 0;
	s.cs.selector = 0;
	memset(&rg, 0, sizeof(rg));
	rg.rip = 0x1000;
	rg.rflags = 2;
	if (ioctl(vcpu, KVM_SET_SREGS, &s) || ioctl(vcpu, KVM_SET_REGS, &rg) || ioctl(vcpu, KVM_RUN, 0))
		_exit(5);
	if (write(fd, &c, 1) != 1)
		_exit(6);
	if (go >= 0 && read(go, &c, 1) < 0)
		_exit(7);
	if (conf == SPLIT8_CLOSED) {
		munmap(run, (size_t)runsz);
		close(vcpu);
		close(vm);
	}
	_exit(0);
}

/* split8*: TOGETHER children ready, then told one after another (their pipes close); ms to the last exit. */
static double together(int conf)
{
	int rd[2], go[TOGETHER][2], i, k, n, st;
	pid_t pid[TOGETHER];
	double t0;
	char c;

	if (pipe(rd))
		return -1;
	for (i = 0; i < TOGETHER; i++) {
		if (pipe(go[i]))
			return -1;
		pid[i] = fork();
		if (pid[i] == 0) {
			close(rd[0]);
			close(go[i][1]);
			child(conf, rd[1], go[i][0]);
		}
		close(go[i][0]);
		if (pid[i] < 0)
			break;
	}
	n = i; /* the children there are */
	close(rd[1]);
	for (i = 0; i < n; i++)
		if (read(rd[0], &c, 1) != 1)
			break;
	t0 = now_ms();
	for (k = 0; k < n; k++)
		close(go[k][1]);
	for (k = 0; k < n; k++)
		waitpid(pid[k], &st, 0);
	close(rd[0]);
	if (i < TOGETHER) {
		fprintf(stderr, "kvmexit: %s: a child failed\n", names[conf]);
		return -1;
	}
	return now_ms() - t0;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 7, conf, i, only = -1;
	double t[64];

	if (n < 1 || n > 64)
		return 2;
	for (conf = 0; argc > 2 && conf < NCONF; conf++)
		if (!strcmp(argv[2], names[conf]))
			only = conf;
	if (argc > 2 && only < 0)
		return 2;
	for (conf = 0; conf < NCONF; conf++) {
		if (only >= 0 && conf != only)
			continue;
		for (i = 0; i < n && conf >= SPLIT8; i++) { /* the rest run one process at a time */
			t[i] = together(conf);
			if (t[i] < 0)
				return 1;
		}
		for (i = 0; i < n && conf < SPLIT8; i++) {
			int p[2], st;
			double t0;
			pid_t pid;
			char c;

			if (pipe(p))
				return 1;
			pid = fork();
			if (pid == 0) {
				close(p[0]);
				child(conf, p[1], -1);
			}
			close(p[1]);
			if (read(p[0], &c, 1) != 1) {
				fprintf(stderr, "kvmexit: %s: the child failed\n", names[conf]);
				waitpid(pid, &st, 0);
				return 1;
			}
			t0 = now_ms();
			waitpid(pid, &st, 0);
			t[i] = now_ms() - t0;
			close(p[0]);
		}
		qsort(t, (size_t)n, sizeof(t[0]), cmp);
		printf("%s%s_ms=%.2f", conf && only < 0 ? " " : "", names[conf], t[n / 2]);
	}
	printf("\n");
	return 0;
}
