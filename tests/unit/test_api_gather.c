// SPDX-License-Identifier: MIT
/*
 * metrics as the front-end gathers them (src/api/gather.c, metrics.c):
 * the steps it asks the supervisor for and with which subject, the records
 * it answers with (stale, the last counters of the same process, the ACM's
 * counters only after the supervisor gave them), /proc/PID/stat read past a
 * hostile process name and refused for a process that is not the
 * supervisor's child, and the sandbox's one open: beneath /proc, read only.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/api.h"
#include "api/sandbox.h"
#include "unit/unit.h"

/* ---- the supervisor, as gather.c sees it (main.c's side) ---- */

struct lvmm_api_init api_init;
int api_reply_fd = -1;

static struct sent {
	struct lvmm_api_remote_req rq;
	bool remote;
	int conn_fd;
	api_done_fn done;
	void *ctx;
	uint32_t id;
	bool cancelled;
} sent[32];
static unsigned nsent;
static uint32_t ids;

uint32_t api_new_id(void)
{
	return ++ids;
}

int api_submit_raw(struct lvmm_api_remote_req *rq, bool remote, int conn_fd, api_done_fn done,
		   void *ctx, uint32_t *id)
{
	if (nsent == 32)
		return -EAGAIN;
	sent[nsent] = (struct sent){ .rq = *rq, .remote = remote, .conn_fd = conn_fd, .done = done,
				     .ctx = ctx, .id = api_new_id() };
	*id = sent[nsent++].id;
	return 0;
}

void api_cancel(uint32_t id)
{
	unsigned i;

	for (i = 0; i < nsent; i++)
		if (sent[i].id == id)
			sent[i].cancelled = true;
}

/* The caller's answer. */
static struct {
	int calls;
	struct lvmm_api_reply rep;
	struct {
		struct lvmm_api_metrics h;
		struct lvmm_api_metrics_part p[4];
	} blob;
	ssize_t got;
} ans;

static void answered(void *ctx, const struct lvmm_api_reply *r, int err)
{
	(void)ctx, (void)err;
	ans.calls++;
	ans.rep = *r;
	ans.got = api_reply_fd >= 0 ? pread(api_reply_fd, &ans.blob, sizeof(ans.blob), 0) : -1;
}

static struct lvmm_api_reply *reply(uint32_t op, uint32_t body)
{
	static union {
		struct lvmm_api_reply rep;
		char raw[offsetof(struct lvmm_api_reply, u) + sizeof(struct lvmm_api_list)];
	} u;

	memset(&u, 0, sizeof(u));
	u.rep.op = op;
	u.rep.body = body;
	return &u.rep;
}

static void info(struct lvmm_api_part_info *i, const char *name, const char *state, uint32_t pid)
{
	snprintf(i->name, sizeof(i->name), "%s", name);
	snprintf(i->state, sizeof(i->state), "%s", state);
	i->pid = pid;
}

/* The list step's answer: a runs (pid 4242), b is stopped. */
static void answer_list(unsigned step, unsigned n)
{
	struct lvmm_api_reply *r = reply(LVMM_OP_METRICS, LVMM_BODY_LIST);
	struct lvmm_api_list *l = (void *)&r->u;

	l->nparts = n;
	info(&l->parts[0], "a", "running", 4242);
	info(&l->parts[1], "b", "stopped", 0);
	sent[step].done(sent[step].ctx, r, 0);
}

static void answer_part(unsigned step, uint32_t pid, uint64_t io)
{
	struct lvmm_api_reply *r = reply(LVMM_OP_METRICS_PART, LVMM_BODY_PART);

	snprintf(r->u.part.partition, sizeof(r->u.part.partition), "%s", sent[step].rq.q.target);
	snprintf(r->u.part.state, sizeof(r->u.part.state), "running");
	r->u.part.flags = LVMM_API_PART_STATS;
	r->u.part.pid = pid;
	r->u.part.stats.exits_io = io;
	r->u.part.stats.vcpu_ns = 5;
	gather_note(&r->u.part); /* what main.c does with every part answer */
	sent[step].done(sent[step].ctx, r, 0);
}

