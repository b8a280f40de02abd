// SPDX-License-Identifier: MIT
/*
 * The supervisor's checks of what a trust process sends it
 * (src/supervisor/trust.c: trust_check_msg, trust_sealed_ok) with hostile
 * fields, and the sealed copies of boot images (src/vmm/images.c:
 * image_copy) against a file that changes afterwards, also hashed
 * while they are filled (trust/digest.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "lvmm/trust_proto.h"
#include "supervisor/trust.h"
#include "trust/attest.h"
#include "trust/digest.h"
#include "unit/unit.h"
#include "vmm/images.h"

static struct lvmm_trust_boot_done b;
static struct lvmm_trust_attest_done a;
static struct lvmm_msg_hdr h;

static const char D1[] = "9e76cfd6ee38163050fbc5a8f2f3fcedce00932ba11a61976b121c8509b0e08a";
static const char D2[] = "73a29fc4469e4d9be8f9983a564ea59d1f10098103beb3a0b157bc4d04d14052";

/* One field of event e. */
static void field(struct lvmm_trust_event *e, uint32_t key, const char *str)
{
	e->f[e->nfields].key = key;
	strcpy(e->f[e->nfields++].str, str);
}

/* A valid BOOT_DONE with this verdict and the events the trust process sends with it. */
static const void *boot_done(uint32_t verdict)
{
	struct lvmm_trust_event *e;

	memset(&b, 0, sizeof(b));
	h = (struct lvmm_msg_hdr){ .type = LVMM_MSG_TRUST_BOOT_DONE, .len = sizeof(b) };
	b.seq = 7;
	b.verdict = verdict;
	if (verdict != LVMM_TRUST_OK && verdict != LVMM_TRUST_ERROR) {
		e = &b.ev[b.nevents++];
		e->kind = LVMM_TRUST_EV_VERIFY_FAILED;
		field(e, LVMM_TRUST_K_IMAGE, "primary");
		field(e, LVMM_TRUST_K_FILE, "vmlinuz");
		field(e, LVMM_TRUST_K_EXPECTED, D1);
		field(e, LVMM_TRUST_K_ACTUAL, D2);
		field(e, LVMM_TRUST_K_REASON, "the SHA-256 of 'vmlinuz' differs");
	}
	if (verdict == LVMM_TRUST_OK || verdict == LVMM_TRUST_SAFE) {
		e = &b.ev[b.nevents++];
		e->kind = LVMM_TRUST_EV_BOOT_MEASURED;
		field(e, LVMM_TRUST_K_KERNEL, D1);
		e->f[e->nfields].key = LVMM_TRUST_K_LOG_EVENTS;
		e->f[e->nfields++].num = 6;
	} else {
		strcpy(b.reason, "verification failed: the SHA-256 of 'vmlinuz' differs");
	}
	return &b;
}

static const void *attest_done(void)
{
	memset(&a, 0, sizeof(a));
	h = (struct lvmm_msg_hdr){ .type = LVMM_MSG_TRUST_ATTEST_DONE, .len = sizeof(a), .nfds = 1 };
	a.seq = 8;
	return &a;
}

static int check(const void *p)
{
	return trust_check_msg(&h, p);
}

static void test_boot_done_valid(void)
{
	uint32_t v;

	for (v = LVMM_TRUST_OK; v <= LVMM_TRUST_VERDICT_MAX; v++)
		CHECK_EQ(check(boot_done(v)), 0);
	/* No events at all is fine; so are all four, and a full event. */
	boot_done(LVMM_TRUST_OK), b.nevents = 0;
	CHECK_EQ(check(&b), 0);
	boot_done(LVMM_TRUST_SAFE), b.nevents = LVMM_TRUST_EVENTS_MAX;
	b.ev[2].kind = LVMM_TRUST_EV_SAFE_IMAGE, b.ev[3].kind = LVMM_TRUST_EV_BOOT_VERIFIED;
	for (b.ev[3].nfields = 0; b.ev[3].nfields < LVMM_TRUST_FIELDS_MAX;)
		field(&b.ev[3], b.ev[3].nfields, "x");
	CHECK_EQ(check(&b), 0);
}

