// SPDX-License-Identifier: MIT
/*
 * The supervisor's run loop. It alone opens host resources and decides;
 * each partition is a separate process (this binary re-executed as
 * "lvmm __partition") that receives exactly its own fds. A partition that
 * crashes or is killed never takes another one down: the supervisor reaps
 * it, records why it ended, and applies its restart policy.
 *
 * Tables are sized at start (PLAT_MAX_PARTS); nothing is allocated while
 * partitions run.
 */
#include "supervisor/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"
#include "supervisor/events.h"
#include "supervisor/resources.h"
#include "supervisor/sup_fdset.h"
#include "supervisor/supervisor_int.h"

#define STOP_GRACE_NS (3ULL * 1000000000ULL)
#define READY_TIMEOUT_NS (30ULL * 1000000000ULL)

static struct sup S;
static struct lvmm_ctl_reply final_stats[PLAT_MAX_PARTS];

static const char *exit_reason_name(uint32_t r)
{
	switch (r) {
	case LVMM_EXIT_POWEROFF: return "poweroff";
	case LVMM_EXIT_RESET: return "reset";
	case LVMM_EXIT_SHUTDOWN: return "triple-fault";
	case LVMM_EXIT_INTERNAL: return "internal-error";
	case LVMM_EXIT_FAIL_ENTRY: return "entry-failure";
	case LVMM_EXIT_SETUP: return "setup-failed";
	case LVMM_EXIT_STOPPED: return "stopped";
	default: return "unknown";
	}
}

const char *part_state_name(enum pstate s)
{
	switch (s) {
	case PS_STARTING: return "starting";
	case PS_RUNNING: return "running";
	case PS_PAUSED: return "paused";
	case PS_WAIT_RESTART: return "restarting";
	case PS_EXITED: return "exited";
	case PS_STOPPED:
	default: return "stopped";
	}
}

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

/* ---- starting a partition ------------------------------------------------- */

static uint64_t mono_ns(void)
{
	return now_ns();
}

