// SPDX-License-Identifier: MIT
/*
 * The partition's own configuration builder (src/vmm/part_config.c): the
 * CONFIG message (the supervisor's grant and the partition's platform
 * entry) becomes the device descriptions the partition creates; a
 * malformed or hostile message is refused with a reason; disk images are
 * locked by the partition.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "unit.h"
#include "common/log.h"
#include "vmm/part_config.h"

static struct plat_config_msg m;
static struct lvmm_part_config cfg;
static char err[256];

/* A valid message: entry "user" with four devices (the tap one not granted). */
static void base(void)
{
	struct plat_part *p = &m.part;
	struct lvmm_part_grant *g = &m.grant;

	memset(&m, 0, sizeof(m));
	plat_part_defaults(p);
	snprintf(p->name, sizeof(p->name), "user");
	snprintf(p->cmdline, sizeof(p->cmdline), "console=ttyS0");
	snprintf(p->safe.cmdline, sizeof(p->safe.cmdline), "safe=1");
	p->vcpus = 2;
	p->mem_bytes = 64 << 20;
	p->host_cpus[0] = 1;
	p->n_host_cpus = 1;
	p->watchdog_ms = 500;
	p->devs[0] = (struct plat_dev){ .type = LVMM_DEV_BLK, .id = "blk0", .path = "/x.img", .readonly = true };
	p->devs[1] = (struct plat_dev){ .type = LVMM_DEV_NET_TAP, .id = "net0", .tap = "tap0" };
	p->devs[2] = (struct plat_dev){ .type = LVMM_DEV_NET_LINK, .id = "net1", .link = "uplink",
					.mac = { 2, 0, 0, 0, 0, 9 }, .tx_rl = { .bytes_per_sec = 1000 } };
	p->devs[3] = (struct plat_dev){ .type = LVMM_DEV_STREAM, .id = "agent0", .path = "/s", .listen = true };
	p->ndevs = 4;
	memset(g, 0xff, sizeof(*g));
	g->flags = LVMM_PART_F_PREFIX;
	g->log_level = 1;
	g->uid = g->gid = 4242;
	g->granted = 0xd; /* not net0 */
	g->link_side1 = 1U << 2;
	g->fd_kvm = 0, g->fd_mem = 1, g->fd_kernel = 2, g->fd_console_out = 3;
	g->dev_fd[0][0] = 4;
	g->dev_fd[2][0] = 5, g->dev_fd[2][1] = 6, g->dev_fd[2][2] = 7;
	g->dev_fd[3][0] = 8;
}

static void test_builds_granted_devices(void)
{
	base();
	CHECK_EQ(part_config_build(&m, &cfg, err, sizeof(err)), 0);
	CHECK_STR(cfg.name, "user");
	CHECK_STR(cfg.cmdline, "console=ttyS0");
	CHECK_EQ(cfg.vcpus, 2);
	CHECK_EQ(cfg.mem_bytes, 64 << 20);
	CHECK_EQ(cfg.uid, 4242);
	CHECK_EQ(cfg.flags, LVMM_PART_F_PREFIX);
	CHECK_EQ(cfg.host_cpus[0], 1);
	CHECK_EQ(cfg.host_cpus[1], -1);
	CHECK_EQ(cfg.watchdog_ms, 500);
	CHECK_EQ(cfg.fd_kernel, 2);
	CHECK_EQ(cfg.fd_initrd, LVMM_NO_FD);
	CHECK_EQ(cfg.fd_console_in, LVMM_NO_FD);
	/* The refused TAP is not there at all; the others keep the entry's order. */
	CHECK_EQ(cfg.ndevs, 3);
	CHECK_STR(cfg.devs[0].id, "blk0");
	CHECK_EQ(cfg.devs[0].flags, LVMM_DEV_F_READONLY);
	CHECK_EQ(cfg.devs[0].fd[0], 4);
	CHECK_EQ(cfg.devs[0].fd[1], LVMM_NO_FD);
	CHECK_STR(cfg.devs[1].id, "net1");
	CHECK_EQ(cfg.devs[1].type, LVMM_DEV_NET_LINK);
	CHECK_STR(cfg.devs[1].peer, "uplink");
	CHECK_EQ(cfg.devs[1].flags, LVMM_DEV_F_LINK_SIDE1);
	CHECK(cfg.devs[1].ring_size > 0);
	CHECK_EQ(cfg.devs[1].fd[2], 7);
	CHECK_EQ(cfg.devs[1].tx_rl.bytes_per_sec, 1000);
	CHECK(!memcmp(cfg.devs[1].mac, "\x02\0\0\0\0\x09", 6)); /* the entry's own MAC */
	CHECK_STR(cfg.devs[2].id, "agent0");
	CHECK_EQ(cfg.devs[2].flags, LVMM_DEV_F_LISTEN);
	/*
	 * A device without a MAC gets 52:54:00 and an FNV-1a hash of the
	 * partition's name and the device's index in the entry: the same
	 * value the supervisor used to compute, so guests see no change.
	 */
	CHECK(!memcmp(cfg.devs[0].mac, "\x52\x54\x00", 3));
	memset(m.part.devs[2].mac, 0, 6);
	CHECK_EQ(part_config_build(&m, &cfg, err, sizeof(err)), 0);
	CHECK(!memcmp(cfg.devs[1].mac, "\x52\x54\x00\x7d\x73\xd0", 6));
}

