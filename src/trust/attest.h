/* SPDX-License-Identifier: MIT */
/*
 * attest's answer as the trust process writes it (docs/trust.md "attest"):
 * JSON object members, without the braces (LVMM_BLOB_JSON_FIELDS), which
 * the supervisor passes on unread in a sealed memfd and the API front-end
 * parses and merges into its reply:
 *
 *   "partition":"NAME","nonce":"HEX","pcrs":{"17":"HEX",...,"22":"HEX"},
 *   "quote":{"attest":"HEX","signature":"HEX"},"ak_pem":"PEM","eventlog":"BASE64"
 */
#ifndef LVMM_TRUST_ATTEST_H
#define LVMM_TRUST_ATTEST_H

#include <stddef.h>
#include <stdint.h>

struct attest_answer {
	const char *partition;
	const uint8_t *nonce;
	size_t nonce_len;
	const uint8_t (*pcrs)[32]; /* indexed by PCR: 17-22 are written */
	const uint8_t *attest;     /* TPMS_ATTEST as signed */
	size_t attest_len;
	const uint8_t *sig;        /* TPMT_SIGNATURE as the TPM marshalled it */
	size_t sig_len;
	const char *ak_pem;
	const uint8_t *log;        /* the event log of this start */
	size_t log_len;
};

/**
 * attest_json() - a's members into out[0..cap) (not NUL-terminated). The
 * length, -ENOSPC when it does not fit, -EINVAL for a string with a control
 * character other than a newline.
 */
int attest_json(char *out, size_t cap, const struct attest_answer *a);

#endif
