// SPDX-License-Identifier: MIT
/* Access control: table-driven STE and Chinese Wall decisions, control ops, hooks, reload. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/acm_grant.h"
#include "supervisor/policy.h"
#include "config/policy_load.h"
#include "supervisor/supervisor_int.h"
#include "unit/unit.h"

/*
 * The policy used throughout (the example of sHype's paper, shrunk):
 *   STE types: net(0) storage(1) mgmt(2)
 *   CW types: bank_a(0) bank_b(1) oil(2); conflict set finance = {bank_a, bank_b}
 */
static const char policy_yaml[] =
	"name: test-v1\n"
	"ste_types: [net, storage, mgmt]\n"
	"chinese_wall:\n"
	"  types: [bank_a, bank_b, oil]\n"
	"  conflict_sets:\n"
	"    - { name: finance, types: [bank_a, bank_b] }\n"
	"labels:\n"
	"  - { name: service, ste: [net, mgmt] }\n"                /* 0 */
	"  - { name: user, ste: [net, storage] }\n"                /* 1 */
	"  - { name: vault, ste: [storage] }\n"                    /* 2 */
	"  - { name: admin, ste: [mgmt] }\n"                       /* 3 */
	"  - { name: client_a, ste: [net], cw: [bank_a] }\n"        /* 4 */
	"  - { name: client_b, ste: [net], cw: [bank_b] }\n"        /* 5 */
	"  - { name: client_a2, ste: [net], cw: [bank_a, oil] }\n"  /* 6 */
	"  - { name: lonely, ste: [] }\n"                          /* 7 */
	"resources:\n"
	"  - { tap: nic0, label: service }\n"
	"  - { host_cpu: 1, label: admin }\n"
	"clients:\n"
	"  - { uid: 0, label: admin, operations: [all] }\n"
	"  - { uid: 1000, label: service, operations: [list, status] }\n"
	"  - { partition: mgr, label: admin, operations: [list, policy-load] }\n"
	"policy_manager: mgr\n";

static struct policy pol;

static int load_policy(const char *text, struct policy *p, char *err, size_t errlen)
{
	FILE *e = fmemopen(err, errlen, "w");
	int n;

	memset(err, 0, errlen);
	n = policy_load("test.yaml", text, strlen(text), p, e);
	fclose(e);
	return n;
}

static void test_parse(void)
{
	char err[1024];

	CHECK_EQ(load_policy(policy_yaml, &pol, err, sizeof(err)), 0);
	if (err[0])
		printf("# %s", err);
	CHECK(pol.present);
	CHECK_EQ(pol.nste, 3);
	CHECK_EQ(pol.ncw, 3);
	CHECK_EQ(pol.nlabels, 8);
	CHECK_EQ(pol.nsets, 1);
	CHECK_EQ(pol.sets[0].types, 3);
	CHECK_EQ(pol.labels[1].ste, 3);
	CHECK_EQ(pol.labels[6].cw, 5);
	CHECK_EQ(pol.nres, 2);
	CHECK_EQ(pol_res_label(&pol, RES_TAP, "nic0", -1), 0);
	CHECK_EQ(pol_res_label(&pol, RES_HOST_CPU, NULL, 1), 3);
	CHECK_EQ(pol_res_label(&pol, RES_TAP, "nic1", -1), -1);
	CHECK_STR(pol.manager, "mgr");
	CHECK_EQ(pol.clients[1].ops, (1 << OP_LIST) | (1 << OP_STATUS));
}

