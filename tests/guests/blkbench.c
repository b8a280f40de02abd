/* SPDX-License-Identifier: MIT */
/*
 * blkbench: virtio-blk throughput and latency on the first disk (blk_index=N
 * for another), timed with the TSC. Keeps qd requests in flight (one chain
 * each: header, the data in segments of at most the device's size_max, the
 * status byte), polls the used ring and resubmits each completed slot at
 * once. With EVENT_IDX (negotiated when offered) it kicks only when the
 * device's avail_event asks for it; without, unless VRING_USED_F_NO_NOTIFY.
 *
 *   mode=randread (default)  4 KiB reads at random bs-aligned offsets
 *   mode=randwrite           4 KiB writes, likewise
 *   mode=seqread             128 KiB reads, sequential, wrapping at the end
 *   mode=seqwrite            128 KiB writes, likewise (overwrites the disk)
 *   qd=N (16), secs=N (3), bs=BYTES (a multiple of 512, at most 1 MiB;
 *   overrides the mode's size), seed=N (1, random offsets), blk_index=N
 *   lat=1   ping-pong: also a histogram of each request's round trip
 *           (submit, kick, completion seen in the used ring), usually qd=1
 *   irq=1   ask for an interrupt per completion (used_event kept current),
 *           so the device pays for signalling as an interrupt-driven
 *           driver makes it; the guest keeps polling (it runs at CPL3 with
 *           interrupts masked, see rt.h). Default: 1 with lat=1, else 0.
 *   event_idx=0  do not negotiate VIRTIO_F_EVENT_IDX
 *   think_us=N   wait N us after each completion before the slot's next
 *           request (0): a driver with work between requests, which a
 *           device that stops looking at once needs a kick for each time
 *   spin=1  start every other CPU (MP table or MADT) and keep it busy at
 *           CPL3 for the run: a guest whose other vCPUs compute while one
 *           does I/O. Adds spin_mps=N, the APs' loop iterations per second
 *           in millions (summed), to the result line: what the VMM's own
 *           threads left them of the host's CPUs
 *
 * One result line, e.g.
 *   blkbench: randread iops=12345 mibps=48 bs=4096 qd=16 ios=37035 ms=3000 kicks=812
 * and with lat=1 also p50_us=.. p90_us=.. p99_us=.. min_us=.. (1 us buckets).
 * Exit 0; 1 on an I/O error or a request that did not complete in 5 s;
 * 2 on a bad command line, no device, or a disk that is too small.
 */
#include "virtio.h"

#define VIRTIO_BLK_F_SIZE_MAX (1ULL << 1)
#define VIRTIO_BLK_F_SEG_MAX  (1ULL << 2)
#define VIRTIO_BLK_F_RO       (1ULL << 5)
#define VIRTIO_BLK_T_IN  0
#define VIRTIO_BLK_T_OUT 1

#define MAX_BS    (1024 * 1024)
#define MAX_SEGS  16
#define MAX_QD    64
#define POOL      (32 * 1024 * 1024) /* data buffers; slots share it beyond that */
#define STALL_US  5000000ULL
#define HIST_US   20000              /* latency histogram: 1 us buckets up to 20 ms */

struct req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct slot {
	struct req_hdr hdr;
	volatile uint8_t status;
	uint64_t t0;
};

static struct virtio_dev dev;
static struct virtq q;
static struct slot slots[MAX_QD] __attribute__((aligned(64)));
static uint8_t pool[POOL] __attribute__((aligned(4096)));
static int8_t head_slot[VIRTQ_MAX_SIZE];
static uint32_t hist[HIST_US + 1];
static uint32_t seg_bytes = MAX_BS;
static int nsegs = 1;

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

static uint8_t *slot_buf(int s, uint32_t bs)
{
	return pool + ((uint64_t)s * bs) % (POOL - bs + 1);
}

