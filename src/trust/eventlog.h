/* SPDX-License-Identifier: MIT */
/*
 * TCG PC Client crypto-agile event log (TCG PC Client Platform Firmware
 * Profile, "Crypto Agile Log Format"), SHA-256 only:
 *
 *   1. a TCG_PCClientPCREvent in the SHA-1 format: PCR 0, EV_NO_ACTION,
 *      20 zero bytes, and a TCG_EfiSpecIDEvent ("Spec ID Event03", one
 *      algorithm: SHA-256, 32 bytes);
 *   2. TCG_PCR_EVENT2 entries: PCR index, event type, a TPML_DIGEST_VALUES
 *      with one SHA-256 digest, event size and event data.
 *
 * All fields little-endian. This is what Linux reads through the ACPI
 * TPM2 table's LAML/LASA (/sys/kernel/security/tpm0/binary_bios_measurements)
 * and what tpm2_eventlog parses. The writer never allocates; the parser is
 * strict and bounded (it also runs on logs it did not write).
 */
#ifndef LVMM_TRUST_EVENTLOG_H
#define LVMM_TRUST_EVENTLOG_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "trust/digest.h"

#define EV_NO_ACTION     0x00000003U
#define EV_EVENT_TAG     0x00000006U
#define EV_COMPACT_HASH  0x0000000cU
#define EV_IPL           0x0000000dU
#define TPM_ALG_SHA256   0x000bU
#define EVENTLOG_PCRS    24
#define EVENTLOG_DATA_MAX (64 * 1024) /* one event's data, as the parser accepts it */

struct eventlog {
	uint8_t *buf;
	size_t cap;
	size_t len;
	unsigned events; /* TCG_PCR_EVENT2 entries after the header */
};

/*
 * Start a log in buf[0..cap) with the Spec ID header event.
 * 0 or -ENOSPC.
 */
int eventlog_init(struct eventlog *l, void *buf, size_t cap) MUST_CHECK;

/*
 * Append one TCG_PCR_EVENT2 (SHA-256 digest). 0, -EINVAL (pcr > 23, data
 * larger than EVENTLOG_DATA_MAX) or -ENOSPC (the log is left unchanged).
 */
int eventlog_append(struct eventlog *l, uint32_t pcr, uint32_t type,
		    const uint8_t digest[SHA256_LEN], const void *data, uint32_t len) MUST_CHECK;

/* One parsed TCG_PCR_EVENT2; data points into the parsed buffer. */
struct eventlog_event {
	uint32_t pcr;
	uint32_t type;
	uint8_t digest[SHA256_LEN];
	const uint8_t *data;
	uint32_t len;
};

/*
 * Parse log[0..len): the header must be a Spec ID Event03 naming SHA-256
 * (other banks may be listed; their digests are skipped), then
 * TCG_PCR_EVENT2 entries up to exactly len bytes. cb (optional) is called
 * for every entry; a non-zero return stops the walk and is returned.
 * Returns the number of entries (>= 0) or -EINVAL with the offset and
 * reason in err.
 */
int eventlog_parse(const uint8_t *log, size_t len,
		   int (*cb)(void *opaque, const struct eventlog_event *ev), void *opaque,
		   char *err, size_t errlen) MUST_CHECK;

/*
 * Replay log into pcrs (SHA-256 bank): every PCR starts at zero, which is
 * what lvmm's vTPM holds after TPM2_Startup (0-16, 23) and after the DRTM
 * hash sequence (17-22); each event extends pcrs[pcr] = SHA-256(old ||
 * digest); EV_NO_ACTION events extend nothing. *touched (optional) gets a
 * bit per PCR that was extended. 0 or -EINVAL (see eventlog_parse).
 */
int eventlog_replay(const uint8_t *log, size_t len, uint8_t pcrs[EVENTLOG_PCRS][SHA256_LEN],
		    uint32_t *touched, char *err, size_t errlen) MUST_CHECK;

/* pcr = SHA-256(pcr || digest): the TPM's extend. 0 or -EIO. */
int pcr_extend_sw(uint8_t pcr[SHA256_LEN], const uint8_t digest[SHA256_LEN]) MUST_CHECK;

#endif
