// SPDX-License-Identifier: MIT
/* virtio-console stream device over socketpairs and a listening Unix socket. */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "unit.h"
#include "devices/registry.h"
#include "fuzz/fake_vm.h"
#include "virtio/virtio.h"

#define RAM   (8 * 1024 * 1024)
#define BASE  LVMM_VIRTIO_MMIO_BASE
#define QSZ   64
#define VER1  (1ULL << 32)
#define RXBUF 0x100000ULL
#define TXBUF 0x200000ULL

static struct vm *vm;
static void *state;
static int fds[1], peer = -1;
static struct gq rxq, txq;

static int create(uint32_t flags)
{
	struct lvmm_dev_cfg cfg = { .type = LVMM_DEV_STREAM, .flags = flags, .id = "agent0",
				    .fd = { 0, -1, -1, -1 } };

	vm = fake_vm_new(RAM, fds, 1);
	if (!vm)
		abort();
	gq_init(&rxq, vm->mem, QSZ, 0x1000, 0x2000, 0x3000);
	gq_init(&txq, vm->mem, QSZ, 0x4000, 0x5000, 0x6000);
	return virtio_stream_ops.create(vm, &cfg, &state);
}

static void start(void)
{
	struct gq qs[2] = { rxq, txq };

	CHECK_EQ(fake_driver_init(vm, BASE, VER1, qs, 2), 0xf);
	fake_run(vm);
}

static void setup_pair(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	fds[0] = sv[0];
	peer = sv[1];
	CHECK_EQ(create(0), 0);
	start();
}

static void teardown(void)
{
	virtio_stream_ops.destroy(state);
	state = NULL;
	fake_vm_free(vm);
	close(fds[0]);
	if (peer >= 0)
		close(peer);
	peer = -1;
}

static void guest_write(uint16_t d, const void *data, uint32_t len)
{
	memcpy(vm->mem + TXBUF + 0x1000ULL * d, data, len);
	gq_desc(&txq, d, TXBUF + 0x1000ULL * d, len, 0, 0);
	gq_publish(&txq, d);
	fake_kick(BASE, 1);
}

static void post_rx(uint16_t d, uint32_t size)
{
	gq_desc(&rxq, d, RXBUF + 0x1000ULL * d, size, 2, 0);
	gq_publish(&rxq, d);
	fake_kick(BASE, 0);
}

static struct lvmm_dev_stats stats(void)
{
	struct lvmm_dev_stats s;

	memset(&s, 0, sizeof(s));
	virtio_stream_ops.stats(state, &s);
	return s;
}

static void test_basic(void)
{
	char buf[64];
	uint32_t id = 0, len = 0;

	setup_pair();
	CHECK_EQ(mmio_rd(vm, BASE, VMMIO_DEVICE_ID), 3);
	CHECK_EQ(mmio_rd(vm, BASE, VMMIO_CONFIG), 0);
	guest_write(0, "hello", 5);
	fake_run(vm);
	CHECK_EQ(recv(peer, buf, sizeof(buf), MSG_DONTWAIT), 5);
	CHECK(!memcmp(buf, "hello", 5));
	CHECK(gq_get_used(&txq, &id, &len));
	CHECK_EQ(len, 0);
	post_rx(0, 64);
	fake_run(vm);
	CHECK_EQ(send(peer, "world!", 6, 0), 6);
	fake_run(vm);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK_EQ(len, 6);
	CHECK(!memcmp(vm->mem + RXBUF, "world!", 6));
	CHECK_EQ(stats().rx_bytes, 6);
	CHECK_EQ(stats().tx_bytes, 5);
	CHECK_EQ(stats().link_up, 1);
	CHECK_STR(stats().id, "agent0");
	teardown();
}

static void test_rx_backpressure(void)
{
	uint32_t id = 0, len = 0;
	int rounds;

	setup_pair();
	/* No rx buffers: the socket is not read and nothing spins. */
	CHECK_EQ(send(peer, "abcdef", 6, 0), 6);
	rounds = fake_run(vm);
	CHECK(rounds < 5);
	/* A 4-byte buffer takes 4 bytes; the rest waits in the socket for the next one. */
	post_rx(0, 4);
	fake_run(vm);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK_EQ(len, 4);
	CHECK(!gq_get_used(&rxq, &id, &len));
	post_rx(1, 64);
	fake_run(vm);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK_EQ(len, 2);
	CHECK(!memcmp(vm->mem + RXBUF + 0x1000, "ef", 2));
	teardown();
}

