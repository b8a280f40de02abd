/* SPDX-License-Identifier: MIT */
/*
 * The decision about one partition start, in one place: which boot set
 * boots (the partition's, its safe image, or none), why, and the
 * measurement plan for it. The trust process runs it on the sealed memfds
 * the supervisor sent; `lvmm check` runs it on the files (a failing
 * verification is a problem); `lvmm measure` runs it to predict the PCRs
 * and write the event log. Same code, same inputs: the same answer.
 *
 *   image[0] verified (or nothing to verify)   -> OK, image[0] boots
 *   image[0] fails, on_fail refuse             -> REFUSED
 *   image[0] fails, on_fail safe_image         -> the safe image is verified:
 *                                                 SAFE (it boots) or SAFE_FAILED
 *   an input cannot be read or hashed           -> ERROR (reason)
 */
#ifndef LVMM_TRUST_VERDICT_H
#define LVMM_TRUST_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "lvmm/trust_proto.h"
#include "trust/manifest.h"
#include "trust/measure.h"
#include "vmm/cmdline.h"

#define SIGNATURE_FILE_MAX 4096 /* read at most this much of a signature file */

struct trust_image_in {
	bool present;            /* image[1]: a safe image is configured */
	const char *kernel_name; /* basename (the manifest's name for it) */
	int kernel_fd;
	const char *initrd_name; /* NULL or "" without an initrd */
	int initrd_fd;           /* -1 without an initrd */
	const char *cmdline;     /* as configured: what the manifest's @cmdline signs */
	unsigned virtio_slots;   /* the virtio-mmio slots the partition's devices take (vmm/cmdline.h) */
	uint64_t fill_deadline_ns; /* the images are memfds still being filled, by then (trust process); else 0 */
	/* Verify against the signed manifest; an fd of -1 then fails verification (unreadable). */
	bool verify;
	int manifest_fd, sig_fd, key_fd;
};

struct trust_eval_in {
	const char *partition;
	struct trust_image_in image[2];
	int on_fail;             /* enum lvmm_trust_on_fail */
	const void *platform;    /* canonical platform entry; NULL: no plan (lvmm check) */
	size_t platform_len;
};

struct trust_eval {
	enum lvmm_trust_verdict verdict;
	unsigned boot;               /* the image that boots (OK, SAFE) */
	bool failed[2];
	struct verify_failure fail[2];
	bool have_key;               /* the booting image was verified with key_digest */
	uint8_t key_digest[SHA256_LEN];
	struct boot_set bs;          /* what boots: names, digests, sizes */
	struct measure_plan plan;    /* points into in->platform and cmdline */
	/* The booting image's command line as the guest gets it (PCR 20): with its virtio entries. */
	char cmdline[CMDLINE_MAX];
	char reason[LVMM_TRUST_REASON_MAX]; /* ERROR */
};

/*
 * Decide. Always fills out->verdict (ERROR with out->reason when an input
 * could not be used); returns 0, or the -errno behind an ERROR.
 */
int trust_evaluate(const struct trust_eval_in *in, struct trust_eval *out);

/*
 * Read a whole small file from fd (offset 0) into buf[0..cap): 0 with
 * *len, -EFBIG when it is larger than cap, -EINVAL when it is not a
 * regular file, or -errno.
 */
int trust_read_small(int fd, void *buf, size_t cap, size_t *len) MUST_CHECK;

#endif
