/* SPDX-License-Identifier: MIT */
/*
 * netbench: raw Ethernet frame rate on the first virtio-net device
 * (net_index=N for another), timed with the TSC, polled, interrupts
 * suppressed (VRING_AVAIL_F_NO_INTERRUPT).
 *
 *   mode=tx size=S secs=N   sends S-byte frames (S without the 12-byte
 *                           virtio header; 60-1514, default 60) for N s
 *                           (default 3) as fast as the device takes them:
 *                           every free tx descriptor is refilled (all point
 *                           at the same read-only frame) and the queue is
 *                           kicked only when the device has not set
 *                           VRING_USED_F_NO_NOTIFY. Prints
 *     netbench: tx frames=N pps=N size=S mbps=M ms=T kicks=K
 *                           (K: QueueNotify writes, a VM exit each)
 *   mode=rx                 counts frames of the bench ethertype: the clock
 *                           starts at the first and stops at the last, which
 *                           is the one followed by idle_ms (500) of silence
 *                           or secs=N (default: none) after the first.
 *                           rx_wait_ms (30000) bounds the wait for the first
 *                           frame (then exit 1). Prints
 *     netbench: rx frames=N pps=N bytes=N mbps=M ms=T
 *                           (bytes: Ethernet frames without virtio header)
 *
 *   mode=ping size=S secs=N one frame at a time: send, wait for its echo,
 *                           send the next, for N s (default 3); a histogram
 *                           of the round trips (guest kick -> backend ->
 *                           peer -> its echo -> our used ring), 1 us buckets.
 *                           Prints
 *     netbench: ping frames=N pps=N size=S p50_us=A p90_us=B p99_us=C min_us=D max_us=E lost=L
 *   mode=pong               sends every bench frame it receives straight
 *                           back, until idle_ms of silence after the first
 *                           (or secs=N); prints netbench: pong frames=N
 *   ping and pong negotiate VIRTIO_F_EVENT_IDX when offered (event_idx=0:
 *   not) and ask for an interrupt per used buffer (irq=0: not), so both
 *   ends pay for signalling as interrupt-driven drivers make them; the
 *   guest still polls (CPL3 runs with interrupts masked, see rt.h).
 *   wait=irq (ping and pong): instead of polling, the guest sleeps (hlt)
 *   until the rx interrupt, as an OS's idle loop does, so its vCPU gives
 *   the host CPU up while it waits; tx buffers then ask for no interrupt.
 *   Each wait is a service call (~100s of us of emulated CPL0 here).
 *
 * dst=MAC (default broadcast), ethertype=0xXXXX (default 0x88b5, IEEE
 * local experimental; rx: ethertype=any counts every frame). The frames
 * carry the source MAC of the device.
 * Exit 0; 1 tx stalled for 1 s / nothing received; 2 bad command line or
 * no device.
 */
#include "virtio.h"

#define VIRTIO_NET_F_MAC (1ULL << 5)
#define HDR 12
#define MAX_FRAME 1514
#define RX_BUF 1536
#define STALL_US 1000000ULL

static struct virtio_dev dev;
static struct virtq rxq, txq;
static uint8_t mac[6];
static uint8_t txbuf[HDR + MAX_FRAME] __attribute__((aligned(64)));
static uint8_t rxbufs[VIRTQ_MAX_SIZE][RX_BUF] __attribute__((aligned(64)));
static int irq_wanted;
static int wait_irq; /* wait=irq */

#define VEC_NET   0x40
#define VEC_TIMER 0x41

/*
 * Nothing received: poll again, or (wait=irq) sleep until the rx interrupt
 * or the TSC reaches until. The line is acknowledged and the ring looked at
 * once more before sleeping, so a frame that came in meanwhile raises a new
 * edge or is seen here.
 */
