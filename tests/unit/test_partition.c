// SPDX-License-Identifier: MIT
/*
 * The partition process (`lvmm __partition`) driven directly through its
 * protocol, as the supervisor would: the identity it drops to (an assigned
 * uid/gid, the nobody fallback, a root-ish config refused), its state in
 * /proc once sandboxed, and a malformed CONFIG message refused. Needs
 * /dev/kvm, root (to change identity) and the built binary and hello guest
 * ($LVMM, $BUILD); skipped otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "common/proto.h"
#include "config/platform.h"
#include "lvmm/proto.h"
#include "vmm/iothread.h"
#include "vmm/vm.h"

#include <sys/resource.h>

static char lvmm_path[512], guest_path[512];

struct run {
	pid_t pid;
	int sock;
	int console; /* read end of the console pipe */
};

/* Applied to the message before it is sent, when set (a hostile supervisor's message). */
static void (*tweak)(struct plat_config_msg *m);
/* Send a fifth fd, a SEQPACKET socket (a TPM device's channel to its trust process). */
static bool tpm_sock;

/* Start a partition with hello.elf and uid/gid as given. 0 or -errno. */
static int start(struct run *r, uint32_t uid, uint32_t gid)
{
	static struct plat_config_msg m;
	struct lvmm_part_grant *g = &m.grant;
	int sv[2], out[2], fds[5], tp[2] = { -1, -1 };
	unsigned nfds = 4;
	int r0;

	/* What the supervisor sends: the entry as it is, and the grant (build_config, lifecycle.c). */
	memset(&m, 0, sizeof(m));
	plat_part_defaults(&m.part);
	snprintf(m.part.name, sizeof(m.part.name), "probe");
	snprintf(m.part.cmdline, sizeof(m.part.cmdline), "hold_ms=300");
	m.part.vcpus = 1;
	m.part.mem_bytes = 16 << 20;
	memset(g, 0xff, sizeof(*g));
	g->flags = g->granted = g->link_side1 = 0;
	g->fd_kvm = 0, g->fd_mem = 1, g->fd_kernel = 2, g->fd_console_out = 3;
	g->log_level = 1;
	g->uid = uid;
	g->gid = gid;
	if (tweak)
		tweak(&m);
	fds[0] = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	fds[1] = memfd_create("probe-ram", MFD_CLOEXEC);
	fds[2] = open(guest_path, O_RDONLY | O_CLOEXEC);
	if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0 || ftruncate(fds[1], (off_t)m.part.mem_bytes) ||
	    pipe2(out, O_CLOEXEC) || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	fds[3] = out[1];
	if (tpm_sock) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, tp))
			return -errno;
		fds[nfds++] = tp[1];
	}
	r->pid = fork();
	if (r->pid < 0)
		return -errno;
	if (r->pid == 0) {
		char *argv[] = { lvmm_path, (char *)"__partition", (char *)"probe", NULL };

		if (dup2(sv[1], 3) < 0)
			_exit(127);
		execv(lvmm_path, argv);
		_exit(127);
	}
	close(sv[1]);
	/* Bounded: a partition that never answers fails the test instead of hanging it. */
	{
		struct timeval tv = { .tv_sec = 10 };

		setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	r->sock = sv[0];
	r->console = out[0];
	r0 = proto_send(r->sock, LVMM_MSG_CONFIG, &m, sizeof(m), fds, nfds, 0);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]); /* the partition has its own copies now */
	if (tp[0] >= 0)
		close(tp[0]);
	return r0;
}

/* Next message of type want (skipping events and statistics); 0 or -1. */
static int expect(struct run *r, uint16_t want, void *payload, uint32_t len)
{
	static uint8_t buf[LVMM_MSG_MAX_LEN];
	struct lvmm_msg_hdr h;

	for (int i = 0; i < 64; i++) {
		if (proto_recv(r->sock, &h, buf, sizeof(buf), NULL, 0, 0))
			return -1;
		if (h.type == want) {
			if (payload)
				memcpy(payload, buf, len < h.len ? len : h.len);
			return 0;
		}
	}
	return -1;
}

static int reap(struct run *r)
{
	int st = 0;

	close(r->sock);
	close(r->console);
	if (waitpid(r->pid, &st, 0) < 0)
		return -1;
	return st;
}

/* "Uid:\tA\tB\tC\tD" of pid, all four equal to want. */
static bool ids_are(pid_t pid, const char *field, unsigned want)
{
	char path[64], line[256];
	unsigned a, b, c, d;
	bool ok = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)) &&
		    sscanf(line + strlen(field), "%u %u %u %u", &a, &b, &c, &d) == 4)
			ok = a == want && b == want && c == want && d == want;
	fclose(f);
	return ok;
}

static void test_assigned_identity(void)
{
	struct lvmm_exit x;
	struct run r;

	CHECK_EQ(start(&r, 54321, 54322), 0);
	CHECK_EQ(expect(&r, LVMM_MSG_READY, NULL, 0), 0);
	CHECK(ids_are(r.pid, "Uid:", 54321));
	CHECK(ids_are(r.pid, "Gid:", 54322));
	CHECK_EQ(expect(&r, LVMM_MSG_EXIT, &x, sizeof(x)), 0);
	CHECK_EQ(x.reason, LVMM_EXIT_POWEROFF);
	CHECK_EQ(reap(&r), 0);
}