/* A stable, locally administered MAC for a device that has none. */
static void default_mac(const char *part, unsigned idx, uint8_t mac[6])
{
	uint32_t h = 2166136261U;
	const char *s;

	for (s = part; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619U;
	h = (h ^ idx) * 16777619U;
	mac[0] = 0x52, mac[1] = 0x54, mac[2] = 0x00;
	mac[3] = (uint8_t)(h >> 16), mac[4] = (uint8_t)(h >> 8), mac[5] = (uint8_t)h;
}

/* Open everything the partition is granted and describe it. 0 or -errno (reason in err). */
static int build_config(struct part_rt *pr, struct lvmm_part_config *cfg, struct fdset *fs,
			char *err, size_t errlen)
{
	const struct plat_part *p = pr->p;
	unsigned i, k;
	int fd;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "%s", p->name);
	snprintf(cfg->cmdline, sizeof(cfg->cmdline), "%s", p->cmdline);
	cfg->vcpus = p->vcpus;
	cfg->mem_bytes = p->mem_bytes;
	cfg->log_level = (uint32_t)S.opts.log_level;
	for (i = 0; i < LVMM_MAX_VCPUS; i++)
		cfg->host_cpus[i] = i < p->n_host_cpus ? p->host_cpus[i] : -1;
	cfg->ncpuid_mask = p->ncpuid_mask;
	memcpy(cfg->cpuid_mask, p->cpuid_mask, sizeof(cfg->cpuid_mask));
	if (S.plat->nparts > 1)
		cfg->flags |= LVMM_PART_F_PREFIX;
	if (p->test_device)
		cfg->flags |= LVMM_PART_F_TEST_DEVICE;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open /dev/kvm: %s", strerror(errno));
		return -errno;
	}
	cfg->fd_kvm = fdset_add(fs, fd, true);
	fd = res_memfd(p->name, p->mem_bytes);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %" PRIu64 " MiB of guest memory: %s",
			 p->mem_bytes / MiB, strerror(-fd));
		return fd;
	}
	pr->mem_fd = fd; /* kept: the supervisor holds the partition's memory object */
	cfg->fd_mem = fdset_add(fs, fd, false);
	fd = res_file_ro(p->kernel, err, errlen);
	if (fd < 0)
		return fd;
	cfg->fd_kernel = fdset_add(fs, fd, true);
	cfg->fd_initrd = LVMM_NO_FD;
	if (p->initrd[0]) {
		fd = res_file_ro(p->initrd, err, errlen);
		if (fd < 0)
			return fd;
		cfg->fd_initrd = fdset_add(fs, fd, true);
	}
	cfg->fd_console_out = LVMM_NO_FD;
	if (p->console == CONSOLE_STDOUT) {
		cfg->fd_console_out = fdset_add(fs, STDOUT_FILENO, false);
	} else if (p->console == CONSOLE_FILE) {
		fd = res_console_file(p->console_path, err, errlen);
		if (fd < 0)
			return fd;
		cfg->fd_console_out = fdset_add(fs, fd, true);
	}
	cfg->fd_console_in = LVMM_NO_FD;
	if (p->stdin_console) {
		cfg->fd_console_in = fdset_add(fs, STDIN_FILENO, false);
		cfg->flags |= LVMM_PART_F_STDIN;
	}

	pr->granted = 0;
	for (i = 0; i < p->ndevs; i++) {
		const struct plat_dev *d = &p->devs[i];
		struct lvmm_dev_cfg *dc = &cfg->devs[cfg->ndevs];

		/* A device the policy refuses is not created: the guest never sees it. */
		if (!acm_grant_device(&S, pr, i))
			continue;
		memset(dc, 0, sizeof(*dc));
		dc->type = d->type;
		snprintf(dc->id, sizeof(dc->id), "%s", d->id);
		for (k = 0; k < ARRAY_SIZE(dc->fd); k++)
			dc->fd[k] = LVMM_NO_FD;
		dc->rx_rl = d->rx_rl;
		dc->tx_rl = d->tx_rl;
		memcpy(dc->mac, d->mac, 6);
		if (!memcmp(dc->mac, "\0\0\0\0\0\0", 6))
			default_mac(p->name, i, dc->mac);
		switch (d->type) {
		case LVMM_DEV_BLK:
			fd = res_disk(d->path, d->readonly, err, errlen);
			if (d->readonly)
				dc->flags |= LVMM_DEV_F_READONLY;
			break;
		case LVMM_DEV_NET_TAP:
			snprintf(dc->peer, sizeof(dc->peer), "%s", d->tap);
			fd = res_tap(d->tap, err, errlen);
			break;
		case LVMM_DEV_STREAM:
			if (d->control) {
				fd = ctl_attach_agent(&S, pr);
				if (fd < 0)
					snprintf(err, errlen, "device %s: cannot open the control channel: %s",
						 d->id, strerror(-fd));
				break;
			}
			fd = res_stream(d->path, d->listen, err, errlen);
			if (d->listen)
				dc->flags |= LVMM_DEV_F_LISTEN;
			break;
		case LVMM_DEV_NET_LINK:
			snprintf(dc->peer, sizeof(dc->peer), "%s", d->link);
			fd = links_grant(&S, pr, d, dc, fs, err, errlen);
			break;
		default:
			snprintf(err, errlen, "device %s: unknown type", d->id);
			fd = -EINVAL;
			break;
		}
		if (fd < 0)
			return fd;
		if (d->type != LVMM_DEV_NET_LINK)
			dc->fd[0] = fdset_add(fs, fd, true);
		if (dc->fd[0] == LVMM_NO_FD) {
			snprintf(err, errlen, "too many file descriptors for one partition");
			return -EMFILE;
		}
		cfg->ndevs++;
		pr->granted |= 1U << i;
	}
	return 0;
}

static void part_failed_to_start(struct part_rt *pr, int r, const char *why)
{
	struct event e;

	pr_err("partition %s: %s", pr->p->name, why);
	ev_begin(&e, "partition_start_failed", pr->p->name);
	ev_str(&e, "error", why);
	ev_end(&e);
	pr->state = PS_EXITED;
	pr->exit_code = LVMM_EXIT_SETUPERR;
	if (!S.first_failure)
		S.first_failure = pr->exit_code;
	(void)r;
}

