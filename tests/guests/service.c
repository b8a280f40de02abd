/* SPDX-License-Identifier: MIT */
/*
 * service: the service partition of the platform demo. Two virtio-net
 * NICs: NIC 0 (the first virtio-net device) is the uplink to the user
 * partition (an lvmm inter-partition link), NIC 1 the "physical" NIC (a
 * host TAP). It bridges Ethernet frames between them, unchanged, under a
 * small rule set:
 *
 *   allow=RULE[,RULE...]  drop=RULE[,RULE...]   (each may be repeated)
 *   RULE: arp | icmp | udp | udp:PORT | udp:LO-HI | tcp | tcp:PORT |
 *         tcp:LO-HI | ip (any IPv4) | ipv6 | any
 *
 * Evaluation per frame, in both directions: the first matching drop rule
 * drops; a reply to a flow an allow rule let through (reversed addresses
 * and ports, ICMP echo id) passes; the first matching allow rule passes
 * (and remembers the flow); ARP passes; everything else is dropped (the
 * default policy). Port rules match the destination port.
 *
 * Prints one line per dropped flow (the first drop_log=N, default 5)
 *   service: drop udp 10.0.0.2:40009 -> 10.0.0.1:9 (rule drop udp:9)
 * every report_ms=N (default: never) and when service_ms=N has elapsed
 *   service: forwarded N frames (user->nic A, nic->user B), dropped D
 * then the per-rule counters, and exits 0. Without service_ms it runs
 * forever. uplink_index=N / nic_index=N pick other virtio-net devices;
 * trace=1 prints a line per frame.
 *
 * finish_frame=1: a frame of ethertype 0x88b5 (IEEE local experimental)
 * whose payload starts with "lvmm-demo finish", arriving on the physical
 * NIC, ends the run as service_ms would (after "service: finish requested
 * on the nic"). The demo's host sends it once the user partition is done,
 * so the run lasts as long as the work, not a fixed time that a loaded
 * host may overrun. It is only taken from the NIC side (the management
 * network), never from the uplink: the user partition cannot end its
 * service partition. It is neither forwarded nor counted as a drop.
 *
 * The management agent (issue 9), over the partition's agent channel
 * (virtio-console agent_index=N, default 0; docs/api.md):
 *   events=1        subscribe ("events") and print every event line it
 *                   receives: "service: event {...}"
 *   contain=isolate|restart|none (default none) with target=NAME (default
 *                   user): on a dma_fault or integrity_violation event of
 *                   partition NAME, send "isolate NAME" (every link of it
 *                   goes down) or "restart NAME" through its own channel,
 *                   at most once per contain_cooldown_ms (default 2000):
 *                   "service: contain isolate user (dma_fault)", then the
 *                   answer "service: reply {...}" (refused when the policy
 *                   does not grant it: the answer says so)
 *   busy_ms=N       announce itself busy ("busy SELF", self=NAME, default
 *                   service) at start and idle ("idle SELF") N ms later: a
 *                   partition's ACPI S3 request waits while a service
 *                   partition is busy (docs/acpi.md)
 *   stall_ms=N      after subscribing, read nothing for N ms (a stalled
 *                   subscriber: the front-end drops what does not fit and
 *                   reports a gap line), then print what comes
 *   quiet=1         print only gap and partition_paused lines (a flood
 *                   of link events would take seconds on the serial port)
 *   bridge=0        no NICs: only the agent
 *   bench=N         (bench/contain.sh) with events=1 and a virtio-blk disk:
 *                   N times, every bench_gap_ms (default 1100: the
 *                   partition reports at most one DMA fault per second after
 *                   a burst of 5), reset the disk, hand it a read into
 *                   guest-physical 1 TiB (outside any partition: a DMA
 *                   fault) and time, with the TSC, from the doorbell write
 *                   to the moment the dma_fault line arrives on the agent
 *                   channel. Prints "service: bench fault-to-event N us"
 *                   per sample and "service: bench done N samples"; the
 *                   path is the service partition's (supervisor, front-end,
 *                   agent channel), the fault its own so one clock times both.
 */
#include "inet.h"
#include "virtio.h"

#define EAC_PCRS 24

enum { UP, NIC };                       /* direction: from the uplink / from the NIC */
static const char *const dir_name[2] = { "user->nic", "nic->user" };

enum { R_ARP, R_ICMP, R_UDP, R_TCP, R_IP, R_IPV6, R_ANY };

