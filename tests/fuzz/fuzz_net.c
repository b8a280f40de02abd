// SPDX-License-Identifier: MIT
/*
 * Fuzz the virtio-net paths: tx chains from a fuzzed ring go to a
 * socketpair backend (through the backend interface), and fuzzed frames
 * from the backend are delivered into fuzzed rx rings, merged or not.
 *
 * Input: [features lo:4][rx avail:2][tx avail:2][nframes]
 *        [rx desc: 16*16][rx avail ring: 2*16][tx desc: 16*16][tx avail ring: 2*16]
 *        nframes x ([len:4][len bytes: header + frame]) then RAM heap.
 * Invariants: every frame the backend gets is a checked header (num_buffers
 * 0, only negotiated offloads) plus 14..65550 bytes; the device is running
 * or NEEDS_RESET.
 */
#include <linux/virtio_net.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz/fuzz.h"
#include "devices/virtio_net.h"
#include "fuzz/fake_vm.h"

#define RAM  0x40000
#define BASE LVMM_VIRTIO_MMIO_BASE
#define QSZ  16
#define NF(b) (1ULL << VIRTIO_NET_F_##b)

struct sp {
	struct net_backend be;
	int fd;
	uint64_t feat;
};

static int sp_set(struct net_backend *be, uint64_t f)
{
	((struct sp *)be)->feat = f;
	return 0;
}

static int sp_send(struct net_backend *be, const struct iovec *iov, unsigned n)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n };

	return sendmsg(((struct sp *)be)->fd, &m, MSG_DONTWAIT) < 0 ? -errno : 0;
}

static ssize_t sp_recv(struct net_backend *be, void *buf, size_t len)
{
	ssize_t r = recv(((struct sp *)be)->fd, buf, len, MSG_DONTWAIT);

	return r < 0 ? -errno : r;
}

static void sp_destroy(struct net_backend *be)
{
	(void)be;
}

static const struct net_backend_ops sp_ops = {
	.name = "fuzz",
	.set_offloads = sp_set,
	.send = sp_send,
	.recv = sp_recv,
	.destroy = sp_destroy,
};

static uint8_t frame[NET_HDR_LEN + NET_MAX_FRAME + 64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	struct lvmm_dev_cfg cfg = { .type = LVMM_DEV_NET_LINK, .id = "fuzznet",
				    .mac = { 2, 0, 0, 0, 0, 9 } };
	uint64_t offered = NF(CSUM) | NF(GUEST_CSUM) | NF(HOST_TSO4) | NF(HOST_TSO6) |
			   NF(HOST_ECN) | NF(GUEST_TSO4) | NF(GUEST_TSO6) | NF(GUEST_ECN);
	uint64_t feat = fin_u32(&in) | (1ULL << 32);
	uint16_t rx_avail = fin_u16(&in), tx_avail = fin_u16(&in);
	unsigned nframes = fin_u8(&in) % 4, i;
	struct sp sp = { .be = { .ops = &sp_ops, .tx_events = EPOLLOUT, .offloads = offered } };
	struct vm *vm;
	void *state = NULL;
	struct gq qs[2];
	uint32_t status;
	int sv[2];
	ssize_t n;

	log_level = LOG_ERR;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		abort();
	sp.fd = sv[0];
	sp.be.rx_fd = sp.be.tx_fd = sv[0];
	vm = fake_vm_new(RAM, NULL, 0);
	if (!vm)
		abort();
	FUZZ_CHECK(virtio_net_create(vm, &cfg, &sp.be, &state) == 0);
	gq_init(&qs[0], vm->mem, QSZ, 0x100, 0x400, 0x600);
	gq_init(&qs[1], vm->mem, QSZ, 0x800, 0xa00, 0xc00);
	/* Unoffered or inconsistent feature sets are refused at FEATURES_OK: fine too. */
	status = fake_driver_init(vm, BASE, feat, qs, 2);
	fake_run(vm);

	fin_copy(&in, vm->mem + 0x100, 16 * QSZ);
	fin_copy(&in, vm->mem + 0x404, 2 * QSZ);
	fin_copy(&in, vm->mem + 0x800, 16 * QSZ);
	fin_copy(&in, vm->mem + 0xa04, 2 * QSZ);
	for (i = 0; i < nframes; i++) {
		/* Lengths up to past the largest frame: both limits get tried. */
		size_t len = fin_u32(&in) % (sizeof(frame) + 1);

		memset(frame, 0, len);
		fin_copy(&in, frame, len);
		if (send(sv[1], frame, len, MSG_DONTWAIT) < 0) {
			/* A full socket is fine: the device reads what it can. */
		}
	}
	fin_copy(&in, vm->mem + 0x1000, RAM - 0x1000);
	gq_set_avail_idx(&qs[0], rx_avail);
	gq_set_avail_idx(&qs[1], tx_avail);
	fake_kick(BASE, 1);
	fake_kick(BASE, 0);
	fake_run(vm);

	while ((n = recv(sv[1], frame, sizeof(frame), MSG_DONTWAIT)) >= 0) {
		struct virtio_net_hdr_v1 h;
		uint8_t gso;

		FUZZ_CHECK(n >= NET_HDR_LEN + NET_MIN_FRAME && n <= NET_HDR_LEN + NET_MAX_FRAME);
		memcpy(&h, frame, sizeof(h));
		gso = h.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
		FUZZ_CHECK(h.num_buffers == 0);
		FUZZ_CHECK(!(h.flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM));
		FUZZ_CHECK(!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || (feat & NF(CSUM)));
		FUZZ_CHECK(gso == VIRTIO_NET_HDR_GSO_NONE ||
			   (gso == VIRTIO_NET_HDR_GSO_TCPV4 && (feat & NF(HOST_TSO4))) ||
			   (gso == VIRTIO_NET_HDR_GSO_TCPV6 && (feat & NF(HOST_TSO6))));
	}
	if (status == 0xf) {
		status = mmio_rd(vm, BASE, VMMIO_STATUS);
		FUZZ_CHECK(status == 0xf || status == (0xf | VIRTIO_STATUS_NEEDS_RESET));
		FUZZ_CHECK(sp.feat == feat);
	}
	virtio_net_destroy(state);
	fake_vm_free(vm);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
