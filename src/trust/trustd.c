// SPDX-License-Identifier: MIT
/*
 * The trust process (trustd.h, docs/trust.md "The trust process").
 *
 * One loop over four fds: the supervisor's socket (INIT once, then BOOT and
 * ATTEST requests), the partition's TPM socket (the guest's commands),
 * swtpm's data channel (responses) and its control channel (only to notice
 * that swtpm died). Requests are handled one at a time and in order; an
 * attestation that must wait for a guest command in swtpm resumes when its
 * response is in (vtpm.c's relay decides). The supervisor is trusted to
 * send well-formed requests, but every index and length is still checked;
 * the partition is not trusted at all: a malformed message closes its
 * socket.
 */
#include "trust/trustd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"
#include "lvmm/guest_abi.h"
#include "lvmm/trust_proto.h"
#include "shared/memlimit.h"
#include "shared/seccomp_rules.h"
#include "trust/attest.h"
#include "trust/digest.h"
#include "trust/eventlog.h"
#include "trust/offline.h"
#include "trust/swtpm.h"
#include "trust/tpm2.h"
#include "trust/verdict.h"
#include "trust/vtpm.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#define BOOT_FDS_MAX 8 /* the TPM socket, the gate + 2 images x 3 verify files */
/*
 * A start's images, from the wait for them on the gate (the partition sends
 * them as soon as it is configured) until the last one is sealed and hashed:
 * within this of BOOT, all of them. A partition that never sends or never
 * seals them then gets its error verdict well before the supervisor's
 * deadline for the whole answer (TRUST_BOOT_TIMEOUT_MS, 30 s, measurement
 * included), which would count against the trust process (trust_failed).
 */
#define IMAGES_MS 20000

static struct {
	int sup;             /* the supervisor */
	int guest;           /* the partition's TPM socket of the current start, or -1 */
	bool tpm;            /* this partition has a vTPM */
	bool booted;         /* a start was measured: PCRs and the attestation key are there */
	bool attest_wait;    /* an attestation waits for the channel */
	char tpm_err[160];   /* swtpm could not be started: every BOOT says so */
	char name[LVMM_NAME_MAX]; /* the partition's */
	int platform_len;    /* its canonical platform entry's bytes, or -errno */
	size_t log_len;      /* logbuf's bytes: the event log of the measured start */
	struct swtpm swtpm;
	struct vtpm v;
	struct lvmm_trust_attest att;
} D = { .sup = -1, .guest = -1 };

/* Large messages: static, not on the stack. */
static struct lvmm_trust_init init; /* the partition's platform entry, for the run */
static char platform[LVMM_TRUST_PLATFORM_MAX];
static union {
	struct lvmm_trust_boot b;
	struct lvmm_trust_attest a;
} req;
static struct lvmm_trust_boot_done done;
static struct lvmm_trust_attest_done adone;
static struct trust_eval ev;
static uint8_t logbuf[LVMM_TPM_EVENTLOG_SIZE];

/* ---- the sandbox ------------------------------------------------------------------- */

/*
 * Every system call a running trust process makes (measured with strace
 * over tests/integration/trust.sh, then checked against the code paths).
 * docs/trust.md gives the reason for each.
 */
static const int allowed[] = {
	SCMP_SYS(write), SCMP_SYS(close),          /* stderr, the event-log memfd; fds done with */
	SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),      /* SEQPACKET: supervisor, partition (SCM_RIGHTS) */
	SCMP_SYS(sendto), SCMP_SYS(recvfrom),      /* swtpm's stream channels */
	SCMP_SYS(poll),                            /* the loop; swtpm's deadlines */
	SCMP_SYS(newfstatat), SCMP_SYS(pread64),   /* sizes, reading manifests, keys, signatures */
	SCMP_SYS(munmap), SCMP_SYS(madvise),       /* hashing an image through a read-only mapping */
	SCMP_SYS(memfd_create),                    /* the sealed event log, attest answers (fcntl: below) */
	SCMP_SYS(getrandom),                       /* platformAuth; libcrypto */
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), /* deadlines; waiting for swtpm to end */
	SCMP_SYS(wait4),                           /* reaping swtpm */
	SCMP_SYS(restart_syscall),                 /* a wait interrupted by SIGCHLD */
	SCMP_SYS(brk), SCMP_SYS(futex),            /* glibc's allocator, libcrypto's locks */
	SCMP_SYS(exit_group),
