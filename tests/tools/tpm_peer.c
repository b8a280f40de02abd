// SPDX-License-Identifier: MIT
/*
 * tpm_peer: runs one partition process (`lvmm __partition`) with a TPM
 * device and plays both of its peers, so the partition side of the vTPM
 * can be tested without the supervisor's trust wiring:
 *   - the supervisor: the LVMM_MSG_CONFIG (a platform entry with a TPM
 *     device, and the grant: kernel, guest RAM, console and the TPM
 *     device's fds); READY, events, statistics, EXIT;
 *   - the trust process: the other end of the TPM device's SEQPACKET
 *     socket (LVMM_MSG_TPM_CMD in, LVMM_MSG_TPM_RSP out), answering with
 *     canned TPM responses, or relaying each command to a real swtpm's
 *     data socket (--swtpm PATH, `swtpm socket --server type=unixio,path=PATH`).
 *
 * usage: tpm_peer [options] KERNEL [CMDLINE]
 *   --memory MIB        guest RAM (default 32)
 *   --vcpus N           (default 1)
 *   --initrd FILE
 *   --eventlog FILE     the event log handed to the device (fd[1], sealed memfd)
 *   --measure           measure as lvmm's trust process does (src/trust/measure.c:
 *                       kernel, initrd, command line, platform entry "fake"; no
 *                       verification): the plan's event log is fd[1], its predicted
 *                       PCRs are the canned PCR values, and each is printed as
 *                       "tpm_peer: predicted pcrN=HEX"
 *   --pcr N=HEX         canned SHA-256 value of PCR N (default: bytes N*16+i)
 *   --delay-ms N        canned answers to TPM2_GetRandom come N ms late (default 100)
 *   --close-after N     close the TPM channel when command N arrives (unanswered)
 *   --swtpm PATH        relay commands to swtpm's data socket instead
 *   --cpuid-disable-cx16  hide CX16 (as `lvmm run --cpuid-disable cx16`)
 *   --timeout S         kill the partition after S seconds (default 60)
 *   --stream-channel    a SOCK_STREAM channel (the partition must refuse it)
 *   --two-tpms          a second TPM device (the partition must refuse it)
 * The guest's console goes to stdout; then "tpm_peer: ..." summary lines:
 *   tpm_peer: commands N: 0x17e 0x17b ...   (each command code the peer got)
 *   tpm_peer: device tpm0 commands C errors E ignored-starts I
 *   tpm_peer: exit reason R status S: DETAIL
 * Exit status: the guest's (poweroff) status, 100 + reason otherwise, 99
 * on a harness failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/proto.h"
#include "config/platform.h"
#include "lvmm/proto.h"
#include "trust/manifest.h"
#include "trust/measure.h"

#define MAX_LOGGED 64

static struct {
	const char *lvmm, *kernel, *initrd, *cmdline, *eventlog, *swtpm;
	unsigned memory_mib, vcpus, delay_ms, close_after, timeout_s;
	int hide_cx16, measure, stream_channel, two_tpms;
	uint8_t pcr[24][32];
} o = { .memory_mib = 32, .vcpus = 1, .delay_ms = 100, .timeout_s = 60 };

static uint32_t codes[MAX_LOGGED];
static unsigned ncommands;

static void die(const char *what)
{
	fprintf(stderr, "tpm_peer: %s: %s\n", what, strerror(errno));
	exit(99);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void parse_pcr(const char *arg)
{
	char *e;
	unsigned long n = strtoul(arg, &e, 10);

	if (*e != '=' || n > 23 || strlen(e + 1) != 64) {
		fprintf(stderr, "tpm_peer: --pcr N=HEX (N 0-23, 64 hex digits): %s\n", arg);
		exit(99);
	}
	for (int i = 0; i < 32; i++) {
		int h = hexval(e[1 + 2 * i]), l = hexval(e[2 + 2 * i]);

		if (h < 0 || l < 0) {
			fprintf(stderr, "tpm_peer: not hex: %s\n", arg);
			exit(99);
		}
		o.pcr[n][i] = (uint8_t)(h << 4 | l);
	}
}

static uint8_t logbuf[1 << 17];
static size_t loglen;

/* A sealed memfd with logbuf's bytes (what the supervisor would hand over). */
static int sealed_log(void)
{
	int fd = memfd_create("eventlog", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || write(fd, logbuf, loglen) != (ssize_t)loglen ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		die("event log memfd");
	return fd;
}

static void read_log(const char *path)
{
	int in = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (in < 0)
		die(path);
	n = read(in, logbuf, sizeof(logbuf));
	if (n < 0)
		die(path);
	loglen = (size_t)n;
	close(in);
}

/*
 * The trust process's measurement of this boot set, without a vTPM: the
 * event log it would write and the PCRs it would leave (the canned answers).
 */
static void measure(void)
{
	static const char platform[] = "fake";
	struct measure_input in = { .partition = "tpmtest", .cmdline = o.cmdline,
				    .platform = platform, .platform_len = sizeof(platform) - 1,
				    .outcome = MEASURE_UNVERIFIED };
	static struct measure_plan plan;
	static struct boot_set b;
	uint8_t pcrs[24][SHA256_LEN];
	int kfd = open(o.kernel, O_RDONLY | O_CLOEXEC), ifd = -1;

	if (o.initrd)
		ifd = open(o.initrd, O_RDONLY | O_CLOEXEC);
	if (kfd < 0 || (o.initrd && ifd < 0))
		die("opening the boot images");
	in.boot = &b;
	if (boot_set_hash(&b, o.kernel, kfd, o.initrd, ifd, o.cmdline) ||
	    measure_plan_build(&in, &plan) ||
	    measure_plan_eventlog(&plan, logbuf, sizeof(logbuf), &loglen) ||
	    measure_plan_predict(&plan, pcrs)) {
		fprintf(stderr, "tpm_peer: measuring failed\n");
		exit(99);
	}
	close(kfd);
	if (ifd >= 0)
		close(ifd);
	memcpy(o.pcr, pcrs, sizeof(o.pcr));
	printf("tpm_peer: eventlog %zu bytes\n", loglen);
	for (unsigned p = 17; p <= 22; p++) {
		printf("tpm_peer: predicted pcr%u=", p);
		for (unsigned k = 0; k < SHA256_LEN; k++)
			printf("%02x", pcrs[p][k]);
		printf("\n");
	}
	fflush(stdout);
}

/* ---- canned answers ---------------------------------------------------------- */

static uint32_t answer_error(uint8_t *r, uint32_t rc)
{
	r[0] = 0x80, r[1] = 0x01;
	put_be32(r + 2, 10);
	put_be32(r + 6, rc);
	return 10;
}

/* TPM2_PCR_Read: the SHA-256 bank's selected PCRs (at most 8 per answer, like a TPM). */
static uint32_t answer_pcr_read(const uint8_t *c, uint32_t n, uint8_t *r)
{
	uint32_t off = 10, sel = 0, nd = 0;

	if (n < 20 || be32(c + 10) != 1 || c[14] != 0 || c[15] != 0x0b || c[16] != 3)
		return answer_error(r, 0x1c4); /* TPM_RC_VALUE | parameter 1 */
	sel = (uint32_t)c[17] | (uint32_t)c[18] << 8 | (uint32_t)c[19] << 16;
	r[0] = 0x80, r[1] = 0x01;
	put_be32(r + 6, 0);
	put_be32(r + off, 42); /* pcrUpdateCounter */
	off += 4;
	memcpy(r + off, c + 10, 10); /* pcrSelectionOut = the request's */
	off += 10;
	off += 4; /* TPML_DIGEST count, below */
	for (unsigned i = 0; i < 24 && nd < 8; i++) {
		if (!(sel & (1U << i)))
			continue;
		r[off] = 0, r[off + 1] = 32;
		memcpy(r + off + 2, o.pcr[i], 32);
		off += 34;
		nd++;
	}
	put_be32(r + 24, nd);
	put_be32(r + 2, off);
	return off;
}

static uint32_t answer_getrandom(const uint8_t *c, uint32_t n, uint8_t *r)
{
	uint32_t want = n >= 12 ? (uint32_t)(c[10] << 8 | c[11]) : 0;

	if (want > 32)
		want = 32;
	r[0] = 0x80, r[1] = 0x01;
	put_be32(r + 2, 12 + want);
	put_be32(r + 6, 0);
	r[10] = 0, r[11] = (uint8_t)want;
	for (uint32_t i = 0; i < want; i++)
		r[12 + i] = (uint8_t)(0x5a ^ i);
	return 12 + want;
}

static uint32_t canned(const uint8_t *c, uint32_t n, uint8_t *r)
{
	switch (be32(c + 6)) {
	case 0x17e: return answer_pcr_read(c, n, r);
	case 0x17b: return answer_getrandom(c, n, r);
	case 0x144: return answer_error(r, 0x100); /* Startup: TPM_RC_INITIALIZE, already done */
	default: return answer_error(r, 0x143);    /* TPM_RC_COMMAND_CODE */
	}
}

/* ---- relay to a real swtpm --------------------------------------------------------- */

static int swtpm_fd = -1;

static int sock_read_full(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = read(fd, p, n);

		if (k <= 0)
			return -1;
		p += k, n -= (size_t)k;
	}
	return 0;
}