static void test_parse_errors(void)
{
	static const struct { const char *yaml, *want; } cases[] = {
		{ "ste_types: [a]\nlabels:\n  - { name: x, ste: [b] }\n", "test.yaml:3: unknown STE type 'b'" },
		{ "ste_types: [a, a]\n", "test.yaml:1: STE type 'a' is declared twice" },
		{ "chinese_wall:\n  types: [p]\n  conflict_sets:\n    - { name: s, types: [p] }\n",
		  "needs at least two types" },
		{ "labels:\n  - { name: x }\nresources:\n  - { tap: t, disk: d, label: x }\n",
		  "test.yaml:4: a resource names exactly one of" },
		{ "labels:\n  - { name: x }\nresources:\n  - { tap: t, label: y }\n",
		  "unknown label 'y'" },
		{ "labels:\n  - { name: x }\nclients:\n  - { uid: 0, label: x, operations: [fly] }\n",
		  "unknown operation 'fly'" },
		{ "labels:\n  - { name: x }\nclients:\n  - { label: x }\n", "exactly one of 'uid: N'" },
		{ "labelz: []\n", "unknown key 'labelz'" },
	};
	struct policy p;
	char err[1024];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		CHECK(load_policy(cases[i].yaml, &p, err, sizeof(err)) > 0);
		if (!strstr(err, cases[i].want))
			printf("# case %zu: %s", i, err);
		CHECK(strstr(err, cases[i].want) != NULL);
	}
}

static void test_ste_table(void)
{
	static const struct { int a, b; bool want; } t[] = {
		{ 0, 1, true },   /* service-user share net */
		{ 1, 2, true },   /* user-vault share storage */
		{ 0, 2, false },  /* service-vault share nothing */
		{ 2, 3, false },
		{ 0, 3, true },
		{ 7, 7, false },  /* a label with no types shares nothing, not even with itself */
		{ 1, 1, true },
		{ -1, 0, false }, /* unlabelled */
		{ 0, 99, false },
	};
	struct ste_cache c;
	size_t i;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		if (ste_allowed(&pol, &c, t[i].a, t[i].b) != t[i].want)
			printf("# ste case %zu\n", i);
		CHECK_EQ(ste_allowed(&pol, &c, t[i].a, t[i].b), t[i].want);
	}
	/* Each valid pair evaluated once, then served from the cache (in both orders). */
	CHECK(c.hits >= 7);
	CHECK(ste_allowed(&pol, &c, 2, 1));
	{
		uint64_t ev = c.evaluations;

		ste_cache_flush(&c);
		CHECK(!ste_allowed(&pol, &c, 2, 0));
		CHECK_EQ(c.evaluations, ev + 1);
	}
	/* No policy: everything is allowed. */
	{
		struct policy none;

		memset(&none, 0, sizeof(none));
		CHECK(ste_allowed(&none, &c, 0, 2));
	}
}

static void test_chinese_wall_table(void)
{
	/* A scripted history: each step is pre (+commit) or stop of a partition slot. */
	enum { PRE, STOP, PRE_FAIL };
	static const struct { int step, slot, label; bool want; } t[] = {
		{ PRE, 0, 4, true },       /* client_a starts */
		{ PRE, 1, 5, false },      /* client_b conflicts with bank_a */
		{ PRE, 2, 4, true },       /* a second client_a is fine */
		{ PRE, 3, 0, true },       /* no CW types: always fine */
		{ STOP, 0, 4, true },
		{ PRE, 1, 5, false },      /* the second client_a still runs */
		{ STOP, 2, 4, true },
		{ PRE, 1, 5, true },       /* now bank_b may run */
		{ PRE, 0, 4, false },      /* ... and bank_a may not */
		{ PRE, 4, 6, false },      /* client_a2 has bank_a too */
		{ STOP, 1, 5, true },
		{ PRE_FAIL, 4, 6, true },  /* allowed, but the start fails: rolled back */
		{ PRE, 1, 5, true },       /* so bank_b is still allowed */
	};
	struct cw_state s;
	struct cw_contrib c[8];
	size_t i;
	int blocking;

	memset(&s, 0, sizeof(s));
	memset(c, 0, sizeof(c));
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		bool ok = true;

		switch (t[i].step) {
		case PRE:
			ok = cw_pre_start(&pol, &s, t[i].label, &c[t[i].slot], &blocking);
			if (ok)
				cw_commit_start(&s, &c[t[i].slot]);
			break;
		case PRE_FAIL:
			ok = cw_pre_start(&pol, &s, t[i].label, &c[t[i].slot], &blocking);
			if (ok)
				cw_fail_start(&s, &c[t[i].slot]);
			break;
		default:
			cw_stopped(&s, &c[t[i].slot]);
			break;
		}
		if (ok != t[i].want)
			printf("# cw step %zu\n", i);
		CHECK_EQ(ok, t[i].want);
	}
	/* A denial names the conflicting type. */
	CHECK(!cw_pre_start(&pol, &s, 4, &c[5], &blocking));
	CHECK_EQ(blocking, 0);
}

