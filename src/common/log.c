// SPDX-License-Identifier: MIT
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int log_level = LOG_WARN;
static char log_prefix[64] = "lvmm";

void log_set_prefix(const char *prefix)
{
	snprintf(log_prefix, sizeof(log_prefix), "%s", prefix);
}

void log_msg(int level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char line[1024];
	int n;
	va_list ap;

	if (level > log_level)
		return;
	if (level < 0 || level > LOG_DEBUG)
		level = LOG_ERR;
	if (level == LOG_DEBUG) /* a monotonic ms stamp lets -vv show where time goes */
		n = snprintf(line, sizeof(line), "%s: [%.3f] %s: ", log_prefix,
			     (double)(now_ns() % 100000000000ULL) / 1e6, names[level]);
	else
		n = snprintf(line, sizeof(line), "%s: %s: ", log_prefix, names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One fprintf per line so lines from several processes do not interleave. */
	fprintf(stderr, "%s\n", line);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
