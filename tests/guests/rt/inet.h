/* SPDX-License-Identifier: MIT */
/*
 * Minimal Ethernet / ARP / IPv4 / ICMP / UDP helpers for the network test
 * guests (user, service): parse a frame into a flat view, build the few
 * frames they send. No fragment reassembly, no options, no TCP state.
 */
#ifndef RT_INET_H
#define RT_INET_H

#include "rt.h"

#define ETH_HLEN      14
#define ETH_MIN_FRAME 60            /* without FCS: pad shorter frames */
#define ETH_MAX_FRAME 1514
#define ETH_P_IPV4    0x0800
#define ETH_P_ARP     0x0806
#define ETH_P_IPV6    0x86dd
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP  6
#define IP_PROTO_UDP  17
#define ARP_REQUEST   1
#define ARP_REPLY     2
#define ICMP_ECHO_REPLY   0
#define ICMP_ECHO_REQUEST 8

static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

/* A parsed frame; pointers point into the frame. */
struct inet_pkt {
	const uint8_t *dst_mac, *src_mac;
	uint16_t ethertype;
	/* ARP (Ethernet/IPv4 only: is_arp) */
	int is_arp;
	uint16_t arp_op;
	const uint8_t *arp_sha;
	uint32_t arp_spa, arp_tpa;
	/* IPv4 (is_ipv4) */
	int is_ipv4;
	uint32_t src, dst;
	uint8_t proto;
	int later_fragment;          /* offset != 0: no L4 header here */
	const uint8_t *l4;           /* L4 header and what follows, in the packet */
	uint32_t l4_len;
	int has_ports;               /* UDP/TCP first fragment */
	uint16_t sport, dport;
	uint8_t icmp_type;
	uint16_t icmp_id, icmp_seq;  /* echo request/reply */
	const uint8_t *payload;      /* UDP payload / ICMP echo data */
	uint32_t payload_len;
};

/* Parse an Ethernet frame. 0, or -1 when it is shorter than its headers say. */
int inet_parse(const uint8_t *f, uint32_t len, struct inet_pkt *p);

/* "A.B.C.D" -> host-order address. 0 or -1. */
int inet_parse_ip(const char *s, uint32_t *ip);
const char *inet_ip_str(uint32_t ip, char buf[16]);
const char *inet_mac_str(const uint8_t *mac, char buf[18]);
/* Internet checksum of p[0, len) (one's complement of the one's complement sum). */
uint16_t inet_csum(const uint8_t *p, uint32_t len);

/* Frame builders: write into out (ETH_MAX_FRAME bytes), return the frame
 * length (padded to ETH_MIN_FRAME). dst_mac NULL means broadcast. */
uint32_t inet_build_arp(uint8_t *out, const uint8_t *src_mac, const uint8_t *dst_mac,
			uint16_t op, uint32_t spa, const uint8_t *tha, uint32_t tpa);
uint32_t inet_build_icmp_echo(uint8_t *out, const uint8_t *src_mac, const uint8_t *dst_mac,
			      uint32_t src, uint32_t dst, uint8_t type, uint16_t id,
			      uint16_t seq, const void *data, uint32_t dlen);
uint32_t inet_build_udp(uint8_t *out, const uint8_t *src_mac, const uint8_t *dst_mac,
			uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
			const void *data, uint32_t dlen);

#endif
