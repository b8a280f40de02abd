#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs every in-tree test guest under QEMU (the peer VMM) and checks what it
# prints and how it exits. ACCEL=kvm (default when /dev/kvm is usable) or tcg.
# BUILD=build by default; build the guests first (make guests).
set -u
BUILD=${BUILD:-build}
G=$BUILD/guests
if [ -z "${ACCEL:-}" ]; then
	if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then ACCEL=kvm; else ACCEL=tcg; fi
fi
if [ "$ACCEL" = kvm ]; then CPU="host,-arch-capabilities"; else CPU=max; fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0 fail=0 skip=0

qemu() { # machine smp mem elf append [args...]
	local m=$1 smp=$2 mem=$3 elf=$4 app=$5
	shift 5
	timeout 30 qemu-system-x86_64 -M "$m" -accel "$ACCEL" -cpu "$CPU" \
		-m "$mem" -smp "$smp" -nodefaults -no-user-config -nographic \
		-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$G/$elf" -append "$app" "$@" </dev/null 2>&1 | tr -d '\r'
	return "${PIPESTATUS[0]}"
}

check() { # name want_rc out rc pattern...
	local name=$1 want=$2 out=$3 rc=$4
	shift 4
	local ok=1 p
	[ "$rc" = "$want" ] || ok=0
	for p in "$@"; do grep -qF -- "$p" <<<"$out" || { ok=0; echo "  missing: $p"; }; done
	if [ $ok = 1 ]; then
		pass=$((pass + 1)); echo "ok   $name"
	else
		fail=$((fail + 1)); echo "FAIL $name (rc $rc, want $want)"; sed 's/^/  | /' <<<"$out"
	fi
}

VIRTIO="-global virtio-mmio.force-legacy=false"

out=$(qemu microvm 1 64 hello.elf "hello world"); rc=$?
check hello 1 "$out" $rc "hello from lvmm guest" "cmdline: hello world"

for n in 1 2 4; do
	out=$(qemu microvm $n 64 smp.elf ""); rc=$?
	check "smp -smp $n" 1 "$out" $rc "smp: all $n cpus online" "cpu $((n - 1)) online"
done

out=$(qemu microvm 1 64 memory.elf ""); rc=$?
check "memory 64M" 1 "$out" $rc "e820: 0x0000000000100000 - 0x0000000004000000 type 1" "memory: verified 6"

if [ "${SLOW:-0}" = 1 ]; then
	out=$(qemu microvm 1 4608 memory.elf ""); rc=$?
	check "memory 4.5G" 1 "$out" $rc "e820: 0x0000000100000000 - 0x0000000160000000 type 1" "memory: verified 46"
fi

out=$(qemu microvm 1 64 fault.elf "" -no-reboot); rc=$?
check fault 0 "$out" $rc "fault: about to triple fault"

truncate -s 1M "$TMP/disk.img"
out=$(qemu microvm,acpi=off 1 64 blk.elf "sectors=0,3,2047" $VIRTIO \
	-device virtio-blk-device,drive=d0 -drive if=none,id=d0,file="$TMP/disk.img",format=raw); rc=$?
check blk 1 "$out" $rc "blk: ok"
c=$(grep -ac "lvmm blk test sector 00002047" "$TMP/disk.img" || true)
check "blk pattern on disk" 1 "$out" $(( c >= 1 ? 1 : 0 ))

# Hostile-guest suite: QEMU's verdicts are data (some FAIL), not checked
# here; every case must print exactly one verdict line.
truncate -s 1M "$TMP/hostile.img"
out=$(qemu microvm,acpi=off 1 64 hostile.elf "case=all" $VIRTIO \
	-device virtio-blk-device,drive=d0 -drive if=none,id=d0,file="$TMP/hostile.img",format=raw \
	-netdev user,id=n0,restrict=on -device virtio-net-device,netdev=n0 2>/dev/null); rc=$?
