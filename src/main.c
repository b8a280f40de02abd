// SPDX-License-Identifier: MIT
/*
 * lvmm command line: run, check, ctl, measure, and the internal entries the
 * supervisor re-executes: __partition (each partition process) and __trust
 * (each partition's trust process).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cpufeatures.h"
#include "common/log.h"
#include "shared/parse.h"
#include "cli/console.h"
#include "cli/ctl_client.h"
#include "cli/top.h"
#include "config/platform.h"
#include "cli/acm_check.h"
#include "supervisor/supervisor.h"
#include "lvmm/guest_abi.h"
#include "trust/eventlog.h"
#include "trust/offline.h"
#include "trust/trustd.h"
#include "vmm/cpuid.h"
#include "vmm/loader.h"
#include "vmm/partition.h"

#ifndef LVMM_FULL
#define LVMM_FULL 0 /* 1: lvmm-tools, which has every command (see exec_tools()) */
#endif


static struct platform plat; /* large: keep it off the stack */
static char control_buf[PLAT_PATH_MAX]; /* --control NAME resolved (docs/api.md) */
#if !LVMM_FULL
static char tools_buf[PATH_MAX], tools_dir[PATH_MAX]; /* lvmm-tools, for the trust processes */
#endif

static const char usage_main[] =
	"Usage: lvmm [-v|-q] COMMAND [ARGS]\n"
	"\n"
	"lvmm is a lightweight partitioning virtual machine monitor on Linux KVM.\n"
	"\n"
	"Commands:\n"
	"  run PLATFORM.yaml        run every partition of a platform file\n"
	"  run --kernel FILE ...    run one guest (quick form; see 'lvmm run --help')\n"
	"  check PLATFORM.yaml      validate a platform file (and its images) without running it\n"
	"  ctl [SOCKET|NAME] OP ... control a running platform (see 'lvmm ctl --help')\n"
	"  console SOCKET|NAME PART attach to a partition's serial console (Ctrl-] detaches)\n"
	"  top SOCKET|NAME [-b]     live table of the partitions (see 'lvmm top --help')\n"
	"  measure PLATFORM PART    predict a partition's PCRs and event log ('lvmm help measure')\n"
	"  version                  print the version\n"
	"  help [COMMAND]           this text, or a command's\n"
	"\n"
	"Global options:\n"
	"  -v, --verbose            more messages (repeat for debug)\n"
	"  -q, --quiet              errors only\n"
	"\n"
	"Documentation: README.md, docs/cli.md, docs/platform-file.md, docs/platform.md\n";

static const char usage_run[] =
	"Usage: lvmm run PLATFORM.yaml [--events FILE] [--control SOCKET]\n"
	"       lvmm run --kernel FILE [OPTIONS]\n"
	"\n"
	"Runs guests until they power off. With a platform file, every partition it lists\n"
	"runs in its own sandboxed process; console lines are prefixed with the partition's\n"
	"name when there is more than one. The quick form runs one partition.\n"
	"\n"
	"Quick-form options:\n"
	"  --kernel FILE            ELF kernel with a PVH note, or a Linux bzImage (required)\n"
	"  --initrd FILE            initial ramdisk\n"
	"  --cmdline STRING         guest kernel command line\n"
	"  --memory SIZE            guest RAM; a bare number is MiB (default 128, e.g. 64, 2G)\n"
	"  --vcpus N                number of vCPUs (default 1, at most 64)\n"
	"  --host-cpus LIST         pin vCPUs to host CPUs, one per vCPU (e.g. 2,3)\n"
	"  --disk PATH[,readonly]   virtio-blk disk backed by a raw image (repeatable)\n"
	"  --net tap=NAME[,mac=MAC] virtio-net on a host TAP device (repeatable)\n"
	"  --stream socket=PATH[,listen]\n"
	"                           virtio-console stream to a Unix socket (repeatable)\n"
	"  --console stdout|none|file:PATH\n"
	"                           where the serial console goes (default stdout)\n"
	"  --console-limit SIZE     console output to a regular file (file:PATH, or stdout\n"
	"                           redirected to one) stops at this file size (default 64M)\n"
	"  --no-stdin               do not connect standard input to the console\n"
	"  --cpuid-disable LIST     hide CPU features from the guest (e.g. cx16,xsave)\n"
	"  --name NAME              partition name in messages and events (default guest)\n"
	"  --reboot                 restart the guest when it resets (default: exit); a reset\n"
	"                           within 1 s of its start waits 1 s, 2 s, 4 s ... (a reset loop)\n"
	"  --restart POLICY         never, on-crash or always (default never)\n"
	"\n"
	"Options for both forms:\n"
	"  --events FILE            append structured events (JSON lines) to FILE\n"
	"  --control SOCKET|NAME    serve the control API on this Unix socket (a NAME\n"
	"                           without '/' is " LVMM_RUN_DIR "/NAME.sock)\n"
	"\n"
	"The console is the guest's 16550 UART. When standard input is a terminal it is put in\n"
	"raw mode and given to the guest; press Ctrl-A then x to stop the guest.\n"
	"\n"
	"Exit status: 0 when every guest powered off, reset or was stopped; 1-119 the value a\n"
	"guest wrote to the debug-exit port (0xf4; 119 for 119-255). lvmm's own statuses are\n"
	"apart: 120 bad command line, platform file or image (nothing was started); 121 a\n"
	"partition could not be set up (no KVM, TAP refused, ...); 122 a guest crashed (triple\n"
	"fault, emulation failure; RIP and instruction bytes are printed); 123 a partition\n"
	"process died (killed, sandbox violation). With several partitions, the first one that\n"
	"did not end cleanly decides. See docs/cli.md.\n";

