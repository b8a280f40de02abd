// SPDX-License-Identifier: MIT
/*
 * The TCG crypto-agile event log (src/trust/eventlog.c) and the
 * measurement plan (measure.c): the header's exact bytes, the
 * TCG_PCR_EVENT2 layout, a strict parser (every truncation, bad
 * signature, digest count, PCR index, oversized data refused), replay ==
 * the plan's prediction, and, when tpm2-tools is installed, tpm2_eventlog
 * (a parser no one here wrote) reading lvmm's log and replaying it to the
 * same PCR values.
 */
#include "trust/eventlog.h"
#include "trust/measure.h"
#include "unit/trust_test.h"
#include "unit/unit.h"

static char err[256];

static void test_header_bytes(void)
{
	/* TCG PC Client PFP, "Crypto Agile Log Format": SHA-1-format header event. */
	static const uint8_t want[] = {
		0, 0, 0, 0,                   /* PCRIndex 0 */
		3, 0, 0, 0,                   /* EV_NO_ACTION */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* SHA-1 digest: zero */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		33, 0, 0, 0,                  /* EventSize */
		'S', 'p', 'e', 'c', ' ', 'I', 'D', ' ', 'E', 'v', 'e', 'n', 't', '0', '3', 0,
		0, 0, 0, 0,                   /* platformClass: client */
		0, 2, 0, 2,                   /* spec 2.0, errata 0, uintnSize 2 (64-bit) */
		1, 0, 0, 0,                   /* one algorithm */
		0x0b, 0, 32, 0,               /* SHA-256, 32 bytes */
		0,                            /* no vendor info */
	};
	uint8_t buf[256];
	struct eventlog l;

	CHECK_EQ(eventlog_init(&l, buf, sizeof(buf)), 0);
	CHECK_EQ(l.len, sizeof(want));
	CHECK(!memcmp(buf, want, sizeof(want)));
	CHECK_EQ(eventlog_init(&l, buf, sizeof(want) - 1), -ENOSPC);
}

static void test_event_layout(void)
{
	uint8_t buf[512], d[SHA256_LEN];
	struct eventlog l;
	const uint8_t *e;

	for (int i = 0; i < SHA256_LEN; i++)
		d[i] = (uint8_t)(0xa0 + i);
	CHECK_EQ(eventlog_init(&l, buf, sizeof(buf)), 0);
	CHECK_EQ(eventlog_append(&l, 18, EV_IPL, d, "kernel vmlinuz", 14), 0);
	e = buf + 65;
	CHECK(!memcmp(e, "\x12\0\0\0\x0d\0\0\0\x01\0\0\0\x0b\0", 14));
	CHECK(!memcmp(e + 14, d, SHA256_LEN));
	CHECK(!memcmp(e + 46, "\x0e\0\0\0kernel vmlinuz", 18));
	CHECK_EQ(l.len, 65 + 50 + 14);
	CHECK_EQ(l.events, 1);
	/* Refused: PCR 24, data over 64 KiB, no room (the log is left as it was). */
	CHECK_EQ(eventlog_append(&l, 24, EV_IPL, d, "x", 1), -EINVAL);
	CHECK_EQ(eventlog_append(&l, 1, EV_IPL, d, buf, EVENTLOG_DATA_MAX + 1), -EINVAL);
	CHECK_EQ(eventlog_append(&l, 1, EV_IPL, d, buf, 400), -ENOSPC);
	CHECK_EQ(l.len, 65 + 50 + 14);
	CHECK_EQ(l.events, 1);
}

struct seen {
	int n;
	uint32_t pcr[8];
	char data[8][32];
};

static int collect(void *opaque, const struct eventlog_event *ev)
{
	struct seen *s = opaque;

	if (s->n < 8) {
		s->pcr[s->n] = ev->pcr;
		snprintf(s->data[s->n], sizeof(s->data[0]), "%.*s", (int)ev->len, ev->data);
	}
	s->n++;
	return 0;
}

static size_t sample(uint8_t *buf, size_t cap)
{
	uint8_t d[SHA256_LEN] = { 1, 2, 3 };
	struct eventlog l;

	if (eventlog_init(&l, buf, cap) || eventlog_append(&l, 17, EV_IPL, d, "one", 3) ||
	    eventlog_append(&l, 20, EV_IPL, d, "", 0) || eventlog_append(&l, 21, EV_IPL, d, "three", 5))
		abort();
	return l.len;
}

