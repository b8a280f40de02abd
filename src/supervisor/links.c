// SPDX-License-Identifier: MIT
/* Inter-partition links: not built yet; a platform that declares one is refused at start. */
#include <errno.h>
#include <stdio.h>

#include "supervisor/supervisor_int.h"

int links_init(struct sup *s)
{
	(void)s;
	return 0;
}

int links_grant(struct sup *s, struct part_rt *pr, const struct plat_dev *d,
		struct lvmm_dev_cfg *dc, struct fdset *fs, char *err, size_t errlen)
{
	(void)s, (void)pr, (void)d, (void)dc, (void)fs;
	snprintf(err, errlen, "links are not supported by this build");
	return -ENOTSUP;
}

void links_partition_ended(struct sup *s, struct part_rt *pr)
{
	(void)s, (void)pr;
}

void links_close(struct sup *s)
{
	(void)s;
}
