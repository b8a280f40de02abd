/* SPDX-License-Identifier: MIT */
/*
 * Shared machinery of the configuration compiler (platform files and
 * policies): bounded reading and parsing of YAML, a schema walk that names
 * every structural problem, strict scalar conversion, and "FILE:LINE:
 * message" reporting with line numbers taken from the libyaml node tree.
 */
#ifndef LVMM_YAML_UTIL_H
#define LVMM_YAML_UTIL_H

#include <cyaml/cyaml.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <yaml.h>

#include "config/platform.h"

/*
 * Limits on any configuration text (docs/platform-file.md, "Limits"). The
 * platform file is parsed by the supervisor before it drops anything, and a
 * policy may come from a partition: neither may cost unbounded time or
 * memory. The largest real platform (64 partitions x 12 devices, a policy
 * of 64 labels x 64 types) is about 120 KB, depth 7 and 15,000 values.
 */
#define CFG_MAX_BYTES     (1024 * 1024) /* the text itself */
#define CFG_MAX_DEPTH     32            /* nested mappings and lists */
#define CFG_MAX_VALUES    50000         /* scalars + collections, aliases expanded */
#define CFG_MAX_EXPANDED  (4 * 1024 * 1024) /* scalar bytes, aliases expanded */
#define CFG_MAX_ANCHORS   64

/* libcyaml's messages for one load, kept for one summary line. */
struct cy_log {
	char buf[4096];
	size_t len;
};

/* One input being compiled: where problems go and how lines are found. */
struct ctx {
	FILE *err;
	const char *file;        /* name in messages; NULL for the quick form */
	yaml_document_t *doc;    /* node tree of the input, for line numbers */
	int problems;
	char dir[PLAT_PATH_MAX]; /* relative paths resolve against this */
	bool no_fs;              /* sandboxed (an uploaded policy): never touch the file system */
};

/*
 * Read a whole file of at most CFG_MAX_BYTES into a new NUL-terminated
 * buffer (*buf, free() it). A missing file or one over the limit is
 * reported. 0 or -1.
 */
int cfg_read_file(struct ctx *c, const char *path, char **buf, size_t *len);

/*
 * Parse buf[0..len) into doc after checking it against the CFG_MAX_*
 * limits in one streaming pass (nesting depth, values and bytes after
 * alias expansion, anchors; an alias to an unfinished anchor is refused).
 * Every limit or syntax problem is reported with its line. 0 or -1 (doc
 * is then not initialised).
 */
int cfg_parse(struct ctx *c, const char *buf, size_t len, yaml_document_t *doc);

/*
 * Walk c->doc against a libcyaml schema and report every structural
 * problem: unknown keys (with the keys allowed there), repeated keys,
 * missing required keys, a list or mapping where a value belongs and the
 * reverse. *unknown_only is true when every problem found was an unknown
 * key, so the document can still be loaded with unknown keys ignored and
 * checked further. Returns the number of problems.
 */
int cfg_check_schema(struct ctx *c, const cyaml_schema_value_t *top, bool *unknown_only);

/* The node at a path like "partitions/1/devices/0/path" (the key node if want_key). */
yaml_node_t *doc_find(yaml_document_t *doc, const char *path, bool want_key);
/* Line of path, or of its nearest existing parent; 0 if unknown. */
int doc_line(struct ctx *c, const char *path);
/* Count a problem and print "FILE:LINE: message" (line of path). */
void report(struct ctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Count a problem and print "FILE:LINE: message" at a known line (0: none). */
void report_line(struct ctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Copy a path, resolving a relative one against c->dir. false (reported) if too long. */
bool resolve(struct ctx *c, const char *where, const char *in, char *out, size_t n);
/* Copy a name after checking it is 1-31 of [A-Za-z0-9_-]. false (reported, out = "") if not. */
bool copy_name(struct ctx *c, const char *where, const char *what, const char *in, char *out);

/*
 * Strict scalars. A number is decimal (a leading 0 does not make it octal)
 * or 0x-hexadecimal, with no sign, space or suffix, at most max. A boolean
 * is true/false, yes/no or on/off (any case). On a bad value the problem is
 * reported at where, naming what, and false is returned with *out unchanged.
 */
bool cfg_uint(struct ctx *c, const char *where, const char *what, const char *s, uint64_t max,
	      uint64_t *out);
bool cfg_bool(struct ctx *c, const char *where, const char *what, const char *s, bool *out);

/* libcyaml log sink collecting messages into a struct cy_log. */
void cy_log_fn(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
	__attribute__((format(printf, 3, 0)));
/* Report libcyaml's error + backtrace as "FILE:LINE: problem" (the fallback when cfg_check_schema found nothing). */
void report_schema_error(struct ctx *c, struct cy_log *l, cyaml_err_t e);

#endif
