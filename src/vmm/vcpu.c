// SPDX-License-Identifier: MIT
/*
 * vCPUs: CPUID, MSRs, initial register state for each boot kind, and the
 * KVM_RUN loop with its exit handling. Every exit reason is either handled
 * or turned into a partition exit that says what happened.
 */
#include "vmm/vcpu.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "shared/ratelimit.h"
#include "lvmm/guest_abi.h"
#include "vmm/cpuid.h"
#include "vmm/insn_fixup.h"
#include "vmm/thread_start.h"
#include "vmm/vm.h"
#include "shared/range.h"

static struct lvmm_cpuid_table supported;
static int run_mmap_size;

static void kick_handler(int sig)
{
	(void)sig; /* only there to interrupt KVM_RUN */
}

int vcpu_global_init(int kvm_fd, const struct lvmm_cpuid_table *given)
{
	struct sigaction sa;
	int r = 0;

	if (given && given->nent && given->nent <= LVMM_MAX_CPUID_ENTRIES)
		memcpy(&supported, given, sizeof(supported));
	else
		r = cpuid_get_supported(kvm_fd, &supported);
	if (r) {
		pr_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(-r));
		return r;
	}
	run_mmap_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_mmap_size < (int)sizeof(struct kvm_run)) {
		pr_err("KVM_GET_VCPU_MMAP_SIZE returned %d", run_mmap_size);
		return -EINVAL;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler; /* no SA_RESTART: KVM_RUN must return EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	return 0;
}

/* This vCPU's CPUID: KVM's supported set, our topology, the platform's masks. */
static int vcpu_set_cpuid(struct vcpu *v)
{
	static struct lvmm_cpuid_table c; /* vCPUs are created one at a time, on the main thread */
	const struct lvmm_part_config *cfg = v->vm->cfg;

	memcpy(&c, &supported, sizeof(c));
	cpuid_build(&c, v->id, v->vm->nr_vcpus, cfg->cpuid_mask,
		    MIN(cfg->ncpuid_mask, (uint32_t)LVMM_MAX_CPUID_MASK));
	if (ioctl(v->fd, KVM_SET_CPUID2, &c) < 0)
		return -errno;
	return 0;
}

#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR              0xc0000081
#define MSR_LSTAR             0xc0000082
#define MSR_CSTAR             0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102

static int vcpu_set_msrs(struct vcpu *v)
{
	static const struct { uint32_t idx; uint64_t val; } init[] = {
		{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 }, { MSR_STAR, 0 }, { MSR_LSTAR, 0 },
		{ MSR_CSTAR, 0 }, { MSR_SYSCALL_MASK, 0 }, { MSR_KERNEL_GS_BASE, 0 },
		{ MSR_IA32_MISC_ENABLE, 1 },               /* fast strings */
		{ MSR_MTRR_DEF_TYPE, (1U << 11) | 6 },    /* MTRRs on, default write-back */
	};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[ARRAY_SIZE(init)];
	} m;
	unsigned i;
	int r;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = ARRAY_SIZE(init);
	for (i = 0; i < ARRAY_SIZE(init); i++) {
		m.e[i].index = init[i].idx;
		m.e[i].data = init[i].val;
	}
	r = ioctl(v->fd, KVM_SET_MSRS, &m);
	if (r < 0)
		return -errno;
	if ((unsigned)r != ARRAY_SIZE(init))
		pr_debug("vcpu%u: KVM accepted %d of %zu boot MSRs (MSR 0x%x refused)", v->id, r,
			 ARRAY_SIZE(init), init[r].idx);
	return 0;
}