static const char usage_check[] =
	"Usage: lvmm check PLATFORM.yaml\n"
	"\n"
	"Validates a platform file without running anything: the schema, every value's range,\n"
	"that files exist and kernel images can be booted with the partition's memory, that\n"
	"console files, the event log and sockets can be created, exclusive resources (host\n"
	"CPUs, disk images, TAP devices, sockets) given to one partition only, that every link\n"
	"has two ends, the identity range, and the platform against its policy. Every problem\n"
	"found is printed as FILE:LINE: message (the first 50 lines, then a count). Warns about\n"
	"cpuid_disable features this host's KVM does not hide. A partition with verify: has its\n"
	"boot set verified against its signed manifest (docs/trust.md): a failure is a problem.\n"
	"Exit status 0 if valid, 120 otherwise.\n";

static const char usage_measure[] =
	"Usage: lvmm measure PLATFORM.yaml PARTITION [--eventlog FILE]\n"
	"\n"
	"Predicts, offline, what a start of PARTITION measures into its vTPM from the files as\n"
	"they are now: verifies its boot set as a start would (falling back to its safe image\n"
	"if so configured), prints the outcome and PCRs 17-22 as pcrN=HEX lines, and with\n"
	"--eventlog writes the binary TCG event log the partition will get (tpm2_eventlog FILE\n"
	"parses it). docs/trust.md has the PCR table.\n"
	"Exit status 0; 1 when a start would be refused (the reason is printed); 120 for a\n"
	"bad platform file or command line.\n";

static int verbosity;

/* `lvmm help run`: the text, then the feature names --cpuid-disable and cpuid_disable take. */
static void print_run_help(FILE *f)
{
	fputs(usage_run, f);
	fprintf(f, "\nCPU features --cpuid-disable (and cpuid_disable:) know:\n  %s\n",
		cpu_feature_names());
}

static int parse_global(int *argc, char ***argv)
{
	int i = 1;

	while (i < *argc && (*argv)[i][0] == '-') {
		const char *a = (*argv)[i];

		if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
			verbosity++;
		else if (!strcmp(a, "-vv"))
			verbosity += 2;
		else if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
			verbosity = -1;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return 'h';
		else if (!strcmp(a, "--version"))
			return 'V';
		else
			break;
		i++;
	}
	*argc -= i - 1;
	*argv += i - 1;
	return 0;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "lvmm: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'lvmm run --help'.\n");
	return LVMM_EXIT_USAGE;
}

/* "a,b,c" -> calls fn for each item; returns the first non-zero result. */
static int split_list(const char *list, int (*fn)(const char *item, void *ctx), void *ctx)
{
	char buf[1024], *save = NULL, *tok;
	int r;

	if (snprintf(buf, sizeof(buf), "%s", list) >= (int)sizeof(buf))
		return -E2BIG;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if ((r = fn(tok, ctx)))
			return r;
	return 0;
}

static int add_cpuid(const char *item, void *ctx)
{
	struct plat_part *p = ctx;

	if (p->ncpuid_mask >= LVMM_MAX_CPUID_MASK)
		return usage_error("--cpuid-disable: more than 16 features");
	if (cpu_feature_lookup(item, &p->cpuid_mask[p->ncpuid_mask])) {
		fprintf(stderr, "lvmm: --cpuid-disable: unknown feature '%s'; known: %s\n", item,
			cpu_feature_names());
		return LVMM_EXIT_USAGE;
	}
	p->ncpuid_mask++;
	return 0;
}

static int add_host_cpu(const char *item, void *ctx)
{
	struct plat_part *p = ctx;
	uint64_t v;

	if (p->n_host_cpus >= LVMM_MAX_VCPUS || parse_u64(item, 4095, &v))
		return usage_error("--host-cpus: '%s' is not a CPU number", item);
	p->host_cpus[p->n_host_cpus++] = (int)v;
	return 0;
}

