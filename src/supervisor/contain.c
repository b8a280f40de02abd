// SPDX-License-Identifier: MIT
/*
 * Containment (docs/protect.md): what the supervisor does when a partition
 * reports an integrity violation or a missed watchdog heartbeat and its
 * platform file asks for more than a report. The partition itself only
 * blocks (or, with `log`, performs) the write; pausing, stopping,
 * restarting and isolating belong to the supervisor, which decides from
 * its own copy of the configuration, never from what the partition claims.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/proto.h"
#include "supervisor/events.h"
#include "supervisor/lifecycle.h"
#include "supervisor/supervisor_int.h"

/* Every link with pr as an end goes down, as `lvmm ctl isolate` does (without a request). */
static void isolate(struct sup *s, struct part_rt *pr, const char *why)
{
	unsigned i, e;

	for (i = 0; i < s->plat->nlinks; i++) {
		const struct plat_link *l = &s->plat->links[i];
		struct event ev;

		if (l->part[0] != (int)pr->index && l->part[1] != (int)pr->index)
			continue;
		if (!link_set_up(s, (int)i, false))
			continue; /* already down: nothing to log */
		ev_begin(&ev, "link_down", NULL);
		ev_str(&ev, "link", l->name);
		ev_str(&ev, "by", why);
		ev_end(&ev);
		for (e = 0; e < 2; e++)
			lc_link_push(s, &s->parts[l->part[e]], (int)i);
	}
}

void sup_contain(struct sup *s, struct part_rt *pr, enum contain_action act, const char *why)
{
	struct lvmm_ctl m = { .op = LVMM_CTL_PAUSE };
	switch (act) {
	case CONTAIN_PAUSE:
		/* Unsolicited (seq 0): the partition's answer moves it to paused and logs it. */
		if (pr->state == PS_RUNNING && pr->sock >= 0 &&
		    proto_send(pr->sock, LVMM_MSG_CTL, &m, sizeof(m), NULL, 0, MSG_DONTWAIT))
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
		isolate(s, pr, why);
		break;
	case CONTAIN_NONE:
	default:
		break;
	}
}