static void test_parse_strict(void)
{
	static uint8_t buf[1024], cp[1024];
	struct seen s = { 0 };
	size_t len = sample(buf, sizeof(buf)), cut;
	int n, boundaries = 0;

	CHECK_EQ(eventlog_parse(buf, len, collect, &s, err, sizeof(err)), 3);
	CHECK_EQ(s.n, 3);
	CHECK(s.pcr[0] == 17 && s.pcr[1] == 20 && s.pcr[2] == 21);
	CHECK_STR(s.data[0], "one");
	CHECK_STR(s.data[1], "");
	CHECK_STR(s.data[2], "three");
	/* Every truncation is refused, except at an event boundary (fewer events). */
	for (cut = 0; cut < len; cut++) {
		n = eventlog_parse(buf, cut, NULL, NULL, err, sizeof(err));
		if (n >= 0)
			boundaries++;
	}
	CHECK_EQ(boundaries, 3); /* after the header, after event 1, after event 2 */
	/* Not a Spec ID event. */
	memcpy(cp, buf, len);
	cp[32] = 'X';
	CHECK_EQ(eventlog_parse(cp, len, NULL, NULL, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "Spec ID Event03") != NULL);
	/* An event whose digest count differs from the header's algorithms. */
	memcpy(cp, buf, len);
	cp[65 + 8] = 2;
	CHECK_EQ(eventlog_parse(cp, len, NULL, NULL, err, sizeof(err)), -EINVAL);
	/* PCR index 24. */
	memcpy(cp, buf, len);
	cp[65] = 24;
	CHECK_EQ(eventlog_parse(cp, len, NULL, NULL, err, sizeof(err)), -EINVAL);
	/* A digest of an algorithm the header does not list. */
	memcpy(cp, buf, len);
	cp[65 + 12] = 0x04; /* SHA-1 */
	CHECK_EQ(eventlog_parse(cp, len, NULL, NULL, err, sizeof(err)), -EINVAL);
	/* Event data size pointing past the end (and past 64 KiB). */
	memcpy(cp, buf, len);
	cp[65 + 46 + 3] = 0x7f;
	CHECK_EQ(eventlog_parse(cp, len, NULL, NULL, err, sizeof(err)), -EINVAL);
	/* The header's own size inconsistent with its contents. */
	memcpy(cp, buf, len);
	cp[28] = 34;
	CHECK_EQ(eventlog_parse(cp, len, NULL, NULL, err, sizeof(err)), -EINVAL);
	/* No SHA-256 bank. */
	memcpy(cp, buf, len);
	cp[32 + 28] = 0x04;
	cp[32 + 30] = 20;
	CHECK_EQ(eventlog_parse(cp, len, NULL, NULL, err, sizeof(err)), -EINVAL);
}

static struct boot_set boot;

static void plan_for(struct measure_plan *p, enum measure_outcome o, const char *cmdline)
{
	static const uint8_t key[SHA256_LEN] = { 0x42 };
	struct measure_input in = {
		.partition = "user", .boot = &boot, .cmdline = cmdline, .platform = "name: user\n",
		.platform_len = 11, .outcome = o, .key_digest = key, .failed_file = "vmlinuz",
	};

	memset(&boot, 0, sizeof(boot));
	strcpy(boot.kernel_name, "vmlinuz");
	boot.kernel[0] = 0x11;
	if (digest_sha256(cmdline, strlen(cmdline), boot.cmdline))
		abort();
	CHECK_EQ(measure_plan_build(&in, p), 0);
}