/* LINT0 = ExtINT (the PIC), LINT1 = NMI, as firmware leaves them. */
static int vcpu_set_lint(struct vcpu *v)
{
	struct kvm_lapic_state l;
	uint32_t val;

	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0)
		return -errno;
	memcpy(&val, &l.regs[0x350], 4);
	val = (val & ~0x700U) | 0x700; /* delivery mode ExtINT */
	memcpy(&l.regs[0x350], &val, 4);
	memcpy(&val, &l.regs[0x360], 4);
	val = (val & ~0x700U) | 0x400; /* delivery mode NMI */
	memcpy(&l.regs[0x360], &val, 4);
	if (ioctl(v->fd, KVM_SET_LAPIC, &l) < 0)
		return -errno;
	return 0;
}

static int vcpu_set_fpu(struct vcpu *v)
{
	struct kvm_fpu f;

	memset(&f, 0, sizeof(f));
	f.fcw = 0x37f;
	f.mxcsr = 0x1f80;
	return ioctl(v->fd, KVM_SET_FPU, &f) < 0 ? -errno : 0;
}

static struct kvm_segment flat_seg(uint16_t sel, uint8_t type, bool code64)
{
	struct kvm_segment s = {
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = code64 ? 0 : 1, .s = 1, .l = code64 ? 1 : 0, .g = 1,
	};
	return s;
}

int vcpu_set_boot_state(struct vcpu *v, enum image_kind kind, uint64_t entry)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	memset(&r, 0, sizeof(r));
	r.rflags = 2;
	r.rip = entry;
	s.gdt.base = LVMM_BOOT_GDT;
	s.idt.base = 0;
	s.idt.limit = 0;
	if (kind == IMAGE_BZIMAGE) {
		/* Linux 64-bit boot protocol: __BOOT_CS 0x10, __BOOT_DS 0x18. */
		s.gdt.limit = 4 * 8 - 1;
		s.cs = flat_seg(0x10, 0xb, true);
		s.ds = s.es = s.fs = s.gs = s.ss = flat_seg(0x18, 0x3, false);
		s.cr3 = LVMM_BOOT_PAGE_TABLES;
		s.cr4 = 0x20;                 /* PAE */
		s.cr0 = 0x80000001U | 0x10;   /* PG, PE, ET */
		s.efer = 0x500;               /* LME, LMA */
		r.rsi = LVMM_BOOT_ZERO_PAGE;
	} else {
		/* PVH: 32-bit protected mode, paging off, ebx = start info. */
		s.gdt.limit = 5 * 8 - 1;
		s.cs = flat_seg(0x10, 0xb, false);
		s.ds = s.es = s.fs = s.gs = s.ss = flat_seg(0x18, 0x3, false);
		s.tr = (struct kvm_segment){ .base = 0, .limit = 0x67, .selector = 0x20,
					     .type = 0xb, .present = 1, .s = 0 };
		s.cr0 = 0x11; /* PE, ET */
		s.cr4 = 0;
		s.cr3 = 0;
		s.efer = 0;
		r.rbx = LVMM_BOOT_START_INFO;
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
		return -errno;
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	return 0;
}

int vcpu_create(struct vm *vm, unsigned id)
{
	struct vcpu *v = &vm->vcpus[id];
	int r;

	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0) {
		r = -errno;
		pr_err("vcpu%u: KVM_CREATE_VCPU: %s", id, strerror(-r));
		return r;
	}
	v->run = mmap(NULL, (size_t)run_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		r = -errno;
		v->run = NULL;
		goto err_fd;
	}
	r = vcpu_set_cpuid(v);
	if (!r)
		r = vcpu_set_msrs(v);
	if (!r)
		r = vcpu_set_lint(v);
	if (!r)
		r = vcpu_set_fpu(v);
	if (r) {
		pr_err("vcpu%u: setup: %s", id, strerror(-r));
		goto err_unmap;
	}
	return 0;
err_unmap:
	munmap(v->run, (size_t)run_mmap_size);
	v->run = NULL;
err_fd:
	close(v->fd);
	v->fd = -1;
	return r;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, (size_t)run_mmap_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}

void vcpu_join(struct vcpu *v)
{
	if (!v->started)
		return;
	pthread_join(v->thread, NULL);
	v->started = false;
}

