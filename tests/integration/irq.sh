#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Interrupts through the user-space IOAPIC of KVM's split irqchip
# (src/devices/ioapic.c, docs/platform.md): the irq test guest programs the
# IOAPIC, raises interrupts from the UART (a line raised in user space:
# KVM_SIGNAL_MSI) and from virtio-blk (an irqfd: the MSI route the guest's
# entry installed) and finds them pending in its LAPIC; a masked pin
# latches the UART's edge until unmasked; garbage entries (vector 5,
# reserved and ExtINT delivery modes, INIT) deliver nothing, are logged
# rate-limited, and the guest runs on. The same guest with LVMM_IRQCHIP=kernel
# (KVM's own IOAPIC) gives the same answers: the model behaves as the
# reference does where both define the behaviour. Unit tests of the model:
# test_ioapic.
. "$(dirname "$0")/../lib.sh"
CASES="irq-ioapic-registers irq-uart-interrupt-delivered irq-masked-pin-latches irq-virtio-irqfd-routed
irq-hostile-entries-contained irq-hostile-does-not-reach-neighbour irq-kernel-irqchip-same-answers
irq-no-in-kernel-pit irq-guest-sleeps-until-link-interrupt irq-guest-sleeps-until-interrupt-on-qemu"
skip_all_without_kvm $CASES

img=$TMP/irq.img
truncate -s 1M "$img"
out=$TMP/irq.out
run_lvmm 60 "$out" run --no-stdin --kernel "$GUESTS/irq.elf" --disk "$img" --cmdline "init=1"
tr -d '\r' <"$out" >"$out.txt"
ok() { grep -qx "irq: $1: ok" "$out.txt"; }

# The ID is the MADT's (nr_cpus: 1); an entry keeps only its defined fields.
if ok regs && ok badindex && grep -qx "irq: id 1" "$out.txt" && grep -qx "irq: rte23 0x1afff" "$out.txt"; then
	pass irq-ioapic-registers
else show "$out.txt"; fail irq-ioapic-registers "version/arbitration/ID or a bad index or the reserved bits of an entry"; fi
expect irq-uart-interrupt-delivered "the UART's interrupt did not reach the LAPIC with the entry's vector" \
	eval 'ok uart && ok lowest'
expect irq-masked-pin-latches "an edge on a masked pin was delivered at once or not on unmask" ok latch
expect irq-virtio-irqfd-routed "a virtio-blk completion did not reach the LAPIC, or did on a masked pin" \
	eval 'ok blk && ok blkmask'
# 600 raises on undeliverable entries: a few log lines, not 600.
warns=$(grep -c "cannot be delivered" "$out.txt")
if [ $rc -eq 0 ] && ok hostile && ok init && grep -qx "irq: done" "$out.txt" && [ "$warns" -ge 1 ] && [ "$warns" -le 20 ]; then
	pass irq-hostile-entries-contained
	echo "# 600 undeliverable raises, $warns log lines"
else show "$out.txt"; fail irq-hostile-entries-contained "rc=$rc, $warns warnings (want 1-20), or a check failed"; fi

# Next to another partition: the hostile entries and INIT change nothing
# there (its interrupts and routes are its own VM's), and both end cleanly.
cat >"$TMP/two.yaml" <<YAML
partitions:
  - name: bad
    kernel: $PWD/$GUESTS/irq.elf
    cmdline: "init=1"
    memory: 16M
  - name: t
    kernel: $PWD/$GUESTS/ticker.elf
    cmdline: "tick_ms=50 ticks=60"
    memory: 16M
YAML
out=$TMP/two.out
run_lvmm 60 "$out" run "$TMP/two.yaml"
tr -d '\r' <"$out" >"$out.txt"
if grep -q "^\[bad\] irq: done" "$out.txt" && grep -q "^\[bad\] irq: init: ok" "$out.txt" &&
   grep -q "^\[t\] tick 60" "$out.txt" && grep -q "^\[t\] ticker: done" "$out.txt" &&
   grep -q "event=partition_exit partition=t reason=poweroff status=0" "$out.txt" &&
   grep -q "event=partition_exit partition=bad reason=poweroff status=0" "$out.txt" &&
   # the neighbour was still ticking after the hostile guest was done
   [ "$(grep -n "^\[bad\] irq: done" "$out.txt" | cut -d: -f1)" -lt "$(grep -n "^\[t\] tick 60" "$out.txt" | cut -d: -f1)" ]; then
	pass irq-hostile-does-not-reach-neighbour
else show "$out.txt"; fail irq-hostile-does-not-reach-neighbour "rc=$rc: the neighbour did not tick to the end, or the hostile guest did not finish"; fi

# The reference: KVM's in-kernel IOAPIC. Where it differs, by design: it
# keeps an entry's reserved bits, its ID starts at 0, indexes past the table
# read all ones, and it drops an edge that arrives on a masked pin (lvmm's
# model latches it, as QEMU's does: the guest's exit status is 1 for that).
out=$TMP/kernel.out
LVMM_IRQCHIP=kernel run_lvmm 60 "$out" run --no-stdin --kernel "$GUESTS/irq.elf" --disk "$img"
tr -d '\r' <"$out" >"$out.txt"
if [ $rc -eq 1 ] && ok regs && ok uart && ok blk && ok blkmask && ok lowest && ok hostile &&
   grep -qx "irq: latch: FAIL" "$out.txt" && grep -qx "irq: done" "$out.txt"; then
	pass irq-kernel-irqchip-same-answers
