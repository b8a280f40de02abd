#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The platform demo: runs examples/demo.yaml inside a private network namespace
# whose "physical" network is a TAP (lvmm-nic0, 10.0.0.1/24) with a responder
# behind it: the namespace's kernel answers ARP and ping, a UDP echo service
# listens on port 7 and a UDP "discard" service that answers too on port 9.
# The user partition (10.0.0.2) reaches it only through the service partition,
# which forwards ARP, ICMP and UDP/7 and drops UDP/9. Nothing leaves the
# namespace. Needs root (network namespace, TAP).
#
# Nothing here waits a fixed time, so a loaded host makes the demo slower,
# never wrong: the platform starts once the responder says it is ready; the
# user partition repeats ARP until the service partition bridges it and sends
# an unanswered packet again (the counts below are of distinct packets); once
# the supervisor reports that the user partition has ended, this script asks
# the service partition to finish (a management frame on its NIC, repeated
# until the platform ends). DEMO_TIMEOUT (seconds, default 180) bounds it all.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
LVMM=${LVMM:-$BUILD/lvmm}
PLATFORM=${1:-examples/demo.yaml}
DEMO_TIMEOUT=${DEMO_TIMEOUT:-180}
NS=lvmm-demo-$$
OUT=$BUILD/demo
mkdir -p "$OUT"
# Every file waited on starts absent: a readiness line left by an earlier run
# must not be taken for this run's (the responder's log is created by its
# background job, possibly after the first look at it).
rm -f "$OUT/events.jsonl" "$OUT/console.log" "$OUT/lvmm.rc" "$OUT/lvmm.pid" "$OUT/responder.log"

if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root (it creates a network namespace and a TAP device)" >&2
	exit 2
fi
cleanup() {
	if [ -s "$OUT/lvmm.pid" ] && [ ! -e "$OUT/lvmm.rc" ]; then
		kill -TERM "$(cat "$OUT/lvmm.pid")" 2>/dev/null
	fi
	[ -n "${resp:-}" ] && kill "$resp" 2>/dev/null
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT
# wait_until SECONDS COMMAND...: until COMMAND succeeds (checked 10 times a
# second), at most SECONDS; 1 on timeout.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.1
	done
}
ip netns add "$NS" || { echo "demo: cannot create a network namespace" >&2; exit 2; }
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add dev lvmm-nic0 mode tap vnet_hdr
ip -n "$NS" addr add 10.0.0.1/24 dev lvmm-nic0
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$NS" link set lvmm-nic0 up
ip netns exec "$NS" python3 -u - >"$OUT/responder.log" 2>&1 <<'PY' &
import socket, select
socks = {}
for port in (7, 9):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.0.0.1", port))
    socks[s] = port
print("responder: ready", flush=True)
while True:
    r, _, _ = select.select(list(socks), [], [])
    for s in r:
        data, peer = s.recvfrom(2048)
        print(f"responder: port {socks[s]} got {len(data)} bytes from {peer[0]}: {data!r}",
              flush=True)
        s.sendto(data, peer)
PY
resp=$!
# Traffic must not arrive before the sockets exist (the kernel would drop it).
wait_until 30 grep -qs "responder: ready" "$OUT/responder.log" ||
	{ echo "demo: the responder did not start" >&2; exit 2; }

echo "== lvmm run $PLATFORM (consoles prefixed by partition, supervisor events as 'lvmm: event') =="
{
	ip netns exec "$NS" "$LVMM" run "$PLATFORM" --events "$OUT/events.jsonl" \
		--control "$OUT/lvmm.sock" </dev/null 2>&1 &
	echo $! >"$OUT/lvmm.pid"
	wait $!
	echo $? >"$OUT/lvmm.rc"
} | tee "$OUT/console.log" &
runner=$!

