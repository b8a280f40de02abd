// SPDX-License-Identifier: MIT
/*
 * Policy schema (docs/policy.md) and its conversion into struct policy.
 * This file only produces the model; the ACM judges a platform with it.
 */
#include "config/policy_load.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/yaml_util.h"

static const char *const op_names[OP_COUNT] = {
	[OP_LIST] = "list", [OP_STATUS] = "status", [OP_PAUSE] = "pause",
	[OP_RESUME] = "resume", [OP_STOP] = "stop", [OP_START] = "start",
	[OP_RESTART] = "restart", [OP_LINK_DOWN] = "link-down", [OP_LINK_UP] = "link-up",
	[OP_ISOLATE] = "isolate", [OP_POLICY_LOAD] = "policy-load", [OP_ACM] = "acm", [OP_HELP] = "help",
	[OP_EVENTS] = "events", [OP_SHUTDOWN] = "shutdown", [OP_REBOOT] = "reboot",
	[OP_REMOTE_ENABLE] = "remote-enable",
	[OP_REMOTE_DISABLE] = "remote-disable", [OP_REMOTE_STATUS] = "remote-status",
	[OP_METRICS] = "metrics",
	[OP_WAKE] = "wake", [OP_BUSY] = "busy", [OP_IDLE] = "idle",
	[OP_ATTEST] = "attest",
};

/* Operation id for a control-API name ("link-down"), or -1: names are the compiler's business. */
static int pol_op_find(const char *name)
{
	int i;

	for (i = 0; i < OP_COUNT; i++)
		if (!strcmp(op_names[i], name))
			return i;
	return -1;
}

#define OPT CYAML_FLAG_OPTIONAL
#define OPT_PTR (CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER)
#define STR(key, s, m) CYAML_FIELD_STRING_PTR(key, OPT_PTR, s, m, 0, CYAML_UNLIMITED)
#define STRS(key, s, m) CYAML_FIELD_SEQUENCE(key, OPT_PTR, s, m, &pstr_entry, 0, CYAML_UNLIMITED)

static const cyaml_schema_value_t pstr_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

static const cyaml_schema_field_t set_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct raw_set, name, 0, CYAML_UNLIMITED),
	STRS("types", struct raw_set, types),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t set_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_set, set_fields),
};

static const cyaml_schema_field_t cw_fields[] = {
	STRS("types", struct raw_cw, types),
	CYAML_FIELD_SEQUENCE("conflict_sets", OPT_PTR, struct raw_cw, conflict_sets, &set_entry, 0,
			     CYAML_UNLIMITED),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t label_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct raw_label, name, 0, CYAML_UNLIMITED),
	STRS("ste", struct raw_label, ste),
	STRS("cw", struct raw_label, cw),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t label_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_label, label_fields),
};

static const cyaml_schema_field_t res_fields[] = {
	STR("tap", struct raw_res, tap),
	STR("disk", struct raw_res, disk),
	STR("link", struct raw_res, link),
	STR("socket", struct raw_res, socket),
	STR("host_cpu", struct raw_res, host_cpu),
	CYAML_FIELD_STRING_PTR("label", CYAML_FLAG_POINTER, struct raw_res, label, 0, CYAML_UNLIMITED),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t res_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_res, res_fields),
};

static const cyaml_schema_field_t client_fields[] = {
	STR("uid", struct raw_client, uid),
	STR("partition", struct raw_client, partition),
	STR("cert_sha256", struct raw_client, cert_sha256),
	CYAML_FIELD_STRING_PTR("label", CYAML_FLAG_POINTER, struct raw_client, label, 0, CYAML_UNLIMITED),
	STRS("operations", struct raw_client, operations),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t client_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_client, client_fields),
};

const cyaml_schema_field_t policy_fields[] = {
	STR("name", struct raw_policy, name),
	STRS("ste_types", struct raw_policy, ste_types),
	CYAML_FIELD_MAPPING_PTR("chinese_wall", OPT_PTR, struct raw_policy, chinese_wall, cw_fields),
	CYAML_FIELD_SEQUENCE("labels", OPT_PTR, struct raw_policy, labels, &label_entry, 0, CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("resources", OPT_PTR, struct raw_policy, resources, &res_entry, 0,
			     CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("clients", OPT_PTR, struct raw_policy, clients, &client_entry, 0,
			     CYAML_UNLIMITED),
	STR("policy_manager", struct raw_policy, policy_manager),
	STR("audit_all", struct raw_policy, audit_all),
	CYAML_FIELD_END
};

static const cyaml_schema_value_t policy_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw_policy, policy_fields),
};

