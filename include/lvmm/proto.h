/* SPDX-License-Identifier: MIT */
/*
 * Supervisor <-> partition protocol.
 *
 * One SOCK_SEQPACKET socketpair per partition. Every message is one packet:
 * a fixed header followed by exactly hdr.len payload bytes, with up to
 * LVMM_MSG_MAX_FDS file descriptors attached (SCM_RIGHTS). Both sides
 * reject a wrong magic, version, type, length or fd count before looking at
 * the payload. Payloads are fixed-layout structs (no pointers, no variable
 * parts), so validating a message is checking its length and its fields'
 * ranges. Strings are fixed arrays and must be NUL-terminated.
 */
#ifndef LVMM_PROTO_H
#define LVMM_PROTO_H

#include <linux/kvm.h>
#include <stdint.h>

#define LVMM_PROTO_MAGIC   0x4c564d4dU /* "LVMM" */
#define LVMM_PROTO_VERSION 1
#define LVMM_MSG_MAX_LEN   (64 * 1024)
/*
 * A partition's configuration at its largest: 9 fds of its own (KVM, memory,
 * kernel, initrd, console out and in, gate, safe kernel and initrd) and 3 for
 * each device (a link's memory and doorbells); asserted below. The kernel
 * takes up to 253 in one message.
 */
#define LVMM_MSG_MAX_FDS   64

#define LVMM_NAME_MAX      32   /* partition, device, link names incl. NUL */
#define LVMM_CMDLINE_MAX   4096 /* guest command line incl. NUL */
#define LVMM_MAX_VCPUS     64
#define LVMM_MAX_DEVS      12
#define LVMM_MAX_CPUID_MASK 16
#define LVMM_MAX_PROTECT   64   /* protected ranges per partition (config + run time) */
#define LVMM_NO_FD         (-1)
_Static_assert(LVMM_MSG_MAX_FDS >= 9 + 3 * LVMM_MAX_DEVS, "every platform lvmm check accepts can start");

enum lvmm_msg_type {
	LVMM_MSG_CONFIG = 1,   /* sup -> part: grant + platform entry + fds (below) */
	LVMM_MSG_READY = 2,    /* part -> sup: setup done, sandboxed, running   */
	LVMM_MSG_EVENT = 3,    /* part -> sup: struct lvmm_event               */
	LVMM_MSG_EXIT = 4,     /* part -> sup: struct lvmm_exit, then it exits  */
	LVMM_MSG_CTL = 5,      /* sup -> part: struct lvmm_ctl                 */
	LVMM_MSG_CTL_REPLY = 6,/* part -> sup: struct lvmm_ctl_reply           */
	LVMM_MSG_TPM_CMD = 7,  /* part -> trust: struct lvmm_tpm_msg (guest's TPM command) */
	LVMM_MSG_TPM_RSP = 8,  /* trust -> part: struct lvmm_tpm_msg (its response)      */
	/* Supervisor <-> trust process (include/lvmm/trust_proto.h). */
	LVMM_MSG_TRUST_INIT = 9,        /* sup -> trust: struct lvmm_trust_init        */
	LVMM_MSG_TRUST_BOOT = 10,       /* sup -> trust: struct lvmm_trust_boot + fds  */
	LVMM_MSG_TRUST_BOOT_DONE = 11,  /* trust -> sup: struct lvmm_trust_boot_done (+ event log) */
	LVMM_MSG_TRUST_ATTEST = 12,     /* sup -> trust: struct lvmm_trust_attest      */
	LVMM_MSG_TRUST_ATTEST_DONE = 13,/* trust -> sup: struct lvmm_trust_attest_done */
	LVMM_MSG_GATE = 14,    /* trust -> part: struct lvmm_gate (+ the event log): a gated start's verdict */
	LVMM_MSG_GATE_IMAGES = 15, /* part -> trust: struct lvmm_gate_images + its image memfds */
	LVMM_MSG_TYPE_MAX = 15,
};