struct rule {
	int allow;
	int proto;
	int has_port;
	uint16_t lo, hi;
	char text[24];
	uint64_t count[2];
};

#define MAX_RULES 32
static struct rule rules[MAX_RULES];
static int nrules;

/* Pseudo-rules for the counters. */
static uint64_t arp_default[2], replies[2], default_drop[2], other_drop[2], fwd[2], tx_err[2];

struct flow {
	int used;
	uint8_t proto;
	uint32_t a, b;          /* a = the side that opened it */
	uint16_t ap, bp;        /* ports, or the ICMP echo id in both */
};
#define MAX_FLOWS 64
static struct flow flows[MAX_FLOWS];
static int next_flow;

#define MAX_LOGGED 32
static struct flow logged[MAX_LOGGED];
static int nlogged, drop_log = 5, log_full_said;
static uint16_t logged_types[8];
static int ntypes;

#define ETH_P_LVMM_DEMO 0x88b5
static const char finish_magic[] = "lvmm-demo finish";
static int finish_frame, finish_requested;

/* EAC: quarantined partitions may only reach the remediation address. */
static int quarantined;
static uint32_t remediation_ip;
static uint64_t quarantine_drops[2];

static struct vnet nic[2];

/* ---- the agent channel ---------------------------------------------------- */

static struct vcons agent;
static int agent_on;
static char aline[4096];
static uint32_t alen;
static int atrunc;
static char self[32] = "service", target[32] = "user", contain[16] = "none";
static uint64_t cooldown_tsc, last_contain, hz_ms;
static int quiet, saw_fault;

static int agent_send(const char *fmt, const char *arg)
{
	char line[96];
	int n = snprintf(line, sizeof(line), fmt, arg);
	printf("service: request ");
	rt_puts_raw(line, (size_t)n);
	return vcons_write_timeout(&agent, line, (uint32_t)n, 1000000);
}

/* Is there "key":"val" in the JSON line? (The lines are the supervisor's: flat, escaped.) */
static int has_field(const char *line, const char *key, const char *val)
{
	char pat[96];
	snprintf(pat, sizeof(pat), "\"%s\":\"%s\"", key, val);
	size_t n = strlen(pat);
	for (const char *p = line; *p; p++)
		if (!strncmp(p, pat, n))
			return 1;
	return 0;
}

static void on_line(const char *line)
{
	if (!strncmp(line, "{\"ok\"", 5)) {
		printf("service: reply %s\n", line);
		return;
	}
	if (has_field(line, "event", "dma_fault"))
		saw_fault = 1;
	if (!quiet || has_field(line, "event", "gap") || has_field(line, "event", "partition_paused"))
		printf("service: event %s%s\n", line, atrunc ? " [truncated]" : "");
	const char *why = has_field(line, "event", "dma_fault") ? "dma_fault" :
			  has_field(line, "event", "integrity_violation") ? "integrity_violation" : NULL;
	if (!why || !has_field(line, "partition", target) || !strcmp(contain, "none"))
		return;
	uint64_t now = rdtsc();
	if (last_contain && now - last_contain < cooldown_tsc)
		return;
	last_contain = now;
	printf("service: contain %s %s (%s)\n", contain, target, why);
	agent_send(!strcmp(contain, "isolate") ? "isolate %s\n" : "restart %s\n", target);
}

/* Take what the channel has (without waiting); each complete line is handled. */
static int agent_poll(void)
{
	char buf[256];
	int n, got = 0;
	while ((n = vcons_read(&agent, buf, sizeof(buf), 0)) > 0) {
		got = 1;
		for (int i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				aline[alen] = 0;
				on_line(aline);
				alen = 0;
				atrunc = 0;
			} else if (alen + 1 < sizeof(aline)) {
				aline[alen++] = buf[i];
			} else {
				atrunc = 1;
			}
		}
	}
	return got;
}
static uint8_t frame[ETH_MAX_FRAME];
static int trace;                       /* trace=1: a line per frame */

static void trace_frame(int from, const struct inet_pkt *p, uint32_t len, const char *what)
{
	char b1[16], b2[16];
	if (!trace)
		return;
	if (p->is_ipv4)
		printf("service: trace %s %s %s -> %s proto %u ports %u -> %u len %u\n",
		       dir_name[from], what, inet_ip_str(p->src, b1), inet_ip_str(p->dst, b2),
		       p->proto, p->sport, p->dport, len);
	else
		printf("service: trace %s %s ethertype 0x%04x len %u\n", dir_name[from], what,
		       p->ethertype, len);
}

