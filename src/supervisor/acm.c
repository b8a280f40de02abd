// SPDX-License-Identifier: MIT
/*
 * Access control module. This first version admits every partition; the
 * sHype policy (labels, STE, Chinese Wall) plugs into these same hooks.
 */
#include "supervisor/supervisor_int.h"

int acm_init(struct sup *s)
{
	(void)s;
	return 0;
}

int acm_partition_start_pre(struct sup *s, struct part_rt *pr, char *err, size_t errlen)
{
	(void)s, (void)pr, (void)err, (void)errlen;
	return 0;
}

void acm_partition_start_commit(struct sup *s, struct part_rt *pr)
{
	(void)s, (void)pr;
}

void acm_partition_start_fail(struct sup *s, struct part_rt *pr)
{
	(void)s, (void)pr;
}

void acm_partition_stop(struct sup *s, struct part_rt *pr)
{
	(void)s, (void)pr;
}

int acm_ctl_check(struct sup *s, uid_t uid, const char *op, const char *target, char *err,
		  size_t errlen)
{
	(void)s, (void)uid, (void)op, (void)target, (void)err, (void)errlen;
	return 0;
}
