// SPDX-License-Identifier: MIT
/*
 * Platform file: schema (libcyaml), conversion into the model, and the
 * checks `lvmm check` runs. The text is bounded and parsed once into a
 * libyaml node tree (yaml_util.c), which gives every message its line and
 * lets the schema walk name every structural problem; libcyaml then maps
 * the same text onto the raw structs below. Every scalar is read as a
 * string and converted here, strictly (no octal, no silent truncation).
 */
#include "config/platform.h"

#include <ctype.h>
#include <cyaml/cyaml.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <yaml.h>

#include "config/cpufeatures.h"
#include "lvmm/guest_abi.h"
#include "config/policy_load.h"
#include "config/yaml_util.h"
#include "lvmm/trust_proto.h"
#include "shared/parse.h"
#include "shared/range.h"

#define MEM_MIN (4 * MiB)
#define MEM_MAX (1024 * GiB)
#define DEFAULT_MEM (128 * MiB)
#define CONSOLE_LIMIT_MIN (4 * KiB)
#define CONSOLE_LIMIT_MAX (1024 * GiB)
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))

/* ---- raw form, as libcyaml loads it (every scalar a string) --------------------- */

struct raw_rl {
	char *bandwidth; /* bytes per second, with size suffix */
	char *burst;
	char *ops;
	char *ops_burst;
};

struct raw_rate {
	struct raw_rl *rx;
	struct raw_rl *tx;
};

struct raw_dev {
	char *type;
	char *id;
	char *path;
	char *readonly;
	char *tap;
	char *link;
	char *mac;
	char *socket;
	char *listen;
	char *control;
	char *state;
	struct raw_rate *rate_limit;
};

struct raw_prot {
	char *start;
	char *size;
	char *region;
};

struct raw_wdog {
	char *timeout_ms;
	char *action;
};

struct raw_verify {
	char *manifest;
	char *signature;
	char *key;
	char *on_fail;
};

struct raw_safe {
	char *kernel;
	char *initrd;
	char *cmdline;
	struct raw_verify *verify;
};

struct raw_part {
	char *name;
	char *role;
	char *vcpus;
	char **host_cpus;
	unsigned host_cpus_count;
	char *memory;
	char *kernel;
	char *initrd;
	char *cmdline;
	char *console;
	char *console_limit;
	char *stdin_console;
	char *restart;
	char *restart_limit;
	char *restart_delay_ms;
	char *reboot;
	char *autostart;
	char *test_device;
	char *label;
	char **cpuid_disable;
	unsigned cpuid_disable_count;
	struct raw_dev *devices;
	unsigned devices_count;
	struct raw_prot *protect;
	unsigned protect_count;
	char *on_violation;
	struct raw_wdog *watchdog;
	struct raw_verify *verify;
	struct raw_safe *safe_image;
};

struct raw_link {
	char *name;
	char **ends;
	unsigned ends_count;
};

struct raw_ids {
	char *uid_base;
	char *count;
};

struct raw_remote {
	char *listen;
	char *cert;
	char *key;
	char *client_ca;
};

struct raw_sleep {
	char **hook;
	unsigned hook_count;
	char *hook_timeout_ms;
	char *recheck_ms;
};

struct raw_platform {
	struct raw_part *partitions;
	unsigned partitions_count;
	struct raw_link *links;
	unsigned links_count;
	char *events;
	char *control;
	struct raw_ids *identities;
	struct raw_policy *policy;
	char *policy_file;
	struct raw_remote *remote;
	struct raw_sleep *sleep;
};

#define OPT CYAML_FLAG_OPTIONAL
#define OPT_PTR (CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER)
#define STR(key, s, m) CYAML_FIELD_STRING_PTR(key, OPT_PTR, s, m, 0, CYAML_UNLIMITED)
#define STR_REQ(key, s, m) CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER, s, m, 0, CYAML_UNLIMITED)

static const cyaml_schema_value_t str_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

static const cyaml_schema_field_t rl_fields[] = {
	STR("bandwidth", struct raw_rl, bandwidth),
	STR("burst", struct raw_rl, burst),
	STR("ops", struct raw_rl, ops),
	STR("ops_burst", struct raw_rl, ops_burst),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t rate_fields[] = {
	CYAML_FIELD_MAPPING_PTR("rx", OPT_PTR, struct raw_rate, rx, rl_fields),
	CYAML_FIELD_MAPPING_PTR("tx", OPT_PTR, struct raw_rate, tx, rl_fields),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t dev_fields[] = {
	STR_REQ("type", struct raw_dev, type),
	STR("id", struct raw_dev, id),
	STR("path", struct raw_dev, path),
	STR("readonly", struct raw_dev, readonly),
	STR("tap", struct raw_dev, tap),
	STR("link", struct raw_dev, link),
	STR("mac", struct raw_dev, mac),
	STR("socket", struct raw_dev, socket),
	STR("listen", struct raw_dev, listen),
	STR("control", struct raw_dev, control),
	STR("state", struct raw_dev, state),
	CYAML_FIELD_MAPPING_PTR("rate_limit", OPT_PTR, struct raw_dev, rate_limit, rate_fields),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t dev_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_dev, dev_fields),
};

static const cyaml_schema_field_t prot_fields[] = {
	STR("start", struct raw_prot, start),
	STR("size", struct raw_prot, size),
	STR("region", struct raw_prot, region),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t prot_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_prot, prot_fields),
};

