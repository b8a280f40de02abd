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
 *
 * Nothing here may depend on how fast the host is (the demo must pass on a
 * loaded machine): the service partition may boot after us, so ARP is
 * repeated every wait_ms until arp_ms has passed; an echo request or
 * datagram that is not answered within wait_ms is sent again (the same
 * sequence number and payload), up to tries times; and an answer that
 * arrives late, while a later packet is being waited for, still counts for
 * its own sequence number. A line says how many packets were sent again.
 * Datagrams to discard_port are sent once each: no answer is expected, and
 * a retransmission would prove nothing more.
 *
 * Options: count=N (default 3), wait_ms=N (per try, default 500), tries=N
 * (default 6), arp_ms=N (default 30000), echo_port=P, discard_port=P,
 * net_index=N (which virtio-net, default 0), user_serve_ms=N (keep
 * answering for N ms before "user: done"), line_pause_ms=N (a console
 * test: stop N ms in the middle of each summary line, as a vCPU that the
 * host does not run for a while would; the line must still arrive whole).
 * remediation=A.B.C.D (the EAC demo): first ARP for and ping that address
 * (the remediation server a quarantined partition may still reach),
 *   user: icmp 10.0.0.3 (remediation): 3/3 replies
 * then the flows to the peer, whose ARP then waits at most peer_arp_ms
 * (default arp_ms): by then the service partition is known to be up.
 * Exit 0 (the verdict is in the text); 2 on a bad command line / no NIC.
 */
#include "inet.h"
#include "virtio.h"

#define SPORT_ECHO    40007
#define SPORT_DISCARD 40009
#define PING_ID       0x5553   /* "US" */
#define MAX_COUNT     1000

static struct vnet net;
static uint8_t frame[ETH_MAX_FRAME], out[ETH_MAX_FRAME];
static uint32_t my_ip, peer_ip;
static uint8_t peer_mac[6];
static uint8_t have_peer_mac;
static uint64_t wait_us = 500000;

/* The flow being measured: what counts as an answer, and which sequence
 * numbers (1..count) have been answered so far. */
static enum { W_NONE, W_ICMP, W_UDP } want;
static uint16_t want_sport, want_dport;
static int want_echo;               /* the answer must carry our payload */
static int want_count;
static int cur_seq;                 /* an answer without a payload counts here */
static uint8_t answered[MAX_COUNT + 1];

static void send_frame(uint32_t len)
{
	if (vnet_send(&net, out, len))
		printf("user: tx timeout\n");
}

/* The UDP payload of sequence number seq (1-based); its length. */
static uint32_t udp_payload(uint16_t dport, int seq, uint8_t *buf, size_t size)
{
	int n = snprintf((char *)buf, size, "lvmm user udp to port %u seq %d", dport, seq);
	return n < 0 ? 0 : (uint32_t)n < size ? (uint32_t)n : (uint32_t)size - 1;
}

/* The sequence number whose payload p is (1..want_count), or 0. */
static int echo_seq(const uint8_t *p, uint32_t len)
{
	static const char pfx[] = "lvmm user udp to port ";
	uint8_t expect[64];
	const char *e;
	char num[8];
	uint32_t i = 0;

	if (len >= sizeof(expect) || len <= sizeof(pfx) || memcmp(p, pfx, sizeof(pfx) - 1))
		return 0;
	/* The number after the last space; checked by rebuilding the payload. */
	for (uint32_t k = 0; k < len; k++)
		if (p[k] == ' ')
			i = k + 1;
	if (i == 0 || len - i >= sizeof(num) || len == i)
		return 0;
	memcpy(num, p + i, len - i);
	num[len - i] = '\0';
	uint64_t seq = rt_strtou64(num, &e);
	if (*e || seq < 1 || seq > (uint64_t)want_count)
		return 0;
	if (udp_payload(want_dport, (int)seq, expect, sizeof(expect)) != len ||
	    memcmp(expect, p, len))
		return 0;
	return (int)seq;
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
	    p.icmp_id == PING_ID && p.icmp_seq >= 1 && p.icmp_seq <= want_count)
		answered[p.icmp_seq] = 1;
	if (want == W_UDP && p.proto == IP_PROTO_UDP && p.has_ports &&
	    p.sport == want_dport && p.dport == want_sport) {
		/* The discard flow counts any answer; echo wants one of our payloads. */
		if (!want_echo) {
			answered[cur_seq] = 1;
		} else {
			int seq = echo_seq(p.payload, p.payload_len);
			if (seq)
				answered[seq] = 1;
		}
	}
}

