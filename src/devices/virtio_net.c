// SPDX-License-Identifier: MIT
/*
 * virtio-net (virtio 1.x section 5.1): one rx queue, one tx queue, no
 * control queue, over a pluggable frame backend (virtio_net.h): a TAP
 * (net_tap.c) or an inter-partition link (net_link.c).
 *
 * rx: the backend's fd is watched only while the guest has rx buffers
 *     (and the rate limiter allows): frames are read into one preallocated
 *     bounce buffer and copied into the guest's chains, merged over several
 *     chains with VIRTIO_NET_F_MRG_RXBUF. A frame that does not fit the
 *     buffers available yet stays pending (one frame, never more) and the
 *     device asks the driver for a kick on its next buffer.
 * tx: on a queue kick, each chain's header is copied and checked against
 *     the negotiated offloads, then the frame is handed to the backend
 *     straight from guest memory behind our local copy of the header.
 * Both directions have a token-bucket limiter; a timerfd on the I/O thread
 *     resumes work when tokens are back.
 */
#include "devices/virtio_net.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/log.h"
#include "shared/ratelimit.h"
#include "virtio/iov.h"
#include "virtio/mmio.h"
#include "virtio/rate_limiter.h"
#include "virtio/virtio.h"
#include "vmm/vm.h"

#define NET_RXQ         0
#define NET_TXQ         1
#define NET_QUEUE_SIZE  256
#define NET_IOV_MAX     256          /* buffers per chain we accept */
#define NET_RX_BUDGET   64           /* frames per turn on the I/O thread */
#define NET_TX_BUDGET   128
#define NET_BUF_LEN     (NET_HDR_LEN + NET_MAX_FRAME)
#define NET_MIN_TIMER_NS 50000ULL   /* do not arm sub-50us timers: batch instead */

#define F(bit) NET_F(bit)

struct net_dev;

/* One backend fd as registered with the I/O thread. */
struct net_watch {
	struct net_dev *n;
	int fd;
	bool rx, tx;       /* roles of this fd */
	uint32_t events;   /* currently registered events; 0 = not registered */
};

struct net_dev {
	struct virtio_dev vdev;
	struct net_backend *be;
	struct virtio_net_config cfg;
	bool link_up;
	bool be_dead;         /* backend reported a fatal error: frames are dropped */

	struct rate_limiter rx_rl, tx_rl;
	int timer_fd;         /* -1 when neither direction is limited */
	bool timer_armed;
	uint64_t timer_deadline;
	bool rx_rl_wait, tx_rl_wait;

	bool rx_want;         /* guest has (or may have) rx buffers: watch rx_fd */
	bool tx_wait;         /* backend refused a frame: wait for tx_fd */
	struct net_watch watch[2];
	unsigned nwatch;

	uint8_t *rx_buf;      /* bounce buffer: header + frame */
	size_t rx_len;        /* pending frame in rx_buf (0: none) */
	unsigned rx_done;     /* frames delivered in this rx turn */

	struct iovec rx_iov[NET_IOV_MAX];
	struct iovec tx_iov[NET_IOV_MAX];
	struct iovec tx_out[NET_IOV_MAX + 1];
	struct {
		uint16_t head;
		uint32_t len;
	} rx_used[NET_QUEUE_SIZE];

	struct {
		uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, drops, errors;
		uint64_t throttled; /* frames the rate limiter made wait (metrics) */
	} st;
	struct ratelimit be_rl; /* backend error messages */
};

static bool has(const struct net_dev *n, uint64_t bit)
{
	return n->vdev.features & VIRTIO_FBIT(bit);
}

/* ---- Backend fd watching (I/O thread only) -------------------------------- */

static void net_fd_handler(void *opaque, uint32_t events);

static uint32_t watch_wanted(const struct net_dev *n, const struct net_watch *w)
{
	uint32_t ev = 0;
	bool up = virtio_running(&n->vdev) && n->link_up && !n->be_dead;

	if (!up)
		return 0;
	/*
	 * Not while the rx queue is off: net_rx_turn could not read, and the
	 * level-triggered fd would spin the I/O thread. The driver kicks after
	 * enabling it and posting buffers, which re-arms the watch.
	 */
	if (w->rx && n->rx_want && !n->rx_len && !n->rx_rl_wait && n->vdev.vqs[NET_RXQ].ready)
		ev |= EPOLLIN;
	if (w->tx && n->tx_wait)
		ev |= n->be->tx_events;
	return ev;
}

