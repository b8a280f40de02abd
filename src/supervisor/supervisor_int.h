/* SPDX-License-Identifier: MIT */
/* Supervisor internals shared by its files (not an interface for anyone else). */
#ifndef LVMM_SUPERVISOR_INT_H
#define LVMM_SUPERVISOR_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lvmm/proto.h"
#include "config/platform.h"
#include "supervisor/supervisor.h"

enum pstate { PS_STOPPED = 0, PS_STARTING, PS_RUNNING, PS_PAUSED, PS_WAIT_RESTART, PS_EXITED };

struct part_rt {
	const struct plat_part *p;
	unsigned index;
	pid_t pid;            /* 0 when no process */
	int sock;             /* supervisor end of the socketpair, or -1 */
	int mem_fd;           /* guest RAM memfd while the partition runs */
	enum pstate state;
	unsigned restarts;
	uint64_t restart_at_ns;
	uint64_t started_ns;
	bool stop_requested;
	bool got_exit;
	struct lvmm_exit last_exit;
	int exit_code;
	bool restart_requested; /* `lvmm ctl restart`: start again as soon as it ends */
	int ctl_waiter;         /* control client waiting for this partition's reply, or -1 */
	uint32_t ctl_seq;
	uint32_t ctl_op;
	uint32_t granted;       /* bit i: device i was granted at this start */
};

/* epoll tags: the high byte says what kind of fd it is. */
#define TAG_MASK   0xff00000000000000ULL
#define TAG_SIGNAL 0x0100000000000000ULL
#define TAG_TIMER  0x0200000000000000ULL
#define TAG_PART   0x0300000000000000ULL
#define TAG_CTL_LISTEN 0x0400000000000000ULL
#define TAG_CTL_CLIENT 0x0500000000000000ULL

struct link_rt;
struct ctl_state;

struct sup {
	struct platform *plat;
	struct run_opts opts;
	struct part_rt parts[PLAT_MAX_PARTS];
	int epfd, sig_fd, timer_fd;
	bool stopping;
	uint64_t kill_at_ns;
	int first_failure;
	struct link_rt *links;  /* links.c */
	struct ctl_state *ctl;  /* ctl.c */
};

const char *part_state_name(enum pstate s);

/* Start / stop one partition (stop is asynchronous; SIGCHLD completes it). 0 or -errno. */
int part_start(struct sup *s, struct part_rt *pr);
/* part_start, also returning why it failed. */
int part_start_reason(struct sup *s, struct part_rt *pr, char *err, size_t errlen);
int part_stop(struct sup *s, struct part_rt *pr);
void sup_watch_part(struct sup *s, struct part_rt *pr);
void sup_unwatch_part(struct sup *s, struct part_rt *pr);
void sup_arm_timer(struct sup *s);

/* Access control hooks (acm.c): pre may refuse (-EACCES, reason in err); commit/fail/stop follow. */
int acm_init(struct sup *s);
int acm_partition_start_pre(struct sup *s, struct part_rt *pr, char *err, size_t errlen);
void acm_partition_start_commit(struct sup *s, struct part_rt *pr);
void acm_partition_start_fail(struct sup *s, struct part_rt *pr);
void acm_partition_stop(struct sup *s, struct part_rt *pr);
/*
 * May the control client (host uid, or partition part's agent channel when
 * part != NULL) run op on target (a partition or link name, or NULL)? 0 or -EACCES.
 */
int acm_ctl_check(struct sup *s, uid_t uid, const char *part, const char *op, const char *target,
		  char *err, size_t errlen);
/* STE decision for device di of a starting partition (denied devices are not created). */
bool acm_grant_device(struct sup *s, struct part_rt *pr, unsigned di);
/* Check the live platform against a new policy; 0 and switch, or -EPERM (reason in err). */
int acm_reload(struct sup *s, const struct policy *pol, char *err, size_t errlen);
void acm_stats(uint64_t *decisions, uint64_t *denials, uint64_t *evaluations, uint64_t *hits);

/* Inter-partition links (links.c). */
struct fdset;
struct plat_dev;
int links_init(struct sup *s);
/* Put a link end's fds into fs and fill dc; returns >= 0 or -errno with err set. */
int links_grant(struct sup *s, struct part_rt *pr, const struct plat_dev *d,
		struct lvmm_dev_cfg *dc, struct fdset *fs, char *err, size_t errlen);
void links_partition_ended(struct sup *s, struct part_rt *pr);
/* Index of the link called name, or -1. */
int links_find(struct sup *s, const char *name);
bool link_is_up(struct sup *s, int li);
void link_set_up(struct sup *s, int li, bool up);
void links_close(struct sup *s);

/* Control socket (ctl.c). */
int ctl_init(struct sup *s, const char *path);
void ctl_on_event(struct sup *s, uint64_t tag, uint32_t events);
void ctl_on_reply(struct sup *s, struct part_rt *pr, const struct lvmm_ctl_reply *rep);
void ctl_part_gone(struct sup *s, struct part_rt *pr);
uint64_t ctl_next_deadline(struct sup *s);
void ctl_on_timer(struct sup *s, uint64_t now);
void ctl_close(struct sup *s);
/* A control channel for a partition's agent: returns the partition's end, or -errno. */
int ctl_attach_agent(struct sup *s, struct part_rt *pr);
void ctl_detach_agent(struct sup *s, struct part_rt *pr);
/* True if the control socket is open. */
bool ctl_listening(struct sup *s);

#endif
