/*
 * lvmm-outb PORT VALUE - write one byte to an x86 I/O port from a Linux guest.
 *
 * The guest /init uses it to leave through lvmm's debug-exit port (0xf4, the
 * partition exits with VALUE) because Debian's kernels have no /dev/port
 * (CONFIG_DEVPORT is off) and busybox has no port I/O applet. Built by
 * scripts/linux/build-image.sh as a static binary without libc:
 *   cc -Os -static -nostdlib -fno-stack-protector -fno-pie -no-pie -o lvmm-outb lvmm-outb.c
 * Needs CAP_SYS_RAWIO (init runs as root). Exit status: 0 written, 1 ioperm
 * refused, 2 usage.
 */

#define SYS_exit 60
#define SYS_ioperm 173

static long sys3(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

static void __attribute__((noreturn)) leave(int status)
{
	for (;;)
		sys3(SYS_exit, status, 0, 0);
}

/* Decimal or 0x-prefixed hexadecimal; -1 on anything else or above 0xffff. */
static long parse(const char *s)
{
	long v = 0;
	int base = 10, digits = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; *s; s++, digits++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -1;
		v = v * base + d;
		if (v > 0xffff)
			return -1;
	}
	return digits ? v : -1;
}

void __attribute__((noreturn, used)) lvmm_outb_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	long port, value;

	if (argc != 3)
		leave(2);
	port = parse(argv[1]);
	value = parse(argv[2]);
	if (port < 0 || value < 0 || value > 0xff)
		leave(2);
	if (sys3(SYS_ioperm, port, 1, 1) < 0)
		leave(1);
	__asm__ volatile("outb %b0, %w1" : : "a"(value), "Nd"(port));
	leave(0);
}

__asm__(".globl _start\n"
	"_start:\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call lvmm_outb_main\n"
	"	hlt\n");