#ifdef __SANITIZE_ADDRESS__
	SCMP_SYS(sigaltstack), SCMP_SYS(sched_getaffinity), SCMP_SYS(sched_yield),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(rt_sigprocmask), SCMP_SYS(exit),
#endif
};

static int rule(scmp_filter_ctx ctx, int nr, unsigned n, const struct scmp_arg_cmp *a)
{
	int r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, a);

	return r == -EFAULT ? 0 : r; /* a syscall this architecture does not have */
}

int trustd_sandbox(int swtpm_pid, char *err, unsigned long errlen)
{
	/* Spelled out: clang's -Wmissing-field-initializers rejects libseccomp's SCMP_A*_64(). */
	struct scmp_arg_cmp noexec = { .arg = 2, .op = SCMP_CMP_MASKED_EQ, .datum_a = PROT_EXEC,
				       .datum_b = 0 };
	struct scmp_arg_cmp only_swtpm = { .arg = 0, .op = SCMP_CMP_EQ,
					   .datum_a = (scmp_datum_t)swtpm_pid, .datum_b = 0 };
	scmp_filter_ctx ctx;
	size_t i;
	int r = 0;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) {
		r = -errno;
		snprintf(err, errlen, "prctl: %s", strerror(-r));
		return r;
	}
	/* Root cannot come back (the identity was changed before exec, when run as root). */
	if (geteuid() != 0 && setresuid(0, 0, 0) == 0) {
		snprintf(err, errlen, "the trust process could become root again");
		return -EPERM;
	}
	/*
	 * swtpm, its child, is exec'd and keeps its own limits. The images are
	 * hashed a window at a time (trust/digest.c), so the run needs little.
	 */
	r = sandbox_limit_address_space(SANDBOX_AS_HEADROOM, err, errlen);
	if (r)
		return r;
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		snprintf(err, errlen, "seccomp_init failed");
		return -ENOMEM;
	}
	/* A call of another architecture (i386, x32) kills the process, not only the thread. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (i = 0; !r && i < ARRAY_SIZE(allowed); i++)
		r = rule(ctx, allowed[i], 0, NULL);
	if (!r)
		r = seccomp_allow_fcntl(ctx); /* seals; no F_SETOWN/F_SETSIG (signals to any process) */
	/* Memory, never executable. */
	if (!r)
		r = rule(ctx, SCMP_SYS(mmap), 1, &noexec);
	if (!r)
		r = rule(ctx, SCMP_SYS(mprotect), 1, &noexec);
	/* Signals: swtpm only (the SIGKILL after a shutdown that did not end it). */
	if (!r && swtpm_pid > 0)
		r = rule(ctx, SCMP_SYS(kill), 1, &only_swtpm);
	if (!r)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r)
		snprintf(err, errlen, "seccomp: %s", strerror(-r));
	return r;
}

/* ---- the vTPM ------------------------------------------------------------------------ */

static void send_rsp(const struct lvmm_tpm_msg *m)
{
	/* A partition that is gone or does not read loses the answer; nothing else does. */
	if (D.guest >= 0 &&
	    proto_send(D.guest, LVMM_MSG_TPM_RSP, m, sizeof(*m), NULL, 0, MSG_DONTWAIT))
		pr_debug("TPM response not delivered");
}

/* fd: the answer's sealed memfd (result 0), or -1. */
static void send_attest_done(int fd)
{
	if (proto_send(D.sup, LVMM_MSG_TRUST_ATTEST_DONE, &adone, sizeof(adone), &fd, fd >= 0, 0))
		pr_err("cannot answer the supervisor");
}

