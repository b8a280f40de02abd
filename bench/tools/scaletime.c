// SPDX-License-Identifier: MIT
/*
 * scaletime: start N guests and measure what grows with N (bench/scale.sh).
 *
 *   scaletime lvmm N MARKER SOCKET -- lvmm run PLATFORM
 *       one supervisor whose platform has N partitions named p1..pN; the
 *       control API at SOCKET is used for the latencies.
 *   scaletime qemu N MARKER QMPDIR -- qemu-system-x86_64 ARGS...
 *       N QEMU processes; "@I@" in an argument becomes the instance number,
 *       and each gets -qmp unix:QMPDIR/qmp.I (instance 0's is used).
 *
 * Measured, in this order, and printed as one key=value line:
 *   all_ms       fork of the first process to the moment every guest has
 *                printed a line containing MARKER (its first console line)
 *   sup_rss_kib  lvmm: the supervisor's VmRSS (0 for QEMU)
 *   pss_kib      per guest: sum over every process of Pss - Pss_Shmem
 *                (guest RAM is shmem in both), divided by N
 *   part_kib     the same over lvmm's partition processes only (not the
 *                supervisor, its API front-end): what one more partition
 *                costs (for QEMU the same as pss_kib)
 *   idle_pct     host CPU used by all processes together over IDLE_MS
 *                (utime + stime deltas), in percent of one CPU
 *   status_ms    median over OPS requests: lvmm GET /v1/partitions/p1 on a
 *                kept-alive HTTP connection to its API front-end, against
 *                QMP query-status on an established connection
 *   pause_ms     median over OPS pause + resume pairs (QMP stop + cont)
 *   stop1_ms     stopping one guest: request to its process being gone
 *                (lvmm POST /v1/partitions/p1/stop; QMP quit)
 *   stopall_ms   SIGTERM to every remaining top-level process to the last exit
 *
 * Environment: IDLE_MS (3000), OPS (20), SETTLE_MS (500) before sampling.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXN 256
#define TIMEOUT_MS 120000.0

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int env_int(const char *k, int def)
{
	const char *v = getenv(k);

	return v && *v ? atoi(v) : def;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	if (n <= 0)
		return -1;
	qsort(v, (size_t)n, sizeof(double), cmp);
	return v[n / 2];
}

/* ---- /proc ------------------------------------------------------------- */

/* The "key: N kB" line of /proc/PID/FILE (status, smaps_rollup), in KiB; 0 if none. */
static long proc_kib(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = strtol(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

/* ppid and utime+stime (clock ticks) of pid; -1 if it is gone. */
static int proc_stat(pid_t pid, pid_t *ppid, unsigned long long *ticks)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	int pp = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f) || !(p = strrchr(buf, ')'))) {
		fclose(f);
		return -1;
	}
	fclose(f);
	/* After ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &pp, &ut, &st) != 3)
		return -1;
	*ppid = pp;
	*ticks = ut + st;
	return 0;
}

/* Every pid whose ancestry reaches one of roots[] (roots included). */
static int tree(const pid_t *roots, int nroots, pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0, i;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		pid_t pid = (pid_t)atoi(e->d_name), p = pid, pp;
		unsigned long long t;
		int depth;

		if (pid <= 0)
			continue;
		for (depth = 0; depth < 8 && p > 1; depth++) {
			for (i = 0; i < nroots; i++)
				if (p == roots[i])
					break;
			if (i < nroots) {
				out[n++] = pid;
				break;
			}
			if (proc_stat(p, &pp, &t))
				break;
			p = pp;
		}
	}
	closedir(d);
	return n;
}

static unsigned long long tree_ticks(const pid_t *pids, int n)
{
	unsigned long long sum = 0, t;
	pid_t pp;
	int i;

	for (i = 0; i < n; i++)
		if (!proc_stat(pids[i], &pp, &t))
			sum += t;
	return sum;
}

/* ---- sockets ------------------------------------------------------------ */

static int unix_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read until a line containing want (or any line if want is NULL) has arrived. 0 or -1. */
static int read_until(int fd, const char *want, char *buf, size_t len)
{
	size_t have = 0;

	buf[0] = 0;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, 10000) <= 0)
			return -1;
		r = read(fd, buf + have, len - 1 - have);
		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = 0;
		if (strchr(buf, '\n') && (!want || strstr(buf, want)))
			return 0;
		if (have >= len - 1)
			have = 0; /* drop what we do not need (QMP events) */
	}
}

