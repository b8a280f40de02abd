// SPDX-License-Identifier: MIT
/*
 * Platform file: schema (libcyaml), conversion into the model, and the
 * checks `lvmm check` runs. Schema errors come from libcyaml's backtrace;
 * for every later error we find the line in a libyaml node tree of the same
 * file, so each message reads "FILE:LINE: problem; expected ...".
 */
#include "config/platform.h"

#include <ctype.h>
#include <cyaml/cyaml.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config/cpufeatures.h"
#include "config/policy_load.h"
#include "config/yamlpos.h"

#define MEM_MIN (4 * MiB)
#define MEM_MAX (1024 * GiB)
#define DEFAULT_MEM (128 * MiB)

/* ---- raw form, as libcyaml loads it ------------------------------------------ */

struct raw_rl {
	char *bandwidth; /* bytes per second, with size suffix */
	char *burst;
	uint64_t ops;
	uint64_t ops_burst;
};

struct raw_rate {
	struct raw_rl *rx;
	struct raw_rl *tx;
};

struct raw_dev {
	char *type;
	char *id;
	char *path;
	bool readonly;
	char *tap;
	char *link;
	char *mac;
	char *socket;
	bool listen;
	bool control;
	struct raw_rate *rate_limit;
};

struct raw_part {
	char *name;
	char *role;
	unsigned vcpus;
	int *host_cpus;
	unsigned host_cpus_count;
	char *memory;
	char *kernel;
	char *initrd;
	char *cmdline;
	char *console;
	bool stdin_console;
	char *restart;
	unsigned restart_limit;
	unsigned restart_delay_ms;
	bool reboot;
	bool autostart;
	bool test_device;
	char *label;
	char **cpuid_disable;
	unsigned cpuid_disable_count;
	struct raw_dev *devices;
	unsigned devices_count;
};

struct raw_link {
	char *name;
	char **ends;
	unsigned ends_count;
};

struct raw_platform {
	struct raw_part *partitions;
	unsigned partitions_count;
	struct raw_link *links;
	unsigned links_count;
	char *events;
	char *control;
	struct raw_policy *policy;
	char *policy_file;
};

#define OPT CYAML_FLAG_OPTIONAL
#define OPT_PTR (CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER)
#define STR(key, s, m) CYAML_FIELD_STRING_PTR(key, OPT_PTR, s, m, 0, CYAML_UNLIMITED)

static const cyaml_schema_value_t str_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};
static const cyaml_schema_value_t int_entry = {
	CYAML_VALUE_INT(CYAML_FLAG_DEFAULT, int),
};

static const cyaml_schema_field_t rl_fields[] = {
	STR("bandwidth", struct raw_rl, bandwidth),
	STR("burst", struct raw_rl, burst),
	CYAML_FIELD_UINT("ops", OPT, struct raw_rl, ops),
	CYAML_FIELD_UINT("ops_burst", OPT, struct raw_rl, ops_burst),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t rate_fields[] = {
	CYAML_FIELD_MAPPING_PTR("rx", OPT_PTR, struct raw_rate, rx, rl_fields),
	CYAML_FIELD_MAPPING_PTR("tx", OPT_PTR, struct raw_rate, tx, rl_fields),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t dev_fields[] = {
	CYAML_FIELD_STRING_PTR("type", CYAML_FLAG_POINTER, struct raw_dev, type, 0, CYAML_UNLIMITED),
	STR("id", struct raw_dev, id),
	STR("path", struct raw_dev, path),
	CYAML_FIELD_BOOL("readonly", OPT, struct raw_dev, readonly),
	STR("tap", struct raw_dev, tap),
	STR("link", struct raw_dev, link),
	STR("mac", struct raw_dev, mac),
	STR("socket", struct raw_dev, socket),
	CYAML_FIELD_BOOL("listen", OPT, struct raw_dev, listen),
	CYAML_FIELD_BOOL("control", OPT, struct raw_dev, control),
	CYAML_FIELD_MAPPING_PTR("rate_limit", OPT_PTR, struct raw_dev, rate_limit, rate_fields),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t dev_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_dev, dev_fields),
};

static const cyaml_schema_field_t part_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct raw_part, name, 0, CYAML_UNLIMITED),
	STR("role", struct raw_part, role),
	CYAML_FIELD_UINT("vcpus", OPT, struct raw_part, vcpus),
	CYAML_FIELD_SEQUENCE("host_cpus", OPT_PTR, struct raw_part, host_cpus, &int_entry, 0,
			     CYAML_UNLIMITED),
	STR("memory", struct raw_part, memory),
	CYAML_FIELD_STRING_PTR("kernel", CYAML_FLAG_POINTER, struct raw_part, kernel, 0, CYAML_UNLIMITED),
	STR("initrd", struct raw_part, initrd),
	STR("cmdline", struct raw_part, cmdline),
	STR("console", struct raw_part, console),
	CYAML_FIELD_BOOL("stdin", OPT, struct raw_part, stdin_console),
	STR("restart", struct raw_part, restart),
	CYAML_FIELD_UINT("restart_limit", OPT, struct raw_part, restart_limit),
	CYAML_FIELD_UINT("restart_delay_ms", OPT, struct raw_part, restart_delay_ms),
	CYAML_FIELD_BOOL("reboot", OPT, struct raw_part, reboot),
	CYAML_FIELD_BOOL("autostart", OPT, struct raw_part, autostart),
	CYAML_FIELD_BOOL("test_device", OPT, struct raw_part, test_device),
	STR("label", struct raw_part, label),
	CYAML_FIELD_SEQUENCE("cpuid_disable", OPT_PTR, struct raw_part, cpuid_disable, &str_entry, 0,
			     CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("devices", OPT_PTR, struct raw_part, devices, &dev_entry, 0,
			     CYAML_UNLIMITED),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t part_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_part, part_fields),
};

