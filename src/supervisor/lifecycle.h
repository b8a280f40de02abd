/* SPDX-License-Identifier: MIT */
/*
 * Partition life cycle: the one owner of every partition's run-time state.
 *
 * Only lifecycle.c writes a struct part_rt (its state, process, identity,
 * restart bookkeeping and outstanding control requests); everyone else
 * reads it and asks through the functions below. As in Jailhouse's
 * cell_create()/cell_destroy(), one place changes a partition's state, so
 * every transition, event and side effect (ACM hooks, links, identities,
 * agent channels) happens in one order.
 *
 *   STOPPED --start--> [VERIFYING --verdict-->] STARTING --READY--> RUNNING <--pause/resume--> PAUSED
 *   RUNNING/PAUSED/STARTING --stop--> STOPPING --(exit, or SIGKILL after
 *   LC_STOP_GRACE_MS)--> EXITED | WAIT_RESTART --(delay)--> STARTING
 *
 * VERIFYING: a partition with a trust process (verify:, a tpm device) waits
 * for its verdict (trust.c) before anything is forked; a refusal ends it.
 * The control API is told about answers and agent channels through the
 * narrow struct lc_hooks, never by lifecycle.c calling into ctl.c.
 */
#ifndef LVMM_LIFECYCLE_H
#define LVMM_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lvmm/proto.h"
#include "lvmm/trust_proto.h"
#include "config/platform.h"

#define LC_STOP_GRACE_MS   3000  /* a stop request, then SIGKILL (docs/cli.md) */
#define LC_READY_TIMEOUT_MS 30000 /* setup must finish within this */
#define LC_ASK_MAX         4     /* control requests in flight per partition */
#define LC_POWER_TIMEOUT_MS 30000 /* shutdown/reboot: the guest's time to power off (docs/cli.md) */
#define LC_POWER_TIMEOUT_MAX_MS 3600000

struct sup;

enum pstate {
	PS_STOPPED = 0,  /* never started (autostart: false) */
	PS_STARTING,     /* process forked, setup not reported done (gated: verdict pending) */
	PS_RUNNING,
	PS_PAUSED,
	PS_STOPPING,     /* asked to stop; killed at kill_at_ns if still there */
	PS_WAIT_RESTART, /* ended; its restart policy starts it at restart_at_ns */
	PS_EXITED,       /* ended for good (until `lvmm ctl start`) */
};

/* A control request forwarded to a partition and not answered yet. */
struct lc_ask {
	bool used;
	uint32_t seq;   /* LVMM_MSG_CTL seq: the partition echoes it */
	uint32_t op;    /* enum lvmm_ctl_op */
	uint32_t token; /* the requester's, handed back with the answer */
};

struct part_rt {
	const struct plat_part *p;
	unsigned index;
	enum pstate state;
	pid_t pid;            /* 0 when no process */
	int sock;             /* supervisor end of the socketpair, or -1 */
	int mem_fd;           /* guest RAM memfd while the partition runs, or -1 */
	uint64_t started_ns;
	uint64_t kill_at_ns;  /* stop requested: SIGKILL then, or 0 */
	bool stop_requested;  /* ended on request: no restart policy */
	bool restart_requested; /* `lvmm ctl restart`: start again once ended */
	bool force_killed;    /* we sent SIGKILL after the stop grace */
	uint64_t power_at_ns; /* shutdown/reboot asked of the guest: escalate then, or 0 */
	uint64_t power_asked_ns;
	bool power_reboot;    /* the request was a reboot */
	unsigned restarts;
	unsigned quick_resets; /* resets in a row, each within 1 s of its start */
	uint64_t restart_at_ns;
	bool got_exit;
	struct lvmm_exit last_exit;
	int exit_code;
	uint32_t granted;     /* bit i: device i was granted at this start */
	uint32_t uid, gid;    /* identity, 0 = none assigned; kept across restarts */
	int uid_lock;         /* lock held on uid while this run lasts, or -1 */
	struct lc_ask asks[LC_ASK_MAX];
	struct lvmm_ctl_reply final_stats; /* the partition's last counters */
	/* Listening sockets this start created (device i), removed when it ends. */
	struct { uint64_t dev, ino; } bound[LVMM_MAX_DEVS];
	/* This start's image files, read-only: kernel, initrd, safe kernel, safe initrd (or -1). */
	int img[4];
	bool safe_boot;       /* the verdict: the safe image boots */
	bool gated;           /* forked gated, and no go from its trust process seen yet */
	int tpm_fd;           /* the partition's end of its TPM socket until configured, or -1 */
	int gate_fd;          /* the partition's end of its gate socket until configured, or -1 */
	uint64_t ev_window_ns; /* its reports: this second's start, how many came, how many were dropped */
	uint32_t ev_count, ev_dropped;
};

/* How lifecycle tells the control API what it needs to know (set by ctl). */
struct lc_hooks {
	/* Request token was answered (rep) or cannot be (rep NULL, result -ESRCH). */
	void (*answer)(struct sup *s, uint32_t token, struct part_rt *pr, int result,
		       const struct lvmm_ctl_reply *rep);
	/* Open partition pr's agent channel: the partition's end, or -errno. */
	int (*agent_open)(struct sup *s, struct part_rt *pr);
	/* Partition pr ended or failed to start: close its agent channel. */
	void (*agent_close)(struct sup *s, struct part_rt *pr);
	/*
	 * Attestation token of pr was answered: result 0 with fd, the answer's
	 * sealed memfd of size bytes (consumed), or -errno with why ("" if none).
	 */
	void (*attested)(struct sup *s, uint32_t token, struct part_rt *pr, int result,
			 const char *why, int fd, uint64_t size);
};

