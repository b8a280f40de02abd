// SPDX-License-Identifier: MIT
/*
 * The supervisor's run loop. It alone opens host resources and decides;
 * each partition is a separate process (this binary re-executed as
 * "lvmm __partition") that receives exactly its own fds. This file keeps
 * the loop (signals, timer, epoll) and routes what arrives: partition
 * messages, once validated, to the life cycle (lifecycle.c, the one owner
 * of partition state), control requests to the API front-end's transport (frontend.c).
 *
 * Tables are sized at start (PLAT_MAX_PARTS); nothing is allocated while
 * partitions run.
 */
#include "supervisor/supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"
#include "supervisor/consoles.h"
#include "supervisor/ctl.h"
#include "supervisor/events.h"
#include "supervisor/notify.h"
#include "supervisor/supervisor_int.h"
#include "supervisor/trust.h"

static struct sup S; /* zero at start (supervisor_run() runs once): no memset dirtying 150 KiB */

/* ---- terminal ------------------------------------------------------------- */

static struct termios saved_tio;
static bool tio_saved;

static void tty_restore(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	tio_saved = false;
}

static void tty_raw(void)
{
	struct termios t;

	if (tio_saved || !isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return;
	t = saved_tio;
	cfmakeraw(&t);
	t.c_oflag |= OPOST | ONLCR; /* keep our own messages readable */
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0) {
		tio_saved = true;
		atexit(tty_restore);
	}
}

/* ---- messages from partitions -------------------------------------------------- */

static const char *const viol_names[] = { "block", "log", "pause", "stop", "restart", "isolate" };
static const char *const wdog_names[] = { "event", "restart", "stop" };
/* What on_violation and the watchdog's action ask of the supervisor (block and log are the partition's own). */
static const enum contain_action viol_acts[] = { CONTAIN_NONE, CONTAIN_NONE, CONTAIN_PAUSE,
						 CONTAIN_STOP, CONTAIN_RESTART, CONTAIN_ISOLATE };
static const enum contain_action wdog_acts[] = { CONTAIN_NONE, CONTAIN_RESTART, CONTAIN_STOP };
_Static_assert(ARRAY_SIZE(viol_acts) == LVMM_VIOL_MAX + 1 && ARRAY_SIZE(wdog_acts) == LVMM_WDOG_MAX + 1,
	       "an action per value");

static void on_part_event(struct sup *s, struct part_rt *pr, const struct lvmm_event *ev)
{
	struct event e;
	char dev[LVMM_NAME_MAX];
	enum contain_action act = CONTAIN_NONE;
	const char *why = NULL;
	uint32_t a;

	snprintf(dev, sizeof(dev), "%s", ev->dev); /* terminates a malformed name */
	switch (ev->kind) {
	case LVMM_EV_DMA_FAULT:
		ev_begin(&e, "dma_fault", pr->p->name);
		ev_str(&e, "device", dev);
		ev_hex(&e, "gpa", ev->a);
		ev_u64(&e, "len", ev->b);
		ev_str(&e, "dir", ev->c ? "write" : "read");
		if (ev->d == 1)
			ev_str(&e, "reason", "protected"); /* a device write into a protected range */
		break;
	case LVMM_EV_INTEGRITY:
		/* The action is the platform file's, whatever the partition says it did. */
		a = pr->p->on_violation <= LVMM_VIOL_MAX ? pr->p->on_violation : LVMM_VIOL_BLOCK;
		ev_begin(&e, "integrity_violation", pr->p->name);
		ev_hex(&e, "gpa", ev->a);
		ev_u64(&e, "len", strlen(dev) / 2);
		ev_str(&e, "bytes", dev);
		ev_hex(&e, "rip", ev->b);
		ev_hex(&e, "cr3", ev->c);
		ev_str(&e, "action", viol_names[a]);
		if (ev->d)
			ev_u64(&e, "suppressed", ev->d);
		act = viol_acts[a];
		why = "integrity_violation";
		break;
	case LVMM_EV_PROTECT_LOCK:
		ev_begin(&e, ev->c ? "protect_lock_refused" : "protect_lock", pr->p->name);
		ev_hex(&e, "gpa", ev->a);
		ev_hex(&e, "size", ev->b);
		if (ev->c)
			ev_str(&e, "error", strerror((int)MIN(ev->c, 4095ULL)));
		break;
	case LVMM_EV_WATCHDOG:
		a = pr->p->watchdog_action <= LVMM_WDOG_MAX ? pr->p->watchdog_action : LVMM_WDOG_EVENT;
		ev_begin(&e, "watchdog_expired", pr->p->name);
		ev_u64(&e, "timeout_ms", pr->p->watchdog_ms);
		ev_u64(&e, "since_pet_ms", ev->b);
		ev_str(&e, "action", wdog_names[a]);
		act = wdog_acts[a];
		why = "watchdog";
		break;
	case LVMM_EV_VIRTIO_ERROR:
		ev_begin(&e, "virtio_error", pr->p->name);
		ev_str(&e, "device", dev);
		ev_u64(&e, "reason", ev->a);
		ev_u64(&e, "queue", ev->b);
		break;
	case LVMM_EV_UNHANDLED_IO:
		ev_begin(&e, "unhandled_io", pr->p->name);
		ev_str(&e, "space", ev->a ? "mmio" : "pio");
		ev_hex(&e, "addr", ev->b);
		break;
	case LVMM_EV_LINK_STATE:
		ev_begin(&e, "link_state", pr->p->name);
		ev_str(&e, "device", dev);
		ev_str(&e, "state", ev->a ? "up" : "down");
		break;
	case LVMM_EV_NET_DROP:
		ev_begin(&e, "net_drop", pr->p->name);
		ev_str(&e, "device", dev);
		ev_u64(&e, "dropped", ev->a);
		ev_u64(&e, "total", ev->b);
		break;
	default:
		pr_debug("partition %s: unknown event kind %u", pr->p->name, ev->kind);
		return;
	}
	ev_end(&e);
	if (act != CONTAIN_NONE)
		sup_contain(s, pr, act, why);
}

