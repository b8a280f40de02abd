// SPDX-License-Identifier: MIT
/*
 * TPM 2.0 CRB device; see tpm_crb.h. Register layout: TCG PC Client
 * Platform TPM Profile (PTP) for TPM 2.0, "CRB Interface"; behaviour as
 * Linux's drivers/char/tpm/tpm_crb.c expects it:
 *   - the TPM2 ACPI table's control address is base + 0x40 (right after
 *     the 0x40-byte locality header), in the MSFT0101 device's _CRS;
 *   - locality request: LOC_CTRL.requestAccess, then LOC_STATE must show
 *     locAssigned and tpmRegValidSts; relinquish clears locAssigned;
 *   - cmdReady/goIdle in CTRL_REQ are acknowledged by clearing the bit
 *     (here at once: there is no power state to wait for);
 *   - command and response share one buffer (CMD_ADDR == RSP_ADDR, equal
 *     sizes); CTRL_START bit 0 stays set until the response is in the buffer.
 */
#include "devices/tpm_crb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/proto.h"
#include "devices/registry.h"
#include "lvmm/guest_abi.h"
#include "vmm/vm.h"
#include "shared/ratelimit.h"

#define TPM_ST_NO_SESSIONS 0x8001
#define TPM_ST_SESSIONS    0x8002
#define TPM_RC_FAILURE     0x101
#define TPM_RC_BAD_TAG     0x01e
#define TPM_RC_COMMAND_SIZE 0x142
#define TPM_RC_COMMAND_CODE 0x143
#define TPM_CC_VENDOR_BIT  0x20000000U

/*
 * INTF_ID: interface type 1 (CRB active), version 1 (CRB), only locality
 * 0 (CapLocality = 0), 64-byte transfers, CRB supported, interface
 * selector CRB and locked, RID/VID/DID 0.
 */
#define INTF_ID_LO ((1U << 0) | (1U << 4) | (3U << 11) | (1U << 14) | (1U << 17) | (1U << 19))
#define INTF_ID_HI 0U

_Static_assert(CRB_DATA_BUFFER + LVMM_TPM_BUF_MAX == CRB_PAGE, "the buffer fills the page");
_Static_assert(LVMM_TPM_CRB_DATA == LVMM_TPM_CRB_BASE + CRB_DATA_BUFFER, "guest_abi.h");
_Static_assert(LVMM_TPM_CRB_CTRL == LVMM_TPM_CRB_BASE + CRB_CTRL_REQ, "guest_abi.h");
_Static_assert(LVMM_TPM_CRB_DATA_SIZE == LVMM_TPM_BUF_MAX, "guest_abi.h / proto.h");
_Static_assert(LVMM_TPM_CRB_SIZE == 5 * CRB_PAGE, "localities 0-4");

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void tpm_crb_init(struct tpm_crb *c, const struct tpm_crb_backend *be)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->be = *be;
	c->idle = true; /* a TPM comes up idle; cmdReady wakes it */
}

void tpm_crb_destroy(struct tpm_crb *c)
{
	pthread_mutex_destroy(&c->lock);
}

/* Finish the current exchange: the buffer holds the answer, START reads 0. */
static void answered(struct tpm_crb *c)
{
	c->busy = false;
	c->written = 0;
}

static void answer_error(struct tpm_crb *c, uint32_t rc)
{
	c->buf[0] = TPM_ST_NO_SESSIONS >> 8;
	c->buf[1] = TPM_ST_NO_SESSIONS & 0xff;
	put_be32(c->buf + 2, LVMM_TPM_HDR_LEN);
	put_be32(c->buf + 6, rc);
	c->stats.rejected++;
	answered(c);
}

