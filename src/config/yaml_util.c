// SPDX-License-Identifier: MIT
/*
 * YAML machinery shared by the platform-file and policy compilers.
 *
 * Input is bounded before libyaml builds anything from it: the text is read
 * with a size cap, then one streaming pass over libyaml's events measures
 * nesting depth and what the document would become once every alias is
 * expanded (libcyaml expands aliases by replaying the anchored events, so a
 * 60 KB "billion laughs" file became millions of allocations and 128,000
 * error lines). The pass stops at the first limit, within a bounded
 * look-ahead of libyaml's scanner, which is what keeps a deeply nested file
 * from costing the quadratic time libyaml's simple-key bookkeeping would
 * take over all of it (a 200 KB file of '[' took 77 s).
 *
 * Messages always read "FILE:LINE: what is wrong; what to write instead".
 */
#include "config/yaml_util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "shared/parse.h"

/* Longest user-supplied value quoted in a message: messages stay one readable line. */
#define QUOTE_MAX 80

/* ---- reporting ----------------------------------------------------------------- */

static void vreport_line(struct ctx *c, int line, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void vreport_line(struct ctx *c, int line, const char *fmt, va_list ap)
{
	c->problems++;
	if (c->file && line > 0)
		fprintf(c->err, "%s:%d: ", c->file, line);
	else if (c->file)
		fprintf(c->err, "%s: ", c->file);
	else
		fprintf(c->err, "lvmm: ");
	vfprintf(c->err, fmt, ap);
	fputc('\n', c->err);
}

void report_line(struct ctx *c, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport_line(c, line, fmt, ap);
	va_end(ap);
}

void report(struct ctx *c, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport_line(c, c->doc ? doc_line(c, path) : 0, fmt, ap);
	va_end(ap);
}

/* Find the node for a path like "partitions/1/devices/0/path"; key nodes for the last step. */
yaml_node_t *doc_find(yaml_document_t *doc, const char *path, bool want_key)
{
	yaml_node_t *n = doc ? yaml_document_get_root_node(doc) : NULL;
	char buf[256], *save = NULL, *tok;

	if (!n || snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return NULL;
	for (tok = strtok_r(buf, "/", &save); tok && n; tok = strtok_r(NULL, "/", &save)) {
		bool last = !save || !*save;

		if (n->type == YAML_SEQUENCE_NODE) {
			long idx = strtol(tok, NULL, 10);
			yaml_node_item_t *it = n->data.sequence.items.start;

			if (idx < 0 || idx >= n->data.sequence.items.top - it)
				return NULL;
			n = yaml_document_get_node(doc, it[idx]);
		} else if (n->type == YAML_MAPPING_NODE) {
			yaml_node_pair_t *p;
			yaml_node_t *found = NULL;

			for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
				yaml_node_t *k = yaml_document_get_node(doc, p->key);

				if (k && k->type == YAML_SCALAR_NODE &&
				    !strcmp((char *)k->data.scalar.value, tok)) {
					found = (last && want_key) ? k
								   : yaml_document_get_node(doc, p->value);
					break;
				}
			}
			n = found;
		} else {
			return NULL;
		}
	}
	return n;
}

int doc_line(struct ctx *c, const char *path)
{
	char p[256];
	yaml_node_t *n;
	unsigned guard;

	snprintf(p, sizeof(p), "%s", path);
	/* Fall back to the nearest enclosing node that exists (each step drops a '/'). */
	for (guard = 0; guard < sizeof(p); guard++) {
		char *slash;

		n = doc_find(c->doc, p, true);
		if (n)
			return (int)n->start_mark.line + 1;
		slash = strrchr(p, '/');
		if (!slash)
			return 0;
		*slash = 0;
	}
	return 0;
}

/* ---- bounded input ------------------------------------------------------------- */

int cfg_read_file(struct ctx *c, const char *path, char **buf, size_t *len)
{
	struct stat st;
	char *b = NULL;
	size_t got = 0, cap;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		report_line(c, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		report_line(c, 0, "cannot read: %s", strerror(errno));
		goto err;
	}
	if (S_ISREG(st.st_mode) && st.st_size > CFG_MAX_BYTES) {
		report_line(c, 0, "the file is %lld bytes; configuration files are limited to %d "
			    "bytes (1 MiB)", (long long)st.st_size, CFG_MAX_BYTES);
		goto err;
	}
	/*
	 * Room for one byte more than fstat said, to see a file that grew
	 * meanwhile; a pipe (lvmm check <(...)) gets the limit plus one.
	 */
	cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : CFG_MAX_BYTES + 1;
	b = malloc(cap + 1);
	if (!b) {
		report_line(c, 0, "out of memory");
		goto err;
	}
	while (got < cap) {
		ssize_t n = read(fd, b + got, cap - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			report_line(c, 0, "cannot read: %s", strerror(errno));
			goto err;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > CFG_MAX_BYTES) {
		report_line(c, 0, "the file is larger than %d bytes (1 MiB), the limit for "
			    "configuration files", CFG_MAX_BYTES);
		goto err;
	}
	if (got == cap) {
		report_line(c, 0, "the file changed while it was read; try again");
		goto err;
	}
	b[got] = 0;
	close(fd);
	*buf = b;
	*len = got;
	return 0;
err:
	free(b);
	close(fd);
	return -1;
}

struct anchor {
	char *name;
	uint64_t values, bytes; /* what one alias to it expands to */
};

struct scan {
	struct ctx *c;
	struct anchor anchors[CFG_MAX_ANCHORS];
	unsigned nanchors;
	struct {
		uint64_t values, bytes;
		char *anchor; /* the collection's own anchor, recorded when it ends */
	} stack[CFG_MAX_DEPTH];
	unsigned depth;
	unsigned documents;
	uint64_t values, bytes; /* the whole document, aliases expanded */
};

/* Count a value (or an alias's expansion) into the document and every open collection. */
static void scan_add(struct scan *s, uint64_t values, uint64_t bytes)
{
	s->values += values;
	s->bytes += bytes;
	if (s->depth) {
		s->stack[s->depth - 1].values += values;
		s->stack[s->depth - 1].bytes += bytes;
	}
}

/* Remember an anchor (takes name, a malloc'ed copy). -1 (reported) when there are too many. */
static int scan_anchor(struct scan *s, int line, char *name, uint64_t values, uint64_t bytes)
{
	if (s->nanchors == CFG_MAX_ANCHORS) {
		report_line(s->c, line, "more than %d anchors (&name); write the values out",
			    CFG_MAX_ANCHORS);
		free(name);
		return -1;
	}
	s->anchors[s->nanchors++] = (struct anchor){ name, values, bytes };
	return 0;
}

static char *dup_anchor(const yaml_char_t *a)
{
	return a ? strdup((const char *)a) : NULL;
}

/* One event of the pre-pass. 0, 1 at the end of the stream, -1 on a limit (reported). */
static int scan_event(struct scan *s, const yaml_event_t *ev)
{
	int line = (int)ev->start_mark.line + 1;
	unsigned i;

	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (++s->documents > 1) {
			report_line(s->c, line, "a second YAML document ('---'): only one is read; "
				    "remove it or move it to its own file");
			return -1;
		}
		return 0;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		const yaml_char_t *a = ev->type == YAML_SEQUENCE_START_EVENT
					       ? ev->data.sequence_start.anchor
					       : ev->data.mapping_start.anchor;

		if (s->depth == CFG_MAX_DEPTH) {
			report_line(s->c, line, "lists and mappings nested more than %d deep (the "
				    "limit); a platform file needs at most 8 levels", CFG_MAX_DEPTH);
			return -1;
		}
		scan_add(s, 1, 0);
		s->stack[s->depth].values = 1;
		s->stack[s->depth].bytes = 0;
		s->stack[s->depth].anchor = dup_anchor(a);
		if (a && !s->stack[s->depth].anchor) {
			report_line(s->c, line, "out of memory");
			return -1;
		}
		s->depth++;
		return 0;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		char *a;

		if (!s->depth)
			return 0;
		s->depth--;
		a = s->stack[s->depth].anchor;
		s->stack[s->depth].anchor = NULL;
		/* Inner values were already counted into the parent by scan_add. */
		return a ? scan_anchor(s, line, a, s->stack[s->depth].values, s->stack[s->depth].bytes)
			 : 0;
	}
	case YAML_SCALAR_EVENT:
		scan_add(s, 1, ev->data.scalar.length);
		if (ev->data.scalar.anchor) {
			char *a = dup_anchor(ev->data.scalar.anchor);

			if (!a) {
				report_line(s->c, line, "out of memory");
				return -1;
			}
			return scan_anchor(s, line, a, 1, ev->data.scalar.length);
		}
		return 0;
	case YAML_ALIAS_EVENT:
		/* The latest definition wins; an anchor still open is not listed yet (no cycles). */
		for (i = s->nanchors; i-- > 0;)
			if (!strcmp(s->anchors[i].name, (const char *)ev->data.alias.anchor))
				break;
		if (i == (unsigned)-1) {
			report_line(s->c, line, "alias '*%.*s' does not refer to an earlier, complete "
				    "anchor '&%.*s'", QUOTE_MAX, (const char *)ev->data.alias.anchor,
				    QUOTE_MAX, (const char *)ev->data.alias.anchor);
			return -1;
		}
		scan_add(s, s->anchors[i].values, s->anchors[i].bytes);
		return 0;
	case YAML_NO_EVENT:
	case YAML_STREAM_START_EVENT:
	case YAML_DOCUMENT_END_EVENT:
	default:
		return 0;
	}
}

