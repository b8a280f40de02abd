/* SPDX-License-Identifier: MIT */
/*
 * user: the user partition of the platform demo. One virtio-net NIC (its
 * link to the service partition). With ip=A.B.C.D peer=E.F.G.H it
 *   - ARPs for the peer,
 *   - sends count ICMP echo requests (expects replies),
 *   - sends count UDP datagrams to echo_port (7: expects the payload back),
 *   - sends count UDP datagrams to discard_port (9: the service partition
 *     should drop them, so no answer is expected),
 * and prints one summary line per flow:
 *   user: icmp 10.0.0.1: 3/3 replies
 *   user: udp 10.0.0.1:7: 3/3 echoed
 *   user: udp 10.0.0.1:9: 0/3 answered
 *   user: done
 * It answers ARP requests and pings for its own address all along.
 * Options: count=N (default 3), wait_ms=N (per packet, default 500),
 * echo_port=P, discard_port=P, net_index=N (which virtio-net, default 0),
 * user_serve_ms=N (keep answering for N ms before "user: done").
 * Exit 0 (the verdict is in the text); 2 on a bad command line / no NIC.
 */
#include "inet.h"
#include "virtio.h"

#define SPORT_ECHO    40007
#define SPORT_DISCARD 40009
#define PING_ID       0x5553   /* "US" */

static struct vnet net;
static uint8_t frame[ETH_MAX_FRAME], out[ETH_MAX_FRAME];
static uint32_t my_ip, peer_ip;
static uint8_t peer_mac[6];
static int have_peer_mac;
static uint64_t wait_us = 500000;

/* What the flow being measured waits for. */
static enum { W_NONE, W_ICMP, W_UDP } want;
static uint16_t want_seq, want_sport, want_dport;
static uint8_t want_payload[64];
static uint32_t want_len;
static int want_echo;               /* the answer must carry our payload */
static int got;

static void send_frame(uint32_t len)
{
	if (vnet_send(&net, out, len))
		printf("user: tx timeout\n");
}

static void handle(const uint8_t *f, uint32_t len)
{
	struct inet_pkt p;
	char b1[16], b2[18];
	if (inet_parse(f, len, &p))
		return;
	if (p.is_arp) {
		if (p.arp_op == ARP_REQUEST && p.arp_tpa == my_ip) {
			send_frame(inet_build_arp(out, net.mac, p.arp_sha, ARP_REPLY, my_ip,
						  p.arp_sha, p.arp_spa));
		} else if (p.arp_op == ARP_REPLY && p.arp_spa == peer_ip && !have_peer_mac) {
			memcpy(peer_mac, p.arp_sha, 6);
			have_peer_mac = 1;
			printf("user: arp %s is %s\n", inet_ip_str(peer_ip, b1),
			       inet_mac_str(peer_mac, b2));
		}
		return;
	}
	if (!p.is_ipv4 || p.dst != my_ip)
		return;
	if (p.proto == IP_PROTO_ICMP && p.icmp_type == ICMP_ECHO_REQUEST) {
		send_frame(inet_build_icmp_echo(out, net.mac, p.src_mac, my_ip, p.src,
						ICMP_ECHO_REPLY, p.icmp_id, p.icmp_seq,
						p.payload, p.payload_len));
		return;
	}
	if (p.src != peer_ip)
		return;
	if (want == W_ICMP && p.proto == IP_PROTO_ICMP && p.icmp_type == ICMP_ECHO_REPLY &&
	    p.icmp_id == PING_ID && p.icmp_seq == want_seq)
		got = 1;
	if (want == W_UDP && p.proto == IP_PROTO_UDP && p.has_ports &&
	    p.sport == want_dport && p.dport == want_sport) {
		/* The discard flow counts any answer; echo wants our payload back. */
		if (!want_echo ||
		    (p.payload_len == want_len && !memcmp(p.payload, want_payload, want_len)))
			got = 1;
	}
}

/* Handle frames until got is set (flag) or timeout_us passes. */
static void pump(int *flag, uint64_t timeout_us)
{
	uint64_t end = rdtsc() + timeout_us * (rt_tsc_hz() / 1000000);
	while ((!flag || !*flag) && (int64_t)(rdtsc() - end) < 0) {
		int n = vnet_recv(&net, frame, sizeof(frame), 10000);
		if (n > 0)
			handle(frame, (uint32_t)n);
	}
}