struct lvmm_msg_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len;  /* payload bytes after the header */
	uint32_t nfds; /* descriptors attached */
};

/* ---- CONFIG ---------------------------------------------------------- */

enum lvmm_dev_type {
	LVMM_DEV_NONE = 0,
	LVMM_DEV_BLK = 1,     /* fd[0] = image file */
	LVMM_DEV_NET_TAP = 2, /* fd[0] = TAP (IFF_VNET_HDR) */
	LVMM_DEV_NET_LINK = 3,/* fd[0] = ring memfd, fd[1] = my doorbell (rx), fd[2] = peer doorbell (tx) */
	LVMM_DEV_STREAM = 4,  /* fd[0] = connected or listening stream socket */
	LVMM_DEV_TPM = 5,     /* TPM 2.0 CRB; fd[0] = SEQPACKET socket to the trust process (TPM_CMD/RSP),
			       * fd[1] = sealed memfd holding the event log */
	LVMM_DEV_TYPE_MAX = 5,
};

#define LVMM_DEV_F_READONLY   (1U << 0) /* blk: refuse writes */
#define LVMM_DEV_F_LISTEN     (1U << 1) /* stream: fd[0] listens; accept one peer */
#define LVMM_DEV_F_LINK_SIDE1 (1U << 2) /* link: this end is side 1 of the ring pair */

struct lvmm_rate_limit {
	uint64_t bytes_per_sec; /* 0 = unlimited */
	uint64_t bytes_burst;
	uint64_t ops_per_sec;   /* 0 = unlimited */
	uint64_t ops_burst;
};

struct lvmm_dev_cfg {
	uint32_t type;  /* enum lvmm_dev_type */
	uint32_t flags; /* LVMM_DEV_F_* */
	char id[LVMM_NAME_MAX];   /* e.g. "blk0", "net1"; names the device in events */
	char peer[LVMM_NAME_MAX]; /* link name or TAP name, for messages */
	int32_t fd[4];  /* indices into the message's fd array, or LVMM_NO_FD */
	uint8_t mac[6];
	uint8_t pad[2];
	uint64_t ring_size;  /* link: bytes of the shared ring memfd */
	struct lvmm_rate_limit rx_rl, tx_rl;
};

struct lvmm_cpuid_mask {
	uint32_t leaf;
	uint32_t subleaf; /* 0xffffffff = every subleaf */
	uint8_t reg;      /* 0 eax, 1 ebx, 2 ecx, 3 edx */
	uint8_t bit;
	uint8_t pad[2];
};

/*
 * A CPUID table as KVM_GET_SUPPORTED_CPUID and KVM_SET_CPUID2 take it. The
 * CONFIG message carries KVM's supported set: the supervisor asks once for
 * every start, where each partition used to ask itself (0.4-1 ms of a CPU a
 * call on a nested host, bench/scale.sh). hdr.nent 0: it did not get one,
 * and the partition asks.
 */
#define LVMM_MAX_CPUID_ENTRIES 256
struct lvmm_cpuid_table {
	uint32_t nent, padding; /* struct kvm_cpuid2, spelt out: its flexible array cannot be embedded */
	struct kvm_cpuid_entry2 e[LVMM_MAX_CPUID_ENTRIES];
};
_Static_assert(__builtin_offsetof(struct lvmm_cpuid_table, e) ==
		       __builtin_offsetof(struct kvm_cpuid2, entries), "KVM's layout");

enum lvmm_prot_region {
	LVMM_PROT_RANGE = 0,         /* gpa/size as given */
	LVMM_PROT_KERNEL_TEXT = 1,   /* executable, non-writable PT_LOAD segments */
	LVMM_PROT_KERNEL_RODATA = 2, /* read-only, non-executable PT_LOAD segments */
	LVMM_PROT_REGION_MAX = 2,
};

