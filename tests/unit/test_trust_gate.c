// SPDX-License-Identifier: MIT
/*
 * The supervisor's bookkeeping of a gated start (src/supervisor/lifecycle.c:
 * lc_on_verified, lc_on_ready, lc_on_timer) now that the trust process
 * tells the partition its verdict itself, on the gate: the start is
 * reported only on the verdict the supervisor got; a partition that
 * reports READY without a go the supervisor saw (its trust process told it
 * go but the supervisor refuse, or told the supervisor nothing) is killed;
 * a refused partition that does not end by itself is killed after the stop
 * grace; a verdict for a start stopped meanwhile reports nothing; a start
 * whose partition ended by itself before its verdict (a disk in use) is
 * reported once, with its own reason, whichever comes first. The partition
 * is a real (sleeping) child, so that the kills are observable.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/events.h"
#include "supervisor/supervisor_int.h"
#include "supervisor/trust.h"
#include "unit/unit.h"

#define MS 1000000ULL

static struct platform plat;
static struct sup S;
static int far_end = -1;
static char lines[8192]; /* every event line since setup() */

static void sink(const char *partition, const char *line, size_t len)
{
	size_t n = strlen(lines);

	(void)partition;
	snprintf(lines + n, sizeof(lines) - n, "%.*s", (int)len, line);
}

/* Partition "user", forked gated and waiting at its gate: a child that sleeps. */
static struct part_rt *setup(void)
{
	static bool once;
	struct part_rt *pr = &S.parts[0];
	int sv[2];

	if (!once) {
		once = true;
		plat.nparts = 1;
		plat_part_defaults(&plat.parts[0]);
		snprintf(plat.parts[0].name, sizeof(plat.parts[0].name), "user");
		S.plat = &plat;
		S.epfd = S.sig_fd = S.timer_fd = -1;
		if (events_open("", false))
			abort();
		events_set_sink(sink);
		trust_init(&S); /* no trust process: nothing to drain */
	}
	if (far_end >= 0)
		close(far_end);
	if (pr->sock >= 0)
		close(pr->sock);
	lc_init(&S);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		abort();
	pr->sock = sv[0];
	far_end = sv[1];
	pr->pid = fork();
	if (pr->pid == 0) {
		pause();
		_exit(0);
	}
	pr->state = PS_STARTING;
	pr->gated = true;
	pr->started_ns = now_ns();
	lines[0] = 0;
	return pr;
}

/* The child's end: the signal that ended it (0 if it is still there: it is ended quietly). */
static int ended_by(struct part_rt *pr)
{
	int st = 0;

	if (waitpid(pr->pid, &st, WNOHANG) == pr->pid)
		return WIFSIGNALED(st) ? WTERMSIG(st) : -1;
	kill(pr->pid, SIGTERM);
	waitpid(pr->pid, NULL, 0);
	return 0;
}

/* Wait (bounded) for the kill to take. */
static int killed_by(struct part_rt *pr)
{
	int st = 0;

	return waitpid(pr->pid, &st, 0) == pr->pid && WIFSIGNALED(st) ? WTERMSIG(st) : -1;
}

static void test_go_reports_the_start(void)
{
	struct part_rt *pr = setup();

	lc_on_verified(&S, pr, 0, "");
	CHECK(strstr(lines, "\"event\":\"partition_start\",\"partition\":\"user\"") != NULL);
	CHECK(!strstr(lines, "safe_image"));
	CHECK(!pr->gated);
	lc_on_ready(&S, pr);
	CHECK_EQ(pr->state, PS_RUNNING);
	CHECK(strstr(lines, "\"event\":\"partition_ready\"") != NULL);
	CHECK_EQ(ended_by(pr), 0); /* it runs */
}

static void test_safe_go_says_so(void)
{
	struct part_rt *pr = setup();

	lc_on_verified(&S, pr, 1, "");
	CHECK(strstr(lines, "\"event\":\"partition_start\",\"partition\":\"user\"") != NULL);
	CHECK(strstr(lines, "\"image\":\"safe_image\"") != NULL);
	CHECK(pr->safe_boot);
	CHECK_EQ(ended_by(pr), 0);
}

/* Its trust process told the partition go, and the supervisor refuse: it is killed at READY. */
static void test_ready_after_refusal_is_killed(void)
{
	struct part_rt *pr = setup();

	lc_on_verified(&S, pr, -1, "verification failed: the SHA-256 of 'k.elf' differs");
	CHECK(strstr(lines, "\"event\":\"partition_start_failed\",\"partition\":\"user\","
		     "\"error\":\"verification failed: the SHA-256 of 'k.elf' differs\"") != NULL);
	CHECK(pr->kill_at_ns > 0);
	lc_on_ready(&S, pr);
	CHECK_EQ(killed_by(pr), SIGKILL);
	CHECK(strstr(lines, "\"event\":\"partition_kill\",\"partition\":\"user\"") != NULL);
	CHECK(strstr(lines, "ready without a go from its trust process") != NULL);
	CHECK(!strstr(lines, "\"event\":\"partition_start\","));
	CHECK(!strstr(lines, "partition_ready"));
	CHECK_EQ(pr->state, PS_STARTING); /* never running; its end is classified when reaped */
}

