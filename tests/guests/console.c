/* SPDX-License-Identifier: MIT */
/*
 * console: reads lines from virtio-console port 0, prints each on the
 * serial console as "console: got <line>" and writes "<line>\n" back on
 * the port. Stops after lines=N lines (default: until "quit"), or after
 * console_timeout_ms (default 10000) without input (exit 1).
 *
 * port=uart: the same with the serial console itself (COM1) as the input,
 * for console attach (`lvmm console`): prints "console: uart ready", then
 * "console: got <line>" per line typed; console_timeout_ms=0 waits for
 * ever. The power button is honoured while it waits (rt_power_poll).
 */
#include "virtio.h"
#include "lvmm/guest_abi.h"

#define UART_RBR 0
#define UART_LSR 5
#define LSR_DR   0x01

static struct vcons cons;

/* One byte from COM1 within timeout_ms (0: no limit); -1 on timeout. */
static int uart_getc(uint64_t timeout_ms)
{
	uint64_t hz = rt_tsc_hz(), start = rdtsc(), next = start;
	for (;;) {
		uint64_t now = rdtsc();
		if (timeout_ms && now - start > timeout_ms * (hz / 1000))
			return -1;
		/* An LSR read is an exit (~30 us here): look once per millisecond. */
		if ((int64_t)(now - next) >= 0) {
			if (inb(LVMM_PORT_COM1 + UART_LSR) & LSR_DR)
				return inb(LVMM_PORT_COM1 + UART_RBR);
			rt_power_poll();
			next = now + hz / 1000;
		}
		cpu_relax();
	}
}

static int uart_main(uint64_t max_lines, uint64_t timeout_ms)
{
	char line[256];
	uint32_t len = 0;
	uint64_t lines = 0;

	printf("console: uart ready\n");
	for (;;) {
		int c = uart_getc(timeout_ms);
		if (c < 0) {
			printf("console: timeout after %lu lines\n", lines);
			return 1;
		}
		if (c != '\r' && c != '\n') {
			if (len + 1 < sizeof(line))
				line[len++] = (char)c;
			continue;
		}
		if (!len)
			continue; /* a terminal sends CR, a pipe LF: either ends a line */
		line[len] = '\0';
		printf("console: got %s\n", line);
		lines++;
		len = 0;
		if (strcmp(line, "quit") == 0 || (max_lines && lines >= max_lines))
			break;
	}
	printf("console: done after %lu lines\n", lines);
	return 0;
}

int main(void)
{
	char arg[32];
	uint64_t max_lines = 0, timeout_ms = 10000;
	if (rt_cmdline_get("lines", arg, sizeof(arg)) > 0)
		max_lines = rt_strtou64(arg, NULL);
	if (rt_cmdline_get("console_timeout_ms", arg, sizeof(arg)) > 0)
		timeout_ms = rt_strtou64(arg, NULL);
	if (rt_cmdline_get("port", arg, sizeof(arg)) > 0 && strcmp(arg, "uart") == 0)
		return uart_main(max_lines, timeout_ms);
	if (vcons_open(&cons, 0)) {
		printf("console: no virtio-console device\n");
		return 2;
	}
	printf("console: ready at 0x%lx irq %u\n", cons.dev.base, cons.dev.irq);
	static const char hello[] = "console: ready\n";
	vcons_write(&cons, hello, sizeof(hello) - 1);

	char line[256];
	uint32_t len = 0;
	uint64_t lines = 0;
	for (;;) {
		char c;
		if (vcons_read(&cons, &c, 1, timeout_ms * 1000) != 1) {
			printf("console: timeout after %lu lines\n", lines);
			return 1;
		}
		if (c == '\r')
			continue;
		if (c != '\n') {
			if (len + 1 < sizeof(line))
				line[len++] = c;
			continue;
		}
		line[len] = '\0';
		printf("console: got %s\n", line);
		line[len] = '\n';
		if (vcons_write(&cons, line, len + 1)) {
			printf("console: write failed\n");
			return 1;
		}
		line[len] = '\0';
		lines++;
		len = 0;
		if (strcmp(line, "quit") == 0 || (max_lines && lines >= max_lines))
			break;
	}
	printf("console: done after %lu lines\n", lines);
	return 0;
}
