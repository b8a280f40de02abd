// SPDX-License-Identifier: MIT
/*
 * virtio-blk against a temporary image file: request parsing, bounds,
 * read-only images, discard / write-zeroes, malformed requests; every
 * case with each I/O engine (plain calls, io_uring), and the io_uring's
 * restrictions on their own.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <stdlib.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "unit.h"
#include "devices/registry.h"
#include "fuzz/fake_vm.h"
#include "virtio/virtio.h"
#include "devices/blk_io.h"
#include <liburing.h>

#define RAM    (4 * 1024 * 1024)
#define BASE   LVMM_VIRTIO_MMIO_BASE
#define QSZ    256
#define IMG    (64 * 1024)      /* 128 sectors */
#define HDR    0x100000ULL
#define DATA   0x110000ULL
#define STATUS 0x1f0000ULL
#define VER1   (1ULL << 32)
#define F(b)   (1ULL << (b))

static struct vm *vm;
static void *state;
static int img = -1;
static int fds[1];
static struct gq q;
static uint16_t next_head;
static char path[256];

static int make_image(size_t size, bool rdonly)
{
	const char *dir = getenv("LVMM_TEST_TMP");
	uint8_t *buf = malloc(size);
	size_t i;
	int fd;

	snprintf(path, sizeof(path), "%s/blkimg.XXXXXX", dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0 || !buf)
		abort();
	for (i = 0; i < size; i++)
		buf[i] = (uint8_t)(i / 512 + 1); /* sector n holds n + 1 */
	if (pwrite(fd, buf, size, 0) != (ssize_t)size)
		abort();
	free(buf);
	if (rdonly) {
		close(fd);
		fd = open(path, O_RDONLY);
	}
	unlink(path);
	return fd;
}

static unsigned setup_vcpus; /* the partition's vCPUs, as the device sees them */

static int setup_img(size_t size, uint32_t flags, bool rdonly_fd)
{
	struct lvmm_dev_cfg cfg = { .type = LVMM_DEV_BLK, .flags = flags, .id = "blk0",
				    .fd = { 0, -1, -1, -1 } };
	int r;

	img = make_image(size, rdonly_fd);
	fds[0] = img;
	vm = fake_vm_new(RAM, fds, 1);
	if (!vm)
		abort();
	vm->nr_vcpus = setup_vcpus;
	r = virtio_blk_ops.create(vm, &cfg, &state);
	gq_init(&q, vm->mem, QSZ, 0x1000, 0x2000, 0x3000);
	next_head = 0;
	return r;
}

/* fake_run, then wait for the requests the io_uring still has (bounded). */
static void blk_run(void)
{
	int i;

	fake_run(vm);
	for (i = 0; i < 500 && state && virtio_blk_inflight(state); i++) {
		fake_poll(vm, 10);
		fake_run(vm);
	}
}

static uint64_t offered(void)
{
	uint64_t f;

	mmio_wr(vm, BASE, VMMIO_DEVICE_FEATURES_SEL, 0);
	f = mmio_rd(vm, BASE, VMMIO_DEVICE_FEATURES);
	mmio_wr(vm, BASE, VMMIO_DEVICE_FEATURES_SEL, 1);
	return f | (uint64_t)mmio_rd(vm, BASE, VMMIO_DEVICE_FEATURES) << 32;
}

static void setup_full(size_t size, uint32_t flags, bool rdonly_fd, uint64_t ack_mask)
{
	CHECK_EQ(setup_img(size, flags, rdonly_fd), 0);
	CHECK_EQ(fake_driver_init(vm, BASE, offered() & ack_mask, &q, 1), 0xf);
	blk_run();
}

static void setup(void)
{
	setup_full(IMG, 0, false, ~0ULL);
}

static void teardown(void)
{
	virtio_blk_ops.destroy(state);
	state = NULL;
	fake_vm_free(vm);
	close(img);
}

static void put_hdr(uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { .type = htole32(type), .sector = htole64(sector) };

	memcpy(vm->mem + HDR, &h, sizeof(h));
}

/* header / data / status in three descriptors; data readable for writes. */
static uint8_t blk_req(uint32_t type, uint64_t sector, uint32_t len, bool data_out,
		       uint32_t *used_len)
{
	uint16_t h = next_head;
	uint32_t id = 0, ulen = 0;

	put_hdr(type, sector);
	vm->mem[STATUS] = 0xee;
	gq_desc(&q, h, HDR, 16, 1, (uint16_t)(h + 1));
	if (len) {
		gq_desc(&q, (uint16_t)(h + 1), DATA, len, data_out ? 1 : 3, (uint16_t)(h + 2));
		gq_desc(&q, (uint16_t)(h + 2), STATUS, 1, 2, 0);
		next_head = (uint16_t)((h + 3) % (QSZ - 3));
	} else {
		gq_desc(&q, (uint16_t)(h + 1), STATUS, 1, 2, 0);
		next_head = (uint16_t)((h + 2) % (QSZ - 3));
	}
	gq_publish(&q, h);
	fake_kick(BASE, 0);
	blk_run();
	if (!gq_get_used(&q, &id, &ulen))
		return 0xfe; /* not completed */
	if (used_len)
		*used_len = ulen;
	return vm->mem[STATUS];
}

static bool sector_is(uint64_t sector, uint8_t v)
{
	uint8_t buf[512];
	unsigned i;

	if (pread(img, buf, 512, (off_t)(sector * 512)) != 512)
		return false;
	for (i = 0; i < 512; i++)
		if (buf[i] != v)
			return false;
	return true;
}

static void test_config_and_features(void)
{
	struct virtio_blk_config c;
	unsigned i;
	uint64_t f;

	CHECK_EQ(setup_img(IMG, 0, false), 0);
	f = offered();
	CHECK(f & F(32));
	CHECK(f & F(VIRTIO_BLK_F_FLUSH));
	CHECK(f & F(VIRTIO_BLK_F_DISCARD));
	CHECK(f & F(VIRTIO_BLK_F_WRITE_ZEROES));
	CHECK(f & F(VIRTIO_BLK_F_SEG_MAX));
	CHECK(!(f & F(VIRTIO_BLK_F_RO)));
	CHECK_EQ(mmio_rd(vm, BASE, VMMIO_DEVICE_ID), 2);
	for (i = 0; i < sizeof(c); i += 4) {
		uint32_t v = mmio_rd(vm, BASE, VMMIO_CONFIG + i);

		memcpy((uint8_t *)&c + i, &v, MIN(4, sizeof(c) - i));
	}
	CHECK_EQ(le64toh(c.capacity), IMG / 512);
	CHECK_EQ(le32toh(c.seg_max), 254);
	CHECK_EQ(le32toh(c.blk_size), 512);
	CHECK_EQ(le32toh(c.max_discard_seg), 16);
	teardown();

	CHECK_EQ(setup_img(IMG, LVMM_DEV_F_READONLY, false), 0);
	f = offered();
	CHECK(f & F(VIRTIO_BLK_F_RO));
	CHECK(!(f & F(VIRTIO_BLK_F_DISCARD)));
	teardown();

	/* An O_RDONLY image is read-only whatever the flag says. */
	CHECK_EQ(setup_img(IMG, 0, true), 0);
	CHECK(offered() & F(VIRTIO_BLK_F_RO));
	teardown();
}

