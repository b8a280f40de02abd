/* SPDX-License-Identifier: MIT */
/*
 * The few TPM 2.0 commands lvmm's supervisor sends to a partition's vTPM
 * (TPM 2.0 Library, Part 3), built into caller buffers, and strict parsers
 * for their responses: every length read from a response is checked
 * against the bytes that are left before it is used, so a broken or
 * malicious swtpm cannot make lvmm read past a buffer.
 *
 * All TPM fields are big-endian. Builders return the command length (> 0)
 * or -ENOSPC. Parsers return 0; -EREMOTEIO when the TPM answered with an
 * error (its response code in *rc); -EPROTO for a malformed response.
 *
 * The attestation key is an ECC NIST P-256 restricted signing key
 * (ECDSA-SHA256) created with TPM2_CreatePrimary from a fixed template
 * under the platform hierarchy: the same key every time as long as the
 * vTPM's state (its platform seed) is kept. The supervisor sets a secret
 * platformAuth right after TPM2_Startup, so the guest can neither create
 * that key nor change the hierarchy (docs/trust.md).
 */
#ifndef LVMM_TRUST_TPM2_H
#define LVMM_TRUST_TPM2_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "trust/digest.h"

#define TPM2_ST_NO_SESSIONS 0x8001
#define TPM2_ST_SESSIONS    0x8002
#define TPM2_HDR_LEN        10
#define TPM2_RC_SUCCESS     0x000
#define TPM2_RC_BAD_TAG     0x01e
#define TPM2_RC_INITIALIZE  0x100
#define TPM2_RC_FAILURE     0x101
#define TPM2_RC_COMMAND_SIZE 0x142
#define TPM2_RC_COMMAND_CODE 0x143
#define TPM2_RC_RETRY       0x922
#define TPM2_RC_LOCALITY    0x907

#define TPM2_CC_STARTUP              0x00000144
#define TPM2_CC_PCR_EXTEND           0x00000182
#define TPM2_CC_PCR_READ             0x0000017e
#define TPM2_CC_HIERARCHY_CHANGE_AUTH 0x00000129
#define TPM2_CC_CREATE_PRIMARY       0x00000131
#define TPM2_CC_QUOTE                0x00000158
#define TPM2_CC_FLUSH_CONTEXT        0x00000165
#define TPM2_SU_CLEAR                0x0000
#define TPM2_RH_PLATFORM             0x4000000cU

#define TPM2_PCR_COUNT  24
#define TPM2_AUTH_MAX   32 /* platformAuth lvmm sets: one SHA-256 worth */
#define TPM2_NONCE_MAX  64 /* qualifying data accepted from a caller */
#define TPM2_ATTEST_MAX 1024
#define TPM2_ECC_COORD  32

/* TPM2_Startup(TPM_SU_CLEAR). */
int tpm2_build_startup_clear(uint8_t *buf, size_t cap);

/* TPM2_PCR_Extend(pcr, SHA-256 digest) with an empty password. */
int tpm2_build_pcr_extend(uint8_t *buf, size_t cap, uint32_t pcr,
			  const uint8_t digest[SHA256_LEN]);

/* TPM2_PCR_Read of the SHA-256 bank, PCRs in mask (bits 0-23). */
int tpm2_build_pcr_read(uint8_t *buf, size_t cap, uint32_t mask);

/*
 * Parse a TPM2_PCR_Read response: the TPM returns at most 8 digests per
 * call and says which PCRs it returned; their values go to pcrs[i] and
 * *got gets the mask (a subset of asked, else -EPROTO).
 */
int tpm2_parse_pcr_read(const uint8_t *rsp, size_t len, uint32_t asked,
			uint8_t pcrs[TPM2_PCR_COUNT][SHA256_LEN], uint32_t *got,
			uint32_t *rc) MUST_CHECK;

/* TPM2_HierarchyChangeAuth(platform): from auth (password) to new_auth. */
int tpm2_build_platform_change_auth(uint8_t *buf, size_t cap, const uint8_t *auth,
				    size_t auth_len, const uint8_t *new_auth, size_t new_len);

/* TPM2_CreatePrimary(platform, auth) of the attestation key template. */
int tpm2_build_create_ak(uint8_t *buf, size_t cap, const uint8_t *auth, size_t auth_len);

struct tpm2_ak {
	uint32_t handle;              /* transient object handle */
	uint8_t x[TPM2_ECC_COORD];    /* public point */
	uint8_t y[TPM2_ECC_COORD];
	uint8_t name[2 + SHA256_LEN]; /* nameAlg || SHA-256(TPMT_PUBLIC) */
};

/*
 * Parse the CreatePrimary response; the returned public area must be the
 * template lvmm asked for (P-256, ECDSA-SHA256, restricted signing) with a
 * 32-byte point.
 */
int tpm2_parse_create_ak(const uint8_t *rsp, size_t len, struct tpm2_ak *ak,
			 uint32_t *rc) MUST_CHECK;

/* TPM2_Quote(key, nonce, SHA-256 PCRs in mask) with the key's own scheme. */
int tpm2_build_quote(uint8_t *buf, size_t cap, uint32_t key, const uint8_t *nonce,
		     size_t nonce_len, uint32_t mask);

struct tpm2_quote {
	uint8_t attest[TPM2_ATTEST_MAX]; /* TPMS_ATTEST, as signed */
	uint16_t attest_len;
	uint8_t sig[4 + 2 * (2 + TPM2_ECC_COORD)]; /* TPMT_SIGNATURE as the TPM marshalled it */
	uint16_t sig_len;
	uint8_t r[TPM2_ECC_COORD], s[TPM2_ECC_COORD];
};

/* Parse the Quote response (ECDSA-SHA256 signature with 32-byte r and s). */
int tpm2_parse_quote(const uint8_t *rsp, size_t len, struct tpm2_quote *q,
		     uint32_t *rc) MUST_CHECK;

/*
 * Check a TPMS_ATTEST from a quote: a TPM-generated quote (magic, type),
 * extraData == nonce, and the selection == mask; the PCR digest in it
 * goes to *pcr_digest. 0 or -EPROTO / -EBADMSG (nonce or selection differ).
 */
int tpm2_check_attest(const uint8_t *attest, size_t len, const uint8_t *nonce, size_t nonce_len,
		      uint32_t mask, uint8_t pcr_digest[SHA256_LEN]) MUST_CHECK;

/* TPM2_FlushContext(handle). */
int tpm2_build_flush(uint8_t *buf, size_t cap, uint32_t handle);

/*
 * Check a response header: tag, size == len, and the response code.
 * 0, -EREMOTEIO (*rc != 0) or -EPROTO.
 */
int tpm2_parse_header(const uint8_t *rsp, size_t len, uint32_t *rc) MUST_CHECK;

/* The header of a command: tag, size (== len) and code. 0 or -EPROTO. */
int tpm2_command_header(const uint8_t *cmd, size_t len, uint16_t *tag, uint32_t *code) MUST_CHECK;

/* A 10-byte TPM error response with rc into buf (cap >= 10). Returns 10. */
int tpm2_build_error(uint8_t *buf, size_t cap, uint32_t rc);

/*
 * The attestation key's public part as a PEM SubjectPublicKeyInfo
 * (what `tpm2_checkquote -u` and `openssl pkey -pubin` read). 0 or -ENOSPC.
 */
int tpm2_ak_pem(const struct tpm2_ak *ak, char *pem, size_t cap) MUST_CHECK;

#endif