/*
 * Partitions rate-limit what they report, but a compromised one would not:
 * past PART_EV_PER_S reports in a second the rest are dropped, and counted
 * in an events_dropped event when its next second starts, so the log and
 * the supervisor's work stay bounded.
 */
#define PART_EV_PER_S 100
static bool part_ev_budget(struct part_rt *pr)
{
	uint64_t now = now_ns();
	struct event e;

	if (now - pr->ev_window_ns >= 1000000000ULL) {
		if (pr->ev_dropped) {
			ev_begin(&e, "events_dropped", pr->p->name);
			ev_u64(&e, "count", pr->ev_dropped);
			ev_end(&e);
		}
		pr->ev_window_ns = now, pr->ev_count = pr->ev_dropped = 0;
	}
	if (++pr->ev_count <= PART_EV_PER_S)
		return true;
	pr->ev_dropped++;
	return false;
}

/* Everything the partition has sent: validated, then routed to the life cycle. */
static void on_part_message(struct sup *s, struct part_rt *pr)
{
	static union {
		struct lvmm_event ev;
		struct lvmm_exit ex;
		struct lvmm_ctl_reply rep;
	} u;
	struct lvmm_msg_hdr hdr;
	unsigned guard;

	/* Bounded per wake-up: a chatty partition cannot starve the others. */
	for (guard = 0; guard < 64 && pr->sock >= 0; guard++) {
		int r = proto_recv(pr->sock, &hdr, &u, sizeof(u), NULL, 0, MSG_DONTWAIT);

		if (r == -EAGAIN)
			return;
		if (!r)
			r = proto_check_part_msg(&hdr, &u);
		if (r) {
			struct event e;

			if (r != -EPIPE && r != -ECONNRESET) {
				ev_begin(&e, "protocol_violation", pr->p->name);
				ev_u64(&e, "type", hdr.type);
				ev_str(&e, "error", strerror(-r));
				ev_end(&e);
			}
			/* EOF: the process is going. Garbage: it is not to be trusted any more. */
			lc_channel_lost(s, pr);
			if (r != -EPIPE && r != -ECONNRESET)
				lc_kill(s, pr, "protocol violation");
			return;
		}
		switch (hdr.type) {
		case LVMM_MSG_READY:
			lc_on_ready(s, pr);
			break;
		case LVMM_MSG_EVENT:
			if (!part_ev_budget(pr))
				break;
			if (u.ev.kind == LVMM_EV_SLEEP)
				lc_on_sleep(s, pr, u.ev.a);
			else
				on_part_event(s, pr, &u.ev);
			break;
		case LVMM_MSG_EXIT:
			lc_on_exit_report(s, pr, &u.ex);
			break;
		case LVMM_MSG_CTL_REPLY:
			lc_on_reply(s, pr, &u.rep);
			break;
		default:
			break;
		}
	}
}

