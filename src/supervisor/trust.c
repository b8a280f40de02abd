// SPDX-License-Identifier: MIT
/*
 * The supervisor's side of the trust processes (trust.h, docs/trust.md):
 * spawning them, the fixed-layout requests, the validation of every answer,
 * the events, and the verdict handed to the life cycle. One trust process
 * per partition that needs one, kept across the partition's restarts;
 * tables are sized by PLAT_MAX_PARTS and nothing is allocated.
 */
#include "supervisor/trust.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"
#include "lvmm/guest_abi.h"
#include "supervisor/events.h"
#include "supervisor/identity.h"
#include "supervisor/spawn.h"
#include "supervisor/sup_fdset.h"
#include "supervisor/supervisor_int.h"
#include "trust/digest.h"
#include "trust/swtpm.h"

#define MS 1000000ULL

struct trust_rt {
	pid_t pid;             /* 0: none */
	int sock;              /* -1: none */
	uint32_t uid;          /* its own identity (0: none assigned), kept for the run */
	int uid_lock;
	bool stopping;         /* trust_close() asked it to end */
	bool timed_out;        /* killed for missing a deadline */
	uint32_t seq;          /* last request sent */
	uint32_t boot_seq;     /* BOOT outstanding, or 0 */
	uint32_t attest_seq;   /* ATTEST outstanding, or 0 */
	uint32_t token;        /* the attestation's requester */
	uint64_t deadline;     /* of the outstanding request */
	struct lvmm_trust_attest att;
};

static struct trust_rt T[PLAT_MAX_PARTS];
static struct lvmm_trust_boot boot_msg; /* 26 KiB: not on the stack */

void trust_init(struct sup *s)
{
	unsigned i;

	(void)s;
	for (i = 0; i < PLAT_MAX_PARTS; i++)
		T[i] = (struct trust_rt){ .sock = -1, .uid_lock = -1 };
}

/* ---- validation ------------------------------------------------------------------ */

/* "" or exactly 64 lower-case hex digits (a SHA-256). */
static bool hex_ok(const char *h)
{
	size_t n = strnlen(h, LVMM_TRUST_HEX_MAX);

	return (n == 0 || n == 64) && strspn(h, "0123456789abcdef") == n;
}

static bool failure_ok(const struct lvmm_trust_failure *f, bool applies)
{
	/* hex_ok() also finds the digests' NUL within their LVMM_TRUST_HEX_MAX bytes. */
	return proto_str_ok(f->file, sizeof(f->file)) && proto_str_ok(f->reason, sizeof(f->reason)) &&
	       hex_ok(f->expected) && hex_ok(f->actual) && (!applies || f->file[0]);
}

int trust_check_msg(const struct lvmm_msg_hdr *hdr, const void *payload)
{
	const struct lvmm_trust_boot_done *b = payload;
	const struct lvmm_trust_attest_done *a = payload;
	uint32_t v = b->verdict, keys = LVMM_TRUST_DONE_F_EVENTLOG | LVMM_TRUST_DONE_F_KEY;
	bool booting = v == LVMM_TRUST_OK || v == LVMM_TRUST_SAFE;

	switch (hdr->type) {
	case LVMM_MSG_TRUST_BOOT_DONE:
		if (hdr->len != sizeof(*b) || v < 1 || v > LVMM_TRUST_VERDICT_MAX ||
		    (b->flags & ~keys) || (b->flags && !booting) ||
		    hdr->nfds != !!(b->flags & LVMM_TRUST_DONE_F_EVENTLOG) ||
		    !failure_ok(&b->fail[0], !booting && v != LVMM_TRUST_ERROR) ||
		    !failure_ok(&b->fail[1], v == LVMM_TRUST_SAFE_FAILED) ||
		    (v == LVMM_TRUST_SAFE && !b->fail[0].file[0]) ||
		    !proto_str_ok(b->reason, sizeof(b->reason)) || (v == LVMM_TRUST_ERROR && !b->reason[0]) ||
		    b->kernel_size > (4ULL << 30) || b->initrd_size > (4ULL << 30) || b->log_events > 64)
			return -EPROTO;
		return 0;
	case LVMM_MSG_TRUST_ATTEST_DONE:
		/* The answer (a memfd) exactly when it succeeded. */
		if (hdr->len != sizeof(*a) || hdr->nfds != !a->result || a->result > 0 ||
		    a->result < -4095 || !proto_str_ok(a->error, sizeof(a->error)))
			return -EPROTO;
		return 0;
	default:
		return -EPROTO;
	}
}