int part_start(struct sup *s, struct part_rt *pr)
{
	char err[256];

	return part_start_reason(s, pr, err, sizeof(err));
}

int part_start_reason(struct sup *s, struct part_rt *pr, char *err, size_t errlen)
{
	static struct lvmm_part_config cfg; /* 64 KiB: not on the stack */
	struct fdset fs = { .n = 0 };
	int sv[2], r;
	pid_t pid;

	err[0] = 0;
	r = acm_partition_start_pre(s, pr, err, errlen);
	if (r) {
		pr->state = PS_EXITED;
		pr->exit_code = LVMM_EXIT_SETUPERR;
		if (!S.first_failure)
			S.first_failure = pr->exit_code;
		return r;
	}
	r = build_config(pr, &cfg, &fs, err, errlen);
	if (r)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(-r));
		goto fail;
	}
	pr_debug("partition %s: resources open, forking", pr->p->name);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		snprintf(err, errlen, "fork: %s", strerror(-r));
		close(sv[0]);
		close(sv[1]);
		goto fail;
	}
	if (pid == 0) {
		sigset_t none;
		static char a0[] = "lvmm", a1[] = "__partition";
		char name[LVMM_NAME_MAX];
		char *argv[] = { a0, a1, name, NULL };

		snprintf(name, sizeof(name), "%s", pr->p->name);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* fd 3 is the only descriptor that crosses exec besides stdio. */
		if (dup2(sv[1], 3) < 0)
			_exit(127);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(sv[1]);
	pr->pid = pid;
	pr->sock = sv[0];
	pr->got_exit = false;
	pr->ctl_waiter = -1;
	pr->state = PS_STARTING;
	pr->started_ns = mono_ns();
	r = proto_send(pr->sock, LVMM_MSG_CONFIG, &cfg, sizeof(cfg), fs.fds, fs.n, 0);
	fdset_close(&fs);
	if (r) {
		/* The child cannot run without its config; it will exit and be reaped. */
		pr_err("partition %s: sending configuration: %s", pr->p->name, strerror(-r));
		kill(pid, SIGKILL);
	}
	sup_watch_part(s, pr);
	acm_partition_start_commit(s, pr);
	{
		struct event e;

		ev_begin(&e, "partition_start", pr->p->name);
		ev_u64(&e, "pid", (uint64_t)pid);
		ev_u64(&e, "vcpus", pr->p->vcpus);
		ev_u64(&e, "memory_mib", pr->p->mem_bytes / MiB);
		ev_str(&e, "role", plat_role_name(pr->p->role));
		if (pr->restarts)
			ev_u64(&e, "restart", pr->restarts);
		ev_end(&e);
	}
	return 0;
fail:
	fdset_close(&fs);
	ctl_detach_agent(s, pr);
	if (pr->mem_fd >= 0) {
		close(pr->mem_fd);
		pr->mem_fd = -1;
	}
	acm_partition_start_fail(s, pr);
	part_failed_to_start(pr, r, err);
	return r;
}

/* ---- messages from partitions ----------------------------------------------- */

