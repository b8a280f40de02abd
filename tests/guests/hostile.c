/* SPDX-License-Identifier: MIT */
/*
 * hostile: a guest that breaks the virtio 1.x rules on purpose against a
 * virtio-blk device (and virtio-net for "flood") over virtio-mmio, looks at
 * how the device reacted, and proves that the device still works.
 *
 * case=NAME (or case=A,B,... or case=all) picks the cases; README.md lists
 * them. Per case it prints exactly one line
 *     hostile: CASE: VERDICT detail...
 * with VERDICT one of
 *     REJECT  the device refused (DEVICE_NEEDS_RESET, an error status, or no
 *             completion within the bounded wait) and, after a reset and
 *             re-initialisation, a valid read completes with the right data;
 *     PASS    a legal-but-weird action was handled correctly;
 *     WEDGED  the device no longer works after a reset;
 *     FAIL    the device processed the bad request as valid.
 * then "hostile: done" and exit 0. Exit 2: bad command line or no device;
 * exit 1: the device did not work before any rule was broken.
 *
 * Every case starts from a freshly reset device with one 16-entry queue;
 * chains are written straight into the descriptor table. Sector 1 holds a
 * reference pattern (written at start unless the disk is read-only) that
 * every recovery read is compared with; bad writes aim at sector 5.
 */
#include "virtio.h"

#define QSIZE          16
#define SECTOR_REF     1
#define SECTOR_SCRATCH 5
#define MIN_SECTORS    64
#define FLOOD_COUNT    100000
#define BADNOTIFY_COUNT 1000
#define FAULT_COUNT    10

#define VIRTIO_BLK_T_IN  0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_F_RO  (1ULL << 5)

#define NEXT  VRING_DESC_F_NEXT
#define WRITE VRING_DESC_F_WRITE
#define INDIR VRING_DESC_F_INDIRECT

enum { V_PASS, V_REJECT, V_WEDGED, V_FAIL }; /* increasing severity */
static const char *const verdict_name[] = { "PASS", "REJECT", "WEDGED", "FAIL" };

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static struct virtio_dev dev;
static struct virtq q;
static uint64_t offered;          /* device feature bits */
static uint64_t capacity;
static int read_only;
static uint64_t ram_top;          /* end of the highest RAM range */
static uint64_t timeout_us = 300000;

static uint8_t ring[4096] __attribute__((aligned(4096)));
static uint8_t decoy_ring[4096] __attribute__((aligned(4096)));
static struct vring_desc itable[64] __attribute__((aligned(4096)));
static struct vring_desc itable2[8] __attribute__((aligned(64)));
static struct blk_hdr hdr __attribute__((aligned(64)));
static volatile uint8_t status __attribute__((aligned(64)));
static uint8_t data[8192] __attribute__((aligned(4096)));
static uint8_t decoy[4096] __attribute__((aligned(4096)));
static uint8_t ref[512], scratch_ref[512], pattern2[512];

static struct vnet net;

/* ---- Detail text of the current case ---------------------------------- */
static char detail[1536];
static size_t dlen;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (dlen < sizeof(detail) - 1) {
		int n = vsnprintf(detail + dlen, sizeof(detail) - dlen, fmt, ap);
		if (n > 0)
			dlen += (size_t)n;
		if (dlen > sizeof(detail) - 1)
			dlen = sizeof(detail) - 1;
	}
	va_end(ap);
}

static uint64_t us_since(uint64_t t0)
{
	return (rdtsc() - t0) / (rt_tsc_hz() / 1000000);
}

static int worst(int a, int b)
{
	return a > b ? a : b;
}

/* ---- Device set-up and raw ring access --------------------------------- */

static uint64_t read_offered(struct virtio_dev *d)
{
	uint64_t f = 0;
	for (uint32_t sel = 0; sel < 2; sel++) {
		virtio_reg_write(d, VIRTIO_MMIO_DEV_FEAT_SEL, sel);
		f |= (uint64_t)virtio_reg_read(d, VIRTIO_MMIO_DEV_FEATURES) << (32 * sel);
	}
	return f;
}

/* Reset, negotiate VERSION_1 | want, one queue of QSIZE in ring, DRIVER_OK. */
static int dev_init(uint64_t want)
{
	if (virtio_init(&dev, want))
		return -1;
	if (virtq_setup_at(&dev, &q, 0, QSIZE, ring)) {
		virtio_fail(&dev);
		return -1;
	}
	virtio_driver_ok(&dev);
	return 0;
}

static void set_desc(struct vring_desc *t, unsigned i, const volatile void *addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	t[i].addr = (uint64_t)(uintptr_t)addr;
	t[i].len = len;
	t[i].flags = flags;
	t[i].next = next;
}

static void set_desc_gpa(struct vring_desc *t, unsigned i, uint64_t gpa, uint32_t len,
			 uint16_t flags, uint16_t next)
{
	t[i].addr = gpa;
	t[i].len = len;
	t[i].flags = flags;
	t[i].next = next;
}

static void set_hdr(uint32_t type, uint64_t sector)
{
	hdr.type = type;
	hdr.reserved = 0;
	hdr.sector = sector;
	status = 0xff;
}

