// SPDX-License-Identifier: MIT
/*
 * Partition life cycle (lifecycle.h): the only writer of a partition's
 * run-time state. Starting builds the partition's configuration and fds
 * (everything it is granted, nothing else), forks, and in the child
 * closes every other fd, ignores the group's signals, takes the
 * partition's own identity and arms the parent-death signal before
 * re-executing this binary. Stopping asks, then kills after a grace.
 * Ending classifies the outcome and applies the restart policy.
 */
#include "supervisor/lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"
#include "supervisor/events.h"
#include "supervisor/identity.h"
#include "supervisor/resources.h"
#include "supervisor/sup_fdset.h"
#include "supervisor/supervisor_int.h"

#define MS 1000000ULL

static struct lvmm_part_config cfg; /* 64 KiB: not on the stack */

const char *lc_state_name(enum pstate st)
{
	switch (st) {
	case PS_STARTING: return "starting";
	case PS_RUNNING: return "running";
	case PS_PAUSED: return "paused";
	case PS_STOPPING: return "stopping";
	case PS_WAIT_RESTART: return "restarting";
	case PS_EXITED: return "exited";
	case PS_STOPPED:
	default: return "stopped";
	}
}

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

void lc_init(struct sup *s)
{
	unsigned i;

	for (i = 0; i < PLAT_MAX_PARTS; i++) {
		struct part_rt *pr = &s->parts[i];

		memset(pr, 0, sizeof(*pr));
		pr->p = &s->plat->parts[i];
		pr->index = i;
		pr->sock = pr->mem_fd = pr->uid_lock = -1;
	}
}

static void record_failure(struct sup *s, int code)
{
	if (code && !s->first_failure)
		s->first_failure = code;
}

/* ---- starting -------------------------------------------------------------- */

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

/* Open one granted device's host resource into dc/fs. 0 or -errno (reason in err). */
static int grant_device(struct sup *s, struct part_rt *pr, unsigned i, struct lvmm_dev_cfg *dc,
			struct fdset *fs, char *err, size_t errlen)
{
	const struct plat_dev *d = &pr->p->devs[i];
	unsigned k;
	int fd;

	memset(dc, 0, sizeof(*dc));
	dc->type = d->type;
	snprintf(dc->id, sizeof(dc->id), "%s", d->id);
	for (k = 0; k < ARRAY_SIZE(dc->fd); k++)
		dc->fd[k] = LVMM_NO_FD;
	dc->rx_rl = d->rx_rl;
	dc->tx_rl = d->tx_rl;
	memcpy(dc->mac, d->mac, 6);
	if (!memcmp(dc->mac, "\0\0\0\0\0\0", 6))
		default_mac(pr->p->name, i, dc->mac);
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
			fd = s->hooks && s->hooks->agent_open ? s->hooks->agent_open(s, pr) : -ENOTCONN;
			if (fd < 0)
				snprintf(err, errlen, "device %s: cannot open the control channel: %s",
					 d->id, fd == -EBUSY ? "the partition has one already" : strerror(-fd));
			break;
		}
		fd = res_stream(d->path, d->listen, err, errlen);
		if (d->listen && fd >= 0) {
			struct stat st;

			dc->flags |= LVMM_DEV_F_LISTEN;
			if (!lstat(d->path, &st))
				pr->bound[i].dev = st.st_dev, pr->bound[i].ino = st.st_ino;
		}
		break;
	case LVMM_DEV_NET_LINK:
		snprintf(dc->peer, sizeof(dc->peer), "%s", d->link);
		return links_grant(s, pr, d, dc, fs, err, errlen);
	default:
		snprintf(err, errlen, "device %s: unknown type", d->id);
		return -EINVAL;
	}
	if (fd < 0)
		return fd;
	dc->fd[0] = fdset_add(fs, fd, true);
	if (dc->fd[0] == LVMM_NO_FD) {
		close(fd);
		snprintf(err, errlen, "too many file descriptors for one partition");
		return -EMFILE;
	}
	return 0;
}

/*
 * Remove the listening sockets this start created, but only if the path still
 * names the very socket we bound (someone may have replaced it since).
 */
