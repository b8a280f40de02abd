// SPDX-License-Identifier: MIT
/*
 * lvmm ctl [SOCKET|NAME] on-sleep [--timeout-ms N] PROGRAM [ARGS...]: the
 * host's side of ACPI S3 (docs/acpi.md, "Sleep"). It follows the event
 * stream and, each time the platform sleeps (platform_sleep: every other
 * partition paused), runs PROGRAM (an absolute path, no shell: the words
 * are its argv) with LVMM_SLEEP_PARTITION=NAME as its only environment and
 * nothing open but stdio, kills it with SIGKILL N ms after it started
 * (default 10,000), and prints its start and end. The supervisor used to
 * run this hook itself, with its own rights, whenever a guest's S3 write
 * and idle service partitions let it; out here the hook runs with whatever
 * rights the operator gives this command, which needs only the API's
 * `events` operation. Ends with the stream (the platform ended: 0).
 */
#include "cli/on_sleep.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/http.h"
#include "common/log.h"

#define HOOK_TIMEOUT_MS 10000
#define HOOK_TIMEOUT_MAX_MS 3600000

struct hook {
	char **argv;
	unsigned timeout_ms;
};

/* Run the hook for partition who and wait for it, at most h->timeout_ms. */
static void run(const struct hook *h, const char *who)
{
	char env0[128], *envp[] = { env0, NULL };
	uint64_t start = now_ns(), kill_at = start + (uint64_t)h->timeout_ms * 1000000ULL;
	bool killed = false;
	int st = 0;
	pid_t pid;

	snprintf(env0, sizeof(env0), "LVMM_SLEEP_PARTITION=%s", who);
	pid = fork();
	if (pid == 0) {
		/* Ends with us (as it ended with the supervisor); only stdio stays open. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		closefrom(3);
		execve(h->argv[0], h->argv, envp);
		_exit(127);
	}
	if (pid < 0) {
		printf("sleep_hook hook=%s error=%s\n", h->argv[0], strerror(errno));
		fflush(stdout);
		return;
	}
	printf("sleep_hook hook=%s pid=%d partition=%s\n", h->argv[0], (int)pid, who);
	fflush(stdout);
	for (;;) {
		struct timespec ts = { 0, 5 * 1000000L };
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (!killed && now_ns() >= kill_at) {
			kill(pid, SIGKILL); /* bounded: reaped below as killed */
			killed = true;
		}
		nanosleep(&ts, NULL);
	}
	if (WIFSIGNALED(st))
		printf("sleep_hook_exit pid=%d signal=%d after_ms=%llu\n", (int)pid, WTERMSIG(st),
		       (unsigned long long)((now_ns() - start) / 1000000));
	else
		printf("sleep_hook_exit pid=%d status=%d after_ms=%llu\n", (int)pid, WEXITSTATUS(st),
		       (unsigned long long)((now_ns() - start) / 1000000));
	fflush(stdout);
}

/* One event line: the hook runs for each platform_sleep. */
static int on_line(const char *s, size_t n, void *ctx)
{
	json_t *o = json_loadb(s, n, 0, NULL);
	const char *ev = o ? json_string_value(json_object_get(o, "event")) : NULL;
	const char *who = o ? json_string_value(json_object_get(o, "partition")) : NULL;

	if (ev && !strcmp(ev, "platform_sleep"))
		run(ctx, who ? who : "");
	json_decref(o);
	return 0;
}

int ctl_on_sleep(const char *sock, int argc, char **argv)
{
	struct hook h = { .timeout_ms = HOOK_TIMEOUT_MS };
	struct http_resp r;
	char err[256];
	struct stat st;
	int i = 1, e;

	if (i + 1 < argc && !strcmp(argv[i], "--timeout-ms")) {
		char *end;
		unsigned long v = strtoul(argv[i + 1], &end, 10);

		if (!argv[i + 1][0] || *end || v < 1 || v > HOOK_TIMEOUT_MAX_MS) {
			fprintf(stderr, "lvmm ctl: on-sleep: --timeout-ms is 1-%d\n", HOOK_TIMEOUT_MAX_MS);
			return 2;
		}
		h.timeout_ms = (unsigned)v;
		i += 2;
	}
	if (i >= argc || argv[i][0] == '-') {
		fprintf(stderr, "lvmm ctl: usage: lvmm ctl [SOCKET|NAME] on-sleep [--timeout-ms N] PROGRAM [ARGS...]\n");
		return 2;
	}
	/* No shell and no PATH search: the program is named exactly. */
	if (argv[i][0] != '/' || stat(argv[i], &st) || !S_ISREG(st.st_mode) || access(argv[i], X_OK)) {
		fprintf(stderr, "lvmm ctl: on-sleep: '%s' is not an executable file given by its absolute path\n",
			argv[i]);
		return 2;
	}
	h.argv = argv + i;
	signal(SIGCHLD, SIG_DFL);
	e = http_follow(sock, "/v1/events", on_line, &h, &r, -1, err, sizeof(err));
	if (e) {
		fprintf(stderr, "lvmm ctl: %s\n", err);
		http_resp_free(&r);
		return 2;
	}
	if (r.status < 200 || r.status >= 300) {
		json_t *o = json_loadb(r.body, r.len, 0, NULL);

		fprintf(stderr, "lvmm ctl: on-sleep: %s\n",
			o && json_string_value(json_object_get(o, "error")) ?
			json_string_value(json_object_get(o, "error")) : "the event stream was refused");
		json_decref(o);
		http_resp_free(&r);
		return 1;
	}
	http_resp_free(&r);
	return 0;
}
