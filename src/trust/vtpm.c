// SPDX-License-Identifier: MIT
/* The vTPM relay and the supervisor's TPM jobs; see vtpm.h and docs/trust.md. */
#include "trust/vtpm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "common/log.h"

#define TPM_CC_VENDOR_BIT 0x20000000U /* TPM 2.0 Part 2: TPMA_CC.V */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void error_reply(struct lvmm_tpm_msg *reply, uint32_t seq, uint32_t rc)
{
	memset(reply, 0, offsetof(struct lvmm_tpm_msg, data) + LVMM_TPM_HDR_LEN);
	reply->seq = seq;
	reply->len = (uint32_t)tpm2_build_error(reply->data, sizeof(reply->data), rc);
}

void vtpm_init(struct vtpm *v, struct swtpm *tpm)
{
	memset(v, 0, sizeof(*v));
	v->tpm = tpm;
}

/* The TPM-level checks of a guest command; 0 or the TPM error to answer with. */
static uint32_t guest_cmd_check(const struct lvmm_tpm_msg *m)
{
	uint16_t tag = (uint16_t)(m->data[0] << 8 | m->data[1]);

	if (m->len < LVMM_TPM_HDR_LEN || m->len > LVMM_TPM_BUF_MAX)
		return TPM2_RC_COMMAND_SIZE;
	/*
	 * Only plain TPM 2.0 commands. This matters beyond hygiene: swtpm
	 * accepts a "TPM_SEND_COMMAND" prefix (00 00 00 08, locality, size)
	 * on the data channel and runs the command at the locality in it;
	 * such a prefix never starts with a TPM 2.0 tag.
	 */
	if (tag != TPM2_ST_NO_SESSIONS && tag != TPM2_ST_SESSIONS)
		return TPM2_RC_BAD_TAG;
	if (be32(m->data + 2) != m->len)
		return TPM2_RC_COMMAND_SIZE;
	/* Vendor commands: swtpm's in-band TPM2_SetLocality (0x20001000) is one. */
	if (be32(m->data + 6) & TPM_CC_VENDOR_BIT)
		return TPM2_RC_COMMAND_CODE;
	if (m->locality != 0)
		return TPM2_RC_LOCALITY;
	return 0;
}

static int set_locality(struct vtpm *v, uint8_t loc)
{
	int r;

	if (v->locality == loc)
		return 0;
	r = swtpm_set_locality(v->tpm, loc);
	if (r) {
		v->broken = true;
		return r;
	}
	v->locality = loc;
	return 0;
}

/* Forward a guest command now; the channel is idle. On failure the command
 * stays "in flight" so that vtpm_fail() answers it. */
static int send_guest(struct vtpm *v, const struct lvmm_tpm_msg *m)
{
	int r;

	v->busy = VTPM_GUEST;
	v->cur_seq = m->seq;
	v->rsp_have = 0;
	v->deadline_ns = now_ns() + (uint64_t)VTPM_GUEST_TIMEOUT_MS * 1000000;
	r = set_locality(v, 0);
	if (!r)
		r = trust_write_all(v->tpm->data_fd, m->data, m->len, v->tpm->timeout_ms);
	if (r) {
		v->broken = true;
		return r;
	}
	v->stats.guest_cmds++;
	return 0;
}

int vtpm_guest_submit(struct vtpm *v, const struct lvmm_tpm_msg *cmd, struct lvmm_tpm_msg *reply)
{
	uint32_t rc = guest_cmd_check(cmd);
	int r;

	if (!rc && v->broken)
		rc = TPM2_RC_FAILURE;
	/* One at a time: the CRB never sends a second one before its answer. */
	if (!rc && (v->busy == VTPM_GUEST || v->queued))
		rc = TPM2_RC_RETRY;
	if (rc) {
		v->stats.guest_rejected++;
		error_reply(reply, cmd->seq, rc);
		return VTPM_SUBMIT_REPLY;
	}
	if (v->busy == VTPM_SUP) {
		memcpy(&v->q, cmd, offsetof(struct lvmm_tpm_msg, data) + cmd->len);
		v->queued = true;
		v->stats.guest_queued++;
		return VTPM_SUBMIT_QUEUED;
	}
	r = send_guest(v, cmd);
	if (r) {
		vtpm_fail(v, reply);
		return r;
	}
	return VTPM_SUBMIT_SENT;
}

