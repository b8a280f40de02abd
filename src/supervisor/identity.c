// SPDX-License-Identifier: MIT
/*
 * Partition identities (identity.h). Runs only when a partition is first
 * started, with static buffers: /proc is listed with getdents64 and each
 * process's ids are read through a pidfd (PIDFD_GET_INFO, Linux 6.13:
 * ~10 us a process on the reference host, where /proc/PID/status, which
 * the kernel formats whole, costs ~25 us; it is the fallback); nothing is
 * allocated.
 *
 * A platform of 64 partitions claims 64 uids at once: one /proc scan is
 * reused for IDENT_SCAN_REUSE_NS (each scan reads every process's status,
 * ~1 ms per 150 processes), and the search resumes after the last uid
 * claimed instead of trying every uid our own partitions already hold
 * (quadratic in openat + flock). A process that starts using a uid of the
 * range within that second can be missed, as one that starts using it a
 * moment after any scan would be: the lock, not the scan, is what makes a
 * uid ours.
 */
#include "supervisor/identity.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define NOBODY 65534U

static uint8_t used[IDENT_SCAN_MAX / 8];
/* What used[] describes, and since when; where the next search starts. */
static struct scan_cache {
	uint32_t base, n;
	uint64_t at_ns;
	uint32_t next;
} cache;
static char dents[16384] __attribute__((aligned(8)));
static char status[4096];

/* <linux/pidfd.h> of Linux 6.13 (PIDFD_INFO_SIZE_VER0), which older headers lack. */
struct pidfd_ids {
	uint64_t mask, cgroupid;
	uint32_t pid, tgid, ppid, ids[8], spare; /* ids: ruid rgid euid egid suid sgid fsuid fsgid */
};
#define PIDFD_GET_IDS   _IOWR(0xFF, 11, struct pidfd_ids)
#define PIDFD_IDS_CREDS 2ULL

/*
 * The eight uids and gids of process name (a /proc entry) in in->ids: 0, or
 * -1 when it is gone. Through a pidfd; from /proc/PID/status where the
 * kernel cannot tell them that way (before 6.13) or the pidfd failed.
 */
