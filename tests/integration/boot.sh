#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Boot each in-tree test guest under lvmm and check its console and exit status;
# malformed images and bad options are refused with a precise message.
. "$(dirname "$0")/../lib.sh"

CASES="boot-hello boot-hello-cmdline boot-bzimage boot-exit-status boot-exit-status-apart-from-lvmm boot-reset-kbd boot-reset-cf9 boot-reboot reboot-loop-backs-off
       examples-check console-to-file unhandled-io-logged vcpu-pinning threads-not-left-pinned boot-smp boot-memory boot-memory-high boot-fault
       boot-pvh-qemu-compatible-image cpuid-disable-warns-what-stays-visible cpuid-supported-asked-once refuse-not-a-kernel refuse-truncated-elf
       refuse-truncated-bzimage refuse-bzimage-setup-sects-0 refuse-missing-kernel refuse-bad-option refuse-tiny-memory help-texts"
skip_all_without_kvm $CASES

out=$TMP/out
run_lvmm 20 "$out" run --no-stdin --kernel "$GUESTS/hello.elf"
if [ $rc -eq 0 ] && contains "$out" "hello from lvmm guest"; then pass boot-hello
else show "$out"; fail boot-hello "rc=$rc, no greeting"; fi

run_lvmm 20 "$out" run --no-stdin --kernel "$GUESTS/hello.elf" --cmdline "hello world  x=1"
if [ $rc -eq 0 ] && contains "$out" "cmdline: hello world  x=1"; then pass boot-hello-cmdline
else show "$out"; fail boot-hello-cmdline "rc=$rc, command line not echoed"; fi

# The same guest packaged as a Linux bzImage (64-bit boot protocol).
run_lvmm 20 "$out" run --no-stdin --kernel "$GUESTS/hello.bzimage" --cmdline "via bzImage"
if [ $rc -eq 0 ] && contains "$out" "hello from lvmm guest (bzImage)" && contains "$out" "cmdline: via bzImage"; then
	pass boot-bzimage
else show "$out"; fail boot-bzimage "rc=$rc"; fi

# cpuid_disable: whatever KVM puts back must be named in a warning, and the guest
# sees exactly the features the warnings name: at CPL0 those KVM did not hide; at
# CPL3 also those a host that runs CPL3 CPUID natively (kvm_pvm without CPUID
# faulting, e.g. AMD) cannot hide. cx16 is KVM's own and is always hidden from the
# guest's kernel; popcnt cannot be hidden on a kvm_pvm host (docs/platform.md).
run_lvmm 60 "$out" run --no-stdin --kernel "$GUESTS/cpuid.elf" --cpuid-disable popcnt,cx16
ok=1
for f in popcnt cx16; do
	all=0 user=0 cpl0=0 cpl3=0
	grep -q "cannot hide.* $f[,:]" "$out" && all=1
	grep -q "user mode (CPL3) still sees.* $f[,:]" "$out" && user=1
	grep -q "cpuid: $f cpl3=[01] cpl0=1" "$out" && cpl0=1
	grep -q "cpuid: $f cpl3=1" "$out" && cpl3=1
	[ $all = $cpl0 ] && [ $cpl3 = $((all | user)) ] || ok=0
done
if [ $rc -eq 0 ] && [ $ok = 1 ] && contains "$out" "cpuid: cx16 cpl3=" && grep -q "cpuid: cx16 cpl3=[01] cpl0=0" "$out" &&
   contains "$out" "cpuid: done" && [ "$(grep -c "cannot hide" "$out")" -le 1 ]; then
	pass cpuid-disable-warns-what-stays-visible
else show "$out"; fail cpuid-disable-warns-what-stays-visible "rc=$rc: the warnings and the guest's view disagree (or cx16 visible to the guest's kernel)"; fi

# KVM's supported CPUID is asked by the supervisor for all of a platform's
# partitions, never by a partition (it cost each 0.4-1 ms of a CPU, bench/scale.sh);
# each still applies its own masks to its copy: b hides cx16 from its kernel, a
# does not. (The supervisor also asks in its check of the masks: 2 calls at most.)
cat >"$TMP/cpuid2.yaml" <<YAML
partitions:
  - { name: a, kernel: $PWD/$GUESTS/cpuid.elf, memory: 16M }
  - { name: b, kernel: $PWD/$GUESTS/cpuid.elf, memory: 16M, cpuid_disable: [cx16] }
