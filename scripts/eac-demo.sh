#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The EAC demo (Endpoint Access Control, issue 8): examples/eac/eac.yaml twice,
# first with the user kernel IT approved, then with the same kernel with one
# byte appended. The service partition attests the user partition's vTPM
# over its agent channel before it forwards anything, compares PCRs 17-22
# with what `lvmm measure` predicted for the approved boot set, and then
# either bridges the user's traffic (compliant) or lets it reach only the
# remediation server (quarantined), printing which PCR differed.
#
# Network: as scripts/demo.sh, a private namespace whose "physical" network
# is a TAP (lvmm-nic0) with 10.0.0.1/24 (ARP, ping, UDP echo on 7) and the
# remediation server 10.0.0.3 (ARP, ping). Needs root and swtpm.
#
# Nothing waits a fixed time: each run ends once the user partition has
# ended and the service partition was asked to finish (a management frame on
# its NIC). EAC_TIMEOUT (seconds, default 180) bounds each run.
#
# EAC_DENIED=1 adds a third run (for the tests): the approved kernel, but a
# policy that does not let the service partition attest anyone: the service
# must fail closed (quarantine) within eac_wait_ms (5 s there).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
LVMM=${LVMM:-$BUILD/lvmm}
EAC_TIMEOUT=${EAC_TIMEOUT:-180}
NS=lvmm-eac-$$
OUT=$BUILD/demo-eac

if [ "$(id -u)" != 0 ]; then
	echo "eac-demo: needs root (it creates a network namespace and a TAP device)" >&2
	exit 2
fi
if "$LVMM" measure 2>&1 | grep -q "unknown command 'measure'"; then
	echo "eac-demo: this lvmm has no 'measure' (the trusted-boot wiring)" >&2
	exit 2
fi
mkdir -p "$OUT"
rm -rf "$OUT/user-tpm" "$OUT"/run-* "$OUT/responder.log"
cleanup() {
	[ -s "$OUT/lvmm.pid" ] && [ ! -e "$OUT/lvmm.rc" ] && kill -TERM "$(cat "$OUT/lvmm.pid")" 2>/dev/null
	[ -n "${resp:-}" ] && kill "$resp" 2>/dev/null
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT
wait_until() { # SECONDS COMMAND...
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.1
	done
}

# The platform with absolute paths and the user kernel a copy (the approved one, for now).
cp "$BUILD/guests/user.elf" "$OUT/user.elf"
sed "s|kernel: \.\./\.\./build/guests/user\.elf|kernel: $PWD/$OUT/user.elf|; s|\.\./\.\./build/|$PWD/$BUILD/|g" \
	examples/eac/eac.yaml >"$OUT/eac.yaml"
# What IT expects: lvmm measure's prediction for the approved boot set (PCRs 17-22).
if ! "$LVMM" measure "$OUT/eac.yaml" user >"$OUT/measure.txt" 2>&1; then
	cat "$OUT/measure.txt" >&2
	echo "eac-demo: lvmm measure failed" >&2
	exit 1
fi
expect=$(sed -n 's/^pcr\(1[7-9]\|2[0-2]\)=\([0-9a-f]\{64\}\)$/expect\1=\2/p' "$OUT/measure.txt" | tr '\n' ' ')
if [ "$(wc -w <<<"$expect")" -ne 6 ]; then
	cat "$OUT/measure.txt" >&2
	echo "eac-demo: lvmm measure did not predict PCRs 17-22" >&2
	exit 1
fi
sed -i "s|eac=user remediation=10.0.0.3\"|eac=user remediation=10.0.0.3 ${expect% }\"|" "$OUT/eac.yaml"
echo "== IT's expectations for the user partition (lvmm measure) =="
sed -n 's/^\(pcr[0-9]*=.\{16\}\).*/  \1.../p' "$OUT/measure.txt"

ip netns add "$NS" || { echo "eac-demo: cannot create a network namespace" >&2; exit 2; }
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add dev lvmm-nic0 mode tap vnet_hdr
ip -n "$NS" addr add 10.0.0.1/24 dev lvmm-nic0
ip -n "$NS" addr add 10.0.0.3/24 dev lvmm-nic0
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
wait_until 30 grep -qs "responder: ready" "$OUT/responder.log" ||
	{ echo "eac-demo: the responder did not start" >&2; exit 2; }

finish() {
	ip netns exec "$NS" python3 - <<'PY'
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("lvmm-nic0", 0))
s.send(b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + b"lvmm-demo finish".ljust(46, b"\0"))
PY
}

