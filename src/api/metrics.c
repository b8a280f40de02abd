// SPDX-License-Identifier: MIT
/*
 * The `metrics` operation's answer (docs/metrics.md): the supervisor sends
 * fixed records in a sealed memfd (LVMM_BLOB_METRICS, ctl_proto.h); here
 * they are checked whole, then written as JSON (GET /v1/metrics, the agent
 * channels, lvmm ctl) or as Prometheus text exposition format 0.0.4 (GET
 * /metrics). Every family is listed once in the tables below, so the two
 * renderings and docs/metrics.md name the same things.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "common/util.h"

#define NS 1e9

struct blob {
	struct lvmm_api_metrics h;
	struct lvmm_api_metrics_part p[];
};

static bool str_ok(const char *s, size_t n)
{
	return memchr(s, 0, n) != NULL;
}

static bool rec_ok(const struct lvmm_api_metrics_part *m)
{
	const struct lvmm_api_part_info *i = &m->info;
	unsigned d;

	if (!str_ok(i->name, sizeof(i->name)) || !str_ok(i->label, sizeof(i->label)) ||
	    !str_ok(i->state, sizeof(i->state)) || !str_ok(i->role, sizeof(i->role)) ||
	    !str_ok(i->restart, sizeof(i->restart)) || m->stats.ndevs > LVMM_STATS_MAX_DEVS)
		return false;
	for (d = 0; d < m->stats.ndevs; d++)
		if (!str_ok(m->stats.devs[d].id, sizeof(m->stats.devs[d].id)) ||
		    !str_ok(m->stats.devs[d].kind, sizeof(m->stats.devs[d].kind)))
			return false;
	return true;
}

void *api_metrics_load(const struct lvmm_api_reply *r, int fd, const char **why)
{
	const int seals = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW;
	uint64_t size = r->u.blob.size;
	struct blob *b;
	struct stat st;
	unsigned i;

	*why = "the metrics are missing or not sealed";
	if (fd < 0 || fstat(fd, &st) || (fcntl(fd, F_GET_SEALS) & seals) != seals ||
	    (uint64_t)st.st_size != size || size > LVMM_API_BLOB_MAX || size < sizeof(b->h))
		return NULL;
	b = malloc((size_t)size);
	*why = "no memory for the metrics";
	if (!b)
		return NULL;
	*why = "malformed metrics from the supervisor";
	if (pread(fd, b, (size_t)size, 0) != (ssize_t)size || b->h.nparts > LVMM_API_MAX_PARTS ||
	    size != sizeof(b->h) + b->h.nparts * sizeof(b->p[0]) || !str_ok(b->h.acm.policy, sizeof(b->h.acm.policy)))
		goto bad;
	for (i = 0; i < b->h.nparts; i++)
		if (!rec_ok(&b->p[i]))
			goto bad;
	return b;
bad:
	free(b);
	return NULL;
}

/* ---- the values, shared by both renderings ---------------------------------------- */

/* Device counters by model: a disk has no packets, a NIC no reads. */
enum { D_PKTS = 1, D_BYTES = 2, D_DROPS = 4, D_OPS = 8, D_OPBYTES = 16, D_ERR = 32, D_THR = 64, D_LINK = 128 };

static unsigned dev_has(const char *kind)
{
	if (!strncmp(kind, "virtio-net", 10))
		return D_PKTS | D_BYTES | D_DROPS | D_ERR | D_THR | D_LINK;
	if (!strcmp(kind, "virtio-blk"))
		return D_OPS | D_OPBYTES | D_ERR;
	if (!strcmp(kind, "virtio-console"))
		return D_BYTES | D_DROPS | D_ERR | D_LINK;
	if (!strcmp(kind, "uart"))
		return D_BYTES | D_DROPS;
	if (!strcmp(kind, "tpm-crb"))
		return D_OPS | D_ERR;
	return ~0U;
}

#define DEV_FIELD(f) offsetof(struct lvmm_dev_stats, f)

