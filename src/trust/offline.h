/* SPDX-License-Identifier: MIT */
/*
 * A partition's trust inputs read straight from the files its platform
 * entry names (the names and command lines as the trust process takes
 * them, trust_image_of()), for the operator's offline commands: `lvmm check` (does
 * the boot set verify?) and `lvmm measure` (which PCR values and event
 * log will a start produce?). They run trust_evaluate() on the same
 * inputs the trust process gets at run time, so their answer is the one
 * a start would get from the files as they are now.
 */
#ifndef LVMM_TRUST_OFFLINE_H
#define LVMM_TRUST_OFFLINE_H

#include <stddef.h>

#include "config/platform.h"
#include "lvmm/trust_proto.h"
#include "trust/verdict.h"

struct trust_offline {
	int fds[10];
	char platform[LVMM_TRUST_PLATFORM_MAX];
	struct trust_eval_in in;
};

/*
 * Open partition p's images and verify: files into o->in (with its
 * canonical platform entry when with_platform). A file that cannot be
 * opened is left to trust_evaluate() to report, as at run time, except a
 * kernel (-errno, err says why). Close with trust_offline_close().
 */
int trust_offline_open(const struct plat_part *p, bool with_platform, struct trust_offline *o,
		       char *err, size_t errlen);

/* Close what trust_offline_open() opened. */
void trust_offline_close(struct trust_offline *o);

/*
 * Boot set `set` (0 the partition's, 1 its safe image) of partition p into
 * im: present, names, command line, verify; the fds are the caller's (the
 * files here, the sealed memfds in the trust process).
 */
void trust_image_of(const struct plat_part *p, unsigned set, struct trust_image_in *im);

/* p's on_fail: LVMM_TRUST_REFUSE unless it says safe_image. */
int trust_on_fail(const struct plat_part *p);

#endif
