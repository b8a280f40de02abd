/* SPDX-License-Identifier: MIT */
/*
 * The trust process: `lvmm __trust NAME`, one per partition with `verify:`
 * or a `tpm` device, started by the supervisor as an identity of its own
 * and kept for the platform's lifetime (docs/trust.md). It owns the
 * partition's swtpm (a child it starts before its own seccomp filter goes
 * on), verifies and measures each start, writes the event log, relays the
 * guest's TPM commands (the partition's TPM socket) and answers the
 * supervisor's attestation requests (include/lvmm/trust_proto.h).
 */
#ifndef LVMM_TRUST_TRUSTD_H
#define LVMM_TRUST_TRUSTD_H

/*
 * Run the trust process on the supervisor socket sock. Returns its exit
 * status: 0 when the supervisor closed the socket (swtpm was stopped and
 * its state saved), LVMM_TRUST_EXIT_VTPM when the vTPM failed, 1 on a
 * broken supervisor channel or a setup error.
 */
int trust_main(int sock);

/*
 * The seccomp allow-list of a running trust process: swtpm_pid is the one
 * process it may signal. 0 or -errno (err says why). Exposed for tests.
 */
int trustd_sandbox(int swtpm_pid, char *err, unsigned long errlen);

#endif