static struct plat_dev *new_dev(struct plat_part *p, uint32_t type)
{
	static const char *const base[] = { "", "blk", "net", "net", "stream" };
	struct plat_dev *d;
	unsigned i, n = 0;

	if (p->ndevs >= LVMM_MAX_DEVS)
		return NULL;
	for (i = 0; i < p->ndevs; i++)
		n += !strcmp(base[p->devs[i].type], base[type]);
	d = &p->devs[p->ndevs++];
	memset(d, 0, sizeof(*d));
	d->type = type;
	snprintf(d->id, sizeof(d->id), "%s%u", base[type], n);
	return d;
}

static int parse_kv_opts(const char *opt, const char *val, struct plat_dev *d)
{
	char buf[PLAT_PATH_MAX + 64], *save = NULL, *tok;

	if (snprintf(buf, sizeof(buf), "%s", val) >= (int)sizeof(buf))
		return usage_error("%s: value too long", opt);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (d->type == LVMM_DEV_BLK) {
			if (!strcmp(tok, "readonly") || !strcmp(tok, "ro"))
				d->readonly = true;
			else if (!d->path[0])
				snprintf(d->path, sizeof(d->path), "%s", tok);
			else
				return usage_error("--disk: unknown option '%s' (expected PATH[,readonly])", tok);
		} else if (d->type == LVMM_DEV_NET_TAP) {
			if (!strncmp(tok, "tap=", 4) && tok[4] && strlen(tok + 4) < PLAT_TAP_MAX)
				snprintf(d->tap, sizeof(d->tap), "%s", tok + 4);
			else if (!strncmp(tok, "mac=", 4)) {
				unsigned v[6], i;

				if (sscanf(tok + 4, "%2x:%2x:%2x:%2x:%2x:%2x", &v[0], &v[1], &v[2], &v[3],
					   &v[4], &v[5]) != 6 || (v[0] & 1))
					return usage_error("--net: '%s' is not a unicast MAC address", tok + 4);
				for (i = 0; i < 6; i++)
					d->mac[i] = (uint8_t)v[i];
			} else
				return usage_error("--net: unknown option '%s' (expected tap=NAME[,mac=MAC])", tok);
		} else {
			if (!strncmp(tok, "socket=", 7) && tok[7])
				snprintf(d->path, sizeof(d->path), "%s", tok + 7);
			else if (!strcmp(tok, "listen"))
				d->listen = true;
			else
				return usage_error("--stream: unknown option '%s' (expected socket=PATH[,listen])", tok);
		}
	}
	if ((d->type == LVMM_DEV_BLK || d->type == LVMM_DEV_STREAM) && !d->path[0])
		return usage_error("%s: a path is required", opt);
	if (d->type == LVMM_DEV_NET_TAP && !d->tap[0])
		return usage_error("--net: tap=NAME is required");
	return 0;
}

