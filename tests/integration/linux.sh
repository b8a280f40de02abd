#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Debian's stock kernel under lvmm. On this host (software-assisted nested
# KVM, DESIGN §5) Linux runs its CPL0 code in KVM's instruction emulator and
# stops on 'lock cmpxchg16b' after the "Memory:" line, so these tests assert
# early-boot milestones, bounded in time:
#   - the kernel (vmlinux, booted through its PVH note) prints its banner and
#     the command line lvmm gave it;
#   - when the emulator gives up, lvmm reports it with RIP and instruction bytes;
#   - slow (LVMM_SLOW_TESTS=1, ~3 min here): the same kernel as a bzImage;
#   - slow (LVMM_SLOW_TESTS=1, 15-30 min here, LVMM_LINUX_TPM_SECS bounds it,
#     default 2700): with a vTPM ({ type: tpm }),
#     CX16 hidden and `noxsave clearcpuid=popcnt,smap,ssse3`, and lvmm
#     completing int3/fwait at CPL0, the kernel runs its initcalls up to
#     IMA: its own tpm_crb binds to lvmm's CRB (ACPI TPM2 + MSFT0101), talks
#     to the vTPM without a single rejected command, and IMA finds the TPM
#     (no "TPM-bypass"). docs/linux-guests.md has the details.
# The image comes from Debian's packages (scripts/linux/build-image.sh).
. "$(dirname "$0")/../lib.sh"
CASES="linux-pvh-banner-and-cmdline linux-acpi-cpus-and-ioapic linux-emulation-failure-reported linux-client-both-kernels-start linux-bzimage-banner linux-tpm-crb-and-ima"
skip_all_without_kvm $CASES

IMG=${LVMM_LINUX_DIR:-$BUILD/linux}
if [ ! -f "$IMG/vmlinux" ] || [ ! -f "$IMG/initrd.img" ]; then
	if ! scripts/linux/build-image.sh "$IMG" >"$TMP/build.log" 2>&1; then
		tail -3 "$TMP/build.log" >&2
		for n in $CASES; do skip $n "could not build the Linux image from Debian's packages (see stderr)"; done
		exit 0
	fi
fi

# Start Linux and watch its console; stop waiting at $2 or at the deadline $3 (s).
boot() { # KERNEL PATTERN SECONDS OUT
	local kernel=$1 pat=$2 secs=$3 out=$4 t=0
	"$LVMM" run --no-stdin --kernel "$kernel" --initrd "$IMG/initrd.img" --memory 256 --vcpus 2 \
		--cmdline "console=ttyS0 earlyprintk=serial tsc_early_khz=2000000 lvmm.test=$$" \
		</dev/null >"$out" 2>&1 &
	local pid=$!
	while [ $t -lt $((secs * 10)) ] && kill -0 $pid 2>/dev/null && ! grep -q "$pat" "$out"; do
		sleep 0.1; t=$((t + 1))
	done
	sigpid INT $pid 2>/dev/null; sleep 0.5; sigpid KILL $pid 2>/dev/null; wait $pid 2>/dev/null
}

out=$TMP/pvh.out
boot "$IMG/vmlinux" "crashed" 240 "$out"
if contains "$out" "Linux version 6." && contains "$out" "Command line: console=ttyS0 earlyprintk=serial tsc_early_khz=2000000 lvmm.test=$$"; then
	pass linux-pvh-banner-and-cmdline
else show "$out"; fail linux-pvh-banner-and-cmdline "no banner or command line within 240 s"; fi
# Debian's cloud kernel reads neither the MP table nor virtio_mmio.device=: ACPI only.
# Version 17 and GSI 0-23 are what it read from the IOAPIC's registers (src/devices/ioapic.c).
if contains "$out" "ACPI: RSDP 0x00000000000E0000" && contains "$out" "ACPI: APIC 0x00000000000E0200" &&
   contains "$out" "IOAPIC[0]: apic_id 2, version 17, address 0xfec00000, GSI 0-23" &&
   contains "$out" "smpboot: Allowing 2 CPUs"; then
	pass linux-acpi-cpus-and-ioapic
else show "$out"; fail linux-acpi-cpus-and-ioapic "the kernel did not find lvmm's ACPI tables, 2 CPUs and the IOAPIC"; fi
if grep -q "guest crashed: KVM internal error" "$out" && grep -q "rip 0xffffffff8" "$out" &&
   grep -q "instruction bytes f0 48 0f c7" "$out"; then
	pass linux-emulation-failure-reported
elif contains "$out" "Run /init" || contains "$out" "lvmm-guest: init started"; then
	skip linux-emulation-failure-reported "this host's KVM runs Linux without emulation failures"
else show "$out"; fail linux-emulation-failure-reported "the emulation failure was not reported with RIP and the cmpxchg16b bytes"; fi

