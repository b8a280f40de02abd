/* SPDX-License-Identifier: MIT */
/* Supervisor internals shared by its files (not an interface for anyone else). */
#ifndef LVMM_SUPERVISOR_INT_H
#define LVMM_SUPERVISOR_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lvmm/proto.h"
#include "config/platform.h"
#include "supervisor/lifecycle.h"
#include "supervisor/supervisor.h"

/* epoll tags: the high byte says what kind of fd it is, the rest an index. */
#define TAG_MASK   0xff00000000000000ULL
#define TAG_SIGNAL 0x0100000000000000ULL
#define TAG_TIMER  0x0200000000000000ULL
#define TAG_PART   0x0300000000000000ULL
#define TAG_API    0x0400000000000000ULL /* the API front-end's control channel */
#define TAG_TRUST  0x0600000000000000ULL

struct sup {
	struct platform *plat;
	struct run_opts opts;
	struct part_rt parts[PLAT_MAX_PARTS]; /* written by lifecycle.c only */
	int epfd, sig_fd, timer_fd;
	bool stopping;          /* shutting down: nothing starts any more */
	int first_failure;      /* exit status of `lvmm run` (docs/cli.md) */
	uint32_t ask_seq;       /* last LVMM_MSG_CTL sequence number */
	const struct lc_hooks *hooks; /* ctl's side of the life cycle (may be NULL) */
};

/** sup_arm_timer() - re-arm the timerfd for the earliest deadline of lifecycle and ctl. */
void sup_arm_timer(struct sup *s);

/* Access control hooks (acm.c). */
/* Reset the ACM's counters, cache and Chinese Wall state for a new run. 0. */
int acm_init(struct sup *s);
/* May the partition start? 0 (Chinese Wall reserved), or -EACCES with the reason in err. */
int acm_partition_start_pre(struct sup *s, struct part_rt *pr, char *err, size_t errlen);
/* The partition runs: record it (with or without a policy) so a reload checks it. */
void acm_partition_start_commit(struct sup *s, struct part_rt *pr);
/* The start failed after acm_partition_start_pre(): undo its reservation. */
void acm_partition_start_fail(struct sup *s, struct part_rt *pr);
/* The partition ended: it no longer counts for the Chinese Wall or a reload. */
void acm_partition_stop(struct sup *s, struct part_rt *pr);
/*
 * May the control client sub (host uid, partition's agent channel, remote
 * certificate) run operation opi (enum pol_op, called op) on target (a
 * partition, or a link when link, or NULL)? 0 or -EACCES. A link's labels
 * are those of both its ends and its own, if it has one: the subject must
 * share a type with each.
 */
struct ctl_subject;
int acm_ctl_check(struct sup *s, const struct ctl_subject *sub, int opi, const char *op,
		  const char *target, bool link, char *err, size_t errlen);
/* STE decision for device di of a starting partition (denied devices are not created). */
bool acm_grant_device(struct sup *s, struct part_rt *pr, unsigned di);
/* Check the live platform against a new policy; 0 and switch, or -EPERM (reason in err). */
int acm_reload(struct sup *s, const struct policy *pol, char *err, size_t errlen);
/* Decision counters for `lvmm ctl acm`. */
void acm_stats(uint64_t *decisions, uint64_t *denials, uint64_t *evaluations, uint64_t *hits);

/* ACPI S3 mediation (sleep.c, docs/acpi.md). */
/* Partition pr wrote S3: it sleeps; the platform follows when no service partition is busy. */
void sleep_on_request(struct sup *s, struct part_rt *pr);
/* Partition pr runs again (why: for the event, unless a wake request named someone). */
void sleep_on_woke(struct sup *s, struct part_rt *pr, const char *why);
/* Partition pr ended: its busy flag and its sleep are over. */
void sleep_part_ended(struct sup *s, struct part_rt *pr);
/* A wake of pr was requested by by: 0, or -EALREADY when pr is not asleep. */
int sleep_wake_prepare(struct sup *s, struct part_rt *pr, const char *by);
/* Service partition pr is busy (true) or idle. 0, or -EINVAL for another role. */
int sleep_set_busy(struct sup *s, struct part_rt *pr, bool busy);
/* The next recheck of a delayed sleep (UINT64_MAX: none). */
uint64_t sleep_next_deadline(struct sup *s);
/* Recheck a delayed sleep. */
void sleep_on_timer(struct sup *s, uint64_t now);

/* Inter-partition links (links.c). */
struct fdset;
struct plat_dev;
/* Create every link's rings and bells (once per run). 0 or -errno. */
int links_init(struct sup *s);
/* Put a link end's fds into fs, their indices into fdi[0..2]; its side (0, 1) or -errno with err set. */
int links_grant(struct sup *s, struct part_rt *pr, const struct plat_dev *d, int32_t *fdi,
		struct fdset *fs, char *err, size_t errlen);
/* Index of the link called name, or -1. */
int links_find(struct sup *s, const char *name);
/* Is link li up (false for an index out of range)? */
bool link_is_up(struct sup *s, int li);
/*
 * Bring link li up or down (by: for the event) and tell its ends: asked
 * with request token (its answers expected), or unsolicited (token 0).
 * Unchanged: nothing happens. Returns the ends asked.
 */
unsigned link_change(struct sup *s, int li, bool up, const char *by, uint32_t token);
/*
 * Every link with pr as an end goes down (link_change); their names into
 * names[*n...] (up to LVMM_API_MAX_LINKS; names NULL: not wanted). Returns the ends asked.
 */
unsigned links_isolate(struct sup *s, struct part_rt *pr, const char *by, uint32_t token,
		       char (*names)[LVMM_NAME_MAX], unsigned *n);
/* Close every link's fds at the end of the run. */
void links_close(struct sup *s);

/* Containment after an integrity violation or a missed heartbeat (contain.c). */
enum contain_action { CONTAIN_NONE, CONTAIN_PAUSE, CONTAIN_STOP, CONTAIN_RESTART, CONTAIN_ISOLATE };
/* Apply act to pr (why: the "by" of the events it causes). Idempotent while it takes effect. */
void sup_contain(struct sup *s, struct part_rt *pr, enum contain_action act, const char *why);

#endif
