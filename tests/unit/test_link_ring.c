// SPDX-License-Identifier: MIT
/*
 * The link ring (src/devices/link_ring.c, layout include/lvmm/link_ring.h):
 * frames both ways between two ends, full/empty with their wake-up flags,
 * index wrap-around, records of any size (how many a ring holds, one
 * running on past the ring's end), and a peer that lies: indices out of
 * range, record lengths beyond a record or beyond what was published, a
 * header that is not a link of this revision; and both ends on their own
 * threads sleeping on eventfd bells the way net_link.c does, where a lost
 * wake-up leaves a side asleep with work waiting (a bounded sleep fails).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "unit.h"
#include "devices/link_ring.h"

static uint8_t *shm;
static struct link_ring *ring;

static void fresh(struct link_end *a, struct link_end *b)
{
	link_shm_init(shm);
	CHECK_EQ(link_end_attach(a, shm, 0), 0);
	CHECK_EQ(link_end_attach(b, shm, 1), 0);
}

static int send_bytes(struct link_end *e, const void *p, size_t n, bool *wake)
{
	struct iovec v = { (void *)p, n };

	return link_send(e, &v, 1, wake);
}

static void test_roundtrip(void)
{
	struct link_end a, b;
	uint8_t out[LINK_FRAME_MAX], in[LINK_FRAME_MAX + 16];
	struct iovec v[3];
	bool wake;
	size_t i;

	fresh(&a, &b);
	for (i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 13 + 1);
	/* An empty receive announces that b will sleep ... */
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), LINK_EMPTY);
	CHECK(!wake);
	CHECK_EQ(atomic_load(&ring[0].hdr.want_data), 1);
	/* ... so the next send asks for b's bell, once. */
	v[0] = (struct iovec){ out, 10 };
	v[1] = (struct iovec){ out + 10, 0 };
	v[2] = (struct iovec){ out + 10, sizeof(out) - 10 };
	CHECK_EQ(link_send(&a, v, 3, &wake), LINK_OK);
	CHECK(wake);
	CHECK_EQ(send_bytes(&a, out, 60, &wake), LINK_OK);
	CHECK(!wake);
	/* Counters count units: a largest record is 32 of them, 60 bytes 2. */
	CHECK_EQ(atomic_load(&ring[0].hdr.prod), LINK_REC_UNITS_MAX + 2);
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), (ssize_t)sizeof(out));
	CHECK(!memcmp(in, out, sizeof(out)));
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), 60);
	CHECK_EQ(atomic_load(&ring[0].hdr.cons), LINK_REC_UNITS_MAX + 2);
	/* The other direction uses the other ring. */
	CHECK_EQ(send_bytes(&b, "pong", 4, &wake), LINK_OK);
	CHECK_EQ(link_recv(&a, in, sizeof(in), &wake), 4);
	CHECK(!memcmp(in, "pong", 4));
	CHECK_EQ(a.corrupt + b.corrupt, 0);
}

static void test_sizes(void)
{
	static uint8_t big[LINK_FRAME_MAX + 1];
	struct link_end a, b;
	uint8_t in[64];
	bool wake;

	fresh(&a, &b);
	CHECK_EQ(send_bytes(&a, big, sizeof(big), &wake), LINK_TOO_BIG);
	CHECK_EQ(atomic_load(&ring[0].hdr.prod), 0);
	CHECK_EQ(send_bytes(&a, big, 0, &wake), LINK_OK); /* an empty frame is a frame */
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), 0);
	/* A frame larger than the reader's buffer is dropped, not truncated. */
	CHECK_EQ(send_bytes(&a, big, 65, &wake), LINK_OK);
	CHECK_EQ(send_bytes(&a, big, 64, &wake), LINK_OK);
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), LINK_TOO_BIG);
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), 64);
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), LINK_EMPTY);
}

