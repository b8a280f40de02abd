// SPDX-License-Identifier: MIT
/*
 * Containment (docs/protect.md): what the supervisor does when a partition
 * reports an integrity violation or a missed watchdog heartbeat and its
 * platform file asks for more than a report. The partition itself only
 * blocks (or, with `log`, performs) the write; pausing, stopping,
 * restarting and isolating belong to the supervisor, which decides from
 * its own copy of the configuration, never from what the partition claims.
 */
#include "common/log.h"
#include "supervisor/events.h"
#include "supervisor/lifecycle.h"
#include "supervisor/supervisor_int.h"

void sup_contain(struct sup *s, struct part_rt *pr, enum contain_action act, const char *why)
{
	switch (act) {
	case CONTAIN_PAUSE:
		/* Unsolicited: the partition's answer moves it to paused and logs it. */
		if (pr->state == PS_RUNNING && lc_push(s, pr, LVMM_CTL_PAUSE))
			pr_warn("partition %s: could not ask it to pause (%s)", pr->p->name, why);
		break;
	case CONTAIN_STOP:
		if (pr->state != PS_STOPPING)
			(void)lc_stop(s, pr, why);
		break;
	case CONTAIN_RESTART:
		(void)lc_restart_counted(s, pr, why);
		break;
	case CONTAIN_ISOLATE:
		(void)links_isolate(s, pr, why, 0, NULL, NULL); /* as `lvmm ctl isolate`, without a request */
		break;
	case CONTAIN_NONE:
	default:
		break;
	}
}
