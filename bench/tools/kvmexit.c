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
 *
 *   kvmexit [N]   -> one line: vcpu_ms=.. split_ms=.. irqchip_ms=.. irqchip_pit_ms=..
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

enum { VCPU = 0, SPLIT = 1, IRQCHIP = 2, IRQCHIP_PIT = 3, NCONF = 4 };
static const char *const names[NCONF] = { "vcpu", "split", "irqchip", "irqchip_pit" };

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

/* In the child: build the VM, run the vCPU once, report readiness on fd, exit. */
static void child(int conf, int fd)
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
	if (conf == SPLIT) {
		struct kvm_enable_cap cap = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { 24 } };

		if (ioctl(vm, KVM_ENABLE_CAP, &cap))
			_exit(3);
	} else if (conf >= IRQCHIP && ioctl(vm, KVM_CREATE_IRQCHIP, 0)) {
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
	_exit(0);
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
		for (i = 0; i < n; i++) {
			int p[2], st;
			double t0;
			pid_t pid;
			char c;

			if (pipe(p))
				return 1;
			pid = fork();
			if (pid == 0) {
				close(p[0]);
				child(conf, p[1]);
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