static void test_full_and_wrap(void)
{
	struct link_end a, b;
	uint8_t in[8];
	bool wake;
	unsigned i;

	link_shm_init(shm);
	/* Indices are free-running: start both just below the 32-bit wrap. */
	atomic_store(&ring[0].hdr.prod, 0xffffff80U);
	atomic_store(&ring[0].hdr.cons, 0xffffff80U);
	CHECK_EQ(link_end_attach(&a, shm, 0), 0);
	CHECK_EQ(link_end_attach(&b, shm, 1), 0);
	for (i = 0; i < LINK_UNITS; i++)
		CHECK_EQ(send_bytes(&a, &i, 4, &wake), LINK_OK);
	CHECK_EQ(send_bytes(&a, &i, 4, &wake), LINK_FULL);
	CHECK_EQ(atomic_load(&ring[0].hdr.want_space), 1);
	/* Freeing a unit tells the reader to ring the writer's bell. */
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), 4);
	CHECK(wake);
	CHECK_EQ(send_bytes(&a, &i, 4, &wake), LINK_OK);
	for (i = 1; i <= LINK_UNITS; i++) {
		uint32_t v = 0;

		CHECK_EQ(link_recv(&b, &v, sizeof(v), &wake), 4);
		CHECK_EQ(v, i);
	}
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), LINK_EMPTY);
	CHECK(atomic_load(&ring[0].hdr.prod) < 0x80 + LINK_UNITS + 1); /* wrapped */
	CHECK_EQ(a.corrupt + b.corrupt, 0);
}

/*
 * What a ring holds is what moves per scheduler round on a shared host
 * core (bench/link.sh): 8192 frames of 64 bytes behind a virtio header
 * (2 KiB slots held 256), 682 of 1514.
 */
static void test_capacity(void)
{
	static uint8_t frame[12 + 1514];
	struct link_end a, b;
	bool wake;
	unsigned n;

	fresh(&a, &b);
	for (n = 0; n < 100000 && send_bytes(&a, frame, 12 + 64, &wake) == LINK_OK; n++)
		;
	CHECK_EQ(n, 8192);
	fresh(&a, &b);
	for (n = 0; n < 100000 && send_bytes(&a, frame, 12 + 1514, &wake) == LINK_OK; n++)
		;
	CHECK_EQ(n, 682);
	/* The 16 units left take a small frame, not a large one until a record is freed. */
	CHECK_EQ(send_bytes(&a, frame, 12 + 1514, &wake), LINK_FULL);
	CHECK_EQ(send_bytes(&a, frame, 60, &wake), LINK_OK);
	CHECK_EQ(link_recv(&b, frame, sizeof(frame), &wake), 12 + 1514);
	CHECK(wake);
	CHECK_EQ(send_bytes(&a, frame, 12 + 1514, &wake), LINK_OK);
	CHECK_EQ(send_bytes(&a, frame, 12 + 1514, &wake), LINK_FULL);
	CHECK_EQ(a.corrupt + b.corrupt, 0);
}

/* A record that starts near the ring's end runs on past it, whole, and the next starts after it. */
static void test_record_past_end(void)
{
	static uint8_t out[LINK_FRAME_MAX], in[LINK_FRAME_MAX];
	struct link_end a, b;
	bool wake;
	size_t i;

	link_shm_init(shm);
	atomic_store(&ring[0].hdr.prod, LINK_UNITS - 1);
	atomic_store(&ring[0].hdr.cons, LINK_UNITS - 1);
	CHECK_EQ(link_end_attach(&a, shm, 0), 0);
	CHECK_EQ(link_end_attach(&b, shm, 1), 0);
	for (i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + 3);
	CHECK_EQ(send_bytes(&a, out, sizeof(out), &wake), LINK_OK);
	CHECK_EQ(send_bytes(&a, "next", 4, &wake), LINK_OK);
	CHECK(!memcmp(ring[0].data + (size_t)(LINK_UNITS - 1) * LINK_UNIT + LINK_REC_HDR, out,
		      sizeof(out)));
	CHECK(!memcmp(ring[0].data + (size_t)(LINK_REC_UNITS_MAX - 1) * LINK_UNIT + LINK_REC_HDR,
		      "next", 4));
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), (ssize_t)sizeof(out));
	CHECK(!memcmp(in, out, sizeof(out)));
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), 4);
	CHECK(!memcmp(in, "next", 4));
	CHECK_EQ(a.corrupt + b.corrupt, 0);
}