static const cyaml_schema_field_t link_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, struct raw_link, name, 0, CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("ends", CYAML_FLAG_POINTER, struct raw_link, ends, &str_entry, 0,
			     CYAML_UNLIMITED),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t link_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_link, link_fields),
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_SEQUENCE("partitions", CYAML_FLAG_POINTER, struct raw_platform, partitions,
			     &part_entry, 0, CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("links", OPT_PTR, struct raw_platform, links, &link_entry, 0,
			     CYAML_UNLIMITED),
	STR("events", struct raw_platform, events),
	STR("control", struct raw_platform, control),
	CYAML_FIELD_MAPPING_PTR("policy", OPT_PTR, struct raw_platform, policy, policy_fields),
	STR("policy_file", struct raw_platform, policy_file),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t top_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw_platform, top_fields),
};

/* ---- error reporting with positions ------------------------------------------- */

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

	snprintf(p, sizeof(p), "%s", path);
	/* Fall back to the nearest enclosing node that exists. */
	for (;;) {
		n = doc_find(c->doc, p, true);
		if (n)
			return (int)n->start_mark.line + 1;
		char *slash = strrchr(p, '/');

		if (!slash)
			return 0;
		*slash = 0;
	}
}

void report(struct ctx *c, const char *path, const char *fmt, ...)
{
	va_list ap;

	c->problems++;
	if (c->file && c->doc)
		fprintf(c->err, "%s:%d: ", c->file, doc_line(c, path));
	else if (c->file)
		fprintf(c->err, "%s: ", c->file);
	else
		fprintf(c->err, "lvmm: ");
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fputc('\n', c->err);
}

int doc_load(struct ctx *c, const char *path, const char *buf, size_t len, yaml_document_t *doc)
{
	yaml_parser_t parser;
	FILE *f = NULL;
	int r = 0;

	if (!buf) {
		f = fopen(path, "r");
		if (!f) {
			fprintf(c->err, "%s: cannot open: %s\n", path, strerror(errno));
			c->problems++;
			return -1;
		}
	}
	yaml_parser_initialize(&parser);
	if (f)
		yaml_parser_set_input_file(&parser, f);
	else
		yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, doc)) {
		fprintf(c->err, "%s:%zu: YAML syntax error: %s%s%s\n", path, parser.problem_mark.line + 1,
			parser.problem ? parser.problem : "unknown", parser.context ? " " : "",
			parser.context ? parser.context : "");
		c->problems++;
		r = -1;
	}
	yaml_parser_delete(&parser);
	if (f)
		fclose(f);
	return r;
}

/* ---- conversion ---------------------------------------------------------------- */

void plat_part_defaults(struct plat_part *p)
{
	unsigned i;

	memset(p, 0, sizeof(*p));
	p->vcpus = 1;
	p->mem_bytes = DEFAULT_MEM;
	p->restart = RESTART_NEVER;
	p->restart_limit = 3;
	p->restart_delay_ms = 1000;
	p->console = CONSOLE_STDOUT;
	p->autostart = true;
	for (i = 0; i < LVMM_MAX_VCPUS; i++)
		p->host_cpus[i] = -1;
}

const char *plat_role_name(enum plat_role r)
{
	return r == ROLE_SERVICE ? "service" : "user";
}

const char *plat_restart_name(enum plat_restart r)
{
	switch (r) {
	case RESTART_ON_CRASH: return "on-crash";
	case RESTART_ALWAYS: return "always";
	case RESTART_NEVER:
	default: return "never";
	}
}

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