/* Per-device counters: Prometheus name (lvmm_device_ + this), JSON key, field, model bit, help. */
static const struct dfam {
	const char *name, *key;
	size_t off;
	unsigned has;
	const char *help;
} dfams[] = {
	{ "rx_packets_total", "rx_packets", DEV_FIELD(rx_packets), D_PKTS, "Frames the device delivered to the guest." },
	{ "tx_packets_total", "tx_packets", DEV_FIELD(tx_packets), D_PKTS, "Frames the guest sent through the device." },
	{ "rx_bytes_total", "rx_bytes", DEV_FIELD(rx_bytes), D_BYTES, "Bytes the device delivered to the guest." },
	{ "tx_bytes_total", "tx_bytes", DEV_FIELD(tx_bytes), D_BYTES, "Bytes the guest sent through the device." },
	{ "drops_total", "drops", DEV_FIELD(drops), D_DROPS, "Frames (console: bytes) dropped: malformed, link down, no room, filtered." },
	{ "reads_total", "reads", DEV_FIELD(reads), D_OPS, "Read requests completed (TPM: commands); rate() of it is read IOPS." },
	{ "writes_total", "writes", DEV_FIELD(writes), D_OPS, "Write requests completed; rate() of it is write IOPS." },
	{ "read_bytes_total", "read_bytes", DEV_FIELD(read_bytes), D_OPBYTES, "Bytes read by completed requests." },
	{ "write_bytes_total", "write_bytes", DEV_FIELD(write_bytes), D_OPBYTES, "Bytes written by completed requests." },
	{ "errors_total", "errors", DEV_FIELD(errors), D_ERR, "Requests that failed and guest protocol errors." },
	{ "throttled_total", "throttled", DEV_FIELD(throttled), D_THR, "Times a frame had to wait for the device's rate limiter." },
};

static uint64_t dev_u64(const struct lvmm_dev_stats *d, const struct dfam *f)
{
	uint64_t v;

	memcpy(&v, (const char *)d + f->off, sizeof(v));
	return v;
}

static const char *const states[] = { "stopped", "starting", "running", "paused", "stopping",
				      "restarting", "exited" };
static const char *const reasons[] = { "io", "mmio", "hlt", "other" };

static uint64_t exits(const struct lvmm_api_stats *st, unsigned reason)
{
	const uint64_t v[] = { st->exits_io, st->exits_mmio, st->exits_hlt, st->exits_other };

	return v[reason];
}

/* ---- JSON ---------------------------------------------------------------------- */

#define STR(o, k, v) json_object_set_new(o, k, json_string(v))
#define INT(o, k, v) json_object_set_new(o, k, json_integer((json_int_t)(v)))
#define REAL(o, k, v) json_object_set_new(o, k, json_real(v))