static void attest_error(uint32_t seq, int r, const char *why)
{
	memset(&adone, 0, sizeof(adone));
	adone.seq = seq;
	adone.result = r;
	snprintf(adone.error, sizeof(adone.error), "%s", why);
	send_attest_done(-1);
}

/*
 * swtpm died, timed out or misbehaved: every guest command in flight gets
 * TPM_RC_FAILURE, a waiting attestation an error, and the process ends
 * with LVMM_TRUST_EXIT_VTPM (the supervisor reports vtpm_failed and ends
 * the partition; its next start gets a new trust process and swtpm).
 */
static void __attribute__((noreturn)) vtpm_failed(const char *why)
{
	static struct lvmm_tpm_msg reply;
	unsigned guard;

	pr_err("vTPM failed: %s", why);
	for (guard = 0; guard < 4 && vtpm_fail(&D.v, &reply); guard++)
		send_rsp(&reply);
	if (D.attest_wait)
		attest_error(D.att.seq, -EIO, why);
	swtpm_stop(&D.swtpm);
	exit(LVMM_TRUST_EXIT_VTPM);
}

/* len bytes of buf in a memfd sealed against every change. fd or -errno. */
static int sealed_memfd(const char *name, const void *buf, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING), r = 0;
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (!r && off < len) {
		ssize_t n = write(fd, (const char *)buf + off, len - off);

		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EINTR)
			r = -errno;
	}
	if (!r && fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		r = -errno;
	if (r) {
		close(fd);
		return r;
	}
	return fd;
}

/*
 * The answer's JSON members (attest.h) into a sealed memfd: the supervisor
 * checks the seals and the size and passes it on unread. fd or -errno.
 */
static int attest_answer(const uint8_t (*pcrs)[SHA256_LEN], const struct tpm2_quote *q,
			 const char *pem)
{
	static char json[LVMM_TRUST_ATTEST_JSON_MAX];
	const struct attest_answer a = {
		.partition = D.name, .nonce = D.att.nonce, .nonce_len = D.att.nonce_len,
		.pcrs = pcrs, .attest = q->attest, .attest_len = q->attest_len, .sig = q->sig,
		.sig_len = q->sig_len, .ak_pem = pem, .log = logbuf, .log_len = D.log_len,
	};
	int n = attest_json(json, sizeof(json), &a);

	return n < 0 ? n : sealed_memfd("lvmm-attest", json, (size_t)n);
}

/* While holding the channel: PCRs 17-22 and a quote over them with the caller's nonce. */
static void run_attest(void)
{
	static uint8_t pcrs[TPM2_PCR_COUNT][SHA256_LEN];
	static char pem[LVMM_TRUST_PEM_MAX];
	struct tpm2_quote q;
	struct tpm2_ak ak;
	char err[256] = "";
	int r, e, fd = -1;

	D.attest_wait = false;
	r = vtpm_pcr_read(&D.v, LVMM_TRUST_PCR_MASK, pcrs, err, sizeof(err));
	if (!r)
		r = vtpm_quote(&D.v, D.att.nonce, D.att.nonce_len, LVMM_TRUST_PCR_MASK, pcrs, &ak, &q,
			       err, sizeof(err));
	e = vtpm_sup_end(&D.v); /* always: a queued guest command goes out now */
	if (!r)
		r = tpm2_ak_pem(&ak, pem, sizeof(pem));
	if (!r)
		r = fd = attest_answer((const uint8_t (*)[SHA256_LEN])pcrs, &q, pem);
	if (r < 0) {
		attest_error(D.att.seq, r, err[0] ? err : strerror(-r));
	} else {
		memset(&adone, 0, sizeof(adone));
		adone.seq = D.att.seq;
		send_attest_done(fd);
		close(fd);
	}
	if (e || D.v.broken)
		vtpm_failed(err[0] ? err : "swtpm did not take locality 0 back");
}

