// SPDX-License-Identifier: MIT
/* Shared seccomp argument rules; see seccomp_rules.h. */
#include "shared/seccomp_rules.h"

#include <fcntl.h>

int seccomp_allow_fcntl(scmp_filter_ctx ctx)
{
	static const scmp_datum_t cmds[] = { F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC,
					     F_ADD_SEALS, F_GET_SEALS };
	unsigned i;
	int r = 0;

	for (i = 0; !r && i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		/* Spelled out: clang's -Wmissing-field-initializers rejects libseccomp's SCMP_A1_64(). */
		struct scmp_arg_cmp a = { .arg = 1, .op = SCMP_CMP_EQ, .datum_a = cmds[i], .datum_b = 0 };

		r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1, &a);
	}
	return r;
}
