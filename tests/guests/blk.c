/* SPDX-License-Identifier: MIT */
/*
 * blk: writes a recognisable pattern to the sectors named on the command
 * line (sectors=0,8,100; default 0,1,2,7), flushes, reads them back and
 * compares. Each 512-byte sector holds 16 copies of the 32-byte line
 * "lvmm blk test sector 00000123 \n" (the number in decimal, 8 digits).
 * blk_index=N picks the N-th virtio-blk device (default 0). blk_hold=1:
 * after "blk: ok", spin at CPL3 forever (a host test kills the VMM there and
 * checks the backing file).
 *
 * blk_log=1: an append-only log of flushed records instead, for tests that
 * kill, stop and restart the partition while it writes (the chaos test).
 * Sector 0 holds "lvmm blk log next=%08lu\n" (the first free record), record
 * K is sector K: 8 copies of a 64-byte line "lvmm blk log record %08lu boot
 * %08x" padded with spaces and ending in '\n', where boot is a value taken
 * from the TSC at start, different for every boot. For each record: write it,
 * write the header that points past it, flush, and only then print
 *   blk: flushed record K boot B
 * so every record the console names was flushed, and no later boot (which
 * resumes at the header's next, "blk: log resumes at record K boot B")
 * writes over it. log_interval_ms=N (default 20) between records,
 * log_max=N records per boot (default: until the disk is full, then
 * "blk: log full" and a spin like blk_hold). Exit 1 on an I/O error.
 *
 * zap=1: the device is opened with VIRTIO_BLK_F_DISCARD and
 * VIRTIO_BLK_F_WRITE_ZEROES as well (exit 1 when either is not offered).
 * After the pattern is written, flushed and verified, with G the device's
 * discard_sector_alignment (8 if it gives none) it sends one request per
 * range, one segment each (struct virtio_blk_discard_write_zeroes):
 *   DISCARD                    sectors [G, 2G)
 *   WRITE_ZEROES               sectors [3G, 4G)
 *   WRITE_ZEROES with UNMAP    sectors [5G, 6G)
 * printing "blk: zap: <what> sectors A..B: status S" for each (S must be
 * 0), flushes (with FLUSH), reads every sector of the three ranges back and
 * requires zeroes ("blk: zap: sectors A..B read back as zeroes"; a discard
 * need not zero per the spec, but lvmm punches a hole), then prints
 * "blk: zap ok" (and holds with blk_hold=1). The sectors between the
 * ranges are not touched. Needs a writable disk of 6G sectors or more.
 */
#include "virtio.h"

#define VIRTIO_BLK_F_RO           (1ULL << 5)
#define VIRTIO_BLK_F_FLUSH        (1ULL << 9)
#define VIRTIO_BLK_F_DISCARD      (1ULL << 13)
#define VIRTIO_BLK_F_WRITE_ZEROES (1ULL << 14)
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_WZ_UNMAP       1U

/* struct virtio_blk_config offsets (virtio 1.x, 5.2.4). */
#define BLK_CFG_MAX_DISCARD_SECTORS 36
#define BLK_CFG_MAX_DISCARD_SEG     40
#define BLK_CFG_DISCARD_ALIGNMENT   44
#define BLK_CFG_MAX_WZ_SECTORS      48
#define BLK_CFG_MAX_WZ_SEG          52
#define BLK_CFG_WZ_MAY_UNMAP        56

static struct vblk blk;
static uint8_t wbuf[512] __attribute__((aligned(512)));
static uint8_t rbuf[512] __attribute__((aligned(512)));

static void fill_sector(uint64_t sector)
{
	char line[40];
	snprintf(line, sizeof(line), "lvmm blk test sector %08lu \n", sector);
	for (int i = 0; i < 16; i++)
		memcpy(wbuf + 32 * i, line, 32);
}