static void reap(struct sup *s)
{
	unsigned guard, i;
	int wstatus;
	pid_t pid;

	for (guard = 0; guard < 4 * PLAT_MAX_PARTS; guard++) {
		pid = waitpid(-1, &wstatus, WNOHANG);
		if (pid <= 0)
			return;
		/* Drain what the partition said before it went: how it ended, its counters. */
		for (i = 0; i < s->plat->nparts; i++)
			if (s->parts[i].pid == pid && s->parts[i].sock >= 0)
				on_part_message(s, &s->parts[i]);
		if (!fe_reaped(s, pid, wstatus) && !lc_reaped(s, pid, wstatus))
			(void)trust_reaped(s, pid, wstatus);
	}
}

/* ---- the loop ---------------------------------------------------------------------- */

void sup_arm_timer(struct sup *s)
{
	uint64_t next = MIN(MIN(lc_next_deadline(s), ctl_next_deadline(s)),
			    MIN(fe_next_deadline(s), MIN(sleep_next_deadline(s), trust_next_deadline(s))));
	uint64_t now = now_ns();
	struct itimerspec its = { 0 };

	if (s->timer_fd < 0)
		return;
	if (next != UINT64_MAX) {
		next = next > now ? next - now : 1;
		its.it_value.tv_sec = (time_t)(next / 1000000000ULL);
		its.it_value.tv_nsec = (long)(next % 1000000000ULL);
	}
	timerfd_settime(s->timer_fd, 0, &its, NULL);
}

static void on_timer(struct sup *s)
{
	uint64_t ticks, now = now_ns();

	if (read(s->timer_fd, &ticks, sizeof(ticks)) < 0)
		pr_debug("timerfd read: %s", strerror(errno));
	lc_on_timer(s, now);
	ctl_on_timer(s, now);
	fe_on_timer(s, now);
	sleep_on_timer(s, now);
	trust_on_timer(s, now);
	sup_arm_timer(s);
}

static void on_signals(struct sup *s)
{
	struct signalfd_siginfo si;
	unsigned guard;

	for (guard = 0; guard < 64 && read(s->sig_fd, &si, sizeof(si)) == sizeof(si); guard++) {
		if (si.ssi_signo == SIGCHLD)
			reap(s);
		else
			lc_shutdown(s, (int)si.ssi_signo);
	}
}

static void summary(struct sup *s)
{
	struct event e;
	unsigned i, k;

	for (i = 0; i < s->plat->nparts; i++) {
		struct part_rt *pr = &s->parts[i];
		const struct lvmm_ctl_reply *st = &pr->final_stats;

		ev_begin(&e, "partition_summary", pr->p->name);
		ev_str(&e, "state", lc_state_name(pr->state));
		ev_i64(&e, "exit_code", pr->exit_code);
		ev_u64(&e, "restarts", pr->restarts);
		ev_u64(&e, "dma_faults", st->dma_faults);
		ev_u64(&e, "unhandled_io", st->unhandled_io);
		ev_u64(&e, "integrity_violations", st->violations);
		ev_end(&e);
		for (k = 0; k < st->ndevs && k < LVMM_STATS_MAX_DEVS; k++) {
			const struct lvmm_dev_stats *d = &st->devs[k];
			char id[LVMM_NAME_MAX];

			snprintf(id, sizeof(id), "%s", d->id);
			ev_begin(&e, "device_summary", pr->p->name);
			ev_str(&e, "device", id);
			if (d->rx_packets || d->tx_packets || d->drops) {
				ev_u64(&e, "rx_packets", d->rx_packets);
				ev_u64(&e, "rx_bytes", d->rx_bytes);
				ev_u64(&e, "tx_packets", d->tx_packets);
				ev_u64(&e, "tx_bytes", d->tx_bytes);
				ev_u64(&e, "drops", d->drops);
			} else if (d->rx_bytes || d->tx_bytes) {
				ev_u64(&e, "rx_bytes", d->rx_bytes);
				ev_u64(&e, "tx_bytes", d->tx_bytes);
			} else {
				ev_u64(&e, "reads", d->reads);
				ev_u64(&e, "writes", d->writes);
				ev_u64(&e, "errors", d->errors);
			}
			ev_end(&e);
		}
	}
}