static void on_part_event(struct part_rt *pr, const struct lvmm_event *ev)
{
	struct event e;
	char dev[LVMM_NAME_MAX];

	snprintf(dev, sizeof(dev), "%s", ev->dev); /* terminates a malformed name */
	switch (ev->kind) {
	case LVMM_EV_DMA_FAULT:
		ev_begin(&e, "dma_fault", pr->p->name);
		ev_str(&e, "device", dev);
		ev_hex(&e, "gpa", ev->a);
		ev_u64(&e, "len", ev->b);
		ev_str(&e, "dir", ev->c ? "write" : "read");
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
}

/* A (re)started end of a link that is down must come up down. */
static void apply_link_state(struct sup *s, struct part_rt *pr)
{
	unsigned i, e;

	for (i = 0; i < s->plat->nlinks; i++) {
		const struct plat_link *l = &s->plat->links[i];

		for (e = 0; e < 2; e++) {
			struct lvmm_ctl m = { .op = LVMM_CTL_LINK_DOWN, .seq = 0 };

			if (l->part[e] != (int)pr->index || link_is_up(s, (int)i))
				continue;
			snprintf(m.dev, sizeof(m.dev), "%s", pr->p->devs[l->dev[e]].id);
			if (proto_send(pr->sock, LVMM_MSG_CTL, &m, sizeof(m), NULL, 0, MSG_DONTWAIT))
				pr_warn("partition %s: could not keep link %s down", pr->p->name, l->name);
		}
	}
}

static void on_part_message(struct sup *s, struct part_rt *pr)
{
	static union {
		struct lvmm_event ev;
		struct lvmm_exit ex;
		struct lvmm_ctl_reply rep;
	} u;
	struct lvmm_msg_hdr hdr;
	unsigned guard;

	for (guard = 0; guard < 64 && pr->sock >= 0; guard++) {
		int r = proto_recv(pr->sock, &hdr, &u, sizeof(u), NULL, 0, MSG_DONTWAIT);

		if (r == -EAGAIN)
			return;
		if (r) {
			/* EOF or garbage: the process is going away; SIGCHLD finishes the job. */
			sup_unwatch_part(s, pr);
			return;
		}
		switch (hdr.type) {
		case LVMM_MSG_READY:
			if (pr->state == PS_STARTING)
				pr->state = PS_RUNNING;
			apply_link_state(s, pr);
			break;
		case LVMM_MSG_EVENT:
			if (hdr.len == sizeof(u.ev))
				on_part_event(pr, &u.ev);
			break;
		case LVMM_MSG_EXIT:
			if (hdr.len == sizeof(u.ex) && u.ex.reason >= 1 &&
			    u.ex.reason <= LVMM_EXIT_REASON_MAX) {
				pr->last_exit = u.ex;
				pr->last_exit.detail[sizeof(pr->last_exit.detail) - 1] = 0;
				pr->got_exit = true;
			}
			break;
		case LVMM_MSG_CTL_REPLY:
			if (hdr.len != sizeof(u.rep))
				break;
			if (u.rep.seq == 0 && u.rep.op == LVMM_CTL_STATS)
				final_stats[pr->index] = u.rep; /* the partition's last words */
			else
				ctl_on_reply(s, pr, &u.rep);
			break;
		default:
			break;
		}
	}
}

/* ---- ending and restarting ------------------------------------------------- */

struct outcome {
	bool clean;   /* nothing went wrong */
	bool crash;   /* counts for restart: on-crash */
	bool setup;   /* never restarted: it would fail again */
	int code;
	char what[320];
};

static void classify(struct part_rt *pr, int wstatus, struct outcome *o)
{
	const struct lvmm_exit *x = &pr->last_exit;

	memset(o, 0, sizeof(*o));
	if (pr->got_exit) {
		switch (x->reason) {
		case LVMM_EXIT_POWEROFF:
			o->clean = true;
			o->code = MIN(x->status & 0xff, LVMM_EXIT_GUEST_MAX); /* apart from lvmm's own */
			snprintf(o->what, sizeof(o->what), "powered off, status %d", x->status & 0xff);
			return;
		case LVMM_EXIT_RESET:
		case LVMM_EXIT_STOPPED:
			o->clean = true;
			snprintf(o->what, sizeof(o->what), "%s", x->detail);
			return;
		case LVMM_EXIT_SETUP:
			o->setup = true;
			o->code = LVMM_EXIT_SETUPERR;
			snprintf(o->what, sizeof(o->what), "could not start: %s", x->detail);
			return;
		default: {
			char bytes[64] = "";
			unsigned i, n = 0;

			for (i = 0; i < x->insn_len && i < sizeof(x->insn); i++)
				n += (unsigned)snprintf(bytes + n, sizeof(bytes) - n, "%s%02x",
							i ? " " : "", x->insn[i]);
			o->crash = true;
			o->code = LVMM_EXIT_CRASH;
			snprintf(o->what, sizeof(o->what), "guest crashed: %s (vCPU %u, rip 0x%" PRIx64
				 "%s%s%s)", x->detail, x->vcpu, x->rip, n ? ", instruction bytes " : "",
				 bytes, x->reason == LVMM_EXIT_FAIL_ENTRY ? ", see hw_reason" : "");
			return;
		}
		}
	}
	o->crash = true;
	o->code = LVMM_EXIT_DIED;
	if (WIFSIGNALED(wstatus))
		snprintf(o->what, sizeof(o->what), "partition process killed by signal %d (%s)%s",
			 WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)),
			 WTERMSIG(wstatus) == SIGSYS ? ": sandbox violation (forbidden system call)" : "");
	else
		snprintf(o->what, sizeof(o->what), "partition process exited with status %d without "
			 "reporting why", WEXITSTATUS(wstatus));
}

