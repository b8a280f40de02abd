// SPDX-License-Identifier: MIT
/*
 * CMOS RTC (MC146818) at ports 0x70/0x71: wall-clock time read from the
 * host (UTC), the status registers guests poll, and the CMOS bytes that
 * describe memory size. Writes to the clock registers are accepted and
 * ignored (the guest cannot move the host's clock); other CMOS bytes are
 * plain storage.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lvmm/guest_abi.h"
#include "devices/registry.h"

#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS   0x04
#define RTC_WEEKDAY 0x06
#define RTC_DAY     0x07
#define RTC_MONTH   0x08
#define RTC_YEAR    0x09
#define RTC_REG_A   0x0a
#define RTC_REG_B   0x0b
#define RTC_REG_C   0x0c
#define RTC_REG_D   0x0d
#define RTC_CENTURY 0x32
#define REG_B_24H   0x02
#define REG_B_BIN   0x04

struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t cmos[128];
};

static uint8_t to_bcd(unsigned v) { return (uint8_t)(((v / 10) << 4) | (v % 10)); }

struct civil {
	unsigned year, month, day, hour, min, sec, wday; /* month 1-12, wday 0 = Sunday */
};

/*
 * UTC date from Unix time, by hand: glibc's gmtime_r() may run tzset(), which
 * opens /etc/localtime, a system call the partition's sandbox forbids.
 * Days to civil date with the 400-year era method (proleptic Gregorian).
 */
static void utc_civil(int64_t t, struct civil *c)
{
	int64_t days = t / 86400, secs = t % 86400, era, doe, yoe, doy, mp;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	c->hour = (unsigned)(secs / 3600);
	c->min = (unsigned)(secs / 60 % 60);
	c->sec = (unsigned)(secs % 60);
	c->wday = (unsigned)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
	days += 719468;                             /* shift the epoch to 0000-03-01 */
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	c->day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	c->month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	c->year = (unsigned)(yoe + era * 400 + (c->month <= 2));
}

static uint8_t rtc_time_reg(const struct rtc *r, uint8_t idx)
{
	struct timespec ts;
	struct civil tm;
	unsigned v, hour_pm = 0;
	bool bin = r->cmos[RTC_REG_B] & REG_B_BIN;

	clock_gettime(CLOCK_REALTIME, &ts);
	utc_civil(ts.tv_sec, &tm);
	switch (idx) {
	case RTC_SECONDS: v = tm.sec; break;
	case RTC_MINUTES: v = tm.min; break;
	case RTC_HOURS:
		v = tm.hour;
		if (!(r->cmos[RTC_REG_B] & REG_B_24H)) {
			hour_pm = v >= 12 ? 0x80 : 0;
			v = v % 12 ? v % 12 : 12;
		}
		break;
	case RTC_WEEKDAY: v = tm.wday + 1; break;
	case RTC_DAY: v = tm.day; break;
	case RTC_MONTH: v = tm.month; break;
	case RTC_YEAR: v = tm.year % 100; break;
	case RTC_CENTURY: v = tm.year / 100; break;
	default: return 0;
	}
	return (uint8_t)((bin ? v : to_bcd(v)) | hour_pm);
}

static void rtc_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct rtc *r = opaque;
	uint8_t v = 0xff, i;

	pthread_mutex_lock(&r->lock);
	i = r->index;
	if (off == 1) {
		switch (i) {
		case RTC_SECONDS: case RTC_MINUTES: case RTC_HOURS: case RTC_WEEKDAY:
		case RTC_DAY: case RTC_MONTH: case RTC_YEAR: case RTC_CENTURY:
			v = rtc_time_reg(r, i);
			break;
		case RTC_REG_A: v = r->cmos[i] & 0x7f; break; /* never "update in progress" */
		case RTC_REG_C: v = 0; break;                 /* no interrupt flags */
		case RTC_REG_D: v = 0x80; break;              /* valid RAM and time */
		default: v = r->cmos[i]; break;
		}
	}
	pthread_mutex_unlock(&r->lock);
	memset(data, 0, len);
	*(uint8_t *)data = v;
}

static void rtc_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct rtc *r = opaque;
	uint8_t v = *(const uint8_t *)data;

	pthread_mutex_lock(&r->lock);
	if (off == 0) {
		r->index = v & 0x7f; /* bit 7 is the NMI mask */
	} else if (r->index >= RTC_REG_A && r->index != RTC_REG_C && r->index != RTC_REG_D &&
		   r->index != RTC_CENTURY) {
		r->cmos[r->index] = v;
	}
	pthread_mutex_unlock(&r->lock);
}

static const struct bus_ops rtc_bus_ops = {
	.read = rtc_read,
	.write = rtc_write,
};

/* Memory size in the CMOS bytes BIOS-era code reads. */
static void rtc_set_memory(struct rtc *r, uint64_t mem_bytes)
{
	uint64_t low = MIN(mem_bytes, LVMM_MMIO_HOLE_START);
	uint64_t ext_kb = low > MiB ? MIN((low - MiB) / KiB, 0xffffULL) : 0;
	uint64_t above16 = low > 16 * MiB ? MIN((low - 16 * MiB) / (64 * KiB), 0xffffULL) : 0;
	uint64_t above4g = mem_bytes > low ? MIN((mem_bytes - low) / (64 * KiB), 0xffffffULL) : 0;

	r->cmos[0x17] = r->cmos[0x30] = (uint8_t)ext_kb;
	r->cmos[0x18] = r->cmos[0x31] = (uint8_t)(ext_kb >> 8);
	r->cmos[0x34] = (uint8_t)above16;
	r->cmos[0x35] = (uint8_t)(above16 >> 8);
	r->cmos[0x5b] = (uint8_t)above4g;
	r->cmos[0x5c] = (uint8_t)(above4g >> 8);
	r->cmos[0x5d] = (uint8_t)(above4g >> 16);
}

static void rtc_destroy(void *state)
{
	struct rtc *r = state;

	if (r) {
		pthread_mutex_destroy(&r->lock);
		free(r);
	}
}

static int rtc_create(struct vm *vm, const struct lvmm_dev_cfg *cfg, void **state)
{
	struct rtc *r = calloc(1, sizeof(*r));
	int e;

	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->cmos[RTC_REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate */
	r->cmos[RTC_REG_B] = REG_B_24H;
	rtc_set_memory(r, vm->mem_bytes);
	e = bus_register(&vm->pio, LVMM_PORT_RTC_INDEX, 2, &rtc_bus_ops, r, "rtc");
	if (e) {
		rtc_destroy(r);
		return e;
	}
	*state = r;
	return 0;
}

const struct device_ops rtc_ops = {
	.name = "rtc",
	.create = rtc_create,
	.destroy = rtc_destroy,
};
