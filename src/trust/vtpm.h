/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's side of one partition's vTPM: a small relay state
 * machine over the swtpm data channel, plus the supervisor's own jobs
 * (measurement before the first guest instruction; PCR reads and quotes
 * for attestation). No allocation; everything lives in struct vtpm.
 *
 * swtpm has one command channel and its locality is one global setting,
 * so the rules are:
 *   - one command outstanding on the data channel at any time;
 *   - a guest command (from the partition's CRB, LVMM_MSG_TPM_CMD) is
 *     checked, then forwarded at locality 0 when the channel is free, or
 *     held in a queue of one while the supervisor owns the channel; a
 *     second one while one is queued or in flight is answered at once
 *     with TPM_RC_RETRY (the CRB never sends it: one command at a time);
 *   - the supervisor asks for the channel (vtpm_sup_begin); it gets it at
 *     once when idle, or as soon as the in-flight guest command completes;
 *     while it holds it, it runs its commands synchronously (bounded by a
 *     timeout) at the locality it needs, and vtpm_sup_end() puts swtpm back
 *     to locality 0 before the queued guest command goes out;
 *   - every guest command is answered exactly once: swtpm's response, or a
 *     TPM error response made here.
 * docs/trust.md explains why the supervisor relays instead of handing the
 * channel to the partition.
 */
#ifndef LVMM_TRUST_VTPM_H
#define LVMM_TRUST_VTPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "lvmm/proto.h"
#include "trust/measure.h"
#include "trust/swtpm.h"
#include "trust/tpm2.h"

#define VTPM_GUEST_TIMEOUT_MS 30000 /* longest a guest command may take in swtpm */
#define VTPM_RSP_MAX 4096           /* swtpm's largest response (TPM_BUFFER_MAX) */

enum vtpm_busy {
	VTPM_IDLE = 0,
	VTPM_GUEST = 1, /* a guest command is in flight */
	VTPM_SUP = 2,   /* the supervisor holds the channel */
};

struct vtpm_stats {
	uint64_t guest_cmds;     /* forwarded to swtpm */
	uint64_t guest_rejected; /* answered here with a TPM error */
	uint64_t guest_queued;   /* had to wait for a supervisor job */
	uint64_t sup_cmds;       /* the supervisor's own commands */
};

struct vtpm {
	struct swtpm *tpm;
	enum vtpm_busy busy;
	bool sup_waiting;   /* granted when the in-flight guest command completes */
	bool broken;        /* swtpm misbehaved: only errors from now on */
	uint8_t locality;   /* swtpm's current locality */
	uint32_t cur_seq;   /* in-flight guest command */
	uint64_t deadline_ns;
	/* The guest queue (one command). */
	bool queued;
	struct lvmm_tpm_msg q;
	/* The in-flight guest command's response, received asynchronously. */
	uint8_t rsp[VTPM_RSP_MAX];
	uint32_t rsp_have;
	/* platformAuth set at start-up: only the supervisor can use the platform hierarchy. */
	uint8_t platform_auth[TPM2_AUTH_MAX];
	struct vtpm_stats stats;
};

/* Results of vtpm_guest_submit(). */
enum vtpm_submit {
	VTPM_SUBMIT_SENT = 1,   /* forwarded; the response comes through vtpm_on_readable() */
	VTPM_SUBMIT_QUEUED = 2, /* waits for vtpm_sup_end() */
	VTPM_SUBMIT_REPLY = 3,  /* *reply holds an error response: send it now */
};

/* What vtpm_on_readable() completed. */
struct vtpm_event {
	bool guest_reply;  /* reply holds the response to the in-flight guest command */
	bool sup_granted;  /* the supervisor now holds the channel (it had asked) */
};

/* Bind v to a spawned swtpm. */
void vtpm_init(struct vtpm *v, struct swtpm *tpm);

/*
 * A guest command from the partition (already structurally checked with
 * lvmm_tpm_msg_ok()). It is refused here with a TPM error in *reply when:
 * the header's tag is not 0x8001/0x8002 or its size is not len
 * (TPM_RC_BAD_TAG / TPM_RC_COMMAND_SIZE: this also keeps swtpm's optional
 * "TPM_SEND_COMMAND" prefix, which carries a locality, from reaching it),
 * it is a vendor command (TPM_RC_COMMAND_CODE: swtpm's in-band
 * TPM2_SetLocality is one), the locality is not 0 (TPM_RC_LOCALITY),
 * another guest command is queued or in flight (TPM_RC_RETRY), or the
 * vTPM is broken (TPM_RC_FAILURE). Returns enum vtpm_submit, or -errno if
 * writing to swtpm failed (the vTPM is then broken; *reply holds
 * TPM_RC_FAILURE for the guest).
 */
int vtpm_guest_submit(struct vtpm *v, const struct lvmm_tpm_msg *cmd,
		      struct lvmm_tpm_msg *reply) MUST_CHECK;

/*
 * The data channel is readable: take what swtpm sent. Returns 1 with *ev
 * (and *reply when ev->guest_reply) when something completed, 0 when the
 * response is still partial, -errno when swtpm misbehaved (a response with
 * nothing in flight, a bad header, EOF): the vTPM is then broken and, if a
 * guest command was in flight, *reply holds TPM_RC_FAILURE for it
 * (ev->guest_reply set).
 */
int vtpm_on_readable(struct vtpm *v, struct vtpm_event *ev, struct lvmm_tpm_msg *reply) MUST_CHECK;

/* True if a guest command has been in swtpm longer than VTPM_GUEST_TIMEOUT_MS. */
bool vtpm_timed_out(const struct vtpm *v, uint64_t now);

/*
 * Fail the vTPM (swtpm died or timed out). If a guest command was in
 * flight or queued, *reply holds TPM_RC_FAILURE for it and true is
 * returned (send it); call again until false to drain.
 */
bool vtpm_fail(struct vtpm *v, struct lvmm_tpm_msg *reply);

/*
 * Ask for the channel. 0: the supervisor holds it now. -EINPROGRESS: a
 * guest command is in flight; vtpm_on_readable() reports sup_granted when
 * it completes. -EBUSY: already held or asked for. -EIO: broken.
 */
int vtpm_sup_begin(struct vtpm *v) MUST_CHECK;

/*
 * While holding the channel: one TPM command at the given locality
 * (0-3), synchronously, with swtpm's timeout. 0 or -errno (-EPERM: not
 * holding); the response's own TPM result is left to the caller's parser.
 */
int vtpm_sup_transact(struct vtpm *v, uint8_t locality, const uint8_t *cmd, size_t len,
		      uint8_t *rsp, size_t cap, size_t *rsp_len) MUST_CHECK;

/*
 * Give the channel back: locality 0 again, then the queued guest command
 * (if any) goes to swtpm. Returns 0, or -errno when swtpm could not be put
 * back to locality 0 or the queued command could not be sent: the vTPM is
 * then broken and must not serve the guest again (vtpm_fail()).
 */
int vtpm_sup_end(struct vtpm *v) MUST_CHECK;

/*
 * Partition start, before its first instruction (the channel must be
 * idle; this takes and releases it): CMD_INIT (power-on), TPM2_Startup,
 * a fresh random platformAuth, then the measurement plan (hash sequence
 * for PCR 17, TPM2_PCR_Extend at locality 2 for the rest), locality 0.
 * 0 or -errno, with a reason in err.
 */
int vtpm_start_measured(struct vtpm *v, const struct measure_plan *plan, char *err,
			size_t errlen) MUST_CHECK;

/* While holding: read the SHA-256 PCRs in mask (several TPM2_PCR_Read if needed). */
int vtpm_pcr_read(struct vtpm *v, uint32_t mask, uint8_t pcrs[TPM2_PCR_COUNT][SHA256_LEN],
		  char *err, size_t errlen) MUST_CHECK;

/*
 * While holding: create the attestation key, quote the PCRs in mask with
 * the caller's nonce, flush the key. The quote's PCR digest is checked
 * against pcrs (read in the same hold), so the answer is consistent.
 */
int vtpm_quote(struct vtpm *v, const uint8_t *nonce, size_t nonce_len, uint32_t mask,
	       const uint8_t pcrs[TPM2_PCR_COUNT][SHA256_LEN], struct tpm2_ak *ak,
	       struct tpm2_quote *q, char *err, size_t errlen) MUST_CHECK;

/*
 * The PCR digest a quote over mask must carry: SHA-256 of the selected
 * PCR values, lowest index first. 0 or -EIO.
 */
int vtpm_pcr_digest(uint32_t mask, const uint8_t pcrs[TPM2_PCR_COUNT][SHA256_LEN],
		    uint8_t out[SHA256_LEN]) MUST_CHECK;

#endif
