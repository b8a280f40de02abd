// SPDX-License-Identifier: MIT
/*
 * Protected guest memory and the heartbeat watchdog (docs/protect.md).
 *
 * Guest RAM is registered with KVM as a list of pieces: read-write pieces
 * between protected ranges, KVM_MEM_READONLY pieces over them. KVM cannot
 * change a slot's flags or split it in place, so a run-time lock computes
 * the new list and, with every other vCPU parked, deletes the pieces that
 * changed and adds the new ones (the guest never runs while part of its RAM
 * is missing). The translator's table (gmem) is append-only and read
 * without locks by the I/O thread.
 */
#include "vmm/protect.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "lvmm/guest_abi.h"
#include "vmm/loader.h"
#include "vmm/vm.h"
#include "shared/ratelimit.h"
#include "shared/range.h"

#define PAGE 4096ULL

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The RAM slots (gmem slots 0/1: below the MMIO hole, above 4 GiB). */
static bool in_one_ram_slot(struct vm *vm, uint64_t gpa, uint64_t size)
{
	unsigned i;

	for (i = 0; i < vm->gmem.nr_slots; i++)
		if (range_within(gpa, size, vm->gmem.slots[i].gpa, vm->gmem.slots[i].size))
			return true;
	return false;
}

static bool range_ok(uint64_t gpa, uint64_t size)
{
	return size && !(gpa % PAGE) && !(size % PAGE) && gpa + size > gpa;
}

/* RAM layout without touching KVM: the same split vm_setup_memory used to do. */
static void ram_regions(struct vm *vm, uint64_t gpa[2], uint64_t size[2], uint64_t off[2])
{
	struct guest_layout lay;

	layout_from_size(vm->mem_bytes, &lay);
	gpa[0] = 0, off[0] = 0, size[0] = lay.lowmem_end;
	gpa[1] = LVMM_HIGH_RAM_START, off[1] = lay.lowmem_end;
	size[1] = vm->mem_bytes - lay.lowmem_end;
}

static bool in_ram(struct vm *vm, uint64_t gpa, uint64_t size)
{
	uint64_t g[2], s[2], o[2];
	unsigned i;

	ram_regions(vm, g, s, o);
	for (i = 0; i < 2; i++)
		if (s[i] && range_within(gpa, size, g[i], s[i]))
			return true;
	return false;
}

static int add_range(struct vm *vm, uint64_t gpa, uint64_t size, const char *what, char *err,
		     size_t errlen)
{
	int r;

	if (!range_ok(gpa, size) || !in_ram(vm, gpa, size)) {
		snprintf(err, errlen, "protect: %s 0x%" PRIx64 "+0x%" PRIx64 " is not page-aligned "
			 "guest RAM", what, gpa, size);
		return -EINVAL;
	}
	r = gmem_protect(&vm->gmem, gpa, size);
	if (r)
		snprintf(err, errlen, "protect: more than %d protected ranges (%s 0x%" PRIx64 ")",
			 LVMM_MAX_PROTECT, what, gpa);
	return r;
}

int protect_init(struct vm *vm, const struct gmem_prot_list *regions, char *err, size_t errlen)
{
	const struct lvmm_part_config *cfg = vm->cfg;
	struct protect *p = &vm->prot;
	unsigned i;
	int r;

	pthread_mutex_init(&p->lock, NULL);
	p->wd_timer = -1;
	p->wd_ms = cfg->watchdog_ms;
	for (i = 0; i < cfg->nprotect && i < LVMM_MAX_PROTECT; i++) {
		if (cfg->protect[i].region != LVMM_PROT_RANGE)
			continue;
		r = add_range(vm, cfg->protect[i].gpa, cfg->protect[i].size, "range", err, errlen);
		if (r)
			return r;
	}
	for (i = 0; regions && i < regions->n && i < GMEM_MAX_PROT; i++) {
		r = add_range(vm, regions->r[i].gpa, regions->r[i].size, "kernel region", err, errlen);
		if (r)
			return r;
	}
	return 0;
}

/* ---- memslots ---------------------------------------------------------------- */

