// SPDX-License-Identifier: MIT
/* swtpm process and control-channel client; see swtpm.h and docs/trust.md. */
#include "trust/swtpm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <grp.h>

#include "common/log.h"
#include "trust/tpm2.h"

#define SWTPM_DEFAULT_BINARY "/usr/bin/swtpm"
#define CTRL_FD_IN_CHILD 3

/* ---- I/O with a deadline ---------------------------------------------------- */

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = now_ns();

	if (now >= deadline)
		return 0;
	return (int)MIN((deadline - now + 999999) / 1000000, (uint64_t)INT32_MAX);
}

static int wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	for (;;) {
		int ms = remaining_ms(deadline);

		if (!ms)
			return -ETIMEDOUT;
		r = poll(&p, 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		if (p.revents & (events | POLLHUP | POLLERR))
			return 0;
	}
}

int trust_write_all(int fd, const void *buf, size_t len, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000;
	const uint8_t *p = buf;
	ssize_t n;
	int r;

	while (len) {
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		r = wait_fd(fd, POLLOUT, deadline);
		if (r)
			return r;
	}
	return 0;
}

int trust_read_all(int fd, void *buf, size_t len, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000;
	uint8_t *p = buf;
	ssize_t n;
	int r;

	while (len) {
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = wait_fd(fd, POLLIN, deadline);
		if (r)
			return r;
	}
	return 0;
}

/* True if the peer sent more than we read: the channel is out of step. */
static bool bytes_pending(int fd)
{
	uint8_t b;

	return recv(fd, &b, 1, MSG_DONTWAIT | MSG_PEEK) > 0;
}

static void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- control commands --------------------------------------------------------- */

/*
 * One control command: code + request in a single send (swtpm reads a
 * command with one read()), then the reply: its 4-byte result first and,
 * if that is success, the rest (rsp_extra bytes). On an error swtpm sends
 * only the result.
 */
static int ctrl_cmd(struct swtpm *t, uint32_t cmd, const void *req, size_t reqlen, void *extra,
		    size_t extralen)
{
	uint8_t msg[4 + 4 + SWTPM_HASH_CHUNK], res[4];
	int r;

	if (t->ctrl_fd < 0)
		return -EBADF;
	if (reqlen > sizeof(msg) - 4)
		return -EINVAL;
	be32_put(msg, cmd);
	if (reqlen)
		memcpy(msg + 4, req, reqlen);
	r = trust_write_all(t->ctrl_fd, msg, 4 + reqlen, t->timeout_ms);
	if (!r)
		r = trust_read_all(t->ctrl_fd, res, sizeof(res), t->timeout_ms);
	if (r)
		return r;
	t->last_result = be32_get(res);
	if (t->last_result)
		return bytes_pending(t->ctrl_fd) ? -EPROTO : -EREMOTEIO;
	if (extralen) {
		r = trust_read_all(t->ctrl_fd, extra, extralen, t->timeout_ms);
		if (r)
			return r;
	}
	return bytes_pending(t->ctrl_fd) ? -EPROTO : 0;
}

int swtpm_get_capability(struct swtpm *t, uint64_t *caps)
{
	uint8_t msg[4], rsp[8];
	int r;

	if (t->ctrl_fd < 0)
		return -EBADF;
	/* The one reply without a result code: 8 bytes of capability bits. */
	be32_put(msg, SWTPM_CMD_GET_CAPABILITY);
	r = trust_write_all(t->ctrl_fd, msg, sizeof(msg), t->timeout_ms);
	if (!r)
		r = trust_read_all(t->ctrl_fd, rsp, sizeof(rsp), t->timeout_ms);
	if (r)
		return r;
	if (bytes_pending(t->ctrl_fd))
		return -EPROTO;
	*caps = (uint64_t)be32_get(rsp) << 32 | be32_get(rsp + 4);
	t->last_result = 0;
	return 0;
}

int swtpm_init(struct swtpm *t, uint32_t flags)
{
	uint8_t req[4];

	be32_put(req, flags);
	return ctrl_cmd(t, SWTPM_CMD_INIT, req, sizeof(req), NULL, 0);
}

int swtpm_ctrl_stop(struct swtpm *t)
{
	return ctrl_cmd(t, SWTPM_CMD_STOP, NULL, 0, NULL, 0);
}

