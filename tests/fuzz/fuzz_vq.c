// SPDX-License-Identifier: MIT
/*
 * Fuzz the split-ring chain walker (vq_pop & co.) on raw guest memory.
 *
 * Input: [flags][iov_cap][avail_idx:2][used_event:2][max_bytes:4]
 *        [desc table: 16 * qsize][avail ring: 2 * qsize][rest: RAM A heap, then RAM B]
 * RAM A is [0, 16 KiB), RAM B [32 KiB, 36 KiB): the gap is a hole.
 * Invariants: every iovec lies wholly inside one RAM slot; counts and
 * lengths add up and respect the caps; the loop ends within queue-size pops.
 */
#include <errno.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "common/log.h"
#include "virtio/virtqueue.h"

#define RAM_A   0x4000
#define B_GPA   0x8000
#define RAM_B   0x1000
#define DESC    0x0000
#define AVAIL   0x0400
#define USED    0x0600
#define HEAP    0x1000
#define MAXQ    64

static uint8_t *ram;

static bool in_slot(const struct iovec *v)
{
	const uint8_t *b = v->iov_base;

	if (b >= ram && b < ram + RAM_A)
		return v->iov_len <= (size_t)(ram + RAM_A - b);
	if (b >= ram + RAM_A && b < ram + RAM_A + RAM_B)
		return v->iov_len <= (size_t)(ram + RAM_A + RAM_B - b);
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	static struct iovec iov[VQ_MAX_CHAIN + 1];
	struct gmem gm;
	struct virtqueue vq;
	struct vq_chain c;
	uint8_t flags = fin_u8(&in);
	unsigned cap = fin_u8(&in) % 64 + 1, pops = 0, i;
	uint16_t qsize = (uint16_t)(1u << (flags >> 2 & 7));
	uint16_t avail_idx = fin_u16(&in), used_event = fin_u16(&in);
	uint32_t max_bytes = fin_u32(&in);
	uint64_t features = 0;
	int r;

	log_level = LOG_ERR;
	if (qsize > MAXQ)
		qsize = MAXQ;
	if (!ram && !(ram = aligned_alloc(4096, RAM_A + RAM_B)))
		abort();
	memset(ram, 0, RAM_A + RAM_B);
	fin_copy(&in, ram + DESC, 16ULL * qsize);
	fin_copy(&in, ram + AVAIL + 4, 2ULL * qsize);
	fin_copy(&in, ram + HEAP, RAM_A - HEAP);
	fin_copy(&in, ram + RAM_A, RAM_B);
	memcpy(ram + AVAIL + 2, &avail_idx, 2);
	memcpy(ram + AVAIL + 4 + 2 * qsize, &used_event, 2);
	if (flags & 1)
		features |= 1ULL << 28;
	if (flags & 2)
		features |= 1ULL << 29;

	memset(&gm, 0, sizeof(gm));
	if (gmem_add_slot(&gm, 0, RAM_A, ram, 0, false) ||
	    gmem_add_slot(&gm, B_GPA, RAM_B, ram + RAM_A, RAM_A, false))
		abort();
	vq_init(&vq, &gm, "fuzz", 0, MAXQ, flags & 0x80 ? max_bytes : 0);
	vq.size = qsize;
	vq.desc_gpa = DESC;
	vq.avail_gpa = AVAIL;
	vq.used_gpa = USED;
	FUZZ_CHECK(vq_set_ready(&vq, features) == 0);

	c = (struct vq_chain){ .iov = iov, .iov_cap = cap };
	if (flags & 0x40)
		vq_disable_notify(&vq);
	for (;;) {
		uint64_t out = 0, inl = 0;

		r = vq_pop(&vq, &c);
		if (r > 0 && pops % 3 == 2) {
			/* Give it back and take it again (what net rx does when short of buffers). */
			vq_unpop(&vq, 1);
			r = vq_pop(&vq, &c);
		}
		if (r <= 0)
			break;
		pops++;
		FUZZ_CHECK(pops <= qsize);
		FUZZ_CHECK(c.head < qsize);
		FUZZ_CHECK(c.n_out + c.n_in <= cap);
		FUZZ_CHECK(c.ndesc >= c.n_out + c.n_in && c.ndesc <= VQ_MAX_CHAIN);
		for (i = 0; i < c.n_out + c.n_in; i++) {
			FUZZ_CHECK(iov[i].iov_len > 0);
			FUZZ_CHECK(in_slot(&iov[i]));
			if (i < c.n_out)
				out += iov[i].iov_len;
			else
				inl += iov[i].iov_len;
		}
		FUZZ_CHECK(out == c.out_len && inl == c.in_len);
		FUZZ_CHECK(out + inl <= vq.max_chain_bytes);
		/*
		 * Scribble the writable buffers like a device would: they may
		 * overlap the rings (the guest's choice) and change what comes next.
		 */
		if (c.n_in)
			memset(iov[c.n_out].iov_base, 0xa5, iov[c.n_out].iov_len);
		vq_push(&vq, c.head, c.in_len);
		vq_flush(&vq);
		(void)vq_should_notify(&vq);
		if ((flags & 0x20) && vq_enable_notify(&vq))
			pops += 0; /* more work: the loop pops it anyway */
	}
	if (r < 0) {
		FUZZ_CHECK(vq.broken && vq.err != VIRTIO_ERR_NONE && vq.err <= VIRTIO_ERR_MAX);
		FUZZ_CHECK(vq_pop(&vq, &c) == -EIO);
	}
	(void)vq_avail_count(&vq);
	if (vq_notify_on_more(&vq))
		FUZZ_CHECK(vq.ready);
	return 0;
}