/* The merged, sorted protected ranges (n <= 64: insertion sort). */
static unsigned merged(struct vm *vm, struct gmem_prot *out)
{
	unsigned n = atomic_load(&vm->gmem.nr_prot), i, j, k = 0;

	n = MIN(n, (unsigned)GMEM_MAX_PROT);
	for (i = 0; i < n; i++) {
		struct gmem_prot x = vm->gmem.prot[i];

		for (j = k; j > 0 && out[j - 1].gpa > x.gpa; j--)
			out[j] = out[j - 1];
		out[j] = x;
		k++;
	}
	for (i = 0, k = 0; i < n; i++) {
		if (k && out[i].gpa <= out[k - 1].gpa + out[k - 1].size) {
			uint64_t end = MAX(out[k - 1].gpa + out[k - 1].size, out[i].gpa + out[i].size);

			out[k - 1].size = end - out[k - 1].gpa;
		} else {
			out[k++] = out[i];
		}
	}
	return k;
}

/* The pieces RAM should be registered as now. Returns how many, or -ENOSPC. */
static int layout(struct vm *vm, struct kslot *pieces)
{
	struct gmem_prot m[GMEM_MAX_PROT];
	uint64_t g[2], s[2], o[2];
	unsigned nm = merged(vm, m), i, k, np = 0;

	ram_regions(vm, g, s, o);
	for (i = 0; i < 2; i++) {
		uint64_t at = g[i], end = g[i] + s[i];

		if (!s[i])
			continue;
		for (k = 0; k <= nm; k++) {
			/* the RW gap before range k (or up to the end), then range k itself */
			uint64_t rs = k < nm ? MAX(m[k].gpa, at) : end;
			uint64_t re = k < nm ? MIN(m[k].gpa + m[k].size, end) : end;

			if (k < nm && (m[k].gpa + m[k].size <= at || m[k].gpa >= end))
				continue;
			if (np + 2 > PROT_MAX_KSLOTS)
				return -ENOSPC;
			if (rs > at)
				pieces[np++] = (struct kslot){ at, rs - at, o[i] + (at - g[i]), false, true };
			if (re > rs)
				pieces[np++] = (struct kslot){ rs, re - rs, o[i] + (rs - g[i]), true, true };
			at = MAX(at, re);
		}
	}
	return (int)np;
}

static int kslot_set(struct vm *vm, unsigned id, const struct kslot *k, bool add)
{
	struct kvm_userspace_memory_region reg = {
		.slot = id, .flags = k->ro ? KVM_MEM_READONLY : 0, .guest_phys_addr = k->gpa,
		.memory_size = add ? k->size : 0,
		.userspace_addr = (uint64_t)(uintptr_t)(vm->mem + k->off),
	};

	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &reg) < 0 ? -errno : 0;
}

static bool same(const struct kslot *a, const struct kslot *b)
{
	return a->gpa == b->gpa && a->size == b->size && a->ro == b->ro && a->off == b->off;
}

/* Make KVM's memslots match the current layout: removals first (slots may not overlap). */
static int apply_layout(struct vm *vm, char *err, size_t errlen)
{
	static struct kslot want[PROT_MAX_KSLOTS]; /* under prot.lock or single-threaded setup */
	struct protect *p = &vm->prot;
	int n = layout(vm, want), r;
	unsigned i, j, id;

	if (n < 0 || (unsigned)n > p->max_kslots) {
		snprintf(err, errlen, "protect: guest RAM would need more than %u memory slots",
			 p->max_kslots);
		return -ENOSPC;
	}
	for (i = 0; i < p->max_kslots; i++) {
		if (!p->kslots[i].used)
			continue;
		for (j = 0; j < (unsigned)n && !same(&p->kslots[i], &want[j]); j++)
			;
		if (j < (unsigned)n) {
			want[j].used = false; /* already there */
			continue;
		}
		r = kslot_set(vm, i, &p->kslots[i], false);
		if (r) {
			snprintf(err, errlen, "protect: removing memory slot %u: %s", i, strerror(-r));
			return r;
		}
		p->kslots[i].used = false;
	}
	for (j = 0, id = 0; j < (unsigned)n; j++) {
		if (!want[j].used)
			continue;
		while (id < p->max_kslots && p->kslots[id].used)
			id++;
		if (id == p->max_kslots) {
			snprintf(err, errlen, "protect: no free memory slot");
			return -ENOSPC;
		}
		r = kslot_set(vm, id, &want[j], true);
		if (r) {
			snprintf(err, errlen, "protect: KVM_SET_USER_MEMORY_REGION 0x%" PRIx64 "+0x%"
				 PRIx64 "%s: %s", want[j].gpa, want[j].size,
				 want[j].ro ? " read-only" : "", strerror(-r));
			return r;
		}
		p->kslots[id] = want[j];
	}
	return 0;
}