/** lc_init() - reset every partition's state for a new run; no process exists. */
void lc_init(struct sup *s);

/** lc_state_name() - the state as shown by `lvmm ctl list` and events. */
const char *lc_state_name(enum pstate st);

/**
 * lc_start() - start a partition now (autostart, `ctl start`, restart due).
 * 0 once forked and configured; -errno with the reason in err otherwise
 * (the partition is then EXITED with status 3 and an event says why).
 */
int lc_start(struct sup *s, struct part_rt *pr, char *err, size_t errlen);

/**
 * lc_stop() - ask a partition to stop (why names the requester in the
 * event); SIGKILL follows after LC_STOP_GRACE_MS. A pending restart is
 * cancelled. 0, or -ESRCH when there is nothing to stop.
 */
int lc_stop(struct sup *s, struct part_rt *pr, const char *why);

/**
 * lc_kill() - SIGKILL the partition's process now (why goes in the
 * partition_kill event). Unless a stop was requested, it ends as killed
 * (status 5, a crash for its restart policy).
 */
void lc_kill(struct sup *s, struct part_rt *pr, const char *why);

/**
 * lc_restart() - stop a running partition and start it again once it has
 * ended (or start it now if it has no process). *now_started tells which.
 * 0 or -errno with the reason in err.
 */
int lc_restart(struct sup *s, struct part_rt *pr, bool *now_started, char *err, size_t errlen);

/**
 * lc_power() - ask a running partition's guest to power off (reboot:
 * false) or to reboot, by pressing its ACPI power button (request token,
 * answered through hooks->answer once the partition pressed it). A guest
 * that has not ended timeout_ms later is stopped (shutdown) or restarted
 * (reboot) as by lc_stop()/lc_restart(). Either way its end is a requested
 * one: the restart policy does not apply; a reboot starts it again.
 * 0, -ESRCH (not running), -EBUSY or -EIO as lc_ask().
 */
int lc_power(struct sup *s, struct part_rt *pr, bool reboot, uint32_t timeout_ms, const char *why,
	     uint32_t token);

/**
 * lc_restart_counted() - a restart the guest caused (watchdog, integrity
 * violation): like lc_restart, but it counts against restart_limit; at the
 * limit the partition is stopped instead (restart_limit event). why is the
 * stop's "by". 0 or -errno.
 */
int lc_restart_counted(struct sup *s, struct part_rt *pr, const char *why);

/**
 * lc_shutdown() - the platform is going down (signal sig): stop every
 * partition in order; a second call kills what is left at once.
 */
void lc_shutdown(struct sup *s, int sig);

/**
 * lc_ask() - forward control op (on device dev, or NULL) to a running
 * partition; its answer goes to hooks->answer with token. 0, -ESRCH (not
 * running), -EBUSY (LC_ASK_MAX in flight) or -EIO.
 */
int lc_ask(struct sup *s, struct part_rt *pr, uint32_t op, const char *dev, uint32_t token);

/** lc_ask_cancel() - the requester gave up on token: its answer is dropped. */
void lc_ask_cancel(struct sup *s, struct part_rt *pr, uint32_t token);

/**
 * lc_push() - send control op to a running or paused partition without
 * waiting for its answer (the answer still updates its state). 0 or -errno.
 */
int lc_push(struct sup *s, struct part_rt *pr, uint32_t op);

/** lc_on_sleep() - the partition's guest entered S3 (slp_typ 3) or woke by itself (0). */
void lc_on_sleep(struct sup *s, struct part_rt *pr, uint64_t slp_typ);

/** lc_link_push() - tell a running end of link li its state (no answer expected). */
void lc_link_push(struct sup *s, struct part_rt *pr, int li);

/** lc_on_ready() - the partition reported setup done and sandboxed. */
void lc_on_ready(struct sup *s, struct part_rt *pr);

/** lc_on_exit_report() - the partition said how it ends (before exiting). */
void lc_on_exit_report(struct sup *s, struct part_rt *pr, const struct lvmm_exit *x);

/** lc_on_reply() - a validated control reply from the partition. */
void lc_on_reply(struct sup *s, struct part_rt *pr, const struct lvmm_ctl_reply *rep);

/** lc_channel_lost() - the partition's socket hit EOF or garbage: close it, fail its asks. */
void lc_channel_lost(struct sup *s, struct part_rt *pr);

/** lc_reaped() - process pid ended with wstatus; false if it was no partition's. */
bool lc_reaped(struct sup *s, pid_t pid, int wstatus);

/** lc_next_deadline() - the earliest restart, ready or stop deadline (UINT64_MAX: none). */
uint64_t lc_next_deadline(struct sup *s);

/** lc_on_timer() - start restarts that are due, kill partitions past a deadline. */
void lc_on_timer(struct sup *s, uint64_t now);

/**
 * lc_all_done() - has every partition ended for good? Partitions waiting
 * for `lvmm ctl start` (autostart: false) keep the platform up while
 * waiting_for_ctl and the platform is not shutting down.
 */
bool lc_all_done(struct sup *s, bool waiting_for_ctl);

/**
 * lc_on_verified() - the trust process's validated verdict for a gated
 * STARTING partition (forked at once, waiting at its gate for the same
 * verdict from the trust process): boot image set 0 (its own) or 1 (its
 * safe image): the start is reported; or boot < 0: refused (why says so),
 * and the partition is killed if it has not ended within LC_STOP_GRACE_MS.
 * A partition not waiting for it (stopped meanwhile) ignores it.
 */
void lc_on_verified(struct sup *s, struct part_rt *pr, int boot, const char *why);

/** lc_close() - release what the run held (identities); after the last partition ended. */
void lc_close(struct sup *s);

#endif
