/* SPDX-License-Identifier: MIT */
/*
 * hello: the smallest guest. Prints a banner and its command line. Built
 * twice: hello.elf (PVH) and hello.bzimage (Linux 64-bit boot protocol);
 * the banner says which way it came in.
 *
 * Options, carried out in this order after the banner:
 *   inb=PORT                   read a byte: "hello: inb 0xPORT = 0xVV"
 *   outb=PORT:VAL[,PORT:VAL]   byte writes, then "hello: outb done"
 *   outl=PORT:VAL              one 32-bit write, then "hello: outl done"
 *   readback=PORT              read a byte: "hello: readback 0xPORT = 0xVV"
 *   flood=BYTES                write BYTES of console output as fast as the
 *                              UART takes it (64-byte lines "hello: flood
 *                              line N", rep outsb 4 KiB at a time), then
 *                              "hello: flooded BYTES bytes"
 *   hold_ms=N                  busy-wait N ms at CPL3 ("hello: holding N ms"); a
 *                              power-button press powers off meanwhile
 *                              (power_button=ignore: it does not)
 *   reset=kbd|cf9              reset through the i8042 (0xfe to port 0x64) or
 *                              the reset control register (0x06 to 0xcf9)
 *   exit=N                     write N to the debug-exit port instead of 0
 * Numbers are decimal or 0x-prefixed hex.
 */
#include "rt.h"

static int parse_u(const char *s, const char **end, uint64_t max, uint64_t *v)
{
	const char *e;
	*v = rt_strtou64(s, &e);
	if (e == s || *v > max)
		return -1;
	if (end)
		*end = e;
	else if (*e)
		return -1;
	return 0;
}

static uint64_t ms_to_tsc(uint64_t ms)
{
	return ms * (rt_tsc_hz() / 1000);
}

/* Waits honour the ACPI power button (rt_power_poll: `lvmm ctl shutdown`). */
static void delay_ms(uint64_t ms)
{
	uint64_t end = rdtsc() + ms_to_tsc(ms);
	while ((int64_t)(rdtsc() - end) < 0) {
		rt_power_poll();
		cpu_relax();
	}
}

/* flood=BYTES: bulk console output, 4 KiB per I/O exit (string I/O), for console-attach tests. */
static void flood(uint64_t bytes)
{
	static char buf[4096];
	uint64_t line = 0, done = 0;

	while (done < bytes) {
		size_t n = 0;

		while (n + 64 <= sizeof(buf)) {
			int w = snprintf(buf + n, 64, "hello: flood line %08lu ", line++);

			memset(buf + n + w, '.', (size_t)(63 - w));
			buf[n + 63] = '\n';
			n += 64;
		}
		if (n > bytes - done)
			n = (size_t)(bytes - done);
		const char *p = buf;
		size_t cnt = n;
		__asm__ volatile("rep outsb" : "+S"(p), "+c"(cnt) : "d"((uint16_t)0x3f8) : "memory");
		done += n;
		rt_power_poll();
	}
	printf("hello: flooded %lu bytes\n", bytes);
}

/* "PORT:VAL[,PORT:VAL...]": 0, or -1 (nothing is written on a bad list). */
static int do_outb(const char *list)
{
	uint16_t port[32];
	uint8_t val[32];
	int n = 0;
	const char *p = list;
	while (*p) {
		uint64_t a, b;
		if (n == 32 || parse_u(p, &p, 0xffff, &a) || *p++ != ':' ||
		    parse_u(p, &p, 0xff, &b) || (*p && *p != ','))
			return -1;
		port[n] = (uint16_t)a;
		val[n++] = (uint8_t)b;
		if (*p == ',')
			p++;
	}
	for (int i = 0; i < n; i++) {
		printf("hello: outb 0x%x <- 0x%02x\n", port[i], val[i]);
		outb(port[i], val[i]);
	}
	printf("hello: outb done\n");
	return 0;
}

int main(void)
{
	char arg[256];
	uint64_t v, status = 0;
	int has_exit = 0;
	uint64_t t = rdtsc();
	printf("hello from lvmm guest%s\n",
	       rt_boot_protocol() == RT_BOOT_LINUX ? " (bzImage)" : "");
	printf("cmdline: %s\n", rt_cmdline());
	printf("hello: main reached %lu us after the %s entry\n",
	       (t - rt_entry_tsc) / (rt_tsc_hz() / 1000000), rt_boot_protocol_name());

	if (rt_cmdline_get("exit", arg, sizeof(arg)) >= 0) {
		has_exit = 1;
		if (parse_u(arg, NULL, 0xffffffffULL, &status)) {
			printf("hello: bad exit=%s\n", arg);
			return 2;
		}
	}
	if (rt_cmdline_get("inb", arg, sizeof(arg)) >= 0) {
		if (parse_u(arg, NULL, 0xffff, &v)) {
			printf("hello: bad inb=%s\n", arg);
			return 2;
		}
		uint8_t b = inb((uint16_t)v);
		printf("hello: inb 0x%lx = 0x%02x\n", v, b);
	}
	if (rt_cmdline_get("outb", arg, sizeof(arg)) >= 0 && do_outb(arg)) {
		printf("hello: bad outb=%s (want PORT:VAL[,PORT:VAL...])\n", arg);
		return 2;
	}
	if (rt_cmdline_get("outl", arg, sizeof(arg)) >= 0) {
		const char *p = arg;
		uint64_t port, val;

		if (parse_u(p, &p, 0xffff, &port) || *p++ != ':' || parse_u(p, NULL, 0xffffffffULL, &val)) {
			printf("hello: bad outl=%s (want PORT:VAL)\n", arg);
			return 2;
		}
		printf("hello: outl 0x%lx <- 0x%lx\n", port, val);
		outl((uint16_t)port, (uint32_t)val);
		printf("hello: outl done\n");
	}
	if (rt_cmdline_get("readback", arg, sizeof(arg)) >= 0) {
		if (parse_u(arg, NULL, 0xffff, &v)) {
			printf("hello: bad readback=%s\n", arg);
			return 2;
		}
		printf("hello: readback 0x%lx = 0x%02x\n", v, inb((uint16_t)v));
	}
	if (rt_cmdline_get("flood", arg, sizeof(arg)) >= 0) {
		if (parse_u(arg, NULL, 1ULL << 40, &v)) {
			printf("hello: bad flood=%s\n", arg);
			return 2;
		}
		flood(v);
	}
	if (rt_cmdline_get("hold_ms", arg, sizeof(arg)) >= 0) {
		if (parse_u(arg, NULL, ~0ULL / 1000000000ULL, &v)) {
			printf("hello: bad hold_ms=%s\n", arg);
			return 2;
		}
		printf("hello: holding %lu ms\n", v);
		delay_ms(v);
		printf("hello: held %lu ms\n", v);
	}
	if (rt_cmdline_get("reset", arg, sizeof(arg)) >= 0) {
		if (strcmp(arg, "kbd") == 0) {
			printf("hello: reset via kbd (0xfe to port 0x64)\n");
			outb(0x64, 0xfe);
		} else if (strcmp(arg, "cf9") == 0) {
			printf("hello: reset via cf9 (0x06 to port 0xcf9)\n");
			outb(0xcf9, 0x06);
		} else {
			printf("hello: bad reset=%s (want kbd or cf9)\n", arg);
			return 2;
		}
		/* A reset takes effect at the write; still here means it did not. */
		delay_ms(100);
		printf("hello: reset did not happen\n");
		return 3;
	}
	if (has_exit)
		printf("hello: exit %lu\n", status);
	return (int)(uint32_t)status;
}
