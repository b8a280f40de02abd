#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# virtio-blk: 4 KiB random-read IOPS (queue depth 16) and 128 KiB sequential
# read MiB/s, lvmm against QEMU with the same guest (blkbench.elf) and the same
# raw image (in the page cache, so the VMMs' request paths are what differs).
. "$(dirname "$0")/lib.sh"
need_qemu
qemu_args 64
img=$T/blkbench.img
[ -f "$img" ] || { mkdir -p "$T"; dd if=/dev/urandom of="$img" bs=1M count=256 status=none; }
cat "$img" >/dev/null
run_l() { "$LVMM" run --no-stdin --kernel "$G/blkbench.elf" --memory 64 --disk "$img" --cmdline "$1" 2>/dev/null | grep "^blkbench:"; }
run_q() { "${QEMU[@]}" -kernel "$G/blkbench.elf" -append "$1" -drive "if=none,id=d0,file=$img,format=raw,cache=writeback" -device virtio-blk-device,drive=d0 2>/dev/null </dev/null | grep "^blkbench:"; }
printf '%-30s %10s %10s %8s\n' "median of 3 alternating runs" lvmm qemu ratio
for m in "randread:iops:mode=randread qd=16 secs=2" "seqread:mibps:mode=seqread secs=2"; do
	name=${m%%:*}; rest=${m#*:}; key=${rest%%:*}; args=${rest#*:}
	ls=(); qs=()
	for i in 1 2 3; do
		ls+=("$(kv $key "$(run_l "$args")")")
		qs+=("$(kv $key "$(run_q "$args")")")
	done
	l=$(printf '%s\n' "${ls[@]}" | sort -n | sed -n 2p); q=$(printf '%s\n' "${qs[@]}" | sort -n | sed -n 2p)
	printf '%-30s %10s %10s %8s\n' "$name ($key)" "$l" "$q" "$(ratio "$l" "$q")"
done