static void on_attest(const struct lvmm_msg_hdr *h, const struct lvmm_trust_attest *a)
{
	int r;

	if (h->len != sizeof(*a) || !a->nonce_len || a->nonce_len > LVMM_TRUST_NONCE_MAX) {
		attest_error(h->len >= sizeof(a->seq) ? a->seq : 0, -EINVAL, "malformed request");
		return;
	}
	if (!D.tpm || !D.booted) {
		attest_error(a->seq, -ENODATA, "no measured start yet");
		return;
	}
	if (D.attest_wait) {
		attest_error(a->seq, -EBUSY, "an attestation is in progress");
		return;
	}
	D.att = *a;
	r = vtpm_sup_begin(&D.v);
	if (r == -EINPROGRESS) {
		D.attest_wait = true; /* resumes when the guest's command is answered */
		return;
	}
	if (r) {
		attest_error(a->seq, r, "the vTPM is not usable");
		if (D.v.broken)
			vtpm_failed("the vTPM is broken");
		return;
	}
	run_attest();
}

/* A guest command from the partition's TPM socket; garbage closes the socket. */
static void on_guest(void)
{
	static struct lvmm_tpm_msg m, reply;
	struct lvmm_msg_hdr h;
	unsigned guard;
	int r;

	for (guard = 0; guard < 4 && D.guest >= 0; guard++) {
		r = proto_recv(D.guest, &h, &m, sizeof(m), NULL, 0, MSG_DONTWAIT);
		if (r == -EAGAIN)
			return;
		if (r || h.type != LVMM_MSG_TPM_CMD || !lvmm_tpm_msg_ok(&m, h.len)) {
			/* At most once per start: the socket is closed here. */
			if (r != -EPIPE && r != -ECONNRESET)
				pr_warn("partition sent a malformed TPM message; closing its TPM socket");
			close(D.guest);
			D.guest = -1;
			return;
		}
		r = vtpm_guest_submit(&D.v, &m, &reply);
		if (r == VTPM_SUBMIT_REPLY || r < 0)
			send_rsp(&reply);
		if (r < 0)
			vtpm_failed("cannot write to swtpm");
	}
}

static void on_swtpm_data(void)
{
	static struct lvmm_tpm_msg reply;
	struct vtpm_event e;
	int r = vtpm_on_readable(&D.v, &e, &reply);

	if (e.guest_reply)
		send_rsp(&reply);
	if (r < 0)
		vtpm_failed(r == -EPIPE ? "swtpm closed its data channel" : "swtpm misbehaved");
	if (r > 0 && e.sup_granted && D.attest_wait)
		run_attest();
	else if (r > 0 && e.sup_granted && vtpm_sup_end(&D.v))
		vtpm_failed("swtpm did not take locality 0 back");
}

/* ---- a start ------------------------------------------------------------------------- */

/* fds[idx], or -1 for LVMM_NO_FD or an index the message did not carry. */
static int fd_at(const int *fds, unsigned nfds, int32_t idx)
{
	return idx >= 0 && (unsigned)idx < nfds ? fds[idx] : -1;
}

/*
 * The partition's image memfds, first on its gate (struct lvmm_gate_images):
 * img[] gets kernel, initrd, safe kernel, safe initrd (or -1), got[0..*n)
 * every fd that came, for the caller to close. 0 or -errno.
 */
static int gate_images(int gate, uint64_t deadline, int img[4], int got[4], unsigned *n)
{
	static struct lvmm_gate_images gi;
	struct pollfd p = { .fd = gate, .events = POLLIN };
	struct lvmm_msg_hdr h;
	unsigned i;
	int r;

	if (gate < 0 || poll(&p, 1, (int)((deadline - MIN(now_ns(), deadline)) / 1000000)) != 1)
		return -ETIMEDOUT;
	memset(&h, 0, sizeof(h));
	r = proto_recv(gate, &h, &gi, sizeof(gi), got, 4, MSG_DONTWAIT);
	*n = r ? 0 : h.nfds;
	if (!r && (h.type != LVMM_MSG_GATE_IMAGES || h.len != sizeof(gi)))
		r = -EPROTO;
	for (i = 0; i < 4; i++)
		img[i] = r ? -1 : fd_at(got, *n, gi.fd[i]);
	return r;
}