int protect_map_ram(struct vm *vm, char *err, size_t errlen)
{
	struct protect *p = &vm->prot;
	int cap = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);

	/* Slot ids above the RAM pieces are left for nobody: lvmm has no other memslots. */
	p->max_kslots = cap > 0 ? MIN((unsigned)cap, (unsigned)PROT_MAX_KSLOTS) : 32;
	if (atomic_load(&vm->gmem.nr_prot) &&
	    ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0) {
		snprintf(err, errlen, "protect: this KVM has no read-only memory slots "
			 "(KVM_CAP_READONLY_MEM)");
		return -ENOTSUP;
	}
	return apply_layout(vm, err, errlen);
}

/* ---- integrity violations -------------------------------------------------------- */

static void report_violation(struct vcpu *v, uint64_t gpa, const uint8_t *data, uint32_t len,
			     uint32_t action)
{
	struct protect *p = &v->vm->prot;
	struct lvmm_event ev;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint64_t rip = 0, cr3 = 0, supp;
	unsigned i;
	bool go;

	pthread_mutex_lock(&p->lock);
	go = ratelimit_allow(&p->rl);
	supp = p->suppressed_since;
	if (go)
		p->suppressed_since = 0;
	else
		p->suppressed_since++;
	pthread_mutex_unlock(&p->lock);
	if (!go) {
		atomic_fetch_add(&p->suppressed, 1);
		return;
	}
	if (!ioctl(v->fd, KVM_GET_REGS, &regs))
		rip = regs.rip;
	if (!ioctl(v->fd, KVM_GET_SREGS, &sregs))
		cr3 = sregs.cr3;
	memset(&ev, 0, sizeof(ev));
	ev.kind = LVMM_EV_INTEGRITY;
	for (i = 0; i < len && i < 8; i++)
		snprintf(ev.dev + 2 * i, 3, "%02x", data[i]);
	ev.a = gpa, ev.b = rip, ev.c = cr3, ev.d = supp, ev.e = action;
	pr_warn("integrity violation: vcpu%u wrote %u bytes (%s) at 0x%" PRIx64 ", rip 0x%" PRIx64
		" cr3 0x%" PRIx64 ": %s", v->id, len, ev.dev, gpa, rip, cr3,
		action == LVMM_VIOL_LOG ? "performed (on_violation: log)" : "blocked");
	vm_event_send(v->vm, &ev);
}

bool protect_on_mmio(struct vcpu *v, uint64_t gpa, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm *vm = v->vm;
	uint8_t *hva = gmem_loader_ptr(&vm->gmem, gpa, len);
	uint32_t action = vm->cfg->on_violation;

	if (!hva)
		return false; /* not RAM: a device register */
	if (!is_write) {
		/* Reads of read-only slots do not exit; serve one anyway rather than fail. */
		memcpy(data, hva, len);
		return true;
	}
	if (!gmem_is_protected(&vm->gmem, gpa, len)) {
		/* Not ours to refuse (cannot happen with the vCPUs parked during a lock). */
		memcpy(hva, data, len);
		return true;
	}
	atomic_fetch_add(&vm->prot.violations, 1);
	if (action == LVMM_VIOL_LOG)
		memcpy(hva, data, len); /* the write happens, it is only reported */
	report_violation(v, gpa, data, len, action);
	return true;
}

/* ---- the lock device (ports LVMM_PORT_PROTECT..+15) -------------------------------- */

/*
 * A new lock (at most LVMM_MAX_PROTECT per run) is always reported; the
 * guest can repeat anything else as often as it likes, so those are rate-limited.
 */