static int submit(int s, uint32_t type, uint64_t sector, uint32_t bytes)
{
	struct virtq_buf b[MAX_SEGS + 2];
	uint8_t *data = slot_buf(s, bytes);
	int n = 0;

	slots[s].hdr = (struct req_hdr){ type, 0, sector };
	slots[s].status = 0xff;
	b[n++] = (struct virtq_buf){ &slots[s].hdr, sizeof(slots[s].hdr), 0 };
	for (uint32_t off = 0; off < bytes; off += seg_bytes) {
		uint32_t len = bytes - off < seg_bytes ? bytes - off : seg_bytes;
		b[n++] = (struct virtq_buf){ data + off, len, type == VIRTIO_BLK_T_IN };
	}
	b[n++] = (struct virtq_buf){ (const void *)&slots[s].status, 1, 1 };
	slots[s].t0 = rdtsc();
	int h = virtq_add(&q, b, n);
	if (h < 0)
		return -1;
	head_slot[h] = (int8_t)s;
	return 0;
}

static uint32_t percentile(uint64_t total, unsigned pct)
{
	uint64_t want = (total * pct + 99) / 100, seen = 0;
	for (uint32_t us = 0; us <= HIST_US; us++) {
		seen += hist[us];
		if (seen >= want && want)
			return us;
	}
	return HIST_US;
}

/* spin=1: the APs count until told to stop. */
static volatile uint64_t spins[RT_MAX_CPUS];
static volatile int spin_stop;

void ap_main(unsigned apic_id)
{
	uint64_t n = 0;

	while (!spin_stop) {
		n++;
		if (!(n & 1023))
			spins[apic_id] = n;
	}
	spins[apic_id] = n;
}

/* Start every AP spinning; how many were started. */
static int spin_start(void)
{
	uint8_t ids[RT_MAX_CPUS], aps[RT_MAX_CPUS];
	const char *src;
	int n = rt_find_cpus(ids, RT_MAX_CPUS, &src), k = 0;
	unsigned self = rt_cpu_id();

	for (int i = 0; i < n; i++)
		if (ids[i] != self && ids[i] < RT_MAX_CPUS)
			aps[k++] = ids[i];
	rt_start_aps(aps, k);
	return k;
}