static void test_read(void)
{
	uint32_t used = 0;

	setup();
	CHECK_EQ(blk_req(VIRTIO_BLK_T_IN, 3, 1024, false, &used), VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 1025);
	CHECK_EQ(vm->mem[DATA], 4);
	CHECK_EQ(vm->mem[DATA + 511], 4);
	CHECK_EQ(vm->mem[DATA + 512], 5);
	CHECK_EQ(vm->mem[DATA + 1023], 5);
	/* The very last sector. */
	CHECK_EQ(blk_req(VIRTIO_BLK_T_IN, IMG / 512 - 1, 512, false, NULL), VIRTIO_BLK_S_OK);
	CHECK_EQ(vm->mem[DATA], IMG / 512);
	teardown();
}

static void test_read_any_layout(void)
{
	uint32_t id = 0, len = 0;

	setup();
	/* Header in one desc, data + status together in one writable desc. */
	put_hdr(VIRTIO_BLK_T_IN, 2);
	vm->mem[DATA + 512] = 0xee;
	gq_desc(&q, 0, HDR, 16, 1, 1);
	gq_desc(&q, 1, DATA, 513, 2, 0);
	gq_publish(&q, 0);
	fake_kick(BASE, 0);
	blk_run();
	CHECK(gq_get_used(&q, &id, &len));
	CHECK_EQ(len, 513);
	CHECK_EQ(vm->mem[DATA], 3);
	CHECK_EQ(vm->mem[DATA + 512], VIRTIO_BLK_S_OK);
	/* Header split over two descriptors, data over three. */
	put_hdr(VIRTIO_BLK_T_IN, 5);
	gq_desc(&q, 2, HDR, 10, 1, 3);
	gq_desc(&q, 3, HDR + 10, 6, 1, 4);
	gq_desc(&q, 4, DATA, 100, 3, 5);
	gq_desc(&q, 5, DATA + 100, 400, 3, 6);
	gq_desc(&q, 6, DATA + 500, 13, 2, 0);
	gq_publish(&q, 2);
	fake_kick(BASE, 0);
	blk_run();
	CHECK(gq_get_used(&q, &id, &len));
	CHECK_EQ(vm->mem[DATA + 499], 6);
	CHECK_EQ(vm->mem[DATA + 511], 6);
	CHECK_EQ(vm->mem[DATA + 512], VIRTIO_BLK_S_OK);
	teardown();
}

static void test_write(void)
{
	struct stat st;

	setup();
	memset(vm->mem + DATA, 0xab, 1024);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_OUT, 10, 1024, true, NULL), VIRTIO_BLK_S_OK);
	CHECK(sector_is(10, 0xab));
	CHECK(sector_is(11, 0xab));
	CHECK(sector_is(12, 13));
	CHECK(sector_is(9, 10));
	/* Header and data in one readable descriptor. */
	put_hdr(VIRTIO_BLK_T_OUT, 20);
	memcpy(vm->mem + HDR + 16, vm->mem + DATA, 512);
	gq_desc(&q, 100, HDR, 16 + 512, 1, 101);
	gq_desc(&q, 101, STATUS, 1, 2, 0);
	gq_publish(&q, 100);
	fake_kick(BASE, 0);
	blk_run();
	CHECK(sector_is(20, 0xab));
	CHECK_EQ(blk_req(VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	CHECK_EQ(fstat(img, &st), 0);
	CHECK_EQ(st.st_size, IMG);
	teardown();
}

static void test_bounds(void)
{
	struct stat st;

	setup();
	memset(vm->mem + DATA, 0xcd, 4096);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_IN, IMG / 512 - 1, 1024, false, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_IN, IMG / 512, 512, false, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_IN, UINT64_MAX, 512, false, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_IN, UINT64_MAX / 512 + 1, 512, false, NULL),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_OUT, IMG / 512 - 1, 1024, true, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_OUT, 1ULL << 60, 512, true, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(fstat(img, &st), 0);
	CHECK_EQ(st.st_size, IMG); /* nothing written past the end */
	CHECK(sector_is(IMG / 512 - 1, IMG / 512));
	/* Not a whole number of sectors. */
	CHECK_EQ(blk_req(VIRTIO_BLK_T_IN, 0, 100, false, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_OUT, 0, 513, true, NULL), VIRTIO_BLK_S_IOERR);
	CHECK(sector_is(0, 1));
	/* Zero-length read at the end is fine. */
	CHECK_EQ(blk_req(VIRTIO_BLK_T_IN, IMG / 512, 0, false, NULL), VIRTIO_BLK_S_OK);
	teardown();
}

static void test_odd_image_size(void)
{
	setup_full(1000, 0, false, ~0ULL); /* one whole sector + 488 invisible bytes */
	CHECK_EQ(blk_req(VIRTIO_BLK_T_IN, 0, 512, false, NULL), VIRTIO_BLK_S_OK);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_IN, 1, 512, false, NULL), VIRTIO_BLK_S_IOERR);
	teardown();
}

static void test_get_id_and_unsupported(void)
{
	uint32_t used = 0;

	setup();
	memset(vm->mem + DATA, 0x55, 64);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_GET_ID, 0, 20, false, &used), VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 21);
	CHECK(!memcmp(vm->mem + DATA, "blk0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20));
	CHECK_EQ(vm->mem[DATA + 20], 0x55);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_GET_ID, 0, 8, false, &used), VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 9);
	CHECK_EQ(blk_req(2 /* SCSI */, 0, 0, false, NULL), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(blk_req(0x12345, 0, 0, false, NULL), VIRTIO_BLK_S_UNSUPP);
	teardown();
}

static uint8_t dwz(uint32_t type, uint64_t sector, uint32_t num, uint32_t flags, unsigned nseg)
{
	struct virtio_blk_discard_write_zeroes s = {
		.sector = htole64(sector), .num_sectors = htole32(num), .flags = htole32(flags),
	};
	unsigned i;

	for (i = 0; i < nseg; i++)
		memcpy(vm->mem + DATA + 16 * i, &s, 16);
	return blk_req(type, 0, 16 * nseg, true, NULL);
}

static void test_discard_write_zeroes(void)
{
	setup();
	CHECK_EQ(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 8, 8, 0, 1), VIRTIO_BLK_S_OK);
	CHECK(sector_is(7, 8));
	CHECK(sector_is(8, 0));
	CHECK(sector_is(15, 0));
	CHECK(sector_is(16, 17));
	CHECK_EQ(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 30, 3, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, 1),
		 VIRTIO_BLK_S_OK);
	CHECK(sector_is(30, 0));
	CHECK(sector_is(32, 0));
	CHECK(sector_is(33, 34));
	CHECK_EQ(dwz(VIRTIO_BLK_T_DISCARD, 40, 8, 0, 1), VIRTIO_BLK_S_OK);
	CHECK(sector_is(48, 49));
	/* Unknown flags, the UNMAP flag on discard. */
	CHECK_EQ(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 8, 1, 2, 1), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(dwz(VIRTIO_BLK_T_DISCARD, 8, 1, 1, 1), VIRTIO_BLK_S_UNSUPP);
	/* Ranges: past the end, over the per-segment maximum; nothing changed. */
	CHECK_EQ(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 120, 9, 0, 1), VIRTIO_BLK_S_IOERR);
	CHECK(sector_is(120, 121));
	CHECK_EQ(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 0, (1U << 16) + 1, 0, 1), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(dwz(VIRTIO_BLK_T_WRITE_ZEROES, UINT64_MAX - 1, 4, 0, 1), VIRTIO_BLK_S_IOERR);
	/* Segment count and size. */
	CHECK_EQ(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 50, 1, 0, 16), VIRTIO_BLK_S_OK);
	CHECK_EQ(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 50, 1, 0, 17), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_DISCARD, 0, 8, true, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_DISCARD, 0, 0, false, NULL), VIRTIO_BLK_S_IOERR);
	/* One bad segment among good ones: nothing is done. */
	{
		struct virtio_blk_discard_write_zeroes s[2] = {
			{ .sector = htole64(60), .num_sectors = htole32(1) },
			{ .sector = htole64(200), .num_sectors = htole32(1) },
		};

		memcpy(vm->mem + DATA, s, sizeof(s));
		CHECK_EQ(blk_req(VIRTIO_BLK_T_WRITE_ZEROES, 0, 32, true, NULL), VIRTIO_BLK_S_IOERR);
		CHECK(sector_is(60, 61));
	}
	teardown();

	/* Features the driver did not accept. */
	setup_full(IMG, 0, false, ~(F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES)));
	CHECK_EQ(dwz(VIRTIO_BLK_T_DISCARD, 8, 1, 0, 1), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 8, 1, 0, 1), VIRTIO_BLK_S_UNSUPP);
	CHECK(sector_is(8, 9));
	teardown();
}

