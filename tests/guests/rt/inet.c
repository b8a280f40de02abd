/* SPDX-License-Identifier: MIT */
/* Minimal Ethernet / ARP / IPv4 / ICMP / UDP helpers (see inet.h). */
#include "inet.h"

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

int inet_parse(const uint8_t *f, uint32_t len, struct inet_pkt *p)
{
	memset(p, 0, sizeof(*p));
	if (len < ETH_HLEN)
		return -1;
	p->dst_mac = f;
	p->src_mac = f + 6;
	p->ethertype = get16(f + 12);
	const uint8_t *l3 = f + ETH_HLEN;
	uint32_t l3len = len - ETH_HLEN;
	if (p->ethertype == ETH_P_ARP) {
		if (l3len < 28)
			return -1;
		if (get16(l3) == 1 && get16(l3 + 2) == ETH_P_IPV4 && l3[4] == 6 && l3[5] == 4) {
			p->is_arp = 1;
			p->arp_op = get16(l3 + 6);
			p->arp_sha = l3 + 8;
			p->arp_spa = get32(l3 + 14);
			p->arp_tpa = get32(l3 + 24);
		}
		return 0;
	}
	if (p->ethertype != ETH_P_IPV4)
		return 0;
	if (l3len < 20 || (l3[0] >> 4) != 4)
		return -1;
	uint32_t ihl = (uint32_t)(l3[0] & 15) * 4, total = get16(l3 + 2);
	if (ihl < 20 || total < ihl || total > l3len)
		return -1;
	p->is_ipv4 = 1;
	p->src = get32(l3 + 12);
	p->dst = get32(l3 + 16);
	p->proto = l3[9];
	p->later_fragment = (get16(l3 + 6) & 0x1fff) != 0;
	p->l4 = l3 + ihl;
	p->l4_len = total - ihl;
	if (p->later_fragment)
		return 0;
	if ((p->proto == IP_PROTO_UDP && p->l4_len >= 8) ||
	    (p->proto == IP_PROTO_TCP && p->l4_len >= 20)) {
		p->has_ports = 1;
		p->sport = get16(p->l4);
		p->dport = get16(p->l4 + 2);
		if (p->proto == IP_PROTO_UDP) {
			uint32_t ulen = get16(p->l4 + 4);
			if (ulen < 8 || ulen > p->l4_len)
				ulen = p->l4_len;
			p->payload = p->l4 + 8;
			p->payload_len = ulen - 8;
		}
	} else if (p->proto == IP_PROTO_ICMP && p->l4_len >= 8) {
		p->icmp_type = p->l4[0];
		p->icmp_id = get16(p->l4 + 4);
		p->icmp_seq = get16(p->l4 + 6);
		p->payload = p->l4 + 8;
		p->payload_len = p->l4_len - 8;
	}
	return 0;
}

int inet_parse_ip(const char *s, uint32_t *ip)
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

const char *inet_ip_str(uint32_t ip, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
	return buf;
}

const char *inet_mac_str(const uint8_t *m, char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

static uint32_t csum_add(uint32_t s, const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i + 1 < len; i += 2)
		s += get16(p + i);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	return s;
}

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

uint16_t inet_csum(const uint8_t *p, uint32_t len)
{
	return csum_fold(csum_add(0, p, len));
}

static uint32_t eth(uint8_t *out, const uint8_t *src_mac, const uint8_t *dst_mac, uint16_t type)
{
	memcpy(out, dst_mac ? dst_mac : bcast, 6);
	memcpy(out + 6, src_mac, 6);
	put16(out + 12, type);
	return ETH_HLEN;
}

static uint32_t pad(uint8_t *out, uint32_t len)
{
	if (len < ETH_MIN_FRAME) {
		memset(out + len, 0, ETH_MIN_FRAME - len);
		len = ETH_MIN_FRAME;
	}
	return len;
}

uint32_t inet_build_arp(uint8_t *out, const uint8_t *src_mac, const uint8_t *dst_mac,
			uint16_t op, uint32_t spa, const uint8_t *tha, uint32_t tpa)
{
	uint32_t o = eth(out, src_mac, dst_mac, ETH_P_ARP);
	uint8_t *a = out + o;
	put16(a, 1);
	put16(a + 2, ETH_P_IPV4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, src_mac, 6);
	put32(a + 14, spa);
	if (tha)
		memcpy(a + 18, tha, 6);
	else
		memset(a + 18, 0, 6);
	put32(a + 24, tpa);
	return pad(out, o + 28);
}

static uint16_t ip_id;

/* IPv4 header for an L4 part of l4len bytes already at out + 34. */
static uint32_t ipv4(uint8_t *out, const uint8_t *src_mac, const uint8_t *dst_mac,
		     uint32_t src, uint32_t dst, uint8_t proto, uint32_t l4len)
{
	uint32_t o = eth(out, src_mac, dst_mac, ETH_P_IPV4);
	uint8_t *ip = out + o;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + l4len));
	put16(ip + 4, ++ip_id);
	put16(ip + 6, 0x4000);       /* DF */
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(ip + 10, inet_csum(ip, 20));
	return pad(out, o + 20 + l4len);
}

uint32_t inet_build_icmp_echo(uint8_t *out, const uint8_t *src_mac, const uint8_t *dst_mac,
			      uint32_t src, uint32_t dst, uint8_t type, uint16_t id,
			      uint16_t seq, const void *data, uint32_t dlen)
{
	if (dlen > ETH_MAX_FRAME - ETH_HLEN - 28)
		dlen = ETH_MAX_FRAME - ETH_HLEN - 28;
	uint8_t *ic = out + ETH_HLEN + 20;
	ic[0] = type;
	ic[1] = 0;
	put16(ic + 2, 0);
	put16(ic + 4, id);
	put16(ic + 6, seq);
	memmove(ic + 8, data, dlen);
	put16(ic + 2, inet_csum(ic, 8 + dlen));
	return ipv4(out, src_mac, dst_mac, src, dst, IP_PROTO_ICMP, 8 + dlen);
}

uint32_t inet_build_udp(uint8_t *out, const uint8_t *src_mac, const uint8_t *dst_mac,
			uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
			const void *data, uint32_t dlen)
{
	if (dlen > ETH_MAX_FRAME - ETH_HLEN - 28)
		dlen = ETH_MAX_FRAME - ETH_HLEN - 28;
	uint8_t *u = out + ETH_HLEN + 20;
	uint8_t pseudo[12];
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(8 + dlen));
	put16(u + 6, 0);
	memmove(u + 8, data, dlen);
	put32(pseudo, src);
	put32(pseudo + 4, dst);
	pseudo[8] = 0;
	pseudo[9] = IP_PROTO_UDP;
	put16(pseudo + 10, (uint16_t)(8 + dlen));
	uint16_t c = csum_fold(csum_add(csum_add(0, pseudo, 12), u, 8 + dlen));
	put16(u + 6, c ? c : 0xffff);
	return ipv4(out, src_mac, dst_mac, src, dst, IP_PROTO_UDP, 8 + dlen);
}