void api_metrics_json(json_t *o, const void *blob)
{
	const struct blob *b = blob;
	json_t *parts = json_array();
	unsigned i, d, k;

	REAL(o, "time", (double)b->h.time_ms / 1e3);
	if (b->h.flags & LVMM_API_METRICS_PLATFORM) {
		json_t *a = json_object();

		STR(a, "policy", b->h.acm.policy);
		INT(a, "decisions", b->h.acm.decisions);
		INT(a, "allowed", b->h.acm.decisions - b->h.acm.denials);
		INT(a, "denials", b->h.acm.denials);
		INT(a, "ste_evaluations", b->h.acm.ste_evaluations);
		INT(a, "ste_cache_hits", b->h.acm.ste_cache_hits);
		json_object_set_new(o, "acm", a);
	}
	for (i = 0; i < b->h.nparts; i++) {
		const struct lvmm_api_metrics_part *m = &b->p[i];
		const struct lvmm_api_stats *st = &m->stats;
		json_t *e = json_object(), *ex, *devs;

		STR(e, "name", m->info.name);
		STR(e, "state", m->info.state);
		STR(e, "role", m->info.role);
		if (m->info.label[0])
			STR(e, "label", m->info.label);
		INT(e, "pid", m->info.pid);
		INT(e, "vcpus", m->info.vcpus);
		INT(e, "memory_bytes", m->info.memory_mib * 1024 * 1024);
		INT(e, "restarts", m->info.restarts);
		INT(e, "exit_code", m->info.exit_code);
		REAL(e, "uptime_seconds", (double)m->uptime_ns / NS);
		json_object_set_new(e, "stale", json_boolean(m->flags & LVMM_API_MREC_STALE));
		if (m->flags & LVMM_API_MREC_PROC) {
			REAL(e, "cpu_seconds", (double)m->cpu_ns / NS);
			INT(e, "resident_bytes", m->rss_bytes);
		}
		if ((m->flags & LVMM_API_MREC_PROC) && (m->flags & LVMM_API_MREC_STATS))
			REAL(e, "vcpu_seconds", (double)m->vcpu_ns / NS);
		if (m->flags & LVMM_API_MREC_STATS) {
			REAL(e, "stats_age_seconds", (double)m->stats_age_ns / NS);
			ex = json_object();
			for (k = 0; k < 4; k++)
				INT(ex, reasons[k], exits(st, k));
			json_object_set_new(e, "exits", ex);
			INT(e, "dma_faults", st->dma_faults);
			INT(e, "unhandled_io", st->unhandled_io);
			devs = json_array();
			for (d = 0; d < st->ndevs; d++) {
				const struct lvmm_dev_stats *ds = &st->devs[d];
				unsigned has = dev_has(ds->kind);
				json_t *de = json_object();

				STR(de, "id", ds->id);
				STR(de, "kind", ds->kind);
				for (k = 0; k < ARRAY_SIZE(dfams); k++)
					if (has & dfams[k].has)
						INT(de, dfams[k].key, dev_u64(ds, &dfams[k]));
				if (has & D_LINK)
					json_object_set_new(de, "link_up", json_boolean(ds->link_up));
				json_array_append_new(devs, de);
			}
			json_object_set_new(e, "devices", devs);
		}
		json_array_append_new(parts, e);
	}
	json_object_set_new(o, "partitions", parts);
}

/* ---- Prometheus text exposition 0.0.4 -------------------------------------------- */

struct out {
	FILE *f;
	const void *fam; /* the family whose HELP/TYPE were written last */
};

/* A label value: \, " and newline escaped (names are plain, but nothing here relies on it). */
static void label(FILE *f, const char *k, const char *v, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", k);
	for (; *v; v++)
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	fputc('"', f);
}