/*
 * Register, modify or drop each backend fd so that epoll only wakes us
 * for work we can do: an fd with nothing wanted is removed entirely (an
 * idle registration would still report HUP/ERR, level-triggered, forever).
 */
static void net_update_watch(struct net_dev *n)
{
	unsigned i;

	for (i = 0; i < n->nwatch; i++) {
		struct net_watch *w = &n->watch[i];
		uint32_t want = watch_wanted(n, w);
		int r = 0;

		if (want == w->events)
			continue;
		if (!w->events)
			r = iothread_add(&n->vdev.vm->io, w->fd, want, net_fd_handler, w);
		else if (!want)
			r = iothread_del(&n->vdev.vm->io, w->fd);
		else
			r = iothread_mod(&n->vdev.vm->io, w->fd, want);
		if (r) {
			pr_warn_rl(&n->be_rl, "%s: cannot watch backend fd: %s", n->vdev.name,
				   strerror(-r));
			continue;
		}
		w->events = want;
	}
}

static void net_arm_timer(struct net_dev *n, uint64_t wait_ns)
{
	struct itimerspec its = { 0 };
	uint64_t now = now_ns(), deadline;

	if (n->timer_fd < 0)
		return;
	if (wait_ns < NET_MIN_TIMER_NS)
		wait_ns = NET_MIN_TIMER_NS;
	deadline = now + wait_ns;
	if (n->timer_armed && n->timer_deadline <= deadline)
		return;
	its.it_value.tv_sec = (time_t)(wait_ns / 1000000000ULL);
	its.it_value.tv_nsec = (long)(wait_ns % 1000000000ULL);
	if (timerfd_settime(n->timer_fd, 0, &its, NULL) < 0) {
		pr_warn_rl(&n->be_rl, "%s: timerfd: %s", n->vdev.name, strerror(errno));
		return;
	}
	n->timer_armed = true;
	n->timer_deadline = deadline;
}

static void net_backend_failed(struct net_dev *n, int err)
{
	if (!n->be_dead)
		pr_err("%s: %s backend failed (%s); frames are dropped from now on", n->vdev.name,
		       n->be->ops->name, strerror(-err));
	n->be_dead = true;
	n->st.errors++;
}

/* ---- tx ------------------------------------------------------------------ */

/*
 * The clock for a limiter: none without a rate (most devices), which skips a
 * clock read per frame (2% of all samples, 4% of the I/O thread's, at 1500 B
 * to a TAP).
 */
static uint64_t rl_now(const struct rate_limiter *rl)
{
	return rate_limiter_unlimited(rl) ? 0 : now_ns();
}

/* Is this header acceptable with what was negotiated? (Invalid frames are dropped.) */
static bool tx_hdr_ok(const struct net_dev *n, const struct virtio_net_hdr_v1 *h,
		      size_t frame_len)
{
	uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return false;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		uint32_t start = le16toh(h->csum_start), off = le16toh(h->csum_offset);

		if (!has(n, VIRTIO_NET_F_CSUM) || (uint64_t)start + off + 2 > frame_len)
			return false;
	}
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !has(n, VIRTIO_NET_F_HOST_ECN))
		return false;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return !(h->gso_type & VIRTIO_NET_HDR_GSO_ECN);
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return has(n, VIRTIO_NET_F_HOST_TSO4) && h->gso_size;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return has(n, VIRTIO_NET_F_HOST_TSO6) && h->gso_size;
	default:
		return false; /* UFO/USO are not offered */
	}
}

