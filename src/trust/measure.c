// SPDX-License-Identifier: MIT
/* The measurement plan; see measure.h and docs/trust.md. */
#include "trust/measure.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "trust/eventlog.h"

static int step(struct measure_plan *p, uint32_t pcr, enum measure_how how,
		const uint8_t *digest, const void *data, size_t len)
{
	struct measure_step *s;

	if (p->n == MEASURE_MAX_STEPS || len > EVENTLOG_DATA_MAX)
		return -EINVAL;
	s = &p->s[p->n++];
	s->pcr = pcr;
	/*
	 * EV_COMPACT_HASH, not EV_IPL: tpm2_eventlog (and other verifiers)
	 * expect EV_IPL only in the boot loader's PCRs 8, 9, 12 and 14 and warn
	 * about it anywhere else; lvmm's events all live in PCRs 17-21.
	 */
	s->type = EV_COMPACT_HASH;
	s->how = how;
	s->data = data;
	s->len = (uint32_t)len;
	/* NULL digest: the event data is what is measured. */
	if (digest) {
		memcpy(s->digest, digest, SHA256_LEN);
		return 0;
	}
	return digest_sha256(data, len, s->digest);
}

static int outcome_text(const struct measure_input *in, char *out, size_t cap)
{
	char key[SHA256_HEX_LEN + 1] = "none";
	int n;

	if (in->key_digest)
		digest_to_hex(in->key_digest, SHA256_LEN, key);
	switch (in->outcome) {
	case MEASURE_UNVERIFIED:
		n = snprintf(out, cap, "verify: none");
		break;
	case MEASURE_VERIFIED:
		n = snprintf(out, cap, "verify: ok key=sha256:%s", key);
		break;
	case MEASURE_SAFE_IMAGE:
		if (!in->failed_file || !*in->failed_file)
			return -EINVAL;
		n = snprintf(out, cap, "verify: safe_image key=sha256:%s failed=%s", key,
			     in->failed_file);
		break;
	default:
		return -EINVAL;
	}
	return n < 0 || (size_t)n >= cap ? -EINVAL : 0;
}

int measure_plan_build(const struct measure_input *in, struct measure_plan *p)
{
	const struct boot_set *b = in->boot;
	size_t clen;
	int r, n;

	memset(p, 0, sizeof(*p));
	if (!in->partition || !*in->partition || strlen(in->partition) > 31 || !b ||
	    !b->kernel_name[0] || !in->platform || !in->platform_len ||
	    in->platform_len > MEASURE_PLATFORM_MAX)
		return -EINVAL;
	clen = in->cmdline ? strlen(in->cmdline) : 0;
	n = snprintf(p->launch, sizeof(p->launch), "lvmm launch %s", in->partition);
	if (n < 0 || (size_t)n >= sizeof(p->launch))
		return -EINVAL;
	r = outcome_text(in, p->outcome, sizeof(p->outcome));
	if (r)
		return r;
	snprintf(p->kernel, sizeof(p->kernel), "kernel %s", b->kernel_name);
	snprintf(p->initrd, sizeof(p->initrd), "initrd %s",
		 b->initrd_name[0] ? b->initrd_name : "(none)");

	r = step(p, MEASURE_PCR_LAUNCH, MEASURE_HASH_SEQUENCE, NULL, p->launch, strlen(p->launch));
	if (!r)
		r = step(p, MEASURE_PCR_LAUNCH, MEASURE_EXTEND, NULL, p->outcome, strlen(p->outcome));
	if (!r)
		r = step(p, MEASURE_PCR_KERNEL, MEASURE_EXTEND, b->kernel, p->kernel,
			 strlen(p->kernel));
	if (!r) {
		uint8_t none[SHA256_LEN];

		/* No initrd is measured too (as the digest of nothing), so it is never ambiguous. */
		if (!b->initrd_name[0])
			r = digest_sha256("", 0, none);
		if (!r)
			r = step(p, MEASURE_PCR_INITRD, MEASURE_EXTEND,
				 b->initrd_name[0] ? b->initrd : none, p->initrd, strlen(p->initrd));
	}
	/* The guest's command line, hashed here: it is more than the manifest's @cmdline. */
	if (!r)
		r = step(p, MEASURE_PCR_CMDLINE, MEASURE_EXTEND, NULL, clen ? in->cmdline : "", clen);
	if (!r)
		r = step(p, MEASURE_PCR_PLATFORM, MEASURE_EXTEND, NULL, in->platform,
			 in->platform_len);
	return r;
}

int measure_plan_eventlog(const struct measure_plan *p, void *buf, size_t cap, size_t *len)
{
	struct eventlog l;
	unsigned i;
	int r;

	r = eventlog_init(&l, buf, cap);
	for (i = 0; !r && i < p->n && i < MEASURE_MAX_STEPS; i++)
		r = eventlog_append(&l, p->s[i].pcr, p->s[i].type, p->s[i].digest, p->s[i].data,
				    p->s[i].len);
	if (r)
		return r == -EINVAL ? -EINVAL : -ENOSPC;
	*len = l.len;
	return 0;
}

int measure_plan_predict(const struct measure_plan *p, uint8_t pcrs[24][SHA256_LEN])
{
	unsigned i;
	int r;

	memset(pcrs, 0, 24 * SHA256_LEN);
	for (i = 0; i < p->n && i < MEASURE_MAX_STEPS; i++) {
		r = pcr_extend_sw(pcrs[p->s[i].pcr], p->s[i].digest);
		if (r)
			return r;
	}
	return 0;
}
