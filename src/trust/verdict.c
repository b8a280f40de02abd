// SPDX-License-Identifier: MIT
/* One partition start's verdict and measurement plan; see verdict.h and docs/trust.md. */
#include "trust/verdict.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int trust_read_small(int fd, void *buf, size_t cap, size_t *len)
{
	struct stat st;
	size_t got = 0;

	if (fd < 0)
		return -ENOENT; /* the supervisor could not open it */
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < 0)
		return -EINVAL;
	if ((uint64_t)st.st_size > cap)
		return -EFBIG;
	/* Bounded by the size checked above; a file that shrinks meanwhile ends early. */
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, (uint8_t *)buf + got, (size_t)st.st_size - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*len = got;
	return 0;
}

static void failure(struct verify_failure *f, const char *file, int r)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->file, sizeof(f->file), "%s", file);
	snprintf(f->reason, sizeof(f->reason), "%s: cannot read it: %s", file,
		 r == -EFBIG ? "too large" : strerror(-r));
}

/*
 * Verify one image against its manifest: 0 when it matches, -EBADMSG (or
 * another -errno from the inputs) with *f filled when it does not. The
 * three inputs are the operator's files, read bounded; a file that cannot
 * be read or is too large fails verification (it names the file), it is
 * not an error of the decision.
 */
static int verify_image(const struct trust_image_in *im, const struct boot_set *b,
			struct verify_failure *f, uint8_t key_digest[SHA256_LEN])
{
	static char manifest[MANIFEST_MAX_BYTES], sig[SIGNATURE_FILE_MAX], key[PUBKEY_PEM_MAX];
	size_t ml = 0, sl = 0, kl = 0;
	int r;

	r = trust_read_small(im->manifest_fd, manifest, sizeof(manifest), &ml);
	if (r) {
		failure(f, "manifest", r);
		return r;
	}
	r = trust_read_small(im->sig_fd, sig, sizeof(sig), &sl);
	if (r) {
		failure(f, "signature", r);
		return r;
	}
	r = trust_read_small(im->key_fd, key, sizeof(key), &kl);
	if (r) {
		failure(f, "key", r);
		return r;
	}
	r = manifest_verify(manifest, ml, sig, sl, key, kl, b, f);
	if (r)
		return r;
	/* The key verified the signature, so it parses: a failure here is libcrypto's. */
	return manifest_key_digest(key, kl, key_digest) ? -EIO : 0;
}

static int hash_image(const struct trust_image_in *im, struct boot_set *b, char *reason,
		      size_t cap)
{
	bool initrd = im->initrd_fd >= 0;
	int r = boot_set_hash_filling(b, im->kernel_name, im->kernel_fd, initrd ? im->initrd_name : NULL,
				      initrd ? im->initrd_fd : -1, im->cmdline, im->fill_deadline_ns);

	if (r)
		snprintf(reason, cap, "cannot hash the boot images (%s%s%s): %s", im->kernel_name,
			 initrd ? ", " : "", initrd ? im->initrd_name : "", strerror(-r));
	return r;
}

static bool wants_verify(const struct trust_image_in *im)
{
	return im->verify;
}

int trust_evaluate(const struct trust_eval_in *in, struct trust_eval *out)
{
	const struct trust_image_in *im = &in->image[0];
	struct measure_input mi = { .partition = in->partition };
	int r;

	memset(out, 0, sizeof(*out));
	out->verdict = LVMM_TRUST_ERROR;
	r = hash_image(im, &out->bs, out->reason, sizeof(out->reason));
	if (r)
		return r;
	mi.outcome = MEASURE_UNVERIFIED;
	if (wants_verify(im)) {
		mi.outcome = MEASURE_VERIFIED;
		if (verify_image(im, &out->bs, &out->fail[0], out->key_digest)) {
			out->failed[0] = true;
			if (in->on_fail != LVMM_TRUST_SAFE_IMAGE || !in->image[1].present) {
				out->verdict = LVMM_TRUST_REFUSED;
				return 0;
			}
			/* The safe image must itself pass: it is what boots instead. */
			im = &in->image[1];
			out->boot = 1;
			r = hash_image(im, &out->bs, out->reason, sizeof(out->reason));
			if (r)
				return r;
			if (!wants_verify(im)) {
				snprintf(out->fail[1].file, sizeof(out->fail[1].file), "manifest");
				snprintf(out->fail[1].reason, sizeof(out->fail[1].reason),
					 "the safe image has no verify: block; it boots only verified");
				out->failed[1] = true;
			} else if (verify_image(im, &out->bs, &out->fail[1], out->key_digest)) {
				out->failed[1] = true;
			}
			if (out->failed[1]) {
				out->verdict = LVMM_TRUST_SAFE_FAILED;
				return 0;
			}
			mi.outcome = MEASURE_SAFE_IMAGE;
			mi.failed_file = out->fail[0].file;
		}
		out->have_key = true;
		mi.key_digest = out->key_digest;
	}
	out->verdict = out->boot ? LVMM_TRUST_SAFE : LVMM_TRUST_OK;
	if (!in->platform)
		return 0;
	mi.boot = &out->bs;
	/*
	 * PCR 20: the command line byte for byte as the partition writes it into
	 * guest memory, built by the same function (boot.c). The partition's
	 * devices are those of its entry: a measured start whose policy grant
	 * withholds one does not boot (partition.c), so the slots are known here.
	 */
	r = cmdline_build(im->cmdline, im->virtio_slots, out->cmdline, sizeof(out->cmdline));
	if (r < 0) {
		out->verdict = LVMM_TRUST_ERROR;
		snprintf(out->reason, sizeof(out->reason), "the command line with its %u "
			 "virtio_mmio.device= entries does not fit", im->virtio_slots);
		return r;
	}
	mi.cmdline = out->cmdline;
	mi.platform = in->platform;
	mi.platform_len = in->platform_len;
	r = measure_plan_build(&mi, &out->plan);
	if (r) {
		out->verdict = LVMM_TRUST_ERROR;
		snprintf(out->reason, sizeof(out->reason), "cannot build the measurement plan: %s",
			 strerror(-r));
	}
	return r;
}
