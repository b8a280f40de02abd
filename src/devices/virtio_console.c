// SPDX-License-Identifier: MIT
/*
 * virtio-console (virtio 1.x section 5.3) with a single port, no
 * multiport: a byte stream between the guest and fd[0] of the device
 * config, either an already-connected stream socket or, with
 * LVMM_DEV_F_LISTEN, a listening socket that gives one peer at a time.
 *
 * No buffering of our own: bytes go straight from the guest's tx buffers
 * to the socket and from the socket into the guest's rx buffers. When the
 * socket is full, the partly written chain is held and the tx ring fills
 * up (the guest's writer blocks); when the guest has no rx buffers, the
 * socket is not read (the peer's writer blocks). With a listening socket
 * and no peer yet, guest output waits in the ring for the next peer; with
 * a connected socket whose peer has gone, guest output is discarded
 * (counted as drops) since nobody can ever read it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "shared/ratelimit.h"
#include "devices/registry.h"
#include "virtio/iov.h"
#include "virtio/mmio.h"
#include "virtio/virtio.h"
#include "vmm/vm.h"

#define CONS_RXQ        0
#define CONS_TXQ        1
#define CONS_QUEUE_SIZE 128
#define CONS_IOV_MAX    64
#define CONS_BUDGET     64
#define CONS_MAX_CHAIN  (1024 * 1024)

struct cons_dev {
	struct virtio_dev vdev;
	int listen_fd;           /* -1 unless LVMM_DEV_F_LISTEN */
	int conn_fd;             /* current peer, or -1 */
	bool conn_owned;         /* accepted by us: close it when the peer goes */
	bool peer_gone;          /* connected mode: the only peer has gone */
	bool rx_eof;             /* the peer will send nothing more (half-closed) */
	bool hup;                /* the peer hung up or failed: drop once drained */
	struct watch {
		bool on;         /* registered with the I/O thread */
		uint32_t events;
	} conn_w, listen_w;
	bool rx_want;            /* the guest may have rx buffers */

	bool tx_held;            /* a tx chain partly written to the peer */
	uint16_t tx_head;
	unsigned tx_n;           /* what is left of it: tx_rem[0, tx_n) */
	struct iovec *tx_cur;
	struct iovec tx_rem[CONS_IOV_MAX];

	struct iovec rx_iov[CONS_IOV_MAX];
	struct iovec tx_iov[CONS_IOV_MAX];
	struct {
		uint64_t rx_bytes, tx_bytes, drops, errors;
	} st;
	struct ratelimit rl;
};

static void cons_conn_handler(void *opaque, uint32_t events);
static void cons_listen_handler(void *opaque, uint32_t events);

/*
 * Register, modify or drop one fd so that epoll only wakes us for what we
 * can do now. A registration with no events still reports HUP/ERR (that is
 * how a peer leaving is noticed while we read nothing); those are
 * level-triggered, so once seen the fd is kept only while it has work.
 */
static void set_watch(struct cons_dev *c, int fd, struct watch *w, bool on, uint32_t want,
		      io_handler_fn fn)
{
	struct iothread *io = &c->vdev.vm->io;
	int r = 0;

	if (fd < 0 || (on == w->on && (!on || want == w->events)))
		return;
	if (!on)
		r = iothread_del(io, fd);
	else if (!w->on)
		r = iothread_add(io, fd, want, fn, c);
	else
		r = iothread_mod(io, fd, want);
	if (r) {
		pr_warn_rl(&c->rl, "%s: cannot watch fd: %s", c->vdev.name, strerror(-r));
		return;
	}
	w->on = on;
	w->events = on ? want : 0;
}