else show "$out.txt"; fail irq-kernel-irqchip-same-answers "rc=$rc: KVM's own IOAPIC answers differently"; fi

# No in-kernel PIT (whose destruction was most of a partition's exit time,
# bench/teardown.sh): KVM runs one "kvm-pit/PID" kernel thread per PIT, named
# after the partition process. With LVMM_IRQCHIP=kernel it is there (the probe works).
pit_threads() { # ENV-VALUE -> count of kvm-pit threads of the partition process
	local o=$TMP/pit.out sup part n=0
	LVMM_IRQCHIP=$1 "$LVMM" run --no-stdin --kernel "$GUESTS/hello.elf" --cmdline "hold_ms=3000" \
		</dev/null >"$o" 2>&1 &
	sup=$!
	wait_grep "$o" "holding" 100
	for part in $(pgrep -P $sup); do
		n=$((n + $(ps -eo comm= | grep -cx "kvm-pit/$part")))
	done
	sigpid KILL $sup 2>/dev/null; wait $sup 2>/dev/null
	echo $n
}
split=$(pit_threads split) kernel=$(pit_threads kernel)
if [ "$split" = 0 ] && [ "$kernel" = 1 ]; then pass irq-no-in-kernel-pit
else fail irq-no-in-kernel-pit "kvm-pit threads: $split with the split irqchip (want 0), $kernel with LVMM_IRQCHIP=kernel (want 1)"; fi

# Guests that sleep (hlt) until their rx interrupt instead of polling
# (netbench wait=irq, rt_wait_irq: the IOAPIC pin edge-triggered, the LAPIC
# timer as the only fallback). A lost or never-delivered interrupt leaves a
# ping waiting for its 100 ms deadline (lost=N, a few frames a second); a
# delivered one answers in about a millisecond here. Over a link, and the
# same guests on QEMU microvm joined by its socket netdev: the guest's
# interrupt handling is right on a VMM nobody here wrote.
cat >"$TMP/ping.yaml" <<YAML
partitions:
  - name: a
    kernel: $PWD/$GUESTS/netbench.elf
    cmdline: "mode=pong idle_ms=300 wait=irq"
    memory: 32M
    devices: [ { type: net, link: l } ]
  - name: b
    kernel: $PWD/$GUESTS/netbench.elf
    cmdline: "mode=ping size=64 secs=1 wait=irq"
    memory: 32M
    devices: [ { type: net, link: l } ]
links:
  - { name: l, ends: [a, b] }
YAML
out=$TMP/ping.out
run_lvmm 60 "$out" run "$TMP/ping.yaml"
frames=$(sed -n 's/^\[b\] netbench: ping frames=\([0-9]*\).* lost=\([0-9]*\).*/\1 \2/p' "$out")
set -- $frames
if [ $rc -eq 0 ] && [ "${1:-0}" -ge 100 ] && [ "${2:-1}" = 0 ] && grep -q "^\[a\] netbench: pong frames=$1" "$out"; then
	pass irq-guest-sleeps-until-link-interrupt
	echo "# $1 round trips in 1 s, none lost"
else show "$out"; fail irq-guest-sleeps-until-link-interrupt "rc=$rc, ping frames/lost: ${frames:-none} (want >= 100, 0 lost)"; fi

if command -v qemu-system-x86_64 >/dev/null; then
	port=$((40000 + RANDOM % 20000))
	qemu_net() { # NAME CMDLINE NETDEV
		timeout 60 qemu-system-x86_64 -M microvm,acpi=off -accel kvm -cpu host,-arch-capabilities -m 32 \
			-nodefaults -no-user-config -display none -serial stdio -monitor none \
			-device isa-debug-exit,iobase=0xf4,iosize=4 -global virtio-mmio.force-legacy=false \
			-kernel "$GUESTS/netbench.elf" -append "$2" -netdev "socket,id=n0,$3" \
			-device virtio-net-device,netdev=n0 </dev/null >"$TMP/$1.out" 2>&1
	}
	qemu_net qa "mode=pong idle_ms=300 wait=irq" "listen=127.0.0.1:$port" &
	qa=$!
	sleep 0.5
	qemu_net qb "mode=ping size=64 secs=1 wait=irq" "connect=127.0.0.1:$port"
	wait $qa
	frames=$(sed -n 's/^netbench: ping frames=\([0-9]*\).* lost=\([0-9]*\).*/\1 \2/p' "$TMP/qb.out")
	set -- $frames
	if [ "${1:-0}" -ge 100 ] && [ "${2:-1}" = 0 ] && grep -q "^netbench: pong frames=$1" "$TMP/qa.out"; then
		pass irq-guest-sleeps-until-interrupt-on-qemu
		echo "# QEMU: $1 round trips in 1 s, none lost"
	else show "$TMP/qb.out"; show "$TMP/qa.out"
		fail irq-guest-sleeps-until-interrupt-on-qemu "ping frames/lost: ${frames:-none} (want >= 100, 0 lost)"; fi
else
	skip irq-guest-sleeps-until-interrupt-on-qemu "no qemu-system-x86_64 (make deps installs qemu-system-x86)"
fi
