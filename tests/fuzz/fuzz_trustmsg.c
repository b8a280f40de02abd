// SPDX-License-Identifier: MIT
/*
 * The supervisor's validation of what a trust process sends it
 * (src/supervisor/trust.c: proto_recv + trust_check_msg + trust_sealed_ok).
 * A compromised trust process controls every byte of its packets and
 * which fds it attaches, so the packet goes through a real SOCK_SEQPACKET
 * socketpair, as the supervisor receives it (at most one fd).
 *
 * Input: byte 0 = what to attach (low 2 bits: 0 none, 1 /dev/null,
 * 2 a memfd sealed against every change, 3 the same memfd unsealed; bit 2:
 * attach two), the rest = the packet (at most LVMM_MSG_MAX_LEN + 64 bytes).
 *
 * Invariants: an accepted message is a BOOT_DONE (no fd) or an
 * ATTEST_DONE of exactly its size, with in-range enums, event kinds and
 * keys that index the supervisor's tables, only the kinds the verdict may
 * carry, each key once per event, NUL-terminated strings, a refusal's
 * reason, an attestation's fd exactly with success; an attached fd passes
 * trust_sealed_ok only if it is the sealed memfd; no received fd is ever
 * left open.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/proto.h"
#include "fuzz/fuzz.h"
#include "fuzz/fuzz_sock.h"
#include "lvmm/guest_abi.h"
#include "lvmm/trust_proto.h"
#include "supervisor/trust.h"

static int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

static int memfd(bool sealed)
{
	int fd = memfd_create("fuzz-log", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || write(fd, "log", 3) != 3)
		return fd;
	if (sealed)
		fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	return fd;
}

static void send_packet(int sock, const uint8_t *p, size_t n, unsigned kind, unsigned nfds)
{
	int fds[2] = { -1, -1 };
	unsigned i;

	for (i = 0; i < nfds; i++)
		fds[i] = kind == 1 ? open("/dev/null", O_RDONLY | O_CLOEXEC) : memfd(kind == 2);
	fuzz_send_raw(sock, p, n, fds, nfds);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

static void check_accepted(const struct lvmm_msg_hdr *h, const void *payload)
{
	FUZZ_CHECK(h->magic == LVMM_PROTO_MAGIC && h->version == LVMM_PROTO_VERSION);
	if (h->type == LVMM_MSG_TRUST_BOOT_DONE) {
		const struct lvmm_trust_boot_done *b = payload;
		bool booting = b->verdict == LVMM_TRUST_OK || b->verdict == LVMM_TRUST_SAFE;
		unsigned i, k, j;

		FUZZ_CHECK(h->len == sizeof(*b) && h->nfds == 0);
		FUZZ_CHECK(b->verdict >= 1 && b->verdict <= LVMM_TRUST_VERDICT_MAX);
		FUZZ_CHECK(memchr(b->reason, 0, sizeof(b->reason)) && (booting || b->reason[0]));
		FUZZ_CHECK(b->nevents <= LVMM_TRUST_EVENTS_MAX);
		for (i = 0; i < b->nevents; i++) {
			const struct lvmm_trust_event *e = &b->ev[i];

			FUZZ_CHECK(e->kind <= LVMM_TRUST_EV_MAX && e->nfields <= LVMM_TRUST_FIELDS_MAX);
			/* Nothing boots on a refusal; nothing failed on OK; an error carries none. */
			FUZZ_CHECK(booting || e->kind == LVMM_TRUST_EV_VERIFY_FAILED);
			FUZZ_CHECK(b->verdict != LVMM_TRUST_OK || e->kind >= LVMM_TRUST_EV_BOOT_VERIFIED);
			FUZZ_CHECK(b->verdict != LVMM_TRUST_ERROR);
			for (k = 0; k < e->nfields; k++) {
				FUZZ_CHECK(e->f[k].key <= LVMM_TRUST_K_MAX);
				FUZZ_CHECK(memchr(e->f[k].str, 0, sizeof(e->f[k].str)));
				for (j = 0; j < k; j++)
					FUZZ_CHECK(e->f[j].key != e->f[k].key);
			}
		}
		return;
	}
	if (h->type == LVMM_MSG_TRUST_ATTEST_DONE) {
		const struct lvmm_trust_attest_done *a = payload;

		FUZZ_CHECK(h->len == sizeof(*a) && h->nfds == (a->result ? 0U : 1U));
		FUZZ_CHECK(a->result <= 0 && a->result >= -4095);
		FUZZ_CHECK(memchr(a->error, 0, sizeof(a->error)));
		return;
	}
	FUZZ_CHECK(!"a message a trust process may not send was accepted");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int sv[2] = { -1, -1 };
	static union {
		struct lvmm_trust_boot_done b;
		struct lvmm_trust_attest_done a;
	} u;
	unsigned kind = size ? data[0] & 3 : 0, nfds = !kind ? 0 : size && (data[0] & 4) ? 2 : 1;
	struct lvmm_msg_hdr hdr;
	int before, r, fd = -1;
	uint64_t sz;

	if (sv[0] < 0) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			return 0;
		r = 4 * LVMM_MSG_MAX_LEN;
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &r, sizeof(r));
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &r, sizeof(r));
	}
	if (size)
		data++, size--;
	if (size > LVMM_MSG_MAX_LEN + 64)
		size = LVMM_MSG_MAX_LEN + 64;
	before = lowest_free_fd();
	send_packet(sv[0], data, size, kind, nfds);
	memset(&hdr, 0, sizeof(hdr));
	/* As the supervisor receives: at most one fd, at most the largest answer. */
	r = proto_recv(sv[1], &hdr, &u, sizeof(u), &fd, 1, MSG_DONTWAIT);
	if (!r) {
		FUZZ_CHECK(hdr.len <= sizeof(u) && hdr.nfds <= 1);
		if (!trust_check_msg(&hdr, &u)) {
			check_accepted(&hdr, &u);
			if (hdr.nfds)
				FUZZ_CHECK(!trust_sealed_ok(fd, LVMM_TPM_EVENTLOG_SIZE, &sz) == (kind == 2));
		}
		if (hdr.nfds)
			close(fd);
	}
	FUZZ_CHECK(lowest_free_fd() == before); /* every received fd was closed */
	return 0;
}
