// SPDX-License-Identifier: MIT
#include "shared/parse.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/log.h"

int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int base = 10;

	/*
	 * Not strtoull(s, 0): base 0 reads "010" as octal 8, and a vCPU count or
	 * a uid must mean what it looks like. Hex only with an explicit 0x.
	 */
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL; /* also refuses a sign or space, which strtoull skips */
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		base = 16;
		/* strtoull would also take a second "0x" */
		if (!isxdigit((unsigned char)*s) || (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
			return -EINVAL;
	}
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t default_unit, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t unit = default_unit;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'B': unit = 1; break;
		case 'K': unit = KiB; break;
		case 'M': unit = MiB; break;
		case 'G': unit = GiB; break;
		case 'T': unit = 1024 * GiB; break;
		default: return -EINVAL;
		}
		end++;
		if (unit != 1) {
			if (!strcasecmp(end, "iB") || !strcasecmp(end, "B"))
				end += strlen(end);
		}
		if (*end)
			return -EINVAL;
	}
	if (v > UINT64_MAX / unit)
		return -ERANGE;
	*out = v * unit;
	return 0;
}

int ctl_socket_path(const char *name, char *out, size_t n)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int w;

	if (strchr(name, '/'))
		w = snprintf(out, n, "%s", name);
	else if (geteuid() != 0 && xdg && xdg[0] == '/')
		w = snprintf(out, n, "%s/lvmm/%s.sock", xdg, name);
	else
		w = snprintf(out, n, "%s/%s.sock", LVMM_RUN_DIR, name);
	return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

int knob_choice(const char *var, const char *const *names, unsigned n)
{
	const char *v = getenv(var);
	char list[160];
	size_t used = 0;
	unsigned i;

	if (!v || !*v)
		return -1;
	for (i = 0; i < n; i++)
		if (!strcmp(v, names[i]))
			return (int)i;
	for (i = 0; i < n && used < sizeof(list); i++) {
		int w = snprintf(list + used, sizeof(list) - used, "%s\"%s\"", i ? ", " : "", names[i]);

		used += w > 0 ? (size_t)w : 0;
	}
	list[MIN(used, sizeof(list) - 1)] = 0;
	pr_warn("%s=%s: not one of %s; ignored", var, v, n ? list : "(none)");
	return -1;
}

bool knob_u64(const char *var, uint64_t max, uint64_t *out)
{
	const char *v = getenv(var);
	uint64_t x;

	if (!v || !*v)
		return false;
	if (parse_u64(v, max, &x)) {
		pr_warn("%s=%s: not a number from 0 to %" PRIu64 "; ignored", var, v, max);
		return false;
	}
	*out = x;
	return true;
}
