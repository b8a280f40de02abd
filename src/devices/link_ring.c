// SPDX-License-Identifier: MIT
/*
 * The link ring's reader and writer. Every value read from the shared
 * mapping (the peer's published index, a record's length) is read once and
 * checked against the whole range before it is used; the unit a record is
 * accessed at is always a private counter modulo LINK_UNITS, and no record
 * is longer than the spare units past the ring's end (link_rec_at).
 */
#include "devices/link_ring.h"

#include <errno.h>
#include <string.h>

/* Both rings carry the magic and revision this build was written for. */
static bool ring_ok(const struct link_ring *r)
{
	return r->hdr.magic == LINK_MAGIC && r->hdr.revision == LINK_REVISION;
}

int link_end_attach(struct link_end *e, void *shm, unsigned side)
{
	struct link_ring *r = shm;

	if (side > 1 || !ring_ok(&r[0]) || !ring_ok(&r[1]))
		return -EINVAL;
	memset(e, 0, sizeof(*e));
	e->tx = &r[side];
	e->rx = &r[1 - side];
	e->tx_prod = atomic_load_explicit(&e->tx->hdr.prod, memory_order_acquire);
	e->rx_cons = atomic_load_explicit(&e->rx->hdr.cons, memory_order_acquire);
	/*
	 * Resume consistently even if the published pair is nonsense, and
	 * publish what we resumed from: the peer must see our real indices.
	 */
	if (e->tx_prod - atomic_load(&e->tx->hdr.cons) > LINK_UNITS)
		e->tx_prod = atomic_load(&e->tx->hdr.cons);
	if (atomic_load(&e->rx->hdr.prod) - e->rx_cons > LINK_UNITS)
		e->rx_cons = atomic_load(&e->rx->hdr.prod);
	atomic_store_explicit(&e->tx->hdr.prod, e->tx_prod, memory_order_release);
	atomic_store_explicit(&e->rx->hdr.cons, e->rx_cons, memory_order_release);
	return 0;
}

int link_send(struct link_end *e, const struct iovec *iov, unsigned n, bool *wake)
{
	uint32_t cons = atomic_load_explicit(&e->tx->hdr.cons, memory_order_acquire);
	uint32_t used = e->tx_prod - cons, need;
	struct link_rec *rec;
	size_t total = 0, off = 0;
	unsigned i;

	*wake = false;
	if (used > LINK_UNITS) {
		/* The consumer published an index that cannot be: drop, resync. */
		e->corrupt++;
		e->tx_prod = cons;
		atomic_store_explicit(&e->tx->hdr.prod, e->tx_prod, memory_order_release);
		return LINK_CORRUPT;
	}
	for (i = 0; i < n; i++) {
		if (iov[i].iov_len > LINK_FRAME_MAX - total)
			return LINK_TOO_BIG;
		total += iov[i].iov_len;
	}
	need = link_rec_units(total);
	if (need > LINK_UNITS - used) {
		atomic_store_explicit(&e->tx->hdr.want_space, 1, memory_order_seq_cst);
		/* The consumer may have freed units just before seeing the flag. */
		cons = atomic_load_explicit(&e->tx->hdr.cons, memory_order_seq_cst);
		used = e->tx_prod - cons;
		if (used > LINK_UNITS || need > LINK_UNITS - used)
			return LINK_FULL;
	}
	rec = link_rec_at(e->tx, e->tx_prod);
	for (i = 0; i < n; i++) {
		memcpy(rec->data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	rec->len = (uint32_t)total;
	e->tx_prod += need;
	atomic_store_explicit(&e->tx->hdr.prod, e->tx_prod, memory_order_seq_cst);
	/* Ring only if the consumer said it would sleep (it re-checks after saying so). */
	if (atomic_load_explicit(&e->tx->hdr.want_data, memory_order_seq_cst)) {
		atomic_store_explicit(&e->tx->hdr.want_data, 0, memory_order_relaxed);
		*wake = true;
	}
	return LINK_OK;
}

ssize_t link_recv(struct link_end *e, void *buf, size_t len, bool *wake)
{
	uint32_t prod = atomic_load_explicit(&e->rx->hdr.prod, memory_order_acquire);
	uint32_t avail = prod - e->rx_cons;
	const struct link_rec *rec;
	uint32_t flen;
	ssize_t r;

	*wake = false;
	if (avail == 0) {
		/* Announce that we will sleep, then look again: no lost wake-up. */
		atomic_store_explicit(&e->rx->hdr.want_data, 1, memory_order_seq_cst);
		prod = atomic_load_explicit(&e->rx->hdr.prod, memory_order_seq_cst);
		avail = prod - e->rx_cons;
		if (avail == 0)
			return LINK_EMPTY;
	}
	rec = link_rec_at(e->rx, e->rx_cons);
	flen = *(volatile const uint32_t *)&rec->len; /* read once: the peer may change it */
	if (avail > LINK_UNITS || flen > LINK_FRAME_MAX || link_rec_units(flen) > avail) {
		/*
		 * An index that cannot be, or a record longer than what was
		 * published (or than any record): skip everything published.
		 */
		e->corrupt++;
		e->rx_cons = prod;
		atomic_store_explicit(&e->rx->hdr.cons, e->rx_cons, memory_order_release);
		return LINK_CORRUPT;
	}
	if (flen > len) {
		r = LINK_TOO_BIG;
	} else {
		memcpy(buf, rec->data, flen);
		r = (ssize_t)flen;
	}
	e->rx_cons += link_rec_units(flen);
	atomic_store_explicit(&e->rx->hdr.cons, e->rx_cons, memory_order_seq_cst);
	if (atomic_load_explicit(&e->rx->hdr.want_space, memory_order_seq_cst)) {
		atomic_store_explicit(&e->rx->hdr.want_space, 0, memory_order_relaxed);
		*wake = true;
	}
	return r;
}