/* The guest wrote CTRL_START: check the command in the buffer, then hand it over. */
static void start(struct tpm_crb *c)
{
	uint32_t size, tag, code;
	int r;

	if (c->busy) {
		/* One command at a time: a flood of starts queues nothing. */
		c->stats.ignored_starts++;
		return;
	}
	if (c->written < LVMM_TPM_HDR_LEN) {
		answer_error(c, TPM_RC_COMMAND_SIZE);
		return;
	}
	tag = (uint32_t)c->buf[0] << 8 | c->buf[1];
	size = be32(c->buf + 2);
	code = be32(c->buf + 6);
	/*
	 * Plain TPM 2.0 commands only (the tag first, as a TPM checks it): this
	 * also stops swtpm's "TPM_SEND_COMMAND" prefix, which names a locality.
	 */
	if (tag != TPM_ST_NO_SESSIONS && tag != TPM_ST_SESSIONS) {
		answer_error(c, TPM_RC_BAD_TAG);
		return;
	}
	/* The header's size must be what was written (and fit the buffer). */
	if (size < LVMM_TPM_HDR_LEN || size > LVMM_TPM_BUF_MAX || size > c->written) {
		answer_error(c, TPM_RC_COMMAND_SIZE);
		return;
	}
	/* No vendor commands: swtpm's in-band TPM2_SetLocality is one. */
	if (code & TPM_CC_VENDOR_BIT) {
		answer_error(c, TPM_RC_COMMAND_CODE);
		return;
	}
	c->busy = true;
	c->seq++;
	c->stats.commands++;
	r = c->be.submit(c->be.opaque, c->seq, c->buf, size, 0);
	if (r) {
		pr_warn_rl(&c->rl, "tpm: command could not be handed to the vTPM: %s", strerror(-r));
		c->stats.commands--;
		answer_error(c, TPM_RC_FAILURE);
	}
}