static void vcpu_fatal(struct vcpu *v, uint32_t reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Read up to 15 instruction bytes at CS:rip (no CS base in 64-bit mode)
 * through the guest's page tables, not crossing into the next page (which
 * may map elsewhere).
 * Returns how many were read (0: not mapped, or not RAM).
 */
static unsigned read_insn_at(struct vcpu *v, const struct kvm_sregs *s, uint64_t rip,
			     uint8_t *buf)
{
	struct kvm_translation t;
	unsigned n;
	uint8_t *p;

	memset(&t, 0, sizeof(t));
	t.linear_address = insn_fixup_linear(rip, s->cs.base, s->efer, s->cs.l);
	if (ioctl(v->fd, KVM_TRANSLATE, &t) < 0 || !t.valid)
		return 0;
	n = (unsigned)MIN(15ULL, 4096 - (t.physical_address & 4095));
	p = gmem_loader_ptr(&v->vm->gmem, t.physical_address, n);
	if (!p)
		return 0;
	memcpy(buf, p, n);
	return n;
}

/* Read up to 15 instruction bytes at the current RIP into the report. */
static void vcpu_read_insn(struct vcpu *v, struct lvmm_exit *x)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return;
	x->rip = r.rip;
	if (x->insn_len)
		return;
	x->insn_len = read_insn_at(v, &s, r.rip, x->insn);
}

/* The bytes KVM's emulator fetched for a failed emulation, if it says; else 0. */
static unsigned emulation_bytes(const struct kvm_run *run, uint8_t *buf)
{
	unsigned n;

	if (run->exit_reason != KVM_EXIT_INTERNAL_ERROR ||
	    run->emulation_failure.suberror != KVM_INTERNAL_ERROR_EMULATION ||
	    run->emulation_failure.ndata < 1 ||
	    !(run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES))
		return 0;
	n = MIN(run->emulation_failure.insn_size, (uint8_t)15);
	memcpy(buf, run->emulation_failure.insn_bytes, n);
	return n;
}

#define pr_info_rl(rl, ...)                                                    \
	do {                                                                   \
		if (log_level >= LOG_INFO && ratelimit_allow(rl))              \
			log_msg(LOG_INFO, __VA_ARGS__);                        \
	} while (0)

/*
 * An emulation failure on int3 or fwait at CPL0: complete the instruction
 * (vmm/insn_fixup.h) and let the vCPU run on. False when it is not one of
 * those (or the vCPU's state cannot be read): report it as before.
 */
static bool vcpu_complete_insn(struct vcpu *v)
{
	struct kvm_vcpu_events ev;
	struct insn_state st;
	struct kvm_sregs s;
	struct kvm_regs r;
	struct kvm_fpu f;
	enum insn_fixup fx;
	uint8_t insn[15];
	uint64_t n;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return false;
	memset(&st, 0, sizeof(st));
	st.insn = insn;
	st.insn_len = emulation_bytes(v->run, insn);
	if (!st.insn_len)
		st.insn_len = read_insn_at(v, &s, r.rip, insn);
	st.protected_mode = s.cr0 & 1;
	st.cpl = s.cs.selector & 3;
	st.rflags = r.rflags;
	st.cr0 = s.cr0;
	if (st.insn_len && insn[0] == 0x9b) {
		if (ioctl(v->fd, KVM_GET_FPU, &f) < 0)
			return false;
		st.fsw = f.fsw;
		st.fcw = f.fcw;
	}
	fx = insn_fixup_decide(&st);
	if (fx == FIXUP_NONE)
		return false;
	/* #BP goes in as an event: only when no other one is being delivered. */
	if (fx == FIXUP_INT3) {
		if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0 || ev.exception.injected ||
		    ev.exception.pending || ev.interrupt.injected || ev.nmi.injected)
			return false;
	}
	r.rip = insn_fixup_next_rip(r.rip, s.cs.l, s.cs.db);
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return false;
	if (fx == FIXUP_INT3) {
		/* A trap: the frame's return address is the one after int3, already in RIP. */
		ev.exception.injected = 1;
		ev.exception.nr = 3;
		ev.exception.has_error_code = 0;
		ev.exception.error_code = 0;
		if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0) {
			vcpu_fatal(v, LVMM_EXIT_INTERNAL, "cannot inject #BP for int3 at CPL0: %s",
				   strerror(errno));
			return false;
		}
		n = atomic_fetch_add(&v->fixup_int3, 1) + 1;
	} else {
		n = atomic_fetch_add(&v->fixup_fwait, 1) + 1;
	}
	/* A guest can do this in a loop: rate-limited, and counted in the statistics. */
	pr_info_rl(&v->fixup_rl, "vcpu%u: completed %s at CPL0 (rip 0x%llx), which KVM's "
		   "emulator rejects here (%" PRIu64 " so far)", v->id, insn_fixup_name(fx),
		   (unsigned long long)(r.rip - 1), n);
	return true;
}

