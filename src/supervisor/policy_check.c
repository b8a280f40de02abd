// SPDX-License-Identifier: MIT
/*
 * A policy uploaded at run time may come from a partition (the policy
 * manager), so the supervisor does not parse it: the sandboxed API
 * front-end does (src/api/policy.c) and hands over a fixed-layout struct
 * policy in a sealed memfd. The supervisor checks every count, index, bit
 * and string of that struct here, then decides with it as with any policy.
 */
#include "supervisor/policy_check.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"

/* The front-end is not trusted: every count, index and bit must be in range. */
static bool policy_sane(const struct policy *p)
{
	uint64_t ste_mask, cw_mask;
	unsigned i;

	if (p->revision != LVMM_POLICY_REVISION) /* include/lvmm/policy_model.h */
		return false;
	if (!p->present || p->nste > POL_MAX_TYPES || p->ncw > POL_MAX_TYPES ||
	    p->nlabels > POL_MAX_LABELS || p->nsets > POL_MAX_SETS || p->nres > POL_MAX_RES ||
	    p->nclients > POL_MAX_CLIENTS || !proto_str_ok(p->name, sizeof(p->name)) ||
	    !proto_str_ok(p->manager, sizeof(p->manager)))
		return false;
	ste_mask = p->nste == 64 ? ~0ULL : (1ULL << p->nste) - 1;
	cw_mask = p->ncw == 64 ? ~0ULL : (1ULL << p->ncw) - 1;
	for (i = 0; i < p->nste; i++)
		if (!proto_str_ok(p->ste_names[i], POL_NAME_MAX))
			return false;
	for (i = 0; i < p->ncw; i++)
		if (!proto_str_ok(p->cw_names[i], POL_NAME_MAX))
			return false;
	for (i = 0; i < p->nlabels; i++)
		if (!proto_str_ok(p->labels[i].name, POL_NAME_MAX) || (p->labels[i].ste & ~ste_mask) ||
		    (p->labels[i].cw & ~cw_mask))
			return false;
	for (i = 0; i < p->nsets; i++)
		if (!proto_str_ok(p->sets[i].name, POL_NAME_MAX) || (p->sets[i].types & ~cw_mask))
			return false;
	for (i = 0; i < p->nres; i++)
		if (p->res[i].kind < RES_TAP || p->res[i].kind > RES_SOCKET ||
		    !proto_str_ok(p->res[i].name, POL_RES_NAME_MAX) || p->res[i].label < -1 ||
		    p->res[i].label >= (int)p->nlabels)
			return false;
	for (i = 0; i < p->nclients; i++)
		if (p->clients[i].by_uid > 1 || p->clients[i].by_cert > 1 ||
		    (p->clients[i].by_uid && p->clients[i].by_cert) ||
		    (!p->clients[i].by_cert && !proto_str_ok(p->clients[i].partition, POL_NAME_MAX)) ||
		    p->clients[i].label < -1 ||
		    p->clients[i].label >= (int)p->nlabels || (p->clients[i].ops >> OP_COUNT))
			return false;
	return true;
}

/*
 * Disks are compared by their real path, however a policy spells them. The
 * front-end cannot look at the file system from its sandbox (realpath needs
 * readlink), so the names it returns are resolved here, against the
 * supervisor's working directory as before; a name that does not resolve
 * (or whose real path is too long to store) is kept as written.
 */
static void canonical_disks(struct policy *p)
{
	static char real[PATH_MAX];
	unsigned i;

	for (i = 0; i < p->nres; i++)
		if (p->res[i].kind == RES_DISK && realpath(p->res[i].name, real) &&
		    strlen(real) < sizeof(p->res[i].name))
			memcpy(p->res[i].name, real, strlen(real) + 1);
}

int policy_check(struct lvmm_policy_upload *u, char *err, size_t errlen)
{
	u->err[sizeof(u->err) - 1] = 0;
	if (u->problems) {
		snprintf(err, errlen, "%s", u->err);
		return -EINVAL;
	}
	if (!policy_sane(&u->pol)) {
		snprintf(err, errlen, "the front-end returned an inconsistent compiled policy");
		return -EPROTO;
	}
	canonical_disks(&u->pol);
	return 0;
}