/* Handle frames until *flag is set or timeout_us passes (flag NULL: the whole time). */
static void pump(const volatile uint8_t *flag, uint64_t timeout_us)
{
	uint64_t end = rdtsc() + timeout_us * (rt_tsc_hz() / 1000000);
	while ((!flag || !*flag) && (int64_t)(rdtsc() - end) < 0) {
		int n = vnet_recv(&net, frame, sizeof(frame), 10000);
		if (n > 0)
			handle(frame, (uint32_t)n);
	}
}

/* Send seq 1..count, each up to tries times until answered; returns how many
 * were answered, and the number of retransmissions in *again. */
static int run_flow(int count, int tries, int *again, uint32_t (*build)(int seq))
{
	int ok = 0;
	*again = 0;
	want_count = count;
	memset(answered, 0, sizeof(answered));
	for (int i = 1; i <= count; i++) {
		cur_seq = i;
		for (int t = 0; t < tries && !answered[i]; t++) {
			if (t)
				(*again)++;
			send_frame(build(i));
			pump(&answered[i], wait_us);
		}
	}
	for (int i = 1; i <= count; i++)
		ok += answered[i];
	want = W_NONE;
	return ok;
}

static uint32_t build_ping(int seq)
{
	static const uint8_t payload[32] = "lvmm user partition icmp echo..";
	return inet_build_icmp_echo(out, net.mac, peer_mac, my_ip, peer_ip, ICMP_ECHO_REQUEST,
				    PING_ID, (uint16_t)seq, payload, sizeof(payload));
}

static uint32_t build_udp(int seq)
{
	uint8_t payload[64];
	uint32_t len = udp_payload(want_dport, seq, payload, sizeof(payload));
	return inet_build_udp(out, net.mac, peer_mac, my_ip, peer_ip, want_sport, want_dport,
			      payload, len);
}

static uint64_t arg_u64(const char *key, uint64_t def)
{
	char arg[32];
	if (rt_cmdline_get(key, arg, sizeof(arg)) > 0)
		return rt_strtou64(arg, NULL);
	return def;
}

static uint64_t line_pause_us;

/* One console line; with line_pause_ms it is written in two halves with a
 * pause between them (see the header comment). */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[160];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;
	if (!line_pause_us) {
		rt_puts_raw(buf, len);
		return;
	}
	rt_puts_raw(buf, len / 2);
	uint64_t end = rdtsc() + line_pause_us * (rt_tsc_hz() / 1000000);
	while ((int64_t)(rdtsc() - end) < 0)
		cpu_relax();
	rt_puts_raw(buf + len / 2, len - len / 2);
}

static const char *again_str(int again, char *buf, size_t size)
{
	if (!again)
		return "";
	snprintf(buf, size, " (%d sent again)", again);
	return buf;
}