/* Handle one popped tx chain. Returns false if it must be retried later (unpopped). */
static bool net_tx_one(struct net_dev *n, const struct vq_chain *c)
{
	struct virtio_net_hdr_v1 hdr;
	size_t frame_len;
	unsigned nout;
	int r;

	/* Device-writable buffers in a tx chain are ignored (nothing is written). */
	if (c->out_len < NET_HDR_LEN + NET_MIN_FRAME || c->out_len > NET_BUF_LEN) {
		n->st.drops++;
		return true;
	}
	frame_len = c->out_len - NET_HDR_LEN;
	iov_to_buf(c->iov, c->n_out, 0, &hdr, NET_HDR_LEN);
	if (!tx_hdr_ok(n, &hdr, frame_len)) {
		n->st.drops++;
		return true;
	}
	if (!n->link_up || n->be_dead) {
		n->st.drops++;
		return true;
	}
	if (!rate_limiter_consume(&n->tx_rl, frame_len, 1, rl_now(&n->tx_rl))) {
		n->st.throttled++;
		n->tx_rl_wait = true;
		net_arm_timer(n, rate_limiter_wait_ns(&n->tx_rl, frame_len, 1, now_ns()));
		return false;
	}
	/* The backend reads our checked copy of the header, never the guest's. */
	hdr.num_buffers = 0;
	n->tx_out[0] = (struct iovec){ .iov_base = &hdr, .iov_len = NET_HDR_LEN };
	nout = iov_slice(c->iov, c->n_out, NET_HDR_LEN, frame_len, n->tx_out + 1, NET_IOV_MAX);
	r = n->be->ops->send(n->be, n->tx_out, nout + 1);
	if (r == -EAGAIN) {
		rate_limiter_refund(&n->tx_rl, frame_len, 1);
		n->tx_wait = true;
		return false;
	}
	if (r) {
		n->st.drops++;
		pr_warn_rl(&n->be_rl, "%s: send: %s", n->vdev.name, strerror(-r));
		return true;
	}
	n->st.tx_packets++;
	n->st.tx_bytes += frame_len;
	return true;
}

static void net_tx(struct net_dev *n)
{
	struct virtio_dev *vdev = &n->vdev;
	struct virtqueue *vq = &vdev->vqs[NET_TXQ];
	struct vq_chain c = { .iov = n->tx_iov, .iov_cap = NET_IOV_MAX };
	unsigned budget = NET_TX_BUDGET;
	bool pushed = false;

	if (!virtio_running(vdev) || !vq->ready || n->tx_wait || n->tx_rl_wait)
		return;
	vq_disable_notify(vq);
	while (virtio_pop_budget(vdev, NET_TXQ, &c, &budget) > 0) {
		if (!net_tx_one(n, &c)) {
			/* Resumed by the backend fd or the timer, not by a kick. */
			vq_unpop(vq, 1);
			break;
		}
		virtio_push(vdev, NET_TXQ, c.head, 0);
		pushed = true;
	}
	if (pushed)
		virtio_flush(vdev, NET_TXQ);
}

/* ---- rx ------------------------------------------------------------------ */

/* Fix the backend's header for this driver; false drops the frame. */
static bool rx_hdr_fix(struct net_dev *n, struct virtio_net_hdr_v1 *h)
{
	uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if (!has(n, VIRTIO_NET_F_GUEST_CSUM)) {
		/* A partially checksummed frame cannot be fixed up here: drop it. */
		if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			return false;
		h->flags = 0; /* spec 5.1.6.4.1: flags zero without GUEST_CSUM */
	}
	h->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !has(n, VIRTIO_NET_F_GUEST_ECN))
		return false;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return has(n, VIRTIO_NET_F_GUEST_TSO4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return has(n, VIRTIO_NET_F_GUEST_TSO6);
	default:
		return false;
	}
}

/*
 * Copy the pending frame into the guest's rx chains. Returns 1 delivered
 * (or dropped for good), 0 not enough buffers yet (nothing consumed),
 * -errno the queue is broken.
 */
