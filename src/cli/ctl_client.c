// SPDX-License-Identifier: MIT
/*
 * lvmm ctl SOCKET OP [ARGS]: send one request line to a running platform's
 * control socket and print the JSON answer. Exit status 0 when the answer
 * says "ok":true, 1 when it reports an error, 2 for usage or connection
 * problems.
 */
#include "cli/ctl_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

const char ctl_usage[] =
	"Usage: lvmm ctl SOCKET OP [ARGS]\n"
	"\n"
	"Controls a platform started with 'lvmm run ... --control SOCKET' (or control: in\n"
	"the platform file). Prints the answer as one JSON object.\n"
	"\n"
	"Operations:\n"
	"  list                    partitions (state, pid, role, restarts) and links\n"
	"  status PARTITION        exits by reason, DMA faults, per-device counters\n"
	"  pause PARTITION         stop running its vCPUs (devices stay)\n"
	"  resume PARTITION\n"
	"  stop PARTITION          stop it (its restart policy does not apply)\n"
	"  start PARTITION         start a partition that has ended\n"
	"  restart PARTITION       stop it and start it again\n"
	"  link-down LINK          cut a link (both ends see link down)\n"
	"  link-up LINK\n"
	"  isolate PARTITION       bring down every link of the partition\n"
	"  policy-load FILE        replace the access-control policy; refused (and nothing\n"
	"                          changes) if anything running would become illegal\n"
	"  acm                     policy name and decision counters\n"
	"  attest PARTITION NONCE_HEX\n"
	"                          PCRs 17-22 of the partition's vTPM, a quote over them with\n"
	"                          the nonce (1-64 bytes in hex), the attestation key and the\n"
	"                          event log (docs/trust.md)\n"
	"  help                    the operations the supervisor knows\n"
	"\n"
	"Exit status: 0 ok, 1 the supervisor refused or failed, 2 usage or no connection.\n";

static char policy_buf[64 * 1024 + 1];
static char buf[128 * 1024]; /* the largest answer: attest with a 64 KiB event log (base64) */

int ctl_client_main(int argc, char **argv)
{
	size_t policy_len = 0;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[1024];
	size_t used = 0, got = 0;
	int fd, i, send_err = 0;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(ctl_usage, stdout);
		return 0;
	}
	if (argc < 3) {
		/* No operation is a usage error, not a request: nothing was done. */
		fputs(ctl_usage, stderr);
		return 2;
	}
	if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "lvmm ctl: socket path too long\n");
		return 2;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	for (i = 2; i < argc; i++) {
		int n = snprintf(req + used, sizeof(req) - used, "%s%s", i > 2 ? " " : "", argv[i]);

		if (n < 0 || (size_t)n >= sizeof(req) - used - 1 || strpbrk(argv[i], " \t\r\n")) {
			fprintf(stderr, "lvmm ctl: bad or too long argument '%s'\n", argv[i]);
			return 2;
		}
		used += (size_t)n;
	}
	req[used++] = '\n';
	/* policy-load FILE: the request carries the file's size, then its bytes. */
	if (argc == 4 && !strcmp(argv[2], "policy-load")) {
		FILE *f = fopen(argv[3], "r");
		size_t n;

		if (!f) {
			fprintf(stderr, "lvmm ctl: %s: %s\n", argv[3], strerror(errno));
			return 2;
		}
		n = fread(policy_buf, 1, sizeof(policy_buf), f);
		fclose(f);
		if (n == 0 || n == sizeof(policy_buf)) {
			fprintf(stderr, "lvmm ctl: %s: a policy is 1 byte to 64 KiB\n", argv[3]);
			return 2;
		}
		used = (size_t)snprintf(req, sizeof(req), "policy-load %zu\n", n);
		policy_len = n;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "lvmm ctl: cannot connect to %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	/*
	 * A supervisor that refuses us (too many clients) answers and closes
	 * before reading: the send then fails, but its answer is still there
	 * to read, so a failed send is reported only if no answer comes.
	 */
	if (send(fd, req, used, MSG_NOSIGNAL) != (ssize_t)used ||
	    (policy_len && send(fd, policy_buf, policy_len, MSG_NOSIGNAL) != (ssize_t)policy_len))
		send_err = errno;
	else
		shutdown(fd, SHUT_WR); /* the whole request is sent */
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 10000) <= 0) {
			fprintf(stderr, "lvmm ctl: no answer within 10 s\n");
			close(fd);
			return 2;
		}
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EOF after the answer (or a reset: what came is kept) */
		got += (size_t)n;
		if (got == sizeof(buf) - 1)
			break;
	}
	close(fd);
	buf[got] = 0;
	if (!got) {
		if (send_err)
			fprintf(stderr, "lvmm ctl: cannot send the request: %s\n", strerror(send_err));
		else
			fprintf(stderr, "lvmm ctl: the supervisor closed the connection without answering\n");
		return 2;
	}
	fputs(buf, stdout);
	if (buf[got - 1] != '\n')
		putchar('\n');
	return strncmp(buf, "{\"ok\":true", 10) ? 1 : 0;
}