static void cons_update_watch(struct cons_dev *c)
{
	uint32_t want = 0;

	if (c->conn_fd >= 0 && virtio_running(&c->vdev)) {
		/*
		 * Not for a queue that is off: cons_rx/cons_tx would not touch the
		 * fd and the level-triggered event would spin the I/O thread. The
		 * driver's kick after re-enabling it brings us back.
		 */
		if (c->rx_want && !c->rx_eof && c->vdev.vqs[CONS_RXQ].ready)
			want |= EPOLLIN;
		if (c->tx_held && c->vdev.vqs[CONS_TXQ].ready)
			want |= EPOLLOUT;
	}
	set_watch(c, c->conn_fd, &c->conn_w, c->conn_fd >= 0 && (want || !c->hup), want,
		  cons_conn_handler);
	/* One peer at a time: others wait in the listen backlog. */
	set_watch(c, c->listen_fd, &c->listen_w, c->conn_fd < 0, EPOLLIN, cons_listen_handler);
}

static void cons_drop_peer(struct cons_dev *c, int err)
{
	if (c->conn_fd < 0)
		return;
	if (err)
		pr_info("%s: peer gone: %s", c->vdev.name, strerror(-err));
	set_watch(c, c->conn_fd, &c->conn_w, false, 0, cons_conn_handler);
	if (c->conn_owned)
		close(c->conn_fd);
	c->conn_fd = -1;
	c->conn_owned = false;
	c->rx_eof = c->hup = false;
	if (c->listen_fd < 0)
		c->peer_gone = true;
	if (c->tx_held) {
		/* The rest of a half-sent chain has nowhere to go. */
		c->st.drops += iov_length(c->tx_cur, c->tx_n);
		c->tx_held = false;
		virtio_push(&c->vdev, CONS_TXQ, c->tx_head, 0);
		virtio_flush(&c->vdev, CONS_TXQ);
	}
}

