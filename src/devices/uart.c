// SPDX-License-Identifier: MIT
/*
 * 16550A UART on COM1 (0x3f8, IRQ 4): the partition's console.
 *
 * Output is written a line at a time (optionally prefixed with the
 * partition name, so several partitions can share a terminal); a partial
 * line is flushed by a timer so prompts appear (not for a prefixed console
 * without input: its lines are written whole, however slowly they come). Input comes from the fd the
 * supervisor passed (a terminal or pipe) into a 64-byte FIFO; when the FIFO
 * is full we stop reading the fd instead of buffering without bound.
 * In interactive mode Ctrl-A x stops the partition (as in QEMU).
 *
 * Console attach (`lvmm console`, docs/cli.md): every byte the guest writes
 * also goes into a 64 KiB ring, and up to UART_CLIENTS clients accepted on
 * the listening socket the supervisor passed get the ring's contents first
 * (recent output), then live output; what they type goes to the receive
 * FIFO like terminal input. The vCPU only appends to the ring and, when a
 * client is waiting for data, pokes the I/O thread through an eventfd: all
 * socket work (accept, non-blocking sends, reads, epoll changes) is on the
 * I/O thread. A client that does not read falls behind; once the ring has
 * moved past its position it loses the overwritten bytes (counted, and
 * told with a marker line when it reads again), so no client can ever
 * block a vCPU or make lvmm buffer more than the ring.
 *
 * Output to a regular file is bounded (console_limit): a guest can write
 * a page per exit with `rep outsb`, and would otherwise fill the host's
 * disk. Before each write the file's size is looked up (lseek to the end,
 * the one seek the sandbox allows) under a record lock that partitions
 * sharing the file take turns at: other writers of the file and a
 * rotation that emptied it (logrotate's copytruncate) are seen. Output
 * that would pass the limit is dropped, counted with the clients' losses,
 * and a marker line says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/log.h"
#include "shared/ratelimit.h"
#include "lvmm/guest_abi.h"
#include "devices/registry.h"

#define UART_FIFO 64
#define UART_LINE 512
#define FLUSH_NS  (50 * 1000 * 1000)
#define UART_RING (64 * 1024) /* console history kept for attaching clients */
#define UART_CLIENTS 4        /* attached at a time; more are told so and closed */
#define UART_SEND_CHUNK 4096
#define UART_SEND_ROUNDS 16   /* chunks per client per wake-up: others get their turn */
#define UART_CLIENT_SNDBUF (16 * 1024) /* the kernel doubles it */
#define UART_MARK_ROOM 160    /* kept below console_limit for the marker line */
#define UART_LOCK_TRIES 1000  /* yields waiting for a sharer's console-file lock (~1 ms) */
#define UART_LOCK_REST_NS (1000ULL * 1000 * 1000) /* after a miss, this long without trying */

/* Register bits (PC16550D data sheet). */
#define IER_RDI  0x01
#define IER_THRI 0x02
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI  0x04
#define IIR_FIFO 0xc0
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define LSR_DR   0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

struct uart;

struct uart_client {
	struct uart *u;
	int fd;          /* -1: slot free */
	uint64_t pos;    /* next ring byte (absolute) to send */
	bool out_armed;  /* its socket is full: waiting for EPOLLOUT */
	bool in_on;      /* EPOLLIN registered */
	uint64_t lost;   /* bytes overwritten before it read them */
	uint64_t lost_told;
};

struct uart {
	struct vm *vm;
	pthread_mutex_t lock;
	uint8_t ier, fcr, lcr, mcr, scr, dll, dlm;
	bool thre_pending;
	bool irq_level;
	uint8_t rx[UART_FIFO];
	unsigned rx_head, rx_count;

	int out_fd, in_fd, timer_fd;
	uint64_t out_limit;  /* 0: not a regular file, no limit */
	uint64_t lock_misses; /* times the console-file lock was not had */
	uint64_t lock_rest_until; /* now_ns() before which the lock is not tried */
	bool out_told;       /* the drop is logged (and marked): output dropped from here */
	bool in_watched, prefix, interactive, saw_ctrl_a;
	char pfx[LVMM_NAME_MAX + 4];
	size_t pfx_len;
	char line[UART_LINE];
	size_t line_len;
	uint64_t line_start_ns; /* when the buffered partial line began */
	bool timer_armed;
	struct ratelimit rl;