static int net_rx_deliver(struct net_dev *n)
{
	struct virtio_dev *vdev = &n->vdev;
	struct virtqueue *vq = &vdev->vqs[NET_RXQ];
	struct vq_chain c = { .iov = n->rx_iov, .iov_cap = NET_IOV_MAX };
	bool mrg = has(n, VIRTIO_NET_F_MRG_RXBUF);
	uint8_t *nb[2] = { NULL, NULL };
	uint16_t nbuf = 0, i;
	size_t off = 0;

	if (!mrg) {
		uint16_t one = htole16(1);

		memcpy(n->rx_buf + 10, &one, 2); /* num_buffers */
	}
	while (off < n->rx_len) {
		const struct iovec *win;
		size_t copied;
		int r;

		if (nbuf == vq->size) {
			/* Not even a whole ring of these buffers holds it: never will. */
			vq_unpop(vq, nbuf);
			n->st.drops++;
			return 1;
		}
		r = virtio_pop(vdev, NET_RXQ, &c);
		if (r < 0)
			return r;
		if (r == 0) {
			vq_unpop(vq, nbuf);
			return 0;
		}
		win = c.iov + c.n_out;
		if (!nbuf && (c.in_len < NET_HDR_LEN || (!mrg && c.in_len < n->rx_len))) {
			/*
			 * Useless first buffer. Without merging a too-small buffer
			 * stays for a smaller frame; a buffer that cannot even hold
			 * the header is returned empty so rx cannot wedge on it.
			 */
			if (c.in_len < NET_HDR_LEN) {
				virtio_push(vdev, NET_RXQ, c.head, 0);
				virtio_flush(vdev, NET_RXQ);
			} else {
				vq_unpop(vq, 1);
			}
			n->st.drops++;
			return 1;
		}
		copied = iov_from_buf(win, c.n_in, 0, n->rx_buf + off, n->rx_len - off);
		if (!nbuf) {
			nb[0] = iov_byte_ptr(win, c.n_in, 10);
			nb[1] = iov_byte_ptr(win, c.n_in, 11);
		}
		n->rx_used[nbuf].head = c.head;
		n->rx_used[nbuf].len = (uint32_t)copied;
		nbuf++;
		off += copied;
	}
	if (mrg && nb[0] && nb[1]) {
		*nb[0] = (uint8_t)nbuf;
		*nb[1] = (uint8_t)(nbuf >> 8);
	}
	for (i = 0; i < nbuf; i++)
		virtio_push(vdev, NET_RXQ, n->rx_used[i].head, n->rx_used[i].len);
	/* All buffers of a merged frame become visible together; one interrupt per turn (net_rx). */
	virtio_publish(vdev, NET_RXQ);
	n->rx_done++;
	n->st.rx_packets++;
	n->st.rx_bytes += n->rx_len - NET_HDR_LEN;
	return 1;
}

static void net_rx_turn(struct net_dev *n);

/* One turn of rx, then one interrupt for every frame it delivered (if the driver wants one). */
static void net_rx(struct net_dev *n)
{
	n->rx_done = 0;
	net_rx_turn(n);
	if (n->rx_done)
		virtio_notify(&n->vdev, NET_RXQ);
}

static void net_rx_turn(struct net_dev *n)
{
	struct virtio_dev *vdev = &n->vdev;
	struct virtqueue *vq = &vdev->vqs[NET_RXQ];
	unsigned budget = NET_RX_BUDGET;

	if (!virtio_running(vdev) || !vq->ready || !n->link_up || n->be_dead || n->rx_rl_wait)
		return;
	vq_disable_notify(vq);
	while (budget--) {
		int r;

		if (!n->rx_len) {
			ssize_t len;

			if (!virtio_avail_count(vdev, NET_RXQ)) {
				if (vq->broken)
					return; /* reported */
				if (vq_enable_notify(vq))
					continue;
				n->rx_want = false; /* until the driver kicks with buffers */
				return;
			}
			if (!rate_limiter_consume(&n->rx_rl, 1, 1, rl_now(&n->rx_rl))) {
				n->st.throttled++;
				n->rx_rl_wait = true;
				net_arm_timer(n, rate_limiter_wait_ns(&n->rx_rl, 1, 1, now_ns()));
				return;
			}
			len = n->be->ops->recv(n->be, n->rx_buf, NET_BUF_LEN);
			if (len == -EAGAIN) {
				rate_limiter_refund(&n->rx_rl, 1, 1);
				return;
			}
			if (len < 0) {
				net_backend_failed(n, (int)len);
				return;
			}
			/* Frame sizes are only known after the read: charge the rest now. */
			rate_limiter_charge(&n->rx_rl, (uint64_t)len > 1 ? (uint64_t)len - 1 : 0, 0,
					    rl_now(&n->rx_rl));
			if ((size_t)len < NET_HDR_LEN + NET_MIN_FRAME || (size_t)len > NET_BUF_LEN ||
			    !rx_hdr_fix(n, (struct virtio_net_hdr_v1 *)(void *)n->rx_buf)) {
				n->st.drops++;
				continue;
			}
			n->rx_len = (size_t)len;
		}
		r = net_rx_deliver(n);
		if (r < 0) {
			n->rx_len = 0;
			return;
		}
		if (r > 0) {
			n->rx_len = 0;
			continue;
		}
		/* Not enough buffers: keep the frame, wait for the driver's next one. */
		if (vq_notify_on_more(vq))
			continue;
		return;
	}
	/*
	 * Budget used up with frames maybe left: come back after the other
	 * handlers. Not left to epoll: a doorbell backend's fd was drained by
	 * ack() and would not fire again for frames already queued.
	 */
	virtio_requeue(vdev, NET_RXQ);
}