/* Make `head` available (avail idx + 1) and notify. */
static void post(uint16_t head)
{
	uint16_t ai = q.avail->idx;
	q.avail->ring[ai % q.size] = head;
	__atomic_store_n(&q.avail->idx, (uint16_t)(ai + 1), __ATOMIC_RELEASE);
	virtq_kick(&q);
}

enum { O_NONE, O_USED, O_RESET };

struct outcome {
	int kind;
	uint32_t id, len;        /* used element (O_USED) */
	uint8_t st;              /* status byte afterwards */
	uint32_t devst;          /* device status register afterwards */
	uint64_t us;
};

/* Wait (bounded) for a used element after used_before, or NEEDS_RESET;
 * t0 is the TSC just before the notify. */
static void wait_outcome(struct outcome *o, uint16_t used_before, uint64_t t0)
{
	uint64_t per_us = rt_tsc_hz() / 1000000;
	uint64_t end = t0 + timeout_us * per_us, next_status = t0;
	memset(o, 0, sizeof(*o));
	o->kind = O_NONE;
	for (;;) {
		uint16_t ui = __atomic_load_n(&q.used->idx, __ATOMIC_ACQUIRE);
		if (ui != used_before) {
			struct vring_used_elem e = q.used->ring[used_before % q.size];
			o->kind = O_USED;
			o->id = e.id;
			o->len = e.len;
			break;
		}
		uint64_t now = rdtsc();
		if ((int64_t)(now - next_status) >= 0) {
			/* An MMIO read is an exit: every 200 us is plenty. */
			if (virtio_status(&dev) & VIRTIO_S_NEEDS_RESET) {
				o->kind = O_RESET;
				break;
			}
			next_status = now + 200 * per_us;
		}
		if ((int64_t)(now - end) > 0)
			break;
		cpu_relax();
	}
	o->us = (rdtsc() - t0) / per_us;
	o->st = status;
	o->devst = virtio_status(&dev);
}

static void submit(uint16_t head, struct outcome *o)
{
	uint16_t ub = __atomic_load_n(&q.used->idx, __ATOMIC_ACQUIRE);
	uint64_t t0 = rdtsc();
	post(head);
	wait_outcome(o, ub, t0);
}

static const char *outcome_str(const struct outcome *o, char *b, size_t n)
{
	const char *what;
	char tmp[48];
	if (o->kind == O_RESET) {
		what = "needs-reset";
	} else if (o->kind == O_NONE) {
		snprintf(tmp, sizeof(tmp), "no completion in %lu ms", timeout_us / 1000);
		what = tmp;
	} else if (o->st == 0) {
		what = "completed OK";
	} else if (o->st == 1) {
		what = "IOERR";
	} else if (o->st == 2) {
		what = "UNSUPP";
	} else if (o->st == 0xff) {
		what = "completed, status untouched";
	} else {
		snprintf(tmp, sizeof(tmp), "status %u", o->st);
		what = tmp;
	}
	char used[32] = "";
	if (o->kind == O_USED)
		snprintf(used, sizeof(used), ", used len %u", o->len);
	snprintf(b, n, "%s%s%s (%lu us)", what, used,
		 o->kind == O_USED && (o->devst & VIRTIO_S_NEEDS_RESET) ? " + needs-reset" : "",
		 o->us);
	return b;
}

/* A request that must be refused: completing it with OK is FAIL. */
static int classify_bad(const struct outcome *o)
{
	if (o->devst & VIRTIO_S_NEEDS_RESET)
		return V_REJECT;
	if (o->kind == O_USED && o->st == 0)
		return V_FAIL;
	return V_REJECT;
}

/* A valid single-sector request on descriptors 0-2 of the current ring. */
static int valid_rw(uint32_t type, uint64_t sector, void *buf, struct outcome *o)
{
	set_hdr(type, sector);
	set_desc(q.desc, 0, &hdr, sizeof(hdr), NEXT, 1);
	set_desc(q.desc, 1, buf, 512, (uint16_t)((type == VIRTIO_BLK_T_IN ? WRITE : 0) | NEXT), 2);
	set_desc(q.desc, 2, &status, 1, WRITE, 0);
	submit(0, o);
	if (o->kind != O_USED || (o->devst & VIRTIO_S_NEEDS_RESET))
		return -1;
	return o->st;
}

/* Does a valid read of the reference sector return the reference data? */
static int device_works(void)
{
	struct outcome o;
	memset(data, 0, 512);
	return valid_rw(VIRTIO_BLK_T_IN, SECTOR_REF, data, &o) == 0 &&
	       memcmp(data, ref, 512) == 0;
}

/* Reset, re-initialise, and check: 0 when the device works again. */
static int recover(void)
{
	if (dev_init(0))
		return -1;
	return device_works() ? 0 : -1;
}

/* Record one sub-test: recover, fold WEDGED in, append the detail. */
static int finish(const char *label, int v, const struct outcome *o, const char *extra)
{
	char ob[96];
	int wedged = recover() != 0;
	note("%s%s: %s%s%s", dlen ? "; " : "", label, outcome_str(o, ob, sizeof(ob)),
	     extra ? extra : "", wedged ? " WEDGED after reset" : "");
	if (wedged && v < V_WEDGED)
		v = V_WEDGED;
	return v;
}

/* Post the chain at head (already in the table), expect a refusal. */
static int bad(const char *label, uint16_t head)
{
	struct outcome o;
	submit(head, &o);
	return finish(label, classify_bad(&o), &o, NULL);
}