	/* Console attach: the ring and its clients (see the top of the file). */
	uint8_t ring[UART_RING];
	uint64_t head;      /* bytes ever written by the guest: ring[head % UART_RING] is next */
	int listen_fd, kick_fd;
	bool kick_pending;  /* the vCPU poked kick_fd; the I/O thread has not run yet */
	bool rx_stalled;    /* receive FIFO full: clients are not read */
	unsigned nclients;
	struct uart_client cl[UART_CLIENTS];
	uint64_t rx_bytes, lost_bytes;
	char scratch[UART_SEND_CHUNK]; /* I/O thread only */
};

/*
 * Partitions that share the file (the default console, lvmm's stdout) take
 * turns at it: between one's size look-up and its write, another's line
 * would land unseen, and both would pass the limit and both add a marker.
 * A POSIX record lock excludes processes, which is what partitions are
 * (they share one open file description, so an OFD lock or flock would
 * not). The holder keeps it for a seek and a write; a peer that holds it
 * longer (stopped, or compromised and holding it on purpose) must not
 * stall this vCPU, so a bounded number of tries, then write unlocked, and
 * for UART_LOCK_REST_NS no tries at all: a holder that keeps the lock
 * would otherwise cost each line the tries (2.2 ms a line here, a
 * 64 KiB flood 3.7 s instead of 1.4 s).
 */
static bool uart_lock_out(struct uart *u)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	/* The clock is read only after a miss: not on every line. */
	if (u->lock_rest_until && now_ns() < u->lock_rest_until)
		return false;
	for (unsigned i = 0; i < UART_LOCK_TRIES; i++) {
		if (!fcntl(u->out_fd, F_SETLK, &fl))
			return true;
		if (errno != EAGAIN && errno != EACCES) {
			/* A file system without POSIX locks (ENOLCK): not tried again. */
			u->lock_rest_until = UINT64_MAX;
			pr_warn("console file cannot be locked (%s): partitions sharing it may "
				"pass console_limit by a line each", strerror(errno));
			return false;
		}
		sched_yield();
	}
	u->lock_rest_until = now_ns() + UART_LOCK_REST_NS;
	u->lock_misses++;
	pr_warn_rl(&u->rl, "console file busy: writing without its lock for a second (%llu times)",
		   (unsigned long long)u->lock_misses);
	return false;
}

static void uart_unlock_out(struct uart *u)
{
	struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };

	fcntl(u->out_fd, F_SETLK, &fl);
}

/*
 * A file is filled up to UART_MARK_ROOM bytes short of its limit (the line
 * that crosses that point is cut there), then gets a marker line; the rest
 * is dropped. A file found within UART_MARK_ROOM of its limit is full:
 * nothing more, no second marker. Either way lvmm's log says so, once until
 * the file is emptied. The size is looked up before each write (a seek to
 * the end, where the write goes anyway), under the file's lock: partitions
 * that share the file (stdout) and rotations are seen, and the bound holds
 * for the file.
 */
static void uart_write_out(struct uart *u, const char *buf, size_t len)
{
	char mark[UART_MARK_ROOM];
	uint64_t room = len, size = 0;
	bool full = false, locked = false;
	int n;

	if (u->out_fd < 0)
		return;
	if (u->out_limit) {
		off_t end;

		locked = uart_lock_out(u);
		end = lseek(u->out_fd, 0, SEEK_END);
		/* A regular file cannot fail this; if it did, the bound holds all the same. */
		size = end < 0 ? u->out_limit : (uint64_t)end;
		full = size + UART_MARK_ROOM > u->out_limit;
		room = full ? 0 : u->out_limit - UART_MARK_ROOM - size;
		if (!full)
			u->out_told = false; /* emptied since (a rotation): said again when full */
	}
	if (len <= room) {
		if (write_full(u->out_fd, buf, len))
			pr_warn_rl(&u->rl, "console output lost: %s", strerror(errno));
		goto out;
	}
	u->lost_bytes += len - room;
	if (u->out_told)
		goto out;
	u->out_told = true;
	pr_warn("console output to the file dropped from here: it is %llu bytes, its limit "
		"(console_limit) is %llu", (unsigned long long)(size + room),
		(unsigned long long)u->out_limit);
	if (full)
		goto out;
	n = snprintf(mark, sizeof(mark), "\n[lvmm: console file reached its limit of %llu bytes "
		     "(console_limit); further output dropped]\n", (unsigned long long)u->out_limit);
	if ((room && write_full(u->out_fd, buf, room)) || write_full(u->out_fd, mark, (size_t)n))
		pr_warn_rl(&u->rl, "console output lost: %s", strerror(errno));
out:
	if (locked)
		uart_unlock_out(u);
}