static void part_ended(struct sup *s, struct part_rt *pr, int wstatus)
{
	const struct plat_part *p = pr->p;
	struct outcome o;
	struct event e;
	bool restart = false;

	pr_debug("partition %s: reaped", p->name);
	sup_unwatch_part(s, pr);
	if (pr->mem_fd >= 0)
		close(pr->mem_fd);
	pr->mem_fd = -1;
	pr->pid = 0;
	acm_partition_stop(s, pr);
	links_partition_ended(s, pr);
	ctl_detach_agent(s, pr);
	classify(pr, wstatus, &o);

	ev_begin(&e, "partition_exit", p->name);
	ev_str(&e, "reason", pr->got_exit ? exit_reason_name(pr->last_exit.reason)
					  : WIFSIGNALED(wstatus) ? "killed" : "died");
	ev_i64(&e, "status", o.code);
	ev_str(&e, "detail", o.what);
	if (pr->got_exit && pr->last_exit.reason == LVMM_EXIT_FAIL_ENTRY)
		ev_hex(&e, "hw_reason", pr->last_exit.hw_reason);
	if (!pr->got_exit && WIFSIGNALED(wstatus))
		ev_u64(&e, "signal", (uint64_t)WTERMSIG(wstatus));
	ev_end(&e);
	if (!o.clean)
		pr_err("partition %s: %s", p->name, o.what);

	if (pr->restart_requested && !s->stopping) {
		pr->restart_requested = false;
		pr->stop_requested = false;
		pr->state = PS_EXITED;
		(void)part_start(s, pr);
		return;
	}
	if (!s->stopping && !pr->stop_requested && !o.setup) {
		bool reset = pr->got_exit && pr->last_exit.reason == LVMM_EXIT_RESET;

		if (reset && p->reboot)
			restart = true;
		else if ((o.crash && p->restart != RESTART_NEVER) || (p->restart == RESTART_ALWAYS))
			restart = pr->restarts < p->restart_limit;
		if (!restart && (o.crash || p->restart == RESTART_ALWAYS) && p->restart != RESTART_NEVER) {
			ev_begin(&e, "restart_limit", p->name);
			ev_u64(&e, "restarts", pr->restarts);
			ev_end(&e);
		}
	}
	if (restart) {
		unsigned shift = MIN(pr->restarts, 10U);
		uint64_t delay = (uint64_t)p->restart_delay_ms * 1000000ULL << shift;

		if (pr->got_exit && pr->last_exit.reason == LVMM_EXIT_RESET && p->reboot)
			delay = 0; /* a reboot is not a failure: no back-off */
		else
			pr->restarts++;
		pr->state = PS_WAIT_RESTART;
		pr->restart_at_ns = mono_ns() + delay;
		ev_begin(&e, "partition_restart_scheduled", p->name);
		ev_u64(&e, "delay_ms", delay / 1000000ULL);
		ev_u64(&e, "restarts", pr->restarts);
		ev_end(&e);
		sup_arm_timer(s);
		return;
	}
	pr->state = PS_EXITED;
	pr->stop_requested = false;
	pr->exit_code = o.clean ? o.code : o.code ? o.code : 1;
	if (pr->exit_code && !s->first_failure)
		s->first_failure = pr->exit_code;
}

static void reap(struct sup *s)
{
	int wstatus;
	pid_t pid;
	unsigned i;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
		for (i = 0; i < s->plat->nparts; i++) {
			struct part_rt *pr = &s->parts[i];

			if (pr->pid == pid) {
				/* Drain what the partition said before it went. */
				if (pr->sock >= 0)
					on_part_message(s, pr);
				part_ended(s, pr, wstatus);
				break;
			}
		}
	}
}