struct lvmm_prot_range {
	uint64_t gpa;    /* page-aligned (LVMM_PROT_RANGE) */
	uint64_t size;   /* page multiple, > 0 (LVMM_PROT_RANGE) */
	uint32_t region; /* enum lvmm_prot_region */
	uint32_t pad;
};

/* on_violation: what a write to a protected page does (docs/protect.md). */
enum lvmm_violation_action {
	LVMM_VIOL_BLOCK = 0, /* default: the write is dropped, the guest continues */
	LVMM_VIOL_LOG = 1,   /* reported, then performed by the VMM */
	LVMM_VIOL_PAUSE = 2, /* blocked; the supervisor pauses the partition */
	LVMM_VIOL_STOP = 3,  /* blocked; the supervisor stops it */
	LVMM_VIOL_RESTART = 4, /* blocked; the supervisor restarts it */
	LVMM_VIOL_ISOLATE = 5, /* blocked; the supervisor takes all its links down */
	LVMM_VIOL_MAX = 5,
};

enum lvmm_watchdog_action {
	LVMM_WDOG_EVENT = 0,   /* report only */
	LVMM_WDOG_RESTART = 1, /* the supervisor restarts the partition */
	LVMM_WDOG_STOP = 2,    /* the supervisor stops it */
	LVMM_WDOG_MAX = 2,
};

#define LVMM_PART_F_STDIN       (1U << 0) /* console input from fd_console_in */
#define LVMM_PART_F_PREFIX      (1U << 1) /* prefix console lines with the name */
#define LVMM_PART_F_TEST_DEVICE (1U << 2) /* test-only port 0xf0: see docs */
#define LVMM_PART_F_CONSOLE_SOCK (1U << 3) /* fd_console_listen is a listening console socket */
#define LVMM_PART_F_GATED       (1U << 4) /* no guest instruction before fd_gate's LVMM_MSG_GATE says go */

/*
 * CONFIG: the supervisor's decisions for one start, then the partition's
 * own platform entry (struct plat_config_msg, src/config/platform.h: both
 * ends are this binary, so the entry crosses as it is). The partition
 * builds its configuration (struct lvmm_part_config: device descriptions,
 * MACs, rate limits, flags) from the two itself (src/vmm/part_config.c),
 * and checks both first. What it builds from its own entry can only
 * affect itself; what it may reach is the fds below, and which of its
 * devices exist at all is `granted` (docs/design.md, "Who builds a
 * partition's configuration").
 */
struct lvmm_part_grant {
	uint32_t flags;      /* LVMM_PART_F_PREFIX, _GATED */
	uint32_t log_level;
	uint32_t uid, gid;   /* as in struct lvmm_part_config */
	uint32_t granted;    /* bit i: the entry's device i is granted; no other device is created */
	uint32_t link_side1; /* bit i: device i, a link, is side 1 of its ring pair */
	/* Indices into the message's fd array, or LVMM_NO_FD; a console socket makes the UART serve it. */
	int32_t fd_kvm, fd_mem, fd_kernel, fd_initrd;
	int32_t fd_console_out, fd_console_in, fd_console_listen;
	/* A gated start: its end of the gate; a safe image's files (the verdict says which set boots). */
	int32_t fd_gate, fd_safe_kernel, fd_safe_initrd;
	int32_t dev_fd[LVMM_MAX_DEVS][4]; /* device i's fds (struct lvmm_dev_cfg.fd) */
};

/*
 * The partition's configuration as the partition itself builds it from
 * the CONFIG message (never sent): what its VM, vCPUs and devices are made of.
 */
