// SPDX-License-Identifier: MIT
/*
 * The `metrics` operation, gathered here rather than in the supervisor, so
 * that the trusted core neither keeps counters nor reads /proc for it
 * (docs/metrics.md, "How the numbers are gathered"). A client's metrics
 * request becomes, with the client's own subject each time (so the
 * supervisor applies the same access-control rule to every step):
 *
 *   1. LVMM_OP_METRICS: the partitions it may see metrics of (a list body);
 *   2. LVMM_OP_METRICS_ACM, only when that is every partition: the ACM's
 *      counters;
 *   3. LVMM_OP_METRICS_PART for each running or paused one, up to
 *      GATHER_WINDOW at a time, none started later than CTL's 1 s after
 *      the request came: its counters (the supervisor fails a step after
 *      1 s, so a stuck partition never holds a scrape).
 *
 * Then each partition's process is measured (/proc/PID/stat and statm,
 * through the /proc directory opened before the sandbox), the records are
 * written into a sealed memfd as the supervisor used to, and the caller gets
 * an LVMM_BODY_BLOB reply: http.c, agent.c and metrics.c are unchanged.
 *
 * The newest counters of each partition are kept here (from its metrics
 * and status answers), so a partition that does not answer in time is still
 * shown, as stale, with the figures of its last answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "common/log.h"
#include "common/util.h"

#define GATHER_MAX    8    /* metrics requests gathered at a time */
#define GATHER_WINDOW 8    /* steps of one in flight (the supervisor lets a uid have 12) */
#define GATHER_MS     1000 /* no step is started later than this after the request */
#define STEP_LIST     (-1)
#define STEP_ACM      (-2)

enum { R_SKIP, R_TODO, R_ASKED, R_DONE };

struct blob {
	struct lvmm_api_metrics h;
	struct lvmm_api_metrics_part p[];
};

struct gather;

struct step {
	struct gather *g;
	int rec;              /* record index, or STEP_* */
	uint32_t id;          /* at the supervisor (api_cancel); 0: free */
};

static struct gather {
	bool used;
	uint32_t id;          /* the caller's (api_cancel) */
	api_done_fn done;
	void *ctx;
	struct lvmm_api_remote_req rq; /* the client's request: each step is a copy */
	bool remote;
	int conn_fd;          /* the client's connection (the caller keeps it open) */
	uint64_t start;
	unsigned window, inflight;
	struct blob *b;
	uint8_t state[LVMM_API_MAX_PARTS];
	struct step steps[GATHER_WINDOW];
} G[GATHER_MAX];

/* The newest counters of each partition, and of which process (by name: the list has no index). */
static struct last {
	char name[LVMM_NAME_MAX];
	uint32_t pid;
	uint64_t at_ns;
	struct lvmm_api_stats stats;
} last[LVMM_API_MAX_PARTS];

int gather_procfd = -1;
static int sup_pid;

void gather_init(int proc_dir)
{
	gather_procfd = proc_dir;
	sup_pid = (int)getppid(); /* partitions are the supervisor's children, as we are */
}

void gather_note(const struct lvmm_api_part *p)
{
	unsigned i, free_slot = LVMM_API_MAX_PARTS;

	if (!(p->flags & LVMM_API_PART_STATS) || !p->pid)
		return;
	for (i = 0; i < LVMM_API_MAX_PARTS; i++) {
		if (!last[i].name[0] && free_slot == LVMM_API_MAX_PARTS)
			free_slot = i;
		if (!strcmp(last[i].name, p->partition))
			break;
	}
	if (i == LVMM_API_MAX_PARTS)
		i = free_slot;
	if (i == LVMM_API_MAX_PARTS)
		return; /* more names than partitions: a supervisor that lies; nothing kept */
	snprintf(last[i].name, sizeof(last[i].name), "%s", p->partition);
	last[i].pid = p->pid;
	last[i].at_ns = now_ns();
	last[i].stats = p->stats;
}

