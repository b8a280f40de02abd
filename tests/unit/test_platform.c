// SPDX-License-Identifier: MIT
/* Platform-file validation: every error names FILE:LINE and what to write. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "shared/parse.h"
#include "config/platform.h"
#include "config/policy_load.h"
#include "config/yaml_util.h"
#include "lvmm/trust_proto.h"
#include "unit/unit.h"

static char dir[] = "/tmp/lvmm-unit-platform.XXXXXX";
static char yaml[256], kernel[256], disk[256];
static struct platform plat;
static char errbuf[16384];

/* Write a platform file (%K = kernel path, %D = disk path) and load it. */
static int load(const char *text)
{
	FILE *f = fopen(yaml, "w"), *e;
	const char *p;
	int n;

	for (p = text; *p; p++) {
		if (p[0] == '%' && p[1] == 'K') {
			fputs(kernel, f);
			p++;
		} else if (p[0] == '%' && p[1] == 'D') {
			fputs(disk, f);
			p++;
		} else {
			fputc(*p, f);
		}
	}
	fclose(f);
	e = fmemopen(errbuf, sizeof(errbuf) - 1, "w");
	memset(errbuf, 0, sizeof(errbuf));
	n = platform_load(yaml, &plat, e);
	fclose(e);
	return n;
}

