// SPDX-License-Identifier: MIT
/*
 * virtio-net: rx/tx paths, mergeable buffers, header checks, rate limits
 * and link state over a socketpair backend plugged in through the backend
 * interface; then the TAP backend on a real TAP in a private network
 * namespace (skipped where that is not allowed).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "unit.h"
#include "devices/registry.h"
#include "devices/virtio_net.h"
#include "fuzz/fake_vm.h"
#include "virtio/virtio.h"

#define RAM   (4 * 1024 * 1024)
#define BASE  LVMM_VIRTIO_MMIO_BASE
#define QSZ   64
#define VER1  (1ULL << 32)
#define NF(b) (1ULL << VIRTIO_NET_F_##b)
#define RXBUF 0x100000ULL
#define TXBUF 0x200000ULL

/* ---- A socketpair backend --------------------------------------------------- */

struct sp_backend {
	struct net_backend be;
	int fd, peer;
	uint64_t offloads_set;
	unsigned set_calls;
	int eagain_once;
	bool destroyed;
};

static int sp_set_offloads(struct net_backend *be, uint64_t f)
{
	struct sp_backend *b = (struct sp_backend *)be;

	b->offloads_set = f;
	b->set_calls++;
	return 0;
}

static int sp_send(struct net_backend *be, const struct iovec *iov, unsigned n)
{
	struct sp_backend *b = (struct sp_backend *)be;
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n };

	if (b->eagain_once) {
		b->eagain_once = 0;
		return -EAGAIN;
	}
	return sendmsg(b->fd, &m, MSG_DONTWAIT) < 0 ? -errno : 0;
}

static ssize_t sp_recv(struct net_backend *be, void *buf, size_t len)
{
	struct sp_backend *b = (struct sp_backend *)be;
	ssize_t r = recv(b->fd, buf, len, MSG_DONTWAIT);

	return r < 0 ? -errno : r;
}

static void sp_destroy(struct net_backend *be)
{
	((struct sp_backend *)be)->destroyed = true;
}

static const struct net_backend_ops sp_ops = {
	.name = "socketpair",
	.set_offloads = sp_set_offloads,
	.send = sp_send,
	.recv = sp_recv,
	.destroy = sp_destroy,
};

static struct vm *vm;
static void *state;
static struct sp_backend sp;
static struct gq rxq, txq;
static struct lvmm_dev_cfg cfg;

static int setup_cfg(uint64_t offloads)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		abort();
	memset(&sp, 0, sizeof(sp));
	sp.fd = sv[0];
	sp.peer = sv[1];
	sp.be = (struct net_backend){ .ops = &sp_ops, .rx_fd = sv[0], .tx_fd = sv[0],
				      .tx_events = EPOLLOUT, .offloads = offloads };
	vm = fake_vm_new(RAM, NULL, 0);
	if (!vm)
		abort();
	gq_init(&rxq, vm->mem, QSZ, 0x1000, 0x2000, 0x3000);
	gq_init(&txq, vm->mem, QSZ, 0x4000, 0x5000, 0x6000);
	return virtio_net_create(vm, &cfg, &sp.be, &state);
}

static uint32_t start(uint64_t feat)
{
	struct gq qs[2] = { rxq, txq };
	uint32_t st = fake_driver_init(vm, BASE, feat, qs, 2);

	fake_run(vm);
	return st;
}

static void setup(uint64_t offloads, uint64_t feat)
{
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.id, sizeof(cfg.id), "net0");
	memcpy(cfg.mac, "\x52\x54\x00\x12\x34\x56", 6);
	CHECK_EQ(setup_cfg(offloads), 0);
	CHECK_EQ(start(feat), 0xf);
}

static void teardown(void)
{
	virtio_net_destroy(state);
	state = NULL;
	CHECK(sp.destroyed);
	close(sp.fd);
	close(sp.peer);
	fake_vm_free(vm);
}

static struct lvmm_dev_stats stats(void)
{
	struct lvmm_dev_stats s;

	memset(&s, 0, sizeof(s));
	virtio_net_stats(state, &s);
	return s;
}