int swtpm_shutdown(struct swtpm *t)
{
	return ctrl_cmd(t, SWTPM_CMD_SHUTDOWN, NULL, 0, NULL, 0);
}

int swtpm_set_locality(struct swtpm *t, uint8_t locality)
{
	if (locality > 4)
		return -EINVAL;
	return ctrl_cmd(t, SWTPM_CMD_SET_LOCALITY, &locality, 1, NULL, 0);
}

int swtpm_set_buffersize(struct swtpm *t, uint32_t want, uint32_t *actual, uint32_t *min,
			 uint32_t *max)
{
	uint8_t req[4], rsp[12];
	int r;

	be32_put(req, want);
	r = ctrl_cmd(t, SWTPM_CMD_SET_BUFFERSIZE, req, sizeof(req), rsp, sizeof(rsp));
	if (r)
		return r;
	if (actual)
		*actual = be32_get(rsp);
	if (min)
		*min = be32_get(rsp + 4);
	if (max)
		*max = be32_get(rsp + 8);
	return 0;
}

int swtpm_set_datafd(struct swtpm *t, int fd)
{
	uint8_t msg[4], res[4];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { msg, sizeof(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c;
	ssize_t n;
	int r;

	if (t->ctrl_fd < 0 || fd < 0)
		return -EBADF;
	memset(&ctl, 0, sizeof(ctl));
	be32_put(msg, SWTPM_CMD_SET_DATAFD);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	r = wait_fd(t->ctrl_fd, POLLOUT, now_ns() + (uint64_t)t->timeout_ms * 1000000);
	if (r)
		return r;
	do {
		n = sendmsg(t->ctrl_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(msg))
		return -EIO;
	r = trust_read_all(t->ctrl_fd, res, sizeof(res), t->timeout_ms);
	if (r)
		return r;
	t->last_result = be32_get(res);
	if (bytes_pending(t->ctrl_fd))
		return -EPROTO;
	return t->last_result ? -EREMOTEIO : 0;
}

int swtpm_hash_sequence(struct swtpm *t, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint8_t req[4 + SWTPM_HASH_CHUNK];
	int r;

	r = ctrl_cmd(t, SWTPM_CMD_HASH_START, NULL, 0, NULL, 0);
	/* Bounded: len / 4096 + 1 chunks. An empty sequence is allowed (HASH_DATA is skipped). */
	while (!r && len) {
		size_t k = MIN(len, (size_t)SWTPM_HASH_CHUNK);

		be32_put(req, (uint32_t)k);
		memcpy(req + 4, p, k);
		r = ctrl_cmd(t, SWTPM_CMD_HASH_DATA, req, 4 + k, NULL, 0);
		p += k;
		len -= k;
	}
	if (!r)
		r = ctrl_cmd(t, SWTPM_CMD_HASH_END, NULL, 0, NULL, 0);
	return r;
}

/* ---- data channel ------------------------------------------------------------ */

int swtpm_transact(struct swtpm *t, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t cap,
		   size_t *rsp_len)
{
	uint32_t size;
	int r;

	if (t->data_fd < 0)
		return -EBADF;
	if (len < TPM2_HDR_LEN || cap < TPM2_HDR_LEN)
		return -EINVAL;
	/* One send: swtpm takes whatever one read() returns (>= 10 bytes) as the command. */
	r = trust_write_all(t->data_fd, cmd, len, t->timeout_ms);
	if (!r)
		r = trust_read_all(t->data_fd, rsp, TPM2_HDR_LEN, t->timeout_ms);
	if (r)
		return r;
	size = be32_get(rsp + 2);
	if (size < TPM2_HDR_LEN || size > cap)
		return -EPROTO;
	r = trust_read_all(t->data_fd, rsp + TPM2_HDR_LEN, size - TPM2_HDR_LEN, t->timeout_ms);
	if (r)
		return r;
	*rsp_len = size;
	return 0;
}

/* ---- process -------------------------------------------------------------------- */

int swtpm_build_argv(const struct swtpm_params *p, int ctrl_fd_num, char *strbuf, size_t cap,
		     char **argv, size_t max)
{
	static const char *const fixed[] = {
		"socket", "--tpm2",
		/* End when the data channel closes: the supervisor died or let go of us. */
		"--terminate",
		"--seccomp", "action=kill",
		/* Nobody may select locality 4: lvmm's own measurements use 2 and the hash sequence. */
		"--locality", "reject-locality-4",
	};
	const char *dir = p->state_dir ? p->state_dir : p->state_dir_fd > 2 ? "." : NULL;
	size_t used = 0, n = 0, i;
	int k;

	if (!dir || !*dir || strchr(dir, ','))
		return -EINVAL;
	if (max < 1 + ARRAY_SIZE(fixed) + 4 + 1)
		return -ENOSPC;
	argv[n++] = (char *)(p->binary ? p->binary : SWTPM_DEFAULT_BINARY);
	for (i = 0; i < ARRAY_SIZE(fixed); i++)
		argv[n++] = (char *)fixed[i];
	argv[n++] = (char *)"--tpmstate";
	k = snprintf(strbuf + used, cap - used, "dir=%s,mode=0600", dir);
	if (k < 0 || (size_t)k >= cap - used)
		return -ENOSPC;
	argv[n++] = strbuf + used;
	used += (size_t)k + 1;
	argv[n++] = (char *)"--ctrl";
	k = snprintf(strbuf + used, cap - used, "type=unixio,clientfd=%d", ctrl_fd_num);
	if (k < 0 || (size_t)k >= cap - used)
		return -ENOSPC;
	argv[n++] = strbuf + used;
	argv[n] = NULL;
	return 0;
}

/*
 * The state files of an earlier run belong to the identity it had; a new
 * run may get another one from the allocator. Only plain files that live
 * in this directory alone (one link, not root's) are handed over: a hard
 * link planted by a compromised swtpm cannot make lvmm give away another
 * file. Bounded: swtpm keeps four files here.
 */
static int chown_state_files(int dirfd, uid_t uid, gid_t gid)
{
	struct dirent *de;
	unsigned n = 0;
	int r = 0, fd = dup(dirfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);

	if (!d) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	while (!r && n++ < 256 && (de = readdir(d))) {
		struct stat st;

		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode) ||
		    st.st_nlink != 1 || st.st_uid == 0 || (st.st_uid == uid && st.st_gid == gid))
			continue;
		if (fchownat(dirfd, de->d_name, uid, gid, AT_SYMLINK_NOFOLLOW))
			r = -errno;
	}
	closedir(d);
	return r;
}

int swtpm_prepare_state_dir(const char *dir, uid_t uid, gid_t gid)
{
	struct stat st;
	int fd, r = 0;

	if (!dir || !*dir)
		return -EINVAL;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	/* O_NOFOLLOW + fstat: act on the directory itself, never through a symlink. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	if (fstat(fd, &st)) {
		r = -errno;
		goto out;
	}
	if (uid && (st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid)) {
		r = -errno;
		goto out;
	}
	if (uid)
		r = chown_state_files(fd, uid, gid);
	if (r)
		goto out;
	if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700))
		r = -errno;
out:
	close(fd);
	return r;
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void child_exec(int ctrl, const struct swtpm_params *p, char **argv, pid_t parent)
{
	static char *const envp[] = { NULL };
	sigset_t all;
	int devnull, sig;

	/* Its own session: a terminal's or process group's signals are not for it. */
	setsid();
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL); /* ignored signals would stay ignored across exec */
	if (dup2(ctrl, CTRL_FD_IN_CHILD) < 0)
		_exit(127);
	if (!p->state_dir && fchdir(p->state_dir_fd) < 0)
		_exit(127);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0)
		_exit(127);
	if (p->stderr_fd >= 0 && dup2(p->stderr_fd, 2) < 0)
		_exit(127);
	/* Only 0-3 cross the exec. */
	if (syscall(SYS_close_range, CTRL_FD_IN_CHILD + 1, ~0U, 0)) {
		for (int fd = CTRL_FD_IN_CHILD + 1; fd < 4096; fd++)
			close(fd);
	}
	/*
	 * Drop to the partition's identity here instead of swtpm's --runas:
	 * any uid change clears PR_SET_PDEATHSIG, which must survive so that
	 * swtpm cannot outlive a supervisor that dies before handing it the
	 * data channel (after that, --terminate covers it).
	 */
	if (p->uid && !geteuid()) {
		if (setgroups(0, NULL) || setresgid(p->gid, p->gid, p->gid) ||
		    setresuid(p->uid, p->uid, p->uid))
			_exit(126);
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(125);
	execve(argv[0], argv, envp);
	_exit(127);
}

