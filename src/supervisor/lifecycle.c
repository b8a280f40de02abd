// SPDX-License-Identifier: MIT
/*
 * Partition life cycle (lifecycle.h): the only writer of a partition's
 * run-time state. Starting opens the partition's fds (everything it is
 * granted, nothing else) and spawns this binary as the
 * partition, under its own identity (spawn.c). Stopping asks, then kills after a grace.
 * Ending classifies the outcome and applies the restart policy.
 */
#include "supervisor/lifecycle.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"
#include "supervisor/consoles.h"
#include "supervisor/events.h"
#include "supervisor/identity.h"
#include "supervisor/resources.h"
#include "supervisor/spawn.h"
#include "supervisor/sup_fdset.h"
#include "supervisor/supervisor_int.h"
#include "supervisor/trust.h"

static struct plat_config_msg msg; /* 36 KiB: not on the stack */

/* Indexed by enum pstate and enum lvmm_exit_reason (include/lvmm/proto.h). */
static const char *const state_names[] = { "stopped", "starting", "running", "paused", "stopping",
					   "restarting", "exited" };
static const char *const exit_names[] = { "unknown", "poweroff", "reset", "triple-fault",
					  "internal-error", "entry-failure", "setup-failed",
					  "stopped" };
_Static_assert(ARRAY_SIZE(state_names) == PS_EXITED + 1, "a name per state");
_Static_assert(ARRAY_SIZE(exit_names) == LVMM_EXIT_STOPPED + 1, "a name per exit reason");

const char *lc_state_name(enum pstate st)
{
	return (unsigned)st < ARRAY_SIZE(state_names) ? state_names[st] : "stopped";
}

void lc_init(struct sup *s)
{
	unsigned i;

	for (i = 0; i < s->plat->nparts; i++) { /* those in use: all 64 dirtied 150 KiB */
		struct part_rt *pr = &s->parts[i];

		memset(pr, 0, sizeof(*pr));
		pr->p = &s->plat->parts[i];
		pr->index = i;
		pr->sock = pr->mem_fd = pr->uid_lock = pr->tpm_fd = pr->gate_fd = -1;
		pr->img[0] = pr->img[1] = pr->img[2] = pr->img[3] = -1;
	}
}

static void record_failure(struct sup *s, int code)
{
	if (code && !s->first_failure)
		s->first_failure = code;
}

/* Event name about pr, with key: val unless key is NULL. */
static void part_event(const struct part_rt *pr, const char *name, const char *key, const char *val)
{
	struct event e;

	ev_begin(&e, name, pr->p->name);
	if (key)
		ev_str(&e, key, val);
	ev_end(&e);
}

/* ---- starting -------------------------------------------------------------- */

/*
 * Open one granted device's host resource; its fds' indices in fs into fdi.
 * 1 for side 1 of a link, else 0; or -errno (reason in err).
 */
static int grant_device(struct sup *s, struct part_rt *pr, unsigned i, int32_t *fdi,
			struct fdset *fs, char *err, size_t errlen)
{
	const struct plat_dev *d = &pr->p->devs[i];
	int fd;

	switch (d->type) {
	case LVMM_DEV_BLK:
		fd = res_disk(d->path, d->readonly, err, errlen);
		break;
	case LVMM_DEV_NET_TAP:
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

			if (!lstat(d->path, &st))
				pr->bound[i].dev = st.st_dev, pr->bound[i].ino = st.st_ino;
		}
		break;
	case LVMM_DEV_NET_LINK:
		return links_grant(s, pr, d, fdi, fs, err, errlen);
	case LVMM_DEV_TPM:
		/* The TPM socket's end goes to the partition (its trust process has the other). */
		fdi[0] = pr->tpm_fd < 0 ? LVMM_NO_FD : fdset_add(fs, pr->tpm_fd, true);
		if (fdi[0] != LVMM_NO_FD)
			pr->tpm_fd = -1;
		/* The event log comes with the verdict, on the gate (lvmm_gate). */
		if (fdi[0] == LVMM_NO_FD) {
			snprintf(err, errlen, "device %s: the vTPM is not ready", d->id);
			return -ENODEV;
		}
		return 0;
	default:
		snprintf(err, errlen, "device %s: unknown type", d->id);
		return -EINVAL;
	}
	if (fd < 0)
		return fd;
	fdi[0] = fdset_add(fs, fd, true);
	if (fdi[0] == LVMM_NO_FD) {
		close(fd);
		snprintf(err, errlen, "too many file descriptors for one partition");
		return -EMFILE;
	}
	return 0;
}

