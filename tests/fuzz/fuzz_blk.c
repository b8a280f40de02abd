// SPDX-License-Identifier: MIT
/*
 * Fuzz virtio-blk request handling end to end: the real device on a 64 KiB
 * memfd image, brought up through the MMIO registers, with a fuzzed ring,
 * fuzzed headers, data and discard/write-zeroes segments in guest RAM.
 *
 * Input: [flags][features-to-refuse][avail_idx:2]
 *        [desc table: 16 * 16][avail ring: 2 * 16][RAM heap from 0x1000 ...]
 * Invariants: the image never grows; a read-only image never changes; the
 * device is either running or NEEDS_RESET (never wedged otherwise).
 */
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "fuzz/fuzz.h"
#include "devices/registry.h"
#include "fuzz/fake_vm.h"

#define RAM  0x40000
#define IMG  0x10000
#define BASE LVMM_VIRTIO_MMIO_BASE
#define QSZ  16

static int img = -1;
static uint8_t pattern[IMG], now[IMG];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	struct lvmm_dev_cfg cfg = { .type = LVMM_DEV_BLK, .id = "fuzzblk", .fd = { 0, -1, -1, -1 } };
	uint8_t flags = fin_u8(&in), refuse = fin_u8(&in);
	uint16_t avail_idx = fin_u16(&in);
	struct vm *vm;
	void *state = NULL;
	struct gq q;
	struct stat st;
	uint64_t feat;
	uint32_t status;
	int fds[1];
	unsigned i;

	log_level = LOG_ERR;
	/* Plain calls: each input's requests complete before fake_run returns. */
	setenv("LVMM_BLK_IO", "sync", 1);
	if (img < 0) {
		img = memfd_create("fuzzimg", MFD_CLOEXEC);
		if (img < 0)
			abort();
		for (i = 0; i < IMG; i++)
			pattern[i] = (uint8_t)(i * 31 + i / 512);
	}
	if (ftruncate(img, IMG) || pwrite(img, pattern, IMG, 0) != IMG)
		abort();
	fds[0] = img;
	if (flags & 1)
		cfg.flags |= LVMM_DEV_F_READONLY;
	vm = fake_vm_new(RAM, fds, 1);
	if (!vm)
		abort();
	FUZZ_CHECK(virtio_blk_ops.create(vm, &cfg, &state) == 0);

	/* Offer minus what the input refuses; VERSION_1 always. */
	mmio_wr(vm, BASE, VMMIO_DEVICE_FEATURES_SEL, 0);
	feat = mmio_rd(vm, BASE, VMMIO_DEVICE_FEATURES);
	feat &= ~(((uint64_t)refuse & 0x3f) << 9 | ((uint64_t)refuse >> 6) << 28);
	feat |= 1ULL << 32;
	gq_init(&q, vm->mem, QSZ, 0x100, 0x400, 0x600);
	status = fake_driver_init(vm, BASE, feat, &q, 1);
	FUZZ_CHECK(status == 0xf);
	fake_run(vm);

	fin_copy(&in, vm->mem + 0x100, 16 * QSZ);
	fin_copy(&in, vm->mem + 0x404, 2 * QSZ);
	fin_copy(&in, vm->mem + 0x1000, RAM - 0x1000);
	gq_set_avail_idx(&q, avail_idx);
	fake_kick(BASE, 0);
	fake_run(vm);
	if (flags & 2) {
		/* Second round on the same device: state carried across kicks. */
		gq_set_avail_idx(&q, (uint16_t)(avail_idx + (flags >> 4)));
		mmio_wr(vm, BASE, VMMIO_QUEUE_NOTIFY, 0);
		fake_run(vm);
	}

	status = mmio_rd(vm, BASE, VMMIO_STATUS);
	FUZZ_CHECK(status == 0xf || status == (0xf | VIRTIO_STATUS_NEEDS_RESET));
	FUZZ_CHECK(fstat(img, &st) == 0 && st.st_size == IMG);
	if (flags & 1) {
		FUZZ_CHECK(pread(img, now, IMG, 0) == IMG);
		FUZZ_CHECK(!memcmp(now, pattern, IMG));
	}
	virtio_blk_ops.destroy(state);
	fake_vm_free(vm);
	return 0;
}