static void test_readonly(void)
{
	struct lvmm_dev_stats st;

	setup_full(IMG, LVMM_DEV_F_READONLY, false, ~0ULL);
	memset(vm->mem + DATA, 0xab, 512);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_OUT, 1, 512, true, NULL), VIRTIO_BLK_S_IOERR);
	CHECK(sector_is(1, 2));
	CHECK_EQ(dwz(VIRTIO_BLK_T_DISCARD, 1, 1, 0, 1), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 1, 1, 0, 1), VIRTIO_BLK_S_IOERR);
	CHECK(sector_is(1, 2));
	CHECK_EQ(blk_req(VIRTIO_BLK_T_IN, 1, 512, false, NULL), VIRTIO_BLK_S_OK);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	memset(&st, 0, sizeof(st));
	virtio_blk_ops.stats(state, &st);
	CHECK_STR(st.id, "blk0");
	CHECK_EQ(st.reads, 1);
	CHECK_EQ(st.read_bytes, 512);
	CHECK_EQ(st.writes, 0);
	CHECK_EQ(st.errors, 3);
	teardown();
}

static void test_wrong_direction(void)
{
	uint32_t id = 0, len = 0;

	setup();
	/* IN whose data buffer is device-readable: fails, buffer untouched. */
	memset(vm->mem + DATA, 0x5a, 512);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_IN, 1, 512, true, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(vm->mem[DATA], 0x5a);
	CHECK_EQ(vm->mem[DATA + 511], 0x5a);
	/* OUT with device-writable data before the status: fails, disk unchanged. */
	memset(vm->mem + DATA, 0xab, 512);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_OUT, 1, 512, false, NULL), VIRTIO_BLK_S_IOERR);
	CHECK(sector_is(1, 2));
	CHECK_EQ(vm->mem[DATA], 0xab);
	/* FLUSH or GET_ID with data the wrong way. */
	CHECK_EQ(blk_req(VIRTIO_BLK_T_FLUSH, 0, 512, true, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_FLUSH, 0, 512, false, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_req(VIRTIO_BLK_T_GET_ID, 0, 20, true, NULL), VIRTIO_BLK_S_IOERR);
	/* Discard with a writable segment list. */
	CHECK_EQ(blk_req(VIRTIO_BLK_T_DISCARD, 0, 16, false, NULL), VIRTIO_BLK_S_IOERR);
	/* An OUT whose "status" is device-readable: no status byte at all, a ring error. */
	put_hdr(VIRTIO_BLK_T_OUT, 1);
	gq_desc(&q, 200, HDR, 16, 1, 201);
	gq_desc(&q, 201, DATA, 512, 1, 202);
	gq_desc(&q, 202, STATUS, 1, 0, 0);
	vm->mem[STATUS] = 0xff;
	gq_publish(&q, 200);
	fake_kick(BASE, 0);
	blk_run();
	CHECK(!gq_get_used(&q, &id, &len));
	CHECK_EQ(vm->mem[STATUS], 0xff);
	CHECK(sector_is(1, 2));
	CHECK(mmio_rd(vm, BASE, VMMIO_STATUS) & 0x40);
	teardown();
}

static void test_malformed_requests(void)
{
	setup();
	/* No writable byte for the status. */
	put_hdr(VIRTIO_BLK_T_IN, 0);
	gq_desc(&q, 0, HDR, 16, 0, 0);
	gq_publish(&q, 0);
	fake_kick(BASE, 0);
	blk_run();
	CHECK(mmio_rd(vm, BASE, VMMIO_STATUS) & 0x40);
	CHECK_EQ(fake.ev_a, VIRTIO_ERR_REQUEST);
	CHECK_STR(fake.ev_dev, "blk0");
	teardown();

	setup();
	/* Header shorter than 16 bytes. */
	gq_desc(&q, 0, HDR, 8, 1, 1);
	gq_desc(&q, 1, STATUS, 1, 2, 0);
	gq_publish(&q, 0);
	fake_kick(BASE, 0);
	blk_run();
	CHECK(mmio_rd(vm, BASE, VMMIO_STATUS) & 0x40);
	teardown();

	setup();
	/* Too many segments for the iovec array (seg_max + 2): a 300-entry indirect table. */
	{
		const uint64_t tbl = 0x200000;
		unsigned i;

		put_hdr(VIRTIO_BLK_T_IN, 0);
		gq_desc_at(vm->mem, tbl, HDR, 16, 1, 1);
		for (i = 1; i < 300; i++)
			gq_desc_at(vm->mem, tbl + 16 * i, DATA, 512, i + 1 < 300 ? 3 : 2,
				   (uint16_t)(i + 1));
		gq_desc(&q, 0, tbl, 16 * 300, 4, 0);
		gq_publish(&q, 0);
		fake_kick(BASE, 0);
		blk_run();
		CHECK(mmio_rd(vm, BASE, VMMIO_STATUS) & 0x40);
		CHECK_EQ(fake.ev_a, VIRTIO_ERR_IOV_FULL);
	}
	teardown();
}

static void test_many_requests(void)
{
	uint32_t id = 0, len = 0;
	unsigned i, done = 0;

	setup();
	/* More than one turn's budget: the device requeues itself. */
	put_hdr(VIRTIO_BLK_T_IN, 1);
	for (i = 0; i < 128; i++) {
		gq_desc(&q, (uint16_t)i, HDR, 16, 1, (uint16_t)(128 + i));
		gq_desc(&q, (uint16_t)(128 + i), STATUS + i, 1, 2, 0);
	}
	for (i = 0; i < 200; i++)
		gq_publish(&q, (uint16_t)(i % 128));
	fake_kick(BASE, 0);
	blk_run();
	while (gq_get_used(&q, &id, &len))
		done++;
	CHECK_EQ(done, 200);
	teardown();
}