static int parse_rule(const char *s, size_t n, int allow)
{
	if (nrules >= MAX_RULES || n == 0 || n >= sizeof(rules[0].text))
		return -1;
	struct rule *r = &rules[nrules];
	memset(r, 0, sizeof(*r));
	memcpy(r->text, s, n);
	r->text[n] = '\0';
	r->allow = allow;
	char *colon = r->text;
	while (*colon && *colon != ':')
		colon++;
	size_t plen = (size_t)(colon - r->text);
	static const struct { const char *name; int proto; int ports; } names[] = {
		{ "arp", R_ARP, 0 }, { "icmp", R_ICMP, 0 }, { "udp", R_UDP, 1 },
		{ "tcp", R_TCP, 1 }, { "ip", R_IP, 0 }, { "ipv6", R_IPV6, 0 }, { "any", R_ANY, 0 },
	};
	int found = 0;
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i].name) == plen && !strncmp(r->text, names[i].name, plen)) {
			r->proto = names[i].proto;
			found = 1;
			if (*colon && !names[i].ports)
				return -1;
		}
	}
	if (!found)
		return -1;
	if (*colon) {
		const char *p = colon + 1, *e;
		uint64_t lo = rt_strtou64(p, &e), hi = lo;
		if (e == p || lo > 65535)
			return -1;
		if (*e == '-') {
			p = e + 1;
			hi = rt_strtou64(p, &e);
			if (e == p || hi > 65535 || hi < lo)
				return -1;
		}
		if (*e)
			return -1;
		r->has_port = 1;
		r->lo = (uint16_t)lo;
		r->hi = (uint16_t)hi;
	}
	nrules++;
	return 0;
}

static int parse_rules(const char *key, int allow)
{
	char list[512];
	for (int k = 0; rt_cmdline_get_nth(key, k, list, sizeof(list)) >= 0; k++) {
		for (const char *p = list; *p;) {
			const char *e = p;
			while (*e && *e != ',')
				e++;
			if (parse_rule(p, (size_t)(e - p), allow)) {
				printf("service: bad rule \"%s\" in %s=%s\n", p, key, list);
				return -1;
			}
			p = *e ? e + 1 : e;
		}
	}
	return 0;
}

static int matches(const struct rule *r, const struct inet_pkt *p)
{
	switch (r->proto) {
	case R_ARP:
		return p->ethertype == ETH_P_ARP;
	case R_ICMP:
		return p->is_ipv4 && p->proto == IP_PROTO_ICMP;
	case R_UDP:
	case R_TCP:
		if (!p->is_ipv4 || p->proto != (r->proto == R_UDP ? IP_PROTO_UDP : IP_PROTO_TCP))
			return 0;
		return !r->has_port || (p->has_ports && p->dport >= r->lo && p->dport <= r->hi);
	case R_IP:
		return p->is_ipv4;
	case R_IPV6:
		return p->ethertype == ETH_P_IPV6;
	case R_ANY:
		return 1;
	default:
		return 0;
	}
}

/* The flow key of p as seen from its sender; 0 when it has none. */
static int flow_of(const struct inet_pkt *p, struct flow *f)
{
	memset(f, 0, sizeof(*f));
	if (!p->is_ipv4)
		return 0;
	f->proto = p->proto;
	f->a = p->src;
	f->b = p->dst;
	if (p->has_ports) {
		f->ap = p->sport;
		f->bp = p->dport;
	} else if (p->proto == IP_PROTO_ICMP &&
		   (p->icmp_type == ICMP_ECHO_REQUEST || p->icmp_type == ICMP_ECHO_REPLY)) {
		f->ap = f->bp = p->icmp_id;
	} else if (p->proto == IP_PROTO_UDP || p->proto == IP_PROTO_TCP) {
		return 0;   /* a later fragment: no ports to match */
	}
	f->used = 1;
	return 1;
}

static int same(const struct flow *x, const struct flow *y)
{
	return x->proto == y->proto && x->a == y->a && x->b == y->b && x->ap == y->ap &&
	       x->bp == y->bp;
}

static void remember(const struct flow *f)
{
	for (int i = 0; i < MAX_FLOWS; i++)
		if (flows[i].used && same(&flows[i], f))
			return;
	flows[next_flow] = *f;
	next_flow = (next_flow + 1) % MAX_FLOWS;
}