/* ---- Event handlers --------------------------------------------------------- */

static void net_work(struct net_dev *n)
{
	net_tx(n);
	net_rx(n);
	if (n->be->ops->flush)
		n->be->ops->flush(n->be);
	net_update_watch(n);
}

static void net_fd_handler(void *opaque, uint32_t events)
{
	struct net_watch *w = opaque;
	struct net_dev *n = w->n;

	pthread_mutex_lock(&n->vdev.lock);
	if (n->be->ops->ack)
		n->be->ops->ack(n->be, w->fd, events);
	if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN)) {
		/* Confirmed on the fd: a stale event (reused handler slot) must not kill the backend. */
		struct pollfd p = { .fd = w->fd, .events = 0 };

		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)))
			net_backend_failed(n, -EPIPE);
	}
	if (w->tx && (events & (n->be->tx_events | EPOLLERR | EPOLLHUP)))
		n->tx_wait = false;
	net_work(n);
	pthread_mutex_unlock(&n->vdev.lock);
}

/*
 * The I/O thread's polling (iothread.h): a frame the guest queued for
 * transmission, or one the backend has for a guest with buffers, is taken
 * at once instead of after a kick or a doorbell and a wake-up.
 */
static bool net_poll(void *opaque)
{
	struct net_dev *n = opaque;
	struct virtio_dev *vdev = &n->vdev;
	bool work = false;

	pthread_mutex_lock(&vdev->lock);
	if (virtio_running(vdev) && n->link_up && !n->be_dead) {
		/* virtio_avail_count: a malformed index seen here first is reported too. */
		if (!n->tx_wait && !n->tx_rl_wait && vdev->vqs[NET_TXQ].ready &&
		    !vdev->vqs[NET_TXQ].broken && virtio_avail_count(vdev, NET_TXQ))
			work = true;
		/*
		 * Only rx that can progress now: a held frame (rx_len) waits for the
		 * driver's kick with more buffers, and a queue that is off for its
		 * re-enable. Reporting work for them would keep the window open.
		 */
		if (n->rx_want && !n->rx_len && !n->rx_rl_wait && vdev->vqs[NET_RXQ].ready &&
		    n->be->ops->rx_pending && n->be->ops->rx_pending(n->be))
			work = true;
		if (work)
			net_work(n);
	}
	pthread_mutex_unlock(&vdev->lock);
	return work;
}

static void net_timer_handler(void *opaque, uint32_t events)
{
	struct net_dev *n = opaque;

	(void)events;
	virtio_drain_eventfd(n->timer_fd); /* a timerfd reads like an eventfd: one u64 */
	pthread_mutex_lock(&n->vdev.lock);
	n->timer_armed = false;
	n->rx_rl_wait = n->tx_rl_wait = false;
	net_work(n);
	pthread_mutex_unlock(&n->vdev.lock);
}

static void net_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct net_dev *n = vdev->priv;

	if (q == NET_RXQ)
		n->rx_want = true;
	net_work(n);
}