/* Boot set `set` of this start: names from the platform entry, images from the partition. */
static bool image_in(unsigned set, const int img[4], const int *fds, unsigned nfds,
		     uint64_t deadline, struct trust_image_in *in)
{
	const int32_t *fd = req.b.fd[set];

	trust_image_of(&init.part, set, in);
	in->kernel_fd = img[2 * set];
	in->initrd_fd = img[2 * set + 1];
	in->fill_deadline_ns = deadline; /* the partition fills and seals them while they are hashed */
	in->manifest_fd = fd_at(fds, nfds, fd[LVMM_TRUST_FD_MANIFEST]);
	in->sig_fd = fd_at(fds, nfds, fd[LVMM_TRUST_FD_SIGNATURE]);
	in->key_fd = fd_at(fds, nfds, fd[LVMM_TRUST_FD_KEY]);
	/* An initrd the entry names must be there (and none that it does not). */
	return in->kernel_fd >= 0 && !!in->initrd_name[0] == (in->initrd_fd >= 0);
}

/* ---- the verdict's events (the supervisor emits them: trust_check_msg, verdict_events) ---- */

static struct lvmm_trust_event *event(uint32_t kind)
{
	struct lvmm_trust_event *e = &done.ev[done.nevents++];

	e->kind = kind;
	return e;
}

static void field(struct lvmm_trust_event *e, uint32_t key, const char *str, uint64_t num)
{
	struct lvmm_trust_field *f = &e->f[e->nfields++];

	f->key = key;
	f->num = num;
	snprintf(f->str, sizeof(f->str), "%s", str ? str : "");
}

static void failure_event(const char *image, const struct verify_failure *f, const char *action)
{
	struct lvmm_trust_event *e = event(LVMM_TRUST_EV_VERIFY_FAILED);

	field(e, LVMM_TRUST_K_IMAGE, image, 0);
	field(e, LVMM_TRUST_K_FILE, f->file, 0);
	field(e, LVMM_TRUST_K_EXPECTED, f->expected, 0);
	field(e, LVMM_TRUST_K_ACTUAL, f->actual, 0);
	field(e, LVMM_TRUST_K_REASON, f->reason, 0);
	field(e, LVMM_TRUST_K_ACTION, action, 0);
}

/*
 * What failed, what boots, who approved it and whether it was measured
 * (log_bytes: the event log's size, or 0 without a vTPM); a refusal's why.
 */
static void verdict_events(size_t log_bytes)
{
	const uint8_t *d[4] = { ev.key_digest, ev.bs.kernel, ev.bs.initrd, ev.bs.cmdline };
	static const uint32_t key[4] = { LVMM_TRUST_K_KEY, LVMM_TRUST_K_KERNEL, LVMM_TRUST_K_INITRD,
					 LVMM_TRUST_K_CMDLINE };
	uint32_t v = done.verdict;
	struct lvmm_trust_event *e;
	char h[SHA256_HEX_LEN + 1];
	unsigned i;

	if (v != LVMM_TRUST_OK && v != LVMM_TRUST_SAFE)
		snprintf(done.reason, sizeof(done.reason), "%s%.290s", v == LVMM_TRUST_ERROR ?
			 "trust process: " : "verification failed: ", v == LVMM_TRUST_ERROR ?
			 ev.reason : ev.fail[v == LVMM_TRUST_SAFE_FAILED].reason);
	if (v != LVMM_TRUST_OK && v != LVMM_TRUST_ERROR)
		failure_event("primary", &ev.fail[0], v == LVMM_TRUST_REFUSED ? "refuse" : "safe_image");
	if (v == LVMM_TRUST_SAFE_FAILED)
		failure_event("safe_image", &ev.fail[1], "refuse");
	if (v != LVMM_TRUST_OK && v != LVMM_TRUST_SAFE)
		return;
	if (v == LVMM_TRUST_SAFE)
		field(event(LVMM_TRUST_EV_SAFE_IMAGE), LVMM_TRUST_K_FAILED, ev.fail[0].file, 0);
	e = event(log_bytes ? LVMM_TRUST_EV_BOOT_MEASURED : LVMM_TRUST_EV_BOOT_VERIFIED);
	field(e, LVMM_TRUST_K_IMAGE, v == LVMM_TRUST_SAFE ? "safe_image" : "primary", 0);
	for (i = ev.have_key ? 0 : 1; i < 4; i++) {
		digest_to_hex(d[i], SHA256_LEN, h);
		if (i != 2 || ev.bs.initrd_size)
			field(e, key[i], h, 0);
	}
	if (log_bytes) {
		field(e, LVMM_TRUST_K_LOG_EVENTS, NULL, ev.plan.n);
		field(e, LVMM_TRUST_K_LOG_BYTES, NULL, log_bytes);
	}
}

