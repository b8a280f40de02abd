/* SPDX-License-Identifier: MIT */
/*
 * Protected guest memory and the heartbeat watchdog (docs/protect.md).
 *
 * Protected ranges are backed by KVM read-only memslots: the RAM slots are
 * split around them, so reads and instruction fetches run natively and only
 * a CPU write exits (as KVM_EXIT_MMIO). The translator (gmem) refuses device
 * writes into them. Ranges come from the platform file and from the guest's
 * one-way lock request; a lock lasts until the partition process ends.
 *
 * The watchdog's deadline is checked on the I/O thread, so a vCPU spinning
 * with interrupts off (or stuck in the emulator) is caught as well.
 */
#ifndef LVMM_PROTECT_H
#define LVMM_PROTECT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"
#include "shared/ratelimit.h"
#include "common/util.h"
#include "lvmm/proto.h"
#include "vmm/gmem.h"

/* RAM pieces: at most 2 per protected range plus one per RAM slot. */
#define PROT_MAX_KSLOTS (2 * LVMM_MAX_PROTECT + 4)

struct kslot {
	uint64_t gpa, size, off; /* off: offset in the guest-memory memfd */
	bool ro;
	bool used;
};

struct protect {
	pthread_mutex_t lock;          /* run-time locks and reports, one at a time */
	struct kslot kslots[PROT_MAX_KSLOTS]; /* index = KVM memslot id */
	unsigned max_kslots;           /* KVM_CAP_NR_MEMSLOTS, capped */
	/* the lock device's registers (guest-visible, docs/protect.md) */
	uint64_t reg_addr;
	uint32_t reg_size;
	uint32_t reg_status;
	atomic_uint_fast64_t violations;
	atomic_uint_fast64_t suppressed;
	struct ratelimit rl;           /* integrity reports; under lock */
	uint64_t suppressed_since;     /* not reported since the last report; under lock */
	struct ratelimit lock_rl;      /* refused lock requests' events; under lock */
	/* watchdog */
	uint32_t wd_ms;
	int wd_timer;                  /* timerfd on the I/O thread, or -1 */
	atomic_uint_fast64_t wd_last_pet_ns;
	atomic_bool wd_fired;
};

struct vm;
struct vcpu;

/*
 * Add the configured explicit ranges and the resolved region ranges
 * (ranges[0..n)) to the translator's table, checking each is page-aligned
 * and inside one RAM slot. Called by vm_create before the memslots exist.
 * 0 or -errno with err set.
 */
int protect_init(struct vm *vm, const struct gmem_prot_list *regions, char *err,
		 size_t errlen) MUST_CHECK;

/* Register guest RAM with KVM: read-only pieces for protected ranges. 0 or -errno. */
int protect_map_ram(struct vm *vm, char *err, size_t errlen) MUST_CHECK;

/* Register the lock and watchdog ports, and the watchdog timer. 0 or -errno. */
int protect_devices(struct vm *vm, char *err, size_t errlen) MUST_CHECK;

/* The guest is about to run its first instruction: the watchdog's first period starts. */
void protect_start(struct vm *vm);

/* The watchdog's decision (exposed for tests): last pet at last, checked at now (ns). */
bool protect_wd_late(uint64_t now, uint64_t last, uint32_t wd_ms);

/*
 * A KVM_EXIT_MMIO at gpa: if it is guest RAM (a write to a protected page),
 * handle it (report; drop or perform it per on_violation) and return true.
 * False: not RAM, the caller dispatches it to the MMIO bus.
 */
bool protect_on_mmio(struct vcpu *v, uint64_t gpa, uint8_t *data, uint32_t len, bool is_write);

/* Called by each vCPU thread once: port handlers find their vCPU through it. */
void protect_set_vcpu(struct vcpu *v);

#endif