static const cyaml_schema_field_t wdog_fields[] = {
	STR_REQ("timeout_ms", struct raw_wdog, timeout_ms),
	STR("action", struct raw_wdog, action),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t verify_fields[] = {
	STR_REQ("manifest", struct raw_verify, manifest),
	STR_REQ("signature", struct raw_verify, signature),
	STR_REQ("key", struct raw_verify, key),
	STR("on_fail", struct raw_verify, on_fail),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t safe_fields[] = {
	STR_REQ("kernel", struct raw_safe, kernel),
	STR("initrd", struct raw_safe, initrd),
	STR("cmdline", struct raw_safe, cmdline),
	CYAML_FIELD_MAPPING_PTR("verify", OPT_PTR, struct raw_safe, verify, verify_fields),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t part_fields[] = {
	STR_REQ("name", struct raw_part, name),
	STR("role", struct raw_part, role),
	STR("vcpus", struct raw_part, vcpus),
	CYAML_FIELD_SEQUENCE("host_cpus", OPT_PTR, struct raw_part, host_cpus, &str_entry, 0,
			     CYAML_UNLIMITED),
	STR("memory", struct raw_part, memory),
	STR_REQ("kernel", struct raw_part, kernel),
	STR("initrd", struct raw_part, initrd),
	STR("cmdline", struct raw_part, cmdline),
	STR("console", struct raw_part, console),
	STR("console_limit", struct raw_part, console_limit),
	STR("stdin", struct raw_part, stdin_console),
	STR("restart", struct raw_part, restart),
	STR("restart_limit", struct raw_part, restart_limit),
	STR("restart_delay_ms", struct raw_part, restart_delay_ms),
	STR("reboot", struct raw_part, reboot),
	STR("autostart", struct raw_part, autostart),
	STR("test_device", struct raw_part, test_device),
	STR("label", struct raw_part, label),
	CYAML_FIELD_SEQUENCE("cpuid_disable", OPT_PTR, struct raw_part, cpuid_disable, &str_entry, 0,
			     CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("devices", OPT_PTR, struct raw_part, devices, &dev_entry, 0,
			     CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("protect", OPT_PTR, struct raw_part, protect, &prot_entry, 0,
			     CYAML_UNLIMITED),
	STR("on_violation", struct raw_part, on_violation),
	CYAML_FIELD_MAPPING_PTR("watchdog", OPT_PTR, struct raw_part, watchdog, wdog_fields),
	CYAML_FIELD_MAPPING_PTR("verify", OPT_PTR, struct raw_part, verify, verify_fields),
	CYAML_FIELD_MAPPING_PTR("safe_image", OPT_PTR, struct raw_part, safe_image, safe_fields),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t part_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_part, part_fields),
};

static const cyaml_schema_field_t link_fields[] = {
	STR_REQ("name", struct raw_link, name),
	CYAML_FIELD_SEQUENCE("ends", CYAML_FLAG_POINTER, struct raw_link, ends, &str_entry, 0,
			     CYAML_UNLIMITED),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t link_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_link, link_fields),
};

static const cyaml_schema_field_t ids_fields[] = {
	STR("uid_base", struct raw_ids, uid_base),
	STR("count", struct raw_ids, count),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t remote_fields[] = {
	STR_REQ("listen", struct raw_remote, listen),
	STR_REQ("cert", struct raw_remote, cert),
	STR_REQ("key", struct raw_remote, key),
	STR_REQ("client_ca", struct raw_remote, client_ca),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t sleep_fields[] = {
	CYAML_FIELD_SEQUENCE("hook", OPT_PTR, struct raw_sleep, hook, &str_entry, 0, CYAML_UNLIMITED),
	STR("hook_timeout_ms", struct raw_sleep, hook_timeout_ms),
	STR("recheck_ms", struct raw_sleep, recheck_ms),
	CYAML_FIELD_END
};

static const cyaml_schema_field_t top_fields[] = {
	CYAML_FIELD_SEQUENCE("partitions", CYAML_FLAG_POINTER, struct raw_platform, partitions,
			     &part_entry, 0, CYAML_UNLIMITED),
	CYAML_FIELD_SEQUENCE("links", OPT_PTR, struct raw_platform, links, &link_entry, 0,
			     CYAML_UNLIMITED),
	STR("events", struct raw_platform, events),
	STR("control", struct raw_platform, control),
	CYAML_FIELD_MAPPING_PTR("identities", OPT_PTR, struct raw_platform, identities, ids_fields),
	CYAML_FIELD_MAPPING_PTR("policy", OPT_PTR, struct raw_platform, policy, policy_fields),
	STR("policy_file", struct raw_platform, policy_file),
	CYAML_FIELD_MAPPING_PTR("remote", OPT_PTR, struct raw_platform, remote, remote_fields),
	CYAML_FIELD_MAPPING_PTR("sleep", OPT_PTR, struct raw_platform, sleep, sleep_fields),
	CYAML_FIELD_END
};
static const cyaml_schema_value_t top_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw_platform, top_fields),
};

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
	p->console_limit = PLAT_CONSOLE_LIMIT_DEFAULT;
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

/* "where/key" into buf (paths are short: keys are the schema's). */
static const char *at(char *buf, size_t n, const char *where, const char *key)
{
	snprintf(buf, n, "%s/%s", where, key);
	return buf;
}

/* An optional boolean: left as it is when absent or refused. */
static bool opt_bool(struct ctx *c, const char *where, const char *key, const char *s, bool *out)
{
	char w[128];

	return !s || cfg_bool(c, at(w, sizeof(w), where, key), key, s, out);
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

static bool conv_rl(struct ctx *c, const char *where, const struct raw_rl *in,
		    struct lvmm_rate_limit *out)
{
	char w[200];
	bool ok = true;

	if (!in)
		return true;
	if (in->bandwidth && parse_size(in->bandwidth, 1, &out->bytes_per_sec)) {
		report(c, at(w, sizeof(w), where, "bandwidth"), "bandwidth '%s' is not a byte rate: "
		       "write e.g. 10M (bytes per second, suffix K/M/G)", in->bandwidth);
		ok = false;
	}
	if (in->burst && parse_size(in->burst, 1, &out->bytes_burst)) {
		report(c, at(w, sizeof(w), where, "burst"), "burst '%s' is not a size: write e.g. 64K",
		       in->burst);
		ok = false;
	}
	if (in->ops && !cfg_uint(c, at(w, sizeof(w), where, "ops"), "ops", in->ops, UINT32_MAX,
				 &out->ops_per_sec))
		ok = false;
	if (in->ops_burst && !cfg_uint(c, at(w, sizeof(w), where, "ops_burst"), "ops_burst",
				       in->ops_burst, UINT32_MAX, &out->ops_burst))
		ok = false;
	/* A bucket holds at least one second's worth unless told otherwise. */
	if (out->bytes_per_sec && !out->bytes_burst)
		out->bytes_burst = out->bytes_per_sec;
	if (out->ops_per_sec && !out->ops_burst)
		out->ops_burst = out->ops_per_sec;
	return ok;
}

/* Default ids: blk0, net0, net1, stream0 ... counted per kind within the partition. */
static void default_dev_id(const struct plat_part *part, unsigned di, struct plat_dev *d)
{
	unsigned k, n = 0;
	bool net = d->type == LVMM_DEV_NET_TAP || d->type == LVMM_DEV_NET_LINK;

	for (k = 0; k < di; k++) {
		uint32_t t = part->devs[k].type;

		n += net ? (t == LVMM_DEV_NET_TAP || t == LVMM_DEV_NET_LINK) : t == d->type;
	}
	snprintf(d->id, sizeof(d->id), "%s%u",
		 d->type == LVMM_DEV_BLK ? "blk" : d->type == LVMM_DEV_STREAM ? "stream" :
		 d->type == LVMM_DEV_TPM ? "tpm" : "net", n);
}

static void conv_dev(struct ctx *c, unsigned pi, unsigned di, const struct raw_dev *in,
		     struct plat_part *part, struct plat_dev *d)
{
	char where[64], w[96];
	bool ok = true;

	snprintf(where, sizeof(where), "partitions/%u/devices/%u", pi, di);
	memset(d, 0, sizeof(*d));
	d->line = doc_line(c, where);
	if (!strcmp(in->type, "blk")) {
		d->type = LVMM_DEV_BLK;
		if (!in->path) {
			report(c, where, "blk device needs 'path:' (a raw disk image)");
			ok = false;
		} else {
			ok &= resolve(c, where, in->path, d->path, sizeof(d->path));
		}
		ok &= opt_bool(c, where, "readonly", in->readonly, &d->readonly);
	} else if (!strcmp(in->type, "net")) {
		if (!!in->tap == !!in->link) {
			report(c, where, "net device needs exactly one of 'tap: NAME' (a host TAP "
			       "device) or 'link: NAME' (a link to another partition)");
			ok = false;
			d->type = LVMM_DEV_NET_TAP; /* for its default id only */
		} else if (in->tap) {
			d->type = LVMM_DEV_NET_TAP;
			if (!*in->tap || strlen(in->tap) >= PLAT_TAP_MAX) {
				report(c, where, "tap name '%.40s' must be 1-%d characters", in->tap,
				       PLAT_TAP_MAX - 1);
				ok = false;
			} else {
				snprintf(d->tap, sizeof(d->tap), "%s", in->tap);
			}
		} else {
			d->type = LVMM_DEV_NET_LINK;
			ok &= copy_name(c, where, "link", in->link, d->link);
		}
		if (in->mac && parse_mac(in->mac, d->mac)) {
			report(c, at(w, sizeof(w), where, "mac"), "mac '%.40s' is not a unicast MAC "
			       "address: write six hex bytes like 52:54:00:12:34:56", in->mac);
			ok = false;
		}
		if (in->rate_limit) {
			ok &= conv_rl(c, at(w, sizeof(w), where, "rate_limit/rx"), in->rate_limit->rx,
				      &d->rx_rl);
			ok &= conv_rl(c, at(w, sizeof(w), where, "rate_limit/tx"), in->rate_limit->tx,
				      &d->tx_rl);
		}
	} else if (!strcmp(in->type, "stream")) {
		d->type = LVMM_DEV_STREAM;
		ok &= opt_bool(c, where, "control", in->control, &d->control);
		ok &= opt_bool(c, where, "listen", in->listen, &d->listen);
		if (!!in->socket == d->control) {
			report(c, where, "stream device needs either 'socket: PATH' (a Unix socket on the "
			       "host) or 'control: true' (the partition's channel to the control API)");
			ok = false;
		} else if (in->socket) {
			ok &= resolve(c, where, in->socket, d->path, sizeof(d->path));
		}
	} else if (!strcmp(in->type, "tpm")) {
		d->type = LVMM_DEV_TPM;
		if (!in->state) {
			report(c, where, "tpm device needs 'state: DIR' (the vTPM's private state "
			       "directory, created if missing)");
			ok = false;
		} else {
			ok &= resolve(c, where, in->state, d->path, sizeof(d->path));
		}
	} else {
		report(c, at(w, sizeof(w), where, "type"), "unknown device type '%.40s': expected "
		       "blk, net, stream or tpm", in->type);
		d->bad = true;
		d->type = LVMM_DEV_NONE;
		snprintf(d->id, sizeof(d->id), "dev%u", di);
		return;
	}
	if (in->rate_limit && d->type != LVMM_DEV_NET_TAP && d->type != LVMM_DEV_NET_LINK) {
		report(c, where, "rate_limit is supported on net devices only");
		ok = false;
	}
	if (!in->id) {
		default_dev_id(part, di, d);
	} else if (!copy_name(c, where, "device id", in->id, d->id)) {
		snprintf(d->id, sizeof(d->id), "dev%u", di); /* a name for later messages */
		ok = false;
	}
	d->bad = !ok;
}

static void conv_console(struct ctx *c, const char *w, const char *in, struct plat_part *p)
{
	if (!strcmp(in, "none")) {
		p->console = CONSOLE_NONE;
	} else if (!strncmp(in, "file:", 5) && in[5]) {
		p->console = CONSOLE_FILE;
		if (!resolve(c, w, in + 5, p->console_path, sizeof(p->console_path)))
			p->bad |= PLAT_BAD_CONSOLE;
	} else if (strcmp(in, "stdout")) {
		report(c, w, "console '%.80s' is unknown: expected stdout, none or file:PATH", in);
		p->bad |= PLAT_BAD_CONSOLE;
	}
}

/* protect:, on_violation:, watchdog: (docs/protect.md). */
static void conv_protect(struct ctx *c, const char *where, const struct raw_part *in,
			 struct plat_part *p)
{
	static const char *const acts[] = { "block", "log", "pause", "stop", "restart", "isolate" };
	char w[96];
	unsigned i, k;
	uint64_t v;

	if (in->protect_count > LVMM_MAX_PROTECT)
		report(c, at(w, sizeof(w), where, "protect"), "protect lists %u ranges; a partition "
		       "has at most %d (config and run-time locks together)", in->protect_count,
		       LVMM_MAX_PROTECT);
	for (i = 0; i < in->protect_count && i < LVMM_MAX_PROTECT; i++) {
		const struct raw_prot *r = &in->protect[i];
		struct lvmm_prot_range *o = &p->protect[p->nprotect];

		snprintf(w, sizeof(w), "%s/protect/%u", where, i);
		memset(o, 0, sizeof(*o));
		if (r->region) {
			if (r->start || r->size) {
				report(c, w, "a protect entry has either 'region:' or 'start:' and "
				       "'size:', not both");
				continue;
			}
			if (!strcmp(r->region, "kernel_text"))
				o->region = LVMM_PROT_KERNEL_TEXT;
			else if (!strcmp(r->region, "kernel_rodata"))
				o->region = LVMM_PROT_KERNEL_RODATA;
			else {
				report(c, w, "protect region '%.40s' is unknown: expected kernel_text "
				       "or kernel_rodata", r->region);
				continue;
			}
			p->protect_at[p->nprotect++] = i;
			continue;
		}
		if (!r->start || !r->size) {
			report(c, w, "a protect entry needs 'start:' and 'size:' (guest-physical, "
			       "page-aligned), or 'region: kernel_text|kernel_rodata'");
			continue;
		}
		if (!cfg_uint(c, w, "start", r->start, UINT64_MAX, &o->gpa))
			continue;
		if (parse_size(r->size, 1, &o->size) || !o->size) {
			report(c, w, "protect size '%.40s' is not a size: write e.g. 4K or 2M", r->size);
			continue;
		}
		if (o->gpa % 4096 || o->size % 4096 || o->gpa + o->size < o->gpa) {
			report(c, w, "protect range 0x%" PRIx64 "+0x%" PRIx64 " is not page-aligned: "
			       "start and size must be multiples of 4K", o->gpa, o->size);
			continue;
		}
		p->protect_at[p->nprotect++] = i;
	}
	if (in->on_violation) {
		for (k = 0; k < ARRAY_SIZE(acts) && strcmp(in->on_violation, acts[k]); k++)
			;
		if (k == ARRAY_SIZE(acts))
			report(c, at(w, sizeof(w), where, "on_violation"), "on_violation '%.40s' is "
			       "unknown: expected log, block, pause, stop, restart or isolate",
			       in->on_violation);
		else
			p->on_violation = k; /* the table follows enum lvmm_violation_action */
	}
	if (in->watchdog) {
		at(w, sizeof(w), where, "watchdog");
		if (cfg_uint(c, w, "timeout_ms", in->watchdog->timeout_ms, 3600 * 1000, &v)) {
			if (v < 10)
				report(c, w, "watchdog timeout_ms %" PRIu64 " is too short: at least 10",
				       v);
			else
				p->watchdog_ms = (uint32_t)v;
		}
		if (!in->watchdog->action || !strcmp(in->watchdog->action, "restart"))
			p->watchdog_action = LVMM_WDOG_RESTART;
		else if (!strcmp(in->watchdog->action, "stop"))
			p->watchdog_action = LVMM_WDOG_STOP;
		else if (!strcmp(in->watchdog->action, "event"))
			p->watchdog_action = LVMM_WDOG_EVENT;
		else
			report(c, w, "watchdog action '%.40s' is unknown: expected restart, stop or "
			       "event", in->watchdog->action);
	}
}

/* verify: { manifest, signature, key, on_fail } at where. */
static void conv_verify(struct ctx *c, const char *where, const struct raw_verify *in,
			struct plat_verify *v)
{
	char w[96];

	v->on = true;
	v->on_fail = LVMM_TRUST_REFUSE;
	v->bad = !resolve(c, at(w, sizeof(w), where, "manifest"), in->manifest, v->manifest,
			  sizeof(v->manifest));
	v->bad |= !resolve(c, at(w, sizeof(w), where, "signature"), in->signature, v->signature,
			   sizeof(v->signature));
	v->bad |= !resolve(c, at(w, sizeof(w), where, "key"), in->key, v->key, sizeof(v->key));
	if (!in->on_fail || !strcmp(in->on_fail, "refuse"))
		return;
	if (!strcmp(in->on_fail, "safe_image")) {
		v->on_fail = LVMM_TRUST_SAFE_IMAGE;
		return;
	}
	report(c, at(w, sizeof(w), where, "on_fail"), "on_fail '%.40s' is unknown: expected refuse "
	       "or safe_image", in->on_fail);
	v->bad = true;
}

/* safe_image: { kernel, initrd, cmdline, verify } */
static void conv_safe(struct ctx *c, const char *where, const struct raw_safe *in,
		      struct plat_part *p)
{
	struct plat_safe *sf = &p->safe;
	char w[96];

	sf->on = true;
	if (!resolve(c, at(w, sizeof(w), where, "kernel"), in->kernel, sf->kernel,
		     sizeof(sf->kernel)) ||
	    (in->initrd && !resolve(c, at(w, sizeof(w), where, "initrd"), in->initrd, sf->initrd,
				    sizeof(sf->initrd))))
		p->bad |= PLAT_BAD_SAFE;
	if (in->cmdline && strlen(in->cmdline) >= LVMM_CMDLINE_MAX)
		report(c, at(w, sizeof(w), where, "cmdline"), "cmdline is %zu bytes; at most %d",
		       strlen(in->cmdline), LVMM_CMDLINE_MAX - 1);
	else if (in->cmdline)
		snprintf(sf->cmdline, sizeof(sf->cmdline), "%s", in->cmdline);
	if (in->verify)
		conv_verify(c, at(w, sizeof(w), where, "verify"), in->verify, &sf->verify);
	else
		report(c, where, "safe_image needs its own 'verify: { manifest, signature, key }': "
		       "a safe image boots only verified");
}

static void conv_part(struct ctx *c, unsigned pi, const struct raw_part *in, struct plat_part *p)
{
	char where[32], w[64];
	uint64_t v;
	unsigned i;

	snprintf(where, sizeof(where), "partitions/%u", pi);
	plat_part_defaults(p);
	p->line = doc_line(c, where);
	if (!copy_name(c, at(w, sizeof(w), where, "name"), "partition name", in->name, p->name))
		p->bad |= PLAT_BAD_NAME;
	if (in->role) {
		if (!strcmp(in->role, "service"))
			p->role = ROLE_SERVICE;
		else if (strcmp(in->role, "user"))
			report(c, at(w, sizeof(w), where, "role"), "role '%.40s' is unknown: expected "
			       "user or service", in->role);
	}
	if (in->vcpus) {
		at(w, sizeof(w), where, "vcpus");
		if (!cfg_uint(c, w, "vcpus", in->vcpus, UINT32_MAX, &v)) {
			p->bad |= PLAT_BAD_VCPUS;
		} else if (v < 1 || v > LVMM_MAX_VCPUS) {
			report(c, w, "vcpus: %" PRIu64 " is out of range: expected 1-%d", v,
			       LVMM_MAX_VCPUS);
			p->bad |= PLAT_BAD_VCPUS;
		} else {
			p->vcpus = (unsigned)v;
		}
	}
	if (in->host_cpus) {
		at(w, sizeof(w), where, "host_cpus");
		if (in->host_cpus_count > LVMM_MAX_VCPUS)
			report(c, w, "host_cpus lists %u CPUs; at most %d", in->host_cpus_count,
			       LVMM_MAX_VCPUS);
		for (i = 0; i < in->host_cpus_count && i < LVMM_MAX_VCPUS; i++) {
			char wi[80];

			snprintf(wi, sizeof(wi), "%s/%u", w, i);
			if (cfg_uint(c, wi, "host CPU", in->host_cpus[i], INT32_MAX, &v))
				p->host_cpus[p->n_host_cpus++] = (int)v;
		}
	}
	if (in->memory && parse_size(in->memory, MiB, &p->mem_bytes)) {
		report(c, at(w, sizeof(w), where, "memory"), "memory '%.40s' is not a size: write "
		       "e.g. 64M or 2G (a bare number is MiB)", in->memory);
		p->bad |= PLAT_BAD_MEMORY;
	}
	if (!resolve(c, at(w, sizeof(w), where, "kernel"), in->kernel, p->kernel, sizeof(p->kernel)))
		p->bad |= PLAT_BAD_KERNEL;
	if (in->initrd &&
	    !resolve(c, at(w, sizeof(w), where, "initrd"), in->initrd, p->initrd, sizeof(p->initrd)))
		p->bad |= PLAT_BAD_INITRD;
	if (in->cmdline) {
		if (strlen(in->cmdline) >= LVMM_CMDLINE_MAX)
			report(c, at(w, sizeof(w), where, "cmdline"), "cmdline is %zu bytes; at most %d",
			       strlen(in->cmdline), LVMM_CMDLINE_MAX - 1);
		else
			snprintf(p->cmdline, sizeof(p->cmdline), "%s", in->cmdline);
	}
	if (in->console)
		conv_console(c, at(w, sizeof(w), where, "console"), in->console, p);
	if (in->console_limit && parse_size(in->console_limit, 1, &p->console_limit)) {
		report(c, at(w, sizeof(w), where, "console_limit"), "console_limit '%.40s' is not a "
		       "size: write e.g. 64M (a bare number is bytes)", in->console_limit);
		p->console_limit = PLAT_CONSOLE_LIMIT_DEFAULT;
	}
	(void)opt_bool(c, where, "stdin", in->stdin_console, &p->stdin_console);
	if (in->restart) {
		if (!strcmp(in->restart, "on-crash"))
			p->restart = RESTART_ON_CRASH;
		else if (!strcmp(in->restart, "always"))
			p->restart = RESTART_ALWAYS;
		else if (strcmp(in->restart, "never"))
			report(c, at(w, sizeof(w), where, "restart"), "restart '%.40s' is unknown: "
			       "expected never, on-crash or always", in->restart);
	}
	if (in->restart_limit &&
	    cfg_uint(c, at(w, sizeof(w), where, "restart_limit"), "restart_limit", in->restart_limit,
		     UINT32_MAX, &v))
		p->restart_limit = (unsigned)v;
	if (in->restart_delay_ms &&
	    cfg_uint(c, at(w, sizeof(w), where, "restart_delay_ms"), "restart_delay_ms",
		     in->restart_delay_ms, 3600 * 1000, &v))
		p->restart_delay_ms = (unsigned)v;
	(void)opt_bool(c, where, "reboot", in->reboot, &p->reboot);
	(void)opt_bool(c, where, "autostart", in->autostart, &p->autostart);
	(void)opt_bool(c, where, "test_device", in->test_device, &p->test_device);
	if (in->label && !copy_name(c, at(w, sizeof(w), where, "label"), "label", in->label, p->label))
		p->bad |= PLAT_BAD_LABEL;
	for (i = 0; i < in->cpuid_disable_count; i++) {
		snprintf(w, sizeof(w), "%s/cpuid_disable/%u", where, i);
		if (p->ncpuid_mask == LVMM_MAX_CPUID_MASK) {
			report(c, w, "at most %d cpuid_disable entries", LVMM_MAX_CPUID_MASK);
			break;
		}
		if (cpu_feature_lookup(in->cpuid_disable[i], &p->cpuid_mask[p->ncpuid_mask]))
			report(c, w, "unknown CPU feature '%.40s': expected one of %s",
			       in->cpuid_disable[i], cpu_feature_names());
		else
			p->ncpuid_mask++;
	}
	if (in->devices_count > LVMM_MAX_DEVS)
		report(c, at(w, sizeof(w), where, "devices"), "%u devices; a partition has at most %d",
		       in->devices_count, LVMM_MAX_DEVS);
	for (i = 0; i < in->devices_count && i < LVMM_MAX_DEVS; i++) {
		conv_dev(c, pi, i, &in->devices[i], p, &p->devs[i]);
		p->ndevs++;
	}
	conv_protect(c, where, in, p);
	if (in->verify)
		conv_verify(c, at(w, sizeof(w), where, "verify"), in->verify, &p->verify);
	if (in->safe_image)
		conv_safe(c, at(w, sizeof(w), where, "safe_image"), in->safe_image, p);
}

static void conv_link(struct ctx *c, unsigned li, const struct raw_link *in, struct plat_link *l)
{
	char where[32], w[48];
	unsigned i;

	snprintf(where, sizeof(where), "links/%u", li);
	memset(l, 0, sizeof(*l));
	l->line = doc_line(c, where);
	l->part[0] = l->part[1] = l->dev[0] = l->dev[1] = -1;
	copy_name(c, at(w, sizeof(w), where, "name"), "link name", in->name, l->name);
	at(w, sizeof(w), where, "ends");
	if (in->ends_count != 2) {
		report(c, w, "a link has exactly 2 ends (partition names), not %u", in->ends_count);
		return;
	}
	for (i = 0; i < 2; i++)
		copy_name(c, w, "link end", in->ends[i], l->ends[i]);
}

/* identities: { uid_base: N, count: N } (docs/platform-file.md, "Identities"). */
static void conv_ids(struct ctx *c, const struct raw_ids *in, struct platform *plat)
{
	uint64_t v;

	if (in->uid_base && cfg_uint(c, "identities/uid_base", "uid_base", in->uid_base,
				     UINT32_MAX, &v))
		plat->uid_base = (uint32_t)v;
	if (in->count && cfg_uint(c, "identities/count", "count", in->count, UINT32_MAX, &v))
		plat->uid_count = (uint32_t)v;
}

/*
 * sleep: { recheck_ms: N } (docs/acpi.md, "Sleep"). A host hook is no
 * longer the supervisor's to run (it would run a host program with the
 * supervisor's rights whenever a guest's S3 write and idle services let it):
 * `lvmm ctl SOCKET on-sleep PROGRAM ARGS...` does it from outside the
 * trusted core. A file that still has one is told so, not silently obeyed less.
 */
static void conv_sleep(struct ctx *c, const struct raw_sleep *in, struct platform *plat)
{
	uint64_t v;

	if (in->hook_count || in->hook_timeout_ms)
		report(c, in->hook_count ? "sleep/hook" : "sleep/hook_timeout_ms",
		       "lvmm runs no host hook when the platform sleeps any more: run 'lvmm ctl SOCKET "
		       "on-sleep [--timeout-ms N] PROGRAM ARGS...' next to lvmm run (docs/acpi.md)");
	if (in->recheck_ms && cfg_uint(c, "sleep/recheck_ms", "recheck_ms", in->recheck_ms, 3600000, &v))
		plat->sleep_recheck_ms = (uint32_t)v ? (uint32_t)v : 1;
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

static void load_policy(struct ctx *c, const struct raw_platform *raw, struct platform *plat)
{
	int before = c->problems;

	if (raw->policy && raw->policy_file) {
		report(c, "policy_file", "give either policy: (inline) or policy_file:, not both");
	} else if (raw->policy) {
		policy_convert(c, "policy", raw->policy, &plat->policy);
	} else if (raw->policy_file) {
		char pf[PLAT_PATH_MAX];

		if (resolve(c, "policy_file", raw->policy_file, pf, sizeof(pf)))
			c->problems += policy_load(pf, NULL, 0, &plat->policy, c->err);
	}
	plat->policy_bad = c->problems != before;
}

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
	bool have_doc = false, unknown_only;
	char *text = NULL;
	size_t len = 0;
	cyaml_err_t e;
	unsigned i;
	char tmp[PLAT_PATH_MAX];

	/*
	 * Everything but the partition entries, which conv_part() clears whole as
	 * it fills each: touching all 64 (2.3 MB of a fresh process's zero pages,
	 * ~590 page faults) cost ~1.6 ms of every `lvmm run` here and kept them
	 * resident in the supervisor for the whole run, whatever the platform's
	 * size. Entries past nparts are left as they were; nothing reads them.
	 */
	memset(plat, 0, offsetof(struct platform, parts));
	memset(&plat->nparts, 0, sizeof(*plat) - offsetof(struct platform, nparts));
	plat->uid_base = PLAT_UID_BASE_DEFAULT;
	plat->uid_count = PLAT_UID_COUNT_DEFAULT;
	plat->sleep_recheck_ms = PLAT_SLEEP_RECHECK_MS;
	snprintf(plat->path, sizeof(plat->path), "%s", path);
	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(c.dir, sizeof(c.dir), "%s", dirname(tmp));
	/* One bounded read: the node tree and libcyaml see the same bytes. */
	if (cfg_read_file(&c, path, &text, &len) || cfg_parse(&c, text, len, &doc))
		goto out;
	have_doc = true;
	c.doc = &doc;
	if (!yaml_document_get_root_node(&doc)) {
		report_line(&c, 0, "the file is empty: it needs a 'partitions:' list");
		goto out;
	}
	/* Structure first, every problem of it; values can be read only if it is sound. */
	if (cfg_check_schema(&c, &top_schema, &unknown_only) && !unknown_only)
		goto out;
	if (c.problems)
		cfg.flags |= CYAML_CFG_IGNORE_UNKNOWN_KEYS; /* reported already; check the rest */
	e = cyaml_load_data((const uint8_t *)text, len, &cfg, &top_schema, (cyaml_data_t **)&raw,
			    NULL);
	if (e != CYAML_OK) {
		report_schema_error(&c, &log, e);
		goto out;
	}
	if (!raw) {
		report_line(&c, 0, "the file holds no platform: it needs a 'partitions:' list");
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
	/* A bare NAME is the default socket LVMM_RUN_DIR/NAME.sock (docs/api.md). */
	if (raw->control && !strchr(raw->control, '/')) {
		if (ctl_socket_path(raw->control, plat->control_path, sizeof(plat->control_path)))
			report(&c, "control", "socket path is too long");
	} else if (raw->control) {
		resolve(&c, "control", raw->control, plat->control_path, sizeof(plat->control_path));
	}
	if (raw->identities)
		conv_ids(&c, raw->identities, plat);
	if (raw->remote) {
		struct plat_remote *rm = &plat->remote;

		rm->present = true;
		if (snprintf(rm->listen, sizeof(rm->listen), "%s", raw->remote->listen) >= (int)sizeof(rm->listen))
			report(&c, "remote/listen", "address too long");
		resolve(&c, "remote/cert", raw->remote->cert, rm->cert, sizeof(rm->cert));
		resolve(&c, "remote/key", raw->remote->key, rm->key, sizeof(rm->key));
		resolve(&c, "remote/client_ca", raw->remote->client_ca, rm->client_ca, sizeof(rm->client_ca));
	}
	if (raw->sleep)
		conv_sleep(&c, raw->sleep, plat);
	load_policy(&c, raw, plat);
	/* Every check runs, whatever came before: fields refused above are marked and skipped. */
	validate(&c, plat);
out:
	if (raw)
		cyaml_free(&cfg, &top_schema, raw, 0);
	if (have_doc)
		yaml_document_delete(&doc);
	free(text);
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

/* Does the file start with the ELF magic? (A region needs program headers.) */
static bool file_is_elf(const char *path)
{
	unsigned char m[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool elf;

	if (fd < 0)
		return true; /* reported by the kernel check already */
	elf = read(fd, m, 4) == 4 && !memcmp(m, "\177ELF", 4);
	close(fd);
	return elf;
}

/* Protected ranges lie in the partition's RAM; regions need an ELF kernel. */
static void check_protect(struct ctx *c, unsigned pi, const struct plat_part *p)
{
	uint64_t low = MIN(p->mem_bytes, LVMM_MMIO_HOLE_START);
	uint64_t high = p->mem_bytes - low;
	bool region = false;
	unsigned i;
	char w[64];

	for (i = 0; i < p->nprotect; i++) {
		const struct lvmm_prot_range *r = &p->protect[i];

		snprintf(w, sizeof(w), "partitions/%u/protect/%u", pi, p->protect_at[i]);
		if (r->region != LVMM_PROT_RANGE) {
			region = true;
			continue;
		}
		if (p->bad & PLAT_BAD_MEMORY)
			continue;
		if (!range_within(r->gpa, r->size, 0, low) &&
		    !(high && range_within(r->gpa, r->size, LVMM_HIGH_RAM_START, high)))
			report(c, w, "protect range 0x%" PRIx64 "+0x%" PRIx64 " is not inside partition "
			       "'%s''s RAM (0-0x%" PRIx64 "%s): one range must lie in one RAM area",
			       r->gpa, r->size, p->name, low, high ? " and from 4 GiB" : "");
	}
	if (region && !(p->bad & PLAT_BAD_KERNEL) && !file_is_elf(p->kernel)) {
		snprintf(w, sizeof(w), "partitions/%u/protect", pi);
		report(c, w, "partition '%s': protect region kernel_text/kernel_rodata needs an ELF "
		       "kernel with program headers; '%s' is not ELF (a bzImage has none): protect "
		       "explicit ranges with start:/size: instead", p->name, p->kernel);
	}
}

/*
 * A file lvmm will create or append to (console file, event log) or a
 * socket it will bind: an existing one must be writable (and not a
 * directory), a new one needs a writable directory. What run would
 * find out only when the partition starts.
 */
static void check_creatable(struct ctx *c, const char *where, const char *what, const char *path,
			    bool socket)
{
	char buf[PLAT_PATH_MAX], dir[PLAT_PATH_MAX];
	struct stat st;

	if (!stat(path, &st)) {
		if (S_ISDIR(st.st_mode))
			report(c, where, "%s '%s' is a directory", what, path);
		else if (socket && !S_ISSOCK(st.st_mode))
			report(c, where, "%s '%s' exists and is not a socket: lvmm never replaces "
			       "it; choose another path", what, path);
		else if (!socket && access(path, W_OK) < 0)
			report(c, where, "%s '%s' is not writable: %s", what, path, strerror(errno));
		return;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	snprintf(dir, sizeof(dir), "%s", dirname(buf)); /* dirname may return its argument */
	if (stat(dir, &st) < 0)
		report(c, where, "%s '%s': directory '%s': %s", what, path, dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		report(c, where, "%s '%s': '%s' is not a directory", what, path, dir);
	else if (access(dir, W_OK | X_OK) < 0)
		report(c, where, "%s '%s': cannot create it in '%s': %s", what, path, dir,
		       strerror(errno));
}

/* A Unix socket path must fit sockaddr_un (108 bytes with the NUL). */
static bool check_sun_path(struct ctx *c, const char *where, const char *what, const char *path)
{
	if (strlen(path) < SUN_PATH_MAX)
		return true;
	report(c, where, "%s path '%s' is %zu bytes; a Unix socket path has at most %zu: use a "
	       "shorter (e.g. relative to a nearer directory) path", what, path, strlen(path),
	       SUN_PATH_MAX - 1);
	return false;
}

static uint64_t host_ram(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

	return pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : 0;
}

/*
 * A vTPM state directory: one TPM per partition; no ',' (swtpm's option
 * syntax); an existing one must be a directory itself (not a symlink), a
 * new one is created in an existing, writable directory.
 */
static void check_tpm_dir(struct ctx *c, const char *w, const struct plat_part *p, unsigned di)
{
	const char *dir = p->devs[di].path;
	struct stat st;
	unsigned j;

	for (j = 0; j < di; j++)
		if (p->devs[j].type == LVMM_DEV_TPM) {
			report(c, w, "partition '%s' already has a TPM (device %s): at most one "
			       "'{ type: tpm }' per partition", p->name, p->devs[j].id);
			return;
		}
	if (strchr(dir, ',')) {
		report(c, w, "tpm state directory '%s' contains ',', which swtpm cannot take: "
		       "choose another path", dir);
		return;
	}
	if (lstat(dir, &st) < 0) {
		check_creatable(c, w, "tpm state directory", dir, false);
		return;
	}
	if (!S_ISDIR(st.st_mode))
		report(c, w, "tpm state directory '%s' is not a directory%s", dir,
		       S_ISLNK(st.st_mode) ? " (a symbolic link: give the real path)" : "");
}

/* The files of a verify: block must be readable. */
static void check_verify(struct ctx *c, const char *w, const struct plat_verify *v)
{
	if (!v->on || v->bad)
		return;
	check_file(c, w, "manifest", v->manifest, false);
	check_file(c, w, "signature", v->signature, false);
	check_file(c, w, "key", v->key, false);
}

static void check_dev(struct ctx *c, unsigned pi, unsigned di, struct plat_part *p)
{
	struct plat_dev *d = &p->devs[di];
	unsigned j;
	char w[64];

	snprintf(w, sizeof(w), "partitions/%u/devices/%u", pi, di);
	for (j = 0; j < di; j++)
		if (!strcmp(p->devs[j].id, d->id))
			report(c, w, "device id '%s' is used twice in partition '%s'", d->id, p->name);
	if (d->bad)
		return;
	if (d->type == LVMM_DEV_BLK)
		check_file(c, w, "disk image", d->path, !d->readonly);
	if (d->type == LVMM_DEV_NET_TAP && p->role != ROLE_SERVICE)
		report(c, w, "TAP device '%s' in partition '%s' (role %s): a NIC backend may "
		       "only be granted to a partition with role: service; give user "
		       "partitions a link to a service partition instead", d->tap, p->name,
		       plat_role_name(p->role));
	if (d->type == LVMM_DEV_STREAM && !d->control &&
	    check_sun_path(c, w, "stream socket", d->path) && d->listen)
		check_creatable(c, w, "stream socket", d->path, true);
	if (d->type == LVMM_DEV_TPM)
		check_tpm_dir(c, w, p, di);
	if (d->type == LVMM_DEV_STREAM && d->control)
		for (j = 0; j < di; j++)
			if (p->devs[j].type == LVMM_DEV_STREAM && p->devs[j].control) {
				/* The supervisor keeps one agent slot per partition. */
				report(c, w, "partition '%s' already has a control channel (device "
				       "%s): at most one '{ type: stream, control: true }' per "
				       "partition", p->name, p->devs[j].id);
				break;
			}
}

static void check_part(struct ctx *c, unsigned pi, struct plat_part *p)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t ram = host_ram();
	char w[64];
	unsigned i, j;

	snprintf(w, sizeof(w), "partitions/%u/memory", pi);
	if (!(p->bad & PLAT_BAD_MEMORY)) {
		int before = c->problems;

		if (p->mem_bytes < MEM_MIN || p->mem_bytes > MEM_MAX)
			report(c, w, "memory %" PRIu64 " MiB is out of range: expected 4M to 1T",
			       p->mem_bytes / MiB);
		else if (ram && p->mem_bytes > ram)
			report(c, w, "memory %" PRIu64 " MiB is more than this host's %" PRIu64
			       " MiB of RAM", p->mem_bytes / MiB, ram / MiB);
		else if (p->mem_bytes % (4 * KiB))
			report(c, w, "memory must be a multiple of 4K");
		if (c->problems != before)
			p->bad |= PLAT_BAD_MEMORY; /* the image check needs a usable size */
	}
	snprintf(w, sizeof(w), "partitions/%u/host_cpus", pi);
	if (p->n_host_cpus && p->n_host_cpus != p->vcpus && !(p->bad & PLAT_BAD_VCPUS))
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
	if (!(p->bad & PLAT_BAD_KERNEL))
		check_file(c, w, "kernel", p->kernel, false);
	check_protect(c, pi, p);
	if (p->initrd[0] && !(p->bad & PLAT_BAD_INITRD)) {
		snprintf(w, sizeof(w), "partitions/%u/initrd", pi);
		check_file(c, w, "initrd", p->initrd, false);
	}
	if (p->console_limit < CONSOLE_LIMIT_MIN || p->console_limit > CONSOLE_LIMIT_MAX) {
		snprintf(w, sizeof(w), "partitions/%u/console_limit", pi);
		report(c, w, "console_limit %" PRIu64 " bytes is out of range: expected 4K to 1T",
		       p->console_limit);
	}
	if (p->console == CONSOLE_FILE && !(p->bad & PLAT_BAD_CONSOLE)) {
		snprintf(w, sizeof(w), "partitions/%u/console", pi);
		check_creatable(c, w, "console file", p->console_path, false);
	}
	for (i = 0; i < p->ndevs; i++)
		check_dev(c, pi, i, p);
	snprintf(w, sizeof(w), "partitions/%u/verify", pi);
	check_verify(c, w, &p->verify);
	if (p->verify.on && !p->verify.bad && p->verify.on_fail == LVMM_TRUST_SAFE_IMAGE &&
	    !p->safe.on)
		report(c, w, "on_fail: safe_image needs a 'safe_image: { kernel, verify }' in "
		       "partition '%s' (or write on_fail: refuse)", p->name);
	if (!p->safe.on)
		return;
	snprintf(w, sizeof(w), "partitions/%u/safe_image", pi);
	if (!p->verify.on || p->verify.on_fail != LVMM_TRUST_SAFE_IMAGE)
		report(c, w, "safe_image is used only when verification fails with 'on_fail: "
		       "safe_image': add that to the partition's verify: block (or remove safe_image)");
	if (!(p->bad & PLAT_BAD_SAFE)) {
		check_file(c, w, "safe_image kernel", p->safe.kernel, false);
		if (p->safe.initrd[0])
			check_file(c, w, "safe_image initrd", p->safe.initrd, false);
	}
	snprintf(w, sizeof(w), "partitions/%u/safe_image/verify", pi);
	check_verify(c, w, &p->safe.verify);
}

/* Exclusive resources (host CPUs, disk images, TAPs, sockets) go to one partition only. */
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

					if (d->bad || e->bad)
						continue;
					if (d->type == LVMM_DEV_BLK && e->type == LVMM_DEV_BLK)
						same = !stat(d->path, &s1) && !stat(e->path, &s2) &&
						       s1.st_dev == s2.st_dev && s1.st_ino == s2.st_ino;
					else if (d->type == LVMM_DEV_NET_TAP && e->type == LVMM_DEV_NET_TAP)
						same = !strcmp(d->tap, e->tap);
					else if (d->type == LVMM_DEV_STREAM && e->type == LVMM_DEV_STREAM)
						same = !d->control && !e->control && !strcmp(d->path, e->path);
					else if (d->type == LVMM_DEV_TPM && e->type == LVMM_DEV_TPM)
						same = a != b && (!strcmp(d->path, e->path) ||
							(!stat(d->path, &s1) && !stat(e->path, &s2) &&
							 s1.st_dev == s2.st_dev && s1.st_ino == s2.st_ino));
					if (same) {
						snprintf(w, sizeof(w), "partitions/%u/devices/%u", a, i);
						report(c, w, "%s is already assigned to partition '%s' "
						       "(device %s): exclusive resources go to one "
						       "partition only",
						       d->type == LVMM_DEV_NET_TAP ? "this TAP device"
						       : d->type == LVMM_DEV_BLK ? "this disk image"
						       : d->type == LVMM_DEV_TPM ? "this vTPM state directory"
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
			if (l->name[0] && !strcmp(plat->links[k].name, l->name))
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

			if (d->type != LVMM_DEV_NET_LINK || d->bad || (plat->parts[k].bad & PLAT_BAD_NAME))
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

/*
 * Partition identities: each running partition gets a uid/gid of its own
 * from [uid_base, uid_base + count). The range must not reach root or the
 * system accounts (0-999), nobody/nogroup (65534) or the 16-bit -1
 * (65535), nor (uid_t)-1, and it must hold one identity per partition.
 */
int plat_remote_addr(const char *listen, struct sockaddr_storage *ss, unsigned *len)
{
	char host[64];
	const char *colon = strrchr(listen, ':');
	size_t hl;
	uint64_t port;

	if (!colon || colon == listen || parse_u64(colon + 1, 65535, &port) || !port)
		return -EINVAL;
	hl = (size_t)(colon - listen);
	if (listen[0] == '[') {
		if (hl < 3 || listen[hl - 1] != ']')
			return -EINVAL;
		listen++, hl -= 2;
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, listen, hl);
	host[hl] = 0;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in6);
		return 0;
	}
	return -EINVAL;
}

/* remote: an address to bind, readable PEM files that fit together, and someone to let in. */
static void check_remote(struct ctx *c, const struct platform *plat)
{
	const struct plat_remote *r = &plat->remote;
	struct sockaddr_storage ss;
	unsigned len, i, certs = 0;
	int before;
	char why[256];

	if (plat_remote_addr(r->listen, &ss, &len))
		report(c, "remote/listen", "'%s' is not ADDRESS:PORT: write a numeric address and a "
		       "port 1-65535, e.g. 127.0.0.1:8443 or [::1]:8443", r->listen);
	before = c->problems; /* the files' contents are looked at if they can be read */
	check_file(c, "remote/cert", "server certificate", r->cert, false);
	check_file(c, "remote/key", "server key", r->key, false);
	check_file(c, "remote/client_ca", "client CA", r->client_ca, false);
	if (c->problems == before && plat_remote_pem_check(r, why, sizeof(why)))
		report(c, "remote", "%s", why);
	for (i = 0; i < plat->policy.nclients; i++)
		certs += plat->policy.clients[i].by_cert;
	if (!certs)
		report(c, "remote", "no remote client may do anything: the policy needs a client "
		       "'{ cert_sha256: HEX, label: L, operations: [...] }' for each remote "
		       "administrator's certificate (docs/policy.md)");
}

static void check_ids(struct ctx *c, const struct platform *plat)
{
	uint64_t base = plat->uid_base, end = base + plat->uid_count; /* 64-bit: no wrap */
	unsigned i, need = plat->nparts;

	/* A partition with a trust process needs a second identity for it. */
	for (i = 0; i < plat->nparts; i++)
		need += plat_part_trust(&plat->parts[i]);

	if (base < 1000)
		report(c, "identities/uid_base", "uid_base %" PRIu64 " is a system account's "
		       "range (0-999): choose an unused range, e.g. the default %u", base,
		       PLAT_UID_BASE_DEFAULT);
	else if (base <= 65535 && end > 65534)
		report(c, "identities", "the identity range %" PRIu64 "-%" PRIu64 " includes 65534/"
		       "65535 (nobody, and the 16-bit -1): move it", base, end - 1);
	if (plat->uid_count < need || !plat->uid_count)
		report(c, "identities/count", "count %u is less than the %u identities the partitions "
		       "need: each partition, and each one's trust process, runs as an identity of "
		       "its own", plat->uid_count, need);
	if (end > UINT32_MAX)
		report(c, "identities", "uid_base + count = %" PRIu64 " goes past the largest uid "
		       "%u", end, UINT32_MAX - 1);
}

unsigned platform_fd_need(const struct platform *plat)
{
	unsigned i, j, n = PLAT_FDS_BASE + plat->nlinks * PLAT_FDS_PER_LINK;

	for (i = 0; i < plat->nparts; i++) {
		n += PLAT_FDS_PER_PART;
		for (j = 0; j < plat->parts[i].ndevs; j++)
			n += plat->parts[i].devs[j].type == LVMM_DEV_STREAM && plat->parts[i].devs[j].listen;
	}
	return n;
}

/* `lvmm run` raises its soft limit up to the hard one; beyond that it would fail part-way. */
static void check_fd_limit(struct ctx *c, const struct platform *plat)
{
	struct rlimit rl;
	unsigned need = platform_fd_need(plat);

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need)
		return;
	report(c, "partitions", "%u partitions and %u links need about %u open files, but the hard "
	       "limit is %llu: raise it (ulimit -Hn, LimitNOFILE=) or split the platform",
	       plat->nparts, plat->nlinks, need, (unsigned long long)rl.rlim_max);
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
	if (plat->events_path[0])
		check_creatable(c, "events", "event log", plat->events_path, false);
	if (plat->control_path[0] && check_sun_path(c, "control", "control socket", plat->control_path))
		check_creatable(c, "control", "control socket", plat->control_path, true);
	check_ids(c, plat);
	if (plat->remote.present)
		check_remote(c, plat);
	check_fd_limit(c, plat);
	return c->problems;
}

int platform_validate(struct platform *plat, FILE *err)
{
	struct ctx c = { .err = err, .file = plat->path[0] ? plat->path : NULL };

	return validate(&c, plat);
}

int plat_part_tpm(const struct plat_part *p)
{
	unsigned i;

	for (i = 0; i < p->ndevs && i < LVMM_MAX_DEVS; i++)
		if (p->devs[i].type == LVMM_DEV_TPM)
			return (int)i;
	return -1;
}

bool plat_part_trust(const struct plat_part *p)
{
	return p->verify.on || plat_part_tpm(p) >= 0;
}

/* Canonical text: a bounded writer that escapes what is not printable ASCII. */
struct ctext {
	char *buf;
	size_t cap, len;
	bool full;
};

static void ct_put(struct ctext *t, const char *key, const char *val)
{
	const char *v;
	int n = snprintf(t->buf + t->len, t->cap - t->len, "%s=", key);

	if (n < 0 || (size_t)n >= t->cap - t->len) {
		t->full = true;
		return;
	}
	t->len += (size_t)n;
	for (v = val; *v && !t->full; v++) {
		unsigned char ch = (unsigned char)*v;

		n = ch < 0x20 || ch >= 0x7f || ch == '\\'
			? snprintf(t->buf + t->len, t->cap - t->len, "\\x%02x", ch)
			: snprintf(t->buf + t->len, t->cap - t->len, "%c", ch);
		if (n < 0 || (size_t)n >= t->cap - t->len)
			t->full = true;
		else
			t->len += (size_t)n;
	}
	if (t->len + 1 >= t->cap)
		t->full = true;
	else
		t->buf[t->len++] = '\n';
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

static void ct_verify(struct ctext *t, const char *prefix, const struct plat_verify *v)
{
	char key[48];

	if (!v->on)
		return;
	snprintf(key, sizeof(key), "%s_manifest", prefix);
	ct_put(t, key, base_name(v->manifest));
	snprintf(key, sizeof(key), "%s_signature", prefix);
	ct_put(t, key, base_name(v->signature));
	snprintf(key, sizeof(key), "%s_key", prefix);
	ct_put(t, key, base_name(v->key));
	snprintf(key, sizeof(key), "%s_on_fail", prefix);
	ct_put(t, key, v->on_fail == LVMM_TRUST_SAFE_IMAGE ? "safe_image" : "refuse");
}

int plat_part_canonical(const struct plat_part *p, char *buf, size_t cap)
{
	struct ctext t = { .buf = buf, .cap = cap };
	char val[PLAT_PATH_MAX + 64];
	unsigned i;

	if (!cap)
		return -ENOSPC;
	/* A version line: a future change of this format changes PCR 21 visibly. */
	ct_put(&t, "lvmm-platform-entry", "1");
	ct_put(&t, "name", p->name);
	ct_put(&t, "role", plat_role_name(p->role));
	ct_put(&t, "label", p->label);
	snprintf(val, sizeof(val), "%u", p->vcpus);
	ct_put(&t, "vcpus", val);
	snprintf(val, sizeof(val), "%" PRIu64, p->mem_bytes);
	ct_put(&t, "memory", val);
	for (i = 0; i < p->n_host_cpus; i++) {
		snprintf(val, sizeof(val), "%d", p->host_cpus[i]);
		ct_put(&t, "host_cpu", val);
	}
	for (i = 0; i < p->ncpuid_mask; i++) {
		const struct lvmm_cpuid_mask *m = &p->cpuid_mask[i];

		snprintf(val, sizeof(val), "leaf:0x%x subleaf:0x%x reg:%u bit:%u", m->leaf,
			 m->subleaf, m->reg, m->bit);
		ct_put(&t, "cpuid_disable", val);
	}
	ct_put(&t, "test_device", p->test_device ? "true" : "false");
	ct_put(&t, "kernel", base_name(p->kernel));
	ct_put(&t, "initrd", p->initrd[0] ? base_name(p->initrd) : "");
	ct_verify(&t, "verify", &p->verify);
	if (p->safe.on) {
		ct_put(&t, "safe_image_kernel", base_name(p->safe.kernel));
		ct_put(&t, "safe_image_initrd", p->safe.initrd[0] ? base_name(p->safe.initrd) : "");
		ct_put(&t, "safe_image_cmdline", p->safe.cmdline);
		ct_verify(&t, "safe_image_verify", &p->safe.verify);
	}
	for (i = 0; i < p->ndevs && i < LVMM_MAX_DEVS; i++) {
		const struct plat_dev *d = &p->devs[i];

		switch (d->type) {
		case LVMM_DEV_BLK:
			snprintf(val, sizeof(val), "blk id:%s readonly:%d path:%s", d->id, d->readonly,
				 d->path);
			break;
		case LVMM_DEV_NET_TAP:
			snprintf(val, sizeof(val), "net id:%s tap:%s", d->id, d->tap);
			break;
		case LVMM_DEV_NET_LINK:
			snprintf(val, sizeof(val), "net id:%s link:%s", d->id, d->link);
			break;
		case LVMM_DEV_STREAM:
			snprintf(val, sizeof(val), "stream id:%s %s%s", d->id,
				 d->control ? "control" : d->listen ? "listen:" : "socket:",
				 d->control ? "" : d->path);
			break;
		case LVMM_DEV_TPM:
			snprintf(val, sizeof(val), "tpm id:%s", d->id);
			break;
		default:
			snprintf(val, sizeof(val), "type:%u id:%s", d->type, d->id);
			break;
		}
		ct_put(&t, "device", val);
	}
	return t.full ? -ENOSPC : (int)t.len;
}
