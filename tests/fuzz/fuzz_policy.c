// SPDX-License-Identifier: MIT
/*
 * The policy parser: its input may come from the policy-manager partition
 * (parsed by the sandboxed API front-end in production, but it must not crash, hang
 * or grow without bound either way).
 */
#include <stdio.h>

#include "config/policy_load.h"
#include "fuzz/fuzz.h"

static struct policy pol;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *err = fopen("/dev/null", "w");

	if (!err)
		return 0;
	if (policy_load("<fuzz>", (const char *)data, size, &pol, err) < 0)
		__builtin_trap(); /* it returns a count of problems */
	fclose(err);
	return 0;
}
