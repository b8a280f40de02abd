/* SPDX-License-Identifier: MIT */
/*
 * net: with ip=A.B.C.D peer=E.F.G.H on the command line, sends an ARP
 * request for the peer, prints "net: arp reply from <peer> is <mac>",
 * then pings it and prints "net: ping reply from <peer> seq N". It also
 * answers ARP requests and pings for its own address, and with
 * net_serve_ms=N keeps doing so for N ms afterwards (for a peer that tests
 * this guest). Exit 0 on success, 1 on a timeout, 2 on a setup error.
 *
 * net_ping_count=N (default 1) sends N pings, one every
 * net_ping_interval_ms (default 1000; 0: the next as soon as the previous
 * one is answered or 1 s has passed), and succeeds when at least one was
 * answered. With N = 1 an unanswered ping is retried (5 tries, 1 s apart).
 *
 * Serve-only mode: without peer=, it only answers ARP and ICMP echo for
 * its ip for net_serve_ms (default: forever), after printing
 * "net: serving as <ip>". net_quiet=1: no line per answered ping (a ping
 * flood would otherwise be limited by the console); the count is printed
 * at the end as "net: answered N pings".
 */
#include "virtio.h"

static struct vnet net;
static uint8_t frame[1514];
static uint8_t out[1514];
static uint32_t my_ip, peer_ip;
static uint8_t peer_mac[6];
static int have_peer_mac, got_ping_reply;
static uint16_t ping_seq;
/* net_ping_count > 1: replies per sequence number (1-based), send times. */
#define MAX_PINGS 4096
static uint8_t replied[MAX_PINGS + 1];
static uint64_t sent_tsc[MAX_PINGS + 1];
static int multi_ping, replies, quiet;
static uint64_t answered;
static uint64_t rtt_min = ~0ULL, rtt_max, rtt_sum;
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

#define ETH_ARP  0x0806
#define ETH_IPV4 0x0800
#define PING_ID  0x4c56

static int parse_ip(const char *s, uint32_t *ip)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		const char *e;
		uint64_t b = rt_strtou64(s, &e);
		if (e == s || b > 255 || (i < 3 && *e != '.') || (i == 3 && *e))
			return -1;
		v = (v << 8) | (uint32_t)b;
		s = e + 1;
	}
	*ip = v;
	return 0;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

static const char *ip_str(uint32_t ip, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
	return buf;
}

static uint16_t csum(const uint8_t *p, uint32_t len)
{
	uint32_t s = 0;
	for (uint32_t i = 0; i + 1 < len; i += 2)
		s += get16(p + i);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t eth_header(uint8_t *p, const uint8_t *dst, uint16_t type)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, net.mac, 6);
	put16(p + 12, type);
	return 14;
}

static int send_padded(uint32_t len)
{
	if (len < 60) {
		memset(out + len, 0, 60 - len);
		len = 60;
	}
	return vnet_send(&net, out, len);
}

static int send_arp(uint16_t oper, const uint8_t *dst_mac, uint32_t tpa)
{
	uint32_t o = eth_header(out, oper == 1 ? bcast : dst_mac, ETH_ARP);
	uint8_t *a = out + o;
	put16(a, 1);                 /* Ethernet */
	put16(a + 2, ETH_IPV4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, oper);
	memcpy(a + 8, net.mac, 6);
	put32(a + 14, my_ip);
	if (oper == 1)
		memset(a + 18, 0, 6);
	else
		memcpy(a + 18, dst_mac, 6);
	put32(a + 24, tpa);
	return send_padded(o + 28);
}

/* ICMP echo (type 8) or echo reply (type 0) with the given payload. */
static int send_icmp(uint8_t type, const uint8_t *dst_mac, uint32_t dst_ip,
		     uint16_t id, uint16_t seq, const uint8_t *data, uint32_t dlen)
{
	if (dlen > 1400)
		dlen = 1400;
	uint32_t o = eth_header(out, dst_mac, ETH_IPV4);
	uint8_t *ip = out + o, *ic = ip + 20;
	uint16_t total = (uint16_t)(20 + 8 + dlen);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, total);
	put16(ip + 4, seq);
	ip[8] = 64;                  /* TTL */
	ip[9] = 1;                   /* ICMP */
	put32(ip + 12, my_ip);
	put32(ip + 16, dst_ip);
	put16(ip + 10, csum(ip, 20));
	ic[0] = type;
	ic[1] = 0;
	put16(ic + 2, 0);
	put16(ic + 4, id);
	put16(ic + 6, seq);
	memcpy(ic + 8, data, dlen);
	put16(ic + 2, csum(ic, 8 + dlen));
	return send_padded(o + total);
}

