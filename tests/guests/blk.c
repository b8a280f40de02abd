/* SPDX-License-Identifier: MIT */
/*
 * blk: writes a recognisable pattern to the sectors named on the command
 * line (sectors=0,8,100; default 0,1,2,7), flushes, reads them back and
 * compares. Each 512-byte sector holds 16 copies of the 32-byte line
 * "lvmm blk test sector 00000123 \n" (the number in decimal, 8 digits).
 * blk_index=N picks the N-th virtio-blk device (default 0). blk_hold=1:
 * after "blk: ok", spin at CPL3 forever (a host test kills the VMM there and
 * checks the backing file).
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

/* blk_hold=1: never exit, never leave CPL3 (no port I/O, no exits). */
static void hold(void)
{
	char v[8];
	if (rt_cmdline_get("blk_hold", v, sizeof(v)) < 0 || strcmp(v, "0") == 0)
		return;
	for (;;)
		cpu_relax();
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