int vtpm_on_readable(struct vtpm *v, struct vtpm_event *ev, struct lvmm_tpm_msg *reply)
{
	uint32_t need;
	ssize_t n;
	int err = 0;

	memset(ev, 0, sizeof(*ev));
	/* Bounded: each pass reads at least one byte of at most VTPM_RSP_MAX, or stops. */
	for (;;) {
		if (v->busy != VTPM_GUEST) {
			/* Nothing of ours is in flight: anything readable is swtpm misbehaving. */
			uint8_t b;

			n = recv(v->tpm->data_fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			err = n == 0 ? -EPIPE : n < 0 ? -errno : -EPROTO;
			break;
		}
		need = v->rsp_have < LVMM_TPM_HDR_LEN ? LVMM_TPM_HDR_LEN : be32(v->rsp + 2);
		if (v->rsp_have >= LVMM_TPM_HDR_LEN &&
		    (need < LVMM_TPM_HDR_LEN || need > LVMM_TPM_BUF_MAX)) {
			/* swtpm's buffer size is the CRB's; a larger answer cannot reach the guest. */
			err = -EPROTO;
			break;
		}
		if (v->rsp_have == need) {
			reply->seq = v->cur_seq;
			reply->locality = 0;
			memset(reply->pad, 0, sizeof(reply->pad));
			reply->len = need;
			memcpy(reply->data, v->rsp, need);
			ev->guest_reply = true;
			v->busy = VTPM_IDLE;
			if (v->sup_waiting) {
				v->sup_waiting = false;
				v->busy = VTPM_SUP;
				ev->sup_granted = true;
			}
			return 1;
		}
		n = recv(v->tpm->data_fd, v->rsp + v->rsp_have, need - v->rsp_have, MSG_DONTWAIT);
		if (n > 0) {
			v->rsp_have += (uint32_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		err = n == 0 ? -EPIPE : -errno;
		break;
	}
	ev->guest_reply = vtpm_fail(v, reply);
	return err;
}

bool vtpm_timed_out(const struct vtpm *v, uint64_t now)
{
	return v->busy == VTPM_GUEST && now > v->deadline_ns;
}

bool vtpm_fail(struct vtpm *v, struct lvmm_tpm_msg *reply)
{
	v->broken = true;
	v->sup_waiting = false;
	if (v->busy == VTPM_GUEST) {
		v->busy = VTPM_IDLE;
		error_reply(reply, v->cur_seq, TPM2_RC_FAILURE);
		return true;
	}
	if (v->queued) {
		v->queued = false;
		error_reply(reply, v->q.seq, TPM2_RC_FAILURE);
		return true;
	}
	v->busy = VTPM_IDLE;
	return false;
}

int vtpm_sup_begin(struct vtpm *v)
{
	if (v->broken)
		return -EIO;
	if (v->busy == VTPM_SUP || v->sup_waiting)
		return -EBUSY;
	if (v->busy == VTPM_GUEST) {
		v->sup_waiting = true;
		return -EINPROGRESS;
	}
	v->busy = VTPM_SUP;
	return 0;
}

int vtpm_sup_transact(struct vtpm *v, uint8_t locality, const uint8_t *cmd, size_t len,
		      uint8_t *rsp, size_t cap, size_t *rsp_len)
{
	int r;

	if (v->busy != VTPM_SUP)
		return -EPERM;
	if (v->broken)
		return -EIO;
	if (locality > 3)
		return -EINVAL;
	r = set_locality(v, locality);
	if (r)
		return r;
	r = swtpm_transact(v->tpm, cmd, len, rsp, cap, rsp_len);
	if (r) {
		v->broken = true;
		return r;
	}
	v->stats.sup_cmds++;
	return 0;
}

int vtpm_sup_end(struct vtpm *v)
{
	int r;

	if (v->busy != VTPM_SUP)
		return -EPERM;
	v->busy = VTPM_IDLE;
	if (v->broken)
		return -EIO;
	/* Before any guest command: swtpm's locality is global. */
	r = set_locality(v, 0);
	if (r)
		return r;
	if (v->queued) {
		v->queued = false;
		r = send_guest(v, &v->q);
		if (r)
			return r;
	}
	return 0;
}

/* ---- the supervisor's jobs ----------------------------------------------------- */

static int errf(char *err, size_t errlen, int r, const char *what, uint32_t rc)
{
	if (err && errlen) {
		if (r == -EREMOTEIO)
			snprintf(err, errlen, "%s: TPM error 0x%x", what, rc);
		else
			snprintf(err, errlen, "%s: %s", what, strerror(-r));
	}
	return r;
}

/* One supervisor command expecting success; the response in rsp. */
static int sup_cmd(struct vtpm *v, uint8_t loc, const uint8_t *cmd, int clen, uint8_t *rsp,
		   size_t cap, size_t *rlen, uint32_t *rc)
{
	int r;

	*rc = 0;
	if (clen < 0)
		return clen;
	r = vtpm_sup_transact(v, loc, cmd, (size_t)clen, rsp, cap, rlen);
	if (r)
		return r;
	return tpm2_parse_header(rsp, *rlen, rc);
}

/*
 * A partition that ended with a command in swtpm left its response on the
 * data channel: read and drop it before CMD_INIT, so the next one starts
 * clean. The queued command (if any) belonged to that partition too.
 */
static int drain(struct vtpm *v)
{
	uint8_t hdr[LVMM_TPM_HDR_LEN];
	uint32_t size;
	int r;

	v->queued = false;
	v->sup_waiting = false;
	if (v->busy != VTPM_GUEST)
		return 0;
	if (v->rsp_have < LVMM_TPM_HDR_LEN) {
		r = trust_read_all(v->tpm->data_fd, v->rsp + v->rsp_have,
				   LVMM_TPM_HDR_LEN - v->rsp_have, VTPM_GUEST_TIMEOUT_MS);
		if (r)
			return r;
		v->rsp_have = LVMM_TPM_HDR_LEN;
	}
	memcpy(hdr, v->rsp, sizeof(hdr));
	size = be32(hdr + 2);
	if (size < LVMM_TPM_HDR_LEN || size > LVMM_TPM_BUF_MAX)
		return -EPROTO;
	r = trust_read_all(v->tpm->data_fd, v->rsp + v->rsp_have, size - v->rsp_have,
			   v->tpm->timeout_ms);
	if (r)
		return r;
	v->busy = VTPM_IDLE;
	return 0;
}

int vtpm_start_measured(struct vtpm *v, const struct measure_plan *plan, char *err,
			size_t errlen)
{
	uint8_t cmd[256], rsp[VTPM_RSP_MAX];
	size_t rlen;
	uint32_t rc = 0;
	unsigned i;
	int r;

	if (v->broken)
		return errf(err, errlen, -EIO, "vTPM", 0);
	r = drain(v);
	if (r)
		goto fail;
	if (v->busy != VTPM_IDLE)
		return errf(err, errlen, -EBUSY, "vTPM", 0);
	v->busy = VTPM_SUP;
	/* Power-on: a fresh TPM (PCRs reset), the permanent state kept. */
	r = swtpm_power_on(v->tpm);
	if (r) {
		errf(err, errlen, r, "swtpm CMD_INIT", v->tpm->last_result);
		goto fail;
	}
	v->locality = 0;
	r = sup_cmd(v, 0, cmd, tpm2_build_startup_clear(cmd, sizeof(cmd)), rsp, sizeof(rsp), &rlen,
		    &rc);
	if (r) {
		errf(err, errlen, r, "TPM2_Startup", rc);
		goto fail;
	}
	/*
	 * The platform hierarchy is the firmware's; lvmm is the firmware here.
	 * A secret platformAuth keeps the guest from using it (the attestation
	 * key lives there) or from changing the hierarchy; the TPM forgets it
	 * at the next power-on, so each start sets a new one.
	 */
	if (getrandom(v->platform_auth, sizeof(v->platform_auth), 0) !=
	    (ssize_t)sizeof(v->platform_auth)) {
		r = -EIO;
		errf(err, errlen, r, "getrandom", 0);
		goto fail;
	}
	r = sup_cmd(v, 0, cmd,
		    tpm2_build_platform_change_auth(cmd, sizeof(cmd), NULL, 0, v->platform_auth,
						    sizeof(v->platform_auth)),
		    rsp, sizeof(rsp), &rlen, &rc);
	if (r) {
		errf(err, errlen, r, "TPM2_HierarchyChangeAuth(platform)", rc);
		goto fail;
	}
	for (i = 0; i < plan->n && i < MEASURE_MAX_STEPS; i++) {
		const struct measure_step *s = &plan->s[i];

		if (s->how == MEASURE_HASH_SEQUENCE) {
			r = swtpm_hash_sequence(v->tpm, s->data, s->len);
			if (r) {
				v->broken = true;
				errf(err, errlen, r, "swtpm hash sequence", v->tpm->last_result);
				goto fail;
			}
			continue;
		}
		r = sup_cmd(v, MEASURE_LOCALITY, cmd,
			    tpm2_build_pcr_extend(cmd, sizeof(cmd), s->pcr, s->digest), rsp,
			    sizeof(rsp), &rlen, &rc);
		if (r) {
			char what[48];

			snprintf(what, sizeof(what), "TPM2_PCR_Extend(%u)", s->pcr);
			errf(err, errlen, r, what, rc);
			goto fail;
		}
	}
	r = vtpm_sup_end(v);
	if (r)
		return errf(err, errlen, r, "swtpm locality 0", v->tpm->last_result);
	return 0;
fail:
	v->broken = true;
	v->busy = VTPM_IDLE;
	return r;
}

int vtpm_pcr_read(struct vtpm *v, uint32_t mask, uint8_t pcrs[TPM2_PCR_COUNT][SHA256_LEN],
		  char *err, size_t errlen)
{
	uint8_t cmd[64], rsp[VTPM_RSP_MAX];
	uint32_t left = mask, got, rc = 0;
	size_t rlen;
	unsigned pass;
	int r;

	if (!mask || mask >> TPM2_PCR_COUNT)
		return errf(err, errlen, -EINVAL, "PCR selection", 0);
	/* A TPM returns at most 8 digests per call: 24 PCRs take at most 3 calls. */
	for (pass = 0; left && pass < 3; pass++) {
		r = sup_cmd(v, v->locality, cmd, tpm2_build_pcr_read(cmd, sizeof(cmd), left), rsp,
			    sizeof(rsp), &rlen, &rc);
		if (!r)
			r = tpm2_parse_pcr_read(rsp, rlen, left, pcrs, &got, &rc);
		if (!r && !got)
			r = -EPROTO;
		if (r)
			return errf(err, errlen, r, "TPM2_PCR_Read", rc);
		left &= ~got;
	}
	return left ? errf(err, errlen, -EPROTO, "TPM2_PCR_Read", 0) : 0;
}

int vtpm_pcr_digest(uint32_t mask, const uint8_t pcrs[TPM2_PCR_COUNT][SHA256_LEN],
		    uint8_t out[SHA256_LEN])
{
	uint8_t cat[TPM2_PCR_COUNT * SHA256_LEN];
	size_t n = 0;
	unsigned i;

	for (i = 0; i < TPM2_PCR_COUNT; i++) {
		if (mask & (1U << i)) {
			memcpy(cat + n, pcrs[i], SHA256_LEN);
			n += SHA256_LEN;
		}
	}
	return digest_sha256(cat, n, out);
}

int vtpm_quote(struct vtpm *v, const uint8_t *nonce, size_t nonce_len, uint32_t mask,
	       const uint8_t pcrs[TPM2_PCR_COUNT][SHA256_LEN], struct tpm2_ak *ak,
	       struct tpm2_quote *q, char *err, size_t errlen)
{
	uint8_t cmd[512], rsp[VTPM_RSP_MAX], want[SHA256_LEN], got[SHA256_LEN];
	uint32_t rc = 0;
	size_t rlen;
	int r, f;

	r = sup_cmd(v, v->locality, cmd,
		    tpm2_build_create_ak(cmd, sizeof(cmd), v->platform_auth,
					 sizeof(v->platform_auth)),
		    rsp, sizeof(rsp), &rlen, &rc);
	if (!r)
		r = tpm2_parse_create_ak(rsp, rlen, ak, &rc);
	if (r)
		return errf(err, errlen, r, "TPM2_CreatePrimary(attestation key)", rc);
	r = sup_cmd(v, v->locality, cmd,
		    tpm2_build_quote(cmd, sizeof(cmd), ak->handle, nonce, nonce_len, mask), rsp,
		    sizeof(rsp), &rlen, &rc);
	if (!r)
		r = tpm2_parse_quote(rsp, rlen, q, &rc);
	if (r)
		errf(err, errlen, r, "TPM2_Quote", rc);
	/* Always flush the key: transient slots are few, and it must not outlive this job. */
	f = sup_cmd(v, v->locality, cmd, tpm2_build_flush(cmd, sizeof(cmd), ak->handle), rsp,
		    sizeof(rsp), &rlen, &rc);
	if (r)
		return r;
	if (f)
		return errf(err, errlen, f, "TPM2_FlushContext", rc);
	r = tpm2_check_attest(q->attest, q->attest_len, nonce, nonce_len, mask, got);
	if (r)
		return errf(err, errlen, r, "quote contents", 0);
	r = vtpm_pcr_digest(mask, pcrs, want);
	if (r)
		return errf(err, errlen, r, "PCR digest", 0);
	if (memcmp(want, got, SHA256_LEN))
		return errf(err, errlen, -EBADMSG, "quote's PCR digest differs from the PCRs read", 0);
	return 0;
}
