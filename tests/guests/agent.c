/* SPDX-License-Identifier: MIT */
/*
 * agent: a partition's management agent. Talks to the supervisor's control
 * API over virtio-console port 0 of the first virtio-console device
 * (agent_index=N for another): writes one request line "OP ARGS\n", reads
 * one reply line (JSON, up to "\n") and prints "agent: reply <line>".
 *
 * Steps, carried out in command-line order (each word is one step):
 *   cmd=OP[+ARG...]   the request line, '+' standing for a space
 *                     (cmd=status+user sends "status user\n")
 *   upload=module     sends "policy-load N\n" and the N bytes of boot
 *                     module 0 (lvmm --initrd, QEMU -initrd)
 * agent_timeout_ms=N (default 5000) bounds each reply, and each wait for
 * the device to take a buffer that is written.
 *
 * Prints "agent: request <line>" before each request (for an upload:
 * "agent: upload N bytes"). Exit 0 after the last reply; 1 on a timeout
 * or a write the device did not take; 2 on a bad command line, no device,
 * or no boot module.
 */
#include "virtio.h"

#define REPLY_MAX 65536

static struct vcons cons;
static char reply[REPLY_MAX];
static uint64_t timeout_us = 5000000;

/* One line from the port into reply (without "\n"), truncated at
 * REPLY_MAX - 1. Its length, or -1 on a timeout. */
static int read_line(int *truncated)
{
	uint64_t hz = rt_tsc_hz();
	uint64_t end = rdtsc() + timeout_us * (hz / 1000000);
	uint32_t n = 0;
	*truncated = 0;
	for (;;) {
		char c;
		int64_t left = (int64_t)(end - rdtsc());
		if (left <= 0)
			return -1;
		if (vcons_read(&cons, &c, 1, (uint64_t)left / (hz / 1000000) + 1) != 1)
			continue;
		if (c == '\n')
			break;
		if (n + 1 < REPLY_MAX)
			reply[n++] = c;
		else
			*truncated = 1;
	}
	reply[n] = '\0';
	return (int)n;
}

static int get_reply(const char *what)
{
	int truncated;
	int n = read_line(&truncated);
	if (n < 0) {
		printf("agent: timeout waiting for the reply to %s\n", what);
		return 1;
	}
	printf("agent: reply ");
	rt_puts_raw(reply, (size_t)n);
	rt_puts_raw(truncated ? " [truncated]\n" : "\n", truncated ? 13 : 1);
	return 0;
}

static int do_cmd(const char *val, size_t len)
{
	char line[1024];
	if (!len || len + 2 > sizeof(line)) {
		printf("agent: bad cmd= (empty, or longer than %lu bytes)\n", (unsigned long)sizeof(line) - 2);
		return 2;
	}
	for (size_t i = 0; i < len; i++)
		line[i] = val[i] == '+' ? ' ' : val[i];
	line[len] = '\0';
	printf("agent: request %s\n", line);
	line[len] = '\n';
	if (vcons_write_timeout(&cons, line, (uint32_t)len + 1, timeout_us)) {
		printf("agent: timeout: the device did not take the request\n");
		return 1;
	}
	line[len] = '\0';
	return get_reply(line);
}

static int do_upload(void)
{
	int nmod;
	const struct rt_module *m = rt_modules(&nmod);
	if (nmod < 1) {
		printf("agent: upload=module: no boot module (use --initrd FILE)\n");
		return 2;
	}
	if (m[0].paddr >= (1ULL << 32) || m[0].size > (1ULL << 32) - m[0].paddr) {
		printf("agent: module at 0x%lx is not mapped\n", m[0].paddr);
		return 2;
	}
	char line[64];
	int n = snprintf(line, sizeof(line), "policy-load %lu\n", m[0].size);
	printf("agent: upload %lu bytes from 0x%lx\n", m[0].size, m[0].paddr);
	if (vcons_write_timeout(&cons, line, (uint32_t)n, timeout_us)) {
		printf("agent: timeout: the device did not take the request\n");
		return 1;
	}
	const uint8_t *p = (const uint8_t *)(uintptr_t)m[0].paddr;
	for (uint64_t off = 0; off < m[0].size;) {
		uint64_t chunk = m[0].size - off < 4096 ? m[0].size - off : 4096;
		if (vcons_write_timeout(&cons, p + off, (uint32_t)chunk, timeout_us)) {
			printf("agent: timeout: the device took only %lu of %lu bytes\n", off, m[0].size);
			return 1;
		}
		off += chunk;
	}
	return get_reply("policy-load");
}

int main(void)
{
	char arg[32];
	if (rt_cmdline_get("agent_timeout_ms", arg, sizeof(arg)) > 0)
		timeout_us = rt_strtou64(arg, NULL) * 1000;
	int index = 0;
	if (rt_cmdline_get("agent_index", arg, sizeof(arg)) > 0)
		index = (int)rt_strtou64(arg, NULL);

	/* Check the steps before talking to anyone. */
	const char *cl = rt_cmdline();
	int steps = 0;
	for (const char *p = cl; *p;) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		size_t wl = (size_t)(p - w);
		if (wl > 4 && !strncmp(w, "cmd=", 4))
			steps++;
		else if (wl >= 7 && !strncmp(w, "upload=", 7)) {
			if (wl != 13 || strncmp(w + 7, "module", 6)) {
				printf("agent: bad upload= (only upload=module)\n");
				return 2;
			}
			steps++;
		}
	}
	if (!steps) {
		printf("agent: nothing to do: need cmd=OP[+ARG...] and/or upload=module\n");
		return 2;
	}
	if (vcons_open(&cons, index)) {
		printf("agent: no virtio-console device %d\n", index);
		return 2;
	}
	printf("agent: console at 0x%lx irq %u, %d steps\n", cons.dev.base, cons.dev.irq, steps);

	for (const char *p = cl; *p;) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		size_t wl = (size_t)(p - w);
		int r = 0;
		if (wl > 4 && !strncmp(w, "cmd=", 4))
			r = do_cmd(w + 4, wl - 4);
		else if (wl == 13 && !strncmp(w, "upload=module", 13))
			r = do_upload();
		if (r)
			return r;
	}
	printf("agent: done\n");
	return 0;
}