static int proc_ids(int dfd, const char *name, struct pidfd_ids *in)
{
	int fd = (int)syscall(SYS_pidfd_open, atoi(name), 0), r = -1;
	char path[64];
	ssize_t k;

	if (fd >= 0) {
		r = ioctl(fd, PIDFD_GET_IDS, in);
		close(fd);
	}
	if (!r && (in->mask & PIDFD_IDS_CREDS))
		return 0;
	snprintf(path, sizeof(path), "%.20s/status", name);
	fd = openat(dfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1; /* it exited meanwhile */
	k = read(fd, status, sizeof(status) - 1);
	close(fd);
	status[k > 0 ? k : 0] = 0;
	/* "Uid:\tr e s fs\nGid:\tr e s fs", consecutive lines; the order of ids[] does not matter. */
	return sscanf(strstr(status, "\nUid:") ?: "", " Uid: %u %u %u %u Gid: %u %u %u %u", &in->ids[0],
		      &in->ids[1], &in->ids[2], &in->ids[3], &in->ids[4], &in->ids[5], &in->ids[6],
		      &in->ids[7]) == 8 ? 0 : -1;
}

/* Every uid and gid of [base, base + n) some process on this host uses. */
static int scan_proc(uint32_t base, uint32_t n)
{
	int dfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	unsigned guard, i;

	if (dfd < 0)
		return -errno; /* used[] (and the cache that describes it) as they were */
	memset(used, 0, sizeof(used));
	/* Bounded: /proc lists each process once; 1M entries is far beyond pid_max's default. */
	for (guard = 0; guard < (1U << 20);) {
		ssize_t got = getdents64(dfd, dents, sizeof(dents));
		ssize_t off = 0;

		if (got <= 0)
			break;
		while (off < got) {
			const struct dirent64 *d = (const void *)(dents + off);
			struct pidfd_ids in = { .mask = PIDFD_IDS_CREDS };

			off += d->d_reclen;
			guard++;
			if (d->d_name[0] < '1' || d->d_name[0] > '9' || proc_ids(dfd, d->d_name, &in))
				continue;
			for (i = 0; i < ARRAY_SIZE(in.ids); i++)
				if (in.ids[i] >= base && in.ids[i] - base < n)
					used[(in.ids[i] - base) / 8] |= (uint8_t)(1U << ((in.ids[i] - base) % 8));
		}
	}
	close(dfd);
	return 0;
}

/* The lock directory: IDENT_LOCK_DIR, else the fallback. An fd for openat(), or -errno. */
static int lock_dir(char *err, size_t errlen)
{
	static const char *const dirs[][2] = {
		{ "/run/lvmm", IDENT_LOCK_DIR },
		{ "/var/tmp/lvmm", IDENT_LOCK_DIR_FALLBACK },
	};
	unsigned i;
	int r = -ENOENT;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		int fd;

		/* Ours, and no one else may write in it (a lock file swapped). */
		r = own_dir(dirs[i][0], 022);
		if (!r)
			r = own_dir(dirs[i][1], 022);
		if (r)
			continue;
		fd = open(dirs[i][1], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		r = -errno;
	}
	snprintf(err, errlen, "no usable lock directory for partition uids (%s or %s): %s",
		 IDENT_LOCK_DIR, IDENT_LOCK_DIR_FALLBACK, strerror(-r));
	return r;
}

int ident_claim(uint32_t base, uint32_t count, uint32_t *uid, int *lock_fd, char *err,
		size_t errlen)
{
	uint32_t n = MIN(count, IDENT_SCAN_MAX), i, k, busy = 0, locked = 0;
	int dfd, r;

	if (base == 0 || n == 0) {
		snprintf(err, errlen, "the partition uid range [%u, +%u) is empty or starts at 0",
			 base, count);
		return -EINVAL;
	}
	n = MIN(n, UINT32_MAX - base);
	dfd = lock_dir(err, errlen);
	if (dfd < 0)
		return dfd;
	if (!cache.at_ns || cache.base != base || cache.n != n ||
	    now_ns() - cache.at_ns > IDENT_SCAN_REUSE_NS) {
		r = scan_proc(base, n);
		if (r) {
			snprintf(err, errlen, "cannot read /proc to find free uids: %s", strerror(-r));
			goto out;
		}
		cache = (struct scan_cache){ .base = base, .n = n, .at_ns = now_ns(), .next = 0 };
	}
	r = -EUSERS;
	for (k = 0; k < n; k++) {
		char name[32];
		int fd;

		i = (cache.next + k) % n;

		if (used[i / 8] >> (i % 8) & 1 || base + i == NOBODY) {
			busy++;
			continue;
		}
		snprintf(name, sizeof(name), "%u.lock", base + i);
		fd = openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			r = -errno;
			snprintf(err, errlen, "uid lock file %u.lock: %s", base + i, strerror(-r));
			goto out;
		}
		/* Our own other partitions hold theirs through other open files: EWOULDBLOCK too. */
		if (!flock(fd, LOCK_EX | LOCK_NB)) {
			*uid = base + i;
			*lock_fd = fd;
			/* The next claim of this burst starts after it. */
			cache.next = (i + 1) % n;
			r = 0;
			goto out;
		}
		close(fd);
		locked++;
	}
	snprintf(err, errlen, "no free uid for the partition in [%u, %u): %u used by processes, "
		 "%u claimed by running partitions", base, base + n, busy, locked);
out:
	close(dfd);
	return r;
}

void ident_release(int lock_fd)
{
	if (lock_fd >= 0)
		close(lock_fd); /* the lock file stays: unlinking it would race with a claimer */
}