static void test_boot_done_hostile(void)
{
	/* Structure: length, no fd (the event log goes to the partition), verdict, counts. */
	boot_done(LVMM_TRUST_OK), h.len--;
	CHECK_EQ(check(&b), -EPROTO);
	boot_done(LVMM_TRUST_OK), h.nfds = 1;
	CHECK_EQ(check(&b), -EPROTO);
	boot_done(LVMM_TRUST_OK), b.verdict = 0;
	CHECK_EQ(check(&b), -EPROTO);
	boot_done(LVMM_TRUST_OK), b.verdict = LVMM_TRUST_VERDICT_MAX + 1;
	CHECK_EQ(check(&b), -EPROTO);
	boot_done(LVMM_TRUST_OK), b.nevents = LVMM_TRUST_EVENTS_MAX + 1;
	CHECK_EQ(check(&b), -EPROTO);
	boot_done(LVMM_TRUST_OK), b.ev[0].nfields = LVMM_TRUST_FIELDS_MAX + 1;
	CHECK_EQ(check(&b), -EPROTO);
	/* Event kinds and keys are indices into the supervisor's tables. */
	boot_done(LVMM_TRUST_OK), b.ev[0].kind = LVMM_TRUST_EV_MAX + 1;
	CHECK_EQ(check(&b), -EPROTO);
	boot_done(LVMM_TRUST_OK), b.ev[0].f[1].key = LVMM_TRUST_K_MAX + 1;
	CHECK_EQ(check(&b), -EPROTO);
	boot_done(LVMM_TRUST_OK), b.ev[0].f[1].key = 1U << 31;
	CHECK_EQ(check(&b), -EPROTO);
	/* A key twice in one event (a JSON reader could take either). */
	boot_done(LVMM_TRUST_REFUSED), b.ev[0].f[3].key = LVMM_TRUST_K_FILE;
	CHECK_EQ(check(&b), -EPROTO);
	/* Only the events its verdict may carry: nothing boots on a refusal, no failure on OK. */
	boot_done(LVMM_TRUST_REFUSED), b.ev[0].kind = LVMM_TRUST_EV_BOOT_MEASURED;
	CHECK_EQ(check(&b), -EPROTO);
	boot_done(LVMM_TRUST_SAFE_FAILED), b.ev[0].kind = LVMM_TRUST_EV_SAFE_IMAGE;
	CHECK_EQ(check(&b), -EPROTO);
	boot_done(LVMM_TRUST_OK), b.ev[0].kind = LVMM_TRUST_EV_VERIFY_FAILED;
	CHECK_EQ(check(&b), -EPROTO);
	boot_done(LVMM_TRUST_ERROR), b.nevents = 1;
	CHECK_EQ(check(&b), -EPROTO);
	/* Strings end inside their arrays (a field past nfields is not read). */
	boot_done(LVMM_TRUST_REFUSED), memset(b.ev[0].f[1].str, 'A', sizeof(b.ev[0].f[1].str));
	CHECK_EQ(check(&b), -EPROTO);
	boot_done(LVMM_TRUST_REFUSED), memset(b.reason, 'x', sizeof(b.reason));
	CHECK_EQ(check(&b), -EPROTO);
	boot_done(LVMM_TRUST_REFUSED), memset(b.ev[0].f[7].str, 'A', sizeof(b.ev[0].f[7].str));
	CHECK_EQ(check(&b), 0);
	/* A refusal says why. */
	boot_done(LVMM_TRUST_ERROR), b.reason[0] = 0;
	CHECK_EQ(check(&b), -EPROTO);
	boot_done(LVMM_TRUST_SAFE_FAILED), b.reason[0] = 0;
	CHECK_EQ(check(&b), -EPROTO);
}