/*
 * lvmm: one HTTP/1.1 request on the kept-alive connection *fd (opened, or
 * opened again if the front-end closed it, to sock). The answer's body is
 * left in ans. Returns ms or -1 (also when the answer is not "ok":true).
 */
static double lvmm_req(int *fd, const char *sock, const char *method, const char *path,
		       char *ans, size_t len)
{
	double t0 = now_ms();
	char req[512], *hdr_end, *cl;
	size_t have = 0, body = 0, want;
	int n, tries;

	n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n",
		     method, path);
	for (tries = 0; tries < 2; tries++) {
		if (*fd < 0 && (*fd = unix_connect(sock)) < 0)
			return -1;
		if (write(*fd, req, (size_t)n) == n)
			break;
		close(*fd);
		*fd = -1;
	}
	if (*fd < 0)
		return -1;
	/* Headers, then Content-Length bytes of body (the front-end always sends it). */
	ans[0] = 0;
	for (;;) {
		struct pollfd p = { *fd, POLLIN, 0 };
		ssize_t r;

		if (have >= len - 1 || poll(&p, 1, 10000) <= 0)
			goto fail;
		r = read(*fd, ans + have, len - 1 - have);
		if (r <= 0)
			goto fail;
		have += (size_t)r;
		ans[have] = 0;
		hdr_end = strstr(ans, "\r\n\r\n");
		if (!hdr_end)
			continue;
		cl = strcasestr(ans, "\r\nContent-Length:");
		if (!cl || cl > hdr_end)
			goto fail;
		want = (size_t)strtoul(cl + 17, NULL, 10);
		body = (size_t)(hdr_end + 4 - ans);
		if (have - body >= want)
			break;
	}
	memmove(ans, ans + body, have - body + 1);
	if (!strstr(ans, "\"ok\":true"))
		return -1;
	return now_ms() - t0;
fail:
	close(*fd);
	*fd = -1;
	return -1;
}

/* Is pid a partition process (`lvmm __partition ...`)? */
static int is_partition(pid_t pid)
{
	char path[64], buf[256];
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return 0;
	buf[r] = 0;
	/* argv[1], after argv[0]'s NUL */
	return strlen(buf) + 1 < (size_t)r && !strcmp(buf + strlen(buf) + 1, "__partition");
}

static double qmp_req(int fd, const char *cmd, char *ans, size_t len)
{
	double t0 = now_ms();

	if (write(fd, cmd, strlen(cmd)) < 0 || read_until(fd, "\"return\"", ans, len))
		return -1;
	return now_ms() - t0;
}

/* ---- guests ------------------------------------------------------------- */

struct inst {
	pid_t pid;
	int out;       /* its stdout */
	char tail[256];
	int seen;      /* marker lines seen */
};

static pid_t spawn(char **argv, int *out)
{
	int pfd[2];
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(pfd[1], 1);
		dup2(null, 0);
		dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	*out = pfd[0];
	return pid;
}

/* Count marker lines in new output; the tail keeps a line split across reads. */
static void scan(struct inst *in, const char *marker, const char *buf, size_t n)
{
	size_t tl = strlen(in->tail), i;

	for (i = 0; i < n; i++) {
		char c = buf[i];

		if (c == '\n') {
			if (strstr(in->tail, marker))
				in->seen++;
			tl = 0;
		} else if (tl < sizeof(in->tail) - 1) {
			in->tail[tl++] = c;
		}
		in->tail[tl] = 0;
	}
}

/* Drain whatever the guests print (so no pipe fills up), without blocking. */
static void drain(struct inst *ins, int n, const char *marker)
{
	char buf[4096];
	int i;

	for (i = 0; i < n; i++) {
		ssize_t r;

		while ((r = read(ins[i].out, buf, sizeof(buf))) > 0)
			scan(&ins[i], marker, buf, (size_t)r);
	}
}

static void sleep_drain(struct inst *ins, int n, const char *marker, int ms)
{
	double end = now_ms() + ms;

	while (now_ms() < end) {
		usleep(20000);
		drain(ins, n, marker);
	}
}