/* Copy a path, relative ones resolved against the platform file's directory. */
void resolve(struct ctx *c, const char *where, const char *in, char *out, size_t n)
{
	int w;

	if (in[0] == '/' || !c->dir[0])
		w = snprintf(out, n, "%s", in);
	else
		w = snprintf(out, n, "%s/%s", c->dir, in);
	if (w < 0 || (size_t)w >= n) {
		report(c, where, "path is longer than %zu bytes", n - 1);
		out[0] = 0;
	}
}

void copy_name(struct ctx *c, const char *where, const char *what, const char *in,
		      char *out)
{
	if (!valid_name(in)) {
		report(c, where, "%s '%s' is not a valid name: use 1-%d letters, digits, '-' or "
		       "'_', starting with a letter or digit", what, in, LVMM_NAME_MAX - 1);
		out[0] = 0;
		return;
	}
	snprintf(out, LVMM_NAME_MAX, "%s", in);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6], i;
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &tail) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	if (mac[0] & 1)
		return -EINVAL; /* multicast addresses cannot be a NIC's own */
	return 0;
}

static void conv_rl(struct ctx *c, const char *where, const struct raw_rl *in,
		    struct lvmm_rate_limit *out)
{
	char w[200];

	if (!in)
		return;
	if (in->bandwidth && parse_size(in->bandwidth, 1, &out->bytes_per_sec)) {
		snprintf(w, sizeof(w), "%s/bandwidth", where);
		report(c, w, "bandwidth '%s' is not a byte rate: write e.g. 10M (bytes per "
		       "second, suffix K/M/G)", in->bandwidth);
	}
	if (in->burst && parse_size(in->burst, 1, &out->bytes_burst)) {
		snprintf(w, sizeof(w), "%s/burst", where);
		report(c, w, "burst '%s' is not a size: write e.g. 64K", in->burst);
	}
	out->ops_per_sec = in->ops;
	out->ops_burst = in->ops_burst;
	/* A bucket holds at least one second's worth unless told otherwise. */
	if (out->bytes_per_sec && !out->bytes_burst)
		out->bytes_burst = out->bytes_per_sec;
	if (out->ops_per_sec && !out->ops_burst)
		out->ops_burst = out->ops_per_sec;
}

static void conv_dev(struct ctx *c, unsigned pi, unsigned di, const struct raw_dev *in,
		     struct plat_part *part, struct plat_dev *d)
{
	char where[64], w[96];
	unsigned counts[LVMM_DEV_TYPE_MAX + 1] = { 0 }, k;

	snprintf(where, sizeof(where), "partitions/%u/devices/%u", pi, di);
	memset(d, 0, sizeof(*d));
	d->line = doc_line(c, where);
	snprintf(w, sizeof(w), "%s/type", where);
	if (!strcmp(in->type, "blk")) {
		d->type = LVMM_DEV_BLK;
		if (!in->path)
			report(c, where, "blk device needs 'path:' (a raw disk image)");
		else
			resolve(c, where, in->path, d->path, sizeof(d->path));
		d->readonly = in->readonly;
	} else if (!strcmp(in->type, "net")) {
		if (!!in->tap == !!in->link) {
			report(c, where, "net device needs exactly one of 'tap: NAME' (a host TAP "
			       "device) or 'link: NAME' (a link to another partition)");
		} else if (in->tap) {
			d->type = LVMM_DEV_NET_TAP;
			if (!*in->tap || strlen(in->tap) >= PLAT_TAP_MAX)
				report(c, where, "tap name '%s' must be 1-%d characters", in->tap,
				       PLAT_TAP_MAX - 1);
			else
				snprintf(d->tap, sizeof(d->tap), "%s", in->tap);
		} else {
			d->type = LVMM_DEV_NET_LINK;
			copy_name(c, where, "link", in->link, d->link);
		}
		if (in->mac && parse_mac(in->mac, d->mac)) {
			snprintf(w, sizeof(w), "%s/mac", where);
			report(c, w, "mac '%s' is not a unicast MAC address: write six hex bytes "
			       "like 52:54:00:12:34:56", in->mac);
		}
		if (in->rate_limit) {
			snprintf(w, sizeof(w), "%s/rate_limit/rx", where);
			conv_rl(c, w, in->rate_limit->rx, &d->rx_rl);
			snprintf(w, sizeof(w), "%s/rate_limit/tx", where);
			conv_rl(c, w, in->rate_limit->tx, &d->tx_rl);
		}
	} else if (!strcmp(in->type, "stream")) {
		d->type = LVMM_DEV_STREAM;
		d->control = in->control;
		if (!!in->socket == in->control)
			report(c, where, "stream device needs either 'socket: PATH' (a Unix socket on the "
			       "host) or 'control: true' (the partition's channel to the control API)");
		else if (in->socket)
			resolve(c, where, in->socket, d->path, sizeof(d->path));
		d->listen = in->listen;
	} else {
		report(c, w, "unknown device type '%s': expected blk, net or stream", in->type);
		return;
	}
	if (in->rate_limit && d->type != LVMM_DEV_NET_TAP && d->type != LVMM_DEV_NET_LINK)
		report(c, where, "rate_limit is supported on net devices only");
	/* Default ids: blk0, net0, net1, stream0 ... counted per type within the partition. */
	for (k = 0; k < di; k++)
		counts[part->devs[k].type]++;
	if (in->id) {
		copy_name(c, where, "device id", in->id, d->id);
	} else {
		const char *base = d->type == LVMM_DEV_BLK ? "blk" : d->type == LVMM_DEV_STREAM ? "stream" : "net";
		unsigned n = d->type == LVMM_DEV_BLK || d->type == LVMM_DEV_STREAM
				     ? counts[d->type]
				     : counts[LVMM_DEV_NET_TAP] + counts[LVMM_DEV_NET_LINK];

		snprintf(d->id, sizeof(d->id), "%s%u", base, n);
	}
}