static void test_attest_done_hostile(void)
{
	CHECK_EQ(check(attest_done()), 0);
	attest_done(), h.len = sizeof(a) + 1;
	CHECK_EQ(check(&a), -EPROTO);
	/* The answer's memfd exactly with success. */
	attest_done(), h.nfds = 0;
	CHECK_EQ(check(&a), -EPROTO);
	attest_done(), h.nfds = 2;
	CHECK_EQ(check(&a), -EPROTO);
	attest_done(), a.result = -EIO;
	CHECK_EQ(check(&a), -EPROTO);
	attest_done(), a.result = 1;
	CHECK_EQ(check(&a), -EPROTO);
	attest_done(), a.result = -4096, h.nfds = 0;
	CHECK_EQ(check(&a), -EPROTO);
	attest_done(), memset(a.error, 'e', sizeof(a.error));
	CHECK_EQ(check(&a), -EPROTO);
	/* A failure carries only its reason. */
	attest_done(), a.result = -EIO, h.nfds = 0;
	strcpy(a.error, "TPM2_Quote: TPM error 0x9a2");
	CHECK_EQ(check(&a), 0);
}

/*
 * The trust process's attest answer (trust/attest.c): the members the
 * front-end merges and tpm2-tools read, exactly; one that does not fit or
 * has a string JSON cannot carry is refused whole.
 */
static void test_attest_json(void)
{
	static uint8_t pcrs[24][32];
	static char out[1024];
	const uint8_t nonce[2] = { 0x5e, 0xed }, quote[2] = { 1, 2 }, sig[1] = { 0xff };
	const uint8_t log[4] = { 'a', 'b', 'c', 'd' };
	struct attest_answer in = {
		.partition = "a", .nonce = nonce, .nonce_len = 2, .pcrs = (const uint8_t (*)[32])pcrs,
		.attest = quote, .attest_len = 2, .sig = sig, .sig_len = 1,
		.ak_pem = "-----BEGIN PUBLIC KEY-----\nQUJD\n-----END PUBLIC KEY-----\n",
		.log = log, .log_len = 4,
	};
	char want[1024], zeros[65];
	unsigned i, n;
	int k;

	pcrs[17][0] = 0xab;
	memset(zeros, '0', 64);
	zeros[64] = 0;
	n = (unsigned)snprintf(want, sizeof(want), "\"partition\":\"a\",\"nonce\":\"5eed\",\"pcrs\":{\"17\":\"ab%.62s\"", zeros);
	for (i = 18; i <= 22; i++)
		n += (unsigned)snprintf(want + n, sizeof(want) - n, ",\"%u\":\"%s\"", i, zeros);
	snprintf(want + n, sizeof(want) - n, "},\"quote\":{\"attest\":\"0102\",\"signature\":\"ff\"},"
		 "\"ak_pem\":\"-----BEGIN PUBLIC KEY-----\\nQUJD\\n-----END PUBLIC KEY-----\\n\","
		 "\"eventlog\":\"YWJjZA==\"");
	k = attest_json(out, sizeof(out), &in);
	CHECK_EQ(k, (int)strlen(want));
	out[k > 0 ? k : 0] = 0;
	CHECK_STR(out, want);
	/* One byte short at every length: refused, never cut. */
	for (i = 0; i < strlen(want); i++)
		CHECK_EQ(attest_json(out, i, &in), -ENOSPC);
	CHECK_EQ(attest_json(out, strlen(want) + 1, &in), (int)strlen(want));
	/* Quotes and backslashes escaped; other control characters refused. */
	in.partition = "a\"\\";
	k = attest_json(out, sizeof(out), &in);
	CHECK(k > 0 && !strncmp(out, "\"partition\":\"a\\\"\\\\\",", 18));
	in.partition = "a\x1b";
	CHECK_EQ(attest_json(out, sizeof(out), &in), -EINVAL);
}

