/* SPDX-License-Identifier: MIT */
/*
 * One end of an inter-partition link: the reader and writer of the shared
 * rings whose layout is include/lvmm/link_ring.h.
 *
 * The other process is not trusted: everything read from the shared
 * mapping (the peer's index, a record's length) is validated before use and
 * read exactly once; each side keeps its own index privately and only
 * publishes it. A peer that corrupts the ring can lose or garble its own
 * frames, nothing else.
 */
#ifndef LVMM_LINK_RING_H
#define LVMM_LINK_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "common/util.h"
#include "lvmm/link_ring.h"

struct link_end {
	struct link_ring *tx, *rx; /* in the shared mapping */
	uint32_t tx_prod;          /* private copies: the truth for this side */
	uint32_t rx_cons;
	uint64_t corrupt;          /* times the peer's index made no sense */
};

enum link_result {
	LINK_OK = 0,
	LINK_EMPTY = -1,   /* nothing to receive */
	LINK_FULL = -2,    /* no room for the frame; want_space has been set */
	LINK_TOO_BIG = -3, /* frame larger than LINK_FRAME_MAX (or the buffer): dropped */
	LINK_CORRUPT = -4, /* the peer broke the protocol: frame dropped */
};

/*
 * Attach side (0 or 1) to a mapped shared area of LINK_SHM_SIZE bytes;
 * private indices resume from the published ones (the peer may have
 * run before). 0, or -EINVAL if the area is not a link of this revision.
 */
int link_end_attach(struct link_end *e, void *shm, unsigned side) MUST_CHECK;

/*
 * Copy a frame given as iovecs into the next tx record and publish it.
 * LINK_OK, LINK_FULL, LINK_TOO_BIG or LINK_CORRUPT. *wake says whether the
 * peer's bell must be rung.
 */
int link_send(struct link_end *e, const struct iovec *iov, unsigned n, bool *wake);

/* Has the peer published anything we have not taken (a hint: link_recv checks it)? */
static inline bool link_rx_ready(const struct link_end *e)
{
	return atomic_load_explicit(&e->rx->hdr.prod, memory_order_acquire) != e->rx_cons;
}

/*
 * Copy the next rx frame into buf (len bytes). Returns the frame length,
 * LINK_EMPTY, LINK_TOO_BIG (frame larger than buf: dropped) or
 * LINK_CORRUPT. *wake says whether the peer asked to hear about space.
 */
ssize_t link_recv(struct link_end *e, void *buf, size_t len, bool *wake);

#endif