YAML
if ! command -v strace >/dev/null; then skip cpuid-supported-asked-once "strace is not installed (make deps)"
else
	# (LeakSanitizer cannot work under ptrace: the sanitizer build's leak check is off here.)
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 timeout 60 strace -f -qq -e trace=ioctl \
		-o "$TMP/st" "$LVMM" run "$TMP/cpuid2.yaml" >"$out" 2>&1; rc=$?
	sup_pid=$(head -1 "$TMP/st" | cut -d' ' -f1)
	asks=$(grep -c "KVM_GET_SUPPORTED_CPUID" "$TMP/st")
	others=$(grep "KVM_GET_SUPPORTED_CPUID" "$TMP/st" | grep -vc "^$sup_pid ")
	if [ $rc -eq 0 ] && [ "$others" = 0 ] && [ "$asks" -ge 1 ] && [ "$asks" -le 2 ] &&
	   [ "$(grep "KVM_SET_CPUID2" "$TMP/st" | grep -vc "^$sup_pid ")" = 2 ] && [ "$(grep -c "cpuid: done" "$out")" = 2 ] &&
	   grep -q "^\[a\] cpuid: cx16 cpl3=[01] cpl0=1" "$out" && grep -q "^\[b\] cpuid: cx16 cpl3=[01] cpl0=0" "$out"; then
		pass cpuid-supported-asked-once
	else show "$out"; grep -E "SUPPORTED_CPUID|SET_CPUID2" "$TMP/st" >&2
		fail cpuid-supported-asked-once "rc=$rc; $asks KVM_GET_SUPPORTED_CPUID calls, $others not by the supervisor (pid $sup_pid), or a guest's cx16 is not as its mask says"; fi
fi

run_lvmm 20 "$out" run --no-stdin --kernel "$GUESTS/hello.elf" --cmdline "exit=42"
if [ $rc -eq 42 ]; then pass boot-exit-status
else show "$out"; fail boot-exit-status "rc=$rc, want the 42 the guest wrote to the debug-exit port"; fi

# A guest value in lvmm's own range (121 = "a partition could not be set up") must not
# pass for lvmm's status: the guest's 120-255 become 119; the event keeps the exact value.
run_lvmm 20 "$out" run --no-stdin --kernel "$GUESTS/hello.elf" --cmdline "exit=121" --events "$TMP/ev"
if [ $rc -eq 119 ] && grep -q '"status":119,"detail":"powered off, status 121"' "$TMP/ev"; then
	pass boot-exit-status-apart-from-lvmm
else show "$out"; cat "$TMP/ev" >&2; fail boot-exit-status-apart-from-lvmm "rc=$rc, want 119 (a guest's 121 is not lvmm's 121)"; fi
rm -f "$TMP/ev"

for how in kbd cf9; do
	run_lvmm 20 "$out" run --no-stdin --kernel "$GUESTS/hello.elf" --cmdline "reset=$how exit=9" --events "$TMP/ev"
	if [ $rc -eq 0 ] && ! contains "$out" "hello: exit 9" && grep -q '"reason":"reset"' "$TMP/ev"; then pass boot-reset-$how
	else show "$out"; fail boot-reset-$how "rc=$rc: a reset must end the guest with status 0"; fi
	rm -f "$TMP/ev"
done

# --reboot restarts on reset; the restarted guest resets again until the limit... so
# the guest resets once per start and we stop it after two starts.
timeout 20 "$LVMM" run --no-stdin --kernel "$GUESTS/hello.elf" --cmdline "hold_ms=200 reset=kbd" --reboot \
	--events "$TMP/rb" </dev/null >"$out" 2>&1 &
pid=$!
for _ in $(seq 100); do n=$(grep -c '"event":"partition_start"' "$TMP/rb" 2>/dev/null); [ "${n:-0}" -ge 3 ] && break; sleep 0.1; done
sigpid TERM $pid; wait $pid
if [ "$(grep -c '"event":"partition_start"' "$TMP/rb")" -ge 3 ] && grep -q '"reason":"reset"' "$TMP/rb"; then pass boot-reboot
else show "$out"; fail boot-reboot "a reset with --reboot did not restart the guest"; fi

