// SPDX-License-Identifier: MIT
#include "virtio/virtio.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/vm.h"
#include "shared/ratelimit.h"

/* Copy src into dst (size n) always NUL-terminating; -E2BIG if truncated. */
static int strlcpy_checked(char *dst, const char *src, size_t n)
{
	size_t l = strlen(src);

	if (!n)
		return -E2BIG;
	if (l >= n) {
		memcpy(dst, src, n - 1);
		dst[n - 1] = 0;
		return -E2BIG;
	}
	memcpy(dst, src, l + 1);
	return 0;
}

int virtio_dev_init(struct virtio_dev *vdev, const struct virtio_dev_ops *ops, struct vm *vm,
		    struct gmem *gmem, const char *name, void *priv)
{
	unsigned q;
	int r;

	if (!ops || ops->num_queues > VIRTIO_MAX_QUEUES || !ops->queue_notify ||
	    !ops->config_read || !ops->queue_max_size ||
	    (ops->queue_max_size & (ops->queue_max_size - 1)))
		return -EINVAL;
	memset(vdev, 0, sizeof(*vdev));
	vdev->ops = ops;
	vdev->priv = priv;
	vdev->vm = vm;
	vdev->gmem = gmem;
	if (strlcpy_checked(vdev->name, name && *name ? name : ops->name, sizeof(vdev->name)))
		return -ENAMETOOLONG;
	vdev->host_features = ops->features | VIRTIO_COMMON_FEATURES;
	vdev->irqfd = -1;
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		vdev->kick_fd[q] = -1;
		vdev->kick[q] = (struct virtio_kick){ .vdev = vdev, .q = q };
		vq_init(&vdev->vqs[q], gmem, vdev->name, q, ops->queue_max_size,
			ops->max_chain_bytes);
	}
	vdev->sync_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vdev->sync_fd < 0)
		return -errno;
	r = pthread_mutex_init(&vdev->lock, NULL);
	if (r) {
		close(vdev->sync_fd);
		vdev->sync_fd = -1;
		return -r;
	}
	return 0;
}

void virtio_dev_uninit(struct virtio_dev *vdev)
{
	if (vdev->sync_fd >= 0)
		close(vdev->sync_fd);
	vdev->sync_fd = -1;
	pthread_mutex_destroy(&vdev->lock);
}