static void rx_idle(uint64_t until, uint64_t hz)
{
	if (!wait_irq) {
		cpu_relax();
		return;
	}
	virtio_irq_ack(&dev);
	if (__atomic_load_n(&rxq.used->idx, __ATOMIC_ACQUIRE) != rxq.last_used)
		return;
	int64_t left = (int64_t)(until - rdtsc());
	if (left <= 0)
		return;
	rt_wait_irq((uint64_t)((unsigned __int128)(uint64_t)left * 1000000000u / hz) + 1);
}

static uint64_t arg_u64(const char *key, uint64_t def)
{
	char arg[32];
	if (rt_cmdline_get(key, arg, sizeof(arg)) > 0)
		return rt_strtou64(arg, NULL);
	return def;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_mac(const char *s, uint8_t *m)
{
	for (int i = 0; i < 6; i++) {
		int h = hexval(s[0]), l = hexval(s[1]);
		if (h < 0 || l < 0 || (i < 5 && s[2] != ':') || (i == 5 && s[2]))
			return -1;
		m[i] = (uint8_t)(h << 4 | l);
		s += 3;
	}
	return 0;
}

static uint64_t per_sec(uint64_t n, uint64_t ticks, uint64_t hz)
{
	return ticks ? (uint64_t)((unsigned __int128)n * hz / ticks) : 0;
}

static int do_tx(uint32_t size, uint64_t secs, const uint8_t *dst, uint16_t etype)
{
	memset(txbuf, 0, HDR);
	uint8_t *f = txbuf + HDR;
	memcpy(f, dst, 6);
	memcpy(f + 6, mac, 6);
	f[12] = (uint8_t)(etype >> 8);
	f[13] = (uint8_t)etype;
	for (uint32_t i = 14; i < size; i++)
		f[i] = (uint8_t)i;
	memcpy(f + 14, "lvmm netbench", 13);

	struct virtq_buf b = { txbuf, HDR + size, 0 };
	uint64_t hz = rt_tsc_hz(), sent = 0, done = 0;
	uint64_t t0 = rdtsc(), end = t0 + secs * hz, last_done = t0, now = t0;
	while ((int64_t)(now - end) < 0) {
		int added = 0;
		while (virtq_add(&txq, &b, 1) >= 0)
			added++;
		sent += (uint64_t)added;
		if (added)
			virtq_kick_if_needed(&txq);
		int got = 0;
		while (virtq_get(&txq, NULL) >= 0)
			got++;
		done += (uint64_t)got;
		now = rdtsc();
		if (got)
			last_done = now;
		else if ((int64_t)(now - last_done) > (int64_t)(STALL_US * (hz / 1000000))) {
			printf("netbench: tx stalled: %lu frames queued, none taken for 1 s "
			       "(%lu done)\n", sent - done, done);
			return 1;
		}
		if (!added && !got)
			cpu_relax();
	}
	/* Count only frames the device has taken: wait for the rest. */
	uint64_t t1 = rdtsc(), drain_end = t1 + hz;
	while (done < sent && (int64_t)(rdtsc() - drain_end) < 0) {
		if (virtq_get(&txq, NULL) >= 0)
			done++;
		else
			cpu_relax();
	}
	uint64_t ticks = rdtsc() - t0;
	uint64_t pps = per_sec(done, ticks, hz);
	printf("netbench: tx frames=%lu pps=%lu size=%u mbps=%lu ms=%lu kicks=%lu\n", done, pps, size,
	       per_sec(done * size * 8, ticks, hz) / 1000000, ticks / (hz / 1000), txq.kicks);
	return 0;
}

#define HIST_US 100000 /* the 100 ms a ping waits: a shared core's round trips reach 20 ms */
static uint32_t hist[HIST_US + 1];

static uint32_t percentile(uint64_t total, unsigned pct)
{
	uint64_t want = (total * pct + 99) / 100, seen = 0;
	for (uint32_t us = 0; us <= HIST_US; us++) {
		seen += hist[us];
		if (seen >= want && want)
			return us;
	}
	return HIST_US;
}

static void rx_refill(int h)
{
	struct virtq_buf b = { (const void *)(uintptr_t)rxq.desc[h].addr, RX_BUF, 1 };
	virtq_add(&rxq, &b, 1);
}

/* The next bench frame from the rx queue: its length (frame only), or -1. */
static int rx_frame(uint16_t etype, uint8_t *out, uint32_t max)
{
	uint32_t len;
	int h;
	while ((h = virtq_get(&rxq, &len)) >= 0) {
		const uint8_t *f = (const uint8_t *)(uintptr_t)rxq.desc[h].addr + HDR;
		uint32_t flen = len >= HDR ? len - HDR : 0;
		int ours = flen >= 14 && flen <= max && (uint16_t)(f[12] << 8 | f[13]) == etype;
		if (ours)
			memcpy(out, f, flen);
		rx_refill(h);
		virtq_kick_if_needed(&rxq);
		if (rxq.event_idx)
			virtq_want_interrupt(&rxq, irq_wanted);
		if (ours)
			return (int)flen;
	}
	return -1;
}

/* Send one frame (size bytes, header zeroed) from txbuf and reclaim finished tx buffers. */
static int tx_frame(uint32_t size)
{
	while (virtq_get(&txq, NULL) >= 0)
		;
	struct virtq_buf b = { txbuf, HDR + size, 0 };
	if (virtq_add(&txq, &b, 1) < 0)
		return -1;
	virtq_kick_if_needed(&txq);
	return 0;
}

static int do_ping(uint32_t size, uint64_t secs, const uint8_t *dst, uint16_t etype)
{
	static uint8_t frame[MAX_FRAME];
	uint8_t *f = txbuf + HDR;
	memset(txbuf, 0, HDR);
	memcpy(f, dst, 6);
	memcpy(f + 6, mac, 6);
	f[12] = (uint8_t)(etype >> 8);
	f[13] = (uint8_t)etype;
	for (uint32_t i = 14; i < size; i++)
		f[i] = (uint8_t)i;
	uint64_t hz = rt_tsc_hz(), tpus = hz / 1000000, frames = 0, lost = 0, max_us = 0;
	uint64_t t0 = rdtsc(), end = t0 + secs * hz, now = t0;
	for (uint32_t seq = 1; (int64_t)(now - end) < 0; seq++) {
		memcpy(f + 14, &seq, 4);
		uint64_t sent = rdtsc(), deadline = sent + 100000 * tpus;
		if (tx_frame(size)) {
			printf("netbench: ping: tx queue stuck\n");
			return 1;
		}
		for (;;) {
			int n = rx_frame(etype, frame, sizeof(frame));
			now = rdtsc();
			if (n >= 18) {
				uint32_t got;
				memcpy(&got, frame + 14, 4);
				if (got != seq)
					continue; /* a late echo of an earlier one */
				uint64_t us = (now - sent) / tpus;
				hist[us > HIST_US ? HIST_US : us]++;
				if (us > max_us)
					max_us = us; /* a single stall hides below p99 */
				frames++;
				break;
			}
			if ((int64_t)(now - deadline) > 0) {
				lost++; /* 100 ms without the echo: count it, go on */
				break;
			}
			rx_idle(deadline, hz);
		}
	}
	uint64_t ticks = now - t0;
	uint32_t min = 0;
	while (min < HIST_US && !hist[min])
		min++;
	printf("netbench: ping frames=%lu pps=%lu size=%u p50_us=%u p90_us=%u p99_us=%u min_us=%u max_us=%lu lost=%lu\n",
	       frames, per_sec(frames, ticks, hz), size, percentile(frames, 50),
	       percentile(frames, 90), percentile(frames, 99), min, max_us, lost);
	return frames ? 0 : 1;
}

static int do_pong(uint64_t secs, uint64_t idle_ms, uint64_t wait_ms, uint16_t etype)
{
	uint64_t hz = rt_tsc_hz(), frames = 0, first = 0, last = 0, now = rdtsc();
	uint64_t wait_end = now + wait_ms * (hz / 1000), idle = idle_ms * (hz / 1000);
	printf("netbench: pong waiting\n");
	memset(txbuf, 0, HDR);
	for (;;) {
		int n = rx_frame(etype, txbuf + HDR, MAX_FRAME);
		now = rdtsc();
		if (n >= 14) {
			/* Back to where it came from. */
			uint8_t *f = txbuf + HDR;
			memcpy(f, f + 6, 6);
			memcpy(f + 6, mac, 6);
			if (tx_frame((uint32_t)(n < 60 ? 60 : n))) {
				printf("netbench: pong: tx queue stuck\n");
				return 1;
			}
			if (!frames++)
				first = now;
			last = now;
			continue;
		}
		if (!frames) {
			if (wait_ms && (int64_t)(now - wait_end) > 0)
				break;
			rx_idle(wait_ms ? wait_end : now + hz, hz);
			continue;
		}
		if ((int64_t)(now - last) > (int64_t)idle)
			break;
		if (secs && (int64_t)(now - first) > (int64_t)(secs * hz))
			break;
		uint64_t until = last + idle + 1;
		if (secs && (int64_t)(first + secs * hz + 1 - until) < 0)
			until = first + secs * hz + 1;
		rx_idle(until, hz);
	}
	printf("netbench: pong frames=%lu\n", frames);
	return frames ? 0 : 1;
}

static int do_rx(uint64_t secs, uint64_t idle_ms, uint64_t wait_ms, int any, uint16_t etype)
{
	uint64_t hz = rt_tsc_hz(), frames = 0, bytes = 0, other = 0;
	uint64_t first = 0, last = 0, now = rdtsc();
	uint64_t wait_end = now + wait_ms * (hz / 1000), idle = idle_ms * (hz / 1000);
	printf("netbench: rx waiting\n");
	for (;;) {
		uint32_t len;
		int h, got = 0;
		while ((h = virtq_get(&rxq, &len)) >= 0) {
			got++;
			const uint8_t *f = (const uint8_t *)(uintptr_t)rxq.desc[h].addr + HDR;
			uint32_t flen = len >= HDR ? len - HDR : 0;
			if (flen >= 14 && (any || (uint16_t)(f[12] << 8 | f[13]) == etype)) {
				if (!frames)
					first = rdtsc();
				frames++;
				bytes += flen;
			} else {
				other++;
			}
			struct virtq_buf b = { (const void *)(uintptr_t)rxq.desc[h].addr, RX_BUF, 1 };
			virtq_add(&rxq, &b, 1);
		}
		now = rdtsc();
		if (got) {
			if (frames)
				last = now;
			virtq_kick_if_needed(&rxq);
		} else {
			cpu_relax();
		}
		if (!frames) {
			if (wait_ms && (int64_t)(now - wait_end) > 0)
				break;
			continue;
		}
		if ((int64_t)(now - last) > (int64_t)idle)
			break;
		if (secs && (int64_t)(now - first) > (int64_t)(secs * hz))
			break;
	}
	uint64_t ticks = frames > 1 ? last - first : 0;
	printf("netbench: rx frames=%lu pps=%lu bytes=%lu mbps=%lu ms=%lu other=%lu\n", frames,
	       per_sec(frames > 1 ? frames - 1 : 0, ticks, hz), bytes,
	       per_sec(bytes * 8, ticks, hz) / 1000000, ticks / (hz / 1000), other);
	return frames ? 0 : 1;
}

int main(void)
{
	char arg[32];
	char mode[8] = "";
	rt_cmdline_get("mode", mode, sizeof(mode));
	int tx = !strcmp(mode, "tx"), ping = !strcmp(mode, "ping"), pong = !strcmp(mode, "pong");
	if (!tx && !ping && !pong && strcmp(mode, "rx")) {
		printf("netbench: need mode=tx, rx, ping or pong\n");
		return 2;
	}
	int pp = ping || pong;
	irq_wanted = pp && arg_u64("irq", 1);
	char wait[8] = "poll";
	rt_cmdline_get("wait", wait, sizeof(wait));
	wait_irq = pp && !strcmp(wait, "irq");
	if (strcmp(wait, "irq") && strcmp(wait, "poll")) {
		printf("netbench: bad wait=%s (want poll or irq)\n", wait);
		return 2;
	}
	if (wait_irq)
		irq_wanted = 1;
	uint64_t size = arg_u64("size", 60), secs = arg_u64("secs", tx || ping ? 3 : 0);
	uint8_t dst[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	if (rt_cmdline_get("dst", arg, sizeof(arg)) >= 0 && parse_mac(arg, dst)) {
		printf("netbench: bad dst=%s (want 52:54:00:12:34:56)\n", arg);
		return 2;
	}
	int any = 0;
	uint64_t etype = 0x88b5;
	if (rt_cmdline_get("ethertype", arg, sizeof(arg)) >= 0) {
		if (!strcmp(arg, "any") && !tx)
			any = 1;
		else if ((etype = rt_strtou64(arg, NULL)) < 0x600 || etype > 0xffff) {
			printf("netbench: bad ethertype=%s\n", arg);
			return 2;
		}
	}
	if (size < 60 || size > MAX_FRAME || ((tx || ping) && (!secs || secs > 3600))) {
		printf("netbench: need size 60-%u and secs 1-3600\n", MAX_FRAME);
		return 2;
	}
	int index = (int)arg_u64("net_index", 0);
	uint64_t want = VIRTIO_NET_F_MAC;
	if (pp && arg_u64("event_idx", 1))
		want |= VIRTIO_F_EVENT_IDX;
	if (virtio_find(VIRTIO_ID_NET, index, &dev) || virtio_init(&dev, want) ||
	    virtq_setup(&dev, &rxq, 0, VIRTQ_MAX_SIZE) ||
	    virtq_setup(&dev, &txq, 1, VIRTQ_MAX_SIZE)) {
		printf("netbench: no usable virtio-net device %d\n", index);
		return 2;
	}
	if (dev.features & VIRTIO_NET_F_MAC)
		virtio_config_read(&dev, 0, mac, 6);
	else
		memcpy(mac, (const uint8_t[6]){ 0x52, 0x54, 0x00, 0x6e, 0x62, 0x01 }, 6);
	if (rxq.event_idx) {
		virtq_want_interrupt(&rxq, irq_wanted);
		virtq_want_interrupt(&txq, irq_wanted && !wait_irq);
	} else if (!irq_wanted) {
		virtq_no_interrupt(&rxq);
		virtq_no_interrupt(&txq);
	} else if (wait_irq) {
		virtq_no_interrupt(&txq);
	}
	if (wait_irq) {
		rt_irq_init(VEC_TIMER);
		rt_ioapic_route(dev.irq, VEC_NET, 0); /* the BSP */
	}
	/* Receive buffers on both sides: a tx run must not back up the peer's
	 * frames (broadcasts, ARP) in the device. */
	for (unsigned i = 0; i < rxq.size; i++) {
		struct virtq_buf b = { rxbufs[i], RX_BUF, 1 };
		virtq_add(&rxq, &b, 1);
	}
	virtio_driver_ok(&dev);
	virtq_kick(&rxq);
	printf("netbench: device at 0x%lx, mac %02x:%02x:%02x:%02x:%02x:%02x, queues rx %u tx %u\n",
	       dev.base, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], rxq.size, txq.size);
	if (tx)
		return do_tx((uint32_t)size, secs, dst, (uint16_t)etype);
	if (ping)
		return do_ping((uint32_t)size, secs, dst, (uint16_t)etype);
	if (pong)
		return do_pong(secs, arg_u64("idle_ms", 500), arg_u64("rx_wait_ms", 30000),
			       (uint16_t)etype);
	return do_rx(secs, arg_u64("idle_ms", 500), arg_u64("rx_wait_ms", 30000), any,
		     (uint16_t)etype);
}