# examples/linux-client.yaml: Linux in both partitions; here we can only see both start.
ns=lvmm-lc$$
if ip netns add $ns 2>/dev/null; then
	ip -n $ns tuntap add dev lvmm-nic0 mode tap vnet_hdr
	ip -n $ns link set lvmm-nic0 up
	mkdir -p "$BUILD/linux-client"
	sed "s|\.\./build/|$PWD/$BUILD/|g" examples/linux-client.yaml >"$TMP/lc.yaml"
	"$LVMM" check "$TMP/lc.yaml" >"$TMP/lc.check" 2>&1; crc=$?
	out=$TMP/lc.out
	ip netns exec $ns "$LVMM" run "$TMP/lc.yaml" </dev/null >"$out" 2>&1 &
	pid=$!
	for _ in $(seq 2400); do
		# The command line is printed after the banner: wait for what is checked.
		grep -q "^\[service\].*Command line:" "$out" && grep -q "^\[user\].*Command line:" "$out" && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	sigpid INT $pid 2>/dev/null; sleep 1; sigpid KILL $pid 2>/dev/null; wait $pid 2>/dev/null
	ip netns del $ns
	if [ $crc -eq 0 ] && grep -q "^\[service\].*Command line:.*lvmm.role=service" "$out" &&
	   grep -q "^\[user\].*Command line:.*lvmm.role=user" "$out"; then
		pass linux-client-both-kernels-start
	else cat "$TMP/lc.check" >&2; show "$out"; fail linux-client-both-kernels-start "check rc=$crc, or a partition's kernel did not start"; fi
else
	skip linux-client-both-kernels-start "cannot create a network namespace"
fi

if [ -n "${LVMM_SLOW_TESTS:-}" ]; then
	out=$TMP/bz.out
	boot "$IMG/bzImage" "Command line:" 400 "$out"
	if contains "$out" "Linux version 6." && contains "$out" "lvmm.test=$$"; then pass linux-bzimage-banner
	else show "$out"; fail linux-bzimage-banner "no banner within 400 s"; fi
else
	skip linux-bzimage-banner "slow here (~3 min: the bzImage decompressor runs in KVM's CPL0 emulator); set LVMM_SLOW_TESTS=1"
fi

# Linux's own TPM driver and IMA against lvmm's CRB device and the partition's vTPM.
if [ -z "${LVMM_SLOW_TESTS:-}" ]; then
	skip linux-tpm-crb-and-ima "slow here (15-30 min: the kernel's CPL0 code runs in KVM's emulator up to its IMA initcall); set LVMM_SLOW_TESTS=1"
elif "$LVMM" measure 2>&1 | grep -q "unknown command 'measure'" || ! command -v swtpm >/dev/null; then
	skip linux-tpm-crb-and-ima "needs the supervisor's vTPM wiring ({ type: tpm }) and swtpm"
else
	mkdir -p "$TMP/linux-tpm"
	img=$(cd "$IMG" && pwd)
	# CX16 hidden (lock cmpxchg16b), no XSAVE (xrstor), no SMAP (clac/stac), no SSSE3 (the
	# kernel's blake2s would use SIMD: ldmxcsr), popcnt off: instructions KVM's emulator
	# lacks at CPL0 here and lvmm does not complete (only int3 and fwait are). The rest
	# only saves time in the emulator: no lockup detectors printing stack traces about
	# a slow CPU, no speculation mitigations (retpolines, RSB filling).
	cat >"$TMP/linux-tpm.yaml" <<YAML
partitions:
  - name: linux
    kernel: $img/vmlinux
    initrd: $img/initrd.img
    memory: 256M
    cpuid_disable: [cx16]
    cmdline: "console=ttyS0 earlyprintk=serial noxsave clearcpuid=popcnt,smap,ssse3 tsc_early_khz=2000000 nowatchdog sysctl.kernel.hung_task_timeout_secs=0 mitigations=off lvmm.role=poweroff"
    devices:
      - { type: tpm, state: $TMP/linux-tpm }
YAML
	out=$TMP/linux-tpm.out
	t0=$SECONDS
	"$LVMM" -v run "$TMP/linux-tpm.yaml" </dev/null >"$out" 2>&1 &
	pid=$!
	# Bounded by the clock, not a count of polls (a loaded host makes each poll slower).
	limit=${LVMM_LINUX_TPM_SECS:-2700}
	while [ $((SECONDS - t0)) -lt "$limit" ]; do
		grep -qE "ima: No architecture policies found|TPM-bypass|Run /init|guest crashed" "$out" && break
		kill -0 $pid 2>/dev/null || break
		sleep 1
	done
	secs=$((SECONDS - t0))
	sigpid INT $pid 2>/dev/null; sleep 1; sigpid KILL $pid 2>/dev/null; wait $pid 2>/dev/null
	tr -d '\r' <"$out" >"$out.txt"
	# Every command the kernel's tpm_crb sent was well-formed (the device rejected none),
	# and there were some: the driver probed the TPM and IMA read its PCRs.
	cmds=$(sed -n 's/.*event=device_summary partition=linux device=tpm0 reads=\([0-9]*\) writes=[0-9]* errors=\([0-9]*\).*/\1 \2/p' "$out.txt")
	if contains "$out.txt" "ACPI: TPM2 0x00000000000E0C00" && contains "$out.txt" "ima: Allocated hash algorithm: sha256" &&
	   ! contains "$out.txt" "TPM-bypass" && ! grep -qiE "tpm_crb.*(fail|error|bug)|tpm tpm0:.*(fail|error|bug)|Failed to map ACPI memory" "$out.txt" &&
	   [ -n "$cmds" ] && [ "${cmds% *}" -ge 3 ] && [ "${cmds#* }" = 0 ]; then
		pass linux-tpm-crb-and-ima
		echo "# Linux reached IMA with the vTPM after $secs s; its tpm_crb sent ${cmds% *} commands, none rejected"
	else show "$out.txt"; fail linux-tpm-crb-and-ima "after $secs s: no TPM2 table, IMA did not find the TPM, tpm_crb complained, or commands were rejected ($cmds)"; fi
fi