static void handle(const uint8_t *f, uint32_t len)
{
	char b1[16];
	if (len < 14)
		return;
	uint16_t type = get16(f + 12);
	const uint8_t *p = f + 14;
	len -= 14;
	if (type == ETH_ARP && len >= 28 && get16(p) == 1 && get16(p + 2) == ETH_IPV4) {
		uint16_t oper = get16(p + 6);
		uint32_t spa = get32(p + 14), tpa = get32(p + 24);
		if (oper == 1 && tpa == my_ip) {
			send_arp(2, p + 8, spa);
		} else if (oper == 2 && spa == peer_ip && tpa == my_ip && !have_peer_mac) {
			memcpy(peer_mac, p + 8, 6);
			have_peer_mac = 1;
			printf("net: arp reply from %s is %02x:%02x:%02x:%02x:%02x:%02x\n",
			       ip_str(spa, b1), p[8], p[9], p[10], p[11], p[12], p[13]);
		}
		return;
	}
	if (type != ETH_IPV4 || len < 20 || (p[0] >> 4) != 4)
		return;
	uint32_t ihl = (uint32_t)(p[0] & 15) * 4, total = get16(p + 2);
	if (ihl < 20 || total < ihl + 8 || total > len || p[9] != 1)
		return;
	if (get32(p + 16) != my_ip)
		return;
	uint32_t src = get32(p + 12);
	const uint8_t *ic = p + ihl;
	uint32_t iclen = total - ihl;
	if (ic[0] == 8) {            /* echo request: answer it */
		send_icmp(0, f + 6, src, get16(ic + 4), get16(ic + 6), ic + 8, iclen - 8);
		answered++;
		if (!quiet)
			printf("net: answered ping from %s seq %u\n", ip_str(src, b1), get16(ic + 6));
	} else if (multi_ping && ic[0] == 0 && src == peer_ip && get16(ic + 4) == PING_ID &&
		   get16(ic + 6) >= 1 && get16(ic + 6) <= ping_seq && !replied[get16(ic + 6)]) {
		uint16_t seq = get16(ic + 6);
		uint64_t rtt = rdtsc() - sent_tsc[seq];
		replied[seq] = 1;
		replies++;
		got_ping_reply = 1;
		rtt_sum += rtt;
		if (rtt < rtt_min)
			rtt_min = rtt;
		if (rtt > rtt_max)
			rtt_max = rtt;
		printf("net: ping reply from %s seq %u, %u bytes\n", ip_str(src, b1), seq, iclen);
	} else if (ic[0] == 0 && src == peer_ip && get16(ic + 4) == PING_ID &&
		   get16(ic + 6) == ping_seq && !got_ping_reply) {
		got_ping_reply = 1;
		printf("net: ping reply from %s seq %u, %u bytes\n", ip_str(src, b1),
		       ping_seq, iclen);
	}
}

/* Handle frames until *flag is set or timeout_ms passes. */
static void pump(int *flag, uint64_t timeout_ms)
{
	uint64_t end = rdtsc() + timeout_ms * (rt_tsc_hz() / 1000);
	while ((!flag || !*flag) && (int64_t)(rdtsc() - end) < 0) {
		int n = vnet_recv(&net, frame, sizeof(frame), 10000);
		if (n > 0)
			handle(frame, (uint32_t)n);
	}
}

static uint64_t arg_u64(const char *key, uint64_t def)
{
	char arg[32];
	if (rt_cmdline_get(key, arg, sizeof(arg)) > 0)
		return rt_strtou64(arg, NULL);
	return def;
}