static int parse_quick(int argc, char **argv, struct platform *pl, struct run_opts *ro)
{
	enum { O_KERNEL = 256, O_INITRD, O_CMDLINE, O_MEMORY, O_VCPUS, O_HOSTCPUS, O_DISK, O_NET,
	       O_STREAM, O_CONSOLE, O_CONSOLE_LIMIT, O_NOSTDIN, O_CPUID, O_NAME, O_REBOOT, O_RESTART, O_EVENTS,
	       O_CONTROL, O_TESTDEV };
	static const struct option opts[] = {
		{ "kernel", required_argument, 0, O_KERNEL },
		{ "initrd", required_argument, 0, O_INITRD },
		{ "cmdline", required_argument, 0, O_CMDLINE },
		{ "memory", required_argument, 0, O_MEMORY },
		{ "vcpus", required_argument, 0, O_VCPUS },
		{ "host-cpus", required_argument, 0, O_HOSTCPUS },
		{ "disk", required_argument, 0, O_DISK },
		{ "net", required_argument, 0, O_NET },
		{ "stream", required_argument, 0, O_STREAM },
		{ "console", required_argument, 0, O_CONSOLE },
		{ "console-limit", required_argument, 0, O_CONSOLE_LIMIT },
		{ "no-stdin", no_argument, 0, O_NOSTDIN },
		{ "cpuid-disable", required_argument, 0, O_CPUID },
		{ "name", required_argument, 0, O_NAME },
		{ "reboot", no_argument, 0, O_REBOOT },
		{ "restart", required_argument, 0, O_RESTART },
		{ "events", required_argument, 0, O_EVENTS },
		{ "control", required_argument, 0, O_CONTROL },
		{ "test-device", no_argument, 0, O_TESTDEV },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct plat_part *p = &pl->parts[0];
	struct plat_dev *d;
	int c, r;
	uint64_t v;

	plat_part_defaults(p);
	snprintf(p->name, sizeof(p->name), "guest");
	p->role = ROLE_SERVICE; /* a lone partition owns its devices, TAPs included */
	p->stdin_console = true;
	pl->nparts = 1;
	pl->uid_base = PLAT_UID_BASE_DEFAULT;
	pl->uid_count = PLAT_UID_COUNT_DEFAULT;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			print_run_help(stdout);
			exit(0);
		case O_KERNEL: snprintf(p->kernel, sizeof(p->kernel), "%s", optarg); break;
		case O_INITRD: snprintf(p->initrd, sizeof(p->initrd), "%s", optarg); break;
		case O_CMDLINE:
			if (strlen(optarg) >= sizeof(p->cmdline))
				return usage_error("--cmdline: longer than 4095 bytes");
			snprintf(p->cmdline, sizeof(p->cmdline), "%s", optarg);
			break;
		case O_MEMORY:
			if (parse_size(optarg, MiB, &p->mem_bytes))
				return usage_error("--memory: '%s' is not a size (e.g. 64, 512M, 2G)", optarg);
			break;
		case O_VCPUS:
			if (parse_u64(optarg, LVMM_MAX_VCPUS, &v) || !v)
				return usage_error("--vcpus: '%s' is not a number from 1 to 64", optarg);
			p->vcpus = (unsigned)v;
			break;
		case O_HOSTCPUS:
			if ((r = split_list(optarg, add_host_cpu, p)))
				return r;
			break;
		case O_DISK:
		case O_NET:
		case O_STREAM:
			d = new_dev(p, c == O_DISK ? LVMM_DEV_BLK : c == O_NET ? LVMM_DEV_NET_TAP
										   : LVMM_DEV_STREAM);
			if (!d)
				return usage_error("too many devices (at most %d)", LVMM_MAX_DEVS);
			if ((r = parse_kv_opts(argv[optind - 2], optarg, d)))
				return r;
			break;
		case O_CONSOLE:
			if (!strcmp(optarg, "none"))
				p->console = CONSOLE_NONE;
			else if (!strcmp(optarg, "stdout"))
				p->console = CONSOLE_STDOUT;
			else if (!strncmp(optarg, "file:", 5) && optarg[5]) {
				p->console = CONSOLE_FILE;
				snprintf(p->console_path, sizeof(p->console_path), "%s", optarg + 5);
			} else
				return usage_error("--console: '%s': expected stdout, none or file:PATH", optarg);
			break;
		case O_CONSOLE_LIMIT:
			/* Its range is checked with the rest of the partition (platform_validate). */
			if (parse_size(optarg, 1, &p->console_limit))
				return usage_error("--console-limit: '%s' is not a size (e.g. 64M)", optarg);
			break;
		case O_NOSTDIN: p->stdin_console = false; break;
		case O_CPUID:
			if ((r = split_list(optarg, add_cpuid, p)))
				return r;
			break;
		case O_NAME:
			if (!*optarg || strlen(optarg) >= LVMM_NAME_MAX)
				return usage_error("--name: '%s' must be 1-31 characters", optarg);
			snprintf(p->name, sizeof(p->name), "%s", optarg);
			break;
		case O_REBOOT: p->reboot = true; break;
		case O_RESTART:
			if (!strcmp(optarg, "never"))
				p->restart = RESTART_NEVER;
			else if (!strcmp(optarg, "on-crash"))
				p->restart = RESTART_ON_CRASH;
			else if (!strcmp(optarg, "always"))
				p->restart = RESTART_ALWAYS;
			else
				return usage_error("--restart: '%s': expected never, on-crash or always", optarg);
			break;
		case O_EVENTS: ro->events_path = optarg; break;
		case O_CONTROL:
			if (ctl_socket_path(optarg, control_buf, sizeof(control_buf)))
				return usage_error("--control: socket path too long");
			ro->control_path = control_buf;
			break;
		case O_TESTDEV: p->test_device = true; break;
		default:
			return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s' (a platform file goes without other options "
				   "except --events/--control)", argv[optind]);
	if (!p->kernel[0])
		return usage_error("--kernel FILE is required");
	return 0;
}

/*
 * Problems go through a FILE that passes the first MAX_PROBLEM_LINES lines
 * and counts the rest: a file with thousands of mistakes (or one built to
 * produce them) must not bury the first ones, nor the terminal.
 */
#define MAX_PROBLEM_LINES 50

struct capped {
	FILE *out;
	unsigned long lines;   /* complete lines seen */
};

static ssize_t capped_write(void *cookie, const char *buf, size_t n)
{
	struct capped *c = cookie;
	size_t i = 0;

	while (i < n) {
		const char *nl = memchr(buf + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (buf + i)) + 1 : n - i;

		if (c->lines < MAX_PROBLEM_LINES)
			fwrite(buf + i, 1, len, c->out);
		if (nl)
			c->lines++;
		i += len;
	}
	return (ssize_t)n;
}