static void unbind_sockets(struct part_rt *pr)
{
	unsigned i;

	for (i = 0; i < pr->p->ndevs && i < LVMM_MAX_DEVS; i++) {
		struct stat st;

		if (!pr->bound[i].ino)
			continue;
		if (!lstat(pr->p->devs[i].path, &st) && S_ISSOCK(st.st_mode) &&
		    st.st_dev == pr->bound[i].dev && st.st_ino == pr->bound[i].ino)
			unlink(pr->p->devs[i].path);
		pr->bound[i].dev = pr->bound[i].ino = 0;
	}
}

/* Open everything the partition is granted and describe it. 0 or -errno (reason in err). */
static int build_config(struct sup *s, struct part_rt *pr, struct fdset *fs, char *err,
			size_t errlen)
{
	const struct plat_part *p = pr->p;
	unsigned i;
	int fd, r;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.name, sizeof(cfg.name), "%s", p->name);
	snprintf(cfg.cmdline, sizeof(cfg.cmdline), "%s", p->cmdline);
	cfg.vcpus = p->vcpus;
	cfg.mem_bytes = p->mem_bytes;
	cfg.log_level = (uint32_t)s->opts.log_level;
	cfg.uid = pr->uid;
	cfg.gid = pr->gid;
	for (i = 0; i < LVMM_MAX_VCPUS; i++)
		cfg.host_cpus[i] = i < p->n_host_cpus ? p->host_cpus[i] : -1;
	cfg.ncpuid_mask = p->ncpuid_mask;
	memcpy(cfg.cpuid_mask, p->cpuid_mask, sizeof(cfg.cpuid_mask));
	if (s->plat->nparts > 1)
		cfg.flags |= LVMM_PART_F_PREFIX;
	if (p->test_device)
		cfg.flags |= LVMM_PART_F_TEST_DEVICE;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open /dev/kvm: %s", strerror(-r));
		return r;
	}
	cfg.fd_kvm = fdset_add(fs, fd, true);
	fd = res_memfd(p->name, p->mem_bytes);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %" PRIu64 " MiB of guest memory: %s",
			 p->mem_bytes / MiB, strerror(-fd));
		return fd;
	}
	pr->mem_fd = fd; /* kept: the supervisor holds the partition's memory object */
	cfg.fd_mem = fdset_add(fs, fd, false);
	fd = res_file_ro(p->kernel, err, errlen);
	if (fd < 0)
		return fd;
	cfg.fd_kernel = fdset_add(fs, fd, true);
	cfg.fd_initrd = LVMM_NO_FD;
	if (p->initrd[0]) {
		fd = res_file_ro(p->initrd, err, errlen);
		if (fd < 0)
			return fd;
		cfg.fd_initrd = fdset_add(fs, fd, true);
	}
	cfg.fd_console_out = LVMM_NO_FD;
	if (p->console == CONSOLE_STDOUT) {
		cfg.fd_console_out = fdset_add(fs, STDOUT_FILENO, false);
	} else if (p->console == CONSOLE_FILE) {
		fd = res_console_file(p->console_path, err, errlen);
		if (fd < 0)
			return fd;
		cfg.fd_console_out = fdset_add(fs, fd, true);
	}
	cfg.fd_console_in = LVMM_NO_FD;
	if (p->stdin_console) {
		cfg.fd_console_in = fdset_add(fs, STDIN_FILENO, false);
		cfg.flags |= LVMM_PART_F_STDIN;
	}

	pr->granted = 0;
	for (i = 0; i < p->ndevs; i++) {
		/* A device the policy refuses is not created: the guest never sees it. */
		if (!acm_grant_device(s, pr, i))
			continue;
		r = grant_device(s, pr, i, &cfg.devs[cfg.ndevs], fs, err, errlen);
		if (r)
			return r;
		cfg.ndevs++;
		pr->granted |= 1U << i;
	}
	return 0;
}

/*
 * The partition's own uid/gid, claimed at its first start and kept across
 * restarts. Only root can switch identities: otherwise partitions run as
 * the invoking user (docs/design.md).
 */
static int claim_identity(struct sup *s, struct part_rt *pr, char *err, size_t errlen)
{
	uint32_t uid;
	int r, fd;

	if (pr->uid || geteuid() != 0)
		return 0;
	r = ident_claim(s->plat->uid_base, s->plat->uid_count, &uid, &fd, err, errlen);
	if (r)
		return r;
	pr->uid = pr->gid = uid;
	pr->uid_lock = fd;
	return 0;
}