# A guest that resets within a second of its start (a reset loop) is started again
# after the restart back-off (1 s, 2 s, 4 s: restart_delay_ms doubling), not counted as
# a restart; one that ran a second first is started again at once (docs/platform-file.md).
timeout 20 "$LVMM" run --no-stdin --kernel "$GUESTS/hello.elf" --memory 16 --cmdline "reset=kbd" --reboot \
	--events "$TMP/loop" </dev/null >"$out" 2>&1 &
pid=$!
for _ in $(seq 120); do n=$(grep -c '"partition_restart_scheduled"' "$TMP/loop" 2>/dev/null); [ "${n:-0}" -ge 3 ] && break; sleep 0.1; done
sigpid TERM $pid; wait $pid
quick=$(restart_delays "$TMP/loop" guest | cut -d" " -f1-3)
timeout 20 "$LVMM" run --no-stdin --kernel "$GUESTS/hello.elf" --memory 16 --cmdline "hold_ms=1100 reset=kbd" --reboot \
	--events "$TMP/slow" </dev/null >>"$out" 2>&1 &
pid=$!
for _ in $(seq 150); do n=$(grep -c '"event":"partition_start"' "$TMP/slow" 2>/dev/null); [ "${n:-0}" -ge 2 ] && break; sleep 0.1; done
sigpid TERM $pid; wait $pid
slow=$(restart_delays "$TMP/slow" guest | cut -d" " -f1)
if [ "$quick" = "1000:0 2000:0 4000:0" ] && [ "$slow" = "0:0" ] &&
   [ "$(grep -c '"event":"partition_start"' "$TMP/loop")" -le 4 ]; then pass reboot-loop-backs-off
else show "$out"; fail reboot-loop-backs-off "delays of a reset loop '$quick' (want 1000:0 2000:0 4000:0), after a second '$slow' (want 0:0)"; fi

