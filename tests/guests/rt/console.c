/* SPDX-License-Identifier: MIT */
/* COM1 console, printf, spinlock. */
#include "rt.h"
#include "internal.h"

#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THRE 0x20

void rt_spin_lock(rt_spinlock_t *l)
{
	for (;;) {
		uint32_t old = 1;
		__asm__ volatile("lock xchgl %0, %1" : "+r"(old), "+m"(l->v) : : "memory");
		if (old == 0)
			return;
		while (l->v)
			cpu_relax();
	}
}

void rt_spin_unlock(rt_spinlock_t *l)
{
	__atomic_store_n(&l->v, 0, __ATOMIC_RELEASE);
}

static rt_spinlock_t console_lock;

void rt_console_init(void)
{
	/* Each access is a VM exit (about 30 us from CPL3 here), so only what
	 * matters: no interrupts, 8N1, FIFOs on and cleared. */
	outb(LVMM_PORT_COM1 + UART_IER, 0);
	outb(LVMM_PORT_COM1 + UART_LCR, 0x03);
	outb(LVMM_PORT_COM1 + UART_FCR, 0x07);
}

/* Bytes the transmit FIFO can still take without another LSR read. */
static unsigned tx_room;

static void uart_putc(char c)
{
	/*
	 * LSR.THRE with FIFOs on means the 16-byte transmit FIFO is empty, so
	 * one poll covers 16 bytes. Bounded: a missing UART reads all ones.
	 */
	if (!tx_room) {
		for (int i = 0; i < 100000; i++)
			if (inb(LVMM_PORT_COM1 + UART_LSR) & LSR_THRE)
				break;
		tx_room = 16;
	}
	tx_room--;
	outb(LVMM_PORT_COM1 + UART_THR, (uint8_t)c);
}

void rt_puts_raw(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			uart_putc('\r');
		uart_putc(s[i]);
	}
}

struct outbuf {
	char *buf;
	size_t size, pos;
};

static void put(struct outbuf *o, char c)
{
	if (o->pos + 1 < o->size)
		o->buf[o->pos] = c;
	o->pos++;
}

static void put_num(struct outbuf *o, uint64_t v, unsigned base, int neg,
		    int width, char pad)
{
	char tmp[24];
	int n = 0;
	do {
		unsigned d = (unsigned)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	/* With zero padding the sign goes first. */
	if (neg && pad == '0') {
		put(o, '-');
		n--;
		width--;
	}
	for (int i = n; i < width; i++)
		put(o, pad);
	while (n)
		put(o, tmp[--n]);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct outbuf o = { buf, size, 0 };
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			put(&o, *p);
			continue;
		}
		p++;
		char pad = ' ';
		int width = 0, lng = 0, left = 0;
		if (*p == '-') {
			left = 1;
			p++;
		}
		if (*p == '0') {
			pad = '0';
			p++;
		}
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (*p++ - '0');
		while (*p == 'l') {
			lng++;
			p++;
		}
		if (*p == 'z') {
			lng = 1;
			p++;
		}
		switch (*p) {
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			put_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, width, pad);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			put_num(&o, v, *p == 'x' ? 16 : 10, 0, width, pad);
			break;
		}
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, 0, width, pad);
			break;
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int len = (int)strlen(s);
			if (!left)
				for (int i = len; i < width; i++)
					put(&o, ' ');
			while (*s)
				put(&o, *s++);
			if (left)
				for (int i = len; i < width; i++)
					put(&o, ' ');
			break;
		}
		case '%':
			put(&o, '%');
			break;
		case '\0':
			p--;
			break;
		default:
			put(&o, '%');
			put(&o, *p);
			break;
		}
	}
	if (size)
		buf[o.pos < size ? o.pos : size - 1] = '\0';
	return (int)o.pos;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int printf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	size_t len = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;
	rt_spin_lock(&console_lock);
	rt_puts_raw(buf, len);
	rt_spin_unlock(&console_lock);
	return n;
}

void rt_trap_report(const char *name, uint64_t vector, uint64_t error,
		    uint64_t rip, uint64_t cs, uint64_t rsp, uint64_t cr2)
{
	char buf[160];
	/* No lock: the trap may have hit while it was held. */
	int n = snprintf(buf, sizeof(buf),
			 "\nguest: unexpected trap %s vector %lu error 0x%lx rip 0x%lx"
			 " cs 0x%lx rsp 0x%lx cr2 0x%lx\n",
			 name, vector, error, rip, cs, rsp, cr2);
	rt_puts_raw(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}