/*
 * In the forked child, before exec: only stdio and the protocol socket (as
 * fd 3) cross; the signals a process group or cgroup gets on shutdown
 * (terminal, `timeout`, `kill -- -PGID`, systemd) are ignored, because the
 * supervisor stops partitions in order (ignored dispositions survive
 * execve; a process group of its own would take the terminal away from a
 * partition that reads its console from stdin); the partition's identity
 * is taken here, so that the parent-death signal armed after it (a uid
 * change clears it) kills the partition with its supervisor in any state,
 * a SIGSTOPped one included.
 */
static void __attribute__((noreturn)) child_exec(const struct part_rt *pr, int sock, pid_t parent)
{
	static char a0[] = "lvmm", a1[] = "__partition";
	char name[LVMM_NAME_MAX];
	char *argv[] = { a0, a1, name, NULL };
	sigset_t none;

	snprintf(name, sizeof(name), "%s", pr->p->name);
	if (sock == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(sock, 3) < 0)
		_exit(127);
	if (syscall(SYS_close_range, 4U, ~0U, 0U) < 0) {
		int fd;

		for (fd = 4; fd < 65536; fd++) /* kernels before 5.9 */
			close(fd);
	}
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (pr->uid && (setgroups(0, NULL) < 0 || setresgid(pr->gid, pr->gid, pr->gid) < 0 ||
			setresuid(pr->uid, pr->uid, pr->uid) < 0))
		_exit(126);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
		_exit(125);
	execv("/proc/self/exe", argv);
	_exit(127);
}

static void start_failed(struct sup *s, struct part_rt *pr, const char *why)
{
	struct event e;

	pr_err("partition %s: %s", pr->p->name, why);
	ev_begin(&e, "partition_start_failed", pr->p->name);
	ev_str(&e, "error", why);
	ev_end(&e);
	pr->state = PS_EXITED;
	pr->exit_code = LVMM_EXIT_SETUPERR;
	record_failure(s, pr->exit_code);
}

static int start_now(struct sup *s, struct part_rt *pr, char *err, size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_PART | pr->index };
	struct fdset fs = { .n = 0 };
	pid_t pid, self = getpid();
	struct event e;
	int sv[2], r;

	err[0] = 0;
	r = acm_partition_start_pre(s, pr, err, errlen);
	if (r)
		goto err_refused;
	r = claim_identity(s, pr, err, errlen);
	if (r)
		goto err_acm;
	r = build_config(s, pr, &fs, err, errlen);
	if (r)
		goto err_config;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(-r));
		goto err_config;
	}
	pr_debug("partition %s: resources open, forking", pr->p->name);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		snprintf(err, errlen, "fork: %s", strerror(-r));
		goto err_sock;
	}
	if (pid == 0)
		child_exec(pr, sv[1], self);
	close(sv[1]);
	pr->pid = pid;
	pr->sock = sv[0];
	pr->state = PS_STARTING;
	pr->started_ns = now_ns();
	pr->kill_at_ns = 0;
	pr->got_exit = pr->stop_requested = pr->force_killed = false;
	memset(pr->asks, 0, sizeof(pr->asks));
	memset(&pr->final_stats, 0, sizeof(pr->final_stats));
	r = proto_send(pr->sock, LVMM_MSG_CONFIG, &cfg, sizeof(cfg), fs.fds, fs.n, 0);
	fdset_close(&fs);
	if (r) {
		/* The child cannot run without its configuration; it is reaped as killed. */
		pr_err("partition %s: sending configuration: %s", pr->p->name, strerror(-r));
		kill(pid, SIGKILL);
	}
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, pr->sock, &ev) < 0)
		pr_warn("partition %s: epoll: %s", pr->p->name, strerror(errno));
	acm_partition_start_commit(s, pr);
	ev_begin(&e, "partition_start", pr->p->name);
	ev_u64(&e, "pid", (uint64_t)pid);
	ev_u64(&e, "vcpus", pr->p->vcpus);
	ev_u64(&e, "memory_mib", pr->p->mem_bytes / MiB);
	ev_str(&e, "role", plat_role_name(pr->p->role));
	if (pr->uid)
		ev_u64(&e, "uid", pr->uid);
	if (pr->restarts)
		ev_u64(&e, "restart", pr->restarts);
	ev_end(&e);
	sup_arm_timer(s);
	return 0;

