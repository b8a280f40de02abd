/* SPDX-License-Identifier: MIT */
/*
 * CPU discovery (Intel MP table, ACPI MADT as a fallback), AP start-up with
 * INIT-SIPI-SIPI, and TSC-based delays. All of it runs at CPL3: the LAPIC
 * page and low memory are mapped user-accessible.
 */
#include "rt.h"
#include "internal.h"

#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define ICR_BUSY     (1u << 12)

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

static uint64_t tsc_hz;

struct pvclock {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t mul;
	int8_t shift;
	uint8_t flags, pad[2];
} __attribute__((packed));

/* kvmclock publishes the TSC-to-nanoseconds scale KVM uses: exact. */
static uint64_t kvmclock_tsc_hz(void)
{
	static struct pvclock pv __attribute__((aligned(64)));
	uint32_t r[4];
	cpuid(0x40000001, 0, r);
	uint32_t msr = (r[0] & (1u << 3)) ? 0x4b564d01 : (r[0] & 1) ? 0x12 : 0;
	if (!msr)
		return 0;
	rt_syscall(RT_SYS_WRMSR, msr, (long)(uintptr_t)&pv | 1);
	uint32_t mul = __atomic_load_n(&pv.mul, __ATOMIC_ACQUIRE);
	int shift = pv.shift;
	rt_syscall(RT_SYS_WRMSR, msr, 0);
	if (!mul)
		return 0;
	uint64_t hz = (1000000000ULL << 32) / mul;
	return shift >= 0 ? hz >> shift : hz << -shift;
}

uint64_t rt_tsc_hz(void)
{
	if (tsc_hz)
		return tsc_hz;
	uint32_t r[4];
	cpuid(0x40000000, 0, r);
	if (r[1] == 0x4b4d564b) {  /* "KVMKVMKVM": KVM's leaves */
		uint32_t kvm_max = r[0];
		/* The timing leaf, when the VMM exposes it. */
		if (kvm_max >= 0x40000010) {
			cpuid(0x40000010, 0, r);
			if (r[0])
				tsc_hz = (uint64_t)r[0] * 1000;
		}
		if (!tsc_hz && kvm_max >= 0x40000001)
			tsc_hz = kvmclock_tsc_hz();
	}
	cpuid(0, 0, r);
	uint32_t max = r[0];
	if (!tsc_hz && max >= 0x15) {
		cpuid(0x15, 0, r);
		if (r[0] && r[1] && r[2])
			tsc_hz = (uint64_t)r[2] * r[1] / r[0];
	}
	if (!tsc_hz && max >= 0x16) {
		cpuid(0x16, 0, r);
		if (r[0])
			tsc_hz = (uint64_t)r[0] * 1000000;
	}
	if (!tsc_hz)
		tsc_hz = 3000000000ULL; /* a guess; timeouts are only bounds */
	return tsc_hz;
}

void rt_udelay(uint64_t us)
{
	uint64_t end = rdtsc() + us * (rt_tsc_hz() / 1000000);
	while ((int64_t)(rdtsc() - end) < 0)
		cpu_relax();
}

static int checksum_ok(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s == 0;
}

/* ---- Intel MP table --------------------------------------------------- */
struct mp_float {
	char sig[4];          /* "_MP_" */
	uint32_t config;
	uint8_t length;       /* 16-byte units */
	uint8_t rev;
	uint8_t checksum;
	uint8_t features[5];
} __attribute__((packed));

