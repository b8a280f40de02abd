/* SPDX-License-Identifier: MIT */
/*
 * virtio-net device core and its backend interface.
 *
 * The device (virtio_net.c) owns the virtqueues, feature negotiation, the
 * rate limiters and the I/O-thread plumbing; a backend only moves whole
 * frames. A frame on this interface always starts with the 12-byte
 * virtio-net header (struct virtio_net_hdr_v1, num_buffers included), the
 * layout a TAP uses with IFF_VNET_HDR and TUNSETVNETHDRSZ 12.
 *
 * Backends: TAP (net_tap.c, LVMM_DEV_NET_TAP) and the inter-partition link
 * (net_link.c, LVMM_DEV_NET_LINK): each fills a struct net_backend and
 * calls virtio_net_create() from its device_ops.create.
 *
 * Everything here runs with the device's lock held, on the I/O thread,
 * except set_offloads (FEATURES_OK or reset, on a vCPU thread).
 */
#ifndef LVMM_VIRTIO_NET_H
#define LVMM_VIRTIO_NET_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <linux/virtio_net.h>

#include "common/util.h"
#include "lvmm/proto.h"

struct vm;
struct net_backend;

#define NET_HDR_LEN   12     /* virtio_net_hdr_v1 */
#define NET_MIN_FRAME 14     /* an Ethernet header */
#define NET_MAX_FRAME 65550  /* 64 KiB GSO frame + Ethernet/VLAN headers */

#define NET_F(bit) (1ULL << VIRTIO_NET_F_##bit)
/* Every offload a backend may offer (net_backend.offloads is a subset). */
#define NET_OFFLOADS (NET_F(CSUM) | NET_F(GUEST_CSUM) | NET_F(HOST_TSO4) | NET_F(HOST_TSO6) | \
		      NET_F(HOST_ECN) | NET_F(GUEST_TSO4) | NET_F(GUEST_TSO6) | NET_F(GUEST_ECN))

struct net_backend_ops {
	const char *name;
	/*
	 * Apply the driver's accepted features: the backend must not deliver
	 * frames needing an offload the driver did not accept (GUEST_CSUM,
	 * GUEST_TSO4/6, GUEST_ECN). 0, or -errno to refuse FEATURES_OK.
	 */
	int (*set_offloads)(struct net_backend *be, uint64_t features);
	/*
	 * Send one frame; iov[0] is the 12-byte header. 0 sent, -EAGAIN full
	 * (the device retries once tx_fd reports tx_events), other -errno:
	 * the frame is dropped and counted.
	 */
	int (*send)(struct net_backend *be, const struct iovec *iov, unsigned n);
	/*
	 * Receive one frame (header + data) into buf of len bytes. Returns its
	 * length, -EAGAIN when there is none, other -errno on failure.
	 */
	ssize_t (*recv)(struct net_backend *be, void *buf, size_t len);
	/* Optional: a watched fd fired (e.g. drain a doorbell eventfd). */
	void (*ack)(struct net_backend *be, int fd, uint32_t events);
	/*
	 * Optional: the end of a turn of send() and recv() calls. A backend
	 * that wakes its peer (a link's doorbell) does it here, once per turn
	 * rather than once per frame: on a shared core every wake-up can
	 * preempt us, and a wake-up per frame degenerates into a context
	 * switch per frame.
	 */
	void (*flush)(struct net_backend *be);
	/* Optional: could recv() return a frame now? (cheap, no system call; the I/O thread's polling) */
	bool (*rx_pending)(struct net_backend *be);
	/* Free the backend (not the partition's config fds). */
	void (*destroy)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	int rx_fd;          /* EPOLLIN when recv() may have a frame; watched only while the guest has buffers */
	int tx_fd;          /* signals tx_events when a refused send() may succeed (may equal rx_fd) */
	uint32_t tx_events; /* EPOLLOUT for a TAP/socket, EPOLLIN for a doorbell eventfd */
	uint64_t offloads;  /* VIRTIO_NET_F_ offload bits the backend can honour */
};

/*
 * Create a virtio-net device (virtio-mmio) on backend be; the device owns
 * be from now on, also on failure (be->ops->destroy is called). cfg gives
 * the id, MAC and rate limits. 0 or -errno.
 */
int virtio_net_create(struct vm *vm, const struct lvmm_dev_cfg *cfg, struct net_backend *be,
		      void **state) MUST_CHECK;

/* device_ops helpers shared by every net device type. */
void virtio_net_destroy(void *state);
void virtio_net_stats(void *state, struct lvmm_dev_stats *out);
/* LVMM_CTL_LINK_DOWN / LVMM_CTL_LINK_UP. 0 or -EINVAL. */
int virtio_net_ctl(void *state, uint32_t op);

#endif