/* HELP and TYPE before a family's first sample: a family with no samples is left out. */
static void head(struct out *o, const void *fam, const char *name, const char *type, const char *help)
{
	if (o->fam == fam)
		return;
	o->fam = fam;
	fprintf(o->f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{partition="P"[,k="v"]} and the value's text. */
static void psample(struct out *o, const char *name, const char *part, const char *k, const char *v,
		    const char *val)
{
	fprintf(o->f, "%s{", name);
	label(o->f, "partition", part, true);
	if (k)
		label(o->f, k, v, false);
	fprintf(o->f, "} %s\n", val);
}

/* Partition families with one sample each, a value when the record has it. */
enum pf { PF_VCPUS, PF_MEM, PF_UP, PF_RESTARTS, PF_EXIT, PF_STALE, PF_CPU, PF_VCPU, PF_RSS, PF_AGE,
	  PF_DMA, PF_UNH, PF_COUNT };

static const struct pfam {
	const char *name, *type, *help;
	unsigned need; /* LVMM_API_MREC_* the value comes from (0: the supervisor's own) */
} pfams[PF_COUNT] = {
	[PF_VCPUS] = { "lvmm_partition_vcpus", "gauge", "vCPUs the partition is configured with.", 0 },
	[PF_MEM] = { "lvmm_partition_memory_bytes", "gauge", "Guest RAM the partition is configured with.", 0 },
	[PF_UP] = { "lvmm_partition_uptime_seconds", "gauge", "Time since the partition's process started (0 without one).", 0 },
	[PF_RESTARTS] = { "lvmm_partition_restarts_total", "counter", "Restarts by the partition's restart policy.", 0 },
	[PF_EXIT] = { "lvmm_partition_exit_status", "gauge", "Exit status of the partition's last run (docs/cli.md).", 0 },
	[PF_STALE] = { "lvmm_partition_stale", "gauge", "1: the running partition did not answer this scrape in time; its counters are from its last answer.", 0 },
	[PF_CPU] = { "lvmm_partition_cpu_seconds_total", "counter", "CPU time of the partition's process, all threads.", LVMM_API_MREC_PROC },
	[PF_VCPU] = { "lvmm_partition_vcpu_seconds_total", "counter", "CPU time of the partition's vCPU threads (its last answer).", LVMM_API_MREC_PROC | LVMM_API_MREC_STATS },
	[PF_RSS] = { "lvmm_partition_resident_memory_bytes", "gauge", "Resident memory of the partition's process, touched guest RAM included (/proc).", LVMM_API_MREC_PROC },
	[PF_AGE] = { "lvmm_partition_stats_age_seconds", "gauge", "Age of the partition's counters (its last answer).", LVMM_API_MREC_STATS },
	[PF_DMA] = { "lvmm_partition_dma_faults_total", "counter", "Device accesses outside the partition's memory, refused.", LVMM_API_MREC_STATS },
	[PF_UNH] = { "lvmm_partition_unhandled_io_total", "counter", "Guest port and MMIO accesses no device claims.", LVMM_API_MREC_STATS },
};

static void pvalue(const struct lvmm_api_metrics_part *m, enum pf f, char *v, size_t n)
{
	switch (f) {
	case PF_VCPUS: snprintf(v, n, "%u", m->info.vcpus); break;
	case PF_MEM: snprintf(v, n, "%" PRIu64, m->info.memory_mib * 1024 * 1024); break;
	case PF_UP: snprintf(v, n, "%.3f", (double)m->uptime_ns / NS); break;
	case PF_RESTARTS: snprintf(v, n, "%u", m->info.restarts); break;
	case PF_EXIT: snprintf(v, n, "%d", m->info.exit_code); break;
	case PF_STALE: snprintf(v, n, "%d", !!(m->flags & LVMM_API_MREC_STALE)); break;
	case PF_CPU: snprintf(v, n, "%.2f", (double)m->cpu_ns / NS); break;
	case PF_VCPU: snprintf(v, n, "%.2f", (double)m->vcpu_ns / NS); break;
	case PF_RSS: snprintf(v, n, "%" PRIu64, m->rss_bytes); break;
	case PF_AGE: snprintf(v, n, "%.3f", (double)m->stats_age_ns / NS); break;
	case PF_DMA: snprintf(v, n, "%" PRIu64, m->stats.dma_faults); break;
	case PF_UNH: snprintf(v, n, "%" PRIu64, m->stats.unhandled_io); break;
	case PF_COUNT:
	default: v[0] = 0; break;
	}
}

static void text_parts(struct out *o, const struct blob *b)
{
	char v[64];
	unsigned f, i, k;

	for (i = 0; i < b->h.nparts; i++) {
		const struct lvmm_api_metrics_part *m = &b->p[i];

		head(o, "lvmm_partition_info", "lvmm_partition_info", "gauge", "A partition's role, label and restart policy (value 1).");
		fprintf(o->f, "lvmm_partition_info{");
		label(o->f, "partition", m->info.name, true);
		label(o->f, "role", m->info.role, false);
		label(o->f, "label", m->info.label, false);
		label(o->f, "restart", m->info.restart, false);
		fprintf(o->f, "} 1\n");
	}
	for (i = 0; i < b->h.nparts; i++) {
		bool known = false;

		head(o, "lvmm_partition_state", "lvmm_partition_state", "gauge", "The partition's state: 1 for the one it is in.");
		for (k = 0; k < ARRAY_SIZE(states); k++) {
			known |= !strcmp(states[k], b->p[i].info.state);
			psample(o, "lvmm_partition_state", b->p[i].info.name, "state", states[k],
				strcmp(states[k], b->p[i].info.state) ? "0" : "1");
		}
		if (!known) /* a state this front-end does not know: still shown */
			psample(o, "lvmm_partition_state", b->p[i].info.name, "state", b->p[i].info.state, "1");
	}
	for (f = 0; f < PF_COUNT; f++)
		for (i = 0; i < b->h.nparts; i++) {
			const struct lvmm_api_metrics_part *m = &b->p[i];

			if ((m->flags & pfams[f].need) != pfams[f].need ||
			    (f == PF_STALE && strcmp(m->info.state, "running") && strcmp(m->info.state, "paused")))
				continue;
			head(o, &pfams[f], pfams[f].name, pfams[f].type, pfams[f].help);
			pvalue(m, (enum pf)f, v, sizeof(v));
			psample(o, pfams[f].name, m->info.name, NULL, NULL, v);
		}
	for (i = 0; i < b->h.nparts; i++) {
		if (!(b->p[i].flags & LVMM_API_MREC_STATS))
			continue;
		head(o, "lvmm_partition_exits_total", "lvmm_partition_exits_total", "counter", "VM exits the partition's vCPUs took to lvmm, by reason.");
		for (k = 0; k < ARRAY_SIZE(reasons); k++) {
			snprintf(v, sizeof(v), "%" PRIu64, exits(&b->p[i].stats, k));
			psample(o, "lvmm_partition_exits_total", b->p[i].info.name, "reason", reasons[k], v);
		}
	}
}

/* One device sample: name{partition,device} value. */
static void dsample(struct out *o, const char *name, const struct lvmm_api_metrics_part *m,
		    const struct lvmm_dev_stats *d, const char *val)
{
	fprintf(o->f, "%s{", name);
	label(o->f, "partition", m->info.name, true);
	label(o->f, "device", d->id, false);
	fprintf(o->f, "} %s\n", val);
}

static void text_devices(struct out *o, const struct blob *b)
{
	char name[64], v[32];
	unsigned f, i, d;

	for (f = 0; f <= ARRAY_SIZE(dfams) + 1; f++)
		for (i = 0; i < b->h.nparts; i++) {
			const struct lvmm_api_metrics_part *m = &b->p[i];

			for (d = 0; d < m->stats.ndevs && (m->flags & LVMM_API_MREC_STATS); d++) {
				const struct lvmm_dev_stats *ds = &m->stats.devs[d];

				if (f == 0) { /* first: what each device is */
					head(o, "lvmm_device_info", "lvmm_device_info", "gauge", "A partition's device and its model (value 1).");
					fprintf(o->f, "lvmm_device_info{");
					label(o->f, "partition", m->info.name, true);
					label(o->f, "device", ds->id, false);
					label(o->f, "kind", ds->kind, false);
					fprintf(o->f, "} 1\n");
				} else if (f == ARRAY_SIZE(dfams) + 1) { /* last: link state */
					if (!(dev_has(ds->kind) & D_LINK))
						continue;
					head(o, "lvmm_device_link_up", "lvmm_device_link_up", "gauge", "1: the device's link (or stream peer) is up.");
					dsample(o, "lvmm_device_link_up", m, ds, ds->link_up ? "1" : "0");
				} else if (dev_has(ds->kind) & dfams[f - 1].has) {
					snprintf(name, sizeof(name), "lvmm_device_%s", dfams[f - 1].name);
					head(o, &dfams[f - 1], name, "counter", dfams[f - 1].help);
					snprintf(v, sizeof(v), "%" PRIu64, dev_u64(ds, &dfams[f - 1]));
					dsample(o, name, m, ds, v);
				}
			}
		}
}

static void text_acm(struct out *o, const struct blob *b)
{
	const struct lvmm_api_acm *a = &b->h.acm;

	if (!(b->h.flags & LVMM_API_METRICS_PLATFORM))
		return; /* only for a subject that sees every partition */
	fprintf(o->f, "# HELP lvmm_acm_policy_info The loaded policy (value 1; \"none\" without one).\n"
		"# TYPE lvmm_acm_policy_info gauge\nlvmm_acm_policy_info{");
	label(o->f, "policy", a->policy, true);
	fprintf(o->f, "} 1\n"
		"# HELP lvmm_acm_decisions_total Access-control decisions taken (allowed and denied).\n"
		"# TYPE lvmm_acm_decisions_total counter\nlvmm_acm_decisions_total %" PRIu64 "\n"
		"# HELP lvmm_acm_denials_total Access-control decisions that denied.\n"
		"# TYPE lvmm_acm_denials_total counter\nlvmm_acm_denials_total %" PRIu64 "\n"
		"# HELP lvmm_acm_ste_evaluations_total STE sharing decisions evaluated.\n"
		"# TYPE lvmm_acm_ste_evaluations_total counter\nlvmm_acm_ste_evaluations_total %" PRIu64 "\n"
		"# HELP lvmm_acm_ste_cache_hits_total STE sharing decisions answered from the cache.\n"
		"# TYPE lvmm_acm_ste_cache_hits_total counter\nlvmm_acm_ste_cache_hits_total %" PRIu64 "\n",
		a->decisions, a->denials, a->ste_evaluations, a->ste_cache_hits);
}

char *api_metrics_text(const void *blob, size_t *len)
{
	const struct blob *b = blob;
	struct out o = { 0 };
	char *text = NULL;

	*len = 0;
	o.f = open_memstream(&text, len);
	if (!o.f)
		return NULL;
	text_parts(&o, b);
	text_devices(&o, b);
	text_acm(&o, b);
	if (fclose(o.f)) {
		free(text);
		return NULL;
	}
	return text;
}

/* ---- the process's figures, read by the front-end (gather.c) --------------------- */

int api_proc_stat(const char *text, int *ppid, uint64_t *cpu_ticks, uint64_t *start_ticks)
{
	/* The name in parentheses is the process's to choose, ')' included: skip to the last. */
	const char *p = strrchr(text, ')');
	unsigned long long ut, st, start;

	if (!p || sscanf(p + 1, " %*c %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu %*s %*s %*s %*s %*s %*s %llu",
			 ppid, &ut, &st, &start) != 4)
		return -EINVAL;
	*cpu_ticks = ut + st;
	*start_ticks = start;
	return 0;
}

/* PID/name (stat or statm) read whole into buf (n bytes, NUL-terminated). */
static int proc_file(int proc, int pid, const char *name, char *buf, size_t n)
{
	char path[48];
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "%d/%s", pid, name);
	/* These flags exactly: the sandbox allows no other open (sandbox.c). */
	fd = openat(proc, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	got = read(fd, buf, n - 1);
	close(fd);
	if (got <= 0)
		return -ESRCH;
	buf[got] = 0;
	return 0;
}

int api_proc_read(int proc, int pid, int ppid, struct lvmm_api_metrics_part *m)
{
	const uint64_t tick_ns = 1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK);
	unsigned long long size, pages;
	uint64_t cpu, start, t;
	struct timespec now;
	char buf[512];
	int parent;

	if (proc < 0 || pid <= 0)
		return -EBADF;
	if (proc_file(proc, pid, "stat", buf, sizeof(buf)) || api_proc_stat(buf, &parent, &cpu, &start) ||
	    parent != ppid)
		return -ESRCH;
	m->cpu_ns = cpu * tick_ns;
	clock_gettime(CLOCK_BOOTTIME, &now);
	t = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	m->uptime_ns = t > start * tick_ns ? t - start * tick_ns : 0;
	if (!proc_file(proc, pid, "statm", buf, sizeof(buf)) && sscanf(buf, "%llu %llu", &size, &pages) == 2)
		m->rss_bytes = pages * (uint64_t)sysconf(_SC_PAGESIZE);
	return 0;
}