static void test_tx_backpressure(void)
{
	static uint8_t big[1 << 20], got[1 << 20];
	uint32_t id = 0, len = 0;
	size_t n = 0, i;
	int sz = 4096;
	ssize_t r;

	setup_pair();
	setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13);
	memcpy(vm->mem + TXBUF, big, sizeof(big));
	gq_desc(&txq, 0, TXBUF, sizeof(big), 0, 0);
	gq_publish(&txq, 0);
	fake_kick(BASE, 1);
	fake_run(vm);
	/* The socket is full: the chain is held, not completed, and not buffered by us. */
	CHECK(!gq_get_used(&txq, &id, &len));
	CHECK(stats().tx_bytes < sizeof(big));
	while (n < sizeof(big)) {
		r = recv(peer, got + n, sizeof(got) - n, MSG_DONTWAIT);
		if (r > 0)
			n += (size_t)r;
		else if (!fake_poll(vm, 100))
			break;
	}
	CHECK_EQ(n, sizeof(big));
	CHECK(!memcmp(got, big, sizeof(big)));
	fake_run(vm);
	CHECK(gq_get_used(&txq, &id, &len));
	teardown();
}

static void test_peer_gone(void)
{
	uint32_t id = 0, len = 0;
	int rounds;

	setup_pair();
	post_rx(0, 64);
	fake_run(vm);
	close(peer);
	peer = -1;
	rounds = fake_run(vm);
	CHECK(rounds < 5);
	CHECK_EQ(stats().link_up, 0);
	/* Nobody will ever read: guest output is discarded, never stuck. */
	guest_write(0, "lost", 4);
	fake_run(vm);
	CHECK(gq_get_used(&txq, &id, &len));
	CHECK_EQ(stats().drops, 4);
	CHECK(!gq_get_used(&rxq, &id, &len));
	teardown();
}

static void test_half_close(void)
{
	char buf[16];
	uint32_t id = 0, len = 0;
	int rounds;

	setup_pair();
	post_rx(0, 16);
	fake_run(vm);
	CHECK_EQ(send(peer, "q", 1, 0), 1);
	shutdown(peer, SHUT_WR); /* like `socat` after its stdin ends */
	rounds = fake_run(vm);
	CHECK(rounds < 5);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK_EQ(len, 1);
	/* The peer still reads: the guest's answer gets through. */
	guest_write(0, "answer", 6);
	fake_run(vm);
	CHECK_EQ(recv(peer, buf, sizeof(buf), MSG_DONTWAIT), 6);
	CHECK_EQ(stats().link_up, 1);
	close(peer);
	peer = -1;
	fake_run(vm);
	CHECK_EQ(stats().link_up, 0);
	teardown();
}

static void test_unread_after_close(void)
{
	uint32_t id = 0, len = 0;

	setup_pair();
	/* The peer says its last words and leaves before the guest has buffers. */
	CHECK_EQ(send(peer, "bye", 3, 0), 3);
	close(peer);
	peer = -1;
	CHECK(fake_run(vm) < 5);
	CHECK_EQ(stats().link_up, 1); /* kept until the bytes are delivered */
	post_rx(0, 16);
	fake_run(vm);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK_EQ(len, 3);
	CHECK(!memcmp(vm->mem + RXBUF, "bye", 3));
	CHECK_EQ(stats().link_up, 0);
	teardown();
}

static int connect_to(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		abort();
	return s;
}