cases="loop oversize-chain next-out-of-range outside-ram mmio-hole wrap huge-len zero-len
	readonly-write bad-indirect avail-jump bad-queue-notify queue-regs-after-ready flood
	features-after-ok dma-fault-count"
pats=()
for c in $cases; do
	[ "$(grep -cE "^hostile: $c: (PASS|REJECT|WEDGED|FAIL) " <<<"$out")" = 1 ] || pats+=("hostile: $c: <one verdict>")
done
check "hostile (QEMU verdicts are data)" 1 "$out" $rc "hostile: done" "${pats[@]}"

out=$(qemu microvm,acpi=off 1 64 net.elf "ip=10.0.2.15 peer=10.0.2.2" $VIRTIO \
	-netdev user,id=n0,restrict=on -device virtio-net-device,netdev=n0); rc=$?
check net 1 "$out" $rc "net: arp reply from 10.0.2.2 is 52:55:0a:00:02:02" "net: ping reply from 10.0.2.2"

if command -v python3 >/dev/null; then
	sock=$TMP/c.sock
	qemu microvm,acpi=off 1 64 console.elf "lines=3" $VIRTIO -device virtio-serial-device \
		-chardev socket,id=c0,path="$sock",server=on,wait=on \
		-device virtconsole,chardev=c0 >"$TMP/cons.out" &
	qpid=$!
	port=$(python3 - "$sock" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
for _ in range(100):
    try:
        s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.1)
s.settimeout(10)
data = b""
s.sendall(b"hello\nsecond line\nthird\n")
while b"third\n" not in data:
    d = s.recv(4096)
    if not d: break
    data += d
print(data.decode(errors="replace").replace("\n", "|"))
PY
)
	wait $qpid; rc=$?
	out="$(cat "$TMP/cons.out")
port: $port"
	check console 1 "$out" $rc "console: got hello" "console: got second line" \
		"console: done after 3 lines" "port: console: ready|hello|second line|third|"
else
	skip=$((skip + 1)); echo "skip console (no python3)"
fi

out=$(qemu microvm 1 64 hello.elf "exit=5 hold_ms=50 outb=0x80:0x5a inb=0x64"); rc=$?
check "hello exit=5 hold_ms outb inb" 11 "$out" $rc "hello: inb 0x64 = " "hello: outb done" \
	"hello: held 50 ms" "hello: exit 5"

# -M pc has the reset port: with -no-reboot the reset ends QEMU with 0.
out=$(qemu pc 1 64 hello.elf "reset=cf9" -no-reboot); rc=$?
grep -q "reset did not happen" <<<"$out" && rc=99
check "hello reset=cf9 (pc)" 0 "$out" $rc "hello: reset via cf9"

out=$(qemu microvm 1 64 ticker.elf "ticks=5 tick_ms=20"); rc=$?
check "ticker ticks=5" 1 "$out" $rc "ticker: every 20 ms, 5 ticks" "tick 1" "tick 5" "ticker: done"

# blk_hold: the guest must still be running after "blk: ok"; then kill it.
truncate -s 1M "$TMP/hold.img"
timeout 30 qemu-system-x86_64 -M microvm,acpi=off -accel "$ACCEL" -cpu "$CPU" -m 64 -nodefaults \
	-no-user-config -nographic -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 $VIRTIO \
	-device virtio-blk-device,drive=d0 -drive if=none,id=d0,file="$TMP/hold.img",format=raw \
	-kernel "$G/blk.elf" -append "sectors=9 blk_hold=1" </dev/null >"$TMP/hold.out" 2>&1 &
hpid=$!     # timeout's pid: it passes our SIGTERM on to QEMU
for _ in $(seq 100); do grep -q "blk: ok" "$TMP/hold.out" && break; sleep 0.1; done
sleep 0.5
alive=0; kill -0 $hpid 2>/dev/null && alive=1
kill $hpid 2>/dev/null; wait $hpid 2>/dev/null
check "blk blk_hold=1 (alive after blk: ok)" 1 "$(cat "$TMP/hold.out")" $alive "blk: ok"