/* Is p a reply to a remembered flow (reversed addresses and ports)? */
static int is_reply(const struct inet_pkt *p)
{
	struct flow f, r;
	if (!flow_of(p, &f))
		return 0;
	r = f;
	r.a = f.b;
	r.b = f.a;
	r.ap = f.bp;
	r.bp = f.ap;
	for (int i = 0; i < MAX_FLOWS; i++)
		if (flows[i].used && same(&flows[i], &r))
			return 1;
	return 0;
}

static const char *proto_name(uint8_t proto, char *buf)
{
	if (proto == IP_PROTO_UDP)
		return "udp";
	if (proto == IP_PROTO_TCP)
		return "tcp";
	if (proto == IP_PROTO_ICMP)
		return "icmp";
	snprintf(buf, 12, "proto %u", proto);
	return buf;
}

static void log_drop(const struct inet_pkt *p, const struct rule *r, const char *reason)
{
	char why[40], b1[16], b2[16], pn[12], m1[18], m2[18];
	if (r)
		snprintf(why, sizeof(why), "rule drop %s", r->text);
	else
		snprintf(why, sizeof(why), "%s", reason);
	if (!p->is_ipv4) {
		for (int i = 0; i < ntypes; i++)
			if (logged_types[i] == p->ethertype)
				return;
		if (ntypes >= (int)(sizeof(logged_types) / sizeof(logged_types[0])) ||
		    ntypes >= drop_log)
			return;
		logged_types[ntypes++] = p->ethertype;
		printf("service: drop ethertype 0x%04x %s -> %s (%s)\n", p->ethertype,
		       inet_mac_str(p->src_mac, m1), inet_mac_str(p->dst_mac, m2), why);
		return;
	}
	struct flow f;
	flow_of(p, &f);
	f.proto = p->proto;
	f.a = p->src;
	f.b = p->dst;
	for (int i = 0; i < nlogged; i++)
		if (same(&logged[i], &f))
			return;
	if (nlogged >= drop_log || nlogged >= MAX_LOGGED) {
		if (!log_full_said) {
			printf("service: more dropped flows, not logged (drop_log=%d)\n", drop_log);
			log_full_said = 1;
		}
		return;
	}
	logged[nlogged++] = f;
	inet_ip_str(p->src, b1);
	inet_ip_str(p->dst, b2);
	if (p->has_ports)
		printf("service: drop %s %s:%u -> %s:%u (%s)\n", proto_name(p->proto, pn), b1,
		       p->sport, b2, p->dport, why);
	else if (p->proto == IP_PROTO_ICMP)
		printf("service: drop icmp %s -> %s type %u (%s)\n", b1, b2, p->icmp_type, why);
	else
		printf("service: drop %s %s -> %s (%s)\n", proto_name(p->proto, pn), b1, b2, why);
}

/*
 * A quarantined partition's frame (from the uplink) or one for it (from
 * the NIC) passes only between it and the remediation address: ARP asking
 * for / answering from that address, IPv4 to / from it.
 */
static int remediation_traffic(int from, const struct inet_pkt *p)
{
	if (p->is_arp)
		return from == UP ? p->arp_tpa == remediation_ip : p->arp_spa == remediation_ip;
	if (p->is_ipv4)
		return from == UP ? p->dst == remediation_ip : p->src == remediation_ip;
	return 0;
}

