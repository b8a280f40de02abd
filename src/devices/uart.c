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
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/log.h"
#include "lvmm/guest_abi.h"
#include "devices/registry.h"

#define UART_FIFO 64
#define UART_LINE 512
#define FLUSH_NS  (50 * 1000 * 1000)

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

struct uart {
	struct vm *vm;
	pthread_mutex_t lock;
	uint8_t ier, fcr, lcr, mcr, scr, dll, dlm;
	bool thre_pending;
	bool irq_level;
	uint8_t rx[UART_FIFO];
	unsigned rx_head, rx_count;

	int out_fd, in_fd, timer_fd;
	bool in_watched, prefix, interactive, saw_ctrl_a;
	char pfx[LVMM_NAME_MAX + 4];
	size_t pfx_len;
	char line[UART_LINE];
	size_t line_len;
	uint64_t line_start_ns; /* when the buffered partial line began */
	bool timer_armed;
	struct ratelimit rl;
};

static void uart_write_out(struct uart *u, const char *buf, size_t len)
{
	if (u->out_fd < 0)
		return;
	if (write_full(u->out_fd, buf, len))
		pr_warn_rl(&u->rl, "console output lost: %s", strerror(errno));
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
			if (u->mcr & MCR_LOOP)
				uart_rx_push(u, v);
			else
				uart_putc(u, (char)v);
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

	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	uart_flush(u);
	pthread_mutex_unlock(&u->lock);
	if (u->timer_fd >= 0)
		close(u->timer_fd);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

static int uart_create(struct vm *vm, const struct lvmm_dev_cfg *dcfg, void **state)
{
	const struct lvmm_part_config *cfg = vm->cfg;
	struct uart *u = calloc(1, sizeof(*u));
	int r;

	if (!u)
		return -ENOMEM;
	u->vm = vm;
	pthread_mutex_init(&u->lock, NULL);
	u->thre_pending = false;
	u->out_fd = cfg->fd_console_out == LVMM_NO_FD ? -1 : vm->fds[cfg->fd_console_out];
	u->in_fd = -1;
	u->timer_fd = -1;
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
	r = bus_register(&vm->pio, LVMM_PORT_COM1, 8, &uart_bus_ops, u, "uart");
	if (r)
		goto err_input;
	*state = u;
	return 0;
err_input:
	if (u->in_watched)
		iothread_del(&vm->io, u->in_fd);
err_timer_watch:
	iothread_del(&vm->io, u->timer_fd);
err_timer:
	close(u->timer_fd);
err_free:
	pthread_mutex_destroy(&u->lock);
	free(u);
	return r;
}

const struct device_ops uart_ops = {
	.name = "uart",
	.create = uart_create,
	.destroy = uart_destroy,
};
