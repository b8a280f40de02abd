// SPDX-License-Identifier: MIT
/*
 * ACPI power management for the hardware-reduced platform (docs/acpi.md):
 *
 *  - the FADT's sleep control and status registers (ACPI 6.3, 4.8.3.7):
 *    a guest that writes SLP_TYP = 5 (the DSDT's \_S5) with SLP_EN powers
 *    the partition off, so Linux's `poweroff` ends it instead of halting;
 *  - the event register of the Generic Event Device (ACPI0013, 5.6.9):
 *    the supervisor's `shutdown`/`reboot` presses the power button, which
 *    latches bit 0 and pulses the GED's interrupt; the guest's _EVT method
 *    reads (and so clears) the register and notifies the PNP0C0C power
 *    button device, which Linux's button driver turns into KEY_POWER.
 *    The in-tree guests poll the register instead (tests/guests/rt).
 *
 * Sleep states go through one switch (acpi_pm_sleep()): S5 powers off; S3
 * stops the partition's vCPUs at once (the guest believes it sleeps) and
 * tells the supervisor, which suspends the platform when the service
 * partitions are idle; a wake resumes the guest after its sleep write, with
 * WAK_STS set in the sleep status register (what an ACPI OS polls for).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "shared/ratelimit.h"
#include "lvmm/guest_abi.h"
#include "devices/registry.h"

#define OFF_SLEEP_CTL (LVMM_PORT_SLEEP_CTL - LVMM_PORT_ACPI_PM)
#define OFF_SLEEP_STS (LVMM_PORT_SLEEP_STS - LVMM_PORT_ACPI_PM)
#define OFF_GED_EVENT (LVMM_PORT_GED_EVENT - LVMM_PORT_ACPI_PM)

struct acpi_pm {
	struct vm *vm;
	pthread_mutex_t lock;
	uint32_t events;    /* GED events latched, not yet read by the guest */
	int irqfd;          /* pulses LVMM_IRQ_GED */
	struct ratelimit rl;
};

/* The guest asked for sleep state slp_typ (the value of one of its \_Sx objects). */
static void acpi_pm_sleep(struct acpi_pm *pm, unsigned slp_typ)
{
	switch (slp_typ) {
	case LVMM_SLP_TYP_S5:
		vm_exit_simple(pm->vm, LVMM_EXIT_POWEROFF, 0, "ACPI S5: the guest powered off");
		return;
	case LVMM_SLP_TYP_S3:
		/* Acknowledged: the guest sleeps now; the supervisor decides about the platform. */
		if (vm_sleep(pm->vm))
			pr_warn_rl(&pm->rl, "acpi_pm: S3 requested while not running; ignored");
		else
			pr_info("ACPI S3: the guest is asleep");
		return;
	default:
		/* Only \_S3 and \_S5 are in the DSDT: anything else is a guest that guessed. */
		pr_warn_rl(&pm->rl, "acpi_pm: sleep type %u is not supported; ignored", slp_typ);
		return;
	}
}

static void pm_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct acpi_pm *pm = opaque;
	uint32_t v = 0;

	memset(data, 0xff, len);
	if (off == OFF_GED_EVENT && len == 4) {
		/* Read-to-clear: each latched event is reported exactly once. */
		pthread_mutex_lock(&pm->lock);
		v = pm->events;
		pm->events = 0;
		pthread_mutex_unlock(&pm->lock);
		memcpy(data, &v, 4);
	} else if (off == OFF_SLEEP_STS && len == 1) {
		*(uint8_t *)data = atomic_load(&pm->vm->wak_sts) ? LVMM_SLEEP_WAK_STS : 0;
	} else if (off == OFF_SLEEP_CTL && len == 1) {
		*(uint8_t *)data = 0;
	}
}

static void pm_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct acpi_pm *pm = opaque;
	uint8_t v;

	if (len != 1)
		return;
	v = *(const uint8_t *)data;
	if (off == OFF_SLEEP_STS && (v & LVMM_SLEEP_WAK_STS)) {
		atomic_store(&pm->vm->wak_sts, false); /* write 1 to clear */
		return;
	}
	if (off != OFF_SLEEP_CTL)
		return;
	if (v & LVMM_SLEEP_SLP_EN)
		acpi_pm_sleep(pm, (v & LVMM_SLEEP_TYP_MASK) >> LVMM_SLEEP_TYP_SHIFT);
}

static const struct bus_ops pm_bus_ops = {
	.read = pm_read,
	.write = pm_write,
};

/* LVMM_CTL_POWER_BUTTON from the supervisor (I/O thread): latch the event, pulse the line. */
static int pm_ctl(void *state, uint32_t op)
{
	struct acpi_pm *pm = state;
	uint64_t one = 1;

	if (op != LVMM_CTL_POWER_BUTTON)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&pm->lock);
	pm->events |= LVMM_GED_EV_POWER_BUTTON;
	pthread_mutex_unlock(&pm->lock);
	if (write(pm->irqfd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	pr_info("power button pressed");
	return 0;
}

static void pm_destroy(void *state)
{
	struct acpi_pm *pm = state;

	if (!pm)
		return;
	if (pm->irqfd >= 0)
		close(pm->irqfd);
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

static int pm_create(struct vm *vm, const struct lvmm_dev_cfg *dcfg, void **state)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	int r;

	if (!pm)
		return -ENOMEM;
	pm->vm = vm;
	pm->irqfd = -1;
	pthread_mutex_init(&pm->lock, NULL);
	r = vm_irqfd(vm, LVMM_IRQ_GED, &pm->irqfd);
	if (r)
		goto err_free;
	r = bus_register(&vm->pio, LVMM_PORT_ACPI_PM, LVMM_ACPI_PM_PORTS, &pm_bus_ops, pm, "acpi_pm");
	if (r)
		goto err_irqfd;
	*state = pm;
	return 0;
err_irqfd:
	close(pm->irqfd);
err_free:
	pthread_mutex_destroy(&pm->lock);
	free(pm);
	return r;
}

const struct device_ops acpi_pm_ops = {
	.name = "acpi_pm",
	.create = pm_create,
	.destroy = pm_destroy,
	.ctl = pm_ctl,
};