static uint64_t arg_u64(const char *key, uint64_t def)
{
	char v[24];
	if (rt_cmdline_get(key, v, sizeof(v)) > 0)
		return rt_strtou64(v, NULL);
	return def;
}

/* blk_hold=1: never exit, never leave CPL3 (no port I/O, no exits). */
static void hold(void)
{
	char v[8];
	if (rt_cmdline_get("blk_hold", v, sizeof(v)) < 0 || strcmp(v, "0") == 0)
		return;
	for (;;)
		cpu_relax();
}

static const char log_magic[] = "lvmm blk log next=";

static void fill_record(uint64_t k, uint32_t boot)
{
	char line[72];
	int n = snprintf(line, sizeof(line), "lvmm blk log record %08lu boot %08x", k, boot);
	for (int i = n; i < 63; i++)
		line[i] = ' ';
	line[63] = '\n';
	for (int i = 0; i < 8; i++)
		memcpy(wbuf + 64 * i, line, 64);
}

static int log_mode(void)
{
	uint64_t interval_us = arg_u64("log_interval_ms", 20) * 1000;
	uint64_t max = arg_u64("log_max", 0), hz = rt_tsc_hz(), next = 1, done = 0;
	uint64_t t0 = rdtsc();
	uint32_t boot = (uint32_t)t0 ^ (uint32_t)(t0 >> 29);
	int st;

	if (blk.read_only || !blk.has_flush || blk.capacity < 2) {
		printf("blk: the log needs a writable disk of 2 sectors or more with flush\n");
		return 2;
	}
	st = vblk_read(&blk, 0, rbuf, 1);
	if (st != VIRTIO_BLK_S_OK) {
		printf("blk: read of the log header failed: status %d\n", st);
		return 1;
	}
	if (!memcmp(rbuf, log_magic, sizeof(log_magic) - 1)) {
		const char *e;
		uint64_t v = rt_strtou64((const char *)rbuf + sizeof(log_magic) - 1, &e);
		if (*e == '\n' && v >= 1 && v <= blk.capacity)
			next = v;
	}
	printf("blk: log resumes at record %lu boot %08x\n", next, boot);
	for (uint64_t due = rdtsc(); next < blk.capacity && (!max || done < max); done++) {
		while ((int64_t)(rdtsc() - due) < 0)
			cpu_relax();
		due = rdtsc() + interval_us * (hz / 1000000);
		fill_record(next, boot);
		st = vblk_write(&blk, next, wbuf, 1);
		if (st != VIRTIO_BLK_S_OK) {
			printf("blk: write of record %lu failed: status %d\n", next, st);
			return 1;
		}
		memset(wbuf, 0, sizeof(wbuf));
		snprintf((char *)wbuf, sizeof(wbuf), "%s%08lu\n", log_magic, next + 1);
		st = vblk_write(&blk, 0, wbuf, 1);
		if (st == VIRTIO_BLK_S_OK)
			st = vblk_flush(&blk);
		if (st != VIRTIO_BLK_S_OK) {
			printf("blk: header or flush after record %lu failed: status %d\n", next, st);
			return 1;
		}
		printf("blk: flushed record %lu boot %08x\n", next, boot);
		next++;
	}
	if (next >= blk.capacity) {
		printf("blk: log full\n");
		for (;;)
			cpu_relax();
	}
	printf("blk: log wrote %lu records\n", done);
	return 0;
}

/* One DISCARD / WRITE_ZEROES request of one segment: header, segment
 * (device-readable), status byte (device-writable). */
static struct {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
} dwz_hdr;
static struct {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
} dwz_seg;
static volatile uint8_t dwz_status;