static FILE *capped_open(struct capped *c, FILE *out)
{
	static const cookie_io_functions_t io = { .write = capped_write };
	FILE *f;

	c->out = out;
	c->lines = 0;
	f = fopencookie(c, "w", io);
	return f ? f : out; /* without it, uncapped is still correct */
}

static void capped_close(struct capped *c, FILE *f)
{
	if (f == c->out)
		return;
	fclose(f);
	if (c->lines > MAX_PROBLEM_LINES)
		fprintf(c->out, "lvmm: ... and %lu more problem lines not shown (the first %d are)\n",
			c->lines - MAX_PROBLEM_LINES, MAX_PROBLEM_LINES);
}

/* 1 if the kernel at path cannot boot in partition p (reported), else 0. */
static int check_image(const struct platform *pl, const struct plat_part *p, const char *path,
		       FILE *err)
{
	struct guest_layout lay;
	struct boot_image img;
	char why[LOADER_ERR_MAX], where[PLAT_PATH_MAX + 16];
	struct stat st;
	int fd, bad = 0;
	void *m;

	/* O_NONBLOCK: a FIFO in the kernel's place must not hang the check. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0; /* reported by the platform checks */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0; /* not a regular file: reported by the platform checks */
	}
	if (pl->path[0])
		snprintf(where, sizeof(where), "%s:%d", pl->path, p->line);
	else
		snprintf(where, sizeof(where), "lvmm");
	if (st.st_size == 0) {
		fprintf(err, "%s: partition '%s': kernel '%s' is empty\n", where, p->name, path);
		close(fd);
		return 1;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return 0;
	layout_from_size(p->mem_bytes, &lay);
	if (loader_parse(m, (size_t)st.st_size, &lay, &img, why, sizeof(why))) {
		fprintf(err, "%s: partition '%s': kernel '%s': %s\n", where, p->name, path, why);
		bad = 1;
	}
	munmap(m, (size_t)st.st_size);
	return bad;
}

/* Parse every kernel image, so `check` and `run` refuse one that cannot boot before anything starts. */
static int check_images(const struct platform *pl, FILE *err)
{
	unsigned i;
	int bad = 0;

	for (i = 0; i < pl->nparts; i++) {
		const struct plat_part *p = &pl->parts[i];

		if (p->bad & (PLAT_BAD_KERNEL | PLAT_BAD_MEMORY))
			continue; /* reported; the loader's verdict needs both */
		bad += check_image(pl, p, p->kernel, err);
		if (p->safe.on && !(p->bad & PLAT_BAD_SAFE))
			bad += check_image(pl, p, p->safe.kernel, err);
	}
	return bad;
}

/*
 * check, measure and the trust process need OpenSSL's libcrypto, and top
 * ncurses, which lvmm itself does not link: every static-pie process
 * relocates, so dirties, all of a linked library's pointer tables at start
 * (libcrypto's are 336 KiB), and maps its code, and the supervisor and
 * every partition are this binary. Those commands are lvmm-tools, this file
 * built with LVMM_FULL=1 (every command works there), which lvmm execs for
 * them (docs/design.md, "Processes").
 */
#if LVMM_FULL
static struct trust_offline offline; /* 16 KiB of platform text: not on the stack */
static struct trust_eval verdict;

/* " (file F: expected E, actual A)" for a failure that names digests. */
static void print_failure(FILE *f, const char *what, const struct verify_failure *v)
{
	fprintf(f, "%s: %s", what, v->reason);
	if (v->expected[0] || v->actual[0])
		fprintf(f, " (file %s: expected %s, actual %s)", v->file,
			v->expected[0] ? v->expected : "none", v->actual[0] ? v->actual : "none");
}

/*
 * `lvmm check`: every partition with verify: is verified now, as a start
 * would be; a boot set that would not boot as configured is a problem
 * (also one that would fall back to its safe image: the operator wants to
 * know before the partition does).
 */
static int check_trust(const struct platform *pl, FILE *err)
{
	unsigned i;
	int bad = 0;

	for (i = 0; i < pl->nparts; i++) {
		const struct plat_part *p = &pl->parts[i];
		char why[512];

		if (!p->verify.on || p->verify.bad || (p->bad & (PLAT_BAD_KERNEL | PLAT_BAD_INITRD)) ||
		    access(p->verify.manifest, R_OK) || access(p->verify.signature, R_OK) ||
		    access(p->verify.key, R_OK))
			continue; /* reported by the platform checks */
		if (trust_offline_open(p, false, &offline, why, sizeof(why)))
			continue; /* a missing image is reported by the platform checks */
		trust_evaluate(&offline.in, &verdict);
		trust_offline_close(&offline);
		if (verdict.verdict == LVMM_TRUST_OK)
			continue;
		bad++;
		fprintf(err, "%s:%d: partition '%s': ", pl->path, p->line, p->name);
		if (verdict.verdict == LVMM_TRUST_ERROR) {
			fprintf(err, "%s\n", verdict.reason);
			continue;
		}
		print_failure(err, "its boot set does not verify", &verdict.fail[0]);
		if (verdict.verdict == LVMM_TRUST_SAFE)
			fprintf(err, "; a start would boot its safe image");
		if (verdict.verdict == LVMM_TRUST_SAFE_FAILED)
			print_failure(err, "; its safe image does not verify either", &verdict.fail[1]);
		fprintf(err, "\n");
	}
	return bad;
}
#endif