/* ---- conversion -------------------------------------------------------------- */

static void add_types(struct ctx *c, const char *where, char **names, unsigned n,
		      char table[][POL_NAME_MAX], unsigned *count, const char *what)
{
	unsigned i, k;
	char w[160];

	for (i = 0; i < n; i++) {
		snprintf(w, sizeof(w), "%s/%u", where, i);
		if (*count == POL_MAX_TYPES) {
			report(c, w, "more than %d %s types", POL_MAX_TYPES, what);
			return;
		}
		for (k = 0; k < *count; k++)
			if (!strcmp(table[k], names[i]))
				report(c, w, "%s type '%s' is declared twice", what, names[i]);
		copy_name(c, w, "type", names[i], table[*count]);
		(*count)++;
	}
}

/* Names of types -> bitmask; unknown names are reported. */
static uint64_t type_mask(struct ctx *c, const char *where, char **names, unsigned n,
			  char table[][POL_NAME_MAX], unsigned count, const char *what)
{
	uint64_t m = 0;
	unsigned i, k;
	char w[160];

	for (i = 0; i < n; i++) {
		for (k = 0; k < count && strcmp(table[k], names[i]); k++)
			;
		if (k == count) {
			snprintf(w, sizeof(w), "%s/%u", where, i);
			report(c, w, "unknown %s type '%s': declare it under %s", what, names[i],
			       !strcmp(what, "STE") ? "ste_types:" : "chinese_wall: types:");
			continue;
		}
		m |= 1ULL << k;
	}
	return m;
}

static int label_ref(struct ctx *c, const char *where, const struct policy *p, const char *name)
{
	int l = pol_label_find(p, name);

	if (l < 0)
		report(c, where, "unknown label '%s': declare it under labels:", name);
	return l;
}

static void conv_res(struct ctx *c, const char *prefix, unsigned i, const struct raw_res *in,
		     struct policy *p)
{
	struct pol_res *r = &p->res[p->nres];
	char where[96], w[128];
	unsigned given = !!in->tap + !!in->disk + !!in->link + !!in->socket + !!in->host_cpu;
	uint64_t cpu;

	snprintf(where, sizeof(where), "%s%sresources/%u", prefix, *prefix ? "/" : "", i);
	if (given != 1) {
		report(c, where, "a resource names exactly one of tap, disk, link, socket or host_cpu");
		return;
	}
	memset(r, 0, sizeof(*r));
	r->cpu = -1;
	if (in->tap) {
		r->kind = RES_TAP;
		snprintf(r->name, sizeof(r->name), "%s", in->tap);
	} else if (in->link) {
		r->kind = RES_LINK;
		snprintf(r->name, sizeof(r->name), "%s", in->link);
	} else if (in->disk || in->socket) {
		char tmp[PLAT_PATH_MAX], *real;

		r->kind = in->disk ? RES_DISK : RES_SOCKET;
		resolve(c, where, in->disk ? in->disk : in->socket, tmp, sizeof(tmp));
		/* Compare disks by their real path, however the platform spells them. */
		/* (An upload's compiler is sandboxed: the supervisor resolves its disks.) */
		real = r->kind == RES_DISK && !c->no_fs ? realpath(tmp, NULL) : NULL;
		snprintf(r->name, sizeof(r->name), "%s", real ? real : tmp);
		free(real);
	} else {
		snprintf(w, sizeof(w), "%s/host_cpu", where);
		if (!cfg_uint(c, w, "host_cpu", in->host_cpu, INT32_MAX, &cpu))
			return;
		r->kind = RES_HOST_CPU;
		r->cpu = (int32_t)cpu;
	}
	snprintf(w, sizeof(w), "%s/label", where);
	r->label = label_ref(c, w, p, in->label);
	p->nres++;
}

/*
 * A certificate's SHA-256 fingerprint as 64 hex digits, with or without the
 * colons of `openssl x509 -noout -fingerprint -sha256` (its "sha256
 * Fingerprint=" prefix may stay too). true when all 32 bytes were read.
 */
static bool parse_fingerprint(const char *s, uint8_t out[32])
{
	unsigned n = 0, k;

	if (!strncasecmp(s, "sha256 Fingerprint=", 19))
		s += 19;
	for (k = 0; s[k] && n < 64; k++) {
		char ch = s[k];
		int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
			ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;

		if (ch == ':' && n % 2 == 0 && n)
			continue;
		if (v < 0)
			return false;
		out[n / 2] = (uint8_t)(n % 2 ? out[n / 2] | v : v << 4);
		n++;
	}
	return n == 64 && !s[k];
}