static void test_bad_config(void)
{
	struct lvmm_dev_cfg cfg = { .type = LVMM_DEV_BLK, .id = "blkx", .fd = { 3, -1, -1, -1 } };
	void *s = NULL;
	int pfd[2];

	vm = fake_vm_new(RAM, fds, 1);
	CHECK_EQ(virtio_blk_ops.create(vm, &cfg, &s), -EBADF); /* index past nfds */
	cfg.fd[0] = -1;
	CHECK_EQ(virtio_blk_ops.create(vm, &cfg, &s), -EBADF);
	CHECK_EQ(pipe(pfd), 0);
	fds[0] = pfd[0];
	cfg.fd[0] = 0;
	CHECK_EQ(virtio_blk_ops.create(vm, &cfg, &s), -EINVAL); /* not a file */
	close(pfd[0]);
	close(pfd[1]);
	fake_vm_free(vm);
}

static void *run_io(void *arg)
{
	(void)arg;
	blk_run();
	return NULL;
}

struct reg_read {
	uint32_t v;
	volatile bool done;
};

static void *read_status(void *arg)
{
	struct reg_read *a = arg;

	a->v = mmio_rd(vm, BASE, VMMIO_STATUS);
	a->done = true;
	return NULL;
}

/*
 * A vCPU's register access must not wait for the disk: the I/O thread is
 * held in the middle of a request (its destination page is missing and
 * userfaultfd keeps the copy waiting) while another thread reads Status.
 * (Before: the device lock was held across preadv, and the read waited.)
 */
static void test_registers_during_io(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	struct uffdio_zeropage z;
	struct reg_read a = { 0 };
	struct pollfd p;
	struct uffd_msg msg;
	pthread_t io, rd;
	uint8_t *page;
	int uffd, i;

	setup();
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	CHECK(uffd >= 0 && !ioctl(uffd, UFFDIO_API, &api));
	page = vm->mem + DATA;
	madvise(page, 4096, MADV_DONTNEED);
	reg = (struct uffdio_register){ .range = { (uintptr_t)page, 4096 },
					.mode = UFFDIO_REGISTER_MODE_MISSING };
	CHECK_EQ(ioctl(uffd, UFFDIO_REGISTER, &reg), 0);
	put_hdr(VIRTIO_BLK_T_IN, 3);
	vm->mem[STATUS] = 0xee;
	gq_desc(&q, 0, HDR, 16, 1, 1);
	gq_desc(&q, 1, DATA, 512, 3, 2);
	gq_desc(&q, 2, STATUS, 1, 2, 0);
	gq_publish(&q, 0);
	fake_kick(BASE, 0);
	CHECK_EQ(pthread_create(&io, NULL, run_io, NULL), 0);
	/* The request is now stuck inside its copy. */
	p = (struct pollfd){ .fd = uffd, .events = POLLIN };
	CHECK_EQ(poll(&p, 1, 5000), 1);
	CHECK_EQ(read(uffd, &msg, sizeof(msg)), (ssize_t)sizeof(msg));
	CHECK_EQ(pthread_create(&rd, NULL, read_status, &a), 0);
	for (i = 0; i < 100 && !a.done; i++)
		usleep(10000);
	CHECK(a.done);
	/* Let the copy finish: the request completes normally. */
	z = (struct uffdio_zeropage){ .range = { (uintptr_t)page, 4096 } };
	CHECK_EQ(ioctl(uffd, UFFDIO_ZEROPAGE, &z), 0);
	pthread_join(rd, NULL);
	pthread_join(io, NULL);
	CHECK_EQ(a.v & 0xf, 0xf);
	blk_run();
	CHECK_EQ(vm->mem[STATUS], VIRTIO_BLK_S_OK);
	CHECK_EQ(vm->mem[DATA], 4); /* sector 3 holds 4 */
	close(uffd);
	teardown();
}

/*
 * The ring may do what the sandbox allows on the image and nothing else:
 * a plain fd, another opcode, a register operation are all refused.
 */
static void test_uring_restricted(void)
{
	struct blk_io io;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	char why[128], buf[512];
	struct iovec v = { buf, sizeof(buf) };
	int other, fd = make_image(4096, false);

	CHECK_EQ(blk_io_init(&io, fd, 8, BLK_IO_URING, why, sizeof(why)), 0);
	if (!io.uring) {
		close(fd);
		printf("skip - test_uring_restricted: no io_uring here (%s)\n", why);
		return;
	}
	other = open("/dev/null", O_RDONLY);
	/* Allowed: READV on fixed file 0 (sector 3 holds 4). */
	CHECK_EQ(blk_io_queue(&io, BLK_IO_READ, &v, 1, 3 * 512, 1, false), 0);
	CHECK_EQ(blk_io_submit(&io), 0);
	/* Refused: READV on a plain fd, the same without FIXED_FILE. */
	sqe = io_uring_get_sqe(&io.ring);
	io_uring_prep_readv(sqe, other, &v, 1, 0);
	io_uring_sqe_set_data64(sqe, 2);
	CHECK_EQ(io_uring_submit(&io.ring), 1);
	/* Refused: an opcode outside READV/WRITEV/FSYNC. */
	sqe = io_uring_get_sqe(&io.ring);
	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/passwd", O_RDONLY, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, 3);
	CHECK_EQ(io_uring_submit(&io.ring), 1);
	for (int i = 0; i < 3; i++) {
		struct __kernel_timespec ts = { .tv_sec = 5 };

		if (io_uring_wait_cqe_timeout(&io.ring, &cqe, &ts)) {
			CHECK(!"a completion arrived");
			break;
		}
		if (io_uring_cqe_get_data64(cqe) == 1) {
			CHECK_EQ(cqe->res, 512);
			CHECK_EQ(buf[0], 4);
		} else {
			CHECK_EQ(cqe->res, -EACCES);
		}
		io_uring_cqe_seen(&io.ring, cqe);
	}
	/* Refused: registering anything (here another file). */
	CHECK_EQ(io_uring_register_files_update(&io.ring, 0, &other, 1), -EACCES);
	CHECK(io_uring_register_buffers(&io.ring, &v, 1) < 0);
	blk_io_exit(&io, 0);
	close(other);
	close(fd);
}

/*
 * A 1 MiB read (io_uring alone: split into pieces that workers and the I/O
 * thread copy at once) in data segments whose edges fall on no piece
 * boundary, two boundaries inside one segment: every byte lands where it
 * belongs, the request completes once, with one status and one count.
 */
#define BIG      0x200000ULL
#define BIG_LEN  (1024 * 1024)
static const uint32_t big_seg[] = { 1536, 262656, 131072, 393216, 260096 };

static uint8_t big_read(uint64_t sector, uint32_t *used)
{
	uint32_t id = 0, ulen = 0, at = 0;
	uint16_t d = 1;
	unsigned i;

	put_hdr(VIRTIO_BLK_T_IN, sector);
	memset(vm->mem + BIG, 0xee, BIG_LEN);
	vm->mem[STATUS] = 0xee;
	gq_desc(&q, 0, HDR, 16, 1, 1);
	for (i = 0; i < ARRAY_SIZE(big_seg); i++, d++) {
		gq_desc(&q, d, BIG + at, big_seg[i], 3, (uint16_t)(d + 1));
		at += big_seg[i];
	}
	gq_desc(&q, d, STATUS, 1, 2, 0);
	gq_publish(&q, 0);
	fake_kick(BASE, 0);
	blk_run();
	if (!gq_get_used(&q, &id, &ulen))
		return 0xfe;
	*used = ulen;
	return vm->mem[STATUS];
}