static void test_lying_peer(void)
{
	struct link_end a, b;
	uint8_t in[LINK_FRAME_MAX];
	bool wake;

	fresh(&a, &b);
	/* The peer (side 0) claims more units than a ring holds. */
	atomic_store(&ring[0].hdr.prod, LINK_UNITS + 1000);
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), LINK_CORRUPT);
	CHECK_EQ(b.corrupt, 1);
	CHECK_EQ(b.rx_cons, LINK_UNITS + 1000); /* skipped, and published */
	CHECK_EQ(atomic_load(&ring[0].hdr.cons), LINK_UNITS + 1000);
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), LINK_EMPTY);
	/* A record length beyond any record: dropped, never copied. */
	link_rec_at(&ring[0], LINK_UNITS + 1000)->len = LINK_FRAME_MAX + 1;
	atomic_store(&ring[0].hdr.prod, LINK_UNITS + 1000 + LINK_REC_UNITS_MAX);
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), LINK_CORRUPT);
	CHECK_EQ(b.rx_cons, LINK_UNITS + 1000 + LINK_REC_UNITS_MAX);
	link_rec_at(&ring[0], b.rx_cons)->len = 0xffffffffU;
	atomic_store(&ring[0].hdr.prod, b.rx_cons + 1);
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), LINK_CORRUPT);
	/* A record longer than the units published: it would run into unpublished memory. */
	link_rec_at(&ring[0], b.rx_cons)->len = 200;
	atomic_store(&ring[0].hdr.prod, b.rx_cons + link_rec_units(200) - 1);
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), LINK_CORRUPT);
	CHECK_EQ(b.corrupt, 4);
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), LINK_EMPTY);
	/* ... and exactly as long is a frame. */
	link_rec_at(&ring[0], b.rx_cons)->len = 200;
	atomic_store(&ring[0].hdr.prod, b.rx_cons + link_rec_units(200));
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), 200);
	/* prod moving backwards is as bad as far ahead. */
	atomic_store(&ring[0].hdr.prod, 5);
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), LINK_CORRUPT);
	/* The peer as consumer (of ring 1) publishes a cons ahead of our prod. */
	atomic_store(&ring[1].hdr.cons, 77);
	CHECK_EQ(send_bytes(&b, "x", 1, &wake), LINK_CORRUPT);
	CHECK_EQ(b.tx_prod, 77); /* resynchronised: later frames go out again */
	CHECK_EQ(send_bytes(&b, "x", 1, &wake), LINK_OK);
	CHECK_EQ(atomic_load(&ring[1].hdr.prod), 78);
	/* ... or one that makes the ring look full for ever: never more than LINK_FULL. */
	atomic_store(&ring[1].hdr.cons, 78 - LINK_UNITS);
	CHECK_EQ(send_bytes(&b, "x", 1, &wake), LINK_FULL);
	/* ... or one that leaves fewer units free than the frame needs. */
	atomic_store(&ring[1].hdr.cons, 78 - LINK_UNITS + 1);
	CHECK_EQ(send_bytes(&b, in, 200, &wake), LINK_FULL);
}

static void test_attach(void)
{
	struct link_end a, b;
	bool wake;
	uint8_t in[8];

	fresh(&a, &b);
	CHECK_EQ(link_end_attach(&a, shm, 2), -EINVAL);
	CHECK_EQ(send_bytes(&a, "abc", 3, &wake), LINK_OK);
	/* A restarted end resumes from the published indices: the frame is still there. */
	CHECK_EQ(link_end_attach(&b, shm, 1), 0);
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), 3);
	/* Nonsense published indices are ignored on attach, not trusted. */
	atomic_store(&ring[0].hdr.prod, 0x12345678);
	CHECK_EQ(link_end_attach(&a, shm, 0), 0);
	CHECK(a.tx_prod - atomic_load(&ring[0].hdr.cons) <= LINK_UNITS);
	CHECK_EQ(atomic_load(&ring[0].hdr.prod), a.tx_prod); /* and what it resumed from is published */
	ring[1].hdr.magic = 0;
	CHECK_EQ(link_end_attach(&a, shm, 0), -EINVAL);
	link_shm_init(shm);
	ring[0].hdr.revision = LINK_REVISION + 1;
	CHECK_EQ(link_end_attach(&a, shm, 1), -EINVAL);
}

/*
 * Both ends on their own threads, each sleeping on its own eventfd bell
 * the way net_link.c's I/O thread does (drain the bell, work until EMPTY or
 * FULL, sleep; ring the peer when link_send/link_recv say so). Side 0
 * sends bursts and waits for every echo before the next; side 1 echoes.
 * Small bursts make both ends run dry and sleep on want_data thousands of
 * times, a few large ones (up to 1.5 rings) make both fill up and sleep on
 * want_space. Nothing else wakes a side, so a lost wake-up leaves both
 * asleep: a sleep longer than 2 s counts as one and ends the test.
 */
#define PROTO_ROUNDS 20000U
struct proto_side {
	struct link_end e;
	int my_bell, peer_bell;
	unsigned sleeps, stuck, bad;
	uint64_t moved;
};

