// SPDX-License-Identifier: MIT
/*
 * Fuzz the link ring's reader and writer (src/devices/link_ring.c) against
 * a hostile peer: the other partition process shares the whole mapping
 * and may write any word of it at any time.
 *
 * Input: [side][ops...], each op one byte then its arguments:
 *   0 poke WORD:4 VAL:4   the peer writes VAL at 32-bit word WORD of the area
 *   1 prod VAL:4          the peer publishes its producer index (our rx ring)
 *   2 cons VAL:4          the peer publishes its consumer index (our tx ring)
 *   3 rec IDX:2 LEN:4     the peer writes the length of a record at unit IDX (our rx ring)
 *   4 frame LEN:2         the peer sends a well-formed frame of LEN bytes
 *   5 take                the peer consumes one of our frames, as it should
 *   6 recv CAP:2          we receive into a buffer of exactly CAP bytes
 *   7 send LEN:2 CUT:2    we send LEN bytes as two iovecs cut at CUT
 *   8 attach              we re-attach (a restarted end), maybe to a broken header
 * Invariants: no access outside the area or our buffers (ASan); recv returns a
 * result code or a length <= CAP and <= LINK_FRAME_MAX; a sent frame is
 * published with its exact length in the record our private index names,
 * which takes link_rec_units(LEN) units and never more than are free; our
 * published indices equal our private ones after each call; a well-formed
 * frame from an honest peer into a consistent ring arrives intact.
 */
#include <errno.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "devices/link_ring.h"

#define MAX_OPS 512
#define FRAME_MAX (LINK_FRAME_MAX + 64)

static uint8_t *shm;
static uint8_t src[FRAME_MAX];

