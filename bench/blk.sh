#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# virtio-blk: sequential read and write at 128 KiB and 1 MiB, random read and
# write at 4 KiB, each at queue depth 1 and 32, lvmm against QEMU with the same
# guest (blkbench.elf) and the same raw image. Cache mode: the host page cache
# in both (QEMU cache=writeback; lvmm opens the image without O_DIRECT), the
# image read once beforehand, so the VMMs' request paths are what differs.
# Queue depth 1 runs are ping-pongs (lat=1: a request, its kick, its
# completion, with an interrupt asked for each): their p50 latency is the
# notification path's figure. Goals: sequential >= 1.5x QEMU, random above
# QEMU (the lead kept), ping-pong p50 latency <= QEMU's.
# BLK_IO=sync|uring (default: lvmm's choice) selects lvmm's I/O engine.
. "$(dirname "$0")/lib.sh"
need_qemu
qemu_args 64
img=$T/blkbench.img
[ -f "$img" ] || dd if=/dev/urandom of="$img" bs=1M count=256 status=none
cat "$img" >/dev/null
SECS=${BLK_SECS:-2}
WRAP=() # a command both VMMs run under (taskset)
run_l() {
	LVMM_BLK_IO=${BLK_IO:-} "${WRAP[@]}" "$LVMM" run --no-stdin --kernel "$G/blkbench.elf" --memory 64 --disk "$img" \
		--cmdline "$1 secs=$SECS" 2>/dev/null | grep "^blkbench: [a-z]* "
}
run_q() {
	"${WRAP[@]}" "${QEMU[@]}" -kernel "$G/blkbench.elf" -append "$1 secs=$SECS" \
		-drive "if=none,id=d0,file=$img,format=raw,cache=writeback" -device virtio-blk-device,drive=d0 \
		2>/dev/null </dev/null | grep "^blkbench: [a-z]* "
}
col() { local k=$1; shift; local x; for x in "$@"; do kv "$k" "$x"; done; }
header
for c in "seq read 128K:mode=seqread bs=131072" "seq read 1M:mode=seqread bs=1048576" \
	"seq write 128K:mode=seqwrite bs=131072" "seq write 1M:mode=seqwrite bs=1048576" \
	"rand read 4K:mode=randread bs=4096" "rand write 4K:mode=randwrite bs=4096"; do
	name=${c%%:*} args=${c#*:}
	case $name in seq*) goal="ratio>=1.5" ;; *) goal="ratio>=1" ;; esac
	for qd in 1 32; do
		a="$args qd=$qd"
		[ $qd = 1 ] && a="$a lat=1"
		L=() Q=()
		for ((r = 0; r < RUNS; r++)); do L+=("$(run_l "$a")"); Q+=("$(run_q "$a")"); done
		record blk "$name qd$qd (MiB/s)" "$(col mibps "${L[@]}")" "$(col mibps "${Q[@]}")" "$goal"
		[ "${name#rand}" != "$name" ] &&
			record blk "$name qd$qd (IOPS)" "$(col iops "${L[@]}")" "$(col iops "${Q[@]}")" "$goal"
		if [ $qd = 1 ]; then
			record blk "$name qd1 ping-pong p50 (us)" "$(col p50_us "${L[@]}")" "$(col p50_us "${Q[@]}")" "ratio<=1"
			record blk "$name qd1 ping-pong p99 (us)" "$(col p99_us "${L[@]}")" "$(col p99_us "${Q[@]}")" none
		fi
	done