static void vcpu_fatal(struct vcpu *v, uint32_t reason, const char *fmt, ...)
{
	struct lvmm_exit x;
	va_list ap;

	memset(&x, 0, sizeof(x));
	x.reason = reason;
	x.vcpu = v->id;
	va_start(ap, fmt);
	vsnprintf(x.detail, sizeof(x.detail), fmt, ap);
	va_end(ap);
	if (reason == LVMM_EXIT_INTERNAL)
		x.insn_len = emulation_bytes(v->run, x.insn);
	vcpu_read_insn(v, &x);
	vm_request_exit(v->vm, &x);
}

static const char *exit_name(uint32_t r)
{
	switch (r) {
	case KVM_EXIT_UNKNOWN: return "UNKNOWN";
	case KVM_EXIT_EXCEPTION: return "EXCEPTION";
	case KVM_EXIT_DEBUG: return "DEBUG";
	case KVM_EXIT_IRQ_WINDOW_OPEN: return "IRQ_WINDOW_OPEN";
	case KVM_EXIT_NMI: return "NMI";
	case KVM_EXIT_TPR_ACCESS: return "TPR_ACCESS";
	case KVM_EXIT_X86_RDMSR: return "X86_RDMSR";
	case KVM_EXIT_X86_WRMSR: return "X86_WRMSR";
	case KVM_EXIT_DIRTY_RING_FULL: return "DIRTY_RING_FULL";
	default: return "?";
	}
}