static void conv_client(struct ctx *c, const char *prefix, unsigned i,
			const struct raw_client *in, struct policy *p)
{
	struct pol_client *cl = &p->clients[p->nclients];
	char where[96], w[128];
	uint64_t v = 0;
	unsigned k;
	bool uid;

	snprintf(where, sizeof(where), "%s%sclients/%u", prefix, *prefix ? "/" : "", i);
	uid = in->uid != NULL;
	if (uid + !!in->partition + !!in->cert_sha256 != 1) {
		report(c, where, "a client is exactly one of 'uid: N' (a host user of the control "
		       "socket), 'partition: NAME' (a partition's agent channel) or 'cert_sha256: HEX' "
		       "(a remote client's TLS certificate)");
		return;
	}
	memset(cl, 0, sizeof(*cl));
	cl->by_uid = uid;
	snprintf(w, sizeof(w), "%s/uid", where);
	if (uid && !cfg_uint(c, w, "uid", in->uid, UINT32_MAX - 1, &v))
		return;
	cl->uid = (uint32_t)v;
	if (in->partition)
		copy_name(c, where, "partition", in->partition, cl->partition);
	if (in->cert_sha256) {
		snprintf(w, sizeof(w), "%s/cert_sha256", where);
		cl->by_cert = 1;
		if (!parse_fingerprint(in->cert_sha256, cl->cert_sha256)) {
			report(c, w, "'%.100s' is not a SHA-256 fingerprint: write the 64 hex digits "
			       "(colons allowed) that `openssl x509 -noout -fingerprint -sha256 -in "
			       "CLIENT.pem` prints", in->cert_sha256);
			return;
		}
		for (k = 0; k < p->nclients; k++)
			if (p->clients[k].by_cert &&
			    !memcmp(p->clients[k].cert_sha256, cl->cert_sha256, 32))
				report(c, w, "this certificate is already clients/%u", k);
	}
	snprintf(w, sizeof(w), "%s/label", where);
	cl->label = label_ref(c, w, p, in->label);
	for (k = 0; k < in->operations_count; k++) {
		int op = pol_op_find(in->operations[k]);

		if (!strcmp(in->operations[k], "all")) {
			cl->ops = (1U << OP_COUNT) - 1;
		} else if (op < 0) {
			snprintf(w, sizeof(w), "%s/operations/%u", where, k);
			report(c, w, "unknown operation '%s': expected all, list, status, pause, resume, "
			       "stop, start, restart, link-down, link-up, isolate, policy-load, acm, help, "
			       "events, shutdown, reboot, remote-enable, remote-disable, remote-status, metrics, wake,"
			       " busy, idle, attest",
			       in->operations[k]);
		} else {
			cl->ops |= 1U << op;
		}
	}
	p->nclients++;
}

void policy_convert(struct ctx *c, const char *prefix, const struct raw_policy *in,
		    struct policy *p)
{
	char w[128];
	unsigned i;
	const char *sl = *prefix ? "/" : "";