/* A frame of len bytes (after the header) with a recognisable pattern. */
static void fill_frame(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* Guest sends: header + frame in desc d (header) and d+1 (frame). */
static void guest_tx(uint16_t d, const struct virtio_net_hdr_v1 *h, size_t len, uint8_t seed)
{
	uint64_t at = TXBUF + 0x10000ULL * (d / 2);

	memcpy(vm->mem + at, h, NET_HDR_LEN);
	fill_frame(vm->mem + at + 0x100, len, seed);
	gq_desc(&txq, d, at, NET_HDR_LEN, 1, (uint16_t)(d + 1));
	gq_desc(&txq, (uint16_t)(d + 1), at + 0x100, (uint32_t)len, 0, 0);
	gq_publish(&txq, d);
}

/* Peer sends a frame with header h. */
static void peer_send(const struct virtio_net_hdr_v1 *h, size_t len, uint8_t seed)
{
	static uint8_t buf[NET_HDR_LEN + NET_MAX_FRAME];

	memcpy(buf, h, NET_HDR_LEN);
	fill_frame(buf + NET_HDR_LEN, len, seed);
	CHECK_EQ(send(sp.peer, buf, NET_HDR_LEN + len, 0), (ssize_t)(NET_HDR_LEN + len));
}

static bool frame_ok(const uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (uint8_t)(seed + i * 7))
			return false;
	return true;
}

/* Post n rx buffers of size bytes each, one descriptor per chain. */
static void post_rx(uint16_t first, unsigned n, uint32_t size)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		uint16_t d = (uint16_t)(first + i);

		gq_desc(&rxq, d, RXBUF + 0x1000ULL * d, size, 2, 0);
		gq_publish(&rxq, d);
	}
	fake_kick(BASE, 0);
}

static void test_features_and_config(void)
{
	uint8_t mac[8];
	uint32_t lo, hi;

	setup(NF(CSUM) | NF(GUEST_CSUM), VER1 | NF(MAC));
	mmio_wr(vm, BASE, VMMIO_DEVICE_FEATURES_SEL, 0);
	lo = mmio_rd(vm, BASE, VMMIO_DEVICE_FEATURES);
	mmio_wr(vm, BASE, VMMIO_DEVICE_FEATURES_SEL, 1);
	hi = mmio_rd(vm, BASE, VMMIO_DEVICE_FEATURES);
	CHECK(lo & NF(MAC));
	CHECK(lo & NF(MRG_RXBUF));
	CHECK(lo & NF(STATUS));
	CHECK(lo & NF(CSUM));
	CHECK(!(lo & NF(HOST_TSO4)));
	CHECK(!(lo & NF(CTRL_VQ)));
	CHECK_EQ(hi, 1);
	CHECK_EQ(mmio_rd(vm, BASE, VMMIO_DEVICE_ID), 1);
	*(uint32_t *)(void *)mac = mmio_rd(vm, BASE, VMMIO_CONFIG);
	*(uint32_t *)(void *)(mac + 4) = mmio_rd(vm, BASE, VMMIO_CONFIG + 4);
	CHECK(!memcmp(mac, "\x52\x54\x00\x12\x34\x56", 6));
	CHECK_EQ(mac[6] | mac[7] << 8, VIRTIO_NET_S_LINK_UP);
	CHECK_EQ(sp.offloads_set, VER1 | NF(MAC)); /* what the driver took, nothing more */
	/* Reset clears the backend's offloads. */
	mmio_wr(vm, BASE, VMMIO_STATUS, 0);
	CHECK_EQ(sp.offloads_set, 0);
	teardown();

	/* No MAC configured: none offered. */
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.id, sizeof(cfg.id), "net1");
	CHECK_EQ(setup_cfg(0), 0);
	mmio_wr(vm, BASE, VMMIO_DEVICE_FEATURES_SEL, 0);
	CHECK(!(mmio_rd(vm, BASE, VMMIO_DEVICE_FEATURES) & NF(MAC)));
	teardown();
}

static void test_feature_dependencies(void)
{
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.id, sizeof(cfg.id), "net0");
	CHECK_EQ(setup_cfg(NF(CSUM) | NF(GUEST_CSUM) | NF(HOST_TSO4) | NF(GUEST_TSO4) |
			   NF(GUEST_ECN) | NF(HOST_ECN) | NF(HOST_TSO6) | NF(GUEST_TSO6)), 0);
	CHECK_EQ(start(VER1 | NF(GUEST_TSO4)), 3);            /* needs GUEST_CSUM */
	CHECK_EQ(start(VER1 | NF(HOST_TSO4)), 3);             /* needs CSUM */
	CHECK_EQ(start(VER1 | NF(GUEST_CSUM) | NF(GUEST_ECN)), 3); /* needs a GUEST_TSO */
	CHECK_EQ(start(VER1 | NF(CSUM) | NF(HOST_ECN)), 3);
	CHECK_EQ(start(VER1 | NF(GUEST_CSUM) | NF(GUEST_TSO4) | NF(GUEST_ECN)), 0xf);
	CHECK_EQ(sp.offloads_set, VER1 | NF(GUEST_CSUM) | NF(GUEST_TSO4) | NF(GUEST_ECN));
	teardown();
}