/* Measure into the vTPM and write the event log; the log's fd or -errno (reason in done). */
static int measure(void)
{
	char err[256];
	size_t len;
	int r;

	if (D.tpm_err[0]) {
		snprintf(ev.reason, sizeof(ev.reason), "vTPM: %s", D.tpm_err);
		return -EIO;
	}
	if (D.attest_wait) {
		/* The partition the attestation was about is gone. */
		attest_error(D.att.seq, -ECANCELED, "the partition restarted");
		D.attest_wait = false;
	}
	/* swtpm started up while the images were hashed and checked: only now is it waited for. */
	r = swtpm_connect(&D.swtpm, LVMM_TPM_BUF_MAX);
	if (r) {
		snprintf(D.tpm_err, sizeof(D.tpm_err), "swtpm could not be started: %s", strerror(-r));
		snprintf(ev.reason, sizeof(ev.reason), "vTPM: %s", D.tpm_err);
		D.v.broken = true; /* the process ends with LVMM_TRUST_EXIT_VTPM after its answer */
		return r;
	}
	r = vtpm_start_measured(&D.v, &ev.plan, err, sizeof(err));
	if (r) {
		snprintf(ev.reason, sizeof(ev.reason), "vTPM: %s", err);
		return r;
	}
	D.log_len = 0;
	r = measure_plan_eventlog(&ev.plan, logbuf, sizeof(logbuf), &len);
	if (!r)
		r = sealed_memfd("lvmm-eventlog", logbuf, len);
	if (r >= 0)
		D.log_len = len;
	if (r < 0)
		snprintf(ev.reason, sizeof(ev.reason), "event log: %s", strerror(-r));
	return r;
}

/*
 * A start: decide, measure, then the verdict to the supervisor first and
 * to the partition's gate second. In that order, the supervisor always has
 * the verdict before the partition can report READY on it (lc_on_ready()).
 */
