/* SPDX-License-Identifier: MIT */
/*
 * One swtpm (0.7, `swtpm socket --tpm2`) per partition with a vTPM, and
 * a client for its control protocol (swtpm_ioctls(3): a 4-byte big-endian
 * command code, then the request; every reply carries a TPM result code,
 * except GET_CAPABILITY's).
 *
 * swtpm gets no paths but its state directory: the supervisor keeps one
 * end of a control socketpair (passed as --ctrl clientfd=3) and of a data
 * socketpair (handed over with CMD_SET_DATAFD). It runs in its own
 * session, with only fds 0-3, an empty environment, its own seccomp
 * profile (--seccomp action=kill), as the partition's uid/gid when lvmm
 * runs as root, and with -t: it ends when the data channel closes, i.e.
 * when the supervisor dies (a closed control channel alone does not end
 * it: measured, docs/trust.md).
 */
#ifndef LVMM_TRUST_SWTPM_H
#define LVMM_TRUST_SWTPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"

/* Control commands (swtpm_ioctls(3); values as in swtpm's tpm_ioctl.h). */
#define SWTPM_CMD_GET_CAPABILITY 0x01
#define SWTPM_CMD_INIT           0x02
#define SWTPM_CMD_SHUTDOWN       0x03
#define SWTPM_CMD_SET_LOCALITY   0x05
#define SWTPM_CMD_HASH_START     0x06
#define SWTPM_CMD_HASH_DATA      0x07
#define SWTPM_CMD_HASH_END       0x08
#define SWTPM_CMD_STOP           0x0e
#define SWTPM_CMD_SET_DATAFD     0x10
#define SWTPM_CMD_SET_BUFFERSIZE 0x11

/* GET_CAPABILITY bits lvmm needs. */
#define SWTPM_CAP_INIT           (1ULL << 0)
#define SWTPM_CAP_SHUTDOWN       (1ULL << 1)
#define SWTPM_CAP_SET_LOCALITY   (1ULL << 3)
#define SWTPM_CAP_HASHING        (1ULL << 4)
#define SWTPM_CAP_STOP           (1ULL << 10)
#define SWTPM_CAP_SET_DATAFD     (1ULL << 12)
#define SWTPM_CAP_SET_BUFFERSIZE (1ULL << 13)
#define SWTPM_CAPS_NEEDED (SWTPM_CAP_INIT | SWTPM_CAP_SHUTDOWN | SWTPM_CAP_SET_LOCALITY | \
			   SWTPM_CAP_HASHING | SWTPM_CAP_STOP | SWTPM_CAP_SET_DATAFD | \
			   SWTPM_CAP_SET_BUFFERSIZE)

#define SWTPM_HASH_CHUNK   4096 /* CMD_HASH_DATA carries at most this much */
#define SWTPM_TIMEOUT_MS   5000 /* any control command or TPM command */
#define SWTPM_ARGV_MAX     16

struct swtpm_params {
	const char *binary;    /* path of swtpm; NULL: /usr/bin/swtpm */
	const char *state_dir; /* --tpmstate dir= (no ',' in it) */
	/*
	 * Or, when state_dir is NULL: the state directory as an open fd (not
	 * 0-2, which are stdio: a zeroed struct names no directory); swtpm
	 * starts in it and is given "dir=.", so it needs no path and no search
	 * permission on the directories above it.
	 */
	int state_dir_fd;
	uid_t uid;             /* run as uid/gid when started as root (0: stay) */
	gid_t gid;
	int stderr_fd;         /* swtpm's stderr, or -1 to keep ours */
};

struct swtpm {
	pid_t pid;
	int ctrl_fd;   /* our end of the control socketpair */
	int data_fd;   /* our end of the data socketpair, once swtpm has the other */
	int pend[2];   /* the data socketpair between swtpm_launch() and swtpm_connect() */
	int timeout_ms;
	uint32_t last_result; /* TPM result of the last control command (0 = success) */
	uint64_t caps;
};

/*
 * Build swtpm's argv into argv[0..max) using strbuf[0..cap) for strings,
 * for a control channel on fd ctrl_fd_num. 0, -EINVAL (no state dir, or
 * a ',' in it) or -ENOSPC.
 */
int swtpm_build_argv(const struct swtpm_params *p, int ctrl_fd_num, char *strbuf, size_t cap,
		     char **argv, size_t max) MUST_CHECK;