/* Write what is left of the held chain. 1 done, 0 socket full, -errno peer failed. */
static int cons_send(struct cons_dev *c)
{
	while (c->tx_n) {
		struct msghdr msg = { .msg_iov = c->tx_cur, .msg_iovlen = c->tx_n };
		ssize_t r = sendmsg(c->conn_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (r < 0 && errno == ENOTSOCK)
			r = writev(c->conn_fd, c->tx_cur, (int)c->tx_n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		c->st.tx_bytes += (uint64_t)r;
		iov_advance(&c->tx_cur, &c->tx_n, (size_t)r);
	}
	return 1;
}

static void cons_tx(struct cons_dev *c)
{
	struct virtio_dev *vdev = &c->vdev;
	struct virtqueue *vq = &vdev->vqs[CONS_TXQ];
	struct vq_chain ch = { .iov = c->tx_iov, .iov_cap = CONS_IOV_MAX };
	unsigned budget = CONS_BUDGET;
	bool pushed = false;

	if (!virtio_running(vdev) || !vq->ready)
		return;
	/* Listening and nobody there yet: leave the data in the ring (backpressure). */
	if (c->conn_fd < 0 && !c->peer_gone)
		return;
	vq_disable_notify(vq);
	for (;;) {
		int r;

		if (c->tx_held) {
			r = cons_send(c);
			if (r == 0)
				break; /* EPOLLOUT brings us back */
			if (r < 0) {
				cons_drop_peer(c, r);
				if (c->conn_fd < 0 && !c->peer_gone)
					break;
				continue;
			}
			c->tx_held = false;
			virtio_push(vdev, CONS_TXQ, c->tx_head, 0);
			pushed = true;
		}
		if (virtio_pop_budget(vdev, CONS_TXQ, &ch, &budget) <= 0)
			break;
		if (c->conn_fd < 0) {
			/* The peer of a connected socket is gone for good: discard. */
			c->st.drops += ch.out_len;
			virtio_push(vdev, CONS_TXQ, ch.head, 0);
			pushed = true;
			continue;
		}
		c->tx_head = ch.head;
		c->tx_n = iov_slice(ch.iov, ch.n_out, 0, ch.out_len, c->tx_rem, CONS_IOV_MAX);
		c->tx_cur = c->tx_rem;
		c->tx_held = true;
	}
	if (pushed)
		virtio_flush(vdev, CONS_TXQ);
}

static void cons_rx(struct cons_dev *c)
{
	struct virtio_dev *vdev = &c->vdev;
	struct virtqueue *vq = &vdev->vqs[CONS_RXQ];
	struct vq_chain ch = { .iov = c->rx_iov, .iov_cap = CONS_IOV_MAX };
	unsigned budget = CONS_BUDGET;
	bool pushed = false;

	if (!virtio_running(vdev) || !vq->ready || c->conn_fd < 0 || !c->rx_want || c->rx_eof)
		return;
	vq_disable_notify(vq);
	while (budget--) {
		ssize_t n;
		int r = virtio_pop(vdev, CONS_RXQ, &ch);

		if (r < 0)
			break;
		if (r == 0) {
			if (vq_enable_notify(vq))
				continue;
			c->rx_want = false; /* stop reading until the driver adds buffers */
			break;
		}
		if (!ch.n_in) {
			virtio_push(vdev, CONS_RXQ, ch.head, 0);
			pushed = true;
			continue;
		}
		n = readv(c->conn_fd, ch.iov + ch.n_out, (int)ch.n_in);
		if (n > 0) {
			c->st.rx_bytes += (uint64_t)n;
			virtio_push(vdev, CONS_RXQ, ch.head, (uint32_t)n);
			pushed = true;
			continue;
		}
		vq_unpop(vq, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == 0 && !c->hup) {
			/* Half-closed: the peer may still read what the guest writes. */
			c->rx_eof = true;
			break;
		}
		cons_drop_peer(c, n < 0 ? -errno : 0);
		break;
	}
	if (pushed)
		virtio_flush(vdev, CONS_RXQ);
}

/*
 * Confirm HUP/ERR on the fd itself: an epoll event may be stale if its
 * handler slot was reused within one batch, and dropping a healthy peer
 * on a stale event would lose data.
 */
static bool fd_hung_up(int fd)
{
	struct pollfd p = { .fd = fd, .events = 0 };

	return fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

static void cons_work(struct cons_dev *c)
{
	int unread = 0;

	cons_tx(c);
	cons_rx(c);
	/*
	 * Gone for good: drop it now, unless it left bytes the guest has not
	 * had room for yet (delivered first; then this check passes).
	 */
	if (c->hup && c->conn_fd >= 0 &&
	    (c->rx_eof || ioctl(c->conn_fd, FIONREAD, &unread) < 0 || unread <= 0)) {
		cons_drop_peer(c, 0);
		cons_tx(c); /* connected mode: discard what waits; listening: keep it */
	}
	cons_update_watch(c);
}

static void cons_conn_handler(void *opaque, uint32_t events)
{
	struct cons_dev *c = opaque;

	pthread_mutex_lock(&c->vdev.lock);
	if ((events & (EPOLLHUP | EPOLLERR)) && fd_hung_up(c->conn_fd))
		c->hup = true;
	cons_work(c);
	pthread_mutex_unlock(&c->vdev.lock);
}

static void cons_listen_handler(void *opaque, uint32_t events)
{
	struct cons_dev *c = opaque;
	int fd;

	(void)events;
	pthread_mutex_lock(&c->vdev.lock);
	if (c->conn_fd < 0) {
		fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			pr_info("%s: peer connected", c->vdev.name);
			c->conn_fd = fd;
			c->conn_owned = true;
			c->rx_want = true;
			c->rx_eof = c->hup = false;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			   errno != ECONNABORTED) {
			pr_warn_rl(&c->rl, "%s: accept: %s", c->vdev.name, strerror(errno));
		}
	}
	cons_work(c);
	pthread_mutex_unlock(&c->vdev.lock);
}

static void cons_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct cons_dev *c = vdev->priv;

	if (q == CONS_RXQ)
		c->rx_want = true;
	cons_work(c);
}

static void cons_sync(struct virtio_dev *vdev)
{
	struct cons_dev *c = vdev->priv;

	if (virtio_running(vdev))
		c->rx_want = true;
	cons_work(c);
}

static void cons_reset(struct virtio_dev *vdev)
{
	struct cons_dev *c = vdev->priv;

	/* The chain belonged to the old rings; the peer connection stays. */
	c->tx_held = false;
	c->rx_want = false;
}

static void cons_config_read(struct virtio_dev *vdev, uint32_t off, void *data, uint32_t len)
{
	/* No F_SIZE, F_MULTIPORT or F_EMERG_WRITE: every field reads as zero. */
	static const struct virtio_console_config cfg;

	(void)vdev;
	virtio_config_copy(&cfg, sizeof(cfg), off, data, len);
}

static const struct virtio_dev_ops cons_virtio_ops = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.features = 0,
	.num_queues = 2,
	.queue_max_size = CONS_QUEUE_SIZE,
	.max_chain_bytes = CONS_MAX_CHAIN,
	.config_size = sizeof(struct virtio_console_config),
	.config_read = cons_config_read,
	.queue_notify = cons_queue_notify,
	.sync = cons_sync,
	.reset = cons_reset,
};

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int cons_create(struct vm *vm, const struct lvmm_dev_cfg *cfg, void **state)
{
	struct cons_dev *c;
	int fd, r, listening = 0;
	socklen_t sl = sizeof(listening);

	if (!memchr(cfg->id, 0, sizeof(cfg->id)))
		return -EINVAL;
	r = virtio_cfg_fd(vm, cfg, 0, &fd);
	if (r)
		return r;
	if (cfg->flags & LVMM_DEV_F_LISTEN) {
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &sl) < 0 || !listening) {
			pr_err("%s: fd is not a listening socket", cfg->id);
			return -EINVAL;
		}
	}
	r = set_nonblock(fd);
	if (r)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->listen_fd = listening ? fd : -1;
	c->conn_fd = listening ? -1 : fd;
	r = virtio_dev_init(&c->vdev, &cons_virtio_ops, vm, &vm->gmem, cfg->id, c);
	if (r)
		goto err_free;
	/* Accept a peer (and notice it leaving) even before the guest's driver is up. */
	cons_update_watch(c);
	if ((c->listen_fd >= 0 && !c->listen_w.on) || (c->conn_fd >= 0 && !c->conn_w.on)) {
		r = -ENOSPC;
		goto err_uninit;
	}
	r = virtio_mmio_create(vm, &c->vdev);
	if (r)
		goto err_watch;
	*state = c;
	return 0;