int tpm_crb_complete(struct tpm_crb *c, uint32_t seq, const uint8_t *rsp, uint32_t len)
{
	int r = 0;

	pthread_mutex_lock(&c->lock);
	if (!c->busy || seq != c->seq) {
		c->stats.stale++;
		r = -ESTALE;
	} else if (!rsp || len < LVMM_TPM_HDR_LEN || len > LVMM_TPM_BUF_MAX ||
		   be32(rsp + 2) != len) {
		answer_error(c, TPM_RC_FAILURE);
	} else {
		memcpy(c->buf, rsp, len);
		answered(c);
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int tpm_crb_abort(struct tpm_crb *c)
{
	int r = -ESTALE;

	pthread_mutex_lock(&c->lock);
	if (c->busy) {
		answer_error(c, TPM_RC_FAILURE);
		r = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

static uint32_t loc_state(const struct tpm_crb *c)
{
	/* Aliased in every locality's page; activeLocality (bits 2-4) is always 0. */
	return CRB_LOC_STATE_VALID | CRB_LOC_STATE_ESTABLISHED |
	       (c->assigned ? CRB_LOC_STATE_ASSIGNED : 0);
}

/* A 32-bit register of locality 0's page; 0 for reserved offsets. */
static uint32_t reg32(const struct tpm_crb *c, uint32_t off)
{
	switch (off) {
	case CRB_LOC_STATE: return loc_state(c);
	case CRB_LOC_STS: return c->assigned ? CRB_LOC_STS_GRANTED : 0;
	case CRB_INTF_ID: return INTF_ID_LO;
	case CRB_INTF_ID + 4: return INTF_ID_HI;
	case CRB_CTRL_REQ: return 0; /* requests complete at once */
	case CRB_CTRL_STS: return c->idle ? CRB_CTRL_STS_IDLE : 0;
	case CRB_CTRL_CANCEL: return c->cancel;
	case CRB_CTRL_START: return c->busy ? CRB_START_INVOKE : 0;
	case CRB_CTRL_INT_ENABLE: return c->int_enable;
	case CRB_CTRL_CMD_SIZE: return LVMM_TPM_BUF_MAX;
	case CRB_CTRL_CMD_LADDR: return (uint32_t)LVMM_TPM_CRB_DATA;
	case CRB_CTRL_CMD_HADDR: return (uint32_t)(LVMM_TPM_CRB_DATA >> 32);
	case CRB_CTRL_RSP_SIZE: return LVMM_TPM_BUF_MAX;
	case CRB_CTRL_RSP_ADDR: return (uint32_t)LVMM_TPM_CRB_DATA;
	case CRB_CTRL_RSP_ADDR + 4: return (uint32_t)(LVMM_TPM_CRB_DATA >> 32);
	default: return 0; /* LOC_CTRL, CTRL_EXT, INT_STS and reserved words read 0 */
	}
}

void tpm_crb_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct tpm_crb *c = opaque;
	uint64_t page = off / CRB_PAGE, o = off % CRB_PAGE;
	uint8_t v[16];

	memset(data, 0, len);
	if (len > 8 || off >= LVMM_TPM_CRB_SIZE || o + len > CRB_PAGE)
		return;
	pthread_mutex_lock(&c->lock);
	if (o >= CRB_DATA_BUFFER) {
		/* Only locality 0's page has a buffer behind it. */
		if (page == 0)
			memcpy(data, c->buf + (o - CRB_DATA_BUFFER), len);
	} else {
		/* Registers: assemble the 32-bit words the access touches, little-endian. */
		uint32_t w0 = (uint32_t)(o & ~3ULL), i;

		for (i = 0; i < 4; i++) {
			uint32_t w = 0;

			if (page == 0)
				w = reg32(c, w0 + 4 * i);
			else if (w0 + 4 * i == CRB_LOC_STATE)
				w = loc_state(c);
			memcpy(v + 4 * i, &w, 4);
		}
		memcpy(data, v + (o - w0), len);
	}
	pthread_mutex_unlock(&c->lock);
}

static void write_reg(struct tpm_crb *c, uint32_t off, uint32_t v)
{
	switch (off) {
	case CRB_LOC_CTRL:
		if (v & CRB_LOC_CTRL_REQUEST)
			c->assigned = true;
		if (v & CRB_LOC_CTRL_RELINQUISH)
			c->assigned = false;
		break;
	case CRB_CTRL_REQ:
		if (v & CRB_CTRL_REQ_CMD_READY)
			c->idle = false;
		if (v & CRB_CTRL_REQ_GO_IDLE)
			c->idle = true;
		break;
	case CRB_CTRL_CANCEL:
		/* swtpm cannot cancel a command; the answer comes anyway. */
		c->cancel = v & 1;
		break;
	case CRB_CTRL_START:
		if (v & CRB_START_INVOKE)
			start(c);
		break;
	case CRB_CTRL_INT_ENABLE:
		c->int_enable = v & 1; /* remembered; lvmm raises no TPM interrupt (Linux polls) */
		break;
	default:
		break; /* read-only and reserved registers */
	}
}

void tpm_crb_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct tpm_crb *c = opaque;
	uint64_t page = off / CRB_PAGE, o = off % CRB_PAGE;
	uint32_t v = 0;

	if (len > 8 || off >= LVMM_TPM_CRB_SIZE || o + len > CRB_PAGE)
		return;
	pthread_mutex_lock(&c->lock);
	if (page != 0) {
		/* Localities 1-4 are never granted: PCRs 17-22 stay out of the guest's reach. */
		c->stats.denied++;
		pr_warn_rl(&c->rl, "tpm: write to locality %u's registers refused (only 0 exists)",
			   (unsigned)page);
	} else if (o >= CRB_DATA_BUFFER) {
		/* While the backend has the command, the buffer is not the guest's to change. */
		if (!c->busy) {
			memcpy(c->buf + (o - CRB_DATA_BUFFER), data, len);
			c->written = MAX(c->written, (uint32_t)(o - CRB_DATA_BUFFER) + len);
		}
	} else if (len == 4 && !(o & 3)) {
		memcpy(&v, data, 4);
		write_reg(c, (uint32_t)o, v);
	} else if (len == 8 && !(o & 7)) {
		/* A 64-bit write to two 32-bit registers: low word first, as two writes would. */
		memcpy(&v, data, 4);
		write_reg(c, (uint32_t)o, v);
		memcpy(&v, (const uint8_t *)data + 4, 4);
		write_reg(c, (uint32_t)o + 4, v);
	} else {
		c->stats.denied++; /* partial register writes mean nothing here */
	}
	pthread_mutex_unlock(&c->lock);
}

const struct bus_ops tpm_crb_bus_ops = {
	.read = tpm_crb_read,
	.write = tpm_crb_write,
};

/* ---- the partition device ------------------------------------------------------- */

/*
 * A vTPM that has not answered a command after this long is taken for
 * gone: the guest gets TPM_RC_FAILURE instead of polling CTRL_START for
 * ever. The trust process itself gives up on swtpm after 30 s and answers
 * TPM_RC_FAILURE (docs/trust.md), so this only fires when the trust
 * process itself is stuck; key generation in swtpm takes seconds, not a
 * minute.
 */
unsigned tpm_crb_answer_timeout_ms = 60000;

struct crb_dev {
	struct tpm_crb crb;
	struct vm *vm;
	char id[LVMM_NAME_MAX];
	int sock;                /* SEQPACKET to the trust process (the config's fd[0]) */
	int timer_fd;            /* the answer deadline of the command in flight */
	uint32_t deadline_seq;   /* the command the timer was armed for (under crb.lock) */
	uint64_t deadline_ns;    /* and when its time is up */
	bool gone;               /* the channel is closed or broken: answer locally */
	bool watched;            /* sock is in the I/O thread's set */
	uint64_t timeouts, broken;
	struct lvmm_tpm_msg out; /* only touched under crb.lock: one command at a time */
	struct lvmm_tpm_msg in;  /* only touched on the I/O thread */
	struct ratelimit io_rl;  /* the I/O thread's log lines */
};

/* Arm the timer to fire in ms milliseconds (at least 1); called with crb.lock held. */
static void arm_deadline(struct crb_dev *d, uint64_t ms)
{
	struct itimerspec its = { .it_value = { .tv_sec = (time_t)(ms / 1000),
						.tv_nsec = (long)(ms % 1000) * 1000000 + 1 } };

	if (timerfd_settime(d->timer_fd, 0, &its, NULL))
		pr_warn_rl(&d->crb.rl, "%s: cannot arm the answer deadline: %s", d->id,
			   strerror(errno));
}

/*
 * Backend: one LVMM_MSG_TPM_CMD to the trust process, never blocking the
 * vCPU (called with crb.lock held). A full or closed channel is an error
 * now: the guest gets TPM_RC_FAILURE instead of a command nobody reads.
 */
static int to_trust(void *opaque, uint32_t seq, const uint8_t *cmd, uint32_t len,
		    uint8_t locality)
{
	struct crb_dev *d = opaque;
	int r;

	if (d->gone)
		return -EPIPE;
	memset(&d->out, 0, offsetof(struct lvmm_tpm_msg, data));
	d->out.seq = seq;
	d->out.locality = locality;
	d->out.len = len;
	memcpy(d->out.data, cmd, len);
	r = proto_send(d->sock, LVMM_MSG_TPM_CMD, &d->out, sizeof(d->out), NULL, 0, MSG_DONTWAIT);
	if (!r) {
		/* The timer always belongs to the latest command; on_deadline() checks the seq. */
		d->deadline_seq = seq;
		d->deadline_ns = now_ns() + tpm_crb_answer_timeout_ms * 1000000ULL;
		arm_deadline(d, tpm_crb_answer_timeout_ms);
	}
	return r;
}

/*
 * The channel is closed or the peer broke the protocol: no answer will
 * come. The command in flight (if any) and every later one get
 * TPM_RC_FAILURE at once; the guest is never left polling.
 */
static void channel_down(struct crb_dev *d, const char *why)
{
	pthread_mutex_lock(&d->crb.lock);
	d->gone = true;
	d->broken++;
	pthread_mutex_unlock(&d->crb.lock);
	if (d->watched) {
		iothread_del(&d->vm->io, d->sock);
		d->watched = false;
	}
	tpm_crb_abort(&d->crb);
	pr_warn_rl(&d->io_rl, "%s: vTPM channel %s: TPM commands now fail (TPM_RC_FAILURE)",
		   d->id, why);
}

/* I/O thread: a message from the trust process (one per readiness; the loop comes back). */
static void on_trust(void *opaque, uint32_t events)
{
	struct crb_dev *d = opaque;
	struct lvmm_msg_hdr hdr;
	int r;

	r = proto_recv(d->sock, &hdr, &d->in, sizeof(d->in), NULL, 0, MSG_DONTWAIT);
	if (r == -EAGAIN)
		return;
	if (r == -EPIPE || r == -ECONNRESET) {
		channel_down(d, "closed by the trust process");
		return;
	}
	if (r || hdr.type != LVMM_MSG_TPM_RSP || !lvmm_tpm_msg_ok(&d->in, hdr.len)) {
		/* A peer that sends anything else cannot be trusted to answer the next command. */
		channel_down(d, r ? "failed" : "sent a malformed message");
		return;
	}
	/*
	 * The timer is left alone: by now the vCPU may have sent the next
	 * command and armed it for that one. A stale answer (-ESTALE, e.g.
	 * after a timeout) changes nothing and is counted by the device.
	 */
	tpm_crb_complete(&d->crb, d->in.seq, d->in.data, d->in.len);
	(void)events;
}

/*
 * I/O thread: the timer fired. Only the command it was armed for, still
 * in flight, and only once its time is really up, gets TPM_RC_FAILURE.
 */
static void on_deadline(void *opaque, uint32_t events)
{
	struct crb_dev *d = opaque;
	struct tpm_crb *c = &d->crb;
	bool expired = false;
	uint64_t n, now;

	if (read(d->timer_fd, &n, sizeof(n)) != sizeof(n))
		return;
	now = now_ns();
	pthread_mutex_lock(&c->lock);
	if (c->busy && c->seq == d->deadline_seq) {
		if (now >= d->deadline_ns) {
			answer_error(c, TPM_RC_FAILURE);
			d->timeouts++;
			expired = true;
		} else {
			arm_deadline(d, (d->deadline_ns - now) / 1000000ULL);
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (expired)
		pr_warn_rl(&d->io_rl, "%s: the vTPM did not answer within %u ms: TPM_RC_FAILURE",
			   d->id, tpm_crb_answer_timeout_ms);
	(void)events;
}

/* pread() the whole buffer at off; -EIO if the file is shorter. 0 or -errno. */
static int pread_full(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The event log (a sealed memfd from the trust process) into the area the TPM2 table names. */
int tpm_crb_place_eventlog(struct vm *vm, int fd)
{
	struct stat st;
	uint8_t *p;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t)st.st_size > LVMM_TPM_EVENTLOG_SIZE)
		return -EFBIG;
	p = gmem_loader_ptr(&vm->gmem, LVMM_TPM_EVENTLOG_BASE, LVMM_TPM_EVENTLOG_SIZE);
	if (!p)
		return -EFAULT;
	/* Zeros after the log: Linux reads LAML bytes and stops at the first empty event. */
	memset(p, 0, LVMM_TPM_EVENTLOG_SIZE);
	return pread_full(fd, p, (size_t)st.st_size, 0);
}

/* A config fd index to the fd; -1 for LVMM_NO_FD, -EBADF for a bad index. */
static int cfg_fd(const int *fds, unsigned nfds, int32_t idx)
{
	if (idx == LVMM_NO_FD)
		return -1;
	if (idx < 0 || !fds || (uint32_t)idx >= nfds || fds[idx] < 0)
		return -EBADF;
	return fds[idx];
}

int tpm_crb_check_cfg(const struct lvmm_dev_cfg *cfg, const int *fds, unsigned nfds, char *err,
		      size_t errlen)
{
	int sock = cfg_fd(fds, nfds, cfg->fd[0]), log = cfg_fd(fds, nfds, cfg->fd[1]), type = 0;
	socklen_t tl = sizeof(type);
	struct stat st;

	if (sock < 0) {
		snprintf(err, errlen, "no channel to the trust process (fd[0])");
		return -EBADF;
	}
	if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tl) || type != SOCK_SEQPACKET) {
		snprintf(err, errlen, "fd[0] is not a SEQPACKET socket");
		return -ENOTSOCK;
	}
	if (log == -EBADF || cfg->fd[2] != LVMM_NO_FD || cfg->fd[3] != LVMM_NO_FD) {
		snprintf(err, errlen, "bad fds (fd[1] = event log or none, fd[2], fd[3] none)");
		return -EBADF;
	}
	if (log >= 0 && (fstat(log, &st) || !S_ISREG(st.st_mode) || st.st_size < 0 ||
			 (uint64_t)st.st_size > LVMM_TPM_EVENTLOG_SIZE)) {
		snprintf(err, errlen, "the event log (fd[1]) is not a file of at most %llu bytes",
			 (unsigned long long)LVMM_TPM_EVENTLOG_SIZE);
		return -EFBIG;
	}
	return 0;
}

static int crb_create(struct vm *vm, const struct lvmm_dev_cfg *cfg, void **state)
{
	struct tpm_crb_backend be = { .submit = to_trust };
	struct crb_dev *d;
	char why[128];
	int r, log;

	if (!cfg || !memchr(cfg->id, 0, sizeof(cfg->id)))
		return -EINVAL;
	r = tpm_crb_check_cfg(cfg, vm->fds, vm->nfds, why, sizeof(why));
	if (r) {
		pr_err("%s: %s", cfg->id, why);
		return r;
	}
	log = cfg_fd(vm->fds, vm->nfds, cfg->fd[1]);
	if (log >= 0) {
		r = tpm_crb_place_eventlog(vm, log);
		if (r) {
			pr_err("%s: event log: %s", cfg->id, strerror(-r));
			return r;
		}
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	be.opaque = d;
	tpm_crb_init(&d->crb, &be);
	d->vm = vm;
	d->sock = vm->fds[cfg->fd[0]];
	memcpy(d->id, cfg->id, sizeof(d->id));
	d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->timer_fd < 0) {
		r = -errno;
		goto err_free;
	}
	r = iothread_add(&vm->io, d->timer_fd, EPOLLIN, on_deadline, d);
	if (r)
		goto err_timer;
	r = iothread_add(&vm->io, d->sock, EPOLLIN, on_trust, d);
	if (r)
		goto err_timer_watch;
	d->watched = true;
	r = bus_register(&vm->mmio, LVMM_TPM_CRB_BASE, LVMM_TPM_CRB_SIZE, &tpm_crb_bus_ops, &d->crb,
			 "tpm-crb");
	if (r)
		goto err_sock_watch;
	*state = d;
	return 0;
err_sock_watch:
	iothread_del(&vm->io, d->sock);
err_timer_watch:
	iothread_del(&vm->io, d->timer_fd);
err_timer:
	close(d->timer_fd);
err_free:
	tpm_crb_destroy(&d->crb);
	free(d);
	return r;
}

static void crb_destroy(void *state)
{
	struct crb_dev *d = state;

	if (d->watched)
		iothread_del(&d->vm->io, d->sock);
	iothread_del(&d->vm->io, d->timer_fd);
	close(d->timer_fd);
	tpm_crb_destroy(&d->crb);
	free(d);
}

static void crb_stats(void *state, struct lvmm_dev_stats *out)
{
	struct crb_dev *d = state;

	memcpy(out->id, d->id, sizeof(out->id));
	pthread_mutex_lock(&d->crb.lock);
	out->reads = d->crb.stats.commands;
	out->errors = d->crb.stats.rejected + d->crb.stats.denied;
	out->drops = d->crb.stats.ignored_starts;
	pthread_mutex_unlock(&d->crb.lock);
}

const struct device_ops tpm_crb_ops = {
	.name = "tpm-crb",
	.create = crb_create,
	.destroy = crb_destroy,
	.stats = crb_stats,
};