static void on_boot(const struct lvmm_msg_hdr *h, const int *fds, unsigned nfds)
{
	const struct lvmm_trust_boot *b = &req.b;
	struct trust_eval_in in = { .on_fail = trust_on_fail(&init.part), .partition = D.name };
	struct lvmm_gate g = { .go = 0 };
	int logfd = -1, guest, gate, img[4], got[4], r;
	unsigned i, ngot = 0;
	uint64_t deadline;

	memset(&done, 0, sizeof(done));
	done.seq = h->len >= sizeof(b->seq) ? b->seq : 0;
	done.verdict = LVMM_TRUST_ERROR;
	guest = fd_at(fds, nfds, h->len == sizeof(*b) ? b->fd_guest : LVMM_NO_FD);
	gate = fd_at(fds, nfds, h->len == sizeof(*b) ? b->fd_gate : LVMM_NO_FD);
	if (D.guest >= 0)
		close(D.guest); /* the previous start's partition is gone */
	D.guest = D.tpm ? guest : -1;
	memset(&ev, 0, sizeof(ev));
	if (h->len != sizeof(*b)) {
		snprintf(ev.reason, sizeof(ev.reason), "malformed BOOT request");
		goto reply;
	}
	deadline = now_ns() + IMAGES_MS * 1000000ULL;
	r = gate_images(gate, deadline, img, got, &ngot);
	if (r || !image_in(0, img, fds, nfds, deadline, &in.image[0]) ||
	    !!(b->flags & LVMM_TRUST_BOOT_F_SAFE) != (img[2] >= 0) ||
	    ((b->flags & LVMM_TRUST_BOOT_F_SAFE) &&
	     !image_in(1, img, fds, nfds, deadline, &in.image[1]))) {
		/*
		 * A partition that ended first (a disk in use, say) closed its gate:
		 * its own exit report says why, and "Broken pipe" here would point
		 * at the trust process or the images instead.
		 */
		snprintf(ev.reason, sizeof(ev.reason), "the partition's images: %s",
			 r == -EPIPE || r == -ECONNRESET ? "the partition ended before it sent them" :
			 r ? strerror(-r) : "not those of its platform entry");
		goto reply;
	}
	if (D.platform_len < 0) {
		snprintf(ev.reason, sizeof(ev.reason), "the platform entry is longer than %d bytes",
			 LVMM_TRUST_PLATFORM_MAX);
		goto reply;
	}
	in.platform = platform;
	in.platform_len = (size_t)D.platform_len;
	trust_evaluate(&in, &ev);
	done.verdict = ev.verdict;
	if (D.tpm && (ev.verdict == LVMM_TRUST_OK || ev.verdict == LVMM_TRUST_SAFE)) {
		logfd = measure();
		if (logfd < 0)
			done.verdict = LVMM_TRUST_ERROR;
		else
			D.booted = true;
	}
reply:
	verdict_events(logfd >= 0 ? D.log_len : 0);
	if (proto_send(D.sup, LVMM_MSG_TRUST_BOOT_DONE, &done, sizeof(done), NULL, 0, 0))
		pr_err("cannot answer the supervisor");
	g.go = done.verdict == LVMM_TRUST_OK ? 1 : done.verdict == LVMM_TRUST_SAFE ? 2 : 0;
	snprintf(g.why, sizeof(g.why), "%s", done.reason);
	/* A partition stopped meanwhile has closed its end: nobody is told, nothing is lost. */
	if (gate >= 0 && proto_send(gate, LVMM_MSG_GATE, &g, sizeof(g), &logfd, g.go && logfd >= 0,
				    MSG_DONTWAIT))
		pr_debug("the verdict did not reach the partition");
	if (logfd >= 0)
		close(logfd);
	while (ngot)
		close(got[--ngot]);
	for (i = 0; i < nfds; i++)
		if (fds[i] != D.guest)
			close(fds[i]); /* the gate's end too: it carries one verdict */
	if (D.v.broken)
		vtpm_failed(ev.reason);
}

/* ---- the loop ----------------------------------------------------------------------------- */

/* One request from the supervisor; false when the supervisor is gone. */
static bool on_supervisor(void)
{
	int fds[BOOT_FDS_MAX];
	struct lvmm_msg_hdr h;
	int r = proto_recv(D.sup, &h, &req, sizeof(req), fds, BOOT_FDS_MAX, MSG_DONTWAIT);

	if (r == -EAGAIN)
		return true;
	if (r) {
		if (r != -EPIPE)
			pr_err("supervisor channel: %s", strerror(-r));
		return false;
	}
	if (h.type == LVMM_MSG_TRUST_BOOT) {
		on_boot(&h, fds, h.nfds);
		return true;
	}
	while (h.nfds--)
		close(fds[h.nfds]);
	if (h.type == LVMM_MSG_TRUST_ATTEST)
		on_attest(&h, &req.a);
	else
		pr_warn("unexpected message type %u from the supervisor", h.type);
	return true;
}

static int poll_ms(void)
{
	uint64_t now = now_ns();

	if (D.v.busy != VTPM_GUEST)
		return -1;
	return D.v.deadline_ns <= now ? 0 : (int)MIN((D.v.deadline_ns - now) / 1000000 + 1, 60000ULL);
}