static void test_unassigned_is_nobody(void)
{
	struct run r;

	CHECK_EQ(start(&r, 0, 0), 0);
	CHECK_EQ(expect(&r, LVMM_MSG_READY, NULL, 0), 0);
	CHECK(ids_are(r.pid, "Uid:", 65534));
	CHECK(ids_are(r.pid, "Gid:", 65534));
	CHECK_EQ(expect(&r, LVMM_MSG_EXIT, NULL, 0), 0);
	reap(&r);
}

/* Half-assigned or -1 (setresuid's "unchanged") would leave root: refused before anything runs. */
static void test_rootish_refused(void)
{
	static const uint32_t bad[][2] = { { 0, 1000 }, { 1000, 0 }, { UINT32_MAX, 1000 },
					   { 1000, UINT32_MAX } };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lvmm_exit x;
		struct run r;

		memset(&x, 0, sizeof(x));
		CHECK_EQ(start(&r, bad[i][0], bad[i][1]), 0);
		CHECK_EQ(expect(&r, LVMM_MSG_EXIT, &x, sizeof(x)), 0);
		CHECK_EQ(x.reason, LVMM_EXIT_SETUP);
		CHECK(strstr(x.detail, "never runs as root") != NULL);
		reap(&r);
	}
}

static void grant_past_ndevs(struct plat_config_msg *m)
{
	m->part.ndevs = 1;
	m->part.devs[0].type = LVMM_DEV_BLK;
	snprintf(m->part.devs[0].id, sizeof(m->part.devs[0].id), "blk0");
	m->grant.granted = 0x3; /* device 1 does not exist */
}

static void bad_dev_fd(struct plat_config_msg *m)
{
	m->part.ndevs = 1;
	m->part.devs[0].type = LVMM_DEV_BLK;
	snprintf(m->part.devs[0].id, sizeof(m->part.devs[0].id), "blk0");
	m->grant.granted = 0x1;
	m->grant.dev_fd[0][0] = 7; /* only 4 fds are sent */
}

static void too_many_devs(struct plat_config_msg *m)
{
	m->part.ndevs = LVMM_MAX_DEVS + 1;
}

/*
 * A measured start (gated, a vTPM in its entry) whose policy grant withholds
 * a virtio device: the trust process measures the guest's command line with
 * that device's virtio_mmio.device= entry (it never learns the grant), so the
 * partition refuses to start rather than boot another command line than the
 * one in PCR 20.
 */
static void measured_blk_withheld(struct plat_config_msg *m)
{
	m->part.ndevs = 2;
	m->part.devs[0].type = LVMM_DEV_TPM;
	snprintf(m->part.devs[0].id, sizeof(m->part.devs[0].id), "tpm0");
	m->part.devs[1].type = LVMM_DEV_BLK;
	snprintf(m->part.devs[1].id, sizeof(m->part.devs[1].id), "blk0");
	m->grant.granted = 0x1; /* the TPM; the policy refused the disk */
	m->grant.dev_fd[0][0] = 4;
	m->grant.flags |= LVMM_PART_F_GATED;
	m->grant.fd_gate = 3;
}

static void test_measured_start_refuses_withheld_device(void)
{
	struct lvmm_exit x;
	struct run r;

	memset(&x, 0, sizeof(x));
	tweak = measured_blk_withheld;
	tpm_sock = true;
	CHECK_EQ(start(&r, 54321, 54321), 0);
	tweak = NULL;
	tpm_sock = false;
	CHECK_EQ(expect(&r, LVMM_MSG_EXIT, &x, sizeof(x)), 0);
	CHECK_EQ(x.reason, LVMM_EXIT_SETUP);
	CHECK_STR(x.detail, "device blk0 refused by the policy: with a vTPM, a partition starts "
		  "only with all its devices");
	reap(&r);
}

/* A malformed message is refused before anything is built: an exit with the reason, never a guest. */
static void test_hostile_config_refused(void)
{
	static const struct {
		void (*fn)(struct plat_config_msg *m);
		const char *why;
	} cases[] = {
		{ grant_past_ndevs, "config: device 1 granted, but the entry has 1 devices" },
		{ bad_dev_fd, "config: device blk0: bad fd index" },
		{ too_many_devs, "config: 13 devices (at most 12)" },
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lvmm_exit x;
		struct run r;

		memset(&x, 0, sizeof(x));
		tweak = cases[i].fn;
		CHECK_EQ(start(&r, 54321, 54321), 0);
		tweak = NULL;
		CHECK_EQ(expect(&r, LVMM_MSG_EXIT, &x, sizeof(x)), 0);
		CHECK_EQ(x.reason, LVMM_EXIT_SETUP);
		CHECK_STR(x.detail, cases[i].why);
		reap(&r);
	}
}