static void test_gather_steps(void)
{
	struct lvmm_api_remote_req rq = { .q = { .op = LVMM_OP_METRICS, .request_id = "r-1" } };
	struct lvmm_api_reply *r;
	uint32_t id;

	gather_init(-1);
	api_init.nparts = 2;
	nsent = 0;
	memset(&ans, 0, sizeof(ans));
	CHECK_EQ(gather_start(&rq, false, 7, answered, NULL, &id), 0);
	/* 1: which partitions, with the client's subject (its connection) and request id */
	CHECK_EQ(nsent, 1u);
	CHECK_EQ(sent[0].rq.q.op, (uint32_t)LVMM_OP_METRICS);
	CHECK_EQ(sent[0].conn_fd, 7);
	CHECK_STR(sent[0].rq.q.request_id, "r-1");
	answer_list(0, 2);
	/* 2: it sees both: the ACM's counters too; 3: only the running partition, at once */
	CHECK_EQ(nsent, 3u);
	CHECK_EQ(sent[1].rq.q.op, (uint32_t)LVMM_OP_METRICS_ACM);
	CHECK_EQ(sent[2].rq.q.op, (uint32_t)LVMM_OP_METRICS_PART);
	CHECK_STR(sent[2].rq.q.target, "a");
	r = reply(LVMM_OP_METRICS_ACM, LVMM_BODY_ACM);
	snprintf(r->u.acm.policy, sizeof(r->u.acm.policy), "none");
	r->u.acm.decisions = 9;
	sent[1].done(sent[1].ctx, r, 0);
	CHECK_EQ(ans.calls, 0);
	answer_part(2, 4242, 77);
	CHECK_EQ(ans.calls, 1);
	CHECK_EQ(ans.rep.result, 0);
	CHECK_EQ(ans.rep.body, (uint32_t)LVMM_BODY_BLOB);
	CHECK_EQ(ans.rep.u.blob.format, (uint32_t)LVMM_BLOB_METRICS);
	CHECK_EQ((uint64_t)ans.got, sizeof(struct lvmm_api_metrics) + 2 * sizeof(struct lvmm_api_metrics_part));
	CHECK_EQ(ans.blob.h.nparts, 2u);
	CHECK(ans.blob.h.flags & LVMM_API_METRICS_PLATFORM);
	CHECK_EQ(ans.blob.h.acm.decisions, 9u);
	CHECK(ans.blob.p[0].flags & LVMM_API_MREC_STATS);
	CHECK(!(ans.blob.p[0].flags & LVMM_API_MREC_STALE));
	CHECK_EQ(ans.blob.p[0].stats.exits_io, 77u);
	CHECK_EQ(ans.blob.p[1].flags, 0u); /* stopped: nothing but its state */

	/* Again, and a does not answer (the supervisor's 1 s): stale, with its last counters. */
	nsent = 0;
	memset(&ans, 0, sizeof(ans));
	CHECK_EQ(gather_start(&rq, true, 8, answered, NULL, &id), 0);
	CHECK(sent[0].remote);
	answer_list(0, 2);
	sent[1].done(sent[1].ctx, reply(LVMM_OP_METRICS_ACM, LVMM_BODY_ACM), 0);
	r = reply(LVMM_OP_METRICS_PART, LVMM_BODY_NONE);
	r->result = -ETIMEDOUT;
	sent[2].done(sent[2].ctx, r, 0);
	CHECK_EQ(ans.calls, 1);
	CHECK(ans.blob.p[0].flags & LVMM_API_MREC_STALE);
	CHECK(ans.blob.p[0].flags & LVMM_API_MREC_STATS);
	CHECK_EQ(ans.blob.p[0].stats.exits_io, 77u);

	/* A new process of a: the old one's counters are not its. */
	nsent = 0;
	memset(&ans, 0, sizeof(ans));
	CHECK_EQ(gather_start(&rq, false, 7, answered, NULL, &id), 0);
	{
		struct lvmm_api_reply *l = reply(LVMM_OP_METRICS, LVMM_BODY_LIST);
		struct lvmm_api_list *b = (void *)&l->u;

		b->nparts = 1; /* sees only a: no ACM step */
		info(&b->parts[0], "a", "running", 4343);
		sent[0].done(sent[0].ctx, l, 0);
	}
	CHECK_EQ(nsent, 2u);
	CHECK_EQ(sent[1].rq.q.op, (uint32_t)LVMM_OP_METRICS_PART);
	sent[1].done(sent[1].ctx, NULL, -ETIMEDOUT);
	CHECK_EQ(ans.calls, 1);
	CHECK(!(ans.blob.h.flags & LVMM_API_METRICS_PLATFORM));
	CHECK(ans.blob.p[0].flags & LVMM_API_MREC_STALE);
	CHECK(!(ans.blob.p[0].flags & LVMM_API_MREC_STATS));

	/* Refused (policy): the supervisor's reason, no blob. */
	nsent = 0;
	memset(&ans, 0, sizeof(ans));
	CHECK_EQ(gather_start(&rq, false, 7, answered, NULL, &id), 0);
	r = reply(LVMM_OP_METRICS, LVMM_BODY_NONE);
	r->result = -EACCES;
	snprintf(r->error, sizeof(r->error), "denied by policy");
	sent[0].done(sent[0].ctx, r, 0);
	CHECK_EQ(ans.calls, 1);
	CHECK_EQ(ans.rep.result, -EACCES);
	CHECK_STR(ans.rep.error, "denied by policy");

	/* The client left: its steps are cancelled, it is not answered. */
	nsent = 0;
	memset(&ans, 0, sizeof(ans));
	CHECK_EQ(gather_start(&rq, false, 7, answered, NULL, &id), 0);
	CHECK(gather_cancel(id));
	CHECK(sent[0].cancelled);
	CHECK(!gather_cancel(id));
	CHECK_EQ(ans.calls, 0);
}