static int ping_flow(int count)
{
	int ok = 0;
	static const uint8_t payload[32] = "lvmm user partition icmp echo..";
	for (int i = 0; i < count; i++) {
		want = W_ICMP;
		want_seq = (uint16_t)(i + 1);
		got = 0;
		send_frame(inet_build_icmp_echo(out, net.mac, peer_mac, my_ip, peer_ip,
						ICMP_ECHO_REQUEST, PING_ID, want_seq,
						payload, sizeof(payload)));
		pump(&got, wait_us);
		ok += got;
	}
	want = W_NONE;
	return ok;
}

static int udp_flow(int count, uint16_t sport, uint16_t dport, int echo)
{
	int ok = 0;
	for (int i = 0; i < count; i++) {
		want = W_UDP;
		want_echo = echo;
		want_sport = sport;
		want_dport = dport;
		want_len = (uint32_t)snprintf((char *)want_payload, sizeof(want_payload),
					      "lvmm user udp to port %u seq %d", dport, i + 1);
		got = 0;
		send_frame(inet_build_udp(out, net.mac, peer_mac, my_ip, peer_ip, sport, dport,
					  want_payload, want_len));
		pump(&got, wait_us);
		ok += got;
	}
	want = W_NONE;
	return ok;
}

static uint64_t arg_u64(const char *key, uint64_t def)
{
	char arg[32];
	if (rt_cmdline_get(key, arg, sizeof(arg)) > 0)
		return rt_strtou64(arg, NULL);
	return def;
}

int main(void)
{
	char arg[32], b1[16], b2[18];
	if (rt_cmdline_get("ip", arg, sizeof(arg)) < 0 || inet_parse_ip(arg, &my_ip) ||
	    rt_cmdline_get("peer", arg, sizeof(arg)) < 0 || inet_parse_ip(arg, &peer_ip)) {
		printf("user: need ip=A.B.C.D peer=E.F.G.H on the command line\n");
		return 2;
	}
	int count = (int)arg_u64("count", 3);
	if (count < 1 || count > 1000)
		count = 3;
	wait_us = arg_u64("wait_ms", 500) * 1000;
	uint16_t echo_port = (uint16_t)arg_u64("echo_port", 7);
	uint16_t discard_port = (uint16_t)arg_u64("discard_port", 9);
	int index = (int)arg_u64("net_index", 0);
	if (vnet_open(&net, index)) {
		printf("user: no virtio-net device %d\n", index);
		return 2;
	}
	printf("user: nic at 0x%lx irq %u, mac %s, ip %s, peer %s\n", net.dev.base, net.dev.irq,
	       inet_mac_str(net.mac, b2), inet_ip_str(my_ip, b1), inet_ip_str(peer_ip, arg));

	uint64_t t0 = rdtsc(), hz = rt_tsc_hz();
	for (int i = 0; i < 4 && !have_peer_mac; i++) {
		send_frame(inet_build_arp(out, net.mac, NULL, ARP_REQUEST, my_ip, NULL, peer_ip));
		pump(&have_peer_mac, wait_us);
	}
	int icmp = 0, echo = 0, discard = 0;
	if (!have_peer_mac) {
		printf("user: no arp reply from %s\n", inet_ip_str(peer_ip, b1));
	} else {
		icmp = ping_flow(count);
		echo = udp_flow(count, SPORT_ECHO, echo_port, 1);
		discard = udp_flow(count, SPORT_DISCARD, discard_port, 0);
	}
	inet_ip_str(peer_ip, b1);
	printf("user: icmp %s: %d/%d replies\n", b1, icmp, count);
	printf("user: udp %s:%u: %d/%d echoed\n", b1, echo_port, echo, count);
	printf("user: udp %s:%u: %d/%d answered\n", b1, discard_port, discard, count);
	uint64_t serve = arg_u64("user_serve_ms", 0);
	if (serve)
		pump(NULL, serve * 1000);
	printf("user: done (%lu ms)\n", (rdtsc() - t0) / (hz / 1000));
	return 0;
}