int swtpm_launch(struct swtpm *t, const struct swtpm_params *p)
{
	char *argv[SWTPM_ARGV_MAX];
	char strbuf[4352];
	int ctrl[2], data[2], r;
	pid_t parent = getpid();

	*t = (struct swtpm){ .ctrl_fd = -1, .data_fd = -1, .pend = { -1, -1 },
			     .timeout_ms = SWTPM_TIMEOUT_MS };
	r = swtpm_build_argv(p, CTRL_FD_IN_CHILD, strbuf, sizeof(strbuf), argv, ARRAY_SIZE(argv));
	if (r)
		return r;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctrl))
		return -errno;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, data)) {
		r = -errno;
		goto err_ctrl;
	}
	t->pid = fork();
	if (t->pid < 0) {
		r = -errno;
		t->pid = 0;
		goto err_data;
	}
	if (!t->pid)
		child_exec(ctrl[1], p, argv, parent);
	close(ctrl[1]);
	t->ctrl_fd = ctrl[0];
	t->pend[0] = data[0];
	t->pend[1] = data[1];
	return 0;

err_data:
	close(data[0]);
	close(data[1]);
err_ctrl:
	close(ctrl[0]);
	close(ctrl[1]);
	return r;
}

int swtpm_connect(struct swtpm *t, uint32_t buffer_size)
{
	uint32_t actual = 0;
	int r;

	if (t->data_fd >= 0)
		return 0;
	if (t->pid <= 0 || t->pend[1] < 0)
		return -ENOTCONN;
	/* The first answer waits for swtpm's exec and its own start-up. */
	r = swtpm_get_capability(t, &t->caps);
	if (!r && (t->caps & SWTPM_CAPS_NEEDED) != SWTPM_CAPS_NEEDED)
		r = -ENOTSUP;
	if (!r)
		r = swtpm_set_datafd(t, t->pend[1]);
	if (r)
		return r;
	close(t->pend[1]);
	t->data_fd = t->pend[0];
	t->pend[0] = t->pend[1] = -1;
	/* Before CMD_INIT: swtpm changes its buffer size only while the TPM is stopped. */
	if (buffer_size) {
		r = swtpm_set_buffersize(t, buffer_size, &actual, NULL, NULL);
		if (!r && actual != buffer_size)
			r = -ERANGE;
	}
	return r;
}