static void test_tx(void)
{
	struct virtio_net_hdr_v1 h = { 0 }, got;
	uint8_t buf[2048];
	uint32_t id = 0, len = 0;
	struct lvmm_dev_stats s;

	setup(0, VER1 | NF(MRG_RXBUF));
	h.num_buffers = htole16(0x7777); /* whatever the guest leaves there */
	guest_tx(0, &h, 1000, 3);
	fake_kick(BASE, 1);
	fake_run(vm);
	CHECK_EQ(recv(sp.peer, buf, sizeof(buf), MSG_DONTWAIT), NET_HDR_LEN + 1000);
	memcpy(&got, buf, NET_HDR_LEN);
	CHECK_EQ(got.num_buffers, 0);
	CHECK(frame_ok(buf + NET_HDR_LEN, 1000, 3));
	CHECK(gq_get_used(&txq, &id, &len));
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 0);
	s = stats();
	CHECK_EQ(s.tx_packets, 1);
	CHECK_EQ(s.tx_bytes, 1000);
	CHECK_STR(s.id, "net0");
	CHECK_EQ(s.link_up, 1);
	CHECK_EQ(s.throttled, 0); /* no limit: nothing waits */
	teardown();
}

static void test_tx_bad_frames(void)
{
	struct virtio_net_hdr_v1 h = { 0 };
	uint32_t id = 0, len = 0;
	unsigned used = 0;

	setup(0, VER1);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4; /* TSO not negotiated */
	h.gso_size = htole16(1400);
	guest_tx(0, &h, 3000, 1);
	h.gso_type = 0;
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM; /* CSUM not negotiated */
	guest_tx(2, &h, 100, 1);
	h.flags = 0x80; /* unknown flag */
	guest_tx(4, &h, 100, 1);
	h.flags = 0;
	guest_tx(6, &h, 10, 1); /* shorter than an Ethernet header */
	fake_kick(BASE, 1);
	fake_run(vm);
	CHECK_EQ(recv(sp.peer, &h, sizeof(h), MSG_DONTWAIT), -1);
	while (gq_get_used(&txq, &id, &len))
		used++;
	CHECK_EQ(used, 4); /* dropped, but every chain is returned */
	CHECK_EQ(stats().drops, 4);
	CHECK_EQ(mmio_rd(vm, BASE, VMMIO_STATUS), 0xf); /* frames, not ring errors */
	teardown();

	/* With CSUM negotiated the checksum fields are range-checked. */
	setup(NF(CSUM), VER1 | NF(CSUM));
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = htole16(90);
	h.csum_offset = htole16(16);
	guest_tx(0, &h, 100, 1);
	h.csum_start = htole16(34);
	guest_tx(2, &h, 100, 1);
	fake_kick(BASE, 1);
	fake_run(vm);
	CHECK_EQ(stats().drops, 1);
	CHECK_EQ(stats().tx_packets, 1);
	teardown();
}

static void test_tx_eagain(void)
{
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t buf[256];

	setup(0, VER1);
	sp.eagain_once = 1;
	guest_tx(0, &h, 60, 9);
	guest_tx(2, &h, 61, 9);
	fake_kick(BASE, 1);
	fake_run(vm); /* refused, then retried when the backend fd is writable */
	CHECK_EQ(recv(sp.peer, buf, sizeof(buf), MSG_DONTWAIT), NET_HDR_LEN + 60);
	CHECK_EQ(recv(sp.peer, buf, sizeof(buf), MSG_DONTWAIT), NET_HDR_LEN + 61);
	CHECK_EQ(stats().tx_packets, 2);
	teardown();
}

static void test_rx_simple(void)
{
	struct virtio_net_hdr_v1 h = { 0 }, got;
	uint32_t id = 0, len = 0;

	setup(0, VER1);
	post_rx(0, 2, 2048);
	fake_run(vm);
	peer_send(&h, 1500, 5);
	fake_run(vm);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK_EQ(id, 0);
	CHECK_EQ(len, NET_HDR_LEN + 1500);
	memcpy(&got, vm->mem + RXBUF, NET_HDR_LEN);
	CHECK_EQ(le16toh(got.num_buffers), 1);
	CHECK(frame_ok(vm->mem + RXBUF + NET_HDR_LEN, 1500, 5));
	CHECK_EQ(stats().rx_packets, 1);
	CHECK_EQ(stats().rx_bytes, 1500);
	/* A frame bigger than the buffer (no merging): dropped, buffer kept. */
	peer_send(&h, 3000, 6);
	peer_send(&h, 100, 7);
	fake_run(vm);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK_EQ(id, 1);
	CHECK_EQ(len, NET_HDR_LEN + 100);
	CHECK_EQ(stats().drops, 1);
	teardown();
}