static void test_read_big(void)
{
	struct lvmm_dev_stats st;
	uint32_t used = 0, id, len, i, bad = 0;

	CHECK_EQ(BIG_LEN, big_seg[0] + big_seg[1] + big_seg[2] + big_seg[3] + big_seg[4]);
	setup_full(2 * BIG_LEN, 0, false, ~0ULL);
	CHECK_EQ(big_read(100, &used), VIRTIO_BLK_S_OK);
	CHECK_EQ(used, BIG_LEN + 1);
	for (i = 0; i < BIG_LEN; i++)
		bad += vm->mem[BIG + i] != (uint8_t)(100 + i / 512 + 1);
	CHECK_EQ(bad, 0);
	CHECK(!gq_get_used(&q, &id, &len)); /* completed once */
	virtio_blk_ops.stats(state, &st);
	CHECK_EQ(st.reads, 1);
	CHECK_EQ(st.read_bytes, BIG_LEN);
	CHECK_EQ(st.errors, 0);
	teardown();
}

/*
 * The image shrinks under a 1 MiB read (pieces past the new end read
 * short, then nothing): the request fails once, with every piece back
 * from the kernel, and the device goes on serving.
 */
static void test_read_big_image_shrank(void)
{
	struct lvmm_dev_stats st;
	uint32_t used = 0, id, len;

	setup_full(2 * BIG_LEN, 0, false, ~0ULL);
	CHECK_EQ(ftruncate(img, 600 * 1024), 0);
	CHECK_EQ(big_read(0, &used), VIRTIO_BLK_S_IOERR);
	CHECK(!gq_get_used(&q, &id, &len));
	CHECK_EQ(virtio_blk_inflight(state), 0);
	virtio_blk_ops.stats(state, &st);
	CHECK_EQ(st.errors, 1);
	CHECK_EQ(st.reads, 0);
	next_head = 10;
	CHECK_EQ(blk_req(VIRTIO_BLK_T_IN, 3, 512, false, NULL), VIRTIO_BLK_S_OK);
	CHECK_EQ(vm->mem[DATA], 4);
	teardown();
}

/*
 * Several large reads at once: the first ones split (io_uring alone, few in flight), the
 * later ones whole (on the copy engine: all but the last on its threads), with
 * data segments of odd sizes: every byte of each lands where it belongs,
 * each request completes exactly once, and the counts add up.
 */
#define MB_N   6
#define MB_LEN (320 * 1024)
#define MB_AT  0x200000ULL

static unsigned copy_threads(void)
{
	char p[64], comm[32];
	unsigned n = 0, tid;

	for (tid = (unsigned)getpid(); tid < (unsigned)getpid() + 4096; tid++) {
		FILE *f;

		snprintf(p, sizeof(p), "/proc/self/task/%u/comm", tid);
		f = fopen(p, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, "blk-copy", 8))
			n++;
		fclose(f);
	}
	return n;
}

static void test_read_many_big(void)
{
	const char *mode = getenv("LVMM_BLK_IO"), *copy = getenv("LVMM_BLK_COPY");
	uint32_t id, len, seen = 0, bad = 0, i, k;
	struct lvmm_dev_stats st;

	setup_full(4 * 1024 * 1024, 0, false, ~0ULL);
	/* The engine under test is the one running: copy threads exactly when it is on with threads. */
	if (!strcmp(mode, "uring") && !(copy && (!strcmp(copy, "0") || !strcmp(copy, "inline"))))
		CHECK(copy_threads() > 0);
	else
		CHECK_EQ(copy_threads(), 0);
	memset(vm->mem + MB_AT, 0xee, MB_N * MB_LEN);
	for (i = 0; i < MB_N; i++) {
		struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_IN),
					       .sector = htole64(1000 * i + 7) };
		uint16_t d = (uint16_t)(i * 4);
		uint64_t at = MB_AT + (uint64_t)i * MB_LEN;

		memcpy(vm->mem + HDR + 16 * i, &h, sizeof(h));
		vm->mem[STATUS + i] = 0xee;
		gq_desc(&q, d, HDR + 16 * i, 16, 1, (uint16_t)(d + 1));
		gq_desc(&q, (uint16_t)(d + 1), at, 4096 + 512 * i, 3, (uint16_t)(d + 2));
		gq_desc(&q, (uint16_t)(d + 2), at + 4096 + 512 * i, MB_LEN - 4096 - 512 * i, 3,
			(uint16_t)(d + 3));
		gq_desc(&q, (uint16_t)(d + 3), STATUS + i, 1, 2, 0);
		gq_publish(&q, d);
	}
	fake_kick(BASE, 0);
	blk_run();
	while (gq_get_used(&q, &id, &len)) {
		CHECK(id % 4 == 0 && id / 4 < MB_N && !(seen & (1U << (id / 4))));
		CHECK_EQ(len, MB_LEN + 1);
		seen |= 1U << (id / 4 % 32);
	}
	CHECK_EQ(seen, (1U << MB_N) - 1);
	for (i = 0; i < MB_N; i++) {
		CHECK_EQ(vm->mem[STATUS + i], VIRTIO_BLK_S_OK);
		for (k = 0; k < MB_LEN; k++)
			bad += vm->mem[MB_AT + (uint64_t)i * MB_LEN + k] !=
			       (uint8_t)(1000 * i + 7 + k / 512 + 1);
	}
	CHECK_EQ(bad, 0);
	virtio_blk_ops.stats(state, &st);
	CHECK_EQ(st.reads, MB_N);
	CHECK_EQ(st.read_bytes, (uint64_t)MB_N * MB_LEN);
	CHECK_EQ(st.errors, 0);
	CHECK_EQ(virtio_blk_inflight(state), 0);
	teardown();
}

/*
 * Who copies a large read (the copy engine on): a lone one the I/O thread
 * copies itself, without waking another thread; of two made available
 * together, the first goes to a copy thread and the I/O thread copies the
 * second. Seen through userfaultfd, which names the thread that touched a
 * trapped page of each destination. (Before: every large read was handed
 * to the engine's threads, a lone one too, paying a wake-up.)
 */
static uint64_t cw_len = 256 * 1024; /* each read's length */
struct copy_who {
	pid_t tid;
};

static void *copy_who_io(void *arg)
{
	struct copy_who *w = arg;

	w->tid = (pid_t)syscall(SYS_gettid);
	blk_run();
	return NULL;
}