/*
 * Undo what a start set up outside the partition's process, when it failed or
 * the partition ended: the listening sockets it created (removed if the path
 * still names the one we bound), its agent channel and its memory.
 */
static void release_start(struct sup *s, struct part_rt *pr)
{
	unsigned i;

	for (i = 0; i < pr->p->ndevs && i < LVMM_MAX_DEVS; i++) {
		unlink_ours(pr->p->devs[i].path, (dev_t)pr->bound[i].dev, (ino_t)pr->bound[i].ino);
		pr->bound[i].dev = pr->bound[i].ino = 0;
	}
	if (s->hooks && s->hooks->agent_close)
		s->hooks->agent_close(s, pr);
	close_fd(&pr->mem_fd);
}

/*
 * Open everything the partition is granted, and say so in msg's grant; the
 * partition builds its configuration from that and its own entry, which
 * goes as it is (src/vmm/part_config.c). 0 or -errno (reason in err).
 */
static int build_config(struct sup *s, struct part_rt *pr, struct fdset *fs, char *err,
			size_t errlen)
{
	struct lvmm_part_grant *g = &msg.grant;
	const struct plat_part *p = pr->p;
	unsigned i;
	int fd, r;

	msg.part = *p;
	memset(g, 0xff, sizeof(*g)); /* every fd index LVMM_NO_FD (-1) until granted */
	g->flags = s->plat->nparts > 1 ? LVMM_PART_F_PREFIX : 0;
	g->log_level = (uint32_t)s->opts.log_level;
	g->uid = pr->uid;
	g->gid = pr->gid;
	g->granted = g->link_side1 = 0;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open /dev/kvm: %s", strerror(-r));
		return r;
	}
	g->fd_kvm = fdset_add(fs, fd, true);
	fd = res_memfd(p->name, p->mem_bytes);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %" PRIu64 " MiB of guest memory: %s",
			 p->mem_bytes / MiB, strerror(-fd));
		return fd;
	}
	pr->mem_fd = fd; /* kept: the supervisor holds the partition's memory object */
	g->fd_mem = fdset_add(fs, fd, false);
	/* This start's image files (read-only: the partition seals copies): handed over, ours closed. */
	g->fd_kernel = fdset_add(fs, pr->img[0], true);
	if (pr->img[1] >= 0)
		g->fd_initrd = fdset_add(fs, pr->img[1], true);
	pr->img[0] = pr->img[1] = -1;
	if (p->console == CONSOLE_STDOUT) {
		g->fd_console_out = fdset_add(fs, STDOUT_FILENO, false);
	} else if (p->console == CONSOLE_FILE) {
		fd = res_console_file(p->console_path, err, errlen);
		if (fd < 0)
			return fd;
		g->fd_console_out = fdset_add(fs, fd, true);
	}
	if (p->stdin_console)
		g->fd_console_in = fdset_add(fs, STDIN_FILENO, false);
	if (cons_fd(pr->index) >= 0)
		g->fd_console_listen = fdset_add(fs, cons_fd(pr->index), false);

	pr->granted = 0;
	for (i = 0; i < p->ndevs; i++) {
		/* A device the policy refuses is not created: the guest never sees it. */
		if (!acm_grant_device(s, pr, i))
			continue;
		r = grant_device(s, pr, i, g->dev_fd[i], fs, err, errlen);
		if (r < 0)
			return r;
		g->link_side1 |= (uint32_t)r << i;
		pr->granted |= 1U << i;
	}
	g->granted = pr->granted;
	return 0;
}