/*
 * Warn (once, before anything runs) about cpuid_disable features KVM puts
 * back: on some hosts only the bits KVM itself owns can be hidden, and a
 * mask that silently does not take is worse than none.
 */
static void warn_cpuid(const struct platform *pl, FILE *err)
{
	unsigned i;

	for (i = 0; i < pl->nparts; i++) {
		const struct plat_part *p = &pl->parts[i];
		const char *them;
		uint32_t not_hidden = 0, user;
		char names[256];
		int r;

		if (!p->ncpuid_mask)
			continue;
		r = cpuid_probe(p->cpuid_mask, p->ncpuid_mask, &not_hidden);
		if (r) {
			fprintf(err, "lvmm: note: could not check whether KVM hides the cpuid_disable "
				"features (/dev/kvm: %s)\n", strerror(-r));
			return;
		}
		user = cpuid_user_visible(p->cpuid_mask, p->ncpuid_mask) & ~not_hidden;
		if (!not_hidden && !user)
			continue;
		if (pl->path[0])
			fprintf(err, "%s:%d: ", pl->path, p->line);
		else
			fprintf(err, "lvmm: ");
		if (not_hidden) {
			cpuid_mask_list(p->cpuid_mask, p->ncpuid_mask, not_hidden, names, sizeof(names));
			them = not_hidden & (not_hidden - 1) ? "them" : "it";
			fprintf(err, "warning: partition '%s': KVM on this host does not hide %s "
				"(cpuid_disable): the guest still sees %s; hide %s in the guest instead "
				"(Linux: clearcpuid=, noxsave)\n", p->name, names, them, them);
		}
		if (user) {
			cpuid_mask_list(p->cpuid_mask, p->ncpuid_mask, user, names, sizeof(names));
			fprintf(err, "%swarning: partition '%s': guest user mode (CPL3) still sees %s "
				"(cpuid_disable): this host runs CPUID at CPL3 natively (kvm_pvm without "
				"CPUID faulting); the guest's kernel does not\n",
				not_hidden ? "    " : "", p->name, names);
		}
	}
}

#if LVMM_FULL
static int cmd_check(int argc, char **argv)
{
	struct capped cap;
	FILE *err;
	int problems;
	unsigned i;

	if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_check, argc == 2 ? stdout : stderr);
		return argc == 2 ? 0 : LVMM_EXIT_USAGE;
	}
	err = capped_open(&cap, stderr);
	/* Every stage runs: each skips only what an earlier one already refused. */
	problems = platform_load(argv[1], &plat, err);
	problems += check_images(&plat, err);
	problems += check_trust(&plat, err);
	if (plat.policy.present && !plat.policy_bad)
		problems += acm_check_platform(&plat.policy, &plat, err);
	capped_close(&cap, err);
	warn_cpuid(&plat, stderr); /* a warning, whatever else is wrong */
	if (problems) {
		fprintf(stderr, "%s: %d problem%s\n", argv[1], problems, problems == 1 ? "" : "s");
		return LVMM_EXIT_USAGE;
	}
	printf("%s: ok: %u partition%s, %u link%s\n", argv[1], plat.nparts,
	       plat.nparts == 1 ? "" : "s", plat.nlinks, plat.nlinks == 1 ? "" : "s");
	for (i = 0; i < plat.nparts; i++) {
		const struct plat_part *p = &plat.parts[i];

		printf("  %-12s %-7s %2u vCPU %6" PRIu64 " MiB %2u device%s  restart %s\n", p->name,
		       plat_role_name(p->role), p->vcpus, p->mem_bytes / MiB, p->ndevs,
		       p->ndevs == 1 ? " " : "s", plat_restart_name(p->restart));
	}
	return 0;
}

static int write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(buf, 1, len, f) == len;

	if (f && fclose(f))
		ok = 0;
	return ok ? 0 : -1;
}