int trust_sealed_ok(int fd, uint64_t max, uint64_t *size)
{
	const int want = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	int seals = fcntl(fd, F_GET_SEALS);
	struct stat st;

	if (seals < 0 || (seals & want) != want || fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    st.st_size < 1 || (uint64_t)st.st_size > max)
		return -EPROTO;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* ---- requests ----------------------------------------------------------------------- */

static uint32_t next_seq(struct trust_rt *t, uint32_t ms)
{
	t->deadline = now_ns() + ms * MS;
	if (++t->seq == 0)
		t->seq = 1; /* 0 means "nothing outstanding" */
	return t->seq;
}

int trust_spawn(struct sup *s, struct part_rt *pr, char *err, size_t errlen)
{
	struct trust_rt *t = &T[pr->index];
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_TRUST | pr->index };
	struct lvmm_trust_init init = { .log_level = (uint32_t)s->opts.log_level };
	const struct plat_part *p = pr->p;
	int tpm = plat_part_tpm(p), sock, r = 0, dirfd;
	struct event e;

	if (t->pid)
		return 0;
	/* An identity of its own (when root), claimed once: neither the partition's nor root. */
	if (!t->uid && geteuid() == 0)
		r = ident_claim(s->plat->uid_base, s->plat->uid_count, &t->uid, &t->uid_lock, err,
				errlen);
	/* The vTPM's state directory is created here (the trust process could not): 0700, its own. */
	if (!r && tpm >= 0 && (r = swtpm_prepare_state_dir(p->devs[tpm].path, t->uid, t->uid)))
		snprintf(err, errlen, "vTPM state directory '%s': %s", p->devs[tpm].path, strerror(-r));
	if (r)
		return r;
	t->pid = spawn_lvmm(s->opts.tools_path, "__trust", p->name, t->uid, t->uid, &sock);
	if (t->pid < 0) {
		r = t->pid;
		t->pid = 0;
		snprintf(err, errlen, "cannot start the trust process: %s", strerror(-r));
		return r;
	}
	*t = (struct trust_rt){ .pid = t->pid, .sock = sock, .uid = t->uid, .uid_lock = t->uid_lock,
				.seq = t->seq };
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, t->sock, &ev) < 0)
		pr_warn("partition %s: trust epoll: %s", p->name, strerror(errno));
	ev_begin(&e, "trust_start", p->name);
	ev_u64(&e, "pid", (uint64_t)t->pid);
	ev_u64(&e, "uid", t->uid);
	ev_end(&e);
	snprintf(init.name, sizeof(init.name), "%s", p->name);
	if (tpm >= 0)
		init.flags = LVMM_TRUST_F_TPM;
	snprintf(init.state_dir, sizeof(init.state_dir), "%s", tpm >= 0 ? p->devs[tpm].path : "");
	/* The state directory as an fd: the trust identity needs no rights on the path to it. */
	dirfd = tpm < 0 ? -1 : open(p->devs[tpm].path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = tpm >= 0 && dirfd < 0 ? -errno : proto_send(t->sock, LVMM_MSG_TRUST_INIT, &init, sizeof(init),
							 &dirfd, dirfd >= 0, MSG_DONTWAIT);
	if (dirfd >= 0)
		close(dirfd);
	if (r) {
		snprintf(err, errlen, "trust process: %s", strerror(-r));
		kill(t->pid, SIGKILL); /* reaped and reported like any other death */
	}
	return r;
}

static const char *base_name(const char *path)
{
	return strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
}

