/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the tests/unit/test_trust_*.c programs: a private
 * temporary directory, running shell commands (openssl, swtpm, tpm2-tools)
 * with their output captured, and small file helpers.
 */
#ifndef LVMM_TRUST_TEST_H
#define LVMM_TRUST_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tt_dir[64];

/* A fresh private directory for this test program; removed by tt_cleanup(). */
static inline int tt_mkdir(const char *tag)
{
	snprintf(tt_dir, sizeof(tt_dir), "/tmp/lvmm-%s.XXXXXX", tag);
	return mkdtemp(tt_dir) ? 0 : -errno;
}

static inline void tt_cleanup(void)
{
	char cmd[128];

	if (!tt_dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tt_dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", tt_dir);
}

/* tt_dir/name into out. */
static inline const char *tt_path(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", tt_dir, name);
	return out;
}

/*
 * Run a shell command in tt_dir; stdout+stderr into out (NUL-terminated,
 * may be NULL). Returns the exit status, or -1.
 */
static inline int tt_sh(char *out, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline int tt_sh(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[8192], full[8400];
	size_t n = 0;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd '%s' && { %s\n} 2>&1", tt_dir, cmd);
	p = popen(full, "r");
	if (!p)
		return -1;
	if (out && cap) {
		while (n + 1 < cap) {
			size_t k = fread(out + n, 1, cap - 1 - n, p);

			if (!k)
				break;
			n += k;
		}
		out[n] = 0;
	} else {
		char sink[512];

		while (fread(sink, 1, sizeof(sink), p))
			;
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline bool tt_have(const char *prog)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/* Read tt_dir/name (at most cap bytes). Returns the size or -1. */
static inline long tt_read(const char *name, void *buf, size_t cap)
{
	char path[256];
	FILE *f = fopen(tt_path(path, sizeof(path), name), "rb");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, cap, f);
	fclose(f);
	return (long)n;
}

static inline int tt_write(const char *name, const void *buf, size_t len)
{
	char path[256];
	FILE *f = fopen(tt_path(path, sizeof(path), name), "wb");
	size_t n;

	if (!f)
		return -1;
	n = fwrite(buf, 1, len, f);
	return fclose(f) || n != len ? -1 : 0;
}

#endif
