// SPDX-License-Identifier: MIT
/*
 * What the `metrics` operation reports (docs/metrics.md), as the fixed
 * records of include/lvmm/ctl_proto.h: each partition's state from the life
 * cycle, its newest counters (kept here from every stats answer, so a
 * partition that does not answer in time is still shown, as stale, with
 * its last answer's figures, vCPU time included), and its process's CPU
 * time and resident memory, which never depend on the partition answering.
 * The front-end writes the text; nothing here formats anything, and the
 * only text read is statm's numbers.
 */
#include "supervisor/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/supervisor_int.h"

/* The newest stats answer of each partition, and of which process. */
static struct {
	struct lvmm_ctl_reply last[PLAT_MAX_PARTS];
	uint64_t at_ns[PLAT_MAX_PARTS];
	pid_t pid[PLAT_MAX_PARTS];
} M;

void metrics_note(const struct part_rt *pr, const struct lvmm_ctl_reply *rep)
{
	M.last[pr->index] = *rep;
	M.at_ns[pr->index] = now_ns();
	M.pid[pr->index] = pr->pid;
}

/*
 * The process's CPU time, from its CPU clock (no text to parse), and its
 * resident memory from /proc/PID/statm (numbers only: unlike the stat
 * files, nothing in it is the partition's to write). pid is our unreaped
 * child: it cannot stand for another process.
 */
static int proc_read(pid_t pid, struct lvmm_api_metrics_part *m)
{
	unsigned long long size, pages;
	char path[64], buf[128];
	struct timespec ts;
	clockid_t clk;
	ssize_t n;
	int fd;

	if (clock_getcpuclockid(pid, &clk) || clock_gettime(clk, &ts))
		return -ESRCH;
	m->cpu_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n > 0 && (buf[n] = 0, sscanf(buf, "%llu %llu", &size, &pages) == 2))
		m->rss_bytes = pages * (uint64_t)sysconf(_SC_PAGESIZE);
	return 0;
}

int metrics_blob(struct sup *s, const uint64_t *mask, bool platform, uint64_t since_ns, uint64_t *size)
{
	static struct lvmm_api_metrics_part rec;
	struct lvmm_api_metrics h = { .flags = platform ? LVMM_API_METRICS_PLATFORM : 0 };
	const int seals = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	uint64_t now = now_ns(), off = sizeof(h);
	struct timespec ts;
	unsigned i;
	int fd = memfd_create("lvmm-metrics", MFD_CLOEXEC | MFD_ALLOW_SEALING), e;

	if (fd < 0)
		return -errno;
	for (i = 0; i < s->plat->nparts && i < PLAT_MAX_PARTS; i++) {
		const struct part_rt *pr = &s->parts[i];
		bool runs = pr->pid && (pr->state == PS_RUNNING || pr->state == PS_PAUSED);

		if (!(mask[i / 64] >> (i % 64) & 1))
			continue;
		memset(&rec, 0, sizeof(rec));
		ctl_part_info(s, pr, &rec.info);
		if (pr->pid) {
			rec.uptime_ns = now - pr->started_ns;
			if (!proc_read(pr->pid, &rec))
				rec.flags |= LVMM_API_MREC_PROC;
		}
		if (pr->pid && M.pid[i] == pr->pid && M.at_ns[i]) {
			rec.flags |= LVMM_API_MREC_STATS;
			rec.stats_age_ns = now - M.at_ns[i];
			ctl_stats(&rec.stats, &M.last[i]);
			/*
			 * The partition's own word, so never more than its whole
			 * process's CPU time, which we measure (and which only grows
			 * after its answer).
			 */
			rec.vcpu_ns = MIN(M.last[i].vcpu_ns, rec.cpu_ns);
		}
		if (runs && (!(rec.flags & LVMM_API_MREC_STATS) || M.at_ns[i] < since_ns))
			rec.flags |= LVMM_API_MREC_STALE;
		if (pwrite(fd, &rec, sizeof(rec), (off_t)off) != (ssize_t)sizeof(rec))
			goto err;
		off += sizeof(rec);
		h.nparts++;
	}
	if (platform) {
		snprintf(h.acm.policy, sizeof(h.acm.policy), "%s",
			 s->plat->policy.present ? s->plat->policy.name : "none");
		acm_stats(&h.acm.decisions, &h.acm.denials, &h.acm.ste_evaluations, &h.acm.ste_cache_hits);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	h.time_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if (pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || fcntl(fd, F_ADD_SEALS, seals) < 0)
		goto err;
	*size = off;
	return fd;
err:
	e = errno ? -errno : -EIO;
	close(fd);
	return e;
}
