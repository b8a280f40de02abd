// SPDX-License-Identifier: MIT
/*
 * One partition start's verdict (src/trust/verdict.c): which boot set
 * boots and why, for the trust process, `lvmm check` and `lvmm measure`
 * alike. Files are signed with the openssl commands of docs/trust.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "trust/offline.h"
#include "trust/verdict.h"
#include "unit/trust_test.h"
#include "unit/unit.h"

static const char platform[] = "lvmm-platform-entry=1\nname=user\n";
static struct trust_eval ev;
static int fds[16];
static unsigned nfds;

static int fd_of(const char *name)
{
	char path[256];
	int fd = open(tt_path(path, sizeof(path), name), O_RDONLY | O_CLOEXEC);

	if (fd >= 0 && nfds < ARRAY_SIZE(fds))
		fds[nfds++] = fd;
	return fd;
}

static void close_all(void)
{
	while (nfds)
		close(fds[--nfds]);
}

/* image[i] from files in tt_dir; prefix "x" verifies with x.manifest, x.manifest.sig, key. */
static void image(struct trust_image_in *im, const char *kernel, const char *cmdline,
		  const char *prefix, const char *key)
{
	char m[64], s[64];

	memset(im, 0, sizeof(*im));
	im->present = true;
	im->kernel_name = kernel;
	im->kernel_fd = fd_of(kernel);
	im->initrd_name = "";
	im->initrd_fd = -1;
	im->cmdline = cmdline;
	im->manifest_fd = im->sig_fd = im->key_fd = -1;
	if (!prefix)
		return;
	snprintf(m, sizeof(m), "%s.manifest", prefix);
	snprintf(s, sizeof(s), "%s.manifest.sig", prefix);
	im->verify = true;
	im->manifest_fd = fd_of(m);
	im->sig_fd = fd_of(s);
	im->key_fd = fd_of(key);
}

static int sign(const char *prefix, const char *kernel, const char *cmdline, const char *key)
{
	return tt_sh(NULL, 0,
		     "{ sha256sum %s; printf '%%s  @cmdline\\n' \"$(printf %%s '%s' | sha256sum | cut -d' ' -f1)\"; } >%s.manifest && "
		     "openssl pkeyutl -sign -rawin -inkey %s -in %s.manifest -out %s.manifest.sig",
		     kernel, cmdline, prefix, key, prefix, prefix);
}

static void evaluate(struct trust_eval_in *in)
{
	in->partition = "user";
	in->platform = platform;
	in->platform_len = strlen(platform);
	trust_evaluate(in, &ev);
}

static void test_verified(void)
{
	struct trust_eval_in in = { .on_fail = LVMM_TRUST_REFUSE };
	char out[256], hex[SHA256_HEX_LEN + 1];

	image(&in.image[0], "vmlinuz", "console=ttyS0", "user", "it-pub.pem");
	evaluate(&in);
	CHECK_EQ(ev.verdict, LVMM_TRUST_OK);
	CHECK_EQ(ev.boot, 0);
	CHECK(ev.have_key && !ev.failed[0]);
	/* The key's digest is the SHA-256 of its DER form, as openssl writes it. */
	CHECK_EQ(tt_sh(out, sizeof(out), "openssl pkey -pubin -in it-pub.pem -outform DER | sha256sum | cut -c1-64"), 0);
	digest_to_hex(ev.key_digest, SHA256_LEN, hex);
	CHECK(!strncmp(out, hex, 64));
	CHECK_EQ(ev.plan.n, 6);
	CHECK(!strncmp(ev.plan.outcome, "verify: ok key=sha256:", 22) && strstr(ev.plan.outcome, hex));
	/* PCR 21's event data is the platform entry itself. */
	CHECK(ev.plan.s[5].pcr == 21 && ev.plan.s[5].len == strlen(platform) &&
	      !memcmp(ev.plan.s[5].data, platform, strlen(platform)));
	close_all();

	/* Without verify: it boots, unverified, and says so in PCR 17. */
	image(&in.image[0], "vmlinuz", "console=ttyS0", NULL, NULL);
	evaluate(&in);
	CHECK(ev.verdict == LVMM_TRUST_OK && !ev.have_key);
	CHECK_STR(ev.plan.outcome, "verify: none");
	close_all();
}