static void report_syntax(struct ctx *c, const yaml_parser_t *p)
{
	report_line(c, (int)p->problem_mark.line + 1, "YAML syntax error: %s%s%s",
		    p->problem ? p->problem : "unknown", p->context ? " " : "",
		    p->context ? p->context : "");
}

/* The limits pass: 0, or -1 with the problem reported. */
static int cfg_scan(struct ctx *c, const char *buf, size_t len)
{
	static struct scan s; /* no recursion, one input at a time: keep it off the stack */
	yaml_parser_t parser;
	yaml_event_t ev;
	unsigned i;
	int r = 0;

	memset(&s, 0, sizeof(s));
	s.c = c;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	/* Every event consumes input, and the input is at most CFG_MAX_BYTES: the loop ends. */
	while (!r) {
		if (!yaml_parser_parse(&parser, &ev)) {
			report_syntax(c, &parser);
			r = -1;
			break;
		}
		r = scan_event(&s, &ev);
		if (!r && s.values > CFG_MAX_VALUES) {
			report_line(c, (int)ev.start_mark.line + 1, "the document holds more than %d "
				    "values once aliases (*name) are expanded (the limit); write fewer "
				    "values or use fewer aliases", CFG_MAX_VALUES);
			r = -1;
		} else if (!r && s.bytes > CFG_MAX_EXPANDED) {
			report_line(c, (int)ev.start_mark.line + 1, "the document's values exceed %d "
				    "bytes once aliases (*name) are expanded (the limit)",
				    CFG_MAX_EXPANDED);
			r = -1;
		}
		yaml_event_delete(&ev);
	}
	for (i = 0; i < s.nanchors; i++)
		free(s.anchors[i].name);
	for (i = 0; i < s.depth; i++)
		free(s.stack[i].anchor);
	yaml_parser_delete(&parser);
	return r < 0 ? -1 : 0;
}