static void conv_part(struct ctx *c, unsigned pi, const struct raw_part *in, struct plat_part *p)
{
	char where[32], w[64];
	unsigned i;

	snprintf(where, sizeof(where), "partitions/%u", pi);
	plat_part_defaults(p);
	p->line = doc_line(c, where);
	snprintf(w, sizeof(w), "%s/name", where);
	copy_name(c, w, "partition name", in->name, p->name);
	if (in->role) {
		snprintf(w, sizeof(w), "%s/role", where);
		if (!strcmp(in->role, "service"))
			p->role = ROLE_SERVICE;
		else if (strcmp(in->role, "user"))
			report(c, w, "role '%s' is unknown: expected user or service", in->role);
	}
	if (doc_find(c->doc, strcat(strcpy(w, where), "/vcpus"), false)) {
		p->vcpus = in->vcpus;
		if (p->vcpus < 1 || p->vcpus > LVMM_MAX_VCPUS)
			report(c, w, "vcpus: %u is out of range: expected 1-%d", in->vcpus, LVMM_MAX_VCPUS);
	}
	if (in->host_cpus) {
		snprintf(w, sizeof(w), "%s/host_cpus", where);
		if (in->host_cpus_count > LVMM_MAX_VCPUS)
			report(c, w, "host_cpus lists %u CPUs; at most %d", in->host_cpus_count,
			       LVMM_MAX_VCPUS);
		p->n_host_cpus = MIN(in->host_cpus_count, (unsigned)LVMM_MAX_VCPUS);
		for (i = 0; i < p->n_host_cpus; i++)
			p->host_cpus[i] = in->host_cpus[i];
	}
	if (in->memory) {
		snprintf(w, sizeof(w), "%s/memory", where);
		if (parse_size(in->memory, MiB, &p->mem_bytes))
			report(c, w, "memory '%s' is not a size: write e.g. 64M or 2G (a bare "
			       "number is MiB)", in->memory);
	}
	snprintf(w, sizeof(w), "%s/kernel", where);
	resolve(c, w, in->kernel, p->kernel, sizeof(p->kernel));
	if (in->initrd) {
		snprintf(w, sizeof(w), "%s/initrd", where);
		resolve(c, w, in->initrd, p->initrd, sizeof(p->initrd));
	}
	if (in->cmdline) {
		snprintf(w, sizeof(w), "%s/cmdline", where);
		if (strlen(in->cmdline) >= LVMM_CMDLINE_MAX)
			report(c, w, "cmdline is %zu bytes; at most %d", strlen(in->cmdline),
			       LVMM_CMDLINE_MAX - 1);
		else
			snprintf(p->cmdline, sizeof(p->cmdline), "%s", in->cmdline);
	}
	if (in->console) {
		snprintf(w, sizeof(w), "%s/console", where);
		if (!strcmp(in->console, "none")) {
			p->console = CONSOLE_NONE;
		} else if (!strncmp(in->console, "file:", 5) && in->console[5]) {
			p->console = CONSOLE_FILE;
			resolve(c, w, in->console + 5, p->console_path, sizeof(p->console_path));
		} else if (strcmp(in->console, "stdout")) {
			report(c, w, "console '%s' is unknown: expected stdout, none or file:PATH",
			       in->console);
		}
	}
	p->stdin_console = in->stdin_console;
	if (in->restart) {
		snprintf(w, sizeof(w), "%s/restart", where);
		if (!strcmp(in->restart, "on-crash"))
			p->restart = RESTART_ON_CRASH;
		else if (!strcmp(in->restart, "always"))
			p->restart = RESTART_ALWAYS;
		else if (strcmp(in->restart, "never"))
			report(c, w, "restart '%s' is unknown: expected never, on-crash or always",
			       in->restart);
	}
	if (doc_find(c->doc, strcat(strcpy(w, where), "/restart_limit"), false))
		p->restart_limit = in->restart_limit;
	if (doc_find(c->doc, strcat(strcpy(w, where), "/restart_delay_ms"), false)) {
		p->restart_delay_ms = in->restart_delay_ms;
		if (p->restart_delay_ms > 3600 * 1000)
			report(c, w, "restart_delay_ms %u is more than an hour", p->restart_delay_ms);
	}
	p->reboot = in->reboot;
	if (doc_find(c->doc, strcat(strcpy(w, where), "/autostart"), false))
		p->autostart = in->autostart;
	p->test_device = in->test_device;
	if (in->label) {
		snprintf(w, sizeof(w), "%s/label", where);
		copy_name(c, w, "label", in->label, p->label);
	}
	for (i = 0; i < in->cpuid_disable_count; i++) {
		snprintf(w, sizeof(w), "%s/cpuid_disable/%u", where, i);
		if (p->ncpuid_mask == LVMM_MAX_CPUID_MASK) {
			report(c, w, "at most %d cpuid_disable entries", LVMM_MAX_CPUID_MASK);
			break;
		}
		if (cpu_feature_lookup(in->cpuid_disable[i], &p->cpuid_mask[p->ncpuid_mask]))
			report(c, w, "unknown CPU feature '%s': expected one of %s",
			       in->cpuid_disable[i], cpu_feature_names());
		else
			p->ncpuid_mask++;
	}
	if (in->devices_count > LVMM_MAX_DEVS) {
		snprintf(w, sizeof(w), "%s/devices", where);
		report(c, w, "%u devices; a partition has at most %d", in->devices_count,
		       LVMM_MAX_DEVS);
	}
	for (i = 0; i < in->devices_count && i < LVMM_MAX_DEVS; i++) {
		conv_dev(c, pi, i, &in->devices[i], p, &p->devs[i]);
		p->ndevs++;
	}
}