truncate -s 16M "$TMP/bench.img"
for m in randread seqread seqwrite; do
	out=$(qemu microvm,acpi=off 1 64 blkbench.elf "mode=$m secs=1 qd=8" $VIRTIO \
		-device virtio-blk-device,drive=d0 -drive if=none,id=d0,file="$TMP/bench.img",format=raw); rc=$?
	check "blkbench $m" 1 "$out" $rc "blkbench: $m "
done

out=$(qemu microvm,acpi=off 1 64 net.elf "ip=10.0.2.15 peer=10.0.2.2 net_ping_count=3 net_ping_interval_ms=100" $VIRTIO \
	-netdev user,id=n0,restrict=on -device virtio-net-device,netdev=n0); rc=$?
check "net net_ping_count=3" 1 "$out" $rc "net: 3/3 ping replies from 10.0.2.2" "net: ok"

out=$(qemu microvm,acpi=off 1 64 net.elf "ip=10.0.2.15 net_serve_ms=200" $VIRTIO \
	-netdev user,id=n0,restrict=on -device virtio-net-device,netdev=n0); rc=$?
check "net serve-only" 1 "$out" $rc "net: serving as 10.0.2.15" "net: ok"

# netbench: two guests joined by -netdev socket on a free local port.
port=$((20000 + RANDOM % 20000))
qemu microvm,acpi=off 1 64 netbench.elf "mode=rx" $VIRTIO \
	-netdev socket,id=n0,listen=127.0.0.1:$port -device virtio-net-device,netdev=n0,mac=52:54:00:00:00:01 \
	>"$TMP/rx.out" &
rpid=$!
sleep 1
out=$(qemu microvm,acpi=off 1 64 netbench.elf "mode=tx size=100 secs=1" $VIRTIO \
	-netdev socket,id=n0,connect=127.0.0.1:$port -device virtio-net-device,netdev=n0,mac=52:54:00:00:00:02); rc=$?
check "netbench tx (socket)" 1 "$out" $rc "netbench: tx frames="
wait $rpid; rc=$?
check "netbench rx (socket)" 1 "$(cat "$TMP/rx.out")" $rc "netbench: rx frames="

if command -v python3 >/dev/null; then
	sock=$TMP/a.sock
	printf 'name: p\n' >"$TMP/module.bin"
	qemu microvm,acpi=off 1 64 agent.elf "cmd=list upload=module cmd=status+x" $VIRTIO \
		-device virtio-serial-device -chardev socket,id=c0,path="$sock",server=on,wait=on \
		-device virtconsole,chardev=c0 -initrd "$TMP/module.bin" >"$TMP/agent.out" &
	qpid=$!
	python3 - "$sock" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
for _ in range(100):
    try:
        s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.1)
s.settimeout(10)
buf = b""
def line():
    global buf
    while b"\n" not in buf:
        d = s.recv(4096)
        if not d: return None
        buf += d
    l, buf = buf.split(b"\n", 1)
    return l.decode()
while True:
    l = line()
    if l is None: break
    if l.startswith("policy-load "):
        n = int(l.split()[1])
        while len(buf) < n:
            buf += s.recv(4096)
        data, buf = buf[:n], buf[n:]
        s.sendall(b'{"ok":true,"got":%d}\n' % len(data))
    else:
        s.sendall(b'{"ok":true,"op":"%s"}\n' % l.encode())
PY
	wait $qpid; rc=$?
	check agent 1 "$(cat "$TMP/agent.out")" $rc 'agent: reply {"ok":true,"op":"list"}' \
		'agent: reply {"ok":true,"got":8}' 'agent: reply {"ok":true,"op":"status x"}' "agent: done"
else
	skip=$((skip + 1)); echo "skip agent (no python3)"
fi

echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
