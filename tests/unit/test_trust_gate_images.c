// SPDX-License-Identifier: MIT
/*
 * What a partition sends its trust process on the gate (GATE_IMAGES,
 * src/trust/trustd.c gate_images()), when it is not what src/vmm/images.c
 * sends: a wrong count of fds or indices, fds that are not memfds, memfds
 * sealed the wrong way or never, a copy of another size, a garbage or
 * truncated message, nothing at all. docs/trust.md ("The gate"): the
 * verdict is then an error (or a refusal, for bytes that do not verify),
 * the partition is told no go, the supervisor gets a BOOT_DONE it accepts
 * (trust_check_msg) within its deadline (TRUST_BOOT_TIMEOUT_MS), and the
 * trust process keeps every fd it got from nobody, keeps serving (a good
 * start after each bad one boots) and ends cleanly (status 0: its seccomp
 * filter allowed every error path).
 *
 * The trust process is the real one (trust_main()), forked; this program
 * is its supervisor (INIT, BOOT) and its partition (the gate's other end).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"
#include "lvmm/trust_proto.h"
#include "supervisor/trust.h"
#include "trust/trustd.h"
#include "unit/trust_test.h"
#include "unit/unit.h"

#define MS 1000000ULL
#define KERNEL_LEN 65536

static uint8_t kernel[KERNEL_LEN];
static struct lvmm_trust_init init;
static struct lvmm_trust_boot_done done;
static struct lvmm_gate gate_msg;
static pid_t trust_pid;
static int idle_fds;  /* the fds an idle trust process holds (what fork gave it, its socket) */
static int sup = -1;  /* the supervisor's end of the trust process's socket */
static uint32_t seq;

/* The fds the trust process holds (it is our child, and root reads its /proc). */
static int count_fds(void)
{
	char path[64];
	struct dirent *d;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)trust_pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

static int trust_up(void)
{
	int sv[2];
	char path[256];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	trust_pid = fork();
	if (trust_pid < 0)
		return -errno;
	if (trust_pid == 0) {
		close(sv[0]);
		_exit(trust_main(sv[1]));
	}
	close(sv[1]);
	sup = sv[0];
	plat_part_defaults(&init.part);
	init.log_level = LOG_ERR;
	snprintf(init.part.name, sizeof(init.part.name), "user");
	snprintf(init.part.kernel, sizeof(init.part.kernel), "%s", tt_path(path, sizeof(path), "k.elf"));
	snprintf(init.part.cmdline, sizeof(init.part.cmdline), "console=ttyS0");
	init.part.verify.on = true;
	init.part.verify.on_fail = LVMM_TRUST_REFUSE;
	snprintf(init.part.verify.manifest, PLAT_PATH_MAX, "%s", tt_path(path, sizeof(path), "k.manifest"));
	snprintf(init.part.verify.signature, PLAT_PATH_MAX, "%s", tt_path(path, sizeof(path), "k.manifest.sig"));
	snprintf(init.part.verify.key, PLAT_PATH_MAX, "%s", tt_path(path, sizeof(path), "it-pub.pem"));
	return proto_send(sup, LVMM_MSG_TRUST_INIT, &init, sizeof(init), NULL, 0, 0);
}

