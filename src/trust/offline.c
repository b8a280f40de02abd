// SPDX-License-Identifier: MIT
/* Offline trust inputs from a platform entry; see offline.h. */
#include "trust/offline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm/cmdline.h"

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

static int opened(struct trust_offline *o, unsigned *n, const char *path)
{
	int fd = path && path[0] ? open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1;

	if (fd >= 0)
		o->fds[(*n)++] = fd;
	return fd;
}

void trust_image_of(const struct plat_part *p, unsigned set, struct trust_image_in *im)
{
	const char *initrd = set ? p->safe.initrd : p->initrd;

	im->present = true;
	im->kernel_name = base_name(set ? p->safe.kernel : p->kernel);
	im->initrd_name = initrd[0] ? base_name(initrd) : "";
	im->cmdline = set ? p->safe.cmdline : p->cmdline;
	im->virtio_slots = cmdline_virtio_slots(p); /* the same devices with either image */
	im->verify = set ? p->safe.verify.on : p->verify.on;
}

int trust_on_fail(const struct plat_part *p)
{
	return p->verify.on_fail ? (int)p->verify.on_fail : LVMM_TRUST_REFUSE;
}

static void image(struct trust_offline *o, unsigned *n, const struct plat_part *p, unsigned set)
{
	const struct plat_verify *v = set ? &p->safe.verify : &p->verify;
	struct trust_image_in *im = &o->in.image[set];

	trust_image_of(p, set, im);
	im->kernel_fd = opened(o, n, set ? p->safe.kernel : p->kernel);
	im->initrd_fd = opened(o, n, set ? p->safe.initrd : p->initrd);
	im->manifest_fd = v->on ? opened(o, n, v->manifest) : -1;
	im->sig_fd = v->on ? opened(o, n, v->signature) : -1;
	im->key_fd = v->on ? opened(o, n, v->key) : -1;
}

int trust_offline_open(const struct plat_part *p, bool with_platform, struct trust_offline *o,
		       char *err, size_t errlen)
{
	unsigned n = 0, i;
	int len;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < ARRAY_SIZE(o->fds); i++)
		o->fds[i] = -1;
	o->in.partition = p->name;
	o->in.on_fail = trust_on_fail(p);
	image(o, &n, p, 0);
	if (p->safe.on && p->verify.on_fail == LVMM_TRUST_SAFE_IMAGE)
		image(o, &n, p, 1);
	if (o->in.image[0].kernel_fd < 0 || (p->initrd[0] && o->in.image[0].initrd_fd < 0)) {
		snprintf(err, errlen, "cannot open '%s': %s",
			 o->in.image[0].kernel_fd < 0 ? p->kernel : p->initrd, strerror(errno));
		trust_offline_close(o);
		return -ENOENT;
	}
	if (!with_platform)
		return 0;
	len = plat_part_canonical(p, o->platform, sizeof(o->platform));
	if (len < 0) {
		snprintf(err, errlen, "the platform entry is longer than %d bytes",
			 LVMM_TRUST_PLATFORM_MAX);
		trust_offline_close(o);
		return len;
	}
	o->in.platform = o->platform;
	o->in.platform_len = (size_t)len;
	return 0;
}

void trust_offline_close(struct trust_offline *o)
{
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(o->fds); i++)
		if (o->fds[i] >= 0)
			close(o->fds[i]);
	memset(o->fds, -1, sizeof(o->fds));
}
