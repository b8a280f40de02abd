/* SPDX-License-Identifier: MIT */
/*
 * emul: the two instructions this host's KVM emulator rejects at CPL0 and
 * lvmm completes (src/vmm/insn_fixup.c): int3 and fwait, each executed
 * at CPL0 through a service call (RT_SYS_INT3, RT_SYS_FWAIT).
 *
 *   emul: int3 at CPL0: #BP handler ran with the return address after it (N/N)
 *   emul: fwait at CPL0: survived (N/N)
 *   emul: done
 *
 * int3=N, fwait=N: how many of each (default 3). fwait_pending=1 first
 * leaves an unmasked x87 divide-by-zero pending (natively, at CPL3), so
 * the CPL0 fwait must raise #MF: lvmm must NOT complete it (it reports an
 * emulation failure, as for any other instruction); the guest prints
 * "emul: fwait with an x87 exception pending" before trying. Exit 0 when
 * every int3 reached its handler correctly and every fwait returned.
 */
#include "rt.h"

static uint64_t arg_u64(const char *key, uint64_t def)
{
	char arg[32];
	if (rt_cmdline_get(key, arg, sizeof(arg)) > 0)
		return rt_strtou64(arg, NULL);
	return def;
}

int main(void)
{
	uint64_t n3 = arg_u64("int3", 3), nw = arg_u64("fwait", 3), ok3 = 0, okw = 0;
	long r = 0;

	for (uint64_t i = 0; i < n3; i++) {
		r = rt_syscall(RT_SYS_INT3, 0, 0);
		if (r == 1)
			ok3++;
	}
	if (n3) {
		if (ok3 == n3)
			printf("emul: int3 at CPL0: #BP handler ran with the return address after it (%lu/%lu)\n",
			       ok3, n3);
		else
			printf("emul: int3 at CPL0: FAILED (%lu/%lu; last result %ld: 0 no #BP, 2 wrong return address)\n",
			       ok3, n3, r);
	}
	for (uint64_t i = 0; i < nw; i++)
		if (rt_syscall(RT_SYS_FWAIT, 0, 0) == 0)
			okw++;
	if (nw)
		printf("emul: fwait at CPL0: survived (%lu/%lu)\n", okw, nw);
	if (arg_u64("fwait_pending", 0)) {
		/* Unmask ZE and divide by zero natively at CPL3: the exception stays pending. */
		static const uint16_t cw = 0x037b;
		__asm__ volatile("fninit\n\tfldcw %0\n\tfld1\n\tfldz\n\tfdivrp\n" : : "m"(cw));
		uint16_t sw;
		__asm__ volatile("fnstsw %0" : "=m"(sw));
		printf("emul: fwait with an x87 exception pending (fsw 0x%x)\n", sw);
		rt_syscall(RT_SYS_FWAIT, 0, 0);
		printf("emul: fwait with a pending exception RETURNED\n");
		return 1;
	}
	printf("emul: done\n");
	return ok3 == n3 && okw == nw ? 0 : 1;
}