static void lock_event(struct vm *vm, uint64_t gpa, uint64_t size, uint64_t result, bool new_lock)
{
	struct protect *p = &vm->prot;
	bool go = true;

	if (!new_lock) {
		pthread_mutex_lock(&p->lock);
		go = ratelimit_allow(&p->lock_rl);
		pthread_mutex_unlock(&p->lock);
	}
	if (go)
		vm_event(vm, LVMM_EV_PROTECT_LOCK, NULL, gpa, size, result);
}

/* Lock [gpa, gpa+size) on behalf of vCPU v. Returns the guest-visible status. */
static uint32_t do_lock(struct vcpu *v, uint64_t gpa, uint64_t size)
{
	struct vm *vm = v->vm;
	struct protect *p = &vm->prot;
	char err[160];
	int r;

	if (!range_ok(gpa, size) || !in_one_ram_slot(vm, gpa, size)) {
		lock_event(vm, gpa, size, EINVAL, false);
		return LVMM_PROTECT_EINVAL;
	}
	if (gmem_all_protected(&vm->gmem, gpa, size)) {
		lock_event(vm, gpa, size, 0, false);
		return LVMM_PROTECT_OK; /* already: nothing new to hold */
	}
	if (atomic_load(&vm->gmem.nr_prot) >= GMEM_MAX_PROT) {
		lock_event(vm, gpa, size, ENOSPC, false);
		return LVMM_PROTECT_ENOSPC;
	}
	r = vm_pause_others(vm, v);
	if (r) {
		lock_event(vm, gpa, size, EBUSY, false);
		return LVMM_PROTECT_EBUSY;
	}
	pthread_mutex_lock(&p->lock);
	r = gmem_protect(&vm->gmem, gpa, size);
	if (!r)
		r = apply_layout(vm, err, sizeof(err));
	pthread_mutex_unlock(&p->lock);
	vm_resume_others(vm);
	if (r == -ENOSPC && atomic_load(&vm->gmem.nr_prot) >= GMEM_MAX_PROT) {
		lock_event(vm, gpa, size, ENOSPC, false);
		return LVMM_PROTECT_ENOSPC;
	}
	if (r) {
		/* RAM may be half registered: the guest cannot go on safely. */
		vm_exit_simple(vm, LVMM_EXIT_INTERNAL, 0, err);
		return LVMM_PROTECT_EIO;
	}
	pr_debug("guest locked 0x%" PRIx64 "+0x%" PRIx64 " (%u protected ranges)", gpa, size,
		(unsigned)atomic_load(&vm->gmem.nr_prot));
	lock_event(vm, gpa, size, 0, true);
	return LVMM_PROTECT_OK;
}

static void lock_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct vm *vm = opaque;
	struct protect *p = &vm->prot;
	uint64_t v = 0;

	pthread_mutex_lock(&p->lock);
	switch (off) {
	case LVMM_PROTECT_REG_ADDR_LO: v = (uint32_t)p->reg_addr; break;
	case LVMM_PROTECT_REG_ADDR_HI: v = p->reg_addr >> 32; break;
	case LVMM_PROTECT_REG_SIZE: v = p->reg_size; break;
	case LVMM_PROTECT_REG_CMD: v = p->reg_status; break;
	default: v = ~0ULL; break;
	}
	pthread_mutex_unlock(&p->lock);
	memcpy(data, &v, MIN(len, 8U));
}

/* The vCPU whose exit this is: the bus handler runs on its thread. */
static __thread struct vcpu *cur_vcpu;

static void lock_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct vm *vm = opaque;
	struct protect *p = &vm->prot;
	uint32_t v = 0, st;
	uint64_t gpa, size;

	memcpy(&v, data, MIN(len, 4U));
	pthread_mutex_lock(&p->lock);
	switch (off) {
	case LVMM_PROTECT_REG_ADDR_LO: p->reg_addr = (p->reg_addr & ~0xffffffffULL) | v; break;
	case LVMM_PROTECT_REG_ADDR_HI: p->reg_addr = (p->reg_addr & 0xffffffffULL) | (uint64_t)v << 32; break;
	case LVMM_PROTECT_REG_SIZE: p->reg_size = v; break;
	default: break;
	}
	gpa = p->reg_addr, size = p->reg_size;
	pthread_mutex_unlock(&p->lock);
	if (off != LVMM_PROTECT_REG_CMD || v != LVMM_PROTECT_CMD_LOCK || !cur_vcpu)
		return;
	st = do_lock(cur_vcpu, gpa, size);
	pthread_mutex_lock(&p->lock);
	p->reg_status = st;
	pthread_mutex_unlock(&p->lock);
}