/* ---- the loop -------------------------------------------------------------- */

void sup_watch_part(struct sup *s, struct part_rt *pr)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_PART | (uint64_t)(pr - s->parts) };

	if (pr->sock >= 0 && epoll_ctl(s->epfd, EPOLL_CTL_ADD, pr->sock, &ev) < 0)
		pr_warn("epoll: %s", strerror(errno));
}

void sup_unwatch_part(struct sup *s, struct part_rt *pr)
{
	if (pr->sock < 0)
		return;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, pr->sock, NULL);
	close(pr->sock);
	pr->sock = -1;
	ctl_part_gone(s, pr);
}

void sup_arm_timer(struct sup *s)
{
	uint64_t next = UINT64_MAX, now = mono_ns();
	struct itimerspec its = { 0 };
	unsigned i;

	for (i = 0; i < s->plat->nparts; i++) {
		struct part_rt *pr = &s->parts[i];

		if (pr->state == PS_WAIT_RESTART)
			next = MIN(next, pr->restart_at_ns);
		if (pr->state == PS_STARTING)
			next = MIN(next, pr->started_ns + READY_TIMEOUT_NS);
	}
	if (s->stopping && s->kill_at_ns)
		next = MIN(next, s->kill_at_ns);
	next = MIN(next, ctl_next_deadline(s));
	if (next == UINT64_MAX) {
		timerfd_settime(s->timer_fd, 0, &its, NULL);
		return;
	}
	next = next > now ? next - now : 1;
	its.it_value.tv_sec = (time_t)(next / 1000000000ULL);
	its.it_value.tv_nsec = (long)(next % 1000000000ULL);
	timerfd_settime(s->timer_fd, 0, &its, NULL);
}

static void on_timer(struct sup *s)
{
	uint64_t now = mono_ns(), ticks;
	unsigned i;

	if (read(s->timer_fd, &ticks, sizeof(ticks)) < 0)
		pr_debug("timerfd read: %s", strerror(errno));
	for (i = 0; i < s->plat->nparts; i++) {
		struct part_rt *pr = &s->parts[i];

		if (pr->state == PS_WAIT_RESTART && pr->restart_at_ns <= now && !s->stopping)
			(void)part_start(s, pr);
		else if (pr->state == PS_STARTING && pr->pid &&
			 now - pr->started_ns >= READY_TIMEOUT_NS) {
			pr_err("partition %s: not ready after %llu s; killing it", pr->p->name,
			       READY_TIMEOUT_NS / 1000000000ULL);
			kill(pr->pid, SIGKILL);
			pr->started_ns = now; /* do not repeat before SIGCHLD */
		}
	}
	if (s->stopping && s->kill_at_ns && now >= s->kill_at_ns) {
		for (i = 0; i < s->plat->nparts; i++)
			if (s->parts[i].pid)
				kill(s->parts[i].pid, SIGKILL);
		s->kill_at_ns = 0;
	}
	ctl_on_timer(s, now);
	sup_arm_timer(s);
}

int part_stop(struct sup *s, struct part_rt *pr)
{
	struct lvmm_ctl c = { .op = LVMM_CTL_STOP };

	if (pr->state == PS_WAIT_RESTART) {
		pr->state = PS_EXITED;
		return 0;
	}
	if (!pr->pid)
		return -ESRCH;
	pr->stop_requested = true;
	if (pr->sock < 0 || proto_send(pr->sock, LVMM_MSG_CTL, &c, sizeof(c), NULL, 0, MSG_DONTWAIT))
		kill(pr->pid, SIGKILL);
	return 0;
}

