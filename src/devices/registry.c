// SPDX-License-Identifier: MIT
#include "devices/registry.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct device_ops *const builtin[] = {
	&ioapic_ops, /* first: the others' interrupts go through it */
	&uart_ops, &i8042_ops, &rtc_ops, &debug_exit_ops, &acpi_pm_ops,
};

/* Config device types; NULL where this build has no model. */
static const struct device_ops *dev_ops_for(uint32_t type)
{
	switch (type) {
	case LVMM_DEV_BLK: return &virtio_blk_ops;
	case LVMM_DEV_NET_TAP: return &virtio_net_tap_ops;
	case LVMM_DEV_STREAM: return &virtio_stream_ops;
	case LVMM_DEV_NET_LINK: return &virtio_net_link_ops;
	case LVMM_DEV_TPM: return &tpm_crb_ops;
	default: return NULL;
	}
}

static int device_add(struct device_table *t, struct vm *vm, const struct device_ops *ops,
		      const struct lvmm_dev_cfg *cfg)
{
	struct device_instance *d;
	int r;

	if (t->n >= DEVICES_MAX)
		return -ENOSPC;
	d = &t->dev[t->n];
	d->ops = ops;
	snprintf(d->id, sizeof(d->id), "%s", cfg ? cfg->id : ops->name);
	r = ops->create(vm, cfg, &d->state);
	if (r)
		return r;
	t->n++;
	return 0;
}

int devices_create(struct device_table *t, struct vm *vm, char *err, size_t errlen)
{
	const struct lvmm_part_config *cfg = vm->cfg;
	size_t i;
	int r;

	for (i = 0; i < ARRAY_SIZE(builtin); i++) {
		r = device_add(t, vm, builtin[i], NULL);
		if (r) {
			snprintf(err, errlen, "device %s: %s", builtin[i]->name, strerror(-r));
			return r;
		}
	}
	for (i = 0; i < cfg->ndevs && i < LVMM_MAX_DEVS; i++) {
		const struct device_ops *ops = dev_ops_for(cfg->devs[i].type);

		if (!ops) {
			snprintf(err, errlen, "device %s: type %u is not supported by this build",
				 cfg->devs[i].id, cfg->devs[i].type);
			return -ENOTSUP;
		}
		r = device_add(t, vm, ops, &cfg->devs[i]);
		if (r) {
			snprintf(err, errlen, "device %s (%s): %s", cfg->devs[i].id, ops->name,
				 strerror(-r));
			return r;
		}
	}
	return 0;
}

void devices_destroy(struct device_table *t)
{
	unsigned i;

	for (i = t->n; i-- > 0;)
		if (t->dev[i].ops->destroy)
			t->dev[i].ops->destroy(t->dev[i].state);
	t->n = 0;
}

void devices_stats(const struct device_table *t, struct lvmm_ctl_reply *rep)
{
	unsigned i;

	for (i = 0; i < t->n && rep->ndevs < LVMM_STATS_MAX_DEVS; i++) {
		const struct device_instance *d = &t->dev[i];

		if (!d->ops->stats)
			continue;
		memset(&rep->devs[rep->ndevs], 0, sizeof(rep->devs[0]));
		snprintf(rep->devs[rep->ndevs].id, LVMM_NAME_MAX, "%s", d->id);
		snprintf(rep->devs[rep->ndevs].kind, sizeof(rep->devs[0].kind), "%s", d->ops->name);
		d->ops->stats(d->state, &rep->devs[rep->ndevs]);
		rep->ndevs++;
	}
}

int devices_ctl(const struct device_table *t, const char *id, uint32_t op)
{
	unsigned i;

	for (i = 0; i < t->n; i++)
		if (!strcmp(t->dev[i].id, id))
			return t->dev[i].ops->ctl ? t->dev[i].ops->ctl(t->dev[i].state, op)
						  : -EOPNOTSUPP;
	return -ENODEV;
}