static int dwz_request(uint32_t type, uint64_t sector, uint32_t n, uint32_t flags)
{
	_Static_assert(sizeof(dwz_hdr) == 16 && sizeof(dwz_seg) == 16, "virtio-blk layouts");
	dwz_hdr.type = type;
	dwz_hdr.reserved = 0;
	dwz_hdr.sector = 0;
	dwz_seg.sector = sector;
	dwz_seg.num_sectors = n;
	dwz_seg.flags = flags;
	dwz_status = 0xff;
	struct virtq_buf bufs[3] = {
		{ &dwz_hdr, sizeof(dwz_hdr), 0 },
		{ &dwz_seg, sizeof(dwz_seg), 0 },
		{ (const void *)&dwz_status, 1, 1 },
	};
	if (virtq_add(&blk.q, bufs, 3) < 0)
		return -1;
	virtq_kick(&blk.q);
	if (virtq_wait(&blk.q, NULL, 5000000) < 0)
		return -1;
	return dwz_status;
}

static uint32_t cfg32(uint32_t off)
{
	uint32_t v = 0;
	virtio_config_read(&blk.dev, off, &v, 4);
	return v;
}

static int zap(void)
{
	static const struct {
		const char *what;
		uint32_t type, flags, at; /* at: the range's start in granules */
	} steps[] = {
		{ "discard", VIRTIO_BLK_T_DISCARD, 0, 1 },
		{ "write-zeroes", VIRTIO_BLK_T_WRITE_ZEROES, 0, 3 },
		{ "write-zeroes unmap", VIRTIO_BLK_T_WRITE_ZEROES, VIRTIO_BLK_WZ_UNMAP, 5 },
	};
	uint64_t want = VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES;
	int st;

	if ((blk.dev.features & want) != want) {
		printf("blk: zap: FAIL: the device did not offer%s%s (features 0x%lx)\n",
		       blk.dev.features & VIRTIO_BLK_F_DISCARD ? "" : " DISCARD",
		       blk.dev.features & VIRTIO_BLK_F_WRITE_ZEROES ? "" : " WRITE_ZEROES",
		       blk.dev.features);
		return 1;
	}
	uint32_t g = cfg32(BLK_CFG_DISCARD_ALIGNMENT), max_d = cfg32(BLK_CFG_MAX_DISCARD_SECTORS);
	uint32_t max_z = cfg32(BLK_CFG_MAX_WZ_SECTORS);
	uint8_t may_unmap = 0;
	virtio_config_read(&blk.dev, BLK_CFG_WZ_MAY_UNMAP, &may_unmap, 1);
	printf("blk: zap: discard alignment %u sectors, max discard %u sectors x %u segments, "
	       "max write-zeroes %u x %u, may unmap %u\n", g, max_d, cfg32(BLK_CFG_MAX_DISCARD_SEG),
	       max_z, cfg32(BLK_CFG_MAX_WZ_SEG), may_unmap);
	if (!g)
		g = 8;
	if (g > max_d || g > max_z || 6ULL * g > blk.capacity) {
		printf("blk: zap: FAIL: ranges of %u sectors do not fit (disk %lu sectors)\n", g,
		       blk.capacity);
		return 1;
	}
	for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		uint64_t a = (uint64_t)steps[i].at * g;
		st = dwz_request(steps[i].type, a, g, steps[i].flags);
		printf("blk: zap: %s sectors %lu..%lu: status %d\n", steps[i].what, a, a + g - 1, st);
		if (st != VIRTIO_BLK_S_OK)
			return 1;
	}
	if (blk.has_flush && (st = vblk_flush(&blk)) != VIRTIO_BLK_S_OK) {
		printf("blk: zap: flush failed: status %d\n", st);
		return 1;
	}
	for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		uint64_t a = (uint64_t)steps[i].at * g;
		for (uint64_t s = a; s < a + g; s++) {
			memset(rbuf, 0xa5, sizeof(rbuf));
			st = vblk_read(&blk, s, rbuf, 1);
			if (st != VIRTIO_BLK_S_OK) {
				printf("blk: zap: read of sector %lu failed: status %d\n", s, st);
				return 1;
			}
			for (int k = 0; k < 512; k++) {
				if (rbuf[k]) {
					printf("blk: zap: FAIL: sector %lu byte %d is 0x%02x after %s\n", s,
					       k, rbuf[k], steps[i].what);
					return 1;
				}
			}
		}
		printf("blk: zap: sectors %lu..%lu read back as zeroes\n", a, a + g - 1);
	}
	printf("blk: zap ok\n");
	return 0;
}