/* ---- Cases ----------------------------------------------------------- */

static int case_loop(void)
{
	int v;
	dev_init(0);
	set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
	set_desc(q.desc, 0, &hdr, sizeof(hdr), NEXT, 0);       /* next = itself */
	v = bad("self", 0);

	dev_init(0);
	set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
	set_desc(q.desc, 0, &hdr, sizeof(hdr), NEXT, 1);
	set_desc(q.desc, 1, data, 512, WRITE | NEXT, 2);
	set_desc(q.desc, 2, &status, 1, WRITE | NEXT, 1);      /* back to 1 */
	return worst(v, bad("back-to-earlier", 0));
}

static int case_oversize_chain(void)
{
	int v;
	/* 0 -> 1 -> ... -> 15 -> 1 -> ...: every descriptor has NEXT. */
	dev_init(0);
	set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
	set_desc(q.desc, 0, &hdr, sizeof(hdr), NEXT, 1);
	for (unsigned i = 1; i < QSIZE; i++)
		set_desc(q.desc, i, data + 512 * ((i - 1) % 16), 512, WRITE | NEXT,
			 (uint16_t)(i + 1 < QSIZE ? i + 1 : 1));
	v = bad("ring", 0);

	if (!(offered & VIRTIO_F_INDIRECT_DESC)) {
		note("; indirect: not offered");
		return v;
	}
	/* The same inside a 32-entry indirect table: longer than the queue. */
	dev_init(VIRTIO_F_INDIRECT_DESC);
	set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
	set_desc(itable, 0, &hdr, sizeof(hdr), NEXT, 1);
	for (unsigned i = 1; i < 32; i++)
		set_desc(itable, i, data + 512 * ((i - 1) % 16), 512, WRITE | NEXT,
			 (uint16_t)(i + 1 < 32 ? i + 1 : 1));
	set_desc(q.desc, 0, itable, 32 * 16, INDIR, 0);
	return worst(v, bad("indirect", 0));
}

static int case_next_out_of_range(void)
{
	int v;
	dev_init(0);
	set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
	set_desc(q.desc, 0, &hdr, sizeof(hdr), NEXT, QSIZE);
	v = bad("next=16", 0);

	dev_init(0);
	set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
	set_desc(q.desc, 0, &hdr, sizeof(hdr), NEXT, 1);
	set_desc(q.desc, 1, data, 512, WRITE | NEXT, 0xffff);
	v = worst(v, bad("next=65535", 0));

	/* A head index out of range in the avail ring. */
	dev_init(0);
	set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
	return worst(v, bad("head=16", QSIZE));
}

/* IN or OUT of one sector with the data buffer at gpa (len bytes). */
static int bad_data(const char *label, uint32_t type, uint64_t gpa, uint32_t len)
{
	dev_init(0);
	set_hdr(type, type == VIRTIO_BLK_T_IN ? SECTOR_REF : SECTOR_SCRATCH);
	set_desc(q.desc, 0, &hdr, sizeof(hdr), NEXT, 1);
	set_desc_gpa(q.desc, 1, gpa, len, (uint16_t)((type == VIRTIO_BLK_T_IN ? WRITE : 0) | NEXT), 2);
	set_desc(q.desc, 2, &status, 1, WRITE, 0);
	return bad(label, 0);
}

static int case_outside_ram(void)
{
	int v;
	char l[48];
	snprintf(l, sizeof(l), "in@0x%lx", ram_top);
	v = bad_data(l, VIRTIO_BLK_T_IN, ram_top, 512);
	snprintf(l, sizeof(l), "out@0x%lx", ram_top);
	v = worst(v, bad_data(l, VIRTIO_BLK_T_OUT, ram_top, 512));
	snprintf(l, sizeof(l), "in-straddling@0x%lx", ram_top - 256);
	v = worst(v, bad_data(l, VIRTIO_BLK_T_IN, ram_top - 256, 512));
	v = worst(v, bad_data("in@1TiB", VIRTIO_BLK_T_IN, 1ULL << 40, 512));

	/* The request header itself outside RAM. */
	dev_init(0);
	set_desc_gpa(q.desc, 0, ram_top + 4096, sizeof(hdr), NEXT, 1);
	set_desc(q.desc, 1, data, 512, WRITE | NEXT, 2);
	set_desc(q.desc, 2, &status, 1, WRITE, 0);
	status = 0xff;
	return worst(v, bad("header-outside", 0));
}

static int case_mmio_hole(void)
{
	int v;
	char l[48];
	v = bad_data("in@0xc0000000", VIRTIO_BLK_T_IN, 0xc0000000ULL, 512);
	/* Into the device's own registers (Status, QueueNotify, ...). */
	snprintf(l, sizeof(l), "in@own-regs-0x%lx", dev.base);
	v = worst(v, bad_data(l, VIRTIO_BLK_T_IN, dev.base, 512));
	v = worst(v, bad_data("out@lapic-0xfee00000", VIRTIO_BLK_T_OUT, 0xfee00000ULL, 512));
	return worst(v, bad_data("in@0xfffff000", VIRTIO_BLK_T_IN, 0xfffff000ULL, 512));
}

