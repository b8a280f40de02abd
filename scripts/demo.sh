#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The platform demo: runs examples/demo.yaml inside a private network namespace
# whose "physical" network is a TAP (lvmm-nic0, 10.0.0.1/24) with a responder
# behind it: the namespace's kernel answers ARP and ping, a UDP echo service
# listens on port 7 and a UDP "discard" service that answers too on port 9.
# The user partition (10.0.0.2) reaches it only through the service partition,
# which forwards ARP, ICMP and UDP/7 and drops UDP/9. Nothing leaves the
# namespace. Needs root (network namespace, TAP).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
LVMM=${LVMM:-$BUILD/lvmm}
PLATFORM=${1:-examples/demo.yaml}
NS=lvmm-demo-$$
OUT=$BUILD/demo
mkdir -p "$OUT"
rm -f "$OUT/events.jsonl"

if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root (it creates a network namespace and a TAP device)" >&2
	exit 2
fi
cleanup() {
	[ -n "${resp:-}" ] && kill "$resp" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT
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
        print(f"responder: port {socks[s]} got {len(data)} bytes from {peer[0]}", flush=True)
        s.sendto(data, peer)
PY
resp=$!
# Traffic must not arrive before the sockets exist (the kernel would drop it).
for _ in $(seq 100); do grep -q "responder: ready" "$OUT/responder.log" && break; sleep 0.1; done
grep -q "responder: ready" "$OUT/responder.log" || { echo "demo: the responder did not start" >&2; exit 2; }

echo "== lvmm run $PLATFORM (consoles prefixed by partition, supervisor events as 'lvmm: event') =="
ip netns exec "$NS" "$LVMM" run "$PLATFORM" --events "$OUT/events.jsonl" --control "$OUT/lvmm.sock" </dev/null 2>&1 | tee "$OUT/console.log"
rc=${PIPESTATUS[0]}
[ -n "${DEMO_DEBUG:-}" ] && { ip -n "$NS" -s link show lvmm-nic0; ip netns exec "$NS" nstat -az 2>/dev/null | grep -iE "udp|InErr|Csum|Drop" | grep -v " 0 "; }

echo
echo "== summary =="
grep -E '^\[user\] user: (icmp|udp)' "$OUT/console.log" | sed 's/^\[user\] user: /  user partition: /'
grep -E '^\[service\] service: (drop |forwarded|rule drop)' "$OUT/console.log" | sed 's/^\[service\] service: /  service partition: /'
echo "  host side (behind the service partition's NIC):"
for p in 7 9; do
	echo "    UDP port $p received $(grep -c "port $p got" "$OUT/responder.log") datagram(s)"
done
echo "  links and devices at the end (from the supervisor):"
grep -E '"event":"device_summary"' "$OUT/events.jsonl" | sed -E 's/.*"partition":"([^"]*)","device":"([^"]*)","rx_packets":([0-9]+),"rx_bytes":[0-9]+,"tx_packets":([0-9]+),"tx_bytes":[0-9]+,"drops":([0-9]+).*/    \1 \2: rx \3 frames, tx \4 frames, \5 dropped by the device/'
echo "  events log: $OUT/events.jsonl; lvmm exit status $rc"
if grep -q "user: udp 10.0.0.1:9: 0/3 answered" "$OUT/console.log" &&
   grep -q "user: udp 10.0.0.1:7: 3/3 echoed" "$OUT/console.log"; then
	echo "demo: ok: allowed flows passed, UDP/9 was dropped by the service partition"
else
	echo "demo: something did not go as expected (see above)"
	rc=${rc:-1}; [ "$rc" = 0 ] && rc=1
fi
exit "$rc"