static uint64_t spin_total(void)
{
	uint64_t t = 0;

	for (int i = 0; i < RT_MAX_CPUS; i++)
		t += spins[i];
	return t;
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
		rnd = 0, write = 0, bs = 128 * 1024;
	else if (!strcmp(mode, "seqwrite"))
		rnd = 0, write = 1, bs = 128 * 1024;
	else {
		printf("blkbench: bad mode=%s (randread, randwrite, seqread, seqwrite)\n", mode);
		return 2;
	}
	bs = (uint32_t)arg_u64("bs", bs);
	uint64_t qd = arg_u64("qd", 16), secs = arg_u64("secs", 3);
	int lat = (int)arg_u64("lat", 0), irq = (int)arg_u64("irq", (uint64_t)lat);
	uint64_t think_us = arg_u64("think_us", 0);
	int spin = (int)arg_u64("spin", 0);
	uint64_t want = VIRTIO_BLK_F_RO | VIRTIO_BLK_F_SIZE_MAX | VIRTIO_BLK_F_SEG_MAX;
	if (arg_u64("event_idx", 1))
		want |= VIRTIO_F_EVENT_IDX;
	rng = arg_u64("seed", 1) | 1;
	int index = (int)arg_u64("blk_index", 0);
	if (!bs || bs % 512 || bs > MAX_BS || !qd || qd > MAX_QD || !secs || secs > 3600) {
		printf("blkbench: need bs a multiple of 512 up to %u, qd 1-%d, secs 1-3600\n",
		       MAX_BS, MAX_QD);
		return 2;
	}

	if (virtio_find(VIRTIO_ID_BLK, index, &dev) || virtio_init(&dev, want) ||
	    virtq_setup(&dev, &q, 0, VIRTQ_MAX_SIZE)) {
		printf("blkbench: no usable virtio-blk device %d\n", index);
		return 2;
	}
	if (q.event_idx)
		virtq_want_interrupt(&q, irq);
	else if (!irq)
		virtq_no_interrupt(&q);
	virtio_driver_ok(&dev);
	uint64_t capacity;
	uint32_t size_max = 0, seg_max = 0;
	virtio_config_read(&dev, 0, &capacity, 8);
	if (dev.features & VIRTIO_BLK_F_SIZE_MAX)
		virtio_config_read(&dev, 8, &size_max, 4);
	if (dev.features & VIRTIO_BLK_F_SEG_MAX)
		virtio_config_read(&dev, 12, &seg_max, 4);
	if (size_max && size_max < seg_bytes)
		seg_bytes = size_max & ~511u;
	nsegs = (int)((bs + seg_bytes - 1) / seg_bytes);
	if (!seg_bytes || nsegs > MAX_SEGS || (seg_max && (uint32_t)nsegs > seg_max)) {
		printf("blkbench: %u bytes need %d segments of %u (seg_max %u)\n", bs, nsegs,
		       seg_bytes, seg_max);
		return 2;
	}
	if (qd > q.size / (uint32_t)(nsegs + 2)) {
		printf("blkbench: queue size %u allows qd %u at most\n", q.size,
		       q.size / (nsegs + 2));
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
	/* Writes carry recognisable bytes; the first pass also touches every page. */
	for (uint64_t i = 0; i < POOL; i += 64)
		snprintf((char *)pool + i, 64, "lvmm blkbench offset %08lu\n", i);
	printf("blkbench: device at 0x%lx, %lu sectors, queue %u%s; %s bs=%u qd=%lu for %lu s\n",
	       dev.base, capacity, q.size, q.event_idx ? ", event_idx" : "", mode, bs, qd, secs);

	uint64_t hz = rt_tsc_hz(), tpus = hz / 1000000;
	uint32_t type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	uint64_t next_block = 0, ios = 0, inflight = 0;
	if (spin && spin_start() < 1) {
		printf("blkbench: spin=1 needs a second CPU\n");
		return 2;
	}
	uint64_t spin0 = spin_total();
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
			if (lat) {
				uint64_t us = (last - slots[s].t0) / tpus;
				hist[us > HIST_US ? HIST_US : us]++;
			}
			while (think_us && rdtsc() - last < think_us * tpus)
				cpu_relax();
			if ((int64_t)(last - end) < 0) {
				uint64_t b = rnd ? xorshift() % nblocks : next_block++ % nblocks;
				submit(s, type, b * nsec, bs);
				inflight++;
				added++;
			}
		}
		if (got && irq && q.event_idx)
			virtq_want_interrupt(&q, 1);
		if (added)
			virtq_kick_if_needed(&q);
		if (!got) {
			if ((int64_t)(rdtsc() - last) > (int64_t)(STALL_US * tpus)) {
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
	uint64_t spun = spin_total() - spin0;
	spin_stop = 1;
	uint64_t ms = ticks / (hz / 1000);
	/* ios * hz / ticks, without overflowing for long runs. */
	uint64_t iops = (uint64_t)((unsigned __int128)ios * hz / ticks);
	uint64_t mibps = (uint64_t)((unsigned __int128)ios * bs * hz / ticks / (1024 * 1024));
	if (rnd)
		printf("blkbench: %s iops=%lu mibps=%lu bs=%u qd=%lu ios=%lu ms=%lu kicks=%lu",
		       mode, iops, mibps, bs, qd, ios, ms, q.kicks);
	else
		printf("blkbench: %s mibps=%lu iops=%lu bs=%u qd=%lu ios=%lu ms=%lu kicks=%lu",
		       mode, mibps, iops, bs, qd, ios, ms, q.kicks);
	if (lat) {
		uint32_t min = 0;
		while (min < HIST_US && !hist[min])
			min++;
		printf(" p50_us=%u p90_us=%u p99_us=%u min_us=%u", percentile(ios, 50),
		       percentile(ios, 90), percentile(ios, 99), min);
	}
	if (spin)
		printf(" spin_mps=%lu", (uint64_t)((unsigned __int128)spun * hz / ticks / 1000000));
	printf("\n");
	return 0;
}