	memset(p, 0, sizeof(*p));
	p->revision = LVMM_POLICY_REVISION;
	p->present = 1;
	snprintf(p->name, sizeof(p->name), "%s", in->name ? in->name : "unnamed");
	snprintf(w, sizeof(w), "%s%sste_types", prefix, sl);
	add_types(c, w, in->ste_types, in->ste_types_count, p->ste_names, &p->nste, "STE");
	if (in->chinese_wall) {
		const struct raw_cw *cw = in->chinese_wall;

		snprintf(w, sizeof(w), "%s%schinese_wall/types", prefix, sl);
		add_types(c, w, cw->types, cw->types_count, p->cw_names, &p->ncw, "Chinese Wall");
		for (i = 0; i < cw->conflict_sets_count; i++) {
			const struct raw_set *rs = &cw->conflict_sets[i];
			struct pol_set *ps = &p->sets[p->nsets];

			snprintf(w, sizeof(w), "%s%schinese_wall/conflict_sets/%u", prefix, sl, i);
			if (p->nsets == POL_MAX_SETS) {
				report(c, w, "more than %d conflict sets", POL_MAX_SETS);
				break;
			}
			copy_name(c, w, "conflict set", rs->name, ps->name);
			strcat(w, "/types");
			ps->types = type_mask(c, w, rs->types, rs->types_count, p->cw_names, p->ncw, "Chinese Wall");
			if (__builtin_popcountll(ps->types) < 2)
				report(c, w, "conflict set '%s' needs at least two types", rs->name);
			p->nsets++;
		}
	}
	for (i = 0; i < in->labels_count; i++) {
		struct pol_label *l = &p->labels[p->nlabels];

		snprintf(w, sizeof(w), "%s%slabels/%u", prefix, sl, i);
		if (p->nlabels == POL_MAX_LABELS) {
			report(c, w, "more than %d labels", POL_MAX_LABELS);
			break;
		}
		copy_name(c, w, "label", in->labels[i].name, l->name);
		if (pol_label_find(p, l->name) >= 0)
			report(c, w, "label '%s' is declared twice", l->name);
		{
			char ws[160];

			snprintf(ws, sizeof(ws), "%s/ste", w);
			l->ste = type_mask(c, ws, in->labels[i].ste, in->labels[i].ste_count,
					   p->ste_names, p->nste, "STE");
			snprintf(ws, sizeof(ws), "%s/cw", w);
			l->cw = type_mask(c, ws, in->labels[i].cw, in->labels[i].cw_count,
					  p->cw_names, p->ncw, "Chinese Wall");
		}
		p->nlabels++;
	}
	for (i = 0; i < in->resources_count; i++) {
		if (p->nres == POL_MAX_RES) {
			report(c, prefix, "more than %d labelled resources", POL_MAX_RES);
			break;
		}
		conv_res(c, prefix, i, &in->resources[i], p);
	}
	for (i = 0; i < in->clients_count; i++) {
		if (p->nclients == POL_MAX_CLIENTS) {
			report(c, prefix, "more than %d clients", POL_MAX_CLIENTS);
			break;
		}
		conv_client(c, prefix, i, &in->clients[i], p);
	}
	if (in->policy_manager) {
		snprintf(w, sizeof(w), "%s%spolicy_manager", prefix, sl);
		copy_name(c, w, "partition", in->policy_manager, p->manager);
	}
	if (in->audit_all) {
		bool b = false;

		snprintf(w, sizeof(w), "%s%saudit_all", prefix, sl);
		if (cfg_bool(c, w, "audit_all", in->audit_all, &b))
			p->audit_all = b;
	}
}

int policy_load(const char *path, const char *buf, size_t len, struct policy *out, FILE *err)
{
	struct cy_log log = { .len = 0 };
	cyaml_config_t cfg = {
		.log_fn = cy_log_fn, .log_ctx = &log, .mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR, .flags = CYAML_CFG_DEFAULT,
	};
	struct ctx c = { .err = err, .file = path };
	struct raw_policy *raw = NULL;
	yaml_document_t doc;
	char *text = NULL;
	bool unknown_only;
	cyaml_err_t e;
	char tmp[PLAT_PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(c.dir, sizeof(c.dir), "%s", buf ? "." : dirname(tmp));
	c.no_fs = buf != NULL;
	if (!buf) {
		if (cfg_read_file(&c, path, &text, &len))
			return c.problems;
		buf = text;
	} else if (len > CFG_MAX_BYTES) {
		report_line(&c, 0, "the policy is %zu bytes; the limit is %d", len, CFG_MAX_BYTES);
		return c.problems;
	}
	if (cfg_parse(&c, buf, len, &doc)) {
		free(text);
		return c.problems;
	}
	c.doc = &doc;
	if (!yaml_document_get_root_node(&doc)) {
		/* an empty document (or only comments) */
		report_line(&c, 0, "the policy is empty: it needs at least ste_types: and labels:");
		goto out;
	}
	if (cfg_check_schema(&c, &policy_schema, &unknown_only) && !unknown_only)
		goto out;
	if (c.problems)
		cfg.flags |= CYAML_CFG_IGNORE_UNKNOWN_KEYS; /* reported already; check the rest */
	e = cyaml_load_data((const uint8_t *)buf, len, &cfg, &policy_schema, (cyaml_data_t **)&raw,
			    NULL);
	if (e != CYAML_OK)
		report_schema_error(&c, &log, e);
	else if (!raw)
		report_line(&c, 0, "the policy is empty: it needs at least ste_types: and labels:");
	else
		policy_convert(&c, "", raw, out);
out:
	if (raw)
		cyaml_free(&cfg, &policy_schema, raw, 0);
	yaml_document_delete(&doc);
	free(text);
	return c.problems;
}
