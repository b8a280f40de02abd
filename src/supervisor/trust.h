/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's side of the trust processes (docs/trust.md). A
 * partition with `verify:` or a `tpm` device gets one, `lvmm __trust NAME`
 * (src/trust/trustd.c), started at its first start, as an identity of its
 * own, and kept for the platform's lifetime. The trust process reads and
 * checks everything rich (manifests, signatures, keys, swtpm); this file
 * sends it fixed-layout requests, validates every field of its answers,
 * emits the events, and hands the verdict to the life cycle. The trust
 * process tells a gated partition the verdict itself (its gate socket);
 * the life cycle reports the start only on the verdict it got here, and
 * kills a partition that runs without it. Nothing here blocks on a trust
 * process: answers arrive through epoll, each request has a deadline.
 */
#ifndef LVMM_SUP_TRUST_H
#define LVMM_SUP_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lvmm/proto.h"
#include "lvmm/trust_proto.h"

#define TRUST_BOOT_TIMEOUT_MS   30000 /* verification + measurement of one start */
/* An attestation may wait for a guest TPM command (VTPM_GUEST_TIMEOUT_MS, 30 s) first. */
#define TRUST_ATTEST_TIMEOUT_MS 40000

struct sup;
struct part_rt;

/** trust_init() - no trust process exists yet (a new run). */
void trust_init(struct sup *s);

/**
 * trust_boot() - ask partition pr's trust process (started now if it has
 * none) to verify and measure this start: the verify: files of each image
 * set pr->img has (the safe image's when pr->img[2] is open), with a TPM
 * the trust end of the partition's TPM socket (guest_fd), and the trust
 * end of the start's gate socket (gate_fd), on which the partition sends
 * it the images and it tells the partition the verdict; both fds are
 * always consumed. The verdict comes to lc_on_verified() too. 0 or -errno
 * with the reason in err.
 */
int trust_boot(struct sup *s, struct part_rt *pr, int guest_fd, int gate_fd, char *err,
	       size_t errlen);

/** trust_on_message() - epoll: the trust process of partition idx sent something. */
void trust_on_message(struct sup *s, unsigned idx);

/** trust_reaped() - process pid ended; false if it was no trust process. */
bool trust_reaped(struct sup *s, pid_t pid, int wstatus);

/**
 * trust_attest() - quote partition pr's vTPM with nonce[0..n): the answer
 * goes to hooks->attested with token. 0; -ENODEV (no vTPM), -ESRCH (not
 * running), -EBUSY (an attestation of it is in progress), -EINVAL, -EIO.
 */
int trust_attest(struct sup *s, struct part_rt *pr, const uint8_t *nonce, size_t n, uint32_t token);

/** trust_next_deadline() - the earliest request deadline (UINT64_MAX: none). */
uint64_t trust_next_deadline(struct sup *s);

/** trust_on_timer() - a trust process past its deadline is killed (and reported when reaped). */
void trust_on_timer(struct sup *s, uint64_t now);

/** trust_close() - the platform ends: every trust process stops swtpm and exits (bounded wait). */
void trust_close(struct sup *s);

/**
 * trust_check_msg() - is a message that passed proto_recv() one a trust
 * process may send? Its type's exact length and fd count, enums in range,
 * only the event kinds its verdict may carry, each key known and at most
 * once per event, strings NUL-terminated, a refusal's reason not empty,
 * an attestation's memfd exactly with success. Context (the sequence
 * number, the partition's configuration, the memfd's seals) is checked by
 * the caller. 0 or -EPROTO.
 */
int trust_check_msg(const struct lvmm_msg_hdr *hdr, const void *payload);

/**
 * trust_sealed_ok() - is fd a memfd sealed against every change, of
 * 1..max bytes? Its size in *size. 0 or -EPROTO.
 */
int trust_sealed_ok(int fd, uint64_t max, uint64_t *size);

#endif
