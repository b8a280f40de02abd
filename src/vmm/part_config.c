// SPDX-License-Identifier: MIT
/*
 * The partition builds its own configuration (part_config.h). The
 * supervisor sends what it decided (the grant: which devices, which fds,
 * identity, flags) and the partition's platform entry as it is; everything
 * derived from the entry alone (device descriptions, default MACs, rate
 * limits, the command line) is made here, in the sandboxed process it
 * concerns, not in the trusted core (docs/design.md, "Who builds a
 * partition's configuration").
 */
#include "vmm/part_config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>

#include "common/proto.h"
#include "lvmm/link_ring.h"

#define GRANT_FLAGS (LVMM_PART_F_PREFIX | LVMM_PART_F_GATED)

/* A locked image is retried every 5 ms for 500 ms (part_lock_disks). */
#define DISK_LOCK_WAIT_NS (5 * 1000 * 1000L)
#define DISK_LOCK_TRIES   100

/* A stable, locally administered MAC for a device that has none. */
static void default_mac(const char *part, unsigned idx, uint8_t mac[6])
{
	uint32_t h = 2166136261U;
	const char *s;

	for (s = part; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619U;
	h = (h ^ idx) * 16777619U;
	mac[0] = 0x52, mac[1] = 0x54, mac[2] = 0x00;
	mac[3] = (uint8_t)(h >> 16), mac[4] = (uint8_t)(h >> 8), mac[5] = (uint8_t)h;
}

/* Is m well-formed enough to be read? 0, or -EINVAL with the reason in err. */
static int msg_check(const struct plat_config_msg *m, char *err, size_t errlen)
{
	const struct plat_part *p = &m->part;
	const struct lvmm_part_grant *g = &m->grant;
	unsigned i;

	if (!proto_str_ok(p->name, sizeof(p->name)) || !proto_str_ok(p->cmdline, sizeof(p->cmdline)) ||
	    !proto_str_ok(p->safe.cmdline, sizeof(p->safe.cmdline))) {
		snprintf(err, errlen, "config: unterminated string");
		return -EINVAL;
	}
	if (p->ndevs > LVMM_MAX_DEVS) {
		snprintf(err, errlen, "config: %u devices (at most %u)", p->ndevs, LVMM_MAX_DEVS);
		return -EINVAL;
	}
	/* Both shifts stay below 32: LVMM_MAX_DEVS < 32. */
	if (g->granted >> p->ndevs) {
		snprintf(err, errlen, "config: device %u granted, but the entry has %u devices",
			 31 - (unsigned)__builtin_clz(g->granted), p->ndevs);
		return -EINVAL;
	}
	if (p->n_host_cpus > LVMM_MAX_VCPUS || (g->flags & ~GRANT_FLAGS)) {
		snprintf(err, errlen, "config: %s out of range",
			 p->n_host_cpus > LVMM_MAX_VCPUS ? "host_cpus" : "grant flags");
		return -EINVAL;
	}
	for (i = 0; i < p->ndevs; i++) {
		const struct plat_dev *d = &p->devs[i];

		if ((g->granted >> i & 1) &&
		    (!proto_str_ok(d->id, sizeof(d->id)) || !proto_str_ok(d->tap, sizeof(d->tap)) ||
		     !proto_str_ok(d->link, sizeof(d->link)) || !proto_str_ok(d->path, sizeof(d->path)))) {
			snprintf(err, errlen, "config: device %u: unterminated string", i);
			return -EINVAL;
		}
	}
	return 0;
}
_Static_assert(LVMM_MAX_DEVS < 32, "granted and link_side1 are 32-bit masks");

/* Device i of the entry, granted, as the partition's device model wants it. */
static void build_dev(const struct plat_config_msg *m, unsigned i, struct lvmm_dev_cfg *dc)
{
	const struct plat_dev *d = &m->part.devs[i];

	memset(dc, 0, sizeof(*dc));
	dc->type = d->type;
	snprintf(dc->id, sizeof(dc->id), "%s", d->id);
	memcpy(dc->fd, m->grant.dev_fd[i], sizeof(dc->fd));
	dc->rx_rl = d->rx_rl;
	dc->tx_rl = d->tx_rl;
	memcpy(dc->mac, d->mac, 6);
	if (!memcmp(dc->mac, "\0\0\0\0\0\0", 6))
		default_mac(m->part.name, i, dc->mac);
	switch (d->type) {
	case LVMM_DEV_BLK:
		if (d->readonly)
			dc->flags |= LVMM_DEV_F_READONLY;
		break;
	case LVMM_DEV_NET_TAP:
		snprintf(dc->peer, sizeof(dc->peer), "%s", d->tap);
		break;
	case LVMM_DEV_STREAM:
		if (d->listen && !d->control)
			dc->flags |= LVMM_DEV_F_LISTEN;
		break;
	case LVMM_DEV_NET_LINK:
		snprintf(dc->peer, sizeof(dc->peer), "%s", d->link);
		dc->ring_size = LINK_SHM_SIZE;
		if (m->grant.link_side1 >> i & 1)
			dc->flags |= LVMM_DEV_F_LINK_SIDE1;
		break;
	default: /* a TPM has nothing more; an unknown type is refused by the caller's checks */
		break;
	}
}

int part_config_build(const struct plat_config_msg *m, struct lvmm_part_config *cfg, char *err,
		      size_t errlen)
{
	const struct lvmm_part_grant *g = &m->grant;
	const struct plat_part *p = &m->part;
	unsigned i;
	int r = msg_check(m, err, errlen);

	if (r)
		return r;
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "%s", p->name);
	/* The safe image's (p->safe.cmdline) replaces it if the verdict says so (partition.c). */
	snprintf(cfg->cmdline, sizeof(cfg->cmdline), "%s", p->cmdline);
	cfg->flags = g->flags;
	if (p->test_device)
		cfg->flags |= LVMM_PART_F_TEST_DEVICE;
	if (g->fd_console_in != LVMM_NO_FD)
		cfg->flags |= LVMM_PART_F_STDIN;
	if (g->fd_console_listen != LVMM_NO_FD)
		cfg->flags |= LVMM_PART_F_CONSOLE_SOCK; /* the UART serves `lvmm console` */
	cfg->vcpus = p->vcpus;
	cfg->mem_bytes = p->mem_bytes;
	cfg->log_level = g->log_level;
	cfg->uid = g->uid;
	cfg->gid = g->gid;
	for (i = 0; i < LVMM_MAX_VCPUS; i++)
		cfg->host_cpus[i] = i < p->n_host_cpus ? p->host_cpus[i] : -1;
	cfg->ncpuid_mask = p->ncpuid_mask;
	memcpy(cfg->cpuid_mask, p->cpuid_mask, sizeof(cfg->cpuid_mask));
	cfg->nprotect = p->nprotect;
	memcpy(cfg->protect, p->protect, sizeof(cfg->protect));
	cfg->on_violation = p->on_violation;
	cfg->watchdog_ms = p->watchdog_ms;
	cfg->watchdog_action = p->watchdog_action;
	cfg->fd_kvm = g->fd_kvm;
	cfg->fd_mem = g->fd_mem;
	cfg->fd_kernel = g->fd_kernel;
	cfg->fd_initrd = g->fd_initrd;
	cfg->fd_console_out = g->fd_console_out;
	cfg->console_limit = p->console_limit;
	cfg->fd_console_in = g->fd_console_in;
	cfg->fd_console_listen = g->fd_console_listen;
	cfg->fd_gate = g->fd_gate;
	cfg->fd_safe_kernel = g->fd_safe_kernel;
	cfg->fd_safe_initrd = g->fd_safe_initrd;
	/* A device the policy refused is not created: the guest never sees it. */
	for (i = 0; i < p->ndevs; i++)
		if (g->granted >> i & 1)
			build_dev(m, i, &cfg->devs[cfg->ndevs++]);
	return 0;
}

