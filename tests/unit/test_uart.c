// SPDX-License-Identifier: MIT
/*
 * The 16550 UART's interactive console input (src/devices/uart.c) on a
 * fake partition: the operator's bytes reach the guest, Ctrl-A x stops
 * the partition, and a receive FIFO the guest filled itself through
 * loopback does not cost the console its input.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "unit.h"
#include "devices/registry.h"
#include "fuzz/fake_vm.h"

#define COM1_RBR (LVMM_PORT_COM1 + 0) /* receive buffer / transmit holding */
#define COM1_MCR (LVMM_PORT_COM1 + 4)
#define COM1_LSR (LVMM_PORT_COM1 + 5)
#define MCR_LOOP 0x10
#define LSR_DR   0x01

static unsigned stops; /* vm_exit_simple calls: Ctrl-A x */

int vm_irq_line(struct vm *vm, uint32_t gsi, int level)
{
	(void)vm;
	(void)gsi;
	(void)level;
	return 0;
}

void vm_exit_simple(struct vm *vm, uint32_t reason, int status, const char *detail)
{
	(void)vm;
	(void)reason;
	(void)status;
	(void)detail;
	stops++;
}

void vm_wake_self(struct vm *vm)
{
	(void)vm;
}

static void outb(struct vm *vm, uint16_t port, uint8_t v)
{
	bus_access(&vm->pio, true, port, &v, 1);
}

static uint8_t inb(struct vm *vm, uint16_t port)
{
	uint8_t v = 0;

	bus_access(&vm->pio, false, port, &v, 1);
	return v;
}

/*
 * The guest turns loopback on and writes fill bytes to itself, the
 * operator types "a"; the guest reads its FIFO empty and leaves loopback,
 * the operator types "b". Returns the console bytes the guest then got.
 */
static unsigned console_after_loopback(unsigned fill)
{
	static struct lvmm_part_config cfg;
	int in[2], out[2], fds[2];
	unsigned i, got = 0;
	struct vm *vm;
	void *st = NULL;

	stops = 0;
	CHECK_EQ(pipe2(in, O_NONBLOCK | O_CLOEXEC), 0);
	CHECK_EQ(pipe2(out, O_NONBLOCK | O_CLOEXEC), 0);
	fds[0] = out[1];
	fds[1] = in[0];
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.name, sizeof(cfg.name), "p");
	cfg.flags = LVMM_PART_F_STDIN;
	cfg.fd_console_out = 0;
	cfg.fd_console_in = 1;
	cfg.fd_console_listen = LVMM_NO_FD;
	vm = fake_vm_new(1 << 20, fds, 2);
	CHECK(vm != NULL);
	vm->cfg = &cfg;
	CHECK_EQ(uart_ops.create(vm, NULL, &st), 0);
	outb(vm, COM1_MCR, MCR_LOOP);
	for (i = 0; i < fill; i++)
		outb(vm, COM1_RBR, 'L');
	CHECK_EQ(write(in[1], "a", 1), 1);
	fake_run(vm);
	while (inb(vm, COM1_LSR) & LSR_DR)
		(void)inb(vm, COM1_RBR);
	outb(vm, COM1_MCR, 0);
	CHECK_EQ(write(in[1], "b", 1), 1);
	fake_run(vm);
	while (inb(vm, COM1_LSR) & LSR_DR) {
		(void)inb(vm, COM1_RBR);
		got++;
	}
	/* The operator's stop still works. */
	CHECK_EQ(write(in[1], "\x01x", 2), 2);
	fake_run(vm);
	CHECK_EQ(stops, 1);
	uart_ops.destroy(st);
	fake_vm_free(vm);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
	return got;
}

static void test_console_input(void)
{
	/* Nothing in the FIFO: "a" and "b" both arrive. */
	CHECK_EQ(console_after_loopback(0), 1); /* "a" was read with the loopback bytes */
}

static void test_loopback_full_fifo_keeps_input(void)
{
	/* A full FIFO: "a" waits in the pipe (not an EOF), then both arrive. */
	CHECK_EQ(console_after_loopback(64), 2);
}

int main(void)
{
	RUN(test_console_input);
	RUN(test_loopback_full_fifo_keeps_input);
	return unit_done();
}