static void test_ctl_table(void)
{
	static const struct { uint32_t uid; const char *part; int op, obj; bool want; } t[] = {
		{ 0, NULL, OP_STOP, 0, true },
		{ 0, NULL, OP_STOP, 2, false },       /* admin shares no type with vault */
		{ 0, NULL, OP_POLICY_LOAD, -1, true },
		{ 1000, NULL, OP_STATUS, 1, true },
		{ 1000, NULL, OP_STOP, 1, false },    /* operation not granted */
		{ 1000, NULL, OP_STATUS, 2, false },  /* service-vault: no common type */
		{ 4242, NULL, OP_LIST, -1, false },   /* not listed */
		{ 0, "mgr", OP_POLICY_LOAD, -1, true },
		{ 0, "other", OP_POLICY_LOAD, -1, false },
		{ 0, "mgr", OP_STOP, 0, false },
		{ 0, "mgr", OP_LIST, -1, true },
	};
	struct ste_cache c;
	const char *rule;
	size_t i;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		bool ok = ctl_allowed(&pol, &c, t[i].uid, t[i].part, t[i].op, t[i].obj, &rule);

		if (ok != t[i].want)
			printf("# ctl case %zu (%s)\n", i, rule);
		CHECK_EQ(ok, t[i].want);
		CHECK(rule && rule[0]);
	}
}

/* The hooks, through a platform and supervisor state built in memory. */
static struct platform plat;
static struct sup S;

static void add_part(const char *name, const char *label)
{
	struct plat_part *p = &plat.parts[plat.nparts];

	plat_part_defaults(p);
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->label, sizeof(p->label), "%s", label);
	S.parts[plat.nparts].p = p;
	S.parts[plat.nparts].index = plat.nparts;
	plat.nparts++;
}

static void add_link(const char *name, unsigned a, unsigned b)
{
	struct plat_link *l = &plat.links[plat.nlinks++];
	unsigned e, idx[2] = { a, b };

	snprintf(l->name, sizeof(l->name), "%s", name);
	for (e = 0; e < 2; e++) {
		struct plat_part *p = &plat.parts[idx[e]];
		struct plat_dev *d = &p->devs[p->ndevs];

		d->type = LVMM_DEV_NET_LINK;
		snprintf(d->link, sizeof(d->link), "%s", name);
		snprintf(d->id, sizeof(d->id), "net%u", p->ndevs);
		l->part[e] = (int)idx[e];
		l->dev[e] = (int)p->ndevs;
		p->ndevs++;
	}
}