static void test_plan(void)
{
	static uint8_t log[8192], pred[24][SHA256_LEN], rep[24][SHA256_LEN];
	struct measure_plan p, q;
	struct seen s = { 0 };
	uint32_t touched = 0;
	size_t len = 0;
	uint8_t d[SHA256_LEN], z[SHA256_LEN] = { 0 };

	plan_for(&p, MEASURE_VERIFIED, "console=ttyS0");
	CHECK_EQ(p.n, 6);
	CHECK_EQ(p.s[0].how, MEASURE_HASH_SEQUENCE);
	CHECK_STR(p.launch, "lvmm launch user");
	CHECK(!strncmp(p.outcome, "verify: ok key=sha256:42000000", 30));
	CHECK_STR(p.initrd, "initrd (none)");
	/* Small inputs are their own event data: the digest is SHA-256 of the data. */
	CHECK_EQ(digest_sha256("console=ttyS0", 13, d), 0);
	CHECK(!memcmp(p.s[4].digest, d, SHA256_LEN) && p.s[4].pcr == 20);
	CHECK_EQ(measure_plan_eventlog(&p, log, sizeof(log), &len), 0);
	CHECK_EQ(eventlog_parse(log, len, collect, &s, err, sizeof(err)), 6);
	CHECK_STR(s.data[2], "kernel vmlinuz");
	CHECK_EQ(measure_plan_predict(&p, pred), 0);
	CHECK_EQ(eventlog_replay(log, len, rep, &touched, err, sizeof(err)), 0);
	CHECK(!memcmp(pred, rep, sizeof(pred)));
	CHECK_EQ(touched, 0x3e0000);
	CHECK(!memcmp(pred[22], z, SHA256_LEN));
	/* Each input moves its own PCR only. */
	plan_for(&q, MEASURE_SAFE_IMAGE, "console=ttyS0");
	CHECK(!strncmp(q.outcome, "verify: safe_image", 18) && strstr(q.outcome, "failed=vmlinuz"));
	CHECK_EQ(measure_plan_predict(&q, rep), 0);
	CHECK(memcmp(pred[17], rep[17], SHA256_LEN));
	CHECK(!memcmp(pred[18], rep[18], SHA256_LEN) && !memcmp(pred[20], rep[20], SHA256_LEN));
	plan_for(&q, MEASURE_VERIFIED, "console=ttyS1");
	CHECK_EQ(measure_plan_predict(&q, rep), 0);
	CHECK(!memcmp(pred[17], rep[17], SHA256_LEN) && memcmp(pred[20], rep[20], SHA256_LEN));
	/* Bad inputs. */
	{
		struct measure_input in = { .partition = "", .boot = &boot, .platform = "x",
					    .platform_len = 1, .outcome = MEASURE_UNVERIFIED };

		CHECK_EQ(measure_plan_build(&in, &q), -EINVAL);
		in.partition = "user";
		in.outcome = MEASURE_SAFE_IMAGE; /* without the failed file */
		CHECK_EQ(measure_plan_build(&in, &q), -EINVAL);
		in.outcome = MEASURE_UNVERIFIED;
		in.platform_len = MEASURE_PLATFORM_MAX + 1;
		CHECK_EQ(measure_plan_build(&in, &q), -EINVAL);
	}
	CHECK_EQ(measure_plan_eventlog(&p, log, 100, &len), -ENOSPC);
}

static void test_tpm2_eventlog(void)
{
	static uint8_t log[8192], pred[24][SHA256_LEN];
	static char out[65536];
	struct measure_plan p;
	size_t len = 0;
	int r, found = 0;
	char *line;

	plan_for(&p, MEASURE_VERIFIED, "console=ttyS0 root=/dev/vda");
	CHECK_EQ(measure_plan_eventlog(&p, log, sizeof(log), &len), 0);
	CHECK_EQ(measure_plan_predict(&p, pred), 0);
	CHECK_EQ(tt_write("log.bin", log, len), 0);
	r = tt_sh(out, sizeof(out), "tpm2_eventlog log.bin");
	CHECK_EQ(r, 0);
	CHECK(strstr(out, "Spec ID Event03") != NULL);
	/* The event data, in hex: here the command line itself. */
	CHECK(strstr(out, "EV_COMPACT_HASH") != NULL);
	CHECK(strstr(out, "636f6e736f6c653d747479533020726f6f743d2f6465762f766461") != NULL);
	CHECK(strstr(out, "WARN") == NULL);
	/* Its replayed PCRs (the "pcrs:" section) equal lvmm's prediction. */
	line = strstr(out, "pcrs:");
	line = line ? strstr(line, "sha256:") : NULL;
	while (line && (line = strchr(line, '\n'))) {
		unsigned idx;
		char h[65];
		uint8_t v[SHA256_LEN];

		line++;
		if (sscanf(line, " %u : 0x%64[0-9A-Fa-f]", &idx, h) != 2 || idx >= 24)
			break;
		CHECK_EQ(digest_from_hex(h, SHA256_LEN, v), 0);
		CHECK(!memcmp(v, pred[idx], SHA256_LEN));
		found++;
	}
	CHECK_EQ(found, 5);
	if (r || found != 5)
		printf("# tpm2_eventlog said:\n%s\n", out);
	/* And it rejects a truncated log, as ours does. */
	CHECK_EQ(tt_write("bad.bin", log, 150), 0);
	CHECK(tt_sh(out, sizeof(out), "tpm2_eventlog bad.bin") != 0);
	CHECK(eventlog_parse(log, 150, NULL, NULL, err, sizeof(err)) < 0);
}

int main(void)
{
	RUN(test_header_bytes);
	RUN(test_event_layout);
	RUN(test_parse_strict);
	RUN(test_plan);
	if (!tt_have("tpm2_eventlog")) {
		printf("skip - test_tpm2_eventlog: tpm2_eventlog not found (Debian: apt-get install tpm2-tools)\n");
		return unit_done();
	}
	if (tt_mkdir("trust-eventlog")) {
		printf("not ok - test_tpm2_eventlog: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	RUN(test_tpm2_eventlog);
	if (!unit_tests_failed)
		tt_cleanup();
	else
		printf("# files kept in %s\n", tt_dir);
	return unit_done();
}
