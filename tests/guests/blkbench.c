/* SPDX-License-Identifier: MIT */
/*
 * blkbench: virtio-blk throughput on the first disk (blk_index=N for
 * another), timed with the TSC. Keeps qd requests in flight (one
 * 3-descriptor chain each: header, data, status), polls the used ring,
 * resubmits each completed slot at once and kicks only when the device has
 * not set VRING_USED_F_NO_NOTIFY. Interrupts are suppressed
 * (VRING_AVAIL_F_NO_INTERRUPT).
 *
 *   mode=randread (default)  4 KiB reads at random 4 KiB-aligned offsets
 *   mode=randwrite           4 KiB writes, likewise
 *   mode=seqread             128 KiB reads, sequential, wrapping at the end
 *   mode=seqwrite            128 KiB writes, likewise (overwrites the disk)
 *   qd=N (16), secs=N (3), bs=BYTES (a multiple of 512, at most 128 KiB;
 *   overrides the mode's size), seed=N (1, random offsets), blk_index=N
 *
 * One result line, e.g.
 *   blkbench: randread iops=12345 mibps=48 bs=4096 qd=16 ios=37035 ms=3000
 * Exit 0; 1 on an I/O error or a request that did not complete in 5 s;
 * 2 on a bad command line, no device, or a disk that is too small.
 */
#include "virtio.h"

#define VIRTIO_BLK_F_RO (1ULL << 5)
#define VIRTIO_BLK_T_IN  0
#define VIRTIO_BLK_T_OUT 1

#define MAX_BS    (128 * 1024)
#define MAX_QD    (VIRTQ_MAX_SIZE / 3)
#define STALL_US  5000000ULL

struct req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct slot {
	struct req_hdr hdr;
	volatile uint8_t status;
};

static struct virtio_dev dev;
static struct virtq q;
static struct slot slots[MAX_QD] __attribute__((aligned(64)));
static uint8_t bufs[MAX_QD][MAX_BS] __attribute__((aligned(4096)));
static int8_t head_slot[VIRTQ_MAX_SIZE];

static uint64_t arg_u64(const char *key, uint64_t def)
{
	char arg[32];
	if (rt_cmdline_get(key, arg, sizeof(arg)) > 0)
		return rt_strtou64(arg, NULL);
	return def;
}

static uint64_t rng;

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int submit(int s, uint32_t type, uint64_t sector, uint32_t bytes)
{
	slots[s].hdr = (struct req_hdr){ type, 0, sector };
	slots[s].status = 0xff;
	struct virtq_buf b[3] = {
		{ &slots[s].hdr, sizeof(slots[s].hdr), 0 },
		{ bufs[s], bytes, type == VIRTIO_BLK_T_IN },
		{ (const void *)&slots[s].status, 1, 1 },
	};
	int h = virtq_add(&q, b, 3);
	if (h < 0)
		return -1;
	head_slot[h] = (int8_t)s;
	return 0;
}