err_sock:
	close(sv[0]);
	close(sv[1]);
err_config:
	fdset_close(&fs);
	unbind_sockets(pr);
	if (s->hooks && s->hooks->agent_close)
		s->hooks->agent_close(s, pr);
	if (pr->mem_fd >= 0)
		close(pr->mem_fd);
	pr->mem_fd = -1;
err_acm:
	acm_partition_start_fail(s, pr);
err_refused:
	start_failed(s, pr, err);
	return r;
}

int lc_start(struct sup *s, struct part_rt *pr, char *err, size_t errlen)
{
	if (pr->pid || pr->state == PS_WAIT_RESTART) {
		snprintf(err, errlen, "partition '%s' is already %s", pr->p->name,
			 lc_state_name(pr->state));
		return -EALREADY;
	}
	if (s->stopping) {
		snprintf(err, errlen, "the platform is shutting down");
		return -ESHUTDOWN;
	}
	pr->restarts = 0; /* an operator's start begins a new restart budget */
	return start_now(s, pr, err, errlen);
}

/* ---- stopping ---------------------------------------------------------------- */

void lc_kill(struct sup *s, struct part_rt *pr, const char *why)
{
	struct event e;

	if (!pr->pid)
		return;
	kill(pr->pid, SIGKILL);
	pr->force_killed = true;
	pr->kill_at_ns = 0;
	ev_begin(&e, "partition_kill", pr->p->name);
	ev_u64(&e, "pid", (uint64_t)pr->pid);
	ev_u64(&e, "signal", SIGKILL);
	ev_str(&e, "reason", why);
	ev_end(&e);
	(void)s;
}

int lc_stop(struct sup *s, struct part_rt *pr, const char *why)
{
	struct lvmm_ctl m = { .op = LVMM_CTL_STOP };
	struct event e;

	if (pr->state == PS_WAIT_RESTART) {
		pr->state = PS_EXITED; /* the pending restart is cancelled */
		pr->restart_requested = false;
		return 0;
	}
	if (!pr->pid)
		return -ESRCH;
	pr->stop_requested = true;
	if (pr->state == PS_STOPPING)
		return 0; /* already asked; the first deadline stands */
	pr->state = PS_STOPPING;
	pr->kill_at_ns = now_ns() + LC_STOP_GRACE_MS * MS;
	ev_begin(&e, "partition_stop", pr->p->name);
	ev_str(&e, "by", why);
	ev_u64(&e, "kill_after_ms", LC_STOP_GRACE_MS);
	ev_end(&e);
	if (pr->sock < 0 || proto_send(pr->sock, LVMM_MSG_CTL, &m, sizeof(m), NULL, 0, MSG_DONTWAIT))
		lc_kill(s, pr, "no control channel to ask it to stop");
	sup_arm_timer(s);
	return 0;
}

int lc_restart(struct sup *s, struct part_rt *pr, bool *now_started, char *err, size_t errlen)
{
	int r;

	*now_started = false;
	if (s->stopping) {
		snprintf(err, errlen, "the platform is shutting down");
		return -ESHUTDOWN;
	}
	if (!pr->pid) {
		if (pr->state == PS_WAIT_RESTART)
			pr->state = PS_EXITED;
		*now_started = true;
		return lc_start(s, pr, err, errlen);
	}
	r = lc_stop(s, pr, "restart");
	if (!r)
		pr->restart_requested = true;
	return r;
}

void lc_shutdown(struct sup *s, int sig)
{
	struct event e;
	unsigned i;

	if (s->stopping) {
		/* A second signal: no more patience. */
		for (i = 0; i < s->plat->nparts; i++)
			lc_kill(s, &s->parts[i], "second shutdown signal");
		return;
	}
	s->stopping = true;
	ev_begin(&e, "shutdown", NULL);
	ev_str(&e, "signal", strsignal(sig));
	ev_end(&e);
	for (i = 0; i < s->plat->nparts; i++) {
		struct part_rt *pr = &s->parts[i];

		pr->restart_requested = false;
		if (pr->pid || pr->state == PS_WAIT_RESTART)
			(void)lc_stop(s, pr, "shutdown");
	}
	sup_arm_timer(s);
}

