// SPDX-License-Identifier: MIT
/*
 * Inter-partition links. For each link the supervisor creates, once per
 * run, a sealed memfd holding the two rings and one eventfd doorbell per
 * side, and keeps them: an end that restarts finds its frames and its peer
 * where it left them. Only the two partitions named as ends ever receive
 * these fds; the shared memory is never part of any guest's RAM. Rings and
 * bells outlive an end's process: the peer and a restart still need them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "lvmm/ctl_proto.h"
#include "lvmm/link_ring.h"
#include "supervisor/events.h"
#include "supervisor/resources.h"
#include "supervisor/supervisor_int.h"
#include "supervisor/sup_fdset.h"

struct link_rt {
	int memfd;
	int bell[2];
	bool up;
};

static struct link_rt link_table[PLAT_MAX_LINKS];

int links_init(struct sup *s)
{
	unsigned i;

	for (i = 0; i < PLAT_MAX_LINKS; i++)
		link_table[i] = (struct link_rt){ .memfd = -1, .bell = { -1, -1 } };
	for (i = 0; i < s->plat->nlinks; i++) {
		struct link_rt *l = &link_table[i];
		void *shm;

		l->memfd = res_memfd(s->plat->links[i].name, LINK_SHM_SIZE);
		l->bell[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		l->bell[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (l->memfd < 0 || l->bell[0] < 0 || l->bell[1] < 0) {
			pr_err("link %s: cannot create its rings", s->plat->links[i].name);
			return -ENOMEM;
		}
		/* The supervisor writes the empty rings once; it never maps them again. */
		shm = mmap(NULL, LINK_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, l->memfd, 0);
		if (shm == MAP_FAILED)
			return -errno;
		link_shm_init(shm);
		munmap(shm, LINK_SHM_SIZE);
		l->up = true;
	}
	return 0;
}

int links_find(struct sup *s, const char *name)
{
	unsigned i;

	for (i = 0; i < s->plat->nlinks; i++)
		if (!strcmp(s->plat->links[i].name, name))
			return (int)i;
	return -1;
}

int links_grant(struct sup *s, struct part_rt *pr, const struct plat_dev *d, int32_t *fdi,
		struct fdset *fs, char *err, size_t errlen)
{
	int li = links_find(s, d->link), side;
	const struct plat_link *pl;
	struct link_rt *l;

	if (li < 0) {
		snprintf(err, errlen, "device %s: no link called '%s'", d->id, d->link);
		return -ENOENT;
	}
	pl = &s->plat->links[li];
	l = &link_table[li];
	if (pl->part[0] == (int)pr->index)
		side = 0;
	else if (pl->part[1] == (int)pr->index)
		side = 1;
	else {
		snprintf(err, errlen, "device %s: partition %s is not an end of link %s", d->id,
			 pr->p->name, pl->name);
		return -EACCES;
	}
	fdi[0] = fdset_add(fs, l->memfd, false);
	fdi[1] = fdset_add(fs, l->bell[side], false);
	fdi[2] = fdset_add(fs, l->bell[1 - side], false);
	if (fdi[0] < 0 || fdi[1] < 0 || fdi[2] < 0) {
		snprintf(err, errlen, "too many file descriptors for one partition");
		return -EMFILE;
	}
	return side;
}

bool link_is_up(struct sup *s, int li)
{
	return li >= 0 && (unsigned)li < s->plat->nlinks && link_table[li].up;
}

unsigned link_change(struct sup *s, int li, bool up, const char *by, uint32_t token)
{
	const struct plat_link *l = &s->plat->links[li];
	unsigned e, asked = 0;
	struct event ev;

	if (link_table[li].up == up)
		return 0;
	link_table[li].up = up;
	ev_begin(&ev, up ? "link_up" : "link_down", NULL);
	ev_str(&ev, "link", l->name);
	ev_str(&ev, "by", by);
	ev_end(&ev);
	for (e = 0; e < 2; e++) {
		struct part_rt *pr = &s->parts[l->part[e]];
		int k = token ? lc_ask(s, pr, up ? LVMM_CTL_LINK_UP : LVMM_CTL_LINK_DOWN,
				       pr->p->devs[l->dev[e]].id, token) : -EBUSY;

		if (!k)
			asked++;
		else if (k == -EBUSY)
			lc_link_push(s, pr, li); /* applied all the same, unconfirmed */
		/* -ESRCH: an end that is not running picks the state up when it is ready. */
	}
	return asked;
}

unsigned links_isolate(struct sup *s, struct part_rt *pr, const char *by, uint32_t token,
		       char (*names)[LVMM_NAME_MAX], unsigned *n)
{
	unsigned i, asked = 0;

	for (i = 0; i < s->plat->nlinks; i++) {
		const struct plat_link *l = &s->plat->links[i];

		if (l->part[0] != (int)pr->index && l->part[1] != (int)pr->index)
			continue;
		if (names && *n < LVMM_API_MAX_LINKS)
			snprintf(names[(*n)++], LVMM_NAME_MAX, "%s", l->name);
		asked += link_change(s, (int)i, false, by, token);
	}
	return asked;
}

void links_close(struct sup *s)
{
	unsigned i;

	for (i = 0; i < s->plat->nlinks; i++) {
		close_fd(&link_table[i].memfd);
		close_fd(&link_table[i].bell[0]);
		close_fd(&link_table[i].bell[1]);
	}
}