int swtpm_spawn(struct swtpm *t, const struct swtpm_params *p, uint32_t buffer_size)
{
	int r = swtpm_launch(t, p);

	if (!r && (r = swtpm_connect(t, buffer_size)))
		swtpm_stop(t);
	return r;
}

int swtpm_power_on(struct swtpm *t)
{
	int r = swtpm_init(t, 0);

	/* swtpm keeps the locality across CMD_INIT; the guest's is 0. */
	return r ? r : swtpm_set_locality(t, 0);
}

int swtpm_stop(struct swtpm *t)
{
	uint64_t deadline;
	int status = 0, r = -EIO;
	pid_t w = 0;

	if (t->pid > 0 && t->ctrl_fd >= 0 && !swtpm_shutdown(t)) {
		/* CMD_SHUTDOWN: swtpm stores its state and leaves its main loop. */
		deadline = now_ns() + (uint64_t)t->timeout_ms * 1000000;
		while (now_ns() < deadline) {
			w = waitpid(t->pid, &status, WNOHANG);
			if (w != 0)
				break;
			usleep(2000);
		}
	}
	if (t->pid > 0 && w == 0) {
		kill(t->pid, SIGKILL);
		while ((w = waitpid(t->pid, &status, 0)) < 0 && errno == EINTR)
			;
		status = -1;
	}
	if (t->pid > 0 && w == t->pid && WIFEXITED(status) && !WEXITSTATUS(status))
		r = 0;
	if (t->ctrl_fd >= 0)
		close(t->ctrl_fd);
	if (t->data_fd >= 0)
		close(t->data_fd);
	for (unsigned i = 0; i < 2; i++)
		if (t->pend[i] > 0) /* 0: a zeroed struct that was never launched */
			close(t->pend[i]);
	t->ctrl_fd = t->data_fd = t->pend[0] = t->pend[1] = -1;
	t->pid = 0;
	return r;
}

bool swtpm_reaped(struct swtpm *t, int wstatus)
{
	t->pid = 0;
	return WIFEXITED(wstatus) && !WEXITSTATUS(wstatus);
}