/* Decide about one frame from side `from`; forward it to the other side. */
static void process(int from, const uint8_t *f, uint32_t len)
{
	struct inet_pkt p;
	int to = from == UP ? NIC : UP;
	if (from == NIC && finish_frame && len >= ETH_HLEN + sizeof(finish_magic) - 1 &&
	    get16(f + 12) == ETH_P_LVMM_DEMO &&
	    !memcmp(f + ETH_HLEN, finish_magic, sizeof(finish_magic) - 1)) {
		finish_requested = 1;
		return;
	}
	if (inet_parse(f, len, &p)) {
		other_drop[from]++;
		return;
	}
	if (quarantined && !remediation_traffic(from, &p)) {
		quarantine_drops[from]++;
		trace_frame(from, &p, len, "quarantine-drop");
		log_drop(&p, NULL, "quarantine");
		return;
	}
	for (int i = 0; i < nrules; i++) {
		if (!rules[i].allow && matches(&rules[i], &p)) {
			rules[i].count[from]++;
			trace_frame(from, &p, len, "drop");
			log_drop(&p, &rules[i], NULL);
			return;
		}
	}
	int pass = 0;
	if (p.is_ipv4 && is_reply(&p)) {
		replies[from]++;
		pass = 1;
	}
	for (int i = 0; !pass && i < nrules; i++) {
		if (rules[i].allow && matches(&rules[i], &p)) {
			struct flow fl;
			rules[i].count[from]++;
			if (flow_of(&p, &fl))
				remember(&fl);
			pass = 1;
		}
	}
	if (!pass && p.ethertype == ETH_P_ARP) {
		arp_default[from]++;
		pass = 1;
	}
	if (!pass) {
		if (p.is_ipv4)
			default_drop[from]++;
		else
			other_drop[from]++;
		trace_frame(from, &p, len, "default-drop");
		log_drop(&p, NULL, "default drop");
		return;
	}
	if (vnet_send(&nic[to], f, len)) {
		tx_err[to]++;
		trace_frame(from, &p, len, "tx-timeout");
	} else {
		fwd[from]++;
		trace_frame(from, &p, len, "forward");
	}
}

static uint64_t dropped_total(void)
{
	uint64_t d = 0;
	for (int k = 0; k < 2; k++) {
		d += default_drop[k] + other_drop[k] + quarantine_drops[k];
		for (int i = 0; i < nrules; i++)
			if (!rules[i].allow)
				d += rules[i].count[k];
	}
	return d;
}

static void report(void)
{
	printf("service: forwarded %lu frames (user->nic %lu, nic->user %lu), dropped %lu\n",
	       fwd[UP] + fwd[NIC], fwd[UP], fwd[NIC], dropped_total());
}

static void report_rules(void)
{
	for (int i = 0; i < nrules; i++)
		printf("service: rule %s %s: %s %lu, %s %lu\n", rules[i].allow ? "allow" : "drop",
		       rules[i].text, dir_name[UP], rules[i].count[UP], dir_name[NIC],
		       rules[i].count[NIC]);
	printf("service: replies to allowed flows: %s %lu, %s %lu\n", dir_name[UP], replies[UP],
	       dir_name[NIC], replies[NIC]);
	printf("service: arp (allowed by default): %s %lu, %s %lu\n", dir_name[UP],
	       arp_default[UP], dir_name[NIC], arp_default[NIC]);
	printf("service: default drop: ipv4 %s %lu, %s %lu; other %s %lu, %s %lu\n",
	       dir_name[UP], default_drop[UP], dir_name[NIC], default_drop[NIC], dir_name[UP],
	       other_drop[UP], dir_name[NIC], other_drop[NIC]);
	if (quarantined)
		printf("service: quarantine drops: %s %lu, %s %lu\n", dir_name[UP],
		       quarantine_drops[UP], dir_name[NIC], quarantine_drops[NIC]);
	if (tx_err[UP] || tx_err[NIC])
		printf("service: tx timeouts: to user %lu, to nic %lu\n", tx_err[UP], tx_err[NIC]);
}


static uint64_t arg_u64(const char *key, uint64_t def)
{
	char arg[32];
	if (rt_cmdline_get(key, arg, sizeof(arg)) > 0)
		return rt_strtou64(arg, NULL);
	return def;
}

/* bench=N: fault-to-event latency through the service partition's own channel. */
static int bench(uint64_t n)
{
	static struct vblk blk;
	static struct { uint32_t type, reserved; uint64_t sector; } hdr;
	static uint8_t status;
	uint64_t gap = arg_u64("bench_gap_ms", 1100) * hz_ms, done = 0;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t until = rdtsc() + gap;
		while ((int64_t)(rdtsc() - until) < 0)
			agent_poll(); /* drain the previous fault's lines */
		if (vblk_open(&blk, 0)) {
			printf("service: bench: no virtio-blk device\n");
			return 2;
		}
		struct virtq_buf b[3] = {
			{ &hdr, sizeof(hdr), 0 }, { (const void *)(1ULL << 40), 512, 1 }, { &status, 1, 1 },
		};
		virtq_add(&blk.q, b, 3);
		saw_fault = 0;
		uint64_t t0 = rdtsc(), limit = t0 + 2000 * hz_ms;
		virtq_kick(&blk.q);
		while (!saw_fault && (int64_t)(rdtsc() - limit) < 0)
			agent_poll();
		if (!saw_fault) {
			printf("service: bench: no dma_fault line within 2 s (rate limited?)\n");
			continue;
		}
		printf("service: bench fault-to-event %lu us\n", (rdtsc() - t0) * 1000 / hz_ms);
		done++;
	}
	printf("service: bench done %lu samples\n", done);
	return 0;
}