/* ---- control requests ---------------------------------------------------------- */

int lc_ask(struct sup *s, struct part_rt *pr, uint32_t op, const char *dev, uint32_t token)
{
	struct lvmm_ctl m = { .op = op };
	unsigned i;

	if (!pr->pid || pr->sock < 0 || (pr->state != PS_RUNNING && pr->state != PS_PAUSED))
		return -ESRCH;
	for (i = 0; i < LC_ASK_MAX && pr->asks[i].used; i++)
		;
	if (i == LC_ASK_MAX)
		return -EBUSY;
	if (++s->ask_seq == 0)
		s->ask_seq = 1; /* 0 is for messages nobody waits on */
	m.seq = s->ask_seq;
	if (dev)
		snprintf(m.dev, sizeof(m.dev), "%s", dev);
	if (proto_send(pr->sock, LVMM_MSG_CTL, &m, sizeof(m), NULL, 0, MSG_DONTWAIT))
		return -EIO;
	pr->asks[i] = (struct lc_ask){ .used = true, .seq = m.seq, .op = op, .token = token };
	return 0;
}

void lc_ask_cancel(struct sup *s, struct part_rt *pr, uint32_t token)
{
	unsigned i;

	(void)s;
	for (i = 0; i < LC_ASK_MAX; i++)
		if (pr->asks[i].used && pr->asks[i].token == token)
			pr->asks[i].used = false;
}

void lc_link_push(struct sup *s, struct part_rt *pr, int li)
{
	const struct plat_link *l = &s->plat->links[li];
	unsigned e;

	if (pr->sock < 0 || (pr->state != PS_RUNNING && pr->state != PS_PAUSED))
		return; /* a starting end picks the state up when it is ready */
	for (e = 0; e < 2; e++) {
		struct lvmm_ctl m = { .op = link_is_up(s, li) ? LVMM_CTL_LINK_UP : LVMM_CTL_LINK_DOWN };

		if (l->part[e] != (int)pr->index)
			continue;
		snprintf(m.dev, sizeof(m.dev), "%s", pr->p->devs[l->dev[e]].id);
		if (proto_send(pr->sock, LVMM_MSG_CTL, &m, sizeof(m), NULL, 0, MSG_DONTWAIT))
			pr_warn("partition %s: could not set link %s %s", pr->p->name, l->name,
				link_is_up(s, li) ? "up" : "down");
	}
}

/* ---- messages from the partition ---------------------------------------------- */

void lc_on_ready(struct sup *s, struct part_rt *pr)
{
	struct event e;
	unsigned i;

	if (pr->state == PS_STARTING) {
		pr->state = PS_RUNNING;
		ev_begin(&e, "partition_ready", pr->p->name);
		ev_u64(&e, "startup_ms", (now_ns() - pr->started_ns) / MS);
		ev_end(&e);
	}
	/* A (re)started end of a link that is down must come up down. */
	for (i = 0; i < s->plat->nlinks; i++) {
		const struct plat_link *l = &s->plat->links[i];

		if ((l->part[0] == (int)pr->index || l->part[1] == (int)pr->index) &&
		    !link_is_up(s, (int)i))
			lc_link_push(s, pr, (int)i);
	}
}

void lc_on_exit_report(struct sup *s, struct part_rt *pr, const struct lvmm_exit *x)
{
	(void)s;
	pr->last_exit = *x;
	pr->last_exit.detail[sizeof(pr->last_exit.detail) - 1] = 0;
	pr->got_exit = true;
}

