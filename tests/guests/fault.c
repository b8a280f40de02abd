/* SPDX-License-Identifier: MIT */
/* fault: triple-faults on purpose; the VMM must report a shutdown. */
#include "rt.h"

int main(void)
{
	printf("fault: about to triple fault\n");
	rt_triple_fault();
}
