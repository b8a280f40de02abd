/* SPDX-License-Identifier: MIT */
/* Positions in YAML files for error messages (supervisor internal). */
#ifndef LVMM_YAMLPOS_H
#define LVMM_YAMLPOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <yaml.h>

#include "config/platform.h"

struct cy_log {
	char buf[4096];
	size_t len;
};

struct ctx {
	FILE *err;
	const char *file;       /* NULL for the quick form */
	yaml_document_t *doc;   /* node tree of file, for line numbers */
	int problems;
	char dir[PLAT_PATH_MAX];/* relative paths resolve against this */
};

/* The node at a path like "partitions/1/devices/0/path" (the key node if want_key). */
yaml_node_t *doc_find(yaml_document_t *doc, const char *path, bool want_key);
/* Line of path, or of its nearest existing parent; 0 if unknown. */
int doc_line(struct ctx *c, const char *path);
/* Count a problem and print "FILE:LINE: message". */
void report(struct ctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Copy a path, resolving a relative one against c->dir. */
void resolve(struct ctx *c, const char *where, const char *in, char *out, size_t n);
/* Copy a name after checking it is 1-31 of [A-Za-z0-9_-]. */
void copy_name(struct ctx *c, const char *where, const char *what, const char *in, char *out);
/* libcyaml log sink collecting messages into a struct cy_log. */
void cy_log_fn(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
	__attribute__((format(printf, 3, 0)));
/* Report libcyaml's error + backtrace as "FILE:LINE: problem". */
void report_schema_error(struct ctx *c, struct cy_log *l, cyaml_err_t e,
			 const cyaml_schema_value_t *top);
/* Parse buf (or the file, when buf is NULL) into doc; reports syntax errors. 0 or -1. */
int doc_load(struct ctx *c, const char *path, const char *buf, size_t len, yaml_document_t *doc);

#endif
