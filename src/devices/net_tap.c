// SPDX-License-Identifier: MIT
/*
 * virtio-net on a host TAP device (LVMM_DEV_NET_TAP): the backend moves
 * whole frames between the virtio-net core (virtio_net.c) and a TAP opened
 * by the supervisor with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, whose 12-byte
 * vnet header is the same as the guest's. Offloads the TAP can take are
 * offered to the guest; TUNSETOFFLOAD follows what the guest accepted.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "devices/registry.h"
#include "devices/virtio_net.h"
#include "virtio/virtio.h"

#define F(bit) NET_F(bit)

struct tap_backend {
	struct net_backend be;
	int fd;
};

static unsigned tap_flags(uint64_t f)
{
	unsigned t = 0;

	if (f & F(GUEST_CSUM))
		t |= TUN_F_CSUM;
	if (f & F(GUEST_TSO4))
		t |= TUN_F_TSO4;
	if (f & F(GUEST_TSO6))
		t |= TUN_F_TSO6;
	if (f & F(GUEST_ECN))
		t |= TUN_F_TSO_ECN;
	return t;
}

static int tap_set_offloads(struct net_backend *be, uint64_t features)
{
	struct tap_backend *t = (struct tap_backend *)be;

	/* TUNSETOFFLOAD says what we accept from the TAP, i.e. what the guest takes on rx. */
	if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)tap_flags(features & be->offloads)) < 0)
		return -errno;
	return 0;
}

static int tap_send(struct net_backend *be, const struct iovec *iov, unsigned n)
{
	struct tap_backend *t = (struct tap_backend *)be;

	for (;;) {
		ssize_t r = writev(t->fd, iov, (int)n);

		if (r >= 0)
			return 0; /* a TAP write is one whole frame */
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

static ssize_t tap_recv(struct net_backend *be, void *buf, size_t len)
{
	struct tap_backend *t = (struct tap_backend *)be;

	for (;;) {
		ssize_t r = read(t->fd, buf, len);

		if (r > 0)
			return r;
		if (r == 0)
			return -EAGAIN;
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

static void tap_destroy(struct net_backend *be)
{
	/* The TAP fd belongs to the partition's config fds. */
	free(be);
}

static const struct net_backend_ops tap_backend_ops = {
	.name = "tap",
	.set_offloads = tap_set_offloads,
	.send = tap_send,
	.recv = tap_recv,
	.destroy = tap_destroy,
};

/* Which offloads this TAP takes: all TSO ones, checksum only, or none. */
static uint64_t tap_probe_offloads(int fd)
{
	if (!ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 |
						     TUN_F_TSO_ECN)))
		return NET_OFFLOADS;
	if (!ioctl(fd, TUNSETOFFLOAD, (unsigned long)TUN_F_CSUM))
		return F(CSUM) | F(GUEST_CSUM);
	return 0;
}

static int tap_create(struct vm *vm, const struct lvmm_dev_cfg *cfg, void **state)
{
	struct tap_backend *t;
	struct ifreq ifr;
	int fd, fl, hdr = NET_HDR_LEN, r;

	r = virtio_cfg_fd(vm, cfg, 0, &fd);
	if (r)
		return r;
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		r = -errno;
		pr_err("%s: fd is not a TAP: %s", cfg->id, strerror(errno));
		return r;
	}
	if ((ifr.ifr_flags & (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)) !=
	    (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)) {
		pr_err("%s: TAP %s needs IFF_TAP|IFF_NO_PI|IFF_VNET_HDR", cfg->id, ifr.ifr_name);
		return -EINVAL;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		r = -errno;
		pr_err("%s: TUNSETVNETHDRSZ: %s", cfg->id, strerror(errno));
		return r;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = fd;
	t->be = (struct net_backend){
		.ops = &tap_backend_ops,
		.rx_fd = fd,
		.tx_fd = fd,
		.tx_events = EPOLLOUT,
		.offloads = tap_probe_offloads(fd),
	};
	return virtio_net_create(vm, cfg, &t->be, state);
}

const struct device_ops virtio_net_tap_ops = {
	.name = "virtio-net-tap",
	.create = tap_create,
	.destroy = virtio_net_destroy,
	.stats = virtio_net_stats,
	.ctl = virtio_net_ctl,
};