static void test_hooks_and_reload(void)
{
	static struct policy next;
	char err[256], perr[1024];
	unsigned i;

	memset(&plat, 0, sizeof(plat));
	memset(&S, 0, sizeof(S));
	S.plat = &plat;
	plat.policy = pol;
	add_part("svc", "service");  /* 0 */
	add_part("usr", "user");     /* 1 */
	add_part("vault", "vault");  /* 2 */
	add_part("ca", "client_a");  /* 3 */
	add_part("cb", "client_b");  /* 4 */
	add_part("nolabel", "");     /* 5 */
	add_link("svc-usr", 0, 1);   /* shares net: allowed */
	add_link("svc-vault", 0, 2); /* shares nothing: denied */
	CHECK_EQ(acm_init(&S), 0);

	/* Link grants are STE decisions. */
	CHECK(acm_grant_device(&S, &S.parts[0], 0));
	CHECK(!acm_grant_device(&S, &S.parts[0], 1));
	CHECK(!acm_grant_device(&S, &S.parts[2], 0));
	/* Unlabelled partitions do not start under a policy. */
	CHECK(acm_partition_start_pre(&S, &S.parts[5], err, sizeof(err)) < 0);
	/* PRE / COMMIT / FAIL / STOP around starts. */
	for (i = 0; i < 4; i++) {
		CHECK_EQ(acm_partition_start_pre(&S, &S.parts[i], err, sizeof(err)), 0);
		acm_partition_start_commit(&S, &S.parts[i]);
	}
	S.parts[0].granted = 1; /* svc holds its link to usr */
	S.parts[1].granted = 1;
	CHECK(acm_partition_start_pre(&S, &S.parts[4], err, sizeof(err)) < 0);
	CHECK(strstr(err, "conflicts with running partition 'ca'") != NULL);
	acm_partition_stop(&S, &S.parts[3]);
	CHECK_EQ(acm_partition_start_pre(&S, &S.parts[4], err, sizeof(err)), 0);
	acm_partition_start_fail(&S, &S.parts[4]); /* the start did not happen */
	CHECK_EQ(acm_partition_start_pre(&S, &S.parts[3], err, sizeof(err)), 0);
	acm_partition_start_commit(&S, &S.parts[3]);

	/* Reload: a policy under which the running svc-usr link would be illegal is refused. */
	CHECK_EQ(load_policy("name: breaks\nste_types: [net, storage, mgmt]\n"
			     "chinese_wall: { types: [bank_a, bank_b], conflict_sets: [ { name: f, types: [bank_a, bank_b] } ] }\n"
			     "labels:\n  - { name: service, ste: [mgmt] }\n  - { name: user, ste: [net] }\n"
			     "  - { name: vault, ste: [storage] }\n  - { name: client_a, ste: [net], cw: [bank_a] }\n"
			     "  - { name: client_b, ste: [net], cw: [bank_b] }\n", &next, perr, sizeof(perr)), 0);
	CHECK(acm_reload(&S, &next, err, sizeof(err)) < 0);
	CHECK(strstr(err, "holds device net0") != NULL);
	/* One that makes two running partitions conflict is refused too. */
	CHECK_EQ(load_policy("name: conflict\nste_types: [net, storage, mgmt]\n"
			     "chinese_wall: { types: [bank_a, x], conflict_sets: [ { name: f, types: [bank_a, x] } ] }\n"
			     "labels:\n  - { name: service, ste: [net, mgmt], cw: [x] }\n  - { name: user, ste: [net] }\n"
			     "  - { name: vault, ste: [storage] }\n  - { name: client_a, ste: [net], cw: [bank_a] }\n"
			     "  - { name: client_b, ste: [net] }\n", &next, perr, sizeof(perr)), 0);
	CHECK(acm_reload(&S, &next, err, sizeof(err)) < 0);
	CHECK(strstr(err, "Chinese Wall") != NULL);
	/* One that drops a running partition's label is refused. */
	CHECK_EQ(load_policy("name: nolabel\nste_types: [net]\nlabels:\n  - { name: service, ste: [net] }\n",
			     &next, perr, sizeof(perr)), 0);
	CHECK(acm_reload(&S, &next, err, sizeof(err)) < 0);
	CHECK(strstr(err, "no label") != NULL);
	/* After refusals the old state still decides: cb still conflicts with ca. */
	CHECK(acm_partition_start_pre(&S, &S.parts[4], err, sizeof(err)) < 0);
	/* A compatible policy is accepted and replaces the state. */
	CHECK_EQ(load_policy("name: ok\nste_types: [net, storage, mgmt]\n"
			     "labels:\n  - { name: service, ste: [net, mgmt] }\n  - { name: user, ste: [net] }\n"
			     "  - { name: vault, ste: [storage] }\n  - { name: client_a, ste: [net] }\n"
			     "  - { name: client_b, ste: [net] }\n", &next, perr, sizeof(perr)), 0);
	CHECK_EQ(acm_reload(&S, &next, err, sizeof(err)), 0);
	plat.policy = next;
	/* No conflict sets any more: cb may start next to ca. */
	CHECK_EQ(acm_partition_start_pre(&S, &S.parts[4], err, sizeof(err)), 0);
}

int main(void)
{
	RUN(test_parse);
	RUN(test_parse_errors);
	RUN(test_ste_table);
	RUN(test_chinese_wall_table);
	RUN(test_ctl_table);
	RUN(test_hooks_and_reload);
	return unit_done();
}