static void test_listen(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	const char *dir = getenv("LVMM_TEST_TMP");
	char buf[64];
	uint32_t id = 0, len = 0;
	int c1, c2;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s/cons.%d", dir ? dir : "/tmp", getpid());
	unlink(a.sun_path);
	fds[0] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fds[0] >= 0);
	CHECK_EQ(bind(fds[0], (struct sockaddr *)&a, sizeof(a)), 0);
	/* F_LISTEN on a socket that is not listening yet: refused. */
	CHECK_EQ(create(LVMM_DEV_F_LISTEN), -EINVAL);
	fake_vm_free(vm);
	CHECK_EQ(listen(fds[0], 4), 0);
	CHECK_EQ(create(LVMM_DEV_F_LISTEN), 0);
	start();
	/* Before any peer: the guest's output waits in the ring. */
	guest_write(0, "early", 5);
	fake_run(vm);
	CHECK(!gq_get_used(&txq, &id, &len));
	CHECK_EQ(stats().link_up, 0);
	c1 = connect_to(a.sun_path);
	c2 = connect_to(a.sun_path); /* waits in the backlog */
	fake_run(vm);
	CHECK_EQ(stats().link_up, 1);
	CHECK_EQ(recv(c1, buf, sizeof(buf), MSG_DONTWAIT), 5);
	CHECK(!memcmp(buf, "early", 5));
	CHECK(gq_get_used(&txq, &id, &len));
	CHECK_EQ(recv(c2, buf, sizeof(buf), MSG_DONTWAIT), -1);
	/* First peer leaves: the second one is accepted and gets what follows. */
	close(c1);
	fake_run(vm);
	guest_write(1, "second", 6);
	fake_run(vm);
	CHECK_EQ(recv(c2, buf, sizeof(buf), MSG_DONTWAIT), 6);
	CHECK(!memcmp(buf, "second", 6));
	post_rx(0, 64);
	CHECK_EQ(send(c2, "up", 2, 0), 2);
	fake_run(vm);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK_EQ(len, 2);
	close(c2);
	fake_run(vm);
	CHECK_EQ(stats().link_up, 0);
	unlink(a.sun_path);
	virtio_stream_ops.destroy(state);
	state = NULL;
	fake_vm_free(vm);
	close(fds[0]);
}

static void test_reset_keeps_peer(void)
{
	char buf[16];
	uint32_t id = 0, len = 0;

	setup_pair();
	mmio_wr(vm, BASE, VMMIO_STATUS, 0);
	fake_run(vm);
	CHECK_EQ(send(peer, "zz", 2, 0), 2);
	gq_init(&rxq, vm->mem, QSZ, 0x1000, 0x2000, 0x3000);
	gq_init(&txq, vm->mem, QSZ, 0x4000, 0x5000, 0x6000);
	start();
	post_rx(0, 16);
	fake_run(vm);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK_EQ(len, 2);
	guest_write(0, "back", 4);
	fake_run(vm);
	CHECK_EQ(recv(peer, buf, sizeof(buf), MSG_DONTWAIT), 4);
	teardown();
}

static void test_rx_queue_off_no_spin(void)
{
	uint32_t id = 0, len = 0;
	int rounds;

	setup_pair();
	post_rx(0, 64); /* the socket is watched for input */
	fake_run(vm);
	/* The driver turns the rx queue off; the peer's bytes must not spin us. */
	mmio_wr(vm, BASE, VMMIO_QUEUE_SEL, 0);
	mmio_wr(vm, BASE, VMMIO_QUEUE_READY, 0);
	CHECK_EQ(send(peer, "x", 1, 0), 1);
	rounds = fake_run(vm);
	CHECK(rounds < 5);
	/* Back on with a buffer: the driver's kick brings the byte in. */
	gq_init(&rxq, vm->mem, QSZ, 0x1000, 0x2000, 0x3000);
	mmio_wr(vm, BASE, VMMIO_QUEUE_READY, 1);
	post_rx(0, 64);
	fake_run(vm);
	CHECK(gq_get_used(&rxq, &id, &len));
	CHECK_EQ(len, 1);
	CHECK_EQ(vm->mem[RXBUF], 'x');
	teardown();
}

static void test_tx_queue_off_no_spin(void)
{
	static uint8_t got[1 << 20];
	int sz = 4096, rounds;

	setup_pair();
	setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	gq_desc(&txq, 0, TXBUF, 1 << 20, 0, 0);
	gq_publish(&txq, 0);
	fake_kick(BASE, 1);
	fake_run(vm);
	CHECK(stats().tx_bytes < sizeof(got)); /* the socket is full: the chain is held */
	/* The driver turns the tx queue off, then the peer reads: a writable socket, no spin. */
	mmio_wr(vm, BASE, VMMIO_QUEUE_SEL, 1);
	mmio_wr(vm, BASE, VMMIO_QUEUE_READY, 0);
	while (recv(peer, got, sizeof(got), MSG_DONTWAIT) > 0)
		;
	rounds = fake_run(vm);
	CHECK(rounds < 5);
	teardown();
}

int main(void)
{
	RUN(test_basic);
	RUN(test_rx_backpressure);
	RUN(test_tx_backpressure);
	RUN(test_peer_gone);
	RUN(test_half_close);
	RUN(test_unread_after_close);
	RUN(test_listen);
	RUN(test_reset_keeps_peer);
	RUN(test_rx_queue_off_no_spin);
	RUN(test_tx_queue_off_no_spin);
	return unit_done();
}
