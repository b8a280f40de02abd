// SPDX-License-Identifier: MIT
/*
 * The supervisor's side of the trust processes (trust.h, docs/trust.md):
 * spawning them, the fixed-layout requests, the validation of every answer,
 * the verdict's events, and the verdict handed to the life cycle. One trust process
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
#include "supervisor/events.h"
#include "supervisor/identity.h"
#include "supervisor/spawn.h"
#include "supervisor/sup_fdset.h"
#include "supervisor/supervisor_int.h"
#include "trust/swtpm.h"

struct trust_rt {
	pid_t pid;             /* 0: none */
	int sock;              /* -1: none */
	uint32_t uid;          /* its own identity (0: none assigned), kept for the run */
	int uid_lock;
	bool stopping;         /* trust_close() asked it to end */
	bool timed_out;        /* killed for missing a deadline */
	uint32_t seq;          /* last request sent */
	uint32_t boot_seq;     /* BOOT outstanding, or 0 */
	bool boot_safe;        /* it offered a safe image */
	uint32_t attest_seq;   /* ATTEST outstanding, or 0 */
	uint32_t token;        /* the attestation's requester */
	uint64_t deadline;     /* of the outstanding request */
	struct lvmm_trust_attest att;
};

static struct trust_rt T[PLAT_MAX_PARTS];
static struct lvmm_trust_init init; /* 36 KiB: not on the stack */

void trust_init(struct sup *s)
{
	unsigned i;

	for (i = 0; i < PLAT_MAX_PARTS; i++)
		T[i] = (struct trust_rt){ .sock = -1, .uid_lock = -1 };
}

/* ---- validation ------------------------------------------------------------------ */

/* Which events each verdict may carry (bit: enum lvmm_trust_event_kind). */
#define K(kind) (1U << LVMM_TRUST_EV_##kind)
static const uint32_t kinds_ok[LVMM_TRUST_VERDICT_MAX + 1] = {
	[LVMM_TRUST_OK] = K(BOOT_VERIFIED) | K(BOOT_MEASURED),
	[LVMM_TRUST_SAFE] = K(VERIFY_FAILED) | K(SAFE_IMAGE) | K(BOOT_VERIFIED) | K(BOOT_MEASURED),
	[LVMM_TRUST_REFUSED] = K(VERIFY_FAILED), [LVMM_TRUST_SAFE_FAILED] = K(VERIFY_FAILED),
};

