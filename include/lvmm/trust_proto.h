/* SPDX-License-Identifier: MIT */
/*
 * Supervisor <-> trust process protocol (docs/trust.md, "The trust process").
 *
 * A partition with `verify:` or a `tpm` device gets a trust process
 * (`lvmm __trust NAME`, this binary re-executed and sandboxed, as its own
 * uid). It does what needs rich input or crypto: reading manifests,
 * signatures and keys, verification, measurement into the vTPM (its own
 * swtpm child), the event log, PCR reads and quotes. It also passes its
 * verdict to the partition itself, over the gate socket the supervisor
 * made for that start (struct lvmm_gate, include/lvmm/proto.h), and
 * formats the verdict's events. The supervisor keeps the decisions: it
 * seals the boot images, chooses which image sets the partition may load,
 * asks, validates every field of every answer, emits the events (names
 * and keys from its own tables, every value escaped), reports the start,
 * and kills a partition that runs without the go it was told of.
 *
 * Same framing as include/lvmm/proto.h (one SOCK_SEQPACKET packet per
 * message, struct lvmm_msg_hdr, fds by SCM_RIGHTS). Every payload is its
 * whole fixed-size struct; strings are fixed arrays, NUL-terminated.
 *
 *   sup -> trust   TRUST_INIT        once, first: the partition's platform entry (+ vTPM state dir)
 *   sup -> trust   TRUST_BOOT        per partition start: the fds (the gate's end included)
 *   part -> trust  GATE_IMAGES       on the gate: the partition's image memfds, read-only, as it fills them
 *   trust -> sup   TRUST_BOOT_DONE   the verdict and its events, first
 *   trust -> part  GATE              then the same verdict (+ the event log memfd), on the gate
 *   sup -> trust   TRUST_ATTEST      a nonce
 *   trust -> sup   TRUST_ATTEST_DONE the result (+ the answer's JSON members, a memfd)
 *
 * The supervisor closing its end is the order to stop: the trust process
 * shuts swtpm down (its state is saved) and exits 0.
 */
#ifndef LVMM_TRUST_PROTO_H
#define LVMM_TRUST_PROTO_H

#include <stdint.h>

#include "config/platform.h"
#include "lvmm/proto.h"

#define LVMM_TRUST_PLATFORM_MAX 16384 /* canonical platform entry (= MEASURE_PLATFORM_MAX) */
#define LVMM_TRUST_REASON_MAX   320
#define LVMM_TRUST_NONCE_MAX    64
#define LVMM_TRUST_ATTEST_MAX   1024  /* TPMS_ATTEST bytes */
#define LVMM_TRUST_SIG_MAX      72    /* TPMT_SIGNATURE, ECDSA P-256 */
#define LVMM_TRUST_PEM_MAX      512   /* the attestation key, PEM */
#define LVMM_TRUST_PCRS         24

/* Exit status of a trust process whose vTPM failed (swtpm died, misbehaved or could not start). */
#define LVMM_TRUST_EXIT_VTPM    3

/*
 * The partition's platform entry as the supervisor parsed it (the same
 * binary at both ends: one layout): the trust process takes from it the
 * boot sets' names and command lines, verify: and on_fail, whether there
 * is a vTPM, and the canonical entry it measures (PCR 21). With a vTPM,
 * one fd: its state directory, opened by the supervisor.
 */
struct lvmm_trust_init {
	uint32_t log_level;
	uint32_t pad;
	struct plat_part part;
};

enum lvmm_trust_on_fail {
	LVMM_TRUST_REFUSE = 1,     /* a failed verification: do not start */
	LVMM_TRUST_SAFE_IMAGE = 2, /* boot the safe image (itself verified) instead */
};

/* A boot set's verify: files in BOOT. */
enum { LVMM_TRUST_FD_MANIFEST, LVMM_TRUST_FD_SIGNATURE, LVMM_TRUST_FD_KEY, LVMM_TRUST_FDS };

#define LVMM_TRUST_BOOT_F_SAFE  (1U << 0) /* the partition has its safe image too (image set 1) */

/*
 * One start. fds are indices into the message's fd array, or LVMM_NO_FD:
 * fd[0] the verify: files of the partition's boot set, fd[1] its safe
 * image's; one that could not be opened is absent (verification then
 * fails). The images themselves come from the partition, on the gate.
 */
struct lvmm_trust_boot {
	uint32_t seq;          /* echoed in BOOT_DONE; a new BOOT supersedes an unanswered one */
	uint32_t flags;        /* LVMM_TRUST_BOOT_F_* */
	int32_t fd_guest;      /* with a vTPM: the trust end of the partition's TPM socket */
	int32_t fd_gate;       /* the trust end of this start's gate socket (the verdict goes there) */
	int32_t fd[2][LVMM_TRUST_FDS];
};