/* The thread that touched each trapped page, in the order of pages[]; 0 if none did. */
static void copy_who_run(unsigned nreq, const uint64_t *pages, pid_t *who, pid_t *io_tid)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_THREAD_ID };
	struct copy_who w = { 0 };
	pthread_t io;
	unsigned i, k, got = 0;
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	CHECK(uffd >= 0 && !ioctl(uffd, UFFDIO_API, &api));
	for (i = 0; i < nreq; i++) {
		struct uffdio_register reg = { .range = { (uintptr_t)(vm->mem + pages[i]), 4096 },
					       .mode = UFFDIO_REGISTER_MODE_MISSING };
		struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_IN),
					       .sector = htole64(100 * i + 3) };
		uint16_t d = (uint16_t)(i * 3);

		who[i] = 0;
		madvise(vm->mem + pages[i], 4096, MADV_DONTNEED);
		CHECK_EQ(ioctl(uffd, UFFDIO_REGISTER, &reg), 0);
		memcpy(vm->mem + HDR + 16 * i, &h, sizeof(h));
		vm->mem[STATUS + i] = 0xee;
		gq_desc(&q, d, HDR + 16 * i, 16, 1, (uint16_t)(d + 1));
		gq_desc(&q, (uint16_t)(d + 1), MB_AT + (uint64_t)i * cw_len, cw_len, 3, (uint16_t)(d + 2));
		gq_desc(&q, (uint16_t)(d + 2), STATUS + i, 1, 2, 0);
		gq_publish(&q, d);
	}
	fake_kick(BASE, 0);
	CHECK_EQ(pthread_create(&io, NULL, copy_who_io, &w), 0);
	/* Each trapped page once: whoever touched it waits until it is filled. */
	while (got < nreq) {
		struct pollfd p = { .fd = uffd, .events = POLLIN };
		struct uffd_msg msg;

		if (poll(&p, 1, 5000) != 1 || read(uffd, &msg, sizeof(msg)) != (ssize_t)sizeof(msg))
			break;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		for (k = 0; k < nreq; k++) {
			uint64_t at = (uint64_t)(uintptr_t)(vm->mem + pages[k]);
			struct uffdio_zeropage z = { .range = { at, 4096 } };

			if ((msg.arg.pagefault.address & ~4095ULL) != at || who[k])
				continue;
			who[k] = (pid_t)msg.arg.pagefault.feat.ptid;
			got++;
			CHECK_EQ(ioctl(uffd, UFFDIO_ZEROPAGE, &z), 0);
		}
	}
	CHECK_EQ(got, nreq);
	pthread_join(io, NULL);
	*io_tid = w.tid;
	close(uffd);
	for (i = 0; i < nreq; i++) {
		uint32_t id, len, bad = 0;

		CHECK(gq_get_used(&q, &id, &len));
		CHECK_EQ(vm->mem[STATUS + i], VIRTIO_BLK_S_OK);
		for (k = 0; k < cw_len; k++)
			bad += vm->mem[MB_AT + (uint64_t)i * cw_len + k] != (uint8_t)(100 * i + 3 + k / 512 + 1);
		CHECK_EQ(bad, 0);
	}
}

static bool thread_is(pid_t tid, const char *comm)
{
	char p[64], c[32] = "";
	FILE *f;

	snprintf(p, sizeof(p), "/proc/self/task/%d/comm", (int)tid);
	f = fopen(p, "r");
	if (!f)
		return false;
	if (!fgets(c, sizeof(c), f))
		c[0] = 0;
	fclose(f);
	return !strncmp(c, comm, strlen(comm));
}

static void test_copy_who(void)
{
	const uint64_t one[] = { MB_AT + 64 * 1024 };
	const uint64_t two[] = { MB_AT + 64 * 1024, MB_AT + cw_len + 128 * 1024 };
	pid_t who[2], io_tid;

	setenv("LVMM_BLK_IO", "uring", 1);
	setenv("LVMM_BLK_COPY", "1", 1);
	setup_full(4 * 1024 * 1024, 0, false, ~0ULL);
	CHECK_EQ(copy_threads(), 1);
	copy_who_run(1, one, who, &io_tid);
	CHECK(io_tid > 0);
	CHECK_EQ(who[0], io_tid);
	next_head = 0;
	copy_who_run(2, two, who, &io_tid);
	CHECK(who[0] != io_tid && thread_is(who[0], "blk-copy"));
	CHECK_EQ(who[1], io_tid);
	CHECK_EQ(virtio_blk_inflight(state), 0);
	teardown();
}

/*
 * A host with no CPU to spare for a copy thread (as many CPUs as vCPUs plus
 * the I/O thread; LVMM_BLK_COPY unset): one thread all the same, handed
 * only reads of 1 MiB and more. Of two 1 MiB reads made available together
 * the first goes to it; of two 256 KiB ones neither does.
 */
static void test_copy_who_shared(void)
{
	const uint64_t two[] = { MB_AT + 64 * 1024, MB_AT + 1024 * 1024 + 128 * 1024 };
	const uint64_t small[] = { MB_AT + 64 * 1024, MB_AT + 256 * 1024 + 128 * 1024 };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	pid_t who[2], io_tid;

	if (ncpu < 2) {
		printf("skip - test_copy_who_shared: one CPU (no thread then)\n");
		return;
	}
	setenv("LVMM_BLK_IO", "uring", 1);
	unsetenv("LVMM_BLK_COPY");
	setup_vcpus = (unsigned)ncpu - 1;
	setup_full(4 * 1024 * 1024, 0, false, ~0ULL);
	CHECK_EQ(copy_threads(), 1);
	cw_len = 1024 * 1024;
	copy_who_run(2, two, who, &io_tid);
	CHECK(who[0] != io_tid && thread_is(who[0], "blk-copy"));
	CHECK_EQ(who[1], io_tid);
	next_head = 0;
	cw_len = 256 * 1024;
	copy_who_run(2, small, who, &io_tid);
	CHECK_EQ(who[0], io_tid);
	CHECK_EQ(who[1], io_tid);
	CHECK_EQ(virtio_blk_inflight(state), 0);
	teardown();
	setup_vcpus = 0;
}

/*
 * More large reads in one turn than the I/O thread copies itself without
 * copy threads (BLK_INLINE_MAX, 32 MiB): the rest go to the io_uring, and
 * every one lands and completes once, OK. All read the same sectors into
 * the same buffer, so the bytes are the same whoever copies last.
 */
#define OB_N 40
static void test_read_over_inline_budget(void)
{
	uint32_t id, len, seen = 0, bad = 0, i, k;
	struct lvmm_dev_stats st;
	struct virtio_blk_outhdr h = { .type = htole32(VIRTIO_BLK_T_IN), .sector = htole64(9) };

	setup_full(4 * 1024 * 1024, 0, false, ~0ULL);
	memset(vm->mem + MB_AT, 0xee, BIG_LEN);
	memcpy(vm->mem + HDR, &h, sizeof(h));
	for (i = 0; i < OB_N; i++) {
		uint16_t d = (uint16_t)(i * 3);

		vm->mem[STATUS + i] = 0xee;
		gq_desc(&q, d, HDR, 16, 1, (uint16_t)(d + 1));
		gq_desc(&q, (uint16_t)(d + 1), MB_AT, BIG_LEN, 3, (uint16_t)(d + 2));
		gq_desc(&q, (uint16_t)(d + 2), STATUS + i, 1, 2, 0);
		gq_publish(&q, d);
	}
	fake_kick(BASE, 0);
	blk_run();
	while (gq_get_used(&q, &id, &len)) {
		CHECK(id % 3 == 0 && id / 3 < OB_N);
		CHECK_EQ(len, BIG_LEN + 1);
		seen++;
	}
	CHECK_EQ(seen, OB_N);
	for (i = 0; i < OB_N; i++)
		CHECK_EQ(vm->mem[STATUS + i], VIRTIO_BLK_S_OK);
	for (k = 0; k < BIG_LEN; k++)
		bad += vm->mem[MB_AT + k] != (uint8_t)(9 + k / 512 + 1);
	CHECK_EQ(bad, 0);
	virtio_blk_ops.stats(state, &st);
	CHECK_EQ(st.reads, OB_N);
	CHECK_EQ(st.errors, 0);
	CHECK_EQ(virtio_blk_inflight(state), 0);
	teardown();
}

/*
 * Kicks held back while the I/O thread polls: after a turn the driver's
 * avail_event lies behind what was taken (no kick for the next request);
 * the idle hook (run before the I/O thread sleeps) asks for kicks again
 * and says whether requests came meanwhile. A device whose poller could
 * not be registered never holds them back: nothing would ask again.
 */