static bool proto_sleep(struct proto_side *s)
{
	struct pollfd p = { .fd = s->my_bell, .events = POLLIN };
	uint64_t v;

	s->sleeps++;
	if (poll(&p, 1, 2000) != 1) {
		s->stuck++;
		return false;
	}
	if (read(s->my_bell, &v, sizeof(v)) < 0 && errno != EAGAIN)
		s->bad++;
	return true;
}

static void proto_ring(struct proto_side *s, bool wake)
{
	uint64_t one = 1;

	if (wake && write(s->peer_bell, &one, sizeof(one)) < 0)
		s->bad++;
}

/* Send a one-unit frame carrying seq, sleeping while the ring is full. */
static bool proto_send(struct proto_side *s, uint32_t seq)
{
	struct iovec v = { &seq, sizeof(seq) };

	for (;;) {
		bool wake;
		int r = link_send(&s->e, &v, 1, &wake);

		proto_ring(s, wake);
		if (r == LINK_OK)
			return true;
		if (r != LINK_FULL) {
			s->bad++;
			return false;
		}
		if (!proto_sleep(s))
			return false;
	}
}

/* Receive the next frame into *seq, sleeping while the ring is empty. */
static bool proto_recv(struct proto_side *s, uint32_t *seq)
{
	for (;;) {
		bool wake;
		ssize_t r = link_recv(&s->e, seq, sizeof(*seq), &wake);

		proto_ring(s, wake);
		if (r == (ssize_t)sizeof(*seq)) {
			s->moved++;
			return true;
		}
		if (r != LINK_EMPTY) {
			s->bad++;
			return false;
		}
		if (!proto_sleep(s))
			return false;
	}
}

static void *proto_echo(void *arg)
{
	struct proto_side *s = arg;
	uint32_t seq;

	while (proto_recv(s, &seq) && seq != UINT32_MAX)
		if (!proto_send(s, seq))
			break;
	return NULL;
}

static void *proto_burst(void *arg)
{
	struct proto_side *s = arg;
	uint32_t seq = 0, x = 1, round, i, n, got;

	for (round = 0; round < PROTO_ROUNDS; round++) {
		x = x * 1103515245U + 12345U;
		n = (x >> 16) % 512 ? 1 + (x >> 8) % 4 : 1 + (x >> 4) % (LINK_UNITS * 3 / 2);
		/* Sends and receives interleave: a burst beyond one ring needs its echoes taken. */
		for (i = 0; i < n; i++) {
			if (!proto_send(s, seq + i))
				return NULL;
			if (i >= LINK_UNITS / 2) {
				if (!proto_recv(s, &got))
					return NULL;
				s->bad += got != seq++;
				n--, i--;
			}
		}
		for (i = 0; i < n; i++) {
			if (!proto_recv(s, &got))
				return NULL;
			s->bad += got != seq++;
		}
	}
	proto_send(s, UINT32_MAX);
	return NULL;
}

static void test_sleep_protocol(void)
{
	struct proto_side a = { .my_bell = -1 }, b = { .my_bell = -1 };
	pthread_t ta, tb;
	int b0 = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), b1 = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	CHECK(b0 >= 0 && b1 >= 0);
	fresh(&a.e, &b.e);
	a.my_bell = b.peer_bell = b0;
	b.my_bell = a.peer_bell = b1;
	CHECK_EQ(pthread_create(&ta, NULL, proto_burst, &a), 0);
	CHECK_EQ(pthread_create(&tb, NULL, proto_echo, &b), 0);
	pthread_join(ta, NULL);
	if (a.stuck) /* the echo side may wait for a frame that never comes */
		proto_send(&a, UINT32_MAX);
	pthread_join(tb, NULL);
	CHECK_EQ(a.stuck + b.stuck, 0U);
	CHECK_EQ(a.bad + b.bad, 0U);
	CHECK_EQ(a.moved + 1, b.moved); /* and the end marker */
	CHECK(a.sleeps > PROTO_ROUNDS / 2 && b.sleeps > PROTO_ROUNDS / 2);
	printf("# sleep protocol: %llu frames echoed, sleeps %u + %u\n",
	       (unsigned long long)a.moved, a.sleeps, b.sleeps);
	close(b0);
	close(b1);
}

int main(void)
{
	shm = aligned_alloc(64, LINK_SHM_SIZE);
	if (!shm)
		return 1;
	ring = (struct link_ring *)(void *)shm;
	RUN(test_roundtrip);
	RUN(test_sizes);
	RUN(test_full_and_wrap);
	RUN(test_capacity);
	RUN(test_record_past_end);
	RUN(test_lying_peer);
	RUN(test_attach);
	RUN(test_sleep_protocol);
	free(shm);
	return unit_done();
}
