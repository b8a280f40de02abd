/* SPDX-License-Identifier: MIT */
/* hello: the smallest guest. Prints a banner and its command line. */
#include "rt.h"

int main(void)
{
	uint64_t t = rdtsc();
	printf("hello from lvmm guest\n");
	printf("cmdline: %s\n", rt_cmdline());
	printf("hello: main reached %lu us after the PVH entry\n",
	       (t - rt_entry_tsc) / (rt_tsc_hz() / 1000000));
	return 0;
}