static uint32_t relay(const uint8_t *c, uint32_t n, uint8_t *r)
{
	uint32_t len;

	if (write(swtpm_fd, c, n) != (ssize_t)n || sock_read_full(swtpm_fd, r, 10))
		return answer_error(r, 0x101);
	len = be32(r + 2);
	if (len < 10 || len > LVMM_TPM_BUF_MAX || sock_read_full(swtpm_fd, r + 10, len - 10))
		return answer_error(r, 0x101);
	return len;
}

static void swtpm_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 30 };

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	swtpm_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (swtpm_fd < 0 || connect(swtpm_fd, (struct sockaddr *)&a, sizeof(a)))
		die(path);
	setsockopt(swtpm_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* ---- the partition ------------------------------------------------------------ */

static pid_t start_partition(int *sup, int *tpm, int *console)
{
	static struct plat_config_msg m;
	struct lvmm_part_grant *g = &m.grant;
	struct plat_part *p = &m.part;
	int sv[2], tv[2], tv2[2], out[2], fds[8], n = 0;
	pid_t pid;

	/* As the supervisor sends it: the entry as it is, and the grant (lifecycle.c). */
	plat_part_defaults(p);
	snprintf(p->name, sizeof(p->name), "tpmtest");
	snprintf(p->cmdline, sizeof(p->cmdline), "%s", o.cmdline);
	p->vcpus = o.vcpus;
	p->mem_bytes = (uint64_t)o.memory_mib << 20;
	memset(g, 0xff, sizeof(*g)); /* every fd index LVMM_NO_FD */
	g->flags = g->granted = g->link_side1 = g->uid = g->gid = 0;
	g->log_level = getenv("TPM_PEER_DEBUG") ? 3 : 1;
	if (o.hide_cx16) {
		p->cpuid_mask[0] = (struct lvmm_cpuid_mask){ .leaf = 1, .subleaf = 0xffffffff,
							     .reg = 2, .bit = 13 };
		p->ncpuid_mask = 1;
	}
	fds[n] = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	g->fd_kvm = n++;
	fds[n] = memfd_create("tpmtest-ram", MFD_CLOEXEC);
	if (fds[n] < 0 || ftruncate(fds[n], (off_t)p->mem_bytes))
		die("guest memory");
	g->fd_mem = n++;
	fds[n] = open(o.kernel, O_RDONLY | O_CLOEXEC);
	g->fd_kernel = n++;
	if (o.initrd) {
		fds[n] = open(o.initrd, O_RDONLY | O_CLOEXEC);
		g->fd_initrd = n++;
	}
	if (pipe2(out, O_CLOEXEC) || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) ||
	    socketpair(AF_UNIX, (o.stream_channel ? SOCK_STREAM : SOCK_SEQPACKET) | SOCK_CLOEXEC, 0,
		       tv) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, tv2))
		die("pipes");
	fds[n] = out[1];
	g->fd_console_out = n++;
	p->ndevs = 1;
	p->devs[0].type = LVMM_DEV_TPM;
	snprintf(p->devs[0].id, sizeof(p->devs[0].id), "tpm0");
	g->granted = 1;
	g->dev_fd[0][0] = n;
	fds[n++] = tv[1];
	if (loglen) {
		g->dev_fd[0][1] = n;
		fds[n++] = sealed_log();
	}
	if (o.two_tpms) {
		p->devs[1] = p->devs[0];
		snprintf(p->devs[1].id, sizeof(p->devs[1].id), "tpm1");
		memcpy(g->dev_fd[1], g->dev_fd[0], sizeof(g->dev_fd[1]));
		g->dev_fd[1][0] = n;
		fds[n++] = tv2[1];
		p->ndevs = 2;
		g->granted = 3;
	}
	for (int i = 0; i < n; i++)
		if (fds[i] < 0)
			die("opening the partition's files");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		char *argv[] = { (char *)o.lvmm, (char *)"__partition", (char *)"tpmtest", NULL };

		if (dup2(sv[1], 3) < 0)
			_exit(127);
		execv(o.lvmm, argv);
		_exit(127);
	}
	close(sv[1]);
	if (proto_send(sv[0], LVMM_MSG_CONFIG, &m, sizeof(m), fds, (unsigned)n, 0)) {
		fprintf(stderr, "tpm_peer: cannot send the configuration\n");
		exit(99);
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
	*sup = sv[0];
	*tpm = tv[0];
	*console = out[0];
	return pid;
}