static int cmd_measure(int argc, char **argv)
{
	static uint8_t log[LVMM_TPM_EVENTLOG_SIZE];
	uint8_t pcrs[24][SHA256_LEN];
	const char *logpath = NULL;
	const struct plat_part *p;
	char why[512], hex[SHA256_HEX_LEN + 1];
	size_t len;
	int problems, i;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage_measure, stdout);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[3], "--eventlog"))
		logpath = argv[4];
	else if (argc != 3) {
		fputs(usage_measure, stderr);
		return LVMM_EXIT_USAGE;
	}
	problems = platform_load(argv[1], &plat, stderr);
	if (problems) {
		fprintf(stderr, "%s: %d problem%s\n", argv[1], problems, problems == 1 ? "" : "s");
		return LVMM_EXIT_USAGE;
	}
	i = platform_find(&plat, argv[2]);
	if (i < 0) {
		fprintf(stderr, "lvmm measure: %s has no partition called '%s'\n", argv[1], argv[2]);
		return LVMM_EXIT_USAGE;
	}
	p = &plat.parts[i];
	if (trust_offline_open(p, true, &offline, why, sizeof(why))) {
		fprintf(stderr, "lvmm measure: partition '%s': %s\n", p->name, why);
		return LVMM_EXIT_USAGE;
	}
	trust_evaluate(&offline.in, &verdict);
	trust_offline_close(&offline);
	if (verdict.verdict != LVMM_TRUST_OK && verdict.verdict != LVMM_TRUST_SAFE) {
		fprintf(stderr, "lvmm measure: partition '%s' would not start: ", p->name);
		if (verdict.verdict == LVMM_TRUST_ERROR)
			fputs(verdict.reason, stderr);
		else
			print_failure(stderr, "its boot set does not verify",
				      &verdict.fail[verdict.verdict == LVMM_TRUST_SAFE_FAILED]);
		fputc('\n', stderr);
		return 1;
	}
	if (measure_plan_predict(&verdict.plan, pcrs) ||
	    measure_plan_eventlog(&verdict.plan, log, sizeof(log), &len)) {
		fprintf(stderr, "lvmm measure: cannot compute the measurements\n");
		return 1;
	}
	if (plat_part_tpm(p) < 0)
		fprintf(stderr, "lvmm measure: note: partition '%s' has no vTPM ({ type: tpm }); "
			"these are the values it would measure\n", p->name);
	printf("partition: %s\nimage: %s\noutcome: %s\n", p->name,
	       verdict.verdict == LVMM_TRUST_SAFE ? "safe_image" : "primary", verdict.plan.outcome);
	for (i = 17; i <= 22; i++) {
		digest_to_hex(pcrs[i], SHA256_LEN, hex);
		printf("pcr%d=%s\n", i, hex);
	}
	if (logpath && write_file(logpath, log, len)) {
		fprintf(stderr, "lvmm measure: cannot write %s: %s\n", logpath, strerror(errno));
		return 1;
	}
	return 0;
}

static int trust_entry(void)
{
	return trust_main(3);
}

static int cmd_top(int argc, char **argv)
{
	return top_main(argc, argv);
}

static int help_top(void)
{
	fputs(top_usage, stdout);
	return 0;
}
#else
static char **main_argv; /* as lvmm was started: lvmm-tools parses it again */

/*
 * lvmm-tools next to this binary, or in ../libexec/lvmm/ (an installed lvmm),
 * as lvmm-api: its path in buf, or NULL (dir, this binary's directory, for
 * the message).
 */
