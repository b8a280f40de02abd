/* SPDX-License-Identifier: MIT */
/*
 * The platform model: partitions, their resources, and the links between
 * them, as read from a platform file (docs/platform-file.md) or built from
 * the quick command-line form. The supervisor alone holds it.
 */
#ifndef LVMM_PLATFORM_H
#define LVMM_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/util.h"
#include "lvmm/proto.h"
#include "lvmm/policy_model.h"

/*
 * Every table of partitions (the model, the supervisor's run-time state,
 * the ACM's Chinese Wall bookkeeping, the control API's agent slots and
 * reply buffer) is sized from these two: raise them and the rest follows.
 * 64 partitions of 64 MiB start in about half a second on two host cores
 * (bench/scale.sh); tests/integration/scale.sh runs this many.
 */
#define PLAT_MAX_PARTS 64
#define PLAT_MAX_LINKS (2 * PLAT_MAX_PARTS)
/*
 * File descriptors the supervisor holds while a platform runs (checked
 * against RLIMIT_NOFILE by platform_validate; `lvmm run` raises its soft
 * limit to what the platform needs): a fixed part (stdio, epoll, signal
 * and timer fds, the event log, the control socket and its host clients,
 * descriptors in flight while a partition starts), then per partition its
 * protocol socket, memory, uid lock and agent channel, per link its shared
 * memory and two doorbells, per listening stream socket one.
 */
#define PLAT_FDS_BASE      (64 + LVMM_MSG_MAX_FDS)
#define PLAT_FDS_PER_PART  4
#define PLAT_FDS_PER_LINK  3
#define PLAT_PATH_MAX  1024
#define PLAT_CONSOLE_LIMIT_DEFAULT (64ULL << 20) /* console_limit: 64 MiB */
#define PLAT_TAP_MAX   16 /* IFNAMSIZ */
#define PLAT_SLEEP_RECHECK_MS 1000
#define PLAT_SLEEP_CALM_MS 1000 /* after a wake, the least wait before the next platform sleep */
/*
 * Partition identities (docs/platform-file.md, `identities:`): each running
 * partition gets its own uid and gid from [base, base + count). The default
 * range sits above the container ranges systemd hands out (524288-1879048191).
 */
#define PLAT_UID_BASE_DEFAULT  1879048192U /* 0x70000000 */
#define PLAT_UID_COUNT_DEFAULT 65536U

/*
 * Fields of a partition whose value was refused (and reported) by
 * platform_load; later checks skip them rather than repeat the problem in
 * other words, so `lvmm check` can still report everything else.
 */
#define PLAT_BAD_NAME    (1U << 0)
#define PLAT_BAD_KERNEL  (1U << 1)
#define PLAT_BAD_MEMORY  (1U << 2)
#define PLAT_BAD_VCPUS   (1U << 3)
#define PLAT_BAD_LABEL   (1U << 4)
#define PLAT_BAD_INITRD  (1U << 5)
#define PLAT_BAD_CONSOLE (1U << 6)
#define PLAT_BAD_SAFE    (1U << 7) /* safe_image: (its kernel or initrd) */

enum plat_role { ROLE_USER = 0, ROLE_SERVICE = 1 };
enum plat_restart { RESTART_NEVER = 0, RESTART_ON_CRASH = 1, RESTART_ALWAYS = 2 };
enum plat_console { CONSOLE_STDOUT = 0, CONSOLE_FILE = 1, CONSOLE_NONE = 2 };

struct plat_dev {
	uint32_t type; /* enum lvmm_dev_type */
	char id[LVMM_NAME_MAX];
	char path[PLAT_PATH_MAX];   /* blk: image; stream: Unix socket */
	bool readonly;              /* blk */
	bool listen;                /* stream: create the socket and wait for a peer */
	bool control;               /* stream: the partition's agent channel to the control API */
	char tap[PLAT_TAP_MAX];     /* net over TAP */
	char link[LVMM_NAME_MAX];   /* net over a link */
	uint8_t mac[6];
	struct lvmm_rate_limit rx_rl, tx_rl;
	bool bad;                   /* refused by platform_load (reported) */
	int line;
};

/* verify: a signed manifest the boot set must match (docs/trust.md). */
struct plat_verify {
	bool on;
	char manifest[PLAT_PATH_MAX];
	char signature[PLAT_PATH_MAX];
	char key[PLAT_PATH_MAX];
	uint32_t on_fail;   /* enum lvmm_trust_on_fail: refuse (default) or safe_image */
	bool bad;           /* refused by platform_load (reported) */
};

/* safe_image: what boots instead when verification fails with on_fail: safe_image. */
struct plat_safe {
	bool on;
	char kernel[PLAT_PATH_MAX];
	char initrd[PLAT_PATH_MAX];
	char cmdline[LVMM_CMDLINE_MAX];
	struct plat_verify verify; /* required: a safe image boots only verified */
};