static const struct last *last_of(const char *name, uint32_t pid)
{
	unsigned i;

	for (i = 0; i < LVMM_API_MAX_PARTS && last[i].name[0]; i++)
		if (!strcmp(last[i].name, name))
			return pid && last[i].pid == pid ? &last[i] : NULL;
	return NULL;
}

static bool runs(const struct lvmm_api_part_info *i)
{
	return i->pid && (!strcmp(i->state, "running") || !strcmp(i->state, "paused"));
}

static void gather_free(struct gather *g)
{
	unsigned k;

	for (k = 0; k < GATHER_WINDOW; k++)
		if (g->steps[k].id)
			api_cancel(g->steps[k].id);
	free(g->b);
	memset(g, 0, sizeof(*g));
}

/* Every step is in: measure, fill in, seal, answer the caller. */
static void gather_end(struct gather *g, int err, const char *why)
{
	static struct lvmm_api_reply rep;
	const int seals = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	api_done_fn done = g->done;
	void *ctx = g->ctx;
	uint64_t now = now_ns(), size = 0;
	struct timespec ts;
	unsigned i;
	int fd = -1;

	memset(&rep, 0, sizeof(rep));
	rep.id = g->id;
	rep.op = LVMM_OP_METRICS;
	for (i = 0; !err && i < g->b->h.nparts; i++) {
		struct lvmm_api_metrics_part *m = &g->b->p[i];
		const struct last *l = last_of(m->info.name, m->info.pid);

		if (m->info.pid && !api_proc_read(gather_procfd, (int)m->info.pid, sup_pid, m))
			m->flags |= LVMM_API_MREC_PROC;
		if (l) {
			m->flags |= LVMM_API_MREC_STATS;
			m->stats = l->stats;
			m->stats_age_ns = now - l->at_ns;
			/* The partition's word, so never more than its process's time, measured after it. */
			m->vcpu_ns = MIN(l->stats.vcpu_ns, m->cpu_ns);
		}
		if (runs(&m->info) && (!l || l->at_ns < g->start))
			m->flags |= LVMM_API_MREC_STALE;
	}
	if (!err) {
		clock_gettime(CLOCK_REALTIME, &ts);
		g->b->h.time_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
		size = sizeof(g->b->h) + g->b->h.nparts * sizeof(g->b->p[0]);
		fd = memfd_create("lvmm-metrics", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0 || write(fd, g->b, (size_t)size) != (ssize_t)size ||
		    fcntl(fd, F_ADD_SEALS, seals) < 0) {
			err = -EAGAIN;
			why = "metrics: no memory to answer; try again";
		}
	}
	if (err) {
		rep.result = err;
		snprintf(rep.error, sizeof(rep.error), "%s", why);
	} else {
		rep.body = LVMM_BODY_BLOB;
		rep.u.blob.format = LVMM_BLOB_METRICS;
		rep.u.blob.size = size;
	}
	gather_free(g); /* before the callback, which may start another */
	api_reply_fd = err ? -1 : fd;
	done(ctx, &rep, 0);
	api_reply_fd = -1;
	if (fd >= 0)
		close(fd);
}

static void step_done(void *ctx, const struct lvmm_api_reply *r, int err);

static int step(struct gather *g, uint32_t op, int rec)
{
	struct lvmm_api_remote_req rq = g->rq;
	unsigned k;
	int e;

	for (k = 0; k < GATHER_WINDOW && g->steps[k].id; k++)
		;
	if (k == GATHER_WINDOW)
		return -EAGAIN;
	rq.q.op = op;
	if (rec >= 0)
		snprintf(rq.q.target, sizeof(rq.q.target), "%s", g->b->p[rec].info.name);
	g->steps[k].g = g;
	g->steps[k].rec = rec;
	e = api_submit_raw(&rq, g->remote, g->conn_fd, step_done, &g->steps[k], &g->steps[k].id);
	if (e) {
		g->steps[k].id = 0;
		return e;
	}
	g->inflight++;
	return 0;
}