/* Handle one exit. Returns false when the vCPU must stop. */
static bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct vm *vm = v->vm;

	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		uint32_t size = run->io.size, count = run->io.count, i;
		uint64_t off = run->io.data_offset;

		atomic_fetch_add(&v->exits_io, 1);
		if ((size != 1 && size != 2 && size != 4) ||
		    !range_within(off, (uint64_t)size * count, 0, (uint64_t)run_mmap_size)) {
			vcpu_fatal(v, LVMM_EXIT_INTERNAL, "malformed I/O exit (size %u count %u)",
				   size, count);
			return false;
		}
		for (i = 0; i < count; i++)
			bus_access(&vm->pio, run->io.direction == KVM_EXIT_IO_OUT, run->io.port,
				   (uint8_t *)run + off + (uint64_t)i * size, size);
		return true;
	}
	case KVM_EXIT_MMIO:
		atomic_fetch_add(&v->exits_mmio, 1);
		if (run->mmio.len == 0 || run->mmio.len > 8) {
			vcpu_fatal(v, LVMM_EXIT_INTERNAL, "malformed MMIO exit (len %u)", run->mmio.len);
			return false;
		}
		/* Guest RAM exits only for a write to a protected (read-only) piece. */
		if (!protect_on_mmio(v, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
				     run->mmio.is_write))
			bus_access(&vm->mmio, run->mmio.is_write, run->mmio.phys_addr,
				   run->mmio.data, run->mmio.len);
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; ours has one, so this is unexpected. */
		atomic_fetch_add(&v->exits_hlt, 1);
		vcpu_fatal(v, LVMM_EXIT_INTERNAL, "unexpected HLT exit");
		return false;
	case KVM_EXIT_SHUTDOWN:
		vcpu_fatal(v, LVMM_EXIT_SHUTDOWN, "triple fault (vCPU %u shut down)", v->id);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_exit_simple(vm, LVMM_EXIT_POWEROFF, 0, "system event: shutdown");
			return false;
		case KVM_SYSTEM_EVENT_RESET:
			vm_exit_simple(vm, LVMM_EXIT_RESET, 0, "system event: reset");
			return false;
		default:
			vcpu_fatal(v, LVMM_EXIT_INTERNAL, "system event %u", run->system_event.type);
			return false;
		}
	case KVM_EXIT_INTERNAL_ERROR:
		if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION && vcpu_complete_insn(v)) {
			atomic_fetch_add(&v->exits_other, 1);
			return true;
		}
		if (atomic_load(&vm->state) == VM_EXITING)
			return false; /* vcpu_complete_insn() already reported why */
		vcpu_fatal(v, LVMM_EXIT_INTERNAL, "KVM internal error, suberror %u%s",
			   run->internal.suberror,
			   run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
				   " (instruction emulation failed)" : "");
		return false;
	case KVM_EXIT_FAIL_ENTRY: {
		struct lvmm_exit x;

		memset(&x, 0, sizeof(x));
		x.reason = LVMM_EXIT_FAIL_ENTRY;
		x.vcpu = v->id;
		x.hw_reason = run->fail_entry.hardware_entry_failure_reason;
		snprintf(x.detail, sizeof(x.detail), "VM entry failed, hardware reason 0x%llx "
			 "on host CPU %u", (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
			 run->fail_entry.cpu);
		vcpu_read_insn(v, &x);
		vm_request_exit(vm, &x);
		return false;
	}
	case KVM_EXIT_INTR:
		return true;
	default:
		atomic_fetch_add(&v->exits_other, 1);
		vcpu_fatal(v, LVMM_EXIT_INTERNAL, "unhandled KVM exit reason %u (%s)",
			   run->exit_reason, exit_name(run->exit_reason));
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	char name[16];
	int hc = vm->cfg->host_cpus[v->id];
	sigset_t set;

	snprintf(name, sizeof(name), "vcpu%u", v->id);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (hc >= 0) {
		cpu_set_t cs;

		CPU_ZERO(&cs);
		CPU_SET(hc, &cs);
		if (pthread_setaffinity_np(pthread_self(), sizeof(cs), &cs)) {
			pr_warn("vcpu%u: cannot pin to host CPU %d", v->id, hc);
			hc = -1; /* then as an unpinned one */
		}
	}
	if (hc < 0)
		thread_start_widen(); /* started on its creator's CPU (vmm/thread_start.h) */
	protect_set_vcpu(v);
	if (!vm_vcpu_at_gate(vm))
		return NULL;
	for (;;) {
		int st;

		/* Clear the kick before looking at the state, so no request is lost. */
		__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		st = atomic_load(&vm->state);
		if (st == VM_EXITING)
			break;
		if (st == VM_PAUSED) {
			vm_vcpu_park(vm);
			continue;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			vcpu_fatal(v, LVMM_EXIT_INTERNAL, "KVM_RUN: %s", strerror(errno));
			break;
		}
		if (!vcpu_handle_exit(v))
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	sigset_t set, old;
	int r;

	/* Threads inherit the mask: start with the kick blocked, unblock in the thread. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	r = pthread_create(&v->thread, NULL, vcpu_thread, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -r;
	v->started = true;
	return 0;
}
