/* SPDX-License-Identifier: MIT */
/*
 * Partition identities: each partition runs as its own uid/gid, taken from
 * the platform's range [base, base + count) (docs/platform-file.md,
 * `identities:`), as Firecracker's jailer gives each microVM its own.
 * A uid is free when no process on the host uses it (scanned in /proc)
 * and no other lvmm holds its lock file (flock, released when the holder
 * exits, whatever way it exits). Lock files live in IDENT_LOCK_DIR, or
 * IDENT_LOCK_DIR_FALLBACK when /run cannot be written.
 */
#ifndef LVMM_IDENTITY_H
#define LVMM_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#define IDENT_LOCK_DIR          "/run/lvmm/uid"
#define IDENT_LOCK_DIR_FALLBACK "/var/tmp/lvmm/uid"
#define IDENT_SCAN_MAX          65536U /* candidates looked at per claim */
#define IDENT_SCAN_REUSE_NS     1000000000ULL /* a /proc scan serves the claims of one second */

/**
 * ident_claim() - find a uid in [base, base + count) that no process uses
 * and no lvmm has claimed, and lock it. 0 with *uid and *lock_fd (keep it
 * open while the uid is in use), -EUSERS when the range is exhausted, or
 * -errno; err says why.
 */
int ident_claim(uint32_t base, uint32_t count, uint32_t *uid, int *lock_fd, char *err,
		size_t errlen);

/** ident_release() - give a claimed uid back (closes its lock). */
void ident_release(int lock_fd);

#endif