# run NAME: one run of the platform; console in $OUT/run-NAME.log.
run() {
	local name=$1 log=$OUT/run-$1.log ev=$OUT/run-$1.events why=""
	rm -f "$OUT/lvmm.rc" "$OUT/lvmm.pid" "$ev"
	echo
	echo "== run: $name user kernel (sha256 $(sha256sum "$OUT/user.elf" | cut -c1-16)...) =="
	{
		ip netns exec "$NS" "$LVMM" run "$OUT/eac.yaml" --events "$ev" \
			--control "$OUT/lvmm.sock" </dev/null 2>&1 &
		echo $! >"$OUT/lvmm.pid"
		wait $!
		echo $? >"$OUT/lvmm.rc"
	} | tee "$log" | grep -E '^\[(service|user)\] (service: (eac|quarantine drops)|user: (icmp|udp|no arp|done))|event=(verify|vtpm|trust)' &
	local shown=$! start=$SECONDS
	ended() { [ -e "$OUT/lvmm.rc" ]; }
	user_ended() { ended || grep -q '"event":"partition_exit","partition":"user"' "$ev" 2>/dev/null; }
	wait_until "$EAC_TIMEOUT" user_ended || why="the user partition did not end within $EAC_TIMEOUT s"
	while ! ended && [ -z "$why" ]; do
		finish
		wait_until 1 ended && break
		[ $((SECONDS - start)) -ge "$EAC_TIMEOUT" ] && why="the platform did not end within $EAC_TIMEOUT s"
	done
	if ! ended; then
		echo "eac-demo: $why; stopping it"
		kill -TERM "$(cat "$OUT/lvmm.pid")" 2>/dev/null
		wait_until 10 ended || kill -KILL "$(cat "$OUT/lvmm.pid")" 2>/dev/null
	fi
	wait "$shown" 2>/dev/null
	echo "  ($((SECONDS - start)) s, lvmm exit status $(cat "$OUT/lvmm.rc" 2>/dev/null || echo '?'))"
}

run approved
if [ -n "${EAC_DENIED:-}" ]; then
	cp "$OUT/eac.yaml" "$OUT/eac-approved.yaml"
	sed -i '/- { partition: service, label: service_l, operations: \[attest\] }/d; s|eac=user |eac=user eac_wait_ms=5000 |' "$OUT/eac.yaml"
	run denied
	cp "$OUT/eac-approved.yaml" "$OUT/eac.yaml"
fi
# The tampered kernel: the same file with one byte appended (it still boots).
printf '\0' >>"$OUT/user.elf"
run tampered

ok=1
good=$OUT/run-approved.log bad=$OUT/run-tampered.log
grep -q "^\[service\] service: eac: user compliant: pcrs 17 18 19 20 21 22 as expected" "$good" || ok=0
grep -q "^\[user\] user: icmp 10.0.0.1: 3/3 replies" "$good" || ok=0
grep -q "^\[user\] user: udp 10.0.0.1:7: 3/3 echoed" "$good" || ok=0
grep -q "^\[service\] service: eac: pcr18 (kernel) differs: expected" "$bad" || ok=0
grep -q "^\[service\] service: eac: user quarantined: pcr18 (kernel) differs; traffic only to 10.0.0.3" "$bad" || ok=0
grep -q "^\[user\] user: icmp 10.0.0.3 (remediation): 3/3 replies" "$bad" || ok=0
grep -q "^\[user\] user: icmp 10.0.0.1: 0/3 replies" "$bad" || ok=0
echo
echo "== summary =="
echo "  approved kernel: $(sed -n 's/^\[service\] service: eac: //p' "$good" | tail -1)"
echo "  tampered kernel: $(sed -n 's/^\[service\] service: eac: //p' "$bad" | tail -1)"
if [ $ok = 1 ]; then
	echo "eac-demo: ok: the approved kernel was admitted, the tampered one quarantined (PCR 18 differs)"
	exit 0
fi
echo "eac-demo: something did not go as expected (see above and $OUT/run-*.log)"
exit 1