static void test_grant_flags(void)
{
	base();
	m.grant.flags = LVMM_PART_F_GATED;
	m.grant.fd_console_in = 9;
	m.grant.fd_console_listen = 10;
	m.grant.fd_gate = 11, m.grant.fd_safe_kernel = 12;
	m.part.test_device = true;
	CHECK_EQ(part_config_build(&m, &cfg, err, sizeof(err)), 0);
	/* Its own command line: only the gate's verdict switches to safe.cmdline (partition.c). */
	CHECK_STR(cfg.cmdline, "console=ttyS0");
	CHECK_EQ(cfg.flags, LVMM_PART_F_GATED | LVMM_PART_F_STDIN | LVMM_PART_F_CONSOLE_SOCK |
			    LVMM_PART_F_TEST_DEVICE);
	CHECK_EQ(cfg.fd_console_listen, 10);
	/* The gate and the safe image's files are the grant's. */
	CHECK_EQ(cfg.fd_gate, 11);
	CHECK_EQ(cfg.fd_safe_kernel, 12);
	CHECK_EQ(cfg.fd_safe_initrd, LVMM_NO_FD);
	/* Flags the partition derives itself are not the supervisor's to send, nor unknown ones. */
	m.grant.flags = LVMM_PART_F_CONSOLE_SOCK;
	CHECK_EQ(part_config_build(&m, &cfg, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "config: grant flags out of range");
	m.grant.flags = 1U << 5;
	CHECK_EQ(part_config_build(&m, &cfg, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "config: grant flags out of range");
}

/* Refused, with err as given. */
static void refused(const char *why)
{
	err[0] = 0;
	CHECK_EQ(part_config_build(&m, &cfg, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, why);
}

static void test_hostile_values_refused(void)
{
	base();
	m.part.ndevs = LVMM_MAX_DEVS + 1;
	refused("config: 13 devices (at most 12)");
	base();
	m.part.ndevs = UINT32_MAX;
	refused("config: 4294967295 devices (at most 12)");
	base();
	m.grant.granted |= 1U << 5; /* past the entry's 4 devices */
	refused("config: device 5 granted, but the entry has 4 devices");
	base();
	m.part.ndevs = LVMM_MAX_DEVS;
	m.grant.granted = 1U << 31;
	refused("config: device 31 granted, but the entry has 12 devices");
	base();
	m.part.ndevs = 0; /* nothing granted may remain */
	refused("config: device 3 granted, but the entry has 0 devices");
	base();
	m.part.n_host_cpus = LVMM_MAX_VCPUS + 1;
	refused("config: host_cpus out of range");
	base();
	memset(m.part.name, 'a', sizeof(m.part.name));
	refused("config: unterminated string");
	base();
	memset(m.part.safe.cmdline, 'a', sizeof(m.part.safe.cmdline));
	refused("config: unterminated string");
	base();
	memset(m.part.devs[2].link, 'x', sizeof(m.part.devs[2].link));
	refused("config: device 2: unterminated string");
	/* A device that is not granted is never read. */
	base();
	memset(m.part.devs[1].tap, 'x', sizeof(m.part.devs[1].tap));
	memset(m.part.devs[1].id, 'x', sizeof(m.part.devs[1].id));
	CHECK_EQ(part_config_build(&m, &cfg, err, sizeof(err)), 0);
}

static void test_disk_lock(void)
{
	char path[] = "/tmp/lvmm-partcfg-XXXXXX";
	int held, fds[9], tmp = mkstemp(path);
	uint64_t t0;

	CHECK(tmp >= 0);
	base();
	snprintf(m.part.devs[0].path, sizeof(m.part.devs[0].path), "%s", path);
	m.part.devs[0].readonly = false;
	for (unsigned i = 0; i < 9; i++)
		fds[i] = -1;
	fds[4] = open(path, O_RDWR | O_CLOEXEC);
	held = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fds[4] >= 0 && held >= 0);
	/* Another holder (shared): a writer waits about 500 ms, then is refused, the image named. */
	CHECK_EQ(flock(held, LOCK_SH), 0);
	t0 = now_ns();
	CHECK_EQ(part_lock_disks(&m, fds, 9, err, sizeof(err)), -EWOULDBLOCK);
	CHECK(now_ns() - t0 >= 400000000ULL);
	CHECK(strstr(err, path) && strstr(err, "is in use by another process"));
	/* A read-only image shares with a reader. */
	m.part.devs[0].readonly = true;
	CHECK_EQ(part_lock_disks(&m, fds, 9, err, sizeof(err)), 0);
	/* A bad fd index is refused, not used. */
	m.grant.dev_fd[0][0] = 9;
	CHECK_EQ(part_lock_disks(&m, fds, 9, err, sizeof(err)), -EINVAL);
	/* Released by its holder: the writer gets it, and a second writer is refused. */
	m.grant.dev_fd[0][0] = 4;
	m.part.devs[0].readonly = false;
	close(held);
	close(fds[4]);
	fds[4] = open(path, O_RDWR | O_CLOEXEC);
	CHECK_EQ(part_lock_disks(&m, fds, 9, err, sizeof(err)), 0);
	held = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(flock(held, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK);
	close(held);
	close(fds[4]);
	close(tmp);
	unlink(path);
}

int main(void)
{
	RUN(test_builds_granted_devices);
	RUN(test_grant_flags);
	RUN(test_hostile_values_refused);
	RUN(test_disk_lock);
	return unit_done();
}