static int case_wrap(void)
{
	int v;
	/* End wraps to 256, inside RAM: a naive "addr + len <= end" passes. */
	v = bad_data("in@2^64-256", VIRTIO_BLK_T_IN, 0ULL - 256, 512);
	v = worst(v, bad_data("out@2^64-256", VIRTIO_BLK_T_OUT, 0ULL - 256, 512));
	/* 16 sectors from 2^64 - 4 KiB: wraps to 0x1000. */
	dev_init(0);
	set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
	set_desc(q.desc, 0, &hdr, sizeof(hdr), NEXT, 1);
	set_desc_gpa(q.desc, 1, 0ULL - 4096, 8192, WRITE | NEXT, 2);
	set_desc(q.desc, 2, &status, 1, WRITE, 0);
	return worst(v, bad("in@2^64-4K,len=8K", 0));
}

static int case_huge_len(void)
{
	int v;
	v = bad_data("in-len=0xffffffff", VIRTIO_BLK_T_IN, (uint64_t)(uintptr_t)data, 0xffffffffu);
	v = worst(v, bad_data("out-len=0xffffffff", VIRTIO_BLK_T_OUT, (uint64_t)(uintptr_t)data,
			      0xffffffffu));
	/* The status descriptor: its last byte is 4 GiB past the status byte. */
	dev_init(0);
	set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
	set_desc(q.desc, 0, &hdr, sizeof(hdr), NEXT, 1);
	set_desc(q.desc, 1, data, 512, WRITE | NEXT, 2);
	set_desc(q.desc, 2, &status, 0xffffffffu, WRITE, 0);
	return worst(v, bad("status-len=0xffffffff", 0));
}

/* Zero-length descriptors are weird, not necessarily wrong: a refusal is
 * REJECT, a correct completion PASS, wrong data FAIL. */
static int zero_sub(const char *label, int check_data)
{
	struct outcome o;
	memset(data, 0, 512);
	submit(0, &o);
	int v;
	const char *extra = NULL;
	if (o.devst & VIRTIO_S_NEEDS_RESET)
		v = V_REJECT;
	else if (o.kind == O_USED && o.st == 0) {
		if (check_data && memcmp(data, ref, 512)) {
			v = V_FAIL;
			extra = ", wrong data";
		} else {
			v = V_PASS;
			extra = check_data ? ", data ok" : NULL;
		}
	} else
		v = V_REJECT;
	return finish(label, v, &o, extra);
}

static int case_zero_len(void)
{
	int v;
	/* A read whose only data descriptor is empty. */
	dev_init(0);
	set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
	set_desc(q.desc, 0, &hdr, sizeof(hdr), NEXT, 1);
	set_desc(q.desc, 1, data, 0, WRITE | NEXT, 2);
	set_desc(q.desc, 2, &status, 1, WRITE, 0);
	v = zero_sub("data-len=0", 0);

	/* An empty descriptor between the data and the status. */
	dev_init(0);
	set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
	set_desc(q.desc, 0, &hdr, sizeof(hdr), NEXT, 1);
	set_desc(q.desc, 1, data, 512, WRITE | NEXT, 2);
	set_desc(q.desc, 2, decoy, 0, WRITE | NEXT, 3);
	set_desc(q.desc, 3, &status, 1, WRITE, 0);
	v = worst(v, zero_sub("extra-len=0", 1));

	/* An empty descriptor before the header. */
	dev_init(0);
	set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
	set_desc(q.desc, 0, decoy, 0, NEXT, 1);
	set_desc(q.desc, 1, &hdr, sizeof(hdr), NEXT, 2);
	set_desc(q.desc, 2, data, 512, WRITE | NEXT, 3);
	set_desc(q.desc, 3, &status, 1, WRITE, 0);
	return worst(v, zero_sub("leading-len=0", 1));
}

