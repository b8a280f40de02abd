/* SPDX-License-Identifier: MIT */
/* The fds sent to a partition with its configuration (supervisor internal). */
#ifndef LVMM_SUP_FDSET_H
#define LVMM_SUP_FDSET_H

#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "lvmm/proto.h"

struct fdset {
	int fds[LVMM_MSG_MAX_FDS];
	bool owned[LVMM_MSG_MAX_FDS]; /* closed after sending; others the supervisor keeps */
	unsigned n;
};

/* Add fd; returns its index in the message, or LVMM_NO_FD when full. */
static inline int32_t fdset_add(struct fdset *s, int fd, bool owned)
{
	if (s->n >= LVMM_MSG_MAX_FDS)
		return LVMM_NO_FD;
	s->fds[s->n] = fd;
	s->owned[s->n] = owned;
	return (int32_t)s->n++;
}

/* Close the fds this set owns. */
static inline void fdset_close(struct fdset *s)
{
	while (s->n--)
		if (s->owned[s->n])
			close(s->fds[s->n]);
	s->n = 0;
}

#endif
