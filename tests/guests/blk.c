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
 */
#include "virtio.h"

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

int main(void)
{
	char arg[256];
	int index = 0;
	if (rt_cmdline_get("blk_index", arg, sizeof(arg)) > 0)
		index = (int)rt_strtou64(arg, NULL);
	if (vblk_open(&blk, index)) {
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
	hold();
	return 0;
}