void lc_on_reply(struct sup *s, struct part_rt *pr, const struct lvmm_ctl_reply *rep)
{
	struct event e;
	unsigned i;

	/* The partition says which state it is in: follow it (a late answer included). */
	if ((pr->state == PS_RUNNING && rep->state == 2) || (pr->state == PS_PAUSED && rep->state == 1)) {
		pr->state = rep->state == 2 ? PS_PAUSED : PS_RUNNING;
		ev_begin(&e, pr->state == PS_PAUSED ? "partition_paused" : "partition_resumed", pr->p->name);
		ev_end(&e);
	}
	if (rep->seq == 0) {
		if (rep->op == LVMM_CTL_STATS)
			pr->final_stats = *rep; /* the partition's last words */
		return;
	}
	for (i = 0; i < LC_ASK_MAX; i++) {
		struct lc_ask a = pr->asks[i];

		if (!a.used || a.seq != rep->seq)
			continue;
		pr->asks[i].used = false;
		if (s->hooks && s->hooks->answer)
			s->hooks->answer(s, a.token, pr, a.op == rep->op ? rep->result : -EPROTO, rep);
		return;
	}
	/* Late (the requester gave up) or unsolicited: nobody waits for it. */
}

void lc_channel_lost(struct sup *s, struct part_rt *pr)
{
	unsigned i;

	if (pr->sock >= 0)
		close(pr->sock); /* also leaves the epoll set */
	pr->sock = -1;
	for (i = 0; i < LC_ASK_MAX; i++) {
		struct lc_ask a = pr->asks[i];

		if (!a.used)
			continue;
		pr->asks[i].used = false;
		if (s->hooks && s->hooks->answer)
			s->hooks->answer(s, a.token, pr, -ESRCH, NULL);
	}
}

/* ---- ending and restarting ------------------------------------------------------- */

struct outcome {
	bool clean;   /* nothing went wrong */
	bool crash;   /* counts for restart: on-crash */
	bool setup;   /* never restarted: it would fail again */
	int code;
	const char *reason;
	char what[320];
};

static void classify(const struct part_rt *pr, int wstatus, struct outcome *o)
{
	const struct lvmm_exit *x = &pr->last_exit;

	memset(o, 0, sizeof(*o));
	if (pr->got_exit) {
		o->reason = exit_reason_name(x->reason);
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
	if (pr->stop_requested && pr->force_killed && WIFSIGNALED(wstatus) &&
	    WTERMSIG(wstatus) == SIGKILL) {
		/* Asked to stop, did not within the grace, killed as documented: a stop. */
		o->clean = true;
		o->reason = "stop-forced";
		snprintf(o->what, sizeof(o->what), "did not stop within %u ms of the request; killed",
			 LC_STOP_GRACE_MS);
		return;
	}
	o->crash = true;
	o->code = LVMM_EXIT_DIED;
	o->reason = WIFSIGNALED(wstatus) ? "killed" : "died";
	if (WIFSIGNALED(wstatus))
		snprintf(o->what, sizeof(o->what), "partition process killed by signal %d (%s)%s",
			 WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)),
			 WTERMSIG(wstatus) == SIGSYS ? ": sandbox violation (forbidden system call)" : "");
	else
		snprintf(o->what, sizeof(o->what), "partition process exited with status %d without "
			 "reporting why", WEXITSTATUS(wstatus));
}

/* Apply the restart policy after an unrequested end; true if a restart was scheduled. */
static bool schedule_restart(struct sup *s, struct part_rt *pr, const struct outcome *o)
{
	const struct plat_part *p = pr->p;
	bool reboot = pr->got_exit && pr->last_exit.reason == LVMM_EXIT_RESET && p->reboot;
	bool again = false;
	uint64_t delay;
	struct event e;

	if (s->stopping || pr->stop_requested || o->setup)
		return false;
	if (reboot)
		again = true;
	else if ((o->crash && p->restart != RESTART_NEVER) || p->restart == RESTART_ALWAYS)
		again = pr->restarts < p->restart_limit;
	if (!again) {
		if ((o->crash || p->restart == RESTART_ALWAYS) && p->restart != RESTART_NEVER) {
			ev_begin(&e, "restart_limit", p->name);
			ev_u64(&e, "restarts", pr->restarts);
			ev_end(&e);
		}
		return false;
	}
	delay = (uint64_t)p->restart_delay_ms * MS << MIN(pr->restarts, 10U);
	if (reboot)
		delay = 0; /* a reboot is not a failure: no back-off */
	else
		pr->restarts++;
	pr->state = PS_WAIT_RESTART;
	pr->restart_at_ns = now_ns() + delay;
	ev_begin(&e, "partition_restart_scheduled", p->name);
	ev_u64(&e, "delay_ms", delay / MS);
	ev_u64(&e, "restarts", pr->restarts);
	ev_end(&e);
	return true;
}