static const char *find_tools(char *buf, size_t n, char *dir, size_t dn)
{
	static const char *const rel[] = { "lvmm-tools", "../libexec/lvmm/lvmm-tools" };
	ssize_t k = readlink("/proc/self/exe", dir, dn - 1);
	char *slash;
	unsigned i;

	if (k <= 0 || !(dir[k] = 0, slash = strrchr(dir, '/'))) {
		snprintf(dir, dn, "(unknown: %s)", strerror(errno));
		return NULL;
	}
	*slash = 0;
	for (i = 0; i < ARRAY_SIZE(rel); i++) {
		int w = snprintf(buf, n, "%s/%s", dir, rel[i]);

		if (w > 0 && (size_t)w < n && access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

static int exec_tools(const char *cmd)
{
	char path[PATH_MAX], dir[PATH_MAX];

	if (find_tools(path, sizeof(path), dir, sizeof(dir)))
		execv(path, main_argv); /* returns only on failure */
	fprintf(stderr, "lvmm: '%s' needs lvmm-tools, which cannot be run from %s nor from %s/../libexec/lvmm: %s\n",
		cmd, dir, dir, strerror(errno));
	return LVMM_EXIT_USAGE;
}

static int cmd_check(int argc, char **argv)
{
	return exec_tools(argv[0]);
}

static int cmd_measure(int argc, char **argv)
{
	return exec_tools(argv[0]);
}

static int trust_entry(void)
{
	return exec_tools("__trust");
}

static int cmd_top(int argc, char **argv)
{
	return exec_tools(argv[0]);
}

static int help_top(void)
{
	return exec_tools("help");
}
#endif

static int cmd_run(int argc, char **argv)
{
	struct run_opts ro = { .log_level = LOG_WARN };
	struct capped cap;
	const char *what;
	FILE *err;
	int problems;

	if (argc < 2) {
		print_run_help(stderr);
		return LVMM_EXIT_USAGE;
	}
	ro.log_level = verbosity < 0 ? LOG_ERR : verbosity == 0 ? LOG_WARN
					: verbosity == 1 ? LOG_INFO : LOG_DEBUG;
	if (argv[1][0] != '-') {
		int i;

		/* lvmm run FILE [--events F] [--control S] */
		for (i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--events") && i + 1 < argc)
				ro.events_path = argv[++i];
			else if (!strcmp(argv[i], "--control") && i + 1 < argc) {
				if (ctl_socket_path(argv[++i], control_buf, sizeof(control_buf)))
					return usage_error("--control: socket path too long");
				ro.control_path = control_buf;
			} else
				return usage_error("'%s': a platform file takes only --events and --control",
						   argv[i]);
		}
		what = argv[1];
		err = capped_open(&cap, stderr);
		problems = platform_load(argv[1], &plat, err);
		/* Events are the platform demo's narrative; quick runs stay quiet unless -v. */
		ro.echo_events = verbosity >= 0;
	} else {
		int r = parse_quick(argc, argv, &plat, &ro);

		if (r)
			return r;
		what = "lvmm";
		err = capped_open(&cap, stderr);
		problems = platform_validate(&plat, err);
		ro.echo_events = verbosity > 0;
	}
	/* The same verdict as `lvmm check`: an image that cannot boot is bad input, like a missing one. */
	problems += check_images(&plat, err);
	capped_close(&cap, err);
	if (problems) {
		fprintf(stderr, "%s: %d problem%s; nothing was started\n", what, problems,
			problems == 1 ? "" : "s");
		return LVMM_EXIT_USAGE;
	}
	/*
	 * The policy's static verdict is `lvmm check`'s (src/cli/acm_check.c);
	 * here the ACM refuses each start and grant when it happens, and the
	 * refusal is an event (acm_deny, partition_start_failed) on stderr.
	 */
	if (verbosity >= 0)
		warn_cpuid(&plat, stderr);
#if !LVMM_FULL
	/* Trust processes run lvmm-tools; the supervisor opens it before their uid change. */
	ro.tools_path = find_tools(tools_buf, sizeof(tools_buf), tools_dir, sizeof(tools_dir));
#endif
	return supervisor_run(&plat, &ro);
}

int main(int argc, char **argv)
{
	int g;

	log_set_prefix("lvmm");
#if !LVMM_FULL
	main_argv = argv;
#endif
	if (argc >= 2 && !strcmp(argv[1], "__partition"))
		return partition_main(3);
	if (argc >= 2 && !strcmp(argv[1], "__trust"))
		return trust_entry();
	g = parse_global(&argc, &argv);
	if (g == 'V' || (argc >= 2 && !strcmp(argv[1], "version"))) {
		printf("lvmm %s\n", LVMM_VERSION);
		return 0;
	}
	if (g == 'h' || argc < 2) {
		fputs(usage_main, g == 'h' ? stdout : stderr);
		return g == 'h' ? 0 : LVMM_EXIT_USAGE;
	}
	log_level = verbosity < 0 ? LOG_ERR : verbosity == 0 ? LOG_WARN
				: verbosity == 1 ? LOG_INFO : LOG_DEBUG;
	if (!strcmp(argv[1], "help")) {
		if (argc >= 3 && !strcmp(argv[2], "run"))
			print_run_help(stdout);
		else if (argc >= 3 && !strcmp(argv[2], "check"))
			fputs(usage_check, stdout);
		else if (argc >= 3 && !strcmp(argv[2], "ctl"))
			fputs(ctl_usage, stdout);
		else if (argc >= 3 && !strcmp(argv[2], "console"))
			fputs(console_usage, stdout);
		else if (argc >= 3 && !strcmp(argv[2], "top"))
			return help_top();
		else if (argc >= 3 && !strcmp(argv[2], "measure"))
			fputs(usage_measure, stdout);
		else
			fputs(usage_main, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "check"))
		return cmd_check(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ctl"))
		return ctl_client_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "console"))
		return console_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "top"))
		return cmd_top(argc - 1, argv + 1);
	if (!strcmp(argv[1], "measure"))
		return cmd_measure(argc - 1, argv + 1);
	fprintf(stderr, "lvmm: unknown command '%s'\n\n%s", argv[1], usage_main);
	return LVMM_EXIT_USAGE;
}