/* ---- EAC: attest the user partition over the agent channel ---------------- */

static struct vcons eac_agent;
static char reply[8192];

/*
 * One reply line into reply (its first sizeof(reply) - 1 bytes: the PCRs
 * come before the long quote and event log, which are read and dropped).
 * Its length, or -1 when the line did not end within timeout_us.
 */
static int agent_reply(uint64_t timeout_us)
{
	uint64_t hz = rt_tsc_hz(), end = rdtsc() + timeout_us * (hz / 1000000);
	uint32_t n = 0;
	char buf[256];

	for (;;) {
		int64_t left = (int64_t)(end - rdtsc());
		if (left <= 0)
			return -1;
		int k = vcons_read(&eac_agent, buf, sizeof(buf), (uint64_t)left / (hz / 1000000) + 1);
		for (int i = 0; i < k; i++) {
			if (buf[i] == '\n') {
				reply[n] = '\0';
				return (int)n;
			}
			if (n + 1 < sizeof(reply))
				reply[n++] = buf[i];
		}
	}
}

/* Does s contain w? */
static int strstr_(const char *s, const char *w)
{
	size_t n = strlen(w);
	for (; *s; s++)
		if (!strncmp(s, w, n))
			return 1;
	return 0;
}

/* The string value of "key": in s[0..len) (no escapes in what we look for), or NULL. */
static const char *json_str(const char *s, const char *end, const char *key, uint32_t *vlen)
{
	size_t kl = strlen(key);
	for (const char *p = s; p + kl + 4 <= end; p++) {
		if (p[0] != '"' || strncmp(p + 1, key, kl) || p[kl + 1] != '"' || p[kl + 2] != ':' ||
		    p[kl + 3] != '"')
			continue;
		const char *v = p + kl + 4, *e = v;
		while (e < end && *e != '"')
			e++;
		if (e >= end)
			return NULL;
		*vlen = (uint32_t)(e - v);
		return v;
	}
	return NULL;
}

static const char *pcr_what(unsigned pcr)
{
	switch (pcr) {
	case 17: return " (launch and verification)";
	case 18: return " (kernel)";
	case 19: return " (initrd)";
	case 20: return " (command line)";
	case 21: return " (platform entry)";
	default: return "";
	}
}

/*
 * Attest the partition; quarantined (1) unless every expected PCR is in
 * the answer with its expected value (0). 2 on a bad command line.
 */