/*
 * An image's memfd, read-only: the trust process hashes it while the
 * supervisor fills it, and can neither write into it nor seal it early.
 */
static int32_t add_ro(struct fdset *fs, int fd)
{
	char path[32];
	int ro;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	return ro < 0 ? LVMM_NO_FD : fdset_add(fs, ro, true);
}

/* One boot set; a verify: file that cannot be opened fails verification in the trust process. */
static void fill_image(struct lvmm_trust_image *im, struct fdset *fs, const int *img,
		       const char *kernel, const char *initrd, const char *cmdline,
		       const struct plat_verify *v)
{
	const char *path[3] = { v->manifest, v->signature, v->key };
	int32_t *fd[3] = { &im->fd_manifest, &im->fd_signature, &im->fd_key };
	unsigned i;

	im->fd_kernel = add_ro(fs, img[0]);
	im->fd_initrd = img[1] < 0 ? LVMM_NO_FD : add_ro(fs, img[1]);
	snprintf(im->kernel_name, sizeof(im->kernel_name), "%s", base_name(kernel));
	snprintf(im->initrd_name, sizeof(im->initrd_name), "%s", base_name(initrd));
	snprintf(im->cmdline, sizeof(im->cmdline), "%s", cmdline);
	im->flags = v->on ? LVMM_TRUST_IMG_VERIFY : 0;
	for (i = 0; i < 3; i++) {
		int f = v->on ? open(path[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1;

		*fd[i] = f < 0 ? LVMM_NO_FD : fdset_add(fs, f, true);
	}
}

int trust_boot(struct sup *s, struct part_rt *pr, int guest_fd, char *err, size_t errlen)
{
	struct trust_rt *t = &T[pr->index];
	const struct plat_part *p = pr->p;
	struct fdset fs = { .n = 0 };
	int r = 0, len;

	memset(&boot_msg, 0, sizeof(boot_msg));
	boot_msg.fd_guest = guest_fd < 0 ? LVMM_NO_FD : fdset_add(&fs, guest_fd, true);
	r = trust_spawn(s, pr, err, errlen);
	len = plat_part_canonical(p, boot_msg.platform, sizeof(boot_msg.platform));
	if (!r && len < 0) {
		r = len;
		snprintf(err, errlen, "the platform entry is longer than %d bytes", LVMM_TRUST_PLATFORM_MAX);
	}
	if (r)
		goto out;
	boot_msg.platform_len = (uint32_t)len;
	boot_msg.seq = next_seq(t, TRUST_BOOT_TIMEOUT_MS);
	boot_msg.flags = guest_fd >= 0 ? LVMM_TRUST_F_TPM : 0;
	boot_msg.on_fail = p->verify.on_fail ? p->verify.on_fail : LVMM_TRUST_REFUSE;
	fill_image(&boot_msg.image[0], &fs, &pr->img[0], p->kernel, p->initrd, p->cmdline, &p->verify);
	if (pr->img[2] >= 0) {
		boot_msg.flags |= LVMM_TRUST_BOOT_F_SAFE;
		fill_image(&boot_msg.image[1], &fs, &pr->img[2], p->safe.kernel, p->safe.initrd,
			   p->safe.cmdline, &p->safe.verify);
	}
	r = proto_send(t->sock, LVMM_MSG_TRUST_BOOT, &boot_msg, sizeof(boot_msg), fs.fds, fs.n,
		       MSG_DONTWAIT);
	if (r)
		snprintf(err, errlen, "trust process: %s", strerror(-r));
	else
		t->boot_seq = boot_msg.seq; /* an unanswered earlier BOOT is superseded */
out:
	fdset_close(&fs); /* the images themselves stay the life cycle's */
	return r;
}

int trust_attest(struct sup *s, struct part_rt *pr, const uint8_t *nonce, size_t n, uint32_t token)
{
	struct trust_rt *t = &T[pr->index];

	if (plat_part_tpm(pr->p) < 0)
		return -ENODEV;
	if (!t->pid || t->sock < 0 || pr->evlog_fd < 0 ||
	    (pr->state != PS_STARTING && pr->state != PS_RUNNING && pr->state != PS_PAUSED))
		return -ESRCH;
	if (t->attest_seq || t->boot_seq)
		return -EBUSY;
	if (!n || n > LVMM_TRUST_NONCE_MAX)
		return -EINVAL;
	memset(&t->att, 0, sizeof(t->att));
	memcpy(t->att.nonce, nonce, n);
	t->att.nonce_len = (uint32_t)n;
	t->att.seq = next_seq(t, TRUST_ATTEST_TIMEOUT_MS);
	if (proto_send(t->sock, LVMM_MSG_TRUST_ATTEST, &t->att, sizeof(t->att), NULL, 0, MSG_DONTWAIT))
		return -EIO;
	t->attest_seq = t->att.seq;
	t->token = token;
	sup_arm_timer(s);
	return 0;
}

/* ---- answers ------------------------------------------------------------------------ */

static void failure_event(const char *part, const char *image, const struct lvmm_trust_failure *f,
			  const char *action)
{
	struct event e;

	ev_begin(&e, "verify_failed", part);
	ev_str(&e, "image", image);
	ev_str(&e, "file", f->file);
	ev_str(&e, "expected", f->expected);
	ev_str(&e, "actual", f->actual);
	ev_str(&e, "reason", f->reason);
	ev_str(&e, "action", action);
	ev_end(&e);
}

/* The verdict's events: the supervisor reports what it accepted, never the trust process. */
static void verdict_events(const char *part, const struct lvmm_trust_boot_done *b, uint64_t log_bytes)
{
	const char *image = b->verdict == LVMM_TRUST_SAFE ? "safe_image" : "primary";
	const uint8_t *d[4] = { b->key_digest, b->kernel, b->initrd, b->cmdline };
	static const char *const key[4] = { "key", "kernel", "initrd", "cmdline" };
	char h[65];
	struct event e;
	unsigned i;

	if (b->verdict != LVMM_TRUST_OK && b->verdict != LVMM_TRUST_ERROR)
		failure_event(part, "primary", &b->fail[0],
			      b->verdict == LVMM_TRUST_REFUSED ? "refuse" : "safe_image");
	if (b->verdict == LVMM_TRUST_SAFE_FAILED)
		failure_event(part, "safe_image", &b->fail[1], "refuse");
	if (b->verdict != LVMM_TRUST_OK && b->verdict != LVMM_TRUST_SAFE)
		return;
	if (b->verdict == LVMM_TRUST_SAFE) {
		ev_begin(&e, "safe_image", part);
		ev_str(&e, "failed", b->fail[0].file);
		ev_end(&e);
	}
	/* One event per accepted boot: what boots, who approved it, and whether it was measured. */
	ev_begin(&e, (b->flags & LVMM_TRUST_DONE_F_EVENTLOG) ? "boot_measured" : "boot_verified", part);
	ev_str(&e, "image", image);
	for (i = (b->flags & LVMM_TRUST_DONE_F_KEY) ? 0 : 1; i < 4; i++) {
		digest_to_hex(d[i], 32, h);
		if (i != 2 || b->initrd_size)
			ev_str(&e, key[i], h);
	}
	if (b->flags & LVMM_TRUST_DONE_F_EVENTLOG) {
		ev_u64(&e, "log_events", b->log_events);
		ev_u64(&e, "log_bytes", log_bytes);
	}
	ev_end(&e);
}

/* A validated BOOT_DONE (fd: the event log or -1, consumed). 0, or -EPROTO for a violation. */
static int on_boot_done(struct sup *s, struct part_rt *pr, struct trust_rt *t,
			const struct lvmm_trust_boot_done *b, int fd)
{
	const struct plat_part *p = pr->p;
	bool booting = b->verdict == LVMM_TRUST_OK || b->verdict == LVMM_TRUST_SAFE;
	bool safe = b->verdict == LVMM_TRUST_SAFE || b->verdict == LVMM_TRUST_SAFE_FAILED;
	char why[LVMM_TRUST_REASON_MAX + 32];
	uint64_t size = 0;
	int r = 0;

	/* An answer to a superseded BOOT is dropped; one to a BOOT never sent is a violation. */
	if (b->seq != t->boot_seq)
		r = b->seq > t->seq ? -EPROTO : -EALREADY;
	/* Only answers this partition's configuration allows. */
	else if ((b->verdict == LVMM_TRUST_REFUSED && !p->verify.on) || (safe && pr->img[2] < 0) ||
		 (booting && plat_part_tpm(p) >= 0) != (fd >= 0) ||
		 (booting && p->verify.on) != !!(b->flags & LVMM_TRUST_DONE_F_KEY) ||
		 (fd >= 0 && trust_sealed_ok(fd, LVMM_TPM_EVENTLOG_SIZE, &size)))
		r = -EPROTO;
	if (r) {
		if (fd >= 0)
			close(fd);
		return r == -EALREADY ? 0 : r;
	}
	t->boot_seq = 0;
	verdict_events(p->name, b, size);
	snprintf(why, sizeof(why), "%s%s", b->verdict == LVMM_TRUST_ERROR ? "trust process: " :
		 "verification failed: ", b->verdict == LVMM_TRUST_ERROR ? b->reason :
		 b->fail[b->verdict == LVMM_TRUST_SAFE_FAILED].reason);
	lc_on_verified(s, pr, booting ? b->verdict == LVMM_TRUST_SAFE : -1, fd, why);
	return 0;
}

/*
 * A validated ATTEST_DONE (fd: the answer's memfd or -1, consumed). The
 * answer is passed on unread once it is sealed and bounded: the nonce is
 * bound by the quote itself (its qualifying data), which the client checks.
 */
static int on_attest_done(struct sup *s, struct part_rt *pr, struct trust_rt *t,
			  const struct lvmm_trust_attest_done *a, int fd)
{
	uint64_t size = 0;
	int r = 0;

	if (a->seq != t->attest_seq)
		r = a->seq > t->seq ? -EPROTO : -EALREADY;
	else if (fd >= 0 && trust_sealed_ok(fd, LVMM_TRUST_ATTEST_JSON_MAX, &size))
		r = -EPROTO;
	if (r) {
		if (fd >= 0)
			close(fd);
		return r == -EALREADY ? 0 : r;
	}
	t->attest_seq = 0;
	if (s->hooks && s->hooks->attested)
		s->hooks->attested(s, t->token, pr, a->result, a->error, fd, size);
	else if (fd >= 0)
		close(fd);
	return 0;
}

void trust_on_message(struct sup *s, unsigned idx)
{
	static union {
		struct lvmm_trust_boot_done b;
		struct lvmm_trust_attest_done a;
	} u;
	struct trust_rt *t = &T[idx];
	struct lvmm_msg_hdr hdr;
	unsigned guard;
	struct event e;

	/* Bounded per wake-up; a trust process answers one request at a time anyway. */
	for (guard = 0; guard < 8 && t->sock >= 0; guard++) {
		int fd = -1, r;

		memset(&hdr, 0, sizeof(hdr));
		r = proto_recv(t->sock, &hdr, &u, sizeof(u), &fd, 1, MSG_DONTWAIT);
		if (r == -EAGAIN)
			return;
		if (!r && (r = trust_check_msg(&hdr, &u)) && hdr.nfds)
			close(fd); /* received, but the message is refused */
		if (!r)
			r = hdr.type == LVMM_MSG_TRUST_BOOT_DONE ? on_boot_done(s, &s->parts[idx], t, &u.b, fd)
								 : on_attest_done(s, &s->parts[idx], t, &u.a, fd);
		if (!r)
			continue;
		close(t->sock); /* also leaves the epoll set; its death is reported when reaped */
		t->sock = -1;
		if (r != -EPIPE && r != -ECONNRESET) {
			ev_begin(&e, "protocol_violation", s->parts[idx].p->name);
			ev_str(&e, "peer", "trust");
			ev_u64(&e, "type", hdr.type);
			ev_end(&e);
			kill(t->pid, SIGKILL);
		}
		return;
	}
}

bool trust_reaped(struct sup *s, pid_t pid, int wstatus)
{
	bool vtpm = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == LVMM_TRUST_EXIT_VTPM;
	struct trust_rt *t = T;
	char why[96];
	struct event e;
	unsigned i;

	for (i = 0; i < s->plat->nparts && T[i].pid != pid; i++)
		;
	if (i == s->plat->nparts || pid <= 0)
		return false;
	t = &T[i];
	trust_on_message(s, i); /* what it said before it went */
	if (t->sock >= 0)
		close(t->sock);
	t->sock = -1;
	t->pid = 0;
	snprintf(why, sizeof(why), "%s %s (%s %d)", vtpm ? "its vTPM" : "its trust process",
		 t->timed_out ? "did not answer in time" : vtpm ? "failed" : "ended",
		 WIFSIGNALED(wstatus) ? "signal" : "status",
		 WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : WEXITSTATUS(wstatus));
	if (!t->stopping) {
		ev_begin(&e, vtpm ? "vtpm_failed" : "trust_failed", s->parts[i].p->name);
		ev_str(&e, "detail", why);
		ev_end(&e);
	}
	if (t->attest_seq && s->hooks && s->hooks->attested)
		s->hooks->attested(s, t->token, &s->parts[i], -EIO, "", -1, 0);
	/* A verdict outstanding: the start fails (a gated partition is told; it runs nothing). */
	if (!t->stopping && t->boot_seq)
		lc_on_verified(s, &s->parts[i], -1, -1, why);
	else if (!t->stopping && plat_part_tpm(s->parts[i].p) >= 0)
		lc_trust_lost(s, &s->parts[i], why);
	t->boot_seq = t->attest_seq = 0;
	return true;
}

/* ---- time and the end ------------------------------------------------------------------ */

uint64_t trust_next_deadline(struct sup *s)
{
	uint64_t next = UINT64_MAX;
	unsigned i;

	for (i = 0; i < s->plat->nparts; i++)
		if (T[i].pid && !T[i].timed_out && (T[i].boot_seq || T[i].attest_seq))
			next = MIN(next, T[i].deadline);
	return next;
}

void trust_on_timer(struct sup *s, uint64_t now)
{
	unsigned i;

	for (i = 0; i < s->plat->nparts; i++) {
		if (!T[i].pid || T[i].timed_out || !(T[i].boot_seq || T[i].attest_seq) ||
		    now < T[i].deadline)
			continue;
		/* A wedged trust process is replaced at the partition's next start. */
		pr_err("partition %s: its trust process did not answer in time; killing it",
		       s->parts[i].p->name);
		T[i].timed_out = true;
		kill(T[i].pid, SIGKILL);
	}
}

void trust_close(struct sup *s)
{
	uint64_t deadline = now_ns() + 3000 * MS;
	unsigned i, guard;

	(void)s;
	/* EOF on its socket is the order to stop: swtpm saves its state, both exit. */
	for (i = 0; i < PLAT_MAX_PARTS; i++) {
		T[i].stopping = true;
		if (T[i].sock >= 0)
			close(T[i].sock);
		T[i].sock = -1;
	}
	for (i = 0; i < PLAT_MAX_PARTS; i++) {
		pid_t w = 0;

		for (guard = 0; T[i].pid > 0 && !w && guard < 1000 && now_ns() < deadline; guard++)
			if (!(w = waitpid(T[i].pid, NULL, WNOHANG)))
				usleep(3000);
		if (T[i].pid > 0 && !w && !kill(T[i].pid, SIGKILL))
			waitpid(T[i].pid, NULL, 0); /* did not end within 3 s */
		T[i].pid = 0;
		ident_release(T[i].uid_lock);
		T[i].uid_lock = -1;
	}
}