static void conv_link(struct ctx *c, unsigned li, const struct raw_link *in, struct plat_link *l)
{
	char where[32], w[48];
	unsigned i;

	snprintf(where, sizeof(where), "links/%u", li);
	memset(l, 0, sizeof(*l));
	l->line = doc_line(c, where);
	l->part[0] = l->part[1] = l->dev[0] = l->dev[1] = -1;
	snprintf(w, sizeof(w), "%s/name", where);
	copy_name(c, w, "link name", in->name, l->name);
	snprintf(w, sizeof(w), "%s/ends", where);
	if (in->ends_count != 2) {
		report(c, w, "a link has exactly 2 ends (partition names), not %u", in->ends_count);
		return;
	}
	for (i = 0; i < 2; i++)
		copy_name(c, w, "link end", in->ends[i], l->ends[i]);
}

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

/* The mapping schema at a slash path like "partitions/0/devices/1", or NULL. */
static const cyaml_schema_field_t *schema_at(const cyaml_schema_value_t *v, const char *dpath)
{
	char buf[256], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", dpath);
	for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (v->type == CYAML_SEQUENCE) {
			v = v->sequence.entry;
		} else if (v->type == CYAML_MAPPING) {
			const cyaml_schema_field_t *f;

			for (f = v->mapping.fields; f->key && strcmp(f->key, tok); f++)
				;
			if (!f->key)
				return NULL;
			v = &f->value;
		} else {
			return NULL;
		}
	}
	return v->type == CYAML_MAPPING ? v->mapping.fields : NULL;
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
 */