int cfg_parse(struct ctx *c, const char *buf, size_t len, yaml_document_t *doc)
{
	yaml_parser_t parser;
	int r = 0;

	if (cfg_scan(c, buf, len))
		return -1;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, doc)) {
		report_syntax(c, &parser);
		r = -1;
	}
	yaml_parser_delete(&parser);
	return r;
}

/* ---- schema walk --------------------------------------------------------------- */

struct walk {
	struct ctx *c;
	int problems;
	bool other; /* a problem other than an unknown key */
	char path[256]; /* "partitions[1].devices[0]" for messages */
};

static const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE: return "a mapping (key: value)";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_SCALAR_NODE: return "a single value";
	case YAML_NO_NODE:
	default: return "nothing";
	}
}

static void walk_problem(struct walk *w, const yaml_node_t *n, bool other, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void walk_problem(struct walk *w, const yaml_node_t *n, bool other, const char *fmt, ...)
{
	va_list ap;

	w->problems++;
	w->other |= other;
	va_start(ap, fmt);
	vreport_line(w->c, (int)n->start_mark.line + 1, fmt, ap);
	va_end(ap);
}

static const char *where(const struct walk *w)
{
	return w->path[0] ? w->path : "the top level";
}

static void walk_value(struct walk *w, yaml_node_t *n, const cyaml_schema_value_t *v, unsigned depth);

static void walk_mapping(struct walk *w, yaml_node_t *n, const cyaml_schema_value_t *v,
			 unsigned depth)
{
	yaml_document_t *doc = w->c->doc;
	const cyaml_schema_field_t *f;
	yaml_node_pair_t *p, *q;
	size_t plen = strlen(w->path);

	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		yaml_node_t *val = yaml_document_get_node(doc, p->value);
		const char *key;
		bool dup = false;

		if (!k || !val)
			continue;
		if (k->type != YAML_SCALAR_NODE) {
			walk_problem(w, k, true, "a key in %s is %s; keys are names", where(w),
				     node_kind(k));
			continue;
		}
		key = (const char *)k->data.scalar.value;
		for (f = v->mapping.fields; f->key && strcmp(f->key, key); f++)
			;
		if (!f->key) {
			char allowed[512];
			size_t al = 0;
			const cyaml_schema_field_t *g;

			allowed[0] = 0;
			for (g = v->mapping.fields; g->key && al < sizeof(allowed) - 1; g++) {
				int m = snprintf(allowed + al, sizeof(allowed) - al, " %s", g->key);

				if (m < 0)
					break;
				al = MIN(al + (size_t)m, sizeof(allowed) - 1);
			}
			walk_problem(w, k, false, "unknown key '%.*s'%s%s; expected one of:%s",
				     QUOTE_MAX, key, w->path[0] ? " in " : "", w->path, allowed);
			continue;
		}
		for (q = n->data.mapping.pairs.start; q < p && !dup; q++) {
			yaml_node_t *k2 = yaml_document_get_node(doc, q->key);

			dup = k2 && k2->type == YAML_SCALAR_NODE &&
			      !strcmp((const char *)k2->data.scalar.value, key);
		}
		if (dup) {
			walk_problem(w, k, true, "key '%s' appears twice in %s", key, where(w));
			continue;
		}
		snprintf(w->path + plen, sizeof(w->path) - plen, "%s%s", plen ? "." : "", key);
		walk_value(w, val, &f->value, depth + 1);
		w->path[plen] = 0;
	}
	for (f = v->mapping.fields; f->key; f++) {
		bool found = false;

		if (f->value.flags & CYAML_FLAG_OPTIONAL)
			continue;
		for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top && !found; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);

			found = k && k->type == YAML_SCALAR_NODE &&
				!strcmp((const char *)k->data.scalar.value, f->key);
		}
		if (!found)
			walk_problem(w, n, true, "%s needs '%s:'", where(w), f->key);
	}
}