static int eac_decide(const char *who)
{
	static char expect[EAC_PCRS][72];
	char arg[80], nonce[33], line[160], why[200] = "";
	unsigned nexp = 0, bad = 0;
	uint64_t wait_ms = arg_u64("eac_wait_ms", 30000), hz = rt_tsc_hz();
	int idx = (int)arg_u64("agent_index", 0), n = -1;

	for (unsigned i = 0; i < EAC_PCRS; i++) {
		char key[16];
		snprintf(key, sizeof(key), "expect%u", i);
		expect[i][0] = 0;
		if (rt_cmdline_get(key, expect[i], sizeof(expect[i])) < 0)
			continue;
		if (strlen(expect[i]) != 64) {
			printf("service: eac: %s= must be 64 hex digits\n", key);
			return 2;
		}
		nexp++;
	}
	if (rt_cmdline_get("remediation", arg, sizeof(arg)) < 0 || inet_parse_ip(arg, &remediation_ip)) {
		printf("service: eac: need remediation=A.B.C.D\n");
		return 2;
	}
	if (!nexp) {
		printf("service: eac: no expectN= values to compare with\n");
		return 2;
	}
	if (vcons_open(&eac_agent, idx)) {
		printf("service: eac: no agent channel (virtio-console %d)\n", idx);
		quarantined = 1;
		snprintf(why, sizeof(why), "no agent channel");
		goto verdict;
	}
	/* A fresh nonce per attempt: the TSC is as good as it gets here. */
	uint64_t end = rdtsc() + wait_ms * (hz / 1000);
	for (int attempt = 1;; attempt++) {
		uint64_t t = rdtsc() ^ (rdtsc() << 29) ^ ((uint64_t)attempt << 56);
		snprintf(nonce, sizeof(nonce), "%016lx%016lx", t, (uint64_t)(t * 0x9e3779b97f4a7c15ULL));
		int len = snprintf(line, sizeof(line), "attest %s %s\n", who, nonce);
		if (vcons_write_timeout(&eac_agent, line, (uint32_t)len, 5000000)) {
			snprintf(why, sizeof(why), "the agent channel did not take the request");
			break;
		}
		n = agent_reply(10000000);
		if (n < 0) {
			snprintf(why, sizeof(why), "no answer to attest within 10 s");
			break;
		}
		if (strncmp(reply, "{\"ok\":true", 10) == 0)
			break;
		/* (This printf has no precision: the answer is cut here.) */
		if (n > 150)
			reply[150] = '\0';
		/* A refusal by the policy will not change by waiting: fail closed now. */
		if ((int64_t)(rdtsc() - end) >= 0 || strstr_(reply, "denied by policy")) {
			snprintf(why, sizeof(why), "attest refused: %s", reply);
			n = -1;
			break;
		}
		if (attempt == 1)
			printf("service: eac: waiting for %s to be attestable: %s\n", who, reply);
		rt_udelay(500000);
	}
	if (n < 0) {
		quarantined = 1;
		goto verdict;
	}
	const char *rend = reply + n;
	uint32_t vl;
	const char *v = json_str(reply, rend, "nonce", &vl);
	if (!v || vl != 32 || strncmp(v, nonce, 32)) {
		quarantined = 1;
		snprintf(why, sizeof(why), "the answer is not for our nonce");
		goto verdict;
	}
	const char *pcrs = NULL;
	for (const char *p = reply; p + 8 < rend; p++)
		if (!strncmp(p, "\"pcrs\":{", 8)) {
			pcrs = p + 8;
			break;
		}
	const char *pend = pcrs;
	while (pend && pend < rend && *pend != '}')
		pend++;
	if (!pcrs || pend >= rend) {
		quarantined = 1;
		snprintf(why, sizeof(why), "no pcrs in the answer");
		goto verdict;
	}
	size_t w = 0;
	for (unsigned i = 0; i < EAC_PCRS; i++) {
		char key[4];
		if (!expect[i][0])
			continue;
		snprintf(key, sizeof(key), "%u", i);
		v = json_str(pcrs, pend, key, &vl);
		if (v && vl == 64 && !strncmp(v, expect[i], 64))
			continue;
		bad++;
		if (v && vl == 64) {
			char got[65];
			memcpy(got, v, 64);
			got[64] = 0;
			printf("service: eac: pcr%u%s differs: expected %s got %s\n", i, pcr_what(i),
			       expect[i], got);
		} else {
			printf("service: eac: pcr%u%s missing from the answer\n", i, pcr_what(i));
		}
		if (w + 40 < sizeof(why))
			w += (size_t)snprintf(why + w, sizeof(why) - w, "%spcr%u%s", w ? ", " : "", i,
					      pcr_what(i));
	}
	if (bad) {
		quarantined = 1;
		if (w + 10 < sizeof(why))
			snprintf(why + w, sizeof(why) - w, " differ%s", bad > 1 ? "" : "s");
	}
verdict:
	if (quarantined) {
		char b[16];
		printf("service: eac: %s quarantined: %s; traffic only to %s\n", who, why,
		       inet_ip_str(remediation_ip, b));
	} else {
		printf("service: eac: %s compliant: pcrs", who);
		for (unsigned i = 0; i < EAC_PCRS; i++)
			if (expect[i][0])
				printf(" %u", i);
		printf(" as expected\n");
	}
	return 0;
}

