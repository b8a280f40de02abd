// SPDX-License-Identifier: MIT
/*
 * Debug exit (port 0xf4): a write of V ends the partition with exit status
 * V & 0xff, which is how test guests report their verdict. Also claims the
 * POST diagnostic port 0x80, which Linux writes as an I/O delay, so those
 * writes are not reported as unhandled.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lvmm/guest_abi.h"
#include "vmm/devices.h"

#define PORT_POST 0x80

static void exit_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct vm *vm = opaque;
	uint32_t v = 0;
	char detail[48];

	memcpy(&v, data, len > 4 ? 4 : len);
	snprintf(detail, sizeof(detail), "guest wrote %u to the debug-exit port", v);
	vm_exit_simple(vm, LVMM_EXIT_POWEROFF, (int)(v & 0xff), detail);
}

static void zero_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	memset(data, 0, len);
}

static void ignore_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
}

static const struct bus_ops exit_bus_ops = {
	.read = zero_read,
	.write = exit_write,
};

static const struct bus_ops post_bus_ops = {
	.read = zero_read,
	.write = ignore_write,
};

static int debug_exit_create(struct vm *vm, const struct lvmm_dev_cfg *cfg, void **state)
{
	int r = bus_register(&vm->pio, LVMM_PORT_DEBUG_EXIT, 4, &exit_bus_ops, vm, "debug-exit");

	if (!r)
		r = bus_register(&vm->pio, PORT_POST, 1, &post_bus_ops, vm, "post");
	*state = NULL;
	return r;
}

const struct device_ops debug_exit_ops = {
	.name = "debug-exit",
	.create = debug_exit_create,
};
