// SPDX-License-Identifier: MIT
/* The platform-file parser and checks, on arbitrary YAML (through a memfd path). */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/platform.h"
#include "fuzz/fuzz.h"

static struct platform plat;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64];
	FILE *err;

	if (fd < 0)
		fd = memfd_create("fuzz-platform", 0);
	if (fd < 0 || ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	err = fopen("/dev/null", "w");
	if (!err)
		return 0;
	if (platform_load(path, &plat, err) < 0)
		__builtin_trap(); /* it returns a count of problems */
	fclose(err);
	return 0;
}