/* Ask the partitions not asked yet, while there is room and time; answer when all are in. */
static void pump(struct gather *g)
{
	bool late = now_ns() - g->start > GATHER_MS * 1000000ULL;
	unsigned i;

	for (i = 0; i < g->b->h.nparts && !late && g->inflight < g->window; i++)
		if (g->state[i] == R_TODO) {
			if (step(g, LVMM_OP_METRICS_PART, (int)i))
				break;
			g->state[i] = R_ASKED;
		}
	if (!g->inflight)
		gather_end(g, 0, NULL);
}

/* The list step's answer: the records, one per partition the subject may see. */
static int got_list(struct gather *g, const struct lvmm_api_list *l)
{
	unsigned i;

	g->b = calloc(1, sizeof(*g->b) + l->nparts * sizeof(g->b->p[0]));
	if (!g->b)
		return -ENOMEM;
	g->b->h.nparts = l->nparts;
	for (i = 0; i < l->nparts; i++) {
		g->b->p[i].info = l->parts[i];
		g->state[i] = runs(&l->parts[i]) ? R_TODO : R_SKIP;
	}
	/* Every partition: also the ACM's counters (the supervisor decides again; not sent: left out). */
	if (l->nparts == api_init.nparts)
		(void)step(g, LVMM_OP_METRICS_ACM, STEP_ACM);
	return 0;
}

static void step_done(void *ctx, const struct lvmm_api_reply *r, int err)
{
	struct step *s = ctx;
	struct gather *g = s->g;
	int rec = s->rec, e;

	s->id = 0;
	g->inflight--;
	if (rec == STEP_LIST) {
		if (!r || r->result || r->body != LVMM_BODY_LIST) {
			gather_end(g, r && r->result ? r->result : err ? err : -EPROTO,
				   r && r->result ? r->error : "malformed reply from the supervisor");
			return;
		}
		e = got_list(g, (const void *)&r->u);
		if (e) {
			gather_end(g, -EAGAIN, "metrics: no memory; try again");
			return;
		}
	} else if (rec == STEP_ACM) {
		if (r && !r->result && r->body == LVMM_BODY_ACM) {
			g->b->h.flags |= LVMM_API_METRICS_PLATFORM;
			g->b->h.acm = r->u.acm;
		}
	} else if (r && r->result == -EAGAIN && g->inflight) {
		/* The subject's requests in flight are limited (an agent has one): one at a time. */
		g->state[rec] = R_TODO;
		g->window = g->inflight;
	} else {
		g->state[rec] = R_DONE; /* its answer, if any, is noted (main.c: gather_note) */
	}
	pump(g);
}

int gather_start(const struct lvmm_api_remote_req *rq, bool remote, int conn_fd, api_done_fn done,
		 void *ctx, uint32_t *id)
{
	struct gather *g = NULL;
	unsigned i;
	int e;

	for (i = 0; i < GATHER_MAX && !g; i++)
		if (!G[i].used)
			g = &G[i];
	if (!g)
		return -EAGAIN;
	g->used = true;
	g->rq = *rq;
	g->remote = remote;
	g->conn_fd = conn_fd;
	g->done = done;
	g->ctx = ctx;
	g->start = now_ns();
	g->window = GATHER_WINDOW;
	e = step(g, LVMM_OP_METRICS, STEP_LIST);
	if (e) {
		memset(g, 0, sizeof(*g));
		return e;
	}
	g->id = api_new_id();
	*id = g->id;
	return 0;
}

bool gather_cancel(uint32_t id)
{
	unsigned i;

	for (i = 0; i < GATHER_MAX; i++)
		if (G[i].used && G[i].id == id) {
			gather_free(&G[i]);
			return true;
		}
	return false;
}
