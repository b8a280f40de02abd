// SPDX-License-Identifier: MIT
/* Control socket: not built yet. */
#include <errno.h>
#include <stdint.h>

#include "common/log.h"
#include "supervisor/supervisor_int.h"

int ctl_init(struct sup *s, const char *path)
{
	(void)s;
	if (path && path[0]) {
		pr_err("the control socket is not supported by this build");
		return -ENOTSUP;
	}
	return 0;
}

void ctl_on_event(struct sup *s, uint64_t tag, uint32_t events) { (void)s, (void)tag, (void)events; }
void ctl_on_reply(struct sup *s, struct part_rt *pr, const struct lvmm_ctl_reply *rep) { (void)s, (void)pr, (void)rep; }
void ctl_part_gone(struct sup *s, struct part_rt *pr) { (void)s, (void)pr; }
uint64_t ctl_next_deadline(struct sup *s) { (void)s; return UINT64_MAX; }
void ctl_on_timer(struct sup *s, uint64_t now) { (void)s, (void)now; }
void ctl_close(struct sup *s) { (void)s; }