/*
 * The partition's own uid/gid, claimed at its first start and kept across
 * restarts. Only root can switch identities: otherwise partitions run as
 * the invoking user (docs/design.md).
 */
static int claim_identity(struct sup *s, struct part_rt *pr, char *err, size_t errlen)
{
	int r;

	if (pr->uid || geteuid() != 0)
		return 0;
	/* Sets uid and uid_lock only when it succeeds. */
	r = ident_claim(s->plat->uid_base, s->plat->uid_count, &pr->uid, &pr->uid_lock, err, errlen);
	if (!r)
		pr->gid = pr->uid;
	return r;
}

/* Close this start's images, TPM socket and gate (the supervisor's copies). */
static void drop_start(struct part_rt *pr)
{
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(pr->img); i++)
		close_fd(&pr->img[i]);
	close_fd(&pr->tpm_fd);
	close_fd(&pr->gate_fd);
}

/* This start's images and sockets are closed (drop_start), and it is reported. */
static void start_failed(struct sup *s, struct part_rt *pr, const char *why)
{
	drop_start(pr);
	pr_err("partition %s: %s", pr->p->name, why);
	part_event(pr, "partition_start_failed", "error", why);
	pr->state = PS_EXITED;
	pr->exit_code = LVMM_EXIT_SETUPERR;
	record_failure(s, pr->exit_code);
}

/* The partition's guest may run: after the fork, or after a gated start's verdict. */
static void start_event(struct part_rt *pr)
{
	struct event e;

	ev_begin(&e, "partition_start", pr->p->name);
	ev_u64(&e, "pid", (uint64_t)pr->pid);
	ev_u64(&e, "vcpus", pr->p->vcpus);
	ev_u64(&e, "memory_mib", pr->p->mem_bytes / MiB);
	ev_str(&e, "role", plat_role_name(pr->p->role));
	if (pr->uid)
		ev_u64(&e, "uid", pr->uid);
	if (pr->restarts)
		ev_u64(&e, "restart", pr->restarts);
	if (pr->safe_boot)
		ev_str(&e, "image", "safe_image");
	ev_end(&e);
}

/*
 * Fork the partition with this start's images and resources, gated when it
 * has a trust process: it builds its VM while the trust process verifies
 * and measures, and runs nothing until the trust process's go on its gate
 * socket. With a safe image it gets both image sets; the go says which.
 */
static int fork_partition(struct sup *s, struct part_rt *pr, bool gated, char *err, size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_PART | pr->index };
	struct fdset fs = { .n = 0 };
	int sock, r;
	pid_t pid;

	r = build_config(s, pr, &fs, err, errlen);
	if (r)
		goto err_config;
	/* Ours are closed by drop_start(); the safe image's command line is in the entry. */
	msg.grant.fd_gate = gated ? fdset_add(&fs, pr->gate_fd, false) : LVMM_NO_FD;
	msg.grant.fd_safe_kernel = pr->img[2] < 0 ? LVMM_NO_FD : fdset_add(&fs, pr->img[2], false);
	msg.grant.fd_safe_initrd = pr->img[3] < 0 ? LVMM_NO_FD : fdset_add(&fs, pr->img[3], false);
	msg.grant.flags |= gated ? LVMM_PART_F_GATED : 0;
	pr->gated = gated;
	pr_debug("partition %s: resources open, forking", pr->p->name);
	pid = spawn_lvmm(NULL, "__partition", pr->p->name, pr->uid, pr->gid, &sock);
	if (pid < 0) {
		r = pid;
		snprintf(err, errlen, "cannot start the partition process: %s", strerror(-r));
		goto err_config;
	}
	pr->pid = pid;
	pr->sock = sock;
	pr->state = PS_STARTING;
	pr->started_ns = now_ns();
	pr->kill_at_ns = 0;
	pr->got_exit = pr->stop_requested = pr->force_killed = false;
	pr->power_at_ns = 0;
	memset(pr->asks, 0, sizeof(pr->asks));
	memset(&pr->final_stats, 0, sizeof(pr->final_stats));
	/*
	 * KVM's supported CPUID, asked once for every start (proto.h; failing, each partition
	 * asks): here, after the first spawn, it overlaps that child's exec.
	 */
	if (!msg.cpuid.nent && msg.grant.fd_kvm >= 0) {
		msg.cpuid.nent = LVMM_MAX_CPUID_ENTRIES;
		if (ioctl(fs.fds[msg.grant.fd_kvm], KVM_GET_SUPPORTED_CPUID, &msg.cpuid) < 0)
			msg.cpuid.nent = 0;
	}
	r = proto_send(pr->sock, LVMM_MSG_CONFIG, &msg, sizeof(msg), fs.fds, fs.n, 0);
	fdset_close(&fs);
	drop_start(pr); /* its copies of what was handed over */
	if (r) {
		/* The child cannot run without its configuration; it is reaped as killed. */
		pr_err("partition %s: sending configuration: %s", pr->p->name, strerror(-r));
		kill(pid, SIGKILL);
	}
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, pr->sock, &ev) < 0)
		pr_warn("partition %s: epoll: %s", pr->p->name, strerror(errno));
	acm_partition_start_commit(s, pr);
	if (!gated)
		start_event(pr);
	sup_arm_timer(s);
	return 0;