static void net_sync(struct virtio_dev *vdev)
{
	struct net_dev *n = vdev->priv;

	if (virtio_running(vdev)) {
		/* Buffers posted before DRIVER_OK came without a kick. */
		n->rx_want = true;
		net_work(n);
	} else {
		net_update_watch(n); /* drops every watch */
	}
}

static void net_reset(struct virtio_dev *vdev)
{
	struct net_dev *n = vdev->priv;
	int r;

	n->rx_len = 0;
	n->rx_want = false;
	n->tx_wait = false;
	/* Until the next negotiation, the backend must not hand us offloaded frames. */
	r = n->be->ops->set_offloads(n->be, 0);
	if (r)
		pr_warn_rl(&n->be_rl, "%s: clearing offloads: %s", vdev->name, strerror(-r));
}

static int net_features_ok(struct virtio_dev *vdev, uint64_t f)
{
	struct net_dev *n = vdev->priv;
#define NEEDS(a, b) (((f) & (a)) && !((f) & (b)))
	/* Feature dependencies, spec 5.1.3.1. */
	if (NEEDS(F(GUEST_TSO4) | F(GUEST_TSO6) | F(GUEST_UFO), F(GUEST_CSUM)) ||
	    NEEDS(F(GUEST_ECN), F(GUEST_TSO4) | F(GUEST_TSO6)) ||
	    NEEDS(F(HOST_TSO4) | F(HOST_TSO6) | F(HOST_UFO), F(CSUM)) ||
	    NEEDS(F(HOST_ECN), F(HOST_TSO4) | F(HOST_TSO6)))
		return -EINVAL;
#undef NEEDS
	/* Negotiate honestly: the backend stops producing what the guest did not take. */
	return n->be->ops->set_offloads(n->be, f);
}

static void net_config_read(struct virtio_dev *vdev, uint32_t off, void *data, uint32_t len)
{
	struct net_dev *n = vdev->priv;

	virtio_config_copy(&n->cfg, sizeof(n->cfg), off, data, len);
}

static const struct virtio_dev_ops net_virtio_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.features = F(MRG_RXBUF) | F(STATUS),
	.num_queues = 2,
	.queue_max_size = NET_QUEUE_SIZE,
	/* Sanity cap only: rx "big packet" chains of Linux exceed a frame (pages). */
	.max_chain_bytes = 4 * 1024 * 1024,
	.config_size = sizeof(struct virtio_net_config),
	.config_read = net_config_read,
	.features_ok = net_features_ok,
	.queue_notify = net_queue_notify,
	.sync = net_sync,
	.reset = net_reset,
};

/* ---- Device lifecycle ------------------------------------------------------- */

static void net_free(struct net_dev *n)
{
	if (n->timer_fd >= 0)
		close(n->timer_fd);
	free(n->rx_buf);
	free(n);
}