static int loop(void)
{
	for (;;) {
		struct pollfd p[4] = {
			{ .fd = D.sup, .events = POLLIN },
			{ .fd = D.guest, .events = POLLIN },
			{ .fd = D.tpm ? D.swtpm.data_fd : -1, .events = POLLIN },
			{ .fd = D.tpm ? D.swtpm.ctrl_fd : -1, .events = 0 }, /* hang-up only */
		};
		int n = poll(p, 4, poll_ms());

		if (n < 0 && errno != EINTR)
			return 1;
		if (D.tpm && vtpm_timed_out(&D.v, now_ns()))
			vtpm_failed("a guest command took longer than 30 s");
		if (p[3].revents)
			vtpm_failed("swtpm's control channel closed (swtpm ended)");
		if (p[2].revents)
			on_swtpm_data();
		if (p[1].revents && D.guest >= 0)
			on_guest();
		/* One request per round: poll is level-triggered and comes back for the next. */
		if (p[0].revents && !on_supervisor())
			return 0;
	}
}

/*
 * The supervisor's parse of the entry (it is trusted), but the strings read
 * here are checked to end in their arrays.
 */
static bool init_ok(const struct plat_part *p)
{
	const char *str[] = { p->name, p->kernel, p->initrd, p->cmdline, p->safe.kernel,
			      p->safe.initrd, p->safe.cmdline };
	size_t len[] = { sizeof(p->name), sizeof(p->kernel), sizeof(p->initrd), sizeof(p->cmdline),
			 sizeof(p->safe.kernel), sizeof(p->safe.initrd), sizeof(p->safe.cmdline) };
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(str); i++)
		if (!memchr(str[i], 0, len[i]))
			return false;
	return p->ndevs <= LVMM_MAX_DEVS;
}

int trust_main(int sock)
{
	struct swtpm_params sp = { .stderr_fd = -1 };
	char err[256], prefix[64];
	struct lvmm_msg_hdr h;
	int r, dirfd = -1;

	D.sup = sock;
	r = proto_recv(sock, &h, &init, sizeof(init), &dirfd, 1, 0);
	if (r || h.type != LVMM_MSG_TRUST_INIT || h.len != sizeof(init) || !init_ok(&init.part) ||
	    h.nfds != (plat_part_tpm(&init.part) >= 0)) {
		fprintf(stderr, "lvmm __trust: no valid INIT from the supervisor\n");
		return 1;
	}
	snprintf(D.name, sizeof(D.name), "%s", init.part.name);
	snprintf(prefix, sizeof(prefix), "lvmm trust %s", D.name);
	log_set_prefix(prefix);
	log_level = (int)MIN(init.log_level, (uint32_t)LOG_DEBUG);
	D.tpm = plat_part_tpm(&init.part) >= 0;
	/* The same entry for every start of this run: PCR 21's event data. */
	D.platform_len = plat_part_canonical(&init.part, platform, sizeof(platform));
	if (D.tpm) {
		/*
		 * swtpm is exec'd now, before the filter: the sandbox never needs fork
		 * or exec. It is not waited for here: its exec and start-up (about
		 * 15 ms) overlap libcrypto's set-up and the hashing of the first
		 * start's images; measure() connects to it (bench/trust.sh).
		 */
		sp.state_dir_fd = dirfd; /* swtpm runs in it: no path, no search rights above it */
		r = swtpm_launch(&D.swtpm, &sp);
		close(dirfd);
		if (r) {
			snprintf(D.tpm_err, sizeof(D.tpm_err), "swtpm could not be started: %s",
				 strerror(-r));
			pr_err("%s", D.tpm_err);
		}
		vtpm_init(&D.v, &D.swtpm);
	}
	if (trust_crypto_init()) {
		pr_err("libcrypto failed to initialise");
		swtpm_stop(&D.swtpm);
		return 1;
	}
#ifdef __SANITIZE_ADDRESS__
	__lsan_do_leak_check(); /* its exit-time check needs calls the filter forbids */
#endif
	r = trustd_sandbox(D.swtpm.pid, err, sizeof(err));
	if (r) {
		pr_err("sandbox: %s", err);
		swtpm_stop(&D.swtpm);
		return 1;
	}
	r = loop();
	swtpm_stop(&D.swtpm); /* CMD_SHUTDOWN: swtpm stores its state and ends */
	return r;
}
