/* SPDX-License-Identifier: MIT */
/*
 * Shared bits of the libFuzzer harnesses. Each harness defines
 * LLVMFuzzerTestOneInput(); built with clang -fsanitize=fuzzer it is a
 * fuzzer, built with replay.c it is a unit test that replays the corpus
 * (tests/fuzz/corpus/<target>/) under the normal or SAN=1 build.
 *
 * FUZZ_CHECK aborts: an invariant broken by some input is a crash to keep.
 */
#ifndef LVMM_FUZZ_H
#define LVMM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                            \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__,  \
				__LINE__, #cond);                                   \
			abort();                                                    \
		}                                                                   \
	} while (0)

/* A cursor over the fuzz input; reads past the end yield zeros. */
struct fin {
	const uint8_t *p;
	size_t left;
};

static inline uint64_t fin_bytes(struct fin *in, unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		uint64_t b = 0;

		if (in->left) {
			b = *in->p++;
			in->left--;
		}
		v |= b << (8 * i);
	}
	return v;
}

#define fin_u8(in)  ((uint8_t)fin_bytes(in, 1))
#define fin_u16(in) ((uint16_t)fin_bytes(in, 2))
#define fin_u32(in) ((uint32_t)fin_bytes(in, 4))
#define fin_u64(in) fin_bytes(in, 8)

/* Copy up to n input bytes into dst; returns how many. */
static inline size_t fin_copy(struct fin *in, void *dst, size_t n)
{
	size_t k = n < in->left ? n : in->left;
	size_t i;

	for (i = 0; i < k; i++)
		((uint8_t *)dst)[i] = in->p[i];
	in->p += k;
	in->left -= k;
	return k;
}

#endif
