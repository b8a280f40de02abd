// SPDX-License-Identifier: MIT
/*
 * Debug exit (port 0xf4): a write of V ends the partition with exit status
 * V & 0xff, which is how test guests report their verdict. Also claims the
 * ports every PC guest touches where lvmm has nothing: the POST port 0x80
 * (Linux's I/O delay) and PCI configuration space 0xcf8-0xcff (no bus), so
 * those accesses are not reported as unhandled.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lvmm/guest_abi.h"
#include "devices/registry.h"

#define PORT_POST 0x80
#define PORT_PCI_CONF 0xcf8 /* 0xcf8-0xcff: no PCI bus, and the reset register at 0xcf9 */
#define PORT_TEST 0xf0 /* 0xf0-0xf3, only with test_device: true (docs/testing.md) */

static void exit_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct vm *vm = opaque;
	uint32_t v = 0;
	char detail[48];

	memcpy(&v, data, len > 4 ? 4 : len);
	snprintf(detail, sizeof(detail), "guest wrote %u to the debug-exit port", v);
	vm_exit_simple(vm, LVMM_EXIT_POWEROFF, (int)(v & 0xff), detail);
}

static void zero_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	memset(data, 0, len);
}

static void ignore_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
}

static const struct bus_ops exit_bus_ops = {
	.read = zero_read,
	.write = exit_write,
};

/*
 * Test device (port 0xf0, only with test_device: true; docs/testing.md):
 * probes that make this process do what a compromised partition would
 * try, so tests can show the sandbox stops each one and that a violation
 * kills only this partition. Byte writes:
 *   0x5a  open a file                         (no open in the sandbox)
 *   0x5b  an ioctl no device uses at run time  (KVM_CHECK_EXTENSION on the VM)
 *   0x5c  KVM_CREATE_VM on the /dev/kvm fd it was given
 *   0x5d  punch a hole into stderr (the supervisor's log)
 *   0x5e  a positional write over stderr's first bytes
 *   0x60  rewind the console's output (lseek to 0 on the fd the UART may
 *         only seek to the end of): writes would overwrite the log
 *   0x5f  map 1 GiB of anonymous memory (not touched), as a process
 *         taking the host's memory would: past the address-space bound
 *         (shared/memlimit.h), so it must fail without killing anything
 * A 32-bit write of V: SIGKILL to process V (tgkill), i.e. another
 * partition. A read returns how the last probe's call ended: 0 none yet,
 * 1 it succeeded, 2 it failed (a probe the sandbox catches never returns).
 */
struct test_probe {
	struct vm *vm;
	int kvm_fd; /* as received: closed before the guest runs */
	uint8_t result;
};

static void test_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	const struct test_probe *t = opaque;

	memset(data, 0, len);
	if (off == 0)
		*(uint8_t *)data = t->result;
}

static void test_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct test_probe *t = opaque;
	uint32_t v = 0;
	long r = -1;
	int fd;

	if (off != 0)
		return;
	memcpy(&v, data, len > 4 ? 4 : len);
	if (len == 4) {
		r = syscall(SYS_tgkill, (pid_t)v, (pid_t)v, SIGKILL);
	} else if (v == 0x5a) {
		fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			close(fd); /* reached only without a sandbox */
		r = fd;
	} else if (v == 0x5b) {
		r = ioctl(t->vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY);
	} else if (v == 0x5d) {
		r = fallocate(STDERR_FILENO, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1 << 20);
	} else if (v == 0x5e) {
		r = pwrite(STDERR_FILENO, "\0\0\0\0", 4, 0);
	} else if (v == 0x60) {
		const struct lvmm_part_config *c = t->vm->cfg;

		r = c->fd_console_out == LVMM_NO_FD ? -1 : lseek(t->vm->fds[c->fd_console_out], 0, SEEK_SET);
	} else if (v == 0x5f) {
		void *m = mmap(NULL, 1ULL << 30, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		r = m == MAP_FAILED ? -1 : 0;
		if (m != MAP_FAILED)
			munmap(m, 1ULL << 30);
	} else if (v == 0x5c) {
		fd = ioctl(t->kvm_fd, KVM_CREATE_VM, 0);
		if (fd >= 0)
			close(fd);
		r = fd;
	} else {
		return;
	}
	t->result = r >= 0 ? 1 : 2;
}

static const struct bus_ops test_bus_ops = {
	.read = test_read,
	.write = test_write,
};

/*
 * 0xcf8-0xcff: PCI configuration space with no bus behind it (reads all
 * ones), except the PC reset control register at 0xcf9: a byte write with
 * RST_CPU (bit 2) set, as in 0x06 or 0x0e, resets the guest.
 */
static void pci_cf8_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	memset(data, off == 1 && len == 1 ? 0 : 0xff, len);
}

static void pci_cf8_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	if (off == 1 && len == 1 && (*(const uint8_t *)data & 0x04))
		vm_exit_simple(opaque, LVMM_EXIT_RESET, 0, "reset control register 0xcf9");
}

static const struct bus_ops none_bus_ops = {
	.read = pci_cf8_read,
	.write = pci_cf8_write,
};

static const struct bus_ops post_bus_ops = {
	.read = zero_read,
	.write = ignore_write,
};

static int debug_exit_create(struct vm *vm, const struct lvmm_dev_cfg *cfg, void **state)
{
	int r = bus_register(&vm->pio, LVMM_PORT_DEBUG_EXIT, 4, &exit_bus_ops, vm, "debug-exit");

	if (!r)
		r = bus_register(&vm->pio, PORT_POST, 1, &post_bus_ops, vm, "post");
	/* Every OS probes PCI configuration space; all ones means "no devices", quietly. */
	if (!r)
		r = bus_register(&vm->pio, PORT_PCI_CONF, 8, &none_bus_ops, vm, "pci-absent+reset-cf9");
	*state = NULL;
	if (!r && (vm->cfg->flags & LVMM_PART_F_TEST_DEVICE)) {
		struct test_probe *t = calloc(1, sizeof(*t));

		if (!t)
			return -ENOMEM;
		t->vm = vm;
		t->kvm_fd = vm->kvm_fd;
		r = bus_register(&vm->pio, PORT_TEST, 4, &test_bus_ops, t, "sandbox-test");
		if (r)
			free(t);
		else
			*state = t;
	}
	return r;
}

static void debug_exit_destroy(void *state)
{
	free(state); /* the test probe, if any; the buses go with the VM */
}

const struct device_ops debug_exit_ops = {
	.name = "debug-exit",
	.create = debug_exit_create,
	.destroy = debug_exit_destroy,
};