/* READY with no verdict at all (its trust process said nothing to the supervisor). */
static void test_ready_without_verdict_is_killed(void)
{
	struct part_rt *pr = setup();

	lc_on_ready(&S, pr);
	CHECK_EQ(killed_by(pr), SIGKILL);
	CHECK(strstr(lines, "ready without a go from its trust process") != NULL);
	CHECK(!strstr(lines, "\"event\":\"partition_start\","));
}

/* Refused, and it does not end by itself: killed once the stop grace is over, not before. */
static void test_refused_and_lingering_is_killed(void)
{
	struct part_rt *pr = setup();
	uint64_t at;

	lc_on_verified(&S, pr, -1, "trust process: vTPM: swtpm could not be started");
	at = pr->kill_at_ns;
	CHECK(at >= now_ns() + (LC_STOP_GRACE_MS - 100) * MS);
	CHECK(lc_next_deadline(&S) <= at);
	lc_on_timer(&S, at - 1);
	CHECK(!strstr(lines, "partition_kill"));
	lc_on_timer(&S, at);
	CHECK_EQ(killed_by(pr), SIGKILL);
	CHECK(strstr(lines, "\"event\":\"partition_kill\",\"partition\":\"user\"") != NULL);
}

/* Stopped while it waited: the late verdict reports nothing, a go included. */
static void test_verdict_after_stop_is_ignored(void)
{
	struct part_rt *pr = setup();

	pr->state = PS_STOPPING;
	lc_on_verified(&S, pr, 0, "");
	lc_on_verified(&S, pr, -1, "verification failed: x");
	CHECK(!lines[0]);
	CHECK(pr->gated);
	CHECK_EQ(ended_by(pr), 0);
}

/* Its disk in use: the partition reports why and exits before its verdict, in either order. */
static struct part_rt *setup_failed_by_itself(void)
{
	struct part_rt *pr = setup();
	struct lvmm_exit x = { .reason = LVMM_EXIT_SETUP };

	snprintf(x.detail, sizeof(x.detail), "disk image '/d.img' is in use by another process");
	lc_on_exit_report(&S, pr, &x);
	kill(pr->pid, SIGKILL); /* it exits (how does not matter: its report says why) */
	return pr;
}

static const char want_failed[] = "\"event\":\"partition_start_failed\",\"partition\":\"user\","
				  "\"error\":\"could not start: disk image '/d.img' is in use by another process\"";

static unsigned count(const char *what)
{
	const char *p = lines;
	unsigned n = 0;

	while ((p = strstr(p, what))) {
		n++;
		p++;
	}
	return n;
}

static void test_ended_first_is_reported_once(void)
{
	struct part_rt *pr = setup_failed_by_itself();
	int st = 0;

	CHECK_EQ(waitpid(pr->pid, &st, 0), pr->pid);
	CHECK(lc_reaped(&S, pr->pid, st));
	/* Its trust process's late verdict (no images came) reports nothing more. */
	lc_on_verified(&S, pr, -1, "trust process: the partition's images: the partition ended "
			  "before it sent them");
	CHECK(strstr(lines, want_failed) != NULL);
	CHECK_EQ(count("partition_start_failed"), 1);
	CHECK(!strstr(lines, "the partition ended before"));
	CHECK(strstr(lines, "\"event\":\"partition_exit\",\"partition\":\"user\","
		     "\"reason\":\"setup-failed\",\"status\":121") != NULL);
	CHECK_EQ(pr->state, PS_EXITED);
}

static void test_verdict_first_is_reported_once(void)
{
	struct part_rt *pr = setup_failed_by_itself();
	int st = 0;

	lc_on_verified(&S, pr, -1, "trust process: the partition's images: the partition ended "
			  "before it sent them");
	CHECK(!lines[0]); /* its exit report came first: its reap reports it, with that reason */
	CHECK_EQ(waitpid(pr->pid, &st, 0), pr->pid);
	CHECK(lc_reaped(&S, pr->pid, st));
	CHECK(strstr(lines, want_failed) != NULL);
	CHECK_EQ(count("partition_start_failed"), 1);
}

/* A refused start that lingered and was killed: reported by the verdict only, not again at its reap. */
static void test_refused_then_reaped_is_reported_once(void)
{
	struct part_rt *pr = setup();
	int st = 0;

	lc_on_verified(&S, pr, -1, "verification failed: x");
	lc_on_timer(&S, pr->kill_at_ns);
	CHECK_EQ(waitpid(pr->pid, &st, 0), pr->pid);
	CHECK(lc_reaped(&S, pr->pid, st));
	CHECK_EQ(count("partition_start_failed"), 1);
	CHECK(strstr(lines, "\"error\":\"verification failed: x\"") != NULL);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(test_go_reports_the_start);
	RUN(test_safe_go_says_so);
	RUN(test_ready_after_refusal_is_killed);
	RUN(test_ready_without_verdict_is_killed);
	RUN(test_refused_and_lingering_is_killed);
	RUN(test_verdict_after_stop_is_ignored);
	RUN(test_ended_first_is_reported_once);
	RUN(test_verdict_first_is_reported_once);
	RUN(test_refused_then_reaped_is_reported_once);
	return unit_done();
}