static void test_rx_mergeable(void)
{
	struct virtio_net_hdr_v1 h = { 0 }, got;
	uint32_t id = 0, len = 0;

	setup(0, VER1 | NF(MRG_RXBUF));
	post_rx(0, 4, 512);
	fake_run(vm);
	peer_send(&h, 1500, 9); /* 1512 bytes: 512 + 512 + 488 */
	fake_run(vm);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 512);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK_EQ(id, 1);
	CHECK_EQ(len, 512);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK_EQ(id, 2);
	CHECK_EQ(len, 488);
	CHECK(!gq_get_used(&rxq, &id, &len));
	memcpy(&got, vm->mem + RXBUF, NET_HDR_LEN);
	CHECK_EQ(le16toh(got.num_buffers), 3);
	CHECK(frame_ok(vm->mem + RXBUF + NET_HDR_LEN, 500, 9));
	CHECK_EQ(vm->mem[RXBUF + 0x1000], (uint8_t)(9 + 500 * 7));
	teardown();
}

static void test_rx_waits_for_buffers(void)
{
	struct virtio_net_hdr_v1 h = { 0 }, got;
	uint32_t id = 0, len = 0;
	int rounds;

	setup(0, VER1 | NF(MRG_RXBUF) | (1ULL << 29));
	/* No buffers: the frame stays in the backend, and nothing spins. */
	peer_send(&h, 1000, 1);
	rounds = fake_run(vm);
	CHECK(rounds < 5);
	CHECK_EQ(stats().rx_packets, 0);
	/* One 512-byte buffer: not enough for 1012 bytes; it is held, not consumed. */
	post_rx(0, 1, 512);
	rounds = fake_run(vm);
	CHECK(rounds < 5);
	CHECK(!gq_get_used(&rxq, &id, &len));
	CHECK_EQ(gq_avail_event(&rxq), 1); /* kick me on the next buffer */
	post_rx(1, 1, 512);
	fake_run(vm);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK(gq_get_used(&rxq, &id, &len));
	memcpy(&got, vm->mem + RXBUF, NET_HDR_LEN);
	CHECK_EQ(le16toh(got.num_buffers), 2);
	CHECK_EQ(stats().rx_packets, 1);
	teardown();
}

static void test_rx_header_fixups(void)
{
	struct virtio_net_hdr_v1 h = { 0 }, got;
	uint32_t id = 0, len = 0;

	setup(0, VER1);
	post_rx(0, 4, 2048);
	fake_run(vm);
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	peer_send(&h, 100, 1);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM; /* the guest cannot finish the checksum */
	peer_send(&h, 100, 2);
	h.flags = 0;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4; /* nor take TSO frames */
	peer_send(&h, 100, 3);
	h.gso_type = 0;
	peer_send(&h, 4, 4); /* runt */
	peer_send(&h, 100, 5);
	fake_run(vm);
	CHECK(gq_get_used(&rxq, &id, &len));
	memcpy(&got, vm->mem + RXBUF, NET_HDR_LEN);
	CHECK_EQ(got.flags, 0);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK_EQ(id, 1);
	CHECK(frame_ok(vm->mem + RXBUF + 0x1000 + NET_HDR_LEN, 100, 5));
	CHECK(!gq_get_used(&rxq, &id, &len));
	CHECK_EQ(stats().drops, 3);
	teardown();
}

static void test_rx_useless_buffers(void)
{
	struct virtio_net_hdr_v1 h = { 0 };
	uint32_t id = 0, len = 0;

	setup(0, VER1 | NF(MRG_RXBUF));
	/* A buffer too small for the header is handed back empty; rx does not wedge. */
	gq_desc(&rxq, 0, RXBUF, 4, 2, 0);
	gq_publish(&rxq, 0);
	post_rx(1, 1, 2048);
	fake_run(vm);
	peer_send(&h, 100, 1);
	peer_send(&h, 100, 2);
	fake_run(vm);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 0);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK_EQ(id, 1);
	CHECK(frame_ok(vm->mem + RXBUF + 0x1000 + NET_HDR_LEN, 100, 2));
	teardown();
}