/* An agent has one request in flight: a step refused for that waits for the others. */
static void test_gather_window(void)
{
	struct lvmm_api_remote_req rq = { .q = { .op = LVMM_OP_METRICS } };
	struct lvmm_api_reply *r, *l;
	struct lvmm_api_list *b;
	uint32_t id;

	nsent = 0;
	memset(&ans, 0, sizeof(ans));
	api_init.nparts = 3;
	CHECK_EQ(gather_start(&rq, false, 7, answered, NULL, &id), 0);
	l = reply(LVMM_OP_METRICS, LVMM_BODY_LIST);
	b = (void *)&l->u;
	b->nparts = 2;
	info(&b->parts[0], "x", "running", 11);
	info(&b->parts[1], "y", "paused", 12);
	sent[0].done(sent[0].ctx, l, 0);
	CHECK_EQ(nsent, 3u); /* both at once */
	r = reply(LVMM_OP_METRICS_PART, LVMM_BODY_NONE);
	r->result = -EAGAIN;
	sent[2].done(sent[2].ctx, r, 0); /* y: too many in flight */
	CHECK_EQ(nsent, 3u);             /* not again while x's is out */
	answer_part(1, 11, 1);
	CHECK_EQ(nsent, 4u);             /* then y again */
	CHECK_STR(sent[3].rq.q.target, "y");
	answer_part(3, 12, 2);
	CHECK_EQ(ans.calls, 1);
	CHECK(!(ans.blob.p[0].flags & LVMM_API_MREC_STALE));
	CHECK(!(ans.blob.p[1].flags & LVMM_API_MREC_STALE));
	CHECK_EQ(ans.blob.p[1].stats.exits_io, 2u);
}

static void test_proc_stat(void)
{
	/* A name with ") " and digits in it: the fields come after the last ')'. */
	static const char stat[] = "4242 (x) R 1 2 3 4 5 6 7 8 9 10 11 12 13) S 777 4242 4242 0 -1 4194560 "
				   "100 0 0 0 250 50 0 0 20 0 3 0 123456 0 0\n";
	uint64_t cpu = 0, start = 0;
	int ppid = 0;

	CHECK_EQ(api_proc_stat(stat, &ppid, &cpu, &start), 0);
	CHECK_EQ(ppid, 777);
	CHECK_EQ(cpu, 300u);
	CHECK_EQ(start, 123456u);
	CHECK_EQ(api_proc_stat("4242 (x) R 1", &ppid, &cpu, &start), -EINVAL);
	CHECK_EQ(api_proc_stat("no parenthesis", &ppid, &cpu, &start), -EINVAL);
}