static void walk_value(struct walk *w, yaml_node_t *n, const cyaml_schema_value_t *v, unsigned depth)
{
	size_t plen = strlen(w->path);
	yaml_node_item_t *it;

	/* cfg_parse bounded the depth already; this only keeps the walk obviously finite. */
	if (depth > CFG_MAX_DEPTH)
		return;
	switch (v->type) {
	case CYAML_MAPPING:
		if (n->type != YAML_MAPPING_NODE) {
			walk_problem(w, n, true, "%s must be a mapping (key: value, ...), not %s",
				     where(w), node_kind(n));
			return;
		}
		walk_mapping(w, n, v, depth);
		return;
	case CYAML_SEQUENCE:
	case CYAML_SEQUENCE_FIXED:
		if (n->type != YAML_SEQUENCE_NODE) {
			walk_problem(w, n, true, "%s must be a list ([a, b] or '- a' lines), not %s",
				     where(w), node_kind(n));
			return;
		}
		for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
			yaml_node_t *e = yaml_document_get_node(w->c->doc, *it);

			if (!e)
				continue;
			snprintf(w->path + plen, sizeof(w->path) - plen, "[%td]",
				 it - n->data.sequence.items.start);
			walk_value(w, e, v->sequence.entry, depth + 1);
			w->path[plen] = 0;
		}
		return;
	case CYAML_IGNORE:
		return;
	case CYAML_INT:
	case CYAML_UINT:
	case CYAML_BOOL:
	case CYAML_ENUM:
	case CYAML_FLAGS:
	case CYAML_FLOAT:
	case CYAML_STRING:
	case CYAML_BITFIELD:
	default:
		if (n->type != YAML_SCALAR_NODE)
			walk_problem(w, n, true, "%s must be a single value, not %s", where(w),
				     node_kind(n));
		return;
	}
}

int cfg_check_schema(struct ctx *c, const cyaml_schema_value_t *top, bool *unknown_only)
{
	struct walk w = { .c = c };
	yaml_node_t *root = c->doc ? yaml_document_get_root_node(c->doc) : NULL;

	if (root)
		walk_value(&w, root, top, 0);
	*unknown_only = !w.other;
	return w.problems;
}

/* ---- values -------------------------------------------------------------------- */

static bool valid_name(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || n >= LVMM_NAME_MAX || !isalnum((unsigned char)s[0]))
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

bool resolve(struct ctx *c, const char *where_, const char *in, char *out, size_t n)
{
	int w;

	if (in[0] == '/' || !c->dir[0])
		w = snprintf(out, n, "%s", in);
	else
		w = snprintf(out, n, "%s/%s", c->dir, in);
	if (w < 0 || (size_t)w >= n) {
		report(c, where_, "path is longer than %zu bytes", n - 1);
		out[0] = 0;
		return false;
	}
	return true;
}

