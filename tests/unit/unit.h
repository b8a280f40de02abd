/* SPDX-License-Identifier: MIT */
/*
 * A tiny unit-test harness. Each test binary prints one line per check
 * group ("ok - name" / "not ok - name: file:line: what") and tests/run
 * counts them. Usage:
 *
 *   static void test_foo(void) { CHECK(1 + 1 == 2); CHECK_EQ(x, 3); }
 *   int main(void) { RUN(test_foo); return unit_done(); }
 */
#ifndef LVMM_UNIT_H
#define LVMM_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int unit_failed_checks;
static int unit_tests_failed;
static int unit_tests_run;
static const char *unit_current;

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			if (!unit_failed_checks++)                                   \
				printf("not ok - %s: %s:%d: %s\n", unit_current,     \
				       __FILE__, __LINE__, #cond);                   \
		}                                                                    \
	} while (0)

#define CHECK_EQ(a, b)                                                               \
	do {                                                                         \
		long long _a = (long long)(a), _b = (long long)(b);                  \
		if (_a != _b) {                                                      \
			if (!unit_failed_checks++)                                   \
				printf("not ok - %s: %s:%d: %s == %s (%lld != %lld)\n", \
				       unit_current, __FILE__, __LINE__, #a, #b, _a, _b); \
		}                                                                    \
	} while (0)

#define CHECK_STR(a, b)                                                              \
	do {                                                                         \
		const char *_a = (a), *_b = (b);                                     \
		if (!_a || !_b || strcmp(_a, _b)) {                                  \
			if (!unit_failed_checks++)                                   \
				printf("not ok - %s: %s:%d: \"%s\" == \"%s\"\n",     \
				       unit_current, __FILE__, __LINE__,             \
				       _a ? _a : "(null)", _b ? _b : "(null)");      \
		}                                                                    \
	} while (0)

#define RUN(fn)                                                                      \
	do {                                                                         \
		unit_current = #fn;                                                  \
		unit_failed_checks = 0;                                              \
		fn();                                                                \
		unit_tests_run++;                                                    \
		if (unit_failed_checks)                                              \
			unit_tests_failed++;                                         \
		else                                                                 \
			printf("ok - %s\n", #fn);                                    \
		fflush(stdout);                                                      \
	} while (0)

static inline int unit_done(void)
{
	return unit_tests_failed ? 1 : 0;
}

#endif