struct lvmm_part_config {
	char name[LVMM_NAME_MAX];
	uint32_t flags;  /* LVMM_PART_F_* */
	uint32_t vcpus;
	uint64_t mem_bytes;
	int32_t host_cpus[LVMM_MAX_VCPUS]; /* pin vCPU i to this host CPU, or -1 */
	char cmdline[LVMM_CMDLINE_MAX];
	int32_t fd_kvm;         /* /dev/kvm */
	int32_t fd_mem;         /* guest RAM memfd, mem_bytes long */
	int32_t fd_kernel;      /* kernel image file, read-only: the partition seals a copy */
	int32_t fd_initrd;      /* or LVMM_NO_FD */
	int32_t fd_console_out; /* UART output */
	int32_t fd_console_in;  /* UART input, or LVMM_NO_FD */
	uint32_t log_level;
	uint32_t ndevs;
	struct lvmm_dev_cfg devs[LVMM_MAX_DEVS];
	uint32_t ncpuid_mask;
	uint32_t pad;
	struct lvmm_cpuid_mask cpuid_mask[LVMM_MAX_CPUID_MASK];
	/*
	 * The partition's own identity: it drops to uid/gid (both non-zero,
	 * chosen by the supervisor from the platform's uid range, unique
	 * among running partitions) before the first guest instruction.
	 */
	uint32_t uid;
	uint32_t gid;
	/*
	 * With LVMM_PART_F_CONSOLE_SOCK: a listening Unix socket (created by
	 * the supervisor, mode 0600) on which the UART serves console clients
	 * (`lvmm console`): recent output first, then live, input to the guest.
	 */
	int32_t fd_console_listen;
	uint32_t pad2;
	/*
	 * Protected guest memory (docs/protect.md): ranges written by the
	 * guest are not performed (KVM read-only memslots) and are reported.
	 * A region entry (kernel_text, kernel_rodata) is resolved by the
	 * partition from the kernel's ELF program headers.
	 */
	uint32_t nprotect;
	uint32_t on_violation;  /* enum lvmm_violation_action */
	struct lvmm_prot_range protect[LVMM_MAX_PROTECT];
	uint32_t watchdog_ms;   /* 0: no watchdog device */
	uint32_t watchdog_action; /* enum lvmm_watchdog_action */
	/*
	 * A gated start (LVMM_PART_F_GATED): fd_gate is the partition's end of
	 * the socket on which its trust process sends the verdict (struct
	 * lvmm_gate). With a safe image, its image files too (its command line
	 * is the entry's safe.cmdline): the verdict says which set boots, and
	 * nothing is loaded before it.
	 */
	int32_t fd_gate;
	int32_t fd_safe_kernel;  /* or LVMM_NO_FD: no safe image */
	int32_t fd_safe_initrd;  /* or LVMM_NO_FD */
	/*
	 * UART output to a regular file stops when the file reaches this many
	 * bytes (its size looked up before each write: devices/uart.c): a
	 * guest cannot fill the host's disk. 0: no limit.
	 */
	uint64_t console_limit;
};

/* ---- EVENT ----------------------------------------------------------- */

enum lvmm_event_kind {
	LVMM_EV_DMA_FAULT = 1,     /* dev; a = gpa, b = len, c = dir (0 read, 1 write) */
	LVMM_EV_VIRTIO_ERROR = 2,  /* dev; a = reason code (enum virtio_err), b = queue */
	LVMM_EV_UNHANDLED_IO = 3,  /* a = 0 pio / 1 mmio, b = address, c = count so far */
	LVMM_EV_LINK_STATE = 4,    /* dev; a = 1 up / 0 down */
	LVMM_EV_NET_DROP = 5,      /* dev; a = frames dropped by the filter, b = total */
	/*
	 * dev = the bytes the guest tried to write, in hex (1-8 bytes);
	 * a = gpa, b = rip, c = cr3, d = reports suppressed by the rate limit
	 * since the previous one, e = enum lvmm_violation_action applied.
	 */
	LVMM_EV_INTEGRITY = 6,
	/* a = gpa, b = size, c = 0 locked / errno of a refused request (run-time lock) */
	LVMM_EV_PROTECT_LOCK = 7,
	/* a = timeout_ms, b = ms since the last pet, c = enum lvmm_watchdog_action */
	LVMM_EV_WATCHDOG = 8,
	LVMM_EV_SLEEP = 9,         /* a = 3: the guest entered ACPI S3; 0: it woke by itself (console) */
	LVMM_EV_KIND_MAX = 9,
};