int main(int argc, char **argv)
{
	static struct lvmm_tpm_msg in, outm;
	static uint8_t buf[LVMM_MSG_MAX_LEN];
	struct lvmm_exit x = { .reason = 0 };
	struct lvmm_ctl_reply stats;
	bool have_exit = false, have_stats = false, pending = false, console_open = true;
	int sup, tpm, console, st = 0, i;
	uint64_t due = 0, deadline;
	pid_t pid;

	o.lvmm = getenv("LVMM") ? getenv("LVMM") : "build/lvmm";
	for (unsigned p = 0; p < 24; p++)
		for (unsigned k = 0; k < 32; k++)
			o.pcr[p][k] = (uint8_t)(p * 16 + k);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--cpuid-disable-cx16")) {
			o.hide_cx16 = 1;
			continue;
		}
		if (!strcmp(a, "--measure")) {
			o.measure = 1;
			continue;
		}
		if (!strcmp(a, "--stream-channel")) {
			o.stream_channel = 1;
			continue;
		}
		if (!strcmp(a, "--two-tpms")) {
			o.two_tpms = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "tpm_peer: %s needs a value\n", a);
			return 99;
		}
		i++;
		if (!strcmp(a, "--memory")) o.memory_mib = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--vcpus")) o.vcpus = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--initrd")) o.initrd = v;
		else if (!strcmp(a, "--eventlog")) o.eventlog = v;
		else if (!strcmp(a, "--pcr")) parse_pcr(v);
		else if (!strcmp(a, "--delay-ms")) o.delay_ms = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--close-after")) o.close_after = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--swtpm")) o.swtpm = v;
		else if (!strcmp(a, "--timeout")) o.timeout_s = (unsigned)strtoul(v, NULL, 10);
		else {
			fprintf(stderr, "tpm_peer: unknown option %s\n", a);
			return 99;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "usage: tpm_peer [options] KERNEL [CMDLINE]\n");
		return 99;
	}
	o.kernel = argv[i];
	o.cmdline = i + 1 < argc ? argv[i + 1] : "";
	signal(SIGPIPE, SIG_IGN);
	if (o.eventlog)
		read_log(o.eventlog);
	if (o.measure)
		measure();
	if (o.swtpm)
		swtpm_connect(o.swtpm);
	pid = start_partition(&sup, &tpm, &console);
	deadline = now_ms() + o.timeout_s * 1000ULL;
	while (!have_exit || console_open) {
		struct pollfd pf[3] = { { sup, POLLIN, 0 }, { tpm, POLLIN, 0 }, { console, POLLIN, 0 } };
		int wait = 200;

		if (now_ms() >= deadline) {
			fprintf(stdout, "tpm_peer: timeout after %u s: killing the partition\n",
				o.timeout_s);
			kill(pid, SIGKILL);
			break;
		}
		if (pending)
			wait = due > now_ms() ? (int)(due - now_ms()) : 0;
		if (poll(pf, 3, wait) < 0 && errno != EINTR)
			die("poll");
		if (pending && now_ms() >= due) {
			if (proto_send(tpm, LVMM_MSG_TPM_RSP, &outm, sizeof(outm), NULL, 0, 0))
				fprintf(stdout, "tpm_peer: could not answer\n");
			pending = false;
		}
		if (pf[2].revents) {
			ssize_t n = read(console, buf, sizeof(buf));

			if (n <= 0) {
				console_open = false;
				close(console);
				console = -1;
			} else {
				fwrite(buf, 1, (size_t)n, stdout);
				fflush(stdout);
			}
		}
		if (pf[0].revents) {
			struct lvmm_msg_hdr h;

			if (proto_recv(sup, &h, buf, sizeof(buf), NULL, 0, 0)) {
				if (!have_exit)
					fprintf(stdout, "tpm_peer: the partition closed its socket\n");
				have_exit = true;
				sup = -1;
			} else if (h.type == LVMM_MSG_EXIT && h.len == sizeof(x)) {
				memcpy(&x, buf, sizeof(x));
				have_exit = true;
			} else if (h.type == LVMM_MSG_CTL_REPLY && h.len == sizeof(stats)) {
				memcpy(&stats, buf, sizeof(stats));
				have_stats = true;
			}
		}
		if (pf[1].revents) {
			struct lvmm_msg_hdr h;
			int r = proto_recv(tpm, &h, &in, sizeof(in), NULL, 0, 0);

			if (r) {
				close(tpm);
				tpm = -1;
			} else if (h.type != LVMM_MSG_TPM_CMD || !lvmm_tpm_msg_ok(&in, h.len)) {
				fprintf(stdout, "tpm_peer: malformed message from the partition\n");
			} else {
				uint32_t code = be32(in.data + 6);

				if (ncommands < MAX_LOGGED)
					codes[ncommands] = code;
				ncommands++;
				if (o.close_after && ncommands == o.close_after) {
					close(tpm);
					tpm = -1;
				} else {
					memset(&outm, 0, sizeof(outm));
					outm.seq = in.seq;
					outm.len = o.swtpm ? relay(in.data, in.len, outm.data)
							   : canned(in.data, in.len, outm.data);
					pending = true;
					due = now_ms() + (!o.swtpm && code == 0x17b ? o.delay_ms : 0);
				}
			}
		}
	}
	waitpid(pid, &st, 0);
	printf("tpm_peer: commands %u:", ncommands);
	for (unsigned k = 0; k < ncommands && k < MAX_LOGGED; k++)
		printf(" 0x%x", codes[k]);
	printf("\n");
	if (have_stats)
		for (unsigned k = 0; k < stats.ndevs && k < LVMM_STATS_MAX_DEVS; k++)
			printf("tpm_peer: device %s commands %llu errors %llu ignored-starts %llu\n",
			       stats.devs[k].id, (unsigned long long)stats.devs[k].reads,
			       (unsigned long long)stats.devs[k].errors,
			       (unsigned long long)stats.devs[k].drops);
	x.detail[sizeof(x.detail) - 1] = 0;
	printf("tpm_peer: exit reason %u status %d: %s", x.reason, x.status, x.detail);
	if (x.reason == LVMM_EXIT_INTERNAL || x.reason == LVMM_EXIT_SHUTDOWN) {
		printf(" (vCPU %u, rip 0x%llx, instruction bytes", x.vcpu, (unsigned long long)x.rip);
		for (unsigned k = 0; k < x.insn_len && k < sizeof(x.insn); k++)
			printf(" %02x", x.insn[k]);
		printf(")");
	}
	printf("\n");
	if (x.reason == LVMM_EXIT_POWEROFF)
		return x.status & 0xff;
	return 100 + (int)x.reason;
}
