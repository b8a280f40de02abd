#!/bin/bash
# SPDX-License-Identifier: MIT
# The platform demo's two guests, user.elf and service.elf:
#   qemu (default): two QEMU guests joined by "-netdev socket" (user NIC <->
#         service NIC 0), the reference;
#   lvmm: one lvmm platform file, the user's NIC and the service's NIC 0
#         the two ends of an lvmm link.
# The service's NIC 1 is a TAP in a private network namespace whose kernel
# answers ARP and ICMP, with a UDP echo responder on port 7 and another on
# port 9 (which would answer if a datagram ever arrived). Everything runs
# inside that namespace (its own loopback carries the socket netdev); the
# namespace, its TAP and every process are removed on exit. Needs root.
#
#   tests/guests/demo.sh [qemu|lvmm]       # BUILD=build, ACCEL=kvm, LVMM=build/lvmm
#   RULES="allow=arp,icmp,udp:7 drop=udp:9" tests/guests/demo.sh
#
# Exit 0 when the user guest reports 3/3, 3/3, 0/3, the responder saw the 3
# distinct datagrams on port 7 (retransmissions allowed) and nothing on 9.
# Nothing waits a fixed time: each helper is waited for until it says it is
# ready, and once the user guest has ended the service guest is asked to
# finish (finish_frame=1: a management frame sent into the TAP, repeated
# until it ends); service_ms is only the bound if that never works.
set -u
VMM=${1:-qemu}
BUILD=${BUILD:-build}
LVMM=${LVMM:-$BUILD/lvmm}
G=$BUILD/guests
ACCEL=${ACCEL:-kvm}
if [ "$ACCEL" = kvm ]; then CPU="host,-arch-capabilities"; else CPU=max; fi
RULES=${RULES:-"allow=arp,icmp,udp:7,tcp:22 drop=udp:9"}
NS=lvmmtest$$
TAP=lvtap0
PORT=47000
TMP=$(mktemp -d)
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add dev "$TAP" mode tap
ip -n "$NS" addr add 10.0.0.1/24 dev "$TAP"
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n "$NS" link set "$TAP" up

# UDP echo on 7 and 9; counts what arrives on each.
cat >"$TMP/responder.py" <<'PY'
import select, signal, socket, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
socks = {}
for port in (7, 9):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.0.0.1", port))
    socks[s] = port
got = {7: 0, 9: 0}
seen = {7: set(), 9: set()}
print("responder: ready", flush=True)
end = time.time() + float(sys.argv[1])
try:
    while time.time() < end:
        r, _, _ = select.select(list(socks), [], [], 0.2)
        for s in r:
            data, addr = s.recvfrom(2048)
            got[socks[s]] += 1
            seen[socks[s]].add(data)
            s.sendto(data, addr)
finally:
    print("responder: port 7 got %d (%d distinct), port 9 got %d" %
          (got[7], len(seen[7]), got[9]), flush=True)
PY
ip netns exec "$NS" python3 "$TMP/responder.py" 600 >"$TMP/responder.out" 2>&1 &
responder=$!
pids+=($responder)
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
ready() { # file: wait (at most 30 s) until a helper says it is ready
	wait_until 30 grep -q ready "$1" 2>/dev/null && return 0
	echo "demo: $1 never became ready"; return 1
}
# finish: ask the service guest to end (a frame of ethertype 0x88b5 into the TAP).
finish() {
	ip netns exec "$NS" python3 - "$TAP" <<'PY'
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
s.send(b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + b"lvmm-demo finish".ljust(46, b"\0"))
PY
}
# finish_until_gone COMMAND...: send finish requests until COMMAND fails (at most 60 s).
finish_until_gone() {
	local end=$((SECONDS + 60)) i
	while "$@"; do
		[ $SECONDS -ge $end ] && return 1
		finish
		for i in $(seq 10); do
			"$@" || return 0
			sleep 0.1
		done
	done
}
ready "$TMP/responder.out" || exit 1

# SNIFF=1: log every frame on the TAP (in = from the guests, out = to them).
if [ "${SNIFF:-0}" = 1 ]; then
	cat >"$TMP/sniff.py" <<'PY'
import signal, socket, struct, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
t0 = time.time()
print("sniff: ready", flush=True)
def csum(b):
    if len(b) % 2: b += b"\0"
    v = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while v >> 16: v = (v & 0xffff) + (v >> 16)
    return v
while True:
    f, a = s.recvfrom(2048)
    d = "out" if a[2] == socket.PACKET_OUTGOING else "in "
    et = struct.unpack("!H", f[12:14])[0]
    info = "type 0x%04x" % et
    if et == 0x0806:
        op, spa, tpa = struct.unpack("!H", f[20:22])[0], f[28:32], f[38:42]
        info = "arp op %d %s -> %s" % (op, socket.inet_ntoa(spa), socket.inet_ntoa(tpa))
    elif et == 0x0800:
        ihl = (f[14] & 15) * 4
        tot, proto = struct.unpack("!H", f[16:18])[0], f[23]
        src, dst = socket.inet_ntoa(f[26:30]), socket.inet_ntoa(f[30:34])
        l4 = f[14 + ihl:14 + tot]
        info = "ip %s -> %s proto %d len %d ipcsum %s" % (src, dst, proto, tot,
                "ok" if csum(f[14:14 + ihl]) == 0xffff else "BAD")
        if proto == 17 and len(l4) >= 8:
            sp, dp, ul, uc = struct.unpack("!HHHH", l4[:8])
            ph = f[26:34] + struct.pack("!BBH", 0, 17, ul)
            ok = uc == 0 or csum(ph + l4[:ul]) == 0xffff
            info += " udp %d -> %d ulen %d csum %s" % (sp, dp, ul, "ok" if ok else "BAD")
        elif proto == 1:
            info += " icmp type %d" % l4[0]
    print("%7.3f %s %4d %s" % (time.time() - t0, d, len(f), info), flush=True)
