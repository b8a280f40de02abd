// SPDX-License-Identifier: MIT
/*
 * `lvmm check`: a platform judged against its policy before anything runs.
 * Only the offline checker runs this (the supervisor judges each start and
 * grant when it happens, with acm.c's hooks), so it is not part of the
 * trusted core; the verdicts are still the reference monitor's own: every
 * STE and Chinese Wall answer here comes from the functions acm.c and
 * policy.c decide with at run time. The configuration compiler
 * (src/config) still only produces the model.
 */
#include "cli/acm_check.h"

#include "supervisor/acm_grant.h"

/* Conflict sets that two labels' Chinese Wall types put on opposite sides; the first, or -1. */
static int cw_conflict(const struct policy *pol, int la, int lb)
{
	unsigned s;

	for (s = 0; s < pol->nsets && s < POL_MAX_SETS; s++) {
		uint64_t set = pol->sets[s].types;
		uint64_t a = pol->labels[la].cw & set, b = pol->labels[lb].cw & set;

		if (a && b && a != b)
			return (int)s;
	}
	return -1;
}

int acm_check_platform(const struct policy *pol, const struct platform *plat, FILE *err)
{
	static struct ste_cache cache; /* large: off the stack */
	unsigned i, j, k, n = 0;

	ste_cache_flush(&cache);
	for (i = 0; i < plat->nparts; i++) {
		const struct plat_part *p = &plat->parts[i];
		const char *why;

		if (p->bad & (PLAT_BAD_NAME | PLAT_BAD_LABEL))
			continue; /* already reported; a verdict on it would only repeat that */
		if (pol_label_find(pol, p->label) < 0) {
			fprintf(err, "%s:%d: partition '%s' has %s; under policy '%s' every partition "
				"needs one of the policy's labels\n", plat->path, p->line, p->name,
				p->label[0] ? "an unknown label" : "no label:", pol->name);
			n++;
			continue;
		}
		for (k = 0; k < p->n_host_cpus; k++)
			if (!acm_cpu_allowed(pol, &cache, p, p->host_cpus[k], &why)) {
				fprintf(err, "%s:%d: partition '%s' may not have host CPU %d: %s\n",
					plat->path, p->line, p->name, p->host_cpus[k], why);
				n++;
			}
		for (j = 0; j < p->ndevs; j++) {
			if (p->devs[j].bad)
				continue;
			if (!acm_device_allowed(pol, &cache, plat, i, j, &why)) {
				fprintf(err, "%s:%d: partition '%s' may not use device %s: %s\n",
					plat->path, p->devs[j].line, p->name, p->devs[j].id, why);
				n++;
			}
		}
	}
	/* Partitions that start together must not conflict. */
	for (i = 0; i < plat->nparts; i++) {
		int li = pol_label_find(pol, plat->parts[i].label);

		for (j = 0; li >= 0 && j < i; j++) {
			int lj = pol_label_find(pol, plat->parts[j].label), s;

			if (lj < 0 || !plat->parts[i].autostart || !plat->parts[j].autostart)
				continue;
			s = cw_conflict(pol, li, lj);
			if (s >= 0) {
				fprintf(err, "%s:%d: partitions '%s' and '%s' are in conflict set '%s' and "
					"both start with the platform: set autostart: false on one of "
					"them\n", plat->path, plat->parts[i].line, plat->parts[i].name,
					plat->parts[j].name, pol->sets[s].name);
				n++;
			}
		}
	}
	if (pol->manager[0] && platform_find(plat, pol->manager) < 0) {
		fprintf(err, "%s: policy_manager '%s' is not a partition of this platform\n",
			plat->path, pol->manager);
		n++;
	}
	return (int)n;
}
