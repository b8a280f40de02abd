#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Partition to partition: packets per second through an lvmm link (one
# partition sends with netbench mode=tx, the other counts with mode=rx),
# against two QEMU guests joined by QEMU's socket netdev; 64 and 1500 bytes.
. "$(dirname "$0")/lib.sh"
need_qemu
qemu_args 64
run_l() {
	cat >"$T/link.yaml" <<YAML
partitions:
  - name: tx
    kernel: $PWD/$G/netbench.elf
    cmdline: "mode=tx size=$1 secs=2"
    memory: 64M
    devices: [ { type: net, link: l } ]
  - name: rx
    kernel: $PWD/$G/netbench.elf
    cmdline: "mode=rx idle_ms=500"
    memory: 64M
    devices: [ { type: net, link: l } ]
links:
  - { name: l, ends: [tx, rx] }
YAML
	kv pps "$("$LVMM" run "$T/link.yaml" 2>/dev/null | grep '^\[rx\] netbench: rx')"
}
run_q() {
	local port=$((40000 + RANDOM % 20000)) f="$T/qrx.$$"
	"${QEMU[@]}" -kernel "$G/netbench.elf" -append "mode=rx idle_ms=500" \
		-netdev socket,id=n0,listen=127.0.0.1:$port -device virtio-net-device,netdev=n0 </dev/null >"$f" 2>/dev/null &
	local rxp=$!
	sleep 0.5
	"${QEMU[@]}" -kernel "$G/netbench.elf" -append "mode=tx size=$1 secs=2" \
		-netdev socket,id=n0,connect=127.0.0.1:$port -device virtio-net-device,netdev=n0 </dev/null >/dev/null 2>&1
	wait $rxp
	kv pps "$(grep '^netbench: rx' "$f")"
	rm -f "$f"
}
printf '%-30s %10s %10s %8s\n' "median of 3 alternating runs" lvmm qemu ratio
for size in 64 1500; do
	ls=(); qs=()
	for i in 1 2 3; do ls+=("$(run_l $size)"); qs+=("$(run_q $size)"); done
	l=$(printf '%s\n' "${ls[@]}" | sort -n | sed -n 2p); q=$(printf '%s\n' "${qs[@]}" | sort -n | sed -n 2p)
	printf '%-30s %10s %10s %8s\n' "link ${size} B (pps)" "$l" "$q" "$(ratio "$l" "$q")"
done
