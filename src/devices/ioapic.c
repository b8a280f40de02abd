// SPDX-License-Identifier: MIT
/*
 * The IOAPIC (82093AA) in user space, for KVM's split irqchip: see
 * devices/ioapic.h for the model and docs/platform.md for why.
 *
 * Registers: IOREGSEL at 0x00 and IOWIN at 0x10 of the page at
 * LVMM_IOAPIC_BASE, 32-bit accesses; indirect registers ID (0), version (1:
 * 0x11, 23 as the highest redirection entry), arbitration (2: the ID) and
 * the 24 redirection entries (0x10-0x3f). Anything else reads 0 and
 * ignores writes, as the chip does for unimplemented indexes.
 *
 * What is not modelled, and why nothing needs it: remote IRR (bit 14)
 * reads 0. Every interrupt of lvmm's platform is edge-triggered (MADT,
 * DSDT), so the routes are always edge MSIs and KVM never exits for an
 * EOI. A guest that programs a pin level-triggered anyway gets it
 * delivered on the rising edge and again on unmask while the line is
 * high; Linux, seeing no TMR bit for such a vector, masks and unmasks the
 * pin to end the interrupt (ioapic_ack_level), which re-evaluates it here.
 * Delivery status (bit 12) reads 0: delivery is immediate.
 */
#include "devices/ioapic.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "devices/registry.h"

#define MSI_ADDR_BASE 0xfee00000ULL
#define MSI_ADDR_DEST_SHIFT 12
#define MSI_ADDR_LOGICAL (1ULL << 2)

bool ioapic_rte_msi(uint64_t rte, struct ioapic_msi *out)
{
	unsigned dm = (unsigned)((rte & RTE_DM_MASK) >> RTE_DM_SHIFT);
	unsigned vector = (unsigned)(rte & RTE_VECTOR);

	if (rte & RTE_MASKED)
		return false;
	if (dm != RTE_DM_FIXED && dm != RTE_DM_LOWEST && dm != RTE_DM_NMI)
		return false;
	/* Vectors 0-15 are exceptions and reserved: a LAPIC refuses them (illegal vector). */
	if (dm != RTE_DM_NMI && vector < 16)
		return false;
	out->addr = MSI_ADDR_BASE | ((rte >> RTE_DEST_SHIFT) & 0xff) << MSI_ADDR_DEST_SHIFT |
		    ((rte & RTE_DEST_LOGICAL) ? MSI_ADDR_LOGICAL : 0);
	/* Always an edge MSI: no EOI exits (see the top of this file). */
	out->data = (uint32_t)(vector | dm << 8);
	return true;
}

void ioapic_init(struct ioapic *a, uint8_t id, const struct ioapic_hooks *hooks, void *opaque)
{
	unsigned i;

	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	a->hooks = hooks;
	a->opaque = opaque;
	a->id = id & 0xf;
	for (i = 0; i < IOAPIC_PINS; i++)
		a->rte[i] = RTE_MASKED;
}

void ioapic_fini(struct ioapic *a)
{
	pthread_mutex_destroy(&a->lock);
}

/* Deliver pin's latched interrupt if its entry allows. Under lock. */
static void service(struct ioapic *a, unsigned pin)
{
	uint32_t bit = 1u << pin;
	struct ioapic_msi m;
	int r;

	if (!(a->irr & bit) || (a->rte[pin] & RTE_MASKED))
		return;
	/*
	 * Consumed by its delivery. A level-triggered line still high is not
	 * re-delivered until the guest ends the interrupt by unmasking (no
	 * remote IRR: see the top of this file).
	 */
	a->irr &= ~bit;
	if (!ioapic_rte_msi(a->rte[pin], &m)) {
		a->dropped++;
		pr_warn_rl(&a->rl, "IOAPIC pin %u: entry 0x%016" PRIx64 " cannot be delivered "
			   "(vector below 16 or an unsupported delivery mode): interrupt dropped",
			   pin, a->rte[pin]);
		return;
	}
	r = a->hooks->send_msi(a->opaque, &m);
	if (r < 0)
		pr_warn_rl(&a->rl, "IOAPIC pin %u: delivering the interrupt: %s", pin, strerror(-r));
	else
		a->delivered++;
}

/*
 * Recompute the routes from the entries and install them if they changed
 * (KVM_SET_GSI_ROUTING waits for an SRCU grace period: a guest rewriting
 * a masked entry, or the same value, costs nothing). Under lock.
 */
static void update_routes(struct ioapic *a)
{
	struct ioapic_msi routes[IOAPIC_PINS];
	uint32_t valid = 0;
	unsigned i;
	int r;

	memset(routes, 0, sizeof(routes));
	for (i = 0; i < IOAPIC_PINS; i++)
		if (ioapic_rte_msi(a->rte[i], &routes[i]))
			valid |= 1u << i;
	if (a->routes_set && valid == a->routed && !memcmp(routes, a->routes, sizeof(routes)))
		return;
	r = a->hooks->set_routes(a->opaque, routes, valid);
	if (r < 0) {
		pr_warn_rl(&a->rl, "IOAPIC: installing the interrupt routes: %s", strerror(-r));
		return;
	}
	memcpy(a->routes, routes, sizeof(routes));
	a->routed = valid;
	a->routes_set = true;
}

