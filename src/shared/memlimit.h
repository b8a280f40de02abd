/* SPDX-License-Identifier: MIT */
/*
 * An address-space bound for a sandboxed process (the partition,
 * src/vmm/sandbox.c; the API front-end, src/api/sandbox.c; the trust
 * process, src/trust/trustd.c). Their seccomp filters must allow mmap and
 * brk for glibc's allocator, so without it a compromised process could
 * take all of the host's memory from the other partitions. docs/sandbox.md.
 */
#ifndef LVMM_SHARED_MEMLIMIT_H
#define LVMM_SHARED_MEMLIMIT_H

#include <stddef.h>

/*
 * Room beyond what the process maps when its sandbox goes on. Everything
 * large (guest RAM, image and link mappings, rings, thread stacks) is
 * mapped during setup; a running process allocates little, but glibc
 * reserves 128 MiB of address space, briefly, for each thread arena it
 * creates (64 MiB kept).
 */
#define SANDBOX_AS_HEADROOM (256ULL << 20)

/*
 * Set RLIMIT_AS (soft and hard) to the address space this process maps now
 * (/proc/self/statm) plus headroom, or keep a lower limit it already has.
 * Call before the seccomp filter, which forbids setrlimit and prlimit64,
 * so that the bound cannot be lifted. A no-op in the AddressSanitizer
 * build, whose shadow memory reserves terabytes. 0 or -errno, with err set.
 */
int sandbox_limit_address_space(unsigned long long headroom, char *err, size_t errlen);

#endif