static void test_link_state(void)
{
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t buf[256];

	setup(0, VER1);
	fake_irqs(0);
	CHECK_EQ(virtio_net_ctl(state, LVMM_CTL_LINK_DOWN), 0);
	fake_run(vm);
	CHECK_EQ(mmio_rd(vm, BASE, VMMIO_CONFIG + 4) >> 16, 0);
	CHECK_EQ(mmio_rd(vm, BASE, VMMIO_INTERRUPT_STATUS), 2);
	CHECK_EQ(mmio_rd(vm, BASE, VMMIO_CONFIG_GENERATION), 1);
	CHECK_EQ(fake_irqs(0), 1);
	CHECK_EQ(fake.ev_kind, LVMM_EV_LINK_STATE);
	CHECK_EQ(fake.ev_a, 0);
	guest_tx(0, &h, 100, 1);
	fake_kick(BASE, 1);
	fake_run(vm);
	CHECK_EQ(recv(sp.peer, buf, sizeof(buf), MSG_DONTWAIT), -1);
	CHECK_EQ(stats().drops, 1);
	CHECK_EQ(stats().link_up, 0);
	CHECK_EQ(virtio_net_ctl(state, LVMM_CTL_LINK_UP), 0);
	CHECK_EQ(mmio_rd(vm, BASE, VMMIO_CONFIG + 4) >> 16, VIRTIO_NET_S_LINK_UP);
	CHECK_EQ(virtio_net_ctl(state, 99), -EINVAL);
	teardown();
}

