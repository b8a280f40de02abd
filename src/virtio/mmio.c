// SPDX-License-Identifier: MIT
#include "virtio/mmio.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lvmm/guest_abi.h"
#include "vmm/vm.h"
#include "shared/ratelimit.h"
#include "shared/range.h"

const struct bus_ops virtio_mmio_bus_ops = {
	.read = virtio_mmio_read,
	.write = virtio_mmio_write,
};

/* ---- Config window ------------------------------------------------------ */

static bool config_access_ok(struct virtio_dev *vdev, uint64_t off, uint32_t len)
{
	if ((len != 1 && len != 2 && len != 4 && len != 8) || (off & (len - 1)) ||
	    !range_within(off, len, 0, vdev->ops->config_size)) {
		pr_warn_rl(&vdev->log_rl, "%s: bad config access at 0x%" PRIx64 " (%u bytes)",
			   vdev->name, off, len);
		return false;
	}
	return true;
}

/* ---- Registers ---------------------------------------------------------- */

static struct virtqueue *sel_queue(struct virtio_dev *vdev)
{
	if (vdev->mmio.queue_sel >= vdev->ops->num_queues)
		return NULL;
	return &vdev->vqs[vdev->mmio.queue_sel];
}

static uint32_t reg_read(struct virtio_dev *vdev, uint64_t off)
{
	struct virtqueue *vq = sel_queue(vdev);

	switch (off) {
	case VMMIO_MAGIC:
		return VIRTIO_MMIO_MAGIC;
	case VMMIO_VERSION:
		return VIRTIO_MMIO_VERSION;
	case VMMIO_DEVICE_ID:
		return vdev->ops->device_id;
	case VMMIO_VENDOR_ID:
		return VIRTIO_VENDOR_ID;
	case VMMIO_DEVICE_FEATURES:
		return virtio_host_features(vdev, vdev->mmio.dev_features_sel);
	case VMMIO_QUEUE_NUM_MAX:
		/* 0 tells the driver the selected queue does not exist (spec 4.2.3.2). */
		return vq ? vq->max_size : 0;
	case VMMIO_QUEUE_NUM:
		return vq ? vq->size : 0;
	case VMMIO_QUEUE_READY:
		return vq ? vq->ready : 0;
	case VMMIO_INTERRUPT_STATUS:
		return atomic_load(&vdev->isr);
	case VMMIO_STATUS:
		return vdev->status;
	case VMMIO_QUEUE_DESC_LOW:
		return vq ? (uint32_t)vq->desc_gpa : 0;
	case VMMIO_QUEUE_DESC_HIGH:
		return vq ? (uint32_t)(vq->desc_gpa >> 32) : 0;
	case VMMIO_QUEUE_DRIVER_LOW:
		return vq ? (uint32_t)vq->avail_gpa : 0;
	case VMMIO_QUEUE_DRIVER_HIGH:
		return vq ? (uint32_t)(vq->avail_gpa >> 32) : 0;
	case VMMIO_QUEUE_DEVICE_LOW:
		return vq ? (uint32_t)vq->used_gpa : 0;
	case VMMIO_QUEUE_DEVICE_HIGH:
		return vq ? (uint32_t)(vq->used_gpa >> 32) : 0;
	case VMMIO_SHM_LEN_LOW:
	case VMMIO_SHM_LEN_HIGH:
	case VMMIO_SHM_BASE_LOW:
	case VMMIO_SHM_BASE_HIGH:
		/* No shared memory regions: a length of -1 says "no such region". */
		return 0xffffffffU;
	case VMMIO_CONFIG_GENERATION:
		return vdev->config_generation;
	case VMMIO_QUEUE_RESET: /* VIRTIO_F_RING_RESET is not offered */
	default:
		pr_warn_rl(&vdev->log_rl, "%s: read of register 0x%" PRIx64 " (write-only or reserved)",
			   vdev->name, off);
		return 0;
	}
}

/* Queue configuration registers: only the selected, existing, not-ready queue. */
static struct virtqueue *queue_for_config(struct virtio_dev *vdev, uint64_t off)
{
	struct virtqueue *vq = sel_queue(vdev);

	if (!vq) {
		pr_warn_rl(&vdev->log_rl, "%s: write to 0x%" PRIx64 " for missing queue %u",
			   vdev->name, off, vdev->mmio.queue_sel);
		return NULL;
	}
	if (vq->ready) {
		pr_warn_rl(&vdev->log_rl, "%s: write to 0x%" PRIx64 " while queue %u is ready; ignored",
			   vdev->name, off, vdev->mmio.queue_sel);
		return NULL;
	}
	return vq;
}