int main(void)
{
	char mode[16] = "randread";
	rt_cmdline_get("mode", mode, sizeof(mode));
	int rnd, write;
	uint32_t bs;
	if (!strcmp(mode, "randread"))
		rnd = 1, write = 0, bs = 4096;
	else if (!strcmp(mode, "randwrite"))
		rnd = 1, write = 1, bs = 4096;
	else if (!strcmp(mode, "seqread"))
		rnd = 0, write = 0, bs = MAX_BS;
	else if (!strcmp(mode, "seqwrite"))
		rnd = 0, write = 1, bs = MAX_BS;
	else {
		printf("blkbench: bad mode=%s (randread, randwrite, seqread, seqwrite)\n", mode);
		return 2;
	}
	bs = (uint32_t)arg_u64("bs", bs);
	uint64_t qd = arg_u64("qd", 16), secs = arg_u64("secs", 3);
	rng = arg_u64("seed", 1) | 1;
	int index = (int)arg_u64("blk_index", 0);
	if (!bs || bs % 512 || bs > MAX_BS || !qd || qd > MAX_QD || !secs || secs > 3600) {
		printf("blkbench: need bs a multiple of 512 up to %u, qd 1-%d, secs 1-3600\n",
		       MAX_BS, MAX_QD);
		return 2;
	}

	if (virtio_find(VIRTIO_ID_BLK, index, &dev) ||
	    virtio_init(&dev, VIRTIO_BLK_F_RO) ||
	    virtq_setup(&dev, &q, 0, VIRTQ_MAX_SIZE)) {
		printf("blkbench: no usable virtio-blk device %d\n", index);
		return 2;
	}
	virtq_no_interrupt(&q);
	virtio_driver_ok(&dev);
	uint64_t capacity;
	virtio_config_read(&dev, 0, &capacity, 8);
	if (qd > q.size / 3u) {
		printf("blkbench: queue size %u allows qd %u at most\n", q.size, q.size / 3u);
		return 2;
	}
	uint64_t nsec = bs / 512, nblocks = capacity / nsec;
	if (nblocks < qd) {
		printf("blkbench: disk of %lu sectors is too small for %lu x %u bytes\n",
		       capacity, qd, bs);
		return 2;
	}
	if (write && (dev.features & VIRTIO_BLK_F_RO)) {
		printf("blkbench: the disk is read-only\n");
		return 2;
	}
	for (uint64_t s = 0; s < qd; s++)
		for (uint32_t i = 0; i < bs; i += 64)
			snprintf((char *)bufs[s] + i, 64, "lvmm blkbench slot %02lu offset %06u\n", s, i);
	printf("blkbench: device at 0x%lx, %lu sectors, queue %u; %s bs=%u qd=%lu for %lu s\n",
	       dev.base, capacity, q.size, mode, bs, qd, secs);

	uint64_t hz = rt_tsc_hz();
	uint32_t type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	uint64_t next_block = 0, ios = 0, inflight = 0;
	uint64_t t0 = rdtsc(), end = t0 + secs * hz, last = t0;
	for (uint64_t s = 0; s < qd; s++) {
		uint64_t b = rnd ? xorshift() % nblocks : next_block++ % nblocks;
		submit((int)s, type, b * nsec, bs);
		inflight++;
	}
	virtq_kick(&q);
	while (inflight) {
		int added = 0, got = 0;
		uint32_t len;
		int h;
		while ((h = virtq_get(&q, &len)) >= 0) {
			int s = head_slot[h];
			got++;
			inflight--;
			if (slots[s].status != VIRTIO_BLK_S_OK) {
				printf("blkbench: request failed: status %u\n", slots[s].status);
				return 1;
			}
			ios++;
			last = rdtsc();
			if ((int64_t)(last - end) < 0) {
				uint64_t b = rnd ? xorshift() % nblocks : next_block++ % nblocks;
				submit(s, type, b * nsec, bs);
				inflight++;
				added++;
			}
		}
		if (added)
			virtq_kick_if_needed(&q);
		if (!got) {
			if ((int64_t)(rdtsc() - last) > (int64_t)(STALL_US * (hz / 1000000))) {
				printf("blkbench: %lu requests stalled for 5 s (used idx %u, avail idx %u)\n",
				       inflight, q.used->idx, q.avail->idx);
				return 1;
			}
			cpu_relax();
		}
	}
	uint64_t ticks = last - t0;
	if (!ticks)
		ticks = 1;
	uint64_t ms = ticks / (hz / 1000);
	/* ios * hz / ticks, without overflowing for long runs. */
	uint64_t iops = (uint64_t)((unsigned __int128)ios * hz / ticks);
	uint64_t mibps = (uint64_t)((unsigned __int128)ios * bs * hz / ticks / (1024 * 1024));
	if (rnd)
		printf("blkbench: %s iops=%lu mibps=%lu bs=%u qd=%lu ios=%lu ms=%lu\n",
		       mode, iops, mibps, bs, qd, ios, ms);
	else
		printf("blkbench: %s mibps=%lu iops=%lu bs=%u qd=%lu ios=%lu ms=%lu\n",
		       mode, mibps, iops, bs, qd, ios, ms);
	return 0;
}