int main(void)
{
	char m[18];
	if (parse_rules("drop", 0) || parse_rules("allow", 1))
		return 2;
	hz_ms = rt_tsc_hz() / 1000;
	rt_cmdline_get("self", self, sizeof(self));
	rt_cmdline_get("target", target, sizeof(target));
	rt_cmdline_get("contain", contain, sizeof(contain));
	if (strcmp(contain, "none") && strcmp(contain, "isolate") && strcmp(contain, "restart")) {
		printf("service: bad contain=%s (isolate, restart or none)\n", contain);
		return 2;
	}
	cooldown_tsc = arg_u64("contain_cooldown_ms", 2000) * hz_ms;
	uint64_t busy_ms = arg_u64("busy_ms", 0), stall_ms = arg_u64("stall_ms", 0);
	int bridge = (int)arg_u64("bridge", 1);
	quiet = (int)arg_u64("quiet", 0);
	if (arg_u64("events", 0) || busy_ms) {
		int ai = (int)arg_u64("agent_index", 0);
		if (vcons_open(&agent, ai)) {
			printf("service: no virtio-console device %d for the agent\n", ai);
			return 2;
		}
		agent_on = 1;
		if (busy_ms)
			agent_send("busy %s\n", self);
		if (arg_u64("events", 0))
			agent_send("events%s\n", "");
		printf("service: agent on virtio-console %d, contain=%s target=%s\n", ai, contain, target);
	}
	if (arg_u64("bench", 0))
		return bench(arg_u64("bench", 0));
	uint64_t stall_end = rdtsc() + stall_ms * hz_ms, idle_at = rdtsc() + busy_ms * hz_ms;
	if (stall_ms) {
		printf("service: stalling for %lu ms\n", stall_ms);
		while ((int64_t)(rdtsc() - stall_end) < 0)
			cpu_relax();
		printf("service: reading again\n");
	}
	if (!bridge) {
		uint64_t t0 = rdtsc(), run_ms = arg_u64("service_ms", 0);
		for (;;) {
			if (busy_ms && (int64_t)(rdtsc() - idle_at) >= 0) {
				agent_send("idle %s\n", self);
				busy_ms = 0;
			}
			if (agent_on && !agent_poll())
				cpu_relax();
			if (run_ms && rdtsc() - t0 >= run_ms * hz_ms)
				break;
		}
		printf("service: done after %lu ms\n", (rdtsc() - t0) / hz_ms);
		return 0;
	}
	drop_log = (int)arg_u64("drop_log", 5);
	trace = (int)arg_u64("trace", 0);
	finish_frame = (int)arg_u64("finish_frame", 0);
	int idx[2] = { (int)arg_u64("uplink_index", 0), (int)arg_u64("nic_index", 1) };
	for (int i = 0; i < 2; i++) {
		if (vnet_open(&nic[i], idx[i])) {
			printf("service: no virtio-net device %d (%s)\n", idx[i],
			       i == UP ? "uplink to the user partition" : "physical NIC");
			return 2;
		}
		printf("service: %s: virtio-net %d at 0x%lx irq %u, mac %s\n",
		       i == UP ? "uplink" : "nic", idx[i], nic[i].dev.base, nic[i].dev.irq,
		       inet_mac_str(nic[i].mac, m));
	}
	printf("service: %d rules:", nrules);
	for (int i = 0; i < nrules; i++)
		printf(" %s %s", rules[i].allow ? "allow" : "drop", rules[i].text);
	printf("; arp allowed, everything else dropped\n");
	{
		char who[32];
		/* EAC: decide before the first frame is forwarded. */
		if (rt_cmdline_get("eac", who, sizeof(who)) > 0 && eac_decide(who))
			return 2;
	}

	uint64_t hz = rt_tsc_hz(), t0 = rdtsc();
	uint64_t run_ms = arg_u64("service_ms", 0), report_ms = arg_u64("report_ms", 0);
	uint64_t end = t0 + run_ms * (hz / 1000), next_report = t0 + report_ms * (hz / 1000);
	while (!finish_requested) {
		int busy = agent_on ? agent_poll() : 0;
		if (busy_ms && (int64_t)(rdtsc() - idle_at) >= 0) {
			agent_send("idle %s\n", self);
			busy_ms = 0;
		}
		for (int i = 0; i < 2; i++) {
			int n = vnet_recv(&nic[i], frame, sizeof(frame), 0);
			if (n > 0) {
				process(i, frame, (uint32_t)n);
				busy = 1;
			}
		}
		if (busy)
			continue;
		uint64_t now = rdtsc();
		if (report_ms && (int64_t)(now - next_report) >= 0) {
			report();
			next_report = now + report_ms * (hz / 1000);
		}
		if (run_ms && (int64_t)(now - end) >= 0)
			break;
		cpu_relax();
	}
	if (finish_requested)
		printf("service: finish requested on the nic\n");
	report();
	report_rules();
	printf("service: done after %lu ms\n", (rdtsc() - t0) / (hz / 1000));
	return 0;
}