void report_schema_error(struct ctx *c, struct cy_log *l, cyaml_err_t e,
			 const cyaml_schema_value_t *top)
{
	char *lines[32], *save = NULL, *s;
	unsigned n = 0, i;
	char path[256] = "", dpath[256] = "", msg[256] = "", key[128] = "";
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
			prepend(dpath, sizeof(dpath), name, dpath[0] ? "/" : "");
			if (!line)
				line = ln;
		} else if (sscanf(t, " in sequence entry '%127[^']' (line: %d", name, &ln) == 2) {
			/* libcyaml counts entries from 1; the docs and our paths count from 0. */
			long idx = strtol(name, NULL, 10) - 1;

			snprintf(tmp, sizeof(tmp), "[%ld]", idx);
			prepend(path, sizeof(path), tmp, path[0] && path[0] != '[' ? "." : "");
			snprintf(tmp, sizeof(tmp), "%ld", idx);
			prepend(dpath, sizeof(dpath), tmp, dpath[0] ? "/" : "");
			if (!line)
				line = ln;
		} else if (sscanf(t, " in mapping (line: %d", &ln) == 1 && !line) {
			line = ln;
		}
	}
	c->problems++;
	if (!msg[0])
		snprintf(msg, sizeof(msg), "%s", cyaml_strerror(e));
	if (e == CYAML_ERR_INVALID_KEY && sscanf(msg, "Unexpected key: %127s", key) == 1) {
		const cyaml_schema_field_t *f = schema_at(top, dpath);
		char kp[400];

		snprintf(kp, sizeof(kp), "%s%s%s", dpath, dpath[0] ? "/" : "", key);
		if (doc_find(c->doc, kp, true))
			line = doc_line(c, kp);
		fprintf(c->err, "%s:%d: unknown key '%s'%s%s", c->file, line, key,
			path[0] ? " in " : "", path);
		if (f) {
			fprintf(c->err, "; expected one of:");
			for (; f->key; f++)
				fprintf(c->err, " %s", f->key);
		}
		fputc('\n', c->err);
		return;
	}
	{
		/* "Invalid uint64_t value: 'x'" is libcyaml's wording; say what is expected. */
		char kind[32], val[128];

		if (sscanf(msg, "Invalid %31s value: '%127[^']'", kind, val) == 2)
			snprintf(msg, sizeof(msg), "'%s' is not %s", val,
				 strcasestr(kind, "bool") ? "true or false" :
				 strcasestr(kind, "int") ? "a whole number" : "a valid value");
	}
	if (line)
		fprintf(c->err, "%s:%d: %s", c->file, line, msg);
	else
		fprintf(c->err, "%s: %s", c->file, msg);
	if (path[0])
		fprintf(c->err, " (in %s)", path);
	if (e == CYAML_ERR_INVALID_VALUE)
		fprintf(c->err, "; see docs/platform-file.md for each key's type");
	else if (e == CYAML_ERR_MAPPING_FIELD_MISSING)
		fprintf(c->err, "; a partition needs name and kernel, a device type, a link name and ends");
	fputc('\n', c->err);
}

int platform_find(const struct platform *plat, const char *name)
{
	unsigned i;

	for (i = 0; i < plat->nparts; i++)
		if (!strcmp(plat->parts[i].name, name))
			return (int)i;
	return -1;
}

static int validate(struct ctx *c, struct platform *plat);

int platform_load(const char *path, struct platform *plat, FILE *err)
{
	struct cy_log log = { .len = 0 };
	cyaml_config_t cfg = {
		.log_fn = cy_log_fn, .log_ctx = &log, .mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR, .flags = CYAML_CFG_DEFAULT,
	};
	struct raw_platform *raw = NULL;
	struct ctx c = { .err = err, .file = path };
	yaml_document_t doc;
	bool have_doc = false;
	cyaml_err_t e;
	unsigned i;
	char tmp[PLAT_PATH_MAX];

	memset(plat, 0, sizeof(*plat));
	plat->uid_base = PLAT_UID_BASE_DEFAULT;
	plat->uid_count = PLAT_UID_COUNT_DEFAULT;
	snprintf(plat->path, sizeof(plat->path), "%s", path);
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(c.dir, sizeof(c.dir), "%s", dirname(tmp));
	/* Pass 1: the node tree, for line numbers and YAML syntax errors. */
	if (doc_load(&c, path, NULL, 0, &doc))
		return c.problems ? c.problems : 1;
	have_doc = true;
	c.doc = &doc;
	if (!yaml_document_get_root_node(&doc)) {
		fprintf(err, "%s: the file is empty: it needs a 'partitions:' list\n", path);
		yaml_document_delete(&doc);
		return 1;
	}
	/* Pass 2: schema and types. */
	e = cyaml_load_file(path, &cfg, &top_schema, (cyaml_data_t **)&raw, NULL);
	if (e != CYAML_OK) {
		report_schema_error(&c, &log, e, &top_schema);
		goto out;
	}
	if (raw->partitions_count == 0 || raw->partitions_count > PLAT_MAX_PARTS)
		report(&c, "partitions", "%u partitions: expected 1 to %d", raw->partitions_count,
		       PLAT_MAX_PARTS);
	for (i = 0; i < raw->partitions_count && i < PLAT_MAX_PARTS; i++) {
		conv_part(&c, i, &raw->partitions[i], &plat->parts[i]);
		plat->nparts++;
	}
	if (raw->links_count > PLAT_MAX_LINKS)
		report(&c, "links", "%u links: at most %d", raw->links_count, PLAT_MAX_LINKS);
	for (i = 0; i < raw->links_count && i < PLAT_MAX_LINKS; i++) {
		conv_link(&c, i, &raw->links[i], &plat->links[i]);
		plat->nlinks++;
	}
	if (raw->events)
		resolve(&c, "events", raw->events, plat->events_path, sizeof(plat->events_path));
	if (raw->control)
		resolve(&c, "control", raw->control, plat->control_path, sizeof(plat->control_path));
	if (raw->policy && raw->policy_file)
		report(&c, "policy_file", "give either policy: (inline) or policy_file:, not both");
	else if (raw->policy)
		policy_convert(&c, "policy", raw->policy, &plat->policy);
	else if (raw->policy_file) {
		char pf[PLAT_PATH_MAX];

		resolve(&c, "policy_file", raw->policy_file, pf, sizeof(pf));
		if (pf[0])
			c.problems += policy_load(pf, NULL, 0, &plat->policy, err);
	}
	if (!c.problems)
		validate(&c, plat);
out:
	if (raw)
		cyaml_free(&cfg, &top_schema, raw, 0);
	if (have_doc)
		yaml_document_delete(&doc);
	return c.problems;
}

