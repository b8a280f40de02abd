#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Start-up and memory: time from process start to the test guest's first console
# byte and to its exit, and the VMM's memory minus guest RAM (proportional set
# size over its processes) while the guest runs; lvmm against QEMU microvm booting the same PVH ELF.
# Targets: start-up <= 1/5 of QEMU's; overhead <= 2 MiB.
. "$(dirname "$0")/lib.sh"
need_qemu
qemu_args 64
N=${N:-20}
L=$("$T/vmmtime" "$N" -- "$LVMM" run --no-stdin --kernel "$G/hello.elf" --memory 64)
Q=$("$T/vmmtime" "$N" -- "${QEMU[@]}" -kernel "$G/hello.elf")
Lm=$("$T/vmmtime" --rss 300 5 -- "$LVMM" run --no-stdin --kernel "$G/hello.elf" --memory 64 --cmdline hold_ms=800)
Qm=$("$T/vmmtime" --rss 300 5 -- "${QEMU[@]}" -kernel "$G/hello.elf" -append hold_ms=800)
lf=$(kv first_byte_ms "$L"); qf=$(kv first_byte_ms "$Q")
le=$(kv exit_ms "$L"); qe=$(kv exit_ms "$Q")
lo=$(kv overhead_kib "$Lm"); qo=$(kv overhead_kib "$Qm")
printf '%-34s %10s %10s %8s\n' "median of $N runs" lvmm qemu ratio
printf '%-34s %10s %10s %8s\n' "start to first console byte (ms)" "$lf" "$qf" "$(ratio "$lf" "$qf")"
printf '%-34s %10s %10s %8s\n' "start to exit (ms)" "$le" "$qe" "$(ratio "$le" "$qe")"
printf '%-34s %10s %10s %8s\n' "memory minus guest RAM (PSS, KiB)" "$lo" "$qo" "$(ratio "$lo" "$qo")"
awk -v r="$(ratio "$lf" "$qf")" 'BEGIN { print (r <= 0.2 ? "target start-up <= 1/5 of QEMU: met" : "target start-up <= 1/5 of QEMU: MISSED") }'
awk -v o="$lo" 'BEGIN { print (o <= 2048 ? "target overhead <= 2 MiB: met" : "target overhead <= 2 MiB: MISSED") }'