enum lvmm_trust_verdict {
	LVMM_TRUST_OK = 1,          /* boot image[0] (verified, or nothing to verify) */
	LVMM_TRUST_REFUSED = 2,     /* image[0] failed verification; on_fail: refuse */
	LVMM_TRUST_SAFE = 3,        /* image[0] failed; the verified safe image boots */
	LVMM_TRUST_SAFE_FAILED = 4, /* image[0] failed and so did the safe image */
	LVMM_TRUST_ERROR = 5,       /* could not decide (unreadable input, vTPM failure): reason */
	LVMM_TRUST_VERDICT_MAX = 5,
};

/*
 * The verdict's events, formatted by the trust process: the supervisor
 * emits each with the name and keys from its own tables (kind and key are
 * indices, checked), the values escaped (events.c); which kinds a verdict
 * may carry is fixed (trust.c). Strings: file names, lower-case hex
 * digests, reasons; log_events and log_bytes are numbers (num).
 */
enum lvmm_trust_event_kind {
	LVMM_TRUST_EV_VERIFY_FAILED = 0, /* image, file, expected, actual, reason, action */
	LVMM_TRUST_EV_SAFE_IMAGE = 1,    /* failed */
	LVMM_TRUST_EV_BOOT_VERIFIED = 2, /* image, key, kernel, initrd, cmdline */
	LVMM_TRUST_EV_BOOT_MEASURED = 3, /* the same, log_events, log_bytes */
	LVMM_TRUST_EV_MAX = 3,
};

enum lvmm_trust_key {
	LVMM_TRUST_K_IMAGE, LVMM_TRUST_K_FILE, LVMM_TRUST_K_EXPECTED, LVMM_TRUST_K_ACTUAL,
	LVMM_TRUST_K_REASON, LVMM_TRUST_K_ACTION, LVMM_TRUST_K_FAILED, LVMM_TRUST_K_KEY,
	LVMM_TRUST_K_KERNEL, LVMM_TRUST_K_INITRD, LVMM_TRUST_K_CMDLINE,
	LVMM_TRUST_K_LOG_EVENTS, /* this one and those after it are numbers */
	LVMM_TRUST_K_LOG_BYTES,
	LVMM_TRUST_K_MAX = LVMM_TRUST_K_LOG_BYTES,
};

#define LVMM_TRUST_EVENTS_MAX 4
#define LVMM_TRUST_FIELDS_MAX 8

struct lvmm_trust_field {
	uint32_t key;          /* enum lvmm_trust_key, each at most once per event */
	uint32_t pad;
	uint64_t num;          /* a number key's value */
	char str[LVMM_TRUST_REASON_MAX]; /* a string key's value */
};

struct lvmm_trust_event {
	uint32_t kind;         /* enum lvmm_trust_event_kind */
	uint32_t nfields;      /* 0..LVMM_TRUST_FIELDS_MAX */
	struct lvmm_trust_field f[LVMM_TRUST_FIELDS_MAX];
};

struct lvmm_trust_boot_done {
	uint32_t seq;
	uint32_t verdict;      /* enum lvmm_trust_verdict: what the partition was told on its gate */
	uint32_t nevents;      /* 0..LVMM_TRUST_EVENTS_MAX, emitted in this order */
	uint32_t pad;
	struct lvmm_trust_event ev[LVMM_TRUST_EVENTS_MAX];
	char reason[LVMM_TRUST_REASON_MAX]; /* a refusal (not OK, not SAFE): why, never "" */
};

struct lvmm_trust_attest {
	uint32_t seq;
	uint32_t nonce_len;    /* 1..LVMM_TRUST_NONCE_MAX */
	uint8_t nonce[LVMM_TRUST_NONCE_MAX];
};

/*
 * With result 0, one fd: a memfd sealed against every change holding the
 * answer as JSON object members (LVMM_BLOB_JSON_FIELDS; docs/trust.md
 * "attest"), at most LVMM_TRUST_ATTEST_JSON_MAX bytes: the trust process
 * formats what it read and quoted, the supervisor passes it on unread.
 */
struct lvmm_trust_attest_done {
	uint32_t seq;
	int32_t result;        /* 0 or -errno (error says why) */
	char error[LVMM_TRUST_REASON_MAX];
};

/* A 64 KiB event log in base64 (87,384 bytes), PCRs, quote, key: 96 KiB. */
#define LVMM_TRUST_ATTEST_JSON_MAX (96 * 1024)
#define LVMM_TRUST_PCR_MASK 0x7e0000U /* PCRs 17-22: the ones lvmm measures into */

_Static_assert(sizeof(struct lvmm_trust_init) < LVMM_MSG_MAX_LEN, "INIT must fit a message");
_Static_assert(sizeof(struct lvmm_trust_boot_done) < LVMM_MSG_MAX_LEN, "BOOT_DONE must fit");
_Static_assert(sizeof(struct lvmm_trust_attest_done) < LVMM_MSG_MAX_LEN, "ATTEST_DONE must fit");
_Static_assert(sizeof(struct lvmm_trust_field) % 8 == 0, "no tail padding in a field");
_Static_assert(sizeof(struct lvmm_trust_attest_done) % 4 == 0, "no tail padding in ATTEST_DONE");

#endif /* LVMM_TRUST_PROTO_H */