/*
 * Make dir the vTPM's private state directory: create it (0700) if it is
 * missing, refuse a symlink or a non-directory, and when uid != 0 make it
 * and the state files in it (plain, single-link, not root's) belong to
 * uid/gid, the directory with mode 0700. 0 or -errno.
 */
int swtpm_prepare_state_dir(const char *dir, uid_t uid, gid_t gid) MUST_CHECK;

/*
 * Start swtpm and connect its data channel: fork, exec with only the
 * control fd, check its capabilities (all of SWTPM_CAPS_NEEDED), hand it
 * the data socketpair with CMD_SET_DATAFD, and set its I/O buffer size to
 * buffer_size (so the TPM reports exactly what the CRB can carry; 0 keeps
 * swtpm's). The TPM is not initialised yet: see swtpm_power_on().
 * 0 or -errno; on failure nothing is left running or open.
 */
int swtpm_spawn(struct swtpm *t, const struct swtpm_params *p, uint32_t buffer_size) MUST_CHECK;

/*
 * swtpm_spawn() in two halves, so that swtpm's exec and start-up overlap
 * other work (the trust process hashes the boot images meanwhile):
 * swtpm_launch() forks and execs it and returns at once; swtpm_connect()
 * (a no-op once done) waits for its first answer, checks its capabilities,
 * hands it the data channel and sets the buffer size. 0 or -errno; after
 * a failure of either, swtpm_stop() ends what is left.
 */
int swtpm_launch(struct swtpm *t, const struct swtpm_params *p) MUST_CHECK;
int swtpm_connect(struct swtpm *t, uint32_t buffer_size) MUST_CHECK;

/*
 * CMD_INIT: (re)start the TPM as at power-on (volatile state is dropped,
 * the permanent state in the state directory stays). Then locality 0.
 * The caller sends TPM2_Startup next. 0 or -errno.
 */
int swtpm_power_on(struct swtpm *t) MUST_CHECK;

/*
 * Stop swtpm: CMD_SHUTDOWN (it saves its state and exits), wait up to
 * timeout_ms for it, then SIGKILL. Closes both fds. Safe to call on a
 * struct that was never spawned (pid 0). Returns 0 if it exited by
 * itself with status 0, else -EIO (still reaped).
 */
int swtpm_stop(struct swtpm *t);

/*
 * The supervisor reaped swtpm itself (its waitpid(-1) loop saw t->pid end):
 * forget the pid so that swtpm_stop() only closes the fds. Returns true if
 * it ended cleanly (exit status 0), false for a crash worth an event.
 */
bool swtpm_reaped(struct swtpm *t, int wstatus);

/* Individual control commands; 0 or -errno (-EREMOTEIO: swtpm returned last_result != 0). */
int swtpm_get_capability(struct swtpm *t, uint64_t *caps) MUST_CHECK;
int swtpm_init(struct swtpm *t, uint32_t flags) MUST_CHECK;
int swtpm_ctrl_stop(struct swtpm *t) MUST_CHECK;
int swtpm_shutdown(struct swtpm *t) MUST_CHECK;
int swtpm_set_locality(struct swtpm *t, uint8_t locality) MUST_CHECK;
int swtpm_set_datafd(struct swtpm *t, int fd) MUST_CHECK;
int swtpm_set_buffersize(struct swtpm *t, uint32_t want, uint32_t *actual, uint32_t *min,
			 uint32_t *max) MUST_CHECK;
/*
 * The DRTM hash sequence: HASH_START, HASH_DATA (in chunks of at most
 * SWTPM_HASH_CHUNK), HASH_END. swtpm resets PCRs 17-22 and extends PCR 17
 * with SHA-256(data) at locality 4.
 */
int swtpm_hash_sequence(struct swtpm *t, const void *data, size_t len) MUST_CHECK;

/*
 * Send one TPM command on the data channel and read its response into
 * rsp[0..cap) (the header first, then exactly the size it announces, which
 * must be >= 10 and <= cap). *rsp_len gets the size. 0 or -errno
 * (-ETIMEDOUT, -EPIPE, -EPROTO for a malformed or oversized response).
 */
int swtpm_transact(struct swtpm *t, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t cap,
		   size_t *rsp_len) MUST_CHECK;

/* Low-level helpers, shared with vtpm.c: I/O with a deadline on one fd. */
int trust_write_all(int fd, const void *buf, size_t len, int timeout_ms) MUST_CHECK;
int trust_read_all(int fd, void *buf, size_t len, int timeout_ms) MUST_CHECK;

#endif