struct mp_config {
	char sig[4];          /* "PCMP" */
	uint16_t length;
	uint8_t rev;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_table;
	uint16_t oem_size;
	uint16_t count;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

static const struct mp_float *mp_scan(uint64_t base, uint64_t len)
{
	for (uint64_t a = base; a + 16 <= base + len; a += 16) {
		const struct mp_float *f = (const void *)(uintptr_t)a;
		if (memcmp(f->sig, "_MP_", 4) == 0 && f->length == 1 &&
		    checksum_ok((const uint8_t *)f, 16))
			return f;
	}
	return NULL;
}

static int mp_cpus(uint8_t *ids, int max)
{
	const struct mp_float *f = NULL;
	uint16_t ebda_seg = *(volatile uint16_t *)0x40e;
	if (ebda_seg)
		f = mp_scan((uint64_t)ebda_seg << 4, 1024);
	if (!f)
		f = mp_scan(0x9fc00, 1024);
	if (!f)
		f = mp_scan(0xf0000, 0x10000);
	if (!f || !f->config || f->features[0])
		return -1;   /* none, or a "default configuration" */
	const struct mp_config *c = (const void *)(uintptr_t)f->config;
	if (memcmp(c->sig, "PCMP", 4) != 0 || c->length < sizeof(*c) ||
	    !checksum_ok((const uint8_t *)c, c->length))
		return -1;
	const uint8_t *p = (const uint8_t *)(c + 1);
	const uint8_t *end = (const uint8_t *)c + c->length;
	int n = 0;
	for (unsigned i = 0; i < c->count && p < end; i++) {
		if (p[0] == 0) {            /* processor, 20 bytes */
			if (p + 20 > end)
				break;
			if ((p[3] & 1) && n < max)
				ids[n++] = p[1];
			p += 20;
		} else if (p[0] <= 4) {     /* bus, ioapic, irq, lint: 8 bytes */
			p += 8;
		} else {
			break;
		}
	}
	return n;
}

/* ---- ACPI MADT (QEMU microvm has no MP table) ------------------------- */
struct acpi_header {
	char sig[4];
	uint32_t length;
	uint8_t rev, checksum;
	char oem[6], oem_table[8];
	uint32_t oem_rev, creator, creator_rev;
} __attribute__((packed));

static const struct acpi_header *acpi_table(uint64_t a, const char *sig)
{
	if (!a || a >= (1ULL << 32))
		return NULL;
	const struct acpi_header *h = (const void *)(uintptr_t)a;
	if (memcmp(h->sig, sig, 4) != 0 || h->length < sizeof(*h) ||
	    !checksum_ok((const uint8_t *)h, h->length))
		return NULL;
	return h;
}

const void *rt_acpi_table(const char *sig)
{
	uint64_t rsdp_a = rt_rsdp_paddr();
	if (!rsdp_a) {
		for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
			if (memcmp((const void *)(uintptr_t)a, "RSD PTR ", 8) == 0 &&
			    checksum_ok((const uint8_t *)(uintptr_t)a, 20)) {
				rsdp_a = a;
				break;
			}
	}
	if (!rsdp_a)
		return NULL;
	const uint8_t *rsdp = (const uint8_t *)(uintptr_t)rsdp_a;
	if (memcmp(rsdp, "RSD PTR ", 8) != 0)
		return NULL;
	const struct acpi_header *root;
	unsigned esz;
	uint64_t xsdt, rsdt;
	memcpy(&rsdt, rsdp + 16, 4);
	rsdt &= 0xffffffffULL;
	memcpy(&xsdt, rsdp + 24, 8);
	if (rsdp[15] >= 2 && (root = acpi_table(xsdt, "XSDT")) != NULL)
		esz = 8;
	else if ((root = acpi_table(rsdt, "RSDT")) != NULL)
		esz = 4;
	else
		return NULL;
	const uint8_t *e = (const uint8_t *)(root + 1);
	unsigned count = (root->length - sizeof(*root)) / esz;
	for (unsigned i = 0; i < count; i++) {
		uint64_t a = 0;
		memcpy(&a, e + i * esz, esz);
		const struct acpi_header *m = acpi_table(a, sig);
		if (m)
			return m;
	}
	return NULL;
}

static int madt_cpus(uint8_t *ids, int max)
{
	const struct acpi_header *m = rt_acpi_table("APIC");
	if (!m)
		return -1;
	const uint8_t *p = (const uint8_t *)m + sizeof(*m) + 8;
	const uint8_t *end = (const uint8_t *)m + m->length;
	int n = 0;
	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
		uint32_t flags;
		if (p[0] == 0 && p[1] >= 8) {
			memcpy(&flags, p + 4, 4);
			if ((flags & 1) && n < max)
				ids[n++] = p[3];
		} else if (p[0] == 9 && p[1] >= 16) {
			uint32_t id;
			memcpy(&id, p + 4, 4);
			memcpy(&flags, p + 8, 4);
			if ((flags & 1) && id < 256 && n < max)
				ids[n++] = (uint8_t)id;
		}
		p += p[1];
	}
	return n;
}

int rt_find_cpus(uint8_t *ids, int max, const char **source)
{
	int n = mp_cpus(ids, max);
	if (n > 0) {
		*source = "mptable";
		return n;
	}
	n = madt_cpus(ids, max);
	*source = n > 0 ? "madt" : "none";
	return n > 0 ? n : -1;
}

/* ---- AP start-up -------------------------------------------------------- */
extern char rt_trampoline_start[], rt_trampoline_end[];

static void lapic_icr(unsigned apic_id, uint32_t lo)
{
	for (int i = 0; i < 100000 &&
	     (mmio_read32(LVMM_LAPIC_BASE + LAPIC_ICR_LO) & ICR_BUSY); i++)
		cpu_relax();
	mmio_write32(LVMM_LAPIC_BASE + LAPIC_ICR_HI, apic_id << 24);
	mmio_write32(LVMM_LAPIC_BASE + LAPIC_ICR_LO, lo);
}

void rt_start_aps(const uint8_t *ids, int n)
{
	static int copied;
	if (n <= 0)
		return;
	if (!copied) {
		memcpy((void *)(uintptr_t)RT_TRAMPOLINE_ADDR, rt_trampoline_start,
		       (size_t)(rt_trampoline_end - rt_trampoline_start));
		copied = 1;
	}
	/* All at once: one INIT wait and one pair of SIPIs for every AP. */
	for (int i = 0; i < n; i++)
		lapic_icr(ids[i], 0x4500);                  /* INIT, assert */
	rt_udelay(10000);
	for (int k = 0; k < 2; k++) {                       /* STARTUP, twice */
		for (int i = 0; i < n; i++)
			lapic_icr(ids[i], 0x4600 | (RT_TRAMPOLINE_ADDR >> 12));
		rt_udelay(200);
	}
}

void rt_start_ap(unsigned apic_id)
{
	uint8_t id = (uint8_t)apic_id;
	rt_start_aps(&id, 1);
}
