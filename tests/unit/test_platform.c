// SPDX-License-Identifier: MIT
/* Platform-file validation: every error names FILE:LINE and what to write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/platform.h"
#include "unit/unit.h"

static char dir[] = "/tmp/lvmm-unit-platform.XXXXXX";
static char yaml[256], kernel[256], disk[256];
static struct platform plat;
static char errbuf[8192];

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
	unlink(yaml);
	unlink(kernel);
	unlink(disk);
	rmdir(dir);
	return unit_done();
}
