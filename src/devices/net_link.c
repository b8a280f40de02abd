// SPDX-License-Identifier: MIT
/*
 * virtio-net over an inter-partition link (LVMM_DEV_NET_LINK): the backend
 * copies frames between the guest (through the virtio-net core) and the
 * link's shared rings; an eventfd "bell" per side says "frames for you" or
 * "space freed". fd[0] = ring memfd, fd[1] = this side's bell (read),
 * fd[2] = the peer's bell (written). No offloads: frames on a link are
 * plain Ethernet frames of at most LINK_FRAME_MAX bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "shared/ratelimit.h"
#include "devices/link_ring.h"
#include "devices/registry.h"
#include "devices/virtio_net.h"
#include "virtio/virtio.h"

#define LINK_DROP_BURST 64 /* frames skipped per recv call at most */

struct link_backend {
	struct net_backend be;
	struct link_end end;
	void *shm;
	int my_bell, peer_bell;
	uint64_t dropped;
	bool wake_peer;       /* a send or receive of this turn owes the peer its bell */
	char id[LVMM_NAME_MAX];
	struct ratelimit rl;
};

static void ring_peer(struct link_backend *l)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is saturated: the peer will wake anyway. */
	if (write(l->peer_bell, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_warn_rl(&l->rl, "%s: link doorbell: %s", l->id, strerror(errno));
}

static int link_set_offloads(struct net_backend *be, uint64_t features)
{
	(void)be, (void)features;
	return 0; /* we offer none, so there is nothing to switch */
}

static int link_be_send(struct net_backend *be, const struct iovec *iov, unsigned n)
{
	struct link_backend *l = (struct link_backend *)be;
	bool wake;
	int r = link_send(&l->end, iov, n, &wake);

	l->wake_peer |= wake;
	switch (r) {
	case LINK_OK: return 0;
	case LINK_FULL: return -EAGAIN;
	case LINK_TOO_BIG: return -EMSGSIZE;
	default:
		pr_warn_rl(&l->rl, "%s: the peer corrupted the link ring (%" PRIu64 " times)", l->id,
			   l->end.corrupt);
		return -EPROTO;
	}
}

static ssize_t link_be_recv(struct net_backend *be, void *buf, size_t len)
{
	struct link_backend *l = (struct link_backend *)be;
	unsigned i;

	/* Bad frames are dropped here: a misbehaving peer must not stop our device. */
	for (i = 0; i < LINK_DROP_BURST; i++) {
		bool wake;
		ssize_t r = link_recv(&l->end, buf, len, &wake);

		l->wake_peer |= wake;
		if (r >= 0)
			return r;
		if (r == LINK_EMPTY)
			return -EAGAIN;
		l->dropped++;
		pr_warn_rl(&l->rl, "%s: dropped a %s frame from the link (%" PRIu64 " so far)", l->id,
			   r == LINK_TOO_BIG ? "too large" : "malformed", l->dropped);
	}
	return -EAGAIN;
}

static void link_be_ack(struct net_backend *be, int fd, uint32_t events)
{
	struct link_backend *l = (struct link_backend *)be;
	uint64_t v;

	(void)events;
	if (fd == l->my_bell && read(l->my_bell, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_warn_rl(&l->rl, "%s: reading the link doorbell: %s", l->id, strerror(errno));
}

/* The turn is over: one bell for every frame sent to a sleeping peer or room freed for a waiting one. */
static void link_be_flush(struct net_backend *be)
{
	struct link_backend *l = (struct link_backend *)be;

	if (l->wake_peer)
		ring_peer(l);
	l->wake_peer = false;
}

static bool link_be_rx_pending(struct net_backend *be)
{
	return link_rx_ready(&((struct link_backend *)be)->end);
}

static void link_be_destroy(struct net_backend *be)
{
	struct link_backend *l = (struct link_backend *)be;

	if (l->shm)
		munmap(l->shm, LINK_SHM_SIZE);
	free(l);
}

static const struct net_backend_ops link_backend_ops = {
	.name = "link",
	.set_offloads = link_set_offloads,
	.send = link_be_send,
	.recv = link_be_recv,
	.ack = link_be_ack,
	.flush = link_be_flush,
	.rx_pending = link_be_rx_pending,
	.destroy = link_be_destroy,
};

static int link_create(struct vm *vm, const struct lvmm_dev_cfg *cfg, void **state)
{
	struct link_backend *l;
	struct stat st;
	int memfd, r;

	int my_bell, peer_bell;

	if (virtio_cfg_fd(vm, cfg, 0, &memfd) || virtio_cfg_fd(vm, cfg, 1, &my_bell) ||
	    virtio_cfg_fd(vm, cfg, 2, &peer_bell))
		return -EBADF;
	if (fstat(memfd, &st) < 0 || (uint64_t)st.st_size != LINK_SHM_SIZE) {
		pr_err("%s: link memory is %lld bytes, expected %zu", cfg->id, (long long)st.st_size,
		       LINK_SHM_SIZE);
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	snprintf(l->id, sizeof(l->id), "%s", cfg->id);
	l->my_bell = my_bell;
	l->peer_bell = peer_bell;
	l->shm = mmap(NULL, LINK_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (l->shm == MAP_FAILED) {
		r = -errno;
		free(l);
		return r;
	}
	r = link_end_attach(&l->end, l->shm, (cfg->flags & LVMM_DEV_F_LINK_SIDE1) ? 1 : 0);
	if (r) {
		pr_err("%s: link memory is not initialised", cfg->id);
		link_be_destroy(&l->be);
		return r;
	}
	l->be = (struct net_backend){
		.ops = &link_backend_ops,
		.rx_fd = l->my_bell,
		.tx_fd = l->my_bell,
		.tx_events = EPOLLIN,
		.offloads = 0,
	};
	/* Frames may have queued up while this side was down: look at once. */
	ring_peer(l);
	{
		uint64_t one = 1;

		if (write(l->my_bell, &one, sizeof(one)) < 0)
			pr_debug("%s: self-wake: %s", l->id, strerror(errno));
	}
	return virtio_net_create(vm, cfg, &l->be, state);
}

const struct device_ops virtio_net_link_ops = {
	.name = "virtio-net-link",
	.create = link_create,
	.destroy = virtio_net_destroy,
	.stats = virtio_net_stats,
	.ctl = virtio_net_ctl,
};
