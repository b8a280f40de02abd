/* SPDX-License-Identifier: MIT */
/*
 * TPM 2.0 Command Response Buffer interface (TCG PC Client Platform TPM
 * Profile, "CRB"), as Linux's tpm_crb driver drives it, in front of an
 * abstract backend: the device hands each well-formed command to
 * backend->submit() and shows the answer given later to
 * tpm_crb_complete(). In a partition the backend is the partition's trust
 * process (one LVMM_MSG_TPM_CMD per command over the device's own
 * socket, one LVMM_MSG_TPM_RSP back), which relays to its swtpm; in the
 * unit tests and the fuzzer it is a fake.
 *
 * Guest input is hostile: a command is bounded by the data buffer, must
 * have a TPM 2.0 header whose size matches what was written, and anything
 * else is answered at once with a TPM error response in the buffer
 * (TPM_RC_COMMAND_SIZE, TPM_RC_BAD_TAG, TPM_RC_COMMAND_CODE); CTRL_START
 * while a command is in flight is ignored, so a guest cannot queue more
 * than one. Only locality 0 is ever granted (docs/trust.md: locality 0
 * can neither reset nor extend the PCRs lvmm measures into).
 */
#ifndef LVMM_TPM_CRB_H
#define LVMM_TPM_CRB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "shared/ratelimit.h"
#include "lvmm/proto.h"
#include "vmm/bus.h"

/* Register offsets inside a locality's 4 KiB page. */
#define CRB_LOC_STATE       0x00
#define CRB_LOC_CTRL        0x08
#define CRB_LOC_STS         0x0c
#define CRB_INTF_ID         0x30 /* 64-bit */
#define CRB_CTRL_EXT        0x38
#define CRB_CTRL_REQ        0x40
#define CRB_CTRL_STS        0x44
#define CRB_CTRL_CANCEL     0x48
#define CRB_CTRL_START      0x4c
#define CRB_CTRL_INT_ENABLE 0x50
#define CRB_CTRL_INT_STS    0x54
#define CRB_CTRL_CMD_SIZE   0x58
#define CRB_CTRL_CMD_LADDR  0x5c
#define CRB_CTRL_CMD_HADDR  0x60
#define CRB_CTRL_RSP_SIZE   0x64
#define CRB_CTRL_RSP_ADDR   0x68 /* 64-bit */
#define CRB_DATA_BUFFER     0x80
#define CRB_PAGE            0x1000

/* Register bits (the ones Linux's tpm_crb uses, and what lvmm reports). */
#define CRB_LOC_STATE_ESTABLISHED (1U << 0)
#define CRB_LOC_STATE_ASSIGNED    (1U << 1)
#define CRB_LOC_STATE_VALID       (1U << 7)
#define CRB_LOC_CTRL_REQUEST      (1U << 0)
#define CRB_LOC_CTRL_RELINQUISH   (1U << 1)
#define CRB_LOC_STS_GRANTED       (1U << 0)
#define CRB_CTRL_REQ_CMD_READY    (1U << 0)
#define CRB_CTRL_REQ_GO_IDLE      (1U << 1)
#define CRB_CTRL_STS_ERROR        (1U << 0)
#define CRB_CTRL_STS_IDLE         (1U << 1)
#define CRB_START_INVOKE          (1U << 0)

struct tpm_crb_backend {
	/*
	 * Take a copy of one command (len LVMM_TPM_HDR_LEN..LVMM_TPM_BUF_MAX,
	 * header already checked) and answer it later with tpm_crb_complete(c,
	 * seq, ...). Called from a vCPU thread with the device's lock held:
	 * must not block or call back into the device. 0, or -errno: the guest
	 * then gets TPM_RC_FAILURE at once.
	 */
	int (*submit)(void *opaque, uint32_t seq, const uint8_t *cmd, uint32_t len,
		      uint8_t locality);
	void *opaque;
};