err_watch:
	set_watch(c, c->conn_fd, &c->conn_w, false, 0, cons_conn_handler);
	set_watch(c, c->listen_fd, &c->listen_w, false, 0, cons_listen_handler);
err_uninit:
	virtio_dev_uninit(&c->vdev);
err_free:
	free(c);
	return r;
}

static void cons_destroy(void *state)
{
	struct cons_dev *c = state;

	if (!c)
		return;
	set_watch(c, c->conn_fd, &c->conn_w, false, 0, cons_conn_handler);
	set_watch(c, c->listen_fd, &c->listen_w, false, 0, cons_listen_handler);
	if (c->conn_owned)
		close(c->conn_fd);
	virtio_mmio_destroy(&c->vdev);
	virtio_dev_uninit(&c->vdev);
	/* listen_fd / a connected fd[0] belong to the partition's config fds. */
	free(c);
}

static void cons_stats(void *state, struct lvmm_dev_stats *out)
{
	struct cons_dev *c = state;

	pthread_mutex_lock(&c->vdev.lock);
	snprintf(out->id, sizeof(out->id), "%s", c->vdev.name);
	out->rx_bytes = c->st.rx_bytes;
	out->tx_bytes = c->st.tx_bytes;
	out->drops = c->st.drops;
	out->errors = c->st.errors + c->vdev.errors;
	out->link_up = c->conn_fd >= 0;
	pthread_mutex_unlock(&c->vdev.lock);
}

const struct device_ops virtio_stream_ops = {
	.name = "virtio-console",
	.create = cons_create,
	.destroy = cons_destroy,
	.stats = cons_stats,
};