static uint32_t reg_read(const struct ioapic *a)
{
	uint32_t sel = a->regsel;

	switch (sel) {
	case IOAPIC_REG_ID:
	case IOAPIC_REG_ARB:
		return (uint32_t)a->id << 24;
	case IOAPIC_REG_VER:
		return IOAPIC_VERSION | (IOAPIC_PINS - 1) << 16;
	default:
		if (sel >= IOAPIC_REG_RTE && sel < IOAPIC_REG_RTE + 2 * IOAPIC_PINS) {
			uint64_t e = a->rte[(sel - IOAPIC_REG_RTE) / 2];

			return (sel & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
		}
		return 0;
	}
}

static void reg_write(struct ioapic *a, uint32_t v)
{
	uint32_t sel = a->regsel;
	uint64_t e, old;
	unsigned pin;

	if (sel == IOAPIC_REG_ID) {
		a->id = (v >> 24) & 0xf;
		return;
	}
	if (sel < IOAPIC_REG_RTE || sel >= IOAPIC_REG_RTE + 2 * IOAPIC_PINS)
		return; /* version, arbitration: read-only; the rest: nothing there */
	pin = (sel - IOAPIC_REG_RTE) / 2;
	e = a->rte[pin];
	if (sel & 1)
		e = (e & 0xffffffffULL) | (uint64_t)v << 32;
	else
		e = (e & ~0xffffffffULL) | v;
	old = a->rte[pin];
	a->rte[pin] = e & RTE_WRITABLE;
	/*
	 * A level-triggered pin whose line is high fires again when it is
	 * unmasked or turned level-triggered (Linux's EOI on a 0x11 IOAPIC),
	 * not on every write (the destination's, say).
	 */
	e = a->rte[pin];
	if ((e & RTE_LEVEL) && !(e & RTE_MASKED) && (a->line & 1u << pin) &&
	    ((old & RTE_MASKED) || !(old & RTE_LEVEL)))
		a->irr |= 1u << pin;
	update_routes(a);
	service(a, pin);
}

void ioapic_mmio_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct ioapic *a = opaque;
	uint32_t v = 0;

	memset(data, 0, len);
	if (len != 4)
		return; /* the chip decodes 32-bit accesses only */
	pthread_mutex_lock(&a->lock);
	if (off == IOAPIC_REGSEL)
		v = a->regsel;
	else if (off == IOAPIC_WIN)
		v = reg_read(a);
	pthread_mutex_unlock(&a->lock);
	memcpy(data, &v, 4);
}

void ioapic_mmio_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct ioapic *a = opaque;
	uint32_t v;

	if (len != 4)
		return;
	memcpy(&v, data, 4);
	pthread_mutex_lock(&a->lock);
	if (off == IOAPIC_REGSEL)
		a->regsel = v & 0xff;
	else if (off == IOAPIC_WIN)
		reg_write(a, v);
	pthread_mutex_unlock(&a->lock);
}

int ioapic_set_irq(struct ioapic *a, uint32_t pin, int level)
{
	uint32_t bit;

	if (pin >= IOAPIC_PINS)
		return -EINVAL;
	bit = 1u << pin;
	pthread_mutex_lock(&a->lock);
	if (level) {
		if (!(a->line & bit) || (a->rte[pin] & RTE_LEVEL))
			a->irr |= bit;
		a->line |= bit;
		service(a, pin);
	} else {
		a->line &= ~bit;
		if (a->rte[pin] & RTE_LEVEL)
			a->irr &= ~bit;
	}
	pthread_mutex_unlock(&a->lock);
	return 0;
}

/* ---- the device: the model wired to the VM ----------------------------------- */

static int hook_send_msi(void *opaque, const struct ioapic_msi *m)
{
	return vm_signal_msi(opaque, m->addr, m->data);
}

static int hook_set_routes(void *opaque, const struct ioapic_msi *routes, uint32_t valid)
{
	uint64_t addr[IOAPIC_PINS];
	uint32_t data[IOAPIC_PINS];
	unsigned i;

	for (i = 0; i < IOAPIC_PINS; i++)
		addr[i] = routes[i].addr, data[i] = routes[i].data;
	return vm_set_msi_routes(opaque, addr, data, IOAPIC_PINS, valid);
}

static const struct ioapic_hooks vm_hooks = {
	.send_msi = hook_send_msi,
	.set_routes = hook_set_routes,
};

static int irq_line(void *opaque, uint32_t gsi, int level)
{
	return ioapic_set_irq(opaque, gsi, level);
}

static const struct bus_ops ioapic_bus_ops = {
	.read = ioapic_mmio_read,
	.write = ioapic_mmio_write,
};

struct ioapic_dev {
	struct ioapic apic;
	struct vm *vm;
};

static void ioapic_destroy(void *state)
{
	struct ioapic_dev *d = state;

	if (!d)
		return;
	vm_set_irq_controller(d->vm, NULL, NULL);
	ioapic_fini(&d->apic);
	free(d);
}

static int ioapic_create(struct vm *vm, const struct lvmm_dev_cfg *cfg, void **state)
{
	struct ioapic_dev *d;
	int r;

	(void)cfg;
	*state = NULL;
	if (!vm->split_irqchip)
		return 0; /* LVMM_IRQCHIP=kernel: KVM's IOAPIC answers at this address */
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->vm = vm;
	/* The MADT and the MP table give the IOAPIC the ID nr_cpus. */
	ioapic_init(&d->apic, (uint8_t)vm->nr_vcpus, &vm_hooks, vm);
	r = bus_register(&vm->mmio, LVMM_IOAPIC_BASE, IOAPIC_MMIO_SIZE, &ioapic_bus_ops,
			 &d->apic, "ioapic");
	if (r) {
		ioapic_fini(&d->apic);
		free(d);
		return r;
	}
	vm_set_irq_controller(vm, irq_line, &d->apic);
	*state = d;
	return 0;
}

const struct device_ops ioapic_ops = {
	.name = "ioapic",
	.create = ioapic_create,
	.destroy = ioapic_destroy,
};
