#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lvmm's ACPI tables as Debian's kernel reads them, up to the power button
# and S5 power-off. On this host Linux under lvmm stops in KVM's emulator
# long before its ACPI interpreter and the button driver (DESIGN §5,
# tests/integration/linux.sh), so the very tables lvmm writes (dumped by
# test_acpi, LVMM_ACPI_DUMP) are loaded at 0xe0000 into QEMU's microvm
# (TCG, ACPI of its own off) and the same kernel boots there, with the
# button driver (a module in Debian's kernel) in its initramfs. Bounded:
# QEMU hangs after Linux's S5 write (it has no device at port 0x600) and is
# ended as soon as that is seen.
. "$(dirname "$0")/../lib.sh"
CASES="linux-acpi-power-button-bound linux-acpi-s5-power-off"

if ! command -v qemu-system-x86_64 >/dev/null; then
	for n in $CASES; do skip $n "no qemu-system-x86_64 (make deps installs qemu-system-x86)"; done
	exit 0
fi
IMG=$BUILD/linux-acpi
if [ ! -f "$IMG/vmlinux" ] || [ ! -f "$IMG/initrd.img" ]; then
	mkdir -p "$IMG"
	[ -d "$BUILD/linux/debs" ] && [ ! -d "$IMG/debs" ] && cp -r "$BUILD/linux/debs" "$IMG/" # the download cache
	if ! scripts/linux/build-image.sh --modules "button" "$IMG" >"$TMP/build.log" 2>&1; then
		tail -3 "$TMP/build.log" >&2
		for n in $CASES; do skip $n "could not build the Linux image from Debian's packages (see stderr)"; done
		exit 0
	fi
fi
LVMM_ACPI_DUMP=$TMP/acpi.bin "$BUILD/tests/unit/test_acpi" || { for n in $CASES; do fail $n "test_acpi could not dump the tables"; done; exit 0; }

out=$TMP/qemu.out
timeout 300 qemu-system-x86_64 -M microvm,acpi=off,ioapic2=off -accel tcg -m 256 -smp 1 \
	-nodefaults -no-user-config -nographic -serial stdio \
	-kernel "$IMG/vmlinux" -initrd "$IMG/initrd.img" \
	-append "console=ttyS0 lvmm.role=poweroff tsc_early_khz=2000000" \
	-device loader,file="$TMP/acpi.bin",addr=0xe0000,force-raw=on </dev/null >"$out" 2>&1 &
q=$!
for _ in $(seq 2400); do
	contains "$out" "reboot: Power down" && break
	kill -0 $q 2>/dev/null || break
	sleep 0.1
done
# TERM to timeout(1), which passes it on to QEMU (a KILL would end timeout alone and orphan QEMU).
sigpid TERM $q 2>/dev/null; wait $q 2>/dev/null

if contains "$out" "ACPI: RSDP 0x00000000000E0000 000024 (v02 LVMM  )" &&
   contains "$out" "input: Power Button as /devices/LNXSYSTM:00/LNXSYBUS:00/PNP0C0C:00/input/input" &&
   contains "$out" "ACPI: button: Power Button [PWRB]"; then
	pass linux-acpi-power-button-bound
else show "$out"; fail linux-acpi-power-button-bound "Linux did not bind the PNP0C0C power button from lvmm's DSDT"; fi
if contains "$out" "ACPI: PM: (supports S0 S3 S5)" && contains "$out" "ACPI: PM: Preparing to enter system sleep state S5" &&
   contains "$out" "reboot: Power down"; then
	pass linux-acpi-s5-power-off
else show "$out"; fail linux-acpi-s5-power-off "Linux did not offer S3 and S5 or use S5 through the FADT's sleep registers"; fi
