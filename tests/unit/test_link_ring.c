// SPDX-License-Identifier: MIT
/*
 * The link ring (src/devices/link_ring.c, layout include/lvmm/link_ring.h):
 * frames both ways between two ends, full/empty with their wake-up flags,
 * index wrap-around, and a peer that lies: indices out of range, slot
 * lengths beyond a slot, a header that is not a link of this revision.
 */
#include <errno.h>
#include <stdlib.h>

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
	uint8_t out[LINK_SLOT_DATA], in[LINK_SLOT_DATA + 16];
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
	CHECK_EQ(atomic_load(&ring[0].hdr.prod), 2);
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), (ssize_t)sizeof(out));
	CHECK(!memcmp(in, out, sizeof(out)));
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), 60);
	CHECK_EQ(atomic_load(&ring[0].hdr.cons), 2);
	/* The other direction uses the other ring. */
	CHECK_EQ(send_bytes(&b, "pong", 4, &wake), LINK_OK);
	CHECK_EQ(link_recv(&a, in, sizeof(in), &wake), 4);
	CHECK(!memcmp(in, "pong", 4));
	CHECK_EQ(a.corrupt + b.corrupt, 0);
}

static void test_sizes(void)
{
	static uint8_t big[LINK_SLOT_DATA + 1];
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
	for (i = 0; i < LINK_SLOTS; i++)
		CHECK_EQ(send_bytes(&a, &i, 4, &wake), LINK_OK);
	CHECK_EQ(send_bytes(&a, &i, 4, &wake), LINK_FULL);
	CHECK_EQ(atomic_load(&ring[0].hdr.want_space), 1);
	/* Freeing a slot tells the reader to ring the writer's bell. */
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), 4);
	CHECK(wake);
	CHECK_EQ(send_bytes(&a, &i, 4, &wake), LINK_OK);
	for (i = 1; i <= LINK_SLOTS; i++) {
		uint32_t v = 0;

		CHECK_EQ(link_recv(&b, &v, sizeof(v), &wake), 4);
		CHECK_EQ(v, i);
	}
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), LINK_EMPTY);
	CHECK(atomic_load(&ring[0].hdr.prod) < 0x80 + LINK_SLOTS + 1); /* wrapped */
	CHECK_EQ(a.corrupt + b.corrupt, 0);
}

static void test_lying_peer(void)
{
	struct link_end a, b;
	uint8_t in[LINK_SLOT_DATA];
	bool wake;

	fresh(&a, &b);
	/* The peer (side 0) claims more frames than a ring holds. */
	atomic_store(&ring[0].hdr.prod, LINK_SLOTS + 1000);
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), LINK_CORRUPT);
	CHECK_EQ(b.corrupt, 1);
	CHECK_EQ(b.rx_cons, LINK_SLOTS + 1000); /* skipped, and published */
	CHECK_EQ(atomic_load(&ring[0].hdr.cons), LINK_SLOTS + 1000);
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), LINK_EMPTY);
	/* A slot length beyond the slot: dropped, never copied. */
	ring[0].slots[(LINK_SLOTS + 1000) % LINK_SLOTS].len = LINK_SLOT_DATA + 1;
	atomic_store(&ring[0].hdr.prod, LINK_SLOTS + 1001);
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), LINK_CORRUPT);
	ring[0].slots[(LINK_SLOTS + 1001) % LINK_SLOTS].len = 0xffffffffU;
	atomic_store(&ring[0].hdr.prod, LINK_SLOTS + 1002);
	CHECK_EQ(link_recv(&b, in, sizeof(in), &wake), LINK_CORRUPT);
	CHECK_EQ(b.corrupt, 3);
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
	atomic_store(&ring[1].hdr.cons, 78 - LINK_SLOTS);
	CHECK_EQ(send_bytes(&b, "x", 1, &wake), LINK_FULL);
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
	CHECK(a.tx_prod - atomic_load(&ring[0].hdr.cons) <= LINK_SLOTS);
	CHECK_EQ(atomic_load(&ring[0].hdr.prod), a.tx_prod); /* and what it resumed from is published */
	ring[1].hdr.magic = 0;
	CHECK_EQ(link_end_attach(&a, shm, 0), -EINVAL);
	link_shm_init(shm);
	ring[0].hdr.revision = LINK_REVISION + 1;
	CHECK_EQ(link_end_attach(&a, shm, 1), -EINVAL);
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
	RUN(test_lying_peer);
	RUN(test_attach);
	free(shm);
	return unit_done();
}
