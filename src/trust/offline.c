// SPDX-License-Identifier: MIT
/* Offline trust inputs from a platform entry; see offline.h. */
#include "trust/offline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

static void image(struct trust_offline *o, unsigned *n, struct trust_image_in *im,
		  const char *kernel, const char *initrd, const char *cmdline,
		  const struct plat_verify *v)
{
	im->present = true;
	im->kernel_name = base_name(kernel);
	im->kernel_fd = opened(o, n, kernel);
	im->initrd_name = initrd[0] ? base_name(initrd) : "";
	im->initrd_fd = opened(o, n, initrd);
	im->cmdline = cmdline;
	im->verify = v->on;
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
	o->in.on_fail = p->verify.on_fail ? (int)p->verify.on_fail : LVMM_TRUST_REFUSE;
	image(o, &n, &o->in.image[0], p->kernel, p->initrd, p->cmdline, &p->verify);
	if (p->safe.on && p->verify.on_fail == LVMM_TRUST_SAFE_IMAGE)
		image(o, &n, &o->in.image[1], p->safe.kernel, p->safe.initrd, p->safe.cmdline,
		      &p->safe.verify);
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