static void test_other_types(void)
{
	static const uint16_t types[] = {
		LVMM_MSG_CONFIG, LVMM_MSG_READY, LVMM_MSG_EVENT, LVMM_MSG_EXIT, LVMM_MSG_CTL,
		LVMM_MSG_CTL_REPLY, LVMM_MSG_TPM_CMD, LVMM_MSG_TPM_RSP, LVMM_MSG_TRUST_INIT,
		LVMM_MSG_TRUST_BOOT, LVMM_MSG_TRUST_ATTEST, 0, LVMM_MSG_TYPE_MAX + 1,
	};
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		attest_done();
		h.type = types[i];
		CHECK_EQ(check(&a), -EPROTO);
	}
}

static int memfd_with(const char *data, size_t n, unsigned seals)
{
	int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || write(fd, data, n) != (ssize_t)n || (seals && fcntl(fd, F_ADD_SEALS, seals)))
		return -1;
	return fd;
}

static void test_sealed_ok(void)
{
	const unsigned all = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	uint64_t size = 0;
	char path[] = "/tmp/lvmm-unit-trustmsg.XXXXXX";
	int fd;

	fd = memfd_with("log", 3, all);
	CHECK_EQ(trust_sealed_ok(fd, 64, &size), 0);
	CHECK_EQ(size, 3);
	CHECK_EQ(trust_sealed_ok(fd, 2, &size), -EPROTO); /* larger than allowed */
	close(fd);
	fd = memfd_with("log", 3, all & ~F_SEAL_WRITE); /* the trust process could still write */
	CHECK_EQ(trust_sealed_ok(fd, 64, &size), -EPROTO);
	close(fd);
	fd = memfd_with("log", 3, 0);
	CHECK_EQ(trust_sealed_ok(fd, 64, &size), -EPROTO);
	close(fd);
	fd = memfd_with("", 0, all);
	CHECK_EQ(trust_sealed_ok(fd, 64, &size), -EPROTO); /* empty */
	close(fd);
	fd = mkstemp(path); /* a file: nothing keeps it from changing */
	CHECK(fd >= 0 && write(fd, "log", 3) == 3);
	CHECK_EQ(trust_sealed_ok(fd, 64, &size), -EPROTO);
	close(fd);
	unlink(path);
	CHECK_EQ(trust_sealed_ok(-1, 64, &size), -EPROTO);
}

/*
 * A sealed copy of path as a start makes it: the supervisor opens the file
 * (open_images), the partition copies it (fd, or -errno with err set).
 */
static int sealed_copy(const char *path, char *err, size_t errlen)
{
	int fd = memfd_create("lvmm-image", MFD_CLOEXEC | MFD_ALLOW_SEALING), r;
	int in = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	err[0] = 0;
	r = in < 0 ? -errno : image_copy(fd, in, "kernel image", err, errlen);
	if (in < 0)
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(-r));
	else
		close(in);
	if (r)
		close(fd);
	return r ? r : fd;
}