err_config:
	fdset_close(&fs);
	release_start(s, pr);
	acm_partition_start_fail(s, pr);
	start_failed(s, pr, err);
	return r;
}

/*
 * The partition's sockets to its trust process, one end of each kept for
 * its config, the other for the trust process: the gate (the verdict) and,
 * with a vTPM, the TPM socket.
 */
static int start_verify(struct sup *s, struct part_rt *pr, char *err, size_t errlen)
{
	int gate[2] = { -1, -1 }, tpm[2] = { -1, -1 }, r = 0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, gate) < 0 ||
	    (plat_part_tpm(pr->p) >= 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, tpm) < 0)) {
		r = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(-r));
	}
	pr->gate_fd = gate[0];
	pr->tpm_fd = tpm[0];
	if (r) {
		close_fd(&gate[1]);
		return r;
	}
	return trust_boot(s, pr, tpm[1], gate[1], err, errlen);
}

/*
 * Each image file this start may boot (the safe image's too, when it may
 * be needed), opened read-only for the partition, which copies it once
 * into a memfd it seals and loads only from (src/vmm/images.h); with a
 * trust process, that process hashes the same copies as they are made.
 */
static int open_images(struct sup *s, struct part_rt *pr, char *err, size_t errlen)
{
	const struct plat_part *p = pr->p;
	const char *path[4] = { p->kernel, p->initrd, p->safe.kernel, p->safe.initrd };
	bool safe = p->safe.on && p->verify.on && p->verify.on_fail == LVMM_TRUST_SAFE_IMAGE;
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(pr->img); i++) {
		if (!path[i][0] || (i >= 2 && !safe))
			continue;
		/* O_NONBLOCK: a FIFO in an image's place must not hang the supervisor. */
		pr->img[i] = open(path[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (pr->img[i] < 0) {
			int e = errno;

			snprintf(err, errlen, "cannot open '%s': %s", path[i], strerror(e));
			return -e;
		}
	}
	return plat_part_trust(p) ? start_verify(s, pr, err, errlen) : 0;
}

static int start_now(struct sup *s, struct part_rt *pr, char *err, size_t errlen)
{
	int r;

	err[0] = 0;
	pr->safe_boot = false;
	r = acm_partition_start_pre(s, pr, err, errlen);
	if (r)
		goto err_refused;
	r = claim_identity(s, pr, err, errlen);
	if (!r)
		r = open_images(s, pr, err, errlen);
	if (r)
		goto err_start;
	/* With a trust process it is forked gated: its set-up overlaps verification (bench/trust.sh). */
	return fork_partition(s, pr, plat_part_trust(pr->p), err, errlen);

err_start:
	acm_partition_start_fail(s, pr);
err_refused:
	start_failed(s, pr, err);
	return r;
}

void lc_on_verified(struct sup *s, struct part_rt *pr, int boot, const char *why)
{
	/*
	 * Stopped (or refused) meanwhile: nothing more to report. Ended by
	 * itself (its exit report came first: a disk in use, say): ended()
	 * reports the start with the partition's own reason, not with the
	 * verdict's "no images came".
	 */
	if (!pr->gated || !pr->pid || pr->state != PS_STARTING || pr->got_exit)
		return;
	if (boot >= 0) {
		pr->gated = false;
		pr->safe_boot = boot == 1;
		start_event(pr);
		return;
	}
	/* Its trust process refused it on its gate too: it exits, LVMM_EXIT_SETUP, or is killed. */
	part_event(pr, "partition_start_failed", "error", why);
	pr->kill_at_ns = now_ns() + LC_STOP_GRACE_MS * MS;
	sup_arm_timer(s);
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
	pr->restarts = pr->quick_resets = 0; /* an operator's start: a new budget and back-off */
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
	pr->restart_requested = false; /* a stop cancels a pending reboot (lc_restart sets it after) */
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

int lc_power(struct sup *s, struct part_rt *pr, bool reboot, uint32_t timeout_ms, const char *why,
	     uint32_t token)
{
	struct event e;
	int r;

	if (s->stopping)
		return -ESHUTDOWN;
	r = lc_ask(s, pr, LVMM_CTL_POWER_BUTTON, NULL, token);
	if (r)
		return r;
	/* A press while one is pending: the first deadline stands, the latest mode wins. */
	if (!pr->power_at_ns) {
		pr->power_asked_ns = now_ns();
		pr->power_at_ns = pr->power_asked_ns + (uint64_t)timeout_ms * MS;
	}
	pr->power_reboot = reboot;
	/* Whatever the guest does now ends it on request: no restart policy; a reboot starts it. */
	pr->stop_requested = true;
	pr->restart_requested = reboot;
	ev_begin(&e, reboot ? "partition_reboot" : "partition_shutdown", pr->p->name);
	ev_str(&e, "by", why);
	ev_u64(&e, "timeout_ms", (pr->power_at_ns - pr->power_asked_ns) / MS);
	ev_end(&e);
	sup_arm_timer(s);
	return 0;
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

/* Can pr take a control message now (its process set up, running or paused)? */
static bool reachable(const struct part_rt *pr)
{
	return pr->sock >= 0 && (pr->state == PS_RUNNING || pr->state == PS_PAUSED);
}

/* Send control message op (about device dev; seq 0: nobody waits on it). 0 or -errno. */
static int send_ctl(struct part_rt *pr, uint32_t op, const char *dev, uint32_t seq)
{
	struct lvmm_ctl m = { .op = op, .seq = seq };

	if (!reachable(pr))
		return -ESRCH;
	if (dev)
		snprintf(m.dev, sizeof(m.dev), "%s", dev);
	return proto_send(pr->sock, LVMM_MSG_CTL, &m, sizeof(m), NULL, 0, MSG_DONTWAIT);
}

int lc_ask(struct sup *s, struct part_rt *pr, uint32_t op, const char *dev, uint32_t token)
{
	unsigned i;

	if (!pr->pid || !reachable(pr))
		return -ESRCH;
	for (i = 0; i < LC_ASK_MAX && pr->asks[i].used; i++)
		;
	if (i == LC_ASK_MAX)
		return -EBUSY;
	if (++s->ask_seq == 0)
		s->ask_seq = 1; /* 0 is for messages nobody waits on */
	if (send_ctl(pr, op, dev, s->ask_seq))
		return -EIO;
	pr->asks[i] = (struct lc_ask){ .used = true, .seq = s->ask_seq, .op = op, .token = token };
	return 0;
}

void lc_ask_cancel(struct sup *s, struct part_rt *pr, uint32_t token)
{
	unsigned i;

	for (i = 0; i < LC_ASK_MAX; i++)
		if (pr->asks[i].used && pr->asks[i].token == token)
			pr->asks[i].used = false;
}

int lc_push(struct sup *s, struct part_rt *pr, uint32_t op)
{
	return send_ctl(pr, op, NULL, 0);
}

void lc_on_sleep(struct sup *s, struct part_rt *pr, uint64_t slp_typ)
{
	if (pr->state != (slp_typ ? PS_RUNNING : PS_PAUSED))
		return; /* stopping, or a report that crossed a pause */
	pr->state = slp_typ ? PS_PAUSED : PS_RUNNING; /* its vCPUs stopped (or run again) by themselves */
	part_event(pr, slp_typ ? "partition_paused" : "partition_resumed", "by",
		   slp_typ ? "acpi-s3" : "console");
	if (slp_typ)
		sleep_on_request(s, pr);
	else
		sleep_on_woke(s, pr, "console");
}

void lc_link_push(struct sup *s, struct part_rt *pr, int li)
{
	const struct plat_link *l = &s->plat->links[li];
	bool up = link_is_up(s, li);
	unsigned e;

	/* Not reachable: a starting end picks the state up when it is ready. */
	for (e = 0; e < 2 && reachable(pr); e++)
		if (l->part[e] == (int)pr->index &&
		    send_ctl(pr, up ? LVMM_CTL_LINK_UP : LVMM_CTL_LINK_DOWN, pr->p->devs[l->dev[e]].id, 0))
			pr_warn("partition %s: could not set link %s %s", pr->p->name, l->name,
				up ? "up" : "down");
}

/* ---- messages from the partition ---------------------------------------------- */

void lc_on_ready(struct sup *s, struct part_rt *pr)
{
	struct event e;
	unsigned i;

	/* Its trust process sent the verdict here before the go; none seen: it runs without one. */
	if (pr->gated)
		trust_on_message(s, pr->index);
	if (pr->gated) {
		lc_kill(s, pr, "ready without a go from its trust process");
		return;
	}
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
	pr->last_exit = *x;
	pr->last_exit.detail[sizeof(pr->last_exit.detail) - 1] = 0;
	pr->got_exit = true;
}

/* Ask i of pr is over: its requester gets result (and rep, if any). */
static void answer(struct sup *s, struct part_rt *pr, unsigned i, int result,
		   const struct lvmm_ctl_reply *rep)
{
	pr->asks[i].used = false;
	if (s->hooks && s->hooks->answer)
		s->hooks->answer(s, pr->asks[i].token, pr, result, rep);
}

void lc_on_reply(struct sup *s, struct part_rt *pr, const struct lvmm_ctl_reply *rep)
{
	unsigned i;

	/* The partition says which state it is in: follow it (a late answer included). */
	if ((pr->state == PS_RUNNING && rep->state == 2) || (pr->state == PS_PAUSED && rep->state == 1)) {
		pr->state = rep->state == 2 ? PS_PAUSED : PS_RUNNING;
		part_event(pr, pr->state == PS_PAUSED ? "partition_paused" : "partition_resumed", NULL, NULL);
		if (pr->state == PS_RUNNING)
			sleep_on_woke(s, pr, "resume"); /* a sleeping guest resumed is awake */
	}
	if (rep->seq == 0) {
		if (rep->op == LVMM_CTL_STATS)
			pr->final_stats = *rep; /* the partition's last words */
		return;
	}
	for (i = 0; i < LC_ASK_MAX; i++)
		if (pr->asks[i].used && pr->asks[i].seq == rep->seq) {
			answer(s, pr, i, pr->asks[i].op == rep->op ? rep->result : -EPROTO, rep);
			return;
		}
	/* Late (the requester gave up) or unsolicited: nobody waits for it. */
}

void lc_channel_lost(struct sup *s, struct part_rt *pr)
{
	unsigned i;

	close_fd(&pr->sock); /* also leaves the epoll set */
	for (i = 0; i < LC_ASK_MAX; i++)
		if (pr->asks[i].used)
			answer(s, pr, i, -ESRCH, NULL);
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
		o->reason = x->reason < ARRAY_SIZE(exit_names) ? exit_names[x->reason] : "unknown";
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
	/*
	 * A reboot is not a failure: not counted, at once. But a guest resetting
	 * within a second of its start (a kernel faulting while it boots) would
	 * loop as fast as partitions start, its events and logs without end:
	 * that backs off as restarts do until it runs for a second.
	 */
	pr->quick_resets = reboot && now_ns() - pr->started_ns < 1000 * MS ? pr->quick_resets + 1 : 0;
	if (reboot)
		delay = pr->quick_resets ? (uint64_t)p->restart_delay_ms * MS << MIN(pr->quick_resets - 1, 10U) : 0;
	else
		delay = (uint64_t)p->restart_delay_ms * MS << MIN(pr->restarts, 10U);
	pr->restarts += !reboot;
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
	classify(pr, wstatus, &o);
	/*
	 * A gated start that ended before its verdict was reported (no go, no
	 * refusal armed, not stopped, not killed by us: lc_kill said why) is
	 * reported here, once: whichever of its reap and its trust process's
	 * late verdict the supervisor sees first (lc_on_verified ignores it then).
	 */
	if (pr->gated && pr->state == PS_STARTING && !pr->kill_at_ns && !pr->force_killed)
		part_event(pr, "partition_start_failed", "error", o.what);
	lc_channel_lost(s, pr);
	drop_start(pr);
	pr->pid = 0;
	pr->kill_at_ns = 0;
	release_start(s, pr);
	acm_partition_stop(s, pr);
	sleep_part_ended(s, pr);

	ev_begin(&e, "partition_exit", p->name);
	ev_str(&e, "reason", o.reason);
	ev_i64(&e, "status", o.code);
	ev_str(&e, "detail", o.what);
	if (pr->got_exit && pr->last_exit.reason == LVMM_EXIT_FAIL_ENTRY)
		ev_hex(&e, "hw_reason", pr->last_exit.hw_reason);
	if (!pr->got_exit && WIFSIGNALED(wstatus))
		ev_u64(&e, "signal", (uint64_t)WTERMSIG(wstatus));
	if (pr->power_at_ns) {
		/* The end of a graceful request: how long the guest took (or that it was escalated). */
		ev_str(&e, "requested", pr->power_reboot ? "reboot" : "shutdown");
		ev_u64(&e, "after_ms", (now_ns() - pr->power_asked_ns) / MS);
		pr->power_at_ns = 0;
	}
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
		if (pr->pid && pr->power_at_ns && pr->state != PS_STOPPING)
			next = MIN(next, pr->power_at_ns);
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
		if (pr->pid && pr->power_at_ns && pr->state != PS_STOPPING && now >= pr->power_at_ns) {
			struct event e;

			/* The guest ignored its power button: escalate (restart_requested stays for a reboot). */
			ev_begin(&e, "partition_power_timeout", pr->p->name);
			ev_str(&e, "requested", pr->power_reboot ? "reboot" : "shutdown");
			ev_u64(&e, "after_ms", (now - pr->power_asked_ns) / MS);
			ev_str(&e, "then", pr->power_reboot ? "restart" : "stop");
			ev_end(&e);
			(void)lc_stop(s, pr, pr->power_reboot ? "reboot-timeout" : "shutdown-timeout");
			pr->restart_requested = pr->power_reboot;
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

	for (i = 0; i < s->plat->nparts; i++) {
		ident_release(s->parts[i].uid_lock);
		s->parts[i].uid_lock = -1;
	}
}

/* ---- containment (contain.c) ---------------------------------------------------- */

int lc_restart_counted(struct sup *s, struct part_rt *pr, const char *why)
{
	char err[128];
	struct event e;
	bool started;
	int r;

	if (pr->state == PS_STOPPING || pr->state == PS_WAIT_RESTART || !pr->pid)
		return 0; /* already on its way */
	if (pr->restarts >= pr->p->restart_limit) {
		ev_begin(&e, "restart_limit", pr->p->name);
		ev_u64(&e, "restarts", pr->restarts);
		ev_end(&e);
		return lc_stop(s, pr, why);
	}
	r = lc_restart(s, pr, &started, err, sizeof(err));
	if (!r)
		pr->restarts++; /* the guest caused it: it uses the restart budget */
	else
		pr_warn("partition %s: restart after %s failed: %s", pr->p->name, why, err);
	return r;
}