/* ---- semantic checks (shared with the quick form) ----------------------------- */

static void check_file(struct ctx *c, const char *where, const char *what, const char *path,
		       bool want_write)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		report(c, where, "%s '%s': %s", what, path, strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		report(c, where, "%s '%s' is not a regular file", what, path);
		return;
	}
	if (access(path, want_write ? R_OK | W_OK : R_OK) < 0)
		report(c, where, "%s '%s' is not %s: %s", what, path,
		       want_write ? "readable and writable" : "readable", strerror(errno));
}

static uint64_t host_ram(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

	return pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : 0;
}

static void check_part(struct ctx *c, unsigned pi, struct plat_part *p)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t ram = host_ram();
	char w[64];
	unsigned i, j;

	snprintf(w, sizeof(w), "partitions/%u/memory", pi);
	if (p->mem_bytes < MEM_MIN || p->mem_bytes > MEM_MAX)
		report(c, w, "memory %" PRIu64 " MiB is out of range: expected 4M to 1T",
		       p->mem_bytes / MiB);
	else if (ram && p->mem_bytes > ram)
		report(c, w, "memory %" PRIu64 " MiB is more than this host's %" PRIu64 " MiB of RAM",
		       p->mem_bytes / MiB, ram / MiB);
	else if (p->mem_bytes % (4 * KiB))
		report(c, w, "memory must be a multiple of 4K");
	snprintf(w, sizeof(w), "partitions/%u/host_cpus", pi);
	if (p->n_host_cpus && p->n_host_cpus != p->vcpus)
		report(c, w, "host_cpus lists %u CPUs for %u vCPUs: give one host CPU per vCPU",
		       p->n_host_cpus, p->vcpus);
	for (i = 0; i < p->n_host_cpus; i++) {
		if (p->host_cpus[i] < 0 || (ncpu > 0 && p->host_cpus[i] >= ncpu))
			report(c, w, "host CPU %d does not exist: this host has CPUs 0-%ld",
			       p->host_cpus[i], ncpu - 1);
		for (j = 0; j < i; j++)
			if (p->host_cpus[j] == p->host_cpus[i])
				report(c, w, "host CPU %d is listed twice", p->host_cpus[i]);
	}
	snprintf(w, sizeof(w), "partitions/%u/kernel", pi);
	check_file(c, w, "kernel", p->kernel, false);
	if (p->initrd[0]) {
		snprintf(w, sizeof(w), "partitions/%u/initrd", pi);
		check_file(c, w, "initrd", p->initrd, false);
	}
	for (i = 0; i < p->ndevs; i++) {
		struct plat_dev *d = &p->devs[i];

		snprintf(w, sizeof(w), "partitions/%u/devices/%u", pi, i);
		if (d->type == LVMM_DEV_BLK && d->path[0])
			check_file(c, w, "disk image", d->path, !d->readonly);
		if (d->type == LVMM_DEV_NET_TAP && p->role != ROLE_SERVICE)
			report(c, w, "TAP device '%s' in partition '%s' (role %s): a NIC backend may "
			       "only be granted to a partition with role: service; give user "
			       "partitions a link to a service partition instead", d->tap, p->name,
			       plat_role_name(p->role));
		for (j = 0; j < i; j++)
			if (!strcmp(p->devs[j].id, d->id))
				report(c, w, "device id '%s' is used twice in partition '%s'", d->id,
				       p->name);
	}
}