static bool blk_idle_hook(void)
{
	unsigned i;

	for (i = 0; i < vm->io.npollers; i++)
		if (vm->io.pollers[i].opaque == state && vm->io.pollers[i].idle)
			return vm->io.pollers[i].idle(state);
	CHECK(!"no idle hook for the device");
	return false;
}

static bool no_poll(void *opaque)
{
	(void)opaque;
	return false;
}

static void test_kicks_held_back(void)
{
	unsigned i;

	setup();
	CHECK_EQ(blk_req(VIRTIO_BLK_T_IN, 3, 512, false, NULL), VIRTIO_BLK_S_OK);
	CHECK_EQ(gq_avail_event(&q), 0); /* one taken: a kick would need index 1, held back */
	CHECK(!blk_idle_hook());
	CHECK_EQ(gq_avail_event(&q), 1); /* asked again before sleeping */
	/* A request made available (without a kick) after the turn, before the sleep: */
	CHECK_EQ(blk_req(VIRTIO_BLK_T_IN, 3, 512, false, NULL), VIRTIO_BLK_S_OK);
	put_hdr(VIRTIO_BLK_T_IN, 3);
	gq_desc(&q, 20, HDR, 16, 1, 21);
	gq_desc(&q, 21, DATA, 512, 3, 22);
	gq_desc(&q, 22, STATUS, 1, 2, 0);
	gq_publish(&q, 20);
	CHECK(blk_idle_hook()); /* the I/O thread must take it: no kick will come */
	teardown();

	/* The poller table full: the device never holds kicks back. */
	img = make_image(IMG, false);
	fds[0] = img;
	vm = fake_vm_new(RAM, fds, 1);
	CHECK(vm != NULL);
	for (i = 0; i < IOTHREAD_MAX_POLLERS; i++)
		CHECK_EQ(iothread_add_poller(&vm->io, no_poll, NULL, NULL), 0);
	{
		struct lvmm_dev_cfg cfg = { .type = LVMM_DEV_BLK, .id = "blk0", .fd = { 0, -1, -1, -1 } };

		CHECK_EQ(virtio_blk_ops.create(vm, &cfg, &state), 0);
	}
	gq_init(&q, vm->mem, QSZ, 0x1000, 0x2000, 0x3000);
	next_head = 0;
	CHECK_EQ(fake_driver_init(vm, BASE, offered(), &q, 1), 0xf);
	blk_run();
	CHECK_EQ(blk_req(VIRTIO_BLK_T_IN, 3, 512, false, NULL), VIRTIO_BLK_S_OK);
	CHECK_EQ(gq_avail_event(&q), 1); /* the next request kicks */
	teardown();
}

/*
 * A malformed avail index (a jump past the queue size) seen first by the
 * poller or by the idle hook, not by a pop after a kick: it is reported
 * all the same (NEEDS_RESET, one event, the errors counter), although
 * every later path skips the broken queue.
 */
static void avail_jump_reported(void)
{
	struct lvmm_dev_stats st;

	fake_kick(BASE, 0); /* a kick after the jump: it finds the queue broken */
	blk_run();
	CHECK(mmio_rd(vm, BASE, VMMIO_STATUS) & 0x40);
	CHECK_EQ(fake.events, 1);
	CHECK_EQ(fake.ev_a, VIRTIO_ERR_AVAIL_IDX);
	memset(&st, 0, sizeof(st));
	virtio_blk_ops.stats(state, &st);
	CHECK_EQ(st.errors, 1);
}

static void test_avail_jump_polled(void)
{
	setup();
	CHECK_EQ(vm->io.npollers, 1);
	gq_set_avail_idx(&q, (uint16_t)(q.avail_idx + QSZ + 44));
	vm->io.pollers[0].fn(vm->io.pollers[0].opaque);
	avail_jump_reported();
	teardown();
}

static void test_avail_jump_idle(void)
{
	setup();
	/* One request taken by a turn: kicks are held back until the idle hook. */
	CHECK_EQ(blk_req(VIRTIO_BLK_T_IN, 3, 512, false, NULL), VIRTIO_BLK_S_OK);
	gq_set_avail_idx(&q, (uint16_t)(q.avail_idx + QSZ + 44));
	blk_idle_hook();
	vm->io.pollers[0].fn(vm->io.pollers[0].opaque);
	avail_jump_reported();
	teardown();
}

/*
 * The copy engine on its own: jobs come back once each with their length
 * and their bytes in place, the eventfd polls readable while completions
 * wait and not after they were taken; a range past the mapping and a page
 * gone from the file (SIGBUS inside the copy) fail with -EIO, and the
 * engine (and the process) go on.
 */
static void test_copy_engine(void)
{
	static uint8_t dst[3][8192];
	struct iovec iov[3];
	struct blk_copy c;
	struct pollfd p;
	uint64_t tags[8];
	int res[8], fd = make_image(64 * 1024, false);
	unsigned n = 0, i, k, bad = 0, guard;

	CHECK_EQ(blk_copy_init(&c, fd, 64 * 1024, 2, 4, NULL), 0);
	CHECK(c.on && c.nthreads == 2);
	for (i = 0; i < 3; i++) {
		iov[i] = (struct iovec){ dst[i], sizeof(dst[i]) };
		CHECK_EQ(blk_copy_queue(&c, &iov[i], 1, 512 * (10 * i + 1), sizeof(dst[i]), 100 + i), 0);
	}
	p = (struct pollfd){ .fd = c.efd, .events = POLLIN };
	for (guard = 0; n < 3 && guard < 500; guard++) {
		if (poll(&p, 1, 10) == 1) {
			blk_copy_clear(&c);
			n += blk_copy_reap(&c, tags + n, res + n, 8 - n);
		}
	}
	CHECK_EQ(n, 3);
	for (i = 0; i < n; i++) {
		CHECK(tags[i] >= 100 && tags[i] < 103);
		CHECK_EQ(res[i], (int)sizeof(dst[0]));
	}
	for (i = 0; i < 3; i++)
		for (k = 0; k < sizeof(dst[i]); k++)
			bad += dst[i][k] != (uint8_t)(10 * i + 1 + k / 512 + 1);
	CHECK_EQ(bad, 0);
	CHECK(!blk_copy_pending(&c));
	CHECK_EQ(poll(&p, 1, 0), 0);
	CHECK_EQ(blk_copy_read(&c, iov, 1, 60 * 1024, sizeof(dst[0])), -EIO);
	CHECK_EQ(ftruncate(fd, 4096), 0);
	CHECK_EQ(blk_copy_read(&c, iov, 1, 8192, sizeof(dst[0])), -EIO);
	CHECK_EQ(blk_copy_read(&c, iov, 1, 0, 4096), 0);
	CHECK_EQ(blk_copy_queue(&c, &iov[0], 1, 16384, sizeof(dst[0]), 7), 0);
	for (guard = 0, n = 0; !n && guard < 500; guard++)
		if (poll(&p, 1, 10) == 1)
			n = blk_copy_reap(&c, tags, res, 8);
	CHECK(n == 1 && tags[0] == 7 && res[0] == -EIO);
	blk_copy_exit(&c);
	CHECK(!c.on);
	close(fd);
}