/* The peer's view: it produces into ring 1-side and consumes ring side. */
struct peer {
	struct link_ring *tx, *rx;
	uint32_t prod, cons;
	bool honest; /* it never poked the shared state: its frames must arrive intact */
};

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void op_recv(struct link_end *e, struct peer *p, uint16_t cap, uint32_t *expect_len,
		    bool *expect_valid)
{
	uint8_t *buf = malloc(cap ? cap : 1);
	uint32_t before = e->rx_cons;
	bool wake;
	ssize_t r;

	if (!buf)
		abort();
	r = link_recv(e, buf, cap, &wake);
	FUZZ_CHECK(r == LINK_EMPTY || r == LINK_TOO_BIG || r == LINK_CORRUPT ||
		   (r >= 0 && (size_t)r <= cap && (size_t)r <= LINK_FRAME_MAX));
	/* What we consumed is published at once (the peer's free space depends on it). */
	if (r == LINK_EMPTY)
		FUZZ_CHECK(e->rx_cons == before);
	else if (r != LINK_CORRUPT) /* a frame (or one too big for buf): its units, no more */
		FUZZ_CHECK(e->rx_cons - before >= 1 && e->rx_cons - before <= LINK_REC_UNITS_MAX);
	else
		FUZZ_CHECK(atomic_load(&e->rx->hdr.cons) == e->rx_cons);
	if (*expect_valid && p->honest) {
		uint8_t want[FRAME_MAX];

		/* The oldest frame of an honest peer: exactly its bytes, or too big for buf. */
		FUZZ_CHECK(r != LINK_CORRUPT && r != LINK_EMPTY);
		FUZZ_CHECK(r != LINK_TOO_BIG || expect_len[before % LINK_UNITS] > cap);
		if (r >= 0) {
			FUZZ_CHECK((uint32_t)r == expect_len[before % LINK_UNITS]);
			fill(want, (size_t)r, before);
			FUZZ_CHECK(!memcmp(buf, want, (size_t)r));
		}
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint32_t expect_len[LINK_UNITS];
	struct fin in = { data, size };
	unsigned side = fin_u8(&in) & 1, ops = 0;
	struct link_ring *ring;
	struct link_end e;
	struct peer p;

	if (!shm && !(shm = aligned_alloc(64, LINK_SHM_SIZE)))
		abort();
	link_shm_init(shm);
	ring = (struct link_ring *)(void *)shm;
	FUZZ_CHECK(link_end_attach(&e, shm, side) == 0);
	FUZZ_CHECK(link_end_attach(&e, shm, 2) == -EINVAL);
	FUZZ_CHECK(link_end_attach(&e, shm, side) == 0);
	p = (struct peer){ .tx = &ring[1 - side], .rx = &ring[side], .honest = true };
	memset(expect_len, 0, sizeof(expect_len));

	while (in.left && ops++ < MAX_OPS) {
		uint8_t op = fin_u8(&in) % 9;
		bool wake;

		switch (op) {
		case 0: {
			uint32_t word = fin_u32(&in) % (uint32_t)(LINK_SHM_SIZE / 4);
			uint32_t val = fin_u32(&in);

			memcpy(shm + 4ULL * word, &val, 4);
			p.honest = false;
			break;
		}
		case 1:
			atomic_store(&p.tx->hdr.prod, fin_u32(&in));
			p.honest = false;
			break;
		case 2:
			atomic_store(&p.rx->hdr.cons, fin_u32(&in));
			p.honest = false;
			break;
		case 3: {
			uint16_t idx = fin_u16(&in);

			link_rec_at(p.tx, idx)->len = fin_u32(&in);
			p.honest = false;
			break;
		}
		case 4: {
			uint16_t len = fin_u16(&in) % (LINK_FRAME_MAX + 1);
			struct link_rec *rec;

			if (p.prod - e.rx_cons + link_rec_units(len) > LINK_UNITS)
				break; /* an honest peer waits for space */
			rec = link_rec_at(p.tx, p.prod);
			fill(rec->data, len, p.prod);
			rec->len = len;
			expect_len[p.prod % LINK_UNITS] = len;
			p.prod += link_rec_units(len);
			atomic_store(&p.tx->hdr.prod, p.prod);
			break;
		}
		case 5:
			if (atomic_load(&p.rx->hdr.prod) != p.cons) {
				/* Honest, it reads the length we wrote (bounded as any reader must). */
				uint32_t l = link_rec_at(p.rx, p.cons)->len;

				p.cons += l <= LINK_FRAME_MAX ? link_rec_units(l) : 1;
				atomic_store(&p.rx->hdr.cons, p.cons);
			}
			break;
		case 6: {
			bool valid = p.prod != e.rx_cons;

			op_recv(&e, &p, fin_u16(&in) % FRAME_MAX, expect_len, &valid);
			break;
		}
		case 7: {
			uint16_t len = fin_u16(&in) % FRAME_MAX, cut = fin_u16(&in);
			struct iovec iov[2];
			uint32_t at = e.tx_prod;
			int r;

			cut = len ? cut % (len + 1) : 0;
			fill(src, len, at);
			iov[0] = (struct iovec){ src, cut };
			iov[1] = (struct iovec){ src + cut, (size_t)(len - cut) };
			r = link_send(&e, iov, 2, &wake);
			FUZZ_CHECK(r == LINK_OK || r == LINK_FULL || r == LINK_TOO_BIG ||
				   r == LINK_CORRUPT);
			FUZZ_CHECK(r != LINK_TOO_BIG || len > LINK_FRAME_MAX);
			if (r == LINK_OK) {
				const struct link_rec *rec = link_rec_at(e.tx, at);

				FUZZ_CHECK(len <= LINK_FRAME_MAX && e.tx_prod == at + link_rec_units(len));
				FUZZ_CHECK(atomic_load(&e.tx->hdr.prod) == e.tx_prod);
				/* Never more than a ring's worth in flight, by the consumer index we saw. */
				if (p.honest)
					FUZZ_CHECK(e.tx_prod - p.cons <= LINK_UNITS);
				/* The peer may have scribbled over the record since; only check when it did not. */
				if (p.honest)
					FUZZ_CHECK(rec->len == len && !memcmp(rec->data, src, len));
			} else if (r == LINK_CORRUPT) {
				FUZZ_CHECK(atomic_load(&e.tx->hdr.prod) == e.tx_prod);
			}
			break;
		}
		case 8: {
			struct link_end again;
			int r = link_end_attach(&again, shm, side);

			if (r == 0) {
				e = again;
				FUZZ_CHECK(atomic_load(&e.tx->hdr.prod) == e.tx_prod);
				FUZZ_CHECK(atomic_load(&e.rx->hdr.cons) == e.rx_cons);
				/* Resumed indices never claim more than a ring's worth. */
				FUZZ_CHECK(e.tx_prod - atomic_load(&e.tx->hdr.cons) <= LINK_UNITS);
			} else {
				FUZZ_CHECK(r == -EINVAL && !p.honest);
			}
			break;
		}
		default:
			break;
		}
	}
	return 0;
}
