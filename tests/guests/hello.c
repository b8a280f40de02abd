/* SPDX-License-Identifier: MIT */
/*
 * hello: the smallest guest. Prints a banner and its command line. Built
 * twice: hello.elf (PVH) and hello.bzimage (Linux 64-bit boot protocol);
 * the banner says which way it came in.
 */
#include "rt.h"

int main(void)
{
	uint64_t t = rdtsc();
	printf("hello from lvmm guest%s\n",
	       rt_boot_protocol() == RT_BOOT_LINUX ? " (bzImage)" : "");
	printf("cmdline: %s\n", rt_cmdline());
	printf("hello: main reached %lu us after the %s entry\n",
	       (t - rt_entry_tsc) / (rt_tsc_hz() / 1000000), rt_boot_protocol_name());
	return 0;
}