int trust_check_msg(const struct lvmm_msg_hdr *hdr, const void *payload)
{
	const struct lvmm_trust_boot_done *b = payload;
	const struct lvmm_trust_attest_done *a = payload;
	uint32_t v = b->verdict, i, k, seen;

	switch (hdr->type) {
	case LVMM_MSG_TRUST_BOOT_DONE:
		if (hdr->len != sizeof(*b) || hdr->nfds || v < 1 || v > LVMM_TRUST_VERDICT_MAX ||
		    b->nevents > LVMM_TRUST_EVENTS_MAX || !proto_str_ok(b->reason, sizeof(b->reason)) ||
		    (v != LVMM_TRUST_OK && v != LVMM_TRUST_SAFE && !b->reason[0]))
			return -EPROTO;
		for (i = 0; i < b->nevents; i++) {
			const struct lvmm_trust_event *e = &b->ev[i];

			if (e->kind > LVMM_TRUST_EV_MAX || !(kinds_ok[v] >> e->kind & 1) ||
			    e->nfields > LVMM_TRUST_FIELDS_MAX)
				return -EPROTO;
			/* Each key once: a repeated one could shadow another in a JSON reader. */
			for (k = seen = 0; k < e->nfields; seen |= 1U << e->f[k++].key)
				if (e->f[k].key > LVMM_TRUST_K_MAX || (seen >> e->f[k].key & 1) ||
				    !proto_str_ok(e->f[k].str, sizeof(e->f[k].str)))
					return -EPROTO;
		}
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

/* Start partition pr's trust process if it has none (it sets itself and swtpm up meanwhile). */
static int trust_spawn(struct sup *s, struct part_rt *pr, char *err, size_t errlen)
{
	struct trust_rt *t = &T[pr->index];
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_TRUST | pr->index };
	const struct plat_part *p = pr->p;
	int tpm = plat_part_tpm(p), sock, r = 0, dirfd;
	struct event e;
	pid_t pid;

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
	pid = spawn_lvmm(s->opts.tools_path, "__trust", p->name, t->uid, t->uid, &sock);
	if (pid < 0) {
		snprintf(err, errlen, "cannot start the trust process: %s", strerror(-pid));
		return pid;
	}
	*t = (struct trust_rt){ .pid = pid, .sock = sock, .uid = t->uid, .uid_lock = t->uid_lock,
				.seq = t->seq };
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, t->sock, &ev) < 0)
		pr_warn("partition %s: trust epoll: %s", p->name, strerror(errno));
	ev_begin(&e, "trust_start", p->name);
	ev_u64(&e, "pid", (uint64_t)t->pid);
	ev_u64(&e, "uid", t->uid);
	ev_end(&e);
	init.log_level = (uint32_t)s->opts.log_level;
	init.part = *p;
	/* The state directory as an fd: the trust identity needs no rights on the path to it. */
	dirfd = tpm < 0 ? -1 : open(p->devs[tpm].path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = tpm >= 0 && dirfd < 0 ? -errno : proto_send(t->sock, LVMM_MSG_TRUST_INIT, &init, sizeof(init),
							 &dirfd, dirfd >= 0, MSG_DONTWAIT);
	close_fd(&dirfd);
	if (r) {
		snprintf(err, errlen, "trust process: %s", strerror(-r));
		kill(t->pid, SIGKILL); /* reaped and reported like any other death */
	}
	return r;
}

