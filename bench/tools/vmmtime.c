// SPDX-License-Identifier: MIT
/*
 * vmmtime: run a VMM command N times and report, as medians,
 *   - ms from fork() to the first byte on its stdout (the guest's console),
 *   - ms from fork() to its exit,
 *   - with --rss MS: the VMM's memory overhead, sampled MS after the first
 *     byte: the sum over the process tree of Pss minus Pss_Shmem from
 *     /proc/PID/smaps_rollup. Guest RAM is a memfd in lvmm and a
 *     memory-backend-memfd in QEMU, so it is shmem in both and falls out;
 *     PSS (not RSS) because lvmm's supervisor and partition processes share
 *     one binary's pages, which RSS would count once per process.
 *
 *   vmmtime [--rss MS] N -- COMMAND ARGS...
 * Output (one line, key=value): first_byte_ms=... exit_ms=... overhead_kib=...
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static long status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	FILE *f;
	long v = 0;
	size_t kl = strlen(key);

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = strtol(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int ppid = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 2, "%*c %d", &ppid);
	fclose(f);
	return ppid;
}

/* Pss - Pss_Shmem summed over root and all its descendants. */
static long tree_overhead_kib(pid_t root)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	long sum = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		pid_t pid = (pid_t)atoi(e->d_name), p;

		if (pid <= 0)
			continue;
		for (p = pid; p > 1 && p != root; p = parent_of(p))
			;
		if (p == root)
			sum += status_kib(pid, "Pss") - status_kib(pid, "Pss_Shmem");
	}
	closedir(d);
	return sum;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int n, i, rss_ms = -1, argi = 1;
	double *fb, *ex, *ov;

	if (argc > 3 && !strcmp(argv[1], "--rss")) {
		rss_ms = atoi(argv[2]);
		argi = 3;
	}
	if (argc < argi + 3 || strcmp(argv[argi + 1], "--")) {
		fprintf(stderr, "usage: vmmtime [--rss MS] N -- COMMAND ARGS...\n");
		return 2;
	}
	n = atoi(argv[argi]);
	if (n < 1)
		return 2;
	fb = calloc((size_t)n, sizeof(double));
	ex = calloc((size_t)n, sizeof(double));
	ov = calloc((size_t)n, sizeof(double));
	for (i = 0; i < n; i++) {
		int pfd[2], st;
		double t0, t1 = -1;
		pid_t pid;
		char buf[4096];
		int sampled = 0;

		if (pipe(pfd) < 0)
			return 1;
		t0 = now_ms();
		pid = fork();
		if (pid == 0) {
			int null = open("/dev/null", 0);

			dup2(pfd[1], 1);
			dup2(null, 0);
			close(pfd[0]);
			execvp(argv[argi + 2], argv + argi + 2);
			_exit(127);
		}
		close(pfd[1]);
		for (;;) {
			struct pollfd p = { pfd[0], POLLIN, 0 };
			int timeout = (t1 >= 0 && rss_ms >= 0 && !sampled)
					      ? (int)(t1 + rss_ms - now_ms()) : 100;
			ssize_t r;

			if (timeout < 0)
				timeout = 0;
			if (poll(&p, 1, timeout) == 0) {
				if (t1 >= 0 && rss_ms >= 0 && !sampled && now_ms() >= t1 + rss_ms) {
					ov[i] = (double)tree_overhead_kib(pid);
					sampled = 1;
				}
				continue;
			}
			r = read(pfd[0], buf, sizeof(buf));
			if (r <= 0)
				break;
			if (t1 < 0)
				t1 = now_ms();
		}
		waitpid(pid, &st, 0);
		ex[i] = now_ms() - t0;
		fb[i] = t1 >= 0 ? t1 - t0 : -1;
		close(pfd[0]);
		(void)sampled;
	}
	qsort(fb, (size_t)n, sizeof(double), cmp);
	qsort(ex, (size_t)n, sizeof(double), cmp);
	qsort(ov, (size_t)n, sizeof(double), cmp);
	printf("first_byte_ms=%.2f exit_ms=%.2f", fb[n / 2], ex[n / 2]);
	if (rss_ms >= 0)
		printf(" overhead_kib=%.0f", ov[n / 2]);
	printf("\n");
	return 0;
}