ok=1
# (examples/linux-*.yaml need the Linux images: tests/integration/linux.sh checks them)
# demo.yaml keeps its event log and socket in build/demo, which scripts/demo.sh creates.
mkdir -p build/demo
for f in examples/*.yaml; do
	case "$f" in examples/linux-*) continue ;; esac
	"$LVMM" check "$f" >"$out" 2>&1 || { show "$out"; ok=0; }
done
[ $ok = 1 ] && pass examples-check || fail examples-check "an example in examples/ does not pass lvmm check"

# console: file:PATH puts the guest's console in the file (appended), not on stdout.
echo "before" >"$TMP/con.txt"
cat >"$TMP/confile.yaml" <<YAML
partitions:
  - { name: p, kernel: $PWD/$GUESTS/hello.elf, cmdline: "x=1", memory: 16M, console: "file:$TMP/con.txt" }
YAML
run_lvmm 20 "$out" run "$TMP/confile.yaml"
if [ $rc -eq 0 ] && [ "$(head -1 "$TMP/con.txt")" = before ] && contains "$TMP/con.txt" "hello from lvmm guest" &&
   contains "$TMP/con.txt" "cmdline: x=1" && ! contains "$out" "hello from lvmm guest"; then pass console-to-file
else show "$out"; show "$TMP/con.txt"; fail console-to-file "rc=$rc: the console is not (only) in the file, or the file was truncated"; fi

# 20 writes to a port nothing handles: the guest goes on (the write is dropped),
# the warning is rate-limited (RL_BURST, 5), and the summary counts all 20.
outs=$(printf '0x3e0:1,%.0s' $(seq 20)); outs=${outs%,}
run_lvmm 20 "$out" -v run --no-stdin --kernel "$GUESTS/hello.elf" --memory 16 --cmdline "outb=$outs"
n=$(grep -c "warning: unhandled port I/O write at 0x3e0 (1 bytes)" "$out")
if [ $rc -eq 0 ] && contains "$out" "hello: outb done" && [ "$n" -ge 1 ] && [ "$n" -le 5 ] &&
   contains "$out" "event=partition_summary partition=guest state=exited exit_code=0" && grep -q "unhandled_io=20 " "$out"; then
	pass unhandled-io-logged
else show "$out"; fail unhandled-io-logged "rc=$rc: $n warning lines for 20 unhandled writes (want 1-5), or the summary's count is not 20"; fi

# host_cpus pins each vCPU thread to its CPU and the I/O thread to their union;
# without it, no thread of the partition stays on one CPU (set-up starts its
# threads on its own CPU, vmm/thread_start.h, and each widens itself back).
# affinity PLATFORM: "thread=Cpus_allowed_list ..." of its partition's threads.
affinity() {
	local pid t
	: >"$TMP/ev.jsonl"
	"$LVMM" run "$1" --events "$TMP/ev.jsonl" >"$out" 2>&1 &
	local sup=$!
	wait_grep "$out" "hello: holding" 100 || { kill "$sup"; wait "$sup"; return 1; }
	pid=$(grep -o '"event":"partition_start","partition":"p","pid":[0-9]*' "$TMP/ev.jsonl" | grep -o '[0-9]*$')
	for t in /proc/"$pid"/task/*; do
		printf '%s=%s ' "$(cat "$t/comm")" "$(awk '/^Cpus_allowed_list/ { print $2 }' "$t/status")"
	done
	kill "$sup"; wait "$sup"
}
if [ "$(nproc)" -lt 2 ]; then
	skip vcpu-pinning "one host CPU"; skip threads-not-left-pinned "one host CPU"
else
	all=$(awk '/^Cpus_allowed_list/ { print $2 }' /proc/self/status)
	cat >"$TMP/pin.yaml" <<YAML
partitions:
  - { name: p, kernel: $PWD/$GUESTS/hello.elf, cmdline: "hold_ms=20000", vcpus: 2, host_cpus: [1, 0], memory: 16M }
YAML
	got=$(affinity "$TMP/pin.yaml")
	if [[ " $got" == *" vcpu0=1 "* && " $got" == *" vcpu1=0 "* && " $got" == *" io=0-1 "* ]]; then pass vcpu-pinning
	else show "$out"; fail vcpu-pinning "threads' affinity: $got (want vcpu0=1 vcpu1=0 io=0-1)"; fi
	sed 's/, host_cpus: \[1, 0\]//' "$TMP/pin.yaml" >"$TMP/nopin.yaml"
	got=$(affinity "$TMP/nopin.yaml")
	n=$(tr ' ' '\n' <<<"$got" | grep -c "=$all\$")
	if [ "$n" -ge 4 ] && [ "$n" = "$(wc -w <<<"$got")" ]; then pass threads-not-left-pinned
	else show "$out"; fail threads-not-left-pinned "threads' affinity: $got (want every one $all)"; fi
fi

run_lvmm 60 "$out" run --no-stdin --kernel "$GUESTS/smp.elf" --vcpus 4
if [ $rc -eq 0 ] && contains "$out" "smp: all 4 cpus online" && [ "$(grep -cE '^cpu [0-3] online' "$out")" -eq 4 ]; then
	pass boot-smp
else show "$out"; fail boot-smp "rc=$rc, not every vCPU reported in"; fi

run_lvmm 60 "$out" run --no-stdin --kernel "$GUESTS/memory.elf" --memory 96
if [ $rc -eq 0 ] && contains "$out" "memory: verified 94 MiB"; then pass boot-memory
else show "$out"; fail boot-memory "rc=$rc, RAM not verified"; fi

# 3 GiB below the MMIO hole + 64 MiB above 4 GiB: the e820 map has a range at 4 GiB.
run_lvmm 180 "$out" run --no-stdin --kernel "$GUESTS/memory.elf" --memory 3136M
if [ $rc -eq 0 ] && contains "$out" "0x0000000100000000 - 0x0000000104000000 type 1" &&
   contains "$out" "memory: verified"; then pass boot-memory-high
else show "$out"; fail boot-memory-high "rc=$rc, RAM above 4 GiB not mapped or verified"; fi

run_lvmm 20 "$out" run --no-stdin --kernel "$GUESTS/fault.elf"
if [ $rc -eq 122 ] && contains "$out" "triple fault" && contains "$out" "rip 0x" &&
   contains "$out" "instruction bytes"; then pass boot-fault
else show "$out"; fail boot-fault "rc=$rc (want 122), no triple-fault report with RIP and bytes"; fi

# The same ELF boots under QEMU's microvm: both follow the PVH ABI.
if command -v qemu-system-x86_64 >/dev/null; then
	timeout 30 qemu-system-x86_64 -M microvm -accel kvm -cpu host,-arch-capabilities -m 64 \
		-nodefaults -no-user-config -nographic -serial stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=4 -kernel "$GUESTS/hello.elf" \
		-append "from qemu" </dev/null >"$out" 2>&1
	q=$?
	if [ $q -eq 1 ] && contains "$out" "cmdline: from qemu"; then pass boot-pvh-qemu-compatible-image
	else show "$out"; fail boot-pvh-qemu-compatible-image "qemu rc=$q"; fi
else
	skip boot-pvh-qemu-compatible-image "qemu-system-x86_64 not installed"
fi

run_lvmm 20 "$out" run --no-stdin --kernel /etc/hostname
if [ $rc -eq 120 ] && contains "$out" "not a kernel lvmm can boot" && contains "$out" "nothing was started"; then
	pass refuse-not-a-kernel
else show "$out"; fail refuse-not-a-kernel "rc=$rc (want 120: bad input, like a missing file)"; fi

head -c 3000 "$GUESTS/hello.elf" >"$TMP/trunc.elf"
run_lvmm 20 "$out" run --no-stdin --kernel "$TMP/trunc.elf"
if [ $rc -eq 120 ] && grep -q "truncated\|past the end" "$out"; then pass refuse-truncated-elf
else show "$out"; fail refuse-truncated-elf "rc=$rc (want 120)"; fi

# A bzImage cut short of its header's syssize is refused, not run (hello's last
# bytes are data it would otherwise run with zeros), and so is setup_sects = 0.
bzsize=$(stat -c %s "$GUESTS/hello.bzimage")
head -c $((bzsize - 4096)) "$GUESTS/hello.bzimage" >"$TMP/trunc.bzimage"
run_lvmm 20 "$out" run --no-stdin --kernel "$TMP/trunc.bzimage"
if [ $rc -eq 120 ] && contains "$out" "(syssize) but the file has" && ! contains "$out" "hello from"; then
	pass refuse-truncated-bzimage
else show "$out"; fail refuse-truncated-bzimage "rc=$rc (want 120, nothing run)"; fi

cp "$GUESTS/hello.bzimage" "$TMP/sects0.bzimage"
printf '\0' | dd of="$TMP/sects0.bzimage" bs=1 seek=$((0x1f1)) conv=notrunc status=none
run_lvmm 20 "$out" run --no-stdin --kernel "$TMP/sects0.bzimage"
if [ $rc -eq 120 ] && contains "$out" "setup_sects at 0x1f1 is 0" && ! contains "$out" "hello from"; then
	pass refuse-bzimage-setup-sects-0
else show "$out"; fail refuse-bzimage-setup-sects-0 "rc=$rc (want 120, nothing run)"; fi

run_lvmm 20 "$out" run --no-stdin --kernel "$TMP/nope.elf"
if [ $rc -eq 120 ] && contains "$out" "nope.elf': No such file"; then pass refuse-missing-kernel
else show "$out"; fail refuse-missing-kernel "rc=$rc (want 120)"; fi

run_lvmm 20 "$out" run --kernel "$GUESTS/hello.elf" --vcpus 0
if [ $rc -eq 120 ] && contains "$out" "--vcpus: '0' is not a number from 1 to 64"; then pass refuse-bad-option
else show "$out"; fail refuse-bad-option "rc=$rc (want 120)"; fi

run_lvmm 20 "$out" run --kernel "$GUESTS/hello.elf" --memory 1
if [ $rc -eq 120 ] && contains "$out" "out of range"; then pass refuse-tiny-memory
else show "$out"; fail refuse-tiny-memory "rc=$rc (want 120)"; fi

ok=1
"$LVMM" --help | grep -q "Commands:" || ok=0
"$LVMM" run --help | grep -q -- "--kernel FILE" || ok=0
"$LVMM" help check | grep -q "FILE:LINE" || ok=0
"$LVMM" nonsense >/dev/null 2>&1; [ $? -eq 120 ] || ok=0
[ $ok = 1 ] && pass help-texts || fail help-texts "a help text is missing or 'lvmm nonsense' did not exit 120"