/* BOOT for a start, as the supervisor sends it: the partition's end of its gate, or -1. */
static int boot(void)
{
	struct lvmm_trust_boot b = { .seq = ++seq, .fd_guest = LVMM_NO_FD, .fd_gate = 0 };
	const char *files[3] = { init.part.verify.manifest, init.part.verify.signature,
				 init.part.verify.key };
	int fds[4] = { -1, -1, -1, -1 }, sv[2], r = 0;
	unsigned i;

	for (i = 0; i < 3; i++) {
		b.fd[0][i] = (int32_t)i + 1;
		b.fd[1][i] = LVMM_NO_FD;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -1;
	fds[0] = sv[1];
	for (i = 0; i < 3 && !r; i++) {
		fds[i + 1] = open(files[i], O_RDONLY | O_CLOEXEC);
		r = fds[i + 1] < 0;
	}
	if (!r)
		r = proto_send(sup, LVMM_MSG_TRUST_BOOT, &b, sizeof(b), fds, 4, 0);
	for (i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (r) {
		close(sv[0]);
		return -1;
	}
	return sv[0];
}

/*
 * The verdict: BOOT_DONE to the supervisor (checked as the supervisor
 * checks it), then the GATE on the partition's end. Its verdict, or -1;
 * *ms: how long it took from now.
 */
static int verdict(int gate, uint64_t *ms)
{
	struct pollfd p = { .fd = sup, .events = POLLIN };
	uint64_t t0 = now_ns();
	struct lvmm_msg_hdr h;
	int fd = -1, r;

	memset(&done, 0, sizeof(done));
	memset(&gate_msg, 0, sizeof(gate_msg));
	/* The supervisor's deadline, and a little more: a later answer is a failure anyway. */
	if (poll(&p, 1, TRUST_BOOT_TIMEOUT_MS + 5000) != 1 ||
	    proto_recv(sup, &h, &done, sizeof(done), NULL, 0, 0) ||
	    h.type != LVMM_MSG_TRUST_BOOT_DONE || trust_check_msg(&h, &done) || done.seq != seq)
		return -1;
	if (ms)
		*ms = (now_ns() - t0) / MS;
	p.fd = gate;
	/* The go is sent right after BOOT_DONE; a partition that shut its end gets nothing (EOF). */
	if (poll(&p, 1, 2000) != 1)
		return -1;
	r = proto_recv(gate, &h, &gate_msg, sizeof(gate_msg), &fd, 1, 0);
	if (r == -EPIPE)
		return (int)done.verdict;
	if (r || h.type != LVMM_MSG_GATE || h.nfds)
		return -1;
	if (fd >= 0)
		close(fd);
	return (int)done.verdict;
}

/* A memfd holding the first len bytes of the kernel; seals as given (-1: none, and not sealable). */
static int copy(size_t len, int seals)
{
	int fd = memfd_create("test-image", MFD_CLOEXEC | (seals >= 0 ? MFD_ALLOW_SEALING : 0));

	if (fd < 0 || write(fd, kernel, len) != (ssize_t)len ||
	    (seals > 0 && fcntl(fd, F_ADD_SEALS, seals))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int reopen_ro(int fd)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, O_RDONLY | O_CLOEXEC);
}

#define ALL_SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/* GATE_IMAGES with these indices and fds (the fds are ours still). */
static int send_images(int gate, int32_t k, int32_t i, int32_t sk, int32_t si, const int *fds,
		       unsigned n)
{
	struct lvmm_gate_images gi = { .fd = { k, i, sk, si } };

	return proto_send(gate, LVMM_MSG_GATE_IMAGES, &gi, sizeof(gi), fds, n, 0);
}

/* One start whose partition sends the image set it was told to: it boots. */
static void good_start(void)
{
	int gate = boot(), mem = copy(sizeof(kernel), ALL_SEALS), ro = reopen_ro(mem);

	CHECK(gate >= 0 && mem >= 0 && ro >= 0);
	CHECK_EQ(send_images(gate, 0, LVMM_NO_FD, LVMM_NO_FD, LVMM_NO_FD, &ro, 1), 0);
	CHECK_EQ(verdict(gate, NULL), LVMM_TRUST_OK);
	CHECK_EQ(gate_msg.go, 1);
	close(ro);
	close(mem);
	close(gate);
}

/*
 * Once a start is answered the trust process closes what it got for it,
 * just after the go: wait (bounded) until it holds what it held idle.
 */
static int trust_fds(void)
{
	int i, n = count_fds();

	for (i = 0; i < 200 && n != idle_fds; i++) {
		usleep(5000);
		n = count_fds();
	}
	return n;
}

/*
 * A start whose partition does `act` on its gate: the verdict is want,
 * the partition is told no, the reason has `why`, the trust process holds
 * no fd more than before, and the next (good) start still boots.
 */
static void bad_start(int (*act)(int gate), int want, const char *why)
{
	int gate = boot();
	uint64_t ms = 0;

	CHECK(gate >= 0);
	CHECK_EQ(act(gate), 0);
	CHECK_EQ(verdict(gate, &ms), want);
	CHECK_EQ(gate_msg.go, 0);
	if (!strstr(done.reason, why))
		printf("# reason: %s (wanted: %s)\n", done.reason, why);
	CHECK(strstr(done.reason, why) != NULL);
	/* Answered with a margin before the supervisor's deadline: never a trust_failed. */
	CHECK(ms + 3000 < TRUST_BOOT_TIMEOUT_MS);
	close(gate);
	CHECK_EQ(trust_fds(), idle_fds);
	good_start();
	CHECK_EQ(trust_fds(), idle_fds);
}

/* ---- what the partition does ---------------------------------------------------- */

static int no_fds(int gate)
{
	return send_images(gate, 0, LVMM_NO_FD, LVMM_NO_FD, LVMM_NO_FD, NULL, 0);
}

static int index_past_fds(int gate)
{
	int mem = copy(sizeof(kernel), ALL_SEALS), r = send_images(gate, 1, LVMM_NO_FD, LVMM_NO_FD,
								    LVMM_NO_FD, &mem, 1);
	close(mem);
	return r;
}

/* An initrd that its platform entry does not name (the kernel's fd again). */
static int extra_initrd(int gate)
{
	int mem = copy(sizeof(kernel), ALL_SEALS), r = send_images(gate, 0, 0, LVMM_NO_FD,
								    LVMM_NO_FD, &mem, 1);
	close(mem);
	return r;
}

/* A safe image set, when BOOT said there is none. */
static int extra_safe(int gate)
{
	int m[2] = { copy(sizeof(kernel), ALL_SEALS), copy(sizeof(kernel), ALL_SEALS) };
	int r = send_images(gate, 0, LVMM_NO_FD, 1, LVMM_NO_FD, m, 2);

	close(m[0]);
	close(m[1]);
	return r;
}

/* More fds than a GATE_IMAGES may carry (4). */
static int five_fds(int gate)
{
	int m[5], r;
	unsigned i;

	for (i = 0; i < 5; i++)
		m[i] = copy(16, ALL_SEALS);
	r = send_images(gate, 0, LVMM_NO_FD, LVMM_NO_FD, LVMM_NO_FD, m, 5);
	for (i = 0; i < 5; i++)
		close(m[i]);
	return r;
}

static int send_fd(int gate, int fd)
{
	int r = fd < 0 ? -1 : send_images(gate, 0, LVMM_NO_FD, LVMM_NO_FD, LVMM_NO_FD, &fd, 1);

	if (fd >= 0)
		close(fd);
	return r;
}

/* The kernel file itself, the right bytes, but not a memfd: it could change under the hash. */
static int regular_file(int gate)
{
	char path[256];

	return send_fd(gate, open(tt_path(path, sizeof(path), "k.elf"), O_RDONLY | O_CLOEXEC));
}

static int a_pipe(int gate)
{
	int p[2], r;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	r = send_fd(gate, p[0]);
	close(p[1]);
	return r;
}

/* A memfd that can never be sealed against writes: it is not a copy that stays. */
static int unsealable(int gate)
{
	return send_fd(gate, copy(sizeof(kernel), -1));
}

static int sealed_but_writable(int gate)
{
	return send_fd(gate, copy(sizeof(kernel), F_SEAL_SEAL));
}

/* Writable, complete, and never sealed: the trust process gives up (bounded). */
static int never_sealed(int gate)
{
	return send_fd(gate, copy(sizeof(kernel), 0));
}

/* A copy of another size than the kernel (sealed, read-only): its bytes do not verify. */
static int short_copy(int gate)
{
	int mem = copy(sizeof(kernel) / 2, ALL_SEALS), r = send_fd(gate, reopen_ro(mem));

	close(mem);
	return r;
}

/* Larger than any image may be (4 GiB): not hashed at all. Sparse: it costs nothing. */
static int huge(int gate)
{
	int mem = copy(16, 0);

	if (mem < 0 || ftruncate(mem, (off_t)(5ULL << 30)) || fcntl(mem, F_ADD_SEALS, ALL_SEALS)) {
		if (mem >= 0)
			close(mem);
		return -1;
	}
	return send_fd(gate, mem);
}

/* A message of type with body and one good image fd. */
static int send_with_image(int gate, uint16_t type, const void *body, uint32_t len)
{
	int mem = copy(sizeof(kernel), ALL_SEALS), r = mem < 0 ? -1 :
		proto_send(gate, type, body, len, &mem, 1, 0);

	if (mem >= 0)
		close(mem);
	return r;
}

/* Another message type (a GATE, the trust process's own) with the right fd. */
static int wrong_type(int gate)
{
	struct lvmm_gate g = { .go = 1 };

	return send_with_image(gate, LVMM_MSG_GATE, &g, sizeof(g));
}

/* GATE_IMAGES cut short: one index of four. */
static int truncated(int gate)
{
	int32_t k = 0;

	return send_with_image(gate, LVMM_MSG_GATE_IMAGES, &k, sizeof(k));
}

/* Bytes that are no message of the protocol at all. */
static int garbage(int gate)
{
	static const char junk[64] = "GET / HTTP/1.0\r\n\r\n";

	return send(gate, junk, sizeof(junk), 0) == sizeof(junk) ? 0 : -1;
}

/* The partition ended (a disk in use, say) before it sent anything. */
static int hang_up(int gate)
{
	return shutdown(gate, SHUT_RDWR);
}

/* Nothing, and the gate left open: the trust process stops waiting (bounded). */
static int silence(int gate)
{
	(void)gate;
	return 0;
}

/* ---- the cases --------------------------------------------------------------------- */

static void test_good_images_boot(void)
{
	CHECK(idle_fds > 0);
	good_start();
	CHECK_EQ(trust_fds(), idle_fds);
}

static void test_wrong_count_is_an_error(void)
{
	bad_start(no_fds, LVMM_TRUST_ERROR, "not those of its platform entry");
	bad_start(index_past_fds, LVMM_TRUST_ERROR, "not those of its platform entry");
	bad_start(extra_initrd, LVMM_TRUST_ERROR, "not those of its platform entry");
	bad_start(extra_safe, LVMM_TRUST_ERROR, "not those of its platform entry");
	bad_start(five_fds, LVMM_TRUST_ERROR, "the partition's images: ");
}

static void test_not_a_sealed_memfd_is_an_error(void)
{
	bad_start(regular_file, LVMM_TRUST_ERROR, "cannot hash the boot images (k.elf): Invalid argument");
	bad_start(a_pipe, LVMM_TRUST_ERROR, "cannot hash the boot images (k.elf): Invalid argument");
	bad_start(unsealable, LVMM_TRUST_ERROR, "cannot hash the boot images (k.elf): Invalid argument");
	bad_start(sealed_but_writable, LVMM_TRUST_ERROR, "cannot hash the boot images (k.elf): Invalid argument");
}

static void test_other_size_is_refused_or_an_error(void)
{
	bad_start(short_copy, LVMM_TRUST_REFUSED, "verification failed: the SHA-256 of 'k.elf' differs");
	bad_start(huge, LVMM_TRUST_ERROR, "cannot hash the boot images (k.elf): File too large");
}

static void test_garbage_message_is_an_error(void)
{
	bad_start(wrong_type, LVMM_TRUST_ERROR, "the partition's images: Protocol error");
	bad_start(truncated, LVMM_TRUST_ERROR, "the partition's images: Protocol error");
	bad_start(garbage, LVMM_TRUST_ERROR, "the partition's images: ");
}

static void test_partition_gone_before_images(void)
{
	bad_start(hang_up, LVMM_TRUST_ERROR, "the partition's images: the partition ended before it sent them");
}

/* The slow ones: each waits out the trust process's own bound, under the supervisor's. */
static void test_never_sealed_is_an_error_in_time(void)
{
	bad_start(never_sealed, LVMM_TRUST_ERROR, "cannot hash the boot images (k.elf): Connection timed out");
}

static void test_silent_partition_is_an_error_in_time(void)
{
	bad_start(silence, LVMM_TRUST_ERROR, "the partition's images: Connection timed out");
}

/* The supervisor closes its end: the trust process exits 0, never killed by its filter. */
static void test_trust_process_ends_cleanly(void)
{
	int st = 0;

	close(sup);
	sup = -1;
	CHECK_EQ(waitpid(trust_pid, &st, 0), trust_pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), 0);
}

int main(void)
{
	unsigned i;

	signal(SIGPIPE, SIG_IGN);
	if (!tt_have("openssl")) {
		printf("not ok - trust_gate_images: openssl is missing (make deps installs it)\n");
		return 1;
	}
	for (i = 0; i < sizeof(kernel); i++)
		kernel[i] = (uint8_t)(i * 7 + i / 251);
	if (tt_mkdir("trust-gate-images") || tt_write("k.elf", kernel, sizeof(kernel)) ||
	    tt_sh(NULL, 0, "openssl genpkey -algorithm ed25519 -out it.pem && "
			   "openssl pkey -in it.pem -pubout -out it-pub.pem && "
			   "{ sha256sum k.elf; printf '%%s  @cmdline\\n' \"$(printf %%s 'console=ttyS0' | "
			   "sha256sum | cut -d' ' -f1)\"; } >k.manifest && "
			   "openssl pkeyutl -sign -rawin -inkey it.pem -in k.manifest -out k.manifest.sig") ||
	    trust_up()) {
		printf("not ok - trust_gate_images: cannot set up keys, files and the trust process in %s\n",
		       tt_dir);
		return 1;
	}
	usleep(100000); /* INIT is read: the trust process is idle */
	idle_fds = count_fds();
	RUN(test_good_images_boot);
	RUN(test_wrong_count_is_an_error);
	RUN(test_not_a_sealed_memfd_is_an_error);
	RUN(test_other_size_is_refused_or_an_error);
	RUN(test_garbage_message_is_an_error);
	RUN(test_partition_gone_before_images);
	RUN(test_never_sealed_is_an_error_in_time);
	RUN(test_silent_partition_is_an_error_in_time);
	RUN(test_trust_process_ends_cleanly);
	if (trust_pid > 0 && sup >= 0) {
		close(sup);
		waitpid(trust_pid, NULL, 0);
	}
	tt_cleanup();
	return unit_done();
}
