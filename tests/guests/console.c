/* SPDX-License-Identifier: MIT */
/*
 * console: reads lines from virtio-console port 0, prints each on the
 * serial console as "console: got <line>" and writes "<line>\n" back on
 * the port. Stops after lines=N lines (default: until "quit"), or after
 * console_timeout_ms (default 10000) without input (exit 1).
 */
#include "virtio.h"

static struct vcons cons;

int main(void)
{
	char arg[32];
	uint64_t max_lines = 0, timeout_ms = 10000;
	if (rt_cmdline_get("lines", arg, sizeof(arg)) > 0)
		max_lines = rt_strtou64(arg, NULL);
	if (rt_cmdline_get("console_timeout_ms", arg, sizeof(arg)) > 0)
		timeout_ms = rt_strtou64(arg, NULL);
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
