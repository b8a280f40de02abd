#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Start-up and memory: time from process start to the test guest's first console
# byte and to its exit, and the VMM's memory minus guest RAM (proportional set
# size over its processes) while the guest runs; lvmm against QEMU microvm booting
# the same PVH ELF (bench/tools/vmmtime.c), alternating, each run a median of 5.
# Goals: start-up <= 1/5 of QEMU's; overhead <= 2 MiB.
. "$(dirname "$0")/lib.sh"
need_qemu
qemu_args 64
L=() Q=() Lm=() Qm=()
for ((r = 0; r < RUNS; r++)); do
	L+=("$("$T/vmmtime" 5 -- "$LVMM" run --no-stdin --kernel "$G/hello.elf" --memory 64)")
	Q+=("$("$T/vmmtime" 5 -- "${QEMU[@]}" -kernel "$G/hello.elf")")
	Lm+=("$("$T/vmmtime" --rss 300 1 -- "$LVMM" run --no-stdin --kernel "$G/hello.elf" --memory 64 --cmdline hold_ms=800)")
	Qm+=("$("$T/vmmtime" --rss 300 1 -- "${QEMU[@]}" -kernel "$G/hello.elf" -append hold_ms=800)")
done
col() { local k=$1; shift; local x; for x in "$@"; do kv "$k" "$x"; done; }
header
record startup "start to first console byte (ms)" "$(col first_byte_ms "${L[@]}")" "$(col first_byte_ms "${Q[@]}")" "ratio<=0.2"
record startup "start to exit (ms)" "$(col exit_ms "${L[@]}")" "$(col exit_ms "${Q[@]}")" none
record startup "memory minus guest RAM (PSS KiB)" "$(col overhead_kib "${Lm[@]}")" "$(col overhead_kib "${Qm[@]}")" "lvmm<=2048"