PY
	ip netns exec "$NS" python3 "$TMP/sniff.py" "$TAP" >"$TMP/sniff.out" 2>&1 &
	pids+=($!)
	ready "$TMP/sniff.out" || exit 1
fi

qemu() { # name append netdev/device args...
	local name=$1 app=$2
	shift 2
	ip netns exec "$NS" timeout 180 qemu-system-x86_64 -M microvm,acpi=off -accel "$ACCEL" \
		-cpu "$CPU" -m 64 -smp 1 -nodefaults -no-user-config -nographic \
		-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-global virtio-mmio.force-legacy=false -kernel "$G/$name.elf" -append "$app" \
		"$@" </dev/null 2>&1 | tr -d '\r' >"$TMP/$name.out"
}

lvmm_demo() {
	local k
	k=$(realpath "$G")
	cat >"$TMP/demo.yaml" <<YAML
partitions:
  - name: service
    role: service
    memory: 64M
    kernel: $k/service.elf
    cmdline: "$RULES finish_frame=1 service_ms=${SERVICE_MS:-120000}"
    devices:
      - { type: net, link: uplink, mac: "52:54:00:00:01:00" }   # NIC 0: the uplink
      - { type: net, tap: $TAP, mac: "52:54:00:00:01:01" }      # NIC 1: "physical"
  - name: user
    memory: 64M
    kernel: $k/user.elf
    cmdline: "ip=10.0.0.2 peer=10.0.0.1"
    devices:
      - { type: net, link: uplink, mac: "52:54:00:00:02:00" }
links:
  - { name: uplink, ends: [service, user] }
YAML
	ip netns exec "$NS" timeout 180 "$LVMM" run "$TMP/demo.yaml" --events "$TMP/ev.jsonl" \
		</dev/null >"$TMP/lvmm.out" 2>&1 &
	local run=$!
	wait_until 150 eval '! kill -0 $run 2>/dev/null ||
		grep -q "\"partition_exit\",\"partition\":\"user\"" "$TMP/ev.jsonl" 2>/dev/null'
	t_user=$(date +%s.%N)
	finish_until_gone kill -0 $run 2>/dev/null
	wait $run
	echo "lvmm exit status $?" >>"$TMP/lvmm.out"
	# Console lines carry the partition's name; keep the guests' own text.
	grep -a "user: " "$TMP/lvmm.out" | sed 's/^.*\(user: \)/\1/' >"$TMP/user.out"
	grep -a "service: " "$TMP/lvmm.out" | sed 's/^.*\(service: \)/\1/' >"$TMP/service.out"
}

t0=$(date +%s.%N)
if [ "$VMM" = lvmm ]; then
	lvmm_demo
	t_end=$(date +%s.%N)
	sed 's/^/  lvmm | /' "$TMP/lvmm.out"
else
# QEMU microvm lists the first -device first on the command line: the
# uplink comes first so that it is virtio-net 0.
qemu service "$RULES finish_frame=1 service_ms=${SERVICE_MS:-120000}" \
	-netdev socket,id=up,listen=127.0.0.1:$PORT \
	-device virtio-net-device,netdev=up,mac=52:54:00:00:01:00 \
	-netdev tap,id=nic,ifname=$TAP,script=no,downscript=no \
	-device virtio-net-device,netdev=nic,mac=52:54:00:00:01:01 &
service=$!
pids+=($service)
# The listener must be up before the user's QEMU connects.
wait_until 30 eval 'ip netns exec "$NS" ss -Hltn "sport = :$PORT" | grep -q .' ||
	{ echo "demo: the service QEMU never listened on port $PORT"; exit 1; }
qemu user "ip=10.0.0.2 peer=10.0.0.1" \
	-netdev socket,id=n0,connect=127.0.0.1:$PORT \
	-device virtio-net-device,netdev=n0,mac=52:54:00:00:02:00
t_user=$(date +%s.%N)
finish_until_gone kill -0 "$service" 2>/dev/null
wait "$service"
t_end=$(date +%s.%N)
fi
kill "$responder"
wait "$responder"

sed 's/^/  | /' "$TMP/user.out"
sed 's/^/  | /' "$TMP/service.out"
sed 's/^/  | /' "$TMP/responder.out"
[ -f "$TMP/sniff.out" ] && sed 's/^/  tap | /' "$TMP/sniff.out"
awk -v a="$t0" -v b="$t_user" -v c="$t_end" \
	'BEGIN { printf "user guest done after %.1f s, service after %.1f s\n", b - a, c - a }'

ok=1
for p in "user: icmp 10.0.0.1: 3/3 replies" "user: udp 10.0.0.1:7: 3/3 echoed" \
	"user: udp 10.0.0.1:9: 0/3 answered" "user: done"; do
	grep -qF "$p" "$TMP/user.out" || { ok=0; echo "missing: $p"; }
done
for p in "service: drop udp 10.0.0.2:40009 -> 10.0.0.1:9 (rule drop udp:9)" \
	"service: forwarded" "responder: port 7 got " "(3 distinct), port 9 got 0"; do
	grep -qF "$p" "$TMP/service.out" "$TMP/responder.out" || { ok=0; echo "missing: $p"; }
done
[ $ok = 1 ] && echo "demo: ok" || echo "demo: FAILED"
[ $ok = 1 ]
