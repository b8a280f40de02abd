/* SPDX-License-Identifier: MIT */
/*
 * Inter-partition link rings: the shared-memory ABI.
 *
 * One memfd of LINK_SHM_SIZE bytes per link holds two single-producer /
 * single-consumer rings of fixed-size slots. The supervisor creates and
 * initialises it (link_shm_init) and passes it only to the link's two
 * ends, two partition processes that do not trust each other; it is never
 * part of any guest's RAM. Side s produces into ring s and consumes ring
 * 1 - s. Everything here crosses a process boundary, so the layout is
 * fixed (checked below) and carries a magic and a revision that an end
 * checks before it attaches (src/devices/link_ring.c).
 *
 * Index protocol: prod and cons are free-running 32-bit counters; the
 * producer alone writes prod, the consumer alone writes cons, and
 * prod - cons is the number of filled slots (0..LINK_SLOTS). A slot's len
 * is the frame length in bytes (0..LINK_SLOT_DATA), written before the
 * producer publishes prod. want_data: the consumer is about to sleep and
 * wants its bell rung; want_space: the producer waits for a free slot.
 */
#ifndef LVMM_LINK_RING_ABI_H
#define LVMM_LINK_RING_ABI_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LINK_MAGIC     0x4c4b4e31U /* "LKN1" */
#define LINK_REVISION  2           /* bump on any change below */
/*
 * A power of two. 1024 slots measured no faster than 256 (bench/link.sh:
 * with the ends on their own cores the copy keeps up; on one shared core
 * the guests' own queues, 128 buffers, bound what moves per scheduler
 * turn) and put 4 MiB of frames in flight through the cache instead of 1.
 */
#define LINK_SLOTS     256
#define LINK_SLOT_SIZE 2048
#define LINK_SLOT_HDR  8
#define LINK_SLOT_DATA (LINK_SLOT_SIZE - LINK_SLOT_HDR)

/* Producer and consumer fields sit on separate 64-byte cache lines. */
struct link_ring_hdr {
	_Atomic uint32_t prod;       /* written by the producer only */
	uint32_t magic;              /* LINK_MAGIC */
	_Atomic uint32_t want_data;  /* consumer is about to sleep: ring its bell */
	uint32_t revision;           /* LINK_REVISION */
	uint32_t pad0[12];
	_Atomic uint32_t cons;       /* written by the consumer only */
	_Atomic uint32_t want_space; /* producer asks to be woken when space frees up */
	uint32_t pad1[14];
};

struct link_slot {
	uint32_t len; /* frame bytes in data[], at most LINK_SLOT_DATA */
	uint32_t pad;
	uint8_t data[LINK_SLOT_DATA];
};

struct link_ring {
	struct link_ring_hdr hdr;
	struct link_slot slots[LINK_SLOTS];
};

/* Bytes of the shared memfd for one link: ring 0 then ring 1. */
#define LINK_SHM_SIZE (2 * sizeof(struct link_ring))

_Static_assert(offsetof(struct link_ring_hdr, prod) == 0, "link ABI: prod");
_Static_assert(offsetof(struct link_ring_hdr, magic) == 4, "link ABI: magic");
_Static_assert(offsetof(struct link_ring_hdr, want_data) == 8, "link ABI: want_data");
_Static_assert(offsetof(struct link_ring_hdr, revision) == 12, "link ABI: revision");
_Static_assert(offsetof(struct link_ring_hdr, cons) == 64, "link ABI: cons");
_Static_assert(offsetof(struct link_ring_hdr, want_space) == 68, "link ABI: want_space");
_Static_assert(sizeof(struct link_ring_hdr) == 128, "link ABI: header size");
_Static_assert(offsetof(struct link_slot, data) == LINK_SLOT_HDR, "link ABI: slot data");
_Static_assert(sizeof(struct link_slot) == LINK_SLOT_SIZE, "link ABI: slot size");
_Static_assert(offsetof(struct link_ring, slots) == 128, "link ABI: slots");
_Static_assert(sizeof(struct link_ring) == 128 + LINK_SLOTS * LINK_SLOT_SIZE, "link ABI: ring");
_Static_assert((LINK_SLOTS & (LINK_SLOTS - 1)) == 0, "link ABI: slot count is a power of two");
_Static_assert(sizeof(_Atomic uint32_t) == 4, "link ABI: lock-free 32-bit atomics");

/*
 * Initialise a shared area of LINK_SHM_SIZE bytes: both rings empty
 * (supervisor, once per link). Only the headers are written: a slot is
 * read only after its producer filled it, so the 1 MiB of slots stays
 * untouched (not resident) until traffic needs them.
 */
static inline void link_shm_init(void *shm)
{
	struct link_ring *r = shm;

	memset(&r[0].hdr, 0, sizeof(r[0].hdr));
	memset(&r[1].hdr, 0, sizeof(r[1].hdr));
	r[0].hdr.magic = r[1].hdr.magic = LINK_MAGIC;
	r[0].hdr.revision = r[1].hdr.revision = LINK_REVISION;
}

#endif