int virtio_net_create(struct vm *vm, const struct lvmm_dev_cfg *cfg, struct net_backend *be,
		      void **state)
{
	static const uint8_t zero_mac[6];
	struct net_dev *n;
	uint64_t now = now_ns();
	int r;

	if (!memchr(cfg->id, 0, sizeof(cfg->id))) {
		r = -EINVAL;
		goto err_be;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		r = -ENOMEM;
		goto err_be;
	}
	n->be = be;
	n->timer_fd = -1;
	n->link_up = true;
	n->rx_buf = malloc(NET_BUF_LEN);
	if (!n->rx_buf) {
		r = -ENOMEM;
		goto err_free;
	}
	r = rate_limiter_init(&n->rx_rl, &cfg->rx_rl, now);
	if (!r)
		r = rate_limiter_init(&n->tx_rl, &cfg->tx_rl, now);
	if (r) {
		pr_err("%s: bad rate limit", cfg->id);
		goto err_free;
	}
	if (!rate_limiter_unlimited(&n->rx_rl) || !rate_limiter_unlimited(&n->tx_rl)) {
		n->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (n->timer_fd < 0) {
			r = -errno;
			goto err_free;
		}
	}
	r = virtio_dev_init(&n->vdev, &net_virtio_ops, vm, &vm->gmem, cfg->id, n);
	if (r)
		goto err_free;
	n->vdev.host_features |= be->offloads & NET_OFFLOADS;
	if (memcmp(cfg->mac, zero_mac, sizeof(zero_mac))) {
		n->vdev.host_features |= F(MAC);
		memcpy(n->cfg.mac, cfg->mac, sizeof(n->cfg.mac));
	}
	n->cfg.status = htole16(VIRTIO_NET_S_LINK_UP);
	n->cfg.max_virtqueue_pairs = htole16(1);

	n->watch[0] = (struct net_watch){ .n = n, .fd = be->rx_fd, .rx = true,
					  .tx = be->tx_fd == be->rx_fd };
	n->nwatch = 1;
	if (be->tx_fd >= 0 && be->tx_fd != be->rx_fd)
		n->watch[n->nwatch++] = (struct net_watch){ .n = n, .fd = be->tx_fd, .tx = true };

	/* Nothing reads the backend before DRIVER_OK. */
	r = be->ops->set_offloads(be, 0);
	if (r)
		goto err_uninit;
	if (n->timer_fd >= 0) {
		r = iothread_add(&vm->io, n->timer_fd, EPOLLIN, net_timer_handler, n);
		if (r)
			goto err_uninit;
	}
	r = virtio_mmio_create(vm, &n->vdev);
	if (r)
		goto err_timer;
	/* Pollers cannot be removed: a failed add only means no polling for this device. */
	if (iothread_add_poller(&vm->io, net_poll, NULL, n))
		pr_debug("%s: no polling (poller table full)", cfg->id);
	*state = n;
	return 0;

err_timer:
	if (n->timer_fd >= 0)
		iothread_del(&vm->io, n->timer_fd);
err_uninit:
	virtio_dev_uninit(&n->vdev);
err_free:
	net_free(n);
err_be:
	be->ops->destroy(be);
	return r;
}

void virtio_net_destroy(void *state)
{
	struct net_dev *n = state;
	unsigned i;

	if (!n)
		return;
	for (i = 0; i < n->nwatch; i++)
		if (n->watch[i].events)
			iothread_del(&n->vdev.vm->io, n->watch[i].fd);
	if (n->timer_fd >= 0)
		iothread_del(&n->vdev.vm->io, n->timer_fd);
	virtio_mmio_destroy(&n->vdev);
	virtio_dev_uninit(&n->vdev);
	n->be->ops->destroy(n->be);
	net_free(n);
}

void virtio_net_stats(void *state, struct lvmm_dev_stats *out)
{
	struct net_dev *n = state;

	pthread_mutex_lock(&n->vdev.lock);
	snprintf(out->id, sizeof(out->id), "%s", n->vdev.name);
	out->rx_packets = n->st.rx_packets;
	out->rx_bytes = n->st.rx_bytes;
	out->tx_packets = n->st.tx_packets;
	out->tx_bytes = n->st.tx_bytes;
	out->drops = n->st.drops;
	out->errors = n->st.errors + n->vdev.errors;
	out->link_up = n->link_up;
	out->throttled = n->st.throttled;
	pthread_mutex_unlock(&n->vdev.lock);
}

int virtio_net_ctl(void *state, uint32_t op)
{
	struct net_dev *n = state;
	bool up;

	switch (op) {
	case LVMM_CTL_LINK_UP:
		up = true;
		break;
	case LVMM_CTL_LINK_DOWN:
		up = false;
		break;
	default:
		return -EINVAL;
	}
	pthread_mutex_lock(&n->vdev.lock);
	if (n->link_up != up) {
		n->link_up = up;
		n->cfg.status = htole16(up ? VIRTIO_NET_S_LINK_UP : 0);
		virtio_config_changed(&n->vdev);
		/* Watches change on the I/O thread, like every other state change. */
		virtio_signal_sync(&n->vdev);
		if (n->vdev.vm)
			vm_event(n->vdev.vm, LVMM_EV_LINK_STATE, n->vdev.name, up, 0, 0);
	}
	pthread_mutex_unlock(&n->vdev.lock);
	return 0;
}