struct lvmm_event {
	uint32_t kind;
	uint32_t pad;
	char dev[LVMM_NAME_MAX];
	uint64_t a, b, c;
	uint64_t d, e; /* LVMM_EV_INTEGRITY only; zero otherwise */
};

/* ---- EXIT ------------------------------------------------------------ */

enum lvmm_exit_reason {
	LVMM_EXIT_POWEROFF = 1,   /* status = guest's debug-exit value, or 0 */
	LVMM_EXIT_RESET = 2,      /* guest reset (i8042, 0xcf9) */
	LVMM_EXIT_SHUTDOWN = 3,   /* triple fault */
	LVMM_EXIT_INTERNAL = 4,   /* KVM internal error / emulation failure */
	LVMM_EXIT_FAIL_ENTRY = 5, /* hardware refused VM entry */
	LVMM_EXIT_SETUP = 6,      /* could not build the VM (bad image, ...) */
	LVMM_EXIT_STOPPED = 7,    /* stopped by request */
	LVMM_EXIT_REASON_MAX = 7,
};

struct lvmm_exit {
	uint32_t reason; /* enum lvmm_exit_reason */
	int32_t status;  /* guest status (POWEROFF) or -errno (SETUP) */
	uint32_t vcpu;   /* vCPU that caused it */
	uint32_t pad;
	uint64_t rip;
	uint8_t insn[16]; /* instruction bytes at rip (INTERNAL), if readable */
	uint32_t insn_len;
	uint32_t hw_reason_hi;
	uint64_t hw_reason; /* FAIL_ENTRY hardware reason / internal suberror */
	char detail[128];
};

/* ---- CTL ------------------------------------------------------------- */

enum lvmm_ctl_op {
	LVMM_CTL_PAUSE = 1,
	LVMM_CTL_RESUME = 2,
	LVMM_CTL_STOP = 3,
	LVMM_CTL_LINK_DOWN = 4, /* dev = device id of the link end */
	LVMM_CTL_LINK_UP = 5,
	LVMM_CTL_STATS = 6,
	LVMM_CTL_POWER_BUTTON = 7, /* press the ACPI power button (graceful shutdown/reboot) */
	LVMM_CTL_OP_MAX = 7,
};

/*
 * A gated start (LVMM_PART_F_GATED, docs/trust.md "A start, step by
 * step"): the partition is forked while its trust process verifies and
 * measures, builds its VM and loads the images (with a safe image: after
 * this), and waits for this on fd_gate, from the trust process, before any
 * vCPU thread exists. go = 1: run its own image set, 2: run its safe
 * image set; with a vTPM, exactly one fd comes with a go, the sealed event
 * log. go = 0: the start is refused (why says so): the partition exits
 * with LVMM_EXIT_SETUP without running the guest; so does it when the
 * gate closes without a verdict (the trust process died).
 */
struct lvmm_gate {
	uint32_t go;
	uint32_t pad;
	char why[320];
};

/*
 * First on the gate, the other way (part -> trust): the partition's image
 * memfds (src/vmm/images.h), empty and read-only, filled and sealed by the
 * partition while the trust process hashes them. fd[]: kernel, initrd,
 * safe kernel, safe initrd, as indices into the message's fds or
 * LVMM_NO_FD (as the config has them).
 */
struct lvmm_gate_images {
	int32_t fd[4];
};

struct lvmm_ctl {
	uint32_t op;
	uint32_t seq;
	char dev[LVMM_NAME_MAX];
};