/* Write the buffered line (with prefix). Called with the lock held. */
static void uart_flush(struct uart *u)
{
	char out[sizeof(u->pfx) + UART_LINE];
	size_t n = 0;

	if (!u->line_len)
		return;
	if (u->prefix) {
		memcpy(out, u->pfx, u->pfx_len);
		n = u->pfx_len;
	}
	memcpy(out + n, u->line, u->line_len);
	n += u->line_len;
	/* A flushed partial line still ends the prefixed line, so output stays readable. */
	if (u->prefix && u->line[u->line_len - 1] != '\n')
		out[n++] = '\n';
	uart_write_out(u, out, n);
	u->line_len = 0;
}

static void uart_arm_timer(struct uart *u, uint64_t ns)
{
	struct itimerspec its = { .it_value = { 0, (long)(ns ? ns : 1) } };

	if (u->timer_fd < 0 || u->timer_armed)
		return;
	if (!timerfd_settime(u->timer_fd, 0, &its, NULL))
		u->timer_armed = true;
}

static void uart_putc(struct uart *u, char c)
{
	if (!u->prefix && u->interactive) {
		/* A terminal user expects every byte at once (echo, editing). */
		uart_write_out(u, &c, 1);
		return;
	}
	if (!u->line_len)
		u->line_start_ns = now_ns();
	u->line[u->line_len++] = c;
	/*
	 * A cut prefixed line is ended with '\n' and its rest gets a new prefix,
	 * so a guest that the host does not run for 50 ms in the middle of a
	 * line would see it split in two. Only a prompt needs the cut, and only
	 * a partition with input has prompts.
	 */
	if (c == '\n' || u->line_len == UART_LINE)
		uart_flush(u);
	else if (u->interactive || !u->prefix)
		uart_arm_timer(u, FLUSH_NS);
}

/* The guest wrote c (vCPU, lock held): keep it for attaching clients; poke the I/O thread. */
static void uart_ring_put(struct uart *u, uint8_t c)
{
	uint64_t one = 1;
	unsigned i;

	u->ring[u->head % UART_RING] = c;
	u->head++;
	if (!u->nclients)
		return;
	/* A client the ring has overtaken loses that byte, counted now (it may never read again). */
	for (i = 0; i < UART_CLIENTS; i++) {
		struct uart_client *cl = &u->cl[i];

		if (cl->fd >= 0 && cl->pos + UART_RING < u->head) {
			cl->pos++;
			cl->lost++;
			u->lost_bytes++;
		}
	}
	if (u->kick_pending)
		return;
	for (i = 0; i < UART_CLIENTS; i++)
		if (u->cl[i].fd >= 0 && !u->cl[i].out_armed)
			break;
	if (i == UART_CLIENTS)
		return; /* every client waits for EPOLLOUT already */
	u->kick_pending = true;
	if (write(u->kick_fd, &one, sizeof(one)) < 0)
		u->kick_pending = false;
}

static uint8_t uart_iir(const struct uart *u)
{
	uint8_t fifo = (u->fcr & 1) ? IIR_FIFO : 0;

	if ((u->ier & IER_RDI) && u->rx_count)
		return IIR_RDI | fifo;
	if ((u->ier & IER_THRI) && u->thre_pending)
		return IIR_THRI | fifo;
	return IIR_NONE | fifo;
}

static void uart_update_irq(struct uart *u)
{
	bool level = (uart_iir(u) & 1) == 0;

	if (level != u->irq_level) {
		u->irq_level = level;
		vm_irq_line(u->vm, LVMM_IRQ_COM1, level);
	}
}

static void uart_rx_push(struct uart *u, uint8_t c)
{
	if (u->rx_count == UART_FIFO)
		return; /* overrun: the byte is lost, as on hardware */
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO] = c;
	u->rx_count++;
}