done
# What each change on the notification path is worth: the same figures with one
# mechanism off (the other VMM unchanged, or with the guest's same choice).
#   event_idx=0      the guest does not negotiate VIRTIO_F_EVENT_IDX (both VMMs):
#                    every request kicks, every completion interrupts
#   BLK_IO=sync      lvmm's plain preadv/pwritev engine instead of io_uring
#   LVMM_IO_POLL_US=0  lvmm's I/O thread sleeps at once instead of polling briefly
#   LVMM_IO_POLL_US=50  on one host CPU lvmm's I/O thread polls anyway (as it
#                    did before 2026-12-03), up to 50 us
#   LVMM_BLK_SPLIT=3 LVMM_BLK_COPY=2  lvmm splits a large read into 3 pieces, two
#                    copy threads and the I/O thread copy them in parallel (the
#                    copy engine does not split by default)
#   LVMM_BLK_COPY=1  one copy thread beside the I/O thread, handed every large
#                    read (the default: threads on CPUs the vCPUs and the I/O
#                    thread leave; with none, as here, one for 1 MiB reads only)
#   LVMM_BLK_COPY=inline  no copy thread: the I/O thread copies every read
#   LVMM_BLK_PREFETCH=0  lvmm's copies do not prefetch the image's lines ahead
#   LVMM_BLK_STORES=nt  lvmm's copies store non-temporally even into the buffers
#                    the guest reads into again and again (by default those get
#                    plain stores: src/devices/blk_io.c, "Which stores")
#   LVMM_BLK_COPY=0  lvmm's large reads go through io_uring's workers instead of its
#                    copy engine (non-temporal copies from a mapping of the image)
effect() { # LABEL ARGS FIELD GOAL [VAR=VALUE...]: lvmm with these in its environment
	local label=$1 a=$2 f=$3 goal=$4
	shift 4
	L=() Q=()
	for ((r = 0; r < RUNS; r++)); do
		L+=("$([ $# -eq 0 ] || export "$@"; run_l "$a")")
		Q+=("$(run_q "$a")")
	done
	record blk "$label" "$(col "$f" "${L[@]}")" "$(col "$f" "${Q[@]}")" "$goal"
}
pp="mode=randread bs=4096 qd=1 lat=1"
effect "effect: 4K ping-pong p50, no EVENT_IDX (us)" "$pp event_idx=0" p50_us "ratio<=1"
effect "effect: 4K ping-pong p50, sync engine (us)" "$pp" p50_us "ratio<=1" BLK_IO=sync
effect "effect: 4K ping-pong p50, no polling (us)" "$pp" p50_us "ratio<=1" LVMM_IO_POLL_US=0
# Goal rows through the same runner: a driver with work between requests
# (it waits 30 us after each completion), and a guest whose VMM has one
# host CPU (taskset -c 0: lvmm's I/O thread then does not poll,
# src/vmm/iothread.c); that one again with lvmm's I/O thread polling anyway.
effect "rand read 4K qd1, driver waits 30 us (IOPS)" "mode=randread bs=4096 qd=1 lat=1 think_us=30" iops "ratio>=1"
WRAP=(taskset -c 0)
effect "rand read 4K qd1, one host CPU (IOPS)" "mode=randread bs=4096 qd=1 lat=1 think_us=5" iops "ratio>=1"
effect "effect: 4K qd1 on one host CPU, polling anyway (IOPS)" "mode=randread bs=4096 qd=1 lat=1 think_us=5" iops "ratio>=1" \
	LVMM_IO_POLL_US=50
WRAP=()
sq="mode=seqread bs=1048576 qd=32"
effect "effect: seq read 1M qd32, sync engine (MiB/s)" "$sq" mibps "ratio>=1.5" BLK_IO=sync
effect "effect: seq read 1M qd32, no EVENT_IDX (MiB/s)" "$sq event_idx=0" mibps "ratio>=1.5"
effect "effect: seq read 1M qd1, split in 3 (MiB/s)" "mode=seqread bs=1048576 qd=1 lat=1" mibps "ratio>=1.5" LVMM_BLK_SPLIT=3 LVMM_BLK_COPY=2
effect "effect: seq read 128K qd32, 1 copy thread (MiB/s)" "mode=seqread bs=131072 qd=32" mibps "ratio>=1.5" LVMM_BLK_COPY=1
effect "effect: seq read 1M qd32, I/O thread copies alone (MiB/s)" "$sq" mibps "ratio>=1.5" LVMM_BLK_COPY=inline
effect "effect: seq read 128K qd32, no source prefetch (MiB/s)" "mode=seqread bs=131072 qd=32" mibps "ratio>=1.5" LVMM_BLK_PREFETCH=0
effect "effect: seq read 128K qd32, non-temporal stores only (MiB/s)" "mode=seqread bs=131072 qd=32" mibps "ratio>=1.5" LVMM_BLK_STORES=nt
effect "effect: seq read 1M qd1, no copy engine (MiB/s)" "mode=seqread bs=1048576 qd=1 lat=1" mibps "ratio>=1.5" LVMM_BLK_COPY=0
effect "effect: seq read 1M qd32, no copy engine (MiB/s)" "$sq" mibps "ratio>=1.5" LVMM_BLK_COPY=0
