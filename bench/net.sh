#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# virtio-net over a TAP: packets per second from the guest to the TAP at 64 and
# 1500 bytes (netbench.elf, mode=tx), lvmm against QEMU (same guest, TAP with
# vnet_hdr in a private network namespace, counted on the TAP itself).
. "$(dirname "$0")/lib.sh"
need_qemu
qemu_args 64
ns=lvmm-bench$$
ip netns add $ns || { echo "skip: cannot create a network namespace"; exit 0; }
trap 'ip netns del $ns 2>/dev/null' EXIT
ip -n $ns link set lo up
ip -n $ns tuntap add dev tap0 mode tap vnet_hdr
ip -n $ns link set tap0 up
rx() { ip netns exec $ns cat /sys/class/net/tap0/statistics/rx_packets; }
run() { # VMM SIZE -> frames/s seen by the TAP
	local before after out
	before=$(rx)
	if [ "$1" = lvmm ]; then
		out=$(ip netns exec $ns "$LVMM" run --no-stdin --kernel "$G/netbench.elf" --memory 64 --net tap=tap0 \
			--cmdline "mode=tx size=$2 secs=2" 2>/dev/null | grep "^netbench:")
	else
		out=$(ip netns exec $ns "${QEMU[@]}" -kernel "$G/netbench.elf" -append "mode=tx size=$2 secs=2" \
			-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vnet_hdr=on -device virtio-net-device,netdev=n0 \
			</dev/null 2>/dev/null | grep "^netbench:")
	fi
	after=$(rx)
	awk -v f=$((after - before)) -v ms="$(kv ms "$out")" 'BEGIN { if (ms > 0) printf "%.0f", f * 1000 / ms; else print 0 }'
}
header
for size in 64 1500; do
	ls=() qs=()
	for ((r = 0; r < RUNS; r++)); do ls+=("$(run lvmm $size)"); qs+=("$(run qemu $size)"); done
	record net "guest->TAP ${size} B (pps)" "${ls[*]}" "${qs[*]}" "ratio>=1"
done
