// SPDX-License-Identifier: MIT
/*
 * The heartbeat watchdog's decision (src/vmm/protect.c): late only past the
 * timeout, never for a pet that lands between the check's clock read and
 * its load of the last pet (seen as a false "no heartbeat for
 * 18446744073709 ms" under load, which restarts a healthy partition).
 */
#include "unit.h"
#include "vmm/protect.h"

#define MS 1000000ULL

static void test_deadline(void)
{
	CHECK(!protect_wd_late(1000 * MS, 600 * MS, 500)); /* 400 ms since the pet */
	CHECK(!protect_wd_late(1100 * MS, 600 * MS, 500)); /* exactly the timeout */
	CHECK(protect_wd_late(1100 * MS + 1, 600 * MS, 500));
	CHECK(protect_wd_late(UINT64_MAX, 1, 500));
}

static void test_pet_after_clock_read(void)
{
	/* now read, then a vCPU pets: last is newer than now. */
	CHECK(!protect_wd_late(1000 * MS, 1000 * MS + 1, 500));
	CHECK(!protect_wd_late(1000 * MS, 1000 * MS, 500));
	CHECK(!protect_wd_late(5, UINT64_MAX, 1));
}

static void test_never_petted(void)
{
	CHECK(!protect_wd_late(1000 * MS, 0, 500)); /* not started yet */
}

int main(void)
{
	RUN(test_deadline);
	RUN(test_pet_after_clock_read);
	RUN(test_never_petted);
	return unit_done();
}