#define LVMM_STATS_MAX_DEVS (LVMM_MAX_DEVS + 1) /* every configured device, and the UART */
struct lvmm_dev_stats {
	char id[LVMM_NAME_MAX];
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, drops;
	uint64_t reads, writes, read_bytes, write_bytes, errors;
	uint32_t link_up;
	uint32_t pad;
	char kind[16];       /* the device model ("virtio-blk", "virtio-net-link", ...) */
	uint64_t throttled;  /* operations the rate limiter deferred (net) */
};

struct lvmm_ctl_reply {
	uint32_t op;
	uint32_t seq;
	int32_t result; /* 0 or -errno */
	uint32_t state; /* 1 running, 2 paused */
	uint64_t exits_io, exits_mmio, exits_hlt, exits_other;
	uint64_t dma_faults, unhandled_io;
	uint32_t ndevs;
	uint32_t pad;
	struct lvmm_dev_stats devs[LVMM_STATS_MAX_DEVS];
	uint64_t violations;            /* writes to protected pages (CPU) */
	uint64_t violations_suppressed; /* of those, not reported (rate limit) */
	uint32_t protected_ranges;      /* ranges protected now */
	uint32_t pad2;
	uint64_t vcpu_ns;               /* CPU time of its vCPU threads (their CPU clocks) */
};

/* ---- TPM --------------------------------------------------------------
 *
 * The partition's CRB device (src/devices/tpm_crb.c) sends each guest TPM
 * command as one LVMM_MSG_TPM_CMD on the TPM device's own socket (fd[0]),
 * whose other end is the partition's trust process (`lvmm __trust`, not the
 * supervisor: the supervisor is not in the guest's TPM data path). The
 * trust process relays it to the partition's swtpm (src/trust/vtpm.c) and
 * answers every command with exactly one LVMM_MSG_TPM_RSP carrying the
 * same seq: swtpm's response, or a TPM error response it made itself
 * (malformed command, vTPM failed). Both directions use the same fixed layout; the payload is
 * always the whole struct and len says how much of data is used, so a
 * command or response never exceeds the CRB's data buffer.
 */
#define LVMM_TPM_BUF_MAX   3968 /* CRB data buffer: 0x1000 - 0x80 (guest_abi.h) */
#define LVMM_TPM_HDR_LEN   10   /* TPM 2.0 command/response header */

struct lvmm_tpm_msg {
	uint32_t seq;      /* chosen by the partition, echoed in the response */
	uint8_t locality;  /* CMD: the guest's locality (lvmm grants 0 only); RSP: 0 */
	uint8_t pad[3];    /* zero */
	uint32_t len;      /* bytes used in data: LVMM_TPM_HDR_LEN..LVMM_TPM_BUF_MAX */
	uint8_t data[LVMM_TPM_BUF_MAX];
};

/*
 * Structural check of a received TPM message whose payload was
 * payload_len bytes: the whole struct, len in range, locality 0-4, pad
 * zero. (The TPM header inside data is the relay's business: a malformed
 * one gets a TPM error response, not a protocol error.) 1 if valid.
 */
static inline int lvmm_tpm_msg_ok(const struct lvmm_tpm_msg *m, uint32_t payload_len)
{
	return payload_len == sizeof(*m) && m->len >= LVMM_TPM_HDR_LEN &&
	       m->len <= LVMM_TPM_BUF_MAX && m->locality <= 4 && !m->pad[0] && !m->pad[1] &&
	       !m->pad[2];
}

_Static_assert(sizeof(struct lvmm_tpm_msg) == 12 + LVMM_TPM_BUF_MAX, "no padding in the TPM message");
_Static_assert(sizeof(struct lvmm_part_config) < LVMM_MSG_MAX_LEN, "config must fit a message");
_Static_assert(sizeof(struct lvmm_ctl_reply) < LVMM_MSG_MAX_LEN, "reply must fit a message");

#endif /* LVMM_PROTO_H */