/* A child of ours is measured; as another process's child it is refused (a reused pid). */
static void test_proc_read(void)
{
	struct lvmm_api_metrics_part m = { 0 };
	int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC), st;
	pid_t c = fork();
	volatile unsigned long spin = 0;

	if (c == 0) {
		while (spin < 200000000UL)
			spin++;
		pause();
		_exit(0);
	}
	CHECK(proc >= 0 && c > 0);
	usleep(300000);
	CHECK_EQ(api_proc_read(proc, c, getpid(), &m), 0);
	CHECK(m.cpu_ns > 0);
	CHECK(m.rss_bytes > 0);
	CHECK(m.uptime_ns > 100000000ULL && m.uptime_ns < 60000000000ULL);
	CHECK_EQ(api_proc_read(proc, c, getpid() + 1, &m), -ESRCH);
	CHECK_EQ(api_proc_read(-1, c, getpid(), &m), -EBADF);
	kill(c, SIGKILL);
	waitpid(c, &st, 0);
	CHECK_EQ(api_proc_read(proc, c, getpid(), &m), -ESRCH); /* gone */
	close(proc);
}

/*
 * The sandbox's one open: a file beneath /proc, read only, relative to the
 * /proc fd. Outside /proc (an absolute path, a magic link out) Landlock
 * refuses it; another fd or other flags kill the process (seccomp).
 */
static int sandboxed(int how)
{
	int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC), st, fd;
	pid_t c = fork();

	if (c == 0) {
		if (api_sandbox_apply(&proc) || proc < 0)
			_exit(10);
		switch (how) {
		case 0: /* what gather.c does */
			fd = openat(proc, "self/stat", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			_exit(fd >= 0 ? 0 : 11);
		case 1: /* absolute: dirfd ignored, Landlock refuses */
			fd = openat(proc, "/etc/hostname", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			_exit(fd < 0 && errno == EACCES ? 0 : 12);
		case 2: /* out through a magic link */
			fd = openat(proc, "self/root/etc/hostname", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			_exit(fd < 0 && errno == EACCES ? 0 : 13);
		case 3: /* writing: seccomp */
			fd = openat(proc, "self/comm", O_RDWR | O_CLOEXEC | O_NOFOLLOW);
			_exit(14);
		case 4: /* another directory fd: seccomp */
			fd = openat(AT_FDCWD, "/proc/self/stat", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			_exit(15);
		case 5: /* what a policy upload does: a memfd, written, sealed */
			fd = memfd_create("u", MFD_CLOEXEC | MFD_ALLOW_SEALING);
			_exit(fd >= 0 && write(fd, "x", 1) == 1 && !fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) &&
			      fcntl(fd, F_GET_SEALS) == F_SEAL_WRITE ? 0 : 16);
		case 6: /* an owner for O_ASYNC: any signal to any process of its uid */
			fcntl(STDERR_FILENO, F_SETOWN, getppid());
			_exit(17);
		case 7: /* the same with the command's high bits set (the kernel reads 32) */
			syscall(SYS_fcntl, STDERR_FILENO, 0x100000000ULL | F_SETOWN, getppid());
			_exit(18);
		case 8: /* a positional write: it could rewrite the supervisor's log on stderr */
			fd = pwrite(STDERR_FILENO, "", 0, 0);
			_exit(19);
		default: /* executable memory */
			mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			_exit(20);
		}
	}
	close(proc);
	if (c < 0 || waitpid(c, &st, 0) != c)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static void test_sandbox_proc_only(void)
{
	CHECK_EQ(sandboxed(0), 0);
	CHECK_EQ(sandboxed(1), 0);
	CHECK_EQ(sandboxed(2), 0);
	CHECK_EQ(sandboxed(3), 100 + SIGSYS);
	CHECK_EQ(sandboxed(4), 100 + SIGSYS);
	CHECK_EQ(sandboxed(5), 0);
	CHECK_EQ(sandboxed(6), 100 + SIGSYS);
	CHECK_EQ(sandboxed(7), 100 + SIGSYS);
	CHECK_EQ(sandboxed(8), 100 + SIGSYS);
	CHECK_EQ(sandboxed(9), 100 + SIGSYS);
}

int main(void)
{
	RUN(test_gather_steps);
	RUN(test_gather_window);
	RUN(test_proc_stat);
	RUN(test_proc_read);
	RUN(test_sandbox_proc_only);
	return unit_done();
}