static void stop_all(struct sup *s, int sig)
{
	unsigned i;

	if (s->stopping) {
		/* Second signal: no more patience. */
		for (i = 0; i < s->plat->nparts; i++)
			if (s->parts[i].pid)
				kill(s->parts[i].pid, SIGKILL);
		return;
	}
	s->stopping = true;
	{
		struct event e;

		ev_begin(&e, "shutdown", NULL);
		ev_str(&e, "signal", strsignal(sig));
		ev_end(&e);
	}
	for (i = 0; i < s->plat->nparts; i++) {
		struct part_rt *pr = &s->parts[i];

		if (pr->pid)
			part_stop(s, pr);
		else if (pr->state == PS_WAIT_RESTART)
			pr->state = PS_EXITED;
	}
	s->kill_at_ns = mono_ns() + STOP_GRACE_NS;
	sup_arm_timer(s);
}

static bool all_done(struct sup *s)
{
	unsigned i;

	/* Partitions that wait for `lvmm ctl start` keep the platform up. */
	if (ctl_listening(s))
		for (i = 0; i < s->plat->nparts; i++)
			if (!s->plat->parts[i].autostart && s->parts[i].state == PS_STOPPED)
				return false;

	for (i = 0; i < s->plat->nparts; i++)
		if (s->parts[i].pid || s->parts[i].state == PS_WAIT_RESTART)
			return false;
	return true;
}

static void summary(struct sup *s)
{
	struct event e;
	unsigned i, k;

	for (i = 0; i < s->plat->nparts; i++) {
		struct part_rt *pr = &s->parts[i];
		const struct lvmm_ctl_reply *st = &final_stats[i];

		ev_begin(&e, "partition_summary", pr->p->name);
		ev_str(&e, "state", part_state_name(pr->state));
		ev_i64(&e, "exit_code", pr->exit_code);
		ev_u64(&e, "restarts", pr->restarts);
		ev_u64(&e, "dma_faults", st->dma_faults);
		ev_u64(&e, "unhandled_io", st->unhandled_io);
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

int supervisor_run(struct platform *plat, const struct run_opts *opts)
{
	struct epoll_event ev;
	sigset_t mask;
	unsigned i;
	int r;

	memset(&S, 0, sizeof(S));
	S.plat = plat;
	S.opts = *opts;
	S.epfd = S.sig_fd = S.timer_fd = -1;
	for (i = 0; i < PLAT_MAX_PARTS; i++) {
		S.parts[i].sock = S.parts[i].mem_fd = -1;
		S.parts[i].p = &plat->parts[i];
		S.parts[i].index = i;
		S.parts[i].ctl_waiter = -1;
	}
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
		r = ctl_init(&S, opts->control_path ? opts->control_path : plat->control_path);
	if (r)
		return LVMM_EXIT_SETUPERR;

	for (i = 0; i < plat->nparts; i++)
		if (plat->parts[i].stdin_console)
			tty_raw();
	for (i = 0; i < plat->nparts; i++)
		if (!plat->parts[i].autostart && !ctl_listening(&S))
			pr_warn("partition %s has autostart: false but there is no control socket "
				"(control: or --control) to start it", plat->parts[i].name);
	pr_debug("supervisor ready");
	for (i = 0; i < plat->nparts; i++)
		if (plat->parts[i].autostart)
			(void)part_start(&S, &S.parts[i]);

	while (!all_done(&S)) {
		struct epoll_event evs[16];
		int n = epoll_wait(S.epfd, evs, 16, -1), k;

		if (n < 0 && errno != EINTR) {
			pr_err("epoll_wait: %s", strerror(errno));
			break;
		}
		for (k = 0; k < n; k++) {
			uint64_t tag = evs[k].data.u64;

			if (tag == TAG_SIGNAL) {
				struct signalfd_siginfo si;

				while (read(S.sig_fd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGCHLD)
						reap(&S);
					else
						stop_all(&S, (int)si.ssi_signo);
				}
			} else if (tag == TAG_TIMER) {
				on_timer(&S);
			} else if ((tag & TAG_MASK) == TAG_PART) {
				unsigned idx = (unsigned)(tag & ~TAG_MASK);

				if (idx < plat->nparts)
					on_part_message(&S, &S.parts[idx]);
			} else {
				ctl_on_event(&S, tag, evs[k].events);
			}
		}
	}
	summary(&S);
	ctl_close(&S);
	links_close(&S);
	tty_restore();
	events_close();
	return S.first_failure;
}