int main(int argc, char **argv)
{
	static struct inst ins[MAXN];
	static pid_t pids[4096];
	static char ans[65536], argbuf[MAXN][64][256];
	const char *mode, *marker, *where;
	int n, want, i, k, ops = env_int("OPS", 20), idle_ms = env_int("IDLE_MS", 3000);
	int ninst, npids, qmp = -1, lfd = -1, cmd0;
	double t0, all_ms = -1, st[256], pr[256], stop1 = -1, stopall;
	long sup_rss = 0, pss = 0, part_pss = 0;
	unsigned long long c0 = 0, c1 = 0;
	pid_t p1 = 0;

	if (argc < 7 || strcmp(argv[5], "--") || (strcmp(argv[1], "lvmm") && strcmp(argv[1], "qemu"))) {
		fprintf(stderr, "usage: scaletime lvmm|qemu N MARKER SOCKET|QMPDIR -- COMMAND ARGS...\n");
		return 2;
	}
	mode = argv[1];
	n = atoi(argv[2]);
	marker = argv[3];
	where = argv[4];
	cmd0 = 6;
	if (n < 1 || n > MAXN || ops < 1 || ops > 256 || argc - cmd0 > 60)
		return 2;
	signal(SIGPIPE, SIG_IGN);

	t0 = now_ms();
	if (!strcmp(mode, "lvmm")) {
		ninst = 1;
		want = n;
		ins[0].pid = spawn(argv + cmd0, &ins[0].out);
	} else {
		ninst = n;
		want = 1;
		for (i = 0; i < n; i++) {
			char *a[72];
			int j, m = 0;

			for (j = cmd0; j < argc; j++) {
				char *at = strstr(argv[j], "@I@");

				if (at)
					snprintf(argbuf[i][m], sizeof(argbuf[i][m]), "%.*s%d%s",
						 (int)(at - argv[j]), argv[j], i, at + 3);
				else
					snprintf(argbuf[i][m], sizeof(argbuf[i][m]), "%s", argv[j]);
				a[m] = argbuf[i][m];
				m++;
			}
			a[m++] = (char *)"-qmp";
			snprintf(argbuf[i][m], sizeof(argbuf[i][m]), "unix:%s/qmp.%d,server=on,wait=off",
				 where, i);
			a[m] = argbuf[i][m];
			m++;
			a[m] = NULL;
			ins[i].pid = spawn(a, &ins[i].out);
		}
	}
	for (i = 0; i < ninst; i++)
		fcntl(ins[i].out, F_SETFL, O_NONBLOCK);

	/* Every guest's first console line. */
	for (;;) {
		struct pollfd p[MAXN];
		int done = 0;

		for (i = 0; i < ninst; i++) {
			p[i] = (struct pollfd){ ins[i].out, POLLIN, 0 };
			done += ins[i].seen >= want;
		}
		if (done == ninst) {
			all_ms = now_ms() - t0;
			break;
		}
		if (now_ms() - t0 > TIMEOUT_MS || poll(p, (nfds_t)ninst, 1000) < 0)
			break;
		for (i = 0; i < ninst; i++) {
			char buf[4096];
			ssize_t r;

			if (!(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			r = read(ins[i].out, buf, sizeof(buf));
			if (r > 0)
				scan(&ins[i], marker, buf, (size_t)r);
			else if (r == 0 && ins[i].seen < want)
				goto ended; /* it exited before every guest came up */
		}
	}
ended:
	if (all_ms < 0) {
		fprintf(stderr, "scaletime: not every guest printed '%s' in time\n", marker);
		goto out;
	}

	sleep_drain(ins, ninst, marker, env_int("SETTLE_MS", 500));
	{
		pid_t roots[MAXN];

		for (i = 0; i < ninst; i++)
			roots[i] = ins[i].pid;
		npids = tree(roots, ninst, pids, 4096);
	}
	if (!strcmp(mode, "lvmm"))
		sup_rss = proc_kib(ins[0].pid, "status", "VmRSS");
	for (i = 0; i < npids; i++) {
		long k = proc_kib(pids[i], "smaps_rollup", "Pss") - proc_kib(pids[i], "smaps_rollup", "Pss_Shmem");

		pss += k;
		/* lvmm's supervisor, its API front-end and helpers are not per partition */
		if (!strcmp(mode, "qemu") || is_partition(pids[i]))
			part_pss += k;
	}

	c0 = tree_ticks(pids, npids);
	{
		double w0 = now_ms();

		sleep_drain(ins, ninst, marker, idle_ms);
		c1 = tree_ticks(pids, npids);
		idle_ms = (int)(now_ms() - w0);
	}

	/* Control latencies on the first guest. */
	if (!strcmp(mode, "qemu")) {
		char path[256];

		snprintf(path, sizeof(path), "%s/qmp.0", where);
		qmp = unix_connect(path);
		if (qmp < 0 || read_until(qmp, "QMP", ans, sizeof(ans)) ||
		    qmp_req(qmp, "{\"execute\":\"qmp_capabilities\"}\n", ans, sizeof(ans)) < 0) {
			fprintf(stderr, "scaletime: QMP: cannot talk to %s\n", path);
			goto out;
		}
	}
	for (k = 0; k < ops; k++) {
		double a, b;

		if (qmp < 0) {
			st[k] = lvmm_req(&lfd, where, "GET", "/v1/partitions/p1", ans, sizeof(ans));
			a = lvmm_req(&lfd, where, "POST", "/v1/partitions/p1/pause", ans, sizeof(ans));
			b = lvmm_req(&lfd, where, "POST", "/v1/partitions/p1/resume", ans, sizeof(ans));
		} else {
			st[k] = qmp_req(qmp, "{\"execute\":\"query-status\"}\n", ans, sizeof(ans));
			a = qmp_req(qmp, "{\"execute\":\"stop\"}\n", ans, sizeof(ans));
			b = qmp_req(qmp, "{\"execute\":\"cont\"}\n", ans, sizeof(ans));
		}
		if (st[k] < 0 || a < 0 || b < 0) {
			fprintf(stderr, "scaletime: control request failed: %.200s\n", ans);
			goto out;
		}
		pr[k] = a + b;
		drain(ins, ninst, marker);
	}

	/* Stop one guest: request to its process being gone. */
	if (qmp < 0) {
		char *s;

		if (lvmm_req(&lfd, where, "GET", "/v1/partitions", ans, sizeof(ans)) >= 0 &&
		    (s = strstr(ans, "\"name\":\"p1\"")) && (s = strstr(s, "\"pid\":")))
			p1 = (pid_t)atoi(s + 6);
		if (p1 > 0) {
			double a = now_ms();

			if (lvmm_req(&lfd, where, "POST", "/v1/partitions/p1/stop", ans, sizeof(ans)) >= 0) {
				while (kill(p1, 0) == 0 && now_ms() - a < 10000)
					usleep(200);
				stop1 = now_ms() - a;
			}
		}
	} else {
		double a = now_ms();
		int stt;

		if (write(qmp, "{\"execute\":\"quit\"}\n", 19) > 0 && waitpid(ins[0].pid, &stt, 0) > 0) {
			stop1 = now_ms() - a;
			ins[0].pid = 0;
		}
		close(qmp);
	}
	if (lfd >= 0)
		close(lfd);

	/* Stop the rest. */
out:
	stopall = now_ms();
	for (i = 0; i < ninst; i++)
		if (ins[i].pid > 0)
			kill(ins[i].pid, SIGTERM);
	for (i = 0; i < ninst; i++) {
		int stt;

		if (ins[i].pid > 0)
			waitpid(ins[i].pid, &stt, 0);
	}
	stopall = now_ms() - stopall;
	if (all_ms < 0 || stop1 < 0)
		return 1;
	printf("n=%d all_ms=%.1f sup_rss_kib=%ld pss_kib=%ld part_kib=%ld idle_pct=%.2f status_ms=%.3f "
	       "pause_ms=%.3f stop1_ms=%.1f stopall_ms=%.1f\n",
	       n, all_ms, sup_rss, pss / n, part_pss / n,
	       100.0 * (double)(c1 - c0) / (double)sysconf(_SC_CLK_TCK) / (idle_ms / 1000.0),
	       median(st, ops), median(pr, ops), stop1, stopall);
	return 0;
}