static void test_tx_rate_limit(void)
{
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t buf[256];
	unsigned got = 0, i;
	struct timespec t0, t1;
	double ms;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.id, sizeof(cfg.id), "net0");
	cfg.tx_rl = (struct lvmm_rate_limit){ .ops_per_sec = 50, .ops_burst = 2 };
	CHECK_EQ(setup_cfg(0), 0);
	CHECK_EQ(start(VER1), 0xf);
	for (i = 0; i < 5; i++)
		guest_tx((uint16_t)(2 * i), &h, 60, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fake_kick(BASE, 1);
	fake_run(vm);
	while (recv(sp.peer, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		got++;
	CHECK_EQ(got, 2); /* the burst */
	/* The rest follow at 50/s, driven by the timerfd: ~60 ms. */
	while (got < 5 && fake_poll(vm, 500) > 0)
		while (recv(sp.peer, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			got++;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	CHECK_EQ(got, 5);
	CHECK(ms >= 55 && ms < 400);
	/* Each of the 3 frames past the burst waited at least once (lvmm_device_throttled_total). */
	CHECK(stats().throttled >= 3);
	teardown();
}

static void test_rx_rate_limit(void)
{
	struct virtio_net_hdr_v1 h = { 0 };
	uint32_t id = 0, len = 0;
	unsigned got = 0, i;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.id, sizeof(cfg.id), "net0");
	cfg.rx_rl = (struct lvmm_rate_limit){ .bytes_per_sec = 100000, .bytes_burst = 2000 };
	CHECK_EQ(setup_cfg(0), 0);
	CHECK_EQ(start(VER1), 0xf);
	post_rx(0, 8, 2048);
	fake_run(vm);
	for (i = 0; i < 4; i++)
		peer_send(&h, 1500, (uint8_t)i);
	fake_run(vm);
	while (gq_get_used(&rxq, &id, &len))
		got++;
	CHECK(got >= 1 && got <= 2);
	/* 1500 bytes at 100 kB/s: 15 ms per frame after the burst. */
	while (got < 4 && fake_poll(vm, 500) > 0)
		while (gq_get_used(&rxq, &id, &len))
			got++;
	CHECK_EQ(got, 4);
	CHECK(stats().throttled >= 1);
	teardown();
}

static void test_malformed_rx_chain(void)
{
	struct virtio_net_hdr_v1 h = { 0 };

	setup(0, VER1);
	gq_desc(&rxq, 0, 0x7fffffff0000ULL, 2048, 2, 0); /* outside RAM */
	gq_publish(&rxq, 0);
	fake_kick(BASE, 0);
	peer_send(&h, 100, 1);
	fake_run(vm);
	CHECK(mmio_rd(vm, BASE, VMMIO_STATUS) & 0x40);
	CHECK_EQ(fake.ev_a, VIRTIO_ERR_DMA);
	CHECK_EQ(fake.ev_b, 0);
	CHECK(fake_run(vm) < 3); /* no busy loop on the pending frame */
	teardown();
}

static void test_rx_avail_jump_reported(void)
{
	struct virtio_net_hdr_v1 h = { 0 };

	/* The bad index is first seen while counting rx buffers, not while popping. */
	setup(0, VER1 | (1ULL << 29));
	gq_set_avail_idx(&rxq, 1000);
	fake_kick(BASE, 0);
	peer_send(&h, 100, 1);
	fake_run(vm);
	CHECK(mmio_rd(vm, BASE, VMMIO_STATUS) & 0x40);
	CHECK_EQ(fake.events, 1);
	CHECK_EQ(fake.ev_a, VIRTIO_ERR_AVAIL_IDX);
	teardown();
}

static void test_rx_queue_off_no_spin(void)
{
	struct virtio_net_hdr_v1 h = { 0 };
	uint32_t id = 0, len = 0;
	int rounds;

	setup(0, VER1);
	post_rx(0, 2, 2048); /* the backend fd is watched for rx */
	fake_run(vm);
	/* The driver turns the rx queue off; the device stays running. */
	mmio_wr(vm, BASE, VMMIO_QUEUE_SEL, 0);
	mmio_wr(vm, BASE, VMMIO_QUEUE_READY, 0);
	fake_run(vm);
	/* A frame arrives: nothing can take it, and the readable fd must not spin us. */
	peer_send(&h, 100, 1);
	rounds = fake_run(vm);
	CHECK(rounds < 5);
	CHECK_EQ(stats().rx_packets, 0);
	/* Back on with new buffers: the driver's kick brings the frame in. */
	gq_init(&rxq, vm->mem, QSZ, 0x1000, 0x2000, 0x3000);
	mmio_wr(vm, BASE, VMMIO_QUEUE_READY, 1);
	post_rx(0, 2, 2048);
	fake_run(vm);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK_EQ(len, NET_HDR_LEN + 100);
	CHECK(frame_ok(vm->mem + RXBUF + NET_HDR_LEN, 100, 1));
	CHECK_EQ(stats().rx_packets, 1);
	teardown();
}

static void test_tx_avail_jump_polled(void)
{
	/* The bad tx index is first seen by the I/O thread's poller, then kicked. */
	setup(0, VER1);
	CHECK_EQ(vm->io.npollers, 1);
	gq_set_avail_idx(&txq, 1000);
	vm->io.pollers[0].fn(vm->io.pollers[0].opaque);
	fake_kick(BASE, 1);
	fake_run(vm);
	CHECK(mmio_rd(vm, BASE, VMMIO_STATUS) & 0x40);
	CHECK_EQ(fake.events, 1);
	CHECK_EQ(fake.ev_a, VIRTIO_ERR_AVAIL_IDX);
	CHECK_EQ(fake.ev_b, 1);
	CHECK_EQ(stats().errors, 1);
	teardown();
}

/* ---- A doorbell backend (like the inter-partition link) ---------------------- */

struct bell_backend {
	struct net_backend be;
	unsigned pending;
};

static int bell_set(struct net_backend *be, uint64_t f)
{
	(void)be;
	(void)f;
	return 0;
}

static int bell_send(struct net_backend *be, const struct iovec *iov, unsigned n)
{
	(void)be;
	(void)iov;
	(void)n;
	return 0;
}

static ssize_t bell_recv(struct net_backend *be, void *buf, size_t len)
{
	struct bell_backend *b = (struct bell_backend *)be;

	if (!b->pending)
		return -EAGAIN;
	b->pending--;
	memset(buf, 0, NET_HDR_LEN);
	memset((uint8_t *)buf + NET_HDR_LEN, 0x42, 60);
	(void)len;
	return NET_HDR_LEN + 60;
}

static void bell_ack(struct net_backend *be, int fd, uint32_t events)
{
	(void)be;
	(void)events;
	virtio_drain_eventfd(fd);
}

static void bell_destroy(struct net_backend *be)
{
	(void)be;
}

static const struct net_backend_ops bell_ops = {
	.name = "bell",
	.set_offloads = bell_set,
	.send = bell_send,
	.recv = bell_recv,
	.ack = bell_ack,
	.destroy = bell_destroy,
};

static void test_doorbell_backend_budget(void)
{
	struct bell_backend b = { .be = { .ops = &bell_ops, .tx_events = EPOLLIN } };
	uint32_t id = 0, len = 0;
	uint64_t one = 1;
	unsigned got = 0;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	b.be.rx_fd = b.be.tx_fd = efd;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.id, sizeof(cfg.id), "link0");
	vm = fake_vm_new(RAM, NULL, 0);
	gq_init(&rxq, vm->mem, 128, 0x1000, 0x2000, 0x3000);
	gq_init(&txq, vm->mem, QSZ, 0x4000, 0x5000, 0x6000);
	CHECK_EQ(virtio_net_create(vm, &cfg, &b.be, &state), 0);
	CHECK_EQ(start(VER1), 0xf);
	post_rx(0, 128, 2048);
	fake_run(vm);
	/* More frames than one turn's budget (64) behind a single doorbell ring. */
	b.pending = 128;
	CHECK_EQ(write(efd, &one, sizeof(one)), 8);
	fake_run(vm);
	while (gq_get_used(&rxq, &id, &len))
		got++;
	CHECK_EQ(got, 128);
	CHECK_EQ(b.pending, 0);
	virtio_net_destroy(state);
	state = NULL;
	fake_vm_free(vm);
	close(efd);
}

/*
 * A link-like backend that can say whether a frame is queued (rx_pending),
 * which makes the I/O thread's poller look at rx; its frames are 1500 bytes.
 */
struct pend_backend {
	struct net_backend be;
	unsigned pending;
};

static ssize_t pend_recv(struct net_backend *be, void *buf, size_t len)
{
	struct pend_backend *b = (struct pend_backend *)be;

	(void)len;
	if (!b->pending)
		return -EAGAIN;
	b->pending--;
	memset(buf, 0, NET_HDR_LEN);
	memset((uint8_t *)buf + NET_HDR_LEN, 0x42, 1500);
	return NET_HDR_LEN + 1500;
}

static bool pend_rx_pending(struct net_backend *be)
{
	return ((struct pend_backend *)be)->pending > 0;
}

static const struct net_backend_ops pend_ops = {
	.name = "pend",
	.set_offloads = bell_set,
	.send = bell_send,
	.recv = pend_recv,
	.ack = bell_ack,
	.rx_pending = pend_rx_pending,
	.destroy = bell_destroy,
};

/* Calls of the device's poller that reported work, out of n. */
static unsigned poll_busy(unsigned n)
{
	unsigned i, busy = 0;

	for (i = 0; i < n; i++)
		busy += vm->io.pollers[0].fn(vm->io.pollers[0].opaque);
	return busy;
}

static void test_poll_no_work_claimed(void)
{
	struct pend_backend b = { .be = { .ops = &pend_ops, .tx_events = EPOLLIN } };
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	b.be.rx_fd = b.be.tx_fd = efd;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.id, sizeof(cfg.id), "link0");
	vm = fake_vm_new(RAM, NULL, 0);
	gq_init(&rxq, vm->mem, QSZ, 0x1000, 0x2000, 0x3000);
	gq_init(&txq, vm->mem, QSZ, 0x4000, 0x5000, 0x6000);
	CHECK_EQ(virtio_net_create(vm, &cfg, &b.be, &state), 0);
	CHECK_EQ(start(VER1 | NF(MRG_RXBUF)), 0xf);
	CHECK_EQ(vm->io.npollers, 1);
	/* One 512-byte buffer: the first of 3 frames (1512 bytes) is held for more. */
	post_rx(0, 1, 512);
	fake_run(vm);
	b.pending = 3;
	CHECK_EQ(write(efd, &one, sizeof(one)), 8);
	fake_run(vm);
	CHECK_EQ(b.pending, 2);
	CHECK_EQ(stats().rx_packets, 0);
	/* Frames are queued but the held one waits for a kick: nothing to poll for. */
	CHECK_EQ(poll_busy(1000), 0);
	/* Two more buffers and a kick: the held frame goes in. */
	post_rx(1, 2, 512);
	fake_run(vm);
	CHECK_EQ(stats().rx_packets, 1);
	/* Queue off with frames queued and buffers wanted: nothing to poll for either. */
	post_rx(3, 3, 2048);
	fake_run(vm);
	CHECK_EQ(b.pending, 0);
	CHECK_EQ(stats().rx_packets, 3);
	mmio_wr(vm, BASE, VMMIO_QUEUE_SEL, 0);
	mmio_wr(vm, BASE, VMMIO_QUEUE_READY, 0);
	b.pending = 1;
	CHECK_EQ(poll_busy(1000), 0);
	CHECK_EQ(b.pending, 1);
	virtio_net_destroy(state);
	state = NULL;
	fake_vm_free(vm);
	close(efd);
}

/* ---- The TAP backend -------------------------------------------------------- */

static int tap_open(const char *name, short flags)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = flags;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool if_up(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ok = s >= 0 && !ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	ok = ok && !ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	return ok;
}

static void test_tap(void)
{
	struct lvmm_dev_cfg tcfg = { .type = LVMM_DEV_NET_TAP, .id = "tap0",
				     .fd = { 0, -1, -1, -1 }, .mac = { 2, 0, 0, 0, 0, 1 } };
	struct virtio_net_hdr_v1 h = { 0 };
	struct sockaddr_ll sll = { 0 };
	uint8_t frame[128], buf[256];
	uint32_t id = 0, len = 0, lo;
	int tfd[1], ps;
	void *tstate = NULL;
	ssize_t n;
	unsigned i;

	tfd[0] = tap_open("lvt0", IFF_TAP | IFF_NO_PI);
	CHECK(tfd[0] >= 0);
	vm = fake_vm_new(RAM, tfd, 1);
	CHECK_EQ(virtio_net_tap_ops.create(vm, &tcfg, &tstate), -EINVAL); /* no VNET_HDR */
	fake_vm_free(vm);
	close(tfd[0]);

	tfd[0] = tap_open("lvt1", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
	CHECK(tfd[0] >= 0 && if_up("lvt1"));
	vm = fake_vm_new(RAM, tfd, 1);
	CHECK_EQ(virtio_net_tap_ops.create(vm, &tcfg, &tstate), 0);
	if (!tstate) {
		fake_vm_free(vm);
		return;
	}
	mmio_wr(vm, BASE, VMMIO_DEVICE_FEATURES_SEL, 0);
	lo = mmio_rd(vm, BASE, VMMIO_DEVICE_FEATURES);
	CHECK(lo & NF(GUEST_TSO4)); /* this kernel's TAP takes TSO offloads */
	CHECK(lo & NF(HOST_TSO6));
	gq_init(&rxq, vm->mem, QSZ, 0x1000, 0x2000, 0x3000);
	gq_init(&txq, vm->mem, QSZ, 0x4000, 0x5000, 0x6000);
	{
		struct gq qs[2] = { rxq, txq };

		/* Negotiate no offloads at all: the TAP must not send us any. */
		CHECK_EQ(fake_driver_init(vm, BASE, VER1 | NF(MRG_RXBUF), qs, 2), 0xf);
	}
	fake_run(vm);

	/* A packet socket on the TAP's interface sees guest tx and injects guest rx. */
	ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	CHECK(ps >= 0);
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex("lvt1");
	CHECK(bind(ps, (struct sockaddr *)&sll, sizeof(sll)) == 0);

	memset(frame, 0, sizeof(frame));
	memset(frame, 0xff, 6);                       /* broadcast */
	memcpy(frame + 6, "\x02\x00\x00\x00\x00\x01", 6);
	frame[12] = 0x88;                             /* local experimental ethertype */
	frame[13] = 0xb5;
	memcpy(frame + 14, "lvmm-tap-test", 13);
	memcpy(vm->mem + TXBUF, &h, NET_HDR_LEN);
	memcpy(vm->mem + TXBUF + 0x100, frame, 60);
	gq_desc(&txq, 0, TXBUF, NET_HDR_LEN, 1, 1);
	gq_desc(&txq, 1, TXBUF + 0x100, 60, 0, 0);
	gq_publish(&txq, 0);
	fake_kick(BASE, 1);
	fake_run(vm);
	n = -1;
	for (i = 0; i < 100; i++) {
		n = recv(ps, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 60 && !memcmp(buf + 14, "lvmm-tap-test", 13))
			break;
		if (n < 0)
			usleep(1000);
	}
	CHECK_EQ(n, 60);
	CHECK(gq_get_used(&txq, &id, &len));

	/* Guest rx: inject through the packet socket, it comes out of the TAP. */
	post_rx(0, 16, 2048);
	fake_run(vm);
	memcpy(frame + 14, "lvmm-tap-rx!!", 13);
	CHECK_EQ(send(ps, frame, 60, 0), 60);
	/* The kernel may send its own frames (IPv6 DAD, MLD) on the new link: skip them. */
	for (i = 0; i < 200; i++) {
		if (!gq_get_used(&rxq, &id, &len)) {
			fake_poll(vm, 10);
			continue;
		}
		if (len == NET_HDR_LEN + 60 &&
		    !memcmp(vm->mem + RXBUF + 0x1000 * id + NET_HDR_LEN + 14, "lvmm-tap-rx!!", 13))
			break;
	}
	CHECK(i < 200);
	close(ps);
	virtio_net_tap_ops.destroy(tstate);
	fake_vm_free(vm);
	close(tfd[0]);

	/* Not a TAP at all. */
	tfd[0] = open("/dev/null", O_RDWR | O_CLOEXEC);
	vm = fake_vm_new(RAM, tfd, 1);
	CHECK(virtio_net_tap_ops.create(vm, &tcfg, &tstate) < 0);
	fake_vm_free(vm);
	close(tfd[0]);
}

int main(void)
{
	RUN(test_features_and_config);
	RUN(test_feature_dependencies);
	RUN(test_tx);
	RUN(test_tx_bad_frames);
	RUN(test_tx_eagain);
	RUN(test_rx_simple);
	RUN(test_rx_mergeable);
	RUN(test_rx_waits_for_buffers);
	RUN(test_rx_header_fixups);
	RUN(test_rx_useless_buffers);
	RUN(test_link_state);
	RUN(test_tx_rate_limit);
	RUN(test_rx_rate_limit);
	RUN(test_malformed_rx_chain);
	RUN(test_doorbell_backend_budget);
	RUN(test_rx_avail_jump_reported);
	RUN(test_rx_queue_off_no_spin);
	RUN(test_tx_avail_jump_polled);
	RUN(test_poll_no_work_claimed);
	/* TAPs are made in a private network namespace: root (or CAP_NET_ADMIN) only. */
	if (unshare(CLONE_NEWNET) == 0)
		RUN(test_tap);
	else
		printf("skip - test_tap: no private network namespace (%s)\n", strerror(errno));
	return unit_done();
}