int main(void)
{
	char arg[256];
	int index = 0, zap_mode = arg_u64("zap", 0) != 0;
	if (rt_cmdline_get("blk_index", arg, sizeof(arg)) > 0)
		index = (int)rt_strtou64(arg, NULL);
	if (vblk_open_features(&blk, index,
		      zap_mode ? VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES : 0)) {
		printf("blk: no virtio-blk device %d\n", index);
		return 2;
	}
	printf("blk: device at 0x%lx irq %u, %lu sectors%s%s\n", blk.dev.base,
	       blk.dev.irq, blk.capacity, blk.read_only ? ", read-only" : "",
	       blk.has_flush ? ", flush" : "");

	if (arg_u64("blk_log", 0))
		return log_mode();

	const char *list = "0,1,2,7";
	if (rt_cmdline_get("sectors", arg, sizeof(arg)) > 0)
		list = arg;
	uint64_t sectors[64];
	int n = 0;
	for (const char *p = list; *p && n < 64;) {
		const char *e;
		sectors[n++] = rt_strtou64(p, &e);
		if (e == p)
			break;
		p = *e == ',' ? e + 1 : e;
	}
	for (int i = 0; i < n; i++) {
		if (sectors[i] >= blk.capacity) {
			printf("blk: sector %lu is beyond the disk\n", sectors[i]);
			return 2;
		}
	}

	if (blk.read_only) {
		/* Writes must be refused; reads must work. */
		fill_sector(sectors[0]);
		int st = vblk_write(&blk, sectors[0], wbuf, 1);
		printf("blk: write to read-only disk: status %d\n", st);
		if (vblk_read(&blk, sectors[0], rbuf, 1) != VIRTIO_BLK_S_OK) {
			printf("blk: read failed\n");
			return 1;
		}
		if (st == VIRTIO_BLK_S_OK) {
			printf("blk: FAIL: read-only disk accepted a write\n");
			return 1;
		}
		printf("blk: ok (read-only)\n");
		if (zap_mode && zap()) /* no DISCARD / WRITE_ZEROES offered: fails */
			return 1;
		hold();
		return 0;
	}

	uint64_t t0 = rdtsc();
	for (int i = 0; i < n; i++) {
		fill_sector(sectors[i]);
		int st = vblk_write(&blk, sectors[i], wbuf, 1);
		if (st != VIRTIO_BLK_S_OK) {
			printf("blk: write of sector %lu failed: status %d\n", sectors[i], st);
			return 1;
		}
	}
	if (blk.has_flush) {
		int st = vblk_flush(&blk);
		if (st != VIRTIO_BLK_S_OK) {
			printf("blk: flush failed: status %d\n", st);
			return 1;
		}
	}
	for (int i = 0; i < n; i++) {
		memset(rbuf, 0, sizeof(rbuf));
		int st = vblk_read(&blk, sectors[i], rbuf, 1);
		if (st != VIRTIO_BLK_S_OK) {
			printf("blk: read of sector %lu failed: status %d\n", sectors[i], st);
			return 1;
		}
		fill_sector(sectors[i]);
		if (memcmp(rbuf, wbuf, 512) != 0) {
			printf("blk: sector %lu reads back different data\n", sectors[i]);
			return 1;
		}
	}
	uint64_t us = (rdtsc() - t0) / (rt_tsc_hz() / 1000000);
	printf("blk: wrote, flushed and verified %d sectors in %lu us\n", n, us);
	printf("blk: ok\n");
	if (zap_mode && zap())
		return 1;
	hold();
	return 0;
}