static void ended(struct sup *s, struct part_rt *pr, int wstatus)
{
	const struct plat_part *p = pr->p;
	struct outcome o;
	struct event e;
	char err[256];

	pr_debug("partition %s: reaped", p->name);
	lc_channel_lost(s, pr);
	if (pr->mem_fd >= 0)
		close(pr->mem_fd);
	pr->mem_fd = -1;
	pr->pid = 0;
	pr->kill_at_ns = 0;
	unbind_sockets(pr);
	acm_partition_stop(s, pr);
	if (s->hooks && s->hooks->agent_close)
		s->hooks->agent_close(s, pr);
	classify(pr, wstatus, &o);

	ev_begin(&e, "partition_exit", p->name);
	ev_str(&e, "reason", o.reason);
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
		(void)start_now(s, pr, err, sizeof(err));
		return;
	}
	pr->restart_requested = false;
	if (schedule_restart(s, pr, &o)) {
		sup_arm_timer(s);
		return;
	}
	pr->state = PS_EXITED;
	pr->stop_requested = false;
	pr->exit_code = o.clean ? o.code : o.code ? o.code : 1;
	record_failure(s, pr->exit_code);
}

bool lc_reaped(struct sup *s, pid_t pid, int wstatus)
{
	unsigned i;

	for (i = 0; i < s->plat->nparts; i++)
		if (s->parts[i].pid == pid) {
			ended(s, &s->parts[i], wstatus);
			return true;
		}
	return false;
}

/* ---- time ----------------------------------------------------------------------- */

uint64_t lc_next_deadline(struct sup *s)
{
	uint64_t next = UINT64_MAX;
	unsigned i;

	for (i = 0; i < s->plat->nparts; i++) {
		const struct part_rt *pr = &s->parts[i];

		if (pr->state == PS_WAIT_RESTART && !s->stopping)
			next = MIN(next, pr->restart_at_ns);
		if (pr->state == PS_STARTING && pr->pid)
			next = MIN(next, pr->started_ns + LC_READY_TIMEOUT_MS * MS);
		if (pr->pid && pr->kill_at_ns)
			next = MIN(next, pr->kill_at_ns);
	}
	return next;
}

void lc_on_timer(struct sup *s, uint64_t now)
{
	char err[256], why[64];
	unsigned i;

	for (i = 0; i < s->plat->nparts; i++) {
		struct part_rt *pr = &s->parts[i];

		if (pr->state == PS_WAIT_RESTART && pr->restart_at_ns <= now && !s->stopping) {
			(void)start_now(s, pr, err, sizeof(err));
		} else if (pr->state == PS_STARTING && pr->pid &&
			   now - pr->started_ns >= LC_READY_TIMEOUT_MS * MS) {
			snprintf(why, sizeof(why), "not ready after %u s", LC_READY_TIMEOUT_MS / 1000);
			pr_err("partition %s: %s; killing it", pr->p->name, why);
			lc_kill(s, pr, why);
			pr->started_ns = now; /* do not repeat before SIGCHLD */
		}
		if (pr->pid && pr->kill_at_ns && now >= pr->kill_at_ns) {
			snprintf(why, sizeof(why), "did not stop within %u ms", LC_STOP_GRACE_MS);
			pr_warn("partition %s: %s; killing it", pr->p->name, why);
			lc_kill(s, pr, why);
		}
	}
}

bool lc_all_done(struct sup *s, bool waiting_for_ctl)
{
	unsigned i;

	/* Partitions that wait for `lvmm ctl start` keep the platform up, until a shutdown. */
	if (waiting_for_ctl && !s->stopping)
		for (i = 0; i < s->plat->nparts; i++)
			if (!s->plat->parts[i].autostart && s->parts[i].state == PS_STOPPED)
				return false;
	for (i = 0; i < s->plat->nparts; i++)
		if (s->parts[i].pid || s->parts[i].state == PS_WAIT_RESTART)
			return false;
	return true;
}

void lc_close(struct sup *s)
{
	unsigned i;

	for (i = 0; i < PLAT_MAX_PARTS; i++) {
		ident_release(s->parts[i].uid_lock);
		s->parts[i].uid_lock = -1;
	}
}
