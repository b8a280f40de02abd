/* SPDX-License-Identifier: MIT */
/*
 * The ACPI power button, polled (rt.h: rt_power_poll). An ACPI OS takes
 * the GED's interrupt and runs its _EVT method; these guests run at CPL3
 * with interrupts off and poll the same event register instead. lvmm is
 * recognised by its FADT: the sleep control register is a SystemIO byte
 * at LVMM_PORT_SLEEP_CTL, so a guest under QEMU (no such register, and a
 * read of an unclaimed port returns all ones) never mistakes noise for a
 * press.
 */
#include "rt.h"
#include "internal.h"

#define POLL_MS 10

static int present;        /* 0: not checked yet, 1: lvmm's device, -1: none */
static int ignore;
static uint64_t next_poll; /* TSC */

static int detect(void)
{
	const uint8_t *f = rt_acpi_table("FACP");
	uint32_t len;
	uint64_t addr;
	char arg[16];

	if (!f)
		return -1;
	memcpy(&len, f + 4, 4);
	if (len < 268) /* revision 5+ FADT with SLEEP_CONTROL_REG at 244 */
		return -1;
	memcpy(&addr, f + 248, 8);
	if (f[244] != 1 /* SystemIO */ || addr != LVMM_PORT_SLEEP_CTL)
		return -1;
	ignore = rt_cmdline_get("power_button", arg, sizeof(arg)) >= 0 && strcmp(arg, "ignore") == 0;
	return 1;
}

void rt_power_poll(void)
{
	uint64_t now = rdtsc();

	if (present < 0 || (present && (int64_t)(now - next_poll) < 0))
		return;
	if (!present)
		present = detect();
	if (present < 0)
		return;
	next_poll = now + POLL_MS * (rt_tsc_hz() / 1000);
	if (!(inl(LVMM_PORT_GED_EVENT) & LVMM_GED_EV_POWER_BUTTON))
		return;
	if (ignore) {
		printf("power button: pressed, ignored\n");
		return;
	}
	printf("power button: powering off\n");
	/* SLP_TYP of \_S5 with SLP_EN, what an ACPI OS writes. */
	outb(LVMM_PORT_SLEEP_CTL, (uint8_t)(LVMM_SLP_TYP_S5 << LVMM_SLEEP_TYP_SHIFT | LVMM_SLEEP_SLP_EN));
	/* Still here: the register did not power off. */
	printf("power button: S5 did not power off\n");
	exit_status(3);
}
