/* SPDX-License-Identifier: MIT */
/*
 * What lvmm measures into a partition's vTPM before its first
 * instruction, in one place: the supervisor drives swtpm from this plan
 * (vtpm.c), writes the guest's event log from it, and `lvmm measure`
 * predicts the PCR values from it offline. docs/trust.md has the table:
 *
 *   PCR 17  launch: the DRTM hash sequence (CMD_HASH_START/DATA/END; it
 *           resets PCRs 17-22 to zero first), data "lvmm launch NAME";
 *           then the verification outcome ("verify: ...")
 *   PCR 18  kernel  (SHA-256 of the image; data "kernel BASENAME")
 *   PCR 19  initrd  (SHA-256 of the image, or of nothing; "initrd BASENAME|(none)")
 *   PCR 20  the guest's command line, exactly as it is in guest memory:
 *           the configured one and lvmm's virtio_mmio.device= entries
 *           (vmm/cmdline.h) (SHA-256 of the bytes; data = the bytes)
 *   PCR 21  the partition's platform entry in canonical form (data = it)
 *   PCR 22  not extended (stays zero)
 *
 * Everything but the kernel and initrd carries its measured bytes as the
 * event data, so a verifier can recompute those digests from the log.
 * The guest's CRB is limited to locality 0, which can neither reset nor
 * extend PCRs 17-22 (measured: docs/trust.md).
 */
#ifndef LVMM_TRUST_MEASURE_H
#define LVMM_TRUST_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "trust/digest.h"
#include "trust/manifest.h"

#define MEASURE_PCR_LAUNCH   17
#define MEASURE_PCR_KERNEL   18
#define MEASURE_PCR_INITRD   19
#define MEASURE_PCR_CMDLINE  20
#define MEASURE_PCR_PLATFORM 21
#define MEASURE_PCRS_MASK    0x7e0000U /* PCRs 17-22: the ones lvmm owns */
/* Locality of the supervisor's TPM2_PCR_Extend: the only one that may extend all of 17-22. */
#define MEASURE_LOCALITY     2
#define MEASURE_MAX_STEPS    6
#define MEASURE_PLATFORM_MAX (16 * 1024) /* canonical platform entry, bytes */
#define MEASURE_OUTCOME_MAX  512
#define MEASURE_EVENTLOG_MAX (64 * 1024) /* = LVMM_TPM_EVENTLOG_SIZE */

enum measure_how {
	MEASURE_HASH_SEQUENCE = 1, /* control channel HASH_START/DATA/END (locality 4) */
	MEASURE_EXTEND = 2,        /* TPM2_PCR_Extend at MEASURE_LOCALITY */
};

struct measure_step {
	uint32_t pcr;
	uint32_t type; /* event type in the log */
	enum measure_how how;
	uint8_t digest[SHA256_LEN];
	const uint8_t *data; /* event data (points into the plan or the input) */
	uint32_t len;
};

enum measure_outcome {
	MEASURE_UNVERIFIED = 1, /* no verify: block */
	MEASURE_VERIFIED = 2,   /* the boot set matched its signed manifest */
	MEASURE_SAFE_IMAGE = 3, /* the primary failed; the (verified) safe image boots */
};

struct measure_input {
	const char *partition;           /* name, 1-31 characters */
	const struct boot_set *boot;     /* names and digests of what boots */
	const char *cmdline;             /* the guest's whole command line (cmdline_build()) */
	const void *platform;            /* canonical platform entry */
	size_t platform_len;
	enum measure_outcome outcome;
	const uint8_t *key_digest;       /* SHA-256 of the verifying key (DER), or NULL */
	const char *failed_file;         /* MEASURE_SAFE_IMAGE: what failed in the primary */
};

struct measure_plan {
	unsigned n;
	struct measure_step s[MEASURE_MAX_STEPS];
	/* Storage for the generated event data. */
	char launch[64];
	char outcome[MEASURE_OUTCOME_MAX];
	char kernel[MANIFEST_NAME_MAX + 8];
	char initrd[MANIFEST_NAME_MAX + 8];
};

/*
 * Build the plan. The plan points into in->cmdline and in->platform, which
 * must outlive it. 0 or -EINVAL (a missing or oversized input).
 */
int measure_plan_build(const struct measure_input *in, struct measure_plan *p) MUST_CHECK;

/*
 * Write the guest's event log for the plan into buf[0..cap); *len gets its
 * size. 0 or -ENOSPC.
 */
int measure_plan_eventlog(const struct measure_plan *p, void *buf, size_t cap,
			  size_t *len) MUST_CHECK;

/*
 * Predict PCRs 0-23 after the plan ran on a fresh vTPM (0-16 and 23 stay
 * zero; 17-22 start from the hash sequence's zeros). 0 or -EIO.
 */
int measure_plan_predict(const struct measure_plan *p,
			 uint8_t pcrs[24][SHA256_LEN]) MUST_CHECK;

#endif