int trust_boot(struct sup *s, struct part_rt *pr, int guest_fd, int gate_fd, char *err, size_t errlen)
{
	struct trust_rt *t = &T[pr->index];
	const struct plat_verify *v[2] = { &pr->p->verify, &pr->p->safe.verify };
	struct lvmm_trust_boot b = { .fd_guest = LVMM_NO_FD };
	struct fdset fs = { .n = 0 };
	unsigned i, k;
	int r = trust_spawn(s, pr, err, errlen); /* first: it starts up while the images are copied */

	if (guest_fd >= 0)
		b.fd_guest = fdset_add(&fs, guest_fd, true);
	b.fd_gate = fdset_add(&fs, gate_fd, true);
	b.flags = pr->img[2] >= 0 ? LVMM_TRUST_BOOT_F_SAFE : 0;
	/* Each boot set's verify: files; one that cannot be opened fails verification there. */
	for (i = 0; i < 2; i++) {
		const char *path[3] = { v[i]->manifest, v[i]->signature, v[i]->key };

		for (k = 0; k < 3; k++) {
			int f = v[i]->on && pr->img[2 * i] >= 0 ?
				open(path[k], O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1;

			b.fd[i][k] = f < 0 ? LVMM_NO_FD : fdset_add(&fs, f, true);
		}
	}
	if (!r) {
		b.seq = next_seq(t, TRUST_BOOT_TIMEOUT_MS);
		r = proto_send(t->sock, LVMM_MSG_TRUST_BOOT, &b, sizeof(b), fs.fds, fs.n, MSG_DONTWAIT);
		if (r)
			snprintf(err, errlen, "trust process: %s", strerror(-r));
		else
			t->boot_seq = b.seq; /* an unanswered earlier BOOT is superseded */
		t->boot_safe = b.flags & LVMM_TRUST_BOOT_F_SAFE;
	}
	fdset_close(&fs);
	return r;
}

int trust_attest(struct sup *s, struct part_rt *pr, const uint8_t *nonce, size_t n, uint32_t token)
{
	struct trust_rt *t = &T[pr->index];

	if (plat_part_tpm(pr->p) < 0)
		return -ENODEV;
	if (!t->pid || t->sock < 0 ||
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

/*
 * The verdict's events as the trust process formatted them: names and keys
 * are the supervisor's (trust_check_msg() checked the indices and which
 * kinds this verdict may carry), every value is escaped by events.c.
 */
static void verdict_events(const char *part, const struct lvmm_trust_boot_done *b)
{
	static const char *const kind[] = { "verify_failed", "safe_image", "boot_verified",
					    "boot_measured" };
	static const char *const key[] = { "image", "file", "expected", "actual", "reason", "action",
					   "failed", "key", "kernel", "initrd", "cmdline",
					   "log_events", "log_bytes" };
	struct event e;
	unsigned i, k;

	_Static_assert(ARRAY_SIZE(kind) == LVMM_TRUST_EV_MAX + 1, "a name per event kind");
	_Static_assert(ARRAY_SIZE(key) == LVMM_TRUST_K_MAX + 1, "a name per key");
	for (i = 0; i < b->nevents; i++) {
		ev_begin(&e, kind[b->ev[i].kind], part);
		for (k = 0; k < b->ev[i].nfields; k++) {
			const struct lvmm_trust_field *f = &b->ev[i].f[k];

			if (f->key >= LVMM_TRUST_K_LOG_EVENTS)
				ev_u64(&e, key[f->key], f->num);
			else
				ev_str(&e, key[f->key], f->str);
		}
		ev_end(&e);
	}
}

/* A validated BOOT_DONE. 0, or -EPROTO for a violation. */
static int on_boot_done(struct sup *s, struct part_rt *pr, struct trust_rt *t,
			const struct lvmm_trust_boot_done *b)
{
	bool safe = b->verdict == LVMM_TRUST_SAFE || b->verdict == LVMM_TRUST_SAFE_FAILED;

	/* An answer to a superseded BOOT is dropped; one to a BOOT never sent is a violation. */
	if (!b->seq || b->seq != t->boot_seq)
		return b->seq > t->seq ? -EPROTO : 0;
	/* Only verdicts this partition's configuration allows. */
	if ((b->verdict == LVMM_TRUST_REFUSED && !pr->p->verify.on) || (safe && !t->boot_safe))
		return -EPROTO;
	t->boot_seq = 0;
	verdict_events(pr->p->name, b);
	lc_on_verified(s, pr, b->verdict == LVMM_TRUST_OK ? 0 : b->verdict == LVMM_TRUST_SAFE ? 1 : -1,
		       b->reason);
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

	/* A late answer (to a request given up on) is dropped; one never asked for is a violation. */
	if (a->seq != t->attest_seq || (fd >= 0 && trust_sealed_ok(fd, LVMM_TRUST_ATTEST_JSON_MAX, &size))) {
		close_fd(&fd);
		return a->seq == t->attest_seq || a->seq > t->seq ? -EPROTO : 0;
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
			r = hdr.type == LVMM_MSG_TRUST_BOOT_DONE ? on_boot_done(s, &s->parts[idx], t, &u.b)
								 : on_attest_done(s, &s->parts[idx], t, &u.a, fd);
		if (!r)
			continue;
		close_fd(&t->sock); /* also leaves the epoll set; its death is reported when reaped */
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
	close_fd(&t->sock);
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
	/* A verdict outstanding: the start fails (its gate closed with the process: it runs nothing). */
	if (!t->stopping && t->boot_seq)
		lc_on_verified(s, &s->parts[i], -1, why);
	else if (!t->stopping && plat_part_tpm(s->parts[i].p) >= 0)
		lc_kill(s, &s->parts[i], why); /* its vTPM is gone */
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

	/* EOF on its socket is the order to stop: swtpm saves its state, both exit. */
	for (i = 0; i < PLAT_MAX_PARTS; i++) {
		T[i].stopping = true;
		close_fd(&T[i].sock);
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