static const struct bus_ops lock_ops = { .read = lock_read, .write = lock_write };

/* ---- the watchdog (port LVMM_PORT_WATCHDOG) ---------------------------------------- */

static void wd_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct vm *vm = opaque;
	uint32_t v = off ? ~0U : vm->prot.wd_ms;

	memcpy(data, &v, MIN(len, 4U));
}

static void wd_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct vm *vm = opaque;

	(void)off, (void)data, (void)len;
	atomic_store(&vm->prot.wd_last_pet_ns, mono_ns());
	atomic_store(&vm->prot.wd_fired, false);
}

static const struct bus_ops wd_ops = { .read = wd_read, .write = wd_write };

/*
 * Has the heartbeat missed its deadline? now was read before last: a pet
 * from a vCPU in between makes last newer than now, which is a heartbeat,
 * not a wrap-around to a 584-year silence.
 */
bool protect_wd_late(uint64_t now, uint64_t last, uint32_t wd_ms)
{
	return last && now > last && now - last > (uint64_t)wd_ms * 1000000ULL;
}

/* I/O thread: the deadline check, independent of what the vCPUs do. */
static void wd_tick(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	struct protect *p = &vm->prot;
	uint64_t ticks, now = mono_ns(), last;

	(void)events;
	if (read(p->wd_timer, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	if (atomic_load(&vm->state) != VM_RUNNING || vm_self_paused(vm)) {
		/* A paused partition cannot pet: its time does not count. */
		atomic_store(&p->wd_last_pet_ns, now);
		return;
	}
	last = atomic_load(&p->wd_last_pet_ns);
	if (!protect_wd_late(now, last, p->wd_ms) || atomic_load(&p->wd_fired))
		return;
	/* Once per missed deadline: a pet re-arms it. */
	atomic_store(&p->wd_fired, true);
	pr_warn("watchdog: no heartbeat for %" PRIu64 " ms (timeout %u ms)",
		(uint64_t)((now - last) / 1000000ULL), p->wd_ms);
	vm_event(vm, LVMM_EV_WATCHDOG, NULL, p->wd_ms, (now - last) / 1000000ULL,
		 vm->cfg->watchdog_action);
}

int protect_devices(struct vm *vm, char *err, size_t errlen)
{
	struct protect *p = &vm->prot;
	int r = bus_register(&vm->pio, LVMM_PORT_PROTECT, LVMM_PORT_PROTECT_LEN, &lock_ops, vm,
			     "protect");

	if (!r)
		r = bus_register(&vm->pio, LVMM_PORT_WATCHDOG, LVMM_PORT_WATCHDOG_LEN, &wd_ops, vm,
				 "watchdog");
	if (r) {
		snprintf(err, errlen, "protect/watchdog ports: %s", strerror(-r));
		return r;
	}
	if (!p->wd_ms)
		return 0;
	{
		/* Four checks per period (at least one per 100 ms): late by at most a quarter. */
		uint64_t per = MIN((uint64_t)p->wd_ms * 1000000ULL / 4, 100000000ULL);
		struct itimerspec its = {
			.it_interval = { (time_t)(per / 1000000000ULL), (long)(per % 1000000000ULL) },
			.it_value = { (time_t)(per / 1000000000ULL), (long)(per % 1000000000ULL) },
		};

		p->wd_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (p->wd_timer < 0 || timerfd_settime(p->wd_timer, 0, &its, NULL) < 0) {
			r = -errno;
			snprintf(err, errlen, "watchdog timer: %s", strerror(-r));
			return r;
		}
		r = iothread_add(&vm->io, p->wd_timer, EPOLLIN, wd_tick, vm);
		if (r)
			snprintf(err, errlen, "watchdog timer: %s", strerror(-r));
	}
	return r;
}

void protect_start(struct vm *vm)
{
	atomic_store(&vm->prot.wd_last_pet_ns, mono_ns());
}

void protect_set_vcpu(struct vcpu *v)
{
	cur_vcpu = v;
}