static void set_lo(uint64_t *v, uint32_t val)
{
	*v = (*v & 0xffffffff00000000ULL) | val;
}

static void set_hi(uint64_t *v, uint32_t val)
{
	*v = (*v & 0xffffffffULL) | ((uint64_t)val << 32);
}

static void notify_write(struct virtio_dev *vdev, uint32_t val)
{
	/*
	 * With VIRTIO_F_NOTIFICATION_DATA (not offered) the upper bits would
	 * carry data; here the value is the queue index, nothing else.
	 */
	if (val >= vdev->ops->num_queues) {
		pr_warn_rl(&vdev->log_rl, "%s: notify for missing queue %u", vdev->name, val);
		return;
	}
	/* Hand it to the I/O thread exactly as a matched ioeventfd would. */
	virtio_requeue(vdev, val);
}

static void reg_write(struct virtio_dev *vdev, uint64_t off, uint32_t val)
{
	struct virtqueue *vq;

	switch (off) {
	case VMMIO_DEVICE_FEATURES_SEL:
		vdev->mmio.dev_features_sel = val;
		break;
	case VMMIO_DRIVER_FEATURES:
		virtio_set_driver_features(vdev, vdev->mmio.drv_features_sel, val);
		break;
	case VMMIO_DRIVER_FEATURES_SEL:
		vdev->mmio.drv_features_sel = val;
		break;
	case VMMIO_QUEUE_SEL:
		/* Any value is storable; every queue register checks it on use. */
		vdev->mmio.queue_sel = val;
		break;
	case VMMIO_QUEUE_NUM:
		vq = queue_for_config(vdev, off);
		if (!vq)
			break;
		/* Checked against QueueNumMax and power of two at QueueReady. */
		vq->size = val > 0xffff ? 0 : (uint16_t)val;
		break;
	case VMMIO_QUEUE_READY:
		if (!sel_queue(vdev)) {
			pr_warn_rl(&vdev->log_rl, "%s: QueueReady for missing queue %u", vdev->name,
				   vdev->mmio.queue_sel);
			break;
		}
		if (val > 1) {
			pr_warn_rl(&vdev->log_rl, "%s: QueueReady value %u ignored", vdev->name, val);
			break;
		}
		virtio_queue_set_ready(vdev, vdev->mmio.queue_sel, val == 1);
		break;
	case VMMIO_QUEUE_NOTIFY:
		notify_write(vdev, val);
		break;
	case VMMIO_INTERRUPT_ACK:
		atomic_fetch_and(&vdev->isr, ~val);
		break;
	case VMMIO_STATUS:
		virtio_set_status(vdev, val);
		break;
	case VMMIO_QUEUE_DESC_LOW:
	case VMMIO_QUEUE_DESC_HIGH:
	case VMMIO_QUEUE_DRIVER_LOW:
	case VMMIO_QUEUE_DRIVER_HIGH:
	case VMMIO_QUEUE_DEVICE_LOW:
	case VMMIO_QUEUE_DEVICE_HIGH:
		vq = queue_for_config(vdev, off);
		if (!vq)
			break;
		if (off == VMMIO_QUEUE_DESC_LOW)
			set_lo(&vq->desc_gpa, val);
		else if (off == VMMIO_QUEUE_DESC_HIGH)
			set_hi(&vq->desc_gpa, val);
		else if (off == VMMIO_QUEUE_DRIVER_LOW)
			set_lo(&vq->avail_gpa, val);
		else if (off == VMMIO_QUEUE_DRIVER_HIGH)
			set_hi(&vq->avail_gpa, val);
		else if (off == VMMIO_QUEUE_DEVICE_LOW)
			set_lo(&vq->used_gpa, val);
		else
			set_hi(&vq->used_gpa, val);
		break;
	case VMMIO_SHM_SEL:
		break; /* no regions; any selector reads back "absent" */
	default:
		pr_warn_rl(&vdev->log_rl, "%s: write 0x%x to register 0x%" PRIx64
			   " (read-only or reserved) ignored", vdev->name, val, off);
		break;
	}
}