/* Exclusive resources (host CPUs, disk images, TAPs) go to one partition only. */
static void check_exclusive(struct ctx *c, struct platform *plat)
{
	unsigned a, b, i, j;
	char w[64];

	for (a = 0; a < plat->nparts; a++) {
		struct plat_part *pa = &plat->parts[a];

		for (b = 0; b <= a; b++) {
			struct plat_part *pb = &plat->parts[b];

			for (i = 0; a != b && i < pa->n_host_cpus; i++)
				for (j = 0; j < pb->n_host_cpus; j++)
					if (pa->host_cpus[i] == pb->host_cpus[j]) {
						snprintf(w, sizeof(w), "partitions/%u/host_cpus", a);
						report(c, w, "host CPU %d is already dedicated to "
						       "partition '%s'", pa->host_cpus[i], pb->name);
					}
			for (i = 0; i < pa->ndevs; i++) {
				const struct plat_dev *d = &pa->devs[i];

				for (j = 0; j < (a == b ? i : pb->ndevs); j++) {
					const struct plat_dev *e = &pb->devs[j];
					bool same = false;
					struct stat s1, s2;

					if (d->type == LVMM_DEV_BLK && e->type == LVMM_DEV_BLK)
						same = !stat(d->path, &s1) && !stat(e->path, &s2) &&
						       s1.st_dev == s2.st_dev && s1.st_ino == s2.st_ino;
					else if (d->type == LVMM_DEV_NET_TAP && e->type == LVMM_DEV_NET_TAP)
						same = !strcmp(d->tap, e->tap);
					else if (d->type == LVMM_DEV_STREAM && e->type == LVMM_DEV_STREAM)
						same = !d->control && !e->control && !strcmp(d->path, e->path);
					if (same) {
						snprintf(w, sizeof(w), "partitions/%u/devices/%u", a, i);
						report(c, w, "%s is already assigned to partition '%s' "
						       "(device %s): exclusive resources go to one "
						       "partition only",
						       d->type == LVMM_DEV_NET_TAP ? "this TAP device"
						       : d->type == LVMM_DEV_BLK ? "this disk image"
										: "this socket",
						       pb->name, e->id);
					}
				}
			}
		}
	}
}

static void check_links(struct ctx *c, struct platform *plat)
{
	unsigned li, e, i, k;
	char w[64];

	for (li = 0; li < plat->nlinks; li++) {
		struct plat_link *l = &plat->links[li];

		snprintf(w, sizeof(w), "links/%u", li);
		for (k = 0; k < li; k++)
			if (!strcmp(plat->links[k].name, l->name))
				report(c, w, "link '%s' is defined twice", l->name);
		if (l->ends[0][0] && !strcmp(l->ends[0], l->ends[1]))
			report(c, w, "link '%s' joins partition '%s' to itself", l->name, l->ends[0]);
		for (e = 0; e < 2; e++) {
			int p = platform_find(plat, l->ends[e]);

			if (!l->ends[e][0])
				continue;
			if (p < 0) {
				report(c, w, "link '%s': no partition called '%s'", l->name, l->ends[e]);
				continue;
			}
			l->part[e] = p;
			for (i = 0; i < plat->parts[p].ndevs; i++) {
				const struct plat_dev *d = &plat->parts[p].devs[i];

				if (d->type == LVMM_DEV_NET_LINK && !strcmp(d->link, l->name)) {
					if (l->dev[e] >= 0)
						report(c, w, "partition '%s' has two net devices on link "
						       "'%s'", l->ends[e], l->name);
					l->dev[e] = (int)i;
				}
			}
			if (l->dev[e] < 0)
				report(c, w, "link '%s': partition '%s' has no device "
				       "'{ type: net, link: %s }'", l->name, l->ends[e], l->name);
		}
	}
	/* Every link device must name a declared link that includes its partition. */
	for (k = 0; k < plat->nparts; k++) {
		for (i = 0; i < plat->parts[k].ndevs; i++) {
			const struct plat_dev *d = &plat->parts[k].devs[i];
			bool found = false;

			if (d->type != LVMM_DEV_NET_LINK)
				continue;
			for (li = 0; li < plat->nlinks && !found; li++)
				found = !strcmp(plat->links[li].name, d->link) &&
					(!strcmp(plat->links[li].ends[0], plat->parts[k].name) ||
					 !strcmp(plat->links[li].ends[1], plat->parts[k].name));
			if (!found) {
				snprintf(w, sizeof(w), "partitions/%u/devices/%u/link", k, i);
				report(c, w, "link '%s' is not declared with partition '%s' as an end: "
				       "add '{ name: %s, ends: [%s, OTHER] }' under links:", d->link,
				       plat->parts[k].name, d->link, plat->parts[k].name);
			}
		}
	}
}

static int validate(struct ctx *c, struct platform *plat)
{
	unsigned i, j;
	char w[64];

	for (i = 0; i < plat->nparts; i++) {
		for (j = 0; j < i; j++)
			if (plat->parts[i].name[0] && !strcmp(plat->parts[i].name, plat->parts[j].name)) {
				snprintf(w, sizeof(w), "partitions/%u/name", i);
				report(c, w, "partition name '%s' is used twice", plat->parts[i].name);
			}
		check_part(c, i, &plat->parts[i]);
	}
	check_exclusive(c, plat);
	check_links(c, plat);
	for (i = 0, j = 0; i < plat->nparts; i++)
		j += plat->parts[i].stdin_console;
	if (j > 1)
		report(c, "partitions", "%u partitions ask for stdin: only one can own the terminal", j);
	return c->problems;
}

int platform_validate(struct platform *plat, FILE *err)
{
	struct ctx c = { .err = err, .file = plat->path[0] ? plat->path : NULL };

	return validate(&c, plat);
}