static void test_refused(void)
{
	struct trust_eval_in in = { .on_fail = LVMM_TRUST_REFUSE };
	char want[SHA256_HEX_LEN + 1] = "", got[SHA256_HEX_LEN + 1] = "";

	CHECK_EQ(tt_read("user.manifest", want, 64), 64);
	CHECK_EQ(tt_write("tampered", "a kernel imagX", 14), 0);
	CHECK_EQ(tt_sh(got, sizeof(got), "sha256sum tampered | cut -c1-64 | tr -d '\\n'"), 0);
	/* The kernel's name is what the manifest calls it; its bytes are someone else's. */
	image(&in.image[0], "vmlinuz", "console=ttyS0", "user", "it-pub.pem");
	close(in.image[0].kernel_fd);
	in.image[0].kernel_fd = fds[0] = fd_of("tampered");
	nfds--;
	evaluate(&in);
	CHECK_EQ(ev.verdict, LVMM_TRUST_REFUSED);
	CHECK(ev.failed[0] && !ev.failed[1]);
	CHECK_STR(ev.fail[0].file, "vmlinuz");
	CHECK_STR(ev.fail[0].expected, want);
	CHECK_STR(ev.fail[0].actual, got);
	close_all();

	/* Another command line is another boot set. */
	image(&in.image[0], "vmlinuz", "console=ttyS0 init=/bin/sh", "user", "it-pub.pem");
	evaluate(&in);
	CHECK(ev.verdict == LVMM_TRUST_REFUSED && !strcmp(ev.fail[0].file, "@cmdline"));
	close_all();

	/* Inputs that cannot be read fail verification, naming them; they are not errors. */
	image(&in.image[0], "vmlinuz", "console=ttyS0", "user", "it-pub.pem");
	in.image[0].manifest_fd = -1; /* the supervisor could not open it */
	evaluate(&in);
	CHECK(ev.verdict == LVMM_TRUST_REFUSED && !strcmp(ev.fail[0].file, "manifest") &&
	      strstr(ev.fail[0].reason, "cannot read it"));
	close_all();
	CHECK_EQ(tt_sh(NULL, 0, "head -c 5000 /dev/zero >big.sig"), 0);
	image(&in.image[0], "vmlinuz", "console=ttyS0", "user", "it-pub.pem");
	in.image[0].sig_fd = fd_of("big.sig");
	evaluate(&in);
	CHECK(ev.verdict == LVMM_TRUST_REFUSED && !strcmp(ev.fail[0].file, "signature") &&
	      strstr(ev.fail[0].reason, "too large"));
	close_all();

	/* An image that cannot even be hashed is an error of the decision. */
	image(&in.image[0], "vmlinuz", "console=ttyS0", "user", "it-pub.pem");
	in.image[0].kernel_fd = -1;
	evaluate(&in);
	CHECK(ev.verdict == LVMM_TRUST_ERROR && strstr(ev.reason, "cannot hash"));
	close_all();
}

static void test_safe_image(void)
{
	struct trust_eval_in in = { .on_fail = LVMM_TRUST_SAFE_IMAGE };

	CHECK_EQ(tt_write("safe.elf", "a safe image", 12), 0);
	CHECK_EQ(sign("safe", "safe.elf", "safe", "it.pem"), 0);
	image(&in.image[0], "vmlinuz", "tampered cmdline", "user", "it-pub.pem");
	image(&in.image[1], "safe.elf", "safe", "safe", "it-pub.pem");
	evaluate(&in);
	CHECK_EQ(ev.verdict, LVMM_TRUST_SAFE);
	CHECK_EQ(ev.boot, 1);
	CHECK(ev.failed[0] && !strcmp(ev.fail[0].file, "@cmdline") && !ev.failed[1]);
	CHECK_STR(ev.bs.kernel_name, "safe.elf");
	CHECK(strstr(ev.plan.outcome, "verify: safe_image key=sha256:") &&
	      strstr(ev.plan.outcome, " failed=@cmdline"));
	CHECK(ev.plan.s[4].len == 4 && !memcmp(ev.plan.s[4].data, "safe", 4)); /* PCR 20: its cmdline */
	close_all();

	/* refuse means refuse, safe image or not. */
	in.on_fail = LVMM_TRUST_REFUSE;
	image(&in.image[0], "vmlinuz", "tampered cmdline", "user", "it-pub.pem");
	image(&in.image[1], "safe.elf", "safe", "safe", "it-pub.pem");
	evaluate(&in);
	CHECK_EQ(ev.verdict, LVMM_TRUST_REFUSED);
	close_all();

	/* The safe image must pass too: signed by another key, it does not boot. */
	in.on_fail = LVMM_TRUST_SAFE_IMAGE;
	CHECK_EQ(sign("safe", "safe.elf", "safe", "other.pem"), 0);
	image(&in.image[0], "vmlinuz", "tampered cmdline", "user", "it-pub.pem");
	image(&in.image[1], "safe.elf", "safe", "safe", "it-pub.pem");
	evaluate(&in);
	CHECK_EQ(ev.verdict, LVMM_TRUST_SAFE_FAILED);
	CHECK(ev.failed[1] && !strcmp(ev.fail[1].file, "signature"));
	close_all();
	/* ... nor unverified. */
	image(&in.image[0], "vmlinuz", "tampered cmdline", "user", "it-pub.pem");
	image(&in.image[1], "safe.elf", "safe", NULL, NULL);
	evaluate(&in);
	CHECK(ev.verdict == LVMM_TRUST_SAFE_FAILED && strstr(ev.fail[1].reason, "no verify:"));
	close_all();
}