int part_lock_disks(const struct plat_config_msg *m, const int *fds, unsigned nfds, char *err,
		    size_t errlen)
{
	const struct plat_part *p = &m->part;
	unsigned i, tries;

	for (i = 0; i < p->ndevs && i < LVMM_MAX_DEVS; i++) {
		const struct plat_dev *d = &p->devs[i];
		int32_t idx = m->grant.dev_fd[i][0];

		if (!(m->grant.granted >> i & 1) || d->type != LVMM_DEV_BLK)
			continue;
		if (idx < 0 || (unsigned)idx >= nfds) {
			snprintf(err, errlen, "config: device %s: bad fd index", d->id);
			return -EINVAL;
		}
		/*
		 * Two writers on one image corrupt it: refuse instead. A partition
		 * that has just died may hold the lock a little longer: its io_uring
		 * keeps the image open as a fixed file, and the kernel tears a dead
		 * process's ring down in a worker after the process is gone (up to
		 * ~30 ms seen on a busy host). The lock rightly lasts as long as that
		 * description does; wait for it (bounded) before calling the image in use.
		 */
		for (tries = 0; flock(fds[idx], (d->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0; tries++) {
			struct timespec ts = { 0, DISK_LOCK_WAIT_NS };
			int e = errno;

			if (e != EWOULDBLOCK || tries == DISK_LOCK_TRIES) {
				if (e == EWOULDBLOCK)
					snprintf(err, errlen, "disk image '%s' is in use by another process", d->path);
				else
					snprintf(err, errlen, "disk image '%s': %s", d->path, strerror(e));
				return -e;
			}
			nanosleep(&ts, NULL);
		}
	}
	return 0;
}