/* net_ping_count=N > 1: N pings on a fixed schedule (or back to back). */
static int ping_many(unsigned count, uint64_t interval_ms)
{
	static const uint8_t payload[32] = "lvmm test guest ping payload...";
	char b1[16];
	uint64_t hz = rt_tsc_hz();
	uint64_t t0 = rdtsc();
	multi_ping = 1;
	for (unsigned i = 1; i <= count; i++) {
		ping_seq = (uint16_t)i;
		got_ping_reply = 0;
		sent_tsc[i] = rdtsc();
		send_icmp(8, peer_mac, peer_ip, PING_ID, ping_seq, payload, sizeof(payload));
		if (interval_ms) {
			/* The next send time, on a grid from t0. */
			uint64_t next = t0 + i * interval_ms * (hz / 1000);
			int64_t left = (int64_t)(next - rdtsc());
			if (i < count && left > 0)
				pump(NULL, (uint64_t)left / (hz / 1000) + 1);
		} else if (i < count) {
			pump(&got_ping_reply, 1000);
		}
	}
	/* Late replies to the last pings. */
	uint64_t end = rdtsc() + 1000 * (hz / 1000);
	while (replies < (int)count && (int64_t)(rdtsc() - end) < 0) {
		int n = vnet_recv(&net, frame, sizeof(frame), 10000);
		if (n > 0)
			handle(frame, (uint32_t)n);
	}
	uint64_t us = hz / 1000000;
	if (replies)
		printf("net: %d/%u ping replies from %s, rtt min/avg/max %lu/%lu/%lu us\n",
		       replies, count, ip_str(peer_ip, b1), rtt_min / us,
		       rtt_sum / (uint64_t)replies / us, rtt_max / us);
	else
		printf("net: 0/%u ping replies from %s\n", count, ip_str(peer_ip, b1));
	return replies;
}

int main(void)
{
	char arg[32], b1[16];
	int serve_only = 0;
	if (rt_cmdline_get("ip", arg, sizeof(arg)) < 0 || parse_ip(arg, &my_ip)) {
		printf("net: need ip=A.B.C.D [peer=E.F.G.H] on the command line\n");
		return 2;
	}
	if (rt_cmdline_get("peer", arg, sizeof(arg)) < 0)
		serve_only = 1;
	else if (parse_ip(arg, &peer_ip)) {
		printf("net: bad peer=%s\n", arg);
		return 2;
	}
	quiet = arg_u64("net_quiet", 0) != 0;
	uint64_t ping_count = arg_u64("net_ping_count", 1);
	if (ping_count < 1 || ping_count > MAX_PINGS) {
		printf("net: net_ping_count must be 1-%d\n", MAX_PINGS);
		return 2;
	}
	if (vnet_open(&net, 0)) {
		printf("net: no virtio-net device\n");
		return 2;
	}
	printf("net: device at 0x%lx irq %u, mac %02x:%02x:%02x:%02x:%02x:%02x, ip %s\n",
	       net.dev.base, net.dev.irq, net.mac[0], net.mac[1], net.mac[2],
	       net.mac[3], net.mac[4], net.mac[5], ip_str(my_ip, b1));

	if (serve_only) {
		int has_ms = rt_cmdline_get("net_serve_ms", arg, sizeof(arg)) > 0;
		uint64_t ms = has_ms ? rt_strtou64(arg, NULL) : 0;
		printf("net: serving as %s\n", ip_str(my_ip, b1));
		if (!has_ms)
			for (;;)
				pump(NULL, 1000);
		pump(NULL, ms);
		printf("net: answered %lu pings\n", answered);
		printf("net: ok\n");
		return 0;
	}

	for (int i = 0; i < 5 && !have_peer_mac; i++) {
		send_arp(1, NULL, peer_ip);
		pump(&have_peer_mac, 1000);
	}
	if (!have_peer_mac) {
		printf("net: no arp reply from %s\n", ip_str(peer_ip, b1));
		return 1;
	}
	if (ping_count > 1) {
		if (!ping_many((unsigned)ping_count, arg_u64("net_ping_interval_ms", 1000))) {
			printf("net: no ping reply from %s\n", ip_str(peer_ip, b1));
			return 1;
		}
	} else {
		static const uint8_t payload[32] = "lvmm test guest ping payload...";
		for (int i = 0; i < 5 && !got_ping_reply; i++) {
			ping_seq = (uint16_t)(i + 1);
			send_icmp(8, peer_mac, peer_ip, PING_ID, ping_seq, payload, sizeof(payload));
			pump(&got_ping_reply, 1000);
		}
		if (!got_ping_reply) {
			printf("net: no ping reply from %s\n", ip_str(peer_ip, b1));
			return 1;
		}
	}
	if (rt_cmdline_get("net_serve_ms", arg, sizeof(arg)) > 0)
		pump(NULL, rt_strtou64(arg, NULL));
	if (quiet)
		printf("net: answered %lu pings\n", answered);
	printf("net: ok\n");
	return 0;
}
