// SPDX-License-Identifier: MIT
/*
 * ACPI S3 mediation (docs/acpi.md, "Sleep"; the seeds' steps 1-3c).
 *
 * A partition that writes SLP_TYP=S3|SLP_EN is stopped by its own process
 * at once (it believes it sleeps) and reported here: a *sleeper*. The
 * platform follows only when no service partition is busy: each service
 * partition keeps a busy flag (operations `busy`/`idle`, usually from its
 * own agent channel); while one is set the transition waits, looked at
 * again every recheck_ms with a sleep_delayed event. Then the platform
 * "sleeps": every other running partition is paused (platform_sleep). What
 * the host does then is not the supervisor's business: it runs no host
 * program; an operator's `lvmm ctl SOCKET on-sleep PROGRAM` (src/cli,
 * outside the trusted core, with the API's `events` right only) follows
 * platform_sleep and runs it, bounded in time. A wake (`lvmm ctl wake`, a
 * resume, console input to the sleeper) before that cancels the
 * transition; after it, it resumes what the platform paused. Either way
 * the sleeping guest continues after its sleep write with WAK_STS set.
 *
 * Two states and a set: no sleepers (awake); sleepers and not asleep (the
 * transition is pending); asleep (the platform followed). A wake of the last
 * pending sleeper, or any wake of the sleeping platform, empties the set.
 *
 *   awake --S3 write--> pending --no service busy--> asleep --wake--> awake
 *                        \---------wake (sleep_cancelled)-------------^
 */
#include <errno.h>
#include <stdio.h>

#include "common/log.h"
#include "supervisor/events.h"
#include "supervisor/supervisor_int.h"

static struct {
	bool asleep;           /* the platform followed; without: a transition is pending while there are sleepers */
	uint64_t sleepers;     /* bit i: partition i is asleep by its own request */
	uint64_t busy;         /* bit i: service partition i said it is busy */
	uint64_t paused;       /* bit i: the platform's sleep paused partition i */
	uint64_t since_ns, recheck_at;
	uint64_t calm_at;      /* no platform sleep before: see wake_all */
	char by[64];           /* who wakes it (set by the wake request), for the events */
} S;
_Static_assert(PLAT_MAX_PARTS <= 64, "a bit per partition in the sets above");

/* A busy service partition that still runs, or -1. */
static int busy_one(struct sup *s)
{
	unsigned i;

	for (i = 0; i < s->plat->nparts; i++)
		if ((S.busy >> i & 1) && s->parts[i].pid && s->parts[i].p->role == ROLE_SERVICE)
			return (int)i;
	return -1;
}

/* Carry the platform's transition out, or say why it waits. */
static void evaluate(struct sup *s, uint64_t now)
{
	int b = busy_one(s), who = S.sleepers ? __builtin_ctzll(S.sleepers) : -1;
	struct event e;
	unsigned i, n = 0;

	if (S.asleep || who < 0)
		return;
	if (now < S.calm_at) { /* held, without an event: see wake_all */
		S.recheck_at = S.calm_at;
		sup_arm_timer(s);
		return;
	}
	if (b >= 0) {
		if (now < S.recheck_at)
			return;
		ev_begin(&e, "sleep_delayed", s->parts[who].p->name);
		ev_str(&e, "busy", s->parts[b].p->name);
		ev_u64(&e, "waited_ms", (now - S.since_ns) / MS);
		ev_end(&e);
		S.recheck_at = now + (uint64_t)(s->plat->sleep_recheck_ms ? s->plat->sleep_recheck_ms :
						PLAT_SLEEP_RECHECK_MS) * MS;
		sup_arm_timer(s);
		return;
	}
	for (i = 0; i < s->plat->nparts; i++)
		if (!(S.sleepers >> i & 1) && s->parts[i].state == PS_RUNNING &&
		    !lc_push(s, &s->parts[i], LVMM_CTL_PAUSE)) {
			S.paused |= 1ULL << i;
			n++;
		}
	S.asleep = true;
	ev_begin(&e, "platform_sleep", s->parts[who].p->name);
	ev_u64(&e, "paused", n);
	ev_u64(&e, "waited_ms", (now - S.since_ns) / MS);
	ev_end(&e);
	S.since_ns = now;
}

void sleep_on_request(struct sup *s, struct part_rt *pr)
{
	uint64_t before = S.sleepers;
	struct event e;

	S.sleepers |= 1ULL << pr->index;
	ev_begin(&e, "sleep_request", pr->p->name);
	ev_str(&e, "state", "S3");
	ev_str(&e, "platform", S.asleep ? "asleep" : before ? "pending" : "awake");
	ev_end(&e);
	if (before)
		return; /* joins the transition under way (or the sleeping platform) */
	S.since_ns = now_ns();
	S.recheck_at = 0;
	S.by[0] = 0;
	evaluate(s, now_ns());
}

/* Every sleeper and every partition the platform paused runs again. */
static void wake_all(struct sup *s)
{
	unsigned i;

	for (i = 0; i < s->plat->nparts; i++)
		if ((S.paused | S.sleepers) >> i & 1)
			(void)lc_push(s, &s->parts[i], LVMM_CTL_RESUME);
	S.paused = S.sleepers = 0;
	S.asleep = false;
	/*
	 * A wake report comes from the sleeper's own process, so a compromised
	 * one could pause and resume every other partition in a loop: a next
	 * platform sleep waits out a second.
	 */
	S.calm_at = now_ns() + PLAT_SLEEP_CALM_MS * MS;
}

void sleep_on_woke(struct sup *s, struct part_rt *pr, const char *why)
{
	struct event e;

	if (!(S.sleepers >> pr->index & 1))
		return;
	S.sleepers &= ~(1ULL << pr->index);
	ev_begin(&e, S.asleep ? "wake" : "sleep_cancelled", pr->p->name);
	ev_str(&e, "by", S.by[0] ? S.by : why);
	ev_u64(&e, S.asleep ? "slept_ms" : "after_ms", (now_ns() - S.since_ns) / MS);
	ev_end(&e);
	S.by[0] = 0;
	/* The seeds' step 3c: a guest that wakes first cancels the platform's transition. */
	if (S.asleep || !S.sleepers)
		wake_all(s);
}

void sleep_part_ended(struct sup *s, struct part_rt *pr)
{
	S.busy &= ~(1ULL << pr->index);
	sleep_on_woke(s, pr, "partition-ended");
	evaluate(s, now_ns()); /* a busy service partition that ended no longer holds the platform */
}

int sleep_wake_prepare(struct sup *s, struct part_rt *pr, const char *by)
{
	if (!(S.sleepers >> pr->index & 1))
		return -EALREADY;
	snprintf(S.by, sizeof(S.by), "%s", by);
	return 0;
}

int sleep_set_busy(struct sup *s, struct part_rt *pr, bool busy)
{
	if (pr->p->role != ROLE_SERVICE)
		return -EINVAL;
	S.busy = busy ? S.busy | 1ULL << pr->index : S.busy & ~(1ULL << pr->index);
	S.recheck_at = 0; /* a change is looked at now */
	evaluate(s, now_ns());
	return 0;
}

uint64_t sleep_next_deadline(struct sup *s)
{
	return !S.asleep && S.sleepers && S.recheck_at ? S.recheck_at : UINT64_MAX;
}

void sleep_on_timer(struct sup *s, uint64_t now)
{
	if (!S.asleep && S.sleepers && S.recheck_at && now >= S.recheck_at)
		evaluate(s, now);
}