struct tpm_crb_stats {
	uint64_t commands;       /* handed to the backend */
	uint64_t rejected;       /* answered here with a TPM error */
	uint64_t ignored_starts; /* CTRL_START while busy */
	uint64_t stale;          /* completions nobody waited for */
	uint64_t denied;         /* requests for localities 1-4, other odd accesses */
};

struct tpm_crb {
	pthread_mutex_t lock;
	struct tpm_crb_backend be;
	bool assigned;      /* locality 0 granted */
	bool idle;          /* CTRL_STS.tpmIdle */
	bool busy;          /* a command is with the backend (CTRL_START reads 1) */
	uint32_t seq;       /* of the command in flight */
	uint32_t cancel;    /* CTRL_CANCEL as written */
	uint32_t int_enable;
	uint32_t written;   /* high-water mark of bytes written into the buffer since the last answer */
	uint8_t buf[LVMM_TPM_BUF_MAX];
	struct tpm_crb_stats stats;
	struct ratelimit rl;
};

/* Initialise c with a backend (copied). */
void tpm_crb_init(struct tpm_crb *c, const struct tpm_crb_backend *be);
void tpm_crb_destroy(struct tpm_crb *c);

/* The MMIO handlers for [LVMM_TPM_CRB_BASE, +LVMM_TPM_CRB_SIZE); opaque = struct tpm_crb. */
extern const struct bus_ops tpm_crb_bus_ops;
void tpm_crb_read(void *opaque, uint64_t off, void *data, uint32_t len);
void tpm_crb_write(void *opaque, uint64_t off, const void *data, uint32_t len);

/*
 * The backend's answer to command seq: rsp[0..len) must be a TPM response
 * whose header size is len, at most LVMM_TPM_BUF_MAX (anything else is
 * replaced by TPM_RC_FAILURE, so the guest always gets a well-formed
 * answer). 0, or -ESTALE when no command with that seq is in flight
 * (nothing changes).
 */
int tpm_crb_complete(struct tpm_crb *c, uint32_t seq, const uint8_t *rsp, uint32_t len);

/*
 * Answer the command in flight, if any, with TPM_RC_FAILURE (the backend
 * will not answer it). 0, or -ESTALE when none was in flight.
 */
int tpm_crb_abort(struct tpm_crb *c);

/*
 * The partition device (struct device_ops) for LVMM_DEV_TPM:
 *   fd[0] = a SOCK_SEQPACKET socket to the partition's trust process,
 *           carrying struct lvmm_tpm_msg both ways (LVMM_MSG_TPM_CMD out,
 *           LVMM_MSG_TPM_RSP back), watched by the I/O thread;
 *   fd[1] = the event log (a sealed memfd of at most LVMM_TPM_EVENTLOG_SIZE
 *           bytes), copied to LVMM_TPM_EVENTLOG_BASE before the first guest
 *           instruction, or LVMM_NO_FD (the area stays zero: an empty log);
 *   fd[2], fd[3] = LVMM_NO_FD.
 * A closed or misbehaving channel, or no answer within
 * tpm_crb_answer_timeout_ms, makes commands fail with TPM_RC_FAILURE; the
 * guest is never left polling.
 */
struct device_ops;
extern const struct device_ops tpm_crb_ops;
extern unsigned tpm_crb_answer_timeout_ms; /* 60000; tests lower it */

/*
 * Copy the event log (fd: a regular file of at most LVMM_TPM_EVENTLOG_SIZE
 * bytes) to LVMM_TPM_EVENTLOG_BASE in guest memory, zeros after it: at
 * device creation, or for a gated start when its verdict comes (before the
 * first guest instruction either way). 0 or -errno.
 */
struct vm;
int tpm_crb_place_eventlog(struct vm *vm, int fd);

/*
 * Check a LVMM_DEV_TPM config entry's fds (as above; indices into fds[0..nfds)):
 * 0, or -errno with the reason in err.
 */
int tpm_crb_check_cfg(const struct lvmm_dev_cfg *cfg, const int *fds, unsigned nfds, char *err,
		      size_t errlen);

#endif
