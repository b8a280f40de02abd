// SPDX-License-Identifier: MIT
#include "cli/ctl_client.h"

#include <stdio.h>

const char ctl_usage[] = "Usage: lvmm ctl SOCKET OP [ARGS]\n";

int ctl_client_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	fputs("lvmm ctl: not available in this build\n", stderr);
	return 2;
}