void virtio_mmio_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct virtio_dev *vdev = opaque;
	uint32_t v;

	memset(data, 0, len);
	pthread_mutex_lock(&vdev->lock);
	if (off >= VMMIO_CONFIG) {
		if (config_access_ok(vdev, off - VMMIO_CONFIG, len))
			vdev->ops->config_read(vdev, (uint32_t)(off - VMMIO_CONFIG), data, len);
	} else if (len != 4 || (off & 3)) {
		pr_warn_rl(&vdev->log_rl, "%s: %u-byte read at 0x%" PRIx64 " ignored (32-bit only)",
			   vdev->name, len, off);
	} else {
		v = htole32(reg_read(vdev, off));
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&vdev->lock);
}

void virtio_mmio_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct virtio_dev *vdev = opaque;
	uint32_t v;

	pthread_mutex_lock(&vdev->lock);
	if (off >= VMMIO_CONFIG) {
		if (config_access_ok(vdev, off - VMMIO_CONFIG, len) && vdev->ops->config_write)
			vdev->ops->config_write(vdev, (uint32_t)(off - VMMIO_CONFIG), data, len);
	} else if (len != 4 || (off & 3)) {
		pr_warn_rl(&vdev->log_rl, "%s: %u-byte write at 0x%" PRIx64 " ignored (32-bit only)",
			   vdev->name, len, off);
	} else {
		memcpy(&v, data, 4);
		reg_write(vdev, off, le32toh(v));
	}
	pthread_mutex_unlock(&vdev->lock);
}

/* ---- Setup -------------------------------------------------------------- */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int virtio_mmio_create(struct vm *vm, struct virtio_dev *vdev)
{
	unsigned q, nq = vdev->ops->num_queues, added = 0;
	uint64_t base;
	uint32_t irq;
	int r;

	r = vm_alloc_virtio_slot(vm, &base, &irq);
	if (r)
		return r;
	vdev->mmio.base = base;
	vdev->mmio.irq = irq;
	r = vm_irqfd(vm, irq, &vdev->irqfd);
	if (r)
		goto err;
	for (q = 0; q < nq; q++) {
		r = vm_ioeventfd(vm, base + VMMIO_QUEUE_NOTIFY, 4, false, true, q, &vdev->kick_fd[q]);
		if (r)
			goto err_fds;
		/* Handlers drain it; a spurious wakeup must not block the I/O thread. */
		r = set_nonblock(vdev->kick_fd[q]);
		if (r)
			goto err_fds;
	}
	r = iothread_add(&vm->io, vdev->sync_fd, EPOLLIN, virtio_sync_handler, vdev);
	if (r)
		goto err_fds;
	for (added = 0; added < nq; added++) {
		r = iothread_add(&vm->io, vdev->kick_fd[added], EPOLLIN, virtio_kick_handler,
				 &vdev->kick[added]);
		if (r)
			goto err_io;
	}
	r = bus_register(&vm->mmio, base, LVMM_VIRTIO_MMIO_SIZE, &virtio_mmio_bus_ops, vdev,
			 vdev->name);
	if (r)
		goto err_io;
	vdev->mmio.registered = true;
	pr_info("%s: %s at 0x%" PRIx64 " irq %u", vdev->name, vdev->ops->name, base, irq);
	return 0;

err_io:
	while (added--)
		iothread_del(&vm->io, vdev->kick_fd[added]);
	iothread_del(&vm->io, vdev->sync_fd);
err_fds:
	for (q = 0; q < nq; q++) {
		if (vdev->kick_fd[q] >= 0)
			close(vdev->kick_fd[q]);
		vdev->kick_fd[q] = -1;
	}
	if (vdev->irqfd >= 0)
		close(vdev->irqfd);
	vdev->irqfd = -1;
err:
	return r;
}

void virtio_mmio_destroy(struct virtio_dev *vdev)
{
	unsigned q;

	if (!vdev->mmio.registered)
		return;
	/* The bus has no unregister: the caller tears down after vCPUs stopped. */
	for (q = 0; q < vdev->ops->num_queues; q++) {
		iothread_del(&vdev->vm->io, vdev->kick_fd[q]);
		close(vdev->kick_fd[q]);
		vdev->kick_fd[q] = -1;
	}
	iothread_del(&vdev->vm->io, vdev->sync_fd);
	if (vdev->irqfd >= 0)
		close(vdev->irqfd);
	vdev->irqfd = -1;
	vdev->mmio.registered = false;
}