/* Issue 8 item 1: what is checked is what boots; a change to the file reaches only the next copy. */
static void test_sealed_copy(void)
{
	char dir[] = "/tmp/lvmm-unit-seal.XXXXXX", path[64], fifo[64], err[256], buf[32];
	struct stat st;
	int fd, fd2, out;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/kernel", dir);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(out >= 0 && write(out, "signed kernel", 13) == 13);
	fd = sealed_copy(path, err, sizeof(err));
	CHECK(fd >= 0);
	/* The file changes in place, then is replaced: the copy does not. */
	CHECK(pwrite(out, "TAMPERED", 8, 0) == 8);
	close(out);
	CHECK(pread(fd, buf, sizeof(buf), 0) == 13 && !memcmp(buf, "signed kernel", 13));
	CHECK(!unlink(path));
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(out >= 0 && write(out, "another", 7) == 7);
	close(out);
	CHECK(pread(fd, buf, sizeof(buf), 0) == 13 && !memcmp(buf, "signed kernel", 13));
	/* Nobody who holds the copy (a partition) can change it. */
	CHECK(pwrite(fd, "x", 1, 0) < 0 && errno == EPERM);
	CHECK(ftruncate(fd, 1) < 0 && errno == EPERM);
	CHECK(ftruncate(fd, 100) < 0 && errno == EPERM);
	CHECK(mmap(NULL, 13, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
	CHECK(fcntl(fd, F_ADD_SEALS, 0) < 0 && errno == EPERM); /* F_SEAL_SEAL */
	CHECK(fstat(fd, &st) == 0 && st.st_size == 13);
	/* The next copy has the new bytes. */
	fd2 = sealed_copy(path, err, sizeof(err));
	CHECK(fd2 >= 0 && pread(fd2, buf, sizeof(buf), 0) == 7 && !memcmp(buf, "another", 7));
	close(fd);
	close(fd2);
	/* Not a regular file (a FIFO must not hang it), or missing: refused with a reason. */
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	CHECK(!mkfifo(fifo, 0600));
	CHECK_EQ(sealed_copy(fifo, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "is not a regular file") != NULL);
	CHECK_EQ(sealed_copy(dir, err, sizeof(err)), -EINVAL);
	unlink(fifo);
	unlink(path);
	CHECK_EQ(sealed_copy(path, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "cannot open") != NULL);
	rmdir(dir);
}

/*
 * The trust process hashes an image while the supervisor fills it: through
 * a read-only fd (it cannot write or seal), to the end, once sealed.
 */
static void test_hash_while_filling(void)
{
	static uint8_t data[3 << 20];
	int fd = memfd_create("lvmm-image", MFD_CLOEXEC | MFD_ALLOW_SEALING), ro;
	uint8_t want[SHA256_LEN], got[SHA256_LEN];
	char path[40];
	uint64_t n = 0;
	size_t i;
	pid_t pid;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + (i >> 12));
	CHECK_EQ(digest_sha256(data, sizeof(data), want), 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(ro >= 0);
	CHECK(write(ro, "x", 1) < 0);
	CHECK(fcntl(ro, F_ADD_SEALS, F_SEAL_WRITE) < 0 && errno == EPERM);
	CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED);
	pid = fork();
	if (pid == 0) {
		/* The writer: in pieces, with pauses, then the seals. */
		for (i = 0; i < sizeof(data); i += 256 * 1024) {
			if (write(fd, data + i, 256 * 1024) != 256 * 1024)
				_exit(1);
			usleep(3000);
		}
		_exit(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) ? 1 : 0);
	}
	CHECK_EQ(digest_sha256_filling(ro, got, &n, now_ns() + 30000 * 1000000ULL), 0);
	CHECK_EQ(n, sizeof(data));
	CHECK(!memcmp(want, got, SHA256_LEN));
	CHECK(pid > 0 && waitpid(pid, NULL, 0) == pid);
	/* Sealed already: the one-pass mapping, same digest. */
	CHECK_EQ(digest_sha256_filling(ro, got, &n, now_ns() + 30000 * 1000000ULL), 0);
	CHECK(!memcmp(want, got, SHA256_LEN));
	CHECK_EQ(digest_sha256_fd(ro, got, &n), 0);
	CHECK(!memcmp(want, got, SHA256_LEN));
	close(ro);
	close(fd);
	/* Not a memfd that can be sealed: refused, never waited for. */
	fd = memfd_create("x", MFD_CLOEXEC);
	CHECK_EQ(digest_sha256_filling(fd, got, &n, now_ns() + 30000 * 1000000ULL), -EINVAL);
	close(fd);
}

int main(void)
{
	RUN(test_boot_done_valid);
	RUN(test_boot_done_hostile);
	RUN(test_attest_done_hostile);
	RUN(test_attest_json);
	RUN(test_other_types);
	RUN(test_sealed_ok);
	RUN(test_sealed_copy);
	RUN(test_hash_while_filling);
	return unit_done();
}
