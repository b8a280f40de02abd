/* SPDX-License-Identifier: MIT */
/*
 * The partition's IOAPIC (82093AA, version 0x11, 24 pins), emulated in the
 * partition process: KVM runs with a split irqchip (only the LAPICs in the
 * kernel; no 8259, no PIT), as QEMU microvm and Cloud Hypervisor do, so
 * destroying the VM costs no I/O-bus unregistrations (docs/platform.md).
 *
 * Each unmasked, valid redirection entry becomes an MSI route for its GSI
 * (the pin number), so a device's irqfd reaches the LAPIC in the kernel
 * with no user-space hop; lines raised from user space (the UART) go
 * through the model and are delivered as one MSI. The model knows nothing
 * of KVM: it calls two hooks, which vm.c implements with KVM_SET_GSI_ROUTING
 * and KVM_SIGNAL_MSI and the unit test with fakes.
 */
#ifndef LVMM_DEVICES_IOAPIC_H
#define LVMM_DEVICES_IOAPIC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "lvmm/guest_abi.h"
#include "shared/ratelimit.h"

#define IOAPIC_PINS      LVMM_IOAPIC_PINS
#define IOAPIC_MMIO_SIZE 0x1000ULL
#define IOAPIC_REGSEL    0x00 /* offsets in the MMIO page */
#define IOAPIC_WIN       0x10
#define IOAPIC_REG_ID    0x00 /* indirect registers (IOREGSEL) */
#define IOAPIC_REG_VER   0x01
#define IOAPIC_REG_ARB   0x02
#define IOAPIC_REG_RTE   0x10 /* 0x10 + 2n: low dword of pin n, 0x11 + 2n: high dword */
#define IOAPIC_VERSION   0x11 /* the 82093AA: no EOI register */

/* Redirection entry fields (low dword; the destination is bits 56-63). */
#define RTE_VECTOR      0xffULL
#define RTE_DM_SHIFT    8
#define RTE_DM_MASK     (7ULL << RTE_DM_SHIFT)
#define RTE_DM_FIXED    0
#define RTE_DM_LOWEST   1
#define RTE_DM_NMI      4
#define RTE_DEST_LOGICAL (1ULL << 11)
#define RTE_POLARITY_LOW (1ULL << 13)
#define RTE_LEVEL       (1ULL << 15)
#define RTE_MASKED      (1ULL << 16)
#define RTE_DEST_SHIFT  56
/* What a guest may set: vector, delivery and destination mode, polarity, trigger, mask, dest. */
#define RTE_WRITABLE    (RTE_VECTOR | RTE_DM_MASK | RTE_DEST_LOGICAL | RTE_POLARITY_LOW | \
			 RTE_LEVEL | RTE_MASKED | (0xffULL << RTE_DEST_SHIFT))

struct ioapic_msi {
	uint64_t addr;
	uint32_t data;
};

struct ioapic_hooks {
	/* Deliver one interrupt now (a line raised from user space). 0 or -errno. */
	int (*send_msi)(void *opaque, const struct ioapic_msi *msi);
	/*
	 * Install the routing table: GSI n -> routes[n] for every n whose bit
	 * is set in valid; the other GSIs have no route (their irqfd edges
	 * are dropped, as a masked 82093AA pin drops edges). 0 or -errno.
	 */
	int (*set_routes)(void *opaque, const struct ioapic_msi *routes, uint32_t valid);
};

struct ioapic {
	pthread_mutex_t lock; /* vCPU threads (MMIO) and the I/O thread (UART) */
	const struct ioapic_hooks *hooks;
	void *opaque;
	uint32_t regsel;
	uint8_t id;                 /* bits 24-27 of the ID register */
	uint64_t rte[IOAPIC_PINS];
	uint32_t line;              /* levels of the lines raised from user space */
	uint32_t irr;               /* edges latched on a masked pin, delivered on unmask */
	struct ioapic_msi routes[IOAPIC_PINS]; /* what the kernel has now */
	uint32_t routed;            /* which of routes[] are installed */
	bool routes_set;            /* set_routes called at least once */
	uint64_t delivered;         /* MSIs sent for user-space lines (tests, stats) */
	uint64_t dropped;           /* interrupts on pins with an unusable entry */
	struct ratelimit rl;
};

/* Reset state: every pin masked, edge, vector 0; ID id (the MADT's). No routes yet. */
void ioapic_init(struct ioapic *a, uint8_t id, const struct ioapic_hooks *hooks, void *opaque);
void ioapic_fini(struct ioapic *a);

/* Guest MMIO at offset off of the IOAPIC page (the bus_ops of the device). */
void ioapic_mmio_read(void *opaque, uint64_t off, void *data, uint32_t len);
void ioapic_mmio_write(void *opaque, uint64_t off, const void *data, uint32_t len);

/*
 * Set the level of a line raised from user space (pin < IOAPIC_PINS, else
 * -EINVAL). An edge-triggered pin fires on the rising edge; a
 * level-triggered one on the rising edge and on unmask while high. 0 or -errno.
 */
int ioapic_set_irq(struct ioapic *a, uint32_t pin, int level);

/*
 * The MSI an entry asks for, or false if the entry cannot be delivered:
 * masked, a vector below 16 with fixed or lowest-priority delivery, or a
 * delivery mode other than fixed, lowest priority and NMI (SMI, INIT,
 * ExtINT: no such sources here; 3 and 6 are reserved).
 */
bool ioapic_rte_msi(uint64_t rte, struct ioapic_msi *out);

#endif