/*
 * PCR 20 and its event are the command line the guest gets, byte for byte:
 * the configured one and the virtio_mmio.device= entry of each virtio
 * device of the entry, as the partition writes it into guest memory (its
 * log line: loaded ..., cmdline "..."). Built from the platform entry as
 * `lvmm measure` and the trust process do (trust_offline_open,
 * trust_image_of); the signed manifest's @cmdline stays the configured part.
 */
static void test_pcr20_is_the_guest_cmdline(void)
{
	static const char want[] = "console=ttyS0 virtio_mmio.device=4K@0xd0000000:5 "
				   "virtio_mmio.device=4K@0xd0001000:6";
	static struct plat_part p;
	static struct trust_offline o;
	uint8_t d[SHA256_LEN];
	char why[256];
	const struct measure_step *s;

	plat_part_defaults(&p);
	snprintf(p.name, sizeof(p.name), "user");
	tt_path(p.kernel, sizeof(p.kernel), "vmlinuz");
	snprintf(p.cmdline, sizeof(p.cmdline), "console=ttyS0");
	p.verify.on = true;
	tt_path(p.verify.manifest, sizeof(p.verify.manifest), "user.manifest");
	tt_path(p.verify.signature, sizeof(p.verify.signature), "user.manifest.sig");
	tt_path(p.verify.key, sizeof(p.verify.key), "it-pub.pem");
	p.ndevs = 3;
	p.devs[0].type = LVMM_DEV_BLK;   /* slot 0: 0xd0000000, IRQ 5 */
	snprintf(p.devs[0].id, sizeof(p.devs[0].id), "blk0");
	snprintf(p.devs[0].path, sizeof(p.devs[0].path), "/dev/null");
	p.devs[1].type = LVMM_DEV_TPM;   /* the CRB: no slot */
	snprintf(p.devs[1].id, sizeof(p.devs[1].id), "tpm0");
	p.devs[2].type = LVMM_DEV_STREAM; /* slot 1: 0xd0001000, IRQ 6 */
	snprintf(p.devs[2].id, sizeof(p.devs[2].id), "con0");
	CHECK_EQ(trust_offline_open(&p, true, &o, why, sizeof(why)), 0);
	trust_evaluate(&o.in, &ev);
	trust_offline_close(&o);
	CHECK_EQ(ev.verdict, LVMM_TRUST_OK); /* the manifest signs "console=ttyS0" */
	CHECK_EQ(digest_sha256("console=ttyS0", 13, d), 0);
	CHECK(!memcmp(ev.bs.cmdline, d, SHA256_LEN));
	CHECK_EQ(ev.plan.n, 6);
	s = &ev.plan.s[4];
	CHECK_EQ(s->pcr, 20);
	CHECK_EQ(s->len, strlen(want));
	CHECK(s->len == strlen(want) && !memcmp(s->data, want, s->len));
	CHECK_EQ(digest_sha256(want, strlen(want), d), 0);
	CHECK(!memcmp(s->digest, d, SHA256_LEN));

	/* No configured command line: the entries alone, no leading space. */
	p.cmdline[0] = 0;
	p.verify.on = false;
	p.ndevs = 1;
	CHECK_EQ(trust_offline_open(&p, true, &o, why, sizeof(why)), 0);
	trust_evaluate(&o.in, &ev);
	trust_offline_close(&o);
	CHECK_EQ(ev.verdict, LVMM_TRUST_OK);
	s = &ev.plan.s[4];
	CHECK(s->len == 34 && !memcmp(s->data, "virtio_mmio.device=4K@0xd0000000:5", 34));
}

int main(void)
{
	if (!tt_have("openssl")) {
		printf("not ok - trust_verdict: openssl is missing (make deps installs it)\n");
		return 1;
	}
	if (tt_mkdir("trust-verdict") || tt_write("vmlinuz", "a kernel image", 14) ||
	    tt_sh(NULL, 0, "openssl genpkey -algorithm ed25519 -out it.pem && "
			   "openssl pkey -in it.pem -pubout -out it-pub.pem && "
			   "openssl genpkey -algorithm ed25519 -out other.pem") ||
	    sign("user", "vmlinuz", "console=ttyS0", "it.pem")) {
		printf("not ok - trust_verdict: cannot set up keys and files in %s\n", tt_dir);
		return 1;
	}
	RUN(test_verified);
	RUN(test_refused);
	RUN(test_safe_image);
	RUN(test_pcr20_is_the_guest_cmdline);
	tt_cleanup();
	return unit_done();
}