bool virtio_running(const struct virtio_dev *vdev)
{
	return (vdev->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(vdev->status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

void virtio_drain_eventfd(int fd)
{
	uint64_t v;

	if (fd >= 0 && read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing pending (spurious wakeup); nothing else can happen here. */
	}
}

static void eventfd_signal(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN only if the counter is about to overflow: already signalled. */
	}
}

void virtio_signal_sync(struct virtio_dev *vdev)
{
	eventfd_signal(vdev->sync_fd);
}

void virtio_requeue(struct virtio_dev *vdev, unsigned q)
{
	if (q < VIRTIO_MAX_QUEUES)
		eventfd_signal(vdev->kick_fd[q]);
}

void virtio_raise(struct virtio_dev *vdev, uint32_t isr_bits)
{
	atomic_fetch_or(&vdev->isr, isr_bits);
	eventfd_signal(vdev->irqfd);
}

void virtio_config_changed(struct virtio_dev *vdev)
{
	vdev->config_generation++;
	if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_raise(vdev, VIRTIO_ISR_CONFIG);
}

void virtio_reset(struct virtio_dev *vdev)
{
	unsigned q;

	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	for (q = 0; q < vdev->ops->num_queues; q++)
		vq_reset(&vdev->vqs[q]);
	vdev->status = 0;
	vdev->driver_features = 0;
	vdev->high_features = false;
	vdev->features = 0;
	atomic_store(&vdev->isr, 0);
	vdev->mmio.dev_features_sel = 0;
	vdev->mmio.drv_features_sel = 0;
	vdev->mmio.queue_sel = 0;
	/* The I/O thread stops watching backends for a device that is not running. */
	virtio_signal_sync(vdev);
}

void virtio_dev_error(struct virtio_dev *vdev, unsigned q, enum virtio_err reason)
{
	vdev->errors++;
	if (q < vdev->ops->num_queues)
		vdev->vqs[q].broken = true;
	if (vdev->status & VIRTIO_STATUS_NEEDS_RESET)
		return; /* already reported for this episode */
	vdev->status |= VIRTIO_STATUS_NEEDS_RESET;
	/* Spec 2.1.2: with DRIVER_OK set, tell the driver through a config interrupt. */
	if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_raise(vdev, VIRTIO_ISR_CONFIG);
	/* A guest looping reset + bad chain must not flood the supervisor either. */
	if (vdev->vm && ratelimit_allow(&vdev->event_rl))
		vm_event(vdev->vm, LVMM_EV_VIRTIO_ERROR, vdev->name, reason,
			 q < vdev->ops->num_queues ? q : UINT64_MAX, 0);
	if (q < vdev->ops->num_queues)
		pr_warn_rl(&vdev->log_rl, "%s: queue %u: %s (reason %u); device needs reset",
			   vdev->name, q, virtio_err_str(reason), (unsigned)reason);
	else
		pr_warn_rl(&vdev->log_rl, "%s: %s (reason %u); device needs reset", vdev->name,
			   virtio_err_str(reason), (unsigned)reason);
	virtio_signal_sync(vdev);
}

static bool features_acceptable(struct virtio_dev *vdev)
{
	uint64_t f = vdev->driver_features;
	int r;

	if ((f & ~vdev->host_features) || vdev->high_features) {
		pr_warn_rl(&vdev->log_rl, "%s: driver accepted features not offered (0x%" PRIx64 ")",
			   vdev->name, f & ~vdev->host_features);
		return false;
	}
	if (!(f & VIRTIO_FBIT(VIRTIO_F_VERSION_1_BIT))) {
		pr_warn_rl(&vdev->log_rl, "%s: driver did not accept VERSION_1 (legacy drivers unsupported)",
			   vdev->name);
		return false;
	}
	if (vdev->ops->features_ok) {
		r = vdev->ops->features_ok(vdev, f);
		if (r) {
			pr_warn_rl(&vdev->log_rl, "%s: feature set 0x%" PRIx64 " refused: %s",
				   vdev->name, f, strerror(-r));
			return false;
		}
	}
	return true;
}

void virtio_set_status(struct virtio_dev *vdev, uint32_t val)
{
	uint8_t old = vdev->status & (uint8_t)~VIRTIO_STATUS_NEEDS_RESET;
	uint8_t val8, added;

	if (val == 0) {
		virtio_reset(vdev);
		return;
	}
	if (val > 0xff) {
		pr_warn_rl(&vdev->log_rl, "%s: status 0x%x ignored", vdev->name, val);
		return;
	}
	/* NEEDS_RESET is the device's bit; the driver writing it back means nothing. */
	val8 = (uint8_t)val & (uint8_t)~VIRTIO_STATUS_NEEDS_RESET;
	if (old & ~val8) {
		pr_warn_rl(&vdev->log_rl, "%s: driver cleared status bits (0x%x -> 0x%x); ignored",
			   vdev->name, old, val8);
		return;
	}
	if ((val8 & VIRTIO_STATUS_DRIVER) && !(val8 & VIRTIO_STATUS_ACKNOWLEDGE)) {
		pr_warn_rl(&vdev->log_rl, "%s: status 0x%x out of order; ignored", vdev->name, val8);
		return;
	}
	added = val8 & (uint8_t)~old;
	if (added & VIRTIO_STATUS_FEATURES_OK) {
		/* Leaving FEATURES_OK clear is how the device says no (spec 3.1.1). */
		if (!(val8 & VIRTIO_STATUS_DRIVER) || !features_acceptable(vdev))
			val8 &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
		else
			vdev->features = vdev->driver_features;
	}
	if ((added & VIRTIO_STATUS_DRIVER_OK) && !(val8 & VIRTIO_STATUS_FEATURES_OK)) {
		pr_warn_rl(&vdev->log_rl, "%s: DRIVER_OK without FEATURES_OK; ignored", vdev->name);
		val8 &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	}
	vdev->status = val8 | (vdev->status & VIRTIO_STATUS_NEEDS_RESET);
	if (added & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED))
		virtio_signal_sync(vdev);
}

uint32_t virtio_host_features(const struct virtio_dev *vdev, uint32_t sel)
{
	if (sel > 1)
		return 0;
	return (uint32_t)(vdev->host_features >> (32 * sel));
}

void virtio_set_driver_features(struct virtio_dev *vdev, uint32_t sel, uint32_t val)
{
	uint64_t mask;

	if (vdev->status & VIRTIO_STATUS_FEATURES_OK) {
		pr_warn_rl(&vdev->log_rl, "%s: feature write after FEATURES_OK ignored", vdev->name);
		return;
	}
	if (sel > 1) {
		/* We offer no bit above 63: accepting one is accepting the unoffered. */
		if (val)
			vdev->high_features = true;
		return;
	}
	mask = 0xffffffffULL << (32 * sel);
	vdev->driver_features = (vdev->driver_features & ~mask) | ((uint64_t)val << (32 * sel));
}

void virtio_queue_set_ready(struct virtio_dev *vdev, unsigned q, bool ready)
{
	struct virtqueue *vq;

	if (q >= vdev->ops->num_queues)
		return;
	vq = &vdev->vqs[q];
	if (!ready) {
		/* Keep the driver's addresses: it may read them back or re-enable. */
		vq->ready = false;
		return;
	}
	if (vq->ready)
		return;
	if (!(vdev->status & VIRTIO_STATUS_FEATURES_OK) ||
	    (vdev->status & (VIRTIO_STATUS_FAILED | VIRTIO_STATUS_NEEDS_RESET))) {
		pr_warn_rl(&vdev->log_rl, "%s: queue %u enabled before FEATURES_OK; ignored",
			   vdev->name, q);
		return;
	}
	if (vq_set_ready(vq, vdev->features))
		virtio_dev_error(vdev, q, vq->err);
}

int virtio_pop(struct virtio_dev *vdev, unsigned q, struct vq_chain *c)
{
	struct virtqueue *vq;
	int r;

	if (q >= vdev->ops->num_queues || !virtio_running(vdev))
		return 0;
	vq = &vdev->vqs[q];
	if (vq->broken) {
		/* Broken by a helper that cannot report (vq_avail_count, vq_enable_notify). */
		if (!(vdev->status & VIRTIO_STATUS_NEEDS_RESET))
			virtio_dev_error(vdev, q, vq->err);
		return -EIO;
	}
	r = vq_pop(vq, c);
	if (r < 0)
		virtio_dev_error(vdev, q, vq->err);
	return r;
}

int virtio_pop_budget(struct virtio_dev *vdev, unsigned q, struct vq_chain *c, unsigned *budget)
{
	int r;

	for (;;) {
		if (!*budget) {
			/* Let other devices run; this queue continues on the next turn. */
			virtio_requeue(vdev, q);
			return 0;
		}
		(*budget)--;
		r = virtio_pop(vdev, q, c);
		if (r)
			return r;
		/* Empty: re-enable kicks, then look once more so none is lost. */
		if (q >= vdev->ops->num_queues || !virtio_running(vdev) ||
		    !vq_enable_notify(&vdev->vqs[q]))
			return 0;
	}
}

uint16_t virtio_avail_count(struct virtio_dev *vdev, unsigned q)
{
	struct virtqueue *vq;
	uint16_t n;

	if (q >= vdev->ops->num_queues || !virtio_running(vdev))
		return 0;
	vq = &vdev->vqs[q];
	n = vq_avail_count(vq);
	if (vq->broken && !(vdev->status & VIRTIO_STATUS_NEEDS_RESET))
		virtio_dev_error(vdev, q, vq->err);
	return n;
}

void virtio_push(struct virtio_dev *vdev, unsigned q, uint16_t head, uint32_t len)
{
	if (q < vdev->ops->num_queues)
		vq_push(&vdev->vqs[q], head, len);
}

void virtio_flush(struct virtio_dev *vdev, unsigned q)
{
	struct virtqueue *vq;

	if (q >= vdev->ops->num_queues)
		return;
	vq = &vdev->vqs[q];
	vq_flush(vq);
	if (vq_should_notify(vq))
		virtio_raise(vdev, VIRTIO_ISR_VRING);
}

void virtio_publish(struct virtio_dev *vdev, unsigned q)
{
	if (q < vdev->ops->num_queues)
		vq_flush(&vdev->vqs[q]);
}

void virtio_notify(struct virtio_dev *vdev, unsigned q)
{
	if (q < vdev->ops->num_queues && vq_should_notify(&vdev->vqs[q]))
		virtio_raise(vdev, VIRTIO_ISR_VRING);
}

void virtio_kick_handler(void *opaque, uint32_t events)
{
	struct virtio_kick *k = opaque;
	struct virtio_dev *vdev = k->vdev;
	struct virtqueue *vq = &vdev->vqs[k->q];

	(void)events;
	virtio_drain_eventfd(vdev->kick_fd[k->q]);
	pthread_mutex_lock(&vdev->lock);
	if (virtio_running(vdev) && vq->ready && !vq->broken)
		vdev->ops->queue_notify(vdev, k->q);
	pthread_mutex_unlock(&vdev->lock);
}

void virtio_sync_handler(void *opaque, uint32_t events)
{
	struct virtio_dev *vdev = opaque;
	unsigned q;

	(void)events;
	virtio_drain_eventfd(vdev->sync_fd);
	pthread_mutex_lock(&vdev->lock);
	if (vdev->ops->sync) {
		vdev->ops->sync(vdev);
	} else if (virtio_running(vdev)) {
		/* Buffers made available before DRIVER_OK got no kick of their own. */
		for (q = 0; q < vdev->ops->num_queues && virtio_running(vdev); q++)
			if (vdev->vqs[q].ready && !vdev->vqs[q].broken)
				vdev->ops->queue_notify(vdev, q);
	}
	pthread_mutex_unlock(&vdev->lock);
}

int virtio_cfg_fd(const struct vm *vm, const struct lvmm_dev_cfg *cfg, unsigned i, int *fd)
{
	int32_t idx;

	if (i >= ARRAY_SIZE(cfg->fd))
		return -EBADF;
	idx = cfg->fd[i];
	if (idx < 0 || !vm->fds || (uint32_t)idx >= vm->nfds || vm->fds[idx] < 0)
		return -EBADF;
	*fd = vm->fds[idx];
	return 0;
}

void virtio_config_copy(const void *cfg, size_t size, uint32_t off, void *data, uint32_t len)
{
	memset(data, 0, len);
	if (off < size)
		memcpy(data, (const uint8_t *)cfg + off, MIN((size_t)len, size - off));
}