static void uart_watch_input(struct uart *u, bool on)
{
	uint64_t one = 1;

	if (u->nclients && u->rx_stalled == on) {
		/* Clients' epoll masks are the I/O thread's to change. */
		u->rx_stalled = !on;
		if (!u->kick_pending && write(u->kick_fd, &one, sizeof(one)) == sizeof(one))
			u->kick_pending = true;
	} else if (!u->nclients) {
		u->rx_stalled = !on;
	}
	if (u->in_fd < 0 || u->in_watched == on)
		return;
	if (!iothread_mod(&u->vm->io, u->in_fd, on ? EPOLLIN : 0))
		u->in_watched = on;
}

static void uart_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct uart *u = opaque;
	uint8_t v = 0;

	if (len != 1) {
		memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&u->lock);
	switch (off) {
	case 0:
		if (u->lcr & LCR_DLAB) {
			v = u->dll;
		} else if (u->rx_count) {
			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_FIFO;
			u->rx_count--;
			uart_watch_input(u, true);
		}
		break;
	case 1: v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier; break;
	case 2:
		v = uart_iir(u);
		if ((v & 0x0f) == IIR_THRI)
			u->thre_pending = false; /* reading IIR acknowledges THRE */
		break;
	case 3: v = u->lcr; break;
	case 4: v = u->mcr; break;
	case 5: v = LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0); break;
	case 6:
		if (u->mcr & MCR_LOOP) /* DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
			v = (uint8_t)(((u->mcr & 0x01) << 5) | ((u->mcr & 0x02) << 3) |
				      ((u->mcr & 0x04) << 4) | ((u->mcr & 0x08) << 4));
		else
			v = 0xb0; /* DCD, DSR, CTS */
		break;
	case 7: v = u->scr; break;
	default: v = 0xff; break;
	}
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	*(uint8_t *)data = v;
}

static void uart_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct uart *u = opaque;
	uint8_t v = *(const uint8_t *)data;

	if (len != 1)
		return;
	pthread_mutex_lock(&u->lock);
	switch (off) {
	case 0:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
		} else {
			if (u->mcr & MCR_LOOP) {
				uart_rx_push(u, v);
			} else {
				uart_ring_put(u, v);
				uart_putc(u, (char)v);
			}
			u->thre_pending = true;
		}
		break;
	case 1:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
		} else {
			if (!(u->ier & IER_THRI) && (v & IER_THRI))
				u->thre_pending = true;
			u->ier = v & 0x0f;
		}
		break;
	case 2:
		u->fcr = v & 0xc9;
		if (v & 0x02) { /* clear the receive FIFO */
			u->rx_count = 0;
			uart_watch_input(u, true);
		}
		break;
	case 3: u->lcr = v; break;
	case 4: u->mcr = v & 0x1f; break;
	case 7: u->scr = v; break;
	default: break;
	}
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static const struct bus_ops uart_bus_ops = {
	.read = uart_read,
	.write = uart_write,
};

static void uart_input(void *opaque, uint32_t events)
{
	struct uart *u = opaque;
	uint8_t buf[UART_FIFO];
	ssize_t n, i;

	pthread_mutex_lock(&u->lock);
	if (u->rx_count == UART_FIFO) {
		/* Full (loopback writes fill it too): a read of 0 bytes would look like EOF. */
		uart_watch_input(u, false);
		pthread_mutex_unlock(&u->lock);
		return;
	}
	n = read(u->in_fd, buf, UART_FIFO - u->rx_count);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			iothread_del(&u->vm->io, u->in_fd); /* EOF: no more input */
			u->in_watched = false;
			u->in_fd = -1;
		}
		pthread_mutex_unlock(&u->lock);
		return;
	}
	u->rx_bytes += (uint64_t)n;
	for (i = 0; i < n; i++) {
		if (u->interactive) {
			if (u->saw_ctrl_a) {
				u->saw_ctrl_a = false;
				if (buf[i] == 'x') {
					pthread_mutex_unlock(&u->lock);
					vm_exit_simple(u->vm, LVMM_EXIT_STOPPED, 0, "Ctrl-A x on the console");
					return;
				}
				if (buf[i] != 0x01)
					uart_rx_push(u, 0x01);
			} else if (buf[i] == 0x01) {
				u->saw_ctrl_a = true;
				continue;
			}
		}
		uart_rx_push(u, buf[i]);
	}
	if (u->rx_count == UART_FIFO)
		uart_watch_input(u, false);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	vm_wake_self(u->vm); /* console input wakes a guest asleep in S3 (docs/acpi.md) */
}