/* Load text written as is (generated inputs may contain '%'). */
static int load_raw(const char *text, size_t len)
{
	FILE *f = fopen(yaml, "w"), *e;
	int n;

	fwrite(text, 1, len, f);
	fclose(f);
	e = fmemopen(errbuf, sizeof(errbuf) - 1, "w");
	memset(errbuf, 0, sizeof(errbuf));
	n = platform_load(yaml, &plat, e);
	fclose(e);
	return n;
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The error output names this file at this line and contains the phrase. */
static int says(int line, const char *phrase)
{
	char where[300];

	snprintf(where, sizeof(where), "%s:%d: ", yaml, line);
	return strstr(errbuf, where) && strstr(errbuf, phrase);
}

static void test_valid(void)
{
	CHECK_EQ(load("partitions:\n"
		      "  - name: service\n"
		      "    role: service\n"
		      "    vcpus: 1\n"
		      "    memory: 64M\n"
		      "    kernel: %K\n"
		      "    restart: on-crash\n"
		      "    devices:\n"
		      "      - { type: net, link: uplink }\n"
		      "  - name: user\n"
		      "    vcpus: 2\n"
		      "    memory: 256\n"
		      "    kernel: %K\n"
		      "    cmdline: \"console=ttyS0\"\n"
		      "    cpuid_disable: [cx16, xsave]\n"
		      "    devices:\n"
		      "      - { type: blk, path: %D, readonly: true }\n"
		      "      - { type: net, link: uplink, mac: \"52:54:00:00:00:01\" }\n"
		      "links:\n"
		      "  - { name: uplink, ends: [service, user] }\n"), 0);
	if (errbuf[0])
		printf("# %s", errbuf);
	CHECK_EQ(plat.nparts, 2);
	CHECK_EQ(plat.parts[0].role, ROLE_SERVICE);
	CHECK_EQ(plat.parts[0].restart, RESTART_ON_CRASH);
	CHECK_EQ(plat.parts[1].mem_bytes, 256 << 20);
	CHECK_EQ(plat.parts[1].vcpus, 2);
	CHECK_EQ(plat.parts[1].ncpuid_mask, 2);
	CHECK_EQ(plat.parts[1].ndevs, 2);
	CHECK_STR(plat.parts[1].devs[0].id, "blk0");
	CHECK_STR(plat.parts[1].devs[1].id, "net0");
	CHECK_EQ(plat.parts[1].devs[1].mac[5], 1);
	CHECK_EQ(plat.nlinks, 1);
	CHECK_EQ(plat.links[0].part[1], 1);
	CHECK_EQ(plat.links[0].dev[1], 1);
}

static void test_relative_paths(void)
{
	CHECK_EQ(load("partitions:\n  - name: a\n    kernel: kernel.bin\n"), 0);
	CHECK_STR(plat.parts[0].kernel, kernel);
}

static void test_schema_errors(void)
{
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    vcpuz: 2\n") > 0);
	CHECK(strstr(errbuf, "vcpuz") != NULL);
	CHECK(strstr(errbuf, yaml) != NULL);
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    vcpus: many\n") > 0);
	CHECK(says(4, "many"));
	CHECK(load("partitions:\n  - name: a\n") > 0);
	CHECK(strstr(errbuf, "kernel") != NULL);
	CHECK(load("partitions:\n  - name: a\n    kernel: [%K\n") > 0);
	CHECK(strstr(errbuf, "YAML syntax error") != NULL);
	CHECK(load("") > 0);
	CHECK(strstr(errbuf, "empty") != NULL);
}

static void test_value_errors(void)
{
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    vcpus: 0\n") > 0);
	CHECK(says(4, "vcpus: 0 is out of range"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    memory: 64Q\n") > 0);
	CHECK(says(4, "not a size"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    memory: 900T\n") > 0);
	CHECK(says(4, "out of range"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    memory: 1M\n") > 0);
	CHECK(says(4, "out of range"));
	/* console_limit: a size in bytes, 4K to 1T; 64M unless given. */
	CHECK_EQ(load("partitions:\n  - name: a\n    kernel: %K\n"), 0);
	CHECK_EQ(plat.parts[0].console_limit, 64ULL << 20);
	CHECK_EQ(load("partitions:\n  - name: a\n    kernel: %K\n    console_limit: 4096\n"), 0);
	CHECK_EQ(plat.parts[0].console_limit, 4096);
	CHECK_EQ(load("partitions:\n  - name: a\n    kernel: %K\n    console_limit: 2G\n"), 0);
	CHECK_EQ(plat.parts[0].console_limit, 2ULL << 30);
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    console_limit: lots\n") > 0);
	CHECK(says(4, "console_limit 'lots' is not a size"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    console_limit: 4095\n") > 0);
	CHECK(says(4, "console_limit 4095 bytes is out of range: expected 4K to 1T"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    console_limit: 2T\n") > 0);
	CHECK(says(4, "out of range"));
	CHECK(load("partitions:\n  - name: a\n    kernel: /nonexistent/vmlinuz\n") > 0);
	CHECK(says(3, "No such file"));
	CHECK(load("partitions:\n  - name: 'bad name'\n    kernel: %K\n") > 0);
	CHECK(says(2, "not a valid name"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    role: admin\n") > 0);
	CHECK(says(4, "expected user or service"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    cpuid_disable: [warp]\n") > 0);
	CHECK(says(4, "unknown CPU feature 'warp'"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    devices:\n"
		   "      - { type: floppy }\n") > 0);
	CHECK(says(5, "unknown device type 'floppy'"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    devices:\n"
		   "      - { type: net }\n") > 0);
	CHECK(says(5, "exactly one of"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    role: service\n    devices:\n"
		   "      - { type: net, tap: t0, mac: \"01:00:00:00:00:01\" }\n") > 0);
	CHECK(says(6, "not a unicast MAC"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    host_cpus: [0, 1]\n") > 0);
	CHECK(says(4, "one host CPU per vCPU"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    host_cpus: [9999]\n") > 0);
	CHECK(says(4, "does not exist"));
}

static void test_exclusive(void)
{
	CHECK(load("partitions:\n"
		   "  - name: a\n    kernel: %K\n    host_cpus: [0]\n"
		   "  - name: b\n    kernel: %K\n    host_cpus: [0]\n") > 0);
	CHECK(says(7, "already dedicated to partition 'a'"));
	CHECK(load("partitions:\n"
		   "  - name: a\n    kernel: %K\n    devices: [ { type: blk, path: %D } ]\n"
		   "  - name: b\n    kernel: %K\n    devices: [ { type: blk, path: %D } ]\n") > 0);
	CHECK(says(7, "this disk image is already assigned to partition 'a'"));
	CHECK(load("partitions:\n"
		   "  - name: a\n    role: service\n    kernel: %K\n    devices: [ { type: net, tap: t0 } ]\n"
		   "  - name: b\n    role: service\n    kernel: %K\n    devices: [ { type: net, tap: t0 } ]\n") > 0);
	CHECK(says(9, "this TAP device is already assigned"));
	CHECK(load("partitions:\n"
		   "  - name: a\n    kernel: %K\n    devices: [ { type: net, tap: t0 } ]\n") > 0);
	CHECK(says(4, "role: service"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n  - name: a\n    kernel: %K\n") > 0);
	CHECK(says(4, "used twice"));
}

static void test_links(void)
{
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    devices: [ { type: net, link: l } ]\n"
		   "links:\n  - { name: l, ends: [a, ghost] }\n") > 0);
	CHECK(says(6, "no partition called 'ghost'"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n  - name: b\n    kernel: %K\n"
		   "links:\n  - { name: l, ends: [a, b] }\n") > 0);
	CHECK(says(7, "has no device"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    devices: [ { type: net, link: nowhere } ]\n") > 0);
	CHECK(says(4, "not declared"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\nlinks:\n  - { name: l, ends: [a] }\n") > 0);
	CHECK(says(5, "exactly 2 ends"));
}


/* Call fn with stderr in a memfd; what was written there, NUL-terminated, in buf. */
static void stderr_of(void (*fn)(void), char *buf, size_t n)
{
	int saved = dup(2), m = memfd_create("stderr", 0);
	ssize_t got;

	fflush(stderr);
	dup2(m, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	got = pread(m, buf, n - 1, 0);
	buf[got > 0 ? got : 0] = 0;
	close(m);
}

static int knob_k;
static bool knob_ok;
static uint64_t knob_v;
static void knob_calls(void)
{
	static const char *const names[] = { "nt", "plain" };

	knob_k = knob_choice("LVMM_TEST_KNOB", names, 2);
	knob_ok = knob_u64("LVMM_TEST_NUM", 50, &knob_v);
}

/* A benchmark knob's value that it does not take is named in a warning and ignored. */
static void test_knobs(void)
{
	static const struct {
		const char *knob, *num; /* NULL: unset */
		int k;
		bool ok;
		uint64_t v;
		const char *warn[2]; /* both NULL: stderr stays empty */
	} cases[] = {
		{ NULL, "", -1, false, 7, { NULL, NULL } },
		{ "plain", "0x20", 1, true, 32, { NULL, NULL } },
		{ "NT", "51", -1, false, 7,
		  { "LVMM_TEST_KNOB=NT: not one of \"nt\", \"plain\"; ignored",
		    "LVMM_TEST_NUM=51: not a number from 0 to 50; ignored" } },
	};
	char err[512];
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (cases[i].knob)
			setenv("LVMM_TEST_KNOB", cases[i].knob, 1);
		else
			unsetenv("LVMM_TEST_KNOB");
		setenv("LVMM_TEST_NUM", cases[i].num, 1);
		knob_v = 7;
		stderr_of(knob_calls, err, sizeof(err));
		CHECK_EQ(knob_k, cases[i].k);
		CHECK_EQ(knob_ok, cases[i].ok);
		CHECK_EQ(knob_v, cases[i].v);
		if (!cases[i].warn[0])
			CHECK_STR(err, "");
		else
			CHECK(strstr(err, cases[i].warn[0]) && strstr(err, cases[i].warn[1]));
	}
	unsetenv("LVMM_TEST_KNOB");
	unsetenv("LVMM_TEST_NUM");
}

/* Numbers are decimal (a leading 0 is not octal) or 0x hex, nothing else. */
static void test_numbers(void)
{
	uint64_t v = 0;

	CHECK_EQ(parse_u64("010", 100, &v), 0);
	CHECK_EQ(v, 10);
	CHECK_EQ(parse_u64("0x1f", 100, &v), 0);
	CHECK_EQ(v, 31);
	CHECK_EQ(parse_u64("0", 100, &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(parse_u64("0o10", 100, &v), -EINVAL);
	CHECK_EQ(parse_u64("0x", 100, &v), -EINVAL);
	CHECK_EQ(parse_u64("0x0x1", 100, &v), -EINVAL);
	CHECK_EQ(parse_u64("+1", 100, &v), -EINVAL);
	CHECK_EQ(parse_u64(" 1", 100, &v), -EINVAL);
	CHECK_EQ(parse_u64("-1", 100, &v), -EINVAL);
	CHECK_EQ(parse_u64("1e3", 100000, &v), -EINVAL);
	CHECK_EQ(parse_u64("101", 100, &v), -ERANGE);
	CHECK_EQ(parse_u64("18446744073709551616", UINT64_MAX, &v), -ERANGE);

	CHECK_EQ(load("partitions:\n  - name: a\n    kernel: %K\n    vcpus: 010\n"
		      "    restart_limit: 0x10\n    restart_delay_ms: 0100\n"), 0);
	CHECK_EQ(plat.parts[0].vcpus, 10); /* libcyaml read 010 as octal 8 */
	CHECK_EQ(plat.parts[0].restart_limit, 16);
	CHECK_EQ(plat.parts[0].restart_delay_ms, 100);
	CHECK_EQ(load("partitions:\n  - name: a\n    kernel: %K\n    vcpus: 01\n    host_cpus: [00]\n"), 0);
	CHECK_EQ(plat.parts[0].n_host_cpus, 1);
	CHECK_EQ(plat.parts[0].host_cpus[0], 0);
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    vcpus: 0o10\n") > 0);
	CHECK(says(4, "vcpus: '0o10' is not a whole number"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    vcpus: -1\n") > 0);
	CHECK(says(4, "not a whole number"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    devices:\n"
		   "      - { type: blk, path: %D, readonly: maybe }\n") > 0);
	CHECK(says(5, "readonly: 'maybe' is not true or false"));
	CHECK_EQ(load("partitions:\n  - name: a\n    kernel: %K\n    autostart: no\n    stdin: On\n"), 0);
	CHECK(!plat.parts[0].autostart);
	CHECK(plat.parts[0].stdin_console);
}

/*
 * One file with a problem at every stage: an unknown key, a bad value, a
 * missing file, a bad device, a missing link end. All are reported, not
 * only the first stage's.
 */
static void test_every_problem(void)
{
	int n = load("partitions:\n"
		     "  - name: a\n"
		     "    kernel: %K\n"
		     "    vcpuz: 2\n"                              /* 4: unknown key */
		     "    memory: 64Q\n"                           /* 5: bad value */
		     "    initrd: /nonexistent/initrd\n"           /* 6: missing file */
		     "    devices:\n"
		     "      - { type: floppy }\n"                  /* 8: bad device */
		     "      - { type: net, link: nowhere }\n"      /* 9: undeclared link */
		     "  - name: b\n"
		     "    kernel: /nonexistent/kernel\n");         /* 11: missing kernel */

	CHECK_EQ(n, 6);
	CHECK(says(4, "unknown key 'vcpuz' in partitions[0]; expected one of: name role vcpus"));
	CHECK(says(5, "memory '64Q' is not a size"));
	CHECK(says(6, "initrd '/nonexistent/initrd': No such file"));
	CHECK(says(8, "unknown device type 'floppy'"));
	CHECK(says(9, "link 'nowhere' is not declared"));
	CHECK(says(11, "kernel '/nonexistent/kernel': No such file"));
	/* Several structural problems are all named too (then values are not read). */
	n = load("partitions:\n  - name: a\n    vcpuz: 2\n    devices: { type: blk }\n"
		 "links: [ { name: l, ends: x } ]\nbogus: 1\n");
	CHECK_EQ(n, 5);
	CHECK(says(2, "partitions[0] needs 'kernel:'"));
	CHECK(says(3, "unknown key 'vcpuz'"));
	CHECK(says(4, "partitions[0].devices must be a list"));
	CHECK(says(5, "links[0].ends must be a list"));
	CHECK(says(6, "unknown key 'bogus'; expected one of: partitions links events control identities"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    kernel: %K\n") > 0);
	CHECK(says(4, "key 'kernel' appears twice"));
}

/* Deeply nested text: bounded time, one message naming the limit and the line. */
static void test_limit_depth(void)
{
	enum { DEPTH = 40000 }; /* 80 KB: 4 s of CPU before the limit existed */
	static char text[2 * DEPTH + 64];
	double t0;
	int n;

	n = snprintf(text, sizeof(text), "partitions:\n  - name: a\n    kernel: ");
	memset(text + n, '[', DEPTH);
	memset(text + n + DEPTH, ']', DEPTH);
	strcpy(text + n + 2 * DEPTH, "\n");
	t0 = cpu_seconds();
	CHECK_EQ(load_raw(text, strlen(text)), 1);
	CHECK(cpu_seconds() - t0 < 0.5);
	CHECK(says(3, "nested more than 32 deep (the limit)"));
	/* 32 levels are fine (the schema then objects, not the limit). */
	n = snprintf(text, sizeof(text), "partitions:\n  - name: a\n    kernel: ");
	memset(text + n, '[', 29);
	memset(text + n + 29, ']', 29);
	strcpy(text + n + 58, "\n");
	CHECK(load_raw(text, strlen(text)) > 0);
	CHECK(!strstr(errbuf, "the limit"));
}

/* "Billion laughs": aliases that expand to millions of values are refused before libcyaml expands them. */
static void test_limit_aliases(void)
{
	static char text[200000];
	struct rusage ru0, ru1;
	size_t n = 0;
	unsigned i;

	n += (size_t)snprintf(text + n, sizeof(text) - n,
			      "partitions: [{name: a, kernel: /etc/hostname, label: l0}]\n"
			      "policy:\n  ste_types: [t]\n  labels:\n    - {name: l0, ste: &A [u");
	for (i = 1; i < 3000; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, ", u");
	n += (size_t)snprintf(text + n, sizeof(text) - n, "]}\n");
	for (i = 0; i < 3000; i++) /* 3000 x 3000 = 9 million strings once expanded */
		n += (size_t)snprintf(text + n, sizeof(text) - n, "    - {name: m%u, ste: *A}\n", i);
	getrusage(RUSAGE_SELF, &ru0);
	CHECK_EQ(load_raw(text, n), 1);
	getrusage(RUSAGE_SELF, &ru1);
	CHECK(says(21, "more than 50000 values once aliases (*name) are expanded (the limit)"));
	CHECK_EQ(count_lines(errbuf), 1);
	CHECK(ru1.ru_maxrss - ru0.ru_maxrss < 32 * 1024); /* KiB: it was 600 MB */
	/* A few aliases are fine. */
	CHECK_EQ(load("partitions:\n  - name: a\n    kernel: %K\n    cpuid_disable: &c [cx16]\n"
		      "  - name: b\n    kernel: %K\n    cpuid_disable: *c\n"), 0);
	CHECK_EQ(plat.parts[1].ncpuid_mask, 1);
	/* An alias inside its own anchor would be a cycle. */
	CHECK(load("partitions: &p\n  - name: a\n    kernel: %K\n    x: *p\n") > 0);
	CHECK(says(4, "alias '*p' does not refer to an earlier, complete anchor"));
	/* Too many anchors. */
	n = (size_t)snprintf(text, sizeof(text), "partitions:\n  - name: a\n    kernel: /k\n    cpuid_disable: [");
	for (i = 0; i < 70; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s&a%u cx16", i ? ", " : "", i);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "]\n");
	CHECK(load_raw(text, n) > 0);
	CHECK(says(4, "more than 64 anchors"));
}

static void test_limit_size_and_documents(void)
{
	static char text[CFG_MAX_BYTES + 100];
	size_t n;

	n = (size_t)snprintf(text, sizeof(text), "partitions:\n  - name: a\n    kernel: /k\n#");
	memset(text + n, 'x', sizeof(text) - n - 1);
	text[sizeof(text) - 2] = '\n';
	text[sizeof(text) - 1] = 0;
	CHECK_EQ(load_raw(text, strlen(text)), 1);
	CHECK(strstr(errbuf, "configuration files are limited to 1048576 bytes"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n---\npartitions: []\n") > 0);
	CHECK(says(4, "a second YAML document"));
}

/* What `run` would find out only when a partition starts, check reports up front. */
static void test_paths(void)
{
	char text[1024], longp[200];

	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    console: file:/nonexistent/dir/c.log\n") > 0);
	CHECK(says(4, "console file '/nonexistent/dir/c.log': directory '/nonexistent/dir': No such file"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    console: file:/tmp\n") > 0);
	CHECK(says(4, "console file '/tmp' is a directory"));
	CHECK_EQ(load("partitions:\n  - name: a\n    kernel: %K\n    console: file:c.log\n"), 0);
	memset(longp, 'x', 120);
	longp[120] = 0;
	snprintf(text, sizeof(text), "partitions:\n  - name: a\n    kernel: %%K\n    devices:\n"
		 "      - { type: stream, socket: /tmp/%s }\n", longp);
	CHECK(load(text) > 0);
	CHECK(says(5, "a Unix socket path has at most 107"));
	snprintf(text, sizeof(text), "control: /tmp/%s\npartitions:\n  - name: a\n    kernel: %%K\n", longp);
	CHECK(load(text) > 0);
	CHECK(says(1, "control socket path"));
	CHECK(load("events: /nonexistent/ev.jsonl\ncontrol: /nonexistent/c.sock\n"
		   "partitions:\n  - name: a\n    kernel: %K\n    devices:\n"
		   "      - { type: stream, socket: /nonexistent/s.sock, listen: true }\n"
		   "      - { type: stream, socket: /nonexistent/peer.sock }\n") == 3);
	CHECK(says(1, "event log '/nonexistent/ev.jsonl'"));
	CHECK(says(2, "control socket '/nonexistent/c.sock'"));
	CHECK(says(7, "stream socket '/nonexistent/s.sock'"));
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    devices:\n"
		   "      - { type: stream, socket: %K, listen: true }\n") > 0);
	CHECK(says(5, "exists and is not a socket"));
}

/* The supervisor has one agent slot per partition: a second control channel cannot run. */
static void test_control_channels(void)
{
	CHECK_EQ(load("partitions:\n  - name: a\n    kernel: %K\n    devices:\n"
		      "      - { type: stream, control: true }\n"), 0);
	CHECK(load("partitions:\n  - name: a\n    kernel: %K\n    devices:\n"
		   "      - { type: stream, control: true }\n      - { type: stream, control: true }\n") > 0);
	CHECK(says(6, "already has a control channel (device stream0): at most one"));
}

static void test_identities(void)
{
	CHECK_EQ(load("identities: { uid_base: 200000, count: 0x10 }\n"
		      "partitions:\n  - name: a\n    kernel: %K\n"), 0);
	CHECK_EQ(plat.uid_base, 200000);
	CHECK_EQ(plat.uid_count, 16);
	CHECK_EQ(load("partitions:\n  - name: a\n    kernel: %K\n"), 0);
	CHECK_EQ(plat.uid_base, PLAT_UID_BASE_DEFAULT);
	CHECK_EQ(plat.uid_count, PLAT_UID_COUNT_DEFAULT);
	CHECK(load("identities: { uid_base: 0, count: 10 }\npartitions:\n  - name: a\n    kernel: %K\n") > 0);
	CHECK(says(1, "uid_base 0 is a system account's range"));
	CHECK(load("identities: { uid_base: 999, count: 10 }\npartitions:\n  - name: a\n    kernel: %K\n") > 0);
	CHECK(says(1, "system account"));
	CHECK(load("identities: { uid_base: 65000, count: 1000 }\npartitions:\n  - name: a\n    kernel: %K\n") > 0);
	CHECK(says(1, "includes 65534/65535"));
	CHECK(load("identities: { uid_base: 100000, count: 1 }\npartitions:\n  - name: a\n    kernel: %K\n"
		   "  - name: b\n    kernel: %K\n") > 0);
	CHECK(says(1, "count 1 is less than the 2 identities the partitions need"));
	CHECK(load("identities: { uid_base: 4294967000, count: 1000 }\npartitions:\n  - name: a\n    kernel: %K\n") > 0);
	CHECK(says(1, "goes past the largest uid"));
	CHECK(load("identities: { uid_base: 4294967296 }\npartitions:\n  - name: a\n    kernel: %K\n") > 0);
	CHECK(says(1, "uid_base: 4294967296 is out of range"));
	CHECK(load("identities: { uid: 1 }\npartitions:\n  - name: a\n    kernel: %K\n") > 0);
	CHECK(says(1, "unknown key 'uid' in identities; expected one of: uid_base count"));
}

/* sleep: recheck_ms; a host hook is refused, with where it went (lvmm ctl on-sleep). */
static void test_sleep(void)
{
	CHECK_EQ(load("partitions:\n  - name: a\n    kernel: %K\n"), 0);
	CHECK_EQ(plat.sleep_recheck_ms, PLAT_SLEEP_RECHECK_MS);
	CHECK_EQ(load("sleep: { recheck_ms: 0x10 }\npartitions:\n  - name: a\n    kernel: %K\n"), 0);
	CHECK_EQ(plat.sleep_recheck_ms, 16);
	CHECK(load("sleep: { hook: [ /bin/true ] }\npartitions:\n  - name: a\n    kernel: %K\n") > 0);
	CHECK(says(1, "lvmm runs no host hook when the platform sleeps any more: run 'lvmm ctl SOCKET on-sleep"));
	CHECK(load("sleep: { hook_timeout_ms: 500 }\npartitions:\n  - name: a\n    kernel: %K\n") > 0);
	CHECK(says(1, "lvmm runs no host hook when the platform sleeps any more"));
	CHECK(load("sleep: { recheck_ms: 3600001 }\npartitions:\n  - name: a\n    kernel: %K\n") > 0);
	CHECK(load("sleep: { when: 1 }\npartitions:\n  - name: a\n    kernel: %K\n") > 0);
	CHECK(says(1, "unknown key 'when' in sleep; expected one of: hook hook_timeout_ms recheck_ms"));
}

/* Standalone policies get the same limits (a policy may come from a partition). */
static void test_policy_limits(void)
{
	static char text[100000];
	static struct policy pol;
	size_t n = 0;
	unsigned i;
	FILE *e;
	int r;

	n += (size_t)snprintf(text + n, sizeof(text) - n, "ste_types: &T [a");
	for (i = 0; i < 2000; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, ", t%u", i);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "]\nlabels:\n");
	for (i = 0; i < 2000; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "  - {name: l%u, ste: *T}\n", i);
	e = fmemopen(errbuf, sizeof(errbuf) - 1, "w");
	memset(errbuf, 0, sizeof(errbuf));
	r = policy_load("<upload>", text, n, &pol, e);
	fclose(e);
	CHECK_EQ(r, 1);
	CHECK(strstr(errbuf, "<upload>:") && strstr(errbuf, "(the limit)"));
	e = fmemopen(errbuf, sizeof(errbuf) - 1, "w");
	snprintf(text, sizeof(text), "ste_types: [a]\nlabels: [ {name: l, ste: [a]} ]\n");
	r = policy_load("<upload>", text, strlen(text), &pol, e);
	fclose(e);
	CHECK_EQ(r, 0);
	CHECK_EQ(pol.revision, LVMM_POLICY_REVISION);
	CHECK_EQ(pol.nlabels, 1);
}

/* protect:, on_violation:, watchdog: (docs/protect.md). */
static void test_protect(void)
{
	CHECK_EQ(load("partitions:\n"
		      "  - name: a\n"
		      "    memory: 64M\n"
		      "    kernel: %K\n"
		      "    protect:\n"
		      "      - { start: 0x800000, size: 8K }\n"
		      "      - { start: 0x900000, size: 4096 }\n"
		      "    on_violation: isolate\n"
		      "    watchdog: { timeout_ms: 500, action: stop }\n"), 0);
	CHECK_EQ(plat.parts[0].nprotect, 2);
	CHECK_EQ(plat.parts[0].protect[0].gpa, 0x800000);
	CHECK_EQ(plat.parts[0].protect[0].size, 8192);
	CHECK_EQ(plat.parts[0].protect[1].region, LVMM_PROT_RANGE);
	CHECK_EQ(plat.parts[0].on_violation, LVMM_VIOL_ISOLATE);
	CHECK_EQ(plat.parts[0].watchdog_ms, 500);
	CHECK_EQ(plat.parts[0].watchdog_action, LVMM_WDOG_STOP);
	/* defaults: block; a watchdog restarts */
	CHECK_EQ(load("partitions:\n  - name: a\n    kernel: %K\n"
		      "    watchdog: { timeout_ms: 100 }\n"), 0);
	CHECK_EQ(plat.parts[0].on_violation, LVMM_VIOL_BLOCK);
	CHECK_EQ(plat.parts[0].watchdog_action, LVMM_WDOG_RESTART);
	/* every problem, each on its line */
	CHECK(load("partitions:\n"
		   "  - name: a\n"
		   "    memory: 64M\n"
		   "    kernel: %K\n"
		   "    protect:\n"
		   "      - { start: 0x800800, size: 4K }\n"
		   "      - { region: kernel_data }\n"
		   "      - { region: kernel_text, start: 0x1000 }\n"
		   "      - { start: 0x1000 }\n"
		   "      - { start: 0x8000000, size: 4K }\n"
		   "      - { region: kernel_text }\n"
		   "    on_violation: shout\n"
		   "    watchdog: { timeout_ms: 5, action: reboot }\n") > 0);
	CHECK(says(6, "is not page-aligned"));
	CHECK(says(7, "protect region 'kernel_data' is unknown"));
	CHECK(says(8, "either 'region:' or 'start:'"));
	CHECK(says(9, "needs 'start:' and 'size:'"));
	CHECK(says(10, "is not inside partition 'a''s RAM"));
	CHECK(strstr(errbuf, "partition 'a': protect region kernel_text/kernel_rodata needs an ELF kernel"));
	CHECK(strstr(errbuf, "on_violation 'shout' is unknown"));
	CHECK(strstr(errbuf, "timeout_ms 5 is too short"));
	CHECK(strstr(errbuf, "watchdog action 'reboot' is unknown"));
}

/* verify:, safe_image:, { type: tpm } and the canonical entry measured into PCR 21 (docs/trust.md). */
static void test_trust_keys(void)
{
	char want[400], text[LVMM_TRUST_PLATFORM_MAX];
	const struct plat_part *p = &plat.parts[0];
	int n;

	CHECK_EQ(load("partitions:\n"
		      "  - name: user\n"
		      "    kernel: %K\n"
		      "    verify: { manifest: %D, signature: %D, key: %D, on_fail: safe_image }\n"
		      "    safe_image: { kernel: %K, cmdline: \"safe\", verify: { manifest: %D, signature: %D, key: %D } }\n"
		      "    devices: [ { type: tpm, state: vtpm }, { type: blk, path: \"%D\" } ]\n"), 0);
	CHECK(p->verify.on && p->verify.on_fail == LVMM_TRUST_SAFE_IMAGE && !strcmp(p->verify.key, disk));
	CHECK(p->safe.on && !strcmp(p->safe.cmdline, "safe") && p->safe.verify.on &&
	      p->safe.verify.on_fail == LVMM_TRUST_REFUSE);
	CHECK_EQ(plat_part_tpm(p), 0);
	CHECK(plat_part_trust(p));
	CHECK_STR(p->devs[0].id, "tpm0");
	snprintf(want, sizeof(want), "%s/vtpm", dir);
	CHECK_STR(p->devs[0].path, want);
	/* The canonical entry: fixed order, basenames, one line per setting. */
	n = plat_part_canonical(p, text, sizeof(text));
	CHECK(n > 0 && (size_t)n == strlen(text));
	CHECK(!strncmp(text, "lvmm-platform-entry=1\nname=user\nrole=user\nlabel=\nvcpus=1\n", 50));
	CHECK(strstr(text, "\nkernel=kernel.bin\ninitrd=\nverify_manifest=disk.img\n"));
	CHECK(strstr(text, "\nverify_on_fail=safe_image\nsafe_image_kernel=kernel.bin\n"));
	CHECK(strstr(text, "\ndevice=tpm id:tpm0\ndevice=blk id:blk0 readonly:0 path:"));
	CHECK(!strstr(text, dir) || strstr(text, "path:")); /* host paths only where they name a resource */
	CHECK_EQ(plat_part_canonical(p, text, 40), -ENOSPC);
	/* Non-printable bytes cannot forge a line. */
	CHECK(load("partitions:\n  - name: u\n    kernel: %K\n    devices: [ { type: blk, path: \"a\\nname=x\\t\" } ]\n") > 0);
	CHECK(plat_part_canonical(p, text, sizeof(text)) > 0 && strstr(text, "a\\x0aname=x\\x09\n"));
	CHECK(!plat_part_trust(p));

	/* Every problem with its line and what to write. */
	CHECK(load("partitions:\n  - name: u\n    kernel: %K\n"
		   "    verify: { manifest: %D, signature: %D, key: %D, on_fail: maybe }\n") > 0);
	CHECK(says(4, "on_fail 'maybe' is unknown: expected refuse or safe_image"));
	CHECK(load("partitions:\n  - name: u\n    kernel: %K\n    verify: { manifest: %D, signature: %D }\n") > 0);
	CHECK(says(4, "key"));
	CHECK(load("partitions:\n  - name: u\n    kernel: %K\n"
		   "    verify: { manifest: %D, signature: %D, key: nope.pem, on_fail: safe_image }\n") > 0);
	CHECK(says(4, "on_fail: safe_image needs a 'safe_image: { kernel, verify }'"));
	CHECK(says(4, "key '") && strstr(errbuf, "nope.pem': No such file or directory"));
	CHECK(load("partitions:\n  - name: u\n    kernel: %K\n"
		   "    safe_image: { kernel: %K, verify: { manifest: %D, signature: %D, key: %D } }\n") > 0);
	CHECK(says(4, "safe_image is used only when verification fails with 'on_fail: safe_image'"));
	CHECK(load("partitions:\n  - name: u\n    kernel: %K\n"
		   "    verify: { manifest: %D, signature: %D, key: %D, on_fail: safe_image }\n"
		   "    safe_image: { kernel: %K }\n") > 0);
	CHECK(says(5, "safe_image needs its own 'verify: { manifest, signature, key }'"));
	CHECK(load("partitions:\n  - name: u\n    kernel: %K\n    devices: [ { type: tpm } ]\n") > 0);
	CHECK(says(4, "tpm device needs 'state: DIR'"));
	CHECK(load("partitions:\n  - name: u\n    kernel: %K\n"
		   "    devices: [ { type: tpm, state: a }, { type: tpm, state: b } ]\n") > 0);
	CHECK(says(4, "partition 'u' already has a TPM (device tpm0)"));
	CHECK(load("partitions:\n  - name: u\n    kernel: %K\n    devices: [ { type: tpm, state: \"a,b\" } ]\n") > 0);
	CHECK(says(4, "contains ','"));
	CHECK(load("partitions:\n  - name: u\n    kernel: %K\n    devices: [ { type: tpm, state: %K } ]\n") > 0);
	CHECK(says(4, "is not a directory"));
	CHECK(load("partitions:\n  - { name: a, kernel: %K, devices: [ { type: tpm, state: s } ] }\n"
		   "  - { name: b, kernel: %K, devices: [ { type: tpm, state: s } ] }\n") > 0);
	CHECK(says(3, "this vTPM state directory is already assigned to partition 'a'"));
	/* A trust process runs as an identity of its own too. */
	CHECK_EQ(load("identities: { uid_base: 100000, count: 2 }\npartitions:\n"
		      "  - { name: a, kernel: %K, devices: [ { type: tpm, state: s } ] }\n"), 0);
	CHECK(load("identities: { uid_base: 100000, count: 1 }\npartitions:\n"
		   "  - { name: a, kernel: %K, devices: [ { type: tpm, state: s } ] }\n") > 0);
	CHECK(says(1, "count 1 is less than the 2 identities the partitions need"));
}

int main(void)
{
	FILE *f;

	if (!mkdtemp(dir))
		return 1;
	snprintf(yaml, sizeof(yaml), "%s/p.yaml", dir);
	snprintf(kernel, sizeof(kernel), "%s/kernel.bin", dir);
	snprintf(disk, sizeof(disk), "%s/disk.img", dir);
	f = fopen(kernel, "w");
	fputs("kernel", f);
	fclose(f);
	f = fopen(disk, "w");
	fputs("disk", f);
	fclose(f);
	RUN(test_valid);
	RUN(test_relative_paths);
	RUN(test_schema_errors);
	RUN(test_value_errors);
	RUN(test_exclusive);
	RUN(test_links);
	RUN(test_numbers);
	RUN(test_knobs);
	RUN(test_every_problem);
	RUN(test_limit_depth);
	RUN(test_limit_aliases);
	RUN(test_limit_size_and_documents);
	RUN(test_paths);
	RUN(test_control_channels);
	RUN(test_identities);
	RUN(test_sleep);
	RUN(test_policy_limits);
	RUN(test_protect);
	RUN(test_trust_keys);
	unlink(yaml);
	unlink(kernel);
	unlink(disk);
	rmdir(dir);
	return unit_done();
}
