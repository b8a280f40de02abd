// SPDX-License-Identifier: MIT
/*
 * The i8042 keyboard controller, for its "pulse reset line" command (0xfe
 * on port 0x64, Linux's default reboot=kbd). There is no keyboard: the
 * controller answers the few commands firmware-less guests send at probe
 * time and reports no devices.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lvmm/guest_abi.h"
#include "devices/registry.h"

#define STATUS_OBF 0x01 /* output buffer full: data for the guest at 0x60 */
#define STATUS_SYS 0x04 /* system flag: self test passed */
#define STATUS_CMD 0x08 /* last write was a command */

struct i8042 {
	struct vm *vm;
	pthread_mutex_t lock;
	uint8_t status, cmd_byte, out, pending_cmd;
	bool has_out;
};

static void i8042_reply(struct i8042 *k, uint8_t v)
{
	k->out = v;
	k->has_out = true;
}

/* port selects 0x60 (data) or 0x64 (command/status). */
static void i8042_read(struct i8042 *k, uint16_t port, void *data, uint32_t len)
{
	uint8_t v;

	pthread_mutex_lock(&k->lock);
	if (port == LVMM_PORT_I8042_DATA) { /* port 0x60: data */
		v = k->has_out ? k->out : 0;
		k->has_out = false;
	} else { /* port 0x64: status */
		v = (uint8_t)(k->status | (k->has_out ? STATUS_OBF : 0));
	}
	pthread_mutex_unlock(&k->lock);
	memset(data, 0, len);
	*(uint8_t *)data = v;
}

static void i8042_write(struct i8042 *k, uint16_t port, const void *data)
{
	uint8_t v = *(const uint8_t *)data;
	bool reset = false;

	pthread_mutex_lock(&k->lock);
	if (port == LVMM_PORT_I8042_DATA) { /* data byte: argument of the previous command */
		if (k->pending_cmd == 0x60)
			k->cmd_byte = v;
		k->pending_cmd = 0;
		k->status &= (uint8_t)~STATUS_CMD;
	} else {
		k->status |= STATUS_CMD;
		switch (v) {
		case 0x20: i8042_reply(k, k->cmd_byte); break; /* read command byte */
		case 0x60: k->pending_cmd = v; break;        /* write command byte */
		case 0xaa: i8042_reply(k, 0x55); break;      /* controller self test */
		case 0xab: i8042_reply(k, 0x00); break;      /* keyboard interface test */
		case 0xa9: i8042_reply(k, 0xff); break;      /* aux test: no mouse */
		case 0xfe: reset = true; break;             /* pulse reset line */
		default: break;                              /* enable/disable etc. */
		}
	}
	pthread_mutex_unlock(&k->lock);
	if (reset)
		vm_exit_simple(k->vm, LVMM_EXIT_RESET, 0, "i8042 reset");
}

static void data_read(void *o, uint64_t off, void *d, uint32_t len) { i8042_read(o, LVMM_PORT_I8042_DATA, d, len); }
static void cmd_read(void *o, uint64_t off, void *d, uint32_t len) { i8042_read(o, LVMM_PORT_I8042_CMD, d, len); }
static void data_write(void *o, uint64_t off, const void *d, uint32_t len) { i8042_write(o, LVMM_PORT_I8042_DATA, d); }
static void cmd_write(void *o, uint64_t off, const void *d, uint32_t len) { i8042_write(o, LVMM_PORT_I8042_CMD, d); }

static const struct bus_ops i8042_data_ops = {
	.read = data_read,
	.write = data_write,
};

static const struct bus_ops i8042_cmd_ops = {
	.read = cmd_read,
	.write = cmd_write,
};

static void i8042_destroy(void *state)
{
	struct i8042 *k = state;

	if (k) {
		pthread_mutex_destroy(&k->lock);
		free(k);
	}
}

static int i8042_create(struct vm *vm, const struct lvmm_dev_cfg *cfg, void **state)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	int r;

	if (!k)
		return -ENOMEM;
	k->vm = vm;
	k->status = STATUS_SYS;
	k->cmd_byte = 0x30; /* keyboard and aux clocks disabled, no interrupts */
	pthread_mutex_init(&k->lock, NULL);
	r = bus_register(&vm->pio, LVMM_PORT_I8042_DATA, 1, &i8042_data_ops, k, "i8042-data");
	if (!r)
		r = bus_register(&vm->pio, LVMM_PORT_I8042_CMD, 1, &i8042_cmd_ops, k, "i8042-cmd");
	if (r) {
		/* Bus entries cannot be removed; a failure here aborts the whole VM anyway. */
		i8042_destroy(k);
		return r;
	}
	*state = k;
	return 0;
}

const struct device_ops i8042_ops = {
	.name = "i8042",
	.create = i8042_create,
	.destroy = i8042_destroy,
};