/*
 * fd 0 replaced by a pipe's read end (something no VM opened); the caller
 * checks it is still open, then puts the old fd 0 back. The saved copy's fd.
 */
static int fd0_borrow(void)
{
	int saved = dup(0), p[2];

	if (saved < 0 || pipe(p) || dup2(p[0], 0) != 0)
		return -1;
	close(p[0]);
	close(p[1]);
	return saved;
}

static void fd0_restore(int saved)
{
	if (saved >= 0) {
		dup2(saved, 0);
		close(saved);
	}
}

/*
 * A start that fails before vm_create() (boot_kernel_regions() refusing the
 * kernel) still tears down partition.c's static VM, all zeros: nothing of it
 * is closed, least of all fd 0 (it used to be, three times).
 */
static void test_teardown_before_vm_create_keeps_fd0(void)
{
	static struct vm never_created; /* as partition.c's the_vm before vm_create() */
	int saved = fd0_borrow();

	CHECK(saved >= 0);
	for (unsigned i = 0; i < never_created.nr_vcpus; i++)
		vcpu_destroy(&never_created.vcpus[i]);
	vm_destroy(&never_created);
	vm_destroy(&never_created); /* idempotent */
	CHECK(fcntl(0, F_GETFD) >= 0);
	fd0_restore(saved);
}

/*
 * iothread_init() failing (no fd left for epoll_create1, then none for the
 * eventfd) leaves no fd number behind that iothread_destroy() would close.
 */
static void test_iothread_init_failure_keeps_fd0(void)
{
	static struct iothread t;
	struct rlimit old, rl;
	int saved = fd0_borrow(), next, r;

	CHECK(saved >= 0);
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
	for (int extra = 0; extra < 2; extra++) {
		next = dup(0); /* the lowest free fd: what the next one would get */
		CHECK(next > 0);
		close(next);
		rl = old;
		rl.rlim_cur = (rlim_t)(next + extra); /* extra 0: epoll_create1 fails; 1: the eventfd */
		CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
		r = iothread_init(&t);
		setrlimit(RLIMIT_NOFILE, &old);
		CHECK_EQ(r, -EMFILE);
		CHECK_EQ(t.epfd, -1);
		CHECK_EQ(t.stop_fd, -1);
		iothread_destroy(&t);
		CHECK(fcntl(0, F_GETFD) >= 0);
	}
	fd0_restore(saved);
}

static void count_event(void *opaque, uint32_t events)
{
	(void)events;
	__atomic_add_fetch((int *)opaque, 1, __ATOMIC_SEQ_CST);
}

/*
 * A held I/O thread (a partition's, until its sandbox is on) handles no fd
 * before iothread_release(); one never released still ends on iothread_stop().
 */
static void test_iothread_held_until_released(void)
{
	static struct iothread t;
	uint64_t one = 1;
	int ev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), seen = 0, i;

	for (int release = 1; release >= 0; release--) {
		seen = 0;
		CHECK_EQ(iothread_init(&t), 0);
		CHECK_EQ(iothread_add(&t, ev, EPOLLIN, count_event, &seen), 0);
		t.hold = true;
		CHECK(write(ev, &one, sizeof(one)) == sizeof(one));
		CHECK_EQ(iothread_start(&t), 0);
		usleep(50000);
		CHECK_EQ(__atomic_load_n(&seen, __ATOMIC_SEQ_CST), 0);
		if (release) {
			iothread_release(&t);
			for (i = 0; i < 200 && !__atomic_load_n(&seen, __ATOMIC_SEQ_CST); i++)
				usleep(5000);
			CHECK(__atomic_load_n(&seen, __ATOMIC_SEQ_CST) > 0);
		}
		iothread_stop(&t); /* returns: the held thread is let go to see the stop */
		iothread_destroy(&t);
		CHECK_EQ(t.hold_fd, -1);
		CHECK(read(ev, &one, sizeof(one)) == sizeof(one));
	}
	close(ev);
}

int main(void)
{
	const char *lvmm = getenv("LVMM"), *build = getenv("BUILD");

	snprintf(lvmm_path, sizeof(lvmm_path), "%s", lvmm ? lvmm : "build/lvmm");
	snprintf(guest_path, sizeof(guest_path), "%s/guests/hello.elf", build ? build : "build");
	signal(SIGPIPE, SIG_IGN);
	/* In this process: no KVM needed. */
	RUN(test_teardown_before_vm_create_keeps_fd0);
	RUN(test_iothread_init_failure_keeps_fd0);
	RUN(test_iothread_held_until_released);
	if (access("/dev/kvm", R_OK | W_OK) || geteuid() != 0 || access(lvmm_path, X_OK) ||
	    access(guest_path, R_OK)) {
		printf("skip - test_partition: needs /dev/kvm, root, %s and %s\n", lvmm_path, guest_path);
		return unit_done();
	}
	RUN(test_assigned_identity);
	RUN(test_unassigned_is_nobody);
	RUN(test_rootish_refused);
	RUN(test_hostile_config_refused);
	RUN(test_measured_start_refuses_withheld_device);
	return unit_done();
}