ended() { [ -e "$OUT/lvmm.rc" ]; }
user_ended() { ended || grep -q '"event":"partition_exit","partition":"user"' "$OUT/events.jsonl" 2>/dev/null; }
# The finish request: a broadcast frame of the local experimental ethertype
# 0x88b5 sent into the TAP, i.e. to the service partition's NIC.
finish() {
	ip netns exec "$NS" python3 - <<'PY'
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("lvmm-nic0", 0))
s.send(b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + b"lvmm-demo finish".ljust(46, b"\0"))
PY
}
start=$SECONDS
why=""
if ! wait_until "$DEMO_TIMEOUT" user_ended; then
	why="the user partition did not end within $DEMO_TIMEOUT s"
fi
while ! ended && [ -z "$why" ]; do
	finish
	wait_until 1 ended && break
	[ $((SECONDS - start)) -ge "$DEMO_TIMEOUT" ] && why="the platform did not end within $DEMO_TIMEOUT s"
done
if ! ended; then
	echo "demo: $why; stopping it"
	kill -TERM "$(cat "$OUT/lvmm.pid")" 2>/dev/null
	wait_until 10 ended || kill -KILL "$(cat "$OUT/lvmm.pid")" 2>/dev/null
fi
wait "$runner"
rc=$(cat "$OUT/lvmm.rc" 2>/dev/null || echo 1)
[ -n "${DEMO_DEBUG:-}" ] && { ip -n "$NS" -s link show lvmm-nic0; ip netns exec "$NS" nstat -az 2>/dev/null | grep -iE "udp|InErr|Csum|Drop" | grep -v " 0 "; }

# received PORT: datagrams the host got on PORT; distinct PORT: how many different ones.
received() { grep -c "port $1 got" "$OUT/responder.log"; }
distinct() { grep "port $1 got" "$OUT/responder.log" | sed 's/^.*: b//' | sort -u | wc -l; }
echo
echo "== summary =="
grep -E '^\[user\] user: (icmp|udp|no arp)' "$OUT/console.log" | sed 's/^\[user\] user: /  user partition: /'
grep -E '^\[service\] service: (drop |forwarded|rule drop)' "$OUT/console.log" | sed 's/^\[service\] service: /  service partition: /'
echo "  host side (behind the service partition's NIC):"
for p in 7 9; do
	echo "    UDP port $p received $(received $p) datagram(s), $(distinct $p) distinct"
done
echo "  links and devices at the end (from the supervisor):"
# Network devices count frames, consoles bytes; a summary of another shape is left out.
grep -E '"event":"device_summary"' "$OUT/events.jsonl" | sed -nE \
	-e 's/.*"partition":"([^"]*)","device":"([^"]*)","rx_packets":([0-9]+),"rx_bytes":[0-9]+,"tx_packets":([0-9]+),"tx_bytes":[0-9]+,"drops":([0-9]+).*/    \1 \2: rx \3 frames, tx \4 frames, \5 dropped by the device/p' \
	-e 's/.*"partition":"([^"]*)","device":"([^"]*)","rx_bytes":([0-9]+),"tx_bytes":([0-9]+)\}.*/    \1 \2: console in \3 bytes, out \4 bytes/p'
echo "  events log: $OUT/events.jsonl; lvmm exit status $rc; $((SECONDS - start)) s"
# The verdict: every allowed flow answered (retransmissions allowed), and the
# filter proven on both sides: the service partition dropped all three UDP/9
# datagrams and the host behind it never saw one.
if [ -z "$why" ] &&
   grep -q "^\[user\] user: icmp 10.0.0.1: 3/3 replies" "$OUT/console.log" &&
   grep -q "^\[user\] user: udp 10.0.0.1:7: 3/3 echoed" "$OUT/console.log" &&
   grep -q "^\[user\] user: udp 10.0.0.1:9: 0/3 answered" "$OUT/console.log" &&
   grep -q "^\[service\] service: rule drop udp:9: user->nic 3, nic->user 0" "$OUT/console.log" &&
   [ "$(distinct 7)" -eq 3 ] && [ "$(received 9)" -eq 0 ]; then
	echo "demo: ok: allowed flows passed, UDP/9 was dropped by the service partition"
else
	echo "demo: something did not go as expected (see above)"
	[ "$rc" = 0 ] && rc=1
fi
exit "$rc"