int main(void)
{
	char arg[32], b1[16], b2[18], a1[32], a2[32];
	if (rt_cmdline_get("ip", arg, sizeof(arg)) < 0 || inet_parse_ip(arg, &my_ip) ||
	    rt_cmdline_get("peer", arg, sizeof(arg)) < 0 || inet_parse_ip(arg, &peer_ip)) {
		printf("user: need ip=A.B.C.D peer=E.F.G.H on the command line\n");
		return 2;
	}
	int count = (int)arg_u64("count", 3);
	if (count < 1 || count > MAX_COUNT)
		count = 3;
	int tries = (int)arg_u64("tries", 6);
	if (tries < 1 || tries > 100)
		tries = 6;
	wait_us = arg_u64("wait_ms", 500) * 1000;
	if (wait_us < 1000 || wait_us > 60000000)
		wait_us = 500000;
	uint64_t arp_us = arg_u64("arp_ms", 30000) * 1000;
	line_pause_us = arg_u64("line_pause_ms", 0) * 1000;
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
	uint32_t rem_ip;
	if (rt_cmdline_get("remediation", a1, sizeof(a1)) >= 0) {
		if (inet_parse_ip(a1, &rem_ip)) {
			printf("user: bad remediation=%s\n", a1);
			return 2;
		}
		/* The same ARP wait and ping flow, towards the remediation address. */
		uint32_t peer = peer_ip;
		uint64_t rem_end = t0 + arp_us * (hz / 1000000);
		int sent = 0, rem = 0, rem_again = 0;
		peer_ip = rem_ip;
		while (!have_peer_mac && (sent == 0 || (int64_t)(rdtsc() - rem_end) < 0)) {
			send_frame(inet_build_arp(out, net.mac, NULL, ARP_REQUEST, my_ip, NULL, peer_ip));
			sent++;
			pump(&have_peer_mac, wait_us);
		}
		if (have_peer_mac) {
			want = W_ICMP;
			rem = run_flow(count, tries, &rem_again, build_ping);
		}
		say("user: icmp %s (remediation): %d/%d replies%s\n", inet_ip_str(rem_ip, b1), rem,
		    count, again_str(rem_again, a2, sizeof(a2)));
		peer_ip = peer;
		have_peer_mac = 0;
		arp_us = arg_u64("peer_arp_ms", arp_us / 1000) * 1000;
	}
	/* The service partition bridges ARP once it is up: ask until it answers. */
	uint64_t arp_end = rdtsc() + arp_us * (hz / 1000000);
	int arp_sent = 0;
	while (!have_peer_mac && (arp_sent == 0 || (int64_t)(rdtsc() - arp_end) < 0)) {
		send_frame(inet_build_arp(out, net.mac, NULL, ARP_REQUEST, my_ip, NULL, peer_ip));
		arp_sent++;
		pump(&have_peer_mac, wait_us);
	}
	int icmp = 0, echo = 0, discard = 0, icmp_again = 0, echo_again = 0, discard_again = 0;
	if (!have_peer_mac) {
		printf("user: no arp reply from %s after %d requests\n", inet_ip_str(peer_ip, b1),
		       arp_sent);
	} else {
		want = W_ICMP;
		icmp = run_flow(count, tries, &icmp_again, build_ping);
		want = W_UDP;
		want_echo = 1;
		want_sport = SPORT_ECHO;
		want_dport = echo_port;
		echo = run_flow(count, tries, &echo_again, build_udp);
		want = W_UDP;
		want_echo = 0;
		want_sport = SPORT_DISCARD;
		want_dport = discard_port;
		discard = run_flow(count, 1, &discard_again, build_udp);
	}
	inet_ip_str(peer_ip, b1);
	say("user: icmp %s: %d/%d replies%s\n", b1, icmp, count,
	    again_str(icmp_again, a1, sizeof(a1)));
	say("user: udp %s:%u: %d/%d echoed%s\n", b1, echo_port, echo, count,
	    again_str(echo_again, a2, sizeof(a2)));
	say("user: udp %s:%u: %d/%d answered\n", b1, discard_port, discard, count);
	uint64_t serve = arg_u64("user_serve_ms", 0);
	if (serve)
		pump(NULL, serve * 1000);
	say("user: done (%lu ms)\n", (rdtsc() - t0) / (hz / 1000));
	return 0;
}