/* ---- console clients (I/O thread) ------------------------------------------ */

static uint32_t client_mask(const struct uart *u, const struct uart_client *c)
{
	return (u->rx_stalled ? 0 : EPOLLIN) | (c->out_armed ? EPOLLOUT : 0);
}

/* Apply c's wanted events (lock held). */
static void client_update(struct uart *u, struct uart_client *c)
{
	if (iothread_mod(&u->vm->io, c->fd, client_mask(u, c)))
		pr_warn_rl(&u->rl, "console client: epoll: cannot update");
	c->in_on = !u->rx_stalled;
}

static void client_close(struct uart *u, struct uart_client *c)
{
	iothread_del(&u->vm->io, c->fd);
	close(c->fd);
	c->fd = -1;
	u->nclients--;
	pr_info("console client detached (%llu bytes lost to it)", (unsigned long long)c->lost);
}

static ssize_t sock_send(int fd, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	/*
	 * sendmsg (in the sandbox's list; send is not), with MSG_NOSIGNAL: a
	 * client that left must not raise SIGPIPE in the partition.
	 */
	return sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/*
 * Send c what it has not seen yet, up to UART_SEND_ROUNDS chunks; called
 * with the lock held, which is dropped around each send (the chunk is a
 * copy). Returns false if the client is gone (closed here).
 */
static bool client_flush(struct uart *u, struct uart_client *c)
{
	unsigned round;

	for (round = 0; round < UART_SEND_ROUNDS; round++) {
		size_t mark = 0, data, off;
		ssize_t sent;

		if (c->pos + UART_RING < u->head) {
			/* The ring moved past it: those bytes are gone. */
			uint64_t lost = u->head - UART_RING - c->pos;

			c->lost += lost;
			u->lost_bytes += lost;
			c->pos = u->head - UART_RING;
		}
		if (c->lost != c->lost_told) {
			int w = snprintf(u->scratch, sizeof(u->scratch),
					 "\r\n[lvmm: %llu bytes of console output lost: not read in time]\r\n",
					 (unsigned long long)(c->lost - c->lost_told));

			mark = w > 0 ? MIN((size_t)w, sizeof(u->scratch) / 2) : 0;
			c->lost_told = c->lost;
		}
		off = (size_t)(c->pos % UART_RING);
		data = MIN(MIN(sizeof(u->scratch) - mark, (size_t)(u->head - c->pos)),
			   (size_t)UART_RING - off);
		memcpy(u->scratch + mark, u->ring + off, data);
		if (!mark && !data) {
			if (c->out_armed) {
				c->out_armed = false;
				client_update(u, c);
			}
			return true;
		}
		pthread_mutex_unlock(&u->lock);
		sent = sock_send(c->fd, u->scratch, mark + data);
		pthread_mutex_lock(&u->lock);
		if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			client_close(u, c);
			return false;
		}
		if (sent < 0)
			sent = 0;
		if ((size_t)sent > mark)
			c->pos += (size_t)sent - mark;
		if ((size_t)sent < mark + data) {
			/* Its socket is full: wait until it reads (a marker cut short stays cut). */
			if (!c->out_armed) {
				c->out_armed = true;
				client_update(u, c);
			}
			return true;
		}
	}
	return true;
}

/* What a client typed: into the receive FIFO, like terminal input (lock held). */
static bool client_input(struct uart *u, struct uart_client *c)
{
	uint8_t buf[UART_FIFO];
	ssize_t n, i;

	if (u->rx_count == UART_FIFO) {
		/* Full: stop reading clients (level-triggered EPOLLIN would spin) until the guest reads. */
		uart_watch_input(u, false);
		client_update(u, c);
		return true;
	}
	n = read(c->fd, buf, UART_FIFO - u->rx_count);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		client_close(u, c);
		return false;
	}
	if (n < 0)
		return true;
	u->rx_bytes += (uint64_t)n;
	for (i = 0; i < n; i++)
		uart_rx_push(u, buf[i]);
	if (u->rx_count == UART_FIFO) {
		uart_watch_input(u, false);
		client_update(u, c);
	}
	uart_update_irq(u);
	return true;
}