/*
 * Every partition costs the supervisor a few fds for as long as it runs
 * (platform_fd_need): take the soft limit up to what the platform needs,
 * which platform_validate checked against the hard limit. Partitions
 * inherit it; they hold a handful of fds each.
 */
static void raise_fd_limit(const struct platform *plat)
{
	rlim_t need = platform_fd_need(plat);
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		pr_warn("cannot raise the open-file limit to %llu: %s", (unsigned long long)need,
			strerror(errno));
}

int supervisor_run(struct platform *plat, const struct run_opts *opts)
{
	const char *ctl_path = opts->control_path ? opts->control_path : plat->control_path;
	struct epoll_event ev;
	sigset_t mask;
	unsigned i;
	int r;

	notify_init();
	S.plat = plat;
	S.opts = *opts;
	S.epfd = S.sig_fd = S.timer_fd = -1;
	raise_fd_limit(plat);
	lc_init(&S);
	trust_init(&S);
	r = events_open(opts->events_path ? opts->events_path : plat->events_path, opts->echo_events);
	if (r) {
		pr_err("cannot open the event log: %s", strerror(-r));
		return LVMM_EXIT_USAGE;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	S.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	S.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	S.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (S.sig_fd < 0 || S.timer_fd < 0 || S.epfd < 0) {
		pr_err("supervisor setup: %s", strerror(errno));
		return LVMM_EXIT_SETUPERR;
	}
	ev.events = EPOLLIN;
	ev.data.u64 = TAG_SIGNAL;
	epoll_ctl(S.epfd, EPOLL_CTL_ADD, S.sig_fd, &ev);
	ev.data.u64 = TAG_TIMER;
	epoll_ctl(S.epfd, EPOLL_CTL_ADD, S.timer_fd, &ev);
	r = acm_init(&S);
	if (!r)
		r = links_init(&S);
	if (!r)
		r = fe_init(&S, ctl_path);
	if (r)
		return LVMM_EXIT_SETUPERR;
	cons_init(&S, fe_listening(&S) ? ctl_path : NULL);

	for (i = 0; i < plat->nparts; i++)
		if (plat->parts[i].stdin_console)
			tty_raw();
	for (i = 0; i < plat->nparts; i++)
		if (!plat->parts[i].autostart && !fe_listening(&S))
			pr_warn("partition %s has autostart: false but there is no control socket "
				"(control: or --control) to start it", plat->parts[i].name);
	pr_debug("supervisor ready");
	for (i = 0; i < plat->nparts; i++) {
		char err[256];

		if (plat->parts[i].autostart)
			(void)lc_start(&S, &S.parts[i], err, sizeof(err));
	}

	while (!lc_all_done(&S, fe_listening(&S))) {
		struct epoll_event evs[16];
		int n, k;

		notify_update(&S); /* systemd: READY=1 once the partitions are up, STOPPING=1 */
		n = epoll_wait(S.epfd, evs, 16, -1);

		if (n < 0 && errno != EINTR) {
			pr_err("epoll_wait: %s", strerror(errno));
			break;
		}
		for (k = 0; k < n; k++) {
			uint64_t tag = evs[k].data.u64;

			if (tag == TAG_SIGNAL) {
				on_signals(&S);
			} else if (tag == TAG_TIMER) {
				on_timer(&S);
			} else if ((tag & TAG_MASK) == TAG_PART) {
				unsigned idx = (unsigned)(tag & ~TAG_MASK);

				if (idx < plat->nparts)
					on_part_message(&S, &S.parts[idx]);
			} else if ((tag & TAG_MASK) == TAG_TRUST) {
				if ((tag & ~TAG_MASK) < plat->nparts)
					trust_on_message(&S, (unsigned)(tag & ~TAG_MASK));
			} else {
				fe_event(&S, tag, evs[k].events);
			}
		}
	}
	summary(&S);
	cons_close(&S);
	fe_close(&S);
	links_close(&S);
	trust_close(&S);
	lc_close(&S);
	tty_restore();
	events_close();
	return S.first_failure;
}