/*
 * The copy engine's stores: non-temporal into a destination it has not
 * begun a copy at lately, plain into one it has (within 8 MiB of copying),
 * non-temporal again once 8 MiB of other copies went by; LVMM_BLK_STORES
 * fixes either kind. Every copy, with either kind, lands the same bytes
 * (a misaligned source and destination, a length that is no multiple of a
 * line) and nothing around them.
 */
static void copy_stores_case(struct blk_copy *c, uint8_t *a, const uint8_t *pat, uint64_t off,
			     uint64_t len)
{
	struct iovec io = { a + 8, len };

	memset(a, 0xee, len + 16);
	CHECK_EQ(blk_copy_read(c, &io, 1, off, len), 0);
	CHECK_EQ(memcmp(a + 8, pat + off, len), 0);
	CHECK(a[7] == 0xee && a[8 + len] == 0xee);
}

static void test_copy_stores_follow_reuse(void)
{
	enum { SZ = 1 << 20, N = 40000 };
	static uint8_t a[64 * 1024] __attribute__((aligned(64)));
	static uint8_t b[SZ] __attribute__((aligned(64)));
	struct iovec ib = { b, SZ };
	uint8_t *pat = malloc(SZ);
	struct blk_copy c;
	int fd = make_image(SZ, false), i;

	CHECK(pat != NULL);
	if (!pat)
		return;
	for (i = 0; i < SZ; i++)
		pat[i] = (uint8_t)(i * 7 + i / 251);
	CHECK_EQ(pwrite(fd, pat, SZ, 0), SZ);
	unsetenv("LVMM_BLK_STORES");
	CHECK_EQ(blk_copy_init(&c, fd, SZ, 0, 4, NULL), 0);
	CHECK_EQ(c.stores, BLK_STORES_AUTO);
	copy_stores_case(&c, a, pat, 12345, N); /* fresh */
	CHECK(c.nt_bytes == N && c.plain_bytes == 0);
	copy_stores_case(&c, a, pat, 54321, N); /* written lately */
	CHECK(c.nt_bytes == N && c.plain_bytes == N);
	for (i = 0; i < 8; i++) /* 8 MiB elsewhere: b fresh once, then lately written */
		CHECK_EQ(blk_copy_read(&c, &ib, 1, 0, SZ), 0);
	CHECK_EQ(memcmp(b, pat, SZ), 0);
	CHECK(c.nt_bytes == N + SZ && c.plain_bytes == N + 7ULL * SZ);
	copy_stores_case(&c, a, pat, 777, N); /* aged out */
	CHECK(c.nt_bytes == 2ULL * N + SZ && c.plain_bytes == N + 7ULL * SZ);
	blk_copy_exit(&c);

	setenv("LVMM_BLK_STORES", "nt", 1);
	CHECK_EQ(blk_copy_init(&c, fd, SZ, 0, 4, NULL), 0);
	copy_stores_case(&c, a, pat, 1, N);
	copy_stores_case(&c, a, pat, 2, N);
	CHECK(c.nt_bytes == 2ULL * N && c.plain_bytes == 0);
	blk_copy_exit(&c);
	setenv("LVMM_BLK_STORES", "plain", 1);
	CHECK_EQ(blk_copy_init(&c, fd, SZ, 0, 4, NULL), 0);
	copy_stores_case(&c, a, pat, 3, N);
	copy_stores_case(&c, a, pat, SZ - N, N);
	CHECK(c.nt_bytes == 0 && c.plain_bytes == 2ULL * N);
	blk_copy_exit(&c);
	unsetenv("LVMM_BLK_STORES");
	free(pat);
	close(fd);
}

/*
 * Each case once with plain system calls, once with the io_uring (if the
 * host has one) and the copy engine for large reads, once with the
 * io_uring alone.
 */
#define RUN_ENGINE(fn, mode, copy, name)                                             \
	do {                                                                         \
		setenv("LVMM_BLK_IO", mode, 1);                                      \
		setenv("LVMM_BLK_COPY", copy, 1);                                    \
		unit_current = name;                                                 \
		unit_failed_checks = 0;                                              \
		fn();                                                                \
		unit_tests_run++;                                                    \
		if (unit_failed_checks)                                              \
			unit_tests_failed++;                                         \
		else                                                                 \
			printf("ok - %s\n", name);                                   \
		fflush(stdout);                                                      \
	} while (0)
#define RUN_BOTH(fn)                                                                 \
	do {                                                                         \
		RUN_ENGINE(fn, "sync", "2", #fn " (sync)");                         \
		if (have_uring) {                                                    \
			RUN_ENGINE(fn, "uring", "2", #fn " (io_uring, copy)");      \
			RUN_ENGINE(fn, "uring", "inline", #fn " (io_uring, copy inline)"); \
			RUN_ENGINE(fn, "uring", "0", #fn " (io_uring)");            \
		} else                                                               \
			printf("skip - %s (io_uring): no io_uring on this host\n", #fn); \
	} while (0)

int main(void)
{
	bool have_uring;
	{
		struct blk_io io;
		char why[128];
		int fd = make_image(4096, false);

		have_uring = !blk_io_init(&io, fd, 8, BLK_IO_URING, why, sizeof(why)) && io.uring;
		blk_io_exit(&io, 0);
		close(fd);
	}
	RUN_BOTH(test_config_and_features);
	RUN_BOTH(test_read);
	RUN_BOTH(test_read_any_layout);
	RUN_BOTH(test_write);
	RUN_BOTH(test_bounds);
	RUN_BOTH(test_odd_image_size);
	RUN_BOTH(test_get_id_and_unsupported);
	RUN_BOTH(test_discard_write_zeroes);
	RUN_BOTH(test_readonly);
	RUN_BOTH(test_wrong_direction);
	RUN_BOTH(test_malformed_requests);
	RUN_BOTH(test_many_requests);
	RUN_BOTH(test_read_big);
	RUN_BOTH(test_read_big_image_shrank);
	RUN_BOTH(test_read_many_big);
	RUN_BOTH(test_read_over_inline_budget);
	if (have_uring) {
		/* Split reads without copy threads: every piece on the I/O thread. */
		setenv("LVMM_BLK_SPLIT", "3", 1);
		RUN_ENGINE(test_read_big, "uring", "inline", "test_read_big (copy inline, split in 3)");
		RUN_ENGINE(test_read_many_big, "uring", "inline", "test_read_many_big (copy inline, split in 3)");
		RUN_ENGINE(test_read_big_image_shrank, "uring", "inline",
			   "test_read_big_image_shrank (copy inline, split in 3)");
		unsetenv("LVMM_BLK_SPLIT");
	}
	{
		int u = (int)syscall(SYS_userfaultfd, O_CLOEXEC);

		if (u >= 0) {
			close(u);
			RUN_BOTH(test_registers_during_io);
		} else {
			printf("skip - test_registers_during_io: no userfaultfd (%s)\n", strerror(errno));
		}
	}
	{
		int u = (int)syscall(SYS_userfaultfd, O_CLOEXEC);

		if (have_uring && u >= 0) {
			RUN(test_copy_who);
			RUN(test_copy_who_shared);
		} else
			printf("skip - test_copy_who: needs io_uring and userfaultfd\n");
		if (u >= 0)
			close(u);
	}
	RUN_BOTH(test_kicks_held_back);
	RUN_BOTH(test_avail_jump_polled);
	RUN_BOTH(test_avail_jump_idle);
	RUN(test_bad_config);
	RUN(test_uring_restricted);
	RUN(test_copy_engine);
	RUN(test_copy_stores_follow_reuse);
	return unit_done();
}