static void uart_client_io(void *opaque, uint32_t events)
{
	struct uart_client *c = opaque;
	struct uart *u = c->u;

	pthread_mutex_lock(&u->lock);
	if (c->fd < 0)
		goto out;
	if ((events & EPOLLIN) && !client_input(u, c))
		goto out;
	if ((events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN)) {
		client_close(u, c);
		goto out;
	}
	if (events & EPOLLOUT)
		(void)client_flush(u, c);
out:
	pthread_mutex_unlock(&u->lock);
	if (events & EPOLLIN)
		vm_wake_self(u->vm); /* typing on `lvmm console` wakes a guest asleep in S3 */
}

/* The vCPU wrote output or drained the FIFO: serve every client. */
static void uart_kick(void *opaque, uint32_t events)
{
	struct uart *u = opaque;
	uint64_t v;
	unsigned i;

	if (read(u->kick_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_warn_rl(&u->rl, "console: kick: %s", strerror(errno));
	pthread_mutex_lock(&u->lock);
	u->kick_pending = false;
	for (i = 0; i < UART_CLIENTS; i++) {
		struct uart_client *c = &u->cl[i];

		if (c->fd < 0)
			continue;
		if (c->in_on == u->rx_stalled)
			client_update(u, c);
		if (!c->out_armed)
			(void)client_flush(u, c);
	}
	pthread_mutex_unlock(&u->lock);
}

static void uart_accept(void *opaque, uint32_t events)
{
	static const char busy[] = "lvmm: console busy: too many clients attached\r\n";
	struct uart *u = opaque;
	struct uart_client *c = NULL;
	unsigned i;
	int fd = accept4(u->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	pthread_mutex_lock(&u->lock);
	for (i = 0; i < UART_CLIENTS && !c; i++)
		if (u->cl[i].fd < 0)
			c = &u->cl[i];
	if (!c) {
		pthread_mutex_unlock(&u->lock);
		if (sock_send(fd, busy, sizeof(busy) - 1) < 0)
			pr_debug("console: busy message lost");
		close(fd);
		return;
	}
	/*
	 * A small socket buffer: what a client has not read is then mostly in
	 * the ring, where it is counted when lost, not in the kernel (up to
	 * 200 KiB by default). Best effort: the default works too.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ UART_CLIENT_SNDBUF }, sizeof(int)) < 0)
		pr_debug("console: SO_SNDBUF: %s", strerror(errno));
	/* Recent output first: the whole ring, or everything since boot if less. */
	*c = (struct uart_client){ .u = u, .fd = fd, .in_on = !u->rx_stalled,
				   .pos = u->head > UART_RING ? u->head - UART_RING : 0 };
	if (iothread_add(&u->vm->io, fd, client_mask(u, c), uart_client_io, c)) {
		c->fd = -1;
		pthread_mutex_unlock(&u->lock);
		close(fd);
		pr_warn_rl(&u->rl, "console: cannot watch a new client");
		return;
	}
	u->nclients++;
	pr_info("console client attached");
	(void)client_flush(u, c);
	pthread_mutex_unlock(&u->lock);
}

static void uart_stats(void *state, struct lvmm_dev_stats *out)
{
	struct uart *u = state;

	pthread_mutex_lock(&u->lock);
	out->tx_bytes = u->head;
	out->rx_bytes = u->rx_bytes;
	out->drops = u->lost_bytes;
	pthread_mutex_unlock(&u->lock);
}

static void uart_timer(void *opaque, uint32_t events)
{
	struct uart *u = opaque;
	uint64_t ticks;

	if (read(u->timer_fd, &ticks, sizeof(ticks)) < 0)
		return;
	pthread_mutex_lock(&u->lock);
	u->timer_armed = false;
	/* Only a line that has waited the whole period is cut (a prompt, say). */
	if (u->line_len) {
		uint64_t age = now_ns() - u->line_start_ns;

		if (age >= FLUSH_NS)
			uart_flush(u);
		else
			uart_arm_timer(u, FLUSH_NS - age);
	}
	pthread_mutex_unlock(&u->lock);
}

static void uart_destroy(void *state)
{
	struct uart *u = state;
	unsigned i;

	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	uart_flush(u);
	pthread_mutex_unlock(&u->lock);
	/* The I/O thread has stopped: clients get EOF when their socket closes. */
	for (i = 0; i < UART_CLIENTS; i++)
		if (u->cl[i].fd >= 0)
			close(u->cl[i].fd);
	if (u->kick_fd >= 0)
		close(u->kick_fd);
	if (u->timer_fd >= 0)
		close(u->timer_fd);
	pthread_mutex_destroy(&u->lock);
	munmap(u, sizeof(*u));
}

static int uart_create(struct vm *vm, const struct lvmm_dev_cfg *dcfg, void **state)
{
	const struct lvmm_part_config *cfg = vm->cfg;
	/*
	 * Not calloc: the struct is 70 KiB, 64 KiB of it the console ring, and
	 * calloc zeroed (so made resident) all of it in every partition. Fresh
	 * anonymous pages cost nothing until the guest's output reaches them.
	 */
	struct uart *u = mmap(NULL, sizeof(*u), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			      -1, 0);
	int r;

	if (u == MAP_FAILED)
		return -ENOMEM;
	u->vm = vm;
	pthread_mutex_init(&u->lock, NULL);
	u->thre_pending = false;
	u->out_fd = cfg->fd_console_out == LVMM_NO_FD ? -1 : vm->fds[cfg->fd_console_out];
	if (u->out_fd >= 0 && cfg->console_limit) {
		struct stat st;

		/* A terminal, pipe or socket holds nothing on disk: only files are bounded. */
		if (fstat(u->out_fd, &st) == 0 && S_ISREG(st.st_mode))
			u->out_limit = cfg->console_limit;
	}
	u->in_fd = -1;
	u->timer_fd = -1;
	u->kick_fd = -1;
	u->listen_fd = cfg->flags & LVMM_PART_F_CONSOLE_SOCK ? vm->fds[cfg->fd_console_listen] : -1;
	for (unsigned i = 0; i < UART_CLIENTS; i++)
		u->cl[i].fd = -1;
	u->prefix = cfg->flags & LVMM_PART_F_PREFIX;
	u->interactive = (cfg->flags & LVMM_PART_F_STDIN) && cfg->fd_console_in != LVMM_NO_FD;
	u->pfx_len = (size_t)snprintf(u->pfx, sizeof(u->pfx), "[%s] ", cfg->name);
	if (u->pfx_len >= sizeof(u->pfx))
		u->pfx_len = sizeof(u->pfx) - 1;
	u->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (u->timer_fd < 0) {
		r = -errno;
		goto err_free;
	}
	r = iothread_add(&vm->io, u->timer_fd, EPOLLIN, uart_timer, u);
	if (r)
		goto err_timer;
	if (u->interactive) {
		u->in_fd = vm->fds[cfg->fd_console_in];
		r = iothread_add(&vm->io, u->in_fd, EPOLLIN, uart_input, u);
		if (r == -EPERM) {
			/* /dev/null or a regular file: nothing to wait for, so no input. */
			u->in_fd = -1;
			u->interactive = false;
		} else if (r) {
			goto err_timer_watch;
		} else {
			u->in_watched = true;
		}
	}
	u->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->kick_fd < 0) {
		r = -errno;
		goto err_input;
	}
	r = iothread_add(&vm->io, u->kick_fd, EPOLLIN, uart_kick, u);
	if (r)
		goto err_kick;
	if (u->listen_fd >= 0) {
		r = iothread_add(&vm->io, u->listen_fd, EPOLLIN, uart_accept, u);
		if (r)
			goto err_kick_watch;
	}
	r = bus_register(&vm->pio, LVMM_PORT_COM1, 8, &uart_bus_ops, u, "uart");
	if (r)
		goto err_listen;
	*state = u;
	return 0;
err_listen:
	if (u->listen_fd >= 0)
		iothread_del(&vm->io, u->listen_fd);
err_kick_watch:
	iothread_del(&vm->io, u->kick_fd);
err_kick:
	close(u->kick_fd);
err_input:
	if (u->in_watched)
		iothread_del(&vm->io, u->in_fd);
err_timer_watch:
	iothread_del(&vm->io, u->timer_fd);
err_timer:
	close(u->timer_fd);
err_free:
	pthread_mutex_destroy(&u->lock);
	munmap(u, sizeof(*u));
	return r;
}

const struct device_ops uart_ops = {
	.name = "uart",
	.create = uart_create,
	.destroy = uart_destroy,
	.stats = uart_stats,
};
