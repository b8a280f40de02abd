// SPDX-License-Identifier: MIT
/*
 * A policy uploaded at run time is compiled by the API front-end
 * (src/api/policy.c) and checked by the supervisor (src/supervisor/
 * policy_check.c). The front-end is not trusted: every count, index, bit
 * and string of the struct it hands over must be in range, or the upload
 * is refused with -EPROTO; the parser's messages come through as -EINVAL.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/policy.h"
#include "supervisor/policy_check.h"
#include "unit/unit.h"

static const char policy_yaml[] =
	"name: chk\n"
	"ste_types: [net, disk]\n"
	"chinese_wall:\n"
	"  types: [a, b]\n"
	"  conflict_sets: [ { name: ab, types: [a, b] } ]\n"
	"labels:\n"
	"  - { name: service, ste: [net], cw: [a] }\n"
	"  - { name: store, ste: [disk], cw: [b] }\n"
	"resources:\n"
	"  - { tap: tap0, label: service }\n"
	"clients:\n"
	"  - { uid: 0, label: service, operations: [all] }\n"
	"  - { partition: p1, label: store, operations: [list] }\n";

static struct lvmm_policy_upload good, u;

/* What the front-end hands over for text: read back from its sealed memfd (size and seals checked). */
static int compile(const char *text, struct lvmm_policy_upload *out)
{
	const int need = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW;
	struct stat st;
	int fd = api_policy_memfd(text, strlen(text)), r = 0;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) || st.st_size != sizeof(*out) || (fcntl(fd, F_GET_SEALS) & need) != need ||
	    pread(fd, out, sizeof(*out), 0) != (ssize_t)sizeof(*out))
		r = -EIO;
	close(fd);
	return r;
}

static void test_good_policy_passes(void)
{
	char err[256] = "";

	CHECK_EQ(compile(policy_yaml, &good), 0);
	CHECK_EQ(good.problems, 0);
	u = good;
	CHECK_EQ(policy_check(&u, err, sizeof(err)), 0);
	CHECK_STR(u.pol.name, "chk");
	CHECK_EQ(u.pol.nlabels, 2);
}

static void test_parser_messages_pass_through(void)
{
	char err[256] = "";

	CHECK_EQ(compile("name: [", &u), 0);
	CHECK(u.problems > 0);
	CHECK_EQ(policy_check(&u, err, sizeof(err)), -EINVAL);
	CHECK(!strncmp(err, "<policy-load>:", 14));
	/* A hostile front-end's messages without their NUL: cut at the buffer, not read beyond. */
	memset(u.err, 'x', sizeof(u.err));
	CHECK_EQ(policy_check(&u, err, sizeof(err)), -EINVAL);
	CHECK_EQ(strlen(err), sizeof(err) - 1);
}

/* Each hostile field on its own, over a good compiled policy: refused. */
static void test_hostile_fields_refused(void)
{
	char err[256];
	int bad = 0, n = 0;

#define HOSTILE(stmt)                                                                   \
	do {                                                                            \
		u = good;                                                               \
		stmt;                                                                   \
		n++;                                                                    \
		if (policy_check(&u, err, sizeof(err)) != -EPROTO) {                    \
			printf("# accepted: %s\n", #stmt);                              \
			bad++;                                                          \
		}                                                                       \
	} while (0)
	HOSTILE(u.pol.revision = LVMM_POLICY_REVISION + 1);
	HOSTILE(u.pol.present = 0);
	HOSTILE(u.pol.nste = POL_MAX_TYPES + 1);
	HOSTILE(u.pol.ncw = POL_MAX_TYPES + 1);
	HOSTILE(u.pol.nlabels = POL_MAX_LABELS + 1);
	HOSTILE(u.pol.nsets = POL_MAX_SETS + 1);
	HOSTILE(u.pol.nres = POL_MAX_RES + 1);
	HOSTILE(u.pol.nclients = POL_MAX_CLIENTS + 1);
	HOSTILE(memset(u.pol.name, 'n', sizeof(u.pol.name)));
	HOSTILE(memset(u.pol.manager, 'm', sizeof(u.pol.manager)));
	HOSTILE(memset(u.pol.ste_names[1], 's', POL_NAME_MAX));
	HOSTILE(memset(u.pol.cw_names[0], 'c', POL_NAME_MAX));
	HOSTILE(memset(u.pol.labels[1].name, 'l', POL_NAME_MAX));
	HOSTILE(u.pol.labels[0].ste |= 1ULL << 2); /* 2 STE types: bit 2 names none */
	HOSTILE(u.pol.labels[1].cw |= 1ULL << 63);
	HOSTILE(memset(u.pol.sets[0].name, 'x', POL_NAME_MAX));
	HOSTILE(u.pol.sets[0].types |= 1ULL << 5);
	HOSTILE(u.pol.res[0].kind = 0);
	HOSTILE(u.pol.res[0].kind = RES_SOCKET + 1);
	HOSTILE(memset(u.pol.res[0].name, 'r', POL_RES_NAME_MAX));
	HOSTILE(u.pol.res[0].label = 2);
	HOSTILE(u.pol.res[0].label = -2);
	HOSTILE(u.pol.clients[0].by_uid = 2);
	HOSTILE(u.pol.clients[0].by_cert = 1); /* with by_uid: both */
	HOSTILE(u.pol.clients[1].by_cert = 2);
	HOSTILE(memset(u.pol.clients[1].partition, 'p', POL_NAME_MAX));
	HOSTILE(u.pol.clients[0].label = 2);
	HOSTILE(u.pol.clients[1].label = -2);
	HOSTILE(u.pol.clients[0].ops |= 1U << OP_COUNT);
#undef HOSTILE
	CHECK_EQ(n, 29);
	CHECK_EQ(bad, 0);
}

int main(void)
{
	RUN(test_good_policy_passes);
	RUN(test_parser_messages_pass_through);
	RUN(test_hostile_fields_refused);
	return unit_done();
}