bool copy_name(struct ctx *c, const char *where_, const char *what, const char *in, char *out)
{
	if (!valid_name(in)) {
		report(c, where_, "%s '%.*s' is not a valid name: use 1-%d letters, digits, '-' or "
		       "'_', starting with a letter or digit", what, QUOTE_MAX, in, LVMM_NAME_MAX - 1);
		out[0] = 0;
		return false;
	}
	snprintf(out, LVMM_NAME_MAX, "%s", in);
	return true;
}

bool cfg_uint(struct ctx *c, const char *where_, const char *what, const char *s, uint64_t max,
	      uint64_t *out)
{
	uint64_t v;
	int r = parse_u64(s, max, &v);

	if (r == -ERANGE) {
		report(c, where_, "%s: %.*s is out of range: at most %" PRIu64, what, QUOTE_MAX, s, max);
		return false;
	}
	if (r) {
		report(c, where_, "%s: '%.*s' is not a whole number: write it in decimal (or hex "
		       "with 0x)", what, QUOTE_MAX, s);
		return false;
	}
	*out = v;
	return true;
}

bool cfg_bool(struct ctx *c, const char *where_, const char *what, const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return true;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return true;
		}
	}
	report(c, where_, "%s: '%.*s' is not true or false", what, QUOTE_MAX, s);
	return false;
}

/* ---- libcyaml's own errors (fallback) ---------------------------------------------- */

/* libcyaml's messages arrive line by line; keep them for one summary. */
void cy_log_fn(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
	struct cy_log *l = ctx;
	int n;

	if (level < CYAML_LOG_ERROR || l->len >= sizeof(l->buf) - 1)
		return;
	n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, args);
	if (n > 0)
		l->len = MIN(l->len + (size_t)n, sizeof(l->buf) - 1);
}

/* dst = head + sep + dst, cut to the buffer (a path that long is cut in the message). */
static void prepend(char *dst, size_t n, const char *head, const char *sep)
{
	size_t hl = strlen(head), sl = strlen(sep), dl = strlen(dst);

	if (hl + sl >= n)
		hl = sl = 0;
	if (hl + sl + dl >= n)
		dl = n - 1 - hl - sl;
	memmove(dst + hl + sl, dst, dl);
	memcpy(dst, head, hl);
	memcpy(dst + hl, sep, sl);
	dst[hl + sl + dl] = 0;
}

/*
 * Turn libcyaml's error + backtrace into "FILE:LINE: problem (in
 * partitions[0].vcpus)". The backtrace lists the innermost context first.
 * cfg_check_schema catches what the schemas here can express, so this
 * only speaks when libcyaml objects to something else.
 */
void report_schema_error(struct ctx *c, struct cy_log *l, cyaml_err_t e)
{
	char *lines[32], *save = NULL, *s;
	unsigned n = 0, i;
	char path[256] = "", msg[256] = "";
	int line = 0;

	for (s = strtok_r(l->buf, "\n", &save); s && n < ARRAY_SIZE(lines); s = strtok_r(NULL, "\n", &save))
		lines[n++] = s;
	for (i = 0; i < n; i++) {
		const char *t = lines[i];
		char name[128], tmp[32];
		int ln;

		if (!strncmp(t, "Load: ", 6) && strncmp(t, "Load: Backtrace", 15) && !msg[0])
			snprintf(msg, sizeof(msg), "%s", t + 6);
		if (sscanf(t, " in mapping field '%127[^']' (line: %d", name, &ln) == 2) {
			prepend(path, sizeof(path), name, path[0] && path[0] != '[' ? "." : "");
			if (!line)
				line = ln;
		} else if (sscanf(t, " in sequence entry '%127[^']' (line: %d", name, &ln) == 2) {
			/* libcyaml counts entries from 1; the docs and our paths count from 0. */
			snprintf(tmp, sizeof(tmp), "[%ld]", strtol(name, NULL, 10) - 1);
			prepend(path, sizeof(path), tmp, path[0] && path[0] != '[' ? "." : "");
			if (!line)
				line = ln;
		} else if (sscanf(t, " in mapping (line: %d", &ln) == 1 && !line) {
			line = ln;
		}
	}
	if (!msg[0])
		snprintf(msg, sizeof(msg), "%s", cyaml_strerror(e));
	report_line(c, line, "%s%s%s%s; see docs/platform-file.md for the schema", msg,
		    path[0] ? " (in " : "", path, path[0] ? ")" : "");
}
