#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Teardown: what stopping a partition costs, and where the kernel's share
# goes.
#
# 1. The kernel's share of a VMM's exit (bench/tools/kvmexit.c): a process
#    with a VM that ran one vCPU exits, timed from its last instruction to
#    waitpid(). With KVM's in-kernel PIC and IOAPIC (KVM_CREATE_IRQCHIP) and
#    PIT, KVM unregisters six I/O-bus devices when the VM is destroyed, each
#    followed by an SRCU grace period; with the split irqchip (only the
#    LAPICs in the kernel), which lvmm uses since the IOAPIC moved into the
#    partition process (src/devices/ioapic.c) and QEMU microvm uses too,
#    there are none. LVMM_IRQCHIP=kernel is the old platform. Then 8 such
#    processes told to exit one after another, with the VM left to process
#    exit (two SRCU grace periods each, QEMU's way) and closed first (one,
#    lvmm's partitions): a grace period asked for while another runs is a
#    normal one, a few jiffies.
# 2. Stopping partitions (bench/tools/scaletime.c, as in bench/scale.sh):
#    N = 1, 8, 32 idle guests (TEARDOWN_NS), stop one (API request to the
#    process being gone) and then all (SIGTERM to the last exit), lvmm
#    (split irqchip), lvmm with LVMM_IRQCHIP=kernel, and QEMU microvm,
#    alternating in each run; for stopping all, also lvmm with
#    LVMM_VM_TEARDOWN=exit (the VM left to process exit: two SRCU grace
#    periods per exit instead of one, src/vmm/partition.c).
. "$(dirname "$0")/lib.sh"
# Stopping many partitions at once is bimodal on a small host (the kernel's
# SRCU grace periods in each process's VM teardown either overlap or queue:
# 6-40 ms for the same 8 guests), so those rows take at least 7 alternating
# runs (TEARDOWN_RUNS=N to change; QUICK=1 keeps 1).
TRUNS=${TEARDOWN_RUNS:-$((RUNS > 1 && RUNS < 7 ? 7 : RUNS))}
[ -w /dev/kvm ] || { echo "skip: /dev/kvm is not available"; exit 0; }
K=()
for ((r = 0; r < RUNS; r++)); do K+=("$("$T/kvmexit" 5)"); done
col() { local k=$1; shift; local x; for x in "$@"; do kv "$k" "$x"; done; }
header
record teardown "kernel exit: VM + vCPU only (ms)" "$(col vcpu_ms "${K[@]}")" "" none
record teardown "kernel exit: + in-kernel PIC/IOAPIC (ms)" "$(col irqchip_ms "${K[@]}")" "" none
record teardown "kernel exit: split irqchip, lvmm and QEMU (ms)" "$(col split_ms "${K[@]}")" "" none
record teardown "kernel exit: LVMM_IRQCHIP=kernel vs split" "$(col irqchip_pit_ms "${K[@]}")" "$(col split_ms "${K[@]}")" none
record teardown "kernel exit: 8 in a row, VM left to exit (ms)" "$(col split8_ms "${K[@]}")" "" none
record teardown "kernel exit: 8 in a row, VM closed first vs left" "$(col split8_closed_ms "${K[@]}")" "$(col split8_ms "${K[@]}")" none

command -v qemu-system-x86_64 >/dev/null || { echo "skip: stopping partitions: no qemu-system-x86_64"; exit 0; }
qemu_args 64
for n in ${TEARDOWN_NS:-1 8 32}; do
	d=$PWD/$T/teardown.$n
	mkdir -p "$d"
	{
		echo "control: $d/ctl.sock"
		echo "partitions:"
		for ((i = 1; i <= n; i++)); do
			printf '  - name: p%d\n    kernel: %s\n    cmdline: "idle=1"\n    memory: 64M\n' \
				"$i" "$PWD/$G/ticker.elf"
		done
	} >"$d/t.yaml"
	L=() LK=() LX=() Q=()
	for ((r = 0; r < TRUNS; r++)); do
		rm -f "$d/ctl.sock" "$d"/qmp.*
		L+=("$(IDLE_MS=200 OPS=1 "$T/scaletime" lvmm "$n" "ticker: idle" "$d/ctl.sock" -- \
			"$LVMM" run "$d/t.yaml" 2>/dev/null)")
		rm -f "$d/ctl.sock"
		LK+=("$(LVMM_IRQCHIP=kernel IDLE_MS=200 OPS=1 "$T/scaletime" lvmm "$n" "ticker: idle" \
			"$d/ctl.sock" -- "$LVMM" run "$d/t.yaml" 2>/dev/null)")
		if [ "$n" -gt 1 ]; then
			rm -f "$d/ctl.sock"
			LX+=("$(LVMM_VM_TEARDOWN=exit IDLE_MS=200 OPS=1 "$T/scaletime" lvmm "$n" "ticker: idle" \
				"$d/ctl.sock" -- "$LVMM" run "$d/t.yaml" 2>/dev/null)")
		fi
		Q+=("$(IDLE_MS=200 OPS=1 "$T/scaletime" qemu "$n" "ticker: idle" "$d" -- \
			"${QEMU[@]}" -kernel "$G/ticker.elf" -append idle=1 2>/dev/null)")
	done
	record teardown "N=$n stop one guest (ms)" "$(col stop1_ms "${L[@]}")" "$(col stop1_ms "${Q[@]}")" "ratio<=1"
	record teardown "N=$n stop one, LVMM_IRQCHIP=kernel (ms)" "$(col stop1_ms "${LK[@]}")" "$(col stop1_ms "${Q[@]}")" none
	if [ "$n" -gt 1 ]; then
		record teardown "N=$n stop all guests (ms)" "$(col stopall_ms "${L[@]}")" "$(col stopall_ms "${Q[@]}")" "ratio<=1"
		record teardown "N=$n stop all, LVMM_IRQCHIP=kernel (ms)" "$(col stopall_ms "${LK[@]}")" "$(col stopall_ms "${Q[@]}")" none
		record teardown "effect: N=$n stop all, VM left to exit (ms)" "$(col stopall_ms "${LX[@]}")" "$(col stopall_ms "${Q[@]}")" "ratio<=1"
	fi
done

# Where the kernel's time goes: the exiting process's sleeps, per configuration.
if [ "${TEARDOWN_PERF:-0}" = 1 ] && command -v perf >/dev/null; then
	for c in split irqchip irqchip_pit; do
		perf record -q -a -g -e sched:sched_switch -o "$T/teardown.$c.perf" -- \
			"$T/kvmexit" 5 "$c" >/dev/null 2>&1 || continue
		echo "# kvmexit $c (5 exits): where they slept"
		perf script -i "$T/teardown.$c.perf" 2>/dev/null | awk -v comm=kvmexit -f bench/tools/offcpu.awk |
			sed 's/^/#   /' | head -8
	done
fi
