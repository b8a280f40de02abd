#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Where a VMM's exit time goes in the kernel (bench/tools/kvmexit.c): a process
# with a VM that ran one vCPU exits, timed from its last instruction to
# waitpid(). With the in-kernel PIC and IOAPIC (KVM_CREATE_IRQCHIP) and PIT,
# as lvmm's platform has them, KVM unregisters six I/O devices when the VM is
# destroyed, each followed by an SRCU grace period; QEMU microvm uses a split
# irqchip (only the LAPIC in the kernel) and has none of them. The "lvmm"
# column is lvmm's configuration, the "qemu" column QEMU microvm's.
# Stopping whole partitions and platforms against QEMU: bench/scale.sh.
. "$(dirname "$0")/lib.sh"
[ -w /dev/kvm ] || { echo "skip: /dev/kvm is not available"; exit 0; }
K=()
for ((r = 0; r < RUNS; r++)); do K+=("$("$T/kvmexit" 5)"); done
col() { local k=$1; shift; local x; for x in "$@"; do kv "$k" "$x"; done; }
header
record teardown "kernel exit: VM + vCPU only (ms)" "$(col vcpu_ms "${K[@]}")" "" none
record teardown "kernel exit: + in-kernel PIC/IOAPIC (ms)" "$(col irqchip_ms "${K[@]}")" "" none
record teardown "kernel exit: lvmm (irqchip + PIT) vs QEMU (split)" "$(col irqchip_pit_ms "${K[@]}")" "$(col split_ms "${K[@]}")" none