static int all_bytes(const uint8_t *p, size_t n, uint8_t c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

static int case_readonly_write(void)
{
	struct outcome o;
	int v, v2;
	/* IN whose data buffer is device-readable only. */
	dev_init(0);
	set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
	memset(data, 0x5a, 512);
	set_desc(q.desc, 0, &hdr, sizeof(hdr), NEXT, 1);
	set_desc(q.desc, 1, data, 512, NEXT, 2);
	set_desc(q.desc, 2, &status, 1, WRITE, 0);
	submit(0, &o);
	int touched = !all_bytes(data, 512, 0x5a);
	v = classify_bad(&o);
	if (touched)
		v = V_FAIL;
	v = finish("in-data-readonly", v, &o,
		   touched ? ", wrote the read-only buffer" : ", buffer untouched");

	/* OUT whose status byte is device-readable only (on a read-only disk
	 * the device wants to report IOERR: it must not write it here either). */
	dev_init(0);
	set_hdr(VIRTIO_BLK_T_OUT, SECTOR_SCRATCH);
	memcpy(data, pattern2, 512);
	set_desc(q.desc, 0, &hdr, sizeof(hdr), NEXT, 1);
	set_desc(q.desc, 1, data, 512, NEXT, 2);
	set_desc(q.desc, 2, &status, 1, 0, 0);
	submit(0, &o);
	int st_touched = status != 0xff;
	v2 = classify_bad(&o);
	if (st_touched)
		v2 = V_FAIL;
	/* Did the data reach the disk anyway? */
	int wrote = 0;
	if (!read_only && dev_init(0) == 0) {
		struct outcome r;
		memset(decoy, 0, 512);
		if (valid_rw(VIRTIO_BLK_T_IN, SECTOR_SCRATCH, decoy, &r) == 0)
			wrote = memcmp(decoy, pattern2, 512) == 0;
		if (wrote) {
			v2 = V_FAIL;
			/* Put the scratch sector back for the next case. */
			valid_rw(VIRTIO_BLK_T_OUT, SECTOR_SCRATCH, scratch_ref, &r);
		}
	}
	v2 = finish("out-status-readonly", v2, &o,
		    st_touched ? ", wrote the read-only status" :
		    wrote ? ", wrote the disk" : ", disk unchanged");
	return worst(v, v2);
}

static int case_bad_indirect(void)
{
	int v = V_PASS;
	int have = !!(offered & VIRTIO_F_INDIRECT_DESC);
	/* A valid three-entry table. */
	set_desc(itable, 0, &hdr, sizeof(hdr), NEXT, 1);
	set_desc(itable, 1, data, 512, WRITE | NEXT, 2);
	set_desc(itable, 2, &status, 1, WRITE, 0);
	if (have) {
		dev_init(VIRTIO_F_INDIRECT_DESC);
		set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
		set_desc(q.desc, 0, itable, 3 * 16 + 8, INDIR, 0);
		v = worst(v, bad("len=56", 0));

		dev_init(VIRTIO_F_INDIRECT_DESC);
		set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
		set_desc(q.desc, 0, itable, 0, INDIR, 0);
		v = worst(v, bad("len=0", 0));

		dev_init(VIRTIO_F_INDIRECT_DESC);
		set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
		set_desc(q.desc, 0, itable, 3 * 16, INDIR | NEXT, 1);
		set_desc(q.desc, 1, decoy, 16, 0, 0);
		v = worst(v, bad("indirect+next", 0));

		/* Nested: the table's second entry is itself indirect. */
		dev_init(VIRTIO_F_INDIRECT_DESC);
		set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
		set_desc(itable2, 0, data, 512, WRITE | NEXT, 1);
		set_desc(itable2, 1, &status, 1, WRITE, 0);
		set_desc(itable, 0, &hdr, sizeof(hdr), NEXT, 1);
		set_desc(itable, 1, itable2, 2 * 16, INDIR, 0);
		set_desc(q.desc, 0, itable, 2 * 16, INDIR, 0);
		v = worst(v, bad("nested", 0));
	} else {
		note("indirect not offered: only the not-negotiated test");
	}
	/* A valid table, but INDIRECT_DESC was not negotiated. */
	set_desc(itable, 0, &hdr, sizeof(hdr), NEXT, 1);
	set_desc(itable, 1, data, 512, WRITE | NEXT, 2);
	set_desc(itable, 2, &status, 1, WRITE, 0);
	dev_init(0);
	set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
	set_desc(q.desc, 0, itable, 3 * 16, INDIR, 0);
	return worst(v, bad("not-negotiated", 0));
}

static int avail_jump(const char *label, uint16_t idx)
{
	struct outcome o;
	dev_init(0);
	set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
	set_desc(q.desc, 0, &hdr, sizeof(hdr), NEXT, 1);
	set_desc(q.desc, 1, data, 512, WRITE | NEXT, 2);
	set_desc(q.desc, 2, &status, 1, WRITE, 0);
	for (unsigned i = 0; i < QSIZE; i++)
		q.avail->ring[i] = 0;
	__atomic_store_n(&q.avail->idx, idx, __ATOMIC_RELEASE);
	uint64_t t0 = rdtsc();
	virtq_kick(&q);
	wait_outcome(&o, 0, t0);
	return finish(label, classify_bad(&o), &o, NULL);
}

static int case_avail_jump(void)
{
	int v = avail_jump("idx=17", QSIZE + 1);
	return worst(v, avail_jump("idx=0x8000", 0x8000));
}

static unsigned count_queues(struct virtio_dev *d)
{
	unsigned n = 0;
	for (unsigned i = 0; i < 64; i++) {
		virtio_reg_write(d, VIRTIO_MMIO_QUEUE_SEL, i);
		if (virtio_reg_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX))
			n = i + 1;
	}
	virtio_reg_write(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	return n;
}

/* Legal-but-weird register abuse: PASS if the device simply carries on. */
static int carry_on(const char *label)
{
	struct outcome o;
	memset(data, 0, 512);
	int st = valid_rw(VIRTIO_BLK_T_IN, SECTOR_REF, data, &o);
	char ob[96];
	outcome_str(&o, ob, sizeof(ob));
	if (st == 0 && !memcmp(data, ref, 512)) {
		note("%s%s: ignored, next read %s", dlen ? "; " : "", label, ob);
		return V_PASS;
	}
	return finish(label, V_REJECT, &o, st == 0 ? ", wrong data" : ", next read refused");
}

static int case_bad_queue_notify(void)
{
	dev_init(0);
	unsigned nq = count_queues(&dev);
	uint64_t t0 = rdtsc();
	for (unsigned i = 0; i < BADNOTIFY_COUNT; i++) {
		uint32_t v = i < BADNOTIFY_COUNT - 3 ? nq + i :
			     i == BADNOTIFY_COUNT - 3 ? 0xffffu :
			     i == BADNOTIFY_COUNT - 2 ? 0x10000u : 0xffffffffu;
		virtio_reg_write(&dev, VIRTIO_MMIO_QUEUE_NOTIFY, v);
	}
	uint64_t us = us_since(t0);
	note("%u queue(s), %u notifies for queues >= %u in %lu us", nq, BADNOTIFY_COUNT, nq, us);
	return carry_on("device");
}

static int case_queue_regs_after_ready(void)
{
	dev_init(0);
	/* A decoy table: the same request, but reading into decoy[]. */
	struct vring_desc *dd = (struct vring_desc *)(void *)decoy_ring;
	memset(decoy_ring, 0, sizeof(decoy_ring));
	memset(decoy, 0xa5, 512);
	set_desc(dd, 0, &hdr, sizeof(hdr), NEXT, 1);
	set_desc(dd, 1, decoy, 512, WRITE | NEXT, 2);
	set_desc(dd, 2, &status, 1, WRITE, 0);
	uint64_t gpa = (uint64_t)(uintptr_t)decoy_ring;
	virtio_reg_write(&dev, VIRTIO_MMIO_QUEUE_SEL, 0);
	virtio_reg_write(&dev, VIRTIO_MMIO_QUEUE_DESC_LO, (uint32_t)gpa);
	virtio_reg_write(&dev, VIRTIO_MMIO_QUEUE_DESC_HI, (uint32_t)(gpa >> 32));
	uint64_t rb = virtio_reg_read(&dev, VIRTIO_MMIO_QUEUE_DESC_LO) |
		      (uint64_t)virtio_reg_read(&dev, VIRTIO_MMIO_QUEUE_DESC_HI) << 32;
	note("QueueDesc reads back 0x%lx (%s)", rb, rb == gpa ? "the new value" :
	     rb == (uint64_t)(uintptr_t)q.desc ? "the old value" : "neither");
	uint32_t devst = virtio_status(&dev);
	if (devst & VIRTIO_S_NEEDS_RESET) {
		struct outcome o = { .kind = O_RESET, .devst = devst, .st = 0xff };
		return finish("write", V_REJECT, &o, NULL);
	}
	struct outcome o;
	memset(data, 0, 512);
	int st = valid_rw(VIRTIO_BLK_T_IN, SECTOR_REF, data, &o);
	if (!all_bytes(decoy, 512, 0xa5))
		return finish("next read", V_FAIL, &o, ", device followed the new QueueDesc");
	if (st == 0 && !memcmp(data, ref, 512)) {
		char ob[96];
		note("; next read: %s on the old ring", outcome_str(&o, ob, sizeof(ob)));
		return V_PASS;
	}
	return finish("next read", V_REJECT, &o, st == 0 ? ", wrong data" : NULL);
}

static int flood_queue(struct virtio_dev *d, unsigned qi, const char *what)
{
	uint64_t t0 = rdtsc();
	for (unsigned i = 0; i < FLOOD_COUNT; i++)
		virtio_reg_write(d, VIRTIO_MMIO_QUEUE_NOTIFY, qi);
	uint64_t us = us_since(t0);
	note("%s%s: %u notifies in %lu ms (%lu ns each)", dlen ? "; " : "", what,
	     FLOOD_COUNT, us / 1000, us * 1000 / FLOOD_COUNT);
	return 0;
}

static int case_flood(int have_blk)
{
	int v = V_PASS;
	if (have_blk) {
		dev_init(0);
		flood_queue(&dev, 0, "blk queue 0");
		v = worst(v, carry_on("blk"));
	}
	if (vnet_open(&net, 0)) {
		note("%svirtio-net: none", dlen ? "; " : "");
		return v;
	}
	flood_queue(&net.dev, 1, "net tx queue");
	uint32_t st = virtio_status(&net.dev);
	/* Still working? One broadcast frame must complete on tx. */
	static uint8_t frame[60];
	memset(frame, 0xff, 6);
	memcpy(frame + 6, net.mac, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;           /* IEEE local experimental EtherType */
	memcpy(frame + 14, "lvmm hostile flood", 18);
	int ok = !(st & VIRTIO_S_NEEDS_RESET) && vnet_send(&net, frame, sizeof(frame)) == 0 &&
		 virtq_wait(&net.tx, NULL, timeout_us) >= 0;
	note("; net: %s", ok ? "tx works" : (st & VIRTIO_S_NEEDS_RESET) ? "needs-reset" :
			  "tx did not complete");
	/* A refusal of a legal kick is not expected: treat it as wedged. */
	return worst(v, ok ? V_PASS : V_WEDGED);
}

static int case_features_after_ok(void)
{
	int v = V_PASS;
	uint64_t add = offered & (VIRTIO_F_EVENT_IDX | VIRTIO_F_INDIRECT_DESC);
	/* Negotiate VERSION_1 only, by hand. */
	virtio_reg_write(&dev, VIRTIO_MMIO_STATUS, 0);
	for (int i = 0; i < 1000 && virtio_status(&dev); i++)
		cpu_relax();
	virtio_reg_write(&dev, VIRTIO_MMIO_STATUS, VIRTIO_S_ACKNOWLEDGE);
	virtio_reg_write(&dev, VIRTIO_MMIO_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	virtio_reg_write(&dev, VIRTIO_MMIO_DRV_FEAT_SEL, 0);
	virtio_reg_write(&dev, VIRTIO_MMIO_DRV_FEATURES, 0);
	virtio_reg_write(&dev, VIRTIO_MMIO_DRV_FEAT_SEL, 1);
	virtio_reg_write(&dev, VIRTIO_MMIO_DRV_FEATURES, 1);
	virtio_reg_write(&dev, VIRTIO_MMIO_STATUS,
			 VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	if (!(virtio_status(&dev) & VIRTIO_S_FEATURES_OK)) {
		note("VERSION_1 alone refused");
		return recover() ? V_WEDGED : V_REJECT;
	}
	/* Now add EVENT_IDX (and INDIRECT), then set up the queue. */
	virtio_reg_write(&dev, VIRTIO_MMIO_DRV_FEAT_SEL, 0);
	virtio_reg_write(&dev, VIRTIO_MMIO_DRV_FEATURES, (uint32_t)add);
	virtio_reg_write(&dev, VIRTIO_MMIO_DRV_FEAT_SEL, 1);
	virtio_reg_write(&dev, VIRTIO_MMIO_DRV_FEATURES, 1);
	uint32_t st = virtio_status(&dev);
	note("added 0x%lx after FEATURES_OK: status 0x%x", add, st);
	if (st & VIRTIO_S_NEEDS_RESET) {
		struct outcome o = { .kind = O_RESET, .devst = st, .st = 0xff };
		return finish("write", V_REJECT, &o, NULL);
	}
	if (virtq_setup_at(&dev, &q, 0, QSIZE, ring)) {
		note("; queue set-up failed");
		v = V_REJECT;
	}
	virtio_driver_ok(&dev);
	/* Our own features again after DRIVER_OK, for good measure. */
	virtio_reg_write(&dev, VIRTIO_MMIO_DRV_FEAT_SEL, 0);
	virtio_reg_write(&dev, VIRTIO_MMIO_DRV_FEATURES, (uint32_t)add);
	/* avail_event sits after the used ring: only EVENT_IDX writes it. */
	volatile uint16_t *avail_event = (volatile uint16_t *)(void *)&q.used->ring[q.size];
	*avail_event = 0xdead;
	struct outcome o;
	memset(data, 0, 512);
	int rst = valid_rw(VIRTIO_BLK_T_IN, SECTOR_REF, data, &o);
	if (*avail_event != 0xdead)
		return finish("next read", V_FAIL, &o,
			      ", device uses EVENT_IDX although it was set after FEATURES_OK");
	if (rst == 0 && !memcmp(data, ref, 512)) {
		char ob[96];
		note("; ignored, next read %s", outcome_str(&o, ob, sizeof(ob)));
		return v;
	}
	return finish("next read", worst(v, V_REJECT), &o, rst == 0 ? ", wrong data" : NULL);
}

static int case_dma_fault_count(void)
{
	int v = V_REJECT, refused = 0, resets = 0;
	uint64_t t0 = rdtsc();
	for (int i = 0; i < FAULT_COUNT; i++) {
		struct outcome o;
		dev_init(0);
		set_hdr(VIRTIO_BLK_T_IN, SECTOR_REF);
		set_desc(q.desc, 0, &hdr, sizeof(hdr), NEXT, 1);
		set_desc_gpa(q.desc, 1, ram_top + 4096ULL * (uint64_t)i, 512, WRITE | NEXT, 2);
		set_desc(q.desc, 2, &status, 1, WRITE, 0);
		submit(0, &o);
		int c = classify_bad(&o);
		if (c == V_FAIL)
			v = V_FAIL;
		else
			refused++;
		if (o.devst & VIRTIO_S_NEEDS_RESET)
			resets++;
	}
	uint64_t us = us_since(t0);
	int wedged = recover() != 0;
	note("%d/%d refused (%d needs-reset) in %lu ms%s", refused, FAULT_COUNT, resets,
	     us / 1000, wedged ? ", WEDGED after reset" : "");
	if (wedged && v < V_WEDGED)
		v = V_WEDGED;
	return v;
}

/* ---- Driver ------------------------------------------------------------ */

struct hcase {
	const char *name;
	int (*fn)(void);
	int needs_blk;
};

static int have_blk;

static int case_flood_wrap(void)
{
	return case_flood(have_blk);
}

static const struct hcase cases[] = {
	{ "loop", case_loop, 1 },
	{ "oversize-chain", case_oversize_chain, 1 },
	{ "next-out-of-range", case_next_out_of_range, 1 },
	{ "outside-ram", case_outside_ram, 1 },
	{ "mmio-hole", case_mmio_hole, 1 },
	{ "wrap", case_wrap, 1 },
	{ "huge-len", case_huge_len, 1 },
	{ "zero-len", case_zero_len, 1 },
	{ "readonly-write", case_readonly_write, 1 },
	{ "bad-indirect", case_bad_indirect, 1 },
	{ "avail-jump", case_avail_jump, 1 },
	{ "bad-queue-notify", case_bad_queue_notify, 1 },
	{ "queue-regs-after-ready", case_queue_regs_after_ready, 1 },
	{ "flood", case_flood_wrap, 0 },
	{ "features-after-ok", case_features_after_ok, 1 },
	{ "dma-fault-count", case_dma_fault_count, 1 },
};
#define NCASES ((int)(sizeof(cases) / sizeof(cases[0])))

static void fill_pattern(uint8_t *b, const char *tag, uint64_t sector)
{
	char line[40];
	snprintf(line, sizeof(line), "lvmm hostile %-8s %08lu \n", tag, sector);
	for (int i = 0; i < 16; i++)
		memcpy(b + 32 * i, line, 32);
}

/* Reference sectors: written (unless read-only) and read back. */
static int setup_blk(void)
{
	struct outcome o;
	virtio_config_read(&dev, 0, &capacity, 8);
	offered = read_offered(&dev);
	read_only = !!(offered & VIRTIO_BLK_F_RO);
	if (capacity < MIN_SECTORS) {
		printf("hostile: disk has %lu sectors, need at least %d\n", capacity, MIN_SECTORS);
		return 2;
	}
	if (dev_init(0)) {
		printf("hostile: setup: device refused VERSION_1 alone\n");
		return 1;
	}
	fill_pattern(ref, "ref", SECTOR_REF);
	fill_pattern(scratch_ref, "scratch", SECTOR_SCRATCH);
	fill_pattern(pattern2, "bad-out", SECTOR_SCRATCH);
	if (!read_only) {
		memcpy(data, ref, 512);
		int a = valid_rw(VIRTIO_BLK_T_OUT, SECTOR_REF, data, &o);
		memcpy(data, scratch_ref, 512);
		int b = valid_rw(VIRTIO_BLK_T_OUT, SECTOR_SCRATCH, data, &o);
		if (a || b) {
			printf("hostile: setup: writing the reference sectors failed (%d, %d)\n", a, b);
			return 1;
		}
	} else {
		memset(data, 0, 512);
		if (valid_rw(VIRTIO_BLK_T_IN, SECTOR_REF, data, &o)) {
			printf("hostile: setup: reading sector %d failed\n", SECTOR_REF);
			return 1;
		}
		memcpy(ref, data, 512);
	}
	if (!device_works()) {
		printf("hostile: setup: the reference read failed\n");
		return 1;
	}
	printf("hostile: virtio-blk at 0x%lx irq %u, %lu sectors%s, features 0x%lx, "
	       "ram ends at 0x%lx\n", dev.base, dev.irq, capacity,
	       read_only ? " (read-only)" : "", offered, ram_top);
	return 0;
}

static int selected(const char *list, const char *name)
{
	size_t n = strlen(name);
	if (!strcmp(list, "all"))
		return 1;
	for (const char *p = list; *p;) {
		const char *e = p;
		while (*e && *e != ',')
			e++;
		if ((size_t)(e - p) == n && !strncmp(p, name, n))
			return 1;
		p = *e ? e + 1 : e;
	}
	return 0;
}

int main(void)
{
	char list[512], arg[32];
	if (rt_cmdline_get("case", list, sizeof(list)) <= 0) {
		printf("hostile: need case=NAME[,NAME...] or case=all; cases:");
		for (int i = 0; i < NCASES; i++)
			printf(" %s", cases[i].name);
		printf("\n");
		return 2;
	}
	/* Every name must be known. */
	for (const char *p = list; *p && strcmp(list, "all");) {
		const char *e = p;
		while (*e && *e != ',')
			e++;
		int found = 0;
		for (int i = 0; i < NCASES; i++)
			if (strlen(cases[i].name) == (size_t)(e - p) &&
			    !strncmp(p, cases[i].name, (size_t)(e - p)))
				found = 1;
		if (!found) {
			printf("hostile: unknown case in \"%s\"\n", list);
			return 2;
		}
		p = *e ? e + 1 : e;
	}
	if (rt_cmdline_get("hostile_timeout_ms", arg, sizeof(arg)) > 0)
		timeout_us = rt_strtou64(arg, NULL) * 1000;
	int index = 0;
	if (rt_cmdline_get("blk_index", arg, sizeof(arg)) > 0)
		index = (int)rt_strtou64(arg, NULL);

	int n;
	const struct rt_memmap_entry *m = rt_memmap(&n);
	for (int i = 0; i < n; i++)
		if (m[i].type == RT_E820_RAM && m[i].addr + m[i].size > ram_top)
			ram_top = m[i].addr + m[i].size;

	have_blk = virtio_find(VIRTIO_ID_BLK, index, &dev) == 0;
	int need_blk = 0;
	for (int i = 0; i < NCASES; i++)
		if (selected(list, cases[i].name) && cases[i].needs_blk)
			need_blk = 1;
	if (need_blk && !have_blk) {
		printf("hostile: no virtio-blk device %d\n", index);
		return 2;
	}
	if (have_blk) {
		int r = setup_blk();
		if (r)
			return r;
	}

	uint64_t t_all = rdtsc();
	for (int i = 0; i < NCASES; i++) {
		if (!selected(list, cases[i].name))
			continue;
		dlen = 0;
		detail[0] = '\0';
		uint64_t t0 = rdtsc();
		int v = cases[i].fn();
		uint64_t us = us_since(t0);
		printf("hostile: %s: %s %s [%lu ms]\n", cases[i].name, verdict_name[v], detail,
		       us / 1000);
	}
	printf("hostile: done (%lu ms)\n", us_since(t_all) / 1000);
	return 0;
}