struct plat_part {
	char name[LVMM_NAME_MAX];
	enum plat_role role;
	unsigned vcpus;
	int host_cpus[LVMM_MAX_VCPUS];
	unsigned n_host_cpus;
	uint64_t mem_bytes;
	char kernel[PLAT_PATH_MAX];
	char initrd[PLAT_PATH_MAX];
	char cmdline[LVMM_CMDLINE_MAX];
	enum plat_console console;
	char console_path[PLAT_PATH_MAX];
	/*
	 * Console output written to a regular file (console: file:PATH, or a
	 * stdout redirected to one) stops when the file reaches this size: a
	 * guest must not be able to fill the host's disk (docs/platform-file.md).
	 */
	uint64_t console_limit;
	bool stdin_console;
	enum plat_restart restart;
	unsigned restart_limit;
	unsigned restart_delay_ms;
	bool reboot;        /* a guest reset restarts the partition */
	bool autostart;     /* start with the platform (else only via lvmm ctl start) */
	bool test_device;   /* docs/testing.md: sandbox probe port */
	char label[LVMM_NAME_MAX];
	struct plat_dev devs[LVMM_MAX_DEVS];
	unsigned ndevs;
	struct lvmm_cpuid_mask cpuid_mask[LVMM_MAX_CPUID_MASK];
	unsigned ncpuid_mask;
	struct lvmm_prot_range protect[LVMM_MAX_PROTECT]; /* docs/protect.md */
	unsigned nprotect;
	unsigned protect_at[LVMM_MAX_PROTECT]; /* each entry's index in the file's list */
	uint32_t on_violation;    /* enum lvmm_violation_action */
	uint32_t watchdog_ms;     /* 0: none */
	uint32_t watchdog_action; /* enum lvmm_watchdog_action */
	struct plat_verify verify;
	struct plat_safe safe;
	unsigned bad;       /* PLAT_BAD_* */
	int line;
};

/*
 * The CONFIG message's payload (include/lvmm/proto.h): the grant, the partition's own
 * entry, and KVM's supported CPUID (struct lvmm_cpuid_table says why it is here).
 */
struct plat_config_msg {
	struct lvmm_part_grant grant;
	struct plat_part part;
	struct lvmm_cpuid_table cpuid;
};
_Static_assert(sizeof(struct plat_config_msg) <= LVMM_MSG_MAX_LEN, "a partition's entry must fit a message");

struct plat_link {
	char name[LVMM_NAME_MAX];
	char ends[2][LVMM_NAME_MAX];
	int part[2]; /* partition index of each end */
	int dev[2];  /* device index within that partition */
	int line;
};

/* Remote management over mutually authenticated TLS (docs/platform-file.md, "remote"). */
struct plat_remote {
	bool present;
	char listen[64];                 /* ADDRESS:PORT, [IPV6]:PORT */
	char cert[PLAT_PATH_MAX];        /* the server's certificate (PEM) */
	char key[PLAT_PATH_MAX];         /* its private key (PEM) */
	char client_ca[PLAT_PATH_MAX];   /* CA certificate(s) client certificates must chain to */
};

struct platform {
	char path[PLAT_PATH_MAX]; /* the platform file, or "" for the quick form */
	char events_path[PLAT_PATH_MAX];
	char control_path[PLAT_PATH_MAX];
	struct plat_part parts[PLAT_MAX_PARTS];
	unsigned nparts;
	struct plat_link links[PLAT_MAX_LINKS];
	unsigned nlinks;
	struct plat_remote remote;
	struct policy policy; /* policy.present is false when none is given */
	bool policy_bad;      /* the policy itself had problems (reported) */
	uint32_t uid_base;   /* partition identities: see PLAT_UID_BASE_DEFAULT */
	uint32_t uid_count;
	/* ACPI S3 mediation (docs/acpi.md, "Sleep") */
	uint32_t sleep_recheck_ms;      /* a delayed sleep is looked at again this often */
};

/* Defaults for a partition that the file or command line does not set. */
void plat_part_defaults(struct plat_part *p);

/*
 * Read and validate a platform file. Every problem is printed to err as
 * "FILE:LINE: what is wrong; what to write instead", as many as can be
 * found: a value that is refused is marked (PLAT_BAD_*, plat_dev.bad) and
 * every check that does not depend on it still runs. The text is bounded
 * (docs/platform-file.md, "Limits") before it is parsed. Returns the number
 * of problems (0 = valid). Relative paths in the file are resolved against
 * the file's directory.
 */
int platform_load(const char *path, struct platform *plat, FILE *err) MUST_CHECK;

/*
 * Check a platform built in memory (the quick form; platform_load runs it
 * too): files exist, console files and sockets can be created, sizes are
 * possible, exclusive resources are assigned once, links have two ends,
 * the identity range fits. Problems go to err (with the file's line
 * numbers when plat->path is set). Returns the number of problems.
 */
int platform_validate(struct platform *plat, FILE *err) MUST_CHECK;

/*
 * The socket address of a remote: listen value ("127.0.0.1:8443",
 * "[::1]:8443"; a numeric address and a port 1-65535). 0 or -EINVAL.
 */
struct sockaddr_storage;
int plat_remote_addr(const char *listen, struct sockaddr_storage *ss, unsigned *len);

/*
 * Do the remote: files hold what they should: a certificate and the private
 * key that matches it, and at least one CA certificate? 0, or -EINVAL with
 * the reason in why (src/config/remote.c, OpenSSL).
 */
int plat_remote_pem_check(const struct plat_remote *r, char *why, size_t n);

/* File descriptors the supervisor needs to run plat (PLAT_FDS_*). */
unsigned platform_fd_need(const struct platform *plat);

/* Index of the partition called name, or -1. */
int platform_find(const struct platform *plat, const char *name);

/* Index of the partition's TPM device ({ type: tpm }), or -1. */
int plat_part_tpm(const struct plat_part *p);

/* Does the partition need a trust process (verify: or a TPM device)? */
bool plat_part_trust(const struct plat_part *p);

/*
 * The partition's platform entry in canonical form, measured into PCR 21
 * (docs/trust.md): one "key=value" line per setting that decides what the
 * partition is and may reach, in a fixed order, images by basename,
 * non-printable bytes as \xNN. The same text at every start and in `lvmm
 * measure`. Returns its length, or -ENOSPC when cap is too small.
 */
int plat_part_canonical(const struct plat_part *p, char *buf, size_t cap);

/* Short names used in messages and the schema. */
const char *plat_role_name(enum plat_role r);
const char *plat_restart_name(enum plat_restart r);

#endif
