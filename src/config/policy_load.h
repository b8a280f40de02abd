/* SPDX-License-Identifier: MIT */
/*
 * Reading a policy (inline in a platform file, or standalone) into the model
 * of include/lvmm/policy_model.h, and the operations' names. Judging a
 * platform by it is the ACM's job (src/supervisor/acm.c, policy.c; offline
 * through them, src/cli/acm_check.c), not this compiler's.
 */
#ifndef LVMM_POLICY_LOAD_H
#define LVMM_POLICY_LOAD_H

#include <cyaml/cyaml.h>
#include <stdio.h>

#include "lvmm/policy_model.h"

struct ctx;

struct raw_set {
	char *name;
	char **types;
	unsigned types_count;
};

struct raw_cw {
	char **types;
	unsigned types_count;
	struct raw_set *conflict_sets;
	unsigned conflict_sets_count;
};

struct raw_label {
	char *name;
	char **ste;
	unsigned ste_count;
	char **cw;
	unsigned cw_count;
};

struct raw_res {
	char *tap, *disk, *link, *socket;
	char *host_cpu;
	char *label;
};

struct raw_client {
	char *uid;
	char *partition;
	char *cert_sha256;
	char *label;
	char **operations;
	unsigned operations_count;
};

struct raw_policy {
	char *name;
	char **ste_types;
	unsigned ste_types_count;
	struct raw_cw *chinese_wall;
	struct raw_label *labels;
	unsigned labels_count;
	struct raw_res *resources;
	unsigned resources_count;
	struct raw_client *clients;
	unsigned clients_count;
	char *policy_manager;
	char *audit_all;
};

extern const cyaml_schema_field_t policy_fields[];

/* Convert a loaded policy; problems are reported under path prefix (e.g. "policy"). */
void policy_convert(struct ctx *c, const char *prefix, const struct raw_policy *in,
		    struct policy *out);

/*
 * Read a standalone policy from the file path, or from buf[0..len) when buf
 * is not NULL (path then only names it in messages). The text is bounded
 * as platform files are (yaml_util.h, CFG_MAX_*). Returns the number of
 * problems, each printed to err as "NAME:LINE: ...".
 */
int policy_load(const char *path, const char *buf, size_t len, struct policy *out, FILE *err);

#endif
