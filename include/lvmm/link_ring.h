/* SPDX-License-Identifier: MIT */
/*
 * Inter-partition link rings: the shared-memory ABI.
 *
 * One memfd of LINK_SHM_SIZE bytes per link holds two single-producer /
 * single-consumer rings of variable-size records. The supervisor creates and
 * initialises it (link_shm_init) and passes it only to the link's two
 * ends, two partition processes that do not trust each other; it is never
 * part of any guest's RAM. Side s produces into ring s and consumes ring
 * 1 - s. Everything here crosses a process boundary, so the layout is
 * fixed (checked below) and carries a magic and a revision that an end
 * checks before it attaches (src/devices/link_ring.c).
 *
 * Records, not slots: each ring is LINK_UNITS units of LINK_UNIT (64)
 * bytes, and a frame takes as many whole units as its 8-byte record
 * header plus its bytes need (a 64-byte frame behind its virtio header:
 * 2 units; 1514 bytes: 24), so a 1 MiB ring holds 8192 small frames or
 * 682 full-size ones. On a host core shared with spinning threads, what a
 * ring holds is what moves per scheduler round (bench/link.sh, one core,
 * a busy loop, 1500-byte frames: 19 k/s at 512 KiB, 32 k/s at 1 MiB, 37 k/s
 * at 2 MiB); fixed 2 KiB slots held 256 frames of any size.
 *
 * Index protocol: prod and cons are free-running 32-bit counters of units;
 * the producer alone writes prod, the consumer alone writes cons, and
 * prod - cons is the number of units filled (0..LINK_UNITS). The record
 * at counter i starts at unit i % LINK_UNITS and is contiguous in memory:
 * one that starts near the end runs on into LINK_REC_UNITS_MAX spare units
 * past it instead of wrapping (the units it covers at the start of the
 * ring are counted as used, and left unwritten). A record's len is the
 * frame length in bytes (0..LINK_FRAME_MAX), written before the producer
 * publishes prod. want_data: the consumer is about to sleep and wants its
 * bell rung; want_space: the producer waits for free units.
 */
#ifndef LVMM_LINK_RING_ABI_H
#define LVMM_LINK_RING_ABI_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LINK_MAGIC     0x4c4b4e31U /* "LKN1" */
#define LINK_REVISION  3           /* bump on any change below */
#define LINK_UNIT      64          /* bytes: a record starts on a cache line */
#define LINK_UNITS     16384       /* a power of two: 1 MiB of records per ring */
#define LINK_REC_HDR   8
#define LINK_REC_MAX   2048        /* header + frame */
#define LINK_FRAME_MAX (LINK_REC_MAX - LINK_REC_HDR)
#define LINK_REC_UNITS_MAX (LINK_REC_MAX / LINK_UNIT)

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

struct link_rec {
	uint32_t len; /* frame bytes in data[], at most LINK_FRAME_MAX */
	uint32_t pad;
	uint8_t data[];
};

struct link_ring {
	struct link_ring_hdr hdr;
	/* The records, then the spare units a record near the end runs on into. */
	uint8_t data[(LINK_UNITS + LINK_REC_UNITS_MAX) * LINK_UNIT];
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
_Static_assert(offsetof(struct link_rec, data) == LINK_REC_HDR, "link ABI: record data");
_Static_assert(offsetof(struct link_ring, data) == 128, "link ABI: records");
_Static_assert(sizeof(struct link_ring) == 128 + (LINK_UNITS + LINK_REC_UNITS_MAX) * LINK_UNIT,
	       "link ABI: ring");
_Static_assert((LINK_UNITS & (LINK_UNITS - 1)) == 0, "link ABI: unit count is a power of two");
_Static_assert(LINK_REC_MAX % LINK_UNIT == 0, "link ABI: a largest record is whole units");
_Static_assert(sizeof(_Atomic uint32_t) == 4, "link ABI: lock-free 32-bit atomics");

/*
 * Initialise a shared area of LINK_SHM_SIZE bytes: both rings empty
 * (supervisor, once per link). Only the headers are written: a record is
 * read only after its producer filled it, so the 2 MiB of records stays
 * untouched (not resident) until traffic needs it.
 */
static inline void link_shm_init(void *shm)
{
	struct link_ring *r = shm;

	memset(&r[0].hdr, 0, sizeof(r[0].hdr));
	memset(&r[1].hdr, 0, sizeof(r[1].hdr));
	r[0].hdr.magic = r[1].hdr.magic = LINK_MAGIC;
	r[0].hdr.revision = r[1].hdr.revision = LINK_REVISION;
}

/* Units a record of a len-byte frame takes (len at most LINK_FRAME_MAX). */
static inline uint32_t link_rec_units(size_t len)
{
	return (uint32_t)((LINK_REC_HDR + len + LINK_UNIT - 1) / LINK_UNIT);
}

/* The record at counter idx: any idx names one inside the ring's data. */
static inline struct link_rec *link_rec_at(struct link_ring *r, uint32_t idx)
{
	return (struct link_rec *)(void *)&r->data[(size_t)(idx % LINK_UNITS) * LINK_UNIT];
}

#endif
